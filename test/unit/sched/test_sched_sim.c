/*
 * Simulator tests of the scheduling policy over a simulated minute, on the
 * topologies 2 packages x 2 cores x 2 threads and 1 x 2 x 2: shares follow
 * weights, caps hold, no CPU idles while work it may run waits, gangs run
 * all-or-none, nothing starves, pinning holds. Set SCHED_SIM_VERBOSE=1 to
 * print the figures.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sim.h"

#define MS 1000000ull
#define MINUTE (60000 * MS)

static bool verbose(void)
{
    const char *e = getenv("SCHED_SIM_VERBOSE");
    return e != NULL && e[0] == '1';
}

static void cfg_init(struct sim_cfg *c, uint32_t p, uint32_t k, uint32_t t, uint32_t seed)
{
    memset(c, 0, sizeof(*c));
    c->packages = p;
    c->cores = k;
    c->threads = t;
    c->duration_ns = MINUTE;
    c->seed = seed;
}

static void add_dom(struct sim_cfg *c, domid_t id, uint32_t weight, uint32_t cap, bool gang)
{
    c->dom[c->dom_count++] = (struct sim_dom_cfg){id, {weight, cap, gang}};
}

static void add_vcpus(struct sim_cfg *c, domid_t dom, uint32_t n, sched_cpumask_t aff,
                      uint64_t run_ns, uint64_t block_ns)
{
    for (uint32_t i = 0; i < n; i++)
        c->vcpu[c->vcpu_count++] = (struct sim_vcpu_cfg){dom, aff, run_ns, block_ns};
}

static void run(const struct sim_cfg *c, struct sim_result *r, const char *name)
{
    assert_int_equal(sim_run(c, r), 0);
    if (verbose()) {
        printf("[%s] %ux%ux%u picks=%llu migrations=%llu steals smt/pkg/remote=%llu/%llu/%llu "
               "idle=%.3f max_idle_overload=%lluus gang_instants=%llu\n",
               name, c->packages, c->cores, c->threads, (unsigned long long)r->picks,
               (unsigned long long)r->migrations, (unsigned long long)r->steals[0],
               (unsigned long long)r->steals[1], (unsigned long long)r->steals[2], r->idle_fraction,
               (unsigned long long)(r->max_idle_overload_ns / 1000),
               (unsigned long long)r->gang_instants);
        for (uint32_t d = 0; d < c->dom_count; d++) {
            uint64_t w = 0;
            for (uint32_t i = 0; i < c->vcpu_count; i++)
                if (c->vcpu[i].dom == c->dom[d].id && r->max_wait_ns[i] > w)
                    w = r->max_wait_ns[i];
            printf("   dom %u weight %u cap %u%s: %.4f CPUs, max wait %.1f ms\n", c->dom[d].id,
                   c->dom[d].p.weight, c->dom[d].p.cap_pct, c->dom[d].p.gang ? " gang" : "",
                   r->dom_share[d], (double)w / 1e6);
        }
    }
    /* Checked in every scenario. */
    assert_int_equal(r->consistency_errors, 0);
    assert_int_equal(r->pin_violations, 0);
    assert_int_equal(r->gang_violations, 0);
    assert_true(r->max_idle_overload_ns <= SCHED_STEAL_INTERVAL_NS);
}

static void assert_within(double got, double want, double rel, const char *what)
{
    if (fabs(got - want) > rel * want) {
        fprintf(stderr, "%s: got %.4f want %.4f (+-%.0f%%)\n", what, got, want, rel * 100);
        fail();
    }
}

/* CPU-bound domains with weights 256/512/1024 (4 VCPUs each), plus single
 * VCPU domains: shares within 5% of weighted water-filling. */
static void weights(uint32_t p, uint32_t k, uint32_t t)
{
    struct sim_cfg c;
    struct sim_result r;
    double ideal[SIM_MAX_DOMS];

    cfg_init(&c, p, k, t, 1);
    add_dom(&c, 1, 256, 0, false);
    add_dom(&c, 2, 512, 0, false);
    add_dom(&c, 3, 1024, 0, false);
    add_dom(&c, 4, 128, 0, false);
    add_vcpus(&c, 1, 4, 0, 0, 0);
    add_vcpus(&c, 2, 4, 0, 0, 0);
    add_vcpus(&c, 3, 4, 0, 0, 0);
    add_vcpus(&c, 4, 1, 0, 0, 0);
    run(&c, &r, "weights");
    sim_ideal_shares(&c, ideal);
    for (uint32_t d = 0; d < c.dom_count; d++)
        assert_within(r.dom_share[d], ideal[d], 0.05, "weighted share");
    assert_true(r.idle_fraction < 0.001);
}

static void test_weights_2x2x2(void **state)
{
    (void)state;
    weights(2, 2, 2);
}
static void test_weights_1x2x2(void **state)
{
    (void)state;
    weights(1, 2, 2);
}

/* Caps hold within 5% while uncapped work could use the CPU. */
static void caps(uint32_t p, uint32_t k, uint32_t t)
{
    struct sim_cfg c;
    struct sim_result r;
    uint32_t cpus = p * k * t;

    cfg_init(&c, p, k, t, 2);
    add_dom(&c, 1, 256, 30, false);   /* 1 VCPU capped at 0.3 CPU */
    add_dom(&c, 2, 1024, 150, false); /* 4 VCPUs capped at 1.5 CPUs */
    add_dom(&c, 3, 256, 0, false);
    add_dom(&c, 4, 512, 70, false); /* I/O-bound VCPUs, capped at 0.7 CPU */
    add_vcpus(&c, 1, 1, 0, 0, 0);
    add_vcpus(&c, 2, 4, 0, 0, 0);
    add_vcpus(&c, 3, cpus, 0, 0, 0);
    add_vcpus(&c, 4, 3, 0, 3 * MS, 1 * MS);
    run(&c, &r, "caps");
    assert_within(r.dom_share[0], 0.30, 0.05, "cap 30%");
    assert_within(r.dom_share[1], 1.50, 0.05, "cap 150%");
    assert_within(r.dom_share[3], 0.70, 0.05, "cap 70%");
    assert_true(r.idle_fraction < 0.001); /* the uncapped domain takes the rest */
}

static void test_caps_2x2x2(void **state)
{
    (void)state;
    caps(2, 2, 2);
}
static void test_caps_1x2x2(void **state)
{
    (void)state;
    caps(1, 2, 2);
}

/* I/O-bound and CPU-bound mix, some pinned: no CPU idles longer than one
 * stealing interval while a VCPU it may run waits behind a busy CPU. */
static void idle_steal(uint32_t p, uint32_t k, uint32_t t)
{
    struct sim_cfg c;
    struct sim_result r;
    uint32_t cpus = p * k * t;

    cfg_init(&c, p, k, t, 3);
    add_dom(&c, 1, 256, 0, false);
    add_dom(&c, 2, 256, 0, false);
    add_dom(&c, 3, 512, 0, false);
    add_vcpus(&c, 1, cpus, 0, 2 * MS, 3 * MS);     /* I/O-bound */
    add_vcpus(&c, 2, cpus / 2, 0, 0, 0);           /* CPU-bound */
    add_vcpus(&c, 3, 2, 0x3, 7 * MS, 5 * MS);      /* pinned to CPUs 0-1 */
    add_vcpus(&c, 3, 1, 1ull << (cpus - 1), 0, 0); /* pinned to the last CPU */
    run(&c, &r, "idle-steal");
    assert_true(r.max_idle_overload_ns <= SCHED_STEAL_INTERVAL_NS);
    assert_true(r.steals[SCHED_LEVEL_SMT] > 0);
}

static void test_idle_steal_2x2x2(void **state)
{
    (void)state;
    idle_steal(2, 2, 2);
}
static void test_idle_steal_1x2x2(void **state)
{
    (void)state;
    idle_steal(1, 2, 2);
}

/* Two 4-VCPU gangs with weights 256 and 512, alone: 1:2, all-or-none. */
static void test_gang_weights_1x2x2(void **state)
{
    (void)state;
    struct sim_cfg c;
    struct sim_result r;

    cfg_init(&c, 1, 2, 2, 4);
    add_dom(&c, 1, 256, 0, true);
    add_dom(&c, 2, 512, 0, true);
    add_vcpus(&c, 1, 4, 0, 0, 0);
    add_vcpus(&c, 2, 4, 0, 0, 0);
    run(&c, &r, "gang-weights");
    assert_within(r.dom_share[0], 4.0 / 3, 0.05, "gang 256");
    assert_within(r.dom_share[1], 8.0 / 3, 0.05, "gang 512");
    assert_true(r.gang_instants > 0);
}

/* A gang and an ordinary domain of equal weight and size: half each, the
 * gang as a block in every other slot. */
static void test_gang_vs_plain_1x2x2(void **state)
{
    (void)state;
    struct sim_cfg c;
    struct sim_result r;

    cfg_init(&c, 1, 2, 2, 8);
    add_dom(&c, 1, 256, 0, true);
    add_dom(&c, 2, 256, 0, false);
    add_vcpus(&c, 1, 4, 0, 0, 0);
    add_vcpus(&c, 2, 4, 0, 0, 0);
    run(&c, &r, "gang-vs-plain");
    assert_within(r.dom_share[0], 2.0, 0.05, "gang");
    assert_within(r.dom_share[1], 2.0, 0.05, "plain");
}

/* Gangs (CPU-bound, I/O-bound, capped, pinned) mixed with ordinary domains:
 * every instant all-or-none, and everybody progresses. */
static void gang_mix(uint32_t p, uint32_t k, uint32_t t)
{
    struct sim_cfg c;
    struct sim_result r;
    uint32_t cpus = p * k * t;

    cfg_init(&c, p, k, t, 5);
    add_dom(&c, 1, 256, 0, true);
    add_dom(&c, 2, 256, 0, true);
    add_dom(&c, 3, 256, 0, false);
    add_dom(&c, 4, 256, 0, false);
    add_dom(&c, 5, 256, 100, true);
    add_vcpus(&c, 1, cpus / 2 + 1, 0, 0, 0); /* CPU-bound gang */
    add_vcpus(&c, 2, 2, 0, 1 * MS, 2 * MS);  /* I/O-bound gang */
    add_vcpus(&c, 3, cpus / 2, 0, 0, 0);
    add_vcpus(&c, 4, 3, 0, 2 * MS, 2 * MS);
    add_vcpus(&c, 5, 1, 0x1, 0, 0); /* capped gang, pinned */
    add_vcpus(&c, 5, 1, 0x3, 0, 0);
    run(&c, &r, "gang-mix");
    for (uint32_t d = 0; d < c.dom_count; d++)
        assert_true(r.dom_share[d] > 0.05);
    assert_true(r.dom_share[4] <= 1.0 * 1.05); /* the cap holds for a gang */
    assert_true(r.gang_instants > 1000);
}

static void test_gang_mix_2x2x2(void **state)
{
    (void)state;
    gang_mix(2, 2, 2);
}
static void test_gang_mix_1x2x2(void **state)
{
    (void)state;
    gang_mix(1, 2, 2);
}

/* Capped gangs (cap below what one slot of all members costs): a 2-VCPU
 * gang capped at 50% of a CPU and a 4-VCPU gang capped at 150%, next to
 * CPU-bound ordinary domains. Each gang gets close to its cap (never more),
 * all-or-none, and never waits longer than the starvation bound. */
static void capped_gangs(uint32_t p, uint32_t k, uint32_t t)
{
    struct sim_cfg c;
    struct sim_result r;
    uint32_t cpus = p * k * t;

    cfg_init(&c, p, k, t, 8);
    add_dom(&c, 1, 256, 50, true);
    add_dom(&c, 2, 256, 150, true);
    add_dom(&c, 3, 256, 0, false);
    add_vcpus(&c, 1, 2, 0, 0, 0);
    add_vcpus(&c, 2, 4, 0, 0, 0);
    add_vcpus(&c, 3, cpus, 0, 0, 0);
    run(&c, &r, "capped-gangs");
    assert_true(r.dom_share[0] <= 0.5 * 1.05);
    assert_true(r.dom_share[1] <= 1.5 * 1.05);
    assert_true(r.dom_share[0] >= 0.5 * 0.8);
    assert_true(r.dom_share[1] >= 1.5 * 0.8);
    for (uint32_t i = 0; i < c.vcpu_count; i++)
        assert_true(r.max_wait_ns[i] <= SCHED_MAX_WAIT_NS(c.vcpu_count));
}

static void test_capped_gangs_1x2x2(void **state)
{
    (void)state;
    capped_gangs(1, 2, 2);
}
static void test_capped_gangs_2x2x2(void **state)
{
    (void)state;
    capped_gangs(2, 2, 2);
}

/* Extreme weights, a heavy gang and a crowded pinned CPU: every runnable
 * VCPU waits at most SCHED_MAX_WAIT_NS. */
static void starvation(uint32_t p, uint32_t k, uint32_t t)
{
    struct sim_cfg c;
    struct sim_result r;
    uint32_t cpus = p * k * t;

    cfg_init(&c, p, k, t, 6);
    add_dom(&c, 1, 65535, 0, true);
    add_dom(&c, 2, 1, 0, false);
    add_dom(&c, 3, 65535, 0, false);
    add_dom(&c, 4, 1, 0, true);
    add_vcpus(&c, 1, cpus, 0, 0, 0);      /* a gang as wide as the machine */
    add_vcpus(&c, 2, 3, 0, 0, 0);         /* weight 1, CPU-bound */
    add_vcpus(&c, 2, 2, 0x1, 0, 0);       /* weight 1, pinned to CPU 0 */
    add_vcpus(&c, 3, cpus, 0, 0, 0);      /* heavy, CPU-bound */
    add_vcpus(&c, 4, 2, 0x1 | 0x4, 0, 0); /* light gang */
    run(&c, &r, "starvation");
    for (uint32_t i = 0; i < c.vcpu_count; i++) {
        assert_true(r.vcpu_run_ns[i] > 0);
        assert_true(r.max_wait_ns[i] <= SCHED_MAX_WAIT_NS(c.vcpu_count));
    }
}

static void test_starvation_2x2x2(void **state)
{
    (void)state;
    starvation(2, 2, 2);
}
static void test_starvation_1x2x2(void **state)
{
    (void)state;
    starvation(1, 2, 2);
}

/* Pinned VCPUs only ever run where allowed (checked every instant), and
 * pinning does not keep a free CPU idle. */
static void test_pinning_2x2x2(void **state)
{
    (void)state;
    struct sim_cfg c;
    struct sim_result r;

    cfg_init(&c, 2, 2, 2, 7);
    add_dom(&c, 1, 256, 0, false);
    add_dom(&c, 2, 256, 0, false);
    for (uint32_t i = 0; i < 8; i++)
        add_vcpus(&c, 1, 1, 1ull << i, 0, 0); /* one per CPU */
    add_vcpus(&c, 2, 3, 0x30, 0, 0);          /* three on CPUs 4-5 */
    add_vcpus(&c, 2, 2, 0xf0, 4 * MS, 1 * MS);
    run(&c, &r, "pinning");
    assert_true(r.idle_fraction < 0.001);
    for (uint32_t i = 0; i < 4; i++) /* CPUs 0-3 each hold one VCPU alone */
        assert_within(r.vcpu_run_ns[i], (double)MINUTE, 0.001, "sole pinned VCPU");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weights_2x2x2),      cmocka_unit_test(test_weights_1x2x2),
        cmocka_unit_test(test_caps_2x2x2),         cmocka_unit_test(test_caps_1x2x2),
        cmocka_unit_test(test_idle_steal_2x2x2),   cmocka_unit_test(test_idle_steal_1x2x2),
        cmocka_unit_test(test_gang_weights_1x2x2), cmocka_unit_test(test_gang_vs_plain_1x2x2),
        cmocka_unit_test(test_gang_mix_2x2x2),     cmocka_unit_test(test_gang_mix_1x2x2),
        cmocka_unit_test(test_starvation_2x2x2),   cmocka_unit_test(test_starvation_1x2x2),
        cmocka_unit_test(test_pinning_2x2x2),      cmocka_unit_test(test_capped_gangs_1x2x2),
        cmocka_unit_test(test_capped_gangs_2x2x2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
