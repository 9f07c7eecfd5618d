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
 */
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

uint32_t manifest_net(const char *file, const struct mnode *v, struct manifest *m,
                      struct manifest_diags *d)
{
    m->net_ports_count = 0;
    if (v->kind != MNODE_MAP)
        return err(d, file, v, "net", "expected a mapping {ports: [...]}");
    m->has_net = true;
    uint32_t errors = 0;
    for (uint32_t k = 0; k + 1 < v->kid_count; k += 2) {
        const struct mnode *key = v->kids[k], *val = v->kids[k + 1];
        if (!strcmp(key->value, "ports"))
            errors += ports(file, val, m, d);
        else
            errors += err(d, file, key, "net", "unknown key (known keys: ports)");
    }
    return errors;
}
