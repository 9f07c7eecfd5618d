/* The local APIC (xAPIC, MMIO) and its timer. */
#ifndef HV_APIC_H
#define HV_APIC_H

#include "types.h"

#define APIC_TIMER_VECTOR 0x20
#define APIC_SPURIOUS_VECTOR 0xff
#define HV_TICK_HZ 100

void apic_init(void);
void apic_eoi(void);
void apic_timer_interrupt(void);

#endif
