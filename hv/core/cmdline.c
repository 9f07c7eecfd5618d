/*
 * The hypervisor command line: space-separated words, each `key` or
 * `key=value`. Pure string handling, host-tested in test/unit/hv.
 * The bootloader's string is copied into a fixed buffer at boot; lookups
 * never read past its NUL.
 */
#include "cmdline.h"
#include "hv/abi.h"
#include "log.h"

#ifndef HV_HOST_TEST
static char cmdline_buf[HV_CMDLINE_MAX];
#endif

static size_t str_len(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

bool cmdline_find(const char *cmdline, const char *key, const char **val, size_t *val_len)
{
    size_t key_len = str_len(key);
    const char *p = cmdline;

    if (key_len == 0)
        return false;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *word = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        size_t word_len = (size_t)(p - word);
        if (word_len < key_len)
            continue;
        bool same = true;
        for (size_t i = 0; i < key_len; i++) {
            if (word[i] != key[i]) {
                same = false;
                break;
            }
        }
        if (!same)
            continue;
        if (word_len == key_len) {
            *val = word + key_len;
            *val_len = 0;
            return true;
        }
        if (word[key_len] == '=') {
            *val = word + key_len + 1;
            *val_len = word_len - key_len - 1;
            return true;
        }
    }
    return false;
}

bool cmdline_parse_size(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;

    if (len == 0)
        return false;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        i = 2;
        for (; i < len; i++) {
            char c = s[i];
            unsigned d;
            if (c >= '0' && c <= '9')
                d = (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                d = (unsigned)(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                d = (unsigned)(c - 'A' + 10);
            else
                return false;
            if (v > (UINT64_MAX >> 4))
                return false;
            v = (v << 4) | d;
        }
        *out = v;
        return true;
    }
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (i == 0)
        return false;
    if (i < len) {
        unsigned shift;
        switch (s[i]) {
        case 'K':
        case 'k': shift = 10; break;
        case 'M':
        case 'm': shift = 20; break;
        case 'G':
        case 'g': shift = 30; break;
        default: return false;
        }
        if (i + 1 != len)
            return false;
        if (v > (UINT64_MAX >> shift))
            return false;
        v <<= shift;
    }
    *out = v;
    return true;
}

#ifndef HV_HOST_TEST
void cmdline_set(const char *cmdline)
{
    size_t i = 0;
    for (; cmdline[i] && i + 1 < sizeof(cmdline_buf); i++)
        cmdline_buf[i] = cmdline[i];
    cmdline_buf[i] = '\0';
}

const char *cmdline_get_all(void)
{
    return cmdline_buf;
}

bool cmdline_flag(const char *key)
{
    const char *v;
    size_t n;
    return cmdline_find(cmdline_buf, key, &v, &n);
}

bool cmdline_get(const char *key, char *buf, size_t size)
{
    const char *v;
    size_t n;
    if (size == 0 || !cmdline_find(cmdline_buf, key, &v, &n))
        return false;
    if (n >= size)
        n = size - 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = v[i];
    buf[n] = '\0';
    return true;
}

uint64_t cmdline_get_u64(const char *key, uint64_t def)
{
    const char *v;
    size_t n;
    uint64_t out;
    if (!cmdline_find(cmdline_buf, key, &v, &n) || !cmdline_parse_size(v, n, &out)) {
        return def;
    }
    return out;
}
#endif
