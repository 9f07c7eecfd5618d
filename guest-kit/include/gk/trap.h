/*
 * Handling your own exceptions (trap reflection, docs/abi.md). Register a C
 * handler per vector with gk_trap_set; it receives the bounce frame and may
 * change it (e.g. advance rip past a faulting instruction) before returning,
 * which resumes the interrupted context with those values. Vectors without
 * a handler kill the domain as before. The handler table is the domain's
 * (one for all VCPUs); a handler runs on the VCPU that faulted, on its
 * stack, and gk_trap_fault_addr reads that VCPU's fault address.
 */
#ifndef GK_TRAP_H
#define GK_TRAP_H

#include <stdint.h>

#include "hv/abi.h"

typedef void (*gk_trap_fn)(struct hv_bounce_frame *frame);

/* Installs (fn != NULL) or removes a handler; returns the hypercall status
 * (HV_EINVAL for a vector the hypervisor keeps: 2, 8, 18, or >= 32). */
int64_t gk_trap_set(unsigned vector, gk_trap_fn fn);

/* The address of the page fault being handled on the calling VCPU (from
 * its vcpu_info in the shared-info page). */
uint64_t gk_trap_fault_addr(void);

/* Raw hypercalls, for tests of the interface itself. */
int64_t gk_hc_set_trap_table(const struct hv_trap_entry *table, uint64_t count);
int64_t gk_hc_iret(const struct hv_bounce_frame *frame);

#endif
