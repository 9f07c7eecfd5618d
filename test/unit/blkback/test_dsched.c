/*
 * The disk scheduler's API, step by step with exact times (dsched.c), and
 * the latency histograms (blkstat.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "blkstat.h"
#include "dsched.h"

#define MS 1000000ull
#define S 1000000000ull

static struct dsched s;

static struct dsched_qos qos(uint32_t weight, uint32_t iops_min, uint32_t iops_max,
                             uint64_t bps_max)
{
    return (struct dsched_qos){iops_min, iops_max, bps_max, weight};
}

static void req(struct dsched_req *r, uint64_t arrival, uint32_t bytes)
{
    memset(r, 0, sizeof *r);
    r->arrival_ns = arrival;
    r->bytes = bytes;
}

static void test_qos_check(void **state)
{
    (void)state;
    struct dsched_qos q = qos(1, 0, 0, 0);
    assert_null(dsched_qos_check(&q));
    q = qos(DSCHED_WEIGHT_MAX, DSCHED_IOPS_LIMIT, DSCHED_IOPS_LIMIT, DSCHED_BPS_LIMIT);
    assert_null(dsched_qos_check(&q));
    q = qos(0, 0, 0, 0);
    assert_string_equal(dsched_qos_check(&q), "weight must be 1..1000");
    q = qos(DSCHED_WEIGHT_MAX + 1, 0, 0, 0);
    assert_non_null(dsched_qos_check(&q));
    q = qos(1, 200, 100, 0);
    assert_string_equal(dsched_qos_check(&q), "iops_min above iops_max");
    q = qos(1, 200, 0, 0); /* a reservation without a limit is fine */
    assert_null(dsched_qos_check(&q));
    q = qos(1, DSCHED_IOPS_LIMIT + 1, 0, 0);
    assert_non_null(dsched_qos_check(&q));
    q = qos(1, 0, 0, DSCHED_BPS_LIMIT + 1);
    assert_non_null(dsched_qos_check(&q));
}

static void test_cost(void **state)
{
    (void)state;
    dsched_init(&s, DSCHED_MCLOCK, 0);
    assert_int_equal(s.op_cost_bytes, DSCHED_OP_COST_DEFAULT);
    assert_int_equal(dsched_cost(&s, 4096), 32768);
    assert_int_equal(dsched_cost(&s, 65536), 28672 + 65536);
    assert_int_equal(dsched_cost(&s, 0), 28672);
    assert_int_equal(dsched_cost(&s, UINT32_MAX), 28672 + DSCHED_REQ_BYTES_MAX);
    dsched_init(&s, DSCHED_MCLOCK, UINT32_MAX);
    assert_int_equal(s.op_cost_bytes, DSCHED_OP_COST_MAX);
}

/* Attach up to the maximum; refusals change nothing; detach hands back the
 * queue in order and keeps the others' indices right. */
static void test_attach_detach(void **state)
{
    (void)state;
    static struct dsched_flow f[DSCHED_FLOWS_MAX + 1];
    memset(f, 0, sizeof f);
    dsched_init(&s, DSCHED_MCLOCK, 0);
    struct dsched_qos good = qos(1, 0, 0, 0), bad = qos(0, 0, 0, 0);
    assert_false(dsched_attach(&s, &f[0], &bad, 0));
    assert_int_equal(s.flow_count, 0);
    for (unsigned i = 0; i < DSCHED_FLOWS_MAX; i++)
        assert_true(dsched_attach(&s, &f[i], &good, 0));
    assert_false(dsched_attach(&s, &f[DSCHED_FLOWS_MAX], &good, 0));
    assert_false(dsched_attach(&s, &f[3], &good, 0)); /* already attached */
    assert_int_equal(s.flow_count, DSCHED_FLOWS_MAX);

    struct dsched_req r[3];
    for (unsigned i = 0; i < 3; i++) {
        req(&r[i], 0, 4096);
        dsched_enqueue(&s, &f[5], &r[i], 0);
    }
    assert_int_equal(s.queued, 3);
    struct dsched_req *list = dsched_detach(&s, &f[5], 0);
    assert_ptr_equal(list, &r[0]);
    assert_ptr_equal(r[0].next, &r[1]);
    assert_ptr_equal(r[1].next, &r[2]);
    assert_null(r[2].next);
    assert_int_equal(s.queued, 0);
    assert_int_equal(s.flow_count, DSCHED_FLOWS_MAX - 1);
    for (unsigned i = 0; i < s.flow_count; i++)
        assert_int_equal(s.flows[i]->index, i);
    assert_null(dsched_detach(&s, &f[5], 0)); /* not attached */
    assert_true(dsched_attach(&s, &f[DSCHED_FLOWS_MAX], &good, 0));

    struct dsched_qos q = qos(2, 0, 0, 0);
    assert_false(dsched_set_qos(&s, &f[5], &q, 0)); /* detached */
    assert_false(dsched_set_qos(&s, &f[6], &bad, 0));
    assert_int_equal(f[6].qos.weight, 1);
    assert_true(dsched_set_qos(&s, &f[6], &q, 0));
    assert_int_equal(f[6].qos.weight, 2);
}

static void test_empty(void **state)
{
    (void)state;
    static struct dsched_flow f;
    memset(&f, 0, sizeof f);
    dsched_init(&s, DSCHED_MCLOCK, 0);
    struct dsched_flow *fo = (struct dsched_flow *)1;
    uint64_t wake = 0;
    assert_null(dsched_dispatch(&s, 0, &fo, &wake));
    assert_null(fo);
    assert_int_equal(wake, DSCHED_NEVER);
    struct dsched_qos q = qos(1, 0, 0, 0);
    assert_true(dsched_attach(&s, &f, &q, 0));
    assert_null(dsched_dispatch(&s, 5, &fo, &wake));
    assert_int_equal(wake, DSCHED_NEVER);
}

/* An IOPS limit of 10: one request every 100 ms exactly, the wait counted
 * as throttled time. */
static void test_limit_exact(void **state)
{
    (void)state;
    static struct dsched_flow f;
    memset(&f, 0, sizeof f);
    dsched_init(&s, DSCHED_MCLOCK, 0);
    struct dsched_qos q = qos(1, 0, 10, 0);
    assert_true(dsched_attach(&s, &f, &q, 0));
    struct dsched_req r[3];
    for (unsigned i = 0; i < 3; i++) {
        req(&r[i], 0, 4096);
        dsched_enqueue(&s, &f, &r[i], 0);
    }
    struct dsched_flow *fo;
    uint64_t wake;
    assert_ptr_equal(dsched_dispatch(&s, 0, &fo, &wake), &r[0]);
    assert_ptr_equal(fo, &f);
    assert_int_equal(r[0].phase, DSCHED_PHASE_WEIGHT);
    assert_null(dsched_dispatch(&s, 0, &fo, &wake));
    assert_int_equal(wake, 100 * MS);
    assert_null(dsched_dispatch(&s, 100 * MS - 1, &fo, &wake));
    assert_int_equal(dsched_flow_throttled_ns(&f, 50 * MS), 50 * MS);
    assert_ptr_equal(dsched_dispatch(&s, 100 * MS, &fo, &wake), &r[1]);
    assert_int_equal(f.stats.throttled_ns, 100 * MS);
    /* Dispatched late (at 250 ms): the wait counted is only up to 200 ms,
     * when it was allowed. */
    assert_ptr_equal(dsched_dispatch(&s, 250 * MS, &fo, &wake), &r[2]);
    assert_int_equal(f.stats.throttled_ns, 200 * MS);
    assert_int_equal(f.stats.ops, 3);
    assert_int_equal(f.stats.bytes, 3 * 4096);
    /* Idle for a while: no credit, but no wait either. */
    req(&r[0], 1 * S, 4096);
    dsched_enqueue(&s, &f, &r[0], 1 * S);
    assert_ptr_equal(dsched_dispatch(&s, 1 * S, &fo, &wake), &r[0]);
    req(&r[1], 1 * S, 4096);
    dsched_enqueue(&s, &f, &r[1], 1 * S);
    assert_null(dsched_dispatch(&s, 1 * S, &fo, &wake));
    assert_int_equal(wake, 1 * S + 100 * MS);
}

/* A byte limit: 64 KiB requests at 640 KiB/s go every 100 ms; a 64 KiB
 * request costs 2.875 "operations" against an IOPS limit. */
static void test_limit_bytes_and_size(void **state)
{
    (void)state;
    static struct dsched_flow f, g;
    memset(&f, 0, sizeof f);
    memset(&g, 0, sizeof g);
    dsched_init(&s, DSCHED_MCLOCK, 0);
    struct dsched_qos qf = qos(1, 0, 0, 640 * 1024), qg = qos(1, 0, 1000, 0);
    assert_true(dsched_attach(&s, &f, &qf, 0));
    assert_true(dsched_attach(&s, &g, &qg, 0));
    struct dsched_req a[2], b[2];
    req(&a[0], 0, 65536);
    req(&a[1], 0, 65536);
    req(&b[0], 0, 65536);
    req(&b[1], 0, 65536);
    dsched_enqueue(&s, &f, &a[0], 0);
    dsched_enqueue(&s, &f, &a[1], 0);
    dsched_enqueue(&s, &g, &b[0], 0);
    dsched_enqueue(&s, &g, &b[1], 0);
    struct dsched_flow *fo;
    uint64_t wake;
    assert_non_null(dsched_dispatch(&s, 0, &fo, &wake));
    assert_non_null(dsched_dispatch(&s, 0, &fo, &wake));
    assert_null(dsched_dispatch(&s, 0, &fo, &wake));
    /* g: 2.875 ms (a 64 KiB request is 2.875 operations at 1000/s); f: 100 ms. */
    assert_int_equal(wake, 2875000);
    assert_ptr_equal(dsched_dispatch(&s, wake, &fo, &wake), &b[1]);
    assert_null(dsched_dispatch(&s, 2875000, &fo, &wake));
    assert_int_equal(wake, 100 * MS);
    assert_ptr_equal(dsched_dispatch(&s, wake, &fo, &wake), &a[1]);
}

/* A reservation is served in the reservation phase at its rate, before any
 * share, and the rest by weight. */
static void test_reservation_phase(void **state)
{
    (void)state;
    static struct dsched_flow f, g;
    memset(&f, 0, sizeof f);
    memset(&g, 0, sizeof g);
    dsched_init(&s, DSCHED_MCLOCK, 0);
    struct dsched_qos qf = qos(1, 100, 0, 0), qg = qos(1000, 0, 0, 0);
    assert_true(dsched_attach(&s, &f, &qf, 0));
    assert_true(dsched_attach(&s, &g, &qg, 0));
    static struct dsched_req a[8], b[8];
    for (unsigned i = 0; i < 8; i++) {
        req(&a[i], 0, 4096);
        req(&b[i], 0, 4096);
        dsched_enqueue(&s, &f, &a[i], 0);
        dsched_enqueue(&s, &g, &b[i], 0);
    }
    struct dsched_flow *fo;
    uint64_t wake;
    /* t=0: f is due (R = 0) and goes first. */
    assert_ptr_equal(dsched_dispatch(&s, 0, &fo, &wake), &a[0]);
    assert_int_equal(a[0].phase, DSCHED_PHASE_RESERVATION);
    /* Then, until 10 ms, only by weight: g has 1000 times f's weight. */
    for (unsigned i = 0; i < 5; i++) {
        assert_ptr_equal(dsched_dispatch(&s, 1 * MS, &fo, &wake), &b[i]);
        assert_int_equal(b[i].phase, DSCHED_PHASE_WEIGHT);
    }
    assert_ptr_equal(dsched_dispatch(&s, 10 * MS, &fo, &wake), &a[1]);
    assert_int_equal(a[1].phase, DSCHED_PHASE_RESERVATION);
    assert_int_equal(f.stats.reservation_ops, 2);
}

/* Round robin: one request per flow in turn, QoS ignored. */
static void test_round_robin(void **state)
{
    (void)state;
    static struct dsched_flow f[3];
    memset(f, 0, sizeof f);
    dsched_init(&s, DSCHED_RR, 0);
    struct dsched_qos q[3] = {qos(1, 0, 1, 0), qos(1000, 0, 0, 0), qos(1, 0, 0, 0)};
    static struct dsched_req r[3][4];
    for (unsigned i = 0; i < 3; i++) {
        assert_true(dsched_attach(&s, &f[i], &q[i], 0));
        for (unsigned k = 0; k < 4; k++) {
            req(&r[i][k], 0, 4096);
            dsched_enqueue(&s, &f[i], &r[i][k], 0);
        }
    }
    struct dsched_flow *fo;
    uint64_t wake;
    for (unsigned k = 0; k < 4; k++)
        for (unsigned i = 0; i < 3; i++) {
            assert_ptr_equal(dsched_dispatch(&s, 0, &fo, &wake), &r[i][k]);
            assert_int_equal(r[i][k].phase, DSCHED_PHASE_RR);
        }
    assert_null(dsched_dispatch(&s, 0, &fo, &wake));
    /* Switching policy keeps the queues. */
    req(&r[0][0], 0, 4096);
    dsched_enqueue(&s, &f[0], &r[0][0], 0);
    dsched_set_policy(&s, DSCHED_MCLOCK, 1 * S);
    assert_ptr_equal(dsched_dispatch(&s, 1 * S, &fo, &wake), &r[0][0]);
}

/* Every value lies in its bucket's range; ranges tile the numbers. */
static void test_hist_buckets(void **state)
{
    (void)state;
    for (uint32_t b = 0; b + 1 < BLKSTAT_BUCKETS; b++)
        assert_int_equal(blkstat_bucket_high(b) + 1, blkstat_bucket_low(b + 1));
    uint64_t x = 1;
    for (unsigned i = 0; i < 100000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t v = x >> (x % 64);
        uint32_t b = blkstat_bucket(v);
        assert_true(b < BLKSTAT_BUCKETS);
        assert_true(v >= blkstat_bucket_low(b));
        assert_true(v <= blkstat_bucket_high(b));
        if (b >= BLKSTAT_SUB && b < BLKSTAT_BUCKETS - 1)
            assert_true(blkstat_bucket_high(b) - blkstat_bucket_low(b) <=
                        blkstat_bucket_low(b) / 8);
    }
    assert_int_equal(blkstat_bucket(UINT64_MAX), BLKSTAT_BUCKETS - 1);
}

static void test_hist_quantiles(void **state)
{
    (void)state;
    static struct blkstat_hist h, h2;
    memset(&h, 0, sizeof h);
    assert_int_equal(blkstat_hist_quantile(&h, 500), 0);
    for (uint64_t v = 1; v <= 1000; v++)
        blkstat_hist_add(&h, v * 1000); /* 1 us .. 1 ms */
    assert_int_equal(h.count, 1000);
    uint64_t p50 = blkstat_hist_quantile(&h, 500), p99 = blkstat_hist_quantile(&h, 990);
    assert_true(p50 >= 500000 && p50 <= 500000 * 9 / 8);
    assert_true(p99 >= 990000 && p99 <= 990000 * 9 / 8);
    assert_true(blkstat_hist_quantile(&h, 1000) >= 1000000);
    memset(&h2, 0, sizeof h2);
    for (unsigned i = 0; i < 1000; i++)
        blkstat_hist_add(&h2, 5);
    blkstat_hist_merge(&h2, &h);
    assert_int_equal(h2.count, 2000);
    assert_int_equal(blkstat_hist_quantile(&h2, 500), 5);
    /* Saturation: a bucket stops counting, and so does count. */
    h2.bucket[5] = UINT32_MAX;
    uint64_t before = h2.count;
    blkstat_hist_add(&h2, 5);
    assert_int_equal(h2.count, before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qos_check),         cmocka_unit_test(test_cost),
        cmocka_unit_test(test_attach_detach),     cmocka_unit_test(test_empty),
        cmocka_unit_test(test_limit_exact),       cmocka_unit_test(test_limit_bytes_and_size),
        cmocka_unit_test(test_reservation_phase), cmocka_unit_test(test_round_robin),
        cmocka_unit_test(test_hist_buckets),      cmocka_unit_test(test_hist_quantiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
