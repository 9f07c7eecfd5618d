/*
 * Bounded latency: a big tree is validated across several calls (each
 * examining at most the budget), a failure midway unwinds every reference
 * taken in all the earlier calls, and a pending operation can be aborted,
 * blocks the domain's other table operations, and survives its table
 * changing under it. Frames: 0,1 hypervisor; 2..99 DOM_A; 100..119 DOM_B.
 */
#include "mm_test.h"

#define BUDGET 512u

static struct mm_domain da, db;
static struct mm_domain *const doms[] = {&da, &db};

/* The tree: L4 2 -> L3 3,4 -> L2 5..8 -> L1 9..16 -> data 20..27, every L1
 * full (512 entries, odd ones writable). 256 + 2*512 + 4*512 + 8*512 = 7424
 * entries to examine. */
#define TREE_ENTRIES (256u + 2 * 512 + 4 * 512 + 8 * 512)

static void build_tree(void)
{
    fake_frame(2)[0] = pte(3, PTE_RW);
    fake_frame(2)[1] = pte(4, PTE_RW);
    for (unsigned i = 0; i < 2; i++)
        for (unsigned j = 0; j < 2; j++)
            fake_frame(3 + i)[j] = pte(5 + 2 * i + j, PTE_RW);
    for (unsigned i = 0; i < 4; i++)
        for (unsigned j = 0; j < 2; j++)
            fake_frame(5 + i)[j] = pte(9 + 2 * i + j, PTE_RW);
    for (unsigned i = 0; i < 8; i++)
        for (unsigned j = 0; j < PT_ENTRIES; j++)
            fake_frame(9 + i)[j] = pte(20 + j % 8, j % 2 ? PTE_RW : 0);
}

static int setup(void **state)
{
    (void)state;
    fake_setup(128, 52, BUDGET);
    give(DOM_A, 2, 98);
    give(DOM_B, 100, 20);
    mm_domain_init(&da, DOM_A);
    mm_domain_init(&db, DOM_B);
    build_tree();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return mm_test_teardown(doms, 2);
}

static void test_big_tree_validates_across_calls(void **state)
{
    (void)state;
    unsigned again = 0;
    int rc;
    while ((rc = mm_pin(&da, mfn(2), 4)) == HV_EAGAIN) {
        again++;
        assert_int_equal(da.cont.op, MM_CONT_PIN);
        assert_true(F(2)->flags & FRAME_F_PARTIAL);
        assert_false(F(2)->flags & FRAME_F_PINNED);
        mm_audit(doms, 2); /* partial progress is exactly accounted */
        assert_true(again < 100);
    }
    assert_int_equal(rc, HV_OK);
    /* Every entry is charged once: ceil(7424 / 512) = 15 calls. */
    assert_int_equal(again, (TREE_ENTRIES + BUDGET - 1) / BUDGET - 1);
    assert_int_equal(da.cont.op, MM_CONT_NONE);
    for (uint64_t m = 2; m <= 16; m++) {
        assert_true(F(m)->flags & FRAME_F_VALIDATED);
        assert_int_equal(F(m)->type_count, 1 /* pin or one parent entry */);
    }
    for (uint64_t m = 20; m < 28; m++) {
        /* 8 L1s * 64 entries each: odd data frames are writable. */
        assert_int_equal(F(m)->ref_count, 1 + 8 * 64);
        assert_int_equal(F(m)->type_count, m % 2 ? 8 * 64 : 0);
    }
    /* Teardown of the whole tree returns every count. */
    assert_int_equal(mm_unpin(&da, mfn(2)), HV_OK);
    for (uint64_t m = 2; m < 28; m++) {
        assert_int_equal(F(m)->ref_count, 1);
        assert_int_equal(F(m)->type_count, 0);
    }
}

/* Fails at the last L1's entry 500. Depth first, the entries examined
 * before it are all but L4 slots 2..255, L3 4's entries 2..511, L2 8's
 * entries 2..511 and L1 16's 500..511: 6138, so 11 preempted calls. */
static void test_failure_late_unwinds_everything(void **state)
{
    (void)state;
    fake_frame(16)[500] = pte(21, PTE_G);
    struct snap s;
    snap_take(&s);
    unsigned again = 0;
    int rc;
    while ((rc = mm_pin(&da, mfn(2), 4)) == HV_EAGAIN)
        again++;
    assert_int_equal(rc, HV_EINVAL);
    assert_int_equal(again, (TREE_ENTRIES - 254 - 510 - 510 - 12) / BUDGET);
    assert_int_equal(da.cont.op, MM_CONT_NONE);
    snap_check_same(&s);
}

/* Fails at an L2 entry (a foreign frame as an L1) after complete subtrees. */
static void test_failure_in_upper_level_unwinds(void **state)
{
    (void)state;
    fake_frame(8)[1] = pte(100, PTE_RW);
    struct snap s;
    snap_take(&s);
    unsigned again = 0;
    int rc;
    while ((rc = mm_new_baseptr(&da, mfn(2))) == HV_EAGAIN)
        again++;
    assert_int_equal(rc, HV_EPERM);
    assert_true(again >= 10);
    assert_int_equal(fake.load_base_calls, 0);
    snap_check_same(&s);
}

static void test_abort_releases_partial_work(void **state)
{
    (void)state;
    struct snap s;
    snap_take(&s);
    for (unsigned i = 0; i < 5; i++)
        assert_int_equal(mm_pin(&da, mfn(2), 4), HV_EAGAIN);
    assert_true(F(9)->flags & FRAME_F_VALIDATED);
    mm_cont_abort(&da);
    assert_int_equal(da.cont.op, MM_CONT_NONE);
    snap_check_same(&s);
    mm_cont_abort(&da); /* nothing pending: nothing happens */
}

static void test_pending_operation_blocks_others(void **state)
{
    (void)state;
    assert_int_equal(mm_pin(&da, mfn(50), 1), HV_OK);
    assert_int_equal(mm_pin(&da, mfn(2), 4), HV_EAGAIN);
    REFUSED(HV_EBUSY, mm_pin(&da, mfn(51), 1));
    REFUSED(HV_EBUSY, mm_pin(&da, mfn(2), 3));
    REFUSED(HV_EBUSY, mm_new_baseptr(&da, mfn(2)));
    REFUSED(HV_EBUSY, mm_new_baseptr(&da, mfn(52)));
    REFUSED(HV_EBUSY, upd(&da, eaddr(50, 0), pte(60, 0)));
    REFUSED(HV_EBUSY, upd(&da, (60ull << PAGE_SHIFT) | MM_UPDATE_CMD_M2P, 1));
    /* The frames under validation cannot be used elsewhere meanwhile. */
    assert_true(F(3)->flags & FRAME_F_PARTIAL);
    assert_true(F(9)->flags & FRAME_F_PARTIAL);
    REFUSED(HV_EBUSY, pt_type_get(DOM_A, mfn(3), FRAME_TYPE_L3));
    REFUSED(HV_EBUSY, pt_entry_get(DOM_A, 2, pte(9, PTE_RW)));
    REFUSED(HV_EBUSY, pt_entry_get(DOM_A, 1, pte(9, PTE_RW)));
    REFUSED(HV_EPERM, mm_pin(&db, mfn(2), 4));
    /* Operations that start no validation still work. */
    assert_int_equal(mm_flush_local(&da), HV_OK);
    assert_int_equal(mm_unpin(&da, mfn(50)), HV_OK);
    /* The other domain is not blocked. */
    assert_int_equal(mm_pin(&db, mfn(101), 1), HV_OK);
    int rc;
    while ((rc = mm_pin(&da, mfn(2), 4)) == HV_EAGAIN)
        ;
    assert_int_equal(rc, HV_OK);
    assert_int_equal(mm_pin(&da, mfn(51), 1), HV_OK);
}

/* An L4 entry update whose new L3 subtree needs many calls. */
static void test_update_continuation(void **state)
{
    (void)state;
    assert_int_equal(mm_pin(&da, mfn(60), 4), HV_OK);
    const struct mm_update_req reqs[] = {
        {(61ull << PAGE_SHIFT) | MM_UPDATE_CMD_M2P, 5},
        {eaddr(60, 7), pte(3, PTE_RW)}, /* L3 3: half of the tree */
        {(62ull << PAGE_SHIFT) | MM_UPDATE_CMD_M2P, 6},
    };
    uint32_t done = 99;
    assert_int_equal(mm_mmu_update(&da, reqs, 3, &done), HV_EAGAIN);
    assert_int_equal(done, 1);
    assert_int_equal(frame_m2p_get(mfn(61)), 5);
    assert_int_equal(fake_frame(60)[7], 0); /* not written until validated */
    assert_int_equal(da.cont.op, MM_CONT_UPDATE);
    mm_audit(doms, 2);
    /* A different request meanwhile: refused. */
    REFUSED(HV_EBUSY, upd(&da, eaddr(60, 7), pte(4, PTE_RW)));
    unsigned again = 1;
    int rc;
    while ((rc = mm_mmu_update(&da, reqs + 1, 2, &done)) == HV_EAGAIN) {
        assert_int_equal(done, 0);
        again++;
    }
    assert_int_equal(rc, HV_OK);
    assert_int_equal(done, 2);
    assert_true(again >= 6);
    assert_int_equal(fake_frame(60)[7], pte(3, PTE_RW));
    assert_int_equal(frame_m2p_get(mfn(62)), 6);
    assert_int_equal(F(3)->type, FRAME_TYPE_L3);
    assert_true(F(3)->flags & FRAME_F_VALIDATED);
}

/* The table holding the pending entry is devalidated meanwhile: the
 * resumed request fails and leaves nothing behind. */
static void test_update_continuation_table_gone(void **state)
{
    (void)state;
    assert_int_equal(mm_pin(&da, mfn(60), 4), HV_OK);
    struct snap s;
    snap_take(&s);
    assert_int_equal(upd(&da, eaddr(60, 7), pte(3, PTE_RW)), HV_EAGAIN);
    assert_int_equal(upd(&da, eaddr(60, 7), pte(3, PTE_RW)), HV_EAGAIN);
    assert_int_equal(mm_unpin(&da, mfn(60)), HV_OK);
    assert_int_equal(upd(&da, eaddr(60, 7), pte(3, PTE_RW)), HV_EINVAL);
    assert_int_equal(da.cont.op, MM_CONT_NONE);
    assert_int_equal(mm_pin(&da, mfn(60), 4), HV_OK);
    snap_check_same(&s);
}

static void test_teardown_aborts_pending(void **state)
{
    (void)state;
    assert_int_equal(mm_new_baseptr(&da, mfn(70)), HV_OK);
    assert_int_equal(mm_pin(&da, mfn(2), 4), HV_EAGAIN);
    assert_int_equal(mm_pin(&da, mfn(2), 4), HV_EAGAIN);
    mm_domain_teardown(&da);
    assert_int_equal(da.cont.op, MM_CONT_NONE);
    for (uint64_t m = 2; m < 100; m++) {
        assert_int_equal(F(m)->ref_count, 1);
        assert_int_equal(F(m)->type_count, 0);
    }
}

/* A freshly built full L1 pins in one call with the default budget. */
static void test_full_l1_single_call_default_budget(void **state)
{
    (void)state;
    fake_teardown();
    fake_setup(64, 52, PT_VALIDATE_BUDGET_DEFAULT);
    give(DOM_A, 2, 40);
    for (unsigned j = 0; j < PT_ENTRIES; j++)
        fake_frame(9)[j] = pte(20 + j % 8, j % 2 ? PTE_RW : 0);
    assert_int_equal(mm_pin(&da, mfn(9), 1), HV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_big_tree_validates_across_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_late_unwinds_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_in_upper_level_unwinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_releases_partial_work, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_operation_blocks_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_continuation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_continuation_table_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_teardown_aborts_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_l1_single_call_default_budget, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
