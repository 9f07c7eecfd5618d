/* netback's lease questions (see netstart.h). */
#include "netstart.h"

#include <stdio.h>
#include <string.h>

#define LEASE_PREFIX "net-lease:"

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
