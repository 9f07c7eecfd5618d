/*
 * HC_IOPORT_OP: port I/O on behalf of a domain holding an IOPORT
 * capability for the ports (proto/include/hv/domctl.h). One instruction per
 * call: simple and exact to check; a driver domain that needs fast port
 * I/O would get the ports in its TSS I/O bitmap instead (not done: no
 * driver needs it yet).
 */
#include "arch.h"
#include "domain.h"
#include "regs.h"
#include "x86.h"

/* Ports the hypervisor keeps for itself, whatever capability is shown. */
static const struct {
    uint16_t first, last;
} reserved_ports[] = {
    {0x20, 0x21},   /* master PIC */
    {0x40, 0x43},   /* PIT */
    {0x61, 0x61},   /* PIT gate, speaker */
    {0x70, 0x71},   /* CMOS / RTC */
    {0xa0, 0xa1},   /* slave PIC */
    {0xf4, 0xf4},   /* isa-debug-exit */
    {0x3f8, 0x3ff}, /* COM1: the hypervisor's log */
    {0xcf8, 0xcff}, /* PCI configuration: PCI-device capabilities */
};

static bool port_reserved(uint32_t first, uint32_t size)
{
    for (size_t i = 0; i < sizeof(reserved_ports) / sizeof(reserved_ports[0]); i++)
        if (first <= reserved_ports[i].last && first + size - 1 >= reserved_ports[i].first)
            return true;
    return false;
}

static uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

int64_t hc_ioport_op(struct domain *d, struct cpu_regs *regs)
{
    struct hv_ioport_args a;
    if (arch_copy_from_guest(&a, gva(regs->rdi), sizeof(a)) != HV_OK)
        return HV_EFAULT;
    if (a.reserved != 0 || a.write > 1 || (a.size != 1 && a.size != 2 && a.size != 4) ||
        (uint32_t)a.port + a.size > 0x10000)
        return HV_EINVAL;
    struct cap *c;
    enum hv_status st =
        cap_lookup_range(&d->caps, a.slot, HV_CAP_IOPORT, HV_CAP_R_IO_ACCESS, a.port, a.size, &c);
    if (st != HV_OK)
        return st;
    if (port_reserved(a.port, a.size))
        return HV_EPERM;
    if (a.write) {
        switch (a.size) {
        case 1: outb(a.port, (uint8_t)a.value); break;
        case 2: outw(a.port, (uint16_t)a.value); break;
        default: outl(a.port, a.value); break;
        }
        return HV_OK;
    }
    switch (a.size) {
    case 1: a.value = inb(a.port); break;
    case 2: a.value = inw(a.port); break;
    default: a.value = inl(a.port); break;
    }
    if (arch_copy_to_guest(gva(regs->rdi), &a, sizeof(a)) != HV_OK)
        return HV_EFAULT;
    return HV_OK;
}
