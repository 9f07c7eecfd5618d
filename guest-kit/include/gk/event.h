/*
 * Event channels and upcalls (docs/evtchn.md, hv/shared_info.h, hv/caps.h).
 *
 * gk_events_init registers gk_event_entry (src/event_entry.S) with
 * HC_SET_CALLBACK (once per domain) and unmasks upcalls on the calling VCPU;
 * a secondary VCPU calls gk_events_init_vcpu() to unmask its own (gk/vcpu.h).
 * On an upcall the dispatcher, on the VCPU that took it,
 * does the two-level scan of the shared-info page and calls the handler
 * bound to each pending, unmasked port, after clearing its pending bit.
 * A pending port without a handler is left pending, for code that waits on
 * it with gk_evtchn_test_and_clear.
 *
 * Handlers run with upcalls masked, on the interrupted stack; they must be
 * short, must not block (gk_block, gk_sleep_*, gk_console_getc_blocking)
 * and must not call gk_events_enable (gk_events_disable/restore pairs are
 * fine: they leave the mask set). Masking, enabling and blocking act on
 * the calling VCPU; the handler table is shared by all VCPUs, and a port's
 * handler runs on the VCPU the port is bound to (VCPU 0 unless bound
 * elsewhere: IPIs, per-VCPU VIRQs, gk_evtchn_bind_vcpu).
 *
 * Bind a port's handler before the port can fire (or with upcalls masked):
 * an upcall that finds no handler leaves the port pending without a new
 * notification, e.g. the port bind_interdomain makes pending at once.
 *
 * Every value read from the shared-info page is treated as possibly corrupt:
 * pending_sel bits beyond the last port word and port 0 are ignored, and one
 * upcall does a bounded amount of work (what is left stays pending and is
 * delivered again as soon as the upcall returns).
 */
#ifndef GK_EVENT_H
#define GK_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/abi.h"
#include "hv/caps.h"
#include "hv/shared_info.h"

/* A port's handler: called with the port and the argument given at binding. */
typedef void (*gk_evtchn_fn)(uint32_t port, void *arg);

/* The start-info page of this domain (defined in runtime.c; also in gk.h). */
extern const struct hv_start_info *gk_start_info;

/* This domain's shared-info page. */
static inline struct hv_shared_info *gk_shared_info(void)
{
    return (struct hv_shared_info *)(uintptr_t)gk_start_info->shared_info_va;
}

/* Registers the upcall entry (first call in the domain) and unmasks upcalls
 * on the calling VCPU (first call on that VCPU), delivering any that are
 * already pending. Idempotent per VCPU. Returns the status of
 * HC_SET_CALLBACK. */
int64_t gk_events_init(void);

/*
 * Shutdown requests. When a holder of this domain's capability asks it to
 * shut down (HV_DOMCTL_SHUTDOWN_REQUEST, e.g. `hvctl shutdown` or
 * `hvctl reboot`), the hypervisor records the reason and raises
 * HV_VIRQ_SHUTDOWN, which the runtime binds before main (gk_shutdown_watch).
 *
 * By default the domain stops at once with the requested reason
 * (gk_shutdown(reason): poweroff or reboot), from the upcall itself, which
 * is safe because gk_shutdown takes no lock and never returns. This needs
 * upcalls enabled on VCPU 0 (gk_events_init, or any gk_block, gk_sleep_*,
 * gk_console_getc_blocking) or a call to gk_shutdown_poll(); a domain that
 * does neither does not answer, and the requester forces it.
 *
 * gk_on_shutdown_request(fn) replaces the default (fn NULL restores it):
 * fn(reason) is called once per request, NOT in the upcall but at the next
 * safe point outside every handler (the return of gk_block, or
 * gk_shutdown_poll), so it may block, print, take locks and wait for I/O;
 * it should end with gk_shutdown(reason). A hook that returns ignores the
 * request.
 */
void gk_on_shutdown_request(void (*fn)(enum hv_shutdown_reason reason));

/* Whether a shutdown has been asked for (and seen), and its reason. */
bool gk_shutdown_pending(enum hv_shutdown_reason *reason);

/* A safe point for code that neither blocks nor enables upcalls (a busy
 * loop): notices a request even with upcalls masked and acts on it as
 * above (the default shutdown, or the hook). Does nothing when called from
 * an event handler. */
void gk_shutdown_poll(void);

/* Binds HV_VIRQ_SHUTDOWN on VCPU 0 to the runtime's handler and unmasks the
 * port (gk_start calls it before main; idempotent). Does not enable
 * upcalls. If the bind is refused the domain does not answer requests. */
void gk_shutdown_watch(void);

/* gk_events_init for a secondary VCPU (every VCPU starts with upcalls
 * masked): the same call, named for what it is used for. */
int64_t gk_events_init_vcpu(void);

/* Masks upcalls on the calling VCPU; true if they were enabled before. */
bool gk_events_disable(void);

/* Unmasks upcalls on the calling VCPU. If an upcall became pending while they were
 * masked, the dispatcher runs right here (with upcalls masked again) until
 * nothing is pending, so no event waits for the next hypervisor entry. */
void gk_events_enable(void);

/* gk_events_enable if was_enabled (the result of gk_events_disable). */
void gk_events_restore(bool was_enabled);

/* Binds (fn != NULL) or removes the handler of port (1 .. HV_EVTCHN_PORTS-1).
 * HV_EINVAL for a port out of range. Does not unmask the port. */
int64_t gk_evtchn_bind_handler(uint32_t port, gk_evtchn_fn fn, void *arg);

/* HV_EVTCHN_ALLOC_UNBOUND: a port that only the domain named by dom_slot
 * (a domain capability with HV_CAP_R_DOM_EVTCHN, or HV_CAP_SLOT_SELF) may
 * bind to. *port receives it on HV_OK. */
int64_t gk_evtchn_alloc_unbound(uint32_t dom_slot, uint32_t *port);

/* HV_EVTCHN_BIND_INTERDOMAIN: a new local port connected to remote_port of
 * the domain named by dom_slot. The new port starts pending. remote_port
 * usually comes from the other domain: HV_EINVAL, before the hypercall,
 * if it is 0 or >= HV_EVTCHN_PORTS. */
int64_t gk_evtchn_bind_interdomain(uint32_t dom_slot, uint32_t remote_port, uint32_t *port);

/* HV_EVTCHN_BIND_VIRQ: a port for virtual IRQ virq (enum hv_virq) on vcpu. */
int64_t gk_evtchn_bind_virq(uint32_t virq, uint32_t vcpu, uint32_t *port);

/* HV_EVTCHN_BIND_IPI: a port that notifies vcpu when sent to. */
int64_t gk_evtchn_bind_ipi(uint32_t vcpu, uint32_t *port);

/* HV_EVTCHN_BIND_MSI: a port for vector `index` of the message interrupts
 * set up on the function of PCI capability pci_slot (gk_pci_msi_enable).
 * The port needs no EOI. */
int64_t gk_evtchn_bind_msi(uint32_t pci_slot, uint32_t index, uint32_t *port);

/* HV_EVTCHN_BIND_PIRQ: a port for I/O APIC line irq, through the IRQ
 * capability irq_slot (with IRQ_BIND, covering irq). The line is masked
 * from each delivery until gk_evtchn_eoi; a level-triggered (PCI) line may
 * be bound by several domains, and is unmasked after the last one's EOI. */
int64_t gk_evtchn_bind_pirq(uint32_t irq_slot, uint32_t irq, uint32_t *port);

/* HV_EVTCHN_EOI: the interrupt delivered on a line's port is handled (the
 * device acknowledged): the line may fire again. */
int64_t gk_evtchn_eoi(uint32_t port);

/* HV_EVTCHN_SEND: notify the other end of port. */
int64_t gk_evtchn_send(uint32_t port);

/* HV_EVTCHN_CLOSE; on HV_OK the port's handler is removed as well. */
int64_t gk_evtchn_close(uint32_t port);

/* Masks port (sets its bit of evtchn_mask). HV_EINVAL if out of range. */
int64_t gk_evtchn_mask(uint32_t port);

/* Clears port's mask bit. If the port is pending, asks the hypervisor
 * (HV_EVTCHN_UNMASK) to raise it again, so a masked event is not lost. */
int64_t gk_evtchn_unmask(uint32_t port);

/* Atomically clears port's pending bit; true if it was set. For code that
 * waits on a port without a handler. false for a port out of range. */
bool gk_evtchn_test_and_clear(uint32_t port);

/* Whether port is pending (without clearing it). */
bool gk_evtchn_is_pending(uint32_t port);

/*
 * HC_BLOCK: waits until an event is pending; the handlers of what arrived
 * have run when it returns. Returns with upcalls enabled (the hypervisor
 * clears upcall_mask). To wait for a condition without losing a wake-up:
 *
 *     bool was = gk_events_disable();
 *     while (!condition()) {    // checked with upcalls masked
 *         gk_block();           // unmasks, blocks, runs handlers
 *         gk_events_disable();
 *     }
 *     gk_events_restore(was);
 *
 * (gk_sleep_until in time.c). The same holds for a port without a handler:
 * `while (!gk_evtchn_test_and_clear(port)) gk_block();` with upcalls
 * enabled loses wake-ups (an upcall between the test and HC_BLOCK clears
 * upcall_pending and leaves the port pending, and HC_BLOCK then sleeps);
 * mask around the test as above. Calls gk_events_init if not done yet.
 * Must not be called from a handler (it panics).
 */
void gk_block(void);

/* Upcalls taken, and handler calls made, since boot (for tests). */
uint64_t gk_events_upcall_count(void);
uint64_t gk_events_handler_calls(void);

/* The dispatcher, called by gk_event_entry with the upcall's bounce frame.
 * Returns the frame to resume with HC_IRET (see event.c: an upcall taken in
 * the last instruction of another upcall's exit resumes that one's frame). */
struct hv_bounce_frame *gk_event_dispatch(struct hv_bounce_frame *frame);

/* The upcall entry point (event_entry.S), the address of its HC_IRET
 * `syscall` instruction, and the calling VCPU's upcall mask (for the entry's
 * exit path). */
void gk_event_entry(void);
extern const char gk_event_iret_insn[];
volatile uint8_t *gk_event_mask_addr(void);
/* Forgets that VCPU id ran gk_events_init (called by gk/vcpu.h when it
 * starts a VCPU, which begins with upcalls masked, possibly again). */
void gk_events_vcpu_reset(unsigned id);

#endif
