/*
 * Host tests of netback's VFR (domains/netback): the packet parser against
 * good and malformed frames (every truncation of good ones), the RSIP
 * lease table against a brute-force model, the rules (atomic replacement,
 * first match, prefixes, counters), and the forwarding decision both ways:
 * ARP and ping answered by netback, demultiplexing by port, ICMP errors to
 * the holder of the quoted port, fragments following their first, the
 * inbound default deny, spoofing of MAC, address and port, rules, domain
 * to domain, and random frames whose verdicts must agree with the leases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vfr.h"

#define IP4(a, b, c, d)                                                                            \
    (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))
#define EXT IP4(192, 0, 2, 10)
#define PEER IP4(198, 51, 100, 7)

static const uint8_t NB_MAC[6] = {2, 0, 0, 0, 0, 0x10};
static const uint8_t PEER_MAC[6] = {2, 0, 0, 0, 0, 0x77};
static const uint8_t BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* An Ethernet + IPv4 frame around l4[0..n). */
static size_t ip_frame(uint8_t *f, const uint8_t *dmac, const uint8_t *smac, uint32_t src,
                       uint32_t dst, uint8_t proto, uint16_t id, uint16_t frag, const void *l4,
                       size_t n)
{
    memcpy(f, dmac, 6);
    memcpy(f + 6, smac, 6);
    vfr_put16(f + 12, VFR_ETH_IPV4);
    uint8_t *h = f + 14;
    memset(h, 0, 20);
    h[0] = 0x45;
    vfr_put16(h + 2, (uint16_t)(20 + n));
    vfr_put16(h + 4, id);
    vfr_put16(h + 6, frag);
    h[8] = 64;
    h[9] = proto;
    vfr_put32(h + 12, src);
    vfr_put32(h + 16, dst);
    vfr_put16(h + 10, vfr_csum(h, 20));
    memcpy(h + 20, l4, n);
    return 14 + 20 + n;
}

static size_t tcp_seg(uint8_t *t, uint16_t sport, uint16_t dport, uint8_t flags)
{
    memset(t, 0, 20);
    vfr_put16(t, sport);
    vfr_put16(t + 2, dport);
    t[12] = 5 << 4;
    t[13] = flags;
    return 20;
}

static size_t udp_dgram(uint8_t *u, uint16_t sport, uint16_t dport, size_t data)
{
    memset(u, 0, 8 + data);
    vfr_put16(u, sport);
    vfr_put16(u + 2, dport);
    vfr_put16(u + 4, (uint16_t)(8 + data));
    return 8 + data;
}

static size_t icmp_echo(uint8_t *m, uint8_t type, uint16_t id, size_t data)
{
    memset(m, 0, 8 + data);
    m[0] = type;
    vfr_put16(m + 4, id);
    vfr_put16(m + 6, 1);
    for (size_t i = 0; i < data; i++)
        m[8 + i] = (uint8_t)i;
    vfr_put16(m + 2, vfr_csum(m, 8 + data));
    return 8 + data;
}

/* An ICMP error (type, code) quoting a datagram src->dst proto sport->dport. */
static size_t icmp_error(uint8_t *m, uint8_t type, uint8_t code, uint32_t src, uint32_t dst,
                         uint8_t proto, uint16_t sport, uint16_t dport)
{
    memset(m, 0, 36);
    m[0] = type;
    m[1] = code;
    uint8_t *q = m + 8;
    q[0] = 0x45;
    vfr_put16(q + 2, 40);
    q[8] = 64;
    q[9] = proto;
    vfr_put32(q + 12, src);
    vfr_put32(q + 16, dst);
    vfr_put16(q + 20, sport);
    vfr_put16(q + 22, dport);
    if (proto == VFR_PROTO_ICMP) {
        q[20] = 8;
        q[21] = 0;
        vfr_put16(q + 24, sport);
    }
    vfr_put16(m + 2, vfr_csum(m, 36));
    return 36;
}

static size_t arp_frame(uint8_t *f, uint16_t op, const uint8_t *sha, uint32_t spa, uint32_t tpa,
                        const uint8_t *dmac)
{
    memset(f, 0, 60);
    memcpy(f, dmac, 6);
    memcpy(f + 6, sha, 6);
    vfr_put16(f + 12, VFR_ETH_ARP);
    uint8_t *a = f + 14;
    vfr_put16(a, 1);
    vfr_put16(a + 2, VFR_ETH_IPV4);
    a[4] = 6;
    a[5] = 4;
    vfr_put16(a + 6, op);
    memcpy(a + 8, sha, 6);
    vfr_put32(a + 14, spa);
    vfr_put32(a + 24, tpa);
    return 60;
}

/* ---- The parser ------------------------------------------------------------------- */

/* The checksum the builders here and netback's replies use, against known
 * answers: an IPv4 header (Wikipedia's example: b861), an odd length, and
 * a header whose checksum field is filled summing to 0. */
static void test_checksum_known_answers(void **state)
{
    (void)state;
    uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                     0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    assert_int_equal(vfr_csum(h, 20), 0xb861);
    vfr_put16(h + 10, 0xb861);
    assert_int_equal(vfr_csum(h, 20), 0);
    const uint8_t odd[3] = {0x01, 0x02, 0x03}; /* 0x0102 + 0x0300 = 0x0402 */
    assert_int_equal(vfr_csum(odd, 3), (uint16_t)~0x0402);
    const uint8_t carry[4] = {0xff, 0xff, 0x00, 0x01}; /* 0xffff + 1 folds to 0x0001 */
    assert_int_equal(vfr_csum(carry, 4), 0xfffe);
}

static void test_parse_good_frames(void **state)
{
    (void)state;
    uint8_t f[1600], l4[1500];
    struct vfr_pkt p;
    size_t n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_TCP, 5, 0x4000, l4,
                        tcp_seg(l4, 40000, 8080, 0x02));
    assert_int_equal(vfr_pkt_parse(f, n, &p), VFR_PKT_OK);
    assert_int_equal(p.kind, VFR_KIND_IPV4);
    assert_int_equal(p.src, PEER);
    assert_int_equal(p.dst, EXT);
    assert_int_equal(p.proto, VFR_PROTO_TCP);
    assert_int_equal(p.sport, 40000);
    assert_int_equal(p.dport, 8080);
    assert_int_equal(p.tcp_flags, 0x02);
    assert_true(p.has_ports);
    assert_false(p.more_frags);
    n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_UDP, 6, 0x2000, l4,
                 udp_dgram(l4, 53, 20001, 100));
    assert_int_equal(vfr_pkt_parse(f, n, &p), VFR_PKT_OK);
    assert_int_equal(p.dport, 20001);
    assert_true(p.more_frags);
    n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_ICMP, 7, 0, l4,
                 icmp_echo(l4, 0, 777, 32));
    assert_int_equal(vfr_pkt_parse(f, n, &p), VFR_PKT_OK);
    assert_int_equal(p.sport, 777);
    assert_int_equal(p.dport, 777);
    n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_ICMP, 8, 0, l4,
                 icmp_error(l4, 3, 3, EXT, PEER, VFR_PROTO_UDP, 20001, 53));
    assert_int_equal(vfr_pkt_parse(f, n, &p), VFR_PKT_OK);
    assert_true(p.icmp_error);
    assert_int_equal(p.inner.proto, VFR_PROTO_UDP);
    assert_int_equal(p.inner.src, EXT);
    assert_int_equal(p.inner.sport, 20001);
    assert_int_equal(p.inner.dport, 53);
    /* A later fragment: no ports. */
    n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_UDP, 6, 185, l4, 100);
    assert_int_equal(vfr_pkt_parse(f, n, &p), VFR_PKT_OK);
    assert_int_equal(p.frag_offset, 1480);
    assert_false(p.has_ports);
    n = arp_frame(f, 1, PEER_MAC, PEER, EXT, BCAST);
    assert_int_equal(vfr_pkt_parse(f, n, &p), VFR_PKT_OK);
    assert_int_equal(p.kind, VFR_KIND_ARP);
    assert_int_equal(p.arp_op, 1);
    assert_int_equal(p.arp_spa, PEER);
    assert_int_equal(p.arp_tpa, EXT);
    assert_memory_equal(p.arp_sha, PEER_MAC, 6);
    /* Every truncation of every good frame: refused or still consistent,
     * never a read past the end (ASan). */
    uint8_t *frames[4];
    size_t lens[4];
    static uint8_t fr[4][200];
    lens[0] = ip_frame(fr[0], NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_TCP, 1, 0, l4,
                       tcp_seg(l4, 1, 2, 0x10));
    lens[1] = ip_frame(fr[1], NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_UDP, 1, 0, l4,
                       udp_dgram(l4, 1, 2, 10));
    lens[2] = ip_frame(fr[2], NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_ICMP, 1, 0, l4,
                       icmp_error(l4, 11, 0, EXT, PEER, VFR_PROTO_TCP, 1, 2));
    lens[3] = arp_frame(fr[3], 2, PEER_MAC, PEER, EXT, NB_MAC);
    for (int k = 0; k < 4; k++) {
        frames[k] = fr[k];
        for (size_t len = 0; len < lens[k]; len++) {
            uint8_t *copy = malloc(len ? len : 1);
            memcpy(copy, frames[k], len);
            enum vfr_pkt_status st = vfr_pkt_parse(copy, len, &p);
            if (k == 3) /* ARP: 42 bytes are enough (no padding needed) */
                assert_true(len >= 42 ? st == VFR_PKT_OK : st != VFR_PKT_OK);
            else
                assert_int_not_equal(st, VFR_PKT_OK); /* IPv4 total length says more */
            free(copy);
        }
    }
}

static void test_parse_bad_frames(void **state)
{
    (void)state;
    uint8_t f[2000], l4[100], x[2000];
    struct vfr_pkt p;
    size_t n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_TCP, 5, 0, l4,
                        tcp_seg(l4, 40000, 8080, 0x02));
#define FIX() (vfr_put16(x + 24, 0), vfr_put16(x + 24, vfr_csum(x + 14, 20)))
#define EXPECT(mutate, len, status)                                                                \
    do {                                                                                           \
        memcpy(x, f, n);                                                                           \
        mutate;                                                                                    \
        assert_int_equal(vfr_pkt_parse(x, (len), &p), (status));                                   \
    } while (0)
    EXPECT((void)0, 13, VFR_PKT_SHORT);
    EXPECT((void)0, 1515, VFR_PKT_TOO_LONG);
    EXPECT(vfr_put16(x + 12, 0x86dd), n, VFR_PKT_ETHERTYPE);
    EXPECT((void)0, 14 + 19, VFR_PKT_SHORT);
    EXPECT((x[14] = 0x65, FIX()), n, VFR_PKT_BAD_IP);
    EXPECT((x[14] = 0x44, FIX()), n, VFR_PKT_BAD_IP);
    EXPECT((x[14] = 0x4f, FIX()), n, VFR_PKT_BAD_IP);
    EXPECT((vfr_put16(x + 16, 100), FIX()), n, VFR_PKT_BAD_IP);
    EXPECT((vfr_put16(x + 16, 19), FIX()), n, VFR_PKT_BAD_IP);
    EXPECT((x[20] = 0x80, FIX()), n, VFR_PKT_BAD_IP);
    EXPECT(x[25] ^= 1, n, VFR_PKT_IP_CSUM);
    EXPECT(x[34 + 12] = 4 << 4, n, VFR_PKT_BAD_L4);
    EXPECT(x[34 + 12] = 6 << 4, n, VFR_PKT_BAD_L4);
    EXPECT((vfr_put16(x + 16, 30), FIX()), n, VFR_PKT_SHORT);
    n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_UDP, 5, 0, l4, udp_dgram(l4, 1, 2, 4));
    EXPECT(vfr_put16(x + 34 + 4, 7), n, VFR_PKT_BAD_L4);
    EXPECT(vfr_put16(x + 34 + 4, 13), n, VFR_PKT_BAD_L4);
    n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_ICMP, 5, 0, l4,
                 icmp_error(l4, 3, 1, EXT, PEER, VFR_PROTO_TCP, 1, 2));
    EXPECT(x[34 + 8] = 0x65, n, VFR_PKT_BAD_L4);   /* quote not IPv4 */
    EXPECT(x[34 + 8 + 9] = 47, n, VFR_PKT_BAD_L4); /* quote of GRE */
    EXPECT(x[34 + 8] = 0x4f, n, VFR_PKT_BAD_L4);   /* quoted header past the quote */
    n = arp_frame(f, 1, PEER_MAC, PEER, EXT, BCAST);
    EXPECT(x[14 + 5] = 16, n, VFR_PKT_BAD_ARP);
    EXPECT(vfr_put16(x + 14 + 6, 3), n, VFR_PKT_BAD_ARP);
    EXPECT((void)0, 14 + 27, VFR_PKT_SHORT);
    assert_string_equal(vfr_pkt_status_name(VFR_PKT_IP_CSUM), "ip-checksum");
}

/* ---- Leases ------------------------------------------------------------------------ */

static struct vfr_lease L(uint8_t proto, uint16_t lo, uint16_t hi) {
    struct vfr_lease l = {0, proto, lo, hi};
    return l;
}

static void
test_leases(void **state)
{
    (void)state;
    static struct vfr_leases t;
    vfr_lease_init(&t);
    struct vfr_lease a[3] = {L(VFR_PROTO_TCP, 8080, 8080), L(VFR_PROTO_UDP, 8080, 8080),
                             L(VFR_PROTO_TCP, 20000, 20999)};
    assert_int_equal(vfr_lease_set(&t, 1, a, 3, NULL), VFR_LEASE_OK);
    assert_int_equal(vfr_lease_owner(&t, VFR_PROTO_TCP, 8080), 1);
    assert_int_equal(vfr_lease_owner(&t, VFR_PROTO_UDP, 8080), 1);
    assert_int_equal(vfr_lease_owner(&t, VFR_PROTO_TCP, 20500), 1);
    assert_int_equal(vfr_lease_owner(&t, VFR_PROTO_UDP, 20500), VFR_DOM_NONE);
    assert_int_equal(vfr_lease_owner(&t, VFR_PROTO_TCP, 21000), VFR_DOM_NONE);
    /* A conflicting lease is refused, says with whom, and changes nothing. */
    struct vfr_lease b[2] = {L(VFR_PROTO_TCP, 9000, 9000), L(VFR_PROTO_TCP, 20999, 21999)};
    struct vfr_lease c;
    assert_int_equal(vfr_lease_set(&t, 2, b, 2, &c), VFR_LEASE_CONFLICT);
    assert_int_equal(c.dom, 1);
    assert_int_equal(c.lo, 20000);
    assert_int_equal(vfr_lease_owner(&t, VFR_PROTO_TCP, 9000), VFR_DOM_NONE);
    b[1] = L(VFR_PROTO_TCP, 21000, 21999);
    assert_int_equal(vfr_lease_set(&t, 2, b, 2, NULL), VFR_LEASE_OK);
    assert_int_equal(vfr_lease_owner(&t, VFR_PROTO_TCP, 21000), 2);
    assert_true(vfr_lease_held(&t, 2, VFR_PROTO_TCP, 9000));
    assert_false(vfr_lease_held(&t, 1, VFR_PROTO_TCP, 9000));
    /* Invalid ranges. */
    struct vfr_lease bad[3] = {L(VFR_PROTO_TCP, 0, 5), L(VFR_PROTO_TCP, 10, 9), L(1, 5, 5)};
    for (int i = 0; i < 3; i++)
        assert_int_equal(vfr_lease_set(&t, 3, &bad[i], 1, NULL), VFR_LEASE_INVALID);
    /* A domain's own overlapping ranges merge; a replacement drops the old. */
    struct vfr_lease m[3] = {L(VFR_PROTO_UDP, 100, 200), L(VFR_PROTO_UDP, 150, 300),
                             L(VFR_PROTO_UDP, 301, 310)};
    assert_int_equal(vfr_lease_set(&t, 3, m, 3, NULL), VFR_LEASE_OK);
    struct vfr_lease got[8];
    assert_int_equal(vfr_lease_list(&t, 3, got, 8), 1);
    assert_int_equal(got[0].lo, 100);
    assert_int_equal(got[0].hi, 310);
    assert_int_equal(vfr_lease_set(&t, 1, NULL, 0, NULL), VFR_LEASE_OK);
    assert_int_equal(vfr_lease_owner(&t, VFR_PROTO_TCP, 8080), VFR_DOM_NONE);
    assert_int_equal(vfr_lease_owner(&t, VFR_PROTO_TCP, 9000), 2);
    /* Auto leases: the lowest free range in both protocols. */
    uint16_t lo;
    assert_int_equal(vfr_lease_find_free(&t, 1000, &lo), VFR_LEASE_OK);
    assert_int_equal(lo, 20000);
    assert_int_equal(vfr_lease_find_free(&t, 2000, &lo), VFR_LEASE_OK);
    assert_int_equal(lo, 22000); /* 21000..21999 is domain 2's (TCP) */
    assert_int_equal(vfr_lease_find_free(&t, 50000, &lo), VFR_LEASE_INVALID);
    /* A full table. */
    static struct vfr_lease many[VFR_LEASES_MAX + 1];
    for (uint32_t i = 0; i <= VFR_LEASES_MAX; i++)
        many[i] = L(VFR_PROTO_TCP, (uint16_t)(30000 + 2 * i), (uint16_t)(30000 + 2 * i));
    assert_int_equal(vfr_lease_set(&t, 4, many, VFR_LEASES_MAX + 1, NULL), VFR_LEASE_FULL);
    assert_int_equal(vfr_lease_owner(&t, VFR_PROTO_TCP, 30000), VFR_DOM_NONE);
}

/* Random lease sets against a brute-force map of every port. */
static void test_leases_random_model(void **state)
{
    (void)state;
    static struct vfr_leases t;
    static uint16_t model[2][65536];
    vfr_lease_init(&t);
    for (int p = 0; p < 2; p++)
        for (int i = 0; i < 65536; i++)
            model[p][i] = VFR_DOM_NONE;
    uint64_t x = 42;
    for (int round = 0; round < 3000; round++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint16_t dom = (uint16_t)(x % 8);
        uint32_t n = (uint32_t)((x >> 8) % 4);
        struct vfr_lease r[4];
        for (uint32_t i = 0; i < n; i++) {
            uint64_t y = x * (i + 3) + (x >> 21);
            uint16_t lo = (uint16_t)(1 + (y >> 5) % 2000);
            r[i] = L((y & 1) ? VFR_PROTO_TCP : VFR_PROTO_UDP, lo, (uint16_t)(lo + (y >> 17) % 40));
        }
        /* The model's answer. */
        bool conflict = false;
        for (uint32_t i = 0; i < n; i++)
            for (uint32_t port = r[i].lo; port <= r[i].hi; port++) {
                uint16_t o = model[r[i].proto == VFR_PROTO_TCP][port];
                if (o != VFR_DOM_NONE && o != dom)
                    conflict = true;
            }
        enum vfr_lease_status st = vfr_lease_set(&t, dom, r, n, NULL);
        if (st == VFR_LEASE_FULL)
            continue;
        assert_int_equal(st, conflict ? VFR_LEASE_CONFLICT : VFR_LEASE_OK);
        if (!conflict) {
            for (int p = 0; p < 2; p++)
                for (int i = 0; i < 2100; i++)
                    if (model[p][i] == dom)
                        model[p][i] = VFR_DOM_NONE;
            for (uint32_t i = 0; i < n; i++)
                for (uint32_t port = r[i].lo; port <= r[i].hi; port++)
                    model[r[i].proto == VFR_PROTO_TCP][port] = dom;
        }
        for (int i = 0; i < 2100; i += 7) {
            assert_int_equal(vfr_lease_owner(&t, VFR_PROTO_TCP, (uint16_t)i), model[1][i]);
            assert_int_equal(vfr_lease_owner(&t, VFR_PROTO_UDP, (uint16_t)i), model[0][i]);
        }
    }
}

/* ---- Rules --------------------------------------------------------------------------- */

static void test_rules(void **state)
{
    (void)state;
    static struct vfr_rules set;
    set.count = 0;
    struct vfr_rule r[4] = {
        {VFR_DENY, VFR_IN, VFR_PROTO_TCP, 22, 22, 0, 0},
        {VFR_ALLOW, VFR_IN, VFR_PROTO_TCP, 8080, 8080, IP4(198, 51, 100, 0), 24},
        {VFR_DENY, VFR_IN, VFR_PROTO_TCP, 8080, 8080, 0, 0},
        {VFR_DENY, VFR_OUT, VFR_PROTO_ANY, 0, 0, IP4(203, 0, 113, 0), 24},
    };
    assert_int_equal(vfr_rules_replace(&set, r, 4), VFR_RULE_NONE);
    assert_int_equal(vfr_rules_match(&set, VFR_IN, VFR_PROTO_TCP, 22, PEER, 60), 0);
    assert_int_equal(vfr_rules_match(&set, VFR_IN, VFR_PROTO_TCP, 8080, PEER, 60), 1);
    assert_int_equal(vfr_rules_match(&set, VFR_IN, VFR_PROTO_TCP, 8080, IP4(192, 0, 2, 1), 60), 2);
    assert_int_equal(vfr_rules_match(&set, VFR_IN, VFR_PROTO_UDP, 8080, PEER, 60), VFR_RULE_NONE);
    assert_int_equal(vfr_rules_match(&set, VFR_OUT, VFR_PROTO_UDP, 5, IP4(203, 0, 113, 9), 60), 3);
    assert_int_equal(vfr_rules_match(&set, VFR_OUT, VFR_PROTO_TCP, 22, PEER, 60), VFR_RULE_NONE);
    assert_int_equal(set.c[1].packets, 1);
    assert_int_equal(set.c[1].bytes, 60);
    /* An invalid rule anywhere: the old set stays, with its counters. */
    struct vfr_rule bad[5][1] = {
        {{3, VFR_IN, 0, 0, 0, 0, 0}},
        {{VFR_DENY, 0, 0, 0, 0, 0, 0}},
        {{VFR_DENY, VFR_IN, 47, 0, 0, 0, 0}},
        {{VFR_DENY, VFR_IN, 0, 10, 5, 0, 0}},
        {{VFR_DENY, VFR_IN, 0, 0, 0, IP4(192, 0, 2, 1), 24}},
    };
    for (int i = 0; i < 5; i++) {
        struct vfr_rule two[2] = {r[0], bad[i][0]};
        assert_int_equal(vfr_rules_replace(&set, two, 2), 1);
    }
    assert_int_equal(set.count, 4);
    assert_int_equal(set.c[1].packets, 1);
    static struct vfr_rule many[VFR_RULES_MAX + 1];
    assert_int_equal(vfr_rules_replace(&set, many, VFR_RULES_MAX + 1), (int32_t)VFR_RULES_MAX);
    assert_int_equal(vfr_rules_replace(&set, NULL, 0), VFR_RULE_NONE);
    assert_int_equal(vfr_rules_match(&set, VFR_IN, VFR_PROTO_TCP, 22, PEER, 60), VFR_RULE_NONE);
}

/* ---- The router ---------------------------------------------------------------------- */

static struct vfr v;
static uint8_t reply[VFR_ETH_MAX];
static struct vfr_verdict vd;

/* Domain 1 leases TCP 8080 and TCP/UDP 20000-20999; domain 2 TCP/UDP
 * 21000-21999. */
static int setup_vfr(void **state)
{
    (void)state;
    vfr_init(&v, EXT, NB_MAC);
    assert_true(vfr_dom_add(&v, 1));
    assert_true(vfr_dom_add(&v, 2));
    assert_false(vfr_dom_add(&v, 2));
    struct vfr_lease l1[3] = {L(VFR_PROTO_TCP, 8080, 8080), L(VFR_PROTO_TCP, 20000, 20999),
                              L(VFR_PROTO_UDP, 20000, 20999)};
    struct vfr_lease l2[2] = {L(VFR_PROTO_TCP, 21000, 21999), L(VFR_PROTO_UDP, 21000, 21999)};
    assert_int_equal(vfr_lease_set(&v.leases, 1, l1, 3, NULL), VFR_LEASE_OK);
    assert_int_equal(vfr_lease_set(&v.leases, 2, l2, 2, NULL), VFR_LEASE_OK);
    return 0;
}

static void wire(const uint8_t *f, size_t n)
{
    vfr_from_wire(&v, f, n, 1000, reply, &vd);
}

static void from_dom(uint16_t dom, const uint8_t *f, size_t n)
{
    vfr_from_domain(&v, dom, f, n, 1000, reply, &vd);
}

static void test_vfr_arp_and_ping_answered(void **state)
{
    (void)state;
    uint8_t f[200], l4[100];
    size_t n = arp_frame(f, 1, PEER_MAC, PEER, EXT, BCAST);
    wire(f, n);
    assert_int_equal(vd.to, VFR_TO_REPLY);
    assert_int_equal(vd.reply_len, 60);
    assert_memory_equal(reply, PEER_MAC, 6);
    assert_memory_equal(reply + 6, NB_MAC, 6);
    assert_int_equal(vfr_get16(reply + 14 + 6), 2);
    assert_memory_equal(reply + 14 + 8, NB_MAC, 6);
    assert_int_equal(vfr_get32(reply + 14 + 14), EXT);
    assert_int_equal(vfr_get32(reply + 14 + 24), PEER);
    /* For another address: dropped. A reply to us: to every domain. */
    n = arp_frame(f, 1, PEER_MAC, PEER, IP4(192, 0, 2, 99), BCAST);
    wire(f, n);
    assert_int_equal(vd.drop, VFR_DROP_ARP);
    n = arp_frame(f, 2, PEER_MAC, PEER, EXT, NB_MAC);
    wire(f, n);
    assert_int_equal(vd.to, VFR_TO_ALL_DOMAINS);
    /* A ping of the external address: netback answers. */
    n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_ICMP, 9, 0, l4,
                 icmp_echo(l4, 8, 4242, 56));
    wire(f, n);
    assert_int_equal(vd.to, VFR_TO_REPLY);
    assert_int_equal(vd.reply_len, n);
    struct vfr_pkt p;
    assert_int_equal(vfr_pkt_parse(reply, vd.reply_len, &p), VFR_PKT_OK);
    assert_int_equal(p.src, EXT);
    assert_int_equal(p.dst, PEER);
    assert_int_equal(p.icmp_type, 0);
    assert_int_equal(p.sport, 4242);
    assert_int_equal(vfr_csum(reply + 34, vd.reply_len - 34), 0);
    assert_memory_equal(reply + 34 + 8, f + 34 + 8, 56);
    /* A domain asking for the external address (its own RSIP peers) gets
     * netback's answer; for a peer, the request goes out. */
    n = arp_frame(f, 1, NB_MAC, EXT, EXT, BCAST);
    from_dom(1, f, n);
    assert_int_equal(vd.to, VFR_TO_REPLY);
    n = arp_frame(f, 1, NB_MAC, EXT, PEER, BCAST);
    from_dom(1, f, n);
    assert_int_equal(vd.to, VFR_TO_WIRE);
    n = arp_frame(f, 1, NB_MAC, IP4(192, 0, 2, 66), PEER, BCAST);
    from_dom(1, f, n);
    assert_int_equal(vd.drop, VFR_DROP_SPOOF_ADDR);
    n = arp_frame(f, 2, NB_MAC, EXT, PEER, PEER_MAC);
    from_dom(1, f, n);
    assert_int_equal(vd.drop, VFR_DROP_ARP);
}

static void test_vfr_inbound_demux(void **state)
{
    (void)state;
    uint8_t f[200], l4[100];
    size_t n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_TCP, 1, 0, l4,
                        tcp_seg(l4, 40000, 8080, 0x02));
    wire(f, n);
    assert_int_equal(vd.to, VFR_TO_DOMAIN);
    assert_int_equal(vd.dom, 1);
    n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_UDP, 1, 0, l4,
                 udp_dgram(l4, 53, 21500, 4));
    wire(f, n);
    assert_int_equal(vd.to, VFR_TO_DOMAIN);
    assert_int_equal(vd.dom, 2);
    /* TCP 8080 is leased, UDP 8080 not; port 22 nobody's: inbound default deny. */
    n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_UDP, 1, 0, l4,
                 udp_dgram(l4, 1, 8080, 0));
    wire(f, n);
    assert_int_equal(vd.drop, VFR_DROP_NO_LEASE);
    n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_TCP, 1, 0, l4, tcp_seg(l4, 1, 22, 2));
    wire(f, n);
    assert_int_equal(vd.drop, VFR_DROP_NO_LEASE);
    /* Not to the external address. */
    n = ip_frame(f, NB_MAC, PEER_MAC, PEER, IP4(192, 0, 2, 11), VFR_PROTO_TCP, 1, 0, l4,
                 tcp_seg(l4, 1, 8080, 2));
    wire(f, n);
    assert_int_equal(vd.drop, VFR_DROP_NOT_OURS);
    /* Echo replies to the holder of the identifier; ICMP errors to the
     * holder of the quoted source port, only about our own datagrams. */
    n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_ICMP, 1, 0, l4,
                 icmp_echo(l4, 0, 21001, 8));
    wire(f, n);
    assert_int_equal(vd.dom, 2);
    n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_ICMP, 1, 0, l4,
                 icmp_error(l4, 3, 3, EXT, PEER, VFR_PROTO_UDP, 20005, 53));
    wire(f, n);
    assert_int_equal(vd.to, VFR_TO_DOMAIN);
    assert_int_equal(vd.dom, 1);
    n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_ICMP, 1, 0, l4,
                 icmp_error(l4, 3, 4, EXT, PEER, VFR_PROTO_TCP, 21999, 80));
    wire(f, n);
    assert_int_equal(vd.dom, 2);
    n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_ICMP, 1, 0, l4,
                 icmp_error(l4, 3, 3, PEER, EXT, VFR_PROTO_UDP, 53, 20005));
    wire(f, n);
    assert_int_equal(vd.drop, VFR_DROP_NOT_OURS);
    /* Another protocol. */
    n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, 47, 1, 0, l4, 20);
    wire(f, n);
    assert_int_equal(vd.drop, VFR_DROP_PROTO);
    /* Garbage. */
    wire(f, 10);
    assert_int_equal(vd.drop, VFR_DROP_PARSE);
    assert_int_equal(vd.parse, VFR_PKT_SHORT);
    assert_int_equal(v.doms[0].c.rx_packets, 2);
    assert_int_equal(v.doms[1].c.rx_packets, 3);
}

static void test_vfr_fragments(void **state)
{
    (void)state;
    uint8_t f[1600], l4[1500];
    /* The first fragment decides; the later ones follow it. */
    size_t n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_UDP, 77, 0x2000, l4,
                        udp_dgram(l4, 53, 21010, 1472));
    wire(f, n);
    assert_int_equal(vd.dom, 2);
    n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_UDP, 77, 185, l4, 300);
    wire(f, n);
    assert_int_equal(vd.to, VFR_TO_DOMAIN);
    assert_int_equal(vd.dom, 2);
    /* A later fragment of a datagram whose first never came. */
    n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_UDP, 78, 185, l4, 300);
    wire(f, n);
    assert_int_equal(vd.drop, VFR_DROP_FRAGMENT);
    /* After 30 s the entry is gone. */
    n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_UDP, 77, 185, l4, 300);
    vfr_from_wire(&v, f, n, 1000 + VFR_FRAG_LIFETIME_NS, reply, &vd);
    assert_int_equal(vd.drop, VFR_DROP_FRAGMENT);
    /* Outbound: a domain's later fragments only after its own first. */
    n = ip_frame(f, PEER_MAC, NB_MAC, EXT, PEER, VFR_PROTO_UDP, 500, 0x2000, l4,
                 udp_dgram(l4, 20001, 53, 1472));
    from_dom(1, f, n);
    assert_int_equal(vd.to, VFR_TO_WIRE);
    n = ip_frame(f, PEER_MAC, NB_MAC, EXT, PEER, VFR_PROTO_UDP, 500, 185, l4, 100);
    from_dom(1, f, n);
    assert_int_equal(vd.to, VFR_TO_WIRE);
    from_dom(2, f, n);
    assert_int_equal(vd.drop, VFR_DROP_SPOOF_PORT);
    n = ip_frame(f, PEER_MAC, NB_MAC, EXT, PEER, VFR_PROTO_UDP, 501, 185, l4, 100);
    from_dom(2, f, n);
    assert_int_equal(vd.drop, VFR_DROP_FRAGMENT);
    /* Domain to domain, fragmented: the later fragment reaches domain 2. */
    n = ip_frame(f, NB_MAC, NB_MAC, EXT, EXT, VFR_PROTO_UDP, 600, 0x2000, l4,
                 udp_dgram(l4, 20001, 21001, 1472));
    from_dom(1, f, n);
    assert_int_equal(vd.to, VFR_TO_DOMAIN);
    assert_int_equal(vd.dom, 2);
    n = ip_frame(f, NB_MAC, NB_MAC, EXT, EXT, VFR_PROTO_UDP, 600, 185, l4, 100);
    from_dom(1, f, n);
    assert_int_equal(vd.to, VFR_TO_DOMAIN);
    assert_int_equal(vd.dom, 2);
    /* A flood of first fragments keeps the table bounded (oldest replaced). */
    for (int i = 0; i < 1000; i++) {
        n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_UDP, (uint16_t)(1000 + i), 0x2000,
                     l4, udp_dgram(l4, 53, 21010, 1472));
        vfr_from_wire(&v, f, n, 2000 + (uint64_t)i, reply, &vd);
    }
    uint32_t used = 0;
    for (uint32_t i = 0; i < VFR_FRAGS_MAX; i++)
        used += v.frags[i].used;
    assert_int_equal(used, VFR_FRAGS_MAX);
}

static void test_vfr_spoofing_and_rules(void **state)
{
    (void)state;
    uint8_t f[200], l4[100];
    /* Good: from its own port to a peer. */
    size_t n = ip_frame(f, PEER_MAC, NB_MAC, EXT, PEER, VFR_PROTO_TCP, 1, 0, l4,
                        tcp_seg(l4, 20001, 80, 2));
    from_dom(1, f, n);
    assert_int_equal(vd.to, VFR_TO_WIRE);
    /* Another domain's port, an unleased port, another address, another MAC. */
    from_dom(2, f, n);
    assert_int_equal(vd.drop, VFR_DROP_SPOOF_PORT);
    n = ip_frame(f, PEER_MAC, NB_MAC, EXT, PEER, VFR_PROTO_TCP, 1, 0, l4, tcp_seg(l4, 22, 80, 2));
    from_dom(1, f, n);
    assert_int_equal(vd.drop, VFR_DROP_SPOOF_PORT);
    n = ip_frame(f, PEER_MAC, NB_MAC, IP4(192, 0, 2, 11), PEER, VFR_PROTO_TCP, 1, 0, l4,
                 tcp_seg(l4, 20001, 80, 2));
    from_dom(1, f, n);
    assert_int_equal(vd.drop, VFR_DROP_SPOOF_ADDR);
    n = ip_frame(f, PEER_MAC, PEER_MAC, EXT, PEER, VFR_PROTO_TCP, 1, 0, l4,
                 tcp_seg(l4, 20001, 80, 2));
    from_dom(1, f, n);
    assert_int_equal(vd.drop, VFR_DROP_SPOOF_MAC);
    /* ICMP: echo with its own identifier; an error about a datagram it
     * received (to its port) — and not about another domain's. */
    n = ip_frame(f, PEER_MAC, NB_MAC, EXT, PEER, VFR_PROTO_ICMP, 1, 0, l4,
                 icmp_echo(l4, 8, 20500, 8));
    from_dom(1, f, n);
    assert_int_equal(vd.to, VFR_TO_WIRE);
    from_dom(2, f, n);
    assert_int_equal(vd.drop, VFR_DROP_SPOOF_PORT);
    n = ip_frame(f, PEER_MAC, NB_MAC, EXT, PEER, VFR_PROTO_ICMP, 1, 0, l4,
                 icmp_error(l4, 3, 3, PEER, EXT, VFR_PROTO_UDP, 53, 20500));
    from_dom(1, f, n);
    assert_int_equal(vd.to, VFR_TO_WIRE);
    from_dom(2, f, n);
    assert_int_equal(vd.drop, VFR_DROP_SPOOF_PORT);
    assert_int_equal(v.doms[1].c.drops[VFR_DROP_SPOOF_PORT], 3);
    /* Rules: domain 1 denies outbound to 203.0.113.0/24 and inbound 8080
     * from anyone but 198.51.100.0/24. */
    struct vfr_rule r[3] = {
        {VFR_DENY, VFR_OUT, VFR_PROTO_ANY, 0, 0, IP4(203, 0, 113, 0), 24},
        {VFR_ALLOW, VFR_IN, VFR_PROTO_TCP, 8080, 8080, IP4(198, 51, 100, 0), 24},
        {VFR_DENY, VFR_IN, VFR_PROTO_TCP, 8080, 8080, 0, 0},
    };
    assert_int_equal(vfr_rules_replace(&vfr_dom_get(&v, 1)->rules, r, 3), VFR_RULE_NONE);
    n = ip_frame(f, PEER_MAC, NB_MAC, EXT, IP4(203, 0, 113, 5), VFR_PROTO_TCP, 1, 0, l4,
                 tcp_seg(l4, 20001, 80, 2));
    from_dom(1, f, n);
    assert_int_equal(vd.drop, VFR_DROP_DENIED);
    assert_int_equal(vd.rule, 0);
    n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_TCP, 1, 0, l4, tcp_seg(l4, 5, 8080, 2));
    wire(f, n);
    assert_int_equal(vd.to, VFR_TO_DOMAIN);
    assert_int_equal(vd.rule, 1);
    n = ip_frame(f, NB_MAC, PEER_MAC, IP4(192, 0, 2, 200), EXT, VFR_PROTO_TCP, 1, 0, l4,
                 tcp_seg(l4, 5, 8080, 2));
    wire(f, n);
    assert_int_equal(vd.drop, VFR_DROP_DENIED);
    assert_int_equal(vd.rule, 2);
    assert_int_equal(vfr_dom_get(&v, 1)->rules.c[2].packets, 1);
    /* Domain to domain: domain 2 to domain 1's 8080 meets domain 1's
     * inbound rules (the external address is not in 198.51.100.0/24). */
    n = ip_frame(f, NB_MAC, NB_MAC, EXT, EXT, VFR_PROTO_TCP, 1, 0, l4, tcp_seg(l4, 21000, 8080, 2));
    from_dom(2, f, n);
    assert_int_equal(vd.drop, VFR_DROP_DENIED);
    n = ip_frame(f, NB_MAC, NB_MAC, EXT, EXT, VFR_PROTO_TCP, 1, 0, l4,
                 tcp_seg(l4, 21000, 20000, 2));
    from_dom(2, f, n);
    assert_int_equal(vd.to, VFR_TO_DOMAIN);
    assert_int_equal(vd.dom, 1);
    /* A domain that left: its leases went with it. */
    assert_true(vfr_dom_remove(&v, 1));
    assert_false(vfr_dom_remove(&v, 1));
    n = ip_frame(f, NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_TCP, 1, 0, l4, tcp_seg(l4, 5, 8080, 2));
    wire(f, n);
    assert_int_equal(vd.drop, VFR_DROP_NO_LEASE);
    from_dom(1, f, n);
    assert_int_equal(vd.drop, VFR_DROP_NO_LEASE);
}

/* Random frames both ways: whatever goes to a domain or out is consistent
 * with the leases. */
static void test_vfr_random_frames(void **state)
{
    (void)state;
    uint8_t seeds[4][200], l4[100], f[1600];
    size_t sl[4];
    sl[0] = ip_frame(seeds[0], NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_TCP, 1, 0, l4,
                     tcp_seg(l4, 40000, 8080, 2));
    sl[1] = ip_frame(seeds[1], PEER_MAC, NB_MAC, EXT, PEER, VFR_PROTO_UDP, 1, 0, l4,
                     udp_dgram(l4, 21000, 53, 10));
    sl[2] = ip_frame(seeds[2], NB_MAC, PEER_MAC, PEER, EXT, VFR_PROTO_ICMP, 1, 0, l4,
                     icmp_error(l4, 3, 3, EXT, PEER, VFR_PROTO_UDP, 20001, 53));
    sl[3] = arp_frame(seeds[3], 1, PEER_MAC, PEER, EXT, BCAST);
    uint64_t x = 7;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int k = (int)(x % 4);
        size_t n = sl[k];
        memcpy(f, seeds[k], n);
        for (int j = 0; j < 3; j++) {
            uint64_t y = x * (uint64_t)(j + 11);
            f[(y >> 8) % n] ^= (uint8_t)(y >> 40);
        }
        if ((x >> 50) % 4 == 0) { /* keep the IP header checksum right */
            vfr_put16(f + 24, 0);
            vfr_put16(f + 24, vfr_csum(f + 14, 20));
        }
        if ((x >> 55) % 8 == 0)
            n = (x >> 20) % n;
        bool in = (x >> 60) & 1;
        uint16_t dom = (uint16_t)(1 + ((x >> 61) & 1));
        if (in)
            vfr_from_wire(&v, f, n, (uint64_t)i, reply, &vd);
        else
            vfr_from_domain(&v, dom, f, n, (uint64_t)i, reply, &vd);
        const struct vfr_pkt *p = &vd.pkt;
        if (vd.to == VFR_TO_DOMAIN && p->frag_offset == 0 &&
            (p->proto == VFR_PROTO_TCP || p->proto == VFR_PROTO_UDP))
            assert_int_equal(vfr_lease_owner(&v.leases, p->proto, p->dport), vd.dom);
        if (vd.to == VFR_TO_WIRE && !in && p->kind == VFR_KIND_IPV4) {
            assert_int_equal(p->src, EXT);
            if (p->frag_offset == 0 && (p->proto == VFR_PROTO_TCP || p->proto == VFR_PROTO_UDP))
                assert_true(vfr_lease_held(&v.leases, dom, p->proto, p->sport));
        }
        if (vd.to == VFR_TO_REPLY)
            assert_true(vd.reply_len >= 42 && vd.reply_len <= VFR_ETH_MAX);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checksum_known_answers),
        cmocka_unit_test(test_parse_good_frames),
        cmocka_unit_test(test_parse_bad_frames),
        cmocka_unit_test(test_leases),
        cmocka_unit_test(test_leases_random_model),
        cmocka_unit_test(test_rules),
        cmocka_unit_test_setup(test_vfr_arp_and_ping_answered, setup_vfr),
        cmocka_unit_test_setup(test_vfr_inbound_demux, setup_vfr),
        cmocka_unit_test_setup(test_vfr_fragments, setup_vfr),
        cmocka_unit_test_setup(test_vfr_spoofing_and_rules, setup_vfr),
        cmocka_unit_test_setup(test_vfr_random_frames, setup_vfr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
