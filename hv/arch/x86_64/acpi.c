/*
 * ACPI table parser (see acpi.h for the contract). Host-tested in
 * test/unit/acpi with good and hostile tables.
 *
 * Invariants: every read goes through phys_span(), which returns a pointer
 * only when [paddr, paddr + len) lies inside the window without overflow;
 * a table's length is read once, bounded, and the table is then only read
 * within that length. Fields are read byte-wise (tables are unaligned).
 */
#include "acpi.h"
#include "hvlib/le.h"

/* Standard SDT header: signature[4] length u32 revision u8 checksum u8 ... */
#define SDT_HDR_BYTES 36u
#define MADT_FIXED_BYTES 44u /* header + local APIC address u32 + flags u32 */

#define MADT_LAPIC 0
#define MADT_IOAPIC 1
#define MADT_OVERRIDE 2
#define MADT_LAPIC_ADDR 5
#define MADT_X2APIC 9

static bool sig_is(const uint8_t *p, const char *sig, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)sig[i])
            return false;
    return true;
}

static uint8_t sum8(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

/* [paddr, paddr + len) inside the window, or NULL. */
static const uint8_t *phys_span(const struct acpi_phys *mem, uint64_t paddr, uint64_t len)
{
    if (paddr > mem->size_bytes || len > mem->size_bytes - paddr)
        return NULL;
    return mem->base + paddr;
}

enum acpi_error acpi_rsdp_check(const uint8_t *rsdp, size_t size_bytes)
{
    if (rsdp == NULL)
        return ACPI_E_BAD_ARGS;
    if (size_bytes < ACPI_RSDP_V1_BYTES)
        return ACPI_E_RSDP_LENGTH;
    if (!sig_is(rsdp, "RSD PTR ", 8))
        return ACPI_E_RSDP_SIGNATURE;
    if (sum8(rsdp, ACPI_RSDP_V1_BYTES) != 0)
        return ACPI_E_RSDP_CHECKSUM;
    if (rsdp[15] < 2)
        return ACPI_OK;
    if (size_bytes < ACPI_RSDP_V2_BYTES)
        return ACPI_E_RSDP_LENGTH;
    uint32_t len = hv_le32(rsdp + 20);
    if (len < ACPI_RSDP_V2_BYTES || len > size_bytes)
        return ACPI_E_RSDP_LENGTH;
    if (sum8(rsdp, len) != 0)
        return ACPI_E_RSDP_CHECKSUM;
    return ACPI_OK;
}

static bool scan_range(const struct acpi_phys *mem, uint64_t start, uint64_t end, uint64_t *out)
{
    for (uint64_t p = start; p + ACPI_RSDP_V1_BYTES <= end; p += 16) {
        /* The revision-2 structure may run past `end`; the window bounds it. */
        const uint8_t *v = phys_span(mem, p, ACPI_RSDP_V1_BYTES);
        if (v == NULL)
            return false;
        uint64_t avail = mem->size_bytes - p;
        if (acpi_rsdp_check(v, avail > 4096 ? 4096 : (size_t)avail) == ACPI_OK) {
            *out = p;
            return true;
        }
    }
    return false;
}

bool acpi_rsdp_find(const struct acpi_phys *mem, uint64_t *rsdp_paddr)
{
    if (mem == NULL || mem->base == NULL || rsdp_paddr == NULL)
        return false;
    const uint8_t *seg = phys_span(mem, 0x40e, 2);
    if (seg != NULL) {
        uint64_t ebda = (uint64_t)hv_le16(seg) << 4;
        /* An EBDA lives below 640 KiB; anything else is garbage. */
        if (ebda >= 0x400 && ebda < 0xa0000 && scan_range(mem, ebda, ebda + 1024, rsdp_paddr))
            return true;
    }
    return scan_range(mem, 0xe0000, 0x100000, rsdp_paddr);
}

void acpi_madt_default(struct acpi_madt *out, uint32_t bsp_apic_id)
{
    *out = (struct acpi_madt){0};
    out->lapic_paddr = ACPI_DEFAULT_LAPIC_PADDR;
    out->pcat_compat = true;
    out->cpu_count = 1;
    out->cpu_apic_id[0] = bsp_apic_id;
    out->ioapic_count = 1;
    out->ioapic[0] = (struct acpi_ioapic){.id = 0, .paddr = ACPI_DEFAULT_IOAPIC_PADDR};
}

/*
 * Validates the SDT at paddr: header inside memory, length in
 * [min_len, ACPI_TABLE_MAX_BYTES], whole table inside memory, checksum.
 * Returns the table and its length, or an error of the family given by
 * `first` (ROOT_* or MADT_*: BOUNDS, LENGTH, CHECKSUM in that order).
 */
static enum acpi_error sdt_map(const struct acpi_phys *mem, uint64_t paddr, uint32_t min_len,
                               enum acpi_error e_bounds, enum acpi_error e_length,
                               enum acpi_error e_checksum, const uint8_t **table, uint32_t *len_out)
{
    const uint8_t *h = phys_span(mem, paddr, SDT_HDR_BYTES);
    if (h == NULL)
        return e_bounds;
    uint32_t len = hv_le32(h + 4);
    if (len < min_len || len > ACPI_TABLE_MAX_BYTES)
        return e_length;
    const uint8_t *t = phys_span(mem, paddr, len);
    if (t == NULL)
        return e_bounds;
    if (sum8(t, len) != 0)
        return e_checksum;
    *table = t;
    *len_out = len;
    return ACPI_OK;
}

static void add_cpu(struct acpi_madt *out, uint32_t apic_id)
{
    if (apic_id >= 0xff) { /* 0xff is the xAPIC broadcast id */
        out->cpus_unaddressable++;
        return;
    }
    for (uint32_t i = 0; i < out->cpu_count; i++) {
        if (out->cpu_apic_id[i] == apic_id) {
            out->cpus_dropped++;
            return;
        }
    }
    if (out->cpu_count == ACPI_MAX_CPUS) {
        out->cpus_dropped++;
        return;
    }
    out->cpu_apic_id[out->cpu_count++] = apic_id;
}

static enum acpi_error madt_entries(const uint8_t *t, uint32_t len, uint64_t paddr,
                                    struct acpi_madt *out, uint64_t *err_paddr)
{
    out->lapic_paddr = hv_le32(t + 36);
    out->pcat_compat = hv_le32(t + 40) & 1;
    for (uint32_t off = MADT_FIXED_BYTES; off < len;) {
        *err_paddr = paddr + off;
        if (len - off < 2)
            return ACPI_E_MADT_ENTRY;
        const uint8_t *e = t + off;
        uint8_t type = e[0], elen = e[1];
        static const uint8_t min_len[16] = {[MADT_LAPIC] = 8,
                                            [MADT_IOAPIC] = 12,
                                            [MADT_OVERRIDE] = 10,
                                            [MADT_LAPIC_ADDR] = 12,
                                            [MADT_X2APIC] = 16};
        uint8_t need = type < 16 && min_len[type] ? min_len[type] : 2;
        if (elen < need || elen > len - off)
            return ACPI_E_MADT_ENTRY;
        switch (type) {
        case MADT_LAPIC:
            if (hv_le32(e + 4) & 1)
                add_cpu(out, e[3]);
            else
                out->cpus_disabled++; /* incl. online-capable (hot-plug): not started */
            break;
        case MADT_X2APIC:
            if (hv_le32(e + 8) & 1)
                add_cpu(out, hv_le32(e + 4));
            else
                out->cpus_disabled++;
            break;
        case MADT_IOAPIC:
            if (out->ioapic_count == ACPI_MAX_IOAPICS) {
                out->entries_ignored++;
                break;
            }
            out->ioapic[out->ioapic_count++] = (struct acpi_ioapic){
                .id = e[2], .paddr = hv_le32(e + 4), .gsi_base = hv_le32(e + 8)};
            break;
        case MADT_OVERRIDE:
            if (out->override_count == ACPI_MAX_OVERRIDES) {
                out->entries_ignored++;
                break;
            }
            out->override[out->override_count++] = (struct acpi_override){
                .bus = e[2], .source = e[3], .gsi = hv_le32(e + 4), .flags = hv_le16(e + 8)};
            break;
        case MADT_LAPIC_ADDR: out->lapic_paddr = hv_le64(e + 4); break;
        default: out->entries_ignored++; break;
        }
        off += elen;
    }
    *err_paddr = paddr;
    if (out->cpu_count == 0)
        return ACPI_E_MADT_NO_CPU;
    if (out->ioapic_count == 0) { /* keep the documented default */
        out->ioapic_count = 1;
        out->ioapic[0] = (struct acpi_ioapic){.id = 0, .paddr = ACPI_DEFAULT_IOAPIC_PADDR};
    }
    return ACPI_OK;
}

/*
 * Checks the RSDP and its RSDT/XSDT, then finds the first table listed
 * there whose header lies inside memory and whose signature is sig.
 * *paddr: the table (or, on a root error, the root's address). Returns
 * ACPI_OK, an RSDP_* or ROOT_* error, or ACPI_E_NO_TABLE.
 */
static enum acpi_error root_find(const struct acpi_phys *mem, const uint8_t *rsdp,
                                 size_t size_bytes, const char *sig, uint64_t *paddr,
                                 bool *from_xsdt)
{
    enum acpi_error e = acpi_rsdp_check(rsdp, size_bytes);
    if (e != ACPI_OK)
        return e;
    bool xsdt = rsdp[15] >= 2 && hv_le64(rsdp + 24) != 0;
    uint64_t root_paddr = xsdt ? hv_le64(rsdp + 24) : hv_le32(rsdp + 16);
    uint32_t entry_bytes = xsdt ? 8 : 4;
    *paddr = root_paddr;
    *from_xsdt = xsdt;

    const uint8_t *root;
    uint32_t root_len;
    e = sdt_map(mem, root_paddr, SDT_HDR_BYTES, ACPI_E_ROOT_BOUNDS, ACPI_E_ROOT_LENGTH,
                ACPI_E_ROOT_CHECKSUM, &root, &root_len);
    if (e != ACPI_OK)
        return e;
    if (!sig_is(root, xsdt ? "XSDT" : "RSDT", 4))
        return ACPI_E_ROOT_SIGNATURE;

    uint32_t n = (root_len - SDT_HDR_BYTES) / entry_bytes;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *ent = root + SDT_HDR_BYTES + (size_t)i * entry_bytes;
        uint64_t p = xsdt ? hv_le64(ent) : hv_le32(ent);
        const uint8_t *h = phys_span(mem, p, SDT_HDR_BYTES);
        if (h == NULL || !sig_is(h, sig, 4))
            continue; /* tables we do not read may be anywhere */
        *paddr = p;
        return ACPI_OK;
    }
    return ACPI_E_NO_TABLE;
}

static enum acpi_error parse(const struct acpi_phys *mem, const uint8_t *rsdp, size_t size_bytes,
                             struct acpi_madt *out, uint64_t *err_paddr)
{
    uint64_t paddr = 0;
    bool xsdt = false;
    enum acpi_error e = root_find(mem, rsdp, size_bytes, "APIC", &paddr, &xsdt);
    *err_paddr = paddr;
    if (e == ACPI_E_NO_TABLE)
        return ACPI_E_NO_MADT;
    if (e != ACPI_OK)
        return e;
    const uint8_t *madt;
    uint32_t madt_len;
    e = sdt_map(mem, paddr, MADT_FIXED_BYTES, ACPI_E_MADT_BOUNDS, ACPI_E_MADT_LENGTH,
                ACPI_E_MADT_CHECKSUM, &madt, &madt_len);
    if (e != ACPI_OK)
        return e;
    *out = (struct acpi_madt){0};
    out->from_xsdt = xsdt;
    return madt_entries(madt, madt_len, paddr, out, err_paddr);
}

enum acpi_error acpi_find_table(const struct acpi_phys *mem, const uint8_t *rsdp, size_t size_bytes,
                                const char *sig, uint32_t min_len, const uint8_t **table,
                                uint32_t *len, uint64_t *paddr)
{
    if (mem == NULL || mem->base == NULL || rsdp == NULL || sig == NULL || table == NULL ||
        len == NULL || paddr == NULL || min_len < SDT_HDR_BYTES)
        return ACPI_E_BAD_ARGS;
    bool xsdt = false;
    enum acpi_error e = root_find(mem, rsdp, size_bytes, sig, paddr, &xsdt);
    if (e != ACPI_OK)
        return e;
    return sdt_map(mem, *paddr, min_len, ACPI_E_TABLE_BOUNDS, ACPI_E_TABLE_LENGTH,
                   ACPI_E_TABLE_CHECKSUM, table, len);
}

enum acpi_error acpi_parse(const struct acpi_phys *mem, const uint8_t *rsdp, size_t size_bytes,
                           struct acpi_madt *out, uint64_t *err_paddr)
{
    uint64_t where = 0;
    if (out == NULL)
        return ACPI_E_BAD_ARGS;
    enum acpi_error e = (mem == NULL || mem->base == NULL || rsdp == NULL)
                            ? ACPI_E_BAD_ARGS
                            : parse(mem, rsdp, size_bytes, out, &where);
    if (e != ACPI_OK) {
        acpi_madt_default(out, 0);
        if (e == ACPI_E_RSDP_SIGNATURE || e == ACPI_E_RSDP_LENGTH || e == ACPI_E_RSDP_CHECKSUM)
            where = 0;
    }
    if (err_paddr != NULL)
        *err_paddr = e == ACPI_OK ? 0 : where;
    return e;
}

const char *acpi_strerror(enum acpi_error e)
{
    static const char *const names[ACPI_E_COUNT_] = {
        [ACPI_OK] = "ok",
        [ACPI_E_BAD_ARGS] = "bad arguments",
        [ACPI_E_RSDP_SIGNATURE] = "RSDP signature is not \"RSD PTR \"",
        [ACPI_E_RSDP_LENGTH] = "RSDP length is wrong",
        [ACPI_E_RSDP_CHECKSUM] = "RSDP checksum is wrong",
        [ACPI_E_ROOT_BOUNDS] = "RSDT/XSDT lies outside memory",
        [ACPI_E_ROOT_LENGTH] = "RSDT/XSDT length is out of range",
        [ACPI_E_ROOT_CHECKSUM] = "RSDT/XSDT checksum is wrong",
        [ACPI_E_ROOT_SIGNATURE] = "RSDT/XSDT signature is wrong",
        [ACPI_E_NO_MADT] = "no MADT (APIC table) listed",
        [ACPI_E_MADT_BOUNDS] = "MADT lies outside memory",
        [ACPI_E_MADT_LENGTH] = "MADT length is out of range",
        [ACPI_E_MADT_CHECKSUM] = "MADT checksum is wrong",
        [ACPI_E_MADT_ENTRY] = "MADT entry has a bad length",
        [ACPI_E_MADT_NO_CPU] = "MADT lists no enabled processor",
        [ACPI_E_NO_TABLE] = "the table is not listed",
        [ACPI_E_TABLE_BOUNDS] = "the table lies outside memory",
        [ACPI_E_TABLE_LENGTH] = "the table's length is out of range",
        [ACPI_E_TABLE_CHECKSUM] = "the table's checksum is wrong",
    };
    if ((unsigned)e >= ACPI_E_COUNT_ || names[e] == NULL)
        return "unknown ACPI error";
    return names[e];
}
