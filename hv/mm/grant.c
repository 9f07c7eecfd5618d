/*
 * Grant tables: making, ending and inspecting grants, the memory manager's
 * mapping hooks, and domain teardown (see grant.h for the reference rules
 * G1..G5, docs/grants.md for the design and every error).
 *
 * The table lives in hypervisor memory only; every operation decodes and
 * checks all its arguments, then acts in a step that cannot fail.
 *
 * Entries of a table are chained per (mfn, grantee) hash bucket through
 * hash_next (ref 0 is never used, so 0 ends a chain): the hooks the memory
 * manager calls for every foreign L1 entry find their grant in O(1)
 * expected time.
 *
 * Locking: every call is made under the hypervisor lock (hv_lock, docs/smp.md) (the
 * grant code takes and drops frame references through pt.c, and pt.c calls
 * back into grant_map_get/put).
 */
#include "grant_internal.h"
#include "frame.h"
#include "log.h"
#include "mm_hooks.h"
#include "pt.h"

enum hv_status grant_table_init(struct grant_table *gt, uint64_t uid, domid_t id)
{
    if (gt == NULL || uid == 0 || id == DOMID_INVALID || id == DOMID_HV)
        return HV_EINVAL;
    __builtin_memset(gt, 0, sizeof(*gt));
    gt->uid = uid;
    gt->id = id;
    return HV_OK;
}

static unsigned bucket_of(uint64_t m, uint64_t uid)
{
    uint64_t h = m * 0x9e3779b97f4a7c15ull ^ uid * 0xc2b2ae3d27d4eb4full;
    return (unsigned)(h >> 56) & (GRANT_HASH_BUCKETS - 1);
}

struct grant_entry *grant_find(struct grant_table *granter, mfn_t m, uint64_t grantee_uid)
{
    uint16_t ref = granter->bucket[bucket_of(mfn_x(m), grantee_uid)];
    while (ref != 0) {
        struct grant_entry *e = &granter->entries[ref];
        if (e->mfn == mfn_x(m) && e->grantee_uid == grantee_uid)
            return e;
        ref = e->hash_next;
    }
    return NULL;
}

static void hash_insert(struct grant_table *gt, uint16_t ref)
{
    struct grant_entry *e = &gt->entries[ref];
    uint16_t *head = &gt->bucket[bucket_of(e->mfn, e->grantee_uid)];
    e->hash_next = *head;
    *head = ref;
}

static void hash_remove(struct grant_table *gt, uint16_t ref)
{
    struct grant_entry *e = &gt->entries[ref];
    uint16_t *link = &gt->bucket[bucket_of(e->mfn, e->grantee_uid)];
    while (*link != ref) {
        BUG_ON(*link == 0);
        link = &gt->entries[*link].hash_next;
    }
    *link = e->hash_next;
    e->hash_next = 0;
}

enum hv_status grant_resolve_domain(struct cap_table *caps, uint32_t slot,
                                    const struct grant_table *self, struct grant_table **out)
{
    if (slot == HV_CAP_SLOT_SELF)
        return HV_EINVAL; /* a domain never grants to or uses grants of itself */
    struct grant_table *t = NULL;
    enum hv_status rc = mm_cap_grant_table(caps, slot, &t);
    if (rc != HV_OK)
        return rc;
    if (t == NULL || t->dying)
        return HV_ENOENT;
    if (t == self)
        return HV_EINVAL;
    *out = t;
    return HV_OK;
}

enum hv_status grant_entry_for(struct grant_table *granter, uint32_t ref,
                               const struct grant_table *grantee, bool write,
                               struct grant_entry **out)
{
    if (ref == HV_GRANT_REF_NONE || ref >= GRANT_REFS)
        return HV_EINVAL;
    struct grant_entry *e = &granter->entries[ref];
    if (e->state != GRANT_ACTIVE)
        return HV_ENOENT;
    if (e->grantee_uid != grantee->uid)
        return HV_EPERM;
    if (write && !(e->flags & GRANT_E_WRITE))
        return HV_EPERM;
    *out = e;
    return HV_OK;
}

/* Flushes the grantee's TLBs if an unmap of e has not been flushed yet (G4). */
static void settle_flush(struct grant_entry *e)
{
    if (e->map_count == 0 && (e->flags & GRANT_E_FLUSH_PENDING)) {
        grant_hook_tlb_flush(e->grantee_id);
        e->flags &= (uint8_t)~GRANT_E_FLUSH_PENDING;
    }
}

/* Ends live entry `ref` with no mapping: flush if needed, drop G1's
 * references, free it. Cannot fail. */
static void entry_free(struct grant_table *gt, uint16_t ref)
{
    struct grant_entry *e = &gt->entries[ref];
    BUG_ON(e->map_count != 0);
    settle_flush(e);
    if (e->state == GRANT_ORPHANED)
        gt->orphan_count--;
    gt->live_count--;
    hash_remove(gt, ref);
    mfn_t m = mfn(e->mfn);
    *e = (struct grant_entry){.state = GRANT_FREE};
    pt_type_put(m);
}

static uint16_t lowest_free_ref(const struct grant_table *gt)
{
    for (uint16_t r = 1; r < GRANT_REFS; r++)
        if (gt->entries[r].state == GRANT_FREE)
            return r;
    return 0;
}

enum hv_status grant_set(struct grant_table *gt, struct cap_table *caps,
                         struct hv_grant_set_args *a)
{
    if (a->reserved != 0 || (a->flags & ~HV_GRANT_SET_FLAGS) != 0)
        return HV_EINVAL;
    struct grant_table *grantee;
    enum hv_status rc = grant_resolve_domain(caps, a->grantee_slot, gt, &grantee);
    if (rc != HV_OK)
        return rc;
    mfn_t m = mfn(a->mfn);
    struct frame *f = frame_get(m);
    if (f == NULL)
        return HV_ERANGE;
    if (f->owner != gt->id || gt->dying)
        return HV_EPERM;
    if (grant_find(gt, m, grantee->uid) != NULL)
        return HV_EEXIST;
    uint16_t ref = lowest_free_ref(gt);
    if (ref == 0)
        return HV_ENOMEM;
    /* G1: the last check, and the only step that takes anything. A page
     * table (or a frame being validated) is refused with HV_EBUSY. */
    int trc = pt_type_get(gt->id, m, FRAME_TYPE_WRITABLE);
    if (trc != HV_OK) {
        BUG_ON(trc == PT_STARTED);
        return (enum hv_status)trc;
    }
    gt->entries[ref] = (struct grant_entry){
        .mfn = a->mfn,
        .grantee_uid = grantee->uid,
        .grantee_id = grantee->id,
        .state = GRANT_ACTIVE,
        .flags = (a->flags & HV_GRANT_F_WRITE) ? GRANT_E_WRITE : 0,
    };
    hash_insert(gt, ref);
    gt->live_count++;
    a->ref = ref;
    return HV_OK;
}

/* Checks a granter's ref argument: HV_EINVAL (0, out of range), HV_ENOENT
 * (not a live grant the granter may still act on). */
static enum hv_status own_entry(struct grant_table *gt, uint32_t ref, struct grant_entry **out)
{
    if (ref == HV_GRANT_REF_NONE || ref >= GRANT_REFS)
        return HV_EINVAL;
    struct grant_entry *e = &gt->entries[ref];
    if (e->state != GRANT_ACTIVE)
        return HV_ENOENT;
    *out = e;
    return HV_OK;
}

enum hv_status grant_end(struct grant_table *gt, const struct hv_grant_ref_args *a)
{
    struct grant_entry *e;
    if (a->reserved != 0)
        return HV_EINVAL;
    enum hv_status rc = own_entry(gt, a->ref, &e);
    if (rc != HV_OK)
        return rc;
    if (e->map_count != 0)
        return HV_EBUSY;
    entry_free(gt, (uint16_t)a->ref); /* flushes first if an unmap is unflushed */
    return HV_OK;
}

enum hv_status grant_status(struct grant_table *gt, struct hv_grant_status_args *a)
{
    struct grant_entry *e;
    if (a->reserved != 0)
        return HV_EINVAL;
    enum hv_status rc = own_entry(gt, a->ref, &e);
    if (rc != HV_OK)
        return rc;
    settle_flush(e); /* G4: never report unused before the flush */
    a->flags = ((e->flags & GRANT_E_WRITE) ? HV_GRANT_F_WRITE : 0u) |
               (e->map_count != 0 ? HV_GRANT_F_IN_USE : 0u);
    a->map_count = e->map_count;
    a->mfn = e->mfn;
    return HV_OK;
}

enum hv_status grant_query(struct grant_table *gt, struct cap_table *caps,
                           struct hv_grant_query_args *a)
{
    struct grant_table *granter;
    struct grant_entry *e;
    if (a->reserved != 0)
        return HV_EINVAL;
    enum hv_status rc = grant_resolve_domain(caps, a->granter_slot, gt, &granter);
    if (rc != HV_OK)
        return rc;
    rc = grant_entry_for(granter, a->ref, gt, false, &e);
    if (rc != HV_OK)
        return rc;
    a->mfn = e->mfn;
    a->flags = (e->flags & GRANT_E_WRITE) ? HV_GRANT_F_WRITE : 0u;
    return HV_OK;
}

/* ---- Hooks of the memory manager ---------------------------------------- */

/* The granter and grantee tables of a foreign mapping of m by dom, or false
 * if m is not a guest's frame foreign to dom or a table is missing. */
static bool mapping_tables(domid_t dom, mfn_t m, struct grant_table **granter,
                           struct grant_table **grantee)
{
    struct frame *f = frame_get(m);
    if (f == NULL || f->owner == dom || f->owner == DOMID_INVALID || f->owner == DOMID_HV)
        return false;
    *granter = grant_hook_table_of_domid(f->owner);
    *grantee = grant_hook_table_of_domid(dom);
    return *granter != NULL && *grantee != NULL;
}

bool grant_may_map(domid_t dom, mfn_t m, bool writable)
{
    struct grant_table *granter, *grantee;
    if (!mapping_tables(dom, m, &granter, &grantee) || grantee->dying)
        return false;
    struct grant_entry *e = grant_find(granter, m, grantee->uid);
    if (e == NULL || e->state != GRANT_ACTIVE)
        return false;
    return !writable || (e->flags & GRANT_E_WRITE);
}

bool grant_map_get(domid_t dom, mfn_t m, bool writable)
{
    if (!grant_may_map(dom, m, writable))
        return false;
    struct grant_table *granter, *grantee;
    (void)mapping_tables(dom, m, &granter, &grantee);
    struct grant_entry *e = grant_find(granter, m, grantee->uid);
    if (e->map_count == UINT32_MAX || grantee->maps_held == UINT32_MAX)
        return false;
    e->map_count++;
    grantee->maps_held++;
    if (e->map_count == 1)
        mm_dma_frame(dom, m, true, (e->flags & GRANT_E_WRITE) != 0);
    return true;
}

void grant_map_put(domid_t dom, mfn_t m, bool writable)
{
    struct grant_table *granter, *grantee;
    bool counted = mapping_tables(dom, m, &granter, &grantee);
    BUG_ON(!counted);
    struct grant_entry *e = grant_find(granter, m, grantee->uid);
    BUG_ON(e == NULL || e->map_count == 0 || grantee->maps_held == 0 ||
           (writable && !(e->flags & GRANT_E_WRITE)));
    e->map_count--;
    grantee->maps_held--;
    if (e->map_count == 0) {
        mm_dma_frame(dom, m, false, false);
        e->flags |= GRANT_E_FLUSH_PENDING;
        if (e->state == GRANT_ORPHANED)
            grant_hook_orphan_idle(granter);
    }
}

/* ---- Teardown ------------------------------------------------------------ */

uint32_t grant_table_teardown(struct grant_table *gt)
{
    BUG_ON(gt->maps_held != 0);
    gt->dying = true;
    for (uint16_t r = 1; r < GRANT_REFS; r++) {
        struct grant_entry *e = &gt->entries[r];
        if (e->state != GRANT_ACTIVE)
            continue;
        if (e->map_count == 0) {
            entry_free(gt, r);
        } else {
            e->state = GRANT_ORPHANED;
            gt->orphan_count++;
        }
    }
    return gt->orphan_count;
}

uint32_t grant_table_reap(struct grant_table *gt)
{
    for (uint16_t r = 1; r < GRANT_REFS && gt->orphan_count != 0; r++) {
        struct grant_entry *e = &gt->entries[r];
        if (e->state == GRANT_ORPHANED && e->map_count == 0)
            entry_free(gt, r);
    }
    return gt->orphan_count;
}
