/*
 * Tests for the DMA remapping policy (hv/core/iommu.c) over a fake
 * architecture that keeps each space as a set of frames and logs every
 * call: who may turn on DMA (IOMMU on, absent, off-unsafe; the root; a
 * function another domain drives), a space created and filled on the
 * first attach and destroyed on the last detach, failures that leave
 * nothing behind, and frames entering and leaving a space (a frame that
 * could not be mapped is counted, and its removal invalidates nothing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iommu.h"

#define FRAMES 64u

struct arch_iommu_space {
    bool mapped[FRAMES];
    bool writable[FRAMES];
    unsigned attached;
};

static struct arch_iommu_space spaces[4];
static bool space_used[4];
static int create_budget, attach_fail, map_fail_mfn;
static unsigned unmaps, invalidations, detaches;
static struct arch_iommu_space *context[256];

/* The fake domain's frames: owned (0..9, 3 being a page table) and two
 * grants (40 read-only, 41 writable). */
static bool reported_once;

struct arch_iommu_space *arch_iommu_space_create(void)
{
    if (create_budget == 0)
        return NULL;
    create_budget--;
    for (unsigned i = 0; i < 4; i++)
        if (!space_used[i]) {
            space_used[i] = true;
            memset(&spaces[i], 0, sizeof(spaces[i]));
            return &spaces[i];
        }
    fail_msg("out of fake spaces");
    return NULL;
}

void arch_iommu_space_destroy(struct arch_iommu_space *s)
{
    assert_int_equal(s->attached, 0); /* only after every function is detached */
    space_used[s - spaces] = false;
}

enum hv_status arch_iommu_map(struct arch_iommu_space *s, mfn_t m, bool writable)
{
    assert_true(mfn_x(m) < FRAMES);
    if ((int)mfn_x(m) == map_fail_mfn)
        return HV_ENOMEM;
    s->mapped[mfn_x(m)] = true;
    s->writable[mfn_x(m)] = writable;
    return HV_OK;
}

bool arch_iommu_unmap(struct arch_iommu_space *s, mfn_t m)
{
    unmaps++;
    bool was = s->mapped[mfn_x(m)];
    s->mapped[mfn_x(m)] = false;
    invalidations += was;
    return was;
}

enum hv_status arch_iommu_attach(uint16_t bdf, struct arch_iommu_space *s)
{
    if (attach_fail)
        return HV_ENOMEM;
    assert_null(context[bdf & 0xff]);
    context[bdf & 0xff] = s;
    s->attached++;
    return HV_OK;
}

void arch_iommu_detach(uint16_t bdf)
{
    assert_non_null(context[bdf & 0xff]);
    context[bdf & 0xff]->attached--;
    context[bdf & 0xff] = NULL;
    detaches++;
}

void iommu_hook_dma_frames(domid_t dom, iommu_frame_fn fn, void *ctx)
{
    assert_int_equal(dom, 5);
    reported_once = true;
    for (unsigned m = 0; m < 10; m++)
        if (m != 3)
            fn(ctx, mfn(m), true);
    fn(ctx, mfn(40), false);
    fn(ctx, mfn(41), true);
}

static int setup(void **state)
{
    (void)state;
    memset(space_used, 0, sizeof(space_used));
    memset(context, 0, sizeof(context));
    create_budget = 100;
    attach_fail = 0;
    map_fail_mfn = -1;
    unmaps = invalidations = detaches = 0;
    reported_once = false;
    return 0;
}

static void test_rule(void **state)
{
    (void)state;
    bool attach;
    /* IOMMU on, function covered: anyone with the right; attach once. */
    assert_int_equal(iommu_dma_rule(IOMMU_ON, true, false, 5, DOMID_INVALID, &attach), HV_OK);
    assert_true(attach);
    assert_int_equal(iommu_dma_rule(IOMMU_ON, true, false, 5, 5, &attach), HV_OK);
    assert_false(attach);
    assert_int_equal(iommu_dma_rule(IOMMU_ON, true, true, 0, 5, &attach), HV_EBUSY);
    assert_int_equal(iommu_dma_rule(IOMMU_ON, true, false, 6, 5, &attach), HV_EBUSY);
    /* Not covered by a unit, or no IOMMU: the root only (unconfined). */
    assert_int_equal(iommu_dma_rule(IOMMU_ON, false, false, 5, DOMID_INVALID, &attach), HV_EPERM);
    assert_int_equal(iommu_dma_rule(IOMMU_ABSENT, false, false, 5, DOMID_INVALID, &attach),
                     HV_EPERM);
    assert_int_equal(iommu_dma_rule(IOMMU_ABSENT, true, true, 0, DOMID_INVALID, &attach), HV_OK);
    assert_false(attach);
    assert_int_equal(iommu_dma_rule(IOMMU_ON, false, true, 0, DOMID_INVALID, &attach), HV_OK);
    assert_false(attach);
    /* off-unsafe: everyone, unconfined. */
    assert_int_equal(iommu_dma_rule(IOMMU_OFF_UNSAFE, false, false, 5, DOMID_INVALID, &attach),
                     HV_OK);
    assert_false(attach);
}

static void test_attach_fill_detach(void **state)
{
    (void)state;
    struct iommu_dom d = {0};
    iommu_frame(&d, mfn(1), true, true); /* no space: nothing happens */
    iommu_frame(&d, mfn(1), false, true);
    assert_int_equal(unmaps, 0);

    assert_int_equal(iommu_attach(&d, 5, 0x0018), HV_OK);
    assert_true(reported_once);
    assert_non_null(d.space);
    assert_int_equal(d.funcs, 1);
    assert_int_equal(d.frames_mapped, 11);
    assert_true(d.space->mapped[0] && d.space->mapped[9] && d.space->writable[9]);
    assert_false(d.space->mapped[3]); /* the page table */
    assert_true(d.space->mapped[40] && !d.space->writable[40]);
    assert_true(d.space->writable[41]);
    /* A second function shares the space; no refill. */
    reported_once = false;
    assert_int_equal(iommu_attach(&d, 5, 0x0020), HV_OK);
    assert_false(reported_once);
    assert_int_equal(d.funcs, 2);
    assert_ptr_equal(context[0x20], d.space);

    /* A frame leaves (released, or becomes a page table): unmapped and
     * invalidated; one that comes back is mapped again. */
    iommu_frame(&d, mfn(9), false, true);
    assert_false(d.space->mapped[9]);
    assert_int_equal(invalidations, 1);
    assert_int_equal(d.frames_mapped, 10);
    iommu_frame(&d, mfn(3), true, true);
    assert_true(d.space->mapped[3]);
    assert_int_equal(d.frames_mapped, 11);
    /* A frame that cannot be mapped is counted; removing it invalidates
     * nothing and the count stays right. */
    map_fail_mfn = 12;
    iommu_frame(&d, mfn(12), true, true);
    assert_int_equal(d.map_failures, 1);
    assert_int_equal(d.frames_mapped, 11);
    iommu_frame(&d, mfn(12), false, true);
    assert_int_equal(invalidations, 1);
    assert_int_equal(d.frames_mapped, 11);

    iommu_detach(&d, 0x0018);
    assert_non_null(d.space);
    assert_null(context[0x18]);
    iommu_detach(&d, 0x0020);
    assert_null(d.space);
    assert_int_equal(d.funcs, 0);
    assert_int_equal(detaches, 2);
    iommu_detach(&d, 0x0020); /* nothing attached: nothing happens */
    assert_int_equal(detaches, 2);
    for (unsigned i = 0; i < 4; i++)
        assert_false(space_used[i]);
}

static void test_failures_leave_nothing(void **state)
{
    (void)state;
    struct iommu_dom d = {0};
    create_budget = 0;
    assert_int_equal(iommu_attach(&d, 5, 0x0018), HV_ENOMEM);
    assert_null(d.space);
    create_budget = 10;
    attach_fail = 1;
    assert_int_equal(iommu_attach(&d, 5, 0x0018), HV_ENOMEM);
    assert_null(d.space);
    assert_int_equal(d.funcs, 0);
    assert_int_equal(d.frames_mapped, 0);
    for (unsigned i = 0; i < 4; i++)
        assert_false(space_used[i]);
    /* With one function attached, a failing second attach keeps the space. */
    attach_fail = 0;
    assert_int_equal(iommu_attach(&d, 5, 0x0018), HV_OK);
    attach_fail = 1;
    assert_int_equal(iommu_attach(&d, 5, 0x0020), HV_ENOMEM);
    assert_non_null(d.space);
    assert_int_equal(d.funcs, 1);
    attach_fail = 0;
    iommu_detach(&d, 0x0018);
    assert_null(d.space);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_rule, setup),
        cmocka_unit_test_setup(test_attach_fill_detach, setup),
        cmocka_unit_test_setup(test_failures_leave_nothing, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
