/*
 * Blocking and time for guests: HC_BLOCK, the per-VCPU one-shot timer
 * (HC_SET_TIMER, HV_VIRQ_TIMER) and the time records in shared info.
 * ABI: proto/include/hv/domctl.h.
 *
 * The time record is written once, when the domain gets its shared page:
 * the TSC is invariant (constant rate, one clock for every CPU), so the
 * same (tsc_timestamp, mul, shift) are right forever, and they are the
 * hypervisor's own, so a guest computes exactly arch_now_ns().
 */
#include "arch.h"
#include "domain.h"
#include "schedule.h"
#include "upcall.h"
#include "hypercall.h"
#include "log.h"

void domain_wallclock_init(struct domain *d)
{
    struct hv_shared_info *s = d->shared;
    uint64_t ts;
    uint32_t mul;
    int8_t shift;
    arch_time_record(&ts, &mul, &shift);
    for (unsigned i = 0; i < HV_SHARED_INFO_VCPUS; i++) {
        struct hv_vcpu_time_info *t = &s->vcpu_info[i].time;
        __atomic_store_n(&t->version, t->version | 1, __ATOMIC_SEQ_CST);
        t->tsc_timestamp = ts;
        t->system_time_ns = 0;
        t->tsc_to_system_mul = mul;
        t->tsc_shift = shift;
        __atomic_store_n(&t->version, t->version + 1, __ATOMIC_SEQ_CST);
    }
    uint64_t wc = arch_wallclock_at_zero_ns();
    __atomic_store_n(&s->wc_version, s->wc_version | 1, __ATOMIC_SEQ_CST);
    s->wc_sec = wc / 1000000000ull;
    s->wc_nsec = (uint32_t)(wc % 1000000000ull);
    __atomic_store_n(&s->wc_version, s->wc_version + 1, __ATOMIC_SEQ_CST);
}

int64_t hc_block(struct domain *d, struct hypercall *c)
{
    (void)c;
    struct vcpu *v = current_vcpu;
    __atomic_store_n(&d->shared->vcpu_info[v->id].upcall_mask, 0, __ATOMIC_SEQ_CST);
    if (v->timer_fired || evtchn_vcpu_event_pending(&d->ev, v->id)) {
        v->timer_fired = false;
        return HV_OK;
    }
    v->waiting_event = true; /* a kick or the timer clears it */
    vcpu_update_runnable(v);
    return HV_OK;
}

int64_t hc_set_timer(struct domain *d, struct hypercall *c)
{
    (void)d;
    struct vcpu *v = current_vcpu;
    v->timer_fired = false;
    v->timer_deadline_ns = c->arg[0];
    schedule_timer_changed();
    return HV_OK;
}

void vcpu_timer_fire(struct vcpu *v)
{
    v->timer_deadline_ns = 0;
    bool was_waiting = v->waiting_event; /* the VIRQ's kick may clear it */
    evtchn_raise_virq(&v->dom->ev, HV_VIRQ_TIMER, v->id);
    if (was_waiting) {
        v->waiting_event = false;
        vcpu_update_runnable(v);
    } else {
        v->timer_fired = true;
    }
}
