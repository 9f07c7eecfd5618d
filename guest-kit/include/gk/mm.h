/*
 * guest-kit memory management: typed wrappers for the PV-memory hypercalls
 * (HC_MMU_UPDATE, HC_MMUEXT_OP, HC_UPDATE_VA_MAPPING, HC_MEMORY_OP; see
 * proto/include/hv/abi.h and docs/mm.md), guest page-table entry bits, the
 * M2P and p2m lists, a pfn allocator over the domain's unused frames, and
 * page-table helpers that change tables only through the validated
 * hypercalls.
 *
 * How tables are read. A domain's page tables are mapped read-only:
 *   - tables of the start-of-day layout at image_base + pfn * 4096;
 *   - tables this module creates in a "table window", a 2 MiB region with
 *     its own L1 (made by gk_mm_init), slot 0 of which maps that L1 itself
 *     read-only, slot 1 is a scratch page for zeroing new frames, and the
 *     other 510 slots map the tables created here, read-only.
 * A table anywhere else (built by the caller by other means) cannot be
 * walked: the helpers then return 0 / HV_ENOENT.
 *
 * MP-safe: the pfn allocator, the window and every helper that changes a
 * table hold one recursive lock with the calling VCPU's events masked, so
 * any VCPU (and an event handler) may call them. gk_unmap and
 * gk_pt_free_table flush the TLBs of the domain's other running VCPUs
 * (HV_MMUEXT_TLB_FLUSH_VCPUS) as well as the caller's. Two VCPUs writing the
 * same entry with gk_pt_write race as they would on hardware.
 * Call gk_mm_init once, on VCPU 0, before anything else here and before
 * the domain touches any frame from si->first_free_pfn on (it relies on
 * those frames being zeroed by the hypervisor, docs/abi.md).
 */
#ifndef GK_MM_H
#define GK_MM_H

#include <stddef.h>
#include <stdint.h>

#include "gk/hypercall.h"
#include "hv/abi.h"
#include "hv/pte.h"

/* Page-table entry bits as a guest writes them (docs/mm.md, "Validation rules"): guest-kit's
 * names for the one definition in hv/pte.h. */
#define GK_PTE_P HV_PTE_P
#define GK_PTE_RW HV_PTE_RW
#define GK_PTE_US HV_PTE_US /* must be set in every present entry */
#define GK_PTE_PWT HV_PTE_PWT
#define GK_PTE_PCD HV_PTE_PCD
#define GK_PTE_A HV_PTE_A
#define GK_PTE_D HV_PTE_D
#define GK_PTE_PS HV_PTE_PS /* superpage at L2/L3, PAT at L1: always refused */
#define GK_PTE_G HV_PTE_G   /* global: always refused */
#define GK_PTE_AVAIL_LOW HV_PTE_AVAIL_LOW
#define GK_PTE_AVAIL_HIGH HV_PTE_AVAIL_HIGH
#define GK_PTE_NX HV_PTE_NX
#define GK_PTE_ADDR_MASK HV_PTE_ADDR_MASK
#define GK_PT_ENTRIES 512u
#define GK_PT_HV_L4_FIRST 256u /* L4 slots 256..511 belong to the hypervisor */

/* Usual leaf flags: user read-only data, user read-write data. */
#define GK_PTE_RO (GK_PTE_P | GK_PTE_US | GK_PTE_NX)
#define GK_PTE_RWDATA (GK_PTE_P | GK_PTE_RW | GK_PTE_US | GK_PTE_NX)
/* Flags of an entry that points to a lower-level table. */
#define GK_PTE_TABLE (GK_PTE_P | GK_PTE_RW | GK_PTE_US)

/* The machine frame an entry points to. */
static inline uint64_t gk_pte_mfn(uint64_t pte)
{
    return (pte & GK_PTE_ADDR_MASK) >> 12;
}

/* Index of va in its table at `level` (1..4). */
static inline unsigned gk_pt_index(uint64_t va, unsigned level)
{
    return (unsigned)((va >> (12 + 9 * (level - 1))) & 511);
}

/* A hypercall with four arguments (rdi, rsi, rdx, r10). */
static inline int64_t gk_hypercall4(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    int64_t ret;
    register uint64_t r10 __asm__("r10") = a3;
    __asm__ volatile("syscall"
                     : "=a"(ret), "+r"(r10)
                     : "a"(nr), "D"(a0), "S"(a1), "d"(a2)
                     : "rcx", "r11", "memory");
    return ret;
}

/* HC_MMU_UPDATE: applies reqs[0..count) in order until one fails. *done
 * (if done != NULL) receives the number applied. Returns HV_OK or the status
 * of request *done, which changed nothing. done_so_far is 0 for callers. */
static inline int64_t gk_hc_mmu_update(const struct hv_mmu_update *reqs, uint64_t count,
                                       uint64_t *done)
{
    return gk_hypercall4(HC_MMU_UPDATE, (uint64_t)(uintptr_t)reqs, count, (uint64_t)(uintptr_t)done,
                         0);
}

/* HC_MMU_UPDATE with every argument raw (for tests of hostile callers). */
static inline int64_t gk_hc_mmu_update_raw(uint64_t reqs_va, uint64_t count, uint64_t done_va,
                                           uint64_t done_so_far)
{
    return gk_hypercall4(HC_MMU_UPDATE, reqs_va, count, done_va, done_so_far);
}

/* HC_MMUEXT_OP: pin/unpin, new base, local TLB flush, invlpg (enum hv_mmuext_cmd). */
static inline int64_t gk_hc_mmuext_op(uint64_t cmd, uint64_t arg)
{
    return gk_hypercall3(HC_MMUEXT_OP, cmd, arg, 0);
}

/* HC_UPDATE_VA_MAPPING: sets the L1 entry that maps va (in the current base)
 * to pte, then optionally HV_UVM_INVLPG or HV_UVM_FLUSH. */
static inline int64_t gk_hc_update_va_mapping(uint64_t va, uint64_t pte, uint64_t flags)
{
    return gk_hypercall3(HC_UPDATE_VA_MAPPING, va, pte, flags);
}

/* HC_MEMORY_OP: reservations and frame information (enum hv_memop_cmd). */
static inline int64_t gk_hc_memory_op(uint64_t cmd, uint64_t arg)
{
    return gk_hypercall3(HC_MEMORY_OP, cmd, arg, 0);
}

/* HV_MEMOP_FRAME_INFO of mfn: packed HV_FRAME_INFO_* (>= 0) or a status. */
static inline int64_t gk_frame_info(uint64_t mfn)
{
    return gk_hc_memory_op(HV_MEMOP_FRAME_INFO, mfn);
}

/* Sets up the module from the start-info page: finds the layout, the current
 * L4, and builds the table window. HV_OK, or a status (the window could not
 * be placed: HV_ENOTSUP; a hypercall failed: its status). A second call with
 * the same start info is HV_OK and does nothing (the runtime makes the first
 * one before main in a domain with a bus, docs/bus.md); with another,
 * HV_EEXIST. */
int gk_mm_init(const struct hv_start_info *si);

/* Virtual address of pfn 0 of the layout (the image's lowest page). */
uint64_t gk_mm_layout_base(void);

/* Base VA of the table window (2 MiB aligned); slot i at base + i * 4096. */
uint64_t gk_mm_window_va(void);

/* mfn of the table window's L1. */
uint64_t gk_mm_window_l1_mfn(void);

/* M2P entry of mfn (HV_M2P_INVALID if mfn >= si->m2p_entries). */
uint64_t gk_m2p(uint64_t mfn);

/* p2m entry of pfn (HV_M2P_INVALID if pfn >= si->pages_count). */
uint64_t gk_p2m(uint64_t pfn);

/* Sets the p2m entry of pfn (ignored if pfn >= si->pages_count). The guest's
 * own list: the hypervisor never reads it. */
void gk_p2m_set(uint64_t pfn, uint64_t mfn);

/* mfn of a page of the start-of-day layout given its VA (HV_M2P_INVALID if
 * va is not inside [base, base + first_free_pfn * 4096)). */
uint64_t gk_layout_va_to_mfn(uint64_t va);

/* Allocates an unused pfn from si->first_free_pfn on (lowest first); returns
 * its pfn, or HV_M2P_INVALID when none is left. Its mfn is gk_p2m(pfn). */
uint64_t gk_pfn_alloc(void);

/* Returns a pfn from gk_pfn_alloc. The caller unmapped it everywhere. */
void gk_pfn_free(uint64_t pfn);

/* pfns still free in the allocator. */
uint64_t gk_pfn_free_count(void);

/* mfn of the L4 this domain currently runs on (as known to this module). */
uint64_t gk_mm_base_mfn(void);

/* HV_MMUEXT_NEW_BASEPTR to l4_mfn; on HV_OK the walkers use it from now on. */
int64_t gk_mm_new_baseptr(uint64_t l4_mfn);

/* A readable pointer to table frame mfn (layout or window), or NULL. */
const uint64_t *gk_pt_table_ptr(uint64_t mfn);

/* Machine address of the entry that maps va at `level` (4 = L4 .. 1 = L1)
 * in the current base, or 0 if a table on the way is missing or unreadable
 * (0 is never the address of a guest table entry). */
uint64_t gk_pt_entry_maddr(uint64_t va, unsigned level);

/* Reads the entry at machine address maddr of a readable table; 0 if the
 * table is not readable (see gk_pt_table_ptr). */
uint64_t gk_pt_read(uint64_t maddr);

/* One HC_MMU_UPDATE request setting the entry at maddr to val. */
int64_t gk_pt_write(uint64_t maddr, uint64_t val);

/* Allocates a pfn, zeroes its frame through the scratch slot, and maps it
 * read-only in a free window slot: ready to become a table (or anything).
 * Returns its mfn, or a negative status (HV_ENOMEM: no pfn or no slot). */
int64_t gk_pt_alloc_table(void);

/* Undoes gk_pt_alloc_table: unmaps mfn from the window and frees its pfn.
 * HV_EINVAL if mfn is not in the window; the hypercall's status otherwise.
 * The frame must no longer be a table (unpinned, unreferenced). */
int64_t gk_pt_free_table(uint64_t mfn);

/* Maps machine frame mfn at page-aligned va with `flags` (GK_PTE_*; P is
 * added), creating missing L3/L2/L1 tables with gk_pt_alloc_table. Returns
 * HV_OK or the status of the failing step (tables created stay in place).
 * Does not invalidate the TLB: the old entry must have been non-present. */
int64_t gk_map_frame(uint64_t va, uint64_t mfn, uint64_t flags);

/* Clears the L1 entry of va and invalidates it on this CPU. HV_ENOENT if
 * va is not mapped (or its L1 is not reachable). Tables stay. */
int64_t gk_unmap(uint64_t va);

#endif
