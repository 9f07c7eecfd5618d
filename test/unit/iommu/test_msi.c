/*
 * Tests for the message-interrupt vector table (hv/core/msi.c): what a
 * domain may ask for (kind, count against the function's capability and
 * the per-function maximum), the machine running out of vectors, a second
 * set-up on a busy function, another domain's vectors, the vector <-> slot
 * mapping (stale and foreign vectors), and random enable/disable sequences
 * against the invariant that no vector has two owners.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "msi.h"

static struct msi_table t;

static int setup(void **state)
{
    (void)state;
    memset(&t, 0xa5, sizeof(t));
    msi_table_init(&t);
    return 0;
}

static void test_rules(void **state)
{
    (void)state;
    struct msi_func f = {0};
    /* owner 0 is no domain; kinds; capabilities missing. */
    assert_int_equal(msi_enable(&t, &f, 3, 0, HV_PCI_MSIX, 1, true, 4, 0), HV_EINVAL);
    assert_int_equal(msi_enable(&t, &f, 3, 7, 0, 1, true, 4, 0), HV_EINVAL);
    assert_int_equal(msi_enable(&t, &f, 3, 7, 3, 1, true, 4, 0), HV_EINVAL);
    assert_int_equal(msi_enable(&t, &f, 3, 7, HV_PCI_MSI, 1, false, 4, 0), HV_ENOTSUP);
    assert_int_equal(msi_enable(&t, &f, 3, 7, HV_PCI_MSIX, 1, true, 0, 0), HV_ENOTSUP);
    /* counts: 0, above the capability, above the per-function maximum */
    assert_int_equal(msi_enable(&t, &f, 3, 7, HV_PCI_MSIX, 0, true, 4, 0), HV_EINVAL);
    assert_int_equal(msi_enable(&t, &f, 3, 7, HV_PCI_MSIX, 5, true, 4, 0), HV_EINVAL);
    assert_int_equal(msi_enable(&t, &f, 3, 7, HV_PCI_MSI, 2, true, 4, 0), HV_EINVAL);
    assert_int_equal(msi_enable(&t, &f, 3, 7, HV_PCI_MSIX, MSI_PER_FUNC + 1, true, 2048, 0),
                     HV_EINVAL);
    assert_int_equal(t.used_count, 0);
    assert_int_equal(f.kind, 0);
    assert_int_equal(msi_check_owner(&f, 7), HV_ENOENT);
    assert_int_equal(msi_slot_of(&f, 0), -1);

    assert_int_equal(msi_enable(&t, &f, 3, 7, HV_PCI_MSIX, 4, true, 4, 1), HV_OK);
    assert_int_equal(t.used_count, 4);
    assert_int_equal(f.count, 4);
    assert_int_equal(msi_check_owner(&f, 7), HV_OK);
    assert_int_equal(msi_check_owner(&f, 8), HV_EPERM);
    for (uint32_t i = 0; i < 4; i++) {
        int s = msi_slot_of(&f, i);
        assert_true(s >= 0 && s < (int)MSI_VECTORS);
        assert_true(t.v[s].used);
        assert_int_equal(t.v[s].func, 3);
        assert_int_equal(t.v[s].entry, i);
        assert_int_equal(t.v[s].cpu, 1);
        assert_int_equal(msi_slot_of_vector(&t, msi_vector_number((uint32_t)s)), s);
    }
    assert_int_equal(msi_slot_of(&f, 4), -1);
    /* Busy: by the same domain or another. */
    assert_int_equal(msi_enable(&t, &f, 3, 7, HV_PCI_MSIX, 1, true, 4, 0), HV_EBUSY);
    assert_int_equal(msi_enable(&t, &f, 3, 8, HV_PCI_MSI, 1, true, 4, 0), HV_EBUSY);
    /* Vectors outside the range, and a free one, belong to no one. */
    assert_int_equal(msi_slot_of_vector(&t, MSI_VECTOR_FIRST - 1), -1);
    assert_int_equal(msi_slot_of_vector(&t, MSI_VECTOR_FIRST + MSI_VECTORS), -1);
    assert_int_equal(msi_slot_of_vector(&t, 0xff), -1);
    assert_int_equal(msi_slot_of_vector(&t, msi_vector_number(MSI_VECTORS - 1)), -1);

    int old = msi_slot_of(&f, 2);
    msi_disable(&t, &f);
    assert_int_equal(t.used_count, 0);
    assert_int_equal(f.kind, 0);
    assert_int_equal(msi_slot_of_vector(&t, msi_vector_number((uint32_t)old)), -1);
    assert_int_equal(msi_check_owner(&f, 7), HV_ENOENT);
    msi_disable(&t, &f); /* twice: nothing */
    assert_int_equal(t.used_count, 0);
}

static void test_exhaustion(void **state)
{
    (void)state;
    static struct msi_func f[MSI_VECTORS / MSI_PER_FUNC + 1];
    memset(f, 0, sizeof(f));
    unsigned n = MSI_VECTORS / MSI_PER_FUNC;
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(
            msi_enable(&t, &f[i], (uint16_t)i, 1 + i, HV_PCI_MSIX, MSI_PER_FUNC, true, 2048, 0),
            HV_OK);
    assert_int_equal(t.used_count, MSI_VECTORS);
    assert_int_equal(msi_enable(&t, &f[n], (uint16_t)n, 99, HV_PCI_MSI, 1, true, 0, 0), HV_ENOMEM);
    assert_int_equal(f[n].kind, 0);
    /* Free one function's vectors: another fits, in the freed slots. */
    int first = msi_slot_of(&f[1], 0);
    msi_disable(&t, &f[1]);
    assert_int_equal(msi_enable(&t, &f[n], (uint16_t)n, 99, HV_PCI_MSI, 1, true, 0, 0), HV_OK);
    assert_int_equal(msi_slot_of(&f[n], 0), first);
}

/* Random sequences: no slot is ever held by two functions, used_count is
 * exact, a function's slots point back at it. */
static void test_random(void **state)
{
    (void)state;
    enum { FUNCS = 40 };
    static struct msi_func f[FUNCS];
    memset(f, 0, sizeof(f));
    srand(4242);
    for (unsigned step = 0; step < 20000; step++) {
        unsigned i = (unsigned)rand() % FUNCS;
        if (f[i].kind && rand() % 2) {
            msi_disable(&t, &f[i]);
        } else {
            uint32_t count = 1 + (uint32_t)rand() % MSI_PER_FUNC;
            uint32_t before = t.used_count;
            enum hv_status st =
                msi_enable(&t, &f[i], (uint16_t)i, 1 + i, HV_PCI_MSIX, count, true, 64, 0);
            if (f[i].kind && st != HV_OK)
                assert_int_equal(t.used_count, before);
            if (st == HV_ENOMEM)
                assert_true(MSI_VECTORS - before < count);
        }
        uint32_t used = 0;
        for (unsigned s = 0; s < MSI_VECTORS; s++)
            used += t.v[s].used;
        assert_int_equal(used, t.used_count);
        uint32_t held = 0;
        for (unsigned k = 0; k < FUNCS; k++)
            for (uint32_t v = 0; v < f[k].count; v++) {
                int s = msi_slot_of(&f[k], v);
                assert_true(t.v[s].used);
                assert_int_equal(t.v[s].func, k);
                assert_int_equal(t.v[s].entry, v);
                held++;
            }
        assert_int_equal(held, used);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_rules, setup),
        cmocka_unit_test_setup(test_exhaustion, setup),
        cmocka_unit_test_setup(test_random, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
