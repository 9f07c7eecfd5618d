/*
 * DMA remapping policy (docs/devices.md, "The IOMMU"): which memory the PCI
 * functions a domain drives may reach. Each domain that drives a device
 * with DMA has one translation space, shared by all its functions, that
 * maps DMA address = machine address for exactly
 *   - the frames it owns that are not page tables, and
 *   - the frames granted to it while it has them mapped (read-only if the
 *     grant is);
 * a function nobody drives has no translation at all (its DMA faults).
 *
 * The ordering rule (the IOMMU's counterpart of the TLB-flush clock): a
 * frame leaves a space, and the IOMMU's translation caches are invalidated
 * and the invalidation has completed, BEFORE the frame changes hands or use
 * (frame_release, frame_transfer, becoming a page table) and before the
 * last grant mapping of it is reported gone. iommu_frame(.., false)
 * returns only then. So a device can never write a frame that already
 * belongs to someone else or is being validated as a page table. Unlike the
 * CPU TLBs, nothing is deferred: an IOMMU invalidation is one queued
 * command and a wait, and frames change use far less often than TLBs are
 * flushed.
 *
 * Pure logic (hv/core/iommu.c), host-tested (test/unit/iommu, with a fake
 * unit): the architecture's unit (VT-d, hv/arch/x86_64/vtd.c) is reached
 * through arch.h's arch_iommu_* functions, the memory manager through
 * iommu_hook_dma_frames. The caller holds the hypervisor lock.
 */
#ifndef HV_IOMMU_H
#define HV_IOMMU_H

#include "types.h"
#include <hv/abi.h>

#include "arch.h"

/* The DMA state of one domain. Zero-initialised = nothing attached. */
struct iommu_dom {
    struct arch_iommu_space *space; /* NULL: no function attached */
    uint32_t funcs;                 /* functions attached to the space */
    uint64_t frames_mapped;         /* entries now in the space */
    uint64_t map_failures;          /* frames that could not be mapped (no table memory) */
    uint64_t faults;                /* DMA faults of its functions */
};

/* A function whose DMA has faulted this many times since it was attached
 * is stopped: bus mastering off, detached (hv/core/pci_dev.c). Its driver
 * may turn bus mastering on again (a new attach, counted from 0): the stop
 * bounds the fault work a runaway device makes, not a driver's. */
#define IOMMU_FAULT_STOP 16u

/* How the machine runs (cmdline `iommu=`, and what the firmware offers). */
enum iommu_mode {
    IOMMU_ON = 0,         /* a remapping unit translates every DMA it covers */
    IOMMU_ABSENT = 1,     /* none found: DMA only for the root */
    IOMMU_OFF_UNSAFE = 2, /* `iommu=off-unsafe`: any holder of the DMA right, unconfined */
};

/*
 * May domain dom (is_root: the root domain) turn on bus mastering of a
 * function? covered: a remapping unit translates the function; owner: the
 * domain its DMA is attached to now (DOMID_INVALID: none). HV_OK (attach it
 * to dom if not already: *attach true), HV_EPERM (no unit for it and dom is
 * not the root, unless IOMMU_OFF_UNSAFE), HV_EBUSY (another domain's).
 */
enum hv_status iommu_dma_rule(enum iommu_mode mode, bool covered, bool is_root, domid_t dom,
                              domid_t owner, bool *attach);

/*
 * Attaches function bdf to dom's space, creating and filling the space on
 * the first attach (every frame iommu_hook_dma_frames reports). HV_ENOMEM
 * if the space or a table cannot be made (nothing attached then).
 */
enum hv_status iommu_attach(struct iommu_dom *d, domid_t dom, uint16_t bdf);

/* Detaches function bdf (its DMA faults from now on); the last detach
 * destroys the space. */
void iommu_detach(struct iommu_dom *d, uint16_t bdf);

/*
 * Frame m of the domain becomes reachable (usable; writable unless a
 * read-only grant) or must stop being so (!usable: returns after the
 * invalidation completed). Nothing happens for a domain without a space.
 */
void iommu_frame(struct iommu_dom *d, mfn_t m, bool usable, bool writable);

/* ---- Hooks ------------------------------------------------------------- */

/* The architecture's unit is reached through arch.h's arch_iommu_*. */
/* The memory manager: calls fn for every frame dom may DMA now (its own
 * frames that are not page tables, and the grants it has mapped). */
typedef void (*iommu_frame_fn)(void *ctx, mfn_t m, bool writable);
void iommu_hook_dma_frames(domid_t dom, iommu_frame_fn fn, void *ctx);

#endif /* HV_IOMMU_H */
