/*
 * The manifest's `net:` field (docs/net.md, docs/manifests.md): the domain's
 * networking through netback.
 *
 *   net:
 *     ports: [80, 7, "20000-20999"]
 *
 * `ports`: the TCP and UDP ports of the external address the domain leases
 * (RSIP): each a port 1..65535 (a plain integer) or a range "LO-HI" (a
 * string, LO <= HI); at most 16, none overlapping another. The control
 * domain refuses a lease that overlaps another domain's at create, and
 * netback gives the domain exactly these ports. `ports: {auto: N}` (a free
 * range chosen for it) is not done yet and is refused as such.
 *
 *     rules:                        # at most 8; the first that matches decides
 *       - {deny: in, proto: tcp, port: 8081, peer: "198.51.100.0/24"}
 *       - {allow: both}             # allow|deny: in|out|both
 *     rx: {rate_bps: 200000, burst_bytes: 16384}   # towards the domain
 *     tx: {rate_pps: 1000, burst_pkts: 64, floor_bps: 0, weight: 1}
 *
 * A rule: `allow` or `deny` (exactly one) naming the direction; `proto` tcp,
 * udp, icmp or any (default); `port` the domain's own port or "LO-HI"
 * (default any; for ICMP the echo identifier); `peer` "A.B.C.D/LEN" without
 * host bits, or any (default). Inbound packets to ports the domain does not
 * lease never reach the rules (default deny). A class: token buckets in
 * bytes (rate_bps with burst_bytes >= 1514) and packets (rate_pps with
 * burst_pkts >= 1), floor_bps (at most rate_bps when that is set), weight
 * 1..1000 (default 1); every field optional, 0 = no limit. netback applies
 * them when the domain's front end joins (docs/net.md, "Rules" and "The
 * network scheduler").
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_tree.h"

static uint32_t err(struct manifest_diags *d, const char *file, const struct mnode *n,
                    const char *path, const char *msg)
{
    manifest_diag_add(d, file, n->line, n->column, path, "%s", msg);
    return 1;
}

/* A decimal port 1..65535 in s[0..len): all digits, no sign, at most 5. */
static bool port_of(const char *s, size_t len, uint16_t *out)
{
    if (len == 0 || len > 5)
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10u + (uint32_t)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

static bool range_of(const struct mnode *v, uint16_t *lo, uint16_t *hi)
{
    if (v->kind != MNODE_SCALAR || strlen(v->value) != v->len)
        return false;
    if (v->plain) /* an integer */
        return port_of(v->value, v->len, lo) && (*hi = *lo, true);
    const char *dash = strchr(v->value, '-');
    if (!dash)
        return port_of(v->value, v->len, lo) && (*hi = *lo, true);
    return port_of(v->value, (size_t)(dash - v->value), lo) &&
           port_of(dash + 1, strlen(dash + 1), hi) && *lo <= *hi;
}

static uint32_t ports(const char *file, const struct mnode *v, struct manifest *m,
                      struct manifest_diags *d)
{
    if (v->kind == MNODE_MAP)
        return err(d, file, v, "net.ports",
                   "ports: {auto: N} (a range chosen by the control domain) is not done yet: "
                   "list the ports");
    if (v->kind != MNODE_SEQ)
        return err(d, file, v, "net.ports", "expected a list of ports and \"LO-HI\" ranges");
    uint32_t errors = 0;
    for (uint32_t i = 0; i < v->kid_count; i++) {
        const struct mnode *p = v->kids[i];
        char path[48], msg[160];
        snprintf(path, sizeof path, "net.ports[%u]", i);
        if (m->net_ports_count == MANIFEST_NET_PORTS_MAX) {
            snprintf(msg, sizeof msg, "more than %u ports and ranges", MANIFEST_NET_PORTS_MAX);
            errors += err(d, file, p, path, msg);
            break;
        }
        uint16_t lo, hi;
        if (!range_of(p, &lo, &hi)) {
            errors += err(d, file, p, path,
                          "expected a port 1..65535 or a range \"LO-HI\" with LO <= HI");
            continue;
        }
        bool clash = false;
        for (uint32_t j = 0; j < m->net_ports_count && !clash; j++) {
            if (lo <= m->net_ports[j].hi && m->net_ports[j].lo <= hi) {
                snprintf(msg, sizeof msg, "%u-%u overlaps %u-%u listed before it", lo, hi,
                         m->net_ports[j].lo, m->net_ports[j].hi);
                errors += err(d, file, p, path, msg);
                clash = true;
            }
        }
        if (!clash)
            m->net_ports[m->net_ports_count++] = (struct manifest_port_range){lo, hi};
    }
    return errors;
}

/* A plain unsigned decimal of at most 12 digits in v, or false. */
static bool uint_of(const struct mnode *v, uint64_t *out)
{
    if (v->kind != MNODE_SCALAR || !v->plain || v->len == 0 || v->len > 12 ||
        strlen(v->value) != v->len)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < v->len; i++) {
        if (v->value[i] < '0' || v->value[i] > '9')
            return false;
        x = x * 10u + (uint64_t)(v->value[i] - '0');
    }
    *out = x;
    return true;
}

/* "A.B.C.D/LEN" (LEN 0..32, no host bits) into *addr, *len. */
static bool prefix_of(const char *s, uint32_t *addr, uint32_t *len)
{
    uint32_t a = 0, part = 0, digits = 0, dots = 0;
    for (; *s && *s != '/'; s++) {
        if (*s == '.') {
            if (digits == 0 || ++dots > 3)
                return false;
            a = a << 8 | part;
            part = digits = 0;
        } else if (*s >= '0' && *s <= '9' && digits < 3) {
            part = part * 10u + (uint32_t)(*s - '0');
            digits++;
            if (part > 255)
                return false;
        } else {
            return false;
        }
    }
    if (digits == 0 || dots != 3 || *s != '/' || s[1] == 0 || strlen(s + 1) > 2)
        return false;
    a = a << 8 | part;
    uint32_t l = 0;
    for (s++; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        l = l * 10u + (uint32_t)(*s - '0');
    }
    uint32_t mask = l == 0 ? 0 : 0xffffffffu << (32 - l);
    if (l > 32 || (a & ~mask) != 0)
        return false;
    *addr = a;
    *len = l;
    return true;
}

static uint32_t rule(const char *file, const struct mnode *v, const char *path,
                     struct proto_net_rule *r, struct manifest_diags *d)
{
    if (v->kind != MNODE_MAP)
        return err(d, file, v, path,
                   "expected a mapping like {allow: in, proto: tcp, port: 80, peer: "
                   "\"198.51.100.0/24\"}");
    *r = (struct proto_net_rule){0};
    uint32_t errors = 0;
    for (uint32_t k = 0; k + 1 < v->kid_count; k += 2) {
        const struct mnode *key = v->kids[k], *val = v->kids[k + 1];
        const char *kv = key->value, *s = val->kind == MNODE_SCALAR ? val->value : "";
        if (!strcmp(kv, "allow") || !strcmp(kv, "deny")) {
            uint64_t dir = !strcmp(s, "in")     ? 1
                           : !strcmp(s, "out")  ? 2
                           : !strcmp(s, "both") ? 3
                                                : 0;
            if (r->action != 0)
                errors += err(d, file, key, path, "a rule has one of allow and deny, once");
            else if (dir == 0)
                errors += err(d, file, val, path, "expected in, out or both");
            r->action = !strcmp(kv, "allow") ? 1 : 2;
            r->dir = dir;
        } else if (!strcmp(kv, "proto")) {
            uint64_t p = !strcmp(s, "tcp")    ? 6
                         : !strcmp(s, "udp")  ? 17
                         : !strcmp(s, "icmp") ? 1
                                              : 0;
            if (p == 0 && strcmp(s, "any"))
                errors += err(d, file, val, path, "expected tcp, udp, icmp or any");
            r->proto = p;
        } else if (!strcmp(kv, "port")) {
            uint16_t lo, hi;
            if (val->kind == MNODE_SCALAR && !strcmp(s, "any"))
                r->port_lo = r->port_hi = 0;
            else if (range_of(val, &lo, &hi))
                r->port_lo = lo, r->port_hi = hi;
            else
                errors += err(d, file, val, path,
                              "expected a port 1..65535, a range \"LO-HI\" with LO <= HI, or any");
        } else if (!strcmp(kv, "peer")) {
            uint32_t a, l;
            if (val->kind == MNODE_SCALAR && !strcmp(s, "any"))
                r->peer = 0, r->peer_len = 0;
            else if (val->kind == MNODE_SCALAR && prefix_of(s, &a, &l))
                r->peer = a, r->peer_len = l;
            else
                errors += err(d, file, val, path,
                              "expected \"A.B.C.D/LEN\" with no bits set past LEN, or any");
        } else {
            errors +=
                err(d, file, key, path, "unknown key (known keys: allow, deny, proto, port, peer)");
        }
    }
    if (r->action == 0 && errors == 0)
        errors += err(d, file, v, path, "a rule needs allow: or deny: (in, out or both)");
    return errors;
}

static uint32_t rules(const char *file, const struct mnode *v, struct manifest *m,
                      struct manifest_diags *d)
{
    if (v->kind != MNODE_SEQ)
        return err(d, file, v, "net.rules", "expected a list of rules");
    uint32_t errors = 0;
    for (uint32_t i = 0; i < v->kid_count; i++) {
        char path[48], msg[64];
        snprintf(path, sizeof path, "net.rules[%u]", i);
        if (m->net_rules_count == MANIFEST_NET_RULES_MAX) {
            snprintf(msg, sizeof msg, "more than %u rules", MANIFEST_NET_RULES_MAX);
            return errors + err(d, file, v->kids[i], path, msg);
        }
        uint32_t e = rule(file, v->kids[i], path, &m->net_rules[m->net_rules_count], d);
        errors += e;
        if (e == 0)
            m->net_rules_count++;
    }
    return errors;
}

/* A traffic class {rate_bps, burst_bytes, rate_pps, burst_pkts, floor_bps,
 * weight}: netback's scheduler's bounds (domains/netback/nsched.h). */
static uint32_t net_class(const char *file, const struct mnode *v, const char *path,
                          struct proto_net_class *c, struct manifest_diags *d)
{
    static const struct {
        const char *name;
        size_t off;
        uint64_t max;
    } fields[] = {
        {"rate_bps", offsetof(struct proto_net_class, rate_bps), 100000000000ull},
        {"burst_bytes", offsetof(struct proto_net_class, burst_bytes), 1ull << 32},
        {"rate_pps", offsetof(struct proto_net_class, rate_pps), 100000000ull},
        {"burst_pkts", offsetof(struct proto_net_class, burst_pkts), 1ull << 32},
        {"floor_bps", offsetof(struct proto_net_class, floor_bps), 100000000000ull},
        {"weight", offsetof(struct proto_net_class, weight), 1000},
    };
    if (v->kind != MNODE_MAP)
        return err(d, file, v, path, "expected a mapping {rate_bps: ..., burst_bytes: ...}");
    *c = (struct proto_net_class){.weight = 1};
    uint32_t errors = 0;
    for (uint32_t k = 0; k + 1 < v->kid_count; k += 2) {
        const struct mnode *key = v->kids[k], *val = v->kids[k + 1];
        size_t f = 0;
        while (f < sizeof fields / sizeof fields[0] && strcmp(key->value, fields[f].name))
            f++;
        if (f == sizeof fields / sizeof fields[0]) {
            errors += err(d, file, key, path,
                          "unknown key (known keys: rate_bps, burst_bytes, rate_pps, burst_pkts, "
                          "floor_bps, weight)");
            continue;
        }
        uint64_t x;
        if (!uint_of(val, &x) || x > fields[f].max || (f == 5 && x == 0)) {
            char msg[96];
            snprintf(msg, sizeof msg, "%s: expected an integer %u..%llu", fields[f].name,
                     f == 5 ? 1u : 0u, (unsigned long long)fields[f].max);
            errors += err(d, file, val, path, msg);
            continue;
        }
        memcpy((char *)c + fields[f].off, &x, sizeof x);
    }
    if (errors)
        return errors;
    if (c->rate_bps != 0 && c->burst_bytes < 1514)
        return err(d, file, v, path, "rate_bps needs burst_bytes of at least 1514 (one frame)");
    if (c->rate_pps != 0 && c->burst_pkts < 1)
        return err(d, file, v, path, "rate_pps needs burst_pkts of at least 1");
    if (c->rate_bps != 0 && c->floor_bps > c->rate_bps)
        return err(d, file, v, path, "floor_bps is above rate_bps");
    return 0;
}

uint32_t manifest_net(const char *file, const struct mnode *v, struct manifest *m,
                      struct manifest_diags *d)
{
    m->net_ports_count = 0;
    m->net_rules_count = 0;
    m->has_net_tx = m->has_net_rx = false;
    if (v->kind != MNODE_MAP)
        return err(d, file, v, "net", "expected a mapping {ports: [...]}");
    m->has_net = true;
    uint32_t errors = 0;
    for (uint32_t k = 0; k + 1 < v->kid_count; k += 2) {
        const struct mnode *key = v->kids[k], *val = v->kids[k + 1];
        if (!strcmp(key->value, "ports")) {
            errors += ports(file, val, m, d);
        } else if (!strcmp(key->value, "rules")) {
            errors += rules(file, val, m, d);
        } else if (!strcmp(key->value, "tx") || !strcmp(key->value, "rx")) {
            bool tx = !strcmp(key->value, "tx");
            uint32_t e =
                net_class(file, val, tx ? "net.tx" : "net.rx", tx ? &m->net_tx : &m->net_rx, d);
            errors += e;
            *(tx ? &m->has_net_tx : &m->has_net_rx) = e == 0;
        } else {
            errors += err(d, file, key, "net", "unknown key (known keys: ports, rules, tx, rx)");
        }
    }
    if (errors == 0 && m->net_ports_count == 0 &&
        (m->net_rules_count || m->has_net_tx || m->has_net_rx))
        errors += err(d, file, v, "net", "rules, tx and rx need ports: (a lease) to apply to");
    return errors;
}
