/*
 * libc_vformat / snprintf / vsnprintf of the libc subset, compared byte for
 * byte with glibc's snprintf (the oracle), at many buffer sizes so that
 * truncation, NUL termination and size 0 are checked for every case.
 */
#define _POSIX_C_SOURCE 200809L /* strnlen in glibc's <string.h> */

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
/* cmocka needs these first */
#include <setjmp.h>
#include <cmocka.h>

#include "libc/include/stdio.h" /* the project's, as libc_snprintf etc. */

#define BUF_BYTES 8192
#define SENTINEL 0x5a

static unsigned long g_cases;

/*
 * Formats with glibc and with the project's vsnprintf into buffers of
 * several sizes (filled with a sentinel first) and fails on any difference
 * in the return value or in any byte of the buffer, including the bytes
 * past the size that must stay untouched.
 */
static void __attribute__((format(printf, 2, 3))) check_fmt(int line, const char *fmt, ...)
{
    static char want[BUF_BYTES], got[BUF_BYTES];
    va_list ap, ap2;
    int want_n, got_n;
    size_t sizes[8];
    size_t nsizes = 0;

    va_start(ap, fmt);
    va_copy(ap2, ap);
    want_n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    assert_true(want_n >= 0 && want_n < BUF_BYTES - 2);
    sizes[nsizes++] = 0;
    sizes[nsizes++] = 1;
    sizes[nsizes++] = 2;
    if (want_n > 2)
        sizes[nsizes++] = (size_t)want_n / 2;
    if (want_n > 0)
        sizes[nsizes++] = (size_t)want_n; /* one short: last char cut */
    sizes[nsizes++] = (size_t)want_n + 1; /* exact fit */
    sizes[nsizes++] = BUF_BYTES - 1;
    for (size_t i = 0; i < nsizes; i++) {
        size_t size = sizes[i];
        memset(want, SENTINEL, sizeof want);
        memset(got, SENTINEL, sizeof got);
        va_copy(ap2, ap);
        want_n = vsnprintf(size ? want : NULL, size, fmt, ap2);
        va_end(ap2);
        va_copy(ap2, ap);
        got_n = libc_vsnprintf(size ? got : NULL, size, fmt, ap2);
        va_end(ap2);
        if (got_n != want_n || memcmp(got, want, sizeof want) != 0) {
            print_error("line %d: format \"%s\" size %zu: glibc %d \"%.*s\", ours %d \"%.*s\"\n",
                        line, fmt, size, want_n, (int)strnlen(want, 200), want, got_n,
                        (int)strnlen(got, 200), got);
            fail();
        }
        g_cases++;
    }
    va_end(ap);
}

#define CHECK(...) check_fmt(__LINE__, __VA_ARGS__)

/* For formats that -Wformat rightly rejects but that glibc defines well
 * enough to compare with (odd flags, ints too wide for %hd that must be
 * narrowed): passed as a non-literal, with a spare argument if needed. */
static const char *g_odd_fmt;
#define CHECK_ODD(fmt, ...) (g_odd_fmt = (fmt), check_fmt(__LINE__, g_odd_fmt, __VA_ARGS__))

static void test_plain_and_percent(void **state)
{
    (void)state;
    CHECK("%s", "");
    CHECK("hello, world");
    CHECK("100%% sure");
    CHECK_ODD("%5%|%-5%|", 0);
    CHECK("a%cb", 'x');
    CHECK("[%c][%3c][%-3c]", 'a', 'b', 'c');
    CHECK("%c", 0); /* an embedded NUL counts as a character */
    CHECK("%c%c%c", 200, 255, 128);
}

static void test_signed(void **state)
{
    (void)state;
    static const int ints[] = {0, 1, -1, 7, -7, 42, 100, -100, 12345, INT_MAX, INT_MIN};
    static const char *const fmts[] = {
        "%d",    "%i",   "%5d",  "%-5d|", "%05d",    "%+d",     "% d",   "%+5d",   "%-+5d|",
        "% 05d", "%.0d", "%.3d", "%8.3d", "%-8.3d|", "%08.3d",  "%+.3d", "%+08d",  "%- 8d|",
        "%#d",   "%1d",  "%20d", "%020d", "%+020d",  "%-020d|", "%.20d", "%0-8d|",
    };
    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++)
        for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
            CHECK(fmts[f], ints[i]);
    CHECK("%ld %ld %ld", 0L, LONG_MAX, LONG_MIN);
    CHECK("%lld %lld %lld", 0LL, LLONG_MAX, LLONG_MIN);
    CHECK_ODD("%hd %hd %hd", 32767, -32768, 65535); /* 65535 as short is -1 */
    CHECK_ODD("%hhd %hhd %hhd %hhd", 127, -128, 255, 256);
    CHECK("%zd %zd", (ptrdiff_t)-5, (ptrdiff_t)PTRDIFF_MAX);
    CHECK("%jd %jd", INTMAX_MIN, INTMAX_MAX);
    CHECK("%td %td", (ptrdiff_t)-1, PTRDIFF_MIN);
    CHECK_ODD("%hi|%li|%lli|%hhi", -3, -4L, -5LL, -6);
}

static void test_unsigned(void **state)
{
    (void)state;
    static const unsigned vals[] = {0, 1, 7, 8, 9, 15, 16, 255, 256, 0xdeadbeef, UINT_MAX};
    static const char *const fmts[] = {
        "%u",    "%x",    "%X",    "%o",    "%#x",     "%#X",    "%#o",     "%8x",
        "%-8x|", "%08x",  "%#08x", "%#8x",  "%-#8x|",  "%.0x",   "%#.0x",   "%.0o",
        "%#.0o", "%#.3o", "%#5o",  "%#05o", "%.5x",    "%#.5x",  "%#10.5x", "%+u",
        "% u",   "%+x",   "% x",   "%010u", "%#-10o|", "%#010X", "%.0u",
    };
    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++)
        for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
            CHECK(fmts[f], vals[i]);
    CHECK("%lu %lx %lo", ULONG_MAX, ULONG_MAX, ULONG_MAX);
    CHECK("%llu %llX %#llo", ULLONG_MAX, 0x123456789abcdefULL, ULLONG_MAX);
    CHECK_ODD("%hu %hx %ho", 65535, 65536 + 17, 70000);
    CHECK_ODD("%hhu %hhx %hho", 255, 256 + 0xab, 511);
    CHECK("%zu %zx", (size_t)SIZE_MAX, (size_t)12345);
    CHECK("%ju %jx", UINTMAX_MAX, (uintmax_t)1 << 63);
    CHECK("%tu %tx", (ptrdiff_t)-1, (ptrdiff_t)255);
}

static void test_strings(void **state)
{
    (void)state;
    /* volatile: keeps GCC (-O2 -Wformat-overflow) from seeing the NULL. */
    const char *volatile null_str = NULL;
    static const char unterminated[3] = {'a', 'b', 'c'};

    CHECK("[%s]", "abc");
    CHECK("[%10s][%-10s]", "abc", "def");
    CHECK("[%.2s][%.0s][%.10s]", "abcdef", "abc", "abc");
    CHECK("[%8.3s][%-8.3s]", "abcdef", "abcdef");
    CHECK_ODD("[%05s]", "ab"); /* 0 flag on %s: undefined in C, spaces in glibc */
    CHECK("[%s][%10s][%-10s]", null_str, null_str, null_str);
    CHECK("[%.6s][%.5s][%.0s][%8.3s]", null_str, null_str, null_str, null_str);
    CHECK("[%.3s]", unterminated); /* must not read past the precision */
    CHECK("[%*s][%-*s][%*s]", 6, "x", 6, "y", -6, "z");
    CHECK("[%.*s][%.*s]", 2, "abcdef", -1, "abcdef");
}

static void test_pointers(void **state)
{
    (void)state;
    int x;
    void *volatile null_ptr = NULL;
    void *ptrs[] = {&x, (void *)0x1, (void *)0x1234, (void *)UINTPTR_MAX, (void *)&test_pointers};

    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) {
        CHECK("%p", ptrs[i]);
        CHECK("[%20p][%-20p]", ptrs[i], ptrs[i]);
    }
    CHECK("[%p][%10p][%-10p]", null_ptr, null_ptr, null_ptr);
}

static void test_star(void **state)
{
    (void)state;
    CHECK("[%*d]", 5, 42);
    CHECK("[%*d]", -5, 42); /* negative width: '-' flag */
    CHECK("[%.*d]", 4, 42);
    CHECK("[%.*d]", -4, 42); /* negative precision: as if omitted */
    CHECK("[%0*d]", 6, -42);
    CHECK("[%*.*d]", 8, 3, 7);
    CHECK("[%-*.*x]", 8, 3, 0xa);
    CHECK_ODD("[%0*.*d]", 8, -1, 7); /* precision omitted: the 0 flag counts */
}

static void test_truncation_long(void **state)
{
    (void)state;
    CHECK("%s and %s and %d", "a rather long string", "another one", 123456789);
    CHECK("%300d|%-300s|", 1, "x");
    CHECK("%.300d", -5);
    CHECK("%4000s", "wide");
}

/* Collects everything libc_vformat emits. */
struct sink {
    char buf[BUF_BYTES];
    size_t count;
};

static void sink_emit(void *ctx, char c)
{
    struct sink *s = ctx;
    if (s->count < sizeof s->buf)
        s->buf[s->count] = c;
    s->count++;
}

/* The streaming engine has no length limit and emits exactly what it counts. */
static void test_vformat_streaming(void **state)
{
    (void)state;
    static struct sink s;
    char want[BUF_BYTES];
    int n;

    s.count = 0;
    n = libc_format(sink_emit, &s, "%s=%5d;%-3x|%c", "key", -12, 0xab, '!');
    snprintf(want, sizeof want, "%s=%5d;%-3x|%c", "key", -12, 0xab, '!');
    assert_int_equal(n, (int)strlen(want));
    assert_int_equal(s.count, strlen(want));
    assert_memory_equal(s.buf, want, s.count);

    /* Far longer than any internal buffer: 100000 characters. */
    s.count = 0;
    n = libc_format(sink_emit, &s, "%100000d", 7);
    assert_int_equal(n, 100000);
    assert_int_equal(s.count, 100000);
    assert_int_equal(s.buf[0], ' ');
    assert_int_equal(s.buf[BUF_BYTES - 1], ' ');
}

/*
 * Floating point and other unsupported conversions are printed verbatim and
 * consume no argument (so the next conversion still gets its own argument).
 */
static void test_unsupported_verbatim(void **state)
{
    (void)state;
    static const struct {
        const char *fmt;
        const char *want;
    } cases[] = {
        {"%f|%d", "%f|1"},   {"%5.2f|%d", "%5.2f|1"}, {"%e%g%a%d", "%e%g%a1"}, {"%Lf|%d", "%Lf|1"},
        {"%n|%d", "%n|1"},   {"%lc|%d", "%lc|1"},     {"%ls|%d", "%ls|1"},     {"%y|%d", "%y|1"},
        {"%lp|%d", "%lp|1"}, {"%d|%", "1|%"},         {"%d|%-08", "1|%-08"},   {"%d|%ll", "1|%ll"},
    };
    char buf[64];
    unsigned verbatim_count = 0;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* The format is not a literal on purpose: these are not valid C formats. */
        const char *fmt = cases[i].fmt;
        int n = libc_snprintf(buf, sizeof buf, fmt, 1);
        if (strcmp(buf, cases[i].want) != 0) {
            print_error("format \"%s\": got \"%s\", want \"%s\"\n", fmt, buf, cases[i].want);
            fail();
        }
        assert_int_equal(n, (int)strlen(cases[i].want));
        verbatim_count++;
    }
    assert_int_equal(verbatim_count, sizeof cases / sizeof cases[0]);
}

/* xorshift64: a fixed-seed generator so that failures reproduce. */
static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint64_t rng_next(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

/*
 * Thousands of generated specifications (random flags, width, precision,
 * length modifier, conversion and value), each compared with glibc.
 */
static void test_random_specs(void **state)
{
    (void)state;
    static const char convs[] = "diuxXo";
    static const char *const lens[] = {"", "hh", "h", "l", "ll", "z", "j", "t"};
    static const char flag_chars[] = "-0+ #";
    char fmt[64];

    for (int iter = 0; iter < 4000; iter++) {
        size_t pos = 0;
        uint64_t r = rng_next();
        uint64_t v = rng_next();
        char conv = convs[r % 6];
        size_t len_index = (r >> 8) % 8;

        /* Values: mix of small, boundary and arbitrary numbers. */
        switch ((r >> 12) % 4) {
        case 0: v %= 100; break;
        case 1: v = (uint64_t)0 - (v % 100); break;
        case 2: v = (r & (1u << 20)) ? (uint64_t)INT64_MIN : UINT64_MAX >> ((r >> 21) % 2); break;
        default: break;
        }
        fmt[pos++] = '%';
        for (int f = 0; f < 5; f++)
            if ((r >> (24 + f)) & 1 && (flag_chars[f] != '#' || (conv != 'd' && conv != 'i')))
                fmt[pos++] = flag_chars[f];
        if ((r >> 30) & 1)
            pos += (size_t)sprintf(fmt + pos, "%u", (unsigned)((r >> 32) % 30));
        if ((r >> 31) & 1)
            pos += (size_t)sprintf(fmt + pos, ".%u", (unsigned)((r >> 40) % 25));
        pos += (size_t)sprintf(fmt + pos, "%s%c|", lens[len_index], conv);
        fmt[pos] = 0;

        /* Pass an argument of exactly the type the length modifier names. */
        switch (len_index) {
        case 0:
        case 1:
        case 2: check_fmt(__LINE__, fmt, (int)v); break;
        case 3: check_fmt(__LINE__, fmt, (long)v); break;
        case 4: check_fmt(__LINE__, fmt, (long long)v); break;
        case 5: check_fmt(__LINE__, fmt, (size_t)v); break;
        case 6: check_fmt(__LINE__, fmt, (intmax_t)v); break;
        default: check_fmt(__LINE__, fmt, (ptrdiff_t)v); break;
        }
    }
}

static void test_case_count(void **state)
{
    (void)state;
    /* Proves the comparisons above really ran (7 sizes or fewer per case). */
    assert_true(g_cases > 20000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_percent),
        cmocka_unit_test(test_signed),
        cmocka_unit_test(test_unsigned),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_pointers),
        cmocka_unit_test(test_star),
        cmocka_unit_test(test_truncation_long),
        cmocka_unit_test(test_vformat_streaming),
        cmocka_unit_test(test_unsupported_verbatim),
        cmocka_unit_test(test_random_specs),
        cmocka_unit_test(test_case_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
