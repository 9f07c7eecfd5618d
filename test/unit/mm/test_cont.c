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
    fake_frame(2)[0] = pte(3, HV_PTE_RW);
    fake_frame(2)[1] = pte(4, HV_PTE_RW);
    for (unsigned i = 0; i < 2; i++)
        for (unsigned j = 0; j < 2; j++)
            fake_frame(3 + i)[j] = pte(5 + 2 * i + j, HV_PTE_RW);
    for (unsigned i = 0; i < 4; i++)
        for (unsigned j = 0; j < 2; j++)
            fake_frame(5 + i)[j] = pte(9 + 2 * i + j, HV_PTE_RW);
    for (unsigned i = 0; i < 8; i++)
        for (unsigned j = 0; j < PT_ENTRIES; j++)
            fake_frame(9 + i)[j] = pte(20 + j % 8, j % 2 ? HV_PTE_RW : 0);
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
    /* Unpinning the whole tree devalidates it across calls too: every
     * entry released once, a budget per call, exact counts at each step. */
    again = 0;
    while ((rc = mm_unpin(&da, mfn(2))) == HV_EAGAIN) {
        again++;
        assert_int_equal(da.cont.op, MM_CONT_UNPIN);
        assert_int_equal(da.cont.phase, MM_PHASE_DEVAL);
        assert_true(F(2)->flags & FRAME_F_DEVAL);
        mm_audit(doms, 2);
        /* Meanwhile the tables being released cannot be used again. */
        REFUSED(HV_EBUSY, mm_pin(&da, mfn(2), 4));
        assert_true(again < 100);
    }
    assert_int_equal(rc, HV_OK);
    assert_int_equal(again, (TREE_ENTRIES + BUDGET - 1) / BUDGET - 1);
    assert_int_equal(da.cont.op, MM_CONT_NONE);
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
    fake_frame(16)[500] = pte(21, HV_PTE_G);
    struct snap s;
    snap_take(&s);
    unsigned again = 0;
    int rc;
    unsigned unwinding = 0;
    while ((rc = mm_pin(&da, mfn(2), 4)) == HV_EAGAIN) {
        again++;
        unwinding += da.cont.phase == MM_PHASE_DEVAL;
        mm_audit(doms, 2);
    }
    assert_int_equal(rc, HV_EINVAL);
    /* 11 calls validate; the 12th fails and begins the unwinding of the
     * 6138 entries taken, a budget a call, the last call returns the error. */
    unsigned taken = TREE_ENTRIES - 254 - 510 - 510 - 12;
    assert_int_equal(again - unwinding, taken / BUDGET);
    assert_int_equal(unwinding, (taken + BUDGET - 1) / BUDGET - 1);
    assert_int_equal(da.cont.op, MM_CONT_NONE);
    snap_check_same(&s);
}

/* Fails at an L2 entry (a foreign frame as an L1) after complete subtrees. */
static void test_failure_in_upper_level_unwinds(void **state)
{
    (void)state;
    fake_frame(8)[1] = pte(100, HV_PTE_RW);
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
    unsigned steps = 0;
    while (mm_cont_abort(&da) == HV_EAGAIN) {
        steps++;
        mm_audit(doms, 2);
    }
    assert_true(steps >= 4); /* 5 budgets taken, released a budget a call */
    assert_int_equal(da.cont.op, MM_CONT_NONE);
    snap_check_same(&s);
    assert_int_equal(mm_cont_abort(&da), HV_OK); /* nothing pending: nothing happens */
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
    REFUSED(HV_EBUSY, pt_entry_get(DOM_A, 2, pte(9, HV_PTE_RW)));
    REFUSED(HV_EBUSY, pt_entry_get(DOM_A, 1, pte(9, HV_PTE_RW)));
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
        {eaddr(60, 7), pte(3, HV_PTE_RW)}, /* L3 3: half of the tree */
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
    REFUSED(HV_EBUSY, upd(&da, eaddr(60, 7), pte(4, HV_PTE_RW)));
    /* Resubmit from the first request not applied (as the hypercall layer
     * does): the long one until it is validated; the batch then stops at a
     * request boundary once it did a budget's worth of work, and the last
     * request goes in the next call. */
    unsigned again = 1, applied = 0;
    int rc;
    while ((rc = mm_mmu_update(&da, reqs + 1 + applied, 2 - applied, &done)) == HV_EAGAIN) {
        applied += done;
        again++;
        assert_true(again < 100);
    }
    applied += done;
    assert_int_equal(rc, HV_OK);
    assert_int_equal(applied, 2);
    assert_true(again >= 6);
    assert_int_equal(fake_frame(60)[7], pte(3, HV_PTE_RW));
    assert_int_equal(frame_m2p_get(mfn(62)), 6);
    assert_int_equal(F(3)->type, FRAME_TYPE_L3);
    assert_true(F(3)->flags & FRAME_F_VALIDATED);
}

/* The table holding the pending entry cannot be devalidated meanwhile: an
 * unpin that would devalidate it needs the continuation record, which is
 * busy (HV_EBUSY, nothing changed). The request finishes, then the unpin
 * works. (Before devalidation was preemptible the unpin went through and
 * the resumed request failed with HV_EINVAL.) */
static void test_update_continuation_table_kept(void **state)
{
    (void)state;
    assert_int_equal(mm_pin(&da, mfn(60), 4), HV_OK);
    assert_int_equal(upd(&da, eaddr(60, 7), pte(3, HV_PTE_RW)), HV_EAGAIN);
    assert_int_equal(upd(&da, eaddr(60, 7), pte(3, HV_PTE_RW)), HV_EAGAIN);
    REFUSED(HV_EBUSY, mm_unpin(&da, mfn(60)));
    int rc;
    while ((rc = upd(&da, eaddr(60, 7), pte(3, HV_PTE_RW))) == HV_EAGAIN)
        ;
    assert_int_equal(rc, HV_OK);
    unsigned steps = 0;
    while ((rc = mm_unpin(&da, mfn(60))) == HV_EAGAIN)
        steps++;
    assert_int_equal(rc, HV_OK);
    assert_true(steps >= 5); /* half the tree below L3 3 goes with it */
    assert_int_equal(da.cont.op, MM_CONT_NONE);
    for (uint64_t m = 2; m < 100; m++)
        assert_int_equal(F(m)->type_count, 0);
}

static void test_teardown_aborts_pending(void **state)
{
    (void)state;
    assert_int_equal(mm_new_baseptr(&da, mfn(70)), HV_OK);
    assert_int_equal(mm_pin(&da, mfn(2), 4), HV_EAGAIN);
    assert_int_equal(mm_pin(&da, mfn(2), 4), HV_EAGAIN);
    mm_teardown_all(&da);
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
        fake_frame(9)[j] = pte(20 + j % 8, j % 2 ? HV_PTE_RW : 0);
    assert_int_equal(mm_pin(&da, mfn(9), 1), HV_OK);
}

/* A batch whose requests each validate a full L1 stops at a request
 * boundary once it did a budget's worth of work: one such request a call
 * (before, a batch of N did N budgets in one call). */
static void test_batch_bounded_by_work(void **state)
{
    (void)state;
    assert_int_equal(mm_pin(&da, mfn(50), 2), HV_OK);
    struct mm_update_req reqs[6];
    for (unsigned i = 0; i < 6; i++) {
        for (unsigned j = 0; j < PT_ENTRIES; j++)
            fake_frame(30 + i)[j] = pte(20 + j % 8, 0);
        reqs[i] = (struct mm_update_req){eaddr(50, 10 + i), pte(30 + i, HV_PTE_RW)};
    }
    unsigned applied = 0, calls = 0;
    uint32_t done;
    int rc;
    while ((rc = mm_mmu_update(&da, reqs + applied, 6 - applied, &done)) == HV_EAGAIN) {
        assert_int_equal(done, 1);
        applied += done;
        calls++;
        mm_audit(doms, 2);
    }
    assert_int_equal(rc, HV_OK);
    applied += done;
    assert_int_equal(applied, 6);
    assert_int_equal(calls, 5);
    for (unsigned i = 0; i < 6; i++)
        assert_true(F(30 + i)->flags & FRAME_F_VALIDATED);
    /* The same the other way: unlinking releases a full L1 each. */
    for (unsigned i = 0; i < 6; i++)
        reqs[i].val = 0;
    applied = calls = 0;
    while ((rc = mm_mmu_update(&da, reqs + applied, 6 - applied, &done)) == HV_EAGAIN) {
        applied += done;
        calls++;
    }
    applied += done;
    assert_int_equal(rc, HV_OK);
    assert_int_equal(applied, 6);
    assert_int_equal(calls, 5);
    assert_int_equal(F(30)->type_count, 0);
}

/* Pins the whole tree (L4 2) to completion. */
static void pin_tree(void)
{
    int rc;
    while ((rc = mm_pin(&da, mfn(2), 4)) == HV_EAGAIN)
        ;
    assert_int_equal(rc, HV_OK);
}

/* Overwriting the L4 entry to L3 3 drops the last reference of half the
 * tree: the request returns HV_EAGAIN (done not advanced) while the old
 * subtree is released a budget a call, and completes once it is gone.
 * Meanwhile other updates wait (HV_EBUSY) and the counts are exact. */
static void test_update_devalidates_old_subtree(void **state)
{
    (void)state;
    pin_tree();
    const struct mm_update_req req = {eaddr(2, 0), 0};
    uint32_t done = 99;
    unsigned again = 0;
    int rc;
    while ((rc = mm_mmu_update(&da, &req, 1, &done)) == HV_EAGAIN) {
        assert_int_equal(done, 0);
        assert_int_equal(fake_frame(2)[0], 0); /* written at once */
        assert_int_equal(da.cont.phase, MM_PHASE_DEVAL);
        mm_audit(doms, 2);
        REFUSED(HV_EBUSY, upd(&da, eaddr(2, 1), 0));
        again++;
        assert_true(again < 100);
    }
    assert_int_equal(rc, HV_OK);
    assert_int_equal(done, 1);
    /* L3 3, L2 5 and 6, L1 9..12: 512 + 2*512 + 4*512 entries. */
    assert_int_equal(again, (7u * 512 + BUDGET - 1) / BUDGET - 1);
    for (uint64_t m = 3; m <= 12; m++)
        if (m != 4 && m != 7 && m != 8)
            assert_int_equal(F(m)->type_count, 0);
    assert_true(F(4)->flags & FRAME_F_VALIDATED);
    mm_audit(doms, 2);
}

/* A new base whose old one held the last reference of the tree: the
 * switch happens at once, the old tree goes in steps. */
static void test_baseptr_devalidates_old_base(void **state)
{
    (void)state;
    int rc;
    while ((rc = mm_new_baseptr(&da, mfn(2))) == HV_EAGAIN)
        ;
    assert_int_equal(rc, HV_OK);
    unsigned again = 0;
    while ((rc = mm_new_baseptr(&da, mfn(70))) == HV_EAGAIN) {
        assert_int_equal(mfn_x(da.base), 70);
        mm_audit(doms, 2);
        REFUSED(HV_EBUSY, mm_pin(&da, mfn(71), 1));
        again++;
    }
    assert_int_equal(rc, HV_OK);
    assert_int_equal(again, (TREE_ENTRIES + BUDGET - 1) / BUDGET - 1);
    for (uint64_t m = 2; m <= 16; m++)
        assert_int_equal(F(m)->type_count, 0);
}

/* Teardown of a domain whose base and pins hold a tree: each call is
 * bounded, the counts are exact after each, and at the end every frame is
 * back to its allocation reference. (test_teardown_aborts_pending adds a
 * pending validation.) */
static void test_teardown_in_bounded_steps(void **state)
{
    (void)state;
    pin_tree();
    assert_int_equal(mm_new_baseptr(&da, mfn(2)), HV_OK);
    assert_int_equal(mm_pin(&da, mfn(9), 1), HV_OK); /* an L1 of the tree, pinned too */
    fake_frame(81)[3] = pte(82, 0);
    fake_frame(80)[0] = pte(81, HV_PTE_RW);
    int rc;
    while ((rc = mm_pin(&da, mfn(80), 2)) == HV_EAGAIN)
        ;
    assert_int_equal(rc, HV_OK);
    assert_int_equal(mm_pin(&da, mfn(50), 1), HV_OK);
    unsigned steps = 0;
    while (mm_domain_teardown(&da) == HV_EAGAIN) {
        mm_audit(doms, 2);
        steps++;
        assert_true(steps < 100);
    }
    assert_true(steps >= TREE_ENTRIES / BUDGET - 1);
    for (uint64_t m = 2; m < 100; m++) {
        assert_int_equal(F(m)->ref_count, 1);
        assert_int_equal(F(m)->type_count, 0);
    }
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
        cmocka_unit_test_setup_teardown(test_update_continuation_table_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_devalidates_old_subtree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_bounded_by_work, setup, teardown),
        cmocka_unit_test_setup_teardown(test_baseptr_devalidates_old_base, setup, teardown),
        cmocka_unit_test_setup_teardown(test_teardown_in_bounded_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_teardown_aborts_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_l1_single_call_default_budget, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
