/* netback's questions about rules and classes (see netpolicy.h). */
#include "netpolicy.h"

#include <stdio.h>
#include <string.h>

#define RULES_PREFIX "net-rules:"
#define CLASS_PREFIX "net-class:"

static bool has_prefix(struct hvcbor_str key, const char *p)
{
    size_t n = strlen(p);
    return key.len > n && memcmp(key.ptr, p, n) == 0;
}

static size_t put_rules(const struct proto_net_spec *n, char *buf, size_t cap)
{
    size_t len = 0;
    for (uint32_t i = 0; n->has_rules && i < n->rules.count && len < cap; i++) {
        const struct proto_net_rule *r = &n->rules.items[i];
        static const char *const dirs[] = {"?", "in", "out", "both"};
        len += (size_t)snprintf(
            buf + len, cap - len, "%s%s %s %u %u-%u %u.%u.%u.%u/%u", i ? ";" : "",
            r->action == 1 ? "allow" : "deny", dirs[r->dir <= 3 ? r->dir : 0], (unsigned)r->proto,
            (unsigned)r->port_lo, (unsigned)r->port_hi, (unsigned)(r->peer >> 24 & 255),
            (unsigned)(r->peer >> 16 & 255), (unsigned)(r->peer >> 8 & 255),
            (unsigned)(r->peer & 255), (unsigned)r->peer_len);
    }
    return len;
}

static size_t put_class(const char *dir, const struct proto_net_class *c, const char *sep,
                        char *buf, size_t cap)
{
    return (size_t)snprintf(buf, cap, "%s%s %llu %llu %llu %llu %llu %llu", sep, dir,
                            (unsigned long long)c->rate_bps, (unsigned long long)c->burst_bytes,
                            (unsigned long long)c->rate_pps, (unsigned long long)c->burst_pkts,
                            (unsigned long long)c->floor_bps, (unsigned long long)c->weight);
}

int netpolicy_answer(const struct dom *d, struct hvcbor_str key, char *buf, size_t cap,
                     const char **why)
{
    bool rules = has_prefix(key, RULES_PREFIX);
    if (!rules && !has_prefix(key, CLASS_PREFIX))
        return 0;
    bool offers = false;
    for (uint32_t i = 0; d->cfg.has_offers && i < d->cfg.offers.count; i++)
        offers |= d->cfg.offers.items[i].len == 3 && !memcmp(d->cfg.offers.items[i].ptr, "net", 3);
    if (!offers) {
        *why = "only the domain that offers net asks for rules and classes";
        return -1;
    }
    size_t plen = strlen(RULES_PREFIX); /* both prefixes are as long */
    const struct dom *u =
        registry_find((struct hvcbor_str){key.ptr + plen, key.len - (uint32_t)plen});
    const struct proto_net_spec *n = u && u->cfg.has_net ? &u->cfg.net : NULL;
    size_t len = 0;
    buf[0] = 0;
    if (n && rules)
        len = put_rules(n, buf, cap);
    if (n && !rules && n->has_tx)
        len = put_class("tx", &n->tx, "", buf, cap);
    if (n && !rules && n->has_rx && len < cap)
        len += put_class("rx", &n->rx, len ? ";" : "", buf + len, cap - len);
    if (len == 0) {
        *why = rules ? "that domain has no rules (manifest net: {rules: [...]})"
                     : "that domain has no classes (manifest net: {tx:, rx:})";
        return -1;
    }
    if (len >= cap) {
        *why = "the answer is too long to send";
        return -1;
    }
    return 1;
}
