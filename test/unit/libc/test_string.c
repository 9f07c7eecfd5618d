/*
 * mem* and str* of the libc subset, compared with glibc on edge cases:
 * zero lengths, every alignment, overlapping memmove, bytes above 0x7f,
 * and the bytes around the destination that must stay untouched.
 */
#define _POSIX_C_SOURCE 200809L /* strnlen in glibc's <string.h> */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
/* cmocka needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "libc/include/string.h" /* the project's, as libc_memcpy etc. */

#define AREA 96

static int sign_of(int v)
{
    return (v > 0) - (v < 0);
}

static void fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed * 131u + i * 7u + (i >> 3));
}

/* Every source/destination alignment and length 0..40 inside guard bytes. */
static void test_memcpy_alignments(void **state)
{
    (void)state;
    unsigned char src[AREA], want[AREA], got[AREA];

    for (size_t so = 0; so < 8; so++)
        for (size_t d_off = 0; d_off < 8; d_off++)
            for (size_t n = 0; n <= 40; n++) {
                fill_pattern(src, sizeof src, (unsigned)(so + n));
                memset(want, 0xee, sizeof want);
                memset(got, 0xee, sizeof got);
                memcpy(want + 8 + d_off, src + so, n);
                void *r = libc_memcpy(got + 8 + d_off, src + so, n);
                assert_ptr_equal(r, got + 8 + d_off);
                assert_memory_equal(got, want, sizeof want);
            }
}

/* Overlap in both directions, at every offset and alignment. */
static void test_memmove_overlap(void **state)
{
    (void)state;
    unsigned char want[AREA], got[AREA];

    for (size_t from = 0; from < 24; from++)
        for (size_t to = 0; to < 24; to++)
            for (size_t n = 0; n <= 48; n += (n < 12 ? 1 : 5)) {
                fill_pattern(want, sizeof want, (unsigned)n);
                fill_pattern(got, sizeof got, (unsigned)n);
                memmove(want + to, want + from, n);
                void *r = libc_memmove(got + to, got + from, n);
                assert_ptr_equal(r, got + to);
                assert_memory_equal(got, want, sizeof want);
            }
}

static void test_memset(void **state)
{
    (void)state;
    unsigned char want[AREA], got[AREA];
    static const int values[] = {0, 0xab, -1, 0x1ff, 'x'};

    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n <= 70; n++)
            for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
                memset(want, 0x11, sizeof want);
                memset(got, 0x11, sizeof got);
                memset(want + off, values[v], n);
                assert_ptr_equal(libc_memset(got + off, values[v], n), got + off);
                assert_memory_equal(got, want, sizeof want);
            }
}

static void test_memcmp_memchr(void **state)
{
    (void)state;
    unsigned char a[40], b[40];

    fill_pattern(a, sizeof a, 3);
    memcpy(b, a, sizeof b);
    assert_int_equal(libc_memcmp(a, b, 0), 0);
    assert_int_equal(libc_memcmp(a, b, sizeof a), 0);
    for (size_t i = 0; i < sizeof a; i++) {
        memcpy(b, a, sizeof b);
        b[i] = (unsigned char)(a[i] ^ 0x80); /* differences above 0x7f: unsigned compare */
        assert_int_equal(sign_of(libc_memcmp(a, b, sizeof a)), sign_of(memcmp(a, b, sizeof a)));
        assert_int_equal(sign_of(libc_memcmp(b, a, sizeof a)), sign_of(memcmp(b, a, sizeof a)));
        assert_int_equal(libc_memcmp(a, b, i), 0); /* stops before the difference */
    }
    for (int c = -1; c < 256; c += 17) {
        for (size_t n = 0; n <= sizeof a; n += 3)
            assert_ptr_equal(libc_memchr(a, c, n), memchr(a, c, n));
    }
    assert_ptr_equal(libc_memchr(a, a[5], 0), NULL);
    assert_ptr_equal(libc_memchr(a, a[5] + 256, sizeof a), memchr(a, a[5], sizeof a));
}

static const char *const g_strs[] = {
    "",         "a",
    "ab",       "abc",
    "abd",      "abcd",
    "b",        "hello world",
    "hello",    "hell\xff",
    "hell\x01", "\x80",
    "zzz",      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "a b\tc",   "abcabcabd",
};
#define NSTRS (sizeof g_strs / sizeof g_strs[0])

static void test_str_compare(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSTRS; i++) {
        assert_int_equal(libc_strlen(g_strs[i]), strlen(g_strs[i]));
        for (size_t m = 0; m < 40; m += 3)
            assert_int_equal(libc_strnlen(g_strs[i], m), strnlen(g_strs[i], m));
        for (size_t j = 0; j < NSTRS; j++) {
            assert_int_equal(sign_of(libc_strcmp(g_strs[i], g_strs[j])),
                             sign_of(strcmp(g_strs[i], g_strs[j])));
            for (size_t n = 0; n < 14; n++)
                assert_int_equal(sign_of(libc_strncmp(g_strs[i], g_strs[j], n)),
                                 sign_of(strncmp(g_strs[i], g_strs[j], n)));
        }
    }
    /* strnlen must not read past max_bytes of an unterminated array. */
    static const char raw[4] = {'w', 'x', 'y', 'z'};
    assert_int_equal(libc_strnlen(raw, sizeof raw), 4);
    assert_int_equal(libc_strncmp(raw, "wxyq", 3), 0);
}

static void test_str_search(void **state)
{
    (void)state;
    static const int chars[] = {0, 'a', 'b', 'c', 'l', 'o', ' ', 0xff, -1, '\x80', 'q'};
    for (size_t i = 0; i < NSTRS; i++) {
        const char *s = g_strs[i];
        for (size_t c = 0; c < sizeof chars / sizeof chars[0]; c++) {
            assert_ptr_equal(libc_strchr(s, chars[c]), strchr(s, chars[c]));
            assert_ptr_equal(libc_strrchr(s, chars[c]), strrchr(s, chars[c]));
        }
        for (size_t j = 0; j < NSTRS; j++) {
            assert_ptr_equal(libc_strstr(s, g_strs[j]), strstr(s, g_strs[j]));
            assert_int_equal(libc_strspn(s, g_strs[j]), strspn(s, g_strs[j]));
            assert_int_equal(libc_strcspn(s, g_strs[j]), strcspn(s, g_strs[j]));
        }
    }
}

static void test_strncpy_strlcpy(void **state)
{
    (void)state;
    char want[32], got[32];

    for (size_t i = 0; i < NSTRS; i++) {
        const char *s = g_strs[i];
        if (strlen(s) >= 20)
            continue;
        for (size_t n = 0; n < 24; n++) {
            memset(want, 'Q', sizeof want);
            memset(got, 'Q', sizeof got);
            strncpy(want, s, n);
            assert_ptr_equal(libc_strncpy(got, s, n), got);
            assert_memory_equal(got, want, sizeof want);

            /* strlcpy is not in glibc 2.36: its BSD contract, spelled out. */
            memset(got, 'Q', sizeof got);
            size_t len = libc_strlcpy(got, s, n);
            assert_int_equal(len, strlen(s));
            if (n > 0) {
                size_t copied = strlen(s) < n - 1 ? strlen(s) : n - 1;
                assert_memory_equal(got, s, copied);
                assert_int_equal(got[copied], '\0');
                for (size_t k = copied + 1; k < sizeof got; k++)
                    assert_int_equal(got[k], 'Q');
            } else {
                for (size_t k = 0; k < sizeof got; k++)
                    assert_int_equal(got[k], 'Q');
            }
        }
    }
    assert_int_equal(libc_strlcpy(NULL, "abc", 0), 3); /* size 0: dst untouched */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memcpy_alignments),
        cmocka_unit_test(test_memmove_overlap),
        cmocka_unit_test(test_memset),
        cmocka_unit_test(test_memcmp_memchr),
        cmocka_unit_test(test_str_compare),
        cmocka_unit_test(test_str_search),
        cmocka_unit_test(test_strncpy_strlcpy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
