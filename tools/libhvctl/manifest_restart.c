/*
 * The manifest's `restart:` field (docs/restart.md, docs/manifests.md): how
 * the control domain supervises the domain.
 *
 *   restart:
 *     heartbeat: 5s     # a bus-ping unanswered this long is a hang (default: none)
 *     backoff: 250ms    # delay before the second quick restart in a row
 *     backoff_max: 8s   # the longest delay (the delay doubles up to it)
 *     limit: 5          # quick restarts in a row before it is left stopped
 *     stable: 5s        # an incarnation that ran this long was not a quick failure
 *
 * Durations are strings: a whole number and a unit, ms or s. Every key is
 * optional (the defaults above); heartbeat 0 or absent: not watched, else
 * 100 ms .. 1 h; the others at most 1 h, backoff_max >= backoff, limit
 * 1..100. The stop policies (on_crash, on_poweroff, on_reboot) say which
 * stops restart it at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_tree.h"

#define MS 1000000ull
#define HOUR_NS (3600ull * 1000 * MS)

static uint32_t err(struct manifest_diags *d, const char *file, const struct mnode *n,
                    const char *path, const char *msg)
{
    manifest_diag_add(d, file, n->line, n->column, path, "%s", msg);
    return 1;
}

/* "250ms", "5s": digits then a unit; at most 1 h. */
static bool duration_of(const struct mnode *v, uint64_t *ns)
{
    if (v->kind != MNODE_SCALAR || strlen(v->value) != v->len || v->len == 0 || v->len > 16)
        return false;
    size_t i = 0;
    uint64_t n = 0;
    while (i < v->len && v->value[i] >= '0' && v->value[i] <= '9' && n <= HOUR_NS)
        n = n * 10u + (uint64_t)(v->value[i++] - '0');
    if (i == 0 || n > HOUR_NS)
        return false;
    const char *unit = v->value + i;
    uint64_t mul = !strcmp(unit, "ms") ? MS : !strcmp(unit, "s") ? 1000 * MS : 0;
    if (mul == 0 || n > HOUR_NS / mul)
        return false;
    *ns = n * mul;
    return true;
}

uint32_t manifest_restart(const char *file, const struct mnode *v, struct manifest *m,
                          struct manifest_diags *d)
{
    if (v->kind != MNODE_MAP)
        return err(d, file, v, "restart",
                   "expected a mapping (heartbeat, backoff, backoff_max, limit, stable)");
    m->has_restart = true;
    uint32_t errors = 0;
    for (uint32_t k = 0; k + 1 < v->kid_count; k += 2) {
        const struct mnode *key = v->kids[k], *val = v->kids[k + 1];
        char path[48];
        snprintf(path, sizeof path, "restart.%s", key->value);
        uint64_t *dur = !strcmp(key->value, "heartbeat")     ? &m->restart.heartbeat_ns
                        : !strcmp(key->value, "backoff")     ? &m->restart.backoff_ns
                        : !strcmp(key->value, "backoff_max") ? &m->restart.backoff_max_ns
                        : !strcmp(key->value, "stable")      ? &m->restart.stable_ns
                                                             : NULL;
        if (dur) {
            if (!duration_of(val, dur))
                errors += err(d, file, val, path,
                              "expected a duration: a whole number and ms or s, at most 1 h "
                              "(\"250ms\", \"5s\")");
            else if (dur == &m->restart.heartbeat_ns && *dur != 0 && *dur < 100 * MS)
                errors += err(d, file, val, path, "a heartbeat is at least 100ms (0: none)");
        } else if (!strcmp(key->value, "limit")) {
            char *end = NULL;
            unsigned long x = val->kind == MNODE_SCALAR && val->plain && val->len > 0 &&
                                      val->value[0] >= '0' && val->value[0] <= '9'
                                  ? strtoul(val->value, &end, 10)
                                  : 0;
            if (!end || *end || x < 1 || x > 100)
                errors += err(d, file, val, path, "expected a whole number 1..100");
            else
                m->restart.limit = (uint32_t)x;
        } else {
            errors += err(d, file, key, "restart",
                          "unknown key (known keys: heartbeat, backoff, backoff_max, limit, "
                          "stable)");
        }
    }
    if (errors == 0 && m->restart.backoff_max_ns < m->restart.backoff_ns)
        errors += err(d, file, v, "restart.backoff_max", "is below restart.backoff");
    return errors;
}
