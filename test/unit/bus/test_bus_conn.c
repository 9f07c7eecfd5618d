/*
 * The control domain's bus rules (domains/control/bus_conn.c) against a
 * domain played by this test over a real duplex area: what is read and
 * when (hello first, allowed types, the budget is the caller's, the rate
 * with a fake clock, replies that must fit), strikes and disconnection,
 * the outgoing queue and the 5 s stuck rule, and a broken ring.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bus_conn.h"

#define SEC 1000000000ull

static uint8_t *area;
static struct bus_conn c;  /* the control domain's side */
static struct duplex dom;  /* the domain's side */
static struct proto_msg m; /* large: static */
static uint8_t buf[BUS_CONN_MSG_MAX], enc[BUS_CONN_MSG_MAX];

static void setup_area(uint64_t now)
{
    free(area);
    area = aligned_alloc(4096, 3 * 4096);
    memset(area, 0, 3 * 4096);
    assert_true(duplex_format(area, 4096, 0));
    assert_true(duplex_attach(&c.d, area, 4096, 0, DUPLEX_OFFERER));
    bus_conn_init(&c, now);
    assert_true(duplex_attach(&dom, area, 4096, 0, DUPLEX_ACCEPTOR));
}

/* The domain sends m. */
static void dom_send(void)
{
    size_t n;
    struct hvcbor_error e;
    assert_true(proto_msg_encode(&m, enc, sizeof enc, &n, &e));
    bool notify;
    assert_int_equal(duplex_send(&dom, enc, (uint32_t)n, &notify), RING_OK);
}

static void dom_hello(void)
{
    m.type = PROTO_MSG_BUS_HELLO;
    m.u.bus_hello = (struct proto_bus_hello){.request_id = 1, .version = PROTO_VERSION};
    dom_send();
}

static void dom_ping(uint64_t id)
{
    m.type = PROTO_MSG_BUS_PING;
    m.u.bus_ping = (struct proto_bus_ping){.request_id = id, .seq = id};
    dom_send();
}

static enum bus_rx next(uint64_t now, uint64_t *id, const char **why)
{
    static struct proto_msg out;
    bool notify;
    return bus_conn_next(&c, now, buf, sizeof buf, &out, id, why, &notify);
}

static void test_hello_first_and_allowed_types(void **state)
{
    (void)state;
    setup_area(0);
    uint64_t id;
    const char *why;
    assert_int_equal(next(0, &id, &why), BUS_RX_NONE); /* empty */
    dom_ping(5);
    assert_int_equal(next(0, &id, &why), BUS_RX_REFUSED);
    assert_int_equal(id, 5);
    assert_string_equal(why, "a message before bus-hello");
    assert_int_equal(c.state, PROTO_BUS_STATE_WAITING);
    dom_hello();
    assert_int_equal(next(0, &id, &why), BUS_RX_MSG);
    assert_int_equal(c.state, PROTO_BUS_STATE_CONNECTED);
    dom_ping(6);
    assert_int_equal(next(0, &id, &why), BUS_RX_MSG);
    assert_int_equal(id, 6);
    /* A control-protocol request on the bus is refused, never served. */
    m.type = PROTO_MSG_DOMAIN_DESTROY_REQUEST;
    m.u.domain_destroy_request =
        (struct proto_domain_destroy_request){.request_id = 7, .domain = {(const uint8_t *)"x", 1}};
    dom_send();
    assert_int_equal(next(0, &id, &why), BUS_RX_REFUSED);
    assert_string_equal(why, "a message type a domain may not send on its bus");
    /* Only the bus's domain-to-control types are allowed. */
    assert_true(bus_conn_type_allowed(PROTO_MSG_BUS_HELLO));
    assert_true(bus_conn_type_allowed(PROTO_MSG_BUS_CONNECT_REPLY));
    assert_false(bus_conn_type_allowed(PROTO_MSG_DOMAIN_CREATE_REQUEST));
    assert_false(bus_conn_type_allowed(PROTO_MSG_BUS_CONNECT_REQUEST));
    assert_false(bus_conn_type_allowed(PROTO_MSG_HELLO));
    assert_int_equal(c.msgs_in, 4);
    assert_int_equal(c.errors, 2);
}

static void test_strikes_disconnect(void **state)
{
    (void)state;
    setup_area(0);
    dom_hello();
    uint64_t id;
    const char *why;
    assert_int_equal(next(0, &id, &why), BUS_RX_MSG);
    uint8_t junk[40];
    for (uint32_t i = 0; i < BUS_CONN_STRIKES; i++) {
        memset(junk, (int)(0x5a + i), sizeof junk);
        bool notify;
        assert_int_equal(duplex_send(&dom, junk, sizeof junk, &notify), RING_OK);
        enum bus_rx rx = next(0, &id, &why);
        if (i + 1 < BUS_CONN_STRIKES) {
            assert_int_equal(rx, BUS_RX_REFUSED);
            assert_string_equal(why, "an undecodable message");
        } else {
            assert_int_equal(rx, BUS_RX_CUT);
        }
    }
    assert_int_equal(c.state, PROTO_BUS_STATE_DISCONNECTED);
    assert_string_equal(c.reason, "sent too many refused or undecodable messages");
    /* Cut: nothing more is read or sent. */
    dom_ping(9);
    assert_int_equal(next(0, &id, &why), BUS_RX_NONE);
    bool notify;
    assert_true(bus_conn_send(&c, (const uint8_t *)"x", 1, 0, &notify));
    assert_int_equal(c.msgs_out, 0);
    bus_conn_disconnect(&c, "another reason");
    assert_string_equal(c.reason, "sent too many refused or undecodable messages");
}

/* A flood held back by the token bucket, counted once per episode, and
 * read again once tokens came back (the clock is the caller's). */
static void test_rate(void **state)
{
    (void)state;
    setup_area(0);
    dom_hello();
    uint64_t id, now = 0;
    const char *why;
    assert_int_equal(next(now, &id, &why), BUS_RX_MSG);
    m.type = PROTO_MSG_BUS_PING;
    m.u.bus_ping = (struct proto_bus_ping){.request_id = 2, .seq = 2};
    size_t plen;
    struct hvcbor_error e;
    assert_true(proto_msg_encode(&m, enc, sizeof enc, &plen, &e));
    uint32_t served = 1;
    for (;;) {
        /* keep the ring topped up (the domain floods) */
        bool nt;
        while (duplex_send(&dom, enc, (uint32_t)plen, &nt) == RING_OK)
            ;
        enum bus_rx rx = next(now, &id, &why);
        if (rx == BUS_RX_NONE)
            break;
        served++;
        /* drain what the control domain would have answered: nothing sent here */
    }
    assert_int_equal(served, BUS_CONN_BURST); /* the whole burst, then held back */
    assert_int_equal(c.throttled, 1);
    assert_int_equal(next(now, &id, &why), BUS_RX_NONE);
    assert_int_equal(c.throttled, 1); /* one episode */
    /* 1 ms later: BUS_CONN_RATE / 1000 messages' worth of tokens */
    now += 1000000;
    uint32_t more = 0;
    while (next(now, &id, &why) != BUS_RX_NONE)
        more++;
    assert_int_equal(more, BUS_CONN_RATE / 1000);
    assert_int_equal(c.throttled, 2);
    assert_int_equal(c.state, PROTO_BUS_STATE_CONNECTED); /* held back, not cut */
}

/* A domain that never reads: its replies fill the ring, then the queue;
 * requests stop being read when a reply might not fit; after 5 s stuck it is
 * cut off; a full queue refuses a message (the caller cuts). */
static void test_queue_and_stuck(void **state)
{
    (void)state;
    setup_area(0);
    dom_hello();
    uint64_t id, now = 1;
    const char *why;
    assert_int_equal(next(now, &id, &why), BUS_RX_MSG);
    uint8_t reply[200];
    memset(reply, 0x42, sizeof reply);
    bool notify;
    uint32_t sent = 0;
    while (bus_conn_queued(&c) == 0) {
        assert_true(bus_conn_send(&c, reply, sizeof reply, now, &notify));
        sent++;
    }
    assert_int_equal(c.msgs_out, sent - 1); /* the last one went to the queue */
    /* While a reply still fits, requests are read. */
    dom_ping(3);
    assert_int_equal(next(now, &id, &why), BUS_RX_MSG);
    /* Fill the queue to its end: the next message is refused, and requests
     * are no longer read (their replies might not fit). */
    uint32_t queued = 0;
    while (bus_conn_send(&c, reply, sizeof reply, now, &notify))
        queued++;
    assert_true(queued > 0 && bus_conn_queued(&c) == BUS_CONN_QUEUE_MSGS);
    dom_ping(4);
    assert_int_equal(next(now, &id, &why), BUS_RX_NONE);
    /* 4.9 s: still waiting; 5 s: cut off */
    assert_false(bus_conn_flush(&c, now + 4900000000ull, &notify));
    assert_true(bus_conn_flush(&c, now + BUS_CONN_STUCK_NS, &notify));
    assert_string_equal(c.reason, "it has not read its bus for 5 s");
    /* A domain that reads in time is never cut: the queue drains in order. */
    setup_area(0);
    dom_hello();
    assert_int_equal(next(0, &id, &why), BUS_RX_MSG);
    for (uint32_t i = 0; i < 30; i++) {
        reply[0] = (uint8_t)i;
        assert_true(bus_conn_send(&c, reply, sizeof reply, 0, &notify));
    }
    assert_true(bus_conn_queued(&c) > 0);
    uint8_t got[256];
    uint32_t len, expect = 0;
    for (uint64_t t = 1; expect < 30; t += SEC) {
        while (duplex_recv(&dom, got, sizeof got, &len, &notify) == RING_OK) {
            assert_int_equal(len, sizeof reply);
            assert_int_equal(got[0], expect);
            expect++;
        }
        assert_false(bus_conn_flush(&c, t, &notify));
    }
    assert_int_equal(bus_conn_queued(&c), 0);
    assert_int_equal(c.stuck_since_ns, 0);
}

static void test_broken_ring(void **state)
{
    (void)state;
    setup_area(0);
    struct duplex_header *h = (struct duplex_header *)area;
    h->ring[1].prod = 0x7ffffff8u;
    uint64_t id;
    const char *why;
    assert_int_equal(next(0, &id, &why), BUS_RX_CUT);
    assert_string_equal(c.reason, "its bus ring broke the protocol");
    /* the producer side: an impossible consumer index */
    setup_area(0);
    h = (struct duplex_header *)area;
    h->ring[0].cons = 4096 + 64;
    bool notify;
    assert_true(bus_conn_send(&c, (const uint8_t *)"xy", 2, 0, &notify));
    assert_int_equal(c.state, PROTO_BUS_STATE_DISCONNECTED);
}

static int teardown(void **state)
{
    (void)state;
    free(area);
    area = NULL;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_first_and_allowed_types),
        cmocka_unit_test(test_strikes_disconnect),
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_queue_and_stuck),
        cmocka_unit_test(test_broken_ring),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
