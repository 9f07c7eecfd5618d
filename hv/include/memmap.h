/*
 * The machine's memory map as the boot loader reported it, and physical
 * address ranges: the words the boot path (hv/core/mb2.c, main.c), the
 * frame allocator (hv/mm/pmm.c) and the architecture's start-up
 * (hv/arch/x86_64/smp.c) share.
 */
#ifndef HV_MEMMAP_H
#define HV_MEMMAP_H

#include "types.h"

/* Memory types, numbered as Multiboot2 (and the BIOS E820 map) number them. */
enum mem_type {
    MEM_AVAILABLE = 1,
    MEM_RESERVED = 2,
    MEM_ACPI_RECLAIMABLE = 3,
    MEM_NVS = 4,
    MEM_BADRAM = 5,
};

/* One memory-map entry as the boot loader reported it (not validated:
 * zero length and base + length overflowing happen). */
struct mem_map_entry {
    uint64_t base;
    uint64_t length;
    uint32_t type; /* enum mem_type, or any other value (= not usable) */
};

/* A physical address range [base, end). end <= base means empty. */
struct mem_range {
    paddr_t base;
    paddr_t end; /* exclusive */
};

#endif /* HV_MEMMAP_H */
