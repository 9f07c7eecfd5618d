/*
 * Tests for the DMAR parser (hv/arch/x86_64/dmar.c) and acpi_find_table
 * (acpi.c). The first case is the table QEMU 7.2 gives a q35 machine with
 * `-device intel-iommu` (captured from guest memory); the others build a
 * table, break one thing and check the precise error and offset, and that
 * nothing is reported on error. Every table is copied into a heap buffer of
 * exactly its size, so ASan sees a read past its end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acpi.h"
#include "dmar.h"

/* QEMU 7.2, -M q35 -nodefaults -device intel-iommu (also with intremap=on):
 * one unit at 0xfed90000 listing each function present (00:00.0, 00:1f.0,
 * 00:1f.2, 00:1f.3: no INCLUDE_PCI_ALL), the I/O APIC at ff:00.0,
 * interrupt remapping, host address width 39. */
static const uint8_t qemu_dmar[104] = {
    0x44, 0x4d, 0x41, 0x52, 0x68, 0x00, 0x00, 0x00, 0x01, 0x42, 0x42, 0x4f, 0x43, 0x48, 0x53,
    0x20, 0x42, 0x58, 0x50, 0x43, 0x20, 0x20, 0x20, 0x20, 0x01, 0x00, 0x00, 0x00, 0x42, 0x58,
    0x50, 0x43, 0x01, 0x00, 0x00, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x38, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd9, 0xfe,
    0x00, 0x00, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x01, 0x08, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x00, 0x01, 0x08,
    0x00, 0x00, 0x00, 0x00, 0x1f, 0x02, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x03,
};

/* ---- Table builder ----------------------------------------------------- */

struct tbl {
    uint8_t b[4096];
    uint32_t len;
};

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}
static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static void tbl_begin(struct tbl *t, uint8_t width_m1, uint8_t flags)
{
    memset(t, 0, sizeof(*t));
    memcpy(t->b, "DMAR", 4);
    t->b[8] = 1;
    memcpy(t->b + 10, "HVTEST", 6);
    t->b[36] = width_m1;
    t->b[37] = flags;
    t->len = 48;
}

/* Starts a structure; returns its offset (length fixed by tbl_end_struct). */
static uint32_t tbl_struct(struct tbl *t, uint16_t type, uint32_t fixed)
{
    uint32_t at = t->len;
    put16(t->b + at, type);
    t->len += fixed;
    return at;
}

static uint32_t tbl_drhd(struct tbl *t, uint8_t flags, uint16_t segment, uint64_t base)
{
    uint32_t at = tbl_struct(t, 0, 16);
    t->b[at + 4] = flags;
    put16(t->b + at + 6, segment);
    put64(t->b + at + 8, base);
    return at;
}

static uint32_t tbl_rmrr(struct tbl *t, uint64_t base, uint64_t limit)
{
    uint32_t at = tbl_struct(t, 1, 24);
    put64(t->b + at + 8, base);
    put64(t->b + at + 16, limit);
    return at;
}

/* A scope with hops path entries (dev, fn) pairs from `path`. */
static void tbl_scope(struct tbl *t, uint8_t type, uint8_t enum_id, uint8_t bus, unsigned hops,
                      const uint8_t *path)
{
    uint8_t *s = t->b + t->len;
    s[0] = type;
    s[1] = (uint8_t)(6 + 2 * hops);
    s[4] = enum_id;
    s[5] = bus;
    memcpy(s + 6, path, 2 * hops);
    t->len += 6 + 2 * hops;
}

static void tbl_end_struct(struct tbl *t, uint32_t at)
{
    put16(t->b + at + 2, (uint16_t)(t->len - at));
}

static void tbl_finish(struct tbl *t)
{
    put32(t->b + 4, t->len);
    t->b[9] = 0;
    uint8_t s = 0;
    for (uint32_t i = 0; i < t->len; i++)
        s = (uint8_t)(s + t->b[i]);
    t->b[9] = (uint8_t)(0x100 - s);
}

/* Parses a heap copy of exactly the table's bytes. */
static enum dmar_error parse_exact(const uint8_t *b, size_t len, struct dmar_info *out,
                                   uint32_t *off)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, b, len);
    enum dmar_error e = dmar_parse(copy, len, out, off);
    free(copy);
    return e;
}

static enum dmar_error parse_tbl(struct tbl *t, struct dmar_info *out, uint32_t *off)
{
    return parse_exact(t->b, t->len, out, off);
}

static void assert_empty(const struct dmar_info *i)
{
    struct dmar_info zero;
    memset(&zero, 0, sizeof(zero));
    assert_memory_equal(i, &zero, sizeof(zero));
}

/* ---- Good tables ------------------------------------------------------- */

static void test_qemu_table(void **state)
{
    (void)state;
    struct dmar_info i;
    uint32_t off = 99;
    assert_int_equal(parse_exact(qemu_dmar, sizeof(qemu_dmar), &i, &off), DMAR_OK);
    assert_int_equal(off, 0);
    assert_int_equal(i.host_address_bits, 39);
    assert_true(i.intr_remap);
    assert_false(i.x2apic_opt_out);
    assert_int_equal(i.unit_count, 1);
    assert_int_equal(i.units[0].reg_base, 0xfed90000u);
    assert_false(i.units[0].include_all);
    assert_int_equal(i.units[0].scope_count, 5);
    assert_int_equal(i.ignored, 0);
    assert_int_equal(i.scope_count, 5);
    assert_int_equal(i.scopes[0].type, DMAR_SCOPE_IOAPIC);
    uint16_t sid;
    assert_true(dmar_ioapic_sid(&i, 0, &sid));
    assert_int_equal(sid, 0xff00);
    assert_false(dmar_ioapic_sid(&i, 1, &sid));
    /* The functions listed are the unit's; others are no unit's. */
    assert_int_equal(dmar_unit_of(&i, 0x0000, NULL, NULL, NULL), 0);
    assert_int_equal(dmar_unit_of(&i, 0x00fa, NULL, NULL, NULL), 0);
    assert_int_equal(dmar_unit_of(&i, 0x0008, NULL, NULL, NULL), -1);
    assert_int_equal(dmar_unit_of(&i, 0x0300, NULL, NULL, NULL), -1);
    assert_int_equal(i.rmrr_count, 0);
}

/* A fake bridge topology for path resolution: 00:1c.0 is a bridge to buses
 * 2..4, 02:00.0 a bridge to bus 3. */
static uint8_t fake_secondary(void *ctx, uint16_t bdf)
{
    (void)ctx;
    switch (bdf) {
    case 0x00e0: return 2;
    case 0x0200: return 3;
    default: return 0;
    }
}
static uint8_t fake_subordinate(void *ctx, uint16_t bdf)
{
    (void)ctx;
    switch (bdf) {
    case 0x00e0: return 4;
    case 0x0200: return 3;
    default: return 0;
    }
}

static void test_two_units_scopes_and_rmrr(void **state)
{
    (void)state;
    struct tbl t;
    tbl_begin(&t, 47, 0);
    /* Unit 0: the endpoint 03:05.1 behind two bridges, and the bridge 00:1c.0. */
    uint32_t at = tbl_drhd(&t, 0, 0, 0xfed91000u);
    tbl_scope(&t, DMAR_SCOPE_ENDPOINT, 0, 0, 3, (const uint8_t[]){0x1c, 0, 0, 0, 5, 1});
    tbl_scope(&t, DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){0x02, 0});
    tbl_end_struct(&t, at);
    /* An RMRR for 00:1d.0. */
    at = tbl_rmrr(&t, 0x7f000000u, 0x7f00ffffu);
    tbl_scope(&t, DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){0x1d, 0});
    tbl_end_struct(&t, at);
    /* An ATSR (type 2): ignored. */
    at = tbl_struct(&t, 2, 8);
    tbl_end_struct(&t, at);
    /* Unit 1: everything else, with the I/O APIC 8 at f0:1f.0. */
    at = tbl_drhd(&t, 1, 0, 0xfed90000u);
    tbl_scope(&t, DMAR_SCOPE_IOAPIC, 8, 0xf0, 1, (const uint8_t[]){0x1f, 0});
    tbl_end_struct(&t, at);
    tbl_finish(&t);

    struct dmar_info i;
    uint32_t off;
    assert_int_equal(parse_tbl(&t, &i, &off), DMAR_OK);
    assert_int_equal(i.host_address_bits, 48);
    assert_false(i.intr_remap);
    assert_int_equal(i.unit_count, 2);
    assert_false(i.units[0].include_all);
    assert_true(i.units[1].include_all);
    assert_int_equal(i.rmrr_count, 1);
    assert_int_equal(i.rmrr[0].base, 0x7f000000u);
    assert_int_equal(i.rmrr[0].limit, 0x7f00ffffu);
    assert_int_equal(i.ignored, 1);
    assert_int_equal(i.scope_count, 4);
    assert_int_equal(i.scopes[2].owner, DMAR_OWNER_RMRR | 0);

    uint16_t bdf;
    assert_true(dmar_scope_bdf(&i.scopes[0], fake_secondary, NULL, &bdf));
    assert_int_equal(bdf, 0x0329); /* 03:05.1 */
    assert_false(dmar_scope_bdf(&i.scopes[0], NULL, NULL, &bdf));
    assert_int_equal(dmar_unit_of(&i, 0x0329, fake_secondary, fake_subordinate, NULL), 0);
    assert_int_equal(dmar_unit_of(&i, 0x0010, fake_secondary, fake_subordinate, NULL), 0);
    assert_int_equal(dmar_unit_of(&i, 0x0008, fake_secondary, fake_subordinate, NULL), 1);
    /* The RMRR's device is not made unit 0's by its scope. */
    assert_int_equal(dmar_unit_of(&i, 0x00e8, fake_secondary, fake_subordinate, NULL), 1);
    assert_true(dmar_ioapic_sid(&i, 8, &bdf));
    assert_int_equal(bdf, 0xf0f8);
}

static void test_bridge_scope_covers_its_buses(void **state)
{
    (void)state;
    struct tbl t;
    tbl_begin(&t, 38, 1);
    uint32_t at = tbl_drhd(&t, 0, 0, 0xfed91000u);
    tbl_scope(&t, DMAR_SCOPE_BRIDGE, 0, 0, 1, (const uint8_t[]){0x1c, 0});
    tbl_end_struct(&t, at);
    tbl_finish(&t);
    struct dmar_info i;
    assert_int_equal(parse_tbl(&t, &i, NULL), DMAR_OK);
    assert_int_equal(dmar_unit_of(&i, 0x0200, fake_secondary, fake_subordinate, NULL), 0);
    assert_int_equal(dmar_unit_of(&i, 0x0418, fake_secondary, fake_subordinate, NULL), 0);
    /* Bus 5 is outside 2..4 and no unit takes every function: none. */
    assert_int_equal(dmar_unit_of(&i, 0x0500, fake_secondary, fake_subordinate, NULL), -1);
    assert_int_equal(dmar_unit_of(&i, 0x0008, fake_secondary, fake_subordinate, NULL), -1);
}

static void test_other_segments_and_maxima_are_counted(void **state)
{
    (void)state;
    struct tbl t;
    tbl_begin(&t, 38, 0);
    uint32_t at = tbl_drhd(&t, 1, 1, 0xfed92000u); /* segment 1: left out */
    tbl_scope(&t, DMAR_SCOPE_IOAPIC, 0, 0xff, 1, (const uint8_t[]){0, 0});
    tbl_end_struct(&t, at);
    for (unsigned u = 0; u < DMAR_UNITS_MAX + 2; u++) {
        at = tbl_drhd(&t, 0, 0, 0xfe000000u + 0x1000u * u);
        tbl_end_struct(&t, at);
    }
    tbl_finish(&t);
    struct dmar_info i;
    assert_int_equal(parse_tbl(&t, &i, NULL), DMAR_OK);
    assert_int_equal(i.unit_count, DMAR_UNITS_MAX);
    assert_int_equal(i.ignored, 3);
    assert_int_equal(i.scope_count, 0);
}

static void test_too_many_scopes_are_counted(void **state)
{
    (void)state;
    struct tbl t;
    tbl_begin(&t, 38, 0);
    uint32_t at = tbl_drhd(&t, 1, 0, 0xfed90000u);
    for (unsigned s = 0; s < DMAR_SCOPES_MAX + 5; s++)
        tbl_scope(&t, DMAR_SCOPE_ENDPOINT, 0, 1, 1, (const uint8_t[]){(uint8_t)(s % 32), 0});
    tbl_end_struct(&t, at);
    tbl_finish(&t);
    struct dmar_info i;
    assert_int_equal(parse_tbl(&t, &i, NULL), DMAR_OK);
    assert_int_equal(i.scope_count, DMAR_SCOPES_MAX);
    assert_int_equal(i.units[0].scope_count, DMAR_SCOPES_MAX);
    assert_int_equal(i.ignored, 5);
}

/* ---- Hostile tables ---------------------------------------------------- */

/* A good one-unit table with one IOAPIC scope, to break. */
static void good(struct tbl *t)
{
    tbl_begin(t, 38, 1);
    uint32_t at = tbl_drhd(t, 1, 0, 0xfed90000u);
    tbl_scope(t, DMAR_SCOPE_IOAPIC, 0, 0xff, 1, (const uint8_t[]){0, 0});
    tbl_end_struct(t, at);
    tbl_finish(t);
}

static void expect(struct tbl *t, enum dmar_error want, uint32_t want_off)
{
    struct dmar_info i;
    uint32_t off = 12345;
    assert_int_equal(parse_tbl(t, &i, &off), want);
    assert_int_equal(off, want_off);
    assert_empty(&i);
}

static void test_header_errors(void **state)
{
    (void)state;
    struct tbl t;
    struct dmar_info i;
    good(&t);
    assert_int_equal(dmar_parse(NULL, 100, &i, NULL), DMAR_E_BAD_ARGS);
    assert_int_equal(dmar_parse(t.b, t.len, NULL, NULL), DMAR_E_BAD_ARGS);

    good(&t);
    t.b[0] = 'X';
    expect(&t, DMAR_E_SIGNATURE, 0);

    good(&t); /* fewer bytes given than the header */
    assert_int_equal(parse_exact(t.b, 47, &i, NULL), DMAR_E_LENGTH);
    good(&t); /* the length field says more than was given */
    assert_int_equal(parse_exact(t.b, t.len - 1, &i, NULL), DMAR_E_LENGTH);
    good(&t);
    put32(t.b + 4, 40);
    expect(&t, DMAR_E_LENGTH, 0);
    good(&t);
    put32(t.b + 4, ACPI_TABLE_MAX_BYTES + 1);
    expect(&t, DMAR_E_LENGTH, 0);

    good(&t);
    t.b[9]++;
    expect(&t, DMAR_E_CHECKSUM, 0);

    good(&t);
    t.b[36] = 30; /* 31 bits */
    tbl_finish(&t);
    expect(&t, DMAR_E_WIDTH, 0);
    good(&t);
    t.b[36] = 64; /* 65 bits */
    tbl_finish(&t);
    expect(&t, DMAR_E_WIDTH, 0);
}

static void test_structure_errors(void **state)
{
    (void)state;
    struct tbl t;
    /* A structure of length 0 would loop forever. */
    good(&t);
    put16(t.b + 48 + 2, 0);
    tbl_finish(&t);
    expect(&t, DMAR_E_STRUCT, 48);
    /* A DRHD shorter than its 16 fixed bytes. */
    good(&t);
    put16(t.b + 48 + 2, 12);
    tbl_finish(&t);
    expect(&t, DMAR_E_STRUCT, 48);
    /* A structure running past the table. */
    good(&t);
    put16(t.b + 48 + 2, (uint16_t)(t.len - 48 + 1));
    tbl_finish(&t);
    expect(&t, DMAR_E_STRUCT, 48);
    /* 2 stray bytes after the last structure. */
    good(&t);
    t.len += 2;
    tbl_finish(&t);
    expect(&t, DMAR_E_STRUCT, t.len - 2);
    /* An RMRR shorter than 24 bytes. */
    tbl_begin(&t, 38, 0);
    uint32_t at = tbl_struct(&t, 1, 20);
    tbl_end_struct(&t, at);
    tbl_finish(&t);
    expect(&t, DMAR_E_STRUCT, 48);
}

static void test_scope_errors(void **state)
{
    (void)state;
    struct tbl t;
    const uint32_t scope = 48 + 16;
    /* Scope length below 8 (no path). */
    good(&t);
    t.b[scope + 1] = 6;
    tbl_finish(&t);
    expect(&t, DMAR_E_SCOPE, 48);
    /* Odd path bytes: length 9 in a structure made 1 byte longer. */
    good(&t);
    t.b[scope + 1] = 9;
    t.len += 1;
    tbl_end_struct(&t, 48);
    tbl_finish(&t);
    expect(&t, DMAR_E_SCOPE, 48);
    /* Scope running past its structure (but inside the table). */
    tbl_begin(&t, 38, 0);
    uint32_t at = tbl_drhd(&t, 1, 0, 0xfed90000u);
    tbl_scope(&t, DMAR_SCOPE_IOAPIC, 0, 0xff, 1, (const uint8_t[]){0, 0});
    tbl_end_struct(&t, at);
    at = tbl_drhd(&t, 0, 0, 0xfed91000u);
    tbl_end_struct(&t, at);
    tbl_finish(&t);
    t.b[scope + 1] = 16; /* into the next DRHD */
    tbl_finish(&t);
    expect(&t, DMAR_E_SCOPE, 48);
    /* One byte of scope left over at the end of a structure. */
    good(&t);
    t.len += 1;
    tbl_end_struct(&t, 48);
    tbl_finish(&t);
    expect(&t, DMAR_E_SCOPE, 48);
    /* A path of DMAR_PATH_MAX + 1 hops. */
    tbl_begin(&t, 38, 0);
    at = tbl_drhd(&t, 1, 0, 0xfed90000u);
    tbl_scope(&t, DMAR_SCOPE_ENDPOINT, 0, 0, DMAR_PATH_MAX + 1, (const uint8_t[16]){0});
    tbl_end_struct(&t, at);
    tbl_finish(&t);
    expect(&t, DMAR_E_PATH, 48);
    /* Device 32 and function 8 do not exist. */
    good(&t);
    t.b[scope + 6] = 32;
    tbl_finish(&t);
    expect(&t, DMAR_E_PATH, 48);
    good(&t);
    t.b[scope + 7] = 8;
    tbl_finish(&t);
    expect(&t, DMAR_E_PATH, 48);
}

static void test_unit_and_region_errors(void **state)
{
    (void)state;
    struct tbl t;
    good(&t);
    put64(t.b + 48 + 8, 0);
    tbl_finish(&t);
    expect(&t, DMAR_E_UNIT_BASE, 48);
    good(&t);
    put64(t.b + 48 + 8, 0xfed90800u);
    tbl_finish(&t);
    expect(&t, DMAR_E_UNIT_BASE, 48);

    /* Two units both claiming every function. */
    good(&t);
    uint32_t at = tbl_drhd(&t, 1, 0, 0xfed91000u);
    tbl_end_struct(&t, at);
    tbl_finish(&t);
    expect(&t, DMAR_E_INCLUDE_ALL, at);

    /* RMRRs: limit below base, unaligned base, limit not ending a page. */
    const uint64_t bad[][2] = {{0x2000, 0x0fff}, {0x1800, 0x2fff}, {0x1000, 0x2000}};
    for (unsigned k = 0; k < 3; k++) {
        good(&t);
        at = tbl_rmrr(&t, bad[k][0], bad[k][1]);
        tbl_end_struct(&t, at);
        tbl_finish(&t);
        expect(&t, DMAR_E_RMRR_RANGE, at);
    }

    /* No unit for segment 0. */
    tbl_begin(&t, 38, 0);
    at = tbl_drhd(&t, 1, 3, 0xfed90000u);
    tbl_end_struct(&t, at);
    tbl_finish(&t);
    expect(&t, DMAR_E_NO_UNIT, 0);
}

static void test_strerror(void **state)
{
    (void)state;
    for (int e = 0; e < DMAR_E_COUNT_; e++)
        assert_string_not_equal(dmar_strerror((enum dmar_error)e), "unknown DMAR error");
    assert_string_equal(dmar_strerror(DMAR_E_COUNT_), "unknown DMAR error");
}

/* ---- acpi_find_table: the DMAR behind an RSDP and RSDT ----------------- */

#define MEM_BYTES 0x3000u
#define ROOT_PA 0x1000u
#define TABLE_PA 0x2000u

static uint8_t sum8(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

static void test_find_table(void **state)
{
    (void)state;
    uint8_t *mem = calloc(1, MEM_BYTES);
    struct acpi_phys phys = {mem, MEM_BYTES};
    memcpy(mem + TABLE_PA, qemu_dmar, sizeof(qemu_dmar));
    uint8_t *r = mem + ROOT_PA;
    memcpy(r, "RSDT", 4);
    put32(r + 4, 44);
    put32(r + 36, 0x100); /* a table header of zeros: not the DMAR, skipped */
    put32(r + 40, TABLE_PA);
    r[9] = (uint8_t)(0x100 - sum8(r, 44));
    uint8_t rsdp[20] = "RSD PTR ";
    put32(rsdp + 16, ROOT_PA);
    rsdp[8] = (uint8_t)(0x100 - sum8(rsdp, 20));

    const uint8_t *tbl;
    uint32_t len;
    uint64_t pa;
    assert_int_equal(acpi_find_table(&phys, rsdp, 20, "DMAR", DMAR_HDR_BYTES, &tbl, &len, &pa),
                     ACPI_OK);
    assert_ptr_equal(tbl, mem + TABLE_PA);
    assert_int_equal(len, sizeof(qemu_dmar));
    assert_int_equal(pa, TABLE_PA);
    assert_int_equal(acpi_find_table(&phys, rsdp, 20, "SSDT", 36, &tbl, &len, &pa),
                     ACPI_E_NO_TABLE);
    assert_int_equal(pa, ROOT_PA);
    /* The checksum, and a length beyond memory, are checked. */
    mem[TABLE_PA + 20]++;
    assert_int_equal(acpi_find_table(&phys, rsdp, 20, "DMAR", 48, &tbl, &len, &pa),
                     ACPI_E_TABLE_CHECKSUM);
    assert_int_equal(pa, TABLE_PA);
    put32(mem + TABLE_PA + 4, MEM_BYTES);
    assert_int_equal(acpi_find_table(&phys, rsdp, 20, "DMAR", 48, &tbl, &len, &pa),
                     ACPI_E_TABLE_BOUNDS);
    put32(mem + TABLE_PA + 4, 40);
    assert_int_equal(acpi_find_table(&phys, rsdp, 20, "DMAR", 48, &tbl, &len, &pa),
                     ACPI_E_TABLE_LENGTH);
    assert_int_equal(acpi_find_table(&phys, rsdp, 20, "DMAR", 20, &tbl, &len, &pa),
                     ACPI_E_BAD_ARGS);
    rsdp[0] = 'X';
    assert_int_equal(acpi_find_table(&phys, rsdp, 20, "DMAR", 48, &tbl, &len, &pa),
                     ACPI_E_RSDP_SIGNATURE);
    free(mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qemu_table),
        cmocka_unit_test(test_two_units_scopes_and_rmrr),
        cmocka_unit_test(test_bridge_scope_covers_its_buses),
        cmocka_unit_test(test_other_segments_and_maxima_are_counted),
        cmocka_unit_test(test_too_many_scopes_are_counted),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_scope_errors),
        cmocka_unit_test(test_unit_and_region_errors),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_find_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
