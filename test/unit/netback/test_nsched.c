/*
 * Host tests of netback's network scheduler (domains/netback/nsched.c):
 * a discrete-event simulator of one link of a given capacity fed by
 * greedy or paced sources, in virtual time. Rate limits in bytes and
 * packets hold at every instant (never more than burst + rate * t); weights
 * share the link in bytes, whatever the packet sizes; floors are met under
 * contention, within a flow's own limit; the link never idles while a
 * packet no limit holds back waits (work conservation); an idle flow gets
 * no credit; a class changed live takes effect; invalid classes and full
 * queues are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "nsched.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define MB 1000000ull

static struct nsched s;

struct src {
    bool on;
    uint32_t len;      /* packet size */
    uint64_t start_ns; /* greedy from then on */
    uint64_t stop_ns;  /* 0: never */
    uint64_t bytes;    /* sent through the link, measured window */
};

static struct src src[NSCHED_FLOWS_MAX];

static struct nsched_class cls(uint64_t rate_bps, uint64_t floor_bps, uint32_t weight)
{
    struct nsched_class c = {0};
    c.rate_bps = rate_bps;
    c.burst_bytes = rate_bps ? 10 * 1514 : 0;
    c.floor_bps = floor_bps;
    c.weight = weight;
    return c;
}

static void flow(uint32_t i, const struct nsched_class *c, uint32_t len)
{
    assert_true(nsched_set_class(&s, i, c, 0));
    src[i].on = true;
    src[i].len = len;
}

/* Runs the link (link_bps) from t0 to t1; counts bytes sent in
 * [w0, t1). Greedy sources keep 32 packets queued while active. */
static void run(uint64_t link_bps, uint64_t t0, uint64_t t1, uint64_t w0)
{
    uint64_t t = t0;
    while (t < t1) {
        for (uint32_t i = 0; i < NSCHED_FLOWS_MAX; i++)
            if (src[i].on && t >= src[i].start_ns && (src[i].stop_ns == 0 || t < src[i].stop_ns))
                while (nsched_queued(&s, i) < 32)
                    assert_true(nsched_enqueue(&s, i, src[i].len, t));
        uint32_t len;
        uint64_t wake;
        int32_t f = nsched_dispatch(&s, t, &len, &wake);
        if (f == NSCHED_NONE) {
            uint64_t next = t + MS; /* sources may start */
            if (wake != UINT64_MAX && wake < next)
                next = wake;
            if (next > t1)
                next = t1;
            t = next;
            continue;
        }
        assert_int_equal(len, src[f].len);
        if (t >= w0)
            src[f].bytes += len;
        t += (uint64_t)len * SEC / link_bps;
    }
}

static int setup(void **state)
{
    (void)state;
    nsched_init(&s);
    memset(src, 0, sizeof src);
    return 0;
}

static void near(uint64_t got, uint64_t want, uint64_t permille)
{
    uint64_t lo = want - want * permille / 1000, hi = want + want * permille / 1000;
    if (got < lo || got > hi)
        fail_msg("got %llu, want %llu within %llu permille", (unsigned long long)got,
                 (unsigned long long)want, (unsigned long long)permille);
}

static void test_rate_limit_bytes(void **state)
{
    (void)state;
    struct nsched_class c = cls(1 * MB, 0, 1);
    flow(0, &c, 1500);
    /* Checked at every dispatch: never more than burst + rate * t. */
    uint64_t t = 0, sent = 0;
    while (t < 10 * SEC) {
        while (nsched_queued(&s, 0) < 8)
            nsched_enqueue(&s, 0, 1500, t);
        uint32_t len;
        uint64_t wake;
        int32_t f = nsched_dispatch(&s, t, &len, &wake);
        if (f == NSCHED_NONE) {
            assert_true(wake > t && wake != UINT64_MAX);
            t = wake;
            continue;
        }
        sent += len;
        assert_true(sent <= c.burst_bytes + c.rate_bps * t / SEC);
        t += (uint64_t)len * SEC / (100 * MB);
    }
    near(sent, 10 * MB + c.burst_bytes, 2);
}

static void test_rate_limit_packets(void **state)
{
    (void)state;
    struct nsched_class c = {0};
    c.rate_pps = 1000;
    c.burst_pkts = 5;
    c.weight = 1;
    flow(0, &c, 100);
    run(100 * MB, 0, 10 * SEC, 0);
    near(src[0].bytes / 100, 10000 + 5, 1);
}

static void test_weights_share_bytes(void **state)
{
    (void)state;
    struct nsched_class a = cls(0, 0, 1), b = cls(0, 0, 2), c = cls(0, 0, 4);
    flow(0, &a, 1500);
    flow(1, &b, 64); /* small packets get no more than their bytes' worth */
    flow(2, &c, 700);
    run(10 * MB, 0, 10 * SEC, SEC);
    uint64_t total = src[0].bytes + src[1].bytes + src[2].bytes;
    near(total, 90 * MB, 5);
    near(src[0].bytes, total / 7, 10);
    near(src[1].bytes, 2 * total / 7, 10);
    near(src[2].bytes, 4 * total / 7, 10);
}

static void test_floors_under_contention(void **state)
{
    (void)state;
    /* A weighs 1 against 100 and 100, but has a floor of half the link. */
    struct nsched_class a = cls(0, 5 * MB, 1), b = cls(0, 0, 100);
    flow(0, &a, 1500);
    flow(1, &b, 1500);
    flow(2, &b, 1500);
    run(10 * MB, 0, 10 * SEC, SEC);
    assert_true(src[0].bytes >= 45 * MB * 995 / 1000);
    near(src[1].bytes, src[2].bytes, 10);
    near(src[0].bytes + src[1].bytes + src[2].bytes, 90 * MB, 5);
    /* Floors that add up to more than the link share it in their ratio. */
    setup(NULL);
    struct nsched_class x = cls(0, 8 * MB, 1), y = cls(0, 4 * MB, 1);
    flow(0, &x, 1500);
    flow(1, &y, 1500);
    run(6 * MB, 0, 10 * SEC, SEC);
    near(src[0].bytes, 2 * src[1].bytes, 20);
}

static void test_limit_and_work_conservation(void **state)
{
    (void)state;
    /* A is limited to 2 MB/s (with a floor of 1 MB/s); B takes the rest:
     * the link stays full. */
    struct nsched_class a = cls(2 * MB, 1 * MB, 10), b = cls(0, 0, 1);
    flow(0, &a, 1500);
    flow(1, &b, 1500);
    run(10 * MB, 0, 10 * SEC, SEC);
    near(src[0].bytes, 18 * MB, 5);
    near(src[1].bytes, 72 * MB, 5);
}

static void test_idle_flow_gets_no_credit(void **state)
{
    (void)state;
    struct nsched_class a = cls(0, 2 * MB, 1), b = cls(0, 0, 9);
    flow(0, &a, 1500);
    flow(1, &b, 1500);
    src[0].start_ns = 5 * SEC; /* idle for 5 s */
    run(10 * MB, 0, 5 * SEC, 0);
    assert_int_equal(src[0].bytes, 0);
    near(src[1].bytes, 50 * MB, 5);
    /* Back: about max(floor 2, share 1) MB/s, not 5 s of floor at once. */
    src[1].bytes = 0;
    run(10 * MB, 5 * SEC, 6 * SEC, 5 * SEC);
    assert_true(src[0].bytes <= 2 * MB + 3 * 1500);
    assert_true(src[0].bytes >= 2 * MB * 98 / 100);
}

static void test_live_change(void **state)
{
    (void)state;
    struct nsched_class a = cls(1 * MB, 0, 1);
    flow(0, &a, 1000);
    run(100 * MB, 0, 5 * SEC, SEC);
    near(src[0].bytes, 4 * MB, 5);
    struct nsched_class faster = cls(4 * MB, 0, 1);
    assert_true(nsched_set_class(&s, 0, &faster, 5 * SEC));
    src[0].bytes = 0;
    run(100 * MB, 5 * SEC, 10 * SEC, 6 * SEC);
    near(src[0].bytes, 16 * MB, 5);
}

static void test_refusals(void **state)
{
    (void)state;
    struct nsched_class c = cls(0, 0, 0);
    assert_false(nsched_set_class(&s, 0, &c, 0)); /* weight 0 */
    c.weight = NSCHED_WEIGHT_MAX + 1;
    assert_false(nsched_set_class(&s, 0, &c, 0));
    c = cls(1 * MB, 0, 1);
    c.burst_bytes = 1000; /* below one frame */
    assert_false(nsched_set_class(&s, 0, &c, 0));
    c = cls(1 * MB, 2 * MB, 1); /* a floor above the limit */
    assert_false(nsched_set_class(&s, 0, &c, 0));
    c = cls(0, 0, 1);
    c.rate_pps = 10; /* without a burst */
    assert_false(nsched_set_class(&s, 0, &c, 0));
    c = cls(0, 0, 1);
    assert_false(nsched_set_class(&s, NSCHED_FLOWS_MAX, &c, 0));
    assert_false(nsched_enqueue(&s, 3, 100, 0)); /* unknown flow */
    assert_true(nsched_set_class(&s, 3, &c, 0));
    assert_false(nsched_enqueue(&s, 3, 0, 0));
    assert_false(nsched_enqueue(&s, 3, 65536, 0));
    for (uint32_t i = 0; i < NSCHED_QUEUE_MAX; i++)
        assert_true(nsched_enqueue(&s, 3, 100, 0));
    assert_false(nsched_enqueue(&s, 3, 100, 0));
    assert_int_equal(s.f[3].refused, 1);
    uint32_t len;
    uint64_t wake;
    assert_int_equal(nsched_dispatch(&s, 0, &len, &wake), 3);
    nsched_remove(&s, 3);
    assert_int_equal(nsched_dispatch(&s, 0, &len, &wake), NSCHED_NONE);
    assert_int_equal(wake, UINT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_rate_limit_bytes, setup),
        cmocka_unit_test_setup(test_rate_limit_packets, setup),
        cmocka_unit_test_setup(test_weights_share_bytes, setup),
        cmocka_unit_test_setup(test_floors_under_contention, setup),
        cmocka_unit_test_setup(test_limit_and_work_conservation, setup),
        cmocka_unit_test_setup(test_idle_flow_gets_no_credit, setup),
        cmocka_unit_test_setup(test_live_change, setup),
        cmocka_unit_test_setup(test_refusals, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
