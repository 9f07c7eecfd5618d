/*
 * Host tests of netback's router (domains/netback/router.c) with real
 * guest-kit TCP/IP stacks (guest-kit/src/net) as the domains and as the
 * outside peer, in virtual time: RSIP end to end. The outside peer P is
 * 192.0.2.1; the external address 192.0.2.10 is shared by G1 (domain 1:
 * TCP 8080, TCP/UDP 20000-20999) and G2 (domain 2: TCP/UDP 21000-21999),
 * both configured with the external address and netback's MAC, in RSIP
 * mode, with their ephemeral ports inside their leases.
 *
 * Checked: P reaches each guest on its own ports only (1 MiB each way,
 * checksummed, both at once) and the other guest sees none of it; each
 * guest connects out from its own ports; guest to guest over the external
 * address; an unleased port is silently dropped; a rule denies P and is
 * logged; a guest that spoofs the other's port is dropped and logged; the
 * transmit limit of a domain holds within 10% over 10 s; flow records
 * carry the bytes both ways; leases granted and released are logged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gk/ipstack.h"
#include "nbcfg.h"
#include "router.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define EXT GK_IP4(192, 0, 2, 10)
#define PEER GK_IP4(192, 0, 2, 1)
#define DELAY (100 * 1000ull)
#define ENDS 3
#define QMAX 4096

static const uint8_t NB_MAC[6] = {2, 0, 0, 0, 0, 0x10};
static const uint8_t P_MAC[6] = {2, 0, 0, 0, 0, 0x01};

struct frame {
    uint64_t at;
    uint32_t len;
    uint8_t d[1514];
};

struct queue {
    struct frame *f;
    uint32_t head, n;
};

static uint64_t now;
static struct nb_router rt;
static struct gk_ip *ip[ENDS]; /* 0: P, 1: G1, 2: G2 */
static struct queue to_end[ENDS], to_router[ENDS];
static uint64_t lost;

static void q_push(struct queue *q, const uint8_t *d, size_t len)
{
    if (q->n == QMAX || len > 1514) {
        lost++;
        return;
    }
    struct frame *f = &q->f[(q->head + q->n) % QMAX];
    f->at = now + DELAY;
    f->len = (uint32_t)len;
    memcpy(f->d, d, len);
    q->n++;
}

static struct frame *q_due(struct queue *q)
{
    if (q->n == 0 || q->f[q->head].at > now)
        return NULL;
    return &q->f[q->head];
}

static void q_pop(struct queue *q)
{
    q->head = (q->head + 1) % QMAX;
    q->n--;
}

static int drv_send(void *ctx, const void *frame, size_t len)
{
    int e = (int)(intptr_t)ctx;
    q_push(&to_router[e], frame, len);
    return 0;
}

static int drv_recv(void *ctx, void *buf, size_t cap, size_t *len)
{
    int e = (int)(intptr_t)ctx;
    struct frame *f = q_due(&to_end[e]);
    if (f == NULL || f->len > cap)
        return -1;
    memcpy(buf, f->d, f->len);
    *len = f->len;
    q_pop(&to_end[e]);
    return 0;
}

static uint64_t drv_now(void *ctx)
{
    (void)ctx;
    return now;
}

static void out_wire(void *ctx, const uint8_t *f, size_t len)
{
    (void)ctx;
    q_push(&to_end[0], f, len);
}

static void out_domain(void *ctx, uint16_t dom, const uint8_t *f, size_t len)
{
    (void)ctx;
    if (dom >= 1 && dom < ENDS)
        q_push(&to_end[dom], f, len);
}

static uint64_t router_wake;

/* One step: every stack polled, the router takes what is due, the
 * scheduler sends; the clock moves to the next event (at most 10 ms). */
static void step(void)
{
    uint64_t next = now + 10 * MS;
    for (int e = 0; e < ENDS; e++) {
        uint64_t t = gk_ip_poll(ip[e]);
        if (t < next)
            next = t;
    }
    for (int e = 0; e < ENDS; e++) {
        struct frame *f;
        while ((f = q_due(&to_router[e])) != NULL) {
            if (e == 0)
                nb_router_from_wire(&rt, f->d, f->len, now);
            else
                nb_router_from_domain(&rt, (uint16_t)e, f->d, f->len, now);
            q_pop(&to_router[e]);
        }
    }
    router_wake = nb_router_poll(&rt, now, 256);
    if (router_wake < next)
        next = router_wake;
    for (int e = 0; e < ENDS; e++) {
        if (to_end[e].n && to_end[e].f[to_end[e].head].at < next)
            next = to_end[e].f[to_end[e].head].at;
        if (to_router[e].n && to_router[e].f[to_router[e].head].at < next)
            next = to_router[e].f[to_router[e].head].at;
    }
    now = next > now ? next : now + 1000;
}

#define RUN_UNTIL(cond, limit)                                                                     \
    do {                                                                                           \
        uint64_t end_ = now + (limit);                                                             \
        while (!(cond) && now < end_)                                                              \
            step();                                                                                \
    } while (0)

static void advance(uint64_t span)
{
    uint64_t end = now + span;
    while (now < end)
        step();
}

static struct gk_ip *stack(int e, uint32_t addr, const uint8_t *mac, bool rsip, uint16_t lo,
                           uint16_t hi)
{
    struct gk_ip_config c;
    gk_ip_config_default(&c);
    memcpy(c.mac, mac, 6);
    c.addr = addr;
    c.netmask = GK_IP4(255, 255, 255, 0);
    c.rsip = rsip;
    c.port_lo = lo;
    c.port_hi = hi;
    c.seed = 77 + (uint64_t)e;
    struct gk_ip_driver d = {(void *)(intptr_t)e, drv_send, drv_recv, NULL, drv_now};
    struct gk_ip *s = gk_ip_create(&c, &d);
    assert_non_null(s);
    return s;
}

static struct vfr_lease L(uint8_t proto, uint16_t lo, uint16_t hi) {
    struct vfr_lease l = {0, proto, lo, hi};
    return l;
}

static int
setup(void **state)
{
    (void)state;
    now = SEC;
    lost = 0;
    for (int e = 0; e < ENDS; e++) {
        to_end[e].f = calloc(QMAX, sizeof(struct frame));
        to_router[e].f = calloc(QMAX, sizeof(struct frame));
        to_end[e].head = to_end[e].n = to_router[e].head = to_router[e].n = 0;
    }
    struct nb_out out = {NULL, out_wire, out_domain};
    nb_router_init(&rt, EXT, NB_MAC, &out, 0, 0, now);
    struct nsched_class c = {0};
    c.weight = 1;
    assert_true(nb_router_add_domain(&rt, 1, &c, &c, now));
    assert_true(nb_router_add_domain(&rt, 2, &c, &c, now));
    struct vfr_lease l1[3] = {L(VFR_PROTO_TCP, 8080, 8080), L(VFR_PROTO_TCP, 20000, 20999),
                              L(VFR_PROTO_UDP, 20000, 20999)};
    struct vfr_lease l2[2] = {L(VFR_PROTO_TCP, 21000, 21999), L(VFR_PROTO_UDP, 21000, 21999)};
    assert_int_equal(nb_router_set_leases(&rt, 1, l1, 3, NULL, now), VFR_LEASE_OK);
    assert_int_equal(nb_router_set_leases(&rt, 2, l2, 2, NULL, now), VFR_LEASE_OK);
    ip[0] = stack(0, PEER, P_MAC, false, 40000, 40999);
    ip[1] = stack(1, EXT, NB_MAC, true, 20000, 20999);
    ip[2] = stack(2, EXT, NB_MAC, true, 21000, 21999);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int e = 0; e < ENDS; e++) {
        gk_ip_destroy(ip[e]);
        free(to_end[e].f);
        free(to_router[e].f);
    }
    nb_router_remove_domain(&rt, 1, now);
    nb_router_remove_domain(&rt, 2, now);
    return 0;
}

static int nb_sock(int e, enum gk_sock_type t)
{
    int s = gk_sock_open(ip[e], t);
    assert_true(s >= 0);
    gk_sock_set(ip[e], s, GK_SOCK_NONBLOCK, 1);
    return s;
}

static int listen_on(int e, uint16_t port)
{
    int s = nb_sock(e, GK_SOCK_STREAM);
    assert_int_equal(gk_sock_bind(ip[e], s, port), 0);
    assert_int_equal(gk_sock_listen(ip[e], s, 4), 0);
    return s;
}

/* Connects end `from` to addr:port and accepts on listener l of end `to`. */
static bool connect_accept(int from, uint32_t addr, uint16_t port, int to, int l, int *cs, int *ss)
{
    *cs = nb_sock(from, GK_SOCK_STREAM);
    struct gk_sockaddr a = {addr, port};
    assert_int_equal(gk_sock_connect(ip[from], *cs, &a), GK_IP_EINPROGRESS);
    *ss = GK_IP_EAGAIN;
    RUN_UNTIL((*ss = gk_sock_accept(ip[to], l, NULL)) >= 0, 5 * SEC);
    if (*ss < 0)
        return false;
    gk_sock_set(ip[to], *ss, GK_SOCK_NONBLOCK, 1);
    struct gk_pollfd p = {*cs, GK_POLLOUT, 0};
    RUN_UNTIL(gk_sock_poll(ip[from], &p, 1, now) == 1, SEC);
    return gk_sock_error(ip[from], *cs) == 0;
}

struct xfer {
    int se, re, s, r;
    const uint8_t *src;
    size_t len, sent, got;
    uint64_t hash;
};

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void pump(struct xfer *x)
{
    while (x->sent < x->len) {
        long n = gk_sock_send(ip[x->se], x->s, x->src + x->sent,
                              x->len - x->sent < 8000 ? x->len - x->sent : 8000);
        if (n <= 0)
            break;
        x->sent += (size_t)n;
    }
    uint8_t buf[4096];
    long n;
    while ((n = gk_sock_recv(ip[x->re], x->r, buf, sizeof buf)) > 0) {
        x->hash = fnv(x->hash, buf, (size_t)n);
        x->got += (size_t)n;
    }
}

static uint8_t *pattern(size_t n, uint8_t seed)
{
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 31 + seed + (i >> 9));
    return p;
}

static void test_rsip_two_guests_share_the_address(void **state)
{
    (void)state;
    int l1 = listen_on(1, 8080), l2 = listen_on(2, 21080);
    int c1, s1, c2, s2;
    assert_true(connect_accept(0, EXT, 8080, 1, l1, &c1, &s1));
    assert_true(connect_accept(0, EXT, 21080, 2, l2, &c2, &s2));
    const size_t n = 1 << 20;
    uint8_t *a = pattern(n, 1), *b = pattern(n, 2);
    struct xfer x[4] = {
        {0, 1, c1, s1, a, n, 0, 0, 0xcbf29ce484222325ull},
        {1, 0, s1, c1, b, n, 0, 0, 0xcbf29ce484222325ull},
        {0, 2, c2, s2, b, n, 0, 0, 0xcbf29ce484222325ull},
        {2, 0, s2, c2, a, n, 0, 0, 0xcbf29ce484222325ull},
    };
    RUN_UNTIL((pump(&x[0]), pump(&x[1]), pump(&x[2]), pump(&x[3]),
               x[0].got == n && x[1].got == n && x[2].got == n && x[3].got == n),
              120 * SEC);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(x[i].got, n);
        assert_int_equal(x[i].hash, fnv(0xcbf29ce484222325ull, x[i].src, n));
    }
    /* Each guest saw only its own connection: every TCP segment G1 took
     * was for 8080, G2's for 21080 (neither answered a stray with a RST). */
    struct gk_ip_stats st1, st2;
    gk_ip_get_stats(ip[1], &st1);
    gk_ip_get_stats(ip[2], &st2);
    assert_int_equal(st1.tcp_rst_out, 0);
    assert_int_equal(st2.tcp_rst_out, 0);
    assert_int_equal(st1.rx_not_ours + st2.rx_not_ours, 0);
    /* Each guest connects out from its own lease, through netback. */
    int lp = listen_on(0, 80);
    int oc, os;
    assert_true(connect_accept(1, PEER, 80, 0, lp, &oc, &os));
    struct gk_sockaddr peer;
    assert_int_equal(gk_sock_name(ip[0], os, NULL, &peer), 0);
    assert_int_equal(peer.addr, EXT);
    assert_true(peer.port >= 20000 && peer.port <= 20999);
    assert_true(connect_accept(2, PEER, 80, 0, lp, &oc, &os));
    assert_int_equal(gk_sock_name(ip[0], os, NULL, &peer), 0);
    assert_true(peer.port >= 21000 && peer.port <= 21999);
    free(a);
    free(b);
}

static void test_guest_to_guest_and_udp(void **state)
{
    (void)state;
    int l1 = listen_on(1, 8080);
    int c, s;
    assert_true(connect_accept(2, EXT, 8080, 1, l1, &c, &s));
    const size_t n = 300000;
    uint8_t *a = pattern(n, 3);
    struct xfer x = {2, 1, c, s, a, n, 0, 0, 0xcbf29ce484222325ull};
    RUN_UNTIL((pump(&x), x.got == n), 60 * SEC);
    assert_int_equal(x.got, n);
    assert_int_equal(x.hash, fnv(0xcbf29ce484222325ull, a, n));
    /* UDP from the outside to G2's port, echoed back. */
    int u2 = nb_sock(2, GK_SOCK_DGRAM);
    assert_int_equal(gk_sock_bind(ip[2], u2, 21500), 0);
    int up = nb_sock(0, GK_SOCK_DGRAM);
    struct gk_sockaddr to = {EXT, 21500}, from;
    assert_int_equal(gk_sock_sendto(ip[0], up, "ping", 4, &to), 4);
    char buf[16];
    long got = GK_IP_EAGAIN;
    RUN_UNTIL((got = gk_sock_recvfrom(ip[2], u2, buf, sizeof buf, &from)) >= 0, SEC);
    assert_int_equal(got, 4);
    assert_int_equal(gk_sock_sendto(ip[2], u2, "pong", 4, &from), 4);
    got = GK_IP_EAGAIN;
    RUN_UNTIL((got = gk_sock_recv(ip[0], up, buf, sizeof buf)) >= 0, SEC);
    assert_int_equal(got, 4);
    assert_memory_equal(buf, "pong", 4);
    free(a);
}

static bool log_has(uint8_t type, uint16_t dom, uint8_t reason, int32_t rule)
{
    struct vfr_log_rec r;
    bool found = false;
    while (vfr_log_take(&rt.log, &r))
        if (r.type == type && r.dom == dom && (reason == 0 || r.reason == reason) &&
            (rule < 0 || r.rule == rule))
            found = true;
    return found;
}

static void test_unleased_denied_and_spoofed(void **state)
{
    (void)state;
    /* An unleased port: no answer at all (no RST), dropped and counted. */
    int s = nb_sock(0, GK_SOCK_STREAM);
    struct gk_sockaddr to = {EXT, 22};
    assert_int_equal(gk_sock_connect(ip[0], s, &to), GK_IP_EINPROGRESS);
    advance(2 * SEC);
    assert_int_equal(gk_sock_error(ip[0], s), 0); /* still trying */
    assert_true(rt.vfr.drops[VFR_DROP_NO_LEASE] >= 2);
    gk_sock_close(ip[0], s);
    /* A rule of G1 denies P on 8080: the SYNs are dropped and logged. */
    /* (The rule as the control domain sends it, through netback's parser.) */
    struct vfr_rule deny[2];
    assert_int_equal(
        nb_parse_rules("deny in 6 8080-8080 192.0.2.1/32;allow both 0 0-0 0.0.0.0/0", deny, 2), 2);
    assert_int_equal(deny[0].peer, PEER);
    assert_int_equal(nb_router_set_rules(&rt, 1, deny, 2), VFR_RULE_NONE);
    listen_on(1, 8080);
    s = nb_sock(0, GK_SOCK_STREAM);
    to.port = 8080;
    assert_int_equal(gk_sock_connect(ip[0], s, &to), GK_IP_EINPROGRESS);
    advance(2 * SEC);
    struct gk_ip_stats st;
    gk_ip_get_stats(ip[1], &st);
    assert_int_equal(st.tcp_in, 0);
    assert_true(log_has(VFR_LOG_DENIED, 1, VFR_DROP_DENIED, 0));
    assert_true(vfr_dom_get(&rt.vfr, 1)->rules.c[0].packets >= 2);
    /* G2 pretends to be G1: a UDP datagram from 8080 (G1's), built by
     * hand from G2's domain. */
    uint8_t f[64];
    memset(f, 0, sizeof f);
    memcpy(f, P_MAC, 6);
    memcpy(f + 6, NB_MAC, 6);
    f[12] = 0x08;
    uint8_t *h = f + 14;
    h[0] = 0x45;
    h[3] = 20 + 8 + 4;
    h[8] = 64;
    h[9] = 17;
    h[12] = 192, h[13] = 0, h[14] = 2, h[15] = 10;
    h[16] = 192, h[17] = 0, h[18] = 2, h[19] = 1;
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)h[i] << 8 | h[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    h[10] = (uint8_t)(~sum >> 8);
    h[11] = (uint8_t)~sum;
    uint8_t *u = h + 20;
    u[0] = 8080 >> 8, u[1] = 8080 & 255, u[2] = 0, u[3] = 53, u[5] = 12;
    uint64_t wire_before = rt.to_wire;
    nb_router_from_domain(&rt, 2, f, 14 + 32, now);
    assert_int_equal(rt.to_wire, wire_before);
    assert_true(log_has(VFR_LOG_SPOOF, 2, VFR_DROP_SPOOF_PORT, -1));
}

/* End `from` sends on cs as fast as TCP lets it for 12 s of virtual time;
 * end `to` reads on ss; returns what arrived between 2 s and 12 s. */
static uint64_t greedy_12s(int from, int cs, int to, int ss)
{
    static uint8_t junk[8192];
    uint64_t start = now, counted = 0;
    while (now < start + 12 * SEC) {
        while (gk_sock_send(ip[from], cs, junk, sizeof junk) > 0)
            ;
        uint8_t buf[4096];
        long n;
        while ((n = gk_sock_recv(ip[to], ss, buf, sizeof buf)) > 0)
            if (now >= start + 2 * SEC)
                counted += (uint64_t)n;
        step();
    }
    return counted;
}

static void test_transmit_limit_holds(void **state)
{
    (void)state;
    /* G1 may send 1 MB/s (burst 16 KiB); it sends as fast as TCP lets it
     * for 12 s; P counts what arrives between 2 s and 12 s. */
    struct nsched_class c = {0};
    c.rate_bps = 1000000;
    c.burst_bytes = 16384;
    c.weight = 1;
    int32_t i = (int32_t)(vfr_dom_get(&rt.vfr, 1) - rt.vfr.doms);
    assert_true(nsched_set_class(&rt.tx, (uint32_t)i, &c, now));
    int lp = listen_on(0, 80);
    int cs, ss;
    assert_true(connect_accept(1, PEER, 80, 0, lp, &cs, &ss));
    uint64_t counted = greedy_12s(1, cs, 0, ss);
    /* 10 s at 1 MB/s of frames; TCP payload is 1460 of each 1514 bytes. */
    uint64_t want = 10ull * 1000000 * 1460 / 1514;
    assert_true(counted >= want * 90 / 100 && counted <= want * 110 / 100);
}

static void test_receive_limit_holds(void **state)
{
    (void)state;
    /* G1 may receive 500 kB/s (burst 16 KiB), from the manifest's class as
     * the control domain sends it; P sends to it as fast as TCP lets it for
     * 12 s; G1 counts what arrives between 2 s and 12 s (virtual time). */
    struct nsched_class tx = {0}, rx = {0};
    assert_true(nb_parse_classes("rx 500000 16384 0 0 0 1", &tx, &rx));
    assert_int_equal(rx.rate_bps, 500000);
    int32_t i = (int32_t)(vfr_dom_get(&rt.vfr, 1) - rt.vfr.doms);
    assert_true(nsched_set_class(&rt.rx, (uint32_t)i, &rx, now));
    int l1 = listen_on(1, 8080);
    int cs, ss;
    assert_true(connect_accept(0, EXT, 8080, 1, l1, &cs, &ss));
    uint64_t counted = greedy_12s(0, cs, 1, ss);
    /* 10 s at 500 kB/s of frames; TCP payload is 1460 of each 1514 bytes. */
    uint64_t want = 10ull * 500000 * 1460 / 1514;
    assert_true(counted >= want * 90 / 100 && counted <= want * 110 / 100);
    /* The other direction and the other domain are not limited: G2 gets
     * 1 MB in well under a second of virtual time. */
    int l2 = listen_on(2, 21000);
    int c2, s2;
    assert_true(connect_accept(0, EXT, 21000, 2, l2, &c2, &s2));
    uint8_t *a = pattern(1000000, 9);
    struct xfer x = {0, 2, c2, s2, a, 1000000, 0, 0, 0xcbf29ce484222325ull};
    uint64_t t0 = now;
    RUN_UNTIL((pump(&x), x.got == 1000000), 10 * SEC);
    assert_int_equal(x.got, 1000000);
    assert_true(now - t0 < SEC);
    free(a);
}

static void test_flow_and_lease_records(void **state)
{
    (void)state;
    /* The set-up logged the leases granted. */
    struct vfr_log_rec r;
    int granted = 0;
    while (vfr_log_take(&rt.log, &r))
        granted += r.type == VFR_LOG_LEASE_GRANTED;
    assert_int_equal(granted, 5);
    int l1 = listen_on(1, 8080);
    int c, s;
    assert_true(connect_accept(0, EXT, 8080, 1, l1, &c, &s));
    uint8_t *a = pattern(50000, 4);
    struct xfer x = {0, 1, c, s, a, 50000, 0, 0, 0xcbf29ce484222325ull};
    RUN_UNTIL((pump(&x), x.got == 50000), 10 * SEC);
    assert_int_equal(gk_sock_shutdown_write(ip[0], c), 0);
    advance(SEC);
    assert_int_equal(gk_sock_close(ip[1], s), 0);
    advance(SEC);
    bool start = false, end = false;
    while (vfr_log_take(&rt.log, &r)) {
        if (r.type == VFR_LOG_FLOW_START && r.dom == 1 && r.sport == 8080)
            start = true;
        if (r.type == VFR_LOG_FLOW_END && r.dom == 1 && r.sport == 8080) {
            end = true;
            assert_int_equal(r.dst, PEER);
            assert_true(r.bytes_in > 50000 && r.bytes_in < 60000);
            assert_true(r.pkts_out > 0);
        }
    }
    assert_true(start && end);
    /* Leaving releases the leases (logged). */
    nb_router_remove_domain(&rt, 2, now);
    int released = 0;
    while (vfr_log_take(&rt.log, &r))
        released += r.type == VFR_LOG_LEASE_RELEASED && r.dom == 2;
    assert_int_equal(released, 2);
    assert_int_equal(vfr_lease_owner(&rt.vfr.leases, VFR_PROTO_TCP, 21000), VFR_DOM_NONE);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rsip_two_guests_share_the_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_to_guest_and_udp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unleased_denied_and_spoofed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transmit_limit_holds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receive_limit_holds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flow_and_lease_records, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
