/*
 * Grant copy: the grantee copies between granted frames and its own, with
 * every check of both sides (bounds, rights, page tables as destinations)
 * and a before/after snapshot for every refusal.
 */
#include "grant_fake.h"

#include <string.h>

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

static uint32_t ro_ref, rw_ref;
static uint64_t ro_frame, rw_frame, own, own2;

static int setup(void **state)
{
    (void)state;
    fake_setup(16);
    ro_frame = dom_frame(A, 5);
    rw_frame = dom_frame(A, 6);
    own = dom_frame(B, 5);
    own2 = dom_frame(B, 6);
    assert_int_equal(do_set(A, B, ro_frame, 0, &ro_ref), HV_OK);
    assert_int_equal(do_set(A, B, rw_frame, HV_GRANT_F_WRITE, &rw_ref), HV_OK);
    uint8_t *p = (uint8_t *)frame_mem(ro_frame);
    for (unsigned i = 0; i < PAGE_SIZE; i++)
        p[i] = (uint8_t)(i * 7 + 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    audit();
    fake_teardown();
    return 0;
}

static uint8_t *bytes(uint64_t m)
{
    return (uint8_t *)frame_mem(m);
}

static struct hv_grant_copy_seg gseg(uint32_t slot, uint32_t ref, uint16_t off)
{
    return (struct hv_grant_copy_seg){
        .domain_slot = slot, .ref = ref, .offset = off, .seg_flags = HV_GRANT_SEG_REF};
}

static struct hv_grant_copy_seg oseg(uint64_t m, uint16_t off)
{
    return (struct hv_grant_copy_seg){.mfn = m, .offset = off};
}

static int copy(unsigned who, struct hv_grant_copy_seg src, struct hv_grant_copy_seg dst,
                uint32_t len)
{
    struct hv_grant_copy_args a = {.src = src, .dst = dst, .len = len};
    return grant_copy(&D(who)->gt, &D(who)->caps, &a);
}

static void test_copy_directions(void **state)
{
    (void)state;
    /* granted (read-only) -> own */
    assert_int_equal(copy(B, gseg(A, ro_ref, 100), oseg(own, 200), 300), HV_OK);
    assert_memory_equal(bytes(own) + 200, bytes(ro_frame) + 100, 300);
    assert_int_equal(bytes(own)[199], 0);
    assert_int_equal(bytes(own)[500], 0);
    /* own -> granted (read-write) */
    assert_int_equal(copy(B, oseg(own, 200), gseg(A, rw_ref, 0), 300), HV_OK);
    assert_memory_equal(bytes(rw_frame), bytes(ro_frame) + 100, 300);
    /* granted -> granted, a whole page */
    assert_int_equal(copy(B, gseg(A, ro_ref, 0), gseg(A, rw_ref, 0), PAGE_SIZE), HV_OK);
    assert_memory_equal(bytes(rw_frame), bytes(ro_frame), PAGE_SIZE);
    /* own -> own, the last byte of a page */
    assert_int_equal(copy(B, oseg(own, 4095), oseg(own2, 4095), 1), HV_OK);
    assert_int_equal(bytes(own2)[4095], bytes(own)[4095]);
    /* overlapping, within one frame: memmove semantics */
    uint8_t expect[64];
    memcpy(expect, bytes(rw_frame) + 10, 64);
    assert_int_equal(copy(B, gseg(A, rw_ref, 10), gseg(A, rw_ref, 20), 64), HV_OK);
    assert_memory_equal(bytes(rw_frame) + 20, expect, 64);
    /* copies take no reference and leave no state behind */
    assert_int_equal(D(A)->gt.entries[ro_ref].map_count, 0);
    assert_int_equal(fm->grant_flushes, 0);
    /* A page table of the caller may be read */
    uint64_t pt = dom_frame(B, 7);
    assert_int_equal(mm_pin(&D(B)->mm, mfn(pt), 1), HV_OK);
    assert_int_equal(copy(B, oseg(pt, 0), oseg(own, 0), 8), HV_OK);
}

static void test_copy_bounds(void **state)
{
    (void)state;
    struct hv_grant_copy_args a = {
        .src = gseg(A, ro_ref, 0), .dst = oseg(own, 0), .len = 8, .reserved = 1};
    REFUSED(HV_EINVAL, grant_copy(&D(B)->gt, &D(B)->caps, &a));
    REFUSED(HV_EINVAL, copy(B, gseg(A, ro_ref, 0), oseg(own, 0), 0));
    REFUSED(HV_EINVAL, copy(B, gseg(A, ro_ref, 0), oseg(own, 0), PAGE_SIZE + 1));
    REFUSED(HV_EINVAL, copy(B, gseg(A, ro_ref, 0), oseg(own, 0), 0xffffffffu));
    REFUSED(HV_ERANGE, copy(B, gseg(A, ro_ref, 1), oseg(own, 0), PAGE_SIZE));
    REFUSED(HV_ERANGE, copy(B, gseg(A, ro_ref, 0), oseg(own, 1), PAGE_SIZE));
    REFUSED(HV_ERANGE, copy(B, gseg(A, ro_ref, 4095), oseg(own, 0), 2));
    REFUSED(HV_ERANGE, copy(B, gseg(A, ro_ref, 0xffff), oseg(own, 0), 1));
    REFUSED(HV_ERANGE, copy(B, oseg(own, 0), gseg(A, rw_ref, 4000), 97));
}

static void test_copy_segment_errors(void **state)
{
    (void)state;
    struct hv_grant_copy_seg s;
    s = gseg(A, ro_ref, 0);
    s.reserved = 1;
    REFUSED(HV_EINVAL, copy(B, s, oseg(own, 0), 8));
    s = gseg(A, ro_ref, 0);
    s.seg_flags = 2;
    REFUSED(HV_EINVAL, copy(B, s, oseg(own, 0), 8));
    s = gseg(A, ro_ref, 0);
    s.mfn = ro_frame; /* a grant side names no frame */
    REFUSED(HV_EINVAL, copy(B, s, oseg(own, 0), 8));
    s = oseg(own, 0);
    s.ref = 1; /* an own side names no grant */
    REFUSED(HV_EINVAL, copy(B, gseg(A, ro_ref, 0), s, 8));
    s = oseg(own, 0);
    s.domain_slot = C;
    REFUSED(HV_EINVAL, copy(B, gseg(A, ro_ref, 0), s, 8));
    /* naming the granter */
    REFUSED(HV_EINVAL, copy(B, gseg(HV_CAP_SLOT_SELF, ro_ref, 0), oseg(own, 0), 8));
    REFUSED(HV_EINVAL, copy(B, gseg(B, ro_ref, 0), oseg(own, 0), 8));
    REFUSED(HV_ENOENT, copy(B, gseg(SLOT_EMPTY, ro_ref, 0), oseg(own, 0), 8));
    REFUSED(HV_EPERM, copy(B, gseg(SLOT_CONSOLE, ro_ref, 0), oseg(own, 0), 8));
    /* the grant */
    REFUSED(HV_EINVAL, copy(B, gseg(A, 0, 0), oseg(own, 0), 8));
    REFUSED(HV_EINVAL, copy(B, gseg(A, GRANT_REFS, 0), oseg(own, 0), 8));
    REFUSED(HV_ENOENT, copy(B, gseg(A, 77, 0), oseg(own, 0), 8));
    REFUSED(HV_EPERM, copy(C, gseg(A, ro_ref, 0), oseg(dom_frame(C, 5), 0), 8)); /* B's */
    REFUSED(HV_EPERM, copy(B, oseg(own, 0), gseg(A, ro_ref, 0), 8));             /* read-only */
    /* own frames */
    REFUSED(HV_ERANGE, copy(B, oseg(fm->frames_count, 0), oseg(own, 0), 8));
    REFUSED(HV_EPERM, copy(B, oseg(ro_frame, 0), oseg(own, 0), 8));             /* A's, raw */
    REFUSED(HV_EPERM, copy(B, gseg(A, ro_ref, 0), oseg(rw_frame, 0), 8));       /* A's, raw */
    REFUSED(HV_EPERM, copy(B, oseg(0, 0), oseg(own, 0), 8));                    /* hypervisor's */
    REFUSED(HV_EPERM, copy(B, oseg(fm->frames_count - 1, 0), oseg(own, 0), 8)); /* free */
    /* A page table is never a destination. */
    uint64_t pt = dom_frame(B, 7);
    assert_int_equal(mm_pin(&D(B)->mm, mfn(pt), 1), HV_OK);
    REFUSED(HV_EBUSY, copy(B, gseg(A, ro_ref, 0), oseg(pt, 0), 8));
    /* An ended grant copies nothing. */
    assert_int_equal(do_end(A, ro_ref), HV_OK);
    REFUSED(HV_ENOENT, copy(B, gseg(A, ro_ref, 0), oseg(own, 0), 8));
    /* A dying granter's grants are not usable. */
    D(A)->dying = true;
    REFUSED(HV_ENOENT, copy(B, gseg(A, rw_ref, 0), oseg(own, 0), 8));
    D(A)->dying = false;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_copy_directions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_segment_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
