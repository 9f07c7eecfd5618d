/*
 * Grant table operations of the granter and the grantee's look-up: making,
 * ending and inspecting grants, every error with a before/after snapshot,
 * and the frame-level guarantees of rule G1 (a granted frame stays alive,
 * owned and never a page table).
 */
#include "grant_fake.h"

#define A 0u /* granter */
#define B 1u /* grantee */
#define C 2u /* a third domain */

static int setup(void **state)
{
    (void)state;
    fake_setup(16);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_teardown();
    return 0;
}

static void test_set_status_end(void **state)
{
    (void)state;
    uint64_t m = dom_frame(A, 5);
    uint32_t ref, ref2;
    assert_int_equal(do_set(A, B, m, 0, &ref), HV_OK);
    assert_int_equal(ref, 1); /* lowest free, 0 never used */
    assert_int_equal(F(m)->ref_count, 2);
    assert_int_equal(F(m)->type, FRAME_TYPE_WRITABLE);
    assert_int_equal(F(m)->type_count, 1);
    assert_int_equal(do_set(A, C, m, HV_GRANT_F_WRITE, &ref2), HV_OK);
    assert_int_equal(ref2, 2);
    assert_int_equal(F(m)->ref_count, 3);
    audit();

    struct hv_grant_status_args st;
    assert_int_equal(do_status(A, ref, &st), HV_OK);
    assert_int_equal(st.flags, 0);
    assert_int_equal(st.map_count, 0);
    assert_int_equal(st.mfn, m);
    assert_int_equal(do_status(A, ref2, &st), HV_OK);
    assert_int_equal(st.flags, HV_GRANT_F_WRITE);

    assert_int_equal(do_end(A, ref), HV_OK);
    assert_int_equal(F(m)->ref_count, 2);
    assert_int_equal(do_end(A, ref2), HV_OK);
    assert_int_equal(F(m)->ref_count, 1);
    assert_int_equal(F(m)->type, FRAME_TYPE_NONE);
    assert_int_equal(D(A)->gt.live_count, 0);
    assert_int_equal(fm->grant_flushes, 0); /* never mapped: nothing to flush */
    audit();
    /* the freed ref is reused */
    assert_int_equal(do_set(A, B, m, 0, &ref), HV_OK);
    assert_int_equal(ref, 1);
    audit();
}

/* Runs a call expected to fail and checks that it changed nothing. */
#define REFUSED(expected, call)                                                                    \
    do {                                                                                           \
        struct snap s_;                                                                            \
        snap_take(&s_);                                                                            \
        assert_int_equal((call), (expected));                                                      \
        snap_check_same(&s_);                                                                      \
    } while (0)

static void test_set_errors(void **state)
{
    (void)state;
    uint64_t m = dom_frame(A, 5);
    uint32_t ref;
    struct hv_grant_set_args a = {.mfn = m, .grantee_slot = B, .reserved = 1};
    REFUSED(HV_EINVAL, grant_set(&D(A)->gt, &D(A)->caps, &a));
    REFUSED(HV_EINVAL, do_set(A, B, m, 1u << 1, NULL));           /* unknown flag */
    REFUSED(HV_EINVAL, do_set(A, B, m, HV_GRANT_F_IN_USE, NULL)); /* output-only flag */
    REFUSED(HV_EINVAL, do_set(A, HV_CAP_SLOT_SELF, m, 0, NULL));
    REFUSED(HV_EINVAL, do_set(A, HV_CAP_SLOTS, m, 0, NULL));
    REFUSED(HV_EINVAL, do_set(A, 0xfffffffeu, m, 0, NULL));
    REFUSED(HV_ENOENT, do_set(A, SLOT_EMPTY, m, 0, NULL));
    REFUSED(HV_EPERM, do_set(A, SLOT_CONSOLE, m, 0, NULL));
    REFUSED(HV_EPERM, do_set(A, SLOT_NORIGHT, m, 0, NULL));
    REFUSED(HV_EINVAL, do_set(A, A, m, 0, NULL)); /* a capability to itself */
    D(B)->dying = true;
    REFUSED(HV_ENOENT, do_set(A, B, m, 0, NULL));
    D(B)->dying = false;
    REFUSED(HV_ERANGE, do_set(A, B, fm->frames_count, 0, NULL));
    REFUSED(HV_ERANGE, do_set(A, B, ~0ull, 0, NULL));
    REFUSED(HV_EPERM, do_set(A, B, dom_frame(B, 5), 0, NULL));      /* the grantee's */
    REFUSED(HV_EPERM, do_set(A, B, dom_frame(C, 5), 0, NULL));      /* a third's */
    REFUSED(HV_EPERM, do_set(A, B, 0, 0, NULL));                    /* the hypervisor's */
    REFUSED(HV_EPERM, do_set(A, B, fm->frames_count - 1, 0, NULL)); /* free */
    assert_int_equal(do_set(A, B, m, 0, &ref), HV_OK);
    REFUSED(HV_EEXIST, do_set(A, B, m, 0, NULL));
    REFUSED(HV_EEXIST, do_set(A, B, m, HV_GRANT_F_WRITE, NULL));
    /* A page table cannot be granted. */
    uint64_t pt = dom_frame(A, 6);
    assert_int_equal(mm_pin(&D(A)->mm, mfn(pt), 1), HV_OK);
    REFUSED(HV_EBUSY, do_set(A, B, pt, 0, NULL));
    assert_int_equal(mm_unpin(&D(A)->mm, mfn(pt)), HV_OK);
    assert_int_equal(do_set(A, B, pt, 0, NULL), HV_OK); /* no longer a table */
    audit();
}

static int setup_big(void **state)
{
    (void)state;
    fake_setup(400);
    return 0;
}

static void test_table_full(void **state)
{
    (void)state;
    /* 1023 usable refs (ref 0 is never used): 341 frames to each of B, C, D. */
    for (uint64_t k = 0; k < 341; k++)
        for (unsigned g = 1; g < FAKE_DOMS; g++)
            assert_int_equal(do_set(A, g, dom_frame(A, k), 0, NULL), HV_OK);
    assert_int_equal(D(A)->gt.live_count, GRANT_REFS - 1);
    REFUSED(HV_ENOMEM, do_set(A, B, dom_frame(A, 399), 0, NULL));
    /* The duplicate check comes first. */
    REFUSED(HV_EEXIST, do_set(A, B, dom_frame(A, 0), 0, NULL));
    audit();
    assert_int_equal(do_end(A, 700), HV_OK);
    uint32_t ref;
    assert_int_equal(do_set(A, B, dom_frame(A, 399), 0, &ref), HV_OK);
    assert_int_equal(ref, 700);
    audit();
}

static void test_end_errors(void **state)
{
    (void)state;
    uint32_t ref;
    assert_int_equal(do_set(A, B, dom_frame(A, 5), 0, &ref), HV_OK);
    struct hv_grant_ref_args a = {.ref = ref, .reserved = 1};
    REFUSED(HV_EINVAL, grant_end(&D(A)->gt, &a));
    REFUSED(HV_EINVAL, do_end(A, 0));
    REFUSED(HV_EINVAL, do_end(A, GRANT_REFS));
    REFUSED(HV_EINVAL, do_end(A, 0xffffffffu));
    REFUSED(HV_ENOENT, do_end(A, ref + 1)); /* never made */
    REFUSED(HV_ENOENT, do_end(B, ref));     /* the grantee cannot end it */
    assert_int_equal(do_end(A, ref), HV_OK);
    REFUSED(HV_ENOENT, do_end(A, ref)); /* double end */
    audit();
}

static void test_status_errors(void **state)
{
    (void)state;
    uint32_t ref;
    assert_int_equal(do_set(A, B, dom_frame(A, 5), HV_GRANT_F_WRITE, &ref), HV_OK);
    struct hv_grant_status_args a = {.ref = ref, .reserved = 7};
    REFUSED(HV_EINVAL, grant_status(&D(A)->gt, &a));
    assert_int_equal(a.flags, 0); /* no output on error */
    REFUSED(HV_EINVAL, do_status(A, 0, NULL));
    REFUSED(HV_EINVAL, do_status(A, GRANT_REFS, NULL));
    REFUSED(HV_ENOENT, do_status(A, ref + 1, NULL));
    REFUSED(HV_ENOENT, do_status(B, ref, NULL));
    /* Output fields passed in are ignored. */
    struct hv_grant_status_args b = {.ref = ref, .flags = 0xff, .map_count = 9, .mfn = 3};
    assert_int_equal(grant_status(&D(A)->gt, &b), HV_OK);
    assert_int_equal(b.flags, HV_GRANT_F_WRITE);
    assert_int_equal(b.map_count, 0);
    assert_int_equal(b.mfn, dom_frame(A, 5));
}

static int do_query(unsigned grantee, uint32_t slot, uint32_t ref, struct hv_grant_query_args *out)
{
    struct hv_grant_query_args a = {.granter_slot = slot, .ref = ref, .mfn = 0x5a5a};
    int rc = grant_query(&D(grantee)->gt, &D(grantee)->caps, &a);
    if (rc != HV_OK)
        assert_int_equal(a.mfn, 0x5a5a);
    if (out)
        *out = a;
    return rc;
}

static void test_query(void **state)
{
    (void)state;
    uint32_t ro, rw;
    assert_int_equal(do_set(A, B, dom_frame(A, 5), 0, &ro), HV_OK);
    assert_int_equal(do_set(A, B, dom_frame(A, 6), HV_GRANT_F_WRITE, &rw), HV_OK);
    struct hv_grant_query_args q;
    assert_int_equal(do_query(B, A, ro, &q), HV_OK);
    assert_int_equal(q.mfn, dom_frame(A, 5));
    assert_int_equal(q.flags, 0);
    assert_int_equal(do_query(B, A, rw, &q), HV_OK);
    assert_int_equal(q.mfn, dom_frame(A, 6));
    assert_int_equal(q.flags, HV_GRANT_F_WRITE);

    struct hv_grant_query_args bad = {.granter_slot = A, .ref = ro, .reserved = 1};
    REFUSED(HV_EINVAL, grant_query(&D(B)->gt, &D(B)->caps, &bad));
    REFUSED(HV_EINVAL, do_query(B, HV_CAP_SLOT_SELF, ro, NULL));
    REFUSED(HV_EINVAL, do_query(B, B, ro, NULL)); /* names itself */
    REFUSED(HV_ENOENT, do_query(B, SLOT_EMPTY, ro, NULL));
    REFUSED(HV_EPERM, do_query(B, SLOT_CONSOLE, ro, NULL));
    REFUSED(HV_EINVAL, do_query(B, A, 0, NULL));
    REFUSED(HV_EINVAL, do_query(B, A, GRANT_REFS, NULL));
    REFUSED(HV_ENOENT, do_query(B, A, rw + 1, NULL)); /* no grant there */
    REFUSED(HV_EPERM, do_query(C, A, ro, NULL));      /* granted to B, not C */
    REFUSED(HV_ENOENT, do_query(B, C, ro, NULL));     /* C has no such grant */
    D(A)->dying = true;
    REFUSED(HV_ENOENT, do_query(B, A, ro, NULL));
    D(A)->dying = false;
    assert_int_equal(do_end(A, ro), HV_OK);
    REFUSED(HV_ENOENT, do_query(B, A, ro, NULL)); /* ended */
}

/* G1: while granted, a frame cannot be released or become a page table. */
static void test_granted_frame_is_held(void **state)
{
    (void)state;
    uint64_t m = dom_frame(A, 7);
    uint32_t ref;
    assert_int_equal(do_set(A, B, m, 0, &ref), HV_OK);
    REFUSED(HV_EBUSY, frame_release(mfn(m), D(A)->id));
    for (unsigned level = 1; level <= 4; level++)
        REFUSED(HV_EBUSY, mm_pin(&D(A)->mm, mfn(m), level));
    REFUSED(HV_EBUSY, mm_new_baseptr(&D(A)->mm, mfn(m)));
    /* The granter may still map it itself, writable or not. */
    assert_int_equal(do_end(A, ref), HV_OK);
    assert_int_equal(frame_release(mfn(m), D(A)->id), HV_OK);
    assert_int_equal(F(m)->owner, DOMID_INVALID);
    audit();
}

/* A frame given back and reassigned cannot be used through an old grant:
 * release is refused while granted, so a grant never outlives ownership. */
static void test_set_after_release(void **state)
{
    (void)state;
    uint64_t m = dom_frame(A, 8);
    assert_int_equal(frame_release(mfn(m), D(A)->id), HV_OK);
    REFUSED(HV_EPERM, do_set(A, B, m, 0, NULL));
    assert_int_equal(frame_assign(mfn(m), D(C)->id), HV_OK);
    REFUSED(HV_EPERM, do_set(A, B, m, 0, NULL));
    audit();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_status_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_full, setup_big, teardown),
        cmocka_unit_test_setup_teardown(test_end_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_granted_frame_is_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_after_release, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
