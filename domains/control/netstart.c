/* netback at boot and its lease questions (see netstart.h). */
#include "netstart.h"

#include <stdio.h>
#include <string.h>

#include "devices.h"
#include "fwcfg.h"
#include "gk/gk.h"
#include "images.h"
#include "log.h"

#define NETBACK_MEMORY (32ull << 20)
#define RIGHTS_ALL 15u /* config | mmio | irq | dma */
#define LEASE_PREFIX "net-lease:"

static struct proto_domain_config nb_cfg; /* large: static */
static char net_line[128];
static char address[64] = "192.0.2.10/24", gateway[64];

static struct hvcbor_str str_of(const char *s)
{
    return (struct hvcbor_str){(const uint8_t *)s, (uint32_t)strlen(s)};
}

/* "ADDRESS/LEN [GATEWAY]" from fw_cfg; only printable characters, two
 * words at most (netback checks the values themselves). false: malformed. */
static bool read_net_line(uint32_t slot)
{
    int64_t n = fwcfg_read_file(slot, NETSTART_FWCFG_FILE, net_line, sizeof net_line - 1);
    if (n < 0)
        return true; /* absent: the defaults */
    if (n >= (int64_t)sizeof net_line)
        return false;
    net_line[n] = 0;
    while (n > 0 && (net_line[n - 1] == '\n' || net_line[n - 1] == ' '))
        net_line[--n] = 0;
    for (int64_t i = 0; i < n; i++)
        if (net_line[i] < 0x20 || net_line[i] > 0x7e)
            return false;
    const char *sp = strchr(net_line, ' ');
    size_t alen = sp ? (size_t)(sp - net_line) : strlen(net_line);
    if (alen == 0 || alen >= sizeof address ||
        (sp && (strlen(sp + 1) == 0 || strlen(sp + 1) >= sizeof gateway || strchr(sp + 1, ' '))))
        return false;
    memcpy(address, net_line, alen);
    address[alen] = 0;
    if (sp)
        snprintf(gateway, sizeof gateway, "%s", sp + 1);
    return true;
}

void netstart_boot(uint32_t fwcfg_slot)
{
    static const uint16_t ids[] = {0x1041, 0x1000}; /* virtio-net: modern, transitional */
    memset(&nb_cfg, 0, sizeof nb_cfg);
    nb_cfg.has_pci = true;
    nb_cfg.pci.count = 1;
    struct proto_pci_assign *a = &nb_cfg.pci.items[0];
    a->has_vendor = a->has_device = true;
    a->vendor = 0x1af4;
    a->rights = RIGHTS_ALL;
    char detail[160];
    enum proto_error_code code;
    bool found = false;
    for (unsigned i = 0; i < sizeof ids / sizeof ids[0] && !found; i++) {
        a->device = ids[i];
        found = devices_check(&nb_cfg, NULL, detail, sizeof detail, &code) == NULL;
    }
    if (!found)
        return; /* no NIC (or it is someone's): nothing to start */
    if (!image_find(str_of(NETSTART_IMAGE))) {
        ctl_log_add("boot", "domain-create", NETSTART_IMAGE, false, PROTO_ERROR_CODE_NOT_FOUND,
                    "the machine has a virtio-net function but no boot module netback");
        return;
    }
    if (!read_net_line(fwcfg_slot)) {
        ctl_log_add("boot", "domain-create", NETSTART_IMAGE, false, PROTO_ERROR_CODE_INVALID,
                    "fw_cfg " NETSTART_FWCFG_FILE " is not \"ADDRESS/LEN [GATEWAY]\"");
        return;
    }
    nb_cfg.name = str_of(NETSTART_IMAGE);
    nb_cfg.kernel = str_of(NETSTART_IMAGE);
    nb_cfg.cmdline = str_of("");
    nb_cfg.memory_bytes = nb_cfg.max_memory_bytes = NETBACK_MEMORY;
    nb_cfg.vcpus = 1;
    nb_cfg.weight = 256;
    nb_cfg.on_poweroff = PROTO_STOP_POLICY_PRESERVE;
    nb_cfg.on_reboot = PROTO_STOP_POLICY_RESTART;
    nb_cfg.on_crash = PROTO_STOP_POLICY_RESTART;
    nb_cfg.has_config = true;
    nb_cfg.config.items[nb_cfg.config.count++] =
        (struct proto_config_entry){str_of("address"), str_of(address)};
    if (gateway[0])
        nb_cfg.config.items[nb_cfg.config.count++] =
            (struct proto_config_entry){str_of("gateway"), str_of(gateway)};
    nb_cfg.has_offers = true;
    nb_cfg.offers.count = 1;
    nb_cfg.offers.items[0] = str_of("net");
    struct ctl_error err = {PROTO_ERROR_CODE_INTERNAL, 0};
    struct dom *d;
    const char *why = registry_create(&nb_cfg, false, &d, detail, sizeof detail, &err);
    if (why) {
        ctl_log_add("boot", "domain-create", NETSTART_IMAGE, false, err.code, why);
        return;
    }
    char note[200];
    snprintf(note, sizeof note, "id %u, the machine's NIC (%04x:%04x), address %s%s%s",
             d->built.domid, (unsigned)a->vendor, (unsigned)a->device, address,
             gateway[0] ? ", gateway " : "", gateway);
    ctl_log_add("boot", "domain-create", NETSTART_IMAGE, true, 0, note);
}

static bool name_same(struct hvcbor_str a, struct hvcbor_str b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

static bool offers_net(const struct dom *d)
{
    for (uint32_t i = 0; d->cfg.has_offers && i < d->cfg.offers.count; i++)
        if (d->cfg.offers.items[i].len == 3 && !memcmp(d->cfg.offers.items[i].ptr, "net", 3))
            return true;
    return false;
}

int netstart_lease(const struct dom *d, struct hvcbor_str key, char *buf, size_t cap,
                   const char **why)
{
    size_t plen = strlen(LEASE_PREFIX);
    if (key.len <= plen || memcmp(key.ptr, LEASE_PREFIX, plen) != 0)
        return 0;
    if (!offers_net(d)) {
        *why = "only the domain that offers net asks for leases";
        return -1;
    }
    struct hvcbor_str name = {key.ptr + plen, key.len - (uint32_t)plen};
    const struct dom *u = registry_find(name);
    if (!u || !u->cfg.has_net || u->cfg.net.ports.count == 0) {
        *why = "that domain has no lease (manifest net: {ports: [...]})";
        return -1;
    }
    size_t n = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < u->cfg.net.ports.count && n < cap; i++) {
        const struct proto_port_range *r = &u->cfg.net.ports.items[i];
        if (r->lo == r->hi)
            n += (size_t)snprintf(buf + n, cap - n, "%s%u", i ? "," : "", (unsigned)r->lo);
        else
            n += (size_t)snprintf(buf + n, cap - n, "%s%u-%u", i ? "," : "", (unsigned)r->lo,
                                  (unsigned)r->hi);
    }
    if (n >= cap) {
        *why = "the lease is too long to send";
        return -1;
    }
    return 1;
}

const char *netstart_check_lease(const struct proto_domain_config *cfg, char *detail,
                                 size_t detail_cap, enum proto_error_code *code)
{
    if (!cfg->has_net)
        return NULL;
    const struct proto_net_spec *n = &cfg->net;
    for (uint32_t i = 0; i < n->ports.count; i++) {
        const struct proto_port_range *r = &n->ports.items[i];
        if (r->hi < r->lo) {
            *code = PROTO_ERROR_CODE_INVALID;
            snprintf(detail, detail_cap, "net.ports[%u]: %u-%u is reversed", i, (unsigned)r->lo,
                     (unsigned)r->hi);
            return detail;
        }
        for (uint32_t k = 0; k < DOM_MAX; k++) {
            const struct dom *o = registry_at(k);
            if (!o || !o->cfg.has_net || name_same(o->cfg.name, cfg->name))
                continue;
            for (uint32_t j = 0; j < o->cfg.net.ports.count; j++) {
                const struct proto_port_range *q = &o->cfg.net.ports.items[j];
                if (r->lo <= q->hi && q->lo <= r->hi) {
                    *code = PROTO_ERROR_CODE_CONFLICT;
                    snprintf(detail, detail_cap, "net.ports[%u]: %u-%u overlaps %s's lease %u-%u",
                             i, (unsigned)r->lo, (unsigned)r->hi, o->name, (unsigned)q->lo,
                             (unsigned)q->hi);
                    return detail;
                }
            }
        }
    }
    return NULL;
}
