/* The boot configuration module (see bootcfg.h). */
#include "bootcfg.h"

#include <hv/frame.h>
#include <stdio.h>
#include <string.h>

#include "gk/gk.h"
#include "log.h"
#include "registry.h"

#define BOOTCFG_MAX_PAYLOAD 8192u

static uint8_t buf[FRAME_OVERHEAD_BYTES + BOOTCFG_MAX_PAYLOAD];
static struct proto_msg req; /* large: static */

static void create_one(const uint8_t *payload, uint32_t len, uint32_t index)
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
        ctl_log_add("boot", "boot-config", target, false, PROTO_ERROR_CODE_INVALID, detail);
        return;
    }
    const struct proto_domain_create_request *q = &req.u.domain_create_request;
    size_t n = q->config.name.len < DOM_NAME_MAX ? q->config.name.len : DOM_NAME_MAX;
    memcpy(target, q->config.name.ptr, n);
    target[n] = 0;
    static char detail[256];
    struct ctl_error fail = {PROTO_ERROR_CODE_INTERNAL, 0};
    struct dom *d;
    const char *why = registry_create(&q->config, q->paused, &d, detail, sizeof detail, &fail);
    if (why) {
        ctl_log_add("boot", "domain-create", target, false, fail.code, why);
        return;
    }
    snprintf(detail, sizeof detail, "id %u from the boot configuration%s", d->built.domid,
             q->paused ? ", paused" : "");
    ctl_log_add("boot", "domain-create", target, true, 0, detail);
}

void bootcfg_apply(const struct hv_start_info *si)
{
    const struct hv_start_module *m = NULL;
    for (uint32_t i = 0; i < si->modules_count; i++)
        if (strcmp(si->modules[i].name, BOOTCFG_MODULE_NAME) == 0)
            m = &si->modules[i];
    if (!m)
        return;
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
                create_one(ev.payload, ev.payload_len, index++);
        }
    }
    if (frame_reader_flush_partial(&r))
        for (frame_reader_next(&r, &ev); ev.kind != FRAME_EV_NONE; frame_reader_next(&r, &ev)) {
            if (ev.kind == FRAME_EV_DROPPED)
                dropped += ev.dropped_bytes;
            else
                create_one(ev.payload, ev.payload_len, index++);
        }
    char detail[96];
    snprintf(detail, sizeof detail, "%u entries, %llu bytes not in a valid frame", index,
             (unsigned long long)dropped);
    ctl_log_add("boot", "boot-config", BOOTCFG_MODULE_NAME, dropped == 0, PROTO_ERROR_CODE_INVALID,
                detail);
}
