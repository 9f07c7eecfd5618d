/*
 * Time and the one-shot timer (hv/domctl.h "Upcalls, blocking and time",
 * hv/shared_info.h struct hv_vcpu_time_info).
 *
 * System time is nanoseconds since boot, computed without a hypercall from
 * VCPU 0's time record in the shared-info page and the TSC. The wall clock
 * is the UTC time at system time 0 plus system time.
 *
 * gk_sleep_* own the calling VCPU's one-shot timer (HC_SET_TIMER): code
 * that arms it itself with gk_timer_set must not sleep on that VCPU at the
 * same time. They block (gk_block) and so must not be called from an event
 * handler. Every VCPU may sleep (each has its own timer and timer VIRQ).
 * Time is read from VCPU 0's record on every VCPU (the records are the same
 * system time).
 */
#ifndef GK_TIME_H
#define GK_TIME_H

#include <stdint.h>

#include "hv/shared_info.h"

#define GK_NS_PER_US 1000ull
#define GK_NS_PER_MS 1000000ull
#define GK_NS_PER_SEC 1000000000ull

/*
 * ((delta shifted by shift) * mul) >> 32, the scaling of hv/domctl.h: delta
 * is shifted left by shift (right if negative) in 64 bits, then multiplied
 * by the 32.32 fixed-point mul in 128 bits. A shift of 64 or more either way
 * gives 0 (every bit shifted out). Pure: host-tested (gk_time_test).
 */
static inline uint64_t gk_time_scale(uint64_t delta, uint32_t mul, int8_t shift)
{
    if (shift < 0)
        delta = shift <= -64 ? 0 : delta >> (unsigned)(-shift);
    else
        delta = shift >= 64 ? 0 : delta << (unsigned)shift;
    return (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

/*
 * System time at TSC value tsc from a consistent copy of a time record:
 * system_time_ns + scale(tsc - tsc_timestamp). A tsc before tsc_timestamp
 * (a stale read) counts as no time elapsed rather than as a huge delta.
 * The sum wraps modulo 2^64 like the hypervisor's.
 */
static inline uint64_t gk_time_from_record(const struct hv_vcpu_time_info *t, uint64_t tsc)
{
    uint64_t delta = tsc >= t->tsc_timestamp ? tsc - t->tsc_timestamp : 0;
    return t->system_time_ns + gk_time_scale(delta, t->tsc_to_system_mul, t->tsc_shift);
}

/* Nanoseconds since boot (monotonic). */
uint64_t gk_now_ns(void);

/* The current UTC time: seconds since 1970 and nanoseconds (< 10^9). */
void gk_wallclock(uint64_t *sec, uint32_t *nsec);

/* HC_SET_TIMER: arm the calling VCPU's one-shot timer for system time deadline_ns
 * (0 cancels; a past deadline fires at once). Returns the status. */
int64_t gk_timer_set(uint64_t deadline_ns);

/* gk_timer_set, after binding HV_VIRQ_TIMER on the calling VCPU (once, as
 * gk_sleep_* do) so that the expiry wakes a gk_block on it. For code that
 * blocks with its own deadline (gk_channel_recv_until). */
int64_t gk_timer_arm(uint64_t deadline_ns);

/* Blocks until gk_now_ns() >= the deadline now + ns (saturating), even if
 * other events wake the VCPU earlier. Binds HV_VIRQ_TIMER on the calling
 * VCPU on its first use there (and initialises its events). Returns HV_OK, or the status of a failed
 * HC_SET_TIMER (then it has not slept). */
int64_t gk_sleep_ns(uint64_t ns);
int64_t gk_sleep_ms(uint64_t ms);

/* Blocks until gk_now_ns() >= deadline_ns (absolute); as gk_sleep_ns. */
int64_t gk_sleep_until(uint64_t deadline_ns);

#endif
