/*
 * PCI enumeration, BAR sizing and the configuration-access rule (see
 * hv/core/include/pci.h and docs/devices.md). Pure logic over the two hooks
 * pci_hook_read32/pci_hook_write32: the same source is host-tested with a
 * fake configuration space (test/unit/pci).
 *
 * Hostile hardware is not the threat model, but nothing here trusts it to
 * end a loop: every loop has a fixed bound.
 */
#include "pci.h"

static uint32_t bar_offset(unsigned i)
{
    return PCI_CFG_BAR0 + 4u * i;
}

/*
 * Sizes BAR register i of f (decoding is off): write all ones, read the
 * mask back, restore. The size is the lowest address bit that decodes.
 * Returns how many registers it used (2 for a 64-bit memory BAR, else 1).
 */
static uint32_t bar_mask(pci_bdf_t bdf, uint32_t off, uint32_t *orig)
{
    *orig = pci_hook_read32(bdf, off);
    pci_hook_write32(bdf, off, 0xffffffffu);
    uint32_t mask = pci_hook_read32(bdf, off);
    pci_hook_write32(bdf, off, *orig);
    return mask;
}

static unsigned bar_probe(struct pci_func *f, unsigned i)
{
    uint32_t orig;
    uint32_t mask = bar_mask(f->bdf, bar_offset(i), &orig);
    struct hv_pci_bar *b = &f->bars[i];

    if (orig & 1) {
        uint32_t m = mask & 0xfffffffcu;
        if (m == 0)
            return 1; /* not implemented */
        b->kind = HV_PCI_BAR_IO;
        b->base = orig & 0xfffffffcu;
        b->size = m & (~m + 1u);
        return 1;
    }
    uint64_t base = orig & 0xfffffff0u;
    uint64_t m = mask & 0xfffffff0u;
    unsigned used = 1;
    if (((orig >> 1) & 3u) == 2) {
        if (i + 1 >= f->bar_count)
            return 1; /* a 64-bit BAR in the last register: malformed, ignored */
        uint32_t orig_hi;
        uint32_t mask_hi = bar_mask(f->bdf, bar_offset(i + 1), &orig_hi);
        base |= (uint64_t)orig_hi << 32;
        m |= (uint64_t)mask_hi << 32;
        used = 2;
    }
    if (m == 0)
        return used; /* not implemented */
    if (used == 2)
        f->bars[i + 1].kind = HV_PCI_BAR_MEM64_HIGH;
    b->kind = used == 2 ? HV_PCI_BAR_MEM64 : HV_PCI_BAR_MEM32;
    b->flags = (orig & 8u) ? HV_PCI_BAR_F_PREFETCH : 0;
    b->base = base;
    b->size = m & (~m + 1u);
    return used;
}

/* Byte `off` of bdf's configuration space. */
static uint8_t cfg8(pci_bdf_t bdf, uint32_t off)
{
    return (uint8_t)(pci_hook_read32(bdf, off & 0xfc) >> (8 * (off & 3)));
}

static uint16_t cfg16(pci_bdf_t bdf, uint32_t off)
{
    return (uint16_t)(cfg8(bdf, off) | cfg8(bdf, off + 1) << 8);
}

/*
 * Follows the capability list of f (header types 0 and 1 with the status
 * register's list bit) and records its MSI and MSI-X structures. At most 48
 * entries (256 - 64 bytes of 4-byte capabilities), each pointer masked to a
 * dword and at 0x40 or above: a loop or a bad pointer ends the walk.
 */
static void caps_find(struct pci_func *f, uint32_t status_cmd)
{
    if (!(status_cmd & PCI_STATUS_CAP_LIST) || f->header_type > 1)
        return;
    uint32_t at = cfg8(f->bdf, PCI_CFG_CAP_PTR) & 0xfcu;
    for (unsigned n = 0; n < 48 && at >= 0x40; n++) {
        uint8_t id = cfg8(f->bdf, at);
        if (id == PCI_CAP_ID_MSI && f->msi_off == 0 && at <= 256 - 24) {
            uint16_t ctrl = cfg16(f->bdf, at + 2);
            f->msi_off = (uint8_t)at;
            f->msi_64bit = ctrl & (1u << 7);
            f->msi_bytes = (uint8_t)((f->msi_64bit ? 14 : 10) + ((ctrl & (1u << 8)) ? 10 : 0));
        } else if (id == PCI_CAP_ID_MSIX && f->msix_off == 0 && at <= 256 - PCI_MSIX_BYTES) {
            uint32_t table = pci_hook_read32(f->bdf, at + 4), pba = pci_hook_read32(f->bdf, at + 8);
            f->msix_off = (uint8_t)at;
            f->msix_count = (uint16_t)((cfg16(f->bdf, at + 2) & 0x7ffu) + 1);
            f->msix_table_bir = (uint8_t)(table & 7);
            f->msix_table_off = table & ~7u;
            f->msix_pba_bir = (uint8_t)(pba & 7);
            f->msix_pba_off = pba & ~7u;
        }
        at = cfg8(f->bdf, at + 1) & 0xfcu;
    }
}

/* Records the present function bdf (vendor/device register vd) in out. */
static void func_record(struct pci_scan *out, pci_bdf_t bdf, uint32_t vd, uint8_t header)
{
    if (out->count >= PCI_FUNCS_MAX) {
        out->dropped++;
        return;
    }
    struct pci_func *f = &out->funcs[out->count++];
    *f = (struct pci_func){
        .bdf = bdf,
        .vendor = (uint16_t)vd,
        .device = (uint16_t)(vd >> 16),
        .header_type = (uint8_t)(header & 0x7f),
        .class_rev = pci_hook_read32(bdf, PCI_CFG_CLASS_REV),
        .root_pci_slot = HV_PCI_NO_SLOT,
        .dma_owner = DOMID_INVALID,
    };
    for (unsigned i = 0; i < PCI_BARS_MAX; i++) {
        f->bars[i].mmio_slot = HV_PCI_NO_SLOT;
        f->root_mmio_slot[i] = HV_PCI_NO_SLOT;
    }
    cap_object_init(&f->pci_obj, HV_CAP_PCI);
    cap_object_init(&f->mmio_obj, HV_CAP_MMIO);
    uint32_t intr = pci_hook_read32(bdf, PCI_CFG_INTR);
    f->irq_line = (uint8_t)intr;
    f->irq_pin = (uint8_t)(intr >> 8);
    f->bar_count = f->header_type == 0 ? 6u : f->header_type == 1 ? 2u : 0u;
    uint32_t cmd = pci_hook_read32(bdf, PCI_CFG_COMMAND);
    caps_find(f, cmd);
    if (f->bar_count == 0)
        return;

    /* Decoding off while a BAR holds all ones, then the command restored;
     * not on a host bridge, which may carry the CPU's own memory path. */
    uint32_t decode =
        (f->class_rev >> 16) == PCI_CLASS_HOST_BRIDGE ? 0 : PCI_COMMAND_IO | PCI_COMMAND_MEMORY;
    if (cmd & decode)
        pci_hook_write32(bdf, PCI_CFG_COMMAND, (cmd & 0xffffu) & ~decode);
    for (unsigned i = 0; i < f->bar_count;)
        i += bar_probe(f, i);
    if (cmd & decode)
        pci_hook_write32(bdf, PCI_CFG_COMMAND, cmd & 0xffffu);
}

void pci_enumerate(struct pci_scan *out)
{
    out->count = 0;
    out->dropped = 0;
    for (unsigned bus = 0; bus < 256; bus++)
        for (unsigned dev = 0; dev < 32; dev++) {
            uint32_t vd = pci_hook_read32(pci_bdf(bus, dev, 0), PCI_CFG_VENDOR);
            if ((uint16_t)vd == 0xffff || (uint16_t)vd == 0)
                continue;
            uint8_t header = (uint8_t)(pci_hook_read32(pci_bdf(bus, dev, 0), PCI_CFG_HEADER) >> 16);
            unsigned fns = (header & PCI_HEADER_MULTIFUNCTION) ? 8u : 1u;
            func_record(out, pci_bdf(bus, dev, 0), vd, header);
            for (unsigned fn = 1; fn < fns; fn++) {
                pci_bdf_t bdf = pci_bdf(bus, dev, fn);
                uint32_t v = pci_hook_read32(bdf, PCI_CFG_VENDOR);
                if ((uint16_t)v == 0xffff || (uint16_t)v == 0)
                    continue;
                func_record(out, bdf, v, (uint8_t)(pci_hook_read32(bdf, PCI_CFG_HEADER) >> 16));
            }
        }
}

struct pci_func *pci_func_of_obj(struct pci_scan *s, const struct cap_object *obj)
{
    if (obj == NULL)
        return NULL;
    for (uint32_t i = 0; i < s->count && i < PCI_FUNCS_MAX; i++)
        if (&s->funcs[i].pci_obj == obj || &s->funcs[i].mmio_obj == obj)
            return &s->funcs[i];
    return NULL;
}

/* Whether [offset, offset + size) meets [first, last]. */
static bool touches(uint32_t offset, uint32_t size, uint32_t first, uint32_t last)
{
    return offset <= last && offset + size - 1 >= first;
}

enum hv_status pci_config_check(const struct pci_func *f, uint32_t rights, uint32_t offset,
                                uint32_t size, bool write, uint32_t value)
{
    if (offset >= 256 || (size != 1 && size != 2 && size != 4) || offset % size != 0)
        return HV_EINVAL;
    if (!(rights & (write ? HV_CAP_R_PCI_CONFIG_WRITE : HV_CAP_R_PCI_CONFIG_READ)))
        return HV_EPERM;
    if (!write)
        return HV_OK;
    if (f->header_type == 0) {
        if (touches(offset, size, 0x10, 0x27) || touches(offset, size, 0x30, 0x33))
            return HV_EPERM;
    } else if (touches(offset, size, 0x10, 0x3b)) {
        return HV_EPERM;
    }
    /* Chipset registers of host and ISA/LPC bridges (0x40 and up) remap
     * memory and I/O: ECAM base, PAM, SMRAM, TOLUD, RCBA, PMBASE. */
    uint32_t cls = f->class_rev >> 16;
    if ((cls == PCI_CLASS_HOST_BRIDGE || cls == PCI_CLASS_ISA_BRIDGE) && offset + size - 1 >= 0x40)
        return HV_EPERM;
    /* The bus-master bit is bit 2 of byte 4, which only an access starting
     * at offset 4 covers (aligned sizes). */
    if (offset == PCI_CFG_COMMAND && (value & PCI_COMMAND_MASTER) && !(rights & HV_CAP_R_PCI_DMA))
        return HV_EPERM;
    /* Message address, data and enable are the hypervisor's. */
    if ((f->msi_off && touches(offset, size, f->msi_off, f->msi_off + f->msi_bytes - 1u)) ||
        (f->msix_off && touches(offset, size, f->msix_off, f->msix_off + PCI_MSIX_BYTES - 1u)))
        return HV_EPERM;
    return HV_OK;
}

void pci_func_info(const struct pci_func *f, struct hv_pci_info_args *out)
{
    out->bus = (uint8_t)(f->bdf >> 8);
    out->dev = (uint8_t)((f->bdf >> 3) & 0x1f);
    out->fn = (uint8_t)(f->bdf & 7);
    out->header_type = f->header_type;
    out->vendor = f->vendor;
    out->device = f->device;
    out->class_rev = f->class_rev;
    out->irq_line = f->irq_line;
    out->irq_pin = f->irq_pin;
    out->reserved2 = 0;
    out->msix_count = f->msix_off ? f->msix_count : 0;
    out->msi_count = f->msi_off ? 1 : 0;
    out->reserved3 = 0;
    out->reserved4 = 0;
    out->pci_slot = f->root_pci_slot;
    out->bar_count = f->bar_count;
    for (unsigned i = 0; i < PCI_BARS_MAX; i++) {
        out->bars[i] = f->bars[i];
        out->bars[i].mmio_slot = f->root_mmio_slot[i];
    }
}
