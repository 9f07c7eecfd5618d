/*
 * The grantee's operations on granted frames: copy to or from them
 * (HV_GRANT_COPY) and map/unmap them by reference (HV_GRANT_MAP/UNMAP).
 * See grant.h and docs/grants.md.
 *
 * Copy checks both sides completely before touching a byte, and copies
 * within one call under the hypervisor lock, so neither frame can
 * change owner or type during the copy. A copy never writes a page table:
 * an own destination frame must be untyped or WRITABLE, and a granted frame
 * is WRITABLE for as long as it is granted (G1).
 *
 * Map and unmap go through mm_update_va_mapping, the validated path: the
 * mapping is counted on the grant by the memory manager's hooks
 * (grant_map_get/put), exactly like one the guest writes itself.
 *
 * Locking: as grant.c.
 */
#include "grant_internal.h"
#include "frame.h"
#include "log.h"
#include "mm_hooks.h"
#include "mm_ops.h"

/* One side of a copy, decoded: the frame and the byte offset in it. */
struct copy_side {
    mfn_t m;
    uint32_t offset;
};

/* Decodes and checks one side of a copy for the domain of gt (`dst`: it is
 * written). Changes nothing. */
static enum hv_status copy_side_check(struct grant_table *gt, struct cap_table *caps,
                                      const struct hv_grant_copy_seg *s, bool dst,
                                      struct copy_side *out)
{
    if (s->reserved != 0 || (s->seg_flags & ~HV_GRANT_SEG_REF) != 0)
        return HV_EINVAL;
    if (s->seg_flags & HV_GRANT_SEG_REF) {
        struct grant_table *granter;
        struct grant_entry *e;
        if (s->mfn != 0)
            return HV_EINVAL;
        enum hv_status rc = grant_resolve_domain(caps, s->domain_slot, gt, &granter);
        if (rc != HV_OK)
            return rc;
        rc = grant_entry_for(granter, s->ref, gt, dst, &e);
        if (rc != HV_OK)
            return rc;
        out->m = mfn(e->mfn);
    } else {
        if (s->domain_slot != 0 || s->ref != 0)
            return HV_EINVAL;
        struct frame *f = frame_get(mfn(s->mfn));
        if (f == NULL)
            return HV_ERANGE;
        if (f->owner != gt->id)
            return HV_EPERM;
        /* Writing a page table (or one being validated) would bypass
         * validation: only plain or writable memory is a destination. */
        if (dst && f->type != FRAME_TYPE_NONE && f->type != FRAME_TYPE_WRITABLE)
            return HV_EBUSY;
        out->m = mfn(s->mfn);
    }
    out->offset = s->offset;
    return HV_OK;
}

enum hv_status grant_copy(struct grant_table *gt, struct cap_table *caps,
                          const struct hv_grant_copy_args *a)
{
    if (a->reserved != 0 || a->len == 0 || a->len > PAGE_SIZE)
        return HV_EINVAL;
    if ((uint64_t)a->src.offset + a->len > PAGE_SIZE ||
        (uint64_t)a->dst.offset + a->len > PAGE_SIZE)
        return HV_ERANGE;
    struct copy_side src, dst;
    enum hv_status rc = copy_side_check(gt, caps, &a->src, false, &src);
    if (rc != HV_OK)
        return rc;
    rc = copy_side_check(gt, caps, &a->dst, true, &dst);
    if (rc != HV_OK)
        return rc;
    uint8_t *from = (uint8_t *)mm_frame_map(src.m);
    uint8_t *to = (uint8_t *)mm_frame_map(dst.m);
    /* memmove: both sides may be the same frame. */
    __builtin_memmove(to + dst.offset, from + src.offset, a->len);
    mm_frame_unmap((uint64_t *)to);
    mm_frame_unmap((uint64_t *)from);
    return HV_OK;
}

static bool guest_page_va(uint64_t va)
{
    return va < HV_GUEST_VA_LIMIT && (va & (PAGE_SIZE - 1)) == 0;
}

enum hv_status grant_map(struct grant_table *gt, struct mm_domain *d, struct cap_table *caps,
                         const struct hv_grant_map_args *a)
{
    struct grant_table *granter;
    struct grant_entry *e;
    BUG_ON(d->id != gt->id);
    if (a->reserved != 0 || (a->flags & ~HV_GRANT_MAP_WRITE) != 0 || !guest_page_va(a->va))
        return HV_EINVAL;
    bool write = (a->flags & HV_GRANT_MAP_WRITE) != 0;
    enum hv_status rc = grant_resolve_domain(caps, a->granter_slot, gt, &granter);
    if (rc != HV_OK)
        return rc;
    rc = grant_entry_for(granter, a->ref, gt, write, &e);
    if (rc != HV_OK)
        return rc;
    /* A user, non-executable data mapping; the validated path takes every
     * reference (and counts it on the grant) or changes nothing. */
    uint64_t pte =
        mfn_to_paddr(mfn(e->mfn)) | HV_PTE_P | HV_PTE_US | HV_PTE_NX | (write ? HV_PTE_RW : 0);
    return (enum hv_status)mm_update_va_mapping(d, a->va, pte, MM_UVM_INVLPG);
}

/* The L1 entry that maps va in d's current tables (HV_ENOENT: no base or no
 * L1 on the path). Mirrors the walk of mm_update_va_mapping. */
static enum hv_status l1_entry_of(const struct mm_domain *d, uint64_t va, uint64_t *out)
{
    if (mfn_x(d->base) == mfn_x(INVALID_MFN))
        return HV_ENOENT;
    mfn_t table = d->base;
    for (unsigned level = 4; level >= 1; level--) {
        unsigned index = (unsigned)((va >> (PAGE_SHIFT + 9 * (level - 1))) & (PT_ENTRIES - 1));
        uint64_t *t = mm_frame_map(table);
        uint64_t e = t[index];
        mm_frame_unmap(t);
        if (level == 1) {
            *out = e;
            return HV_OK;
        }
        if (!(e & HV_PTE_P))
            return HV_ENOENT;
        table = pt_entry_mfn(e);
    }
    return HV_ENOENT; /* not reached */
}

enum hv_status grant_unmap(struct grant_table *gt, struct mm_domain *d,
                           const struct hv_grant_map_args *a)
{
    BUG_ON(d->id != gt->id);
    if (a->reserved != 0 || a->flags != 0 || a->granter_slot != 0 || a->ref != 0 ||
        !guest_page_va(a->va))
        return HV_EINVAL;
    uint64_t e;
    enum hv_status rc = l1_entry_of(d, a->va, &e);
    if (rc != HV_OK)
        return rc;
    /* Only a present entry mapping a frame granted to this domain. */
    struct frame *f = (e & HV_PTE_P) ? frame_get(pt_entry_mfn(e)) : NULL;
    if (f == NULL || f->owner == gt->id || f->owner == DOMID_INVALID || f->owner == DOMID_HV)
        return HV_EINVAL;
    struct grant_table *granter = grant_hook_table_of_domid(f->owner);
    struct grant_entry *g = granter ? grant_find(granter, pt_entry_mfn(e), gt->uid) : NULL;
    if (g == NULL || g->map_count == 0)
        return HV_EINVAL;
    return (enum hv_status)mm_update_va_mapping(d, a->va, 0, MM_UVM_INVLPG);
}
