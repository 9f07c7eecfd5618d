/* Host tests of boot-module placement checks (hv/core/bootmod.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bootmod.h"

#define HV_START 0x200000ull
#define HV_END 0x480000ull
#define LIMIT (1ull << 30)

static enum bootmod_error check1(paddr_t start, paddr_t end)
{
    const paddr_t mods[1][2] = {{start, end}};
    return bootmod_check(mods, 1, 0, HV_START, HV_END, LIMIT);
}

static void test_good(void **state)
{
    (void)state;
    assert_int_equal(check1(0x500000, 0x501000), BOOTMOD_OK);
    assert_int_equal(check1(HV_END, HV_END + 1), BOOTMOD_OK); /* touching is fine */
    assert_int_equal(check1(HV_START - 10, HV_START), BOOTMOD_OK);
    assert_int_equal(check1(LIMIT - 4096, LIMIT), BOOTMOD_OK);
}

static void test_overlaps_hv(void **state)
{
    (void)state;
    assert_int_equal(check1(HV_START, HV_START + 1), BOOTMOD_E_OVERLAPS_HV);
    assert_int_equal(check1(HV_END - 1, HV_END + 100), BOOTMOD_E_OVERLAPS_HV);
    assert_int_equal(check1(0x100000, 0x900000), BOOTMOD_E_OVERLAPS_HV); /* covers it */
    assert_int_equal(check1(0x300000, 0x301000), BOOTMOD_E_OVERLAPS_HV); /* inside it */
}

static void test_bad_ranges(void **state)
{
    (void)state;
    assert_int_equal(check1(0x500000, 0x500000), BOOTMOD_E_EMPTY);
    assert_int_equal(check1(0x600000, 0x500000), BOOTMOD_E_EMPTY);
    assert_int_equal(check1(LIMIT - 4096, LIMIT + 1), BOOTMOD_E_NOT_MAPPED);
    assert_int_equal(check1(~0ull - 4096, ~0ull), BOOTMOD_E_NOT_MAPPED);
}

static void test_overlapping_modules(void **state)
{
    (void)state;
    const paddr_t mods[3][2] = {
        {0x500000, 0x510000},
        {0x50f000, 0x520000}, /* overlaps module 0 */
        {0x520000, 0x530000}, /* touches module 1 only */
    };
    assert_int_equal(bootmod_check(mods, 3, 0, HV_START, HV_END, LIMIT), BOOTMOD_E_OVERLAPS_OTHER);
    assert_int_equal(bootmod_check(mods, 3, 1, HV_START, HV_END, LIMIT), BOOTMOD_E_OVERLAPS_OTHER);
    assert_int_equal(bootmod_check(mods, 3, 2, HV_START, HV_END, LIMIT), BOOTMOD_OK);
    assert_string_equal(bootmod_strerror(BOOTMOD_E_OVERLAPS_HV),
                        "it overlaps the hypervisor image");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_overlaps_hv),
        cmocka_unit_test(test_bad_ranges),
        cmocka_unit_test(test_overlapping_modules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
