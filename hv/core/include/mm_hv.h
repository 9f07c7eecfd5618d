/* The memory manager's hypervisor-side set-up (hv/mm/mm_hv.c). */
#ifndef HV_MM_HV_H
#define HV_MM_HV_H

#include "types.h"

struct pmm;

/* Allocates and maps the frame table and the M2P for frames
 * [0, frames_count), and configures page-table validation. Boot only. */
void mm_hv_init(struct pmm *pmm, uint64_t frames_count);
/* Frames the frame table covers (mfns at or above are refused: HV_ERANGE). */
uint64_t mm_hv_frames_count(void);
/* The hypervisor's frame allocator (set by mm_hv_init). */
struct pmm *mm_hv_pool(void);

/* TLB shootdown (mm_hv.c): record that this CPU just flushed its TLB (a CR3
 * load); flush the TLBs of the CPUs in mask (bit i = CPU i, this one
 * included if set) and wait for them; remote flushes sent so far. */
void mm_note_local_flush(void);
/* One bounded step (at most `budget` units; MM_IO_SWEEP_* below) of clearing
 * every L1 entry of domain dom mapping a device frame in [base, base + count)
 * that no MMIO capability of dom covers any more (a capability with
 * CAP_F_DYING covers nothing), from *cursor (frame << 9 | entry; start at
 * 0) on; adds the entries cleared to *cleared (the caller flushes the TLBs).
 * True when every frame of the frame table was looked at. */
bool mm_io_sweep_step(domid_t dom, uint64_t base, uint64_t count, uint64_t *cursor, uint32_t budget,
                      unsigned *cleared);
/* Units of mm_io_sweep_step (about 23 instructions each, measured): a frame
 * or an entry looked at is 1, an entry in the range checked against the
 * holder's slots MM_IO_SWEEP_CHECK; MM_IO_SWEEP_BUDGET a step. */
#define MM_IO_SWEEP_BUDGET 4096u
#define MM_IO_SWEEP_CHECK 256u
void mm_tlb_flush_cpus(uint64_t mask);

#endif
