/*
 * What the architecture calls in the core: the entry points of hypercalls,
 * faults, interrupts and the scheduler, implemented in hv/core. Together
 * with arch.h (the other direction) this is the whole boundary between
 * hv/arch/x86_64 and the rest (see hv/README.md).
 */
#ifndef HV_ARCH_HOOKS_H
#define HV_ARCH_HOOKS_H

#include "arch.h"

/* Every hypercall, decoded (hv/core/hypercall.c). Takes the hypervisor
 * lock, runs the handler, sets the result and leaves through
 * schedule_exit. */
void hypercall_entry(struct hypercall *c);

/* A fault in ring 3 (hv/core/trap_reflect.c): reflected to the domain's
 * handler, or the domain is killed (the CPU switches away at the exit to
 * ring 3). */
void domain_fault(struct cpu_regs *frame, const struct arch_fault *f);

/* Physical line gsi fired (already masked): to the port bound to it
 * (hv/core/objects.c). */
void domain_pirq(uint32_t gsi);

/* Message vector `vector` fired (EOI done): to the port bound to it
 * (hv/core/pci_dev.c). */
void domain_msi(unsigned vector);

/* The IOMMU reported a DMA or interrupt-remapping fault: the function's
 * source id (bus << 8 | devfn), the page address, the unit's fault reason,
 * write or read (hv/core/pci_dev.c counts and logs it). */
void iommu_fault_report(uint16_t sid, uint64_t addr, uint8_t reason, bool write);

/* A frame for the hypervisor's own use at run time (the IOMMU's tables),
 * owned by the hypervisor, not zeroed; INVALID_MFN if none is left. And its
 * return (hv/core/mm_hv.c). */
mfn_t hv_frame_get(void);
void hv_frame_put(mfn_t m);

/* The hypervisor lock (hv/core/schedule.c), taken by every entry from
 * ring 3 and every interrupt, released on the way back. */
void hv_lock(void);
void hv_unlock(void);

/* The local timer fired (interrupts off, the lock held). */
void schedule_timer_interrupt(void);
/* Called on every way back to ring 3 with the frame about to be restored:
 * switches to another VCPU if the policy says so (rewriting the frame). */
void schedule_exit(struct cpu_regs *frame);

/* The boot CPU's C entry (from boot.S), hv/core/main.c. */
__noreturn void hv_main(uint32_t magic, uint32_t mbi_phys);

#endif /* HV_ARCH_HOOKS_H */
