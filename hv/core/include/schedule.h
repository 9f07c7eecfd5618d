/*
 * The scheduling mechanism (hv/core/schedule.c): the hypervisor lock, the
 * current VCPU, and VCPUs put on and taken off the CPUs by the policy of
 * hv/sched. Callers hold the hypervisor lock unless a comment says otherwise.
 */
#ifndef HV_SCHEDULE_H
#define HV_SCHEDULE_H

#include "domain.h"

void schedule_init(void);
/* Gives d VCPU `id` with an initial ring-3 context, blocked until woken. */
int vcpu_init(struct domain *d, unsigned id, uint64_t entry, uint64_t stack, uint64_t arg);
void vcpu_wake(struct vcpu *v);
/* Stops v until vcpu_wake (the current VCPU leaves the CPU on exit). */
void vcpu_block(struct vcpu *v);
/* Takes v off the CPU for good (it may be started again with vcpu_init). */
void vcpu_stop(struct vcpu *v);
/* Takes every VCPU of d off the CPU for good (its domain is dying). */
void domain_vcpus_stop(struct domain *d);
/* The current VCPU lets the VCPUs queued on its CPU run first; if the
 * policy picks it again, it goes on after a halt of at most 50 us. */
void schedule_yield(void);
/* A long operation restarts itself: let the policy run something else
 * first if it wants (the current VCPU continues at once otherwise). */
void schedule_preempt_point(void);
/* Scheduling parameters of d (applied now if d has VCPUs in the policy,
 * else when its first VCPU starts); status as sched_set_domain. */
int schedule_set_params(struct domain *d, const struct sched_domain_params *p);
void schedule_get_params(const struct domain *d, struct sched_domain_params *out);
/* Hard affinity of v (0: every CPU); status as sched_set_affinity. */
int schedule_pin(struct vcpu *v, uint64_t mask);
/* State and statistics of v. */
void schedule_vcpu_info(struct vcpu *v, struct hv_domctl_vcpu_info *out);
/* CPUs the scheduler runs on. */
unsigned schedule_cpu_count(void);
/* The CPUs currently running a VCPU of d (bit i = CPU i). */
uint64_t schedule_cpus_running(const struct domain *d);
/* A VCPU timer deadline changed: reprogram the local timer. */
void schedule_timer_changed(void);
/* Starts running VCPUs on this CPU (any CPU, once); never returns. */
__noreturn void schedule_start(void);

/* Makes v runnable or not according to its domain's state, pause and
 * HC_BLOCK (the one place that decides). */
void vcpu_update_runnable(struct vcpu *v);

#endif
