/*
 * Shared set-up of the stack's host tests: stacks on the simulated link
 * (sim_link.h) with documentation addresses 192.0.2.N and MACs 02:..:N, a
 * tap that records (and may drop) frames, and builders of raw frames for
 * hostile input. White-box: the tests may look at the stack's internals
 * (net_internal.h) to check states and bounds.
 */
#ifndef NET_FIXTURE_H
#define NET_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"
#include "sim_link.h"

#define MS 1000000ull
#define SEC (1000ull * MS)
#define NET_A GK_IP4(192, 0, 2, 1)
#define NET_B GK_IP4(192, 0, 2, 2)
#define NET_PEER GK_IP4(192, 0, 2, 9) /* a raw peer played by the test */

static const uint8_t MAC_PEER[6] = {2, 0, 0, 0, 0, 9};
static const uint8_t MAC_BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static inline void mac_of(uint8_t mac[6], int n)
{
    const uint8_t m[6] = {2, 0, 0, 0, 0, (uint8_t)n};
    memcpy(mac, m, 6);
}

/* The configuration of stack n (192.0.2.n). */
static inline void cfg_for(struct gk_ip_config *c, int n)
{
    gk_ip_config_default(c);
    mac_of(c->mac, n);
    c->addr = GK_IP4(192, 0, 2, n);
    c->netmask = GK_IP4(255, 255, 255, 0);
    c->seed = 0x1234 + (uint64_t)n;
}

/* The tap: records every frame sent (up to CAP_MAX) and drops those whose
 * sender is in drop_from (a bit per end), or those `filter` rejects. */
#define CAP_MAX 2048
struct cap_frame {
    int from;
    uint64_t at;
    uint32_t len;
    uint8_t d[1518];
};
struct cap {
    int n;
    struct cap_frame *f;
    unsigned drop_from;
    bool (*filter)(struct cap *c, int from, const uint8_t *frame, uint32_t len);
    void *arg;
};

static inline bool cap_tap(struct sim *s, int from, uint8_t *frame, uint32_t *len, void *arg)
{
    struct cap *c = arg;
    if (c->n < CAP_MAX) {
        struct cap_frame *f = &c->f[c->n++];
        f->from = from;
        f->at = s->now;
        f->len = *len;
        memcpy(f->d, frame, *len);
    }
    if (c->drop_from & (1u << from))
        return false;
    if (c->filter && !c->filter(c, from, frame, *len))
        return false;
    return true;
}

static inline void cap_attach(struct sim *s, struct cap *c)
{
    memset(c, 0, sizeof *c);
    c->f = calloc(CAP_MAX, sizeof *c->f);
    s->tap = cap_tap;
    s->tap_arg = c;
}

static inline void cap_free(struct cap *c)
{
    free(c->f);
    c->f = NULL;
}

/* Frame fields. */
static inline uint16_t fr_type(const struct cap_frame *f)
{
    return get16(f->d + 12);
}
static inline const uint8_t *fr_ip(const struct cap_frame *f)
{
    return f->d + ETH_HDR;
}
static inline uint8_t fr_proto(const struct cap_frame *f)
{
    return fr_type(f) == ETH_TYPE_IPV4 ? f->d[ETH_HDR + 9] : 0;
}
static inline const uint8_t *fr_l4(const struct cap_frame *f)
{
    return f->d + ETH_HDR + (size_t)(f->d[ETH_HDR] & 15) * 4;
}

/* Builders of raw frames (checksums right unless the test spoils them). */
static inline size_t build_arp(uint8_t *out, uint16_t op, const uint8_t sha[6], uint32_t spa,
                               const uint8_t tha[6], uint32_t tpa, const uint8_t dst[6])
{
    memcpy(out, dst, 6);
    memcpy(out + 6, sha, 6);
    put16(out + 12, ETH_TYPE_ARP);
    uint8_t *p = out + ETH_HDR;
    put16(p, 1);
    put16(p + 2, ETH_TYPE_IPV4);
    p[4] = 6;
    p[5] = 4;
    put16(p + 6, op);
    memcpy(p + 8, sha, 6);
    put32(p + 14, spa);
    memcpy(p + 18, tha, 6);
    put32(p + 24, tpa);
    memset(out + ETH_HDR + 28, 0, 60 - ETH_HDR - 28);
    return 60;
}

static inline size_t build_udp(uint8_t *out, uint32_t src, uint32_t dst, uint16_t sport,
                               uint16_t dport, const void *data, size_t len)
{
    put16(out, sport);
    put16(out + 2, dport);
    put16(out + 4, (uint16_t)(8 + len));
    put16(out + 6, 0);
    if (len)
        memcpy(out + 8, data, len);
    uint32_t ps =
        (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 17 + (uint32_t)(8 + len);
    uint16_t c = sim_csum(out, 8 + len, ps);
    put16(out + 6, c == 0 ? 0xffff : c);
    return 8 + len;
}

static inline size_t build_echo(uint8_t *out, uint8_t type, uint16_t id, uint16_t seq,
                                const void *data, size_t len)
{
    out[0] = type;
    out[1] = 0;
    put16(out + 2, 0);
    put16(out + 4, id);
    put16(out + 6, seq);
    if (len)
        memcpy(out + 8, data, len);
    put16(out + 2, sim_csum(out, 8 + len, 0));
    return 8 + len;
}

/* Makes stack `to` (end index) learn the raw peer's MAC, as an ARP request
 * from it would. */
static inline void peer_announce(struct sim *s, int to, uint32_t to_addr)
{
    uint8_t f[60];
    static const uint8_t zero[6] = {0};
    size_t n = build_arp(f, 1, MAC_PEER, NET_PEER, zero, to_addr, MAC_BCAST);
    sim_inject(s, to, f, n);
}

/* An IP packet from the raw peer to stack `to` at to_addr/to_mac. */
static inline void peer_send_ip(struct sim *s, int to, const uint8_t to_mac[6], uint32_t to_addr,
                                uint8_t proto, uint16_t id, uint16_t frag, const void *payload,
                                size_t len)
{
    uint8_t f[1600];
    size_t n = sim_build_ip(f, to_mac, MAC_PEER, NET_PEER, to_addr, proto, id, frag, payload, len);
    sim_inject(s, to, f, n);
}

/* A non-blocking socket (the tests drive the simulation themselves). */
static inline int sock_nb(struct gk_ip *ip, enum gk_sock_type type)
{
    int s = gk_sock_open(ip, type);
    if (s >= 0)
        gk_sock_set(ip, s, GK_SOCK_NONBLOCK, 1);
    return s;
}

/* Steps the simulation until cond holds or limit_ns of virtual time passed. */
#define RUN_UNTIL(simp, cond, limit_ns)                                                            \
    do {                                                                                           \
        uint64_t end_ = (simp)->now + (limit_ns);                                                  \
        while (!(cond) && (simp)->now < end_)                                                      \
            sim_step((simp), 10 * MS);                                                             \
    } while (0)

/* A simple checksum of a byte stream (FNV-1a). */
static inline uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
#define FNV0 0xcbf29ce484222325ull

/* The sockets in use in a stack (every state). */
static inline unsigned socks_used(const struct gk_ip *ip)
{
    unsigned n = 0;
    for (uint32_t i = 0; i < ip->cfg.sockets_max; i++)
        n += ip->socks[i].used;
    return n;
}

#endif
