/*
 * Host tests of guest-kit's TCP (guest-kit/src/net/tcp*.c): two stacks on
 * the simulated link, or one stack and a raw peer the test plays with
 * crafted segments. Handshake, refusal, SYN and data retransmission with
 * RTO back-off (exact instants in virtual time), bulk data both ways over
 * a clean and over a lossy, reordering, duplicating, corrupting link
 * (checksummed end to end), fast retransmit, flow control with a zero
 * window and probes, Nagle, FIN both ways, TIME-WAIT (its length, its ACK
 * of a retransmitted FIN), RST on close with unread data, RFC 5961's
 * challenge ACKs, ICMP errors, and bounds: the backlog under a SYN flood,
 * out-of-order ranges, data beyond the window, the socket table with
 * TIME-WAIT recycling, and a stream of random segments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "net_fixture.h"

static struct sim sim;
static struct cap cap;
static struct gk_ip *a, *b;
static uint8_t mac_b[6];

static void (*tweak)(struct gk_ip_config *c);

static int setup2(void **state)
{
    (void)state;
    struct gk_ip_config c;
    sim_init(&sim, 21);
    cap_attach(&sim, &cap);
    cfg_for(&c, 1);
    if (tweak)
        tweak(&c);
    a = sim_add(&sim, &c);
    cfg_for(&c, 2);
    if (tweak)
        tweak(&c);
    b = sim_add(&sim, &c);
    assert_non_null(a);
    assert_non_null(b);
    mac_of(mac_b, 2);
    return 0;
}

static int setup1(void **state)
{
    (void)state;
    struct gk_ip_config c;
    sim_init(&sim, 23);
    cap_attach(&sim, &cap);
    cfg_for(&c, 2);
    if (tweak)
        tweak(&c);
    b = sim_add(&sim, &c);
    a = NULL;
    assert_non_null(b);
    mac_of(mac_b, 2);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sim_fini(&sim);
    cap_free(&cap);
    tweak = NULL;
    return 0;
}

static struct sock *S(struct gk_ip *ip, int h)
{
    return &ip->socks[(uint32_t)h & 0xfff];
}

static uint8_t state_of(struct gk_ip *ip, int h)
{
    return S(ip, h)->t.state;
}

/* A listener on B:port, a connection from A, accepted: *ca on A, *cb on B. */
static void connect_pair(uint16_t port, int *ca, int *cb)
{
    int l = sock_nb(b, GK_SOCK_STREAM);
    assert_int_equal(gk_sock_bind(b, l, port), 0);
    assert_int_equal(gk_sock_listen(b, l, 8), 0);
    *ca = sock_nb(a, GK_SOCK_STREAM);
    struct gk_sockaddr to = {NET_B, port};
    assert_int_equal(gk_sock_connect(a, *ca, &to), GK_IP_EINPROGRESS);
    *cb = GK_IP_EAGAIN;
    RUN_UNTIL(&sim, (*cb = gk_sock_accept(b, l, NULL)) >= 0, 5 * SEC);
    assert_true(*cb >= 0);
    gk_sock_set(b, *cb, GK_SOCK_NONBLOCK, 1);
    RUN_UNTIL(&sim, state_of(a, *ca) == TCP_ESTABLISHED, SEC);
    assert_int_equal(state_of(a, *ca), TCP_ESTABLISHED);
    assert_int_equal(state_of(b, *cb), TCP_ESTABLISHED);
}

/* One direction of a transfer: bytes from src into a socket, and what the
 * other end's socket yields, hashed. */
struct xfer {
    struct gk_ip *tx_ip, *rx_ip;
    int tx, rx;
    const uint8_t *src;
    size_t len, sent, rcvd;
    uint64_t hash;
    bool shut_after, shut, eof;
    long rx_error;
};

static void xfer_init(struct xfer *x, struct gk_ip *tx_ip, int tx, struct gk_ip *rx_ip, int rx,
                      const uint8_t *src, size_t len)
{
    memset(x, 0, sizeof *x);
    x->tx_ip = tx_ip;
    x->tx = tx;
    x->rx_ip = rx_ip;
    x->rx = rx;
    x->src = src;
    x->len = len;
    x->hash = FNV0;
}

static void xfer_pump(struct xfer *x)
{
    while (x->sent < x->len) {
        size_t want = x->len - x->sent < 7000 ? x->len - x->sent : 7000;
        long n = gk_sock_send(x->tx_ip, x->tx, x->src + x->sent, want);
        if (n <= 0)
            break;
        x->sent += (size_t)n;
    }
    if (x->sent == x->len && x->shut_after && !x->shut) {
        gk_sock_shutdown_write(x->tx_ip, x->tx);
        x->shut = true;
    }
    for (;;) {
        uint8_t buf[5000];
        long n = gk_sock_recv(x->rx_ip, x->rx, buf, sizeof buf);
        if (n > 0) {
            x->hash = fnv(x->hash, buf, (size_t)n);
            x->rcvd += (size_t)n;
            continue;
        }
        if (n == 0)
            x->eof = true;
        else if (n != GK_IP_EAGAIN)
            x->rx_error = n;
        break;
    }
}

static uint8_t *pattern(size_t len, uint32_t seed)
{
    uint8_t *p = malloc(len);
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
    return p;
}

/* Runs two transfers until both are received completely (or limit). */
static void run_both(struct xfer *x1, struct xfer *x2, uint64_t limit)
{
    uint64_t end = sim.now + limit;
    while (sim.now < end && (x1->rcvd < x1->len || (x2 && x2->rcvd < x2->len))) {
        xfer_pump(x1);
        if (x2)
            xfer_pump(x2);
        sim_step(&sim, 10 * MS);
    }
}

static int count_tcp(int from, uint8_t flags_mask, uint8_t flags, bool with_data)
{
    int n = 0;
    for (int i = 0; i < cap.n; i++) {
        const struct cap_frame *f = &cap.f[i];
        if (f->from != from || fr_proto(f) != IP_PROTO_TCP)
            continue;
        const uint8_t *t = fr_l4(f);
        size_t dl = get16(fr_ip(f) + 2) - (size_t)(fr_ip(f)[0] & 15) * 4 - (size_t)(t[12] >> 4) * 4;
        if ((t[13] & flags_mask) == flags && (!with_data || dl > 0))
            n++;
    }
    return n;
}

/* ---- Handshake ------------------------------------------------------------ */

static void test_handshake(void **state)
{
    (void)state;
    int ca, cb;
    connect_pair(80, &ca, &cb);
    struct gk_sockaddr la, pa, lb, pb;
    assert_int_equal(gk_sock_name(a, ca, &la, &pa), 0);
    assert_int_equal(gk_sock_name(b, cb, &lb, &pb), 0);
    assert_int_equal(la.addr, NET_A);
    assert_int_equal(pa.addr, NET_B);
    assert_int_equal(pa.port, 80);
    assert_int_equal(lb.port, 80);
    assert_int_equal(pb.addr, NET_A);
    assert_int_equal(pb.port, la.port);
    assert_int_equal(S(a, ca)->t.mss, 1460);
    assert_int_equal(S(b, cb)->t.mss, 1460);
    struct gk_ip_stats st;
    gk_ip_get_stats(a, &st);
    assert_int_equal(st.tcp_connected, 1);
    gk_ip_get_stats(b, &st);
    assert_int_equal(st.tcp_accepted, 1);
    /* SYN, SYN-ACK, ACK: one each. */
    assert_int_equal(count_tcp(0, TCP_SYN | TCP_ACK, TCP_SYN, false), 1);
    assert_int_equal(count_tcp(1, TCP_SYN | TCP_ACK, TCP_SYN | TCP_ACK, false), 1);
    /* A second connect on a connected socket. */
    struct gk_sockaddr to = {NET_B, 80};
    assert_int_equal(gk_sock_connect(a, ca, &to), GK_IP_EISCONN);
    /* Poll: writable on both, nothing to read. */
    struct gk_pollfd p[2] = {{ca, GK_POLLIN | GK_POLLOUT, 0}, {cb, GK_POLLIN, 0}};
    assert_int_equal(gk_sock_poll(a, p, 1, sim.now), 1);
    assert_int_equal(p[0].revents, GK_POLLOUT);
    assert_int_equal(gk_sock_poll(b, p + 1, 1, sim.now), 0);
}

static void test_connect_refused(void **state)
{
    (void)state;
    int s = sock_nb(a, GK_SOCK_STREAM);
    struct gk_sockaddr to = {NET_B, 81};
    assert_int_equal(gk_sock_connect(a, s, &to), GK_IP_EINPROGRESS);
    RUN_UNTIL(&sim, state_of(a, s) == TCP_CLOSED, SEC);
    struct gk_pollfd p = {s, GK_POLLOUT, 0};
    assert_int_equal(gk_sock_poll(a, &p, 1, sim.now), 1);
    assert_true(p.revents & GK_POLLERR);
    assert_int_equal(gk_sock_error(a, s), GK_IP_ECONNREFUSED);
    struct gk_ip_stats st;
    gk_ip_get_stats(b, &st);
    assert_int_equal(st.tcp_rst_out, 1);
    assert_int_equal(gk_sock_close(a, s), 0);
    assert_int_equal(gk_sock_close(a, s), GK_IP_EBADF);
}

static bool drop_tcp_from_a(struct cap *c, int from, const uint8_t *f, uint32_t len)
{
    (void)c;
    (void)len;
    return !(from == 0 && get16(f + 12) == ETH_TYPE_IPV4 && f[ETH_HDR + 9] == IP_PROTO_TCP);
}

static void test_syn_backoff_and_timeout(void **state)
{
    (void)state;
    cap.filter = drop_tcp_from_a;
    int s = sock_nb(a, GK_SOCK_STREAM);
    struct gk_sockaddr to = {NET_B, 80};
    uint64_t t0 = sim.now;
    assert_int_equal(gk_sock_connect(a, s, &to), GK_IP_EINPROGRESS);
    RUN_UNTIL(&sim, state_of(a, s) == TCP_CLOSED, 100 * SEC);
    assert_int_equal(gk_sock_error(a, s), GK_IP_ETIMEDOUT);
    uint64_t at[8];
    int k = 0;
    for (int i = 0; i < cap.n && k < 8; i++)
        if (cap.f[i].from == 0 && fr_proto(&cap.f[i]) == IP_PROTO_TCP)
            at[k++] = cap.f[i].at;
    /* The SYN and 5 retransmissions, 1, 2, 4, 8, 16 s apart (RFC 6298:
     * initial RTO 1 s, doubled each time). */
    assert_int_equal(k, 6);
    assert_int_equal(at[1] - t0, SEC); /* the first waited for ARP */
    for (int i = 2; i < 6; i++)
        assert_int_equal(at[i] - at[i - 1], (SEC << (i - 1)));
    /* The connection ends 32 s after the last. */
    assert_true(sim.now - at[5] >= 32 * SEC && sim.now - at[5] < 32 * SEC + 20 * MS);
    struct gk_ip_stats st;
    gk_ip_get_stats(a, &st);
    assert_int_equal(st.tcp_timeouts, 1);
}

/* ---- Data ------------------------------------------------------------------- */

static void test_bulk_both_ways_clean(void **state)
{
    (void)state;
    int ca, cb;
    connect_pair(80, &ca, &cb);
    const size_t len = 4u << 20;
    uint8_t *p1 = pattern(len, 1), *p2 = pattern(len, 2);
    struct xfer x1, x2;
    xfer_init(&x1, a, ca, b, cb, p1, len);
    xfer_init(&x2, b, cb, a, ca, p2, len);
    uint64_t t0 = sim.now;
    run_both(&x1, &x2, 60 * SEC);
    assert_int_equal(x1.rcvd, len);
    assert_int_equal(x2.rcvd, len);
    assert_int_equal(x1.hash, fnv(FNV0, p1, len));
    assert_int_equal(x2.hash, fnv(FNV0, p2, len));
    /* A clean link: no retransmission. With a 200 us round trip and 32 KiB
     * windows the transfer takes well under 2 s of virtual time. */
    struct gk_ip_stats sa, sb;
    gk_ip_get_stats(a, &sa);
    gk_ip_get_stats(b, &sb);
    assert_int_equal(sa.tcp_retransmits + sb.tcp_retransmits, 0);
    assert_true(sim.now - t0 < 2 * SEC);
    /* Delayed ACKs: far fewer pure ACKs than data segments. */
    assert_true(S(a, ca)->t.srtt > 0);
    free(p1);
    free(p2);
}

static void lossy(uint64_t seed)
{
    sim.rng = seed * 0x9e3779b97f4a7c15ull + 3;
    int ca, cb;
    connect_pair(80, &ca, &cb);
    sim.loss_ppm = 20000;   /* 2% */
    sim.dup_ppm = 10000;    /* 1% */
    sim.corrupt_ppm = 3000; /* 0.3% */
    sim.jitter_ns = 2 * MS; /* reordering */
    const size_t len = 1u << 20;
    uint8_t *p1 = pattern(len, 3), *p2 = pattern(len, 4);
    struct xfer x1, x2;
    xfer_init(&x1, a, ca, b, cb, p1, len);
    xfer_init(&x2, b, cb, a, ca, p2, len);
    x1.shut_after = x2.shut_after = true;
    run_both(&x1, &x2, 600 * SEC);
    RUN_UNTIL(&sim, (xfer_pump(&x1), xfer_pump(&x2), x1.eof && x2.eof), 60 * SEC);
    assert_int_equal(x1.rcvd, len);
    assert_int_equal(x2.rcvd, len);
    assert_int_equal(x1.hash, fnv(FNV0, p1, len));
    assert_int_equal(x2.hash, fnv(FNV0, p2, len));
    assert_true(x1.eof && x2.eof);
    assert_int_equal(x1.rx_error, 0);
    assert_int_equal(x2.rx_error, 0);
    struct gk_ip_stats sa, sb;
    gk_ip_get_stats(a, &sa);
    gk_ip_get_stats(b, &sb);
    assert_true(sa.tcp_retransmits > 0 && sb.tcp_retransmits > 0);
    assert_true(sa.tcp_ooo_segments + sb.tcp_ooo_segments > 0);
    assert_true(sa.rx_bad_csum + sb.rx_bad_csum > 0);
    assert_true(sim.lost > 0 && sim.duplicated > 0 && sim.corrupted > 0);
    free(p1);
    free(p2);
}

static void test_bulk_both_ways_lossy(void **state)
{
    (void)state;
    lossy(1);
}

static void test_bulk_both_ways_lossy_seed2(void **state)
{
    (void)state;
    lossy(2);
}

static void test_rto_backoff_and_give_up(void **state)
{
    (void)state;
    sim.delay_ns = 10 * MS;
    int ca, cb;
    connect_pair(80, &ca, &cb);
    /* Some data to measure the round trip (20 ms). */
    uint8_t d[20000];
    memset(d, 7, sizeof d);
    struct xfer x;
    xfer_init(&x, a, ca, b, cb, d, sizeof d);
    run_both(&x, NULL, 10 * SEC);
    assert_int_equal(x.rcvd, sizeof d);
    struct tcb *t = &S(a, ca)->t;
    /* Samples include the receiver's delayed ACKs (up to 40 ms). */
    assert_true(t->srtt >= 20 * MS && t->srtt < 60 * MS);
    assert_int_equal(t->rto, 200 * MS); /* the floor */
    /* Now every segment from A is lost. */
    cap.filter = drop_tcp_from_a;
    int first = cap.n;
    assert_int_equal(gk_sock_send(a, ca, "lost", 4), 4);
    RUN_UNTIL(&sim, state_of(a, ca) == TCP_CLOSED, 400 * SEC);
    uint64_t at[16];
    int k = 0;
    bool rst = false;
    for (int i = first; i < cap.n; i++) {
        const struct cap_frame *f = &cap.f[i];
        if (f->from != 0 || fr_proto(f) != IP_PROTO_TCP)
            continue;
        if (fr_l4(f)[13] & TCP_RST)
            rst = true;
        else if (k < 16)
            at[k++] = f->at;
    }
    /* The segment and 10 retransmissions: 200 ms doubled each time, at
     * most 60 s; then a RST and ETIMEDOUT. */
    assert_int_equal(k, 11);
    uint64_t want = 200 * MS;
    for (int i = 1; i < k; i++) {
        assert_int_equal(at[i] - at[i - 1], want);
        want = want * 2 > 60 * SEC ? 60 * SEC : want * 2;
    }
    assert_true(rst);
    assert_int_equal(gk_sock_recv(a, ca, d, sizeof d), GK_IP_ETIMEDOUT);
}

/* Drops the n-th data segment A sends. */
static int drop_nth = -1, data_seen;
static uint64_t dropped_at;
static bool drop_one_data(struct cap *c, int from, const uint8_t *f, uint32_t len)
{
    (void)c;
    (void)len;
    if (from != 0 || get16(f + 12) != ETH_TYPE_IPV4 || f[ETH_HDR + 9] != IP_PROTO_TCP)
        return true;
    const uint8_t *t = f + ETH_HDR + 20;
    size_t dl = get16(f + ETH_HDR + 2) - 20u - (size_t)(t[12] >> 4) * 4;
    if (dl == 0)
        return true;
    if (data_seen++ == drop_nth) {
        dropped_at = sim.now;
        return false;
    }
    return true;
}

static void test_fast_retransmit(void **state)
{
    (void)state;
    sim.delay_ns = 5 * MS;
    int ca, cb;
    connect_pair(80, &ca, &cb);
    drop_nth = 30;
    data_seen = 0;
    cap.filter = drop_one_data;
    const size_t len = 300000;
    uint8_t *p = pattern(len, 5);
    struct xfer x;
    xfer_init(&x, a, ca, b, cb, p, len);
    run_both(&x, NULL, 60 * SEC);
    assert_int_equal(x.rcvd, len);
    assert_int_equal(x.hash, fnv(FNV0, p, len));
    struct gk_ip_stats st;
    gk_ip_get_stats(a, &st);
    assert_int_equal(st.tcp_fast_retransmits, 1);
    assert_int_equal(st.tcp_timeouts, 0);
    assert_true(st.tcp_dup_acks >= 3);
    /* Recovered by duplicate ACKs, not the timer: the retransmission went
     * within two round trips (20 ms), well before the 200 ms RTO. */
    struct tcb *t = &S(a, ca)->t;
    assert_false(t->in_recovery);
    assert_true(dropped_at != 0);
    free(p);
}

static void test_zero_window_and_probes(void **state)
{
    (void)state;
    int ca, cb;
    connect_pair(80, &ca, &cb);
    const size_t len = 200000;
    uint8_t *p = pattern(len, 6);
    size_t sent = 0;
    /* B does not read: A's send buffer and B's receive buffer fill. */
    for (int i = 0; i < 300; i++) {
        long n = gk_sock_send(a, ca, p + sent, len - sent);
        if (n > 0)
            sent += (size_t)n;
        sim_step(&sim, 10 * MS);
    }
    assert_int_equal(sent, 32768 + 32768);
    assert_int_equal(S(b, cb)->t.rcv_len, 32768);
    assert_int_equal(S(a, ca)->t.snd_wnd, 0);
    assert_int_equal(gk_sock_send(a, ca, p + sent, len - sent), GK_IP_EAGAIN);
    struct gk_pollfd pf = {ca, GK_POLLOUT, 0};
    assert_int_equal(gk_sock_poll(a, &pf, 1, sim.now), 0);
    /* A minute with the window closed: A probes with back-off, the
     * connection stays up. */
    int before = count_tcp(0, 0, 0, true);
    sim_advance(&sim, 60 * SEC);
    int probes = count_tcp(0, 0, 0, true) - before;
    assert_true(probes >= 3 && probes <= 12);
    assert_int_equal(state_of(a, ca), TCP_ESTABLISHED);
    assert_int_equal(S(b, cb)->t.rcv_len, 32768); /* probes beyond the window are not kept */
    /* B reads: the window opens, the rest flows. */
    struct xfer x;
    xfer_init(&x, a, ca, b, cb, p, len);
    x.sent = sent;
    run_both(&x, NULL, 120 * SEC);
    assert_int_equal(x.rcvd, len);
    assert_int_equal(x.hash, fnv(FNV0, p, len));
    free(p);
}

static void test_nagle(void **state)
{
    (void)state;
    sim.delay_ns = 5 * MS;
    int ca, cb;
    connect_pair(80, &ca, &cb);
    int first = cap.n;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(gk_sock_send(a, ca, "x", 1), 1);
        sim_step(&sim, MS / 10);
    }
    struct xfer x;
    xfer_init(&x, a, ca, b, cb, (const uint8_t *)"", 100);
    x.sent = 100;
    run_both(&x, NULL, 5 * SEC);
    assert_int_equal(x.rcvd, 100);
    int segs = 0;
    for (int i = first; i < cap.n; i++)
        if (cap.f[i].from == 0 && fr_proto(&cap.f[i]) == IP_PROTO_TCP &&
            get16(fr_ip(&cap.f[i]) + 2) > 40)
            segs++;
    assert_true(segs <= 5); /* one in flight at a time, the rest coalesced */
    /* Without Nagle, each write is a segment. */
    assert_int_equal(gk_sock_set(a, ca, GK_SOCK_NODELAY, 1), 0);
    first = cap.n;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(gk_sock_send(a, ca, "y", 1), 1);
        sim_step(&sim, MS / 10);
    }
    segs = 0;
    for (int i = first; i < cap.n; i++)
        if (cap.f[i].from == 0 && fr_proto(&cap.f[i]) == IP_PROTO_TCP &&
            get16(fr_ip(&cap.f[i]) + 2) > 40)
            segs++;
    assert_int_equal(segs, 20);
}

/* ---- Closing ---------------------------------------------------------------- */

static void short_msl(struct gk_ip_config *c)
{
    c->tcp_msl_ms = 1000;
}

static void test_fin_both_ways_and_time_wait(void **state)
{
    (void)state;
    int ca, cb;
    connect_pair(80, &ca, &cb);
    uint8_t *p = pattern(10000, 7);
    struct xfer x;
    xfer_init(&x, a, ca, b, cb, p, 10000);
    x.shut_after = true;
    RUN_UNTIL(&sim, (xfer_pump(&x), x.eof), 5 * SEC);
    assert_true(x.eof);
    assert_int_equal(x.rcvd, 10000);
    sim_advance(&sim, 10 * MS); /* B's ACK of the FIN on its way */
    assert_int_equal(state_of(a, ca), TCP_FIN_WAIT_2);
    assert_int_equal(state_of(b, cb), TCP_CLOSE_WAIT);
    assert_int_equal(gk_sock_send(a, ca, "z", 1), GK_IP_EPIPE);
    /* B answers, then closes. */
    struct xfer y;
    xfer_init(&y, b, cb, a, ca, p, 5000);
    RUN_UNTIL(&sim, (xfer_pump(&y), y.rcvd == 5000), 5 * SEC);
    assert_int_equal(gk_sock_close(b, cb), 0);
    RUN_UNTIL(&sim, (xfer_pump(&y), y.eof), 5 * SEC);
    assert_true(y.eof);
    assert_int_equal(y.hash, fnv(FNV0, p, 5000));
    sim_advance(&sim, 100 * MS);
    /* A closed actively: TIME-WAIT, without buffers; B's socket is gone. */
    assert_int_equal(state_of(a, ca), TCP_TIME_WAIT);
    assert_null(S(a, ca)->t.snd_buf);
    assert_int_equal(socks_used(b), 1); /* the listener */
    struct gk_pollfd pf = {ca, GK_POLLIN, 0};
    assert_int_equal(gk_sock_poll(a, &pf, 1, sim.now), 1);
    assert_true(pf.revents & GK_POLLHUP);
    /* TIME-WAIT lasts 2 MSL (2 s here), then the handle reads CLOSED. */
    uint64_t tw = S(a, ca)->t.end_at;
    assert_true(tw > sim.now + 1800 * MS && tw <= sim.now + 2 * SEC);
    sim_advance(&sim, 2 * SEC);
    assert_int_equal(state_of(a, ca), TCP_CLOSED);
    assert_int_equal(gk_sock_close(a, ca), 0);
    assert_int_equal(socks_used(a), 0);
    free(p);
}

/* Drops A's first ACK of B's FIN. */
static bool dropped_fin_ack;
static bool drop_ack_of_fin(struct cap *c, int from, const uint8_t *f, uint32_t len)
{
    (void)c;
    (void)len;
    if (from != 0 || dropped_fin_ack || get16(f + 12) != ETH_TYPE_IPV4 ||
        f[ETH_HDR + 9] != IP_PROTO_TCP)
        return true;
    if (state_of(a, 0 | ((uint32_t)a->socks[0].gen << 12)) == TCP_TIME_WAIT) {
        dropped_fin_ack = true;
        return false;
    }
    return true;
}

static void test_time_wait_acks_retransmitted_fin(void **state)
{
    (void)state;
    int ca, cb;
    connect_pair(80, &ca, &cb);
    assert_int_equal((uint32_t)ca & 0xfff, 0); /* drop_ack_of_fin looks at slot 0 */
    dropped_fin_ack = false;
    cap.filter = drop_ack_of_fin;
    assert_int_equal(gk_sock_shutdown_write(a, ca), 0);
    sim_advance(&sim, 50 * MS);
    assert_int_equal(gk_sock_close(b, cb), 0);
    sim_advance(&sim, 50 * MS);
    assert_true(dropped_fin_ack);
    assert_int_equal(state_of(a, ca), TCP_TIME_WAIT);
    uint64_t tw0 = S(a, ca)->t.end_at;
    assert_int_equal(socks_used(b), 2); /* B in LAST-ACK, waiting */
    /* B retransmits its FIN after the RTO; TIME-WAIT answers and restarts. */
    sim_advance(&sim, 2 * SEC);
    assert_int_equal(socks_used(b), 1);
    assert_int_equal(state_of(a, ca), TCP_TIME_WAIT);
    assert_true(S(a, ca)->t.end_at > tw0);
}

static void test_simultaneous_close(void **state)
{
    (void)state;
    sim.delay_ns = 5 * MS;
    int ca, cb;
    connect_pair(80, &ca, &cb);
    assert_int_equal(gk_sock_shutdown_write(a, ca), 0);
    assert_int_equal(gk_sock_shutdown_write(b, cb), 0);
    sim_advance(&sim, 100 * MS);
    assert_int_equal(state_of(a, ca), TCP_TIME_WAIT);
    assert_int_equal(state_of(b, cb), TCP_TIME_WAIT);
    char c;
    assert_int_equal(gk_sock_recv(a, ca, &c, 1), 0);
    assert_int_equal(gk_sock_recv(b, cb, &c, 1), 0);
}

/* Received data stays readable after the connection ended (TIME-WAIT on
 * the active side, CLOSED on the passive one) until the user reads it;
 * then the buffers go. */
static void test_data_readable_after_connection_ends(void **state)
{
    (void)state;
    int ca, cb;
    connect_pair(80, &ca, &cb);
    uint8_t *p = pattern(5000, 8);
    assert_int_equal(gk_sock_send(a, ca, p, 5000), 5000);
    assert_int_equal(gk_sock_shutdown_write(a, ca), 0);
    sim_advance(&sim, 50 * MS);
    assert_int_equal(state_of(b, cb), TCP_CLOSE_WAIT);
    assert_int_equal(gk_sock_send(b, cb, p, 3000), 3000);
    assert_int_equal(gk_sock_shutdown_write(b, cb), 0);
    sim_advance(&sim, SEC);
    assert_int_equal(state_of(a, ca), TCP_TIME_WAIT);
    assert_int_equal(state_of(b, cb), TCP_CLOSED);
    uint8_t got[6000];
    assert_int_equal(gk_sock_recv(a, ca, got, sizeof got), 3000);
    assert_memory_equal(got, p, 3000);
    assert_int_equal(gk_sock_recv(a, ca, got, sizeof got), 0);
    assert_null(S(a, ca)->t.snd_buf);
    assert_int_equal(gk_sock_recv(b, cb, got, sizeof got), 5000);
    assert_memory_equal(got, p, 5000);
    assert_int_equal(gk_sock_recv(b, cb, got, sizeof got), 0);
    assert_null(S(b, cb)->t.snd_buf);
    free(p);
}

static void test_close_with_unread_data_resets(void **state)
{
    (void)state;
    int ca, cb;
    connect_pair(80, &ca, &cb);
    assert_int_equal(gk_sock_send(a, ca, "unread", 6), 6);
    sim_advance(&sim, 50 * MS);
    assert_int_equal(S(b, cb)->t.rcv_len, 6);
    assert_int_equal(gk_sock_close(b, cb), 0);
    sim_advance(&sim, 50 * MS);
    char buf[8];
    assert_int_equal(gk_sock_recv(a, ca, buf, sizeof buf), GK_IP_ECONNRESET);
    assert_int_equal(state_of(a, ca), TCP_CLOSED);
    assert_int_equal(socks_used(b), 1);
}

/* ---- A raw peer: crafted segments ------------------------------------------- */

static uint32_t peer_seq, b_seq; /* the peer's next sequence number, B's */
static const uint16_t PEER_PORT = 40000;

static void peer_tcp(uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd, const void *data,
                     size_t len)
{
    uint8_t seg[1600];
    size_t n = sim_build_tcp(seg, NET_PEER, NET_B, PEER_PORT, 80, seq, ack, flags, wnd, data, len);
    peer_send_ip(&sim, 0, mac_b, NET_B, IP_PROTO_TCP, 1, 0, seg, n);
}

/* The last TCP segment B sent, or NULL. */
static const uint8_t *last_from_b(int since)
{
    for (int i = cap.n - 1; i >= since; i--)
        if (cap.f[i].from == 0 && fr_proto(&cap.f[i]) == IP_PROTO_TCP)
            return fr_l4(&cap.f[i]);
    return NULL;
}

/* B listens on 80; the peer connects. Returns B's accepted handle. */
static int peer_connect(int *listener)
{
    peer_announce(&sim, 0, NET_B);
    int l = sock_nb(b, GK_SOCK_STREAM);
    assert_int_equal(gk_sock_bind(b, l, 80), 0);
    assert_int_equal(gk_sock_listen(b, l, 4), 0);
    sim_advance(&sim, MS);
    int since = cap.n;
    peer_seq = 1000;
    peer_tcp(peer_seq, 0, TCP_SYN, 8192, NULL, 0);
    sim_advance(&sim, MS);
    const uint8_t *sa = last_from_b(since);
    assert_non_null(sa);
    assert_int_equal(sa[13], TCP_SYN | TCP_ACK);
    assert_int_equal(get32(sa + 8), 1001);
    b_seq = get32(sa + 4) + 1;
    peer_seq = 1001;
    peer_tcp(peer_seq, b_seq, TCP_ACK, 8192, NULL, 0);
    sim_advance(&sim, MS);
    int c = gk_sock_accept(b, l, NULL);
    assert_true(c >= 0);
    gk_sock_set(b, c, GK_SOCK_NONBLOCK, 1);
    if (listener)
        *listener = l;
    return c;
}

static void test_rfc5961_and_bad_acks(void **state)
{
    (void)state;
    int c = peer_connect(NULL);
    struct gk_ip_stats st0, st;
    gk_ip_get_stats(b, &st0);
    /* A RST in the window but not at RCV.NXT: a challenge ACK, no reset. */
    int since = cap.n;
    peer_tcp(peer_seq + 100, 0, TCP_RST, 0, NULL, 0);
    sim_advance(&sim, MS);
    const uint8_t *r = last_from_b(since);
    assert_non_null(r);
    assert_int_equal(r[13], TCP_ACK);
    assert_int_equal(get32(r + 8), peer_seq);
    assert_int_equal(state_of(b, c), TCP_ESTABLISHED);
    /* A RST outside the window: silently ignored. */
    since = cap.n;
    peer_tcp(peer_seq + 100000, 0, TCP_RST, 0, NULL, 0);
    sim_advance(&sim, MS);
    assert_null(last_from_b(since));
    /* A SYN on the connection: a challenge ACK. */
    since = cap.n;
    peer_tcp(peer_seq + 5, 0, TCP_SYN, 8192, NULL, 0);
    sim_advance(&sim, MS);
    assert_non_null(last_from_b(since));
    assert_int_equal(state_of(b, c), TCP_ESTABLISHED);
    gk_ip_get_stats(b, &st);
    assert_int_equal(st.tcp_challenge_acks - st0.tcp_challenge_acks, 2);
    /* An ACK of data never sent: answered with an ACK, its data dropped. */
    since = cap.n;
    peer_tcp(peer_seq, b_seq + 5000, TCP_ACK, 8192, "evil", 4);
    sim_advance(&sim, MS);
    assert_non_null(last_from_b(since));
    assert_int_equal(S(b, c)->t.rcv_len, 0);
    assert_int_equal(S(b, c)->t.snd_una, b_seq);
    /* Data wholly beyond the window: dropped, ACKed. */
    peer_tcp(peer_seq + 40000, b_seq, TCP_ACK, 8192, "far", 3);
    sim_advance(&sim, MS);
    assert_int_equal(S(b, c)->t.rcv_len, 0);
    assert_int_equal(S(b, c)->t.ooo_count, 0);
    /* Malformed segments: counted, never answered. */
    gk_ip_get_stats(b, &st0);
    since = cap.n;
    uint8_t seg[128];
    size_t n = sim_build_tcp(seg, NET_PEER, NET_B, PEER_PORT, 80, peer_seq, b_seq, TCP_ACK, 8192,
                             "abcd", 4);
    uint8_t x[128];
    memcpy(x, seg, n);
    x[17] ^= 1; /* checksum */
    peer_send_ip(&sim, 0, mac_b, NET_B, IP_PROTO_TCP, 2, 0, x, n);
    memcpy(x, seg, n);
    x[12] = 4 << 4; /* data offset below 5 words (checksum unchanged: parse first) */
    peer_send_ip(&sim, 0, mac_b, NET_B, IP_PROTO_TCP, 3, 0, x, n);
    memcpy(x, seg, n);
    x[12] = 15 << 4; /* data offset past the segment */
    peer_send_ip(&sim, 0, mac_b, NET_B, IP_PROTO_TCP, 4, 0, x, n);
    peer_send_ip(&sim, 0, mac_b, NET_B, IP_PROTO_TCP, 5, 0, seg, 12); /* shorter than a header */
    /* Options: a length of 0, an MSS of length 3, one running past. */
    static const uint8_t opts[3][4] = {{8, 0, 0, 0}, {2, 3, 5, 0}, {8, 10, 0, 0}};
    for (int i = 0; i < 3; i++) {
        uint8_t o[64];
        sim_build_tcp(o, NET_PEER, NET_B, PEER_PORT, 80, peer_seq, b_seq, TCP_ACK, 8192, NULL, 0);
        memcpy(o + 20, opts[i], 4);
        o[12] = 6 << 4;
        put16(o + 16, 0);
        uint32_t ps =
            (NET_PEER >> 16) + (NET_PEER & 0xffff) + (NET_B >> 16) + (NET_B & 0xffff) + 6 + 24;
        put16(o + 16, sim_csum(o, 24, ps));
        peer_send_ip(&sim, 0, mac_b, NET_B, IP_PROTO_TCP, (uint16_t)(6 + i), 0, o, 24);
    }
    sim_advance(&sim, MS);
    gk_ip_get_stats(b, &st);
    assert_int_equal((st.rx_bad_tcp - st0.rx_bad_tcp) + (st.rx_bad_csum - st0.rx_bad_csum), 7);
    assert_null(last_from_b(since));
    assert_int_equal(S(b, c)->t.rcv_len, 0);
    /* The exact RST resets. */
    peer_tcp(peer_seq, 0, TCP_RST, 0, NULL, 0);
    sim_advance(&sim, MS);
    char buf[8];
    assert_int_equal(gk_sock_recv(b, c, buf, sizeof buf), GK_IP_ECONNRESET);
}

/* A pure ACK whose sequence number is the right edge of B's window (the
 * peer filled the window, the data was lost) is taken for its ACK; one
 * past the edge is not. */
static void test_ack_at_right_edge(void **state)
{
    (void)state;
    int c = peer_connect(NULL);
    int since = cap.n;
    assert_int_equal(gk_sock_send(b, c, "hello", 5), 5);
    sim_advance(&sim, MS);
    const uint8_t *d = last_from_b(since);
    assert_non_null(d);
    uint32_t wnd = get16(d + 14); /* B's window as it advertised it */
    assert_true(wnd > 0);
    assert_int_equal(S(b, c)->t.snd_una, b_seq);
    peer_tcp(peer_seq + wnd + 1, b_seq + 5, TCP_ACK, 8192, NULL, 0); /* past the edge */
    sim_advance(&sim, MS);
    assert_int_equal(S(b, c)->t.snd_una, b_seq);
    peer_tcp(peer_seq + wnd, b_seq + 5, TCP_ACK, 8192, NULL, 0); /* at the edge */
    sim_advance(&sim, MS);
    assert_int_equal(S(b, c)->t.snd_una, b_seq + 5);
}

static void test_out_of_order_ranges_bounded(void **state)
{
    (void)state;
    int c = peer_connect(NULL);
    uint8_t d[100];
    /* Ten disjoint ranges past a hole at the front: at most 4 are kept. */
    for (int i = 1; i <= 10; i++) {
        memset(d, 'a' + i, sizeof d);
        peer_tcp(peer_seq + (uint32_t)i * 200, b_seq, TCP_ACK, 8192, d, sizeof d);
    }
    sim_advance(&sim, MS);
    struct tcb *t = &S(b, c)->t;
    assert_int_equal(t->ooo_count, GK_TCP_OOO_RANGES);
    struct gk_ip_stats st;
    gk_ip_get_stats(b, &st);
    assert_int_equal(st.tcp_ooo_dropped, 10 - GK_TCP_OOO_RANGES);
    assert_int_equal(t->rcv_len, 0);
    /* Filling the front and the first gaps delivers what was kept. */
    uint8_t fill[200];
    memset(fill, '0', sizeof fill);
    peer_tcp(peer_seq, b_seq, TCP_ACK, 8192, fill, 200);
    memset(fill, '1', sizeof fill);
    peer_tcp(peer_seq + 300, b_seq, TCP_ACK, 8192, fill, 100);
    sim_advance(&sim, MS);
    uint8_t got[1000];
    long n = gk_sock_recv(b, c, got, sizeof got);
    assert_true(n >= 500);
    assert_int_equal(got[0], '0');
    assert_int_equal(got[200], 'b');
    assert_int_equal(got[300], '1');
    assert_int_equal(got[400], 'c');
    /* The ACK B sent last covers exactly what it has in order. */
    const uint8_t *r = last_from_b(0);
    assert_int_equal(get32(r + 8), peer_seq + (uint32_t)n);
}

static void test_syn_flood_bounded_by_backlog(void **state)
{
    (void)state;
    peer_announce(&sim, 0, NET_B);
    int l = sock_nb(b, GK_SOCK_STREAM);
    assert_int_equal(gk_sock_bind(b, l, 80), 0);
    assert_int_equal(gk_sock_listen(b, l, 2), 0);
    sim_advance(&sim, MS);
    for (int i = 0; i < 1000; i++) {
        uint8_t seg[64];
        size_t n = sim_build_tcp(seg, NET_PEER, NET_B, (uint16_t)(1024 + i), 80,
                                 (uint32_t)i * 77777u, 0, TCP_SYN, 8192, NULL, 0);
        peer_send_ip(&sim, 0, mac_b, NET_B, IP_PROTO_TCP, (uint16_t)i, 0, seg, n);
        if (i % 50 == 49)
            sim_advance(&sim, MS);
    }
    sim_advance(&sim, MS);
    assert_int_equal(S(b, l)->children, 2);
    assert_int_equal(socks_used(b), 3);
    unsigned buffers = 0;
    for (uint32_t i = 0; i < b->cfg.sockets_max; i++)
        buffers += b->socks[i].used && b->socks[i].t.snd_buf != NULL;
    assert_int_equal(buffers, 2);
    struct gk_ip_stats st;
    gk_ip_get_stats(b, &st);
    assert_int_equal(st.tcp_backlog_full, 998);
    /* The half-open connections give up after their SYN-ACK retries. */
    sim_advance(&sim, 70 * SEC);
    assert_int_equal(S(b, l)->children, 0);
    assert_int_equal(socks_used(b), 1);
    assert_int_equal(gk_sock_accept(b, l, NULL), GK_IP_EAGAIN);
}

static void small_table(struct gk_ip_config *c)
{
    c->sockets_max = 4;
}

static void test_socket_table_and_time_wait_recycling(void **state)
{
    (void)state;
    /* A has 4 sockets. 10 connections in a row, each closed by A first
     * (A keeps the TIME-WAIT): the oldest TIME-WAIT is recycled. */
    int l = sock_nb(b, GK_SOCK_STREAM);
    assert_int_equal(gk_sock_bind(b, l, 80), 0);
    assert_int_equal(gk_sock_listen(b, l, 8), 0);
    for (int i = 0; i < 10; i++) {
        int s = sock_nb(a, GK_SOCK_STREAM);
        assert_true(s >= 0);
        struct gk_sockaddr to = {NET_B, 80};
        assert_int_equal(gk_sock_connect(a, s, &to), GK_IP_EINPROGRESS);
        int c = GK_IP_EAGAIN;
        RUN_UNTIL(&sim, (c = gk_sock_accept(b, l, NULL)) >= 0, SEC);
        assert_true(c >= 0);
        RUN_UNTIL(&sim, state_of(a, s) == TCP_ESTABLISHED, SEC);
        assert_int_equal(gk_sock_close(a, s), 0);
        sim_advance(&sim, 10 * MS);
        assert_int_equal(gk_sock_close(b, c), 0);
        sim_advance(&sim, 10 * MS);
        assert_true(socks_used(a) <= 4);
    }
    struct gk_ip_stats st;
    gk_ip_get_stats(a, &st);
    assert_int_equal(st.tcp_time_wait_recycled, 10 - 4);
    /* Four open sockets: a fifth is refused. */
    for (int i = 0; i < 4; i++)
        assert_true(sock_nb(a, GK_SOCK_DGRAM) >= 0);
    assert_int_equal(sock_nb(a, GK_SOCK_DGRAM), GK_IP_ENOMEM);
}

static void test_icmp_errors_to_tcp(void **state)
{
    (void)state;
    peer_announce(&sim, 0, NET_B);
    sim_advance(&sim, MS);
    int s = sock_nb(b, GK_SOCK_STREAM);
    struct gk_sockaddr to = {NET_PEER, 80};
    int since = cap.n;
    assert_int_equal(gk_sock_connect(b, s, &to), GK_IP_EINPROGRESS);
    sim_advance(&sim, MS);
    const struct cap_frame *syn = NULL;
    for (int i = since; i < cap.n; i++)
        if (fr_proto(&cap.f[i]) == IP_PROTO_TCP)
            syn = &cap.f[i];
    assert_non_null(syn);
    uint8_t m[64];
    memset(m, 0, sizeof m);
    m[0] = 3;
    m[1] = 3;
    memcpy(m + 8, fr_ip(syn), 28);
    /* A quoted sequence number outside what is in flight: ignored. */
    put32(m + 8 + 20 + 4, get32(fr_l4(syn) + 4) + 100000);
    put16(m + 2, sim_csum(m, 36, 0));
    peer_send_ip(&sim, 0, mac_b, NET_B, IP_PROTO_ICMP, 9, 0, m, 36);
    sim_advance(&sim, MS);
    assert_int_equal(state_of(b, s), TCP_SYN_SENT);
    /* The right one: a port unreachable while connecting is fatal. */
    memcpy(m + 8, fr_ip(syn), 28);
    put16(m + 2, 0);
    put16(m + 2, sim_csum(m, 36, 0));
    peer_send_ip(&sim, 0, mac_b, NET_B, IP_PROTO_ICMP, 10, 0, m, 36);
    sim_advance(&sim, MS);
    assert_int_equal(state_of(b, s), TCP_CLOSED);
    assert_int_equal(gk_sock_error(b, s), GK_IP_ECONNREFUSED);
}

/* Random mutations of valid segments against an established connection:
 * bounds hold (ASan/UBSan watch the rest). */
static void test_random_segments(void **state)
{
    (void)state;
    int c = peer_connect(NULL);
    for (int i = 0; i < 100000; i++) {
        uint64_t r = sim_random(&sim);
        uint8_t seg[600];
        uint8_t data[512];
        size_t dl = (r >> 8) % sizeof data;
        memset(data, (int)(r >> 20), dl);
        uint32_t seq = peer_seq + (uint32_t)((int32_t)((r >> 24) % 80000) - 20000);
        uint8_t flags = (uint8_t)(TCP_ACK | ((r >> 40) & 0x2f));
        size_t n = sim_build_tcp(seg, NET_PEER, NET_B, PEER_PORT, 80, seq,
                                 b_seq + (uint32_t)((r >> 48) % 100), flags, (uint16_t)(r >> 32),
                                 data, dl);
        if ((r & 7) == 0) /* some with spoiled bytes (checksums then mostly fail) */
            seg[(r >> 3) % n] ^= (uint8_t)(r >> 56);
        if ((r & 0x70) == 0) { /* some with random options */
            seg[12] = (uint8_t)((5 + (r >> 12) % 11) << 4);
            put16(seg + 16, 0);
            uint32_t ps = (NET_PEER >> 16) + (NET_PEER & 0xffff) + (NET_B >> 16) +
                          (NET_B & 0xffff) + 6 + (uint32_t)n;
            put16(seg + 16, sim_csum(seg, n, ps));
        }
        peer_send_ip(&sim, 0, mac_b, NET_B, IP_PROTO_TCP, (uint16_t)i, 0, seg, n);
        if (i % 32 == 31) {
            sim_advance(&sim, MS);
            struct sock *s = S(b, c);
            if (s->used && s->t.rcv_buf) {
                assert_true(s->t.rcv_len <= b->cfg.tcp_rcvbuf);
                assert_true(s->t.snd_len <= b->cfg.tcp_sndbuf);
                assert_true(s->t.ooo_count <= GK_TCP_OOO_RANGES);
            }
            uint8_t sink[4096];
            while (s->used && gk_sock_recv(b, c, sink, sizeof sink) > 0)
                ;
        }
    }
    sim_advance(&sim, 200 * SEC);
    assert_true(socks_used(b) <= b->cfg.sockets_max);
}

#define T2(f) cmocka_unit_test_setup_teardown(f, setup2, teardown)
#define T1(f) cmocka_unit_test_setup_teardown(f, setup1, teardown)

static int setup2_msl(void **state)
{
    tweak = short_msl;
    return setup2(state);
}

static int setup2_small(void **state)
{
    tweak = small_table;
    return setup2(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T2(test_handshake),
        T2(test_connect_refused),
        T2(test_syn_backoff_and_timeout),
        T2(test_bulk_both_ways_clean),
        T2(test_bulk_both_ways_lossy),
        T2(test_bulk_both_ways_lossy_seed2),
        T2(test_rto_backoff_and_give_up),
        T2(test_fast_retransmit),
        T2(test_zero_window_and_probes),
        T2(test_nagle),
        cmocka_unit_test_setup_teardown(test_fin_both_ways_and_time_wait, setup2_msl, teardown),
        T2(test_time_wait_acks_retransmitted_fin),
        T2(test_simultaneous_close),
        T2(test_data_readable_after_connection_ends),
        T2(test_close_with_unread_data_resets),
        T1(test_rfc5961_and_bad_acks),
        T1(test_ack_at_right_edge),
        T1(test_out_of_order_ranges_bounded),
        T1(test_syn_flood_bounded_by_backlog),
        cmocka_unit_test_setup_teardown(test_socket_table_and_time_wait_recycling, setup2_small,
                                        teardown),
        T1(test_icmp_errors_to_tcp),
        T1(test_random_segments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
