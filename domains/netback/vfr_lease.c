/* RSIP port leases (vfr_lease.h). */
#include "vfr_lease.h"

#include <stddef.h>

#include "vfr_pkt.h"

void vfr_lease_init(struct vfr_leases *t)
{
    t->count = 0;
}

static bool before(const struct vfr_lease *a, const struct vfr_lease *b)
{
    return a->proto < b->proto || (a->proto == b->proto && a->lo < b->lo);
}

static bool overlap(const struct vfr_lease *a, const struct vfr_lease *b)
{
    return a->proto == b->proto && a->lo <= b->hi && b->lo <= a->hi;
}

static bool valid(const struct vfr_lease *r)
{
    return (r->proto == VFR_PROTO_TCP || r->proto == VFR_PROTO_UDP) && r->lo != 0 && r->lo <= r->hi;
}

/* Inserts r into the sorted a[0..*n), merging it with ranges of the same
 * domain it overlaps or touches. False if there is no room. */
static bool insert(struct vfr_lease *a, uint32_t *n, struct vfr_lease r)
{
    for (uint32_t i = 0; i < *n;) {
        struct vfr_lease *x = &a[i];
        bool touch = x->dom == r.dom && x->proto == r.proto && x->lo <= (uint32_t)r.hi + 1 &&
                     r.lo <= (uint32_t)x->hi + 1;
        if (touch) {
            if (x->lo < r.lo)
                r.lo = x->lo;
            if (x->hi > r.hi)
                r.hi = x->hi;
            for (uint32_t k = i + 1; k < *n; k++)
                a[k - 1] = a[k];
            (*n)--;
            continue;
        }
        i++;
    }
    if (*n == VFR_LEASES_MAX)
        return false;
    uint32_t at = *n;
    while (at > 0 && before(&r, &a[at - 1])) {
        a[at] = a[at - 1];
        at--;
    }
    a[at] = r;
    (*n)++;
    return true;
}

enum vfr_lease_status vfr_lease_set(struct vfr_leases *t, uint16_t dom,
                                    const struct vfr_lease *ranges, uint32_t n,
                                    struct vfr_lease *conflict)
{
    if (dom == VFR_DOM_NONE || (n != 0 && ranges == NULL))
        return VFR_LEASE_INVALID;
    /* Decode: every range valid, none overlapping another domain's. */
    for (uint32_t i = 0; i < n; i++) {
        if (!valid(&ranges[i]))
            return VFR_LEASE_INVALID;
        for (uint32_t k = 0; k < t->count; k++)
            if (t->l[k].dom != dom && overlap(&ranges[i], &t->l[k])) {
                if (conflict)
                    *conflict = t->l[k];
                return VFR_LEASE_CONFLICT;
            }
    }
    /* Build the new table aside, then install it. */
    struct vfr_leases next;
    next.count = 0;
    for (uint32_t k = 0; k < t->count; k++)
        if (t->l[k].dom != dom)
            next.l[next.count++] = t->l[k]; /* already sorted */
    for (uint32_t i = 0; i < n; i++) {
        struct vfr_lease r = ranges[i];
        r.dom = dom;
        if (!insert(next.l, &next.count, r))
            return VFR_LEASE_FULL;
    }
    *t = next;
    return VFR_LEASE_OK;
}

/* The index of the last range at or before (proto, port), or -1. */
static int32_t search(const struct vfr_leases *t, uint8_t proto, uint16_t port)
{
    int32_t lo = 0, hi = (int32_t)t->count - 1, found = -1;
    struct vfr_lease key = {0, proto, port, port};
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (before(&key, &t->l[mid])) {
            hi = mid - 1;
        } else {
            found = mid;
            lo = mid + 1;
        }
    }
    return found;
}

uint16_t vfr_lease_owner(const struct vfr_leases *t, uint8_t proto, uint16_t port)
{
    int32_t i = search(t, proto, port);
    if (i < 0)
        return VFR_DOM_NONE;
    const struct vfr_lease *x = &t->l[i];
    return x->proto == proto && x->lo <= port && port <= x->hi ? x->dom : VFR_DOM_NONE;
}

bool vfr_lease_held(const struct vfr_leases *t, uint16_t dom, uint8_t proto, uint16_t port)
{
    return dom != VFR_DOM_NONE && vfr_lease_owner(t, proto, port) == dom;
}

enum vfr_lease_status vfr_lease_find_free(const struct vfr_leases *t, uint32_t count, uint16_t *lo)
{
    if (count == 0 || count > VFR_AUTO_HI - VFR_AUTO_LO + 1)
        return VFR_LEASE_INVALID;
    uint32_t cand = VFR_AUTO_LO;
    for (;;) {
        if (cand + count - 1 > VFR_AUTO_HI)
            return VFR_LEASE_FULL;
        bool moved = false;
        for (uint32_t k = 0; k < t->count; k++) {
            const struct vfr_lease *x = &t->l[k];
            if (x->lo <= cand + count - 1 && cand <= x->hi) {
                cand = (uint32_t)x->hi + 1;
                moved = true;
            }
        }
        if (!moved) {
            *lo = (uint16_t)cand;
            return VFR_LEASE_OK;
        }
    }
}

uint32_t vfr_lease_list(const struct vfr_leases *t, uint16_t dom, struct vfr_lease *out,
                        uint32_t max)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < t->count; k++)
        if (t->l[k].dom == dom) {
            if (n < max)
                out[n] = t->l[k];
            n++;
        }
    return n;
}
