/*
 * Grant tables: a domain (the granter) lets exactly one other domain (the
 * grantee) map or copy one of its frames, read-only or read-write. See
 * docs/grants.md for the design and proto/include/hv/grant.h for the ABI.
 *
 * References a grant holds (the rules the tests audit):
 *   G1  An ACTIVE or ORPHANED entry holds one general reference and one
 *       WRITABLE type reference on its frame, taken when the grant is made
 *       and dropped when it ends. So while a frame is granted it is alive,
 *       stays its granter's (frame_release is refused), and can never become
 *       a page table; and a page table can never be granted.
 *   G2  map_count of an entry = present L1 entries, in validated or
 *       partially validated tables of the grantee, that map the frame. The
 *       memory manager reports each one through grant_map_get/grant_map_put
 *       (its hooks mm_foreign_map_get/put), so mappings made by any path
 *       (mmu_update, update_va_mapping, HV_GRANT_MAP, validation of a table
 *       that holds such entries) and dropped by any path (overwrite, unpin,
 *       devalidation, domain teardown) are counted.
 *   G3  maps_held of a table = sum of map_count over every entry, in every
 *       table, whose grantee is that table's domain.
 *   G4  An entry whose map_count dropped to 0 is FLUSH_PENDING until the
 *       TLBs of its grantee are flushed (grant_hook_tlb_flush); it is
 *       reported in use and cannot end until then.
 *   G5  At most one live entry per (frame, grantee) pair, so the memory
 *       manager's hooks, which know only (grantee, frame), find it exactly.
 *
 * Locking: none of its own. Every call is made under the hypervisor lock
 * (hv_lock, docs/smp.md): the grant code calls pt_type_get/pt_type_put and
 * is called back from pt.c.
 * Same source for the hypervisor and the host unit tests.
 */
#ifndef HV_GRANT_INTERNAL_H
#define HV_GRANT_INTERNAL_H

#include "types.h"
#include <hv/abi.h>
#include <hv/caps.h>
#include <hv/grant.h>

struct cap_table; /* the caller's capabilities (reached through mm_hooks.h) */

#define GRANT_REFS HV_GRANT_REFS
#define GRANT_HASH_BUCKETS 256u /* power of two */

enum grant_state {
    GRANT_FREE = 0,
    GRANT_ACTIVE,   /* usable by its grantee */
    GRANT_ORPHANED, /* its granter is being destroyed; waits for its last unmap */
};

/* struct grant_entry.flags */
#define GRANT_E_WRITE (1u << 0)         /* the grantee may write */
#define GRANT_E_FLUSH_PENDING (1u << 1) /* unmapped, grantee's TLBs not yet flushed */

/* One grant. Meaningful only when state != GRANT_FREE. */
struct grant_entry {
    uint64_t mfn;
    uint64_t grantee_uid; /* never reused: a dead grantee matches no domain */
    uint32_t map_count;   /* G2 */
    uint16_t hash_next;   /* next ref in the (mfn, grantee) bucket, 0 = end */
    domid_t grantee_id;   /* for the TLB-flush hook */
    uint8_t state;        /* enum grant_state */
    uint8_t flags;        /* GRANT_E_* */
    uint16_t reserved;
};

/*
 * A domain's grant table (granter side) and its count of mappings it holds
 * on other domains' grants (grantee side). Initialise with grant_table_init.
 * About 33 KiB: embed it in the domain or allocate it with the domain.
 */
struct grant_table {
    uint64_t uid;          /* never reused, never 0 (as evtchn's) */
    domid_t id;            /* owner of the frames this table grants */
    bool dying;            /* grant_table_teardown ran: no new grants or maps */
    uint32_t live_count;   /* ACTIVE + ORPHANED entries */
    uint32_t orphan_count; /* ORPHANED entries */
    uint32_t maps_held;    /* G3 */
    uint16_t bucket[GRANT_HASH_BUCKETS];
    struct grant_entry entries[GRANT_REFS];
};

/*
 * Sets up an empty table for domain `id` (a guest domid) with `uid`.
 * HV_EINVAL if uid is 0 or id is DOMID_INVALID / DOMID_HV.
 */
enum hv_status grant_table_init(struct grant_table *gt, uint64_t uid, domid_t id);

/* ---- Granter operations (the grant hypercall) -------------------------- */
/* Each checks every argument first; on error nothing has changed. The error
 * of every case, in order, is listed in docs/grants.md. `caps` is the
 * caller's capability table. */

enum hv_status grant_set(struct grant_table *gt, struct cap_table *caps,
                         struct hv_grant_set_args *a);
enum hv_status grant_end(struct grant_table *gt, const struct hv_grant_ref_args *a);
enum hv_status grant_status(struct grant_table *gt, struct hv_grant_status_args *a);

/* ---- Grantee operations ------------------------------------------------- */

enum hv_status grant_query(struct grant_table *gt, struct cap_table *caps,
                           struct hv_grant_query_args *a);
enum hv_status grant_copy(struct grant_table *gt, struct cap_table *caps,
                          const struct hv_grant_copy_args *a);

struct mm_domain;
/*
 * HV_GRANT_MAP / HV_GRANT_UNMAP on behalf of the domain whose grant table is
 * gt and whose memory state is d (same domain). The page-table update goes
 * through mm_update_va_mapping, i.e. the validated path and the hooks
 * below; the errors of that path come back unchanged (HV_ENOENT: no L1 on
 * the path to va, HV_EBUSY: another mm operation pending, ...).
 */
enum hv_status grant_map(struct grant_table *gt, struct mm_domain *d, struct cap_table *caps,
                         const struct hv_grant_map_args *a);
enum hv_status grant_unmap(struct grant_table *gt, struct mm_domain *d,
                           const struct hv_grant_map_args *a);

/* ---- The memory manager's questions (called from its hooks) ------------- */

/*
 * May domain `dom` map frame m (owned by another domain) from an L1 entry,
 * writable or not? True iff m's owner has a live ACTIVE grant of m to dom,
 * with GRANT_E_WRITE if `writable`. Pure: changes nothing.
 */
bool grant_may_map(domid_t dom, mfn_t m, bool writable);

/*
 * An L1 entry of dom mapping m has been validated (after grant_may_map said
 * yes): counts it on the grant. False, nothing changed, if the grant is
 * gone (a caller bug) or a count would overflow.
 */
bool grant_map_get(domid_t dom, mfn_t m, bool writable);

/*
 * An L1 entry of dom mapping m, counted by grant_map_get, is being dropped.
 * The grant becomes FLUSH_PENDING when its count reaches 0; an ORPHANED one
 * then calls grant_hook_orphan_idle. A put with no matching get is a broken
 * invariant (BUG_ON).
 */
void grant_map_put(domid_t dom, mfn_t m, bool writable);

/*
 * The live (ACTIVE or ORPHANED) entry of granter for (m, grantee_uid), or
 * NULL. Unique by G5. For the grant code, audits and debugging.
 */
struct grant_entry *grant_find(struct grant_table *granter, mfn_t m, uint64_t grantee_uid);

/* ---- Domain teardown ----------------------------------------------------- */

/*
 * Ends every grant of gt (call after mm_domain_teardown of the same domain,
 * which has dropped every mapping it held as grantee: maps_held must be 0,
 * else BUG_ON). Unmapped grants end now (flushing first if needed);
 * mapped ones become ORPHANED and keep their frame alive, owned and
 * WRITABLE. Returns the number of ORPHANED entries: while it is not 0 the
 * domain must stay a zombie (its table reachable through
 * grant_hook_table_of_domid, its granted frames not released); the hook
 * grant_hook_orphan_idle tells when grant_table_reap can make progress.
 */
uint32_t grant_table_teardown(struct grant_table *gt);

/*
 * Ends every ORPHANED entry of gt with no mapping left (flushing first if
 * needed). Returns the number still ORPHANED (0: the table is empty and the
 * domain's frames may be released).
 */
uint32_t grant_table_reap(struct grant_table *gt);

/* ---- Hooks: implemented by the hypervisor, faked by the tests ---------- */

/*
 * The grant table of the domain with id `id`, live or zombie (being torn
 * down but still owning frames), or NULL if there is none.
 */
struct grant_table *grant_hook_table_of_domid(domid_t id);

/*
 * Flush every TLB that may hold a translation made through the page tables
 * of domain `grantee` (which may be dead); return when done. On one CPU: a
 * local flush (mm's pt_tlb_flush_local). Must not call into grant code.
 */
void grant_hook_tlb_flush(domid_t grantee);

/*
 * The last mapping of an ORPHANED entry of gt went away (called from inside
 * a page-table operation): queue the zombie for a later grant_table_reap.
 */
void grant_hook_orphan_idle(struct grant_table *gt);

#endif /* HV_GRANT_INTERNAL_H */
