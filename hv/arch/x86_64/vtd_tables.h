/*
 * Intel VT-d in-memory tables (legacy mode, VT-d 3.x chapters 9.1-9.3 and
 * 9.9-9.10): the root table (one entry per bus), context tables (one entry
 * per device/function, naming a translation space and its domain id),
 * second-level page tables (the translation space: DMA address frame ->
 * machine frame, read and write rights), interrupt-remapping table entries
 * and the two message formats that reach them.
 *
 * Pure logic over 4 KiB table frames that the hooks below provide: it
 * compiles on the host too (test/unit/iommu, against hostile and random
 * use) and never touches a register. The register side (enabling, queued
 * invalidation, faults) is vtd.c; what must be invalidated after a change
 * is returned to the caller, who must invalidate before it relies on the
 * change (in particular before a frame unmapped here is reused: see
 * docs/devices.md, "The ordering rule").
 *
 * Entries are written in an order the IOMMU may observe at any moment: a
 * new table is complete before the entry that points to it is made present;
 * a present context entry gets its upper half before its lower half (with
 * the present bit); clearing writes the present half first. Each written
 * entry is passed to vtd_hook_flush_entry (clflush where the IOMMU does not
 * snoop the CPU caches).
 *
 * Not thread-safe: the caller serialises every call on one root and its
 * spaces (the hypervisor's IOMMU lock).
 */
#ifndef HV_VTD_TABLES_H
#define HV_VTD_TABLES_H

#include "types.h"
#include <hv/abi.h>

#define VTD_ENTRIES 512u    /* 64-bit entries of a page-table frame */
#define VTD_DID_MAX 0xffffu /* largest domain id of the 16-bit field */
#define VTD_IRTE_HANDLE_MAX 0xffffu

/* Second-level entry bits. */
#define VTD_PTE_R (1ull << 0)
#define VTD_PTE_W (1ull << 1)
#define VTD_PTE_ADDR 0x000ffffffffff000ull

/* A translation space: second-level page tables of `levels` levels (3: a
 * 39-bit DMA address space, 4: 48 bits), all functions attached to it share
 * the domain id `did`. Fields are read-only outside vtd_tables.c. */
struct vtd_space {
    uint64_t top;          /* machine address of the top table */
    uint64_t mapped_count; /* present leaf entries */
    uint32_t table_count;  /* table frames held, the top included */
    uint16_t did;
    uint8_t levels;
};

/* The root table and the context tables hanging off it. */
struct vtd_root {
    uint64_t maddr;          /* machine address of the root table */
    uint32_t context_tables; /* context-table frames held */
};

/*
 * A new space with an empty top table. HV_EINVAL: levels not 3 or 4, or
 * did 0 (reserved: VT-d uses domain id 0 for caching-mode quirks, and the
 * hypervisor keeps it unused); HV_ENOMEM: no table frame.
 */
enum hv_status vtd_space_init(struct vtd_space *s, uint16_t did, unsigned levels);

/*
 * Maps DMA frame bfn to machine frame mfn, readable and, if writable,
 * writable, allocating missing tables. An entry that is present already is
 * replaced (its old rights or frame may still be cached: the caller
 * invalidates when it narrows a mapping, as for an unmap). HV_ERANGE: bfn
 * beyond the space's width or mfn beyond 52 address bits; HV_ENOMEM: a
 * table could not be allocated (nothing is mapped; tables allocated on the
 * way stay, empty, until vtd_space_destroy).
 */
enum hv_status vtd_space_map(struct vtd_space *s, uint64_t bfn, uint64_t mfn, bool writable);

/*
 * Clears the entry of bfn. Returns true if it was present: the caller must
 * then invalidate the IOTLB for bfn in s->did before the frame it mapped
 * may be given to anyone else. Table frames are kept (until destroy).
 */
bool vtd_space_unmap(struct vtd_space *s, uint64_t bfn);

/* The software walk: whether bfn is mapped, and to what (either out-pointer
 * may be NULL). The same walk the IOMMU does, for tests and checks. */
bool vtd_space_lookup(const struct vtd_space *s, uint64_t bfn, uint64_t *mfn, bool *writable);

/* Frees every table of s. Only after every context entry naming it is
 * cleared and the context cache and IOTLB invalidated for its domain id. */
void vtd_space_destroy(struct vtd_space *s);

/* A zeroed root table (every bus not present: all DMA blocked). HV_ENOMEM. */
enum hv_status vtd_root_init(struct vtd_root *r);

/*
 * Points function bdf at space s (translated DMA, fault reporting on),
 * allocating its bus's context table if needed. HV_ENOMEM. If bdf was
 * present before (under any space), the caller must invalidate the context
 * cache for bdf and the IOTLB for the old domain id.
 */
enum hv_status vtd_context_set(struct vtd_root *r, uint16_t bdf, const struct vtd_space *s);

/* Makes function bdf not present (its DMA faults). Returns true if it was
 * present: the caller invalidates the context cache for bdf and the IOTLB
 * for the old domain id (*old_did) before relying on it. */
bool vtd_context_clear(struct vtd_root *r, uint16_t bdf, uint16_t *old_did);

/* Whether bdf is present, and the domain id and top table it names. */
bool vtd_context_get(const struct vtd_root *r, uint16_t bdf, uint16_t *did, uint64_t *top);

/* ---- Interrupt remapping ----------------------------------------------- */

/* One interrupt-remapping table entry (128 bits). */
struct vtd_irte {
    uint64_t lo, hi;
};

/*
 * A present entry delivering `vector` (fixed, physical destination) to the
 * xAPIC id apic_id, edge (level false) or level triggered. With sid_check,
 * only requests from source id `sid` (bus << 8 | devfn) may use it; a
 * request from any other function faults. The vector must be >= 16.
 */
struct vtd_irte vtd_irte_make(uint8_t vector, uint8_t apic_id, bool level, bool sid_check,
                              uint16_t sid);

/* Fields of an entry, for the tests and the fault log. */
bool vtd_irte_present(struct vtd_irte e);
uint8_t vtd_irte_vector(struct vtd_irte e);
uint8_t vtd_irte_apic_id(struct vtd_irte e);

/* The remappable MSI address and data naming entry `handle` (VT-d 5.1.5.2). */
void vtd_msi_remappable(uint16_t handle, uint32_t *addr, uint32_t *data);

/*
 * The I/O APIC redirection entry (both halves as one 64-bit value) in
 * remappable format for entry `handle`: vector (must equal the entry's, for
 * the EOI of level-triggered lines), trigger mode, masked or not.
 */
uint64_t vtd_ioapic_rte_remappable(uint16_t handle, uint8_t vector, bool level, bool masked);

/* A compatibility-format MSI (no interrupt remapping): fixed delivery of
 * `vector` to xAPIC id apic_id, edge. */
void vtd_msi_compat(uint8_t vector, uint8_t apic_id, uint32_t *addr, uint32_t *data);

/* ---- Hooks: the hypervisor's frame allocator, malloc in the tests ------ */

/* A zeroed 4 KiB table frame: its machine address in *maddr and a pointer
 * the code may write through; NULL if none is left. */
void *vtd_hook_table_alloc(uint64_t *maddr);
/* Gives back a table frame (no entry names it any more). */
void vtd_hook_table_free(uint64_t maddr);
/* A pointer to the table frame at machine address maddr. */
uint64_t *vtd_hook_table_va(uint64_t maddr);
/* Makes the 8 bytes at p visible to the IOMMU's table walks. */
void vtd_hook_flush_entry(const void *p);

#endif /* HV_VTD_TABLES_H */
