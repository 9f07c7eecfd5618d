/*
 * HC_IOPORT_OP: port I/O on behalf of a domain holding an IOPORT
 * capability for the ports (proto/include/hv/domctl.h). One instruction per
 * call: simple and exact to check; a driver domain that needs fast port
 * I/O would get the ports in its TSS I/O bitmap instead (not done: no
 * driver needs it yet).
 */
#include "arch.h"
#include "domain.h"
#include "hypercall.h"

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

int64_t hc_ioport_op(struct domain *d, struct hypercall *c)
{
    struct hv_ioport_args a;
    if (arch_copy_from_guest(&a, gva(c->arg[0]), sizeof(a)) != HV_OK)
        return HV_EFAULT;
    if (a.reserved != 0 || a.write > 1 || (a.size != 1 && a.size != 2 && a.size != 4) ||
        (uint32_t)a.port + a.size > 0x10000)
        return HV_EINVAL;
    struct cap *cap;
    enum hv_status st =
        cap_lookup_range(&d->caps, a.slot, HV_CAP_IOPORT, HV_CAP_R_IO_ACCESS, a.port, a.size, &cap);
    if (st != HV_OK)
        return st;
    if (port_reserved(a.port, a.size))
        return HV_EPERM;
    if (a.write) {
        arch_port_out(a.port, a.size, a.value);
        return HV_OK;
    }
    /* A read may consume what it reads (a device's data register). */
    if (hypercall_probe_out(c->arg[0], &a, sizeof(a)) != HV_OK)
        return HV_EFAULT;
    a.value = arch_port_in(a.port, a.size);
    if (arch_copy_to_guest(gva(c->arg[0]), &a, sizeof(a)) != HV_OK)
        return HV_EFAULT; /* probed above: only if the probe's premise broke */
    return HV_OK;
}
