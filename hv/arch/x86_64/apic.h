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

void apic_init(void);
/* Enables this AP's local APIC with the boot CPU's settings; its timer is
 * one-shot on APIC_TIMER_VECTOR, stopped, with the boot CPU's calibration
 * (arch_timer_set_deadline works on any CPU). */
void apic_init_ap(void);
void apic_eoi(void);
void apic_timer_interrupt(void);
/* This CPU's local APIC registers (every CPU sees its own at one address). */
uint32_t apic_read(uint32_t reg);
void apic_write(uint32_t reg, uint32_t v);

/* IPI vectors' handlers (smp.c), called by trap_entry with interrupts off. */
void smp_ipi_interrupt(void);
void smp_flush_interrupt(void);

#endif
