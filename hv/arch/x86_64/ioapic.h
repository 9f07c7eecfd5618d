/* The I/O APIC (ioapic.c), as devirq.c uses it. Private to hv/arch/x86_64. */
#ifndef HV_IOAPIC_H
#define HV_IOAPIC_H

#include "types.h"

/* The I/O APIC's id (its ID register). */
uint8_t ioapic_id(void);

/* Line gsi in interrupt-remapping format naming remapping entry `handle`
 * (the entry holds vector and destination); its mask bit is kept. */
void ioapic_set_remapped(uint32_t gsi, uint16_t handle);

/* Line gsi (plain format) delivered to xAPIC id apic_id. */
void ioapic_set_dest(uint32_t gsi, uint8_t apic_id);

#endif
