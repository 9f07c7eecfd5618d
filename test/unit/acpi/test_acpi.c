/*
 * Tests for the ACPI parser (hv/arch/x86_64/acpi.c). Tables are built in a
 * fake physical memory of MEM_BYTES on the heap (exact size, so ASan sees
 * any read past its end): RSDT/XSDT at ROOT_PA, MADT at MADT_PA. Each
 * hostile case breaks one thing and checks the precise error, the address
 * reported and that the defaults were filled in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acpi.h"

#define MEM_BYTES 0x104000u
#define ROOT_PA 0x100000u
#define MADT_PA 0x101000u
#define OTHER_PA 0x102000u

struct machine {
    uint8_t *mem;
    struct acpi_phys phys;
    uint8_t rsdp[36];
    uint32_t madt_len;
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

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

static void fix_sum(uint8_t *p, size_t n, size_t at)
{
    p[at] = 0;
    p[at] = (uint8_t)(0x100 - sum(p, n));
}

static void sdt_header(uint8_t *t, const char *sig, uint32_t len)
{
    memcpy(t, sig, 4);
    put32(t + 4, len);
    t[8] = 1;
    memcpy(t + 10, "HVTEST", 6);
}

static void fix_sdt(struct machine *m, uint32_t pa)
{
    uint32_t len;
    memcpy(&len, m->mem + pa + 4, 4);
    fix_sum(m->mem + pa, len, 9);
}

/* MADT builder. */
static void madt_begin(struct machine *m)
{
    uint8_t *t = m->mem + MADT_PA;
    memset(t, 0, 0x1000);
    sdt_header(t, "APIC", 44);
    put32(t + 36, 0xfee00000u);
    put32(t + 40, 1); /* PCAT_COMPAT */
    m->madt_len = 44;
}

static uint8_t *madt_entry(struct machine *m, uint8_t type, uint8_t len)
{
    uint8_t *e = m->mem + MADT_PA + m->madt_len;
    assert_true(m->madt_len + len <= 0x1000);
    e[0] = type;
    e[1] = len;
    m->madt_len += len;
    put32(m->mem + MADT_PA + 4, m->madt_len);
    return e;
}

static void madt_lapic(struct machine *m, uint8_t uid, uint8_t apic, uint32_t flags)
{
    uint8_t *e = madt_entry(m, 0, 8);
    e[2] = uid;
    e[3] = apic;
    put32(e + 4, flags);
}

static void madt_ioapic(struct machine *m, uint8_t id, uint32_t addr, uint32_t gsi)
{
    uint8_t *e = madt_entry(m, 1, 12);
    e[2] = id;
    put32(e + 4, addr);
    put32(e + 8, gsi);
}

static void madt_override(struct machine *m, uint8_t src, uint32_t gsi, uint16_t flags)
{
    uint8_t *e = madt_entry(m, 2, 10);
    e[2] = 0;
    e[3] = src;
    put32(e + 4, gsi);
    put16(e + 8, flags);
}

/* Fixes the checksum over the bytes built (not over what the length field
 * says, which a test may have corrupted). */
static void madt_end(struct machine *m)
{
    fix_sum(m->mem + MADT_PA, m->madt_len, 9);
}

/* RSDT listing an unrelated table and the MADT; RSDP v1 pointing at it. */
static void root_rsdt(struct machine *m)
{
    uint8_t *o = m->mem + OTHER_PA;
    sdt_header(o, "FACP", 36);
    fix_sdt(m, OTHER_PA);
    uint8_t *r = m->mem + ROOT_PA;
    sdt_header(r, "RSDT", 44);
    put32(r + 36, OTHER_PA);
    put32(r + 40, MADT_PA);
    fix_sdt(m, ROOT_PA);

    memset(m->rsdp, 0, sizeof(m->rsdp));
    memcpy(m->rsdp, "RSD PTR ", 8);
    memcpy(m->rsdp + 9, "HVTEST", 6);
    m->rsdp[15] = 0;
    put32(m->rsdp + 16, ROOT_PA);
    fix_sum(m->rsdp, 20, 8);
}

/* XSDT instead, RSDP v2 (its RSDT address points at garbage on purpose). */
static void root_xsdt(struct machine *m)
{
    uint8_t *r = m->mem + ROOT_PA;
    sdt_header(r, "XSDT", 52);
    put64(r + 36, OTHER_PA);
    put64(r + 44, MADT_PA);
    uint8_t *o = m->mem + OTHER_PA;
    sdt_header(o, "FACP", 36);
    fix_sdt(m, OTHER_PA);
    fix_sdt(m, ROOT_PA);

    memset(m->rsdp, 0, sizeof(m->rsdp));
    memcpy(m->rsdp, "RSD PTR ", 8);
    m->rsdp[15] = 2;
    put32(m->rsdp + 16, 0xdead0000u);
    put32(m->rsdp + 20, 36);
    put64(m->rsdp + 24, ROOT_PA);
    fix_sum(m->rsdp, 20, 8);
    fix_sum(m->rsdp, 36, 32);
}

/* The good machine: 4 enabled CPUs (apic 0..3), one disabled, an I/O APIC,
 * two overrides and an entry of an unknown type. */
static struct machine *good(void)
{
    struct machine *m = calloc(1, sizeof(*m));
    m->mem = calloc(1, MEM_BYTES);
    m->phys = (struct acpi_phys){m->mem, MEM_BYTES};
    madt_begin(m);
    for (uint8_t i = 0; i < 4; i++)
        madt_lapic(m, i, i, 1);
    madt_lapic(m, 4, 4, 0);
    madt_ioapic(m, 2, 0xfec00000u, 0);
    madt_override(m, 0, 2, 0);
    madt_override(m, 9, 9, 0xd);
    uint8_t *u = madt_entry(m, 0x7f, 6); /* unknown type: skipped by length */
    u[2] = 0xaa;
    madt_end(m);
    root_rsdt(m);
    return m;
}

static void destroy(struct machine *m)
{
    free(m->mem);
    free(m);
}

static enum acpi_error run(struct machine *m, struct acpi_madt *out, uint64_t *where)
{
    return acpi_parse(&m->phys, m->rsdp, sizeof(m->rsdp), out, where);
}

static void assert_defaults(const struct acpi_madt *out)
{
    assert_int_equal(out->cpu_count, 1);
    assert_int_equal(out->ioapic_count, 1);
    assert_int_equal(out->ioapic[0].paddr, ACPI_DEFAULT_IOAPIC_PADDR);
    assert_int_equal(out->lapic_paddr, ACPI_DEFAULT_LAPIC_PADDR);
    assert_int_equal(out->override_count, 0);
}

static void expect_error(struct machine *m, enum acpi_error want, uint64_t want_where)
{
    struct acpi_madt out;
    memset(&out, 0x5a, sizeof(out));
    uint64_t where = 12345;
    assert_int_equal(run(m, &out, &where), want);
    assert_int_equal(where, want_where);
    assert_defaults(&out);
    assert_non_null(acpi_strerror(want));
}

static void test_good_rsdt(void **state)
{
    (void)state;
    struct machine *m = good();
    struct acpi_madt out;
    uint64_t where = 1;
    assert_int_equal(run(m, &out, &where), ACPI_OK);
    assert_int_equal(where, 0);
    assert_false(out.from_xsdt);
    assert_true(out.pcat_compat);
    assert_int_equal(out.lapic_paddr, 0xfee00000u);
    assert_int_equal(out.cpu_count, 4);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(out.cpu_apic_id[i], i);
    assert_int_equal(out.cpus_disabled, 1);
    assert_int_equal(out.cpus_dropped, 0);
    assert_int_equal(out.ioapic_count, 1);
    assert_int_equal(out.ioapic[0].id, 2);
    assert_int_equal(out.ioapic[0].paddr, 0xfec00000u);
    assert_int_equal(out.override_count, 2);
    assert_int_equal(out.override[0].source, 0);
    assert_int_equal(out.override[0].gsi, 2);
    assert_int_equal(out.override[1].source, 9);
    assert_int_equal(out.override[1].flags, 0xd);
    assert_int_equal(out.entries_ignored, 1);
    destroy(m);
}

static void test_good_xsdt(void **state)
{
    (void)state;
    struct machine *m = good();
    root_xsdt(m);
    struct acpi_madt out;
    assert_int_equal(run(m, &out, NULL), ACPI_OK);
    assert_true(out.from_xsdt);
    assert_int_equal(out.cpu_count, 4);
    destroy(m);
}

static void test_lapic_addr_override_and_x2apic(void **state)
{
    (void)state;
    struct machine *m = good();
    uint8_t *e = madt_entry(m, 5, 12);
    put64(e + 4, 0x123456789000ull);
    e = madt_entry(m, 9, 16); /* x2APIC id 300: not reachable with the xAPIC */
    put32(e + 4, 300);
    put32(e + 8, 1);
    e = madt_entry(m, 9, 16); /* x2APIC id 7, enabled */
    put32(e + 4, 7);
    put32(e + 8, 1);
    madt_end(m);
    struct acpi_madt out;
    assert_int_equal(run(m, &out, NULL), ACPI_OK);
    assert_int_equal(out.lapic_paddr, 0x123456789000ull);
    assert_int_equal(out.cpu_count, 5);
    assert_int_equal(out.cpu_apic_id[4], 7);
    assert_int_equal(out.cpus_unaddressable, 1);
    destroy(m);
}

static void test_rsdp_checksum(void **state)
{
    (void)state;
    struct machine *m = good();
    m->rsdp[9] ^= 1;
    expect_error(m, ACPI_E_RSDP_CHECKSUM, 0);
    destroy(m);
}

static void test_rsdp_signature_and_length(void **state)
{
    (void)state;
    struct machine *m = good();
    struct acpi_madt out;
    assert_int_equal(acpi_parse(&m->phys, m->rsdp, 19, &out, NULL), ACPI_E_RSDP_LENGTH);
    assert_defaults(&out);
    root_xsdt(m);
    /* A v2 RSDP given in only 20 bytes, then one whose length field lies. */
    assert_int_equal(acpi_parse(&m->phys, m->rsdp, 20, &out, NULL), ACPI_E_RSDP_LENGTH);
    put32(m->rsdp + 20, 4096);
    fix_sum(m->rsdp, 36, 32);
    assert_int_equal(acpi_parse(&m->phys, m->rsdp, 36, &out, NULL), ACPI_E_RSDP_LENGTH);
    m->rsdp[0] = 'X';
    expect_error(m, ACPI_E_RSDP_SIGNATURE, 0);
    destroy(m);
}

static void test_rsdp_v2_extended_checksum(void **state)
{
    (void)state;
    struct machine *m = good();
    root_xsdt(m);
    m->rsdp[33] ^= 0x40; /* a reserved byte: only the extended checksum covers it */
    expect_error(m, ACPI_E_RSDP_CHECKSUM, 0);
    destroy(m);
}

static void test_root_checksum(void **state)
{
    (void)state;
    struct machine *m = good();
    m->mem[ROOT_PA + 20] ^= 1;
    expect_error(m, ACPI_E_ROOT_CHECKSUM, ROOT_PA);
    destroy(m);
}

static void test_root_length_past_end(void **state)
{
    (void)state;
    struct machine *m = good();
    put32(m->mem + ROOT_PA + 4, MEM_BYTES - ROOT_PA + 1); /* runs past the end of memory */
    expect_error(m, ACPI_E_ROOT_BOUNDS, ROOT_PA);
    put32(m->mem + ROOT_PA + 4, 35);
    expect_error(m, ACPI_E_ROOT_LENGTH, ROOT_PA);
    put32(m->mem + ROOT_PA + 4, 0xffffffffu);
    expect_error(m, ACPI_E_ROOT_LENGTH, ROOT_PA);
    destroy(m);
}

static void test_root_outside_memory(void **state)
{
    (void)state;
    struct machine *m = good();
    put32(m->rsdp + 16, MEM_BYTES - 8); /* header straddles the end */
    fix_sum(m->rsdp, 20, 8);
    expect_error(m, ACPI_E_ROOT_BOUNDS, MEM_BYTES - 8);
    root_xsdt(m);
    put64(m->rsdp + 24, ~0ull - 3); /* would wrap around */
    fix_sum(m->rsdp, 36, 32);
    expect_error(m, ACPI_E_ROOT_BOUNDS, ~0ull - 3);
    destroy(m);
}

static void test_root_signature(void **state)
{
    (void)state;
    struct machine *m = good();
    memcpy(m->mem + ROOT_PA, "XSDT", 4); /* an RSDP v1 must lead to an RSDT */
    fix_sdt(m, ROOT_PA);
    expect_error(m, ACPI_E_ROOT_SIGNATURE, ROOT_PA);
    destroy(m);
}

static void test_no_madt(void **state)
{
    (void)state;
    struct machine *m = good();
    /* Entries pointing outside memory and at a non-MADT are skipped. */
    put32(m->mem + ROOT_PA + 40, 0xfffffff0u);
    fix_sdt(m, ROOT_PA);
    expect_error(m, ACPI_E_NO_MADT, ROOT_PA);
    destroy(m);
}

static void test_madt_checksum(void **state)
{
    (void)state;
    struct machine *m = good();
    m->mem[MADT_PA + 44 + 3] ^= 1; /* first CPU's APIC id */
    expect_error(m, ACPI_E_MADT_CHECKSUM, MADT_PA);
    destroy(m);
}

static void test_madt_length(void **state)
{
    (void)state;
    struct machine *m = good();
    put32(m->mem + MADT_PA + 4, MEM_BYTES - MADT_PA + 1);
    expect_error(m, ACPI_E_MADT_BOUNDS, MADT_PA);
    put32(m->mem + MADT_PA + 4, 43);
    expect_error(m, ACPI_E_MADT_LENGTH, MADT_PA);
    put32(m->mem + MADT_PA + 4, ACPI_TABLE_MAX_BYTES + 1);
    expect_error(m, ACPI_E_MADT_LENGTH, MADT_PA);
    destroy(m);
}

static void test_madt_zero_length_entry(void **state)
{
    (void)state;
    struct machine *m = good();
    uint32_t at = m->madt_len;
    uint8_t *e = madt_entry(m, 0, 8);
    e[1] = 0; /* would loop forever without the check */
    madt_end(m);
    expect_error(m, ACPI_E_MADT_ENTRY, MADT_PA + at);
    m->mem[MADT_PA + at + 1] = 1;
    madt_end(m);
    expect_error(m, ACPI_E_MADT_ENTRY, MADT_PA + at);
    destroy(m);
}

static void test_madt_entry_past_end(void **state)
{
    (void)state;
    struct machine *m = good();
    uint32_t at = m->madt_len;
    madt_lapic(m, 9, 9, 1);
    m->mem[MADT_PA + at + 1] = 9; /* one byte past the table */
    madt_end(m);
    expect_error(m, ACPI_E_MADT_ENTRY, MADT_PA + at);
    destroy(m);
}

static void test_madt_entry_too_short_for_type(void **state)
{
    (void)state;
    struct machine *m = good();
    uint32_t at = m->madt_len;
    madt_entry(m, 1, 8); /* an I/O APIC entry needs 12 */
    madt_end(m);
    expect_error(m, ACPI_E_MADT_ENTRY, MADT_PA + at);
    destroy(m);
}

static void test_madt_trailing_byte(void **state)
{
    (void)state;
    struct machine *m = good();
    uint32_t at = m->madt_len;
    m->madt_len++; /* one byte that cannot hold an entry header */
    put32(m->mem + MADT_PA + 4, m->madt_len);
    madt_end(m);
    expect_error(m, ACPI_E_MADT_ENTRY, MADT_PA + at);
    destroy(m);
}

static void test_too_many_cpus(void **state)
{
    (void)state;
    struct machine *m = good();
    madt_begin(m);
    for (unsigned i = 0; i < 100; i++)
        madt_lapic(m, (uint8_t)i, (uint8_t)i, 1);
    madt_lapic(m, 200, 5, 1);    /* duplicate id */
    madt_lapic(m, 201, 0xff, 1); /* broadcast id: not a CPU */
    for (unsigned i = 0; i < 20; i++)
        madt_ioapic(m, (uint8_t)i, 0xfec00000u + i * 0x1000, i * 24);
    madt_end(m);
    struct acpi_madt out;
    assert_int_equal(run(m, &out, NULL), ACPI_OK);
    assert_int_equal(out.cpu_count, ACPI_MAX_CPUS);
    assert_int_equal(out.cpu_apic_id[ACPI_MAX_CPUS - 1], ACPI_MAX_CPUS - 1);
    assert_int_equal(out.cpus_dropped, 100 - ACPI_MAX_CPUS + 1);
    assert_int_equal(out.cpus_unaddressable, 1);
    assert_int_equal(out.ioapic_count, ACPI_MAX_IOAPICS);
    assert_int_equal(out.entries_ignored, 20 - ACPI_MAX_IOAPICS);
    destroy(m);
}

static void test_no_enabled_cpu(void **state)
{
    (void)state;
    struct machine *m = good();
    madt_begin(m);
    madt_lapic(m, 0, 0, 0);
    madt_lapic(m, 1, 1, 2); /* online-capable only */
    madt_end(m);
    expect_error(m, ACPI_E_MADT_NO_CPU, MADT_PA);
    destroy(m);
}

static void test_no_ioapic_gets_default(void **state)
{
    (void)state;
    struct machine *m = good();
    madt_begin(m);
    madt_lapic(m, 0, 3, 1);
    madt_end(m);
    struct acpi_madt out;
    assert_int_equal(run(m, &out, NULL), ACPI_OK);
    assert_int_equal(out.cpu_count, 1);
    assert_int_equal(out.cpu_apic_id[0], 3);
    assert_int_equal(out.ioapic_count, 1);
    assert_int_equal(out.ioapic[0].paddr, ACPI_DEFAULT_IOAPIC_PADDR);
    destroy(m);
}

static void test_bad_args(void **state)
{
    (void)state;
    struct machine *m = good();
    struct acpi_madt out;
    assert_int_equal(acpi_parse(NULL, m->rsdp, 20, &out, NULL), ACPI_E_BAD_ARGS);
    assert_defaults(&out);
    assert_int_equal(acpi_parse(&m->phys, NULL, 20, &out, NULL), ACPI_E_BAD_ARGS);
    assert_int_equal(acpi_parse(&m->phys, m->rsdp, 20, NULL, NULL), ACPI_E_BAD_ARGS);
    assert_string_equal(acpi_strerror(ACPI_E_COUNT_), "unknown ACPI error");
    destroy(m);
}

/* The scan: EBDA first, then 0xe0000-0xfffff, 16-byte aligned only. */
static void test_rsdp_find(void **state)
{
    (void)state;
    struct machine *m = good();
    uint64_t pa = 0;
    assert_false(acpi_rsdp_find(&m->phys, &pa));

    memcpy(m->mem + 0xf0008, m->rsdp, 20); /* misaligned: not found */
    assert_false(acpi_rsdp_find(&m->phys, &pa));
    memcpy(m->mem + 0xf0010, m->rsdp, 20);
    assert_true(acpi_rsdp_find(&m->phys, &pa));
    assert_int_equal(pa, 0xf0010);

    put16(m->mem + 0x40e, 0x9fc0); /* EBDA at 0x9fc00 */
    memcpy(m->mem + 0x9fc40, m->rsdp, 20);
    assert_true(acpi_rsdp_find(&m->phys, &pa));
    assert_int_equal(pa, 0x9fc40);

    m->mem[0x9fc41] ^= 1; /* broken signature in the EBDA: the BIOS area copy wins */
    assert_true(acpi_rsdp_find(&m->phys, &pa));
    assert_int_equal(pa, 0xf0010);

    put16(m->mem + 0x40e, 0xffff); /* a garbage EBDA pointer is ignored */
    assert_true(acpi_rsdp_find(&m->phys, &pa));
    assert_int_equal(pa, 0xf0010);

    m->mem[0xf0018] ^= 1; /* bad checksum */
    assert_false(acpi_rsdp_find(&m->phys, &pa));

    struct acpi_phys tiny = {m->mem, 0x1000}; /* memory smaller than the BIOS area */
    assert_false(acpi_rsdp_find(&tiny, &pa));
    assert_false(acpi_rsdp_find(NULL, &pa));
    destroy(m);
}

/* Random corruption of the MADT (checksum fixed up): never a crash or an
 * out-of-bounds read (ASan), always either a result with 1..64 CPUs or an
 * error with the defaults. */
static void test_random_corruption(void **state)
{
    (void)state;
    srand(8);
    struct machine *m = good();
    uint8_t saved[0x1000];
    uint32_t saved_len = m->madt_len;
    memcpy(saved, m->mem + MADT_PA, sizeof(saved));
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(m->mem + MADT_PA, saved, sizeof(saved));
        m->madt_len = saved_len;
        int flips = 1 + rand() % 4;
        for (int f = 0; f < flips; f++) {
            uint32_t off = 4 + (uint32_t)rand() % (m->madt_len - 4);
            m->mem[MADT_PA + off] = (uint8_t)rand();
        }
        if (rand() % 2)
            madt_end(m);
        struct acpi_madt out;
        enum acpi_error e = run(m, &out, NULL);
        assert_true(out.cpu_count >= 1 && out.cpu_count <= ACPI_MAX_CPUS);
        assert_true(out.ioapic_count >= 1 && out.ioapic_count <= ACPI_MAX_IOAPICS);
        if (e != ACPI_OK)
            assert_defaults(&out);
    }
    destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_rsdt),
        cmocka_unit_test(test_good_xsdt),
        cmocka_unit_test(test_lapic_addr_override_and_x2apic),
        cmocka_unit_test(test_rsdp_checksum),
        cmocka_unit_test(test_rsdp_signature_and_length),
        cmocka_unit_test(test_rsdp_v2_extended_checksum),
        cmocka_unit_test(test_root_checksum),
        cmocka_unit_test(test_root_length_past_end),
        cmocka_unit_test(test_root_outside_memory),
        cmocka_unit_test(test_root_signature),
        cmocka_unit_test(test_no_madt),
        cmocka_unit_test(test_madt_checksum),
        cmocka_unit_test(test_madt_length),
        cmocka_unit_test(test_madt_zero_length_entry),
        cmocka_unit_test(test_madt_entry_past_end),
        cmocka_unit_test(test_madt_entry_too_short_for_type),
        cmocka_unit_test(test_madt_trailing_byte),
        cmocka_unit_test(test_too_many_cpus),
        cmocka_unit_test(test_no_enabled_cpu),
        cmocka_unit_test(test_no_ioapic_gets_default),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_rsdp_find),
        cmocka_unit_test(test_random_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
