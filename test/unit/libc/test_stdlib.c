/*
 * strtoul/strtoull/strtol/strtoll, the checked variants, qsort and abs of
 * the libc subset. The conversions are compared with glibc (value, endptr
 * and errno == ERANGE against the checked status) on hand-picked edge cases
 * and on thousands of generated strings from a fixed seed.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "libc/include/stdlib.h" /* the project's, as libc_strtoul etc. */

static unsigned long g_compared;

/* Converts s in base with all four glibc functions and ours and fails on any
 * difference in value, endptr, or range error. */
static void check_strto(const char *s, int base)
{
    char *want_end, *got_end;
    int range_error;

    errno = 0;
    unsigned long long want_ull = strtoull(s, &want_end, base);
    range_error = (errno == ERANGE);
    unsigned long long got_ull = libc_strtoull(s, &got_end, base);
    if (want_ull != got_ull || want_end != got_end) {
        print_error("strtoull(\"%s\", %d): glibc %llu end+%td, ours %llu end+%td\n", s, base,
                    want_ull, want_end - s, got_ull, got_end - s);
        fail();
    }
    unsigned long long checked_u;
    enum libc_strto_status st = libc_strtoull_checked(s, &got_end, base, &checked_u);
    assert_ptr_equal(got_end, want_end);
    if (want_end == s) {
        assert_int_equal(st, LIBC_STRTO_NO_DIGITS);
    } else if (range_error) {
        assert_int_equal(st, LIBC_STRTO_OUT_OF_RANGE);
    } else if (strchr(s, '-') != NULL && want_ull != 0 && strchr(s, '-') < want_end) {
        /* "-5": C wraps it around, the checked variant refuses it. */
        assert_int_equal(st, LIBC_STRTO_OUT_OF_RANGE);
        assert_true(checked_u == 0);
    } else {
        assert_int_equal(st, LIBC_STRTO_OK);
        assert_true(checked_u == want_ull);
    }

    assert_true(strtoul(s, &want_end, base) == libc_strtoul(s, &got_end, base));
    assert_ptr_equal(got_end, want_end);

    errno = 0;
    long long want_ll = strtoll(s, &want_end, base);
    range_error = (errno == ERANGE);
    long long got_ll = libc_strtoll(s, &got_end, base);
    if (want_ll != got_ll || want_end != got_end) {
        print_error("strtoll(\"%s\", %d): glibc %lld end+%td, ours %lld end+%td\n", s, base,
                    want_ll, want_end - s, got_ll, got_end - s);
        fail();
    }
    long long checked_s;
    st = libc_strtoll_checked(s, &got_end, base, &checked_s);
    assert_ptr_equal(got_end, want_end);
    assert_true(checked_s == want_ll);
    assert_int_equal(st, want_end == s ? LIBC_STRTO_NO_DIGITS
                         : range_error ? LIBC_STRTO_OUT_OF_RANGE
                                       : LIBC_STRTO_OK);

    assert_true(strtol(s, &want_end, base) == libc_strtol(s, &got_end, base));
    assert_ptr_equal(got_end, want_end);

    /* endptr may be NULL. */
    assert_true(libc_strtoull(s, NULL, base) == want_ull);
    g_compared++;
}

static void test_strto_edges(void **state)
{
    (void)state;
    static const char *const strs[] = {
        "",
        " ",
        "0",
        "-0",
        "+0",
        "1",
        "-1",
        "+1",
        "  \t\n\v\f\r42",
        "42abc",
        "abc",
        "-",
        "+",
        "+-1",
        "--1",
        " - 1",
        "0x",
        "0x1f",
        "0X1F",
        "0xg",
        "-0x10",
        "0x-1",
        "010",
        "08",
        "09",
        "0b101",
        "z",
        "Z",
        "zz",
        "18446744073709551615",
        "18446744073709551616",
        "-18446744073709551615",
        "-18446744073709551616",
        "99999999999999999999999999",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "0xffffffffffffffff",
        "0x10000000000000000",
        "01777777777777777777777",
        "02000000000000000000000",
        "1111111111111111111111111111111111"
        "111111111111111111111111111111",
        "3w5e11264sgsf",
        "3w5e11264sgsg",
        "  0x  ",
        "0 x1",
        "\x80"
        "1",
        "1\xff",
        "12 34",
    };
    static const int bases[] = {0, 2, 3, 8, 10, 16, 35, 36};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++)
            check_strto(strs[i], bases[b]);
}

/* xorshift64 with a fixed seed, so that a failure reproduces. */
static uint64_t g_rng = 0x2545f4914f6cdd1dull;
static uint64_t rng_next(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static void test_strto_random(void **state)
{
    (void)state;
    /* Weighted towards digits so that long numbers (and overflows) occur. */
    static const char alphabet[] = "0123456789012345678901234567890123456789abcdefzAFZx -+\t";
    char s[48];

    for (int iter = 0; iter < 20000; iter++) {
        uint64_t r = rng_next();
        size_t len = r % 40, pos = 0;
        int base;
        if ((r >> 8) % 3 == 0)
            s[pos++] = ' ';
        if ((r >> 10) % 3 == 0)
            s[pos++] = ((r >> 12) & 1) ? '-' : '+';
        if ((r >> 13) % 4 == 0) {
            s[pos++] = '0';
            s[pos++] = 'x';
        }
        while (pos < len)
            s[pos++] = alphabet[rng_next() % (sizeof alphabet - 1)];
        s[pos] = 0;
        switch ((r >> 16) % 6) {
        case 0: base = 0; break;
        case 1: base = 10; break;
        case 2: base = 16; break;
        case 3: base = 8; break;
        default: base = 2 + (int)((r >> 20) % 35); break;
        }
        check_strto(s, base);
    }
    assert_true(g_compared > 20000);
}

static void test_strto_bad_base(void **state)
{
    (void)state;
    static const int bad[] = {-1, 1, 37, 100, INT_MIN};
    const char *s = "123";
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *end = NULL;
        unsigned long long u = 7;
        long long v = 7;
        assert_true(libc_strtoul(s, &end, bad[i]) == 0);
        assert_ptr_equal(end, s);
        assert_int_equal(libc_strtoull_checked(s, &end, bad[i], &u), LIBC_STRTO_BAD_BASE);
        assert_true(u == 0);
        assert_int_equal(libc_strtoll_checked(s, &end, bad[i], &v), LIBC_STRTO_BAD_BASE);
        assert_true(v == 0);
    }
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* An odd-sized record, to exercise the byte-wise swap. */
struct rec {
    unsigned char key;
    char tag[6];
};

static int cmp_rec(const void *a, const void *b)
{
    return (int)((const struct rec *)a)->key - (int)((const struct rec *)b)->key;
}

static void test_qsort(void **state)
{
    (void)state;
    static int got[1001], want[1001]; /* one guard element */
    static const size_t counts[] = {0, 1, 2, 3, 5, 11, 12, 13, 17, 64, 100, 257, 1000};

    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        size_t n = counts[c];
        for (int mode = 0; mode < 5; mode++) {
            for (size_t i = 0; i < n; i++) {
                uint64_t r = rng_next();
                switch (mode) {
                case 0: got[i] = (int)(r % 1000000) - 500000; break; /* random */
                case 1: got[i] = (int)(r % 4); break;                /* many duplicates */
                case 2: got[i] = (int)i; break;                      /* sorted */
                case 3: got[i] = (int)(n - i); break;                /* reversed */
                default: got[i] = (r & 1) ? INT_MAX : INT_MIN; break;
                }
            }
            memcpy(want, got, n * sizeof got[0]);
            got[n] = 0x5eed; /* guard past the end */
            libc_qsort(n ? got : NULL, n, sizeof got[0], cmp_int);
            qsort(want, n, sizeof want[0], cmp_int); /* same multiset, sorted */
            /* Sorted and a permutation of the input: equal to glibc's result. */
            for (size_t i = 1; i < n; i++)
                assert_true(got[i - 1] <= got[i]);
            assert_memory_equal(got, want, n * sizeof got[0]);
            assert_int_equal(got[n], 0x5eed);
        }
    }

    /* Records of 7 bytes: the tags travel with their keys. */
    struct rec recs[200];
    unsigned key_count[256] = {0};
    for (size_t i = 0; i < 200; i++) {
        recs[i].key = (unsigned char)(rng_next() % 50);
        snprintf(recs[i].tag, sizeof recs[i].tag, "k%03u", recs[i].key);
        key_count[recs[i].key]++;
    }
    libc_qsort(recs, 200, sizeof recs[0], cmp_rec);
    for (size_t i = 0; i < 200; i++) {
        char tag[8];
        snprintf(tag, sizeof tag, "k%03u", recs[i].key);
        assert_string_equal(recs[i].tag, tag);
        if (i)
            assert_true(recs[i - 1].key <= recs[i].key);
        key_count[recs[i].key]--;
    }
    for (size_t k = 0; k < 256; k++)
        assert_int_equal(key_count[k], 0);
}

static void test_abs(void **state)
{
    (void)state;
    static const int ints[] = {0, 1, -1, 5, -5, INT_MAX, -INT_MAX};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        assert_int_equal(libc_abs(ints[i]), abs(ints[i]));
        assert_true(libc_labs((long)ints[i] * 3) == labs((long)ints[i] * 3));
    }
    assert_true(libc_labs(-LONG_MAX) == LONG_MAX);
    assert_true(libc_llabs(-LLONG_MAX) == LLONG_MAX);
    assert_true(libc_llabs(-7) == 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strto_edges),
        cmocka_unit_test(test_strto_random),
        cmocka_unit_test(test_strto_bad_base),
        cmocka_unit_test(test_qsort),
        cmocka_unit_test(test_abs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
