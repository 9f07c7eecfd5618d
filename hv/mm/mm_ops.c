/*
 * Logic of the memory-management hypercalls (see mm_ops.h, docs/mm.md).
 *
 * Each operation decodes and checks all of its arguments first, then takes
 * the references its new state needs (which may fail, changing nothing),
 * then commits in a step that cannot fail, and only then drops the
 * references of the state it replaced.
 *
 * Flush decisions: a PTE update does not flush; the guest invalidates its
 * own stale translations (mm_invlpg, mm_flush_local, MM_UVM_*). Safety does
 * not depend on it: a frame whose type count dropped to zero is stamped,
 * and it takes another type only after a local flush newer than the stamp
 * (pt.c); a freed frame is stamped for whoever allocates it next.
 *
 * Not thread-safe: the caller holds the hypervisor lock.
 */
#include "mm_ops.h"
#include "mm_hooks.h"

static bool cont_matches(const struct mm_domain *d, enum mm_cont_op op, mfn_t top, unsigned type,
                         uint64_t ptr, uint64_t val)
{
    return d->cont.op == op && mfn_x(d->cont.top) == mfn_x(top) && d->cont.type == type &&
           d->cont.ptr == ptr && d->cont.val == val;
}

static void cont_clear(struct mm_domain *d)
{
    d->cont = (struct mm_cont){.op = MM_CONT_NONE, .top = INVALID_MFN, .dv = INVALID_MFN};
}

void mm_domain_init(struct mm_domain *d, domid_t id)
{
    *d = (struct mm_domain){.id = id, .base = INVALID_MFN};
    cont_clear(d);
}

/* Continues the pending devalidation: HV_EAGAIN while some of it remains,
 * else the record is cleared and the operation's result returned. */
static int deval_step(struct mm_domain *d)
{
    uint32_t budget = pt_validate_budget();
    if (pt_devalidate(d->cont.dv, &budget) == HV_EAGAIN)
        return HV_EAGAIN;
    int status = d->cont.status;
    cont_clear(d);
    return status;
}

/* Operation {op, top, type, ptr, val} goes on with the devalidation of dv
 * (whose last type reference it now holds) and then returns status. */
static int deval_begin(struct mm_domain *d, enum mm_cont_op op, mfn_t top, unsigned type,
                       uint64_t ptr, uint64_t val, mfn_t dv, int status)
{
    d->cont = (struct mm_cont){.op = (uint8_t)op,
                               .type = (uint8_t)type,
                               .phase = MM_PHASE_DEVAL,
                               .status = (int16_t)status,
                               .top = top,
                               .dv = dv,
                               .ptr = ptr,
                               .val = val};
    return deval_step(d);
}

/* The pending validation ends unfinished with `status`: its PARTIAL tables
 * become DEVAL and are released in steps (HV_EAGAIN until done). */
static int cont_abandon(struct mm_domain *d, int status)
{
    if (d->cont.phase == MM_PHASE_VALIDATE) {
        pt_validate_abort(d->cont.top);
        d->cont.phase = MM_PHASE_DEVAL;
        d->cont.dv = d->cont.top;
        d->cont.status = (int16_t)status;
    }
    return deval_step(d);
}

int mm_cont_abort(struct mm_domain *d)
{
    if (d->cont.op == MM_CONT_NONE)
        return HV_OK;
    if (cont_abandon(d, HV_OK) == HV_EAGAIN)
        return HV_EAGAIN;
    return HV_OK;
}

/*
 * Takes a type reference of `type` on m for operation `op`, resuming or
 * recording a continuation. HV_OK: the reference is held and validated.
 * HV_EAGAIN: a continuation is recorded (validating, or unwinding a failed
 * validation). Error: nothing is held (any unwinding is finished).
 * The caller checked that no other continuation is pending and that a
 * pending one of its own is not in its DEVAL phase.
 */
static int typed_ref_get(struct mm_domain *d, enum mm_cont_op op, mfn_t m, unsigned type,
                         uint64_t ptr, uint64_t val)
{
    if (!cont_matches(d, op, m, type, ptr, val)) {
        int rc = pt_type_get(d->id, m, (enum frame_type)type);
        if (rc != PT_STARTED)
            return rc;
        d->cont = (struct mm_cont){.op = (uint8_t)op,
                                   .type = (uint8_t)type,
                                   .phase = MM_PHASE_VALIDATE,
                                   .top = m,
                                   .dv = INVALID_MFN,
                                   .ptr = ptr,
                                   .val = val};
    }
    uint32_t budget = pt_validate_budget();
    int rc = pt_validate(m, &budget);
    if (rc == HV_OK)
        cont_clear(d);
    else if (rc != HV_EAGAIN)
        return deval_begin(d, op, m, type, ptr, val, m, rc); /* failed: unwind */
    return rc;
}

/* Whether d's pending operation is {op, ...} in its DEVAL phase. */
static bool resuming_deval(const struct mm_domain *d, bool matches)
{
    return matches && d->cont.phase == MM_PHASE_DEVAL;
}

/* A decoded PTE request: the table frame, its level and the entry index. */
struct pte_target {
    mfn_t table;
    unsigned level;
    unsigned index;
};

static int decode_pte_ptr(const struct mm_domain *d, uint64_t ptr, struct pte_target *out)
{
    if (ptr & 7)
        return HV_EINVAL;
    mfn_t m = paddr_to_mfn(ptr);
    struct frame *f = frame_get(m);
    if (f == NULL)
        return HV_ERANGE;
    if (f->owner != d->id)
        return HV_EPERM;
    if (!(f->flags & FRAME_F_VALIDATED))
        return HV_EINVAL; /* not a page table (or one being validated) */
    unsigned index = (unsigned)((ptr & (PAGE_SIZE - 1)) >> 3);
    if (f->type == FRAME_TYPE_L4 && index >= PT_HV_L4_FIRST)
        return HV_EPERM;
    *out = (struct pte_target){.table = m, .level = f->type, .index = index};
    return HV_OK;
}

/* One PTE update: decode, take the new entry's references, write, release
 * the old entry's. */
static int update_pte(struct mm_domain *d, uint64_t ptr, uint64_t val)
{
    bool resuming = d->cont.op == MM_CONT_UPDATE && d->cont.ptr == ptr && d->cont.val == val;
    if (resuming_deval(d, resuming))
        return deval_step(d); /* written; its old target being released */
    struct pte_target tg;
    int rc = decode_pte_ptr(d, ptr, &tg);

    if (rc == HV_OK && resuming && tg.level - 1 != d->cont.type)
        rc = HV_EINVAL; /* defensive: the table cannot change level while a
                         * continuation blocks pin/baseptr/update */
    if (rc != HV_OK) {
        if (resuming) /* the table changed under the preempted request */
            return cont_abandon(d, rc);
        return rc;
    }
    if (resuming) {
        rc = typed_ref_get(d, MM_CONT_UPDATE, d->cont.top, d->cont.type, ptr, val);
    } else {
        rc = pt_entry_get(d->id, tg.level, val);
        if (rc == PT_STARTED) {
            /* The new entry's target (a table) needs validating: record the
             * request so that it can be resumed if the budget runs out. */
            d->cont = (struct mm_cont){.op = MM_CONT_UPDATE,
                                       .type = (uint8_t)(tg.level - 1),
                                       .top = pt_entry_mfn(val),
                                       .ptr = ptr,
                                       .val = val};
            rc = typed_ref_get(d, MM_CONT_UPDATE, d->cont.top, d->cont.type, ptr, val);
        }
    }
    if (rc != HV_OK)
        return rc;
    uint64_t *t = mm_frame_map(tg.table);
    uint64_t old = t[tg.index];
    *(volatile uint64_t *)&t[tg.index] = val;
    mm_frame_unmap(t);
    if (pt_entry_put(d->id, tg.level, old) == PT_DEVAL_STARTED)
        return deval_begin(d, MM_CONT_UPDATE, INVALID_MFN, 0, ptr, val, pt_entry_mfn(old), HV_OK);
    return HV_OK;
}

static int update_m2p(struct mm_domain *d, uint64_t ptr, uint64_t val)
{
    if (ptr & (PAGE_SIZE - 1) & ~MM_UPDATE_CMD_MASK)
        return HV_EINVAL;
    mfn_t m = paddr_to_mfn(ptr);
    struct frame *f = frame_get(m);
    if (f == NULL)
        return HV_ERANGE;
    if (f->owner != d->id)
        return HV_EPERM;
    if (val >= MM_PFN_LIMIT && val != MM_M2P_INVALID)
        return HV_ERANGE;
    frame_m2p_set(m, val);
    return HV_OK;
}

int mm_mmu_update(struct mm_domain *d, const struct mm_update_req *reqs, uint32_t count,
                  uint32_t *done_count)
{
    uint32_t done = 0;
    int rc = HV_OK;
    uint64_t work0 = pt_work();

    for (; done < count; done++) {
        /* A batch whose requests each validate or release a table (up to
         * an L1 apiece) stops at a request boundary after a budget's worth
         * of work: the caller continues it later (HV_EAGAIN). */
        if (done > 0 && pt_work() - work0 >= pt_validate_budget()) {
            rc = HV_EAGAIN;
            break;
        }
        uint64_t ptr = reqs[done].ptr, val = reqs[done].val;
        unsigned cmd = (unsigned)(ptr & MM_UPDATE_CMD_MASK);
        if (d->cont.op != MM_CONT_NONE &&
            !(cmd == MM_UPDATE_CMD_PTE && d->cont.op == MM_CONT_UPDATE && d->cont.ptr == ptr &&
              d->cont.val == val)) {
            rc = HV_EBUSY;
            break;
        }
        if (cmd == MM_UPDATE_CMD_PTE)
            rc = update_pte(d, ptr, val);
        else if (cmd == MM_UPDATE_CMD_M2P)
            rc = update_m2p(d, ptr & ~MM_UPDATE_CMD_MASK, val);
        else
            rc = HV_EINVAL;
        if (rc != HV_OK)
            break;
    }
    *done_count = done;
    return rc;
}

/* Common checks of pin and new_baseptr: the frame exists, is the caller's,
 * and no other operation is pending. */
static int check_own_frame(const struct mm_domain *d, mfn_t m, struct frame **out)
{
    struct frame *f = frame_get(m);
    if (f == NULL)
        return HV_ERANGE;
    if (f->owner != d->id)
        return HV_EPERM;
    *out = f;
    return HV_OK;
}

int mm_pin(struct mm_domain *d, mfn_t m, unsigned level)
{
    struct frame *f;
    int rc = check_own_frame(d, m, &f);

    if (rc != HV_OK)
        return rc;
    if (level < 1 || level > 4)
        return HV_EINVAL;
    bool resuming = cont_matches(d, MM_CONT_PIN, m, level, 0, 0);
    if (resuming_deval(d, resuming))
        return deval_step(d); /* a failed validation being unwound */
    if (d->cont.op != MM_CONT_NONE && !resuming)
        return HV_EBUSY;
    if (f->flags & FRAME_F_PINNED)
        return HV_EEXIST;
    rc = typed_ref_get(d, MM_CONT_PIN, m, level, 0, 0);
    if (rc != HV_OK)
        return rc;
    f->flags |= FRAME_F_PINNED;
    return HV_OK;
}

int mm_unpin(struct mm_domain *d, mfn_t m)
{
    struct frame *f;
    int rc = check_own_frame(d, m, &f);

    if (rc != HV_OK)
        return rc;
    if (resuming_deval(d, cont_matches(d, MM_CONT_UNPIN, m, 0, 0, 0)))
        return deval_step(d);
    if (!(f->flags & FRAME_F_PINNED))
        return HV_EINVAL;
    /* An L1 (or a table referenced elsewhere) is released at once; a
     * devalidation needs the continuation record, which may be busy. */
    if (d->cont.op != MM_CONT_NONE && pt_table_put_defers(m))
        return HV_EBUSY;
    f->flags &= (uint8_t)~FRAME_F_PINNED;
    if (pt_table_put(m) == PT_DEVAL_STARTED)
        return deval_begin(d, MM_CONT_UNPIN, m, 0, 0, 0, m, HV_OK);
    return HV_OK;
}

int mm_new_baseptr(struct mm_domain *d, mfn_t m)
{
    struct frame *f;
    int rc = check_own_frame(d, m, &f);

    if (rc != HV_OK)
        return rc;
    bool resuming = cont_matches(d, MM_CONT_BASEPTR, m, FRAME_TYPE_L4, 0, 0);
    if (resuming_deval(d, resuming))
        return deval_step(d); /* the old base (or a failed new one) being released */
    if (d->cont.op != MM_CONT_NONE && !resuming)
        return HV_EBUSY;
    rc = typed_ref_get(d, MM_CONT_BASEPTR, m, FRAME_TYPE_L4, 0, 0);
    if (rc != HV_OK)
        return rc;
    mfn_t old = d->base;
    d->base = m;
    if (mm_load_base(d->id, m))
        pt_tlb_note_flush();
    if (mfn_x(old) != mfn_x(INVALID_MFN) && pt_table_put(old) == PT_DEVAL_STARTED)
        return deval_begin(d, MM_CONT_BASEPTR, m, FRAME_TYPE_L4, 0, 0, old, HV_OK);
    return HV_OK;
}

int mm_flush_local(struct mm_domain *d)
{
    (void)d;
    pt_tlb_flush_local();
    return HV_OK;
}

static bool guest_page_va(uint64_t va)
{
    return va < HV_GUEST_VA_LIMIT && (va & (PAGE_SIZE - 1)) == 0;
}

int mm_invlpg(struct mm_domain *d, uint64_t va)
{
    (void)d;
    if (!guest_page_va(va))
        return HV_EINVAL;
    mm_tlb_invlpg_local(va);
    return HV_OK;
}

int mm_update_va_mapping(struct mm_domain *d, uint64_t va, uint64_t val, unsigned flags)
{
    if (!guest_page_va(va) || flags > MM_UVM_FLUSH)
        return HV_EINVAL;
    if (mfn_x(d->base) == mfn_x(INVALID_MFN))
        return HV_ENOENT;
    /* Walk the validated tables from the base: their present entries point
     * at validated tables of the level below (rule R4). */
    mfn_t table = d->base;
    for (unsigned level = 4; level > 1; level--) {
        unsigned index = (unsigned)((va >> (PAGE_SHIFT + 9 * (level - 1))) & (PT_ENTRIES - 1));
        uint64_t *t = mm_frame_map(table);
        uint64_t e = t[index];
        mm_frame_unmap(t);
        if (!(e & HV_PTE_P))
            return HV_ENOENT;
        table = pt_entry_mfn(e);
    }
    uint64_t index = (va >> PAGE_SHIFT) & (PT_ENTRIES - 1);
    uint32_t done;
    struct mm_update_req req = {.ptr = mfn_to_paddr(table) | (index << 3), .val = val};
    int rc = mm_mmu_update(d, &req, 1, &done);
    if (rc != HV_OK)
        return rc;
    if (flags == MM_UVM_INVLPG)
        mm_tlb_invlpg_local(va);
    else if (flags == MM_UVM_FLUSH)
        pt_tlb_flush_local();
    return HV_OK;
}

/* Drops a reference the teardown took over (base or pin) on m, going on
 * with its devalidation if that starts one. HV_EAGAIN: not finished. */
static int teardown_put(struct mm_domain *d, mfn_t m)
{
    if (pt_table_put(m) == PT_DEVAL_STARTED)
        return deval_begin(d, MM_CONT_TEARDOWN, INVALID_MFN, 0, 0, 0, m, HV_OK);
    return HV_OK;
}

int mm_domain_teardown(struct mm_domain *d)
{
    /* 1. The pending operation (or a devalidation of an earlier step). */
    if (d->cont.op != MM_CONT_NONE && cont_abandon(d, HV_OK) == HV_EAGAIN)
        return HV_EAGAIN;
    /* 2. The base. */
    if (mfn_x(d->base) != mfn_x(INVALID_MFN)) {
        mfn_t old = d->base;
        d->base = INVALID_MFN;
        if (teardown_put(d, old) == HV_EAGAIN)
            return HV_EAGAIN;
    }
    /* 3. The pins, MM_TEARDOWN_SCAN frames a call (the table has no list
     * of a domain's pins). */
    uint64_t n = frame_table_count();
    for (unsigned scanned = 0; d->teardown_next < n; scanned++) {
        if (scanned == MM_TEARDOWN_SCAN)
            return HV_EAGAIN;
        mfn_t m = mfn(d->teardown_next++);
        struct frame *f = frame_get(m);
        if (f->owner != d->id || !(f->flags & FRAME_F_PINNED))
            continue;
        f->flags &= (uint8_t)~FRAME_F_PINNED;
        if (teardown_put(d, m) == HV_EAGAIN)
            return HV_EAGAIN;
    }
    return HV_OK;
}
