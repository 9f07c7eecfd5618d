/* Host tests of the hypervisor command-line parser (hv/core/cmdline.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cmdline.h"

static void check_value(const char *cmdline, const char *key, const char *want)
{
    const char *v = NULL;
    size_t n = 99;
    assert_true(cmdline_find(cmdline, key, &v, &n));
    assert_int_equal(n, strlen(want));
    assert_memory_equal(v, want, n);
}

static void test_find(void **state)
{
    (void)state;
    check_value("debug_exit loglvl=debug", "loglvl", "debug");
    check_value("debug_exit loglvl=debug", "debug_exit", "");
    check_value("  a=1\tb=22  ", "b", "22");
    check_value("x=", "x", "");
    check_value("x=a=b", "x", "a=b");
    /* The first match wins. */
    check_value("k=1 k=2", "k", "1");
}

static void test_not_found(void **state)
{
    (void)state;
    const char *v;
    size_t n;
    assert_false(cmdline_find("", "a", &v, &n));
    assert_false(cmdline_find("abc=1", "ab", &v, &n)); /* a prefix is not a match */
    assert_false(cmdline_find("ab", "abc", &v, &n));
    assert_false(cmdline_find("xloglvl=1", "loglvl", &v, &n));
    assert_false(cmdline_find("a b c", "", &v, &n)); /* empty key */
    assert_false(cmdline_find("   ", "a", &v, &n));
}

static void check_size(const char *s, uint64_t want)
{
    uint64_t v = 0;
    assert_true(cmdline_parse_size(s, strlen(s), &v));
    assert_int_equal(v, want);
}

static void check_bad_size(const char *s)
{
    uint64_t v = 12345;
    assert_false(cmdline_parse_size(s, strlen(s), &v));
    assert_int_equal(v, 12345); /* unchanged on error */
}

static void test_sizes(void **state)
{
    (void)state;
    check_size("0", 0);
    check_size("4096", 4096);
    check_size("16M", 16ull << 20);
    check_size("2g", 2ull << 30);
    check_size("64k", 64ull << 10);
    check_size("0x1000", 0x1000);
    check_size("0xFFFFFFFFFFFFFFFF", UINT64_MAX);
    check_size("18446744073709551615", UINT64_MAX);
}

static void test_bad_sizes(void **state)
{
    (void)state;
    check_bad_size("");
    check_bad_size("M");
    check_bad_size("12Q");
    check_bad_size("12MM");
    check_bad_size("1 2");
    check_bad_size("-1");
    check_bad_size("0x");
    check_bad_size("0x12g");
    check_bad_size("18446744073709551616"); /* overflow */
    check_bad_size("0x10000000000000000");  /* overflow */
    check_bad_size("17179869184G");         /* overflow after the suffix */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_bad_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
