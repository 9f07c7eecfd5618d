/*
 * ACPI DMAR parser (see dmar.h for the contract). Host-tested in
 * test/unit/iommu with good and hostile tables, fuzzed by test/fuzz/dmar.
 *
 * Invariants: the table length is read once, bounded by the bytes given and
 * ACPI_TABLE_MAX_BYTES, and the table is then only read within it; every
 * structure and scope is bounds-checked against its container before any
 * field of it is read; fields are read byte-wise (tables are unaligned).
 * The walk advances by at least 4 bytes per structure and 8 per scope, so
 * it always ends.
 */
#include "dmar.h"
#include "acpi.h"
#include "hvlib/le.h"

#define DMAR_DRHD 0
#define DMAR_RMRR 1
#define DRHD_FIXED_BYTES 16u
#define RMRR_FIXED_BYTES 24u
#define SCOPE_FIXED_BYTES 6u
#define DRHD_F_INCLUDE_ALL 1u

/*
 * Checks the device scopes in [p, p + len) and records them for `owner`
 * (as far as DMAR_SCOPES_MAX allows; the rest are counted in ignored).
 * *kept: how many were recorded.
 */
static enum dmar_error scopes(const uint8_t *p, uint32_t len, uint8_t owner, struct dmar_info *out,
                              uint32_t *kept)
{
    *kept = 0;
    for (uint32_t off = 0; off < len;) {
        if (len - off < 2)
            return DMAR_E_SCOPE;
        const uint8_t *s = p + off;
        uint8_t slen = s[1];
        if (slen < SCOPE_FIXED_BYTES + 2 || slen > len - off || (slen - SCOPE_FIXED_BYTES) % 2)
            return DMAR_E_SCOPE;
        uint32_t hops = (slen - SCOPE_FIXED_BYTES) / 2u;
        if (hops > DMAR_PATH_MAX)
            return DMAR_E_PATH;
        struct dmar_scope sc = {.type = s[0], .enum_id = s[4], .bus = s[5], .owner = owner};
        sc.path_len = (uint8_t)hops;
        for (uint32_t h = 0; h < hops; h++) {
            uint8_t dev = s[SCOPE_FIXED_BYTES + 2 * h], fn = s[SCOPE_FIXED_BYTES + 2 * h + 1];
            if (dev > 31 || fn > 7)
                return DMAR_E_PATH;
            sc.path[h] = (uint8_t)(dev << 3 | fn);
        }
        if (out->scope_count < DMAR_SCOPES_MAX) {
            out->scopes[out->scope_count++] = sc;
            (*kept)++;
        } else {
            out->ignored++;
        }
        off += slen;
    }
    return DMAR_OK;
}

static enum dmar_error drhd(const uint8_t *s, uint32_t slen, struct dmar_info *out)
{
    uint8_t flags = s[4];
    uint16_t segment = hv_le16(s + 6);
    uint64_t base = hv_le64(s + 8);
    if (base == 0 || (base & 0xfff) != 0)
        return DMAR_E_UNIT_BASE;
    if (segment != 0 || out->unit_count == DMAR_UNITS_MAX) {
        out->ignored++;
        return DMAR_OK; /* its scopes are not read: nothing else refers to them */
    }
    bool all = flags & DRHD_F_INCLUDE_ALL;
    for (uint32_t i = 0; all && i < out->unit_count; i++)
        if (out->units[i].include_all)
            return DMAR_E_INCLUDE_ALL;
    uint32_t idx = out->unit_count;
    uint32_t kept;
    enum dmar_error e =
        scopes(s + DRHD_FIXED_BYTES, slen - DRHD_FIXED_BYTES, (uint8_t)idx, out, &kept);
    if (e != DMAR_OK)
        return e;
    out->units[idx] = (struct dmar_unit){.reg_base = base, .include_all = all, .scope_count = kept};
    out->unit_count++;
    return DMAR_OK;
}

static enum dmar_error rmrr(const uint8_t *s, uint32_t slen, struct dmar_info *out)
{
    uint16_t segment = hv_le16(s + 6);
    uint64_t base = hv_le64(s + 8), limit = hv_le64(s + 16);
    if (limit < base || (base & 0xfff) != 0 || (limit & 0xfff) != 0xfff)
        return DMAR_E_RMRR_RANGE;
    if (segment != 0 || out->rmrr_count == DMAR_RMRR_MAX) {
        out->ignored++;
        return DMAR_OK;
    }
    uint32_t idx = out->rmrr_count;
    uint32_t kept;
    enum dmar_error e = scopes(s + RMRR_FIXED_BYTES, slen - RMRR_FIXED_BYTES,
                               (uint8_t)(DMAR_OWNER_RMRR | idx), out, &kept);
    if (e != DMAR_OK)
        return e;
    out->rmrr[idx] = (struct dmar_rmrr){.base = base, .limit = limit};
    out->rmrr_count++;
    return DMAR_OK;
}

static enum dmar_error parse(const uint8_t *t, size_t len_bytes, struct dmar_info *out,
                             uint32_t *err_off)
{
    *err_off = 0;
    if (len_bytes < DMAR_HDR_BYTES)
        return DMAR_E_LENGTH;
    if (t[0] != 'D' || t[1] != 'M' || t[2] != 'A' || t[3] != 'R')
        return DMAR_E_SIGNATURE;
    uint32_t len = hv_le32(t + 4);
    if (len < DMAR_HDR_BYTES || len > ACPI_TABLE_MAX_BYTES || len > len_bytes)
        return DMAR_E_LENGTH;
    uint8_t sum = 0;
    for (uint32_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + t[i]);
    if (sum != 0)
        return DMAR_E_CHECKSUM;
    uint32_t bits = (uint32_t)t[36] + 1;
    if (bits < 32 || bits > 64)
        return DMAR_E_WIDTH;
    out->host_address_bits = (uint8_t)bits;
    out->intr_remap = t[37] & 1;
    out->x2apic_opt_out = t[37] & 2;

    for (uint32_t off = DMAR_HDR_BYTES; off < len;) {
        *err_off = off;
        if (len - off < 4)
            return DMAR_E_STRUCT;
        const uint8_t *s = t + off;
        uint16_t type = hv_le16(s), slen = hv_le16(s + 2);
        uint32_t need = type == DMAR_DRHD   ? DRHD_FIXED_BYTES
                        : type == DMAR_RMRR ? RMRR_FIXED_BYTES
                                            : 4u;
        if (slen < need || slen > len - off)
            return DMAR_E_STRUCT;
        enum dmar_error e = DMAR_OK;
        switch (type) {
        case DMAR_DRHD: e = drhd(s, slen, out); break;
        case DMAR_RMRR: e = rmrr(s, slen, out); break;
        default: out->ignored++; break; /* ATSR, RHSA, ANDD, SATC: not used */
        }
        if (e != DMAR_OK)
            return e;
        off += slen;
    }
    *err_off = 0;
    return out->unit_count == 0 ? DMAR_E_NO_UNIT : DMAR_OK;
}

enum dmar_error dmar_parse(const uint8_t *table, size_t len_bytes, struct dmar_info *out,
                           uint32_t *err_off)
{
    uint32_t where = 0;
    if (out == NULL)
        return DMAR_E_BAD_ARGS;
    *out = (struct dmar_info){0};
    enum dmar_error e = table == NULL ? DMAR_E_BAD_ARGS : parse(table, len_bytes, out, &where);
    if (e != DMAR_OK)
        *out = (struct dmar_info){0};
    if (err_off != NULL)
        *err_off = e == DMAR_OK ? 0 : where;
    return e;
}

bool dmar_scope_bdf(const struct dmar_scope *s, uint8_t (*secondary_bus)(void *ctx, uint16_t bdf),
                    void *ctx, uint16_t *bdf)
{
    if (s->path_len == 0 || s->path_len > DMAR_PATH_MAX)
        return false;
    uint32_t bus = s->bus;
    for (uint32_t h = 0; h + 1 < s->path_len; h++) {
        if (secondary_bus == NULL)
            return false;
        uint32_t next = secondary_bus(ctx, (uint16_t)(bus << 8 | s->path[h]));
        if (next == 0 || next <= bus)
            return false;
        bus = next;
    }
    *bdf = (uint16_t)(bus << 8 | s->path[s->path_len - 1]);
    return true;
}

int dmar_unit_of(const struct dmar_info *info, uint16_t bdf,
                 uint8_t (*secondary_bus)(void *ctx, uint16_t bdf),
                 uint8_t (*subordinate_bus)(void *ctx, uint16_t bdf), void *ctx)
{
    int all = -1;
    for (uint32_t i = 0; i < info->scope_count; i++) {
        const struct dmar_scope *s = &info->scopes[i];
        uint16_t at;
        if ((s->owner & DMAR_OWNER_RMRR) || s->owner >= info->unit_count ||
            !dmar_scope_bdf(s, secondary_bus, ctx, &at))
            continue;
        if (s->type == DMAR_SCOPE_ENDPOINT && at == bdf)
            return s->owner;
        if (s->type == DMAR_SCOPE_BRIDGE && secondary_bus != NULL && subordinate_bus != NULL) {
            uint32_t lo = secondary_bus(ctx, at), hi = subordinate_bus(ctx, at);
            uint32_t bus = bdf >> 8;
            if (lo > (uint32_t)(at >> 8) && lo <= hi && bus >= lo && bus <= hi)
                return s->owner;
        }
    }
    for (uint32_t u = 0; u < info->unit_count; u++)
        if (info->units[u].include_all)
            all = (int)u;
    return all;
}

bool dmar_ioapic_sid(const struct dmar_info *info, uint8_t ioapic_id, uint16_t *sid)
{
    for (uint32_t i = 0; i < info->scope_count; i++) {
        const struct dmar_scope *s = &info->scopes[i];
        if (s->type == DMAR_SCOPE_IOAPIC && s->enum_id == ioapic_id &&
            !(s->owner & DMAR_OWNER_RMRR) && s->path_len == 1)
            return dmar_scope_bdf(s, NULL, NULL, sid);
    }
    return false;
}

const char *dmar_strerror(enum dmar_error e)
{
    static const char *const names[DMAR_E_COUNT_] = {
        [DMAR_OK] = "ok",
        [DMAR_E_BAD_ARGS] = "bad arguments",
        [DMAR_E_SIGNATURE] = "signature is not \"DMAR\"",
        [DMAR_E_LENGTH] = "length is out of range",
        [DMAR_E_CHECKSUM] = "checksum is wrong",
        [DMAR_E_WIDTH] = "host address width is out of range",
        [DMAR_E_STRUCT] = "a remapping structure has a bad length",
        [DMAR_E_SCOPE] = "a device scope has a bad length",
        [DMAR_E_PATH] = "a device scope path is too long or names no function",
        [DMAR_E_UNIT_BASE] = "a remapping unit's register base is not a page",
        [DMAR_E_INCLUDE_ALL] = "two remapping units claim every function",
        [DMAR_E_RMRR_RANGE] = "a reserved memory region is malformed",
        [DMAR_E_NO_UNIT] = "no remapping unit for PCI segment 0",
    };
    if ((unsigned)e >= DMAR_E_COUNT_ || names[e] == NULL)
        return "unknown DMAR error";
    return names[e];
}
