/*
 * One test per validation rule of issue 3 item 2: each shows the rule
 * accepts what it must and refuses what it must, and that every refused
 * call changes nothing (counts, types, flags, contents, M2P).
 * Frames: 0,1 hypervisor; 2..31 DOM_A; 32..47 DOM_B; 48..63 free.
 */
#include "mm_test.h"

static struct mm_domain da, db;
static struct mm_domain *const doms[] = {&da, &db};

static int setup(void **state)
{
    (void)state;
    fake_setup(64, 52, 4096);
    give(DOM_A, 2, 30);
    give(DOM_B, 32, 16);
    mm_domain_init(&da, DOM_A);
    mm_domain_init(&db, DOM_B);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return mm_test_teardown(doms, 2);
}

/* Asserts that `call` returns `want` and changes nothing. */
/* Rule: a frame changes type only at type count zero; validating a table
 * takes type references on what it maps. */
static void test_type_changes_only_at_zero(void **state)
{
    (void)state;
    fake_frame(10)[0] = pte(20, HV_PTE_RW);
    assert_int_equal(mm_pin(&da, mfn(10), 1), HV_OK);
    assert_int_equal(F(20)->type, FRAME_TYPE_WRITABLE);
    assert_int_equal(F(20)->type_count, 1);
    assert_int_equal(F(20)->ref_count, 2);
    REFUSED(HV_EBUSY, mm_pin(&da, mfn(20), 1));
    REFUSED(HV_EBUSY, mm_pin(&da, mfn(20), 4));
    assert_int_equal(upd(&da, eaddr(10, 0), 0), HV_OK);
    assert_int_equal(F(20)->type, FRAME_TYPE_NONE);
    assert_int_equal(F(20)->type_count, 0);
    assert_int_equal(F(20)->ref_count, 1);
    assert_int_equal(mm_pin(&da, mfn(20), 1), HV_OK);
    assert_int_equal(F(20)->type, FRAME_TYPE_L1);

    /* An L2 takes an L1 type reference on each L1 it maps. */
    fake_frame(11)[0] = pte(12, HV_PTE_RW);
    fake_frame(11)[7] = pte(12, 0);
    assert_int_equal(mm_pin(&da, mfn(11), 2), HV_OK);
    assert_int_equal(F(12)->type, FRAME_TYPE_L1);
    assert_int_equal(F(12)->type_count, 2);
    assert_int_equal(F(12)->ref_count, 3);
    assert_true(F(12)->flags & FRAME_F_VALIDATED);
    REFUSED(HV_EBUSY, mm_pin(&da, mfn(12), 2));
    assert_int_equal(mm_pin(&da, mfn(12), 1), HV_OK);
    assert_int_equal(F(12)->type_count, 3);
    /* Unpinning the L2 drops its references; the pinned L1 stays. */
    assert_int_equal(mm_unpin(&da, mfn(11)), HV_OK);
    assert_int_equal(F(11)->type, FRAME_TYPE_NONE);
    assert_int_equal(F(12)->type_count, 1);
    assert_true(F(12)->flags & FRAME_F_VALIDATED);
}

/* Rule: a page-table frame of any level is never mapped writable. */
static void test_page_table_never_writable(void **state)
{
    (void)state;
    /* A chain L4 2 -> L3 3 -> L2 4 -> L1 5, pinned at the top. */
    fake_frame(2)[0] = pte(3, HV_PTE_RW);
    fake_frame(3)[0] = pte(4, HV_PTE_RW);
    fake_frame(4)[0] = pte(5, HV_PTE_RW);
    assert_int_equal(mm_pin(&da, mfn(2), 4), HV_OK);
    for (uint64_t t = 2; t <= 5; t++) {
        REFUSED(HV_EBUSY, upd(&da, eaddr(5, 1), pte(t, HV_PTE_RW)));
        /* Read-only is fine: guests read their tables directly. */
        assert_int_equal(upd(&da, eaddr(5, 1), pte(t, 0)), HV_OK);
        assert_int_equal(upd(&da, eaddr(5, 1), 0), HV_OK);
    }
    /* The L1 mapping itself writable, through validation: refused. */
    fake_frame(6)[3] = pte(6, HV_PTE_RW);
    REFUSED(HV_EBUSY, mm_pin(&da, mfn(6), 1));
    /* An L2 whose L1 maps the L2 writable: refused, nothing left behind. */
    fake_frame(6)[3] = 0;
    fake_frame(7)[1] = pte(6, HV_PTE_RW);
    fake_frame(6)[9] = pte(7, HV_PTE_RW);
    REFUSED(HV_EBUSY, mm_pin(&da, mfn(7), 2));
    /* A writably mapped frame cannot become a table at any level, nor be
     * installed as one by an update. */
    assert_int_equal(upd(&da, eaddr(5, 2), pte(20, HV_PTE_RW)), HV_OK);
    for (unsigned l = 1; l <= 4; l++)
        REFUSED(HV_EBUSY, mm_pin(&da, mfn(20), l));
    REFUSED(HV_EBUSY, upd(&da, eaddr(4, 3), pte(20, HV_PTE_RW)));
    REFUSED(HV_EBUSY, mm_new_baseptr(&da, mfn(20)));
}

/* Rule: a table maps only frames its domain may map. */
static void test_may_map_only_permitted_frames(void **state)
{
    (void)state;
    assert_int_equal(mm_pin(&da, mfn(5), 1), HV_OK);
    assert_int_equal(mm_pin(&da, mfn(4), 2), HV_OK);
    /* Own frames: yes. */
    assert_int_equal(upd(&da, eaddr(5, 0), pte(20, HV_PTE_RW)), HV_OK);
    /* Another domain's frame: no, unless the hook allows it. */
    REFUSED(HV_EPERM, upd(&da, eaddr(5, 1), pte(32, 0)));
    REFUSED(HV_EPERM, upd(&da, eaddr(5, 1), pte(32, HV_PTE_RW)));
    fake_allow_foreign(DOM_A, 32, false);
    assert_int_equal(upd(&da, eaddr(5, 1), pte(32, 0)), HV_OK);
    REFUSED(HV_EPERM, upd(&da, eaddr(5, 2), pte(32, HV_PTE_RW)));
    fake_allow_foreign(DOM_A, 32, true);
    assert_int_equal(upd(&da, eaddr(5, 2), pte(32, HV_PTE_RW)), HV_OK);
    assert_int_equal(F(32)->type, FRAME_TYPE_WRITABLE);
    /* ... but never as a page table, even when the hook says yes. */
    fake_allow_foreign(DOM_A, 33, true);
    REFUSED(HV_EPERM, upd(&da, eaddr(4, 0), pte(33, 0)));
    REFUSED(HV_EPERM, mm_pin(&da, mfn(33), 1));
    /* Hypervisor and free frames: never, whatever the hook says. */
    fake_allow_foreign(DOM_A, 1, true);
    REFUSED(HV_EPERM, upd(&da, eaddr(5, 3), pte(1, 0)));
    fake_allow_foreign(DOM_A, 50, true);
    REFUSED(HV_EPERM, upd(&da, eaddr(5, 3), pte(50, 0)));
    REFUSED(HV_EPERM, mm_pin(&da, mfn(1), 1));
    /* Frames outside the table. */
    REFUSED(HV_ERANGE, upd(&da, eaddr(5, 3), pte(64, 0)));
    REFUSED(HV_ERANGE, upd(&da, eaddr(5, 3), pte(1ull << 39, 0)));
    REFUSED(HV_ERANGE, mm_pin(&da, mfn(64), 1));
    /* The same rule applies during validation. */
    fake_frame(6)[100] = pte(40, 0);
    REFUSED(HV_EPERM, mm_pin(&da, mfn(6), 1));
}

struct bit_case {
    unsigned level;
    uint64_t bits;
    int want;
};

/* Rule: entries with bits that must not be set at their level are refused;
 * the harmless ones are accepted. */
static void test_forbidden_bits(void **state)
{
    (void)state;
    fake_teardown();
    fake_setup(64, 40, 4096); /* MAXPHYADDR 40: address bits 40..51 reserved */
    give(DOM_A, 2, 30);
    give(DOM_B, 32, 16);
    fake_frame(2)[0] = pte(3, HV_PTE_RW);
    fake_frame(3)[0] = pte(4, HV_PTE_RW);
    fake_frame(4)[0] = pte(5, HV_PTE_RW);
    assert_int_equal(mm_pin(&da, mfn(2), 4), HV_OK);
    /* Fresh targets for entry 1 of each level. */
    const uint64_t table_of_level[5] = {0, 5, 4, 3, 2};
    const uint64_t target_for_level[5] = {0, 20, 6, 7, 8};
    const struct bit_case cases[] = {
        {1, HV_PTE_PS, HV_EINVAL}, /* PAT */
        {2, HV_PTE_PS, HV_EINVAL}, /* 2 MiB superpage */
        {3, HV_PTE_PS, HV_EINVAL}, /* 1 GiB superpage */
        {4, HV_PTE_PS, HV_EINVAL}, /* reserved */
        {1, HV_PTE_G, HV_EINVAL},
        {2, HV_PTE_G, HV_EINVAL},
        {3, HV_PTE_G, HV_EINVAL},
        {4, HV_PTE_G, HV_EINVAL},
        {1, 1ull << 45, HV_EINVAL},
        {2, 1ull << 40, HV_EINVAL},
        {3, 1ull << 51, HV_EINVAL},
        {4, 1ull << 47, HV_EINVAL},
        {1, HV_PTE_NX | HV_PTE_A | HV_PTE_D | HV_PTE_PWT | HV_PTE_PCD, HV_OK},
        {2, HV_PTE_NX | HV_PTE_A | HV_PTE_PWT | HV_PTE_PCD | HV_PTE_AVAIL_LOW, HV_OK},
        {3, HV_PTE_AVAIL_HIGH | HV_PTE_AVAIL_LOW, HV_OK},
        {4, HV_PTE_NX | HV_PTE_AVAIL_HIGH, HV_OK},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const struct bit_case *c = &cases[i];
        uint64_t val = pte(target_for_level[c->level], c->bits);
        uint64_t ptr = eaddr(table_of_level[c->level], 1);
        if (c->want != HV_OK) {
            REFUSED(c->want, upd(&da, ptr, val));
        } else {
            assert_int_equal(upd(&da, ptr, val), HV_OK);
            mm_audit(doms, 2);
            assert_int_equal(upd(&da, ptr, 0), HV_OK);
        }
    }
    /* US clear (a supervisor mapping) is refused at every level. */
    for (unsigned l = 1; l <= 4; l++)
        REFUSED(HV_EINVAL,
                upd(&da, eaddr(table_of_level[l], 1), pte(target_for_level[l], 0) & ~HV_PTE_US));
    /* Non-present entries may hold anything and take nothing. */
    assert_int_equal(upd(&da, eaddr(5, 9), ~HV_PTE_P), HV_OK);
    assert_int_equal(upd(&da, eaddr(2, 9), ~HV_PTE_P), HV_OK);
    /* Validation applies the same rules. */
    fake_frame(9)[300] = pte(21, HV_PTE_G);
    REFUSED(HV_EINVAL, mm_pin(&da, mfn(9), 1));
    fake_frame(9)[300] = pte(10, HV_PTE_PS);
    REFUSED(HV_EINVAL, mm_pin(&da, mfn(9), 2));
    fake_frame(9)[300] = pte(21, 0);
    assert_int_equal(mm_pin(&da, mfn(9), 1), HV_OK);
}

/* Rule: the hypervisor's L4 slots are in every L4 and never change. */
static void test_hypervisor_l4_slots(void **state)
{
    (void)state;
    uint64_t *l4 = fake_frame(2);
    l4[0] = pte(3, HV_PTE_RW);
    l4[300] = pte(20, HV_PTE_RW); /* guest garbage in a hypervisor slot */
    l4[511] = 0x1234;
    assert_int_equal(mm_pin(&da, mfn(2), 4), HV_OK);
    for (unsigned i = PT_HV_L4_FIRST; i < PT_ENTRIES; i++)
        assert_int_equal(l4[i], fake.l4_template[i - PT_HV_L4_FIRST]);
    assert_int_equal(F(20)->ref_count, 1); /* the garbage took nothing */
    assert_int_equal(F(1)->ref_count, 1);  /* nor did the template */
    REFUSED(HV_EPERM, upd(&da, eaddr(2, 256), 0));
    REFUSED(HV_EPERM, upd(&da, eaddr(2, 511), pte(20, 0)));
    REFUSED(HV_EPERM, upd(&da, eaddr(2, 400), l4[400]));
    assert_int_equal(upd(&da, eaddr(2, 255), pte(8, 0)), HV_OK);
    /* The same with a base pointer, and for a second L4. */
    fake_frame(9)[PT_HV_L4_FIRST] = 77;
    assert_int_equal(mm_new_baseptr(&da, mfn(9)), HV_OK);
    assert_int_equal(fake_frame(9)[PT_HV_L4_FIRST], fake.l4_template[0]);
    REFUSED(HV_EPERM, upd(&da, eaddr(9, PT_HV_L4_FIRST), 0));
    /* Devalidation clears the slots (no hypervisor addresses leak). */
    assert_int_equal(mm_unpin(&da, mfn(2)), HV_OK);
    for (unsigned i = PT_HV_L4_FIRST; i < PT_ENTRIES; i++)
        assert_int_equal(l4[i], 0);
    assert_int_equal(F(2)->type, FRAME_TYPE_NONE);
    /* Not an L4 any more: no update of it at all. */
    REFUSED(HV_EINVAL, upd(&da, eaddr(2, 0), 0));
}

/* Rule: linear (recursive) page tables are refused (see docs/mm.md). */
static void test_linear_page_tables_refused(void **state)
{
    (void)state;
    fake_frame(2)[0] = pte(2, 0); /* L4 pointing at itself */
    REFUSED(HV_EBUSY, mm_pin(&da, mfn(2), 4));
    REFUSED(HV_EBUSY, mm_new_baseptr(&da, mfn(2)));
    fake_frame(2)[0] = 0;
    assert_int_equal(mm_pin(&da, mfn(2), 4), HV_OK);
    REFUSED(HV_EBUSY, upd(&da, eaddr(2, 5), pte(2, 0)));
    /* Another (validated) L4 as an L3: refused. */
    fake_frame(9)[0] = pte(2, 0);
    REFUSED(HV_EBUSY, mm_pin(&da, mfn(9), 4));
    /* Same for L3 and L2 tables pointing at themselves. */
    fake_frame(3)[4] = pte(3, 0);
    REFUSED(HV_EBUSY, mm_pin(&da, mfn(3), 3));
    fake_frame(4)[4] = pte(4, 0);
    REFUSED(HV_EBUSY, mm_pin(&da, mfn(4), 2));
    /* An L1 that maps itself read-only is an ordinary read-only mapping of
     * a page table, which is allowed. */
    fake_frame(5)[4] = pte(5, 0);
    assert_int_equal(mm_pin(&da, mfn(5), 1), HV_OK);
    assert_int_equal(F(5)->ref_count, 3);
}

/* Rule: large tables are validated with bounded work per call (more in
 * test_cont.c): one call examines at most the configured budget. */
static void test_validation_budget_bounds_work(void **state)
{
    (void)state;
    fake_teardown();
    fake_setup(64, 52, 100);
    give(DOM_A, 2, 30);
    for (unsigned i = 0; i < PT_ENTRIES; i++)
        fake_frame(5)[i] = pte(20 + i % 8, 0);
    unsigned calls = 0;
    int rc;
    while ((rc = mm_pin(&da, mfn(5), 1)) == HV_EAGAIN) {
        calls++;
        assert_int_equal(F(5)->partial_index, 100 * calls);
        mm_audit(doms, 2);
    }
    assert_int_equal(rc, HV_OK);
    assert_int_equal(calls, 5); /* 512 entries, 100 per call */
    assert_int_equal(F(20)->ref_count, 1 + 64);
}

/* Rule R3a: an L1 target outside the frame table (an I/O frame) is
 * accepted only when the hook allows it (read-only, and writable for RW),
 * takes no reference anywhere, is dropped without touching anything, and
 * can never be a page table. */
static void test_io_frames_outside_the_table(void **state)
{
    (void)state;
    const uint64_t io = 64, high = 1ull << 39;
    assert_int_equal(mm_pin(&da, mfn(5), 1), HV_OK);
    assert_int_equal(mm_pin(&da, mfn(4), 2), HV_OK);
    /* Not allowed at all: HV_ERANGE, as for a frame that does not exist. */
    REFUSED(HV_ERANGE, upd(&da, eaddr(5, 1), pte(io, 0)));
    REFUSED(HV_ERANGE, upd(&da, eaddr(5, 1), pte(io, HV_PTE_RW)));
    /* Read-only allowed: a read-only entry takes nothing; RW is HV_EPERM. */
    fake_allow_foreign(DOM_A, io, false);
    struct snap s;
    snap_take(&s);
    assert_int_equal(upd(&da, eaddr(5, 1), pte(io, HV_PTE_PCD | HV_PTE_PWT)), HV_OK);
    assert_int_equal(fake_frame(5)[1], pte(io, HV_PTE_PCD | HV_PTE_PWT));
    fake_frame(5)[1] = 0; /* everything but this entry is as before */
    snap_check_same(&s);
    fake_frame(5)[1] = pte(io, HV_PTE_PCD | HV_PTE_PWT);
    mm_audit(doms, 2);
    REFUSED(HV_EPERM, upd(&da, eaddr(5, 2), pte(io, HV_PTE_RW)));
    /* Only for the domain the hook names. */
    assert_int_equal(mm_pin(&db, mfn(33), 1), HV_OK);
    REFUSED(HV_ERANGE, upd(&db, eaddr(33, 0), pte(io, 0)));
    /* Writable allowed, also far above RAM. */
    fake_allow_foreign(DOM_A, io, true);
    fake_allow_foreign(DOM_A, high, true);
    assert_int_equal(upd(&da, eaddr(5, 2), pte(io, HV_PTE_RW)), HV_OK);
    assert_int_equal(upd(&da, eaddr(5, 3), pte(high, HV_PTE_RW)), HV_OK);
    mm_audit(doms, 2);
    /* Never a page table, whatever the hook says. */
    REFUSED(HV_ERANGE, upd(&da, eaddr(4, 1), pte(io, 0)));
    REFUSED(HV_ERANGE, mm_pin(&da, mfn(io), 1));
    /* Dropping such entries (overwrite, then devalidation) touches nothing. */
    snap_take(&s);
    assert_int_equal(upd(&da, eaddr(5, 3), 0), HV_OK);
    fake_frame(5)[3] = pte(high, HV_PTE_RW);
    snap_check_same(&s);
    fake_frame(5)[3] = 0;
    assert_int_equal(mm_unpin(&da, mfn(4)), HV_OK);
    assert_int_equal(mm_unpin(&da, mfn(5)), HV_OK);
    assert_int_equal(F(5)->type_count, 0);
    assert_int_equal(F(5)->ref_count, 1);
    mm_audit(doms, 2);
    /* Validation applies the same rule: an L1 holding a writable entry to
     * a read-only I/O frame is refused and unwound. */
    fake_allow_foreign(DOM_A, 65, false);
    fake_frame(6)[0] = pte(20, HV_PTE_RW);
    fake_frame(6)[1] = pte(65, 0);
    fake_frame(6)[2] = pte(65, HV_PTE_RW);
    REFUSED(HV_EPERM, mm_pin(&da, mfn(6), 1));
    fake_frame(6)[2] = pte(66, 0);
    REFUSED(HV_ERANGE, mm_pin(&da, mfn(6), 1));
    fake_frame(6)[2] = pte(io, HV_PTE_RW);
    assert_int_equal(mm_pin(&da, mfn(6), 1), HV_OK);
    assert_int_equal(F(20)->type, FRAME_TYPE_WRITABLE);
    mm_audit(doms, 2);
    assert_int_equal(mm_unpin(&da, mfn(6)), HV_OK);
    assert_int_equal(F(20)->type_count, 0);
}

/* DMA (docs/devices.md, "The ordering rule"): a domain's devices reach
 * exactly its frames that are not page tables, and a frame leaves their
 * reach before it becomes a page table (before validation reads it) and
 * before it leaves its owner. The fake mm_dma_frame counts every call made
 * too late (owner gone, or validation begun): none may be. */
static void test_dma_reach_follows_type_and_owner(void **state)
{
    (void)state;
    assert_int_equal(fake.dma_dom[10], DOM_A);        /* given: in reach */
    assert_int_equal(fake.dma_dom[0], DOMID_INVALID); /* the hypervisor's: never */
    fake_frame(10)[0] = pte(20, HV_PTE_RW);
    assert_int_equal(mm_pin(&da, mfn(10), 1), HV_OK);
    assert_int_equal(fake.dma_dom[10], DOMID_INVALID); /* a page table: out of reach */
    assert_int_equal(fake.dma_dom[20], DOM_A);         /* what it maps stays */
    assert_int_equal(fake.dma_order_breaches, 0);
    mm_audit(doms, 2);
    assert_int_equal(mm_unpin(&da, mfn(10)), HV_OK);
    assert_int_equal(fake.dma_dom[10], DOM_A); /* a page table no more */
    /* Given back: out of reach while still the domain's, then free. */
    unsigned calls = fake.dma_calls;
    assert_int_equal(frame_release(mfn(30), DOM_A), HV_OK);
    assert_int_equal(fake.dma_calls, calls + 1);
    assert_int_equal(fake.dma_dom[30], DOMID_INVALID);
    /* Moved to another domain: out of the old one's reach, into the new's. */
    assert_int_equal(frame_transfer(mfn(29), DOM_A, DOM_B), HV_OK);
    assert_int_equal(fake.dma_dom[29], DOM_B);
    assert_int_equal(fake.dma_order_breaches, 0);
    mm_audit(doms, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_type_changes_only_at_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_table_never_writable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_may_map_only_permitted_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forbidden_bits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hypervisor_l4_slots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_linear_page_tables_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation_budget_bounds_work, setup, teardown),
        cmocka_unit_test_setup_teardown(test_io_frames_outside_the_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dma_reach_follows_type_and_owner, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
