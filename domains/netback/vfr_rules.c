/* Per-domain firewall rules (vfr_rules.h). */
#include "vfr_rules.h"

static bool rule_valid(const struct vfr_rule *r)
{
    if (r->action != VFR_ALLOW && r->action != VFR_DENY)
        return false;
    if (r->dir != VFR_IN && r->dir != VFR_OUT && r->dir != VFR_BOTH)
        return false;
    if (r->proto != VFR_PROTO_ANY && r->proto != VFR_PROTO_TCP && r->proto != VFR_PROTO_UDP &&
        r->proto != VFR_PROTO_ICMP)
        return false;
    if (r->port_lo > r->port_hi || (r->port_hi != 0 && r->port_lo == 0))
        return false;
    if (r->peer_len > 32)
        return false;
    /* No host bits outside the prefix: "192.0.2.1/24" is a mistake. */
    uint32_t mask = r->peer_len == 0 ? 0 : 0xffffffffu << (32 - r->peer_len);
    return (r->peer & ~mask) == 0;
}

int32_t vfr_rules_replace(struct vfr_rules *set, const struct vfr_rule *rules, uint32_t n)
{
    if (n > VFR_RULES_MAX)
        return (int32_t)VFR_RULES_MAX;
    for (uint32_t i = 0; i < n; i++)
        if (!rule_valid(&rules[i]))
            return (int32_t)i;
    for (uint32_t i = 0; i < n; i++) {
        set->r[i] = rules[i];
        set->c[i].packets = 0;
        set->c[i].bytes = 0;
    }
    set->count = n;
    return VFR_RULE_NONE;
}

int32_t vfr_rules_match(struct vfr_rules *set, enum vfr_dir dir, uint8_t proto, uint16_t port,
                        uint32_t peer, uint32_t bytes)
{
    for (uint32_t i = 0; i < set->count; i++) {
        const struct vfr_rule *r = &set->r[i];
        if ((r->dir & dir) == 0)
            continue;
        if (r->proto != VFR_PROTO_ANY && r->proto != proto)
            continue;
        if (r->port_hi != 0 && (port < r->port_lo || port > r->port_hi))
            continue;
        uint32_t mask = r->peer_len == 0 ? 0 : 0xffffffffu << (32 - r->peer_len);
        if ((peer & mask) != r->peer)
            continue;
        set->c[i].packets++;
        set->c[i].bytes += bytes;
        return (int32_t)i;
    }
    return VFR_RULE_NONE;
}
