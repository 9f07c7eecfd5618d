/*
 * apic_timer_count: a guest chooses HC_SET_TIMER's deadline (any 64-bit
 * value), the hypervisor turns it into a one-shot APIC count. Every value
 * must give a count in [1, counts_per_sec] with no overflow (issue 20 item
 * 2 checked every step of this path), for every calibration a machine may
 * report, including the extremes of a 32-bit rate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "apic.h"

#define NS 1000000000ull

static const uint32_t rates[] = {1, 100, 62500000u, 1000000000u, 0xffffffffu};
static const uint64_t nows[] = {0, 1, 123456789ull, 1ull << 62, UINT64_MAX - 1, UINT64_MAX};

static void test_past_and_now_fire_at_once(void **state)
{
    (void)state;
    for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++)
        for (size_t n = 0; n < sizeof(nows) / sizeof(nows[0]); n++) {
            uint64_t now = nows[n];
            assert_int_equal(apic_timer_count(now, now, rates[r]), 1);
            assert_int_equal(apic_timer_count(0, now, rates[r]), 1);
            if (now > 0)
                assert_int_equal(apic_timer_count(now - 1, now, rates[r]), 1);
        }
}

static void test_far_deadlines_are_one_second(void **state)
{
    (void)state;
    /* ~0, near ~0 and far ahead: at most one second (re-armed on expiry). */
    for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++)
        for (size_t n = 0; n < sizeof(nows) / sizeof(nows[0]); n++) {
            uint64_t now = nows[n];
            if (now > UINT64_MAX - 2 * NS)
                continue;
            uint32_t want = rates[r];
            assert_int_equal(apic_timer_count(UINT64_MAX, now, rates[r]), want);
            assert_int_equal(apic_timer_count(UINT64_MAX - 12345, now, rates[r]), want);
            assert_int_equal(apic_timer_count(now + NS, now, rates[r]), want);
            assert_int_equal(apic_timer_count(now + 2 * NS, now, rates[r]), want);
        }
}

static void test_exact_counts(void **state)
{
    (void)state;
    /* QEMU's APIC timer after divide-by-16: 62.5 MHz, 16 ns a count. */
    assert_int_equal(apic_timer_count(1000, 0, 62500000u), 62);
    assert_int_equal(apic_timer_count(1000000, 0, 62500000u), 62500);
    assert_int_equal(apic_timer_count(10000000 + 5, 5, 62500000u), 625000);
    assert_int_equal(apic_timer_count(15, 0, 62500000u), 1); /* below one count */
    assert_int_equal(apic_timer_count(NS - 1, 0, 0xffffffffu), 0xfffffffau);
    assert_int_equal(apic_timer_count(NS / 2, 0, 1), 1);
}

/* Pseudo-random deadlines around every "now": the count is always within
 * [1, rate] and rounds the exact delta down (never fires early by more
 * than one count). */
static void test_random(void **state)
{
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (unsigned i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t now = nows[i % 6] ^ (x >> 40), deadline = (i & 1) ? x : now + (x >> (x & 63));
        uint32_t rate = rates[(x >> 3) % 5];
        uint32_t c = apic_timer_count(deadline, now, rate);
        assert_true(c >= 1 && c <= rate);
        if (deadline > now && deadline - now < NS) {
            unsigned __int128 exact = (unsigned __int128)(deadline - now) * rate / NS;
            assert_true(c == (exact ? (uint64_t)exact : 1));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_past_and_now_fire_at_once),
        cmocka_unit_test(test_far_deadlines_are_one_second),
        cmocka_unit_test(test_exact_counts),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
