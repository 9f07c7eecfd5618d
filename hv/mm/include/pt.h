/*
 * Page-table entries, type references and page-table validation.
 *
 * A guest's page tables are made of its own frames. A frame becomes an Ln
 * table when the first Ln type reference is taken on it: that validates
 * every entry (taking the references the entry implies); the last Ln type
 * reference dropping devalidates it (releasing them). The rules each entry
 * must satisfy are listed in hv/mm/pt.c and docs/mm.md.
 *
 * Not thread-safe: the caller holds the hypervisor lock. Same source for
 * the hypervisor and the host unit tests.
 */
#ifndef HV_PT_H
#define HV_PT_H

#include <hv/pte.h>

#include "frame.h"

#define PT_ENTRIES 512u
/* The hypervisor owns L4 slots [PT_HV_L4_FIRST, 512). */
#define PT_HV_L4_FIRST 256u
#define PT_HV_L4_COUNT (PT_ENTRIES - PT_HV_L4_FIRST)

/* Default work budget: entries examined per validation call. */
#define PT_VALIDATE_BUDGET_DEFAULT 1024u

/*
 * Memory-manager configuration, given once at boot by the hypervisor (and by
 * every host test). maxphyaddr_bits comes from cpuid (36..52); entries with
 * address bits at or above it are refused. hv_l4_template points to the
 * 256 entries the hypervisor places in slots 256..511 of every validated L4;
 * it must stay valid and unchanged while any L4 is validated.
 * validate_budget_entries (>= 8) bounds the entries one validation call
 * examines, and so the latency of pin and new_baseptr.
 */
struct pt_config {
    unsigned maxphyaddr_bits;
    const uint64_t *hv_l4_template;
    uint32_t validate_budget_entries;
};

/*
 * Installs the configuration. Returns false (nothing changed) if
 * maxphyaddr_bits is outside 32..52, the template is NULL or the budget < 8.
 */
bool pt_init(const struct pt_config *cfg);

/* The configured work budget for one validation call. */
uint32_t pt_validate_budget(void);
/* Entries examined (validation) or released (devalidation) since boot: a
 * caller doing several operations in one call (a batch) bounds its work by
 * the difference. */
uint64_t pt_work(void);

/*
 * Checks the bits of entry e for a table at `level` (1..4) owned by `dom`
 * and takes the references it implies: a general reference on its target,
 * plus a WRITABLE type reference (L1 entry with RW) or an L(level-1) type
 * reference (L2..L4 entry). Non-present entries take nothing.
 * Returns HV_OK (references taken), PT_STARTED (the target, a page table not
 * yet validated, now holds a PARTIAL validation reference on behalf of this
 * entry: the caller must drive pt_validate on it), or an error with nothing
 * changed: HV_EINVAL (forbidden bits), HV_ERANGE (frame outside the table),
 * HV_EPERM (target not mappable by dom), HV_EBUSY (target in use as
 * another type or being validated), HV_ENOMEM (a count would overflow).
 */
#define PT_STARTED 1
int pt_entry_get(domid_t dom, unsigned level, uint64_t e);

/*
 * Releases what pt_entry_get took for e (an entry of a level-`level` table
 * owned by dom). HV_OK: done (an L1 target losing its last type reference
 * is devalidated at once: at most 512 entries). PT_DEVAL_STARTED: e's
 * target, an L2..L4 table whose last type reference this was, is now DEVAL
 * and the caller holds that reference: it must drive pt_devalidate on
 * pt_entry_mfn(e) until HV_OK.
 */
#define PT_DEVAL_STARTED 2
int pt_entry_put(domid_t dom, unsigned level, uint64_t e);

/*
 * Takes a general reference and a type reference of `type` (L1..L4 or
 * WRITABLE) on frame m owned by dom. Same results as pt_entry_get: HV_OK,
 * PT_STARTED (the caller now holds the PARTIAL validation reference and must
 * drive pt_validate until it is no longer HV_EAGAIN), or an error with
 * nothing changed. When a frame takes a new type while its TLB stamp may be
 * newer than the last local flush, the local TLB is flushed first.
 */
int pt_type_get(domid_t dom, mfn_t m, enum frame_type type);

/*
 * Drops one type reference and its general reference on m. The last type
 * reference of a page table devalidates it (releases every reference its
 * entries hold, clears the hypervisor's L4 slots) and stamps it.
 * pt_type_put does so only where that is bounded work: for a WRITABLE frame
 * or an L1 (at most 512 entries); dropping the last reference of an L2..L4
 * with it is a bug (BUG_ON). pt_table_put takes any type: for an L2..L4
 * it returns PT_DEVAL_STARTED, leaving m DEVAL with the caller holding the
 * reference, to be finished with pt_devalidate (which drops it).
 */
void pt_type_put(mfn_t m);
int pt_table_put(mfn_t m);
/* Whether pt_table_put(m) would return PT_DEVAL_STARTED (its last type
 * reference on a validated L2..L4). */
bool pt_table_put_defers(mfn_t m);

/*
 * Continues the devalidation of DEVAL frame m (whose last type reference the
 * caller holds), releasing at most *budget entries (decremented) across m
 * and the tables below it that lose their last reference meanwhile (each
 * becomes DEVAL in turn, depth first). HV_EAGAIN: the budget ran out, the
 * progress is saved in the frames. HV_OK: every entry is released, m has no
 * type any more, and the caller's reference is gone.
 */
int pt_devalidate(mfn_t m, uint32_t *budget);

/*
 * Continues validating PARTIAL frame m, examining at most *budget entries
 * (decremented). HV_OK: m is VALIDATED and the caller's validation reference
 * is now an ordinary type reference. HV_EAGAIN: the budget ran out, the
 * progress is saved in the frames; call again later. Error: m (and every
 * PARTIAL table below it on the failing path) is now DEVAL, still holding
 * what its entries took and the caller's validation reference: the caller
 * unwinds it with pt_devalidate (bounded steps), after which every count is
 * back to where it was before the validation began.
 */
int pt_validate(mfn_t m, uint32_t *budget);

/*
 * Abandons the PARTIAL validation of m (a continuation nobody will finish):
 * m and the PARTIAL tables below it become DEVAL in O(depth), as if the
 * validation had failed; the caller unwinds with pt_devalidate.
 */
void pt_validate_abort(mfn_t m);

/*
 * Local TLB bookkeeping: pt_tlb_flush_local flushes this CPU's TLB through
 * the hook and records the flush clock; pt_tlb_note_flush records a flush
 * that happened otherwise (a CR3 load). A frame taking a different type
 * than it last had, while its stamp is not older than the last recorded
 * flush, causes a flush first: mm_tlb_flush_stale, which in the hypervisor
 * keeps a flush time per CPU and shoots down only the stale ones; this
 * one-CPU view is what the host tests' fake uses.
 */
void pt_tlb_flush_local(void);
/* Whether this CPU (the one-CPU view of pt_tlb_note_flush) may still hold a
 * translation of a frame stamped `stamp`. */
bool pt_tlb_may_be_stale(uint32_t stamp);
void pt_tlb_note_flush(void);

/* The mfn an entry points to (address bits 12..51). */
static inline mfn_t pt_entry_mfn(uint64_t e)
{
    return mfn((e & HV_PTE_ADDR_MASK) >> PAGE_SHIFT);
}

#endif /* HV_PT_H */
