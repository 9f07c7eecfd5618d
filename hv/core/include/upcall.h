/*
 * Upcalls, blocking and virtual time: event upcalls on the way back to
 * ring 3 (hv/core/trap_reflect.c), a VCPU's one-shot timer and the wall
 * clock in shared info (hv/core/vtime.c).
 */
#ifndef HV_UPCALL_H
#define HV_UPCALL_H

#include "domain.h"

/* On the way to ring 3 with v's frame in regs: enter its upcall if an event
 * is pending and upcalls are unmasked. */
void upcall_deliver(struct vcpu *v, struct cpu_regs *regs);
/* v's one-shot timer expired: raise HV_VIRQ_TIMER and wake it from HC_BLOCK. */
void vcpu_timer_fire(struct vcpu *v);
/* Fills d's wall-clock fields in shared info. */
void domain_wallclock_init(struct domain *d);

#endif
