/*
 * Run queues, accounting, wake-up placement, work stealing and sched_pick.
 * All functions expect the scheduler lock held (see sched.h).
 */
#include "sched_internal.h"

static const uint64_t migrate_cost_ns[SCHED_LEVEL_COUNT] = {
    SCHED_MIGRATE_COST_SMT_NS,
    SCHED_MIGRATE_COST_PKG_NS,
    SCHED_MIGRATE_COST_REMOTE_NS,
};

/*
 * When queued VCPU q becomes stealable by CPU thief at distance level: at
 * once unless it last ran on its queue's CPU (cache-hot), else once the
 * migration cost of that distance has passed since it ran — or since the
 * thief went idle, whichever is first: a CPU idle that long takes any
 * waiting work, so an idle CPU never waits more than one cost for work.
 */
static uint64_t steal_ready_ns(const struct sched *s, sched_vcpu_t q, uint32_t level,
                               uint32_t thief)
{
    const struct sched_vcpu *vq = &s->vcpu[q];
    const struct sched_cpu *tc = &s->cpu[thief];
    uint64_t ready;

    if (vq->last_cpu != vq->cpu)
        return 0;
    ready = vq->last_ran_ns + migrate_cost_ns[level];
    if (tc->idle_until_ns != 0 && tc->idle_since_ns + migrate_cost_ns[level] < ready)
        ready = tc->idle_since_ns + migrate_cost_ns[level];
    return ready;
}

/* Inserts a runnable non-gang VCPU at the head of cpu's run queue. The queue
 * is unordered: picks scan it (at most SCHED_MAX_VCPUS entries). */
void sched_rq_insert(struct sched *s, uint32_t cpu, sched_vcpu_t v)
{
    struct sched_cpu *c = &s->cpu[cpu];
    struct sched_vcpu *vp = &s->vcpu[v];

    vp->cpu = cpu;
    vp->prev = SCHED_VCPU_NONE;
    vp->next = c->head;
    if (c->head != SCHED_VCPU_NONE)
        s->vcpu[c->head].prev = v;
    c->head = v;
    c->queued++;
}

/* Unlinks a VCPU from the run queue of vcpu.cpu. */
void sched_rq_remove(struct sched *s, sched_vcpu_t v)
{
    struct sched_vcpu *vp = &s->vcpu[v];
    struct sched_cpu *c = &s->cpu[vp->cpu];

    if (vp->prev != SCHED_VCPU_NONE)
        s->vcpu[vp->prev].next = vp->next;
    else
        c->head = vp->next;
    if (vp->next != SCHED_VCPU_NONE)
        s->vcpu[vp->next].prev = vp->prev;
    vp->next = vp->prev = SCHED_VCPU_NONE;
    c->queued--;
}

/*
 * Charges a running VCPU for [since_ns, now_ns): run time, virtual time and
 * cap budget. Virtual time advances by ran * 256 * n / weight where n is
 * the number of runnable VCPUs of its domain, so a domain's share is split
 * among its runnable VCPUs. Saturates instead of overflowing.
 */
void sched_charge(struct sched *s, sched_vcpu_t v, uint64_t now_ns)
{
    struct sched_vcpu *vp = &s->vcpu[v];
    struct sched_dom *d = &s->dom[vp->dom];
    uint64_t ran = now_ns - vp->since_ns;
    uint64_t mult = (uint64_t)SCHED_WEIGHT_DEFAULT * (d->runnable_count ? d->runnable_count : 1u);
    uint64_t inc;

    if (__builtin_mul_overflow(ran, mult, &inc))
        inc = UINT64_MAX;
    inc /= d->weight;
    if (inc > (1ull << 60))
        inc = 1ull << 60; /* keeps live vtimes within 2^63 of each other */
    vp->vtime += inc;
    vp->run_ns += ran;
    vp->since_ns = now_ns;
    uint64_t used = MIN(ran, vp->granted_ns);
    vp->granted_ns -= used;
    d->committed_ns -= used;
    if (d->cap_pct != 0)
        d->budget_ns -= (int64_t)MIN(ran, (uint64_t)INT64_MAX / 4);
}

/* Returns the unused part of a running VCPU's cap grant to its domain. */
void sched_release_grant(struct sched *s, sched_vcpu_t v)
{
    struct sched_vcpu *vp = &s->vcpu[v];

    s->dom[vp->dom].committed_ns -= vp->granted_ns;
    vp->granted_ns = 0;
}

/*
 * Orders two waiting VCPUs: a starved one first (the longest-waiting of
 * them first), then the smaller virtual time, then the lower handle.
 */
bool sched_vcpu_better(const struct sched *s, sched_vcpu_t a, sched_vcpu_t b, uint64_t now_ns)
{
    const struct sched_vcpu *va = &s->vcpu[a], *vb = &s->vcpu[b];
    bool sa = sched_vcpu_starved(va, now_ns), sb = sched_vcpu_starved(vb, now_ns);

    if (sa != sb)
        return sa;
    if (sa && va->since_ns != vb->since_ns)
        return va->since_ns < vb->since_ns;
    if (va->vtime != vb->vtime)
        return sched_vt_before(va->vtime, vb->vtime);
    return a < b;
}

/* A CPU with nothing running, nothing queued and no gang reservation. */
bool sched_cpu_idle(const struct sched *s, uint32_t cpu, uint64_t now_ns)
{
    const struct sched_cpu *c = &s->cpu[cpu];

    return c->current == SCHED_VCPU_NONE && c->queued == 0 &&
           sched_gang_reserved(s, cpu, now_ns) == SCHED_VCPU_NONE;
}

static bool core_idle(const struct sched *s, uint32_t cpu, uint64_t now_ns)
{
    sched_cpumask_t m = s->cpu[cpu].level_mask[SCHED_LEVEL_SMT];

    if (!sched_cpu_idle(s, cpu, now_ns))
        return false;
    for (uint32_t i = 0; i < s->cpu_count; i++)
        if ((m & sched_cpu_bit(i)) && !sched_cpu_idle(s, i, now_ns))
            return false;
    return true;
}

/* Load used when every allowed CPU is busy: running + queued VCPUs. */
static uint32_t cpu_load(const struct sched *s, uint32_t cpu)
{
    const struct sched_cpu *c = &s->cpu[cpu];

    return c->queued + (c->current != SCHED_VCPU_NONE ? 1u : 0u);
}

/* Distance of cpu from near (SCHED_LEVEL_COUNT when near is unknown). */
static uint32_t cpu_distance(const struct sched *s, uint32_t near, uint32_t cpu)
{
    if (near == SCHED_NO_CPU)
        return SCHED_LEVEL_COUNT;
    if (near == cpu)
        return 0;
    for (uint32_t l = 0; l < SCHED_LEVEL_COUNT; l++)
        if (s->cpu[near].level_mask[l] & sched_cpu_bit(cpu))
            return l + 1;
    return SCHED_LEVEL_COUNT;
}

/*
 * Chooses the run queue for a runnable non-gang VCPU: a CPU of a fully idle
 * core, else an idle CPU (a busy sibling), else an idle CPU held for a
 * blocked gang member, else the least loaded CPU; within
 * each class the one nearest the CPU it last ran on. Only CPUs in its
 * affinity are considered (the affinity always holds one).
 */
uint32_t sched_place(struct sched *s, sched_vcpu_t v, uint64_t now_ns)
{
    const struct sched_vcpu *vp = &s->vcpu[v];
    sched_cpumask_t aff = vp->affinity & s->all_cpus;
    uint32_t best = SCHED_NO_CPU, best_class = 0, best_load = 0, best_dist = 0;

    for (uint32_t c = 0; c < s->cpu_count; c++) {
        if (!(aff & sched_cpu_bit(c)))
            continue;
        uint32_t cls = core_idle(s, c, now_ns)        ? 0
                       : sched_cpu_idle(s, c, now_ns) ? 1
                       : cpu_load(s, c) == 0          ? 2 /* reserved for a blocked gang member */
                                                      : 3;
        uint32_t load = cls == 3 ? cpu_load(s, c) : 0;
        uint32_t dist = cpu_distance(s, vp->last_cpu, c);

        if (best == SCHED_NO_CPU || cls < best_class ||
            (cls == best_class && (load < best_load || (load == best_load && dist < best_dist)))) {
            best = c;
            best_class = cls;
            best_load = load;
            best_dist = dist;
        }
    }
    return best;
}

/*
 * Gives a VCPU about to be queued on cpu a virtual time no further behind
 * than SCHED_WAKE_BONUS_VT from its competitors there (or the global
 * reference when the CPU is idle), so sleeping earns no unbounded credit.
 */
void sched_clamp_vtime(struct sched *s, sched_vcpu_t v, uint32_t cpu)
{
    struct sched_cpu *c = &s->cpu[cpu];
    uint64_t ref = s->vclock;
    bool have = false;

    if (c->current != SCHED_VCPU_NONE && !sched_dom_of(s, c->current)->gang) {
        ref = s->vcpu[c->current].vtime;
        have = true;
    }
    for (sched_vcpu_t q = c->head; q != SCHED_VCPU_NONE; q = s->vcpu[q].next) {
        if (q == v)
            continue;
        if (!have || sched_vt_before(s->vcpu[q].vtime, ref))
            ref = s->vcpu[q].vtime;
        have = true;
    }
    if (!have && sched_vt_before(ref, s->vclock))
        ref = s->vclock;
    if (sched_vt_before(s->vcpu[v].vtime, ref - SCHED_WAKE_BONUS_VT))
        s->vcpu[v].vtime = ref - SCHED_WAKE_BONUS_VT;
}

/* Best eligible VCPU on cpu's own queue, or SCHED_VCPU_NONE. */
static sched_vcpu_t local_best(const struct sched *s, uint32_t cpu, uint64_t now_ns)
{
    sched_vcpu_t best = SCHED_VCPU_NONE;

    for (sched_vcpu_t q = s->cpu[cpu].head; q != SCHED_VCPU_NONE; q = s->vcpu[q].next) {
        if (!sched_dom_eligible(&s->dom[s->vcpu[q].dom]))
            continue;
        if (best == SCHED_VCPU_NONE || sched_vcpu_better(s, q, best, now_ns))
            best = q;
    }
    return best;
}

/*
 * May cpu take queued VCPU q (queued on another CPU, at distance level)?
 * It must allow cpu, its domain must have budget, its own CPU must be busy
 * (an idle owner runs it itself), and it must not be cache-hot: ran on its
 * CPU less than the migration cost of that distance ago.
 */
static bool stealable(const struct sched *s, uint32_t cpu, sched_vcpu_t q, uint32_t level,
                      uint64_t now_ns)
{
    const struct sched_vcpu *vq = &s->vcpu[q];

    if (!(vq->affinity & sched_cpu_bit(cpu)))
        return false;
    if (!sched_dom_eligible(&s->dom[vq->dom]))
        return false;
    if (s->cpu[vq->cpu].current == SCHED_VCPU_NONE &&
        sched_gang_reserved(s, vq->cpu, now_ns) == SCHED_VCPU_NONE)
        return false;
    return steal_ready_ns(s, q, level, cpu) <= now_ns;
}

/*
 * Work stealing, nearest level first. With no local candidate any stealable
 * VCPU qualifies; otherwise only one owed far more CPU than the local best
 * (virtual time behind by SCHED_BALANCE_VT, or starved when the local best
 * is not) — this keeps shares fair across CPUs. *level_out gets the level.
 */
static sched_vcpu_t steal(const struct sched *s, uint32_t cpu, sched_vcpu_t local, uint64_t now_ns,
                          uint32_t *level_out)
{
    bool local_starved = local != SCHED_VCPU_NONE && sched_vcpu_starved(&s->vcpu[local], now_ns);

    for (uint32_t l = 0; l < SCHED_LEVEL_COUNT; l++) {
        sched_cpumask_t m = s->cpu[cpu].level_mask[l];
        sched_vcpu_t cand = SCHED_VCPU_NONE;

        for (uint32_t p = 0; p < s->cpu_count; p++) {
            if (!(m & sched_cpu_bit(p)))
                continue;
            for (sched_vcpu_t q = s->cpu[p].head; q != SCHED_VCPU_NONE; q = s->vcpu[q].next) {
                if (!stealable(s, cpu, q, l, now_ns))
                    continue;
                if (local != SCHED_VCPU_NONE) {
                    bool qs = sched_vcpu_starved(&s->vcpu[q], now_ns);
                    bool owed =
                        qs ? !local_starved
                           : !local_starved && sched_vt_before(s->vcpu[q].vtime + SCHED_BALANCE_VT,
                                                               s->vcpu[local].vtime);
                    if (!owed)
                        continue;
                }
                if (cand == SCHED_VCPU_NONE || sched_vcpu_better(s, q, cand, now_ns))
                    cand = q;
            }
        }
        if (cand != SCHED_VCPU_NONE) {
            *level_out = l;
            return cand;
        }
    }
    return SCHED_VCPU_NONE;
}

/* Time until the earliest cache-hot VCPU cpu could steal cools down. */
static uint64_t next_steal_ns(const struct sched *s, uint32_t cpu, uint64_t now_ns,
                              uint64_t limit_ns)
{
    for (uint32_t l = 0; l < SCHED_LEVEL_COUNT; l++) {
        for (uint32_t p = 0; p < s->cpu_count; p++) {
            if (!(s->cpu[cpu].level_mask[l] & sched_cpu_bit(p)))
                continue;
            for (sched_vcpu_t q = s->cpu[p].head; q != SCHED_VCPU_NONE; q = s->vcpu[q].next) {
                const struct sched_vcpu *vq = &s->vcpu[q];
                uint64_t ready = steal_ready_ns(s, q, l, cpu);

                if (!(vq->affinity & sched_cpu_bit(cpu)) || !sched_dom_eligible(&s->dom[vq->dom]))
                    continue;
                if (ready > now_ns && ready - now_ns < limit_ns)
                    limit_ns = ready - now_ns;
            }
        }
    }
    return limit_ns;
}

/*
 * A VCPU q was queued on a busy CPU: returns the idle CPUs that may steal
 * it and would otherwise sleep past the moment it becomes stealable for
 * them (sched_pick records when each idle CPU will look again). Kicking
 * them all bounds how long work waits while a CPU idles, at the price of
 * a few spare picks; only CPUs that are idle anyway are disturbed.
 */
sched_cpumask_t sched_kick_idle_for(const struct sched *s, sched_vcpu_t q, uint64_t now_ns)
{
    const struct sched_vcpu *vq = &s->vcpu[q];
    sched_cpumask_t kick = 0;

    if (vq->state != SCHED_VCPU_QUEUED || !sched_dom_eligible(&s->dom[vq->dom]) ||
        s->cpu[vq->cpu].current == SCHED_VCPU_NONE)
        return 0;
    for (uint32_t l = 0; l < SCHED_LEVEL_COUNT; l++) {
        for (uint32_t c = 0; c < s->cpu_count; c++) {
            const struct sched_cpu *ic = &s->cpu[c];

            if (!(s->cpu[vq->cpu].level_mask[l] & sched_cpu_bit(c)) ||
                !(vq->affinity & sched_cpu_bit(c)) || ic->current != SCHED_VCPU_NONE)
                continue;
            if (ic->idle_until_ns > MAX(now_ns, steal_ready_ns(s, q, l, c)))
                kick |= sched_cpu_bit(c);
        }
    }
    return kick;
}

/* Idle CPUs that should look at the work left queued on cpu. */
static sched_cpumask_t idle_helpers(const struct sched *s, uint32_t cpu, uint64_t now_ns)
{
    sched_cpumask_t kick = 0;

    for (sched_vcpu_t q = s->cpu[cpu].head; q != SCHED_VCPU_NONE; q = s->vcpu[q].next)
        kick |= sched_kick_idle_for(s, q, now_ns);
    return kick;
}

/* Takes the VCPU that ran on cpu off it: accounted, then blocked, waiting
 * for a gang slot, or queued (on cpu if its affinity allows, else placed). */
sched_cpumask_t sched_put_prev(struct sched *s, uint32_t cpu, uint64_t now_ns)
{
    struct sched_cpu *c = &s->cpu[cpu];
    sched_vcpu_t v = c->current;
    struct sched_vcpu *vp = &s->vcpu[v];
    struct sched_dom *d = &s->dom[vp->dom];
    sched_cpumask_t kick = 0;

    sched_charge(s, v, now_ns);
    sched_release_grant(s, v);
    vp->last_ran_ns = now_ns;
    c->current = SCHED_VCPU_NONE;
    if (vp->block_pending) {
        vp->block_pending = false;
        vp->state = SCHED_VCPU_BLOCKED;
        d->runnable_count--;
    } else if (d->gang) {
        vp->state = SCHED_VCPU_GANG_WAIT;
    } else {
        uint32_t to = cpu;

        if (!(vp->affinity & sched_cpu_bit(cpu))) {
            to = sched_place(s, v, now_ns); /* pinned away while it ran */
            if (sched_cpu_idle(s, to, now_ns))
                kick = sched_cpu_bit(to);
        }
        vp->state = SCHED_VCPU_QUEUED;
        vp->since_ns = now_ns;
        sched_rq_insert(s, to, v);
        if (to != cpu)
            kick |= sched_kick_idle_for(s, v, now_ns);
    }
    vp->since_ns = now_ns;
    return kick;
}

/* Starts v on cpu; returns its slice. */
static uint64_t dispatch(struct sched *s, uint32_t cpu, sched_vcpu_t v, uint64_t now_ns)
{
    struct sched_vcpu *vp = &s->vcpu[v];
    struct sched_dom *d = &s->dom[vp->dom];
    uint64_t slice = sched_slot_end_ns(s) - now_ns;

    if (d->gang) {
        slice = d->gang_end_ns - now_ns;
    } else {
        if (sched_vcpu_starved(vp, now_ns))
            slice = MIN(slice, SCHED_STARVE_SLICE_NS);
        sched_rq_remove(s, v);
    }
    if (d->cap_pct != 0 && !d->gang) {
        int64_t left = sched_dom_budget_free(d);

        if (left < (int64_t)SCHED_MIN_SLICE_NS)
            left = (int64_t)SCHED_MIN_SLICE_NS;
        slice = MIN(slice, (uint64_t)left);
    }
    if (d->cap_pct != 0) {
        vp->granted_ns = slice;
        d->committed_ns += slice;
    }
    vp->wait_ns += now_ns - vp->since_ns;
    vp->since_ns = now_ns;
    if (vp->last_cpu != SCHED_NO_CPU && vp->last_cpu != cpu)
        vp->migrations++;
    vp->last_cpu = cpu;
    vp->cpu = cpu;
    vp->state = SCHED_VCPU_RUNNING;
    s->cpu[cpu].current = v;
    return slice;
}

/* The CPU (other than cpu) that still holds gang member v, or SCHED_NO_CPU. */
static uint32_t held_elsewhere(const struct sched *s, sched_vcpu_t v, uint32_t cpu)
{
    for (uint32_t o = 0; o < s->cpu_count; o++)
        if (o != cpu && s->cpu[o].held == v)
            return o;
    return SCHED_NO_CPU;
}

enum hv_status sched_pick(struct sched *s, uint32_t cpu, uint64_t now_ns,
                          struct sched_decision *out)
{
    if (s == NULL || out == NULL || cpu >= s->cpu_count)
        return HV_EINVAL;
    if (now_ns < s->now_ns)
        now_ns = s->now_ns;
    sched_advance(s, now_ns);

    struct sched_cpu *c = &s->cpu[cpu];
    sched_cpumask_t kick = 0;
    sched_vcpu_t next;

    if (c->current != SCHED_VCPU_NONE)
        kick |= sched_put_prev(s, cpu, now_ns);
    if (c->held != SCHED_VCPU_NONE) {
        /* This pick takes the held member off for good: the CPU reserved
         * for it (if another) may run it now. */
        for (uint32_t o = 0; o < s->cpu_count; o++)
            if (o != cpu && s->cpu[o].gang_vcpu == c->held)
                kick |= sched_cpu_bit(o);
        c->held = SCHED_VCPU_NONE;
    }

    next = sched_gang_reserved(s, cpu, now_ns);
    if (next != SCHED_VCPU_NONE && s->vcpu[next].state != SCHED_VCPU_GANG_WAIT)
        next = SCHED_VCPU_NONE; /* member blocked: run other work meanwhile */
    if (next != SCHED_VCPU_NONE) {
        uint32_t holder = held_elsewhere(s, next, cpu);

        if (holder != SCHED_NO_CPU) {
            /* Still running on holder until it picks (which kicks us):
             * wait idle rather than start other work, so the gang runs
             * whole as soon as the holder lets go. */
            out->vcpu = SCHED_VCPU_NONE;
            out->slice_ns = SCHED_MIN_SLICE_NS;
            if (c->idle_until_ns == 0)
                c->idle_since_ns = now_ns;
            c->idle_until_ns = now_ns + out->slice_ns;
            out->kick_mask = (kick | sched_cpu_bit(holder)) & ~sched_cpu_bit(cpu);
            return HV_OK;
        }
    }
    if (next == SCHED_VCPU_NONE) {
        uint32_t level = 0;
        sched_vcpu_t local = local_best(s, cpu, now_ns);
        sched_vcpu_t stolen = steal(s, cpu, local, now_ns, &level);

        if (stolen != SCHED_VCPU_NONE) {
            c->steals[level]++;
            next = stolen;
        } else {
            next = local;
        }
    }

    out->kick_mask = 0;
    if (next == SCHED_VCPU_NONE) {
        out->vcpu = SCHED_VCPU_NONE;
        out->slice_ns = next_steal_ns(s, cpu, now_ns, sched_slot_end_ns(s) - now_ns);
        if (s->cpu[cpu].idle_until_ns == 0)
            s->cpu[cpu].idle_since_ns = now_ns;
        s->cpu[cpu].idle_until_ns = now_ns + out->slice_ns;
    } else {
        out->vcpu = next;
        out->slice_ns = dispatch(s, cpu, next, now_ns);
        s->cpu[cpu].idle_until_ns = 0;
        kick |= idle_helpers(s, cpu, now_ns);
    }
    out->kick_mask = kick & ~sched_cpu_bit(cpu);
    return HV_OK;
}
