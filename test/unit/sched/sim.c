/*
 * The scheduling simulator (see sim.h). Time is exact (uint64_t ns); all
 * events at one instant are processed, kicks included, before the
 * invariants are checked for the interval up to the next event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define NONE 0xffffu

struct sim_vcpu {
    sched_vcpu_t h;
    bool blocked;
    uint64_t burst_left; /* I/O-bound: CPU left in this burst */
    uint64_t wake_at;
    int cpu; /* CPU running it, or -1 */
    bool waiting;
    uint64_t wait_since;
};

struct sim {
    const struct sim_cfg *cfg;
    struct sched *s;
    struct sim_vcpu v[SIM_MAX_VCPUS];
    uint16_t running[SCHED_MAX_CPUS]; /* sim index or NONE */
    uint64_t slice_end[SCHED_MAX_CPUS];
    bool overload[SCHED_MAX_CPUS];
    uint64_t overload_since[SCHED_MAX_CPUS];
    uint64_t rng;
    struct sim_result *r;
};

static uint64_t jitter(struct sim *m, uint64_t base)
{
    m->rng = m->rng * 6364136223846793005ull + 1442695040888963407ull;
    return base / 2 + (m->rng >> 33) % (base + 1);
}

static int sim_of(const struct sim *m, sched_vcpu_t h)
{
    for (uint32_t i = 0; i < m->cfg->vcpu_count; i++)
        if (m->v[i].h == h)
            return (int)i;
    return -1;
}

static const struct sim_dom_cfg *dom_cfg(const struct sim *m, uint32_t i)
{
    for (uint32_t d = 0; d < m->cfg->dom_count; d++)
        if (m->cfg->dom[d].id == m->cfg->vcpu[i].dom)
            return &m->cfg->dom[d];
    abort();
}

static uint32_t dom_index(const struct sim *m, uint32_t i)
{
    return (uint32_t)(dom_cfg(m, i) - m->cfg->dom);
}

/* Calls sched_pick on every CPU in `pending` (and those they kick). */
static void run_picks(struct sim *m, sched_cpumask_t pending, uint64_t t)
{
    uint32_t guard = 0;

    while (pending != 0) {
        uint32_t c = (uint32_t)__builtin_ctzll(pending);
        struct sched_decision dec;

        pending &= pending - 1;
        if (++guard > 10000 || sched_pick(m->s, c, t, &dec) != HV_OK) {
            m->r->consistency_errors++;
            return;
        }
        m->r->picks++;
        if (m->running[c] != NONE)
            m->v[m->running[c]].cpu = -1;
        m->running[c] = NONE;
        if (dec.vcpu != SCHED_VCPU_NONE) {
            int i = sim_of(m, dec.vcpu);

            if (i < 0 || m->v[i].blocked) {
                m->r->consistency_errors++; /* runs an unknown or blocked VCPU */
                continue;
            }
            if (m->v[i].cpu >= 0) {
                /* Still on a CPU that ends its slice at this very instant
                 * (a gang member re-planned elsewhere at a slot boundary)
                 * is a migration; anything else is running twice. */
                if (m->slice_end[m->v[i].cpu] > t)
                    m->r->consistency_errors++;
                m->running[m->v[i].cpu] = NONE;
            }
            m->running[c] = (uint16_t)i;
            m->v[i].cpu = (int)c;
        }
        if (dec.slice_ns == 0)
            m->r->consistency_errors++;
        m->slice_end[c] = t + dec.slice_ns;
        pending |= dec.kick_mask;
    }
}

/* Invariants over the interval that starts at t. */
static void check(struct sim *m, uint64_t t)
{
    const struct sim_cfg *cfg = m->cfg;
    struct sched *s = m->s;

    for (uint32_t c = 0; c < s->cpu_count; c++) {
        uint16_t i = m->running[c];
        sched_vcpu_t want = i == NONE ? SCHED_VCPU_NONE : m->v[i].h;

        if (s->cpu[c].current != want)
            m->r->consistency_errors++;
        if (i != NONE && !(s->vcpu[m->v[i].h].affinity & (1ull << c)))
            m->r->pin_violations++;
    }
    /* Gangs: all runnable members run, or none. */
    for (uint32_t d = 0; d < cfg->dom_count; d++) {
        uint32_t run = 0, runnable = 0;

        if (!cfg->dom[d].p.gang)
            continue;
        for (uint32_t i = 0; i < cfg->vcpu_count; i++) {
            if (cfg->vcpu[i].dom != cfg->dom[d].id)
                continue;
            runnable += !m->v[i].blocked;
            run += m->v[i].cpu >= 0;
        }
        if (run != 0) {
            m->r->gang_instants++;
            if (run != runnable)
                m->r->gang_violations++;
        }
    }
    /* Idle CPUs while a VCPU they may run waits behind a busy CPU. */
    for (uint32_t c = 0; c < s->cpu_count; c++) {
        bool over = false;

        if (m->running[c] == NONE) {
            for (uint32_t i = 0; i < cfg->vcpu_count && !over; i++) {
                const struct sched_vcpu *vp = &s->vcpu[m->v[i].h];
                struct sched_vcpu_stats st;

                if (vp->state != SCHED_VCPU_QUEUED || !(vp->affinity & (1ull << c)))
                    continue;
                sched_vcpu_stats(s, m->v[i].h, t, &st);
                over = !st.parked && m->running[vp->cpu] != NONE;
            }
        }
        if (m->overload[c] && t - m->overload_since[c] > m->r->max_idle_overload_ns) {
            m->r->max_idle_overload_ns = t - m->overload_since[c];
            if (getenv("SCHED_SIM_DEBUG") && t - m->overload_since[c] > SCHED_STEAL_INTERVAL_NS) {
                fprintf(stderr, "t=%llu cpu %u idle since %llu:", (unsigned long long)t, c,
                        (unsigned long long)m->overload_since[c]);
                for (uint32_t i = 0; i < cfg->vcpu_count; i++) {
                    const struct sched_vcpu *vp = &s->vcpu[m->v[i].h];
                    if (vp->state == SCHED_VCPU_QUEUED && (vp->affinity & (1ull << c)))
                        fprintf(stderr, " [v%u on %u last %u ran %llu since %llu]", i, vp->cpu,
                                vp->last_cpu, (unsigned long long)vp->last_ran_ns,
                                (unsigned long long)vp->since_ns);
                }
                fprintf(stderr, " slice_end %llu gang %u\n", (unsigned long long)m->slice_end[c],
                        s->cpu[c].gang_vcpu);
            }
        }
        if (over && !m->overload[c])
            m->overload_since[c] = t;
        m->overload[c] = over;
    }
    /* Waits. */
    for (uint32_t i = 0; i < cfg->vcpu_count; i++) {
        struct sim_vcpu *v = &m->v[i];
        bool waiting = !v->blocked && v->cpu < 0;

        if (v->waiting && t - v->wait_since > m->r->max_wait_ns[i])
            m->r->max_wait_ns[i] = t - v->wait_since;
        if (waiting && !v->waiting)
            v->wait_since = t;
        v->waiting = waiting;
    }
}

int sim_run(const struct sim_cfg *cfg, struct sim_result *r)
{
    struct sim m;
    struct sched_topology topo;
    uint64_t t = 0, idle_ns = 0;
    static uint64_t wait_ns[SIM_MAX_VCPUS];

    memset(&m, 0, sizeof(m));
    memset(r, 0, sizeof(*r));
    memset(wait_ns, 0, sizeof(wait_ns));
    m.cfg = cfg;
    m.r = r;
    m.rng = cfg->seed * 2654435761ull + 1;
    m.s = calloc(1, sizeof(*m.s));
    memset(&topo, 0, sizeof(topo));
    topo.cpu_count = cfg->packages * cfg->cores * cfg->threads;
    for (uint32_t i = 0; i < topo.cpu_count; i++) {
        topo.cpu[i].package_id = (uint16_t)(i / (cfg->cores * cfg->threads));
        topo.cpu[i].core_id = (uint16_t)((i / cfg->threads) % cfg->cores);
        topo.cpu[i].thread_id = (uint16_t)(i % cfg->threads);
    }
    if (m.s == NULL || sched_init(m.s, &topo) != HV_OK)
        goto fail;
    for (uint32_t d = 0; d < cfg->dom_count; d++)
        if (sched_add_domain(m.s, cfg->dom[d].id, &cfg->dom[d].p) != HV_OK)
            goto fail;
    for (uint32_t c = 0; c < topo.cpu_count; c++)
        m.running[c] = NONE;
    for (uint32_t i = 0; i < cfg->vcpu_count; i++) {
        sched_cpumask_t aff = cfg->vcpu[i].affinity ? cfg->vcpu[i].affinity : ~0ull;

        if (sched_add_vcpu(m.s, cfg->vcpu[i].dom, aff, &m.v[i].h) != HV_OK)
            goto fail;
        m.v[i].cpu = -1;
        m.v[i].blocked = true;
        m.v[i].wake_at = 0;
    }

    while (t < cfg->duration_ns) {
        sched_cpumask_t pending = 0;

        /* Events at t: bursts that ended, slices that ended, wake-ups. */
        for (uint32_t i = 0; i < cfg->vcpu_count; i++) {
            struct sim_vcpu *v = &m.v[i];
            sched_cpumask_t kick;

            if (v->cpu >= 0 && cfg->vcpu[i].run_ns != 0 && v->burst_left == 0) {
                if (sched_block(m.s, v->h, t, &kick) != HV_OK || kick != (1ull << v->cpu))
                    r->consistency_errors++;
                pending |= kick;
                v->blocked = true;
                v->wake_at = t + jitter(&m, cfg->vcpu[i].block_ns);
            }
        }
        for (uint32_t c = 0; c < topo.cpu_count; c++)
            if (m.slice_end[c] <= t)
                pending |= 1ull << c;
        for (uint32_t i = 0; i < cfg->vcpu_count; i++) {
            struct sim_vcpu *v = &m.v[i];
            sched_cpumask_t kick;

            if (v->blocked && v->wake_at <= t) {
                if (sched_wake(m.s, v->h, t, &kick) != HV_OK)
                    r->consistency_errors++;
                pending |= kick;
                v->blocked = false;
                v->burst_left = cfg->vcpu[i].run_ns ? jitter(&m, cfg->vcpu[i].run_ns) : 0;
            }
        }
        run_picks(&m, pending, t);
        check(&m, t);

        /* Next event. */
        uint64_t next = cfg->duration_ns;
        for (uint32_t c = 0; c < topo.cpu_count; c++)
            if (m.slice_end[c] < next)
                next = m.slice_end[c];
        for (uint32_t i = 0; i < cfg->vcpu_count; i++) {
            struct sim_vcpu *v = &m.v[i];

            if (v->blocked && v->wake_at < next)
                next = v->wake_at;
            if (v->cpu >= 0 && cfg->vcpu[i].run_ns != 0 && t + v->burst_left < next)
                next = t + v->burst_left;
        }
        if (next <= t) {
            r->consistency_errors++; /* no progress */
            break;
        }
        for (uint32_t i = 0; i < cfg->vcpu_count; i++)
            if (!m.v[i].blocked && m.v[i].cpu < 0)
                wait_ns[i] += next - t;
        for (uint32_t c = 0; c < topo.cpu_count; c++) {
            uint16_t i = m.running[c];

            if (i == NONE) {
                idle_ns += next - t;
                continue;
            }
            r->vcpu_run_ns[i] += (double)(next - t);
            if (cfg->vcpu[i].run_ns != 0)
                m.v[i].burst_left -= next - t;
        }
        t = next;
    }
    check(&m, t);

    for (uint32_t i = 0; i < cfg->vcpu_count; i++) {
        struct sched_vcpu_stats st;
        uint32_t d = dom_index(&m, i);

        r->dom_run_ns[d] += r->vcpu_run_ns[i];
        if (sched_vcpu_stats(m.s, m.v[i].h, t, &st) != HV_OK ||
            (double)st.run_ns != r->vcpu_run_ns[i] || st.wait_ns != wait_ns[i])
            r->consistency_errors++; /* the policy's statistics must match */
        r->migrations += st.migrations;
    }
    for (uint32_t d = 0; d < cfg->dom_count; d++)
        r->dom_share[d] = r->dom_run_ns[d] / (double)cfg->duration_ns;
    for (uint32_t c = 0; c < topo.cpu_count; c++)
        for (uint32_t l = 0; l < SCHED_LEVEL_COUNT; l++)
            r->steals[l] += m.s->cpu[c].steals[l];
    r->idle_fraction = (double)idle_ns / ((double)cfg->duration_ns * topo.cpu_count);
    free(m.s);
    return 0;
fail:
    free(m.s);
    return -1;
}

void sim_ideal_shares(const struct sim_cfg *cfg, double *dom_share)
{
    double w[SIM_MAX_VCPUS], share[SIM_MAX_VCPUS];
    bool capped[SIM_MAX_VCPUS] = {false};
    uint32_t n = cfg->vcpu_count, cpus = cfg->packages * cfg->cores * cfg->threads;
    uint32_t di[SIM_MAX_VCPUS];

    for (uint32_t i = 0; i < n; i++) {
        uint32_t count = 0;

        for (uint32_t d = 0; d < cfg->dom_count; d++)
            if (cfg->dom[d].id == cfg->vcpu[i].dom)
                di[i] = d;
        for (uint32_t j = 0; j < n; j++)
            count += cfg->vcpu[j].dom == cfg->vcpu[i].dom;
        w[i] = (double)cfg->dom[di[i]].p.weight / count;
    }
    for (;;) {
        double left = cpus, wsum = 0;
        bool changed = false;

        for (uint32_t i = 0; i < n; i++) {
            if (capped[i])
                left -= 1.0;
            else
                wsum += w[i];
        }
        for (uint32_t i = 0; i < n; i++) {
            share[i] = capped[i] ? 1.0 : left * w[i] / wsum;
            if (!capped[i] && share[i] > 1.0) {
                capped[i] = true;
                changed = true;
            }
        }
        if (!changed)
            break;
    }
    for (uint32_t d = 0; d < cfg->dom_count; d++)
        dom_share[d] = 0;
    for (uint32_t i = 0; i < n; i++)
        dom_share[di[i]] += share[i];
}
