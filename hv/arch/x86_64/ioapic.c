/*
 * The I/O APIC: physical interrupt lines (GSIs) delivered as vectors
 * IRQ_VECTOR_BASE + gsi, first to the boot CPU, then to the CPU of the VCPU
 * the line's port is bound to (arch_irq_set_cpu, devirq.c; through the
 * line's remapping entry when interrupt remapping is on), every line
 * masked until a domain holding the IRQ capability binds it to an event
 * channel (hv/core/evtchn.c).
 *
 * Delivery: the line is masked at the I/O APIC and the local APIC gets its
 * EOI at once; the event goes to the bound ports; the line stays masked
 * until the domains' HV_EVTCHN_EOIs unmask it. ISA lines (GSI 0-15) are
 * edge triggered, so an edge that arrives while the line is masked is
 * lost: a driver re-checks its device after the EOI (as it must anyway).
 * PCI lines (GSI 16 and up) are level triggered, active low, and may be
 * shared: the EOI broadcast of the local APIC's EOI clears the line's
 * remote IRR while it is masked, and a line still asserted when unmasked
 * fires again.
 *
 * UNFINISHED: acpi.c parses the MADT's I/O APICs and ISA overrides, but
 * they are not used here yet: the PC defaults are (0xfec00000, ISA IRQ n =
 * GSI n, except IRQ 0 = GSI 2).
 */
#include "arch.h"
#include "ioapic.h"
#include "log.h"
#include "vtd_tables.h"
#include "x86.h"

#define IOAPIC_DEFAULT_BASE 0xfec00000ull
#define IOREGSEL 0x00
#define IOWIN 0x10
#define IOAPIC_VER 0x01
#define IOAPIC_REDTBL(n) (0x10 + 2 * (n))
#define RTE_MASKED (1u << 16)
#define RTE_LEVEL (1u << 15)
#define RTE_ACTIVE_LOW (1u << 13)
#define ISA_LINES 16u

static volatile uint32_t *ioapic;
static uint32_t lines;

static uint32_t ioapic_read(uint32_t reg)
{
    ioapic[IOREGSEL / 4] = reg;
    return ioapic[IOWIN / 4];
}

static void ioapic_write(uint32_t reg, uint32_t v)
{
    ioapic[IOREGSEL / 4] = reg;
    ioapic[IOWIN / 4] = v;
}

bool arch_irq_level(uint32_t gsi)
{
    return gsi >= ISA_LINES && gsi < lines;
}

static uint32_t pin_mode(uint32_t gsi)
{
    return gsi >= ISA_LINES ? RTE_LEVEL | RTE_ACTIVE_LOW : 0;
}

void arch_irq_init(void)
{
    ioapic = phys_to_virt(IOAPIC_DEFAULT_BASE);
    uint32_t ver = ioapic_read(IOAPIC_VER);
    lines = ((ver >> 16) & 0xff) + 1;
    if (lines > ARCH_IRQ_LINES)
        lines = ARCH_IRQ_LINES;
    for (uint32_t i = 0; i < lines; i++) {
        /* Fixed delivery to APIC id 0 (the boot CPU); ISA lines edge and
         * active high, PCI lines level and active low. */
        ioapic_write(IOAPIC_REDTBL(i) + 1, 0);
        ioapic_write(IOAPIC_REDTBL(i), RTE_MASKED | pin_mode(i) | (IRQ_VECTOR_BASE + i));
    }
    log_info("irq: I/O APIC at %#llx, %u lines, vectors %#x-%#x, all masked",
             (unsigned long long)IOAPIC_DEFAULT_BASE, lines, IRQ_VECTOR_BASE,
             IRQ_VECTOR_BASE + lines - 1);
}

uint8_t ioapic_id(void)
{
    return (uint8_t)((ioapic_read(0x00) >> 24) & 0xf);
}

void ioapic_set_remapped(uint32_t gsi, uint16_t handle)
{
    if (gsi >= lines)
        return;
    bool masked = ioapic_read(IOAPIC_REDTBL(gsi)) & RTE_MASKED;
    uint64_t rte = vtd_ioapic_rte_remappable(handle, (uint8_t)(IRQ_VECTOR_BASE + gsi),
                                             arch_irq_level(gsi), true) |
                   (pin_mode(gsi) & RTE_ACTIVE_LOW);
    ioapic_write(IOAPIC_REDTBL(gsi) + 1, (uint32_t)(rte >> 32));
    ioapic_write(IOAPIC_REDTBL(gsi), (uint32_t)rte);
    if (!masked)
        ioapic_write(IOAPIC_REDTBL(gsi), (uint32_t)rte & ~RTE_MASKED);
}

void ioapic_set_dest(uint32_t gsi, uint8_t apic_id)
{
    if (gsi < lines)
        ioapic_write(IOAPIC_REDTBL(gsi) + 1, (uint32_t)apic_id << 24);
}

uint32_t arch_irq_lines(void)
{
    return lines;
}

void arch_irq_mask(uint32_t gsi)
{
    if (gsi < lines)
        ioapic_write(IOAPIC_REDTBL(gsi), ioapic_read(IOAPIC_REDTBL(gsi)) | RTE_MASKED);
}

void arch_irq_unmask(uint32_t gsi)
{
    if (gsi < lines)
        ioapic_write(IOAPIC_REDTBL(gsi), ioapic_read(IOAPIC_REDTBL(gsi)) & ~RTE_MASKED);
}

/* The ISA IRQ's GSI (the PC default wiring). */
