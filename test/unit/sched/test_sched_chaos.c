/*
 * Randomised driving of the scheduling policy: wakes, blocks, affinity and
 * parameter changes, VCPUs added and removed, all in the middle of running,
 * with the mechanism's obligations honoured (pick when a slice ends or a
 * CPU is kicked, in a random order). After every instant the policy's
 * internal invariants, pinning and gang all-or-none are checked, and at
 * every pick that no CPU is given a VCPU another CPU still runs (the
 * mechanism saves a VCPU's frame only at its own CPU's next pick).
 * Deterministic (fixed seeds).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sched.h"

#define MS 1000000ull
#define MAXV 48

struct chaos {
    struct sched *s;
    uint64_t rng, t;
    uint64_t slice_end[SCHED_MAX_CPUS];
    sched_vcpu_t v[MAXV];
    uint32_t vcount;
    uint64_t gang_running_instants;
    /* What each CPU runs as the mechanism sees it: the VCPU its last pick
     * returned. Another CPU must never be given it before this CPU picks
     * again (its frame is live here until then). */
    sched_vcpu_t mech[SCHED_MAX_CPUS];
};

static uint32_t rnd(struct chaos *c, uint32_t n)
{
    c->rng = c->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((c->rng >> 33) % n);
}

static void invariants(struct chaos *c)
{
    struct sched *s = c->s;
    uint32_t runnable[SCHED_MAX_DOMAINS] = {0}, count[SCHED_MAX_DOMAINS] = {0};
    uint64_t granted[SCHED_MAX_DOMAINS] = {0};
    uint32_t running_members[SCHED_MAX_DOMAINS] = {0};

    for (uint32_t cpu = 0; cpu < s->cpu_count; cpu++) {
        uint32_t n = 0;
        sched_vcpu_t prev = SCHED_VCPU_NONE;

        for (sched_vcpu_t q = s->cpu[cpu].head; q != SCHED_VCPU_NONE; q = s->vcpu[q].next) {
            assert_int_equal(s->vcpu[q].state, SCHED_VCPU_QUEUED);
            assert_int_equal(s->vcpu[q].cpu, cpu);
            assert_int_equal(s->vcpu[q].prev, prev);
            assert_true(s->vcpu[q].affinity & (1ull << cpu));
            assert_false(s->dom[s->vcpu[q].dom].gang);
            prev = q;
            assert_true(++n <= SCHED_MAX_VCPUS);
        }
        assert_int_equal(n, s->cpu[cpu].queued);
        sched_vcpu_t cur = s->cpu[cpu].current;
        if (cur != SCHED_VCPU_NONE) {
            assert_int_equal(s->vcpu[cur].state, SCHED_VCPU_RUNNING);
            assert_int_equal(s->vcpu[cur].cpu, cpu);
            assert_true(s->vcpu[cur].affinity & (1ull << cpu)); /* pinning */
            assert_false(s->vcpu[cur].block_pending);
            if (s->dom[s->vcpu[cur].dom].gang)
                running_members[s->vcpu[cur].dom]++;
        }
        /* Every slice ends at or before the next slot boundary. */
        assert_true(c->slice_end[cpu] <= (c->t / SCHED_SLOT_NS + 1) * SCHED_SLOT_NS);
    }
    for (uint32_t v = 0; v < s->vcpu_high; v++) {
        const struct sched_vcpu *vp = &s->vcpu[v];

        if (vp->state == SCHED_VCPU_FREE)
            continue;
        count[vp->dom]++;
        granted[vp->dom] += vp->granted_ns;
        if (vp->state != SCHED_VCPU_BLOCKED)
            runnable[vp->dom]++;
        if (vp->state == SCHED_VCPU_RUNNING)
            assert_int_equal(s->cpu[vp->cpu].current, v);
        else
            assert_int_equal(vp->granted_ns, 0);
    }
    for (uint32_t d = 0; d < SCHED_MAX_DOMAINS; d++) {
        if (!s->dom[d].used)
            continue;
        assert_int_equal(count[d], s->dom[d].vcpu_count);
        assert_int_equal(runnable[d], s->dom[d].runnable_count);
        assert_int_equal(granted[d], s->dom[d].committed_ns);
        /* Gang: none of the runnable members runs, or all do. */
        if (s->dom[d].gang && running_members[d] != 0) {
            assert_int_equal(running_members[d], runnable[d]);
            c->gang_running_instants++;
        }
    }
}

/* Kicked CPUs and CPUs whose slice ended pick, in a random order (which
 * CPU takes the hypervisor's lock first is up to the hardware). */
static void pick_all(struct chaos *c, sched_cpumask_t pending)
{
    uint32_t guard = 0;

    for (uint32_t cpu = 0; cpu < c->s->cpu_count; cpu++)
        if (c->slice_end[cpu] <= c->t)
            pending |= 1ull << cpu;
    while (pending != 0) {
        uint32_t cpu = rnd(c, c->s->cpu_count);
        struct sched_decision dec;

        if (!(pending & (1ull << cpu)))
            continue;
        pending &= ~(1ull << cpu);
        assert_true(++guard < 1000);
        assert_int_equal(sched_pick(c->s, cpu, c->t, &dec), HV_OK);
        assert_true(dec.slice_ns > 0);
        if (dec.vcpu != SCHED_VCPU_NONE)
            for (uint32_t o = 0; o < c->s->cpu_count; o++)
                if (o != cpu && c->mech[o] == dec.vcpu)
                    fail_msg("t=%llu: CPU %u was given VCPU %u, which CPU %u still runs",
                             (unsigned long long)c->t, cpu, dec.vcpu, o);
        c->mech[cpu] = dec.vcpu;
        c->slice_end[cpu] = c->t + dec.slice_ns;
        pending |= dec.kick_mask;
    }
}

static sched_cpumask_t rand_mask(struct chaos *c)
{
    sched_cpumask_t all = c->s->all_cpus, m = 0;

    while ((m & all) == 0)
        m = ((sched_cpumask_t)rnd(c, 1u << 16) << 16 | rnd(c, 1u << 16)) & all;
    return rnd(c, 3) == 0 ? all : m;
}

static void op(struct chaos *c)
{
    struct sched *s = c->s;
    sched_cpumask_t kick = 0;
    uint32_t k = rnd(c, 100);

    if (c->vcount == 0)
        k = 95;
    sched_vcpu_t v = c->vcount ? c->v[rnd(c, c->vcount)] : 0;
    if (k < 40) {
        assert_int_equal(sched_wake(s, v, c->t, &kick), HV_OK);
    } else if (k < 75) {
        assert_int_equal(sched_block(s, v, c->t, &kick), HV_OK);
    } else if (k < 85) {
        sched_cpumask_t before = s->vcpu[v].affinity;
        enum hv_status st = sched_set_affinity(s, v, rand_mask(c), c->t, &kick);

        assert_true(st == HV_OK || (st == HV_E2BIG && s->dom[s->vcpu[v].dom].gang));
        if (st != HV_OK)
            assert_int_equal(s->vcpu[v].affinity, before);
    } else if (k < 90) {
        domid_t d = s->dom[s->vcpu[v].dom].domid;
        struct sched_domain_params p = {1 + rnd(c, 2000), rnd(c, 4) ? 0 : 20 + rnd(c, 300),
                                        s->dom[s->vcpu[v].dom].gang};
        assert_int_equal(sched_set_domain(s, d, &p), HV_OK);
    } else if (k < 95) {
        bool blocked = s->vcpu[v].state == SCHED_VCPU_BLOCKED;
        enum hv_status st = sched_remove_vcpu(s, v);

        assert_int_equal(st, blocked ? HV_OK : HV_EBUSY);
        if (st == HV_OK) {
            for (uint32_t i = 0; i < c->vcount; i++)
                if (c->v[i] == v)
                    c->v[i] = c->v[--c->vcount];
            /* The mechanism retires it once its CPU let go of it. */
            for (uint32_t o = 0; o < s->cpu_count; o++)
                if (c->mech[o] == v)
                    c->mech[o] = SCHED_VCPU_NONE;
        }
    } else if (c->vcount < MAXV) {
        domid_t d = (domid_t)(1 + rnd(c, 4));
        sched_vcpu_t nv;
        enum hv_status st = sched_add_vcpu(s, d, rand_mask(c), &nv);

        assert_true(st == HV_OK || (st == HV_E2BIG && (d == 1 || d == 2)));
        if (st == HV_OK)
            c->v[c->vcount++] = nv;
    }
    pick_all(c, kick);
}

static void chaos(uint32_t p, uint32_t k, uint32_t th, uint64_t seed)
{
    struct chaos c;
    struct sched_topology topo;
    struct sched_domain_params gang = {256, 0, true}, gang_cap = {512, 150, true},
                               plain = {256, 0, false}, plain_cap = {1024, 50, false};

    memset(&c, 0, sizeof(c));
    for (uint32_t i = 0; i < SCHED_MAX_CPUS; i++)
        c.mech[i] = SCHED_VCPU_NONE;
    c.rng = seed;
    c.s = calloc(1, sizeof(*c.s));
    memset(&topo, 0, sizeof(topo));
    topo.cpu_count = p * k * th;
    for (uint32_t i = 0; i < topo.cpu_count; i++) {
        topo.cpu[i].package_id = (uint16_t)(i / (k * th));
        topo.cpu[i].core_id = (uint16_t)((i / th) % k);
        topo.cpu[i].thread_id = (uint16_t)(i % th);
    }
    assert_int_equal(sched_init(c.s, &topo), HV_OK);
    assert_int_equal(sched_add_domain(c.s, 1, &gang), HV_OK);
    assert_int_equal(sched_add_domain(c.s, 2, &gang_cap), HV_OK);
    assert_int_equal(sched_add_domain(c.s, 3, &plain), HV_OK);
    assert_int_equal(sched_add_domain(c.s, 4, &plain_cap), HV_OK);
    pick_all(&c, c.s->all_cpus);
    for (uint32_t step = 0; step < 30000; step++) {
        uint64_t next = c.t + 1 + rnd(&c, 2 * MS);

        for (uint32_t cpu = 0; cpu < topo.cpu_count; cpu++)
            if (c.slice_end[cpu] < next)
                next = c.slice_end[cpu];
        c.t = next;
        if (rnd(&c, 2) == 0)
            op(&c);
        else
            pick_all(&c, 0);
        invariants(&c);
    }
    assert_true(c.gang_running_instants > 100);
    free(c.s);
}

static void test_chaos_2x2x2(void **state)
{
    (void)state;
    chaos(2, 2, 2, 11);
}
static void test_chaos_1x2x2(void **state)
{
    (void)state;
    chaos(1, 2, 2, 12);
}
static void test_chaos_1x1x1(void **state)
{
    (void)state;
    chaos(1, 1, 1, 13);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chaos_2x2x2),
        cmocka_unit_test(test_chaos_1x2x2),
        cmocka_unit_test(test_chaos_1x1x1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
