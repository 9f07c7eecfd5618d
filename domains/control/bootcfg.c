/* The boot configuration module (see bootcfg.h). */
#include "bootcfg.h"

#include <hv/frame.h>
#include <stdio.h>
#include <string.h>

#include "devices.h"
#include "drvcfg.h"
#include "fwcfg.h"
#include "gk/gk.h"
#include "log.h"
#include "registry.h"

#define BOOTCFG_MAX_PAYLOAD 8192u

static uint8_t buf[FRAME_OVERHEAD_BYTES + BOOTCFG_MAX_PAYLOAD];
static struct proto_msg req; /* large: static */
static uint32_t fwcfg_slot;
static char host_cfg[DRVCFG_FILE_MAX + 1];

/* The host's values for driver `name` (fw_cfg opt/hv/driver/NAME) applied
 * to cfg: true if there are none or they applied (*summary says which),
 * false (logged) if the file is malformed: the driver is then not started. */
static bool host_values(struct proto_domain_config *cfg, const char *name, char *summary,
                        size_t summary_cap)
{
    char file[DRVCFG_KEY_MAX + 16], why[128];
    snprintf(file, sizeof file, DRVCFG_PREFIX "%s", name);
    summary[0] = 0;
    int64_t n = fwcfg_read_file(fwcfg_slot, file, host_cfg, sizeof host_cfg - 1);
    if (n < 0)
        return true; /* no fw_cfg or no such file: the manifest's values */
    const char *bad = n > DRVCFG_FILE_MAX ? "longer than 2048 bytes"
                                          : drvcfg_apply(cfg, host_cfg, (size_t)n, why, sizeof why,
                                                         summary, summary_cap);
    if (!bad)
        return true;
    char detail[200];
    snprintf(detail, sizeof detail, "fw_cfg %s: %s: not started", file, bad);
    gk_printf("control: %s not started: %s\n", name, detail);
    ctl_log_add("boot", "domain-create", name, false, PROTO_ERROR_CODE_INVALID, detail);
    return false;
}

/* Creates the domain of one request. A driver's (`driver`) is created only
 * when the machine has every PCI function its manifest names: a machine
 * without a disk starts no blkback, and says so in the log. */
static void create_one(const uint8_t *payload, uint32_t len, uint32_t index, const char *module,
                       bool driver)
{
    char target[DOM_NAME_MAX + 1];
    snprintf(target, sizeof target, "entry %u", index);
    struct hvcbor_error err;
    if (!proto_msg_decode(payload, len, NULL, &req, &err) ||
        req.type != PROTO_MSG_DOMAIN_CREATE_REQUEST) {
        char detail[96];
        snprintf(detail, sizeof detail, "not a domain-create-request: %s at byte %u",
                 req.type != PROTO_MSG_DOMAIN_CREATE_REQUEST && err.code == HVCBOR_OK
                     ? "another message type"
                     : hvcbor_err_name(err.code),
                 err.offset);
        ctl_log_add("boot", module, target, false, PROTO_ERROR_CODE_INVALID, detail);
        return;
    }
    const struct proto_domain_create_request *q = &req.u.domain_create_request;
    size_t n = q->config.name.len < DOM_NAME_MAX ? q->config.name.len : DOM_NAME_MAX;
    memcpy(target, q->config.name.ptr, n);
    target[n] = 0;
    static char detail[256];
    struct ctl_error fail = {PROTO_ERROR_CODE_INTERNAL, 0};
    enum proto_error_code code;
    if (driver && devices_check(&q->config, NULL, detail, sizeof detail, &code) &&
        code == PROTO_ERROR_CODE_NOT_FOUND) {
        gk_printf("control: %s not started: the machine has no such device (%s)\n", target, detail);
        ctl_log_add("boot", "driver-skipped", target, true, 0, detail);
        return;
    }
    static char host[160];
    host[0] = 0;
    if (driver && !host_values(&req.u.domain_create_request.config, target, host, sizeof host))
        return;
    struct dom *d;
    const char *why = registry_create(&q->config, q->paused, &d, detail, sizeof detail, &fail);
    if (why) {
        ctl_log_add("boot", "domain-create", target, false, fail.code, why);
        return;
    }
    snprintf(detail, sizeof detail, "id %u from %s%s%s%s", d->built.domid,
             driver ? "its driver module" : "the boot configuration", q->paused ? ", paused" : "",
             host[0] ? "; from the host: " : "", host);
    if (driver)
        gk_printf("control: started the driver domain %s (%s)\n", target, detail);
    ctl_log_add("boot", "domain-create", target, true, 0, detail);
}

/* Creates the domains of one module's framed requests. */
static void apply_module(const struct hv_start_module *m, bool driver)
{
    struct frame_reader r;
    if (!frame_reader_init(&r, buf, sizeof buf, BOOTCFG_MAX_PAYLOAD))
        return;
    const uint8_t *p = (const uint8_t *)(uintptr_t)m->va;
    uint64_t left = m->size_bytes, dropped = 0;
    uint32_t index = 0;
    struct frame_event ev;
    while (left > 0) {
        size_t took = frame_reader_push(&r, p, (size_t)left);
        p += took;
        left -= took;
        for (frame_reader_next(&r, &ev); ev.kind != FRAME_EV_NONE; frame_reader_next(&r, &ev)) {
            if (ev.kind == FRAME_EV_DROPPED)
                dropped += ev.dropped_bytes;
            else
                create_one(ev.payload, ev.payload_len, index++, m->name, driver);
        }
    }
    if (frame_reader_flush_partial(&r))
        for (frame_reader_next(&r, &ev); ev.kind != FRAME_EV_NONE; frame_reader_next(&r, &ev)) {
            if (ev.kind == FRAME_EV_DROPPED)
                dropped += ev.dropped_bytes;
            else
                create_one(ev.payload, ev.payload_len, index++, m->name, driver);
        }
    char detail[96];
    snprintf(detail, sizeof detail, "%u entries, %llu bytes not in a valid frame", index,
             (unsigned long long)dropped);
    ctl_log_add("boot", driver ? "driver-module" : "boot-config", m->name, dropped == 0,
                PROTO_ERROR_CODE_INVALID, detail);
}

static bool is_driver_module(const char *name)
{
    size_t n = strlen(name), k = strlen(BOOTCFG_DRIVER_SUFFIX);
    return n > k && strcmp(name + n - k, BOOTCFG_DRIVER_SUFFIX) == 0;
}

void bootcfg_apply(const struct hv_start_info *si, uint32_t fwcfg_io_slot)
{
    fwcfg_slot = fwcfg_io_slot;
    /* Driver domains first, in module order, so that the domains of the
     * boot configuration find their services' providers starting. */
    for (uint32_t i = 0; i < si->modules_count; i++)
        if (is_driver_module(si->modules[i].name))
            apply_module(&si->modules[i], true);
    for (uint32_t i = 0; i < si->modules_count; i++)
        if (strcmp(si->modules[i].name, BOOTCFG_MODULE_NAME) == 0)
            apply_module(&si->modules[i], false);
}
