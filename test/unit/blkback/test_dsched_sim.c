/*
 * The disk scheduler's properties, simulated (dsim.c) on three devices of
 * different speeds (a disk-like one that serves one request at a time, a
 * virtio-like one with 4 slots, a fast one with 8) with clients of
 * different demands, each property within the tolerance (10 %),
 * and plain round robin in the same configuration where the difference is
 * the point. Set DSCHED_SIM_VERBOSE=1 to print the figures.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dsim.h"

#define KIB 1024u
#define MS 1000000ull
#define COMPLETIONS 40000.0 /* about this many 4 KiB requests per run */

static const struct sim_dev_cfg DEVS[] = {
    {4000000, 20000, 1, 10}, /* disk-like: 4 ms + 20 us/KiB, one at a time */
    {300000, 3000, 4, 10},   /* virtio-like: 300 us + 3 us/KiB, 4 in parallel */
    {80000, 500, 8, 10},     /* fast: 80 us + 0.5 us/KiB, 8 in parallel */
};
static const char *const DEV_NAMES[] = {"disk", "virtio", "fast"};
#define DEV_COUNT (sizeof DEVS / sizeof DEVS[0])

static bool verbose(void)
{
    const char *e = getenv("DSCHED_SIM_VERBOSE");
    return e && e[0] == '1';
}

/* The device's capacity in 4 KiB-equivalent operations per second, as the
 * scheduler counts them (its cost model, not the device's). */
static double cap4k(unsigned dev)
{
    return sim_capacity(&DEVS[dev], 4 * KIB);
}

static void base(struct sim_cfg *c, unsigned dev, enum dsched_policy p)
{
    memset(c, 0, sizeof *c);
    c->dev = DEVS[dev];
    c->policy = p;
    c->duration_ns = (uint64_t)(COMPLETIONS / cap4k(dev) * 1e9);
    c->window_from_ns = c->duration_ns / 10;
    c->seed = 1234 + dev;
}

static struct dsched_qos qos(uint32_t weight, double iops_min, double iops_max, double bps_max)
{
    return (struct dsched_qos){(uint32_t)iops_min, (uint32_t)iops_max, (uint64_t)bps_max, weight};
}

static uint32_t closed(struct sim_cfg *c, struct dsched_qos q, uint32_t bytes)
{
    c->client[c->client_count] =
        (struct sim_client_cfg){.qos = q, .kind = SIM_CLOSED, .bytes = bytes, .depth = 16};
    return c->client_count++;
}

/* A closed-loop client of 4 KiB requests with only a weight. */
static uint32_t saturating(struct sim_cfg *c, uint32_t weight)
{
    return closed(c, qos(weight, 0, 0, 0), 4 * KIB);
}

static uint32_t open_loop(struct sim_cfg *c, struct dsched_qos q, uint32_t bytes, double rate)
{
    c->client[c->client_count] =
        (struct sim_client_cfg){.qos = q, .kind = SIM_OPEN, .bytes = bytes, .rate_iops = rate};
    return c->client_count++;
}

static void run(const struct sim_cfg *c, struct sim_result *r, const char *name, unsigned dev)
{
    assert_int_equal(sim_run(c, r), 0);
    if (verbose()) {
        printf("[%s %s %s] busy %.4f violations %llu ns dispatches %llu\n", name, DEV_NAMES[dev],
               c->policy == DSCHED_RR ? "rr" : "mclock", r->busy_fraction,
               (unsigned long long)r->idle_violation_ns, (unsigned long long)r->dispatches);
        for (uint32_t i = 0; i < c->client_count; i++)
            printf("   client %u w %u r %u l %u b %llu: %.1f iops, %.1f units/s, %.3f MB/s, "
                   "res %llu, p50 %.3f ms p99 %.3f ms, throttled %.3f s, dropped %llu\n",
                   i, c->client[i].qos.weight, c->client[i].qos.iops_min, c->client[i].qos.iops_max,
                   (unsigned long long)c->client[i].qos.bps_max, r->c[i].iops, r->c[i].cost_rate,
                   r->c[i].bps / 1e6, (unsigned long long)r->c[i].reservation_ops,
                   (double)r->c[i].lat_p50_ns / 1e6, (double)r->c[i].lat_p99_ns / 1e6,
                   (double)r->c[i].throttled_ns / 1e9, (unsigned long long)r->c[i].dropped);
    }
    assert_int_equal(r->wrong_flow, 0);
    assert_true(r->dispatches > 1000);
}

static void within(double got, double want, double rel, const char *what, unsigned dev)
{
    if (!(fabs(got - want) <= rel * want))
        fail_msg("%s on %s: %.4f, want %.4f +- %.0f%%", what, DEV_NAMES[dev], got, want, rel * 100);
}

static void at_least(double got, double want, const char *what, unsigned dev)
{
    if (!(got >= want))
        fail_msg("%s on %s: %.4f, want at least %.4f", what, DEV_NAMES[dev], got, want);
}

static void at_most(double got, double want, const char *what, unsigned dev)
{
    if (!(got <= want))
        fail_msg("%s on %s: %.4f, want at most %.4f", what, DEV_NAMES[dev], got, want);
}

/*
 * PER_DEVICE(name) { ... } is a scenario run once on each device, from a
 * fresh mClock configuration c (base()) with its result in r; it defines
 * the cmocka test test_<name>.
 */
typedef void scenario_fn(struct sim_cfg *c, struct sim_result *r, unsigned d);

static void each_device(scenario_fn *scenario)
{
    for (unsigned d = 0; d < DEV_COUNT; d++) {
        struct sim_cfg c;
        struct sim_result r;
        base(&c, d, DSCHED_MCLOCK);
        scenario(&c, &r, d);
    }
}

#define PER_DEVICE(name)                                                                           \
    static scenario_fn name;                                                                       \
    static void test_##name(void **state)                                                          \
    {                                                                                              \
        (void)state;                                                                               \
        each_device(name);                                                                         \
    }                                                                                              \
    static void name(struct sim_cfg *c, struct sim_result *r, unsigned d)

/* The same configuration again under plain round robin. */
static void run_rr(struct sim_cfg *c, struct sim_result *r, const char *name, unsigned d)
{
    c->policy = DSCHED_RR;
    run(c, r, name, d);
}

/* Two saturating clients with weights 1 and 3 get 1:3; round robin 1:1. */
PER_DEVICE(weights_1_3)
{
    saturating(c, 1);
    saturating(c, 3);
    run(c, r, "weights 1:3", d);
    within(r->c[1].cost_rate / r->c[0].cost_rate, 3.0, 0.10, "1:3 ratio", d);
    at_least(r->busy_fraction, 0.99, "busy", d);
    assert_int_equal(r->idle_violation_ns, 0);
    run_rr(c, r, "weights 1:3", d);
    within(r->c[1].cost_rate / r->c[0].cost_rate, 1.0, 0.10, "round robin ratio", d);
}

/* Weights count cost, not requests: a 64 KiB client and a 4 KiB client of
 * equal weight get equal cost; round robin gives the large one far more. */
PER_DEVICE(weights_count_size)
{
    saturating(c, 1);
    closed(c, qos(1, 0, 0, 0), 64 * KIB);
    run(c, r, "sizes", d);
    within(r->c[1].cost_rate / r->c[0].cost_rate, 1.0, 0.10, "cost ratio", d);
    at_most(r->c[1].iops, r->c[0].iops / 2, "64 KiB requests", d);
    run_rr(c, r, "sizes", d);
    within(r->c[1].iops / r->c[0].iops, 1.0, 0.10, "round robin request ratio", d);
    at_least(r->c[1].cost_rate / r->c[0].cost_rate, 2.5, "round robin cost ratio", d);
}

/* A reservation of 40 % of the device is met (>= 90 %) while two clients of
 * ten times its weight saturate it; round robin gives it a third. */
PER_DEVICE(reservation_under_two_saturating)
{
    double res = 0.4 * cap4k(d);
    closed(c, qos(1, res, 0, 0), 4 * KIB);
    saturating(c, 10);
    saturating(c, 10);
    run(c, r, "reservation", d);
    at_least(r->c[0].cost_rate, 0.9 * res, "reserved client", d);
    at_most(r->c[0].cost_rate, 1.1 * res, "reserved client (weight 1 of 21)", d);
    within(r->c[2].cost_rate / r->c[1].cost_rate, 1.0, 0.10, "the others' ratio", d);
    at_least(r->busy_fraction, 0.99, "busy", d);
    run_rr(c, r, "reservation", d);
    at_most(r->c[0].cost_rate, 0.9 * res, "round robin misses it", d);
}

/* An open-loop client asking for exactly its reservation gets what it asks
 * for, with no drops, next to two saturating clients. */
PER_DEVICE(reservation_open_loop)
{
    double res = 0.3 * cap4k(d);
    open_loop(c, qos(1, res, 0, 0), 4 * KIB, res);
    saturating(c, 10);
    saturating(c, 10);
    run(c, r, "reservation, open loop", d);
    at_least(r->c[0].iops, 0.9 * res, "reserved open-loop client", d);
    assert_int_equal(r->c[0].dropped, 0);
}

/* An IOPS limit holds within 10 % while the rest goes to the other client
 * (work-conserving); round robin lets it take half. */
PER_DEVICE(limit_iops)
{
    double lim = 0.2 * cap4k(d);
    closed(c, qos(10, 0, lim, 0), 4 * KIB);
    saturating(c, 1);
    run(c, r, "limit", d);
    within(r->c[0].iops, lim, 0.10, "limited client", d);
    at_least(r->c[1].iops, 0.7 * cap4k(d), "the other client", d);
    at_least(r->busy_fraction, 0.99, "busy", d);
    assert_int_equal(r->idle_violation_ns, 0);
    at_least((double)r->c[0].throttled_ns,
             0.5e9 * (double)(c->duration_ns - c->window_from_ns) / 1e9, "throttled time", d);
    run_rr(c, r, "limit", d);
    at_least(r->c[0].iops, 0.4 * cap4k(d), "round robin ignores it", d);
}

/* A bytes/s limit holds within 10 % for 64 KiB requests. */
PER_DEVICE(limit_bytes)
{
    double lim = 0.2 * sim_capacity(&DEVS[d], 64 * KIB) * 64 * KIB;
    closed(c, qos(10, 0, 0, lim), 64 * KIB);
    saturating(c, 1);
    run(c, r, "bytes limit", d);
    within(r->c[0].bps, lim, 0.10, "limited client bytes/s", d);
    at_least(r->busy_fraction, 0.99, "busy", d);
}

/* An idle client's share goes to the others; when it comes it gets its
 * share at once but no credit for the time it was idle. */
PER_DEVICE(idle_share_redistributed)
{
    uint64_t half = c->duration_ns / 2;
    saturating(c, 1);
    saturating(c, 1);
    uint32_t late = saturating(c, 2);
    c->client[late].start_ns = half;
    c->window_to_ns = half;
    run(c, r, "idle: first half", d);
    within(r->c[0].cost_rate + r->c[1].cost_rate, cap4k(d), 0.10, "the two take it all", d);
    within(r->c[1].cost_rate / r->c[0].cost_rate, 1.0, 0.10, "equally", d);
    at_least(r->busy_fraction, 0.99, "busy", d);
    /* Right after it comes: its share (a half), no more. */
    c->window_from_ns = half;
    c->window_to_ns = half + c->duration_ns / 20;
    run(c, r, "idle: just after", d);
    within(r->c[late].cost_rate / (r->c[0].cost_rate + r->c[1].cost_rate + r->c[late].cost_rate),
           0.5, 0.10, "newcomer's share at once", d);
    c->window_from_ns = half + c->duration_ns / 10;
    c->window_to_ns = 0;
    run(c, r, "idle: second half", d);
    within(r->c[late].cost_rate / r->c[0].cost_rate, 2.0, 0.10, "1:1:2", d);
}

/* A client with a reservation that was idle gets no burst of it later. */
PER_DEVICE(no_reservation_credit)
{
    double res = 0.3 * cap4k(d);
    uint64_t half = c->duration_ns / 2;
    saturating(c, 10);
    uint32_t late = closed(c, qos(1, res, 0, 0), 4 * KIB);
    c->client[late].start_ns = half;
    c->window_from_ns = half;
    c->window_to_ns = half + c->duration_ns / 20;
    run(c, r, "reservation after idle", d);
    within(r->c[late].cost_rate, res, 0.10, "reservation, no burst", d);
}

/* Reservations above the device's capacity share it in their ratio. */
PER_DEVICE(reservations_overcommitted)
{
    closed(c, qos(1, cap4k(d), 0, 0), 4 * KIB);
    closed(c, qos(1, cap4k(d) / 2, 0, 0), 4 * KIB);
    run(c, r, "overcommitted", d);
    within(r->c[0].cost_rate / r->c[1].cost_rate, 2.0, 0.10, "2:1 by reservation", d);
    at_least(r->busy_fraction, 0.99, "busy", d);
}

/* QoS changed live: a weight and a limit take effect. */
PER_DEVICE(live_change)
{
    uint64_t half = c->duration_ns / 2;
    saturating(c, 1);
    saturating(c, 1);
    saturating(c, 1);
    c->change[0] = (struct sim_change){half, 1, qos(3, 0, 0, 0)};
    c->change[1] = (struct sim_change){half, 2, qos(1, 0, 0.1 * cap4k(d), 0)};
    c->change_count = 2;
    c->window_to_ns = half;
    run(c, r, "live: before", d);
    within(r->c[1].cost_rate / r->c[0].cost_rate, 1.0, 0.10, "before", d);
    c->window_from_ns = half + c->duration_ns / 20;
    c->window_to_ns = 0;
    run(c, r, "live: after", d);
    within(r->c[1].cost_rate / r->c[0].cost_rate, 3.0, 0.10, "weight 3 after", d);
    within(r->c[2].iops, 0.1 * cap4k(d), 0.10, "limit after", d);
}

/* A light client is not queued behind floods: its 99th percentile is a few
 * service times. */
PER_DEVICE(light_client_latency)
{
    open_loop(c, qos(1, 0, 0, 0), 4 * KIB, 0.02 * cap4k(d));
    closed(c, qos(1, 0, 0, 0), 64 * KIB);
    closed(c, qos(1, 0, 0, 0), 64 * KIB);
    run(c, r, "light client", d);
    double svc64 = (double)DEVS[d].fixed_ns + 64.0 * (double)DEVS[d].ns_per_kib;
    at_most((double)r->c[0].lat_p99_ns, 3.0 * svc64, "light client p99", d);
}

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* Random mixes of weights, limits, reservations and sizes: limits hold,
 * reservations are met, unlimited clients without reservations share in
 * their weights' ratio, and the device never idles while an unlimited
 * client waits. */
static void test_random_mixes(void **state)
{
    (void)state;
    static const uint32_t sizes[] = {4 * KIB, 16 * KIB, 64 * KIB};
    for (unsigned trial = 0; trial < 24; trial++) {
        unsigned d = trial % DEV_COUNT;
        struct sim_cfg c;
        struct sim_result r;
        base(&c, d, DSCHED_MCLOCK);
        c.seed = 77 + trial;
        double cap = cap4k(d) * 0.9; /* the cost model is not the device: leave room */
        double res_left = 0.5 * cap;
        unsigned n = 2 + rnd(5);
        for (unsigned i = 0; i < n; i++) {
            struct dsched_qos q = qos(1 + rnd(10), 0, 0, 0);
            unsigned kind = rnd(4);
            if (kind == 1)
                q.iops_max = (uint32_t)(cap * (0.05 + 0.05 * rnd(4)));
            if (kind == 2 && res_left > 0.05 * cap) {
                q.iops_min = (uint32_t)(res_left * (0.2 + 0.2 * rnd(3)));
                res_left -= q.iops_min;
            }
            if (kind == 3)
                q.bps_max = (uint64_t)(cap * 4096 * (0.05 + 0.05 * rnd(4)));
            closed(&c, q, sizes[rnd(3)]);
        }
        /* At least one unlimited client, so that the device is saturated. */
        closed(&c, qos(1 + rnd(10), 0, 0, 0), sizes[rnd(3)]);
        run(&c, &r, "random", d);
        char what[64];
        assert_int_equal(r.idle_violation_ns, 0);
        at_least(r.busy_fraction, 0.99, "busy", d);
        int first_free = -1;
        for (unsigned i = 0; i < c.client_count; i++) {
            const struct dsched_qos *q = &c.client[i].qos;
            snprintf(what, sizeof what, "trial %u client %u", trial, i);
            if (q->iops_max)
                at_most(r.c[i].cost_rate, 1.1 * q->iops_max, what, d);
            if (q->bps_max)
                at_most(r.c[i].bps, 1.1 * (double)q->bps_max, what, d);
            if (q->iops_min)
                at_least(r.c[i].cost_rate, 0.9 * q->iops_min, what, d);
            if (!q->iops_max && !q->bps_max && !q->iops_min) {
                if (first_free < 0) {
                    first_free = (int)i;
                } else {
                    const struct dsched_qos *q0 = &c.client[first_free].qos;
                    within(r.c[i].cost_rate / r.c[first_free].cost_rate,
                           (double)q->weight / q0->weight, 0.10, what, d);
                }
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weights_1_3),
        cmocka_unit_test(test_weights_count_size),
        cmocka_unit_test(test_reservation_under_two_saturating),
        cmocka_unit_test(test_reservation_open_loop),
        cmocka_unit_test(test_limit_iops),
        cmocka_unit_test(test_limit_bytes),
        cmocka_unit_test(test_idle_share_redistributed),
        cmocka_unit_test(test_no_reservation_credit),
        cmocka_unit_test(test_reservations_overcommitted),
        cmocka_unit_test(test_live_change),
        cmocka_unit_test(test_light_client_latency),
        cmocka_unit_test(test_random_mixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
