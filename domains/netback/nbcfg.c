/* netback's text and message inputs (see nbcfg.h). */
#include "nbcfg.h"

#include <string.h>

#include "hv/netif.h"

/* A decimal number of 1..digits_max digits at *s, at most max; advances *s. */
static bool number(const char **s, uint32_t max, unsigned digits_max, uint32_t *out)
{
    uint32_t v = 0;
    unsigned n = 0;
    while (**s >= '0' && **s <= '9') {
        if (++n > digits_max)
            return false;
        v = v * 10u + (uint32_t)(**s - '0');
        (*s)++;
    }
    if (n == 0 || v > max)
        return false;
    *out = v;
    return true;
}

bool nb_parse_addr(const char *s, uint32_t *addr, unsigned *prefix)
{
    if (s == NULL)
        return false;
    uint32_t a = 0;
    for (int i = 0; i < 4; i++) {
        uint32_t part;
        if (!number(&s, 255, 3, &part))
            return false;
        a = a << 8 | part;
        if (i < 3 && *s++ != '.')
            return false;
    }
    uint32_t len = 32;
    if (prefix && *s == '/') {
        s++;
        if (!number(&s, 32, 2, &len))
            return false;
    }
    if (*s != 0)
        return false;
    *addr = a;
    if (prefix)
        *prefix = (unsigned)len;
    return true;
}

uint32_t nb_prefix_mask(unsigned prefix)
{
    return prefix == 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
}

uint32_t nb_parse_ports(const char *s, uint16_t dom, struct vfr_lease *out, uint32_t max)
{
    if (s == NULL)
        return 0;
    uint32_t n = 0;
    while (*s) {
        uint32_t lo, hi;
        if (!number(&s, 65535, 5, &lo) || lo == 0)
            return 0;
        hi = lo;
        if (*s == '-') {
            s++;
            if (!number(&s, 65535, 5, &hi) || hi < lo)
                return 0;
        }
        if (max - n < 2)
            return 0;
        out[n++] = (struct vfr_lease){dom, VFR_PROTO_TCP, (uint16_t)lo, (uint16_t)hi};
        out[n++] = (struct vfr_lease){dom, VFR_PROTO_UDP, (uint16_t)lo, (uint16_t)hi};
        if (*s == ',' && s[1] != 0)
            s++;
        else if (*s)
            return 0;
    }
    return n;
}

/* The word w at *s followed by a space; advances *s. */
static bool word(const char **s, const char *w)
{
    size_t n = strlen(w);
    if (strncmp(*s, w, n) != 0 || (*s)[n] != ' ')
        return false;
    *s += n + 1;
    return true;
}

static bool one_rule(const char **s, struct vfr_rule *r)
{
    uint32_t proto, lo, hi, addr = 0, len;
    if (word(s, "allow"))
        r->action = VFR_ALLOW;
    else if (word(s, "deny"))
        r->action = VFR_DENY;
    else
        return false;
    if (word(s, "in"))
        r->dir = VFR_IN;
    else if (word(s, "out"))
        r->dir = VFR_OUT;
    else if (word(s, "both"))
        r->dir = VFR_BOTH;
    else
        return false;
    if (!number(s, 255, 3, &proto) || *(*s)++ != ' ' || !number(s, 65535, 5, &lo) ||
        *(*s)++ != '-' || !number(s, 65535, 5, &hi) || *(*s)++ != ' ')
        return false;
    for (int i = 0; i < 4; i++) {
        uint32_t part;
        if (!number(s, 255, 3, &part) || *(*s)++ != (i < 3 ? '.' : '/'))
            return false;
        addr = addr << 8 | part;
    }
    if (!number(s, 32, 2, &len))
        return false;
    r->proto = (uint8_t)proto;
    r->port_lo = (uint16_t)lo;
    r->port_hi = (uint16_t)hi;
    r->peer = addr;
    r->peer_len = (uint8_t)len;
    return true;
}

int32_t nb_parse_rules(const char *s, struct vfr_rule *out, uint32_t max)
{
    if (s == NULL)
        return -1;
    uint32_t n = 0;
    while (*s) {
        if (n == max || !one_rule(&s, &out[n]))
            return -1;
        n++;
        if (*s == ';' && s[1] != 0)
            s++;
        else if (*s)
            return -1;
    }
    return (int32_t)n;
}

/* A decimal of 1..12 digits at *s (below 10^12); advances *s. */
static bool number64(const char **s, uint64_t *out)
{
    uint64_t v = 0;
    unsigned n = 0;
    while (**s >= '0' && **s <= '9') {
        if (++n > 12)
            return false;
        v = v * 10u + (uint64_t)(**s - '0');
        (*s)++;
    }
    *out = v;
    return n > 0;
}

static bool one_class(const char **s, struct nsched_class *c)
{
    uint64_t x[6];
    for (int i = 0; i < 6; i++)
        if (!number64(s, &x[i]) || (i < 5 && *(*s)++ != ' '))
            return false;
    if (x[5] > 0xffffffffu)
        return false;
    c->rate_bps = x[0];
    c->burst_bytes = x[1];
    c->rate_pps = x[2];
    c->burst_pkts = x[3];
    c->floor_bps = x[4];
    c->weight = (uint32_t)x[5];
    return true;
}

bool nb_parse_classes(const char *s, struct nsched_class *tx, struct nsched_class *rx)
{
    if (s == NULL || *s == 0)
        return false;
    struct nsched_class t = *tx, r = *rx;
    bool seen_tx = false, seen_rx = false;
    while (*s) {
        if (word(&s, "tx") && !seen_tx) {
            if (!one_class(&s, &t))
                return false;
            seen_tx = true;
        } else if (word(&s, "rx") && !seen_rx) {
            if (!one_class(&s, &r))
                return false;
            seen_rx = true;
        } else {
            return false;
        }
        if (*s == ';' && s[1] != 0)
            s++;
        else if (*s)
            return false;
    }
    *tx = t;
    *rx = r;
    return true;
}

enum nb_msg_status nb_front_msg(const uint8_t *msg, size_t len, const uint8_t **frame,
                                size_t *frame_len)
{
    struct netif_hdr h;
    if (len < sizeof h)
        return NB_MSG_SHORT;
    memcpy(&h, msg, sizeof h);
    if (h.type != NETIF_MSG_FRAME)
        return NB_MSG_TYPE;
    if (h.reserved != 0)
        return NB_MSG_RESERVED;
    size_t n = len - sizeof h;
    if (n < NETIF_FRAME_MIN || n > NETIF_FRAME_MAX)
        return NB_MSG_LENGTH;
    *frame = msg + sizeof h;
    *frame_len = n;
    return NB_MSG_FRAME;
}

const char *nb_msg_status_name(enum nb_msg_status s)
{
    static const char *const names[NB_MSG_STATUS_COUNT] = {"frame", "short", "type", "reserved",
                                                           "length"};
    return (unsigned)s < NB_MSG_STATUS_COUNT ? names[s] : "?";
}
