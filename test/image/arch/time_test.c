/*
 * The test image's timer health check (hv-test.elf only; test_boot runs it
 * first on every boot of the test image): after calibration (time.c), two
 * one-shot timer interrupts of one tick (HV_TICK_HZ) each must arrive
 * within a second of system time, or the hypervisor panics. The interrupts
 * taken before the scheduler starts are counted by arch_time_test_tick
 * (the core's schedule_timer_interrupt calls it in the test image).
 *
 * Arch layer code outside hv/arch/x86_64 because the product has none of
 * it; the wait halts (arch_idle_wait) and the timer's interrupt wakes it.
 */
#include "apic.h"
#include "arch.h"
#include "log.h"

static volatile uint64_t ticks;

void arch_time_test_tick(void)
{
    ticks++;
}

void arch_time_self_test(void)
{
    const uint64_t tick_ns = 1000000000ull / HV_TICK_HZ;
    uint64_t t0 = arch_now_ns(), start = ticks, seen = ticks;
    arch_timer_set_deadline(t0 + tick_ns);
    while (ticks < start + 2) {
        if (arch_now_ns() - t0 > 1000000000ull)
            panic("time: the APIC timer did not tick within one second");
        if (ticks != seen) { /* one-shot: the next tick */
            seen = ticks;
            arch_timer_set_deadline(arch_now_ns() + tick_ns);
        }
        arch_idle_wait(); /* interrupts on only while halted */
    }
    arch_timer_set_deadline(0);
    log_info("time: self-test: 2 ticks in %llu us",
             (unsigned long long)((arch_now_ns() - t0) / 1000));
}
