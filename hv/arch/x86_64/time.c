/*
 * Time on the boot CPU: the legacy PICs are masked, the local APIC enabled,
 * and the TSC and the APIC timer are calibrated together against PIT
 * channel 2 over 10 ms. The APIC timer is then one-shot, programmed by the
 * scheduler (the test image checks that it ticks: test/image/arch/
 * time_test.c). APs enable their local APIC with apic_init_ap() and reuse
 * the calibration.
 */
#include "apic.h"
#include "arch.h"
#include "log.h"
#include "x86.h"

#define APIC_LVT_MASKED (1u << 16)

#define PIT_HZ 1193182u
#define CALIBRATE_MS 10u

static volatile uint32_t *apic_base;
static uint64_t tsc_hz;
static uint64_t tsc_at_boot;
static uint32_t apic_timer_hz; /* APIC timer counts per second (divide by 16) */

uint32_t apic_read(uint32_t reg)
{
    return apic_base[reg / 4];
}
void apic_write(uint32_t reg, uint32_t v)
{
    apic_base[reg / 4] = v;
}

static void pic_disable(void)
{
    /* Remap the 8259s away from the exception vectors, then mask every line. */
    outb(0x20, 0x11);
    outb(0xa0, 0x11);
    outb(0x21, 0xe0);
    outb(0xa1, 0xe8);
    outb(0x21, 4);
    outb(0xa1, 2);
    outb(0x21, 1);
    outb(0xa1, 1);
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

void apic_eoi(void)
{
    apic_write(APIC_REG_EOI, 0);
}

uint64_t arch_tsc_hz(void)
{
    return tsc_hz;
}

/*
 * System time is computed with exactly the formula guests use on their time
 * record (proto/include/hv/domctl.h), from the same constants, so a guest
 * and the hypervisor always agree on "now" to the nanosecond:
 *   ns = ((tsc - tsc_at_boot) << tsc_shift) * tsc_mul >> 32.
 */
static uint32_t tsc_mul;
static int8_t tsc_shift;
static uint64_t wallclock_ns_at_zero; /* UTC ns since 1970 at system time 0 */

static void time_scale_init(void)
{
    uint64_t hz = tsc_hz;
    int shift = 0;
    while (hz <= 1000000000ull) { /* makes the multiplier fit 32 bits */
        hz <<= 1;
        shift++;
    }
    tsc_shift = (int8_t)shift;
    tsc_mul = (uint32_t)((1000000000ull << 32) / hz); /* 1e9 << 32 fits 64 bits */
}

uint64_t arch_now_ns(void)
{
    if (!tsc_mul)
        return 0;
    uint64_t d = (rdtsc() - tsc_at_boot) << tsc_shift;
    return (uint64_t)(((unsigned __int128)d * tsc_mul) >> 32);
}

void arch_time_record(uint64_t *tsc_timestamp, uint32_t *mul, int8_t *shift)
{
    *tsc_timestamp = tsc_at_boot;
    *mul = tsc_mul;
    *shift = tsc_shift;
}

uint64_t arch_wallclock_at_zero_ns(void)
{
    return wallclock_ns_at_zero;
}

static uint8_t cmos_read(uint8_t reg)
{
    outb(0x70, reg);
    return inb(0x71);
}

static unsigned bcd(unsigned v, bool is_bcd)
{
    return is_bcd ? (v & 0x0f) + (v >> 4) * 10 : v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Reads the RTC (twice, until two reads agree, outside an update). */
static uint64_t rtc_unix_seconds(void)
{
    uint8_t r[6], again[6];
    for (int tries = 0; tries < 5; tries++) {
        for (unsigned spin = 0; spin < 100000 && (cmos_read(0x0a) & 0x80); spin++)
            cpu_relax();
        static const uint8_t regs[6] = {0x00, 0x02, 0x04, 0x07, 0x08, 0x09};
        for (int i = 0; i < 6; i++)
            r[i] = cmos_read(regs[i]);
        for (int i = 0; i < 6; i++)
            again[i] = cmos_read(regs[i]);
        bool same = true;
        for (int i = 0; i < 6; i++)
            same = same && r[i] == again[i];
        if (same)
            break;
    }
    uint8_t b = cmos_read(0x0b);
    bool is_bcd = !(b & 0x04);
    bool pm = !(b & 0x02) && (r[2] & 0x80);
    unsigned sec = bcd(r[0], is_bcd), min = bcd(r[1], is_bcd);
    unsigned hour = bcd(r[2] & 0x7f, is_bcd), day = bcd(r[3], is_bcd);
    unsigned mon = bcd(r[4], is_bcd), year = bcd(r[5], is_bcd) + 2000;
    if (!(b & 0x02)) /* 12-hour mode */
        hour = (hour % 12) + (pm ? 12 : 0);
    if (sec > 59 || min > 59 || hour > 23 || day < 1 || day > 31 || mon < 1 || mon > 12)
        return 0; /* a broken RTC: the wall clock starts at the epoch */
    return (uint64_t)(days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec);
}

/* Busy-waits CALIBRATE_MS on PIT channel 2 (gated through port 0x61). */
static void pit_wait_calibration(void)
{
    uint32_t count = PIT_HZ * CALIBRATE_MS / 1000u;
    uint8_t gate = inb(0x61);
    outb(0x61, (uint8_t)((gate & ~0x02) | 0x01)); /* gate on, speaker off */
    outb(0x43, 0xb0);                             /* ch2, lo/hi, mode 0 */
    outb(0x42, (uint8_t)count);
    outb(0x42, (uint8_t)(count >> 8));
    for (unsigned long i = 0; !(inb(0x61) & 0x20); i++) {
        if (i > 100000000ul)
            panic("time: PIT channel 2 never expired; cannot calibrate");
        cpu_relax();
    }
    outb(0x61, gate);
}

void apic_init(void)
{
    uint64_t base = rdmsr(MSR_APIC_BASE);
    if (!(base & (1ull << 11)))
        wrmsr(MSR_APIC_BASE, base | (1ull << 11));
    apic_base = phys_to_virt(base & HV_PTE_ADDR_MASK);
    apic_write(APIC_REG_SVR, 0x100 | APIC_SPURIOUS_VECTOR);
    apic_write(APIC_REG_TIMER_DIV, 0x3); /* divide by 16 */
    apic_write(APIC_REG_LVT_TIMER, APIC_LVT_MASKED | APIC_TIMER_VECTOR);
}

void apic_init_ap(void)
{
    uint64_t base = rdmsr(MSR_APIC_BASE);
    if (!(base & (1ull << 11)))
        wrmsr(MSR_APIC_BASE, base | (1ull << 11));
    apic_write(APIC_REG_TPR, 0);
    apic_write(APIC_REG_SVR, 0x100 | APIC_SPURIOUS_VECTOR);
    apic_write(APIC_REG_TIMER_DIV, 0x3); /* divide by 16, as calibrated on the boot CPU */
    apic_write(APIC_REG_TIMER_INIT, 0);
    apic_write(APIC_REG_LVT_TIMER, APIC_TIMER_VECTOR); /* one-shot, stopped */
}

void arch_time_init(void)
{
    pic_disable();
    apic_init();

    /* Calibrate TSC and APIC timer together. */
    apic_write(APIC_REG_TIMER_INIT, 0xffffffffu);
    uint64_t t0 = rdtsc();
    pit_wait_calibration();
    uint64_t t1 = rdtsc();
    uint32_t apic_left = apic_read(APIC_REG_TIMER_CUR);
    apic_write(APIC_REG_TIMER_INIT, 0);

    tsc_hz = (t1 - t0) * (1000u / CALIBRATE_MS);
    apic_timer_hz = (0xffffffffu - apic_left) * (1000u / CALIBRATE_MS);
    if (tsc_hz == 0 || apic_timer_hz < HV_TICK_HZ)
        panic("time: calibration failed (tsc %llu Hz, apic timer %u Hz)",
              (unsigned long long)tsc_hz, apic_timer_hz);
    tsc_at_boot = t0;
    time_scale_init();
    uint64_t unix_sec = rtc_unix_seconds();
    wallclock_ns_at_zero = unix_sec * 1000000000ull - arch_now_ns();
    /* One-shot from now on, stopped until the scheduler programs it. */
    apic_write(APIC_REG_LVT_TIMER, APIC_TIMER_VECTOR);
    log_info("time: TSC %llu.%03llu MHz, APIC timer %u Hz (div 16)",
             (unsigned long long)(tsc_hz / 1000000), (unsigned long long)(tsc_hz / 1000 % 1000),
             apic_timer_hz);
}

void arch_timer_set_deadline(uint64_t deadline_ns)
{
    if (deadline_ns == 0) {
        apic_write(APIC_REG_TIMER_INIT, 0); /* stop */
        return;
    }
    apic_write(APIC_REG_TIMER_INIT, apic_timer_count(deadline_ns, arch_now_ns(), apic_timer_hz));
}

void arch_idle_wait(void)
{
    __asm__ volatile("sti; hlt; cli" ::: "memory");
}
