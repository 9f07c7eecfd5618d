/*
 * What the memory manager (hv/mm/frame.c, pt.c, mm_ops.c) needs from its
 * environment. The hypervisor implements these over its direct map, its TLB
 * instructions and its flush clock; the host unit tests implement them over
 * malloc'ed fake frames and record every call (test/unit/mm/fake_hooks.c).
 *
 * All hooks are called with the hypervisor lock held and must not call
 * back into the memory manager.
 */
#ifndef HV_MM_HOOKS_H
#define HV_MM_HOOKS_H

#include "types.h"
#include <hv/abi.h>

/*
 * Returns a hypervisor pointer to the 512 64-bit entries of frame m, valid
 * until the matching mm_frame_unmap. m is always inside the frame table.
 * In the hypervisor this is the direct map (unmap does nothing). Must not fail.
 */
uint64_t *mm_frame_map(mfn_t m);
void mm_frame_unmap(uint64_t *p);

/*
 * May domain `dom` map frame m, which it does not own, from an L1 entry
 * (writable or read-only)? Asked for two kinds of frame:
 *   - m inside the frame table, owned by another domain: grants (then
 *     mm_foreign_map_get/put count the mapping);
 *   - m outside the frame table (device memory above RAM, rule R3a of
 *     pt.c): I/O frames, which the hypervisor allows to holders of an MMIO
 *     capability covering m (READ, and WRITE for writable). Such a mapping
 *     takes no reference and is not counted.
 * Never asked for page-table targets, hypervisor frames or free frames:
 * those are always refused.
 */
bool mm_may_map_foreign(domid_t dom, mfn_t m, bool writable);

/*
 * A present L1 entry of a table owned by `dom` maps frame m, which dom does
 * not own. get: the entry has just been validated (mm_may_map_foreign said
 * yes and the frame references are taken); false refuses it (HV_ENOMEM, the
 * caller releases what it took). put: the entry is being dropped (overwritten,
 * or its table devalidated). Grants count their mappings with these.
 */
bool mm_foreign_map_get(domid_t dom, mfn_t m, bool writable);
void mm_foreign_map_put(domid_t dom, mfn_t m, bool writable);

/*
 * DMA (docs/devices.md, "The IOMMU"): frame m becomes reachable by the
 * devices domain dom drives (usable; writable unless a read-only grant), or
 * must stop being so. Called after a frame is given to dom (frame_assign,
 * frame_transfer's receiver) and when it stops being a page table (its type
 * goes back to none); before it leaves dom (frame_release, frame_transfer)
 * and before it becomes a page table (before validation reads it); and for
 * a grant, when dom's first mapping of it appears and after its last one
 * went. A !usable call returns only once no device of dom can reach m any
 * more (the IOMMU's caches invalidated): the caller changes the frame's use
 * only after it. The ordering rule, as the TLB-flush clock's for CPUs.
 */
void mm_dma_frame(domid_t dom, mfn_t m, bool usable, bool writable);

/* Flushes every non-global TLB entry of the current CPU (reload CR3). */
void mm_tlb_flush_local(void);

/*
 * A frame stamped `stamp` (tlbflush_timestamp) is about to change use:
 * flush every TLB, on every CPU, that may still hold a translation made
 * before the stamp - and only those (TLB shootdown). The host tests use
 * the one-CPU rule: pt_tlb_may_be_stale(stamp) then pt_tlb_flush_local().
 */
void mm_tlb_flush_stale(uint32_t stamp);

/* Invalidates the current CPU's translation of guest virtual address va. */
void mm_tlb_invlpg_local(uint64_t va);

/*
 * The TLB-flush clock: a counter that the hypervisor advances on every TLB
 * flush (mm_hv.c keeps each CPU's last flush time, so a stale frame
 * flushes only the CPUs that may still hold it). Frames record it when
 * they lose a type or are freed; a TLB flushed at or after a frame's stamp
 * holds no stale translation of it.
 */
uint32_t mm_flush_clock_now(void);

/*
 * Domain `dom` switched its base to L4 frame l4 (already validated and
 * referenced). If dom is running on this CPU the hypervisor loads CR3 now
 * (which flushes the non-global TLB) and returns true; otherwise it returns
 * false and loads it when it next schedules dom.
 */
bool mm_load_base(domid_t dom, mfn_t l4);

/*
 * Capabilities, for grants (hv/mm/grant*.c): the grant table of the domain
 * that capability `slot` of caps names, which must be a domain capability
 * with HV_GRANT_DOM_RIGHT. HV_OK with *out set; otherwise what the
 * capability look-up refused (HV_EINVAL: bad slot, HV_ENOENT: empty slot,
 * HV_EPERM: another type or the right missing), or HV_ENOENT if that
 * domain is being destroyed. caps is the caller's table: the core's type,
 * opaque here (mm never looks inside a capability).
 */
struct cap_table;
struct grant_table;
enum hv_status mm_cap_grant_table(struct cap_table *caps, uint32_t slot, struct grant_table **out);

#endif /* HV_MM_HOOKS_H */
