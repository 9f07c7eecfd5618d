/*
 * PCI in the hypervisor (docs/devices.md): the configuration hooks of
 * pci.c over ports 0xcf8/0xcfc (mechanism #1), the boot scan and the
 * root's device capabilities, and HC_PCI_OP.
 *
 * The device table is static: functions are found once, at boot, and
 * never go away (no hot-plug). Every capability object of a device lives
 * in it, so no capability ever names freed memory.
 *
 * Locking: the caller holds the hypervisor lock (all hypervisor work does),
 * or runs at boot before any domain: the address/data port pair is used by
 * one CPU at a time.
 */
#include "arch.h"
#include "domain.h"
#include "hypercall.h"
#include "log.h"
#include "pci.h"

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc

static struct pci_scan scan;

static uint32_t config_address(pci_bdf_t bdf, uint32_t offset)
{
    return 0x80000000u | (uint32_t)bdf << 8 | (offset & 0xfc);
}

uint32_t pci_hook_read32(pci_bdf_t bdf, uint32_t offset)
{
    arch_port_out(PCI_CONFIG_ADDRESS, 4, config_address(bdf, offset));
    return arch_port_in(PCI_CONFIG_DATA, 4);
}

void pci_hook_write32(pci_bdf_t bdf, uint32_t offset, uint32_t value)
{
    arch_port_out(PCI_CONFIG_ADDRESS, 4, config_address(bdf, offset));
    arch_port_out(PCI_CONFIG_DATA, 4, value);
}

/* A sized access (already checked by pci_config_check): the data port
 * byte that matches the offset, so no neighbouring register is written. */
static uint32_t config_read(pci_bdf_t bdf, uint32_t offset, uint32_t size)
{
    uint16_t port = (uint16_t)(PCI_CONFIG_DATA + (offset & 3));
    arch_port_out(PCI_CONFIG_ADDRESS, 4, config_address(bdf, offset));
    return arch_port_in(port, size);
}

static void config_write(pci_bdf_t bdf, uint32_t offset, uint32_t size, uint32_t value)
{
    uint16_t port = (uint16_t)(PCI_CONFIG_DATA + (offset & 3));
    arch_port_out(PCI_CONFIG_ADDRESS, 4, config_address(bdf, offset));
    arch_port_out(port, size, value);
}

static const char *bar_kind_name(uint8_t kind)
{
    switch (kind) {
    case HV_PCI_BAR_IO: return "io";
    case HV_PCI_BAR_MEM32: return "mem32";
    case HV_PCI_BAR_MEM64: return "mem64";
    default: return "?";
    }
}

/* Frames a memory BAR covers, rounded out; false if it has none usable
 * (unassigned at 0, or wrapping). */
static bool bar_frames(const struct hv_pci_bar *b, uint64_t *first, uint64_t *count)
{
    if ((b->kind != HV_PCI_BAR_MEM32 && b->kind != HV_PCI_BAR_MEM64) || b->size == 0 ||
        b->base == 0 || b->base + b->size < b->base)
        return false;
    *first = b->base >> PAGE_SHIFT;
    *count = ((b->base + b->size + PAGE_SIZE - 1) >> PAGE_SHIFT) - *first;
    return true;
}

/* Frames the hypervisor keeps whatever capability is shown: the I/O APIC,
 * HPET and local APIC area up to 4 GiB. A BAR there gets no capability. */
static bool frames_reserved(uint64_t first, uint64_t count)
{
    return first + count > 0xfec00 && first < 0x100000;
}

uint32_t pci_root_caps(struct cap_table *t, uint32_t first_slot)
{
    pci_enumerate(&scan);
    uint32_t slot = first_slot;
    for (uint32_t i = 0; i < scan.count; i++) {
        struct pci_func *f = &scan.funcs[i];
        log_info("pci: %02x:%02x.%u %04x:%04x class %06x hdr %u irq line %u pin %u", f->bdf >> 8,
                 (f->bdf >> 3) & 0x1f, f->bdf & 7, f->vendor, f->device, f->class_rev >> 8,
                 f->header_type, f->irq_line, f->irq_pin);
        if (slot >= HV_CAP_SLOTS) {
            log_warn("pci: no capability slot left for %02x:%02x.%u", f->bdf >> 8,
                     (f->bdf >> 3) & 0x1f, f->bdf & 7);
            continue;
        }
        if (cap_insert_root(t, slot, &f->pci_obj, HV_CAP_R_PCI_ALL | HV_CAP_R_GRANT, 0, 0) != HV_OK)
            panic("boot: PCI capability slot %u refused", slot);
        f->root_pci_slot = slot++;
        for (unsigned b = 0; b < f->bar_count; b++) {
            const struct hv_pci_bar *bar = &f->bars[b];
            if (bar->kind == HV_PCI_BAR_NONE || bar->kind == HV_PCI_BAR_MEM64_HIGH)
                continue;
            uint64_t first, count;
            bool mem = bar_frames(bar, &first, &count);
            bool reserved = mem && frames_reserved(first, count);
            log_info("pci:   BAR%u %s%s %#llx size %#llx%s%s", b, bar_kind_name(bar->kind),
                     (bar->flags & HV_PCI_BAR_F_PREFETCH) ? " prefetchable" : "",
                     (unsigned long long)bar->base, (unsigned long long)bar->size,
                     f->header_type == 1 ? " (bridge: no capability)" : "",
                     reserved ? " (hypervisor's frames: no capability)" : "");
            if (!mem || reserved || f->header_type != 0)
                continue;
            if (slot >= HV_CAP_SLOTS) {
                log_warn("pci: no capability slot left for a BAR");
                continue;
            }
            if (cap_insert_root(t, slot, &f->mmio_obj, HV_CAP_R_MMIO_ALL | HV_CAP_R_GRANT, first,
                                count) != HV_OK)
                panic("boot: MMIO capability slot %u refused", slot);
            f->root_mmio_slot[b] = slot++;
        }
    }
    if (scan.dropped)
        log_warn("pci: %u functions beyond the first %u left out", scan.dropped, PCI_FUNCS_MAX);
    return slot - first_slot;
}

struct pci_scan *pci_hv_table(void)
{
    return &scan;
}

/* The recorded function a PCI capability of d's names, with rights. */
static enum hv_status pci_func_of_slot(struct domain *d, uint32_t slot, uint32_t rights,
                                       struct cap **cap, struct pci_func **f)
{
    enum hv_status st = cap_lookup(&d->caps, slot, HV_CAP_PCI, rights, cap);
    if (st != HV_OK)
        return st;
    *f = pci_func_of_obj(&scan, (*cap)->obj);
    if (*f == NULL)
        panic("pci: a PCI capability names no recorded function");
    return HV_OK;
}

enum hv_status pci_msi_bind_slot(struct domain *d, uint32_t pci_slot, uint32_t index,
                                 uint32_t *port)
{
    struct cap *cap;
    struct pci_func *f;
    enum hv_status st = pci_func_of_slot(d, pci_slot, HV_CAP_R_PCI_IRQ, &cap, &f);
    return st != HV_OK ? st : pci_msi_bind(d, f, index, port);
}

/* HV_PCI_MSI_ENABLE / DISABLE (pci_dev.c does the work). */
static int64_t pci_msi_op(struct domain *d, struct hypercall *c, void *rec)
{
    const struct hv_pci_msi_args *m = rec;
    uint64_t cmd = c->arg[0];
    if (m->reserved != 0 || (cmd == HV_PCI_MSI_DISABLE && (m->kind != 0 || m->count != 0)))
        return HV_EINVAL;
    struct cap *cap;
    struct pci_func *f;
    enum hv_status st = pci_func_of_slot(d, m->slot, HV_CAP_R_PCI_IRQ, &cap, &f);
    if (st != HV_OK)
        return st;
    return cmd == HV_PCI_MSI_ENABLE ? pci_msi_enable(d, f, m->kind, m->count)
                                    : pci_msi_disable(d, f);
}

static int64_t pci_info_op(struct domain *d, struct hypercall *c, void *rec)
{
    struct hv_pci_info_args *a = rec;
    if (a->reserved != 0)
        return HV_EINVAL;
    struct cap *cap;
    struct pci_func *f;
    enum hv_status st = pci_func_of_slot(d, a->slot, 0, &cap, &f);
    if (st != HV_OK)
        return st;
    pci_func_info(f, a);
    return HV_OK;
}

/* A read is written back (HC_REC_OUT: probed before the read, as a device
 * register may change when read). */
static int64_t pci_config_op(struct domain *d, struct hypercall *c, void *rec)
{
    struct hv_pci_config_args *a = rec;
    bool write = c->arg[0] == HV_PCI_CONFIG_WRITE;
    if (a->reserved0 != 0 || a->reserved != 0)
        return HV_EINVAL;
    struct cap *cap;
    struct pci_func *f;
    enum hv_status st = pci_func_of_slot(d, a->slot, 0, &cap, &f);
    if (st != HV_OK)
        return st;
    st = pci_config_check(f, cap->rights, a->offset, a->size, write, a->value);
    if (st != HV_OK)
        return st;
    if (!write) {
        a->value = config_read(f->bdf, a->offset, a->size);
        return HV_OK;
    }
    bool command = a->offset == PCI_CFG_COMMAND;
    if (command && (st = pci_dma_before_command(d, f, a->value)) != HV_OK)
        return st;
    config_write(f->bdf, a->offset, a->size, a->value);
    if (command)
        pci_dma_after_command(f, a->value);
    return HV_OK;
}

static const struct hc_cmd pci_cmds[] = {
    [HV_PCI_CONFIG_READ] = HC_REC(pci_config_op, struct hv_pci_config_args, HC_REC_OUT),
    [HV_PCI_CONFIG_WRITE] = HC_REC(pci_config_op, struct hv_pci_config_args, 0),
    [HV_PCI_INFO] = HC_REC(pci_info_op, struct hv_pci_info_args, HC_REC_OUT),
    [HV_PCI_MSI_ENABLE] = HC_REC(pci_msi_op, struct hv_pci_msi_args, 0),
    [HV_PCI_MSI_DISABLE] = HC_REC(pci_msi_op, struct hv_pci_msi_args, 0),
};

int64_t hc_pci_op(struct domain *d, struct hypercall *c)
{
    return hypercall_cmd(d, c, pci_cmds, ARRAY_SIZE(pci_cmds));
}
