/* The local APIC (xAPIC, MMIO) and its timer. */
#ifndef HV_APIC_H
#define HV_APIC_H

#include "types.h"

#define APIC_TIMER_VECTOR 0x20
#define APIC_IPI_VECTOR 0xf0   /* generic IPI: smp_ipi_handler() (= ARCH_IPI_VECTOR) */
#define APIC_FLUSH_VECTOR 0xf1 /* TLB flush request (smp.c) */
#define APIC_SPURIOUS_VECTOR 0xff
#define HV_TICK_HZ 100

#define APIC_REG_ID 0x20
#define APIC_REG_TPR 0x80
#define APIC_REG_EOI 0xb0
#define APIC_REG_SVR 0xf0
#define APIC_REG_ESR 0x280
#define APIC_REG_ICR_LO 0x300
#define APIC_REG_ICR_HI 0x310
#define APIC_REG_LVT_TIMER 0x320
#define APIC_REG_TIMER_INIT 0x380
#define APIC_REG_TIMER_CUR 0x390
#define APIC_REG_TIMER_DIV 0x3e0

/*
 * The one-shot count that makes this CPU's APIC timer (counts_per_sec, after
 * its divider) fire at system time deadline_ns, now being now_ns: at least 1
 * (a deadline already past fires at once), and never more than one second
 * away (the interrupt re-arms it for the rest). Guests choose the deadline,
 * so every value must work: the product below is at most 10^9 * (2^32 - 1) <
 * 2^64, and the result fits 32 bits. Host-tested (test/unit/time).
 */
static inline uint32_t apic_timer_count(uint64_t deadline_ns, uint64_t now_ns,
                                        uint32_t counts_per_sec)
{
    uint64_t delta = deadline_ns > now_ns ? deadline_ns - now_ns : 0;
    if (delta > 1000000000ull)
        delta = 1000000000ull;
    uint64_t count = delta * counts_per_sec / 1000000000ull;
    if (count == 0)
        count = 1;
    if (count > 0xffffffffull)
        count = 0xffffffffull;
    return (uint32_t)count;
}

void apic_init(void);
/* Enables this AP's local APIC with the boot CPU's settings; its timer is
 * one-shot on APIC_TIMER_VECTOR, stopped, with the boot CPU's calibration
 * (arch_timer_set_deadline works on any CPU). */
void apic_init_ap(void);
void apic_eoi(void);
/* This CPU's local APIC registers (every CPU sees its own at one address). */
uint32_t apic_read(uint32_t reg);
void apic_write(uint32_t reg, uint32_t v);

/* IPI vectors' handlers (smp.c), called by trap_entry with interrupts off. */
void smp_ipi_interrupt(void);
void smp_flush_interrupt(void);

#endif
