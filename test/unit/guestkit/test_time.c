/*
 * Host tests of guest-kit's time arithmetic (gk/time.h, the same inline
 * functions gk_now_ns uses in a domain): gk_time_scale against two
 * independent references of the formula of hv/domctl.h over edge cases and
 * a million random values, and gk_time_from_record (stale TSC, wrap).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gk/time.h"

static uint64_t shifted(uint64_t delta, int shift)
{
    if (shift >= 64 || shift <= -64)
        return 0;
    return shift >= 0 ? delta << shift : delta >> -shift;
}

/* Reference 1: the 64x32 product split into 32-bit halves (no __int128):
 * (hi * 2^32 + lo) >> 32 = hi + (lo >> 32), modulo 2^64. */
static uint64_t ref_halves(uint64_t delta, uint32_t mul, int shift)
{
    uint64_t d = shifted(delta, shift);
    uint64_t lo = (d & 0xffffffffu) * (uint64_t)mul;
    uint64_t hi = (d >> 32) * (uint64_t)mul;
    return hi + (lo >> 32);
}

/* Reference 2: shift-and-add over the bits of mul into a 128-bit
 * accumulator kept as two 64-bit words. */
static uint64_t ref_bits(uint64_t delta, uint32_t mul, int shift)
{
    uint64_t d = shifted(delta, shift);
    uint64_t acc_lo = 0, acc_hi = 0;
    for (unsigned b = 0; b < 32; b++) {
        if (!((mul >> b) & 1u))
            continue;
        uint64_t add_lo = b ? d << b : d;
        uint64_t add_hi = b ? d >> (64 - b) : 0;
        uint64_t lo = acc_lo + add_lo;
        acc_hi += add_hi + (lo < acc_lo);
        acc_lo = lo;
    }
    return (acc_lo >> 32) | (acc_hi << 32);
}

static void check(uint64_t delta, uint32_t mul, int shift)
{
    uint64_t got = gk_time_scale(delta, mul, (int8_t)shift);
    uint64_t r1 = ref_halves(delta, mul, shift);
    uint64_t r2 = ref_bits(delta, mul, shift);
    if (got != r1 || got != r2)
        fail_msg("scale(%#llx, %#x, %d) = %#llx, references %#llx %#llx", (unsigned long long)delta,
                 mul, shift, (unsigned long long)got, (unsigned long long)r1,
                 (unsigned long long)r2);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_edges(void **state)
{
    (void)state;
    static const uint64_t deltas[] = {0,
                                      1,
                                      2,
                                      0xffffffffull,
                                      0x100000000ull,
                                      1ull << 40,
                                      (1ull << 63) - 1,
                                      1ull << 63,
                                      ~0ull,
                                      2500000000ull,
                                      0x123456789abcdefull};
    static const uint32_t muls[] = {0, 1, 2, 0x7fffffffu, 0x80000000u, 0xffffffffu, 0x66666666u};
    for (size_t i = 0; i < sizeof(deltas) / sizeof(deltas[0]); i++)
        for (size_t j = 0; j < sizeof(muls) / sizeof(muls[0]); j++)
            for (int shift = -128; shift <= 127; shift++)
                check(deltas[i], muls[j], shift);
    /* Would overflow a 64-bit product: 2^40 * 2^31 >> 32 = 2^39. */
    assert_int_equal(gk_time_scale(1ull << 40, 0x80000000u, 0), 1ull << 39);
    /* Full width: (2^64-1) * (2^32-1) >> 32 = 2^64 - 2^32 - 1. */
    assert_int_equal(gk_time_scale(~0ull, 0xffffffffu, 0), 0xfffffffeffffffffull);
    assert_int_equal(gk_time_scale(12345, 0xffffffffu, 0), 12344); /* mul just below 1.0 */
    assert_int_equal(gk_time_scale(1000, 0x80000000u, 1), 1000);   /* x2 then x0.5 */
    assert_int_equal(gk_time_scale(1000, 0x80000000u, -1), 250);   /* /2 then x0.5 */
    assert_int_equal(gk_time_scale(~0ull, ~0u, 64), 0);
    assert_int_equal(gk_time_scale(~0ull, ~0u, -64), 0);
    assert_int_equal(gk_time_scale(~0ull, ~0u, 127), 0);
    assert_int_equal(gk_time_scale(~0ull, ~0u, -128), 0);
    assert_int_equal(gk_time_scale(1, 0x80000000u, 63), 1ull << 62);
    assert_int_equal(gk_time_scale(1ull << 63, 0x80000000u, -63), 0); /* 1 * 0.5 rounds down */
}

static void test_random(void **state)
{
    (void)state;
    for (unsigned i = 0; i < 1000000; i++) {
        uint64_t delta = next();
        uint64_t r = next();
        /* Mix full-width deltas with realistic small ones. */
        if (r & 1)
            delta >>= (r >> 1) % 64;
        uint32_t mul = (uint32_t)(r >> 8);
        int shift = (int)(int8_t)(r >> 40);
        if (r & 2)
            shift %= 8; /* realistic shifts more often */
        check(delta, mul, shift);
    }
}

/* A 2.5 GHz TSC: mul = 0.4 in 32.32, shift 0; one second of ticks is 10^9 ns
 * (rounded down by at most 1). */
static void test_realistic(void **state)
{
    (void)state;
    struct hv_vcpu_time_info t = {.version = 2,
                                  .tsc_timestamp = 1000000,
                                  .system_time_ns = 5000,
                                  .tsc_to_system_mul = 0x66666666u,
                                  .tsc_shift = 0};
    uint64_t ns = gk_time_from_record(&t, 1000000 + 2500000000ull);
    assert_true(ns >= 5000 + 999999999ull && ns <= 5000 + 1000000000ull);
    /* A 100 MHz TSC: 10 ns per tick = mul 0.625 with shift 4. */
    t.tsc_to_system_mul = 0xa0000000u;
    t.tsc_shift = 4;
    assert_int_equal(gk_time_from_record(&t, 1000000 + 100), 5000 + 1000);
}

static void test_record_edges(void **state)
{
    (void)state;
    struct hv_vcpu_time_info t = {.tsc_timestamp = 1000,
                                  .system_time_ns = 777,
                                  .tsc_to_system_mul = 0xffffffffu,
                                  .tsc_shift = 3};
    /* delta 0 */
    assert_int_equal(gk_time_from_record(&t, 1000), 777);
    /* A TSC before the timestamp counts as no time, not as ~2^64 ticks. */
    assert_int_equal(gk_time_from_record(&t, 999), 777);
    assert_int_equal(gk_time_from_record(&t, 0), 777);
    /* Large delta, exact. */
    uint64_t tsc = 1000 + (1ull << 50);
    assert_int_equal(gk_time_from_record(&t, tsc), 777 + ref_halves(1ull << 50, 0xffffffffu, 3));
    /* The sum wraps like the hypervisor's. */
    t.system_time_ns = ~0ull - 5;
    t.tsc_to_system_mul = 0x80000000u; /* 0.5 */
    t.tsc_shift = 0;
    assert_int_equal(gk_time_from_record(&t, 1000 + 20), 4); /* 2^64-6 + 10 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_realistic),
        cmocka_unit_test(test_record_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
