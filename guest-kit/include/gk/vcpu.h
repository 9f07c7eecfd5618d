/*
 * Multi-VCPU domains: starting secondary VCPUs, knowing which VCPU runs,
 * per-VCPU data and inter-VCPU interrupts (IPIs).
 *
 * A domain's VCPU count is fixed when it is created (struct
 * hv_domctl_create.vcpus; the root domain has HV_DOMAIN_VCPUS_MAX). VCPU 0
 * runs main(); the domain starts each further VCPU itself with
 * gk_vcpu_start (HV_DOMCTL_VCPU_START on HV_CAP_SLOT_SELF), on a function
 * with its own stack. The hypervisor time-slices the VCPUs when there are
 * fewer physical CPUs, so this works on one CPU as well.
 *
 * Which VCPU am I? Ring 3 has no per-CPU register the hypervisor sets
 * (no FSGSBASE, no TSC_AUX), so guest-kit identifies the VCPU by its stack:
 * gk_vcpu_start records each secondary's stack range [stack, stack + size),
 * and gk_vcpu_id() returns the VCPU whose recorded range contains the
 * current stack pointer, or 0 if none does (VCPU 0 runs on the initial
 * stack or wherever main() puts it). Upcalls and trap handlers run on the
 * interrupted stack, so they see the right id too. The cost is a scan of at
 * most GK_VCPU_MAX - 1 ranges. Consequence: code on a secondary VCPU must
 * not switch to a stack outside its range (no coroutines on other stacks),
 * and a stack must not be reused while its VCPU still runs (gk_vcpu_join).
 *
 * Per-VCPU data: GK_PER_VCPU(type, name) defines an array with one element
 * per VCPU and gk_this_vcpu(name) is the current VCPU's element. Each
 * VCPU also has a gk_vcpu_local() pointer for the application.
 *
 * Events: the upcall entry is registered once per domain (gk_events_init);
 * each VCPU has its own upcall mask, starts masked, and clears it with
 * gk_events_init_vcpu() (gk/event.h). Ports are delivered to the VCPU they
 * are bound to: inter-domain ports and global VIRQs to VCPU 0 unless moved
 * with gk_evtchn_bind_vcpu; an IPI port to the VCPU named at gk_ipi_bind.
 *
 * When the function given to gk_vcpu_start returns, the VCPU stops itself
 * (HV_DOMCTL_VCPU_STOP on HV_CAP_SLOT_SELF) and may be started again. Were
 * the stop refused (it cannot be while VCPU 0 runs), the VCPU would yield
 * forever with upcalls masked, touching no memory.
 */
#ifndef GK_VCPU_H
#define GK_VCPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/domctl.h"

/* VCPUs guest-kit keeps state for (ids 0 .. GK_VCPU_MAX-1). */
#define GK_VCPU_MAX HV_DOMAIN_VCPUS_MAX
/* The smallest stack gk_vcpu_start accepts. */
#define GK_VCPU_STACK_MIN 4096u

/* One array element per VCPU, and the current VCPU's element. */
#define GK_PER_VCPU(type, name) type name[GK_VCPU_MAX]
#define gk_this_vcpu(name) ((name)[gk_vcpu_id()])

typedef void (*gk_vcpu_fn)(void *arg);

/*
 * Starts VCPU id (1 .. the domain's VCPU count - 1) on fn(arg) with the
 * stack [stack, stack + stack_size) (at least GK_VCPU_STACK_MIN bytes, any
 * alignment, writable, not the stack of another VCPU). Checks everything
 * before the hypercall: HV_EINVAL for id 0 or >= GK_VCPU_MAX, a NULL fn or
 * stack, a short stack, a range that wraps or leaves guest space or
 * overlaps another VCPU's; HV_EEXIST if guest-kit already runs that VCPU.
 * Otherwise the status of HV_DOMCTL_VCPU_START (HV_EINVAL for an id beyond
 * the domain's VCPU count). On HV_OK fn is running or about to.
 */
int64_t gk_vcpu_start(unsigned id, gk_vcpu_fn fn, void *arg, void *stack, size_t stack_size);

/* The id of the calling VCPU (see the top of this file). */
unsigned gk_vcpu_id(void);

/* Whether VCPU id was started by gk_vcpu_start and has not yet stopped.
 * VCPU 0 always counts as running. */
bool gk_vcpu_running(unsigned id);

/* Waits (yielding the CPU) until VCPU id, started with gk_vcpu_start, has
 * returned from its function and stopped; then its stack may be reused and
 * it may be started again. HV_EINVAL for id 0 or out of range, HV_ENOENT
 * if it was never started. Not from an event handler of the same VCPU. */
int64_t gk_vcpu_join(unsigned id);

/* The calling VCPU's application pointer (NULL until set). */
void *gk_vcpu_local(void);
void gk_vcpu_set_local(void *p);

/* The number of VCPUs this domain was created with (HV_DOMCTL_INFO), or 1
 * if the query fails. */
unsigned gk_vcpu_count(void);

/* ---- IPIs ---------------------------------------------------------------- */

/* HV_EVTCHN_BIND_IPI: a port that, sent to from any VCPU of this domain,
 * notifies `vcpu` (its handler runs there). Bind a handler with
 * gk_evtchn_bind_handler and gk_evtchn_unmask it as for any port. */
int64_t gk_ipi_bind(unsigned vcpu, uint32_t *port);

/* Raises an IPI port (HV_EVTCHN_SEND). */
int64_t gk_ipi_send(uint32_t port);

/* HV_EVTCHN_BIND_VCPU: deliver port to `vcpu` from now on (inter-domain
 * ports and physical IRQs; per-VCPU VIRQs and IPIs stay where bound). */
int64_t gk_evtchn_bind_vcpu(uint32_t port, unsigned vcpu);

/* ---- Internals shared with vcpu_entry.S ------------------------------------ */

/* The per-VCPU record. state is at offset 0 and mask_ptr at 8: the entry
 * stub stores to them after the VCPU's function returned. */
enum gk_vcpu_state {
    GK_VCPU_FREE = 0,     /* never started (or joined) */
    GK_VCPU_STARTING = 1, /* registered, VCPU_START in progress */
    GK_VCPU_RUNNING = 2,  /* its function runs */
    GK_VCPU_STOPPED = 3,  /* its function returned; the VCPU is (being) stopped */
};
struct gk_vcpu {
    uint32_t state; /* enum gk_vcpu_state, accessed atomically */
    uint32_t id;
    volatile uint8_t *mask_ptr; /* &shared_info->vcpu_info[id].upcall_mask */
    uint64_t stack_lo, stack_hi;
    gk_vcpu_fn fn;
    void *arg;
    void *local;
    struct hv_domctl_vcpu_start stop; /* the VCPU_STOP argument, in static memory */
};

/* Called by the entry stub on the new VCPU; returns &v->stop. */
struct hv_domctl_vcpu_start *gk_vcpu_main(struct gk_vcpu *v);
void gk_vcpu_entry(void);

#endif
