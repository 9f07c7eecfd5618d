/*
 * Capabilities: per-domain tables of typed, righted references to objects,
 * with exact derivation tracking (see docs/capabilities.md).
 *
 * Derivation tree. Every capability is a node. A copy is a child of its
 * source. Children of a node hang in a circular doubly-linked list whose
 * head is embedded in the parent (`children`); capabilities made directly by
 * the hypervisor (cap_insert_root) hang in their object's `roots` list. So:
 *   - delete is O(1): the node's children are spliced into its place in its
 *     parent's list (they stay derived from every ancestor of the deleted
 *     node, so a later revoke of an ancestor still reaches them);
 *   - revoke is O(1) per removed node and needs no cursor: it repeatedly
 *     deletes the first child of the revoked node (whose own children are
 *     promoted into the revoked node's list), at most `budget` per call.
 *
 * Locking: none of its own. Every function here is called under the
 * hypervisor lock (hv_lock, docs/smp.md), which every hypercall takes; the functions
 * never sleep and never call back into the caller except through the hooks
 * at the end of this file.
 */
#ifndef HV_CAP_H
#define HV_CAP_H

#include "types.h"
#include <hv/abi.h>
#include <hv/caps.h>

/* Removals per revoke call made by the hypercall layer before HV_EAGAIN. */
#define CAP_REVOKE_BUDGET 64u

/* A link in a circular doubly-linked list; a lone link points to itself. */
struct cap_link {
    struct cap_link *next;
    struct cap_link *prev;
};

/*
 * The part of an object that capabilities point at. The owner of the object
 * (struct domain, a VCPU, the IRQ space, ...) embeds it and initialises it
 * with cap_object_init. cap_count counts every capability, in every table,
 * that names the object; when it drops to zero cap_object_unreferenced runs.
 */
struct cap_object {
    struct cap_link roots; /* capabilities made by cap_insert_root */
    uint32_t cap_count;
    uint16_t type;  /* enum hv_cap_type */
    uint16_t flags; /* CAP_OBJ_*: cap_mark_reachable's marks */
};

/* Marks of cap_mark_reachable (domain objects only). */
#define CAP_OBJ_CANDIDATE (1u << 0) /* one of the objects it was given */
#define CAP_OBJ_REACHED (1u << 1)   /* a chain of capabilities leads to it from a root */
#define CAP_OBJ_SCANNED (1u << 2)   /* its table was looked through */

/* Flags of a capability slot. */
#define CAP_F_REVOKING (1u << 0) /* a revoke is in progress: no new copies */
/* Set by the hypervisor's cap_hook_may_remove: the capability's removal has
 * begun and waits for work of the hypervisor (it covers nothing any more and
 * cannot be copied), resp. that work is done and it may go. */
#define CAP_F_DYING (1u << 1)
#define CAP_F_SWEPT (1u << 2)

/* One slot of a capability table. obj == NULL means the slot is empty. */
struct cap {
    struct cap_link sibling;  /* in the parent's children or object's roots */
    struct cap_link children; /* head of the list of direct copies */
    struct cap_object *obj;
    uint64_t base;  /* range types only, else 0 */
    uint64_t count; /* range types only, else 0 */
    uint32_t rights;
    uint16_t type;
    uint16_t flags;
};

/* A domain's capability table. Initialise with cap_table_init. */
struct cap_table {
    struct cap slots[HV_CAP_SLOTS];
};

/* Initialise an object of the given type with no capability to it. */
void cap_object_init(struct cap_object *obj, enum hv_cap_type type);

/* Initialise an empty table. */
void cap_table_init(struct cap_table *t);

/*
 * Hypervisor only (boot, domain creation): put a fresh capability to obj
 * in an empty slot of t, as a derivation root. rights must be valid for the
 * type; for range types count > 0 and the range must not wrap. Returns
 * HV_EINVAL, HV_EEXIST (slot occupied) or HV_OK.
 */
enum hv_status cap_insert_root(struct cap_table *t, uint32_t slot, struct cap_object *obj,
                               uint32_t rights, uint64_t base, uint64_t count);

/*
 * Look up the capability in slot of t and check that it has the type and
 * every bit of rights. HV_EINVAL: slot out of range; HV_ENOENT: empty;
 * HV_EPERM: wrong type or a right missing. *out is set only on HV_OK.
 */
enum hv_status cap_lookup(struct cap_table *t, uint32_t slot, enum hv_cap_type type,
                          uint32_t rights, struct cap **out);

/*
 * cap_lookup for a range type, and check that [base, base+count) (count >
 * 0, not wrapping, else HV_EINVAL) lies inside the capability's range
 * (else HV_EPERM).
 */
enum hv_status cap_lookup_range(struct cap_table *t, uint32_t slot, enum hv_cap_type type,
                                uint32_t rights, uint64_t base, uint64_t count, struct cap **out);

/*
 * The copy operation of struct hv_cap_copy_args, on behalf of the domain
 * whose table is t. All checks first (see docs/capabilities.md for the
 * exact error of each), then the copy, which cannot fail.
 */
enum hv_status cap_copy(struct cap_table *t, const struct hv_cap_copy_args *a);

/*
 * Delete the capability in slot of t. Its copies stay, re-attached to its
 * parent. HV_EINVAL: bad slot; HV_ENOENT: empty; HV_EAGAIN: the removal
 * waits for bounded work of the hypervisor (cap_hook_may_remove), a step of
 * which was done: call again.
 */
enum hv_status cap_delete(struct cap_table *t, uint32_t slot);

/*
 * Revoke the capability in slot of t: delete every capability derived
 * from it, transitively, in every table, but not the capability itself.
 * Deletes at most budget (> 0) capabilities; returns HV_EAGAIN if more
 * remain (call again with the same slot to continue), HV_OK when none
 * remain. While HV_EAGAIN is outstanding the capability cannot be copied.
 * HV_EINVAL: bad slot or budget 0; HV_ENOENT: empty slot.
 */
enum hv_status cap_revoke(struct cap_table *t, uint32_t slot, uint32_t budget);

/* Describe slot of t (an empty slot gives type HV_CAP_NULL). */
enum hv_status cap_identify(struct cap_table *t, uint32_t slot, struct hv_cap_info *out);

/*
 * Domain teardown: delete up to budget (> 0) capabilities of t. HV_EAGAIN
 * while some remain, HV_OK when the table is empty.
 */
enum hv_status cap_table_clear(struct cap_table *t, uint32_t budget);

/*
 * Object teardown: delete up to budget (> 0) capabilities naming obj, in
 * every table. HV_EAGAIN while some remain, HV_OK when none does (the
 * unreferenced hook has then run, if any capability existed).
 */
enum hv_status cap_object_clear(struct cap_object *obj, uint32_t budget);

/*
 * The same with a budget shared across calls: each removal charges *budget
 * (1, plus the cost cap_hook_removed reports), and HV_EAGAIN comes back
 * when it reaches 0 with work left (HV_OK with *budget possibly 0 when none
 * is left). So a caller clearing many objects in turn spends one budget.
 */
enum hv_status cap_table_clear_some(struct cap_table *t, uint32_t *budget);
enum hv_status cap_object_clear_some(struct cap_object *obj, uint32_t *budget);

/* The rights bits that mean something for type (0 for an invalid type). */
uint32_t cap_valid_rights(uint32_t type);

/*
 * Reachability through domain capabilities. A domain is destroyed when the
 * last capability naming it goes; domains that name themselves or each
 * other (a capability cycle) keep their counts above zero when nothing
 * else names them, so the hypervisor asks this instead. doms[0..n) are
 * domain objects (type HV_CAP_DOMAIN), the first nroots of them the roots.
 * Afterwards cap_object_reached(doms[i]) says whether a chain of domain
 * capabilities leads from a root to doms[i], each capability in the table
 * of a domain of doms reached before (cap_domain_table; a domain being
 * destroyed leads nowhere). Objects not in doms are not followed, and
 * their marks mean nothing. Bounded work: at most n tables of HV_CAP_SLOTS slots looked
 * through, and n + 1 passes over doms.
 */
void cap_mark_reachable(struct cap_object *const doms[], unsigned n, unsigned nroots);
bool cap_object_reached(const struct cap_object *obj);

/* Number of direct copies of the capability in slot (tests, debugging). */
uint32_t cap_child_count(const struct cap_table *t, uint32_t slot);

/* ---- Hooks: implemented by the hypervisor, faked by the tests ---------- */

/*
 * Called once when the last capability to obj is deleted or revoked. It
 * runs inside a capability operation, so it must not call cap_*: it should
 * only queue the object for deferred teardown (e.g. destroy a domain later).
 */
void cap_object_unreferenced(struct cap_object *obj);

/*
 * Whether the capability c may be removed now. Every removal (delete,
 * revoke, clear) asks first. The hypervisor may have bounded work to do
 * before (an MMIO capability: take the device mappings only it covered out
 * of its holder's page tables, a step at a time): it charges that work to
 * *budget (to 0 for a step) and returns false until the work is done; the
 * operation then returns HV_EAGAIN. Runs inside a capability operation: must
 * not call cap_*.
 */
bool cap_hook_may_remove(struct cap *c, uint32_t *budget);

/*
 * The capability in `slot` (now empty) was just removed (deleted, revoked,
 * cleared); obj, type, base and count are what it was (the slot no longer
 * names obj). Runs inside a capability
 * operation: must not call cap_*. The hypervisor unmaps the device frames
 * an MMIO capability no longer covers. Returns the cost of what it did, in
 * budget units beyond the removal itself (0 for a plain removal), which
 * revoke and clear charge to their budget: an expensive hook shortens the
 * call.
 */
uint32_t cap_hook_removed(const struct cap *slot, const struct cap_object *obj, uint16_t type,
                          uint64_t base, uint64_t count);

/*
 * The capability table of the domain whose object is domain_obj (an object
 * of type HV_CAP_DOMAIN), or NULL if that domain is being destroyed and
 * takes no new capabilities.
 */
struct cap_table *cap_domain_table(struct cap_object *domain_obj);

#endif /* HV_CAP_H */
