/*
 * guest-kit: PCI functions reached through capabilities (gk/pci.h, "PCI
 * functions reached through capabilities"). A PCI capability becomes a
 * gk_pci_cfg over HC_PCI_OP; the capability table is walked with
 * HV_CAP_IDENTIFY to list the functions the domain was given; memory BARs
 * are mapped through the MMIO capabilities that cover them.
 *
 * The hypervisor's descriptions are checked before use (a BAR that wraps, a
 * 64-bit BAR without its upper half, an MMIO slot that does not cover the
 * BAR): a confused or malicious description gives an error, not a mapping of
 * the wrong frames. Host tests replace gk/hypercall.h, gk_cap_identify and
 * gk_map_frame/gk_unmap with fakes (test/unit/guestkit/test_pci_cap.c).
 */
#include "gk/cap.h"
#include "gk/hypercall.h"
#include "gk/mm.h"
#include "gk/pci.h"
#include "hv/abi.h"

#define PAGE_BYTES 4096ull
#define PTE_IO (GK_PTE_PCD | GK_PTE_PWT | GK_PTE_NX)

int64_t gk_pci_cap_config_read(uint32_t slot, uint16_t offset, uint8_t size, uint32_t *value)
{
    struct hv_pci_config_args a = {.slot = slot, .offset = offset, .size = size};
    int64_t rc = gk_hc_pci_op(HV_PCI_CONFIG_READ, &a);
    if (rc == HV_OK)
        *value = a.value;
    return rc;
}

int64_t gk_pci_cap_config_write(uint32_t slot, uint16_t offset, uint8_t size, uint32_t value)
{
    struct hv_pci_config_args a = {.slot = slot, .offset = offset, .size = size, .value = value};
    return gk_hc_pci_op(HV_PCI_CONFIG_WRITE, &a);
}

static bool same_bdf(struct gk_pci_bdf a, struct gk_pci_bdf b)
{
    return a.bus == b.bus && a.dev == b.dev && a.fn == b.fn;
}

static void note_error(struct gk_pci_cap_backend *b, int64_t rc)
{
    if (rc != HV_OK && b->last_error == HV_OK)
        b->last_error = rc;
}

static uint32_t cap_read32(void *ctx, struct gk_pci_bdf bdf, uint16_t offset)
{
    struct gk_pci_cap_backend *b = ctx;
    uint32_t v = 0;
    if (!same_bdf(bdf, b->bdf))
        return 0xffffffffu;
    int64_t rc = gk_pci_cap_config_read(b->slot, offset, 4, &v);
    note_error(b, rc);
    return rc == HV_OK ? v : 0xffffffffu;
}

static void cap_write32(void *ctx, struct gk_pci_bdf bdf, uint16_t offset, uint32_t value)
{
    struct gk_pci_cap_backend *b = ctx;
    if (!same_bdf(bdf, b->bdf))
        return;
    note_error(b, gk_pci_cap_config_write(b->slot, offset, 4, value));
}

/* HV_PCI_INFO of slot, with the function's address checked. */
static int64_t pci_info(uint32_t slot, struct hv_pci_info_args *in)
{
    *in = (struct hv_pci_info_args){.slot = slot};
    int64_t rc = gk_hc_pci_op(HV_PCI_INFO, in);
    if (rc != HV_OK)
        return rc;
    if (in->dev >= 32 || in->fn >= 8)
        return HV_EINVAL;
    return HV_OK;
}

int64_t gk_pci_cap_cfg_init(uint32_t slot, struct gk_pci_cap_backend *backend,
                            struct gk_pci_cfg *cfg)
{
    struct hv_pci_info_args in;
    int64_t rc = pci_info(slot, &in);
    if (rc != HV_OK)
        return rc;
    *backend = (struct gk_pci_cap_backend){
        .slot = slot, .bdf = {in.bus, in.dev, in.fn}, .last_error = HV_OK};
    *cfg = (struct gk_pci_cfg){.read32 = cap_read32, .write32 = cap_write32, .ctx = backend};
    return HV_OK;
}

/* Whether the MMIO capability described by ci covers frames first..last. */
static bool covers(const struct hv_cap_info *ci, uint64_t first, uint64_t last)
{
    return ci->type == HV_CAP_MMIO && ci->base <= first && last - ci->base < ci->count;
}

/* The slot of an MMIO capability covering the frames of [base, base+size):
 * hint if it does, else the covering capability with the fewest frames
 * (so a BAR's own capability wins over a wide window like the root's slot
 * 5), else HV_PCI_NO_SLOT. */
static uint32_t find_mmio(uint32_t hint, uint64_t base, uint64_t size, uint32_t *rights)
{
    uint64_t first = base / PAGE_BYTES, last = (base + size - 1) / PAGE_BYTES;
    struct hv_cap_info ci;
    if (hint < HV_CAP_SLOTS && gk_cap_identify(hint, &ci) == HV_OK && covers(&ci, first, last)) {
        *rights = ci.rights;
        return hint;
    }
    uint32_t best = HV_PCI_NO_SLOT;
    uint64_t best_count = 0;
    for (uint32_t s = 0; s < HV_CAP_SLOTS; s++) {
        if (gk_cap_identify(s, &ci) != HV_OK || !covers(&ci, first, last))
            continue;
        if (best == HV_PCI_NO_SLOT || ci.count < best_count) {
            best = s;
            best_count = ci.count;
            *rights = ci.rights;
        }
    }
    return best;
}

static uint32_t expected_bar_count(uint8_t header_type)
{
    return header_type == 0 ? 6u : header_type == 1 ? 2u : 0u;
}

/* Checks BAR b of in against the rules of gk_pci_cap_describe. */
static bool bar_ok(const struct hv_pci_info_args *in, uint32_t b)
{
    const struct hv_pci_bar *bar = &in->bars[b];
    switch (bar->kind) {
    case HV_PCI_BAR_NONE: return bar->size == 0;
    case HV_PCI_BAR_MEM64_HIGH: return b > 0 && in->bars[b - 1].kind == HV_PCI_BAR_MEM64;
    case HV_PCI_BAR_IO:
        return bar->size != 0 && bar->base < 0x10000u && bar->size <= 0x10000u - bar->base;
    case HV_PCI_BAR_MEM32:
    case HV_PCI_BAR_MEM64:
        if (bar->size == 0 || bar->base + bar->size < bar->base)
            return false;
        if (bar->kind == HV_PCI_BAR_MEM32)
            return bar->base + bar->size <= (1ull << 32);
        return b + 1 < in->bar_count && in->bars[b + 1].kind == HV_PCI_BAR_MEM64_HIGH;
    default: return false;
    }
}

int64_t gk_pci_cap_describe(uint32_t slot, struct gk_pci_cap_function *f)
{
    struct hv_pci_info_args in;
    int64_t rc = pci_info(slot, &in);
    if (rc != HV_OK)
        return rc;
    struct hv_cap_info ci;
    rc = gk_cap_identify(slot, &ci);
    if (rc != HV_OK)
        return rc;
    if (ci.type != HV_CAP_PCI || in.bar_count != expected_bar_count(in.header_type))
        return HV_EINVAL;
    for (uint32_t b = 0; b < in.bar_count; b++)
        if (!bar_ok(&in, b))
            return HV_EINVAL;

    *f = (struct gk_pci_cap_function){
        .pci_slot = slot,
        .pci_rights = ci.rights,
        .dev = {.bdf = {in.bus, in.dev, in.fn},
                .vendor_id = in.vendor,
                .device_id = in.device,
                .class_code = (uint8_t)(in.class_rev >> 24),
                .subclass = (uint8_t)(in.class_rev >> 16),
                .prog_if = (uint8_t)(in.class_rev >> 8),
                .revision = (uint8_t)in.class_rev,
                .header_type = in.header_type,
                .irq_line = in.irq_line,
                .irq_pin = in.irq_pin},
        .bar_count = in.bar_count,
        .msix_count = in.msix_count,
        .msi_count = in.msi_count,
    };
    for (uint32_t b = 0; b < in.bar_count; b++) {
        const struct hv_pci_bar *bar = &in.bars[b];
        struct gk_pci_cap_bar *o = &f->bars[b];
        *o = (struct gk_pci_cap_bar){.base = bar->base,
                                     .size_bytes = bar->size,
                                     .kind = bar->kind,
                                     .prefetchable = (bar->flags & HV_PCI_BAR_F_PREFETCH) != 0,
                                     .mmio_slot = HV_PCI_NO_SLOT};
        if (bar->kind == HV_PCI_BAR_MEM32 || bar->kind == HV_PCI_BAR_MEM64)
            o->mmio_slot = find_mmio(bar->mmio_slot, bar->base, bar->size, &o->mmio_rights);
    }
    return HV_OK;
}

size_t gk_pci_enumerate_caps(uint32_t slot_first, struct gk_pci_cap_function *out, size_t max_count)
{
    size_t found = 0;
    for (uint32_t s = slot_first; s < HV_CAP_SLOTS; s++) {
        struct hv_cap_info ci;
        if (gk_cap_identify(s, &ci) != HV_OK || ci.type != HV_CAP_PCI)
            continue;
        struct gk_pci_cap_function f;
        if (gk_pci_cap_describe(s, &f) != HV_OK)
            continue;
        if (found < max_count)
            out[found] = f;
        found++;
    }
    return found;
}

const struct gk_pci_cap_function *gk_pci_cap_find(const struct gk_pci_cap_function *list,
                                                  size_t count, uint16_t vendor, uint16_t device)
{
    for (size_t i = 0; i < count; i++)
        if (list[i].dev.vendor_id == vendor &&
            (device == 0xffffu || list[i].dev.device_id == device))
            return &list[i];
    return NULL;
}

int64_t gk_pci_map_bar(const struct gk_pci_cap_function *f, unsigned bar, uint64_t offset,
                       uint64_t length, uint64_t va, bool writable, struct gk_pci_mapping *m)
{
    if (bar >= f->bar_count || bar >= 6 || length == 0 || va % PAGE_BYTES != 0)
        return HV_EINVAL;
    const struct gk_pci_cap_bar *b = &f->bars[bar];
    if (b->kind != HV_PCI_BAR_MEM32 && b->kind != HV_PCI_BAR_MEM64)
        return HV_EINVAL;
    if (offset >= b->size_bytes || length > b->size_bytes - offset ||
        b->base + b->size_bytes < b->base)
        return HV_ERANGE;
    if (b->mmio_slot == HV_PCI_NO_SLOT)
        return HV_ERANGE;
    if (writable && !(b->mmio_rights & HV_CAP_R_MMIO_WRITE))
        return HV_EPERM;
    uint64_t addr = b->base + offset;
    uint64_t first = addr & ~(PAGE_BYTES - 1);
    uint64_t pages = (addr + length - first + PAGE_BYTES - 1) / PAGE_BYTES;
    if (va + pages * PAGE_BYTES < va)
        return HV_ERANGE;
    uint64_t flags = (writable ? GK_PTE_RWDATA : GK_PTE_RO) | PTE_IO;
    for (uint64_t i = 0; i < pages; i++) {
        int64_t rc = gk_map_frame(va + i * PAGE_BYTES, first / PAGE_BYTES + i, flags);
        if (rc != HV_OK) {
            while (i-- > 0)
                gk_unmap(va + i * PAGE_BYTES);
            return rc;
        }
    }
    *m = (struct gk_pci_mapping){
        .ptr = (volatile void *)(uintptr_t)(va + (addr - first)), .va = va, .page_count = pages};
    return HV_OK;
}

int64_t gk_pci_unmap_bar(struct gk_pci_mapping *m)
{
    int64_t first_error = HV_OK;
    for (uint64_t i = 0; i < m->page_count; i++) {
        int64_t rc = gk_unmap(m->va + i * PAGE_BYTES);
        if (rc != HV_OK && first_error == HV_OK)
            first_error = rc;
    }
    *m = (struct gk_pci_mapping){0};
    return first_error;
}

int64_t gk_pci_msi_enable(uint32_t slot, uint32_t kind, uint32_t count)
{
    struct hv_pci_msi_args a = {.slot = slot, .kind = kind, .count = count};
    return gk_hc_pci_op(HV_PCI_MSI_ENABLE, &a);
}

int64_t gk_pci_msi_disable(uint32_t slot)
{
    struct hv_pci_msi_args a = {.slot = slot};
    return gk_hc_pci_op(HV_PCI_MSI_DISABLE, &a);
}
