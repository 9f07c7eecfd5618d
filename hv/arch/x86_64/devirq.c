/*
 * Device DMA and message interrupts, the architecture's side (arch.h,
 * "Devices"): finds the ACPI DMAR and starts the VT-d unit (vtd.c), aims
 * the I/O APIC's lines through interrupt remapping when it is on, and
 * builds the message (address, data) of each MSI/MSI-X vector the core
 * hands out: through a remapping entry that only the function's own source
 * id may use, or, without interrupt remapping, the compatibility format.
 *
 * Remapping-table handles: 0..ARCH_IRQ_LINES-1 the I/O APIC lines,
 * MSI_HANDLE_FIRST + slot the message vectors.
 *
 * Boot runs once on the boot CPU; the rest under the hypervisor lock.
 */
#include "acpi.h"
#include "arch.h"
#include "dmar.h"
#include "ioapic.h"
#include "log.h"
#include "vtd.h"
#include "vtd_tables.h"
#include "x86.h"

#define MSI_HANDLE_FIRST 32u
#define IR_HANDLES 256u

static bool ir_on;

static uint8_t apic_id_of(unsigned cpu)
{
    const struct arch_cpu_topo *t = arch_cpu_topology(cpu);
    return (uint8_t)(t ? t->apic_id : arch_cpu_topology(0)->apic_id);
}

/* The RSDP as smp.c finds it: the boot loader's copy, else the BIOS areas. */
static const uint8_t *rsdp_locate(const void *given, size_t given_size, const struct acpi_phys *mem,
                                  size_t *size)
{
    if (given) {
        *size = given_size;
        return given;
    }
    uint64_t pa;
    if (!acpi_rsdp_find(mem, &pa))
        return NULL;
    *size = mem->size_bytes - pa > 4096 ? 4096 : (size_t)(mem->size_bytes - pa);
    return mem->base + pa;
}

enum arch_iommu arch_iommu_init(const void *acpi_rsdp, size_t acpi_rsdp_size_bytes)
{
    struct acpi_phys mem = {phys_to_virt(0), arch_directmap_limit()};
    size_t rsdp_size = 0;
    const uint8_t *rsdp = rsdp_locate(acpi_rsdp, acpi_rsdp_size_bytes, &mem, &rsdp_size);
    const uint8_t *dmar;
    uint32_t len;
    uint64_t pa;
    enum acpi_error e =
        rsdp ? acpi_find_table(&mem, rsdp, rsdp_size, "DMAR", DMAR_HDR_BYTES, &dmar, &len, &pa)
             : ACPI_E_NO_TABLE;
    if (e != ACPI_OK) {
        log_info("iommu: no DMAR table (%s)", acpi_strerror(e));
        return ARCH_IOMMU_NONE;
    }
    if (!vtd_init(dmar, len, true, ARCH_IOMMU_FAULT_VECTOR, apic_id_of(0)))
        return ARCH_IOMMU_NONE;
    if (vtd_ir_on()) {
        /* Every I/O APIC line through a remapping entry of its own (only
         * the I/O APIC's source id may use it), then remapping on:
         * compatibility-format messages are blocked from then on. */
        uint16_t sid = 0;
        bool check = vtd_ioapic_sid(ioapic_id(), &sid);
        for (uint32_t gsi = 0; gsi < arch_irq_lines(); gsi++) {
            vtd_irte_set((uint16_t)gsi, (uint8_t)(IRQ_VECTOR_BASE + gsi), apic_id_of(0),
                         arch_irq_level(gsi), check, sid);
            ioapic_set_remapped(gsi, (uint16_t)gsi);
        }
        vtd_ir_enable();
        ir_on = true;
        log_info("iommu: interrupt remapping on: I/O APIC lines and message vectors go through "
                 "remapping entries checked against their source ids");
    }
    return ARCH_IOMMU_VTD;
}

bool arch_iommu_covers(uint16_t bdf)
{
    return vtd_covers(bdf);
}

void arch_msi_message(unsigned slot, uint8_t vector, uint16_t sid, unsigned cpu, uint32_t *addr,
                      uint32_t *data)
{
    if (ir_on) {
        uint16_t h = (uint16_t)(MSI_HANDLE_FIRST + slot);
        vtd_irte_set(h, vector, apic_id_of(cpu), false, true, sid);
        vtd_msi_remappable(h, addr, data);
        return;
    }
    vtd_msi_compat(vector, apic_id_of(cpu), addr, data);
}

void arch_msi_release(unsigned slot)
{
    if (ir_on && MSI_HANDLE_FIRST + slot < IR_HANDLES)
        vtd_irte_clear((uint16_t)(MSI_HANDLE_FIRST + slot));
}

void *arch_mmio_va(paddr_t pa, size_t len)
{
    /* The direct map's uncached window (paging.c): 0xfe000000 up to 4 GiB. */
    if (pa < 0xfe000000ull || len > (4ull << 30) - pa)
        return NULL;
    return phys_to_virt(pa);
}

void arch_irq_set_cpu(uint32_t gsi, unsigned cpu)
{
    if (gsi >= arch_irq_lines())
        return;
    if (ir_on) {
        uint16_t sid = 0;
        bool check = vtd_ioapic_sid(ioapic_id(), &sid);
        vtd_irte_set((uint16_t)gsi, (uint8_t)(IRQ_VECTOR_BASE + gsi), apic_id_of(cpu),
                     arch_irq_level(gsi), check, sid);
        return;
    }
    ioapic_set_dest(gsi, apic_id_of(cpu));
}
