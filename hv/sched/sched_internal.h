/*
 * Private helpers shared by the files of the scheduling policy
 * (sched.c: objects, wake/block, time; sched_pick.c: run queues, placement,
 * stealing, pick; sched_gang.c: gang slots). Only hv/sched/ includes this.
 * Every function here expects the caller to hold the scheduler lock and to
 * have validated its arguments.
 */
#ifndef HV_SCHED_INTERNAL_H
#define HV_SCHED_INTERNAL_H

#include "sched.h"

/* Wrap-safe "a is earlier than b" for virtual times (valid while the spread
 * of live virtual times stays below 2^63, which accounting guarantees). */
static inline bool sched_vt_before(uint64_t a, uint64_t b)
{
    return (int64_t)(a - b) < 0;
}

static inline sched_cpumask_t sched_cpu_bit(uint32_t cpu)
{
    return 1ull << cpu;
}

static inline struct sched_dom *sched_dom_of(struct sched *s, sched_vcpu_t v)
{
    return &s->dom[s->vcpu[v].dom];
}

/* Remaining cap budget of a domain not yet promised to a running VCPU
 * (INT64_MAX for an uncapped domain). */
static inline int64_t sched_dom_budget_free(const struct sched_dom *d)
{
    if (d->cap_pct == 0)
        return INT64_MAX;
    return d->budget_ns - (int64_t)d->committed_ns;
}

static inline bool sched_dom_eligible(const struct sched_dom *d)
{
    return sched_dom_budget_free(d) > 0;
}

/* A runnable, not running VCPU that waited at least SCHED_STARVE_NS. */
static inline bool sched_vcpu_starved(const struct sched_vcpu *v, uint64_t now_ns)
{
    return (v->state == SCHED_VCPU_QUEUED || v->state == SCHED_VCPU_GANG_WAIT) &&
           now_ns - v->since_ns >= SCHED_STARVE_NS;
}

/* Per-domain cap budget granted each accounting period. */
static inline int64_t sched_cap_budget_ns(uint32_t cap_pct)
{
    return (int64_t)((uint64_t)cap_pct * SCHED_PERIOD_NS / 100u);
}

/* End of the current slot. */
static inline uint64_t sched_slot_end_ns(const struct sched *s)
{
    return (s->slot + 1) * SCHED_SLOT_NS;
}

/* sched_pick.c */
void sched_rq_insert(struct sched *s, uint32_t cpu, sched_vcpu_t v);
void sched_rq_remove(struct sched *s, sched_vcpu_t v);
void sched_charge(struct sched *s, sched_vcpu_t v, uint64_t now_ns);
void sched_release_grant(struct sched *s, sched_vcpu_t v);
bool sched_vcpu_better(const struct sched *s, sched_vcpu_t a, sched_vcpu_t b, uint64_t now_ns);
uint32_t sched_place(struct sched *s, sched_vcpu_t v, uint64_t now_ns);
void sched_clamp_vtime(struct sched *s, sched_vcpu_t v, uint32_t cpu);
bool sched_cpu_idle(const struct sched *s, uint32_t cpu, uint64_t now_ns);
sched_cpumask_t sched_put_prev(struct sched *s, uint32_t cpu, uint64_t now_ns);
sched_cpumask_t sched_kick_idle_for(const struct sched *s, sched_vcpu_t q, uint64_t now_ns);

/* sched.c */
void sched_advance(struct sched *s, uint64_t now_ns);

/* sched_gang.c */
sched_vcpu_t sched_gang_reserved(const struct sched *s, uint32_t cpu, uint64_t now_ns);
void sched_gang_plan(struct sched *s, uint64_t now_ns);
bool sched_gang_feasible(const struct sched *s, uint16_t dom, sched_vcpu_t changed,
                         sched_cpumask_t changed_affinity, bool adding);
sched_cpumask_t sched_gang_wake(struct sched *s, sched_vcpu_t v, uint64_t now_ns);
sched_cpumask_t sched_gang_stop(struct sched *s, uint16_t dom, uint64_t now_ns);

#endif /* HV_SCHED_INTERNAL_H */
