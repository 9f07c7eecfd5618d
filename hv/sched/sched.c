/*
 * The scheduling policy: topology, domains and VCPUs, wake and block, time
 * keeping (slots and cap periods) and statistics. Picking, placement and
 * stealing are in sched_pick.c, gang slots in sched_gang.c. docs/sched.md
 * describes the policy. Every entry point checks all its arguments before
 * changing anything; the caller holds the scheduler lock (sched.h).
 */
#include "sched_internal.h"

static bool vcpu_valid(const struct sched *s, sched_vcpu_t v)
{
    return v < SCHED_MAX_VCPUS && v < s->vcpu_high && s->vcpu[v].state != SCHED_VCPU_FREE;
}

static uint32_t find_dom(const struct sched *s, domid_t domid)
{
    for (uint32_t i = 0; i < SCHED_MAX_DOMAINS; i++)
        if (s->dom[i].used && s->dom[i].domid == domid)
            return i;
    return SCHED_MAX_DOMAINS;
}

static bool params_valid(const struct sched_domain_params *p)
{
    return p != NULL && p->weight >= SCHED_WEIGHT_MIN && p->weight <= SCHED_WEIGHT_MAX &&
           p->cap_pct <= SCHED_CAP_MAX_PCT;
}

static uint64_t clamp_now(const struct sched *s, uint64_t now_ns)
{
    return now_ns < s->now_ns ? s->now_ns : now_ns;
}

enum hv_status sched_init(struct sched *s, const struct sched_topology *topo)
{
    if (s == NULL || topo == NULL || topo->cpu_count == 0 || topo->cpu_count > SCHED_MAX_CPUS)
        return HV_EINVAL;
    for (uint32_t i = 0; i < topo->cpu_count; i++)
        for (uint32_t j = i + 1; j < topo->cpu_count; j++)
            if (topo->cpu[i].package_id == topo->cpu[j].package_id &&
                topo->cpu[i].core_id == topo->cpu[j].core_id &&
                topo->cpu[i].thread_id == topo->cpu[j].thread_id)
                return HV_EINVAL;

    __builtin_memset(s, 0, sizeof(*s));
    s->cpu_count = topo->cpu_count;
    s->all_cpus = topo->cpu_count == 64 ? ~0ull : (1ull << topo->cpu_count) - 1;
    for (uint32_t i = 0; i < topo->cpu_count; i++) {
        struct sched_cpu *c = &s->cpu[i];

        c->current = c->head = c->gang_vcpu = c->held = SCHED_VCPU_NONE;
        c->idle_until_ns = UINT64_MAX; /* has not called sched_pick yet */
        c->package_id = topo->cpu[i].package_id;
        c->core_id = topo->cpu[i].core_id;
        c->thread_id = topo->cpu[i].thread_id;
        for (uint32_t j = 0; j < topo->cpu_count; j++) {
            if (j == i)
                continue;
            enum sched_level l = topo->cpu[j].package_id != c->package_id ? SCHED_LEVEL_REMOTE
                                 : topo->cpu[j].core_id != c->core_id     ? SCHED_LEVEL_PKG
                                                                          : SCHED_LEVEL_SMT;
            c->level_mask[l] |= sched_cpu_bit(j);
        }
    }
    return HV_OK;
}

enum hv_status sched_add_domain(struct sched *s, domid_t domid, const struct sched_domain_params *p)
{
    uint32_t slot = SCHED_MAX_DOMAINS;

    if (s == NULL || !params_valid(p) || domid == DOMID_INVALID)
        return HV_EINVAL;
    if (find_dom(s, domid) != SCHED_MAX_DOMAINS)
        return HV_EEXIST;
    for (uint32_t i = 0; i < SCHED_MAX_DOMAINS && slot == SCHED_MAX_DOMAINS; i++)
        if (!s->dom[i].used)
            slot = i;
    if (slot == SCHED_MAX_DOMAINS)
        return HV_ENOMEM;

    struct sched_dom *d = &s->dom[slot];
    __builtin_memset(d, 0, sizeof(*d));
    d->used = true;
    d->domid = domid;
    d->weight = p->weight;
    d->cap_pct = p->cap_pct;
    d->gang = p->gang;
    d->budget_ns = sched_cap_budget_ns(p->cap_pct);
    return HV_OK;
}

enum hv_status sched_set_domain(struct sched *s, domid_t domid, const struct sched_domain_params *p)
{
    uint32_t i;

    if (s == NULL || !params_valid(p))
        return HV_EINVAL;
    i = find_dom(s, domid);
    if (i == SCHED_MAX_DOMAINS)
        return HV_ENOENT;

    struct sched_dom *d = &s->dom[i];
    if (p->gang != d->gang) {
        /* Unfinished: switching gang mode needs the domain paused. */
        if (d->runnable_count > 0)
            return HV_EBUSY;
        if (p->gang && !sched_gang_feasible(s, (uint16_t)i, SCHED_VCPU_NONE, 0, false))
            return HV_E2BIG;
        for (uint32_t c = 0; c < s->cpu_count; c++)
            if (s->cpu[c].gang_vcpu != SCHED_VCPU_NONE && s->vcpu[s->cpu[c].gang_vcpu].dom == i)
                s->cpu[c].gang_vcpu = SCHED_VCPU_NONE;
        d->gang_active = d->gang_waiting = false;
        d->gang = p->gang;
    }
    if (p->cap_pct != d->cap_pct) {
        int64_t b = sched_cap_budget_ns(p->cap_pct);

        d->budget_ns = d->cap_pct == 0 ? b : MIN(d->budget_ns, b);
        d->cap_pct = p->cap_pct;
    }
    d->weight = p->weight;
    return HV_OK;
}

enum hv_status sched_remove_domain(struct sched *s, domid_t domid)
{
    uint32_t i;

    if (s == NULL)
        return HV_EINVAL;
    i = find_dom(s, domid);
    if (i == SCHED_MAX_DOMAINS)
        return HV_ENOENT;
    if (s->dom[i].vcpu_count > 0)
        return HV_EBUSY;
    s->dom[i].used = false;
    return HV_OK;
}

enum hv_status sched_add_vcpu(struct sched *s, domid_t domid, sched_cpumask_t affinity,
                              sched_vcpu_t *out)
{
    uint32_t di, v = SCHED_MAX_VCPUS;

    if (s == NULL || out == NULL)
        return HV_EINVAL;
    di = find_dom(s, domid);
    if (di == SCHED_MAX_DOMAINS)
        return HV_ENOENT;
    affinity &= s->all_cpus;
    if (affinity == 0)
        return HV_EINVAL;
    for (uint32_t i = 0; i < SCHED_MAX_VCPUS && v == SCHED_MAX_VCPUS; i++)
        if (s->vcpu[i].state == SCHED_VCPU_FREE)
            v = i;
    if (v == SCHED_MAX_VCPUS)
        return HV_ENOMEM;
    if (s->dom[di].gang && !sched_gang_feasible(s, (uint16_t)di, SCHED_VCPU_NONE, affinity, true))
        return HV_E2BIG;

    struct sched_vcpu *vp = &s->vcpu[v];
    __builtin_memset(vp, 0, sizeof(*vp));
    vp->state = SCHED_VCPU_BLOCKED;
    vp->dom = (uint16_t)di;
    vp->cpu = vp->last_cpu = SCHED_NO_CPU;
    vp->next = vp->prev = SCHED_VCPU_NONE;
    vp->affinity = affinity;
    vp->vtime = s->vclock;
    s->dom[di].vcpu_count++;
    if (v >= s->vcpu_high)
        s->vcpu_high = v + 1;
    *out = (sched_vcpu_t)v;
    return HV_OK;
}

enum hv_status sched_remove_vcpu(struct sched *s, sched_vcpu_t v)
{
    if (s == NULL)
        return HV_EINVAL;
    if (!vcpu_valid(s, v))
        return HV_ENOENT;
    if (s->vcpu[v].state != SCHED_VCPU_BLOCKED)
        return HV_EBUSY;
    for (uint32_t c = 0; c < s->cpu_count; c++) {
        if (s->cpu[c].gang_vcpu == v)
            s->cpu[c].gang_vcpu = SCHED_VCPU_NONE;
        if (s->cpu[c].held == v)
            s->cpu[c].held = SCHED_VCPU_NONE;
    }
    s->dom[s->vcpu[v].dom].vcpu_count--;
    s->vcpu[v].state = SCHED_VCPU_FREE;
    while (s->vcpu_high > 0 && s->vcpu[s->vcpu_high - 1].state == SCHED_VCPU_FREE)
        s->vcpu_high--;
    return HV_OK;
}

enum hv_status sched_set_affinity(struct sched *s, sched_vcpu_t v, sched_cpumask_t affinity,
                                  uint64_t now_ns, sched_cpumask_t *kick_mask)
{
    if (s == NULL || kick_mask == NULL)
        return HV_EINVAL;
    if (!vcpu_valid(s, v))
        return HV_ENOENT;
    affinity &= s->all_cpus;
    if (affinity == 0)
        return HV_EINVAL;

    struct sched_vcpu *vp = &s->vcpu[v];
    struct sched_dom *d = &s->dom[vp->dom];
    if (d->gang && !sched_gang_feasible(s, vp->dom, v, affinity, false))
        return HV_E2BIG;

    now_ns = clamp_now(s, now_ns);
    sched_advance(s, now_ns);
    *kick_mask = 0;
    vp->affinity = affinity;
    if (d->gang) {
        for (uint32_t c = 0; c < s->cpu_count; c++)
            if (s->cpu[c].gang_vcpu == v && !(affinity & sched_cpu_bit(c)))
                *kick_mask = sched_gang_stop(s, vp->dom, now_ns);
    } else if (vp->state == SCHED_VCPU_QUEUED && !(affinity & sched_cpu_bit(vp->cpu))) {
        uint32_t to;

        sched_rq_remove(s, v);
        to = sched_place(s, v, now_ns);
        sched_rq_insert(s, to, v);
        if (s->cpu[to].current == SCHED_VCPU_NONE)
            *kick_mask = sched_cpu_bit(to);
        else
            *kick_mask = sched_kick_idle_for(s, v, now_ns);
    } else if (vp->state == SCHED_VCPU_RUNNING && !(affinity & sched_cpu_bit(vp->cpu))) {
        *kick_mask = sched_cpu_bit(vp->cpu);
    }
    return HV_OK;
}

enum hv_status sched_wake(struct sched *s, sched_vcpu_t v, uint64_t now_ns,
                          sched_cpumask_t *kick_mask)
{
    if (s == NULL || kick_mask == NULL)
        return HV_EINVAL;
    if (!vcpu_valid(s, v))
        return HV_ENOENT;
    now_ns = clamp_now(s, now_ns);
    sched_advance(s, now_ns);
    *kick_mask = 0;

    struct sched_vcpu *vp = &s->vcpu[v];
    struct sched_dom *d = &s->dom[vp->dom];
    if (vp->state == SCHED_VCPU_RUNNING) {
        vp->block_pending = false; /* woken before it was switched out */
        return HV_OK;
    }
    if (vp->state != SCHED_VCPU_BLOCKED)
        return HV_OK;
    if (d->gang) {
        *kick_mask = sched_gang_wake(s, v, now_ns);
        return HV_OK;
    }

    uint32_t to = sched_place(s, v, now_ns);
    sched_vcpu_t cur = s->cpu[to].current;

    sched_clamp_vtime(s, v, to);
    d->runnable_count++;
    vp->state = SCHED_VCPU_QUEUED;
    vp->since_ns = now_ns;
    sched_rq_insert(s, to, v);
    if (cur == SCHED_VCPU_NONE) {
        *kick_mask = sched_cpu_bit(to);
    } else {
        if (!sched_dom_of(s, cur)->gang && sched_dom_eligible(d)) {
            sched_charge(s, cur, now_ns);
            if (sched_vt_before(vp->vtime + SCHED_WAKE_PREEMPT_VT, s->vcpu[cur].vtime))
                *kick_mask = sched_cpu_bit(to);
        }
        *kick_mask |= sched_kick_idle_for(s, v, now_ns);
    }
    return HV_OK;
}

enum hv_status sched_block(struct sched *s, sched_vcpu_t v, uint64_t now_ns,
                           sched_cpumask_t *kick_mask)
{
    if (s == NULL || kick_mask == NULL)
        return HV_EINVAL;
    if (!vcpu_valid(s, v))
        return HV_ENOENT;
    now_ns = clamp_now(s, now_ns);
    sched_advance(s, now_ns);
    *kick_mask = 0;

    struct sched_vcpu *vp = &s->vcpu[v];
    switch (vp->state) {
    case SCHED_VCPU_RUNNING:
        vp->block_pending = true;
        *kick_mask = sched_cpu_bit(vp->cpu);
        break;
    case SCHED_VCPU_QUEUED:
        sched_rq_remove(s, v);
        /* fall through */
    case SCHED_VCPU_GANG_WAIT:
        vp->wait_ns += now_ns - vp->since_ns;
        vp->since_ns = now_ns;
        vp->state = SCHED_VCPU_BLOCKED;
        s->dom[vp->dom].runnable_count--;
        break;
    default: break;
    }
    return HV_OK;
}

/*
 * Brings the policy's clock to now_ns. At a new slot: charges every running
 * VCPU up to now, refills cap budgets at a new period (unused budget is not
 * kept, debt is), moves the global virtual-time reference, plans gangs.
 */
void sched_advance(struct sched *s, uint64_t now_ns)
{
    uint64_t slot = now_ns / SCHED_SLOT_NS, period = now_ns / SCHED_PERIOD_NS;
    bool have = false;
    uint64_t vmin = 0;

    s->now_ns = now_ns;
    if (slot == s->slot)
        return;
    for (uint32_t c = 0; c < s->cpu_count; c++)
        if (s->cpu[c].current != SCHED_VCPU_NONE)
            sched_charge(s, s->cpu[c].current, now_ns);
    if (period != s->period) {
        uint64_t k = period - s->period;

        for (uint32_t i = 0; i < SCHED_MAX_DOMAINS; i++) {
            struct sched_dom *d = &s->dom[i];
            int64_t b = sched_cap_budget_ns(d->cap_pct);

            if (!d->used || d->cap_pct == 0)
                continue;
            d->budget_ns = k >= 4 ? b : MIN(d->budget_ns + (int64_t)k * b, b);
        }
        s->period = period;
    }
    for (uint32_t v = 0; v < s->vcpu_high; v++) {
        const struct sched_vcpu *vp = &s->vcpu[v];

        if ((vp->state == SCHED_VCPU_QUEUED || vp->state == SCHED_VCPU_RUNNING) &&
            !s->dom[vp->dom].gang && (!have || sched_vt_before(vp->vtime, vmin))) {
            vmin = vp->vtime;
            have = true;
        }
    }
    if (have && sched_vt_before(s->vclock, vmin))
        s->vclock = vmin;
    s->slot = slot;
    sched_gang_plan(s, now_ns);
}

enum hv_status sched_vcpu_stats(const struct sched *s, sched_vcpu_t v, uint64_t now_ns,
                                struct sched_vcpu_stats *out)
{
    if (s == NULL || out == NULL)
        return HV_EINVAL;
    if (!vcpu_valid(s, v))
        return HV_ENOENT;

    const struct sched_vcpu *vp = &s->vcpu[v];
    const struct sched_dom *d = &s->dom[vp->dom];
    uint64_t since = now_ns > vp->since_ns ? now_ns - vp->since_ns : 0;

    out->run_ns = vp->run_ns + (vp->state == SCHED_VCPU_RUNNING ? since : 0);
    out->wait_ns =
        vp->wait_ns +
        (vp->state == SCHED_VCPU_QUEUED || vp->state == SCHED_VCPU_GANG_WAIT ? since : 0);
    out->migrations = vp->migrations;
    out->cpu =
        vp->state == SCHED_VCPU_QUEUED || vp->state == SCHED_VCPU_RUNNING ? vp->cpu : vp->last_cpu;
    out->state = vp->state;
    out->parked = (vp->state == SCHED_VCPU_QUEUED || vp->state == SCHED_VCPU_GANG_WAIT) &&
                  !sched_dom_eligible(d);
    out->domid = d->domid;
    return HV_OK;
}

enum hv_status sched_cpu_stats(const struct sched *s, uint32_t cpu, struct sched_cpu_stats *out)
{
    if (s == NULL || out == NULL || cpu >= s->cpu_count)
        return HV_EINVAL;
    for (uint32_t l = 0; l < SCHED_LEVEL_COUNT; l++)
        out->steals[l] = s->cpu[cpu].steals[l];
    out->current = s->cpu[cpu].current;
    out->queued = s->cpu[cpu].queued;
    out->gang_reserved = sched_gang_reserved(s, cpu, s->now_ns);
    return HV_OK;
}

enum hv_status sched_vcpu_yield(struct sched *s, sched_vcpu_t v, uint64_t now_ns)
{
    (void)now_ns;
    if (s == NULL)
        return HV_EINVAL;
    if (!vcpu_valid(s, v))
        return HV_ENOENT;
    struct sched_vcpu *vp = &s->vcpu[v];
    if (vp->state != SCHED_VCPU_RUNNING)
        return HV_OK;
    /* Move behind every VCPU queued on its CPU: the next pick prefers them.
     * Only the yielder's own virtual time changes, so fairness towards
     * other domains is unaffected (it gives away, never takes). */
    bool have = false;
    uint64_t vmax = 0;
    for (sched_vcpu_t q = s->cpu[vp->cpu].head; q != SCHED_VCPU_NONE; q = s->vcpu[q].next) {
        if (!have || sched_vt_before(vmax, s->vcpu[q].vtime)) {
            vmax = s->vcpu[q].vtime;
            have = true;
        }
    }
    if (have && !sched_vt_before(vmax, vp->vtime))
        vp->vtime = vmax + 1;
    return HV_OK;
}
