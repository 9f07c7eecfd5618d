/* A driver's configuration from the host (see drvcfg.h). */
#include "drvcfg.h"

#include <stdio.h>
#include <string.h>

#define CONFIG_ITEMS_MAX                                                                           \
    (sizeof(((struct proto_domain_config *)0)->config.items) /                                     \
     sizeof(((struct proto_domain_config *)0)->config.items[0]))

static bool same(struct hvcbor_str a, const char *b, size_t n)
{
    return a.len == n && memcmp(a.ptr, b, n) == 0;
}

const char *drvcfg_apply(struct proto_domain_config *cfg, const char *text, size_t len, char *why,
                         size_t why_cap, char *summary, size_t summary_cap)
{
    if (summary_cap)
        summary[0] = 0;
    if (len > DRVCFG_FILE_MAX) {
        snprintf(why, why_cap, "longer than %u bytes", DRVCFG_FILE_MAX);
        return why;
    }
    /* Decode: every line checked against a copy, cfg untouched until the end. */
    static struct proto_domain_config out; /* large: static */
    out = *cfg;
    if (!out.has_config)
        out.config.count = 0;
    size_t sum = 0;
    uint32_t line = 0;
    for (size_t at = 0; at < len;) {
        const char *p = text + at;
        const char *nl = memchr(p, '\n', len - at);
        size_t n = nl ? (size_t)(nl - p) : len - at;
        at += n + (nl ? 1 : 0);
        line++;
        if (n == 0)
            continue;
        for (size_t i = 0; i < n; i++)
            if (p[i] < 0x20 || p[i] > 0x7e) {
                snprintf(why, why_cap, "line %u: byte %u is not printable ASCII", line,
                         (unsigned)i + 1);
                return why;
            }
        const char *eq = memchr(p, '=', n);
        size_t klen = eq ? (size_t)(eq - p) : 0, vlen = eq ? n - klen - 1 : 0;
        if (!eq || klen == 0 || klen > DRVCFG_KEY_MAX || memchr(p, ' ', klen)) {
            snprintf(why, why_cap, "line %u: not KEY=VALUE (a key of 1..%u bytes, no spaces)", line,
                     DRVCFG_KEY_MAX);
            return why;
        }
        if (vlen > DRVCFG_VALUE_MAX) {
            snprintf(why, why_cap, "line %u: the value is longer than %u bytes", line,
                     DRVCFG_VALUE_MAX);
            return why;
        }
        struct hvcbor_str value = {(const uint8_t *)eq + 1, (uint32_t)vlen};
        uint32_t k = 0;
        while (k < out.config.count && !same(out.config.items[k].key, p, klen))
            k++;
        if (k == out.config.count) {
            if (k == CONFIG_ITEMS_MAX) {
                snprintf(why, why_cap, "line %u: more than %u config values", line,
                         (unsigned)CONFIG_ITEMS_MAX);
                return why;
            }
            out.config.items[k].key = (struct hvcbor_str){(const uint8_t *)p, (uint32_t)klen};
            out.config.count++;
        }
        out.config.items[k].value = value;
        out.has_config = true;
        if (summary_cap > sum)
            sum += (size_t)snprintf(summary + sum, summary_cap - sum, "%s%.*s %.*s",
                                    sum ? ", " : "", (int)klen, p, (int)vlen, eq + 1);
    }
    *cfg = out;
    return NULL;
}
