/* Fake hooks, snapshots and the invariant audit of the mm unit tests. */
#include "mm_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fake fake;

uint64_t *mm_frame_map(mfn_t m)
{
    assert_true(mfn_x(m) < fake.frames_count);
    fake.maps_outstanding++;
    return &fake.mem[mfn_x(m) * PT_ENTRIES];
}

void mm_frame_unmap(uint64_t *p)
{
    assert_non_null(p);
    fake.maps_outstanding--;
}

/* Grants are tested in test/unit/grant: here every foreign mapping the
 * policy allows is counted as allowed. */
bool mm_foreign_map_get(domid_t dom, mfn_t m, bool writable)
{
    (void)dom;
    (void)m;
    (void)writable;
    return true;
}

void mm_foreign_map_put(domid_t dom, mfn_t m, bool writable)
{
    (void)dom;
    (void)m;
    (void)writable;
}

/* The IOMMU's view. A frame leaving its domain's DMA reach must still be
 * that domain's and not yet a page table being validated (the ordering
 * rule of mm_hooks.h): anything else is a breach, counted. */
void mm_dma_frame(domid_t dom, mfn_t m, bool usable, bool writable)
{
    (void)writable;
    assert_true(mfn_x(m) < fake.frames_count);
    const struct frame *f = &fake.frames[mfn_x(m)];
    fake.dma_calls++;
    if (dom == DOMID_HV || dom == DOMID_INVALID)
        return;
    if (usable) {
        fake.dma_dom[mfn_x(m)] = dom;
        return;
    }
    if (f->owner != dom || (f->flags & (FRAME_F_VALIDATED | FRAME_F_PARTIAL)))
        fake.dma_order_breaches++;
    fake.dma_dom[mfn_x(m)] = DOMID_INVALID;
}

bool mm_may_map_foreign(domid_t dom, mfn_t m, bool writable)
{
    for (unsigned i = 0; i < fake.foreign_count; i++)
        if (fake.foreign[i].dom == dom && fake.foreign[i].mfn == mfn_x(m))
            return !writable || fake.foreign[i].writable_ok;
    return false;
}

void fake_allow_foreign(domid_t dom, uint64_t m, bool writable_ok)
{
    for (unsigned i = 0; i < fake.foreign_count; i++)
        if (fake.foreign[i].dom == dom && fake.foreign[i].mfn == m) {
            fake.foreign[i].writable_ok = writable_ok;
            return;
        }
    assert_true(fake.foreign_count < ARRAY_SIZE(fake.foreign));
    fake.foreign[fake.foreign_count].dom = dom;
    fake.foreign[fake.foreign_count].mfn = m;
    fake.foreign[fake.foreign_count].writable_ok = writable_ok;
    fake.foreign_count++;
}

void mm_tlb_flush_local(void)
{
    fake.flush_calls++;
    fake.clock++;
}

void mm_tlb_invlpg_local(uint64_t va)
{
    fake.invlpg_calls++;
    fake.last_invlpg_va = va;
}

void mm_tlb_flush_stale(uint32_t stamp)
{
    if (pt_tlb_may_be_stale(stamp))
        pt_tlb_flush_local();
}

uint32_t mm_flush_clock_now(void)
{
    return fake.clock;
}

bool mm_load_base(domid_t dom, mfn_t l4)
{
    fake.load_base_calls++;
    fake.last_loaded_base = l4;
    if (dom != fake.running_dom)
        return false;
    fake.clock++; /* a CR3 load is a flush */
    return true;
}

void fake_setup(uint64_t frames_count, unsigned maxphyaddr_bits, uint32_t budget)
{
    memset(&fake, 0, sizeof(fake));
    fake.frames_count = frames_count;
    fake.frames = calloc(frames_count, sizeof(struct frame));
    fake.m2p = calloc(frames_count, sizeof(uint64_t));
    fake.mem = calloc(frames_count * PT_ENTRIES, sizeof(uint64_t));
    fake.dma_dom = malloc(frames_count * sizeof(domid_t));
    assert_non_null(fake.dma_dom);
    for (uint64_t i = 0; i < frames_count; i++)
        fake.dma_dom[i] = DOMID_INVALID;
    assert_non_null(fake.frames);
    assert_non_null(fake.m2p);
    assert_non_null(fake.mem);
    fake.running_dom = DOMID_INVALID;
    assert_true(frame_table_init(fake.frames, fake.m2p, frames_count));
    /* The hypervisor's frames 0 and 1; its template maps frame 1 in every
     * slot (supervisor, global). */
    assert_int_equal(frame_assign(mfn(0), DOMID_HV), HV_OK);
    assert_int_equal(frame_assign(mfn(1), DOMID_HV), HV_OK);
    for (unsigned i = 0; i < PT_HV_L4_COUNT; i++)
        fake.l4_template[i] = (1ull << PAGE_SHIFT) | HV_PTE_P | HV_PTE_RW | (uint64_t)i << 52;
    struct pt_config cfg = {.maxphyaddr_bits = maxphyaddr_bits,
                            .hv_l4_template = fake.l4_template,
                            .validate_budget_entries = budget};
    assert_true(pt_init(&cfg));
}

void fake_teardown(void)
{
    assert_int_equal(fake.maps_outstanding, 0);
    free(fake.frames);
    free(fake.m2p);
    free(fake.mem);
    free(fake.dma_dom);
    memset(&fake, 0, sizeof(fake));
}

uint64_t *fake_frame(uint64_t m)
{
    assert_true(m < fake.frames_count);
    return &fake.mem[m * PT_ENTRIES];
}

uint64_t pte(uint64_t m, uint64_t flags)
{
    return (m << PAGE_SHIFT) | HV_PTE_P | HV_PTE_US | flags;
}

void give(domid_t dom, uint64_t first, uint64_t count)
{
    for (uint64_t i = first; i < first + count; i++)
        assert_int_equal(frame_assign(mfn(i), dom), HV_OK);
}

uint64_t eaddr(uint64_t m, unsigned i)
{
    return (m << PAGE_SHIFT) | ((uint64_t)i << 3);
}

int upd(struct mm_domain *d, uint64_t ptr, uint64_t val)
{
    struct mm_update_req r = {ptr, val};
    uint32_t done = 99;
    int rc = mm_mmu_update(d, &r, 1, &done);
    assert_int_equal(done, rc == HV_OK ? 1u : 0u);
    return rc;
}

void snap_take(struct snap *s)
{
    size_t n = fake.frames_count;
    s->frames = malloc(n * sizeof(struct frame));
    s->m2p = malloc(n * sizeof(uint64_t));
    s->mem = malloc(n * PT_ENTRIES * sizeof(uint64_t));
    assert_non_null(s->frames);
    assert_non_null(s->m2p);
    assert_non_null(s->mem);
    memcpy(s->frames, fake.frames, n * sizeof(struct frame));
    memcpy(s->m2p, fake.m2p, n * sizeof(uint64_t));
    memcpy(s->mem, fake.mem, n * PT_ENTRIES * sizeof(uint64_t));
}

void snap_check_same(struct snap *s)
{
    for (uint64_t i = 0; i < fake.frames_count; i++) {
        const struct frame *a = &s->frames[i], *b = &fake.frames[i];
        if (a->ref_count != b->ref_count || a->type_count != b->type_count || a->type != b->type ||
            a->flags != b->flags || a->owner != b->owner || a->partial_index != b->partial_index)
            fail_msg("frame %llu changed: ref %u->%u type_count %u->%u type %u->%u "
                     "flags %#x->%#x",
                     (unsigned long long)i, a->ref_count, b->ref_count, a->type_count,
                     b->type_count, a->type, b->type, a->flags, b->flags);
        if (s->m2p[i] != fake.m2p[i])
            fail_msg("m2p[%llu] changed", (unsigned long long)i);
    }
    for (uint64_t i = 0; i < fake.frames_count * PT_ENTRIES; i++)
        if (s->mem[i] != fake.mem[i])
            fail_msg("frame %llu entry %llu changed", (unsigned long long)(i / PT_ENTRIES),
                     (unsigned long long)(i % PT_ENTRIES));
    assert_int_equal(fake.maps_outstanding, 0);
    free(s->frames);
    free(s->m2p);
    free(s->mem);
}

/* ---- the audit ---------------------------------------------------------- */

static void expect_type(uint64_t target, unsigned type, uint32_t *types, const char *why)
{
    const struct frame *t = &fake.frames[target];
    if (t->type != type)
        fail_msg("frame %llu should be type %u (%s) but is %u", (unsigned long long)target, type,
                 why, t->type);
    types[target]++;
}

void mm_audit(struct mm_domain *const *doms, unsigned n)
{
    size_t count = fake.frames_count;
    uint32_t *refs = calloc(count, sizeof(uint32_t));
    uint32_t *types = calloc(count, sizeof(uint32_t));
    assert_non_null(refs);
    assert_non_null(types);

    /* DMA: a guest's devices reach exactly its frames that are not page
     * tables (iommu.h), and no frame ever left their reach out of order. */
    assert_int_equal(fake.dma_order_breaches, 0);
    for (uint64_t i = 0; i < count; i++) {
        const struct frame *f = &fake.frames[i];
        bool guest = f->owner != DOMID_INVALID && f->owner != DOMID_HV;
        bool tbl = f->type >= FRAME_TYPE_L1 && f->type <= FRAME_TYPE_L4;
        domid_t want = guest && !tbl ? f->owner : DOMID_INVALID;
        if (fake.dma_dom[i] != want)
            fail_msg("frame %llu (owner %u, type %u): DMA reach of %u, should be %u",
                     (unsigned long long)i, f->owner, f->type, fake.dma_dom[i], want);
    }
    for (uint64_t i = 0; i < count; i++) {
        const struct frame *f = &fake.frames[i];
        if (f->owner == DOMID_INVALID) {
            if (f->ref_count || f->type_count || f->type || f->flags)
                fail_msg("free frame %llu has state", (unsigned long long)i);
            continue;
        }
        if (f->flags & FRAME_F_ALLOCATED)
            refs[i]++;
        if ((f->type_count == 0) != (f->type == FRAME_TYPE_NONE))
            fail_msg("frame %llu: type %u with type_count %u", (unsigned long long)i, f->type,
                     f->type_count);
        bool table = f->type >= FRAME_TYPE_L1 && f->type <= FRAME_TYPE_L4;
        bool validated = f->flags & FRAME_F_VALIDATED, partial = f->flags & FRAME_F_PARTIAL;
        bool deval = f->flags & FRAME_F_DEVAL;
        if ((validated || partial || deval) && !table)
            fail_msg("frame %llu validated/partial/deval but not a table", (unsigned long long)i);
        if ((unsigned)validated + (unsigned)partial + (unsigned)deval > 1)
            fail_msg("frame %llu in two of validated, partial, deval", (unsigned long long)i);
        if (table && !validated && !partial && !deval)
            fail_msg("table frame %llu neither validated, partial nor deval",
                     (unsigned long long)i);
        if (deval && f->type_count != 1)
            fail_msg("deval frame %llu has %u type references", (unsigned long long)i,
                     f->type_count);
        if (f->flags & FRAME_F_PINNED) {
            if (!validated)
                fail_msg("pinned frame %llu not validated", (unsigned long long)i);
            refs[i]++;
            types[i]++;
        }
        if (!table)
            continue;
        unsigned level = f->type;
        unsigned limit = level == 4 ? PT_HV_L4_FIRST : PT_ENTRIES;
        unsigned upto = validated ? limit : f->partial_index;
        if (partial && (f->flags & FRAME_F_CHILD_PARTIAL))
            upto++;
        if (deval && (f->flags & FRAME_F_CHILD_PARTIAL)) {
            /* Entry partial_index - 1 holds the last reference of a DEVAL child. */
            if (f->partial_index == 0 ||
                !(fake.frames[mfn_x(pt_entry_mfn(fake_frame(i)[f->partial_index - 1]))].flags &
                  FRAME_F_DEVAL))
                fail_msg("deval frame %llu: its child in progress is not deval",
                         (unsigned long long)i);
        }
        const uint64_t *t = fake_frame(i);
        for (unsigned j = 0; j < upto; j++) {
            uint64_t e = t[j];
            if (!(e & HV_PTE_P))
                continue;
            uint64_t target = mfn_x(pt_entry_mfn(e));
            if (target >= count) {
                /* R3a: an I/O frame, allowed by the hook, holds nothing. */
                if (level != 1 || !mm_may_map_foreign(f->owner, mfn(target), (e & HV_PTE_RW) != 0))
                    fail_msg("table %llu maps %llu outside the frame table", (unsigned long long)i,
                             (unsigned long long)target);
                continue;
            }
            const struct frame *tf = &fake.frames[target];
            if (tf->owner == DOMID_INVALID || tf->owner == DOMID_HV)
                fail_msg("table %llu maps free/hypervisor frame %llu", (unsigned long long)i,
                         (unsigned long long)target);
            if (e & (HV_PTE_G | HV_PTE_PS))
                fail_msg("table %llu entry %u has G/PS", (unsigned long long)i, j);
            refs[target]++;
            if (level == 1) {
                if (tf->owner != f->owner &&
                    !mm_may_map_foreign(f->owner, mfn(target), (e & HV_PTE_RW) != 0))
                    fail_msg("L1 %llu maps foreign %llu", (unsigned long long)i,
                             (unsigned long long)target);
                if (e & HV_PTE_RW)
                    expect_type(target, FRAME_TYPE_WRITABLE, types, "writable mapping");
            } else {
                if (tf->owner != f->owner)
                    fail_msg("table %llu uses foreign table %llu", (unsigned long long)i,
                             (unsigned long long)target);
                expect_type(target, level - 1, types, "entry of the level above");
            }
        }
        if (level == 4 && validated)
            for (unsigned j = PT_HV_L4_FIRST; j < PT_ENTRIES; j++)
                if (t[j] != fake.l4_template[j - PT_HV_L4_FIRST])
                    fail_msg("L4 %llu slot %u is not the template", (unsigned long long)i, j);
    }
    for (unsigned k = 0; k < n; k++) {
        const struct mm_domain *d = doms[k];
        if (mfn_x(d->base) != mfn_x(INVALID_MFN)) {
            expect_type(mfn_x(d->base), FRAME_TYPE_L4, types, "base");
            refs[mfn_x(d->base)]++;
            assert_true(fake.frames[mfn_x(d->base)].flags & FRAME_F_VALIDATED);
        }
        if (d->cont.op != MM_CONT_NONE && d->cont.phase == MM_PHASE_VALIDATE) {
            expect_type(mfn_x(d->cont.top), d->cont.type, types, "continuation");
            refs[mfn_x(d->cont.top)]++;
            assert_true(fake.frames[mfn_x(d->cont.top)].flags & FRAME_F_PARTIAL);
        } else if (d->cont.op != MM_CONT_NONE) {
            const struct frame *dv = &fake.frames[mfn_x(d->cont.dv)];
            assert_true(dv->flags & FRAME_F_DEVAL);
            expect_type(mfn_x(d->cont.dv), dv->type, types, "devalidation");
            refs[mfn_x(d->cont.dv)]++;
        }
    }
    for (uint64_t i = 0; i < count; i++) {
        const struct frame *f = &fake.frames[i];
        if (f->owner == DOMID_INVALID)
            continue;
        if (f->ref_count != refs[i] || f->type_count != types[i])
            fail_msg("frame %llu: ref_count %u (expected %u), type_count %u (expected %u)",
                     (unsigned long long)i, f->ref_count, refs[i], f->type_count, types[i]);
    }
    assert_int_equal(fake.maps_outstanding, 0);
    free(refs);
    free(types);
}

void mm_teardown_all(struct mm_domain *d)
{
    unsigned steps = 0;
    while (mm_domain_teardown(d) == HV_EAGAIN)
        assert_true(++steps < 100000);
}

void mm_abort_all(struct mm_domain *d)
{
    unsigned steps = 0;
    while (mm_cont_abort(d) == HV_EAGAIN)
        assert_true(++steps < 100000);
}

void snap_drop(struct snap *s)
{
    free(s->frames);
    free(s->m2p);
    free(s->mem);
}

int mm_test_teardown(struct mm_domain *const *doms, unsigned n)
{
    mm_audit(doms, n);
    fake_teardown();
    return 0;
}
