/*
 * Host tests of the network front end (guest-kit/src/net_front.c) over a
 * fake bus connection (the gk_conn_* calls it uses, defined here over
 * in-memory message queues): the configuration first (frames before it
 * dropped, a bad one ignored), the stack's configuration from it (RSIP,
 * the lease as ephemeral ports), frames both ways wrapped in hv/netif.h
 * messages, hostile messages from netback (short, unknown type, bad frame
 * lengths, too long for any message) counted and skipped, a full ring
 * counted as a lost frame, the driver's wait sleeping until the deadline,
 * two stacks talking TCP through two front ends and a fake netback
 * that switches their frames, and the same transfer surviving netback's
 * restart in the middle (the connection gone, frames lost meanwhile, the
 * new connection taken when it is introduced: docs/restart.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gk/bus.h"
#include "gk/net.h"
#include "gk/time.h"
#include "hv/netif.h"

/* ---- A fake connection ---------------------------------------------------- */

#define QMSGS 512
#define MSG_BYTES 8192

struct fq {
    uint32_t head, n;
    uint32_t len[QMSGS];
    uint8_t *data; /* QMSGS * MSG_BYTES */
};

struct gk_conn {
    struct fq in, out; /* in: netback -> front end; out: front end -> netback */
    bool gone, closed;
    uint32_t out_cap; /* messages the ring takes before it is "full" */
};

static uint64_t fake_now;
#define CONNS 3
static struct gk_conn conns[CONNS];
static int next_conn, offered = 2; /* connections introduced so far */
static uint64_t waited_until;

uint64_t gk_now_ns(void)
{
    return fake_now;
}

static void fq_push(struct fq *q, const void *m, uint32_t len)
{
    assert_true(q->n < QMSGS && len <= MSG_BYTES);
    uint32_t at = (q->head + q->n) % QMSGS;
    memcpy(q->data + (size_t)at * MSG_BYTES, m, len);
    q->len[at] = len;
    q->n++;
}

struct gk_conn *gk_conn_wait(const char *name, uint64_t deadline_ns)
{
    (void)deadline_ns;
    if (strcmp(name, "net") != 0 || next_conn >= offered)
        return NULL;
    return &conns[next_conn++];
}

enum gk_chan_status gk_conn_peek(struct gk_conn *c, uint32_t *len, const uint8_t **bulk,
                                 uint64_t deadline_ns)
{
    if (bulk)
        *bulk = NULL;
    if (c->in.n) {
        *len = c->in.len[c->in.head];
        return GK_CHAN_OK;
    }
    if (c->gone)
        return GK_CHAN_EDISCONNECTED;
    /* Nothing comes in this single-threaded world: time passes. */
    waited_until = deadline_ns;
    if (deadline_ns > fake_now && deadline_ns != UINT64_MAX)
        fake_now = deadline_ns;
    return GK_CHAN_ETIMEDOUT;
}

enum gk_chan_status gk_conn_release(struct gk_conn *c)
{
    if (c->in.n == 0)
        return GK_CHAN_EINVAL;
    c->in.head = (c->in.head + 1) % QMSGS;
    c->in.n--;
    return GK_CHAN_OK;
}

enum gk_chan_status gk_conn_recv(struct gk_conn *c, void *buf, uint32_t cap, uint32_t *len,
                                 uint64_t deadline_ns)
{
    (void)deadline_ns;
    if (c->in.n == 0)
        return c->gone ? GK_CHAN_EDISCONNECTED : GK_CHAN_ETIMEDOUT;
    uint32_t n = c->in.len[c->in.head];
    *len = n;
    if (n > cap)
        return GK_CHAN_ETOOBIG;
    memcpy(buf, c->in.data + (size_t)c->in.head * MSG_BYTES, n);
    return gk_conn_release(c);
}

enum gk_chan_status gk_conn_send(struct gk_conn *c, const void *msg, uint32_t len,
                                 uint64_t deadline_ns)
{
    (void)deadline_ns;
    if (c->gone)
        return GK_CHAN_EDISCONNECTED;
    if (c->out.n >= c->out_cap)
        return GK_CHAN_ETIMEDOUT;
    fq_push(&c->out, msg, len);
    return GK_CHAN_OK;
}

bool gk_conn_gone(const struct gk_conn *c)
{
    return c->gone;
}

int64_t gk_conn_close(struct gk_conn *c)
{
    c->closed = true;
    return 0;
}

/* ---- Helpers -------------------------------------------------------------------- */

static const uint8_t NB_MAC[6] = {2, 0, 0, 0, 0, 0x10};

static void send_config(struct gk_conn *c, uint32_t addr, uint16_t lo, uint16_t hi, uint16_t mtu)
{
    struct netif_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.hdr.type = NETIF_MSG_CONFIG;
    memcpy(cfg.mac, NB_MAC, 6);
    cfg.mtu = mtu;
    cfg.addr = addr;
    cfg.netmask = GK_IP4(255, 255, 255, 0);
    cfg.port_lo = lo;
    cfg.port_hi = hi;
    cfg.flags = NETIF_F_RSIP;
    fq_push(&c->in, &cfg, sizeof cfg);
}

static void send_frame_msg(struct gk_conn *c, uint16_t type, const uint8_t *f, uint32_t len)
{
    uint8_t m[MSG_BYTES];
    struct netif_hdr h = {type, 0};
    memcpy(m, &h, sizeof h);
    memcpy(m + sizeof h, f, len);
    fq_push(&c->in, m, (uint32_t)sizeof h + len);
}

static int setup(void **state)
{
    (void)state;
    fake_now = 1000000000ull;
    next_conn = 0;
    offered = 2;
    for (int i = 0; i < CONNS; i++) {
        memset(&conns[i], 0, sizeof conns[i]);
        conns[i].in.data = malloc((size_t)QMSGS * MSG_BYTES);
        conns[i].out.data = malloc((size_t)QMSGS * MSG_BYTES);
        conns[i].out_cap = QMSGS;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < CONNS; i++) {
        free(conns[i].in.data);
        free(conns[i].out.data);
    }
    return 0;
}

/* ---- Tests ---------------------------------------------------------------------- */

static void test_config_first_and_hostile_messages(void **state)
{
    (void)state;
    struct gk_conn *c = &conns[0];
    uint8_t f[1514];
    memset(f, 0xab, sizeof f);
    send_frame_msg(c, NETIF_MSG_FRAME, f, 60); /* before the configuration: dropped */
    send_config(c, GK_IP4(192, 0, 2, 10), 30000, 20000, 1500); /* lo > hi: ignored */
    send_config(c, GK_IP4(192, 0, 2, 10), 20000, 20999, 1500);
    struct gk_net *n = gk_net_open("net", UINT64_MAX);
    assert_non_null(n);
    const struct gk_net_config *cfg = gk_net_config_get(n);
    assert_int_equal(cfg->addr, GK_IP4(192, 0, 2, 10));
    assert_int_equal(cfg->port_lo, 20000);
    assert_true(cfg->rsip);
    struct gk_ip_config ic;
    gk_net_ip_config(n, &ic);
    assert_memory_equal(ic.mac, NB_MAC, 6);
    assert_int_equal(ic.port_hi, 20999);
    assert_true(ic.rsip);
    struct gk_net_stats st;
    gk_net_get_stats(n, &st);
    assert_int_equal(st.configs, 1);
    assert_int_equal(st.rx_bad, 2); /* the early frame, the bad configuration */
    /* Hostile messages: all skipped, the good frame after them arrives. */
    uint8_t tiny[2] = {2, 0};
    fq_push(&c->in, tiny, 2);                   /* shorter than a header */
    send_frame_msg(c, 7, f, 60);                /* unknown type */
    send_frame_msg(c, NETIF_MSG_FRAME, f, 13);  /* frame too short */
    send_frame_msg(c, NETIF_MSG_FRAME, f, 100); /* fine */
    static uint8_t big[MSG_BYTES];
    fq_push(&c->in, big, 3000); /* too long for any message */
    struct netif_config bad;
    memset(&bad, 0, sizeof bad);
    bad.hdr.type = NETIF_MSG_CONFIG;
    fq_push(&c->in, &bad, 10);                   /* a truncated configuration */
    send_frame_msg(c, NETIF_MSG_FRAME, f, 1514); /* the largest frame */
    struct gk_ip_driver d = gk_net_driver(n);
    uint8_t buf[1514];
    size_t len;
    assert_int_equal(d.recv(d.ctx, buf, sizeof buf, &len), 0);
    assert_int_equal(len, 100);
    assert_int_equal(d.recv(d.ctx, buf, sizeof buf, &len), 0);
    assert_int_equal(len, 1514);
    assert_int_equal(d.recv(d.ctx, buf, sizeof buf, &len), -1);
    gk_net_get_stats(n, &st);
    assert_int_equal(st.rx_bad, 2 + 5);
    assert_int_equal(st.rx_frames, 2);
    /* Sending: wrapped in a frame message; a full ring is a lost frame. */
    assert_int_equal(d.send(d.ctx, f, 60), 0);
    assert_int_equal(c->out.n, 1);
    assert_int_equal(c->out.len[0], 64);
    struct netif_hdr h;
    memcpy(&h, c->out.data, sizeof h);
    assert_int_equal(h.type, NETIF_MSG_FRAME);
    assert_int_equal(d.send(d.ctx, f, 13), -1);
    c->out_cap = 1;
    assert_int_equal(d.send(d.ctx, f, 60), -1);
    gk_net_get_stats(n, &st);
    assert_int_equal(st.tx_failed, 2);
    /* The driver's wait sleeps until the deadline when nothing comes. */
    d.wait(d.ctx, fake_now + 5000);
    assert_int_equal(waited_until, 1000000000ull + 5000);
    assert_false(gk_net_gone(n));
    c->gone = true;
    assert_true(gk_net_gone(n));
    gk_net_close(n);
    assert_true(c->closed);
}

static void test_no_connection_or_no_config(void **state)
{
    (void)state;
    assert_null(gk_net_open("other", 0));
    /* Connected, but netback never configures: NULL at the deadline. */
    assert_null(gk_net_open("net", fake_now + 1000));
    assert_true(conns[0].closed);
}

/* Two stacks, each behind its own front end; the fake netback moves frame
 * messages from one connection's out queue to the other's in queue. */
static void switch_frames(void)
{
    for (int i = 0; i < 2; i++) {
        struct fq *o = &conns[i].out;
        while (o->n) {
            fq_push(&conns[1 - i].in, o->data + (size_t)o->head * MSG_BYTES, o->len[o->head]);
            o->head = (o->head + 1) % QMSGS;
            o->n--;
        }
    }
}

/* Two stacks (192.0.2.1 and .2, no RSIP), each behind its own front end
 * opened on conns[0] and conns[1]; b listens on port 80 and a connects. */
struct pair {
    struct gk_net *na, *nb;
    struct gk_ip_driver da, db;
    struct gk_ip *a, *b;
    int l, s;
};

static void pair_open(struct pair *p)
{
    send_config(&conns[0], GK_IP4(192, 0, 2, 1), 40000, 40999, 1500);
    send_config(&conns[1], GK_IP4(192, 0, 2, 2), 50000, 50999, 1500);
    p->na = gk_net_open("net", UINT64_MAX);
    p->nb = gk_net_open("net", UINT64_MAX);
    assert_non_null(p->na);
    assert_non_null(p->nb);
    struct gk_ip_config ca, cb;
    gk_net_ip_config(p->na, &ca);
    gk_net_ip_config(p->nb, &cb);
    ca.rsip = cb.rsip = false; /* two addresses here, no router */
    ca.mac[5] = 1;
    cb.mac[5] = 2;
    p->da = gk_net_driver(p->na);
    p->db = gk_net_driver(p->nb);
    p->a = gk_ip_create(&ca, &p->da);
    p->b = gk_ip_create(&cb, &p->db);
    assert_non_null(p->a);
    assert_non_null(p->b);
    p->l = gk_sock_open(p->b, GK_SOCK_STREAM);
    gk_sock_set(p->b, p->l, GK_SOCK_NONBLOCK, 1);
    assert_int_equal(gk_sock_bind(p->b, p->l, 80), 0);
    assert_int_equal(gk_sock_listen(p->b, p->l, 2), 0);
    p->s = gk_sock_open(p->a, GK_SOCK_STREAM);
    gk_sock_set(p->a, p->s, GK_SOCK_NONBLOCK, 1);
    struct gk_sockaddr to = {GK_IP4(192, 0, 2, 2), 80};
    assert_int_equal(gk_sock_connect(p->a, p->s, &to), GK_IP_EINPROGRESS);
}

static void pair_close(struct pair *p)
{
    gk_ip_destroy(p->a);
    gk_ip_destroy(p->b);
    gk_net_close(p->na);
    gk_net_close(p->nb);
}

static void test_tcp_between_two_front_ends(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p);
    struct gk_ip *a = p.a, *b = p.b;
    int l = p.l, s = p.s;
    struct gk_sockaddr me;
    assert_int_equal(gk_sock_name(a, s, &me, NULL), 0);
    assert_true(me.port >= 40000 && me.port <= 40999); /* from the lease */
    int c = -1;
    static uint8_t data[200000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 13 + (i >> 10));
    size_t sent = 0, got = 0;
    static uint8_t rx[200000];
    for (int step = 0; step < 20000 && got < sizeof data; step++) {
        gk_ip_poll(a);
        gk_ip_poll(b);
        switch_frames();
        if (c < 0 && (c = gk_sock_accept(b, l, NULL)) >= 0)
            gk_sock_set(b, c, GK_SOCK_NONBLOCK, 1);
        long n;
        if (sent < sizeof data && (n = gk_sock_send(a, s, data + sent, sizeof data - sent)) > 0)
            sent += (size_t)n;
        if (c >= 0)
            while ((n = gk_sock_recv(b, c, rx + got, sizeof rx - got)) > 0)
                got += (size_t)n;
        fake_now += 100000; /* 100 us a step */
    }
    assert_int_equal(got, sizeof data);
    assert_memory_equal(rx, data, sizeof data);
    struct gk_net_stats st;
    gk_net_get_stats(p.na, &st);
    assert_true(st.tx_frames > 100 && st.rx_frames > 50);
    assert_int_equal(st.rx_bad, 0);
    pair_close(&p);
}

/* As above, but netback restarts in the middle of the transfer: stack a's
 * connection goes (frames both ways are lost for 50 steps), then a new one
 * is introduced with the same configuration; the transfer completes, every
 * byte in order. */
static void test_tcp_survives_a_restart(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p);
    struct gk_ip *a = p.a, *b = p.b;
    int l = p.l, s = p.s;
    static uint8_t data[300000], rx[300000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 13 + (i >> 10));
    struct gk_conn *cur = &conns[0]; /* stack a's connection to the fake netback */
    int c = -1, away = -1;
    size_t sent = 0, got = 0;
    for (int step = 0; step < 200000 && got < sizeof data; step++) {
        gk_ip_poll(a);
        gk_ip_poll(b);
        /* The fake netback: a's frames to b, b's to a's connection if it is there. */
        for (struct fq *o = &cur->out; o->n; o->head = (o->head + 1) % QMSGS, o->n--)
            if (!cur->gone)
                fq_push(&conns[1].in, o->data + (size_t)o->head * MSG_BYTES, o->len[o->head]);
        for (struct fq *o = &conns[1].out; o->n; o->head = (o->head + 1) % QMSGS, o->n--)
            if (!cur->gone)
                fq_push(&cur->in, o->data + (size_t)o->head * MSG_BYTES, o->len[o->head]);
        if (away < 0 && got > sizeof data / 3) {
            cur->gone = true; /* netback went away */
            away = step;
        }
        if (away >= 0 && step == away + 50 && offered == 2) {
            send_config(&conns[2], GK_IP4(192, 0, 2, 1), 40000, 40999, 1500);
            offered = 3; /* its new instance: the control domain introduces it */
            cur = &conns[2];
        }
        if (c < 0 && (c = gk_sock_accept(b, l, NULL)) >= 0)
            gk_sock_set(b, c, GK_SOCK_NONBLOCK, 1);
        long n;
        if (sent < sizeof data && (n = gk_sock_send(a, s, data + sent, sizeof data - sent)) > 0)
            sent += (size_t)n;
        if (c >= 0)
            while ((n = gk_sock_recv(b, c, rx + got, sizeof rx - got)) > 0)
                got += (size_t)n;
        fake_now += 100000;
    }
    assert_true(away >= 0);
    assert_int_equal(got, sizeof data);
    assert_memory_equal(rx, data, sizeof data);
    struct gk_net_stats st;
    gk_net_get_stats(p.na, &st);
    assert_int_equal(st.losses, 1);
    assert_int_equal(st.reconnects, 1);
    assert_true(st.tx_failed > 0); /* frames sent while it was away were lost */
    assert_true(conns[0].closed);  /* the old connection was closed */
    assert_false(gk_net_gone(p.na));
    assert_int_equal(gk_net_away_ns(p.na), 0);
    pair_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_first_and_hostile_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_connection_or_no_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_between_two_front_ends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_survives_a_restart, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
