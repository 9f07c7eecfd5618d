/*
 * The VT-d unit (vtd.c), as the rest of hv/arch/x86_64 uses it: boot,
 * coverage, interrupt-remapping entries, the fault interrupt. The core
 * reaches it through arch.h's arch_iommu_* and arch_msi_* functions
 * (devirq.c, vtd.c).
 */
#ifndef HV_VTD_H
#define HV_VTD_H

#include "types.h"

/*
 * Boot, once, before any domain exists: parses the DMAR (dmar_len bytes,
 * already found and checksummed), turns on DMA remapping with queued
 * invalidation (every function blocked until attached), prepares interrupt
 * remapping if want_ir and the unit and DMAR offer it (vtd_ir_enable turns
 * it on), and aims fault events at fault_vector on the boot CPU. False (and
 * a log line why) if there is no usable unit; the machine runs without.
 */
bool vtd_init(const uint8_t *dmar_table, uint32_t dmar_len, bool want_ir, uint8_t fault_vector,
              uint8_t bsp_apic_id);

/* Whether the unit translates function bdf. */
bool vtd_covers(uint16_t bdf);

/* Interrupt remapping: prepared (vtd_ir_on), then enabled once every
 * interrupt source has a remapping entry. */
bool vtd_ir_on(void);
void vtd_ir_enable(void);

/* Writes entry `handle` (invalidating the unit's entry cache before it
 * returns), or clears it. */
void vtd_irte_set(uint16_t handle, uint8_t vector, uint8_t apic_id, bool level, bool sid_check,
                  uint16_t sid);
void vtd_irte_clear(uint16_t handle);

/* The source id the DMAR gives I/O APIC ioapic_id. */
bool vtd_ioapic_sid(uint8_t ioapic_id, uint16_t *sid);

/* The fault-event interrupt: reads, clears and reports every fault record. */
void vtd_fault_interrupt(void);

#endif /* HV_VTD_H */
