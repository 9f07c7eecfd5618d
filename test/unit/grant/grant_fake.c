/* The fake machine of the grant tests; see grant_fake.h. */
#include "grant_fake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fake_machine *fm;

/* ---- mm hooks (hv/mm/include/mm_hooks.h) ------------------------------------ */

uint64_t *mm_frame_map(mfn_t m)
{
    assert_true(mfn_x(m) < fm->frames_count);
    fm->maps_outstanding++;
    return &fm->mem[mfn_x(m) * PT_ENTRIES];
}

void mm_frame_unmap(uint64_t *p)
{
    assert_non_null(p);
    fm->maps_outstanding--;
}

bool mm_may_map_foreign(domid_t dom, mfn_t m, bool writable)
{
    return grant_may_map(dom, m, writable);
}

bool mm_foreign_map_get(domid_t dom, mfn_t m, bool writable)
{
    return grant_map_get(dom, m, writable);
}

void mm_foreign_map_put(domid_t dom, mfn_t m, bool writable)
{
    grant_map_put(dom, m, writable);
}

/* The IOMMU's view of grants (own frames are test/unit/mm's business). */
void mm_dma_frame(domid_t dom, mfn_t m, bool usable, bool writable)
{
    if (mfn_x(m) >= fm->frames_count || fm->frames[mfn_x(m)].owner == dom)
        return;
    for (unsigned i = 0; i < fm->dma_count; i++)
        if (fm->dma[i].dom == dom && fm->dma[i].mfn == mfn_x(m)) {
            assert_false(usable); /* reached once per (grantee, frame) */
            fm->dma[i] = fm->dma[--fm->dma_count];
            return;
        }
    assert_true(usable); /* a frame out of reach cannot leave it again */
    assert_true(fm->dma_count < ARRAY_SIZE(fm->dma));
    fm->dma[fm->dma_count].dom = dom;
    fm->dma[fm->dma_count].mfn = mfn_x(m);
    fm->dma[fm->dma_count].writable = writable;
    fm->dma_count++;
}

bool fake_dma_reach(domid_t dom, uint64_t m, bool *writable)
{
    for (unsigned i = 0; i < fm->dma_count; i++)
        if (fm->dma[i].dom == dom && fm->dma[i].mfn == m) {
            if (writable)
                *writable = fm->dma[i].writable;
            return true;
        }
    return false;
}

void mm_tlb_flush_local(void)
{
    fm->tlb_local_flushes++;
    fm->clock++;
}

void mm_tlb_invlpg_local(uint64_t va)
{
    (void)va;
    fm->invlpgs++;
}

void mm_tlb_flush_stale(uint32_t stamp)
{
    if (pt_tlb_may_be_stale(stamp))
        pt_tlb_flush_local();
}

uint32_t mm_flush_clock_now(void)
{
    return fm->clock;
}

bool mm_load_base(domid_t dom, mfn_t l4)
{
    (void)dom;
    (void)l4;
    return false;
}

/* ---- capability hooks (hv/core/include/cap.h) --------------------------------- */

bool cap_hook_may_remove(struct cap *c, uint32_t *budget)
{
    (void)c;
    (void)budget;
    return true;
}

uint32_t cap_hook_removed(const struct cap *slot, const struct cap_object *obj, uint16_t type,
                          uint64_t base, uint64_t count)
{
    (void)obj;
    (void)slot;
    (void)type;
    (void)base;
    (void)count;
    return 0;
}

void cap_object_unreferenced(struct cap_object *obj)
{
    (void)obj;
}

static struct fake_dom *dom_of_obj(struct cap_object *o)
{
    for (unsigned i = 0; i < FAKE_DOMS; i++)
        if (&fm->doms[i].obj == o)
            return &fm->doms[i];
    fail_msg("a non-domain object was passed as a domain");
    return NULL;
}

struct cap_table *cap_domain_table(struct cap_object *domain_obj)
{
    struct fake_dom *d = dom_of_obj(domain_obj);
    return d->dying ? NULL : &d->caps;
}

/* ---- grant hooks (hv/mm/include/grant.h) ------------------------------------ */

struct grant_table *grant_hook_table_of_domid(domid_t id)
{
    for (unsigned i = 0; i < FAKE_DOMS; i++)
        if (fm->doms[i].id == id)
            return fm->doms[i].gone ? NULL : &fm->doms[i].gt;
    return NULL;
}

enum hv_status mm_cap_grant_table(struct cap_table *caps, uint32_t slot, struct grant_table **out)
{
    struct cap *c;
    enum hv_status st = cap_lookup(caps, slot, HV_CAP_DOMAIN, HV_GRANT_DOM_RIGHT, &c);
    if (st != HV_OK)
        return st;
    struct fake_dom *d = dom_of_obj(c->obj);
    if (d->dying)
        return HV_ENOENT;
    *out = &d->gt;
    return HV_OK;
}

void grant_hook_tlb_flush(domid_t grantee)
{
    fm->grant_flushes++;
    fm->last_grant_flush = grantee;
}

void grant_hook_orphan_idle(struct grant_table *gt)
{
    fm->orphan_idle_calls++;
    fm->last_orphan_idle = gt;
}

/* ---- set-up ----------------------------------------------------------------- */

uint64_t dom_frame(unsigned i, uint64_t k)
{
    assert_true(k < fm->frames_per_dom);
    return 1 + i * fm->frames_per_dom + k;
}

uint64_t *frame_mem(uint64_t m)
{
    assert_true(m < fm->frames_count);
    return &fm->mem[m * PT_ENTRIES];
}

struct frame *F(uint64_t m)
{
    struct frame *f = frame_get(mfn(m));
    assert_non_null(f);
    return f;
}

void fake_setup(uint64_t frames_per_dom)
{
    fm = calloc(1, sizeof(*fm));
    assert_non_null(fm);
    fm->frames_per_dom = frames_per_dom;
    fm->frames_count = 1 + FAKE_DOMS * frames_per_dom + FAKE_FREE_FRAMES;
    fm->frames = calloc(fm->frames_count, sizeof(struct frame));
    fm->m2p = calloc(fm->frames_count, sizeof(uint64_t));
    fm->mem = calloc(fm->frames_count * PT_ENTRIES, sizeof(uint64_t));
    assert_true(fm->frames && fm->m2p && fm->mem);
    assert_true(frame_table_init(fm->frames, fm->m2p, fm->frames_count));
    for (unsigned j = 0; j < PT_HV_L4_COUNT; j++)
        fm->l4_template[j] = 0x1000u * j; /* not present: any marker */
    struct pt_config cfg = {.maxphyaddr_bits = 52,
                            .hv_l4_template = fm->l4_template,
                            .validate_budget_entries = PT_VALIDATE_BUDGET_DEFAULT};
    assert_true(pt_init(&cfg));
    assert_int_equal(frame_assign(mfn(0), DOMID_HV), HV_OK);

    cap_object_init(&fm->console_obj, HV_CAP_CONSOLE);
    for (unsigned i = 0; i < FAKE_DOMS; i++) {
        struct fake_dom *d = &fm->doms[i];
        d->id = (domid_t)(i + 1);
        cap_object_init(&d->obj, HV_CAP_DOMAIN);
        cap_table_init(&d->caps);
        assert_int_equal(grant_table_init(&d->gt, 1000u + i, d->id), HV_OK);
        mm_domain_init(&d->mm, d->id);
        for (uint64_t k = 0; k < frames_per_dom; k++)
            assert_int_equal(frame_assign(mfn(dom_frame(i, k)), d->id), HV_OK);
    }
    for (unsigned i = 0; i < FAKE_DOMS; i++) {
        struct fake_dom *d = &fm->doms[i];
        for (unsigned j = 0; j < FAKE_DOMS; j++)
            assert_int_equal(cap_insert_root(&d->caps, j, &fm->doms[j].obj,
                                             HV_CAP_R_DOM_ALL | HV_CAP_R_GRANT, 0, 0),
                             HV_OK);
        assert_int_equal(cap_insert_root(&d->caps, SLOT_NORIGHT, &fm->doms[(i + 1) % FAKE_DOMS].obj,
                                         HV_CAP_R_DOM_ALL & ~HV_GRANT_DOM_RIGHT, 0, 0),
                         HV_OK);
        assert_int_equal(
            cap_insert_root(&d->caps, SLOT_CONSOLE, &fm->console_obj, HV_CAP_R_CON_ALL, 0, 0),
            HV_OK);
    }
}

void mm_teardown_all(struct mm_domain *d)
{
    unsigned steps = 0;
    while (mm_domain_teardown(d) == HV_EAGAIN)
        assert_true(++steps < 100000);
}

void fake_teardown(void)
{
    assert_int_equal(fm->maps_outstanding, 0);
    free(fm->frames);
    free(fm->m2p);
    free(fm->mem);
    free(fm);
    fm = NULL;
}

uint64_t leaf(uint64_t m, bool rw)
{
    return (m << PAGE_SHIFT) | HV_PTE_P | HV_PTE_US | (rw ? HV_PTE_RW : 0);
}

void fake_build_aspace(unsigned i)
{
    uint64_t l4 = dom_frame(i, ASPACE_L4), l3 = dom_frame(i, ASPACE_L3);
    uint64_t l2 = dom_frame(i, ASPACE_L2), l1 = dom_frame(i, ASPACE_L1);
    frame_mem(l4)[0] = leaf(l3, true);
    frame_mem(l3)[0] = leaf(l2, true);
    frame_mem(l2)[0] = leaf(l1, true);
    int rc;
    while ((rc = mm_new_baseptr(&D(i)->mm, mfn(l4))) == HV_EAGAIN)
        ; /* the validation of 4 x 512 entries takes more than one budget */
    assert_int_equal(rc, HV_OK);
    assert_true(F(l1)->flags & FRAME_F_VALIDATED);
}

uint64_t l1_entry_ptr(unsigned i, unsigned idx)
{
    return mfn_to_paddr(mfn(dom_frame(i, ASPACE_L1))) + 8u * idx;
}

int map_pte(unsigned i, unsigned idx, uint64_t val)
{
    struct mm_update_req req = {.ptr = l1_entry_ptr(i, idx) | MM_UPDATE_CMD_PTE, .val = val};
    uint32_t done = 99;
    int rc = mm_mmu_update(&D(i)->mm, &req, 1, &done);
    assert_int_equal(done, rc == HV_OK ? 1u : 0u);
    return rc;
}

int do_set(unsigned granter, unsigned grantee_slot, uint64_t m, uint32_t flags, uint32_t *ref)
{
    struct hv_grant_set_args a = {
        .mfn = m, .grantee_slot = grantee_slot, .flags = flags, .ref = 0xdeadu};
    int rc = grant_set(&D(granter)->gt, &D(granter)->caps, &a);
    if (rc == HV_OK) {
        assert_true(a.ref > 0 && a.ref < HV_GRANT_REFS);
        if (ref)
            *ref = a.ref;
    } else {
        assert_int_equal(a.ref, 0xdeadu); /* no output on error */
    }
    return rc;
}

int do_end(unsigned granter, uint32_t ref)
{
    struct hv_grant_ref_args a = {.ref = ref};
    return grant_end(&D(granter)->gt, &a);
}

int do_status(unsigned granter, uint32_t ref, struct hv_grant_status_args *out)
{
    struct hv_grant_status_args a = {.ref = ref};
    int rc = grant_status(&D(granter)->gt, &a);
    if (out)
        *out = a;
    return rc;
}

/* ---- snapshots -------------------------------------------------------------- */

void snap_take(struct snap *s)
{
    size_t fb = fm->frames_count * sizeof(struct frame);
    size_t mb = fm->frames_count * PAGE_SIZE;
    s->frames = malloc(fb);
    s->mem = malloc(mb);
    s->gts = malloc(FAKE_DOMS * sizeof(struct grant_table));
    assert_true(s->frames && s->mem && s->gts);
    memcpy(s->frames, fm->frames, fb);
    memcpy(s->mem, fm->mem, mb);
    for (unsigned i = 0; i < FAKE_DOMS; i++)
        s->gts[i] = fm->doms[i].gt;
    s->grant_flushes = fm->grant_flushes;
}

void snap_check_same(struct snap *s)
{
    for (uint64_t m = 0; m < fm->frames_count; m++) {
        struct frame a = s->frames[m], b = fm->frames[m];
        /* TLB bookkeeping: a failed validation stamps the frame it tried. */
        a.tlbflush_timestamp = b.tlbflush_timestamp = 0;
        a.last_type = b.last_type = 0;
        if (memcmp(&a, &b, sizeof(a)) != 0)
            fail_msg("frame %llu changed: ref %u->%u type %u->%u count %u->%u flags %#x->%#x",
                     (unsigned long long)m, a.ref_count, b.ref_count, a.type, b.type, a.type_count,
                     b.type_count, a.flags, b.flags);
    }
    assert_memory_equal(s->mem, fm->mem, fm->frames_count * PAGE_SIZE);
    for (unsigned i = 0; i < FAKE_DOMS; i++) {
        if (fm->snap_ignore_flush_pending)
            for (unsigned r = 0; r < GRANT_REFS; r++) {
                s->gts[i].entries[r].flags &= (uint8_t)~GRANT_E_FLUSH_PENDING;
                fm->doms[i].gt.entries[r].flags &= (uint8_t)~GRANT_E_FLUSH_PENDING;
            }
        assert_memory_equal(&s->gts[i], &fm->doms[i].gt, sizeof(struct grant_table));
    }
    assert_int_equal(s->grant_flushes, fm->grant_flushes);
    free(s->frames);
    free(s->mem);
    free(s->gts);
}

/* ---- audit ----------------------------------------------------------------- */

static struct fake_dom *dom_by_id(domid_t id)
{
    for (unsigned i = 0; i < FAKE_DOMS; i++)
        if (fm->doms[i].id == id)
            return &fm->doms[i];
    return NULL;
}

static struct fake_dom *dom_by_uid(uint64_t uid)
{
    for (unsigned i = 0; i < FAKE_DOMS; i++)
        if (fm->doms[i].gt.uid == uid)
            return &fm->doms[i];
    return NULL;
}

void audit(void)
{
    uint64_t n = fm->frames_count;
    uint32_t *ref = calloc(n, sizeof(uint32_t)), *type = calloc(n, sizeof(uint32_t));
    /* maps[g][r]: foreign L1 entries counted against grant r of domain g */
    uint32_t(*maps)[GRANT_REFS] = calloc(FAKE_DOMS, sizeof(*maps));
    uint32_t held[FAKE_DOMS] = {0};
    assert_true(ref && type && maps);

    for (uint64_t m = 0; m < n; m++) {
        struct frame *f = &fm->frames[m];
        assert_false(f->flags & FRAME_F_PARTIAL); /* the grant tests never preempt */
        if (f->flags & FRAME_F_ALLOCATED)
            ref[m]++;
        if (f->flags & FRAME_F_PINNED) {
            ref[m]++;
            type[m]++;
        }
        if (!(f->flags & FRAME_F_VALIDATED))
            continue;
        unsigned level = f->type, limit = level == 4 ? PT_HV_L4_FIRST : PT_ENTRIES;
        for (unsigned j = 0; j < limit; j++) {
            uint64_t e = frame_mem(m)[j];
            if (!(e & HV_PTE_P))
                continue;
            uint64_t t = mfn_x(pt_entry_mfn(e));
            assert_true(t < n);
            ref[t]++;
            if (level > 1 || (e & HV_PTE_RW))
                type[t]++;
            if (level == 1 && fm->frames[t].owner != f->owner) {
                /* G2: a foreign leaf is counted on exactly one live grant. */
                struct fake_dom *granter = dom_by_id(fm->frames[t].owner);
                struct fake_dom *grantee = dom_by_id(f->owner);
                assert_non_null(granter);
                assert_non_null(grantee);
                struct grant_entry *g = grant_find(&granter->gt, mfn(t), grantee->gt.uid);
                assert_non_null(g);
                assert_int_not_equal(g->state, GRANT_FREE);
                if (e & HV_PTE_RW)
                    assert_true(g->flags & GRANT_E_WRITE);
                maps[granter - fm->doms][g - granter->gt.entries]++;
                held[grantee - fm->doms]++;
            }
        }
    }
    for (unsigned i = 0; i < FAKE_DOMS; i++) {
        struct fake_dom *d = &fm->doms[i];
        if (mfn_x(d->mm.base) != mfn_x(INVALID_MFN)) {
            ref[mfn_x(d->mm.base)]++;
            type[mfn_x(d->mm.base)]++;
        }
        uint32_t live = 0, orphans = 0;
        for (unsigned r = 0; r < GRANT_REFS; r++) {
            struct grant_entry *e = &d->gt.entries[r];
            if (e->state == GRANT_FREE) {
                struct grant_entry zero = {0};
                assert_memory_equal(e, &zero, sizeof(zero));
                continue;
            }
            assert_int_not_equal(r, 0);
            live++;
            orphans += e->state == GRANT_ORPHANED;
            /* G1 */
            assert_true(e->mfn < n);
            assert_int_equal(fm->frames[e->mfn].owner, d->id);
            assert_int_equal(fm->frames[e->mfn].type, FRAME_TYPE_WRITABLE);
            ref[e->mfn]++;
            type[e->mfn]++;
            /* G2 */
            assert_int_equal(e->map_count, maps[i][r]);
            /* G5: the hash finds this very entry */
            assert_ptr_equal(grant_find(&d->gt, mfn(e->mfn), e->grantee_uid), e);
            struct fake_dom *grantee = dom_by_uid(e->grantee_uid);
            assert_non_null(grantee);
            assert_int_equal(e->grantee_id, grantee->id);
        }
        assert_int_equal(d->gt.live_count, live);
        assert_int_equal(d->gt.orphan_count, orphans);
        if (orphans)
            assert_true(d->gt.dying);
    }
    for (unsigned i = 0; i < FAKE_DOMS; i++)
        assert_int_equal(fm->doms[i].gt.maps_held, held[i]); /* G3 */
    for (uint64_t m = 0; m < n; m++) {
        struct frame *f = &fm->frames[m];
        if (f->ref_count != ref[m] || f->type_count != type[m])
            fail_msg("frame %llu: ref %u (expected %u), type count %u (expected %u)",
                     (unsigned long long)m, f->ref_count, ref[m], f->type_count, type[m]);
        assert_true((f->type_count == 0) == (f->type == FRAME_TYPE_NONE));
    }
    free(ref);
    free(type);
    free(maps);
}
