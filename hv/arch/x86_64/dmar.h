/*
 * The ACPI DMAR table (Intel VT-d, "DMA Remapping Reporting"): where the
 * remapping units' registers are, which PCI functions each one translates,
 * whether interrupt remapping is offered, and the reserved memory regions
 * (RMRR) some devices need identity-mapped.
 *
 * Pure parsing code: it compiles on the host too (test/unit/iommu, and the
 * fuzz target test/fuzz/dmar) and touches nothing but the table it is
 * given and *out. The table is hostile input: its signature, length and
 * checksum are checked again here (acpi_find_table did so once), every
 * remapping structure must be at least the fixed size of its type and end
 * inside the table, every device scope at least 8 bytes with a whole
 * number of path entries and end inside its structure. Anything else fails
 * the whole parse with a precise error and the byte offset of the
 * offending structure; the caller then runs without an IOMMU.
 *
 * Only PCI segment 0 is used (the hypervisor reaches configuration space
 * through ports 0xcf8/0xcfc, which address segment 0): units and regions
 * of other segments are counted and left out.
 *
 * Called once by the boot CPU before any domain exists.
 */
#ifndef HV_DMAR_H
#define HV_DMAR_H

#include "types.h"

#define DMAR_UNITS_MAX 8u   /* remapping units kept; more are counted and left out */
#define DMAR_SCOPES_MAX 64u /* device scopes kept (all units and regions together) */
#define DMAR_RMRR_MAX 8u    /* reserved memory regions kept */
#define DMAR_PATH_MAX 4u    /* hops of a scope's path kept (deeper ones are refused) */
#define DMAR_HDR_BYTES 48u  /* SDT header, host address width, flags, reserved */

/* Device scope types (VT-d 8.3.1). */
enum dmar_scope_type {
    DMAR_SCOPE_ENDPOINT = 1, /* a PCI endpoint */
    DMAR_SCOPE_BRIDGE = 2,   /* a PCI-PCI bridge and everything below it */
    DMAR_SCOPE_IOAPIC = 3,
    DMAR_SCOPE_HPET = 4,
    DMAR_SCOPE_ACPI = 5, /* an ACPI namespace device */
};

/* Who a scope belongs to. */
#define DMAR_OWNER_RMRR 0x80u /* owner = DMAR_OWNER_RMRR | rmrr index; else a unit index */

/* One device scope: the function reached from start_bus through path[]
 * (device << 3 | function per hop; every hop but the last is a bridge). */
struct dmar_scope {
    uint8_t type;     /* enum dmar_scope_type */
    uint8_t enum_id;  /* I/O APIC id, HPET number, ACPI device number */
    uint8_t bus;      /* start bus */
    uint8_t owner;    /* unit index, or DMAR_OWNER_RMRR | region index */
    uint8_t path_len; /* 1..DMAR_PATH_MAX */
    uint8_t path[DMAR_PATH_MAX];
};

/* A remapping unit (DRHD). */
struct dmar_unit {
    uint64_t reg_base;    /* its 4 KiB-aligned register page */
    bool include_all;     /* translates every function of the segment not listed elsewhere */
    uint32_t scope_count; /* scopes of this unit in the table order */
};

/* A reserved memory region (RMRR): [base, limit] (limit inclusive) that the
 * functions of its scopes may access with DMA identity-mapped. */
struct dmar_rmrr {
    uint64_t base, limit;
};

/* What the DMAR says. */
struct dmar_info {
    uint8_t host_address_bits; /* host address width: N + 1 from the table */
    bool intr_remap;           /* flags bit 0: interrupt remapping supported */
    bool x2apic_opt_out;       /* flags bit 1 */
    uint32_t unit_count;
    struct dmar_unit units[DMAR_UNITS_MAX];
    uint32_t rmrr_count;
    struct dmar_rmrr rmrr[DMAR_RMRR_MAX];
    uint32_t scope_count;
    struct dmar_scope scopes[DMAR_SCOPES_MAX];
    uint32_t ignored; /* structures of other types or segments, or past the maxima */
};

enum dmar_error {
    DMAR_OK = 0,
    DMAR_E_BAD_ARGS,    /* NULL pointers */
    DMAR_E_SIGNATURE,   /* not "DMAR" */
    DMAR_E_LENGTH,      /* length < 48, > ACPI_TABLE_MAX_BYTES, or > the bytes given */
    DMAR_E_CHECKSUM,    /* the checksum is wrong */
    DMAR_E_WIDTH,       /* host address width below 32 or above 64 bits */
    DMAR_E_STRUCT,      /* a structure of length < 4, too short for its type, or past the end */
    DMAR_E_SCOPE,       /* a device scope too short, of odd path length, or past its structure */
    DMAR_E_PATH,        /* a scope path longer than DMAR_PATH_MAX hops, or a device > 31 */
    DMAR_E_UNIT_BASE,   /* a unit's register base is 0 or not 4 KiB-aligned */
    DMAR_E_INCLUDE_ALL, /* more than one INCLUDE_PCI_ALL unit for segment 0 */
    DMAR_E_RMRR_RANGE,  /* an RMRR whose limit is below its base or not page-bounded */
    DMAR_E_NO_UNIT,     /* no remapping unit for segment 0 */
    DMAR_E_COUNT_       /* number of codes; not an error */
};

/*
 * Parses the DMAR at `table` (len_bytes of it may be read). On DMAR_OK *out
 * holds its contents; on an error *out is all zero (no IOMMU) and *err_off
 * (if not NULL) the byte offset of the structure at fault (0: the header).
 */
enum dmar_error dmar_parse(const uint8_t *table, size_t len_bytes, struct dmar_info *out,
                           uint32_t *err_off);

/* A short static English description of e (never NULL). */
const char *dmar_strerror(enum dmar_error e);

/*
 * Resolves a scope's path to a bus/device/function (bus << 8 | device << 3
 * | function): every hop but the last is a bridge, whose secondary bus
 * number (configuration byte 0x19) secondary_bus() reads. Returns false if
 * a hop leads nowhere (secondary bus 0 or not above the bridge's own bus).
 */
bool dmar_scope_bdf(const struct dmar_scope *s, uint8_t (*secondary_bus)(void *ctx, uint16_t bdf),
                    void *ctx, uint16_t *bdf);

/*
 * The unit that translates function bdf: the unit of an ENDPOINT scope
 * naming bdf or of a BRIDGE scope whose bridge has bdf below it (its bus
 * range read through secondary_bus/subordinate_bus), else the INCLUDE_PCI_ALL
 * unit. Returns the unit index, or -1 if no unit covers bdf.
 */
int dmar_unit_of(const struct dmar_info *info, uint16_t bdf,
                 uint8_t (*secondary_bus)(void *ctx, uint16_t bdf),
                 uint8_t (*subordinate_bus)(void *ctx, uint16_t bdf), void *ctx);

/* The source id (bus << 8 | devfn) the DMAR gives I/O APIC `ioapic_id`;
 * false if it names none. */
bool dmar_ioapic_sid(const struct dmar_info *info, uint8_t ioapic_id, uint16_t *sid);

#endif /* HV_DMAR_H */
