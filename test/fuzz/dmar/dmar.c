/*
 * libFuzzer target: the DMAR parser (hv/arch/x86_64/dmar.c) on hostile
 * tables. Input: byte 0 = mode flags, then the table.
 *   bit 0 set: the harness writes the signature, the length field (the
 *     number of bytes) and a correct checksum, so the structure walk is
 *     reached on almost every input.
 *   bit 1 set: the bytes given to the parser are one fewer than the table
 *     says (a length that lies).
 * The table is an exact-size heap buffer, so ASan catches any read outside.
 * Properties: no crash or sanitizer report, no hang; on error the result is
 * all zero; on success 1..DMAR_UNITS_MAX units with page-aligned non-zero
 * bases and at most one INCLUDE_PCI_ALL unit, regions with base <= limit,
 * every scope's owner valid and path 1..DMAR_PATH_MAX hops of real
 * device/function numbers, the units' scope counts adding up, and
 * dmar_unit_of() answering -1 or a valid unit for every bus 0 function.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dmar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *bus_map;

/* Secondary and subordinate bus numbers of a "bridge", from the input. */
static uint8_t secondary(void *ctx, uint16_t bdf)
{
    (void)ctx;
    return bus_map[bdf % 64];
}
static uint8_t subordinate(void *ctx, uint16_t bdf)
{
    (void)ctx;
    return bus_map[(bdf + 7) % 64];
}

static void check(enum dmar_error e, const struct dmar_info *i)
{
    if (e != DMAR_OK) {
        static const struct dmar_info zero;
        if (memcmp(i, &zero, sizeof(zero)) != 0)
            abort();
        return;
    }
    if (i->unit_count < 1 || i->unit_count > DMAR_UNITS_MAX || i->rmrr_count > DMAR_RMRR_MAX ||
        i->scope_count > DMAR_SCOPES_MAX || i->host_address_bits < 32 || i->host_address_bits > 64)
        abort();
    uint32_t all = 0, scopes = 0;
    for (uint32_t u = 0; u < i->unit_count; u++) {
        if (i->units[u].reg_base == 0 || (i->units[u].reg_base & 0xfff))
            abort();
        all += i->units[u].include_all;
        scopes += i->units[u].scope_count;
    }
    if (all > 1)
        abort();
    for (uint32_t r = 0; r < i->rmrr_count; r++)
        if (i->rmrr[r].limit < i->rmrr[r].base)
            abort();
    for (uint32_t s = 0; s < i->scope_count; s++) {
        const struct dmar_scope *sc = &i->scopes[s];
        if (sc->owner & DMAR_OWNER_RMRR) {
            if ((sc->owner & ~DMAR_OWNER_RMRR) >= i->rmrr_count)
                abort();
        } else {
            if (sc->owner >= i->unit_count)
                abort();
            scopes--;
        }
        if (sc->path_len < 1 || sc->path_len > DMAR_PATH_MAX)
            abort();
        uint16_t bdf;
        (void)dmar_scope_bdf(sc, secondary, NULL, &bdf);
    }
    if (scopes != 0)
        abort();
    for (uint32_t devfn = 0; devfn < 256; devfn++) {
        int u = dmar_unit_of(i, (uint16_t)devfn, secondary, subordinate, NULL);
        if (u < -1 || u >= (int)i->unit_count)
            abort();
    }
    uint16_t sid;
    (void)dmar_ioapic_sid(i, 0, &sid);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t zeros[64];
    if (size < 1 || size > 65536)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    uint8_t *t = malloc(size ? size : 1);
    memcpy(t, data, size);
    bus_map = size >= 64 ? t : zeros;
    if ((mode & 1) && size >= DMAR_HDR_BYTES) {
        memcpy(t, "DMAR", 4);
        uint32_t len = (uint32_t)size;
        memcpy(t + 4, &len, 4);
        t[9] = 0;
        uint8_t s = 0;
        for (size_t k = 0; k < size; k++)
            s = (uint8_t)(s + t[k]);
        t[9] = (uint8_t)(0x100 - s);
    }
    size_t given = (mode & 2) && size > 0 ? size - 1 : size;
    struct dmar_info info;
    uint32_t off;
    enum dmar_error e = dmar_parse(t, given, &info, &off);
    check(e, &info);
    if (e != DMAR_OK && off >= (given > 0 ? given : 1) && off != 0)
        abort();
    free(t);
    return 0;
}
