/*
 * Grants: letting one other domain map or copy a frame of ours, and using
 * the grants others made to us (hv/grant.h, docs/grants.md).
 *
 * Domains are named by slots of this domain's capability table: a domain
 * capability with HV_CAP_R_DOM_GRANT. The raw wrappers return the
 * hypercall's status; the page helpers use gk/mm.h and so need gk_mm_init
 * first. One VCPU, not thread-safe.
 *
 * A ref given to us by another domain is range-checked before any
 * hypercall: gk_grant_query, gk_grant_map_ref and gk_grant_map return
 * HV_EINVAL for ref 0 (HV_GRANT_REF_NONE) or ref >= HV_GRANT_REFS.
 */
#ifndef GK_GRANT_H
#define GK_GRANT_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/grant.h"

/* ---- Raw wrappers (one per HV_GRANT_* command) --------------------------- */

/* HV_GRANT_SET: grant frame mfn (ours) to the domain in grantee_slot;
 * flags HV_GRANT_F_WRITE or 0. *ref receives the reference on HV_OK. */
int64_t gk_grant_set(uint64_t mfn, uint32_t grantee_slot, uint32_t flags, uint32_t *ref);

/* HV_GRANT_END: end grant ref (HV_EBUSY while the grantee maps it). */
int64_t gk_grant_end(uint32_t ref);

/* HV_GRANT_STATUS: *flags (HV_GRANT_F_WRITE | HV_GRANT_F_IN_USE),
 * *map_count and *mfn of grant ref. Any output pointer may be NULL. */
int64_t gk_grant_status(uint32_t ref, uint32_t *flags, uint32_t *map_count, uint64_t *mfn);

/* HV_GRANT_QUERY: the frame and flags of grant ref of the domain in
 * granter_slot (made to us). Output pointers may be NULL. */
int64_t gk_grant_query(uint32_t granter_slot, uint32_t ref, uint64_t *mfn, uint32_t *flags);

/* HV_GRANT_COPY with a filled-in argument struct (see hv/grant.h). */
int64_t gk_grant_copy(const struct hv_grant_copy_args *args);

/* HV_GRANT_MAP at page-aligned va (an L1 must exist on the path). */
int64_t gk_grant_map_ref(uint32_t granter_slot, uint32_t ref, uint64_t va, bool writable);

/* ---- Helpers --------------------------------------------------------------- */

/* The mfn the current page tables map page-aligned va to, or HV_M2P_INVALID
 * (not mapped, or its tables not readable: see gk/mm.h). */
uint64_t gk_va_to_mfn(uint64_t va);

/* Grants the page of ours at page-aligned `page` to the domain in dom_slot.
 * HV_EINVAL if page is not page-aligned, HV_EFAULT if not mapped, else the
 * status of HV_GRANT_SET (HV_EPERM if the frame is not ours). */
int64_t gk_grant_page(uint32_t dom_slot, const void *page, bool writable, uint32_t *ref);

/* Maps grant ref of the domain in dom_slot at page-aligned va, creating the
 * page tables on the path if needed (then through HV_GRANT_QUERY and a
 * validated update with gk_map_frame: va must be unmapped). */
int64_t gk_grant_map(uint32_t dom_slot, uint32_t ref, uint64_t va, bool writable);

/* HV_GRANT_UNMAP: removes the grant mapping at va. */
int64_t gk_grant_unmap(uint64_t va);

/* HV_GRANT_COPY of len bytes from grant (src_slot, src_ref) at src_offset
 * into our page at dst (dst + len must stay within its page). */
int64_t gk_grant_copy_from(uint32_t src_slot, uint32_t src_ref, uint16_t src_offset, void *dst,
                           uint32_t len);

/* HV_GRANT_COPY of len bytes from our memory at src into grant
 * (dst_slot, dst_ref) at dst_offset (the grant must be writable). */
int64_t gk_grant_copy_to(uint32_t dst_slot, uint32_t dst_ref, uint16_t dst_offset, const void *src,
                         uint32_t len);

#endif
