/*
 * Type references and page-table validation (see pt.h, docs/mm.md).
 *
 * Rules for a present entry of a guest table at level n (1..4); a
 * non-present entry (P = 0) is accepted whatever its other bits, and takes
 * no reference:
 *   R1  allowed bits only: P RW US PWT PCD A D, bits 9..11, address bits
 *       below MAXPHYADDR, bits 52..62, NX. So PS (superpages at L2/L3, PAT at
 *       L1, reserved at L4), G (at every level), and address bits at or
 *       above MAXPHYADDR are refused with HV_EINVAL.
 *   R2  US must be set: every guest mapping is a user mapping, so the
 *       hypervisor never runs with a guest-controlled supervisor page
 *       (SMEP/SMAP would not protect it). HV_EINVAL.
 *   R3  the target frame exists (HV_ERANGE) and is never free or owned by
 *       the hypervisor (HV_EPERM). Page-table targets (n >= 2) are owned by
 *       the table's owner; an L1 target not owned by it needs
 *       mm_may_map_foreign (HV_EPERM otherwise).
 *   R3a an L1 target outside the frame table (device memory above RAM) is
 *       accepted only if mm_may_map_foreign(dom, m, false) says yes (else
 *       HV_ERANGE, as for any frame that does not exist) and, for an entry
 *       with RW, also mm_may_map_foreign(dom, m, true) (else HV_EPERM). Such
 *       an entry takes no reference and pt_entry_put of it does nothing:
 *       the frame has no struct frame, so it can never be typed, and it can
 *       never be a page table (targets of levels >= 2 keep HV_ERANGE).
 *   R4  an L1 entry with RW takes a WRITABLE type reference on its target;
 *       without RW a general reference only; an Ln entry (n >= 2) takes an
 *       L(n-1) type reference. A type reference of another type than the
 *       target's current one is refused with HV_EBUSY: this is what keeps
 *       page tables from ever being writable, and what refuses linear
 *       (recursive) page tables, whose entries would need a table to be
 *       of two levels, or an L1 mapped writable.
 *   R5  an L4's slots 256..511 belong to the hypervisor: validation ignores
 *       the guest's contents there and writes the template into them;
 *       devalidation zeroes them again.
 * Validation is resumable (FRAME_F_PARTIAL, partial_index): pt_validate
 * examines at most a budget of entries and returns HV_EAGAIN to be called
 * again. So is devalidation (FRAME_F_DEVAL): the last type reference of an
 * L2..L4 table is not dropped at once; the table keeps it and releases its
 * entries from the top down in budgeted pt_devalidate steps, tables below
 * it that lose their last reference meanwhile following depth first (their
 * parent's CHILD_PARTIAL marks the one in progress). A failed or abandoned
 * validation turns its PARTIAL tables into DEVAL ones and unwinds the same
 * way. Only an L1 is devalidated at once by pt_type_put / pt_entry_put: at
 * most 512 entries, each O(1).
 *
 * Not thread-safe: the caller holds the hypervisor lock. Recursion depth
 * is bounded by the four paging levels.
 */
#include "pt.h"
#include "log.h"
#include "mm_hooks.h"

static struct {
    uint64_t allowed_mask; /* bits a present guest entry may have */
    const uint64_t *hv_l4_template;
    uint32_t budget;
    uint32_t last_local_flush;
    bool flushed_once;
    uint64_t work; /* entries examined or released, ever (pt_work) */
} pt;

uint64_t pt_work(void)
{
    return pt.work;
}

bool pt_init(const struct pt_config *cfg)
{
    if (cfg == NULL || cfg->maxphyaddr_bits < 32 || cfg->maxphyaddr_bits > 52 ||
        cfg->hv_l4_template == NULL || cfg->validate_budget_entries < 8)
        return false;
    uint64_t addr = ((1ull << cfg->maxphyaddr_bits) - 1) & HV_PTE_ADDR_MASK;
    pt.allowed_mask = HV_PTE_P | HV_PTE_RW | HV_PTE_US | HV_PTE_PWT | HV_PTE_PCD | HV_PTE_A |
                      HV_PTE_D | HV_PTE_AVAIL_LOW | addr | HV_PTE_AVAIL_HIGH | HV_PTE_NX;
    pt.hv_l4_template = cfg->hv_l4_template;
    pt.budget = cfg->validate_budget_entries;
    pt.last_local_flush = 0;
    pt.flushed_once = false;
    return true;
}

uint32_t pt_validate_budget(void)
{
    return pt.budget;
}

void pt_tlb_note_flush(void)
{
    pt.last_local_flush = mm_flush_clock_now();
    pt.flushed_once = true;
}

void pt_tlb_flush_local(void)
{
    mm_tlb_flush_local();
    pt_tlb_note_flush();
}

/* May this CPU's TLB still hold a translation of a frame stamped `stamp`?
 * Serial-number comparison, so a wrapped clock errs towards flushing. (The
 * one-CPU view; the hypervisor's mm_tlb_flush_stale keeps one per CPU.) */
bool pt_tlb_may_be_stale(uint32_t stamp)
{
    return !pt.flushed_once || (int32_t)(stamp - pt.last_local_flush) >= 0;
}

static bool type_is_table(unsigned type)
{
    return type >= FRAME_TYPE_L1 && type <= FRAME_TYPE_L4;
}

static unsigned table_limit(unsigned level)
{
    return level == FRAME_TYPE_L4 ? PT_HV_L4_FIRST : PT_ENTRIES;
}

/* Takes a general + type reference of `type` on f (see pt_type_get). */
static int type_get_frame(struct frame *f, enum frame_type type)
{
    if (f->type_count == 0) {
        if (f->ref_count == UINT32_MAX)
            return HV_ENOMEM;
        /* A stale TLB entry from the frame's previous use (say, a writable
         * mapping) must not survive into its new one (say, an L1). */
        if (f->last_type != type)
            mm_tlb_flush_stale(f->tlbflush_timestamp);
        /* A page table is never a device's to write: out of reach before
         * its validation reads it. */
        if (type_is_table(type))
            mm_dma_frame(f->owner, frame_mfn(f), false, false);
        f->ref_count++;
        f->type = (uint8_t)type;
        f->type_count = 1;
        if (type_is_table(type)) {
            f->flags |= FRAME_F_PARTIAL;
            f->partial_index = 0;
            return PT_STARTED;
        }
        return HV_OK;
    }
    if (f->type != type || (f->flags & (FRAME_F_PARTIAL | FRAME_F_DEVAL)))
        return HV_EBUSY;
    if (f->ref_count == UINT32_MAX || f->type_count == UINT32_MAX)
        return HV_ENOMEM;
    f->ref_count++;
    f->type_count++;
    return HV_OK;
}

int pt_type_get(domid_t dom, mfn_t m, enum frame_type type)
{
    struct frame *f = frame_get(m);

    if (f == NULL)
        return HV_ERANGE;
    if (f->owner != dom || dom == DOMID_INVALID || dom == DOMID_HV)
        return HV_EPERM;
    if (type == FRAME_TYPE_NONE || type >= FRAME_TYPE_COUNT)
        return HV_EINVAL;
    return type_get_frame(f, type);
}

int pt_entry_get(domid_t dom, unsigned level, uint64_t e)
{
    if (!(e & HV_PTE_P))
        return HV_OK;
    if ((e & ~pt.allowed_mask) != 0 || !(e & HV_PTE_US))
        return HV_EINVAL;
    mfn_t m = pt_entry_mfn(e);
    struct frame *f = frame_get(m);
    if (f == NULL) {
        /* R3a: an I/O frame, mapped by policy alone, counted nowhere. */
        if (level != 1 || !mm_may_map_foreign(dom, m, false))
            return HV_ERANGE;
        if ((e & HV_PTE_RW) && !mm_may_map_foreign(dom, m, true))
            return HV_EPERM;
        return HV_OK;
    }
    if (f->owner == DOMID_INVALID || f->owner == DOMID_HV)
        return HV_EPERM;
    if (level == 1) {
        bool writable = (e & HV_PTE_RW) != 0;
        bool foreign = f->owner != dom;
        if (foreign && !mm_may_map_foreign(dom, m, writable))
            return HV_EPERM;
        int rc = writable ? type_get_frame(f, FRAME_TYPE_WRITABLE)
                          : (frame_ref_get(f) ? HV_OK : HV_ENOMEM);
        if (rc == HV_OK && foreign && !mm_foreign_map_get(dom, m, writable)) {
            if (writable)
                pt_type_put(m);
            else
                frame_ref_put(f);
            rc = HV_ENOMEM;
        }
        return rc;
    }
    if (f->owner != dom)
        return HV_EPERM;
    return type_get_frame(f, (enum frame_type)(level - 1));
}

/* A table whose last type reference is being dropped becomes DEVAL,
 * keeping that reference: its entries [0, limit) still hold theirs. */
static void deval_start(struct frame *f, mfn_t m)
{
    unsigned level = f->type;
    f->flags = (uint8_t)((f->flags & ~(FRAME_F_VALIDATED | FRAME_F_PINNED)) | FRAME_F_DEVAL);
    f->partial_index = (uint16_t)table_limit(level);
    if (level == FRAME_TYPE_L4) {
        uint64_t *t = mm_frame_map(m);
        for (unsigned j = PT_HV_L4_FIRST; j < PT_ENTRIES; j++)
            t[j] = 0;
        mm_frame_unmap(t);
    }
}

/* Releases the references of entries [0, count) of L1 table t. */
static void release_l1_entries(domid_t dom, const uint64_t *t, unsigned count)
{
    pt.work += count;
    for (unsigned j = 0; j < count; j++)
        (void)pt_entry_put(dom, FRAME_TYPE_L1, t[j]);
}

/*
 * Drops one type reference on f (frame m). Its last one on a validated
 * table defers the devalidation (DEVAL, PT_DEVAL_STARTED) for an L2..L4, or
 * for an L1 too when defer_l1; otherwise an L1 is devalidated at once.
 */
static int type_put_frame(struct frame *f, mfn_t m, bool defer_l1)
{
    BUG_ON(f->type_count == 0 || (f->flags & (FRAME_F_PARTIAL | FRAME_F_DEVAL)));
    if (f->type_count == 1 && (f->flags & FRAME_F_VALIDATED) &&
        (f->type != FRAME_TYPE_L1 || defer_l1)) {
        deval_start(f, m);
        return PT_DEVAL_STARTED;
    }
    f->type_count--;
    if (f->type_count == 0) {
        if (f->flags & FRAME_F_VALIDATED) { /* an L1: 512 entries at most */
            f->flags &= (uint8_t)~FRAME_F_VALIDATED;
            uint64_t *t = mm_frame_map(m);
            release_l1_entries(f->owner, t, PT_ENTRIES);
            mm_frame_unmap(t);
        }
        f->flags &= (uint8_t)~FRAME_F_PINNED;
        f->last_type = f->type;
        f->type = FRAME_TYPE_NONE;
        frame_stamp(f);
        if (type_is_table(f->last_type))
            mm_dma_frame(f->owner, m, true, true);
    }
    frame_ref_put(f);
    return HV_OK;
}

/* pt_entry_put, deferring the devalidation of a table of any level. */
static int entry_put(domid_t dom, unsigned level, uint64_t e, bool defer_l1)
{
    if (!(e & HV_PTE_P))
        return HV_OK;
    mfn_t m = pt_entry_mfn(e);
    struct frame *f = frame_get(m);
    if (f == NULL) {
        BUG_ON(level != 1);
        return HV_OK; /* R3a: an I/O frame holds no reference */
    }
    if (level == 1 && f->owner != dom)
        mm_foreign_map_put(dom, m, (e & HV_PTE_RW) != 0);
    if (level == 1 && !(e & HV_PTE_RW)) {
        frame_ref_put(f);
        return HV_OK;
    }
    return type_put_frame(f, m, defer_l1);
}

int pt_entry_put(domid_t dom, unsigned level, uint64_t e)
{
    return entry_put(dom, level, e, false);
}

/* The last (validation or devalidation) type reference of a table that is
 * neither validated nor partial any more: no entry holds anything. */
static void untype_partial(struct frame *f)
{
    BUG_ON(f->type_count != 1);
    f->type_count = 0;
    f->last_type = f->type;
    f->type = FRAME_TYPE_NONE;
    f->flags &=
        (uint8_t) ~(FRAME_F_PARTIAL | FRAME_F_DEVAL | FRAME_F_CHILD_PARTIAL | FRAME_F_PINNED);
    f->partial_index = 0;
    frame_stamp(f);
    mm_dma_frame(f->owner, frame_mfn(f), true, true);
    frame_ref_put(f);
}

void pt_type_put(mfn_t m)
{
    struct frame *f = frame_get(m);

    BUG_ON(f == NULL);
    int rc = type_put_frame(f, m, false);
    BUG_ON(rc != HV_OK); /* the last reference of an L2..L4 needs pt_table_put */
}

int pt_table_put(mfn_t m)
{
    struct frame *f = frame_get(m);

    BUG_ON(f == NULL);
    return type_put_frame(f, m, false);
}

bool pt_table_put_defers(mfn_t m)
{
    const struct frame *f = frame_get(m);
    return f != NULL && f->type_count == 1 && (f->flags & FRAME_F_VALIDATED) &&
           f->type >= FRAME_TYPE_L2 && f->type <= FRAME_TYPE_L4;
}

int pt_devalidate(mfn_t m, uint32_t *budget)
{
    struct frame *f = frame_get(m);

    BUG_ON(f == NULL || !(f->flags & FRAME_F_DEVAL) || !type_is_table(f->type));
    unsigned level = f->type;
    uint64_t *t = mm_frame_map(m);
    int rc = HV_OK;

    while (f->partial_index > 0) {
        unsigned i = f->partial_index - 1u;
        if (f->flags & FRAME_F_CHILD_PARTIAL) {
            /* The child drops its last reference (entry i's) when done. */
            rc = pt_devalidate(pt_entry_mfn(t[i]), budget);
            if (rc == HV_EAGAIN)
                goto out;
            f->flags &= (uint8_t)~FRAME_F_CHILD_PARTIAL;
            f->partial_index--;
            continue;
        }
        if (*budget == 0) {
            rc = HV_EAGAIN;
            goto out;
        }
        (*budget)--;
        pt.work++;
        if (entry_put(f->owner, level, t[i], true) == PT_DEVAL_STARTED) {
            f->flags |= FRAME_F_CHILD_PARTIAL;
            continue;
        }
        f->partial_index--;
    }
    untype_partial(f);
    rc = HV_OK;
out:
    mm_frame_unmap(t);
    return rc;
}

/* A PARTIAL table whose validation ends unfinished (failed or abandoned)
 * becomes DEVAL: entries [0, partial_index) keep what they took, and a
 * PARTIAL child's validation reference (held by entry partial_index)
 * counts as that entry's, the child becoming DEVAL first. */
static void partial_to_deval(struct frame *f, uint64_t *t)
{
    if (f->flags & FRAME_F_CHILD_PARTIAL) {
        struct frame *c = frame_get(pt_entry_mfn(t[f->partial_index]));
        if (c->flags & FRAME_F_PARTIAL)
            pt_validate_abort(pt_entry_mfn(t[f->partial_index]));
        f->partial_index++;
    }
    f->flags = (uint8_t)((f->flags & ~FRAME_F_PARTIAL) | FRAME_F_DEVAL);
}

int pt_validate(mfn_t m, uint32_t *budget)
{
    struct frame *f = frame_get(m);

    BUG_ON(f == NULL || !(f->flags & FRAME_F_PARTIAL) || !type_is_table(f->type));
    unsigned level = f->type;
    unsigned limit = table_limit(level);
    uint64_t *t = mm_frame_map(m);
    int rc = HV_OK;

    while (f->partial_index < limit) {
        unsigned i = f->partial_index;
        if (f->flags & FRAME_F_CHILD_PARTIAL) {
            rc = pt_validate(pt_entry_mfn(t[i]), budget);
            if (rc == HV_EAGAIN)
                goto out;
            if (rc != HV_OK)
                goto fail; /* the child is DEVAL, entry i still holds it */
            f->flags &= (uint8_t)~FRAME_F_CHILD_PARTIAL;
            f->partial_index++;
            continue;
        }
        if (*budget == 0) {
            rc = HV_EAGAIN;
            goto out;
        }
        (*budget)--;
        pt.work++;
        rc = pt_entry_get(f->owner, level, t[i]);
        if (rc == PT_STARTED) {
            f->flags |= FRAME_F_CHILD_PARTIAL;
            continue;
        }
        if (rc != HV_OK)
            goto fail;
        f->partial_index++;
    }
    if (level == FRAME_TYPE_L4)
        for (unsigned j = 0; j < PT_HV_L4_COUNT; j++)
            t[PT_HV_L4_FIRST + j] = pt.hv_l4_template[j];
    f->flags = (uint8_t)((f->flags & ~FRAME_F_PARTIAL) | FRAME_F_VALIDATED);
    f->partial_index = 0;
    rc = HV_OK;
    goto out;
fail:
    partial_to_deval(f, t); /* unwound by the caller, in budgeted steps */
out:
    mm_frame_unmap(t);
    return rc;
}

void pt_validate_abort(mfn_t m)
{
    struct frame *f = frame_get(m);

    BUG_ON(f == NULL || !(f->flags & FRAME_F_PARTIAL));
    uint64_t *t = mm_frame_map(m);
    partial_to_deval(f, t);
    mm_frame_unmap(t);
}
