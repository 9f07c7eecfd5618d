/*
 * Capability tables, copy, delete and bounded revoke. The design (derivation
 * tree of circular lists, O(1) delete and O(1)-per-node revoke without a
 * saved cursor) is described at the top of hv/core/include/cap.h and in
 * docs/capabilities.md.
 *
 * Every public function decodes and checks all its arguments before it
 * changes anything; the changing part cannot fail.
 */
#include "cap.h"
#include "log.h"

/* ---- Circular lists ---------------------------------------------------- */

static void link_init(struct cap_link *l)
{
    l->next = l;
    l->prev = l;
}

static bool link_empty(const struct cap_link *l)
{
    return l->next == l;
}

/* Insert n (a lone link) right after pos. */
static void link_insert_after(struct cap_link *pos, struct cap_link *n)
{
    n->prev = pos;
    n->next = pos->next;
    pos->next->prev = n;
    pos->next = n;
}

/*
 * Take n out of its list and put every element of the list headed by h in
 * its place, in order. Afterwards both n and h are lone links. O(1).
 */
static void link_replace_with_list(struct cap_link *n, struct cap_link *h)
{
    if (link_empty(h)) {
        n->prev->next = n->next;
        n->next->prev = n->prev;
    } else {
        struct cap_link *first = h->next;
        struct cap_link *last = h->prev;

        n->prev->next = first;
        first->prev = n->prev;
        last->next = n->next;
        n->next->prev = last;
    }
    link_init(n);
    link_init(h);
}

static struct cap *cap_from_sibling(struct cap_link *l)
{
    return (struct cap *)((char *)l - offsetof(struct cap, sibling));
}

/* ---- Helpers ----------------------------------------------------------- */

uint32_t cap_valid_rights(uint32_t type)
{
    uint32_t per_type;

    switch (type) {
    case HV_CAP_DOMAIN: per_type = HV_CAP_R_DOM_ALL; break;
    case HV_CAP_VCPU: per_type = HV_CAP_R_VCPU_ALL; break;
    case HV_CAP_MEMORY: per_type = HV_CAP_R_MEM_ALL; break;
    case HV_CAP_EVTCHN: per_type = HV_CAP_R_EVT_ALL; break;
    case HV_CAP_IOPORT: per_type = HV_CAP_R_IO_ALL; break;
    case HV_CAP_MMIO: per_type = HV_CAP_R_MMIO_ALL; break;
    case HV_CAP_IRQ: per_type = HV_CAP_R_IRQ_ALL; break;
    case HV_CAP_PCI: per_type = HV_CAP_R_PCI_ALL; break;
    case HV_CAP_CONSOLE: per_type = HV_CAP_R_CON_ALL; break;
    default: return 0;
    }
    return per_type | HV_CAP_R_GRANT;
}

/* Whether [base, base+count) is a non-empty range that does not wrap. */
static bool range_ok(uint64_t base, uint64_t count)
{
    return count != 0 && base + (count - 1) >= base;
}

/* Whether [base, base+count) (already range_ok) lies inside c's range. */
static bool range_inside(const struct cap *c, uint64_t base, uint64_t count)
{
    return base >= c->base && base - c->base <= c->count - 1 &&
           count <= c->count - (base - c->base);
}

static void cap_clear_slot(struct cap *c)
{
    c->obj = NULL;
    c->base = 0;
    c->count = 0;
    c->rights = 0;
    c->type = HV_CAP_NULL;
    c->flags = 0;
    link_init(&c->sibling);
    link_init(&c->children);
}

/* Fill the empty slot dst with a capability to obj; links are done by the caller. */
static void cap_fill(struct cap *dst, struct cap_object *obj, uint32_t rights, uint64_t base,
                     uint64_t count)
{
    BUG_ON(!(dst->obj == NULL && obj->cap_count != UINT32_MAX));
    dst->obj = obj;
    dst->type = obj->type;
    dst->rights = rights;
    dst->base = base;
    dst->count = count;
    dst->flags = 0;
    obj->cap_count++;
}

/*
 * Remove the non-empty capability c: its children take its place in its
 * parent's list (or its object's roots), the slot becomes empty, and the
 * object hook runs if this was the last capability to the object. Returns
 * what the removal cost in budget units: 1, plus what the removed hook
 * reports for work of its own.
 */
static uint32_t cap_remove(struct cap *c)
{
    struct cap_object *obj = c->obj;
    uint16_t type = c->type;
    uint64_t base = c->base, count = c->count;

    BUG_ON(!(obj != NULL && obj->cap_count > 0));
    link_replace_with_list(&c->sibling, &c->children);
    cap_clear_slot(c);
    uint32_t cost = cap_hook_removed(c, obj, type, base, count);
    obj->cap_count--;
    if (obj->cap_count == 0)
        cap_object_unreferenced(obj);
    return cost >= UINT32_MAX - 1 ? UINT32_MAX : cost + 1;
}

/* Charges cost to *budget (saturating at 0). */
static void charge(uint32_t *budget, uint32_t cost)
{
    *budget = *budget > cost ? *budget - cost : 0;
}

/* ---- Public API -------------------------------------------------------- */

void cap_object_init(struct cap_object *obj, enum hv_cap_type type)
{
    link_init(&obj->roots);
    obj->cap_count = 0;
    obj->type = (uint16_t)type;
    obj->flags = 0;
}

void cap_table_init(struct cap_table *t)
{
    for (uint32_t i = 0; i < HV_CAP_SLOTS; i++)
        cap_clear_slot(&t->slots[i]);
}

enum hv_status cap_insert_root(struct cap_table *t, uint32_t slot, struct cap_object *obj,
                               uint32_t rights, uint64_t base, uint64_t count)
{
    uint32_t valid;

    if (slot >= HV_CAP_SLOTS || obj == NULL)
        return HV_EINVAL;
    valid = cap_valid_rights(obj->type);
    if (valid == 0 || (rights & ~valid) != 0)
        return HV_EINVAL;
    if (HV_CAP_TYPE_IS_RANGE(obj->type) ? !range_ok(base, count) : (base != 0 || count != 0))
        return HV_EINVAL;
    if (t->slots[slot].obj != NULL)
        return HV_EEXIST;

    cap_fill(&t->slots[slot], obj, rights, base, count);
    link_insert_after(obj->roots.prev, &t->slots[slot].sibling);
    return HV_OK;
}

enum hv_status cap_lookup(struct cap_table *t, uint32_t slot, enum hv_cap_type type,
                          uint32_t rights, struct cap **out)
{
    struct cap *c;

    if (slot >= HV_CAP_SLOTS)
        return HV_EINVAL;
    c = &t->slots[slot];
    if (c->obj == NULL)
        return HV_ENOENT;
    if (c->type != type || (c->rights & rights) != rights)
        return HV_EPERM;
    *out = c;
    return HV_OK;
}

enum hv_status cap_lookup_range(struct cap_table *t, uint32_t slot, enum hv_cap_type type,
                                uint32_t rights, uint64_t base, uint64_t count, struct cap **out)
{
    struct cap *c;
    enum hv_status st;

    if (!HV_CAP_TYPE_IS_RANGE(type) || !range_ok(base, count))
        return HV_EINVAL;
    st = cap_lookup(t, slot, type, rights, &c);
    if (st != HV_OK)
        return st;
    if (!range_inside(c, base, count))
        return HV_EPERM;
    *out = c;
    return HV_OK;
}

enum hv_status cap_copy(struct cap_table *t, const struct hv_cap_copy_args *a)
{
    struct cap *src, *dst;
    struct cap_table *dst_table = t;

    /* Decode: the source. */
    if (a->src_slot >= HV_CAP_SLOTS)
        return HV_EINVAL;
    src = &t->slots[a->src_slot];
    if (src->obj == NULL)
        return HV_ENOENT;
    if ((src->rights & HV_CAP_R_GRANT) == 0)
        return HV_EPERM;
    if (src->flags & (CAP_F_REVOKING | CAP_F_DYING))
        return HV_EBUSY;
    if ((a->rights & ~cap_valid_rights(src->type)) != 0)
        return HV_EINVAL;
    if ((a->rights & ~src->rights) != 0)
        return HV_EPERM;
    if (HV_CAP_TYPE_IS_RANGE(src->type)) {
        if (!range_ok(a->base, a->count))
            return HV_EINVAL;
        if (!range_inside(src, a->base, a->count))
            return HV_ERANGE;
    } else if (a->base != 0 || a->count != 0) {
        return HV_EINVAL;
    }

    /* Decode: the destination table. */
    if (a->dst_domain_slot != HV_CAP_SLOT_SELF) {
        struct cap *dom;
        enum hv_status st =
            cap_lookup(t, a->dst_domain_slot, HV_CAP_DOMAIN, HV_CAP_R_DOM_CAP_INSERT, &dom);
        if (st != HV_OK)
            return st;
        dst_table = cap_domain_table(dom->obj);
        if (dst_table == NULL)
            return HV_ENOENT;
    }

    /* Decode: the destination slot. */
    if (a->dst_slot >= HV_CAP_SLOTS)
        return HV_EINVAL;
    dst = &dst_table->slots[a->dst_slot];
    if (dst->obj != NULL)
        return HV_EEXIST;
    if (src->obj->cap_count == UINT32_MAX)
        return HV_ENOMEM;

    /* Invoke: cannot fail. The newest copy goes last among the children. */
    cap_fill(dst, src->obj, a->rights, HV_CAP_TYPE_IS_RANGE(src->type) ? a->base : 0,
             HV_CAP_TYPE_IS_RANGE(src->type) ? a->count : 0);
    link_insert_after(src->children.prev, &dst->sibling);
    return HV_OK;
}

enum hv_status cap_delete(struct cap_table *t, uint32_t slot)
{
    if (slot >= HV_CAP_SLOTS)
        return HV_EINVAL;
    if (t->slots[slot].obj == NULL)
        return HV_ENOENT;
    uint32_t budget = CAP_REVOKE_BUDGET;
    if (!cap_hook_may_remove(&t->slots[slot], &budget))
        return HV_EAGAIN;
    (void)cap_remove(&t->slots[slot]);
    return HV_OK;
}

enum hv_status cap_revoke(struct cap_table *t, uint32_t slot, uint32_t budget)
{
    struct cap *c;

    if (slot >= HV_CAP_SLOTS || budget == 0)
        return HV_EINVAL;
    c = &t->slots[slot];
    if (c->obj == NULL)
        return HV_ENOENT;

    /*
     * Each step removes the first child; cap_remove splices that child's
     * own children into c's list, so every descendant of c stays a
     * descendant until it is removed, and each step is O(1). Progress needs
     * no saved state: whatever is left in c's subtree is the remaining work.
     */
    while (!link_empty(&c->children)) {
        struct cap *child = cap_from_sibling(c->children.next);
        if (budget == 0 || !cap_hook_may_remove(child, &budget)) {
            c->flags |= CAP_F_REVOKING;
            return HV_EAGAIN;
        }
        charge(&budget, cap_remove(child));
    }
    c->flags &= (uint16_t)~CAP_F_REVOKING;
    return HV_OK;
}

enum hv_status cap_identify(struct cap_table *t, uint32_t slot, struct hv_cap_info *out)
{
    const struct cap *c;

    if (slot >= HV_CAP_SLOTS)
        return HV_EINVAL;
    c = &t->slots[slot];
    out->type = c->obj != NULL ? c->type : HV_CAP_NULL;
    out->rights = c->rights;
    out->base = c->base;
    out->count = c->count;
    return HV_OK;
}

enum hv_status cap_table_clear_some(struct cap_table *t, uint32_t *budget)
{
    for (uint32_t i = 0; i < HV_CAP_SLOTS; i++) {
        if (t->slots[i].obj == NULL)
            continue;
        if (*budget == 0 || !cap_hook_may_remove(&t->slots[i], budget))
            return HV_EAGAIN;
        charge(budget, cap_remove(&t->slots[i]));
    }
    return HV_OK;
}

enum hv_status cap_table_clear(struct cap_table *t, uint32_t budget)
{
    if (budget == 0)
        return HV_EINVAL;
    return cap_table_clear_some(t, &budget);
}

enum hv_status cap_object_clear_some(struct cap_object *obj, uint32_t *budget)
{
    /* Removing a root promotes its copies into the roots list, so the list
     * holds every remaining capability's ancestor until it is empty. */
    while (!link_empty(&obj->roots)) {
        struct cap *c = cap_from_sibling(obj->roots.next);
        if (*budget == 0 || !cap_hook_may_remove(c, budget))
            return HV_EAGAIN;
        charge(budget, cap_remove(c));
    }
    return HV_OK;
}

enum hv_status cap_object_clear(struct cap_object *obj, uint32_t budget)
{
    if (budget == 0)
        return HV_EINVAL;
    return cap_object_clear_some(obj, &budget);
}

void cap_mark_reachable(struct cap_object *const doms[], unsigned n, unsigned nroots)
{
    for (unsigned i = 0; i < n; i++) {
        BUG_ON(doms[i]->type != HV_CAP_DOMAIN);
        doms[i]->flags = (uint16_t)(CAP_OBJ_CANDIDATE | (i < nroots ? CAP_OBJ_REACHED : 0));
    }
    /* Each pass looks through the tables of the domains reached and not
     * yet looked through; a pass that reaches nothing new is the last. */
    for (bool more = n != 0; more;) {
        more = false;
        for (unsigned i = 0; i < n; i++) {
            struct cap_object *o = doms[i];
            if ((o->flags & (CAP_OBJ_REACHED | CAP_OBJ_SCANNED)) != CAP_OBJ_REACHED)
                continue;
            o->flags |= CAP_OBJ_SCANNED;
            struct cap_table *t = cap_domain_table(o);
            if (t == NULL)
                continue;
            for (uint32_t s = 0; s < HV_CAP_SLOTS; s++) {
                struct cap_object *x = t->slots[s].obj;
                if (x == NULL || t->slots[s].type != HV_CAP_DOMAIN ||
                    (x->flags & (CAP_OBJ_CANDIDATE | CAP_OBJ_REACHED)) != CAP_OBJ_CANDIDATE)
                    continue;
                x->flags |= CAP_OBJ_REACHED;
                more = true;
            }
        }
    }
}

bool cap_object_reached(const struct cap_object *obj)
{
    return (obj->flags & CAP_OBJ_REACHED) != 0;
}

uint32_t cap_child_count(const struct cap_table *t, uint32_t slot)
{
    uint32_t n = 0;

    if (slot >= HV_CAP_SLOTS)
        return 0;
    for (const struct cap_link *l = t->slots[slot].children.next; l != &t->slots[slot].children;
         l = l->next)
        n++;
    return n;
}
