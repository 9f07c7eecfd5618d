/*
 * ACPI: just enough to find the processors and interrupt controllers, from
 * the RSDP through the RSDT or XSDT to the MADT ("APIC" table), and to
 * find any other table by signature (the DMAR, parsed by dmar.c).
 *
 * Pure parsing code: it compiles on the host too (test/unit/acpi) and
 * touches nothing but the memory window it is given and *out. Firmware
 * tables are treated as hostile input: every table's length is bounded
 * (ACPI_TABLE_MAX_BYTES) and must lie entirely inside the window, every
 * checksum is verified, every MADT entry must have a length of at least 2
 * and at least the fixed size of its type, and must end inside its table.
 * A table that fails a check makes the whole parse fail with a precise
 * error and the physical address of the offending structure; the caller
 * then falls back to acpi_madt_default() (one CPU, the standard addresses).
 *
 * Called once by the boot CPU (smp.c) before any other CPU runs.
 */
#ifndef HV_ACPI_H
#define HV_ACPI_H

#include "types.h"

#define ACPI_MAX_CPUS 64u /* = SCHED_MAX_CPUS; more enabled CPUs are counted and left out */
#define ACPI_MAX_IOAPICS 8u
#define ACPI_MAX_OVERRIDES 16u
#define ACPI_TABLE_MAX_BYTES (1u << 20) /* any longer SDT is refused as corrupt */
#define ACPI_DEFAULT_LAPIC_PADDR 0xfee00000ull
#define ACPI_DEFAULT_IOAPIC_PADDR 0xfec00000u
#define ACPI_RSDP_V1_BYTES 20u
#define ACPI_RSDP_V2_BYTES 36u

/* Physical memory [0, size_bytes) as the parser may read it: physical
 * address p is at base + p (the direct map; a plain buffer in host tests). */
struct acpi_phys {
    const uint8_t *base;
    uint64_t size_bytes;
};

struct acpi_ioapic {
    uint8_t id;
    uint32_t paddr;
    uint32_t gsi_base;
};

/* An interrupt source override: ISA IRQ `source` arrives at `gsi`. */
struct acpi_override {
    uint8_t bus;
    uint8_t source;
    uint32_t gsi;
    uint16_t flags; /* MPS INTI flags: polarity bits 0-1, trigger mode bits 2-3 */
};

/* What the MADT says (or the defaults). */
struct acpi_madt {
    uint64_t lapic_paddr;
    bool pcat_compat;   /* legacy 8259s present (MADT flags bit 0) */
    uint32_t cpu_count; /* enabled CPUs with distinct xAPIC ids, table order */
    uint32_t cpu_apic_id[ACPI_MAX_CPUS];
    uint32_t cpus_disabled;      /* not enabled (incl. online-capable hot-plug slots) */
    uint32_t cpus_dropped;       /* enabled, but beyond ACPI_MAX_CPUS or a duplicate id */
    uint32_t cpus_unaddressable; /* x2APIC ids >= 255: not reachable through the xAPIC */
    uint32_t ioapic_count;
    struct acpi_ioapic ioapic[ACPI_MAX_IOAPICS];
    uint32_t override_count;
    struct acpi_override override[ACPI_MAX_OVERRIDES];
    uint32_t entries_ignored; /* unknown types, and I/O APICs or overrides past the maxima */
    bool from_xsdt;           /* reached through the XSDT (else the RSDT) */
};

enum acpi_error {
    ACPI_OK = 0,
    ACPI_E_BAD_ARGS,       /* NULL pointers */
    ACPI_E_RSDP_SIGNATURE, /* not "RSD PTR " */
    ACPI_E_RSDP_LENGTH,    /* shorter than its revision needs, or its length field lies */
    ACPI_E_RSDP_CHECKSUM,  /* the v1 or the extended checksum is wrong */
    ACPI_E_ROOT_BOUNDS,    /* the RSDT/XSDT (or its header) lies outside memory */
    ACPI_E_ROOT_LENGTH,    /* its length is < 36 or > ACPI_TABLE_MAX_BYTES */
    ACPI_E_ROOT_CHECKSUM,  /* its checksum is wrong */
    ACPI_E_ROOT_SIGNATURE, /* not "RSDT" / "XSDT" */
    ACPI_E_NO_MADT,        /* no "APIC" table listed */
    ACPI_E_MADT_BOUNDS,    /* the MADT runs outside memory */
    ACPI_E_MADT_LENGTH,    /* its length is < 44 or > ACPI_TABLE_MAX_BYTES */
    ACPI_E_MADT_CHECKSUM,  /* its checksum is wrong */
    ACPI_E_MADT_ENTRY,     /* an entry of length < 2, too short for its type, or past the end */
    ACPI_E_MADT_NO_CPU,    /* no enabled processor */
    ACPI_E_NO_TABLE,       /* acpi_find_table: no table of that signature listed */
    ACPI_E_TABLE_BOUNDS,   /* acpi_find_table: the table runs outside memory */
    ACPI_E_TABLE_LENGTH,   /* acpi_find_table: length < min_len or > ACPI_TABLE_MAX_BYTES */
    ACPI_E_TABLE_CHECKSUM, /* acpi_find_table: its checksum is wrong */
    ACPI_E_COUNT_          /* number of codes; not an error */
};

/*
 * Looks for the RSDP the way the specification says a BIOS system places
 * it: on a 16-byte boundary in the first KiB of the EBDA (segment at 0x40e)
 * or in 0xe0000-0xfffff, with a valid signature and checksum(s). On
 * success stores its physical address and returns true.
 */
bool acpi_rsdp_find(const struct acpi_phys *mem, uint64_t *rsdp_paddr);

/*
 * Checks an RSDP of which size_bytes may be read (signature, revision,
 * length and checksums). Returns ACPI_OK or why not.
 */
enum acpi_error acpi_rsdp_check(const uint8_t *rsdp, size_t size_bytes);

/*
 * Parses the tables reached from the RSDP at `rsdp` (size_bytes readable;
 * the copy Multiboot2 gives or a pointer into mem). Prefers the XSDT when
 * the RSDP is revision 2 or later and names one. On ACPI_OK *out holds the
 * MADT's contents; on error *out holds acpi_madt_default(out, 0) and
 * *err_paddr (if not NULL) the physical address of the structure at fault
 * (0 for the RSDP itself).
 */
enum acpi_error acpi_parse(const struct acpi_phys *mem, const uint8_t *rsdp, size_t size_bytes,
                           struct acpi_madt *out, uint64_t *err_paddr);

/*
 * Finds the first table with signature sig (4 characters) that the RSDT or
 * XSDT reached from `rsdp` lists, and checks it as every table here is
 * checked: length in [min_len, ACPI_TABLE_MAX_BYTES] (min_len >= 36),
 * entirely inside memory, checksum. On ACPI_OK *table points at it (inside
 * mem), *len is its length and *paddr its physical address; on an error
 * *paddr is the structure at fault (as for acpi_parse). Used for the DMAR
 * (dmar.h), whose contents the caller parses.
 */
enum acpi_error acpi_find_table(const struct acpi_phys *mem, const uint8_t *rsdp, size_t size_bytes,
                                const char *sig, uint32_t min_len, const uint8_t **table,
                                uint32_t *len, uint64_t *paddr);

/* Fills *out with the no-ACPI defaults: one CPU (bsp_apic_id), the local
 * APIC at 0xfee00000, one I/O APIC (id 0) at 0xfec00000 with GSI base 0. */
void acpi_madt_default(struct acpi_madt *out, uint32_t bsp_apic_id);

/* A short static English description of e (never NULL). */
const char *acpi_strerror(enum acpi_error e);

#endif
