/* Disks of domains: the control domain's side (see disks.h). */
#include "disks.h"

#include <stdio.h>
#include <string.h>

#include "bus.h"

static struct proto_msg ev; /* large: static */

static bool same(struct hvcbor_str a, struct hvcbor_str b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

const char *disks_check(const struct proto_domain_config *cfg, const struct dom *skip, char *detail,
                        size_t detail_cap, enum proto_error_code *code)
{
    for (uint32_t i = 0; cfg->has_disks && i < cfg->disks.count; i++) {
        const struct proto_disk_spec *a = &cfg->disks.items[i];
        for (uint32_t j = 0; j < i; j++)
            if (same(a->volume, cfg->disks.items[j].volume)) {
                *code = PROTO_ERROR_CODE_INVALID;
                snprintf(detail, detail_cap, "disks: volume %.*s is named twice",
                         (int)a->volume.len, (const char *)a->volume.ptr);
                return detail;
            }
        for (uint32_t k = 0; k < DOM_MAX; k++) {
            const struct dom *d = registry_at(k);
            if (!d || d == skip)
                continue;
            for (uint32_t j = 0; d->cfg.has_disks && j < d->cfg.disks.count; j++) {
                const struct proto_disk_spec *b = &d->cfg.disks.items[j];
                if (!same(a->volume, b->volume) || (!a->writable && !b->writable))
                    continue;
                *code = PROTO_ERROR_CODE_CONFLICT;
                snprintf(detail, detail_cap,
                         "disks: volume %.*s is attached %s by domain %s (read-only sharing only)",
                         (int)a->volume.len, (const char *)a->volume.ptr,
                         b->writable ? "read-write" : "read-only", d->name);
                return detail;
            }
        }
    }
    return NULL;
}

const struct dom *disks_user_of(struct hvcbor_str name)
{
    for (uint32_t k = 0; k < DOM_MAX; k++) {
        const struct dom *d = registry_at(k);
        for (uint32_t j = 0; d && d->cfg.has_disks && j < d->cfg.disks.count; j++)
            if (same(name, d->cfg.disks.items[j].volume))
                return d;
    }
    return NULL;
}

bool disks_uses(const struct dom *d, struct hvcbor_str name)
{
    return d->cfg.has_disks && d->cfg.disks.count > 0 && name.len == 3 &&
           memcmp(name.ptr, "blk", 3) == 0;
}

void disks_tell(struct dom *provider, const struct dom *u)
{
    if (!u->cfg.has_disks || u->cfg.disks.count == 0)
        return;
    ev.type = PROTO_MSG_BLK_DISKS_EVENT;
    struct proto_blk_disks_event *e = &ev.u.blk_disks_event;
    memset(e, 0, sizeof *e);
    e->domain = (struct hvcbor_str){(const uint8_t *)u->name, (uint32_t)strlen(u->name)};
    e->disks.count = u->cfg.disks.count;
    memcpy(e->disks.items, u->cfg.disks.items, sizeof e->disks.items);
    bus_event(provider, &ev);
}
