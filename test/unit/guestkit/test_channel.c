/*
 * Host tests of guest-kit's channels (guest-kit/src/channel.c, the same
 * source as in gk_runtime, with proto/ring.c) against fakes of the event
 * and grant calls it makes. Both ends run in this process over one page:
 * the server's page is also the client's "mapping" (the fake gk_grant_map
 * checks the ref and that va is that page).
 *
 * What is checked: setup and the exchange of every message length; the
 * checks of what a client is given (ref, port, va) before any hypercall;
 * cleanup after a failure at every step of offer and connect; every kind
 * of corrupt ring (indices out of range or misaligned, record lengths that
 * do not fit, a non-zero reserved header word, a consumer index ahead of
 * the producer, misaligned starting indices) ends in a sticky
 * GK_CHAN_EDISCONNECTED, never an access outside the page (ASan) and
 * random header garbage likewise; blocking send and receive sleep only
 * after arming the ring and are woken by the other side's notification;
 * deadlines (the _until calls time out at the deadline and change nothing,
 * or receive what arrives in time); notification failures; close while the
 * peer still maps the page; and a
 * two-thread stream in which a lost wake-up would hang the test (bounded
 * by a timeout).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "gk/channel.h"
#include "gk/event.h"
#include "gk/grant.h"
#include "gk/time.h"

/* ---- The fake hypervisor --------------------------------------------------- */

enum { SERVER = 0, CLIENT = 1 };
#define SLOT_PEER 20u  /* the server's capability naming the client */
#define SLOT_SERVER 0u /* the client's capability naming the server */
#define REF 7u
#define SPORT 11u /* the server's port */
#define CPORT 22u /* the client's port */

static _Thread_local int side = SERVER;
static uint8_t *page; /* 4096 bytes from malloc: ASan sees any overrun */

enum fake_call {
    F_GRANT_PAGE,
    F_GRANT_END,
    F_ALLOC_UNBOUND,
    F_CLOSE,
    F_BIND_HANDLER,
    F_UNMASK,
    F_SEND,
    F_BIND_INTERDOMAIN,
    F_GRANT_MAP,
    F_GRANT_UNMAP,
    F_COUNT
};
static unsigned calls[F_COUNT];
static int fail_call = -1; /* this call fails with HV_EPERM */
static bool granted, mapped, sport_open, cport_open;
static struct {
    gk_evtchn_fn fn;
    void *arg;
} handlers[2];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool pend[2];
static bool threaded;
static void (*on_block)(void); /* single-threaded: what "the other side" does */
static unsigned blocks;

static int64_t fake(enum fake_call c)
{
    calls[c]++;
    return (int)c == fail_call ? HV_EPERM : HV_OK;
}

static int side_of_port(uint32_t port)
{
    return port == SPORT ? SERVER : CLIENT;
}

int64_t gk_grant_page(uint32_t dom_slot, const void *p, bool writable, uint32_t *ref)
{
    int64_t rc = fake(F_GRANT_PAGE);
    if (rc != HV_OK)
        return rc;
    assert_int_equal(dom_slot, SLOT_PEER);
    assert_ptr_equal(p, page);
    assert_true(writable);
    granted = true;
    *ref = REF;
    return HV_OK;
}

int64_t gk_grant_end(uint32_t ref)
{
    int64_t rc = fake(F_GRANT_END);
    if (rc != HV_OK)
        return rc;
    assert_int_equal(ref, REF);
    if (mapped)
        return HV_EBUSY;
    granted = false;
    return HV_OK;
}

int64_t gk_evtchn_alloc_unbound(uint32_t dom_slot, uint32_t *port)
{
    int64_t rc = fake(F_ALLOC_UNBOUND);
    if (rc != HV_OK)
        return rc;
    assert_int_equal(dom_slot, SLOT_PEER);
    sport_open = true;
    *port = SPORT;
    return HV_OK;
}

int64_t gk_evtchn_bind_interdomain(uint32_t dom_slot, uint32_t remote_port, uint32_t *port)
{
    int64_t rc = fake(F_BIND_INTERDOMAIN);
    if (rc != HV_OK)
        return rc;
    assert_int_equal(dom_slot, SLOT_SERVER);
    if (remote_port != SPORT || !sport_open)
        return HV_ENOENT;
    cport_open = true;
    pend[CLIENT] = true; /* a new port starts pending */
    *port = CPORT;
    return HV_OK;
}

int64_t gk_evtchn_close(uint32_t port)
{
    int64_t rc = fake(F_CLOSE);
    if (rc != HV_OK)
        return rc;
    if (port == SPORT)
        sport_open = false;
    else if (port == CPORT)
        cport_open = false;
    else
        fail_msg("close of unknown port %u", port);
    handlers[side_of_port(port)].fn = NULL;
    return HV_OK;
}

int64_t gk_evtchn_bind_handler(uint32_t port, gk_evtchn_fn fn, void *arg)
{
    int64_t rc = fake(F_BIND_HANDLER);
    if (rc != HV_OK)
        return rc;
    handlers[side_of_port(port)].fn = fn;
    handlers[side_of_port(port)].arg = arg;
    return HV_OK;
}

int64_t gk_evtchn_unmask(uint32_t port)
{
    (void)port;
    return fake(F_UNMASK);
}

int64_t gk_evtchn_send(uint32_t port)
{
    int64_t rc = fake(F_SEND);
    if (rc != HV_OK)
        return rc;
    int to = port == SPORT ? CLIENT : SERVER;
    if (port == SPORT && !cport_open)
        return HV_ENOENT; /* nobody bound yet */
    pthread_mutex_lock(&mu);
    pend[to] = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    return HV_OK;
}

bool gk_evtchn_test_and_clear(uint32_t port)
{
    int s = side_of_port(port);
    bool was = pend[s];
    pend[s] = false;
    return was;
}

int64_t gk_grant_map(uint32_t dom_slot, uint32_t ref, uint64_t va, bool writable)
{
    int64_t rc = fake(F_GRANT_MAP);
    if (rc != HV_OK)
        return rc;
    assert_int_equal(dom_slot, SLOT_SERVER);
    assert_true(writable);
    if (ref != REF || !granted)
        return HV_ENOENT;
    assert_int_equal(va, (uint64_t)(uintptr_t)page);
    mapped = true;
    return HV_OK;
}

int64_t gk_grant_unmap(uint64_t va)
{
    int64_t rc = fake(F_GRANT_UNMAP);
    if (rc != HV_OK)
        return rc;
    assert_int_equal(va, (uint64_t)(uintptr_t)page);
    assert_true(mapped);
    mapped = false;
    return HV_OK;
}

bool gk_events_disable(void)
{
    return true;
}

void gk_events_restore(bool was_enabled)
{
    (void)was_enabled;
}

/* Time: a fake clock that only moves when a blocked side's timer fires. */
static uint64_t fake_now = 1000000;
static uint64_t timer_deadline; /* 0: not armed */
static int64_t timer_result = HV_OK;
static unsigned timer_arms;

uint64_t gk_now_ns(void)
{
    return fake_now;
}

int64_t gk_timer_arm(uint64_t deadline_ns)
{
    timer_arms++;
    if (timer_result != HV_OK)
        return timer_result;
    timer_deadline = deadline_ns;
    return HV_OK;
}

/* Runs `s`'s handler if its port is pending (an upcall). */
static void deliver(int s)
{
    pthread_mutex_lock(&mu);
    bool p = pend[s];
    pend[s] = false;
    pthread_mutex_unlock(&mu);
    if (p && handlers[s].fn)
        handlers[s].fn(s == SERVER ? SPORT : CPORT, handlers[s].arg);
}

/* HC_BLOCK: returns once our port is pending, running its handler. */
void gk_block(void)
{
    blocks++;
    if (threaded) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 10;
        pthread_mutex_lock(&mu);
        while (!pend[side]) {
            if (pthread_cond_timedwait(&cv, &mu, &until) == ETIMEDOUT) {
                pthread_mutex_unlock(&mu);
                const struct ring_shared *a = (const void *)page, *b = (const void *)(page + 2048);
                fail_msg("side %d blocked 10 s: a lost wake-up (s2c prod %u cons %u pe %u ce %u; "
                         "c2s prod %u cons %u pe %u ce %u)",
                         side, a->prod, a->cons, a->prod_event, a->cons_event, b->prod, b->cons,
                         b->prod_event, b->cons_event);
            }
        }
        pthread_mutex_unlock(&mu);
        deliver(side);
        return;
    }
    if (!pend[side] && !on_block && timer_deadline != 0) {
        /* Nothing else will happen: the timer fires (its VIRQ wakes us). */
        if (timer_deadline > fake_now)
            fake_now = timer_deadline;
        timer_deadline = 0;
        return;
    }
    if (!pend[side]) {
        if (!on_block)
            fail_msg("side %d would block forever", side);
        int me = side;
        side = !me;
        on_block();
        side = me;
        if (!pend[me])
            fail_msg("side %d blocked and nothing woke it", me);
    }
    deliver(side);
}

/* ---- Helpers --------------------------------------------------------------- */

static struct gk_channel sch, cch;

static int reset(void **state)
{
    (void)state;
    free(page);
    page = aligned_alloc(4096, 4096);
    memset(page, 0xa5, 4096); /* formatting must not rely on a zeroed page */
    memset(calls, 0, sizeof(calls));
    memset(handlers, 0, sizeof(handlers));
    memset(pend, 0, sizeof(pend));
    fail_call = -1;
    granted = mapped = sport_open = cport_open = false;
    threaded = false;
    on_block = NULL;
    blocks = 0;
    side = SERVER;
    timer_deadline = 0;
    timer_result = HV_OK;
    timer_arms = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(page);
    page = NULL;
    return 0;
}

static unsigned total_calls(void)
{
    unsigned n = 0;
    for (int i = 0; i < F_COUNT; i++)
        n += calls[i];
    return n;
}

/* Offers, connects, accepts. */
static void setup_pair(void)
{
    uint32_t ref = 0, port = 0;
    side = SERVER;
    assert_int_equal(gk_channel_offer(&sch, SLOT_PEER, page, &ref, &port), HV_OK);
    assert_int_equal(ref, REF);
    assert_int_equal(port, SPORT);
    assert_false(gk_channel_poll_accept(&sch));
    side = CLIENT;
    assert_int_equal(gk_channel_connect(&cch, SLOT_SERVER, ref, port, (uintptr_t)page), HV_OK);
    assert_false(pend[CLIENT]); /* the new port's pending bit was cleared */
    side = SERVER;
    deliver(SERVER);
    assert_true(gk_channel_poll_accept(&sch));
    assert_int_equal(gk_channel_accept(&sch), HV_OK);
}

static void fill_msg(uint8_t *b, uint32_t len, uint32_t seed)
{
    for (uint32_t i = 0; i < len; i++)
        b[i] = (uint8_t)(seed * 31u + i * 7u);
}

/* ---- Tests ----------------------------------------------------------------- */

static void test_exchange(void **state)
{
    (void)state;
    setup_pair();
    assert_int_equal(gk_channel_max_msg(&sch), 1016);
    assert_int_equal(gk_channel_max_msg(&cch), 1016);
    uint8_t out[1100], in[1100];
    for (uint32_t len = 0; len <= 1016; len++) {
        fill_msg(out, len, len);
        side = SERVER;
        assert_int_equal(gk_channel_try_send(&sch, out, len), GK_CHAN_OK);
        side = CLIENT;
        uint32_t got = 12345;
        assert_int_equal(gk_channel_try_recv(&cch, in, sizeof(in), &got), GK_CHAN_OK);
        assert_int_equal(got, len);
        assert_memory_equal(in, out, len);
        assert_int_equal(gk_channel_try_recv(&cch, in, sizeof(in), &got), GK_CHAN_EMPTY);
        /* and back */
        assert_int_equal(gk_channel_try_send(&cch, in, len), GK_CHAN_OK);
        side = SERVER;
        assert_int_equal(gk_channel_try_recv(&sch, in, sizeof(in), &got), GK_CHAN_OK);
        assert_int_equal(got, len);
        assert_memory_equal(in, out, len);
    }
    assert_int_equal(gk_channel_try_send(&sch, out, 1017), GK_CHAN_ETOOBIG);
    /* A buffer too small: the length comes back, the message stays. */
    fill_msg(out, 100, 9);
    assert_int_equal(gk_channel_try_send(&sch, out, 100), GK_CHAN_OK);
    side = CLIENT;
    uint32_t got = 0;
    assert_int_equal(gk_channel_try_recv(&cch, in, 99, &got), GK_CHAN_ETOOBIG);
    assert_int_equal(got, 100);
    assert_int_equal(gk_channel_try_recv(&cch, in, 100, &got), GK_CHAN_OK);
    assert_memory_equal(in, out, 100);
    assert_int_equal(gk_channel_try_recv(&cch, NULL, 8, &got), GK_CHAN_EINVAL);
    assert_int_equal(gk_channel_try_send(&cch, NULL, 8), GK_CHAN_EINVAL);
    assert_false(gk_channel_disconnected(&cch));
    assert_false(gk_channel_disconnected(&sch));
    /* Full: messages are refused until the other side reads. */
    side = SERVER;
    unsigned sent = 0;
    while (gk_channel_try_send(&sch, out, 100) == GK_CHAN_OK)
        sent++;
    assert_int_equal(sent, 1024 / 112);
    assert_int_equal(gk_channel_try_send(&sch, out, 100), GK_CHAN_FULL);
}

static void test_connect_checks_input(void **state)
{
    (void)state;
    uint64_t va = (uintptr_t)page;
    struct {
        uint32_t ref, port;
        uint64_t va;
    } bad[] = {
        {0, SPORT, va},
        {HV_GRANT_REFS, SPORT, va},
        {0xffffffffu, SPORT, va},
        {REF, 0, va},
        {REF, HV_EVTCHN_PORTS, va},
        {REF, 0xffffffffu, va},
        {REF, SPORT, 0},
        {REF, SPORT, va + 8},
        {REF, SPORT, HV_GUEST_VA_LIMIT},
        {REF, SPORT, ~0ull & ~4095ull},
    };
    side = CLIENT;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(gk_channel_connect(&cch, SLOT_SERVER, bad[i].ref, bad[i].port, bad[i].va),
                         HV_EINVAL);
        assert_int_equal(total_calls(), 0);
        assert_true(gk_channel_disconnected(&cch));
    }
    assert_int_equal(gk_channel_connect(NULL, SLOT_SERVER, REF, SPORT, va), HV_EINVAL);
    side = SERVER;
    uint32_t ref, port;
    assert_int_equal(gk_channel_offer(&sch, SLOT_PEER, page + 8, &ref, &port), HV_EINVAL);
    assert_int_equal(gk_channel_offer(&sch, SLOT_PEER, NULL, &ref, &port), HV_EINVAL);
    assert_int_equal(gk_channel_offer(&sch, SLOT_PEER, page, NULL, &port), HV_EINVAL);
    assert_int_equal(gk_channel_offer(&sch, SLOT_PEER, page, &ref, NULL), HV_EINVAL);
    assert_int_equal(total_calls(), 0);
    /* A ref or port that passes the range check but is not ours: the
     * (fake) hypervisor refuses it and nothing stays mapped. */
    uint32_t r2, p2;
    assert_int_equal(gk_channel_offer(&sch, SLOT_PEER, page, &r2, &p2), HV_OK);
    side = CLIENT;
    assert_int_equal(gk_channel_connect(&cch, SLOT_SERVER, REF + 1, SPORT, va), HV_ENOENT);
    assert_false(mapped);
    assert_int_equal(gk_channel_connect(&cch, SLOT_SERVER, REF, SPORT + 1, va), HV_ENOENT);
    assert_false(mapped);
    assert_false(cport_open);
    /* Calls on a channel never set up. */
    uint8_t b[8];
    uint32_t got;
    assert_int_equal(gk_channel_try_send(&cch, b, 8), GK_CHAN_EDISCONNECTED);
    assert_int_equal(gk_channel_try_recv(&cch, b, 8, &got), GK_CHAN_EDISCONNECTED);
    assert_int_equal(gk_channel_try_send(NULL, b, 8), GK_CHAN_EINVAL);
    assert_int_equal(gk_channel_accept(&cch), HV_EINVAL);
}

/* Every step of offer and connect fails in turn: all that was done is undone. */
static void test_cleanup_on_failure(void **state)
{
    (void)state;
    const int offer_steps[] = {F_GRANT_PAGE, F_ALLOC_UNBOUND, F_BIND_HANDLER, F_UNMASK};
    for (size_t i = 0; i < sizeof(offer_steps) / sizeof(offer_steps[0]); i++) {
        reset(NULL);
        fail_call = offer_steps[i];
        uint32_t ref, port;
        assert_int_equal(gk_channel_offer(&sch, SLOT_PEER, page, &ref, &port), HV_EPERM);
        assert_false(granted);
        assert_false(sport_open);
        assert_true(gk_channel_disconnected(&sch));
    }
    const int connect_steps[] = {F_GRANT_MAP, F_BIND_INTERDOMAIN, F_BIND_HANDLER, F_UNMASK, F_SEND};
    for (size_t i = 0; i < sizeof(connect_steps) / sizeof(connect_steps[0]); i++) {
        reset(NULL);
        uint32_t ref, port;
        assert_int_equal(gk_channel_offer(&sch, SLOT_PEER, page, &ref, &port), HV_OK);
        fail_call = connect_steps[i];
        side = CLIENT;
        assert_int_equal(gk_channel_connect(&cch, SLOT_SERVER, ref, port, (uintptr_t)page),
                         HV_EPERM);
        assert_false(mapped);
        assert_false(cport_open);
        assert_true(gk_channel_disconnected(&cch));
        fail_call = -1;
        side = SERVER;
        assert_int_equal(gk_channel_close(&sch), HV_OK);
        assert_false(granted);
    }
}

/* The ring from client to server is at page + 2048; from server to client at page. */
static struct ring_shared *c2s(void)
{
    return (struct ring_shared *)(page + GK_CHANNEL_RING_BYTES);
}
static struct ring_shared *s2c(void)
{
    return (struct ring_shared *)page;
}

static void expect_disconnected(struct gk_channel *ch)
{
    uint8_t buf[2048];
    uint32_t got = 77;
    assert_int_equal(gk_channel_try_recv(ch, buf, sizeof(buf), &got), GK_CHAN_EDISCONNECTED);
    assert_int_equal(got, 0);
    assert_true(gk_channel_disconnected(ch));
    /* Sticky, in both directions, and blocking calls return too. */
    assert_int_equal(gk_channel_try_send(ch, buf, 8), GK_CHAN_EDISCONNECTED);
    assert_int_equal(gk_channel_send(ch, buf, 8), GK_CHAN_EDISCONNECTED);
    assert_int_equal(gk_channel_recv(ch, buf, sizeof(buf), &got), GK_CHAN_EDISCONNECTED);
    assert_int_equal(gk_channel_try_recv(ch, buf, sizeof(buf), &got), GK_CHAN_EDISCONNECTED);
}

static void corrupt_case(void (*corrupt)(void))
{
    reset(NULL);
    setup_pair();
    uint8_t m[40] = {1, 2, 3};
    side = CLIENT;
    assert_int_equal(gk_channel_try_send(&cch, m, sizeof(m)), GK_CHAN_OK);
    side = SERVER;
    corrupt();
    expect_disconnected(&sch);
    /* Our own close still works (the page is ours). */
    side = CLIENT;
    assert_int_equal(gk_channel_close(&cch), HV_OK);
    side = SERVER;
    assert_int_equal(gk_channel_close(&sch), HV_OK);
}

static void prod_far_ahead(void)
{
    c2s()->prod += 4096;
}
static void prod_behind(void)
{
    c2s()->prod -= 64; /* before our consumer index: "avail" wraps huge */
}
static void prod_misaligned(void)
{
    c2s()->prod += 3;
}
static void len_too_big(void)
{
    uint32_t n = 48; /* one record of 8 + 40 bytes is there, not 8 + 48 */
    memcpy(page + GK_CHANNEL_RING_BYTES + RING_HEADER_BYTES, &n, 4);
}
static void len_huge(void)
{
    uint32_t n = 0xfffffff8u;
    memcpy(page + GK_CHANNEL_RING_BYTES + RING_HEADER_BYTES, &n, 4);
}
static void reserved_nonzero(void)
{
    page[GK_CHANNEL_RING_BYTES + RING_HEADER_BYTES + 5] = 1;
}
static void short_record(void)
{
    c2s()->prod = 4; /* less than a record header published (and misaligned) */
}

static void test_corrupt_ring(void **state)
{
    (void)state;
    void (*cases[])(void) = {prod_far_ahead, prod_behind,      prod_misaligned, len_too_big,
                             len_huge,       reserved_nonzero, short_record};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        corrupt_case(cases[i]);
}

/* The producer validates the consumer's index it reads back. */
static void test_corrupt_consumer_index(void **state)
{
    (void)state;
    setup_pair();
    uint8_t m[16] = {0};
    side = SERVER;
    assert_int_equal(gk_channel_try_send(&sch, m, sizeof(m)), GK_CHAN_OK);
    s2c()->cons = s2c()->prod + 8; /* the client "consumed" more than was produced */
    assert_int_equal(gk_channel_try_send(&sch, m, sizeof(m)), GK_CHAN_EDISCONNECTED);
    expect_disconnected(&sch);
    reset(NULL);
    setup_pair();
    s2c()->cons = 12; /* misaligned */
    assert_int_equal(gk_channel_try_send(&sch, m, sizeof(m)), GK_CHAN_EDISCONNECTED);
}

/* Garbage in the peer's event index only costs notifications. */
static void test_hostile_event_index(void **state)
{
    (void)state;
    setup_pair();
    uint8_t m[16] = {0}, in[16];
    uint32_t got;
    side = SERVER;
    for (uint32_t i = 0; i < 200; i++) {
        s2c()->cons_event = (uint32_t)rand();
        assert_int_equal(gk_channel_try_send(&sch, m, sizeof(m)), GK_CHAN_OK);
        side = CLIENT;
        c2s()->prod_event = (uint32_t)rand();
        assert_int_equal(gk_channel_try_recv(&cch, in, sizeof(in), &got), GK_CHAN_OK);
        side = SERVER;
    }
    assert_false(gk_channel_disconnected(&sch));
    assert_false(gk_channel_disconnected(&cch));
}

/* A server formatted the rings with misaligned indices before the client
 * attached: the client refuses to use them. */
static void test_misaligned_start(void **state)
{
    (void)state;
    uint32_t ref, port;
    assert_int_equal(gk_channel_offer(&sch, SLOT_PEER, page, &ref, &port), HV_OK);
    s2c()->prod = 3;
    s2c()->cons = 3;
    side = CLIENT;
    assert_int_equal(gk_channel_connect(&cch, SLOT_SERVER, ref, port, (uintptr_t)page), HV_OK);
    expect_disconnected(&cch);
}

/* Random header and data garbage: every call returns a defined status, a
 * disconnection is sticky, nothing is touched outside the page (ASan). */
static void test_random_garbage(void **state)
{
    (void)state;
    srand(12345);
    unsigned disconnected = 0;
    for (int round = 0; round < 2000; round++) {
        reset(NULL);
        setup_pair();
        uint8_t buf[1100];
        uint32_t got;
        for (int step = 0; step < 20; step++) {
            int what = rand() % 6;
            uint32_t v = (uint32_t)rand() ^ ((uint32_t)rand() << 16);
            switch (what) {
            case 0: c2s()->prod = v; break;
            case 1: s2c()->cons = v; break;
            case 2:
                page[GK_CHANNEL_RING_BYTES + RING_HEADER_BYTES + (v % 1024)] = (uint8_t)v;
                break;
            case 3:
                memcpy(page + GK_CHANNEL_RING_BYTES + RING_HEADER_BYTES + (v % 128) * 8, &v, 4);
                break;
            case 4: c2s()->prod += 8 * (v % 16); break;
            default: s2c()->cons_event = v; break;
            }
            side = SERVER;
            enum gk_chan_status r = gk_channel_try_recv(&sch, buf, (uint32_t)(v % 1100), &got);
            assert_true(r == GK_CHAN_OK || r == GK_CHAN_EMPTY || r == GK_CHAN_ETOOBIG ||
                        r == GK_CHAN_EDISCONNECTED);
            if (r == GK_CHAN_OK || r == GK_CHAN_ETOOBIG)
                assert_true(got <= 1016);
            enum gk_chan_status s = gk_channel_try_send(&sch, buf, v % 64);
            assert_true(s == GK_CHAN_OK || s == GK_CHAN_FULL || s == GK_CHAN_EDISCONNECTED ||
                        s == GK_CHAN_ENOTIFY);
            if (r == GK_CHAN_EDISCONNECTED || s == GK_CHAN_EDISCONNECTED) {
                expect_disconnected(&sch);
                disconnected++;
                break;
            }
        }
    }
    assert_true(disconnected > 1000); /* the garbage was noticed, mostly */
}

/* Blocking receive: arms, re-checks, blocks; the writer's notification wakes it. */
static uint8_t later_msg[24] = "written while asleep";
static void client_writes(void)
{
    assert_int_equal(gk_channel_try_send(&cch, later_msg, sizeof(later_msg)), GK_CHAN_OK);
}

static void test_blocking_recv(void **state)
{
    (void)state;
    setup_pair();
    side = SERVER;
    on_block = client_writes;
    uint8_t in[64];
    uint32_t got = 0;
    unsigned sends = calls[F_SEND];
    assert_int_equal(gk_channel_recv(&sch, in, sizeof(in), &got), GK_CHAN_OK);
    assert_int_equal(got, sizeof(later_msg));
    assert_memory_equal(in, later_msg, sizeof(later_msg));
    assert_int_equal(blocks, 1);
    assert_int_equal(calls[F_SEND], sends + 1); /* the writer saw our armed index */
    /* Data already there: no block. */
    side = CLIENT;
    client_writes();
    side = SERVER;
    on_block = NULL;
    assert_int_equal(gk_channel_recv(&sch, in, sizeof(in), &got), GK_CHAN_OK);
    assert_int_equal(blocks, 1);
}

/* Blocking send on a full ring: woken when the reader frees room. */
static void client_drains(void)
{
    uint8_t in[1100];
    uint32_t got;
    while (gk_channel_try_recv(&cch, in, sizeof(in), &got) == GK_CHAN_OK)
        ;
}

static void test_blocking_send(void **state)
{
    (void)state;
    setup_pair();
    uint8_t m[500] = {0};
    side = SERVER;
    while (gk_channel_try_send(&sch, m, sizeof(m)) == GK_CHAN_OK)
        ;
    on_block = client_drains;
    assert_int_equal(gk_channel_send(&sch, m, sizeof(m)), GK_CHAN_OK);
    assert_int_equal(blocks, 1);
}

/* Deadlines: an empty ring times out at the deadline (after blocking once,
 * the timer armed for it) and nothing changes; a past deadline still tries
 * once; a message that arrives in time is received; a full ring times a
 * send out; a timer that cannot be armed is reported. */
static void test_recv_until(void **state)
{
    (void)state;
    setup_pair();
    side = SERVER;
    uint8_t in[64];
    uint32_t got = 99;
    uint64_t t0 = fake_now, deadline = t0 + 5000000;
    unsigned before = total_calls();
    assert_int_equal(gk_channel_recv_until(&sch, in, sizeof(in), &got, deadline),
                     GK_CHAN_ETIMEDOUT);
    assert_int_equal(got, 0);
    assert_int_equal(blocks, 1);
    assert_int_equal(timer_arms, 1);
    assert_int_equal(fake_now, deadline);
    assert_int_equal(total_calls(), before); /* no notification, nothing else */
    assert_false(gk_channel_disconnected(&sch));
    /* Already past: no block, no timer. */
    assert_int_equal(gk_channel_recv_until(&sch, in, sizeof(in), &got, t0), GK_CHAN_ETIMEDOUT);
    assert_int_equal(blocks, 1);
    assert_int_equal(timer_arms, 1);
    /* Past, but a message is there: received. */
    side = CLIENT;
    client_writes();
    side = SERVER;
    assert_int_equal(gk_channel_recv_until(&sch, in, sizeof(in), &got, t0), GK_CHAN_OK);
    assert_int_equal(got, sizeof(later_msg));
    assert_memory_equal(in, later_msg, sizeof(later_msg));
    /* Arrives while we wait: received before the deadline. */
    deliver(SERVER); /* the notification of the message just read */
    on_block = client_writes;
    deadline = fake_now + 5000000;
    assert_int_equal(gk_channel_recv_until(&sch, in, sizeof(in), &got, deadline), GK_CHAN_OK);
    assert_int_equal(got, sizeof(later_msg));
    assert_true(fake_now < deadline);
    assert_int_equal(blocks, 2);
    /* The timer cannot be armed: reported, nothing received. */
    on_block = NULL;
    timer_result = HV_EINVAL;
    assert_int_equal(gk_channel_recv_until(&sch, in, sizeof(in), &got, fake_now + 1),
                     GK_CHAN_ENOTIFY);
    assert_int_equal(gk_channel_last_error(&sch), HV_EINVAL);
    assert_int_equal(blocks, 2);
    /* The channel still works afterwards. */
    timer_result = HV_OK;
    side = CLIENT;
    client_writes();
    side = SERVER;
    assert_int_equal(gk_channel_recv(&sch, in, sizeof(in), &got), GK_CHAN_OK);
}

static void test_send_until(void **state)
{
    (void)state;
    setup_pair();
    uint8_t m[500] = {0};
    side = SERVER;
    unsigned fit = 0;
    while (gk_channel_try_send(&sch, m, sizeof(m)) == GK_CHAN_OK)
        fit++;
    uint64_t deadline = fake_now + 1000;
    assert_int_equal(gk_channel_send_until(&sch, m, sizeof(m), deadline), GK_CHAN_ETIMEDOUT);
    assert_int_equal(fake_now, deadline);
    assert_int_equal(blocks, 1);
    /* Nothing extra went in: the reader finds exactly the messages that fit. */
    side = CLIENT;
    uint8_t in[600];
    uint32_t got;
    unsigned n = 0;
    while (gk_channel_try_recv(&cch, in, sizeof(in), &got) == GK_CHAN_OK)
        n++;
    assert_int_equal(n, fit);
    /* With room (and a deadline already past) it goes through. */
    side = SERVER;
    assert_int_equal(gk_channel_send_until(&sch, m, sizeof(m), 0), GK_CHAN_OK);
    /* A disconnected channel says so rather than time out. */
    sch.disconnected = true;
    assert_int_equal(gk_channel_send_until(&sch, m, sizeof(m), fake_now + 10),
                     GK_CHAN_EDISCONNECTED);
    assert_int_equal(gk_channel_recv_until(&sch, in, sizeof(in), &got, fake_now + 10),
                     GK_CHAN_EDISCONNECTED);
}

/* A failed notification is reported (the message itself went through);
 * a server whose client has not bound yet ignores it. */
static void test_notify_failure(void **state)
{
    (void)state;
    uint32_t ref, port;
    assert_int_equal(gk_channel_offer(&sch, SLOT_PEER, page, &ref, &port), HV_OK);
    uint8_t m[8] = {0}, in[8];
    uint32_t got;
    s2c()->cons_event = 1; /* as if the client waited: ring_write asks to notify */
    assert_int_equal(gk_channel_try_send(&sch, m, sizeof(m)), GK_CHAN_OK);
    setup_pair();
    side = CLIENT;
    c2s()->cons_event = c2s()->prod + 1;
    fail_call = F_SEND;
    assert_int_equal(gk_channel_try_send(&cch, m, sizeof(m)), GK_CHAN_ENOTIFY);
    assert_int_equal(gk_channel_last_error(&cch), HV_EPERM);
    fail_call = -1;
    side = SERVER;
    assert_int_equal(gk_channel_try_recv(&sch, in, sizeof(in), &got), GK_CHAN_OK);
}

static unsigned app_events;
static void app_event(struct gk_channel *ch, void *arg)
{
    assert_ptr_equal(ch, &sch);
    assert_ptr_equal(arg, &app_events);
    app_events++;
}

static void test_close_and_events(void **state)
{
    (void)state;
    setup_pair();
    side = SERVER;
    gk_channel_set_event_fn(&sch, app_event, &app_events);
    side = CLIENT;
    s2c()->cons_event = 0;
    c2s()->cons_event = c2s()->prod + 1;
    uint8_t m[8] = {0};
    assert_int_equal(gk_channel_try_send(&cch, m, sizeof(m)), GK_CHAN_OK);
    side = SERVER;
    deliver(SERVER);
    assert_int_equal(app_events, 1);
    /* The client still maps the page: ending the grant is refused, and
     * close can be called again once the client is gone. */
    assert_int_equal(gk_channel_close(&sch), HV_EBUSY);
    assert_false(sport_open);
    assert_true(granted);
    side = CLIENT;
    assert_int_equal(gk_channel_close(&cch), HV_OK);
    assert_false(mapped);
    assert_int_equal(gk_channel_close(&cch), HV_OK); /* nothing left to do */
    side = SERVER;
    unsigned closes = calls[F_CLOSE];
    assert_int_equal(gk_channel_close(&sch), HV_OK);
    assert_int_equal(calls[F_CLOSE], closes); /* the port is not closed twice */
    assert_false(granted);
    assert_int_equal(gk_channel_close(NULL), HV_EINVAL);
}

/* Two threads stream messages with blocking calls, one way and then the
 * other (each end is used by one thread, as a channel is by one VCPU). A
 * lost wake-up in the channel's use of the ring protocol hangs one side:
 * the fake HC_BLOCK fails the test after 10 s. */
#define STREAM 200000u

static uint32_t stream_len(uint32_t i)
{
    return 5 + (i % 300);
}

static void *stream_reader(void *arg)
{
    struct gk_channel *ch = arg;
    side = ch == &sch ? SERVER : CLIENT;
    uint8_t buf[1100];
    for (uint32_t i = 0; i < STREAM; i++) {
        uint32_t got = 0, seq;
        if (gk_channel_recv(ch, buf, sizeof(buf), &got) != GK_CHAN_OK)
            return (void *)1;
        memcpy(&seq, buf, 4);
        if (seq != i || got != stream_len(i) || buf[got - 1] != (uint8_t)i)
            return (void *)2;
    }
    return NULL;
}

static void stream_write(struct gk_channel *ch)
{
    side = ch == &sch ? SERVER : CLIENT;
    uint8_t buf[1100] = {0};
    for (uint32_t i = 0; i < STREAM; i++) {
        uint32_t len = stream_len(i);
        memcpy(buf, &i, 4);
        buf[len - 1] = (uint8_t)i;
        assert_int_equal(gk_channel_send(ch, buf, len), GK_CHAN_OK);
    }
}

static void test_threads(void **state)
{
    (void)state;
    setup_pair();
    threaded = true;
    for (int dir = 0; dir < 2; dir++) {
        struct gk_channel *reader = dir == 0 ? &cch : &sch, *writer = dir == 0 ? &sch : &cch;
        pthread_t t;
        unsigned before = blocks;
        assert_int_equal(pthread_create(&t, NULL, stream_reader, reader), 0);
        stream_write(writer);
        void *rc;
        pthread_join(t, &rc);
        assert_null(rc);
        assert_true(blocks > before); /* somebody did wait */
    }
    threaded = false;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exchange, reset, teardown),
        cmocka_unit_test_setup_teardown(test_connect_checks_input, reset, teardown),
        cmocka_unit_test_setup_teardown(test_cleanup_on_failure, reset, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_ring, reset, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_consumer_index, reset, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_event_index, reset, teardown),
        cmocka_unit_test_setup_teardown(test_misaligned_start, reset, teardown),
        cmocka_unit_test_setup_teardown(test_random_garbage, reset, teardown),
        cmocka_unit_test_setup_teardown(test_blocking_recv, reset, teardown),
        cmocka_unit_test_setup_teardown(test_blocking_send, reset, teardown),
        cmocka_unit_test_setup_teardown(test_recv_until, reset, teardown),
        cmocka_unit_test_setup_teardown(test_send_until, reset, teardown),
        cmocka_unit_test_setup_teardown(test_notify_failure, reset, teardown),
        cmocka_unit_test_setup_teardown(test_close_and_events, reset, teardown),
        cmocka_unit_test_setup_teardown(test_threads, reset, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
