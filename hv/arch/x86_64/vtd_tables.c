/*
 * VT-d tables (see vtd_tables.h for the contract). Host-tested in
 * test/unit/iommu/test_vtd_tables.c against a software model.
 *
 * Layouts (VT-d 3.x, legacy mode):
 *   root entry (16 bytes, indexed by bus): lo bit 0 present, bits 63:12 the
 *     context table; hi reserved.
 *   context entry (16 bytes, indexed by devfn): lo bit 0 present, bit 1
 *     fault processing disable (kept 0: faults are reported), bits 3:2
 *     translation type (0: untranslated requests through the second-level
 *     tables), bits 63:12 the top table; hi bits 2:0 address width (1: 39
 *     bits, 3 levels; 2: 48 bits, 4 levels), bits 23:8 domain id.
 *   second-level entry (8 bytes): bit 0 read, bit 1 write, bits 51:12 the
 *     next table or the frame. Non-leaf entries carry both rights: the walk
 *     allows an access only if every level does.
 *   interrupt-remapping entry (16 bytes): lo bit 0 present, bit 2
 *     destination mode (0 physical), bit 4 trigger mode, bits 7:5 delivery
 *     mode (0 fixed), bits 23:16 vector, bits 47:40 xAPIC destination; hi
 *     bits 15:0 source id, bits 19:18 source validation type (1: the full
 *     source id must match).
 */
#include "vtd_tables.h"

#define ROOT_P (1ull << 0)
#define CTX_P (1ull << 0)
#define CTX_AW_39 1ull
#define CTX_AW_48 2ull
#define ADDR_MASK 0x000ffffffffff000ull
#define LEVEL_BITS 9u

static void write_entry(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
    vtd_hook_flush_entry(p);
}

static uint64_t read_entry(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* Index of bfn in a table of level `level` (1 = leaf). */
static unsigned index_at(uint64_t bfn, unsigned level)
{
    return (unsigned)((bfn >> (LEVEL_BITS * (level - 1))) & (VTD_ENTRIES - 1));
}

enum hv_status vtd_space_init(struct vtd_space *s, uint16_t did, unsigned levels)
{
    if ((levels != 3 && levels != 4) || did == 0)
        return HV_EINVAL;
    uint64_t top;
    if (vtd_hook_table_alloc(&top) == NULL)
        return HV_ENOMEM;
    *s = (struct vtd_space){.top = top, .table_count = 1, .did = did, .levels = (uint8_t)levels};
    return HV_OK;
}

/*
 * The leaf entry of bfn, allocating missing tables if `alloc`; NULL if a
 * table is missing (and !alloc) or cannot be allocated.
 */
static uint64_t *walk(struct vtd_space *s, uint64_t bfn, bool alloc)
{
    uint64_t *table = vtd_hook_table_va(s->top);
    for (unsigned level = s->levels; level > 1; level--) {
        uint64_t *e = &table[index_at(bfn, level)];
        uint64_t v = read_entry(e);
        if (!(v & VTD_PTE_R)) {
            if (!alloc)
                return NULL;
            uint64_t next;
            if (vtd_hook_table_alloc(&next) == NULL)
                return NULL;
            s->table_count++;
            v = next | VTD_PTE_R | VTD_PTE_W; /* the new table is all zero: complete */
            write_entry(e, v);
        }
        table = vtd_hook_table_va(v & ADDR_MASK);
    }
    return &table[index_at(bfn, 1)];
}

static bool bfn_in_range(const struct vtd_space *s, uint64_t bfn)
{
    return bfn < (1ull << (LEVEL_BITS * s->levels));
}

enum hv_status vtd_space_map(struct vtd_space *s, uint64_t bfn, uint64_t mfn, bool writable)
{
    if (!bfn_in_range(s, bfn) || mfn > (ADDR_MASK >> 12))
        return HV_ERANGE;
    uint64_t *e = walk(s, bfn, true);
    if (e == NULL)
        return HV_ENOMEM;
    if (!(read_entry(e) & (VTD_PTE_R | VTD_PTE_W)))
        s->mapped_count++;
    write_entry(e, mfn << 12 | VTD_PTE_R | (writable ? VTD_PTE_W : 0));
    return HV_OK;
}

bool vtd_space_unmap(struct vtd_space *s, uint64_t bfn)
{
    if (!bfn_in_range(s, bfn))
        return false;
    uint64_t *e = walk(s, bfn, false);
    if (e == NULL || !(read_entry(e) & (VTD_PTE_R | VTD_PTE_W)))
        return false;
    write_entry(e, 0);
    s->mapped_count--;
    return true;
}

bool vtd_space_lookup(const struct vtd_space *s, uint64_t bfn, uint64_t *mfn, bool *writable)
{
    if (!bfn_in_range(s, bfn))
        return false;
    const uint64_t *table = vtd_hook_table_va(s->top);
    bool w = true;
    for (unsigned level = s->levels; level > 1; level--) {
        uint64_t v = read_entry(&table[index_at(bfn, level)]);
        if (!(v & VTD_PTE_R))
            return false;
        w = w && (v & VTD_PTE_W);
        table = vtd_hook_table_va(v & ADDR_MASK);
    }
    uint64_t v = read_entry(&table[index_at(bfn, 1)]);
    if (!(v & (VTD_PTE_R | VTD_PTE_W)))
        return false;
    if (mfn != NULL)
        *mfn = (v & ADDR_MASK) >> 12;
    if (writable != NULL)
        *writable = w && (v & VTD_PTE_W);
    return true;
}

/* Frees the table at maddr of `level` and every table below it. The depth
 * is at most 4, so the recursion is bounded. */
static void free_tree(uint64_t maddr, unsigned level, uint32_t *freed)
{
    if (level > 1) {
        uint64_t *t = vtd_hook_table_va(maddr);
        for (unsigned i = 0; i < VTD_ENTRIES; i++) {
            uint64_t v = read_entry(&t[i]);
            if (v & VTD_PTE_R)
                free_tree(v & ADDR_MASK, level - 1, freed);
        }
    }
    vtd_hook_table_free(maddr);
    (*freed)++;
}

void vtd_space_destroy(struct vtd_space *s)
{
    uint32_t freed = 0;
    if (s->table_count != 0)
        free_tree(s->top, s->levels, &freed);
    *s = (struct vtd_space){0};
}

/* ---- Root and context tables ------------------------------------------- */

enum hv_status vtd_root_init(struct vtd_root *r)
{
    uint64_t m;
    if (vtd_hook_table_alloc(&m) == NULL)
        return HV_ENOMEM;
    *r = (struct vtd_root){.maddr = m};
    return HV_OK;
}

/* The 16-byte context entry of bdf, allocating its bus's table if `alloc`;
 * NULL if absent (or no frame). */
static uint64_t *context_entry(struct vtd_root *r, uint16_t bdf, bool alloc)
{
    uint64_t *root = vtd_hook_table_va(r->maddr);
    uint64_t *re = &root[2u * (bdf >> 8)];
    uint64_t v = read_entry(re);
    if (!(v & ROOT_P)) {
        if (!alloc)
            return NULL;
        uint64_t ctx;
        if (vtd_hook_table_alloc(&ctx) == NULL)
            return NULL;
        r->context_tables++;
        write_entry(&re[1], 0);
        v = ctx | ROOT_P;
        write_entry(re, v);
    }
    return &vtd_hook_table_va(v & ADDR_MASK)[2u * (bdf & 0xff)];
}

enum hv_status vtd_context_set(struct vtd_root *r, uint16_t bdf, const struct vtd_space *s)
{
    uint64_t *ce = context_entry(r, bdf, true);
    if (ce == NULL)
        return HV_ENOMEM;
    uint64_t hi = (uint64_t)s->did << 8 | (s->levels == 4 ? CTX_AW_48 : CTX_AW_39);
    uint64_t lo = (s->top & ADDR_MASK) | CTX_P;
    if (read_entry(ce) & CTX_P) {
        /* Present already: take it away first so that no walk sees one
         * half of the old entry with one half of the new. */
        write_entry(&ce[0], 0);
    }
    write_entry(&ce[1], hi);
    write_entry(&ce[0], lo);
    return HV_OK;
}

bool vtd_context_clear(struct vtd_root *r, uint16_t bdf, uint16_t *old_did)
{
    uint64_t *ce = context_entry(r, bdf, false);
    if (ce == NULL || !(read_entry(ce) & CTX_P))
        return false;
    if (old_did != NULL)
        *old_did = (uint16_t)(read_entry(&ce[1]) >> 8);
    write_entry(&ce[0], 0);
    write_entry(&ce[1], 0);
    return true;
}

bool vtd_context_get(const struct vtd_root *r, uint16_t bdf, uint16_t *did, uint64_t *top)
{
    uint64_t *ce = context_entry((struct vtd_root *)r, bdf, false);
    if (ce == NULL)
        return false;
    uint64_t lo = read_entry(&ce[0]);
    if (!(lo & CTX_P))
        return false;
    if (did != NULL)
        *did = (uint16_t)(read_entry(&ce[1]) >> 8);
    if (top != NULL)
        *top = lo & ADDR_MASK;
    return true;
}

/* ---- Interrupt remapping ----------------------------------------------- */

#define IRTE_P (1ull << 0)
#define IRTE_TM (1ull << 4)
#define IRTE_SVT_SID (1ull << 18)

struct vtd_irte vtd_irte_make(uint8_t vector, uint8_t apic_id, bool level, bool sid_check,
                              uint16_t sid)
{
    struct vtd_irte e;
    e.lo = IRTE_P | (level ? IRTE_TM : 0) | (uint64_t)vector << 16 | (uint64_t)apic_id << 40;
    e.hi = sid_check ? (IRTE_SVT_SID | sid) : 0;
    return e;
}

bool vtd_irte_present(struct vtd_irte e)
{
    return e.lo & IRTE_P;
}

uint8_t vtd_irte_vector(struct vtd_irte e)
{
    return (uint8_t)(e.lo >> 16);
}

uint8_t vtd_irte_apic_id(struct vtd_irte e)
{
    return (uint8_t)(e.lo >> 40);
}

void vtd_msi_remappable(uint16_t handle, uint32_t *addr, uint32_t *data)
{
    /* 0xfee, handle[14:0] in bits 19:5, interrupt format (bit 4), no
     * subhandle (bit 3 clear), handle[15] in bit 2. */
    *addr =
        0xfee00000u | (uint32_t)(handle & 0x7fff) << 5 | 1u << 4 | (uint32_t)(handle >> 15) << 2;
    *data = 0;
}

uint64_t vtd_ioapic_rte_remappable(uint16_t handle, uint8_t vector, bool level, bool masked)
{
    return (uint64_t)(handle & 0x7fff) << 49 | 1ull << 48 | (uint64_t)(handle >> 15) << 11 |
           (masked ? 1ull << 16 : 0) | (level ? 1ull << 15 : 0) | vector;
}

void vtd_msi_compat(uint8_t vector, uint8_t apic_id, uint32_t *addr, uint32_t *data)
{
    *addr = 0xfee00000u | (uint32_t)apic_id << 12;
    *data = vector;
}
