/*
 * guest-kit PCI configuration-space helpers and the virtio-PCI capability
 * parser (gk/pci.h). Everything read from a device is bounded and checked.
 */
#include "gk/pci.h"
#include "hv/abi.h"

#define CAP_LIST_FIRST 0x40u
/* More entries than this cannot fit between 0x40 and 0x100: a loop. */
#define CAP_LIST_MAX ((GK_PCI_CFG_BYTES - CAP_LIST_FIRST) / 4u)

uint32_t gk_pci_cf8_address(struct gk_pci_bdf bdf, uint16_t offset)
{
    return 0x80000000u | ((uint32_t)bdf.bus << 16) | ((uint32_t)(bdf.dev & 31u) << 11) |
           ((uint32_t)(bdf.fn & 7u) << 8) | (offset & 0xfcu);
}

uint32_t gk_pci_read32(const struct gk_pci_cfg *cfg, struct gk_pci_bdf bdf, uint16_t offset)
{
    if (offset >= GK_PCI_CFG_BYTES)
        return 0xffffffffu;
    return cfg->read32(cfg->ctx, bdf, (uint16_t)(offset & ~3u));
}

uint16_t gk_pci_read16(const struct gk_pci_cfg *cfg, struct gk_pci_bdf bdf, uint16_t offset)
{
    return (uint16_t)(gk_pci_read32(cfg, bdf, offset) >> (8 * (offset & 2u)));
}

uint8_t gk_pci_read8(const struct gk_pci_cfg *cfg, struct gk_pci_bdf bdf, uint16_t offset)
{
    return (uint8_t)(gk_pci_read32(cfg, bdf, offset) >> (8 * (offset & 3u)));
}

void gk_pci_write_command(const struct gk_pci_cfg *cfg, struct gk_pci_bdf bdf, uint16_t command)
{
    cfg->write32(cfg->ctx, bdf, GK_PCI_OFF_COMMAND, command);
}

static void device_read(const struct gk_pci_cfg *cfg, struct gk_pci_bdf bdf, uint32_t id,
                        struct gk_pci_device *d)
{
    uint32_t class = gk_pci_read32(cfg, bdf, GK_PCI_OFF_CLASS);
    uint32_t subsys = gk_pci_read32(cfg, bdf, GK_PCI_OFF_SUBSYSTEM);
    uint32_t irq = gk_pci_read32(cfg, bdf, GK_PCI_OFF_IRQ);
    d->bdf = bdf;
    d->vendor_id = (uint16_t)id;
    d->device_id = (uint16_t)(id >> 16);
    d->revision = (uint8_t) class;
    d->prog_if = (uint8_t)(class >> 8);
    d->subclass = (uint8_t)(class >> 16);
    d->class_code = (uint8_t)(class >> 24);
    d->header_type = gk_pci_read8(cfg, bdf, GK_PCI_OFF_HEADER_TYPE) & 0x7fu;
    d->subsystem_vendor_id = (uint16_t)subsys;
    d->subsystem_id = (uint16_t)(subsys >> 16);
    d->irq_line = (uint8_t)irq;
    d->irq_pin = (uint8_t)(irq >> 8);
}

size_t gk_pci_enumerate(const struct gk_pci_cfg *cfg, uint8_t bus_first, uint8_t bus_last,
                        struct gk_pci_device *out, size_t max_count)
{
    size_t found = 0;
    for (unsigned bus = bus_first; bus <= bus_last; bus++) {
        for (uint8_t dev = 0; dev < 32; dev++) {
            for (uint8_t fn = 0; fn < 8; fn++) {
                struct gk_pci_bdf bdf = {(uint8_t)bus, dev, fn};
                uint32_t id = gk_pci_read32(cfg, bdf, GK_PCI_OFF_VENDOR);
                uint16_t vendor = (uint16_t)id;
                if (vendor == 0xffffu || vendor == 0) {
                    if (fn == 0)
                        break; /* no device: functions 1..7 are not looked at */
                    continue;
                }
                if (found < max_count)
                    device_read(cfg, bdf, id, &out[found]);
                found++;
                if (fn == 0 && !(gk_pci_read8(cfg, bdf, GK_PCI_OFF_HEADER_TYPE) & 0x80u))
                    break; /* single-function device */
            }
        }
    }
    return found;
}

int gk_pci_read_bar(const struct gk_pci_cfg *cfg, struct gk_pci_bdf bdf, unsigned index,
                    struct gk_pci_bar *bar)
{
    if (index > 5 || (gk_pci_read8(cfg, bdf, GK_PCI_OFF_HEADER_TYPE) & 0x7fu) != 0)
        return HV_EINVAL;
    if (index > 0) {
        /* The upper half of a 64-bit BAR is not a BAR of its own. */
        uint32_t below = gk_pci_read32(cfg, bdf, (uint16_t)(GK_PCI_OFF_BAR0 + 4 * (index - 1)));
        if (!(below & 1u) && ((below >> 1) & 3u) == 2u)
            return HV_ENOENT;
    }
    uint16_t off = (uint16_t)(GK_PCI_OFF_BAR0 + 4 * index);
    uint32_t lo = gk_pci_read32(cfg, bdf, off);
    bool is_io = lo & 1u;
    unsigned type = (lo >> 1) & 3u;
    if (!is_io && type == 1u)
        return HV_ENOTSUP; /* "below 1 MiB", reserved since PCI 3.0 */
    bool is_64 = !is_io && type == 2u;
    if (is_64 && index == 5)
        return HV_EINVAL;

    uint16_t command = gk_pci_read16(cfg, bdf, GK_PCI_OFF_COMMAND);
    gk_pci_write_command(
        cfg, bdf, (uint16_t)(command & ~(is_io ? GK_PCI_COMMAND_IO : GK_PCI_COMMAND_MEMORY)));
    uint32_t hi = is_64 ? gk_pci_read32(cfg, bdf, (uint16_t)(off + 4)) : 0;
    cfg->write32(cfg->ctx, bdf, off, 0xffffffffu);
    uint32_t mask_lo = gk_pci_read32(cfg, bdf, off);
    cfg->write32(cfg->ctx, bdf, off, lo);
    uint32_t mask_hi = is_64 ? 0 : 0xffffffffu;
    if (is_64) {
        cfg->write32(cfg->ctx, bdf, (uint16_t)(off + 4), 0xffffffffu);
        mask_hi = gk_pci_read32(cfg, bdf, (uint16_t)(off + 4));
        cfg->write32(cfg->ctx, bdf, (uint16_t)(off + 4), hi);
    }
    gk_pci_write_command(cfg, bdf, command);

    uint64_t mask = ((uint64_t)mask_hi << 32) | (mask_lo & (is_io ? ~3u : ~15u));
    if (is_io)
        mask |= 0xffff0000ull; /* I/O BARs may implement only 16 bits */
    uint64_t size = ~mask + 1;
    if ((mask_lo & (is_io ? ~3u : ~15u)) == 0 && (!is_64 || mask_hi == 0))
        return HV_ENOENT; /* unimplemented BAR */
    if (size == 0 || (size & (size - 1)) != 0 || (~mask & (size - 1)) != ~mask)
        return HV_EINVAL;
    bar->is_io = is_io;
    bar->is_64bit = is_64;
    bar->prefetchable = !is_io && (lo & 8u);
    bar->base = (((uint64_t)hi << 32) | lo) & (is_io ? ~3ull : ~15ull);
    bar->size_bytes = size;
    return HV_OK;
}

/* Walks the whole capability list once: true if it ends (a zero pointer)
 * within CAP_LIST_MAX entries, every one of them at or above 0x40. */
static bool cap_list_ok(const struct gk_pci_cfg *cfg, struct gk_pci_bdf bdf)
{
    uint8_t ptr = gk_pci_read8(cfg, bdf, GK_PCI_OFF_CAP_PTR) & 0xfcu;
    for (unsigned n = 0; ptr != 0; n++) {
        if (n >= CAP_LIST_MAX || ptr < CAP_LIST_FIRST)
            return false;
        ptr = gk_pci_read8(cfg, bdf, (uint16_t)(ptr + 1)) & 0xfcu;
    }
    return true;
}

int gk_pci_find_cap(const struct gk_pci_cfg *cfg, struct gk_pci_bdf bdf, uint8_t cap_id,
                    uint8_t after)
{
    if (!(gk_pci_read16(cfg, bdf, GK_PCI_OFF_STATUS) & GK_PCI_STATUS_CAP_LIST))
        return HV_ENOENT;
    /* Checked first so that a search that starts after an entry of a loop
     * cannot go round for ever (gk_virtio_pci_find_caps iterates with it). */
    if (!cap_list_ok(cfg, bdf))
        return HV_EINVAL;
    uint8_t ptr = gk_pci_read8(cfg, bdf, GK_PCI_OFF_CAP_PTR) & 0xfcu;
    bool past = after == 0;
    for (unsigned n = 0; ptr != 0; n++) {
        if (n >= CAP_LIST_MAX || ptr < CAP_LIST_FIRST)
            return HV_EINVAL;
        uint16_t hdr = gk_pci_read16(cfg, bdf, ptr);
        if (past && (uint8_t)hdr == cap_id)
            return ptr;
        if (ptr == after)
            past = true;
        ptr = (uint8_t)(hdr >> 8) & 0xfcu;
    }
    return HV_ENOENT;
}

/* Reads one virtio vendor capability at `at` into region; false if it is
 * malformed. */
static bool virtio_region(const struct gk_pci_cfg *cfg, struct gk_pci_bdf bdf, uint8_t at,
                          uint8_t cap_len, struct gk_virtio_pci_region *r)
{
    uint8_t bar = gk_pci_read8(cfg, bdf, (uint16_t)(at + GK_VIRTIO_PCI_CAP_OFF_BAR));
    uint32_t offset = gk_pci_read32(cfg, bdf, (uint16_t)(at + GK_VIRTIO_PCI_CAP_OFF_OFFSET));
    uint32_t length = gk_pci_read32(cfg, bdf, (uint16_t)(at + GK_VIRTIO_PCI_CAP_OFF_LENGTH));
    if (cap_len < GK_VIRTIO_PCI_CAP_LEN_MIN || at + cap_len > GK_PCI_CFG_BYTES || bar > 5 ||
        offset + length < offset)
        return false;
    *r = (struct gk_virtio_pci_region){bar, offset, length};
    return true;
}

int gk_virtio_pci_find_caps(const struct gk_pci_cfg *cfg, struct gk_pci_bdf bdf,
                            struct gk_virtio_pci_caps *caps)
{
    *caps = (struct gk_virtio_pci_caps){0};
    int at = 0;
    for (unsigned n = 0;; n++) {
        if (n > CAP_LIST_MAX)
            return HV_EINVAL; /* cannot happen with a checked list; bounded anyway */
        at = gk_pci_find_cap(cfg, bdf, GK_PCI_CAP_ID_VENDOR, (uint8_t)at);
        if (at == HV_ENOENT)
            break;
        if (at < 0)
            return at;
        uint8_t a = (uint8_t)at;
        uint8_t cap_len = gk_pci_read8(cfg, bdf, (uint16_t)(a + 2));
        uint8_t type = gk_pci_read8(cfg, bdf, (uint16_t)(a + GK_VIRTIO_PCI_CAP_OFF_CFG_TYPE));
        struct gk_virtio_pci_region r;
        uint8_t *has;
        struct gk_virtio_pci_region *dst;
        switch (type) {
        case GK_VIRTIO_PCI_CAP_COMMON_CFG: has = &caps->has_common, dst = &caps->common; break;
        case GK_VIRTIO_PCI_CAP_NOTIFY_CFG: has = &caps->has_notify, dst = &caps->notify; break;
        case GK_VIRTIO_PCI_CAP_ISR_CFG: has = &caps->has_isr, dst = &caps->isr; break;
        case GK_VIRTIO_PCI_CAP_DEVICE_CFG: has = &caps->has_device, dst = &caps->device; break;
        default: continue; /* PCI_CFG access window, or a type from a later spec */
        }
        if (*has)
            continue; /* the first of each type is the one to use */
        if (!virtio_region(cfg, bdf, a, cap_len, &r))
            return HV_EINVAL;
        if (type == GK_VIRTIO_PCI_CAP_NOTIFY_CFG) {
            if (cap_len < GK_VIRTIO_PCI_NOTIFY_CAP_LEN_MIN)
                return HV_EINVAL;
            caps->notify_off_multiplier =
                gk_pci_read32(cfg, bdf, (uint16_t)(a + GK_VIRTIO_PCI_CAP_OFF_NOTIFY_MULT));
        }
        *dst = r;
        *has = 1;
    }
    return caps->has_common && caps->has_notify ? HV_OK : HV_ENOENT;
}
