/*
 * Gang scheduling: at every slot boundary a plan gives each chosen gang
 * domain one distinct CPU per VCPU (a reservation) for the slot. Members
 * run only on their reserved CPUs and only inside the gang's run in the
 * slot, so either every runnable member runs or none does. A reserved CPU
 * whose member is blocked runs other work until the member wakes.
 *
 * The gang rule (docs/sched.md): a gang domain never has more VCPUs than
 * it can place on distinct CPUs of their affinities; sched_add_vcpu,
 * sched_set_affinity and sched_set_domain refuse (HV_E2BIG) what would
 * break that, so a gang always either runs whole or waits.
 *
 * All functions expect the scheduler lock held.
 */
#include "sched_internal.h"

/* The gang member reserving cpu for the current slot, if its run is on. */
sched_vcpu_t sched_gang_reserved(const struct sched *s, uint32_t cpu, uint64_t now_ns)
{
    sched_vcpu_t g = s->cpu[cpu].gang_vcpu;
    const struct sched_dom *d;

    if (g == SCHED_VCPU_NONE)
        return SCHED_VCPU_NONE;
    d = &s->dom[s->vcpu[g].dom];
    if (!d->gang_active || now_ns >= d->gang_end_ns)
        return SCHED_VCPU_NONE;
    return g;
}

/* Bipartite matching of gang members to CPUs (Kuhn's augmenting paths). */
struct gang_match {
    uint32_t n;
    sched_vcpu_t vcpu[SCHED_MAX_CPUS];
    sched_cpumask_t aff[SCHED_MAX_CPUS];
    uint32_t pref[SCHED_MAX_CPUS]; /* preferred CPU (last ran), or SCHED_NO_CPU */
    uint8_t owner[SCHED_MAX_CPUS]; /* member index per CPU, 0xff = free */
};

static bool try_cpu(struct gang_match *m, uint32_t i, uint32_t c, sched_cpumask_t avail,
                    sched_cpumask_t *seen);

/* Finds a CPU for member i, moving earlier members along an augmenting
 * path if needed. Recursion depth is at most the member count (<= 64). */
static bool augment(struct gang_match *m, uint32_t i, sched_cpumask_t avail, sched_cpumask_t *seen)
{
    sched_cpumask_t cand = m->aff[i] & avail & ~*seen;

    if (m->pref[i] < SCHED_MAX_CPUS && (cand & sched_cpu_bit(m->pref[i]))) {
        if (try_cpu(m, i, m->pref[i], avail, seen))
            return true;
        cand &= ~sched_cpu_bit(m->pref[i]);
    }
    /* A free CPU first: displacing a member from its preferred CPU (where
     * it last ran, or still runs) costs a migration. */
    for (sched_cpumask_t f = cand; f != 0; f &= f - 1) {
        uint32_t c = (uint32_t)__builtin_ctzll(f);

        if (m->owner[c] == 0xff && try_cpu(m, i, c, avail, seen))
            return true;
    }
    while (cand != 0) {
        uint32_t c = (uint32_t)__builtin_ctzll(cand);

        cand &= cand - 1;
        if (*seen & sched_cpu_bit(c))
            continue;
        if (try_cpu(m, i, c, avail, seen))
            return true;
    }
    return false;
}

static bool try_cpu(struct gang_match *m, uint32_t i, uint32_t c, sched_cpumask_t avail,
                    sched_cpumask_t *seen)
{
    *seen |= sched_cpu_bit(c);
    if (m->owner[c] == 0xff || augment(m, m->owner[c], avail, seen)) {
        m->owner[c] = (uint8_t)i;
        return true;
    }
    return false;
}

/* Matches every member to a distinct CPU of avail; false if impossible. */
static bool match_all(struct gang_match *m, sched_cpumask_t avail)
{
    for (uint32_t c = 0; c < SCHED_MAX_CPUS; c++)
        m->owner[c] = 0xff;
    for (uint32_t i = 0; i < m->n; i++) {
        sched_cpumask_t seen = 0;

        if (!augment(m, i, avail, &seen))
            return false;
    }
    return true;
}

/*
 * Could the gang domain dom place all its VCPUs on distinct CPUs if VCPU
 * `changed` had affinity changed_affinity (or, with adding, if a new VCPU
 * with that affinity joined)? Used to refuse changes that break the rule.
 */
bool sched_gang_feasible(const struct sched *s, uint16_t dom, sched_vcpu_t changed,
                         sched_cpumask_t changed_affinity, bool adding)
{
    struct gang_match m;

    m.n = 0;
    for (uint32_t v = 0; v < s->vcpu_high; v++) {
        const struct sched_vcpu *vp = &s->vcpu[v];

        if (vp->state == SCHED_VCPU_FREE || vp->dom != dom)
            continue;
        if (m.n >= s->cpu_count)
            return false;
        m.aff[m.n] = (v == changed ? changed_affinity : vp->affinity) & s->all_cpus;
        m.pref[m.n] = SCHED_NO_CPU;
        m.vcpu[m.n++] = (sched_vcpu_t)v;
    }
    if (adding) {
        if (m.n >= s->cpu_count)
            return false;
        m.aff[m.n] = changed_affinity & s->all_cpus;
        m.pref[m.n] = SCHED_NO_CPU;
        m.vcpu[m.n++] = SCHED_VCPU_NONE;
    }
    return match_all(&m, s->all_cpus);
}

/* Computes gang_vt (smallest virtual time of the runnable members) of
 * every gang domain in one pass over the VCPUs. */
static void gang_vtimes(struct sched *s)
{
    for (uint32_t i = 0; i < SCHED_MAX_DOMAINS; i++)
        s->dom[i].gang_vt_valid = false;
    for (uint32_t v = 0; v < s->vcpu_high; v++) {
        const struct sched_vcpu *vp = &s->vcpu[v];
        struct sched_dom *d = &s->dom[vp->dom];

        if (vp->state == SCHED_VCPU_FREE || vp->state == SCHED_VCPU_BLOCKED || !d->gang)
            continue;
        if (!d->gang_vt_valid || sched_vt_before(vp->vtime, d->gang_vt)) {
            d->gang_vt = vp->vtime;
            d->gang_vt_valid = true;
        }
    }
}

static bool gang_starved(const struct sched_dom *d, uint64_t now_ns)
{
    return d->gang_waiting && now_ns - d->gang_wait_since_ns >= SCHED_STARVE_NS;
}

/* Ends the current run of a gang; returns the CPUs running its members,
 * which must call sched_pick now so all members stop together. */
sched_cpumask_t sched_gang_stop(struct sched *s, uint16_t dom, uint64_t now_ns)
{
    struct sched_dom *d = &s->dom[dom];
    sched_cpumask_t kick = 0;

    for (uint32_t c = 0; c < s->cpu_count; c++) {
        sched_vcpu_t g = s->cpu[c].gang_vcpu;

        if (g != SCHED_VCPU_NONE && s->vcpu[g].dom == dom)
            s->cpu[c].gang_vcpu = SCHED_VCPU_NONE;
        if (s->cpu[c].current != SCHED_VCPU_NONE && s->vcpu[s->cpu[c].current].dom == dom)
            kick |= sched_cpu_bit(c);
    }
    d->gang_active = false;
    d->gang_end_ns = now_ns;
    if (d->runnable_count > 0 && !d->gang_waiting) {
        d->gang_waiting = true;
        d->gang_wait_since_ns = now_ns;
    }
    return kick;
}

/* Non-gang runnable VCPUs with budget that a gang of virtual time vt would
 * displace: starved ones and those with a smaller virtual time. */
static uint32_t displaced_count(const struct sched *s, uint64_t vt, uint64_t now_ns)
{
    uint32_t n = 0;

    for (uint32_t v = 0; v < s->vcpu_high; v++) {
        const struct sched_vcpu *vp = &s->vcpu[v];
        const struct sched_dom *d = &s->dom[vp->dom];

        if (d->gang || !sched_dom_eligible(d))
            continue;
        if (vp->state == SCHED_VCPU_QUEUED ||
            (vp->state == SCHED_VCPU_RUNNING && !vp->block_pending)) {
            if (sched_vcpu_starved(vp, now_ns) || sched_vt_before(vp->vtime, vt))
                n++;
        }
    }
    return n;
}

/*
 * Plans the slot that starts now: takes every gang member off its CPU
 * (their runs end at the boundary; each stays held by that CPU until the
 * CPU's own pick, see struct sched_cpu.held), then, gangs in order (starved first,
 * then smallest virtual time), gives a gang distinct CPUs if it may run:
 * a starved gang always may; another only if the non-gang VCPUs owed more
 * than it (smaller virtual time, or starved) still fit on the CPUs left.
 * A CPU queueing a starved non-gang VCPU is never reserved.
 */
void sched_gang_plan(struct sched *s, uint64_t now_ns)
{
    uint64_t slot_end = sched_slot_end_ns(s);
    sched_cpumask_t avail = s->all_cpus;
    uint64_t considered[SCHED_MAX_DOMAINS / 64] = {0};
    uint32_t reserved_run = 0;

    for (uint32_t c = 0; c < s->cpu_count; c++) {
        sched_vcpu_t cur = s->cpu[c].current;

        s->cpu[c].gang_vcpu = SCHED_VCPU_NONE;
        if (cur != SCHED_VCPU_NONE && sched_dom_of(s, cur)->gang) {
            (void)sched_put_prev(s, c, now_ns);
            s->cpu[c].held = cur; /* until c's own pick (sched_pick) */
        }
    }
    for (uint32_t i = 0; i < SCHED_MAX_DOMAINS; i++)
        s->dom[i].gang_active = false;
    gang_vtimes(s);

    for (uint32_t v = 0; v < s->vcpu_high; v++) {
        const struct sched_vcpu *vp = &s->vcpu[v];

        if (vp->state == SCHED_VCPU_QUEUED && sched_dom_eligible(&s->dom[vp->dom]) &&
            sched_vcpu_starved(vp, now_ns))
            avail &= ~sched_cpu_bit(vp->cpu);
    }

    for (;;) {
        uint32_t best = SCHED_MAX_DOMAINS;
        uint64_t best_vt = 0;

        for (uint32_t i = 0; i < SCHED_MAX_DOMAINS; i++) {
            const struct sched_dom *d = &s->dom[i];

            if (!d->used || !d->gang || d->runnable_count == 0 || !sched_dom_eligible(d) ||
                (considered[i / 64] & (1ull << (i % 64))))
                continue;
            uint64_t vt = d->gang_vt;
            if (best == SCHED_MAX_DOMAINS) {
                best = i;
                best_vt = vt;
                continue;
            }
            const struct sched_dom *b = &s->dom[best];
            bool ds = gang_starved(d, now_ns), bs = gang_starved(b, now_ns);
            bool better = ds != bs ? ds
                          : ds     ? d->gang_wait_since_ns < b->gang_wait_since_ns
                                   : sched_vt_before(vt, best_vt);
            if (better) {
                best = i;
                best_vt = vt;
            }
        }
        if (best == SCHED_MAX_DOMAINS)
            break;
        considered[best / 64] |= 1ull << (best % 64);

        struct sched_dom *d = &s->dom[best];
        uint32_t r = d->runnable_count;

        if (!gang_starved(d, now_ns) &&
            displaced_count(s, best_vt, now_ns) + reserved_run + r > s->cpu_count)
            continue;

        struct gang_match m;
        m.n = 0;
        for (uint32_t v = 0; v < s->vcpu_high; v++) {
            const struct sched_vcpu *vp = &s->vcpu[v];

            if (vp->state == SCHED_VCPU_FREE || vp->dom != best || m.n >= s->cpu_count)
                continue;
            m.aff[m.n] = vp->affinity;
            m.pref[m.n] = vp->last_cpu;
            m.vcpu[m.n++] = (sched_vcpu_t)v;
        }
        if (m.n != d->vcpu_count || !match_all(&m, avail))
            continue;
        for (uint32_t c = 0; c < s->cpu_count; c++) {
            if (m.owner[c] == 0xff)
                continue;
            s->cpu[c].gang_vcpu = m.vcpu[m.owner[c]];
            avail &= ~sched_cpu_bit(c);
        }
        d->gang_active = true;
        d->gang_waiting = false;
        d->gang_end_ns = slot_end;
        if (d->cap_pct != 0) {
            uint64_t per = (uint64_t)sched_dom_budget_free(d) / r;

            if (per < slot_end - now_ns)
                d->gang_end_ns = now_ns + MAX(per, SCHED_MIN_SLICE_NS);
        }
        reserved_run += r;
    }

    for (uint32_t i = 0; i < SCHED_MAX_DOMAINS; i++) {
        struct sched_dom *d = &s->dom[i];

        if (!d->used || !d->gang)
            continue;
        if (d->runnable_count == 0) {
            d->gang_waiting = false;
        } else if (!d->gang_active && !d->gang_waiting) {
            d->gang_waiting = true;
            d->gang_wait_since_ns = now_ns;
        }
    }
}

/*
 * A gang member became runnable. If its gang is running in this slot it
 * runs at once: on its reserved CPU, or on a free CPU reserved for it now;
 * if there is none, the whole gang stops for the rest of the slot (never a
 * partial gang). Returns the CPUs to kick.
 */
sched_cpumask_t sched_gang_wake(struct sched *s, sched_vcpu_t v, uint64_t now_ns)
{
    struct sched_vcpu *vp = &s->vcpu[v];
    struct sched_dom *d = &s->dom[vp->dom];
    uint64_t ref = s->vclock - SCHED_WAKE_BONUS_VT;
    bool have = false;
    uint32_t free_cpu = SCHED_NO_CPU;

    for (uint32_t i = 0; i < s->vcpu_high; i++) {
        const struct sched_vcpu *o = &s->vcpu[i];

        if (i == v || o->dom != vp->dom || o->state == SCHED_VCPU_FREE ||
            o->state == SCHED_VCPU_BLOCKED)
            continue;
        if (!have || sched_vt_before(o->vtime, ref))
            ref = o->vtime;
        have = true;
    }
    if (sched_vt_before(vp->vtime, ref))
        vp->vtime = ref;
    vp->state = SCHED_VCPU_GANG_WAIT;
    vp->since_ns = now_ns;
    d->runnable_count++;

    if (!d->gang_active || now_ns >= d->gang_end_ns) {
        if (!d->gang_waiting) {
            d->gang_waiting = true;
            d->gang_wait_since_ns = now_ns;
        }
        return 0;
    }
    for (uint32_t c = 0; c < s->cpu_count; c++)
        if (s->cpu[c].gang_vcpu == v)
            return sched_cpu_bit(c);
    for (uint32_t c = 0; c < s->cpu_count; c++) {
        sched_vcpu_t cur = s->cpu[c].current;

        if (!(vp->affinity & sched_cpu_bit(c)) ||
            sched_gang_reserved(s, c, now_ns) != SCHED_VCPU_NONE)
            continue;
        if (cur == SCHED_VCPU_NONE) {
            free_cpu = c;
            break;
        }
        if (free_cpu == SCHED_NO_CPU && !sched_dom_of(s, cur)->gang)
            free_cpu = c;
    }
    if (free_cpu != SCHED_NO_CPU) {
        s->cpu[free_cpu].gang_vcpu = v;
        return sched_cpu_bit(free_cpu);
    }
    return sched_gang_stop(s, vp->dom, now_ns);
}
