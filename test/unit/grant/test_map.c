/*
 * Mapping grants through the real validated path: raw mmu_update entries,
 * the HV_GRANT_MAP/UNMAP helpers, validation of tables holding foreign
 * entries, devalidation, the TLB flush before a grant is reported unused,
 * the granter's attempts to pull the frame away, and domain teardown.
 */
#include "grant_fake.h"

#define A 0u /* granter */
#define B 1u /* grantee */
#define C 2u /* a third domain */

#define REFUSED(expected, call)                                                                    \
    do {                                                                                           \
        struct snap s_;                                                                            \
        snap_take(&s_);                                                                            \
        assert_int_equal((call), (expected));                                                      \
        snap_check_same(&s_);                                                                      \
    } while (0)

static int setup(void **state)
{
    (void)state;
    fake_setup(16);
    for (unsigned i = 0; i < FAKE_DOMS; i++)
        fake_build_aspace(i);
    audit();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_teardown();
    return 0;
}

static void test_map_ro_unmap_flush_end(void **state)
{
    (void)state;
    uint64_t m = dom_frame(A, 5);
    uint32_t ref;
    assert_int_equal(do_set(A, B, m, 0, &ref), HV_OK);
    uint32_t refs_before = F(m)->ref_count;
    assert_int_equal(map_pte(B, 10, leaf(m, false)), HV_OK);
    assert_int_equal(F(m)->ref_count, refs_before + 1);
    assert_int_equal(D(A)->gt.entries[ref].map_count, 1);
    assert_int_equal(D(B)->gt.maps_held, 1);
    audit();

    struct hv_grant_status_args st;
    assert_int_equal(do_status(A, ref, &st), HV_OK);
    assert_int_equal(st.flags, HV_GRANT_F_IN_USE);
    assert_int_equal(st.map_count, 1);
    REFUSED(HV_EBUSY, do_end(A, ref)); /* ending a mapped grant */
    REFUSED(HV_EBUSY, frame_release(mfn(m), D(A)->id));
    REFUSED(HV_EBUSY, mm_pin(&D(A)->mm, mfn(m), 1));
    /* nor through an entry of the granter's L2 naming it as an L1 */
    struct mm_update_req req = {.ptr = mfn_to_paddr(mfn(dom_frame(A, ASPACE_L2))) + 8,
                                .val = leaf(m, true)};
    uint32_t done;
    REFUSED(HV_EBUSY, mm_mmu_update(&D(A)->mm, &req, 1, &done));

    /* Unmap: overwrite the entry. Unused only after the grantee's flush. */
    assert_int_equal(map_pte(B, 10, 0), HV_OK);
    assert_int_equal(D(A)->gt.entries[ref].map_count, 0);
    assert_true(D(A)->gt.entries[ref].flags & GRANT_E_FLUSH_PENDING);
    assert_int_equal(fm->grant_flushes, 0);
    audit();
    assert_int_equal(do_status(A, ref, &st), HV_OK);
    assert_int_equal(fm->grant_flushes, 1);
    assert_int_equal(fm->last_grant_flush, D(B)->id);
    assert_int_equal(st.flags, 0);
    assert_int_equal(do_status(A, ref, &st), HV_OK);
    assert_int_equal(fm->grant_flushes, 1); /* once */
    assert_int_equal(do_end(A, ref), HV_OK);
    assert_int_equal(F(m)->ref_count, 1);
    assert_int_equal(F(m)->type_count, 0);
    audit();
    /* Ended: the frame can no longer be mapped, and is the granter's again. */
    REFUSED(HV_EPERM, map_pte(B, 10, leaf(m, false)));
    assert_int_equal(mm_pin(&D(A)->mm, mfn(m), 1), HV_OK);
    audit();
}

static void test_end_flushes_when_status_did_not(void **state)
{
    (void)state;
    uint64_t m = dom_frame(A, 5);
    uint32_t ref;
    assert_int_equal(do_set(A, B, m, HV_GRANT_F_WRITE, &ref), HV_OK);
    assert_int_equal(map_pte(B, 3, leaf(m, true)), HV_OK);
    assert_int_equal(F(m)->type_count, 2); /* grant + writable entry */
    assert_int_equal(map_pte(B, 3, 0), HV_OK);
    assert_int_equal(fm->grant_flushes, 0);
    assert_int_equal(do_end(A, ref), HV_OK);
    assert_int_equal(fm->grant_flushes, 1);
    assert_int_equal(fm->last_grant_flush, D(B)->id);
    audit();
}

static void test_map_rw_and_counts(void **state)
{
    (void)state;
    uint64_t m = dom_frame(A, 5);
    uint32_t ref;
    assert_int_equal(do_set(A, B, m, HV_GRANT_F_WRITE, &ref), HV_OK);
    assert_false(fake_dma_reach(D(B)->id, m, NULL)); /* granted, not mapped: out of DMA reach */
    assert_int_equal(map_pte(B, 1, leaf(m, true)), HV_OK);
    bool w = false;
    assert_true(fake_dma_reach(D(B)->id, m, &w)); /* the first mapping puts it in reach */
    assert_true(w);
    assert_int_equal(map_pte(B, 2, leaf(m, false)), HV_OK);
    assert_int_equal(map_pte(B, 3, leaf(m, true)), HV_OK);
    assert_int_equal(D(A)->gt.entries[ref].map_count, 3);
    assert_int_equal(D(B)->gt.maps_held, 3);
    audit();
    /* Replacing one grant mapping by another keeps the count. */
    assert_int_equal(map_pte(B, 3, leaf(m, false)), HV_OK);
    assert_int_equal(D(A)->gt.entries[ref].map_count, 3);
    /* Replacing it by an own frame drops one. */
    assert_int_equal(map_pte(B, 2, leaf(dom_frame(B, 9), true)), HV_OK);
    assert_int_equal(D(A)->gt.entries[ref].map_count, 2);
    audit();
    struct hv_grant_status_args st;
    assert_int_equal(do_status(A, ref, &st), HV_OK);
    assert_int_equal(st.flags, HV_GRANT_F_WRITE | HV_GRANT_F_IN_USE);
    assert_int_equal(fm->grant_flushes, 0); /* still mapped: no flush yet */
    /* Out of DMA reach exactly when the last mapping goes. */
    assert_int_equal(map_pte(B, 1, 0), HV_OK);
    assert_true(fake_dma_reach(D(B)->id, m, NULL));
    assert_int_equal(map_pte(B, 3, 0), HV_OK);
    assert_false(fake_dma_reach(D(B)->id, m, NULL));
    assert_int_equal(D(A)->gt.entries[ref].map_count, 0);
}

static void test_map_refusals(void **state)
{
    (void)state;
    uint64_t ro = dom_frame(A, 5), rw = dom_frame(A, 6), none = dom_frame(A, 7);
    uint32_t r1, r2;
    assert_int_equal(do_set(A, B, ro, 0, &r1), HV_OK);
    assert_int_equal(do_set(A, B, rw, HV_GRANT_F_WRITE, &r2), HV_OK);
    audit();
    REFUSED(HV_EPERM, map_pte(B, 4, leaf(ro, true)));    /* read-only grant mapped RW */
    REFUSED(HV_EPERM, map_pte(B, 4, leaf(none, false))); /* not granted */
    REFUSED(HV_EPERM, map_pte(C, 4, leaf(ro, false)));   /* granted to B, not C */
    REFUSED(HV_EPERM, map_pte(C, 4, leaf(rw, true)));
    /* Foreign frames are leaves only: never an L2..L4 target. */
    struct mm_update_req req = {.ptr = mfn_to_paddr(mfn(dom_frame(B, ASPACE_L2))) + 8 * 1,
                                .val = leaf(rw, true)};
    uint32_t done;
    REFUSED(HV_EPERM, mm_mmu_update(&D(B)->mm, &req, 1, &done));
    /* An overflowing map count is refused like any failed reference. */
    D(A)->gt.entries[r1].map_count = UINT32_MAX;
    REFUSED(HV_ENOMEM, map_pte(B, 4, leaf(ro, false)));
    D(A)->gt.entries[r1].map_count = 0;
    /* A dying granter (orphaned grants) or grantee maps nothing new. */
    assert_int_equal(map_pte(B, 4, leaf(ro, false)), HV_OK);
    D(B)->gt.dying = true;
    REFUSED(HV_EPERM, map_pte(B, 5, leaf(rw, false)));
    D(B)->gt.dying = false;
    audit();
}

/* A table holding foreign entries, validated as a whole (pin), counts each
 * of them; a failing validation counts nothing; devalidation uncounts. */
static void test_validation_counts(void **state)
{
    (void)state;
    uint64_t m = dom_frame(A, 5);
    uint32_t ref;
    assert_int_equal(do_set(A, B, m, HV_GRANT_F_WRITE, &ref), HV_OK);
    uint64_t l1 = dom_frame(B, 8);
    frame_mem(l1)[0] = leaf(m, true);
    frame_mem(l1)[1] = leaf(m, false);
    frame_mem(l1)[2] = leaf(dom_frame(B, 9), true);
    frame_mem(l1)[3] = leaf(dom_frame(A, 6), false); /* not granted: fails */
    fm->snap_ignore_flush_pending = true;
    REFUSED(HV_EPERM, mm_pin(&D(B)->mm, mfn(l1), 1));
    fm->snap_ignore_flush_pending = false;
    frame_mem(l1)[3] = 0;
    assert_int_equal(mm_pin(&D(B)->mm, mfn(l1), 1), HV_OK);
    assert_int_equal(D(A)->gt.entries[ref].map_count, 2);
    audit();
    REFUSED(HV_EBUSY, do_end(A, ref));
    /* C may not pin the same table contents: the grant is B's. */
    uint64_t l1c = dom_frame(C, 8);
    frame_mem(l1c)[7] = leaf(m, false);
    fm->snap_ignore_flush_pending = true;
    REFUSED(HV_EPERM, mm_pin(&D(C)->mm, mfn(l1c), 1));
    fm->snap_ignore_flush_pending = false;
    /* Unpin devalidates B's table: both mappings go, one flush pending. */
    assert_int_equal(mm_unpin(&D(B)->mm, mfn(l1)), HV_OK);
    assert_int_equal(D(A)->gt.entries[ref].map_count, 0);
    assert_int_equal(D(B)->gt.maps_held, 0);
    audit();
    assert_int_equal(do_end(A, ref), HV_OK);
    assert_int_equal(fm->grant_flushes, 1);
    audit();
}

static int do_map(unsigned grantee, uint32_t slot, uint32_t ref, uint64_t va, uint32_t flags)
{
    struct hv_grant_map_args a = {.va = va, .granter_slot = slot, .ref = ref, .flags = flags};
    return grant_map(&D(grantee)->gt, &D(grantee)->mm, &D(grantee)->caps, &a);
}

static int do_unmap(unsigned grantee, uint64_t va)
{
    struct hv_grant_map_args a = {.va = va};
    return grant_unmap(&D(grantee)->gt, &D(grantee)->mm, &a);
}

static void test_map_helper(void **state)
{
    (void)state;
    uint64_t ro = dom_frame(A, 5), rw = dom_frame(A, 6);
    uint32_t r1, r2;
    assert_int_equal(do_set(A, B, ro, 0, &r1), HV_OK);
    assert_int_equal(do_set(A, B, rw, HV_GRANT_F_WRITE, &r2), HV_OK);
    unsigned invlpgs = fm->invlpgs;
    assert_int_equal(do_map(B, A, r1, 0x5000, 0), HV_OK);
    assert_int_equal(fm->invlpgs, invlpgs + 1);
    uint64_t e = frame_mem(dom_frame(B, ASPACE_L1))[5];
    assert_int_equal(mfn_x(pt_entry_mfn(e)), ro);
    assert_true((e & (HV_PTE_P | HV_PTE_US | HV_PTE_NX)) == (HV_PTE_P | HV_PTE_US | HV_PTE_NX));
    assert_false(e & HV_PTE_RW);
    assert_int_equal(do_map(B, A, r2, 0x6000, HV_GRANT_MAP_WRITE), HV_OK);
    assert_true(frame_mem(dom_frame(B, ASPACE_L1))[6] & HV_PTE_RW);
    assert_int_equal(D(B)->gt.maps_held, 2);
    audit();

    struct hv_grant_map_args bad = {.va = 0x7000, .granter_slot = A, .ref = r1, .reserved = 1};
    REFUSED(HV_EINVAL, grant_map(&D(B)->gt, &D(B)->mm, &D(B)->caps, &bad));
    REFUSED(HV_EINVAL, do_map(B, A, r1, 0x7000, 2));            /* unknown flag */
    REFUSED(HV_EINVAL, do_map(B, A, r1, 0x7001, 0));            /* unaligned */
    REFUSED(HV_EINVAL, do_map(B, A, r1, HV_GUEST_VA_LIMIT, 0)); /* not a guest address */
    REFUSED(HV_ENOENT, do_map(B, SLOT_EMPTY, r1, 0x7000, 0));
    REFUSED(HV_EPERM, do_map(B, SLOT_CONSOLE, r1, 0x7000, 0));
    REFUSED(HV_EINVAL, do_map(B, B, r1, 0x7000, 0));
    REFUSED(HV_EINVAL, do_map(B, A, 0, 0x7000, 0));
    REFUSED(HV_ENOENT, do_map(B, A, r2 + 1, 0x7000, 0));
    REFUSED(HV_EPERM, do_map(B, A, r1, 0x7000, HV_GRANT_MAP_WRITE)); /* RO grant */
    REFUSED(HV_EPERM, do_map(C, A, r1, 0x7000, 0));                  /* not C's */
    REFUSED(HV_ENOENT, do_map(B, A, r1, 0x40000000, 0));             /* no L1 on the path */

    struct hv_grant_map_args ubad = {.va = 0x5000, .ref = 1};
    REFUSED(HV_EINVAL, grant_unmap(&D(B)->gt, &D(B)->mm, &ubad));
    REFUSED(HV_EINVAL, do_unmap(B, 0x5008));
    REFUSED(HV_EINVAL, do_unmap(B, 0x9000)); /* nothing mapped there */
    assert_int_equal(map_pte(B, 9, leaf(dom_frame(B, 10), true)), HV_OK);
    REFUSED(HV_EINVAL, do_unmap(B, 0x9000)); /* own frame, not a grant */
    REFUSED(HV_ENOENT, do_unmap(B, 0x40000000));
    assert_int_equal(do_unmap(B, 0x5000), HV_OK);
    assert_int_equal(frame_mem(dom_frame(B, ASPACE_L1))[5], 0);
    assert_int_equal(D(A)->gt.entries[r1].map_count, 0);
    audit();
    assert_int_equal(do_end(A, r1), HV_OK);
    assert_int_equal(fm->grant_flushes, 1);
    REFUSED(HV_EBUSY, do_end(A, r2));
    audit();
}

/* The grantee dies: its page tables go (mm teardown), which unmaps every
 * grant it held; then its own grant table is emptied. */
static void test_grantee_teardown(void **state)
{
    (void)state;
    uint32_t r1, r2;
    assert_int_equal(do_set(A, B, dom_frame(A, 5), HV_GRANT_F_WRITE, &r1), HV_OK);
    assert_int_equal(do_set(C, B, dom_frame(C, 5), 0, &r2), HV_OK);
    assert_int_equal(map_pte(B, 1, leaf(dom_frame(A, 5), true)), HV_OK);
    assert_int_equal(map_pte(B, 2, leaf(dom_frame(C, 5), false)), HV_OK);
    assert_int_equal(map_pte(B, 3, leaf(dom_frame(C, 5), false)), HV_OK);
    /* B also grants something of its own, unmapped. */
    assert_int_equal(do_set(B, A, dom_frame(B, 6), 0, NULL), HV_OK);
    audit();
    /* Tearing the grant table down first is a caller bug. */
    expect_assert_failure(grant_table_teardown(&D(B)->gt));
    mm_teardown_all(&D(B)->mm);
    assert_int_equal(D(B)->gt.maps_held, 0);
    assert_int_equal(D(A)->gt.entries[r1].map_count, 0);
    assert_int_equal(D(C)->gt.entries[r2].map_count, 0);
    assert_int_equal(grant_table_teardown(&D(B)->gt), 0);
    assert_int_equal(D(B)->gt.live_count, 0);
    assert_int_equal(F(dom_frame(B, 6))->ref_count, 1);
    audit();
    /* The granters learn the grants are unused (after a flush) and end them. */
    assert_int_equal(do_end(A, r1), HV_OK);
    assert_int_equal(do_end(C, r2), HV_OK);
    assert_int_equal(fm->grant_flushes, 2);
    for (uint64_t k = 0; k < fm->frames_per_dom; k++)
        assert_int_equal(frame_release(mfn(dom_frame(B, k)), D(B)->id), HV_OK);
    audit();
}

/* The granter dies while B maps its grant: the grant is orphaned and keeps
 * the frame until B unmaps; then it can be reaped and the frame released. */
static void test_granter_teardown(void **state)
{
    (void)state;
    uint64_t mapped = dom_frame(A, 5), idle = dom_frame(A, 6);
    uint32_t r1, r2;
    assert_int_equal(do_set(A, B, mapped, HV_GRANT_F_WRITE, &r1), HV_OK);
    assert_int_equal(do_set(A, C, idle, 0, &r2), HV_OK);
    assert_int_equal(map_pte(B, 1, leaf(mapped, true)), HV_OK);
    /* A's own mapping of a grant of C's goes with A's page tables. */
    uint32_t rc_ref;
    assert_int_equal(do_set(C, A, dom_frame(C, 5), 0, &rc_ref), HV_OK);
    assert_int_equal(map_pte(A, 1, leaf(dom_frame(C, 5), false)), HV_OK);
    audit();

    D(A)->dying = true;
    mm_teardown_all(&D(A)->mm);
    assert_int_equal(D(C)->gt.entries[rc_ref].map_count, 0);
    assert_int_equal(grant_table_teardown(&D(A)->gt), 1);
    assert_int_equal(D(A)->gt.entries[r1].state, GRANT_ORPHANED);
    assert_int_equal(D(A)->gt.entries[r2].state, GRANT_FREE);
    audit();
    /* The orphan keeps its frame; nobody can map it anew or use it. */
    REFUSED(HV_EBUSY, frame_release(mfn(mapped), D(A)->id));
    REFUSED(HV_EPERM, map_pte(B, 2, leaf(mapped, true)));
    REFUSED(HV_EBUSY, mm_pin(&D(A)->mm, mfn(mapped), 1));
    REFUSED(HV_ENOENT, do_end(A, r1));
    REFUSED(HV_ENOENT, do_status(A, r1, NULL));
    assert_int_equal(grant_table_reap(&D(A)->gt), 1);
    assert_int_equal(fm->orphan_idle_calls, 0);
    /* B writes through its mapping, then unmaps: the zombie is told. */
    frame_mem(mapped)[0] = 0x1234;
    unsigned flushes = fm->grant_flushes;
    assert_int_equal(map_pte(B, 1, 0), HV_OK);
    assert_int_equal(fm->orphan_idle_calls, 1);
    assert_ptr_equal(fm->last_orphan_idle, &D(A)->gt);
    audit();
    assert_int_equal(grant_table_reap(&D(A)->gt), 0);
    assert_int_equal(fm->grant_flushes, flushes + 1); /* flushed before the frame goes */
    assert_int_equal(fm->last_grant_flush, D(B)->id);
    assert_int_equal(D(A)->gt.live_count, 0);
    for (uint64_t k = 0; k < fm->frames_per_dom; k++)
        assert_int_equal(frame_release(mfn(dom_frame(A, k)), D(A)->id), HV_OK);
    audit();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_map_ro_unmap_flush_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_flushes_when_status_did_not, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_rw_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_helper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grantee_teardown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_granter_teardown, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
