/*
 * Direct tests of the scheduling policy API: argument checking (nothing
 * changes on error), the gang rule, wake-up placement, the stealing order
 * and the migration cost, caps and statistics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sched.h"

#define MS 1000000ull

/* packages x cores x threads; CPU i = (i / (c*t), (i / t) % c, i % t). */
static void topo(struct sched_topology *t, uint32_t p, uint32_t c, uint32_t th)
{
    memset(t, 0, sizeof(*t));
    t->cpu_count = p * c * th;
    for (uint32_t i = 0; i < t->cpu_count; i++) {
        t->cpu[i].package_id = (uint16_t)(i / (c * th));
        t->cpu[i].core_id = (uint16_t)((i / th) % c);
        t->cpu[i].thread_id = (uint16_t)(i % th);
    }
}

static struct sched *new_sched(uint32_t p, uint32_t c, uint32_t th)
{
    struct sched_topology t;
    struct sched *s = calloc(1, sizeof(*s));

    assert_non_null(s);
    topo(&t, p, c, th);
    assert_int_equal(sched_init(s, &t), HV_OK);
    return s;
}

static const struct sched_domain_params dflt = {SCHED_WEIGHT_DEFAULT, 0, false};

static sched_vcpu_t add_vcpu(struct sched *s, domid_t d, sched_cpumask_t aff)
{
    sched_vcpu_t v;

    assert_int_equal(sched_add_vcpu(s, d, aff, &v), HV_OK);
    return v;
}

static void test_init_checks(void **state)
{
    (void)state;
    struct sched_topology t;
    struct sched *s = calloc(1, sizeof(*s));

    topo(&t, 1, 1, 1);
    t.cpu_count = 0;
    assert_int_equal(sched_init(s, &t), HV_EINVAL);
    t.cpu_count = SCHED_MAX_CPUS + 1;
    assert_int_equal(sched_init(s, &t), HV_EINVAL);
    topo(&t, 1, 2, 2);
    t.cpu[3] = t.cpu[1]; /* duplicate (package, core, thread) */
    assert_int_equal(sched_init(s, &t), HV_EINVAL);
    topo(&t, 2, 2, 2);
    assert_int_equal(sched_init(s, &t), HV_OK);
    assert_int_equal(s->cpu[0].level_mask[SCHED_LEVEL_SMT], 0x2);
    assert_int_equal(s->cpu[0].level_mask[SCHED_LEVEL_PKG], 0xc);
    assert_int_equal(s->cpu[0].level_mask[SCHED_LEVEL_REMOTE], 0xf0);
    assert_int_equal(sched_pick(s, 8, 0, &(struct sched_decision){0}), HV_EINVAL);
    free(s);
}

static void test_domain_checks(void **state)
{
    (void)state;
    struct sched *s = new_sched(1, 2, 2);
    struct sched_domain_params p = dflt;
    sched_vcpu_t v;

    p.weight = 0;
    assert_int_equal(sched_add_domain(s, 1, &p), HV_EINVAL);
    p.weight = SCHED_WEIGHT_MAX + 1;
    assert_int_equal(sched_add_domain(s, 1, &p), HV_EINVAL);
    p = dflt;
    p.cap_pct = SCHED_CAP_MAX_PCT + 1;
    assert_int_equal(sched_add_domain(s, 1, &p), HV_EINVAL);
    assert_int_equal(sched_add_domain(s, 1, NULL), HV_EINVAL);
    assert_int_equal(sched_add_domain(s, DOMID_INVALID, &dflt), HV_EINVAL);
    assert_int_equal(sched_add_vcpu(s, 1, 1, &v), HV_ENOENT); /* nothing was added */
    assert_int_equal(sched_add_domain(s, 1, &dflt), HV_OK);
    assert_int_equal(sched_add_domain(s, 1, &dflt), HV_EEXIST);
    for (uint32_t i = 2; i <= SCHED_MAX_DOMAINS; i++)
        assert_int_equal(sched_add_domain(s, (domid_t)(i + 100), &dflt), HV_OK);
    assert_int_equal(sched_add_domain(s, 2, &dflt), HV_ENOMEM);

    assert_int_equal(sched_add_vcpu(s, 1, 0, &v), HV_EINVAL);         /* empty mask */
    assert_int_equal(sched_add_vcpu(s, 1, 1ull << 4, &v), HV_EINVAL); /* no such CPU */
    v = add_vcpu(s, 1, 0xf);
    assert_int_equal(sched_remove_domain(s, 1), HV_EBUSY);
    p.weight = 70000;
    assert_int_equal(sched_set_domain(s, 1, &p), HV_EINVAL);
    assert_int_equal(s->dom[0].weight, SCHED_WEIGHT_DEFAULT);
    assert_int_equal(sched_set_domain(s, 77, &dflt), HV_ENOENT);

    sched_cpumask_t kick;
    assert_int_equal(sched_wake(s, 200, 0, &kick), HV_ENOENT);
    assert_int_equal(sched_wake(s, SCHED_VCPU_NONE, 0, &kick), HV_ENOENT);
    assert_int_equal(sched_wake(s, v, 0, &kick), HV_OK);
    assert_int_equal(sched_remove_vcpu(s, v), HV_EBUSY); /* runnable */
    assert_int_equal(sched_block(s, v, 0, &kick), HV_OK);
    assert_int_equal(sched_remove_vcpu(s, v), HV_OK);
    assert_int_equal(sched_remove_vcpu(s, v), HV_ENOENT);
    assert_int_equal(sched_remove_domain(s, 1), HV_OK);
    assert_int_equal(sched_remove_domain(s, 1), HV_ENOENT);
    free(s);
}

static void test_vcpu_table_full(void **state)
{
    (void)state;
    struct sched *s = new_sched(1, 1, 1);
    sched_vcpu_t v;

    assert_int_equal(sched_add_domain(s, 1, &dflt), HV_OK);
    for (uint32_t i = 0; i < SCHED_MAX_VCPUS; i++)
        (void)add_vcpu(s, 1, 1);
    assert_int_equal(sched_add_vcpu(s, 1, 1, &v), HV_ENOMEM);
    free(s);
}

/* The gang rule: never more VCPUs than distinct CPUs they can run on. */
static void test_gang_rule(void **state)
{
    (void)state;
    struct sched *s = new_sched(1, 2, 2);
    struct sched_domain_params g = {256, 0, true};
    sched_vcpu_t v[4], x;
    sched_cpumask_t kick;

    assert_int_equal(sched_add_domain(s, 1, &g), HV_OK);
    for (int i = 0; i < 4; i++)
        v[i] = add_vcpu(s, 1, 0xf);
    assert_int_equal(sched_add_vcpu(s, 1, 0xf, &x), HV_E2BIG); /* 5 VCPUs on 4 CPUs */
    /* Pinning three members to two CPUs leaves no distinct placement. */
    assert_int_equal(sched_set_affinity(s, v[0], 0x3, 0, &kick), HV_OK);
    assert_int_equal(sched_set_affinity(s, v[1], 0x3, 0, &kick), HV_OK);
    assert_int_equal(sched_set_affinity(s, v[2], 0x3, 0, &kick), HV_E2BIG);
    assert_int_equal(s->vcpu[v[2]].affinity, 0xf); /* unchanged */

    /* Turning gang on for a domain too large for the machine is refused. */
    assert_int_equal(sched_add_domain(s, 2, &dflt), HV_OK);
    for (int i = 0; i < 5; i++)
        (void)add_vcpu(s, 2, 0xf);
    assert_int_equal(sched_set_domain(s, 2, &g), HV_E2BIG);
    assert_false(s->dom[1].gang);
    free(s);
}

/* Wake-up placement: a fully idle core first, then an idle sibling. */
static void test_placement(void **state)
{
    (void)state;
    struct sched *s = new_sched(2, 2, 2); /* cores: {0,1} {2,3} {4,5} {6,7} */
    struct sched_decision dec;
    sched_cpumask_t kick, busy_cores = 0;

    assert_int_equal(sched_add_domain(s, 1, &dflt), HV_OK);
    for (int i = 0; i < 4; i++) {
        sched_vcpu_t v = add_vcpu(s, 1, 0xff);
        assert_int_equal(sched_wake(s, v, 0, &kick), HV_OK);
        assert_int_equal(__builtin_popcountll(kick), 1);
        uint32_t cpu = (uint32_t)__builtin_ctzll(kick);
        sched_cpumask_t core = 3ull << (cpu & ~1u);
        assert_int_equal(busy_cores & core, 0); /* a fully idle core */
        busy_cores |= core;
        assert_int_equal(sched_pick(s, cpu, 0, &dec), HV_OK);
        assert_int_equal(dec.vcpu, v);
    }
    /* Every core busy: the next wakes go to idle sibling threads. */
    sched_vcpu_t v = add_vcpu(s, 1, 0xff);
    assert_int_equal(sched_wake(s, v, 0, &kick), HV_OK);
    uint32_t cpu = (uint32_t)__builtin_ctzll(kick);
    assert_int_equal(s->cpu[cpu].current, SCHED_VCPU_NONE);
    assert_int_equal(s->cpu[cpu].queued, 1);
    assert_int_not_equal(s->cpu[cpu ^ 1].current, SCHED_VCPU_NONE);
    /* Pinning is respected by placement. */
    sched_vcpu_t p = add_vcpu(s, 1, 1ull << 6);
    assert_int_equal(sched_wake(s, p, 0, &kick), HV_OK);
    assert_int_equal(s->vcpu[p].cpu, 6);
    free(s);
}

/* Makes CPU `cpu` run one VCPU with another queued behind it. */
static void load_cpu(struct sched *s, uint32_t cpu, sched_vcpu_t *queued)
{
    sched_cpumask_t kick;
    struct sched_decision dec;
    sched_vcpu_t a = add_vcpu(s, 1, 1ull << cpu), b = add_vcpu(s, 1, 1ull << cpu);

    assert_int_equal(sched_wake(s, a, 0, &kick), HV_OK);
    assert_int_equal(sched_pick(s, cpu, 0, &dec), HV_OK);
    assert_int_equal(dec.vcpu, a);
    assert_int_equal(sched_wake(s, b, 0, &kick), HV_OK);
    assert_int_equal(s->vcpu[b].cpu, cpu);
    assert_int_equal(sched_set_affinity(s, b, 0xff, 0, &kick), HV_OK);
    *queued = b;
}

/* An idle CPU steals from its SMT sibling first, then its package. */
static void test_steal_order(void **state)
{
    (void)state;
    struct sched *s = new_sched(2, 2, 2);
    struct sched_decision dec;
    sched_vcpu_t sib, pkg, remote;

    assert_int_equal(sched_add_domain(s, 1, &dflt), HV_OK);
    load_cpu(s, 4, &remote); /* other package */
    load_cpu(s, 2, &pkg);    /* same package, other core */
    load_cpu(s, 1, &sib);    /* SMT sibling of CPU 0 */
    assert_int_equal(sched_pick(s, 0, 1 * MS, &dec), HV_OK);
    assert_int_equal(dec.vcpu, sib);
    assert_int_equal(s->cpu[0].steals[SCHED_LEVEL_SMT], 1);
    assert_int_equal(sched_pick(s, 3, 1 * MS, &dec), HV_OK); /* CPU 3: sibling of 2 */
    assert_int_equal(dec.vcpu, pkg);
    assert_int_equal(sched_pick(s, 6, 1 * MS, &dec), HV_OK); /* CPU 6: package of 4 */
    assert_int_equal(dec.vcpu, remote);
    assert_int_equal(s->cpu[6].steals[SCHED_LEVEL_PKG], 1);
    free(s);
}

/* A cache-hot VCPU is not stolen across packages before the migration cost. */
static void test_migration_cost(void **state)
{
    (void)state;
    struct sched *s = new_sched(2, 1, 1); /* CPU 0 and CPU 1 in different packages */
    struct sched_decision dec;
    sched_cpumask_t kick;
    sched_vcpu_t a, b;

    assert_int_equal(sched_add_domain(s, 1, &dflt), HV_OK);
    a = add_vcpu(s, 1, 0x1);
    b = add_vcpu(s, 1, 0x1);
    sched_vcpu_t c1 = add_vcpu(s, 1, 0x2); /* keeps CPU 1 busy until 5 ms */
    assert_int_equal(sched_wake(s, c1, 0, &kick), HV_OK);
    assert_int_equal(sched_pick(s, 1, 0, &dec), HV_OK);
    assert_int_equal(dec.vcpu, c1);
    assert_int_equal(sched_wake(s, a, 0, &kick), HV_OK);
    assert_int_equal(sched_wake(s, b, 0, &kick), HV_OK);
    assert_int_equal(sched_pick(s, 0, 0, &dec), HV_OK);
    sched_vcpu_t first = dec.vcpu, second = first == a ? b : a;
    assert_int_equal(sched_block(s, c1, 5 * MS, &kick), HV_OK);
    assert_int_equal(kick, 0x2);
    assert_int_equal(sched_pick(s, 1, 5 * MS, &dec), HV_OK); /* CPU 1 idle from 5 ms */
    assert_int_equal(dec.vcpu, SCHED_VCPU_NONE);
    assert_int_equal(sched_pick(s, 0, 5 * MS, &dec), HV_OK); /* preempts first */
    assert_int_equal(dec.vcpu, second);
    assert_int_equal(sched_set_affinity(s, first, 0x3, 5 * MS, &kick), HV_OK);
    assert_int_equal(sched_pick(s, 1, 5 * MS, &dec), HV_OK);
    assert_int_equal(dec.vcpu, SCHED_VCPU_NONE); /* hot: stays */
    assert_true(dec.slice_ns <= SCHED_MIGRATE_COST_REMOTE_NS);
    assert_int_equal(sched_pick(s, 1, 5 * MS + dec.slice_ns, &dec), HV_OK);
    assert_int_equal(dec.vcpu, first);
    struct sched_vcpu_stats st;
    assert_int_equal(sched_vcpu_stats(s, first, 6 * MS, &st), HV_OK);
    assert_int_equal(st.migrations, 1);
    assert_int_equal(st.run_ns, 5 * MS + (6 * MS - 5 * MS - SCHED_MIGRATE_COST_REMOTE_NS));
    assert_int_equal(st.wait_ns, SCHED_MIGRATE_COST_REMOTE_NS);
    assert_int_equal(st.cpu, 1);

    /* Blocked and woken again: placed on the now idle CPU 1, which is kicked. */
    assert_int_equal(sched_block(s, first, 6 * MS, &kick), HV_OK);
    assert_int_equal(sched_pick(s, 1, 6 * MS, &dec), HV_OK);
    assert_int_equal(dec.vcpu, SCHED_VCPU_NONE);
    assert_int_equal(sched_wake(s, first, 7 * MS, &kick), HV_OK);
    assert_int_equal(kick, 0x2);
    assert_int_equal(s->vcpu[first].cpu, 1);
    free(s);
}

/* A capped domain's slice ends with its budget; then it is parked. */
static void test_cap_parks(void **state)
{
    (void)state;
    struct sched *s = new_sched(1, 1, 1);
    struct sched_domain_params p = {256, 20, false}; /* 6 ms per 30 ms */
    struct sched_decision dec;
    struct sched_vcpu_stats st;
    sched_cpumask_t kick;
    sched_vcpu_t v;

    assert_int_equal(sched_add_domain(s, 1, &p), HV_OK);
    v = add_vcpu(s, 1, 1);
    assert_int_equal(sched_wake(s, v, 0, &kick), HV_OK);
    assert_int_equal(sched_pick(s, 0, 0, &dec), HV_OK);
    assert_int_equal(dec.vcpu, v);
    assert_int_equal(dec.slice_ns, 6 * MS);
    assert_int_equal(sched_pick(s, 0, 6 * MS, &dec), HV_OK);
    assert_int_equal(dec.vcpu, SCHED_VCPU_NONE);
    assert_int_equal(sched_vcpu_stats(s, v, 6 * MS, &st), HV_OK);
    assert_true(st.parked);
    assert_int_equal(sched_pick(s, 0, 30 * MS, &dec), HV_OK); /* new period */
    assert_int_equal(dec.vcpu, v);
    free(s);
}

/* A gang's members start together on distinct CPUs at the next slot. */
static void test_gang_start(void **state)
{
    (void)state;
    struct sched *s = new_sched(1, 2, 2);
    struct sched_domain_params g = {256, 0, true};
    struct sched_decision dec;
    sched_cpumask_t kick;
    sched_vcpu_t a, b;
    uint32_t running = 0;

    assert_int_equal(sched_add_domain(s, 1, &g), HV_OK);
    a = add_vcpu(s, 1, 0xf);
    b = add_vcpu(s, 1, 0xf);
    assert_int_equal(sched_wake(s, a, 1 * MS, &kick), HV_OK);
    assert_int_equal(kick, 0); /* waits for the rendezvous */
    assert_int_equal(sched_wake(s, b, 1 * MS, &kick), HV_OK);
    for (uint32_t c = 0; c < 4; c++) {
        assert_int_equal(sched_pick(s, c, 10 * MS, &dec), HV_OK);
        if (dec.vcpu != SCHED_VCPU_NONE) {
            running++;
            assert_int_equal(dec.slice_ns, 10 * MS);
        }
    }
    assert_int_equal(running, 2);
    assert_int_not_equal(s->vcpu[a].cpu, s->vcpu[b].cpu);
    free(s);
}

/* A member that wakes during its gang's slot without a reservation joins
 * on a free CPU; with none free, the whole gang stops (never a part). */
static void test_gang_late_member(void **state)
{
    (void)state;
    struct sched *s = new_sched(1, 2, 2);
    struct sched_domain_params g = {256, 0, true};
    struct sched_decision dec;
    sched_cpumask_t kick, members = 0;
    sched_vcpu_t a, b, c, d;

    assert_int_equal(sched_add_domain(s, 1, &g), HV_OK);
    assert_int_equal(sched_add_domain(s, 2, &dflt), HV_OK);
    a = add_vcpu(s, 1, 0xf);
    b = add_vcpu(s, 1, 0xf);
    assert_int_equal(sched_wake(s, a, 0, &kick), HV_OK);
    assert_int_equal(sched_wake(s, b, 0, &kick), HV_OK);
    for (uint32_t cpu = 0; cpu < 4; cpu++) {
        assert_int_equal(sched_pick(s, cpu, 10 * MS, &dec), HV_OK);
        if (dec.vcpu != SCHED_VCPU_NONE)
            members |= 1ull << cpu;
    }
    assert_int_equal(__builtin_popcountll(members), 2);

    /* A third member joins on a free CPU at once. */
    c = add_vcpu(s, 1, 0xf);
    assert_int_equal(sched_wake(s, c, 11 * MS, &kick), HV_OK);
    assert_int_equal(__builtin_popcountll(kick), 1);
    assert_int_equal(kick & members, 0);
    uint32_t cc = (uint32_t)__builtin_ctzll(kick);
    assert_int_equal(sched_pick(s, cc, 11 * MS, &dec), HV_OK);
    assert_int_equal(dec.vcpu, c);
    assert_int_equal(dec.slice_ns, 9 * MS); /* ends with the others */
    members |= kick;

    /* The fourth CPU is taken by the ordinary domain's VCPU... */
    sched_vcpu_t o = add_vcpu(s, 2, 0xf);
    assert_int_equal(sched_wake(s, o, 11 * MS, &kick), HV_OK);
    assert_int_equal(kick & members, 0);
    assert_int_equal(sched_pick(s, (uint32_t)__builtin_ctzll(kick), 11 * MS, &dec), HV_OK);
    assert_int_equal(dec.vcpu, o);
    /* ... a fourth member pinned to a member's CPU cannot join: all stop. */
    d = add_vcpu(s, 1, 1ull << cc);
    assert_int_equal(sched_wake(s, d, 12 * MS, &kick), HV_OK);
    assert_int_equal(kick, members);
    for (uint32_t cpu = 0; cpu < 4; cpu++) {
        if (!(kick & (1ull << cpu)))
            continue;
        assert_int_equal(sched_pick(s, cpu, 12 * MS, &dec), HV_OK);
        assert_true(dec.vcpu == SCHED_VCPU_NONE || dec.vcpu == o);
    }
    free(s);
}

/* A yield hands the CPU to a VCPU queued on the same CPU even when that one
 * has used more CPU time; with nobody queued the yielder runs on. Bad
 * arguments change nothing. */
static void test_yield(void **state)
{
    (void)state;
    struct sched *s = new_sched(1, 1, 1);
    struct sched_decision dec;
    sched_cpumask_t kick;
    sched_vcpu_t a, b;

    assert_int_equal(sched_add_domain(s, 1, &dflt), HV_OK);
    assert_int_equal(sched_add_domain(s, 2, &dflt), HV_OK);
    a = add_vcpu(s, 1, 1);
    b = add_vcpu(s, 2, 1);
    assert_int_equal(sched_vcpu_yield(NULL, a, 0), HV_EINVAL);
    assert_int_equal(sched_vcpu_yield(s, SCHED_MAX_VCPUS, 0), HV_ENOENT);
    assert_int_equal(sched_vcpu_yield(s, a, 0), HV_OK); /* not running: no-op */
    /* b runs alone for 5 ms; yielding with nobody queued keeps it. */
    assert_int_equal(sched_wake(s, b, 0, &kick), HV_OK);
    assert_int_equal(sched_pick(s, 0, 0, &dec), HV_OK);
    assert_int_equal(dec.vcpu, b);
    assert_int_equal(sched_vcpu_yield(s, b, 1 * MS), HV_OK);
    assert_int_equal(sched_pick(s, 0, 1 * MS, &dec), HV_OK);
    assert_int_equal(dec.vcpu, b);
    assert_int_equal(sched_wake(s, a, 1 * MS, &kick), HV_OK);
    assert_int_equal(sched_pick(s, 0, 5 * MS, &dec), HV_OK);
    assert_int_equal(dec.vcpu, a); /* a is owed more */
    /* After 1 ms a is still owed more than b, so only its yield lets b in. */
    assert_int_equal(sched_vcpu_yield(s, a, 6 * MS), HV_OK);
    assert_int_equal(sched_pick(s, 0, 6 * MS, &dec), HV_OK);
    assert_int_equal(dec.vcpu, b);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_checks),     cmocka_unit_test(test_domain_checks),
        cmocka_unit_test(test_vcpu_table_full), cmocka_unit_test(test_gang_rule),
        cmocka_unit_test(test_placement),       cmocka_unit_test(test_steal_order),
        cmocka_unit_test(test_migration_cost),  cmocka_unit_test(test_cap_parks),
        cmocka_unit_test(test_gang_start),      cmocka_unit_test(test_gang_late_member),
        cmocka_unit_test(test_yield),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
