/* Manifest -> catalog messages (manifest.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hvctl/manifest.h"

static struct hvcbor_str str_of(const char *s)
{
    return (struct hvcbor_str){.ptr = (const uint8_t *)s, .len = (uint32_t)strlen(s)};
}

void manifest_to_config(const struct manifest *m, struct proto_domain_config *out)
{
    memset(out, 0, sizeof *out);
    const char *slash = strrchr(m->kernel, '/');
    out->name = str_of(m->name);
    out->kernel = str_of(slash ? slash + 1 : m->kernel);
    out->cmdline = str_of(m->cmdline);
    out->memory_bytes = m->memory_bytes;
    out->max_memory_bytes = m->max_memory_bytes;
    out->vcpus = m->vcpus;
    out->weight = m->weight;
    out->cap_percent = m->cap_percent;
    out->gang = m->gang;
    out->on_poweroff = m->on_poweroff;
    out->on_reboot = m->on_reboot;
    out->on_crash = m->on_crash;
    /* restart: absent when the manifest has none (the control domain's
     * defaults are the same). */
    out->has_restart = m->has_restart;
    out->restart = (struct proto_restart_spec){.heartbeat_ns = m->restart.heartbeat_ns,
                                               .backoff_ns = m->restart.backoff_ns,
                                               .backoff_max_ns = m->restart.backoff_max_ns,
                                               .limit = m->restart.limit,
                                               .stable_ns = m->restart.stable_ns};
    out->has_pci = m->pci_count > 0;
    out->pci.count = m->pci_count;
    for (uint32_t i = 0; i < m->pci_count && i < MANIFEST_PCI_MAX; i++) {
        const struct manifest_pci *p = &m->pci[i];
        struct proto_pci_assign *a = &out->pci.items[i];
        a->rights = p->rights;
        if (p->by_address) {
            a->has_bdf = true;
            a->bdf = p->bdf;
        } else {
            a->has_vendor = a->has_device = a->has_index = true;
            a->vendor = p->vendor;
            a->device = p->device;
            a->index = p->index;
        }
    }
    /* The leased ports (net: {ports}): absent when none. */
    out->has_net = m->net_ports_count > 0;
    out->net.ports.count = m->net_ports_count;
    for (uint32_t i = 0; i < m->net_ports_count; i++)
        out->net.ports.items[i] =
            (struct proto_port_range){.lo = m->net_ports[i].lo, .hi = m->net_ports[i].hi};
    out->net.has_rules = m->net_rules_count > 0;
    out->net.rules.count = m->net_rules_count;
    for (uint32_t i = 0; i < m->net_rules_count; i++)
        out->net.rules.items[i] = m->net_rules[i];
    out->net.has_tx = m->has_net_tx;
    out->net.tx = m->net_tx;
    out->net.has_rx = m->has_net_rx;
    out->net.rx = m->net_rx;
    /* The bus fields (absent when empty, so older control domains see the
     * same message as before). */
    out->has_config = m->config_count > 0;
    out->config.count = m->config_count;
    for (uint32_t i = 0; i < m->config_count; i++) {
        out->config.items[i].key = str_of(m->config[i].key);
        out->config.items[i].value = str_of(m->config[i].value);
    }
    out->has_offers = m->offers_count > 0;
    out->offers.count = m->offers_count;
    for (uint32_t i = 0; i < m->offers_count; i++)
        out->offers.items[i] = str_of(m->offers[i]);
    out->has_uses = m->uses_count > 0;
    out->uses.count = m->uses_count;
    for (uint32_t i = 0; i < m->uses_count; i++)
        out->uses.items[i] = str_of(m->uses[i]);
    out->has_channels = m->channels_count > 0;
    out->channels.count = m->channels_count;
    for (uint32_t i = 0; i < m->channels_count; i++)
        out->channels.items[i] =
            (struct proto_channel_spec){.name = str_of(m->channels[i].name),
                                        .peer = str_of(m->channels[i].peer),
                                        .size_bytes = m->channels[i].size_bytes};
    out->has_disks = m->disks_count > 0;
    out->disks.count = m->disks_count;
    for (uint32_t i = 0; i < m->disks_count; i++) {
        const struct manifest_disk *k = &m->disks[i];
        out->disks.items[i] = (struct proto_disk_spec){.volume = str_of(k->volume),
                                                       .writable = k->writable,
                                                       .has_size_bytes = k->size_bytes != 0,
                                                       .size_bytes = k->size_bytes,
                                                       .has_iops_min = k->iops_min != 0,
                                                       .iops_min = k->iops_min,
                                                       .has_iops_max = k->iops_max != 0,
                                                       .iops_max = k->iops_max,
                                                       .has_bps_max = k->bps_max != 0,
                                                       .bps_max = k->bps_max,
                                                       .has_weight = k->weight != 1,
                                                       .weight = k->weight};
    }
}

bool manifest_encode_create(const struct manifest *m, uint64_t request_id, const uint8_t *token,
                            uint32_t token_len, bool paused, uint8_t *buf, size_t cap,
                            size_t *len_out, struct hvcbor_error *err)
{
    static struct proto_msg msg; /* large union: not on the stack */
    memset(&msg, 0, sizeof msg);
    msg.type = PROTO_MSG_DOMAIN_CREATE_REQUEST;
    struct proto_domain_create_request *r = &msg.u.domain_create_request;
    r->request_id = request_id;
    r->token = (struct hvcbor_str){.ptr = token, .len = token_len};
    manifest_to_config(m, &r->config);
    r->paused = paused;
    return proto_msg_encode(&msg, buf, cap, len_out, err);
}

bool manifest_check_files(const struct manifest *m, struct manifest_diags *diags)
{
    if (access(m->kernel_path, R_OK) != 0) {
        manifest_diag_add(diags, m->file, m->kernel_line, m->kernel_column, "kernel",
                          "cannot read %s: %s", m->kernel_path, strerror(errno));
        return false;
    }
    return true;
}

void manifest_format_size(char *out, size_t cap, uint64_t bytes)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    unsigned u = 0;
    while (u < 4 && bytes && bytes % 1024 == 0) {
        bytes /= 1024;
        u++;
    }
    snprintf(out, cap, "%" PRIu64 " %s", bytes, units[u]);
}
