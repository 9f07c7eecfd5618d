/* Grants (see gk/grant.h and docs/grants.md). */
#include "gk/grant.h"

#include "gk/gk.h"
#include "gk/mm.h"

#define PAGE 4096ull

int64_t gk_grant_set(uint64_t mfn, uint32_t grantee_slot, uint32_t flags, uint32_t *ref)
{
    struct hv_grant_set_args a = {.mfn = mfn, .grantee_slot = grantee_slot, .flags = flags};
    int64_t rc = gk_hc_grant_op(HV_GRANT_SET, &a);
    if (rc == HV_OK && ref)
        *ref = a.ref;
    return rc;
}

int64_t gk_grant_end(uint32_t ref)
{
    struct hv_grant_ref_args a = {.ref = ref};
    return gk_hc_grant_op(HV_GRANT_END, &a);
}

int64_t gk_grant_status(uint32_t ref, uint32_t *flags, uint32_t *map_count, uint64_t *mfn)
{
    struct hv_grant_status_args a = {.ref = ref};
    int64_t rc = gk_hc_grant_op(HV_GRANT_STATUS, &a);
    if (rc == HV_OK) {
        if (flags)
            *flags = a.flags;
        if (map_count)
            *map_count = a.map_count;
        if (mfn)
            *mfn = a.mfn;
    }
    return rc;
}

/* A ref another domain gave us: refused here, before any hypercall, when
 * it cannot name a grant (the hypervisor would say the same). */
static bool ref_ok(uint32_t ref)
{
    return ref != HV_GRANT_REF_NONE && ref < HV_GRANT_REFS;
}

int64_t gk_grant_query(uint32_t granter_slot, uint32_t ref, uint64_t *mfn, uint32_t *flags)
{
    if (!ref_ok(ref))
        return HV_EINVAL;
    struct hv_grant_query_args a = {.granter_slot = granter_slot, .ref = ref};
    int64_t rc = gk_hc_grant_op(HV_GRANT_QUERY, &a);
    if (rc == HV_OK) {
        if (mfn)
            *mfn = a.mfn;
        if (flags)
            *flags = a.flags;
    }
    return rc;
}

int64_t gk_grant_copy(const struct hv_grant_copy_args *args)
{
    struct hv_grant_copy_args a = *args; /* the hypercall takes a non-const pointer */
    return gk_hc_grant_op(HV_GRANT_COPY, &a);
}

int64_t gk_grant_map_ref(uint32_t granter_slot, uint32_t ref, uint64_t va, bool writable)
{
    if (!ref_ok(ref))
        return HV_EINVAL;
    struct hv_grant_map_args a = {.va = va,
                                  .granter_slot = granter_slot,
                                  .ref = ref,
                                  .flags = writable ? HV_GRANT_MAP_WRITE : 0};
    return gk_hc_grant_op(HV_GRANT_MAP, &a);
}

int64_t gk_grant_unmap(uint64_t va)
{
    struct hv_grant_map_args a = {.va = va};
    return gk_hc_grant_op(HV_GRANT_UNMAP, &a);
}

uint64_t gk_va_to_mfn(uint64_t va)
{
    uint64_t maddr = gk_pt_entry_maddr(va & ~(PAGE - 1), 1);
    if (!maddr)
        return HV_M2P_INVALID;
    uint64_t pte = gk_pt_read(maddr);
    if (!(pte & GK_PTE_P))
        return HV_M2P_INVALID;
    return gk_pte_mfn(pte);
}

int64_t gk_grant_page(uint32_t dom_slot, const void *page, bool writable, uint32_t *ref)
{
    uint64_t va = (uint64_t)(uintptr_t)page;
    if (va & (PAGE - 1))
        return HV_EINVAL;
    uint64_t mfn = gk_va_to_mfn(va);
    if (mfn == HV_M2P_INVALID)
        return HV_EFAULT;
    return gk_grant_set(mfn, dom_slot, writable ? HV_GRANT_F_WRITE : 0, ref);
}

int64_t gk_grant_map(uint32_t dom_slot, uint32_t ref, uint64_t va, bool writable)
{
    if ((va & (PAGE - 1)) || va >= HV_GUEST_VA_LIMIT)
        return HV_EINVAL;
    if (gk_pt_entry_maddr(va, 1))
        return gk_grant_map_ref(dom_slot, ref, va, writable);
    /* No L1 on the path: look the frame up and map it with gk_map_frame,
     * which creates the tables; the hypervisor counts the mapping against
     * the grant exactly as for HV_GRANT_MAP (docs/grants.md). */
    uint64_t mfn = 0;
    uint32_t flags = 0;
    int64_t rc = gk_grant_query(dom_slot, ref, &mfn, &flags);
    if (rc != HV_OK)
        return rc;
    if (writable && !(flags & HV_GRANT_F_WRITE))
        return HV_EPERM;
    return gk_map_frame(va, mfn, writable ? GK_PTE_RWDATA : GK_PTE_RO);
}

/* Our own side of a copy: the frame and offset of [p, p + len) within one page. */
static int64_t own_seg(const void *p, uint32_t len, struct hv_grant_copy_seg *seg)
{
    uint64_t va = (uint64_t)(uintptr_t)p;
    uint64_t off = va & (PAGE - 1);
    if (len == 0 || len > PAGE || off + len > PAGE)
        return HV_EINVAL;
    uint64_t mfn = gk_va_to_mfn(va);
    if (mfn == HV_M2P_INVALID)
        return HV_EFAULT;
    seg->mfn = mfn;
    seg->offset = (uint16_t)off;
    return HV_OK;
}

int64_t gk_grant_copy_from(uint32_t src_slot, uint32_t src_ref, uint16_t src_offset, void *dst,
                           uint32_t len)
{
    struct hv_grant_copy_args a = {0};
    int64_t rc = own_seg(dst, len, &a.dst);
    if (rc != HV_OK)
        return rc;
    a.src.domain_slot = src_slot;
    a.src.ref = src_ref;
    a.src.offset = src_offset;
    a.src.seg_flags = HV_GRANT_SEG_REF;
    a.len = len;
    return gk_hc_grant_op(HV_GRANT_COPY, &a);
}

int64_t gk_grant_copy_to(uint32_t dst_slot, uint32_t dst_ref, uint16_t dst_offset, const void *src,
                         uint32_t len)
{
    struct hv_grant_copy_args a = {0};
    int64_t rc = own_seg(src, len, &a.src);
    if (rc != HV_OK)
        return rc;
    a.dst.domain_slot = dst_slot;
    a.dst.ref = dst_ref;
    a.dst.offset = dst_offset;
    a.dst.seg_flags = HV_GRANT_SEG_REF;
    a.len = len;
    return gk_hc_grant_op(HV_GRANT_COPY, &a);
}
