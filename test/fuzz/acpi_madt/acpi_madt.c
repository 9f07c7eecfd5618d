/*
 * libFuzzer target: the ACPI parser (hv/arch/x86_64/acpi.c) on hostile
 * firmware tables. Input layout: byte 0 = mode flags, then the bytes.
 *   bit 0 clear: the bytes are the MADT (from its 36-byte header on); the
 *     harness puts it at MADT_PA behind a valid RSDP v1 and RSDT, with the
 *     MADT's checksum fixed when bit 1 is set (so the entry walk is reached).
 *   bit 0 set: the bytes are raw physical memory from address 0 (RSDP in the
 *     first 36 bytes, tables wherever their pointers say), also scanned for
 *     an RSDP the BIOS way.
 * Memory is an exact-size heap buffer, so ASan catches any read outside it.
 * Properties: no crash or sanitizer report, no hang (libFuzzer -timeout);
 * the result always has 1..ACPI_MAX_CPUS CPUs and 1..ACPI_MAX_IOAPICS I/O
 * APICs; on error it is exactly the defaults; on success the CPU ids are
 * distinct and below 255.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ROOT_PA 0x100u
#define MADT_PA 0x200u

static uint8_t sum8(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

static void check(enum acpi_error e, const struct acpi_madt *m)
{
    if (m->cpu_count < 1 || m->cpu_count > ACPI_MAX_CPUS)
        abort();
    if (m->ioapic_count < 1 || m->ioapic_count > ACPI_MAX_IOAPICS)
        abort();
    if (m->override_count > ACPI_MAX_OVERRIDES)
        abort();
    if (e != ACPI_OK) {
        struct acpi_madt d;
        acpi_madt_default(&d, 0);
        if (memcmp(&d, m, sizeof(d)) != 0)
            abort();
        return;
    }
    for (uint32_t i = 0; i < m->cpu_count; i++) {
        if (m->cpu_apic_id[i] >= 255)
            abort();
        for (uint32_t j = 0; j < i; j++)
            if (m->cpu_apic_id[i] == m->cpu_apic_id[j])
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    struct acpi_madt out;
    enum acpi_error e;

    if (mode & 1) {
        uint8_t *mem = malloc(size ? size : 1);
        memcpy(mem, data, size);
        struct acpi_phys phys = {mem, size};
        e = acpi_parse(&phys, mem, size, &out, NULL);
        check(e, &out);
        uint64_t pa;
        if (acpi_rsdp_find(&phys, &pa) && (pa >= size || size - pa < ACPI_RSDP_V1_BYTES))
            abort();
        free(mem);
        return 0;
    }

    size_t mem_size = MADT_PA + size;
    uint8_t *mem = calloc(1, mem_size);
    memcpy(mem + MADT_PA, data, size);
    if ((mode & 2) && size >= 36) {
        memcpy(mem + MADT_PA, "APIC", 4);
        uint32_t len = (uint32_t)size;
        memcpy(mem + MADT_PA + 4, &len, 4);
        mem[MADT_PA + 9] = 0;
        mem[MADT_PA + 9] = (uint8_t)(0x100 - sum8(mem + MADT_PA, size));
    }
    uint8_t *r = mem + ROOT_PA;
    memcpy(r, "RSDT", 4);
    uint32_t rlen = 40, madt = MADT_PA;
    memcpy(r + 4, &rlen, 4);
    memcpy(r + 36, &madt, 4);
    r[9] = (uint8_t)(0x100 - sum8(r, rlen));
    uint8_t rsdp[20] = "RSD PTR ";
    uint32_t root = ROOT_PA;
    memcpy(rsdp + 16, &root, 4);
    rsdp[8] = (uint8_t)(0x100 - sum8(rsdp, 20));
    struct acpi_phys phys = {mem, mem_size};
    e = acpi_parse(&phys, rsdp, sizeof(rsdp), &out, NULL);
    check(e, &out);
    free(mem);
    return 0;
}
