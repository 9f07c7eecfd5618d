/*
 * Every status code of the ABI has its name and meaning (lib/status.c),
 * the codes are dense from HV_OK down to HV_STATUS_LAST, and a value that
 * is no code has none.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hvlib/status.h"
#include <hv/abi.h>

static void every_code_has_its_name(void **state)
{
    (void)state;
    unsigned count = 0;
    int64_t lowest = 0;
#define CHECK(name, value, meaning)                                                                \
    assert_string_equal(hv_status_name(value), #name);                                             \
    assert_string_equal(hv_status_meaning(value), meaning);                                        \
    assert_true(strlen(meaning) > 0);                                                              \
    count++;                                                                                       \
    lowest = value < lowest ? value : lowest;
    HV_STATUS_LIST(CHECK)
#undef CHECK
    /* Dense: 0 .. HV_STATUS_LAST, each once, and HV_STATUS_LAST is the last. */
    assert_int_equal(lowest, HV_STATUS_LAST);
    assert_int_equal(count, (unsigned)(-HV_STATUS_LAST) + 1);
    for (int64_t v = 0; v >= HV_STATUS_LAST; v--) {
        assert_non_null(hv_status_name(v));
        for (int64_t w = v - 1; w >= HV_STATUS_LAST; w--)
            assert_string_not_equal(hv_status_name(v), hv_status_name(w));
    }
}

static void other_values_have_none(void **state)
{
    (void)state;
    const int64_t others[] = {1, 2, 4096, HV_STATUS_LAST - 1, -4096, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        assert_null(hv_status_name(others[i]));
        assert_null(hv_status_meaning(others[i]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_code_has_its_name),
        cmocka_unit_test(other_values_have_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
