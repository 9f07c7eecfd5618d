/* Devices given to domains (see devices.h). */
#include <stdio.h>
#include <string.h>

#include "devices.h"
#include "gk/cap.h"
#include "gk/hypercall.h"
#include "gk/pci.h"
#include "gk/virtio.h"
#include "gk/virtio_pci.h"

/* Where the control domain maps a virtio function's common configuration
 * to reset it (devices_reset); nothing else of it lives there. */
#define RESET_VA 0x380000000ull
#define RESET_POLLS 1000000u

static struct gk_pci_cap_function funcs[DEV_FUNCS_MAX];
static uint32_t func_count;
static const struct dom *holder[DEV_FUNCS_MAX];
static uint8_t holder_rights[DEV_FUNCS_MAX];

void devices_init(void)
{
    size_t n = gk_pci_enumerate_caps(HV_ROOT_SLOT_DEVICE_FIRST, funcs, DEV_FUNCS_MAX);
    func_count = (uint32_t)(n > DEV_FUNCS_MAX ? DEV_FUNCS_MAX : n);
}

static uint16_t bdf_of(const struct gk_pci_cap_function *f)
{
    return (uint16_t)(f->dev.bdf.bus << 8 | f->dev.bdf.dev << 3 | f->dev.bdf.fn);
}

/* The function a manifest entry names, or -1. */
static int resolve(const struct proto_pci_assign *a)
{
    uint64_t seen = 0;
    for (uint32_t i = 0; i < func_count; i++) {
        const struct gk_pci_cap_function *f = &funcs[i];
        if (a->has_bdf) {
            if (bdf_of(f) == a->bdf)
                return (int)i;
        } else if (a->has_vendor && a->has_device && f->dev.vendor_id == a->vendor &&
                   f->dev.device_id == a->device) {
            if (seen++ == (a->has_index ? a->index : 0))
                return (int)i;
        }
    }
    return -1;
}

static void describe(char *out, size_t cap, const struct proto_pci_assign *a)
{
    if (a->has_bdf)
        snprintf(out, cap, "%02x:%02x.%x", (unsigned)(a->bdf >> 8), (unsigned)(a->bdf >> 3) & 31,
                 (unsigned)a->bdf & 7);
    else
        snprintf(out, cap, "%04x:%04x #%u", (unsigned)a->vendor, (unsigned)a->device,
                 (unsigned)(a->has_index ? a->index : 0));
}

const char *devices_check(const struct proto_domain_config *cfg, const struct dom *self,
                          char *detail, size_t detail_cap, enum proto_error_code *code)
{
    if (!cfg->has_pci)
        return NULL;
    for (uint32_t k = 0; k < cfg->pci.count; k++) {
        char what[32];
        describe(what, sizeof what, &cfg->pci.items[k]);
        int i = resolve(&cfg->pci.items[k]);
        if (i < 0) {
            *code = PROTO_ERROR_CODE_NOT_FOUND;
            snprintf(detail, detail_cap, "pci[%u]: no PCI function %s", k, what);
            return detail;
        }
        if (holder[i] && holder[i] != self) {
            *code = PROTO_ERROR_CODE_CONFLICT;
            snprintf(detail, detail_cap, "pci[%u]: %s is given to %s", k, what, holder[i]->name);
            return detail;
        }
        for (uint32_t j = 0; j < k; j++)
            if (resolve(&cfg->pci.items[j]) == i) {
                *code = PROTO_ERROR_CODE_INVALID;
                snprintf(detail, detail_cap, "pci[%u] and pci[%u] are the same function", j, k);
                return detail;
            }
    }
    return NULL;
}

/* Revokes every copy of function i's capabilities. */
static void take_back(uint32_t i)
{
    const struct gk_pci_cap_function *f = &funcs[i];
    gk_cap_revoke(f->pci_slot);
    for (uint32_t b = 0; b < f->bar_count; b++)
        if (f->bars[b].mmio_slot != HV_PCI_NO_SLOT)
            gk_cap_revoke(f->bars[b].mmio_slot);
    holder[i] = NULL;
    holder_rights[i] = 0;
}

void devices_release(const struct dom *d)
{
    for (uint32_t i = 0; i < func_count; i++)
        if (holder[i] == d)
            take_back(i);
}

void devices_keep(const struct dom *d)
{
    for (uint32_t i = 0; i < func_count; i++)
        if (holder[i] == d) {
            uint8_t rights = holder_rights[i];
            take_back(i);
            holder[i] = d; /* kept for its next incarnation */
            holder_rights[i] = rights;
        }
}

/* Writes 0 to a virtio function's device status and waits until it reads
 * 0 (virtio 1.x, 2.4 and 4.1.4.3): the device drops its queues and stops
 * using the memory they named. NULL, or why not. */
static const char *virtio_reset(const struct gk_pci_cap_function *f)
{
    struct gk_pci_cap_backend be;
    struct gk_pci_cfg cfg;
    struct gk_virtio_pci_caps caps;
    struct gk_pci_mapping m;
    if (gk_pci_cap_cfg_init(f->pci_slot, &be, &cfg) != HV_OK ||
        gk_virtio_pci_find_caps(&cfg, f->dev.bdf, &caps) != HV_OK || !caps.has_common)
        return "no virtio common configuration";
    if (caps.common.length < sizeof(struct gk_virtio_pci_common_cfg) ||
        gk_pci_map_bar(f, caps.common.bar, caps.common.offset, caps.common.length, RESET_VA, true,
                       &m) != HV_OK)
        return "its common configuration cannot be mapped";
    volatile uint8_t *status =
        (volatile uint8_t *)m.ptr + offsetof(struct gk_virtio_pci_common_cfg, device_status);
    *status = 0;
    bool done = false;
    for (uint32_t i = 0; i < RESET_POLLS && !done; i++) {
        done = *status == 0;
        __asm__ volatile("pause");
    }
    gk_pci_unmap_bar(&m);
    return done ? NULL : "the reset did not finish";
}

bool devices_reset(const struct dom *d, char *detail, size_t detail_cap)
{
    size_t n = 0;
    bool ok = true;
    detail[0] = 0;
    for (uint32_t i = 0; i < func_count; i++) {
        if (holder[i] != d)
            continue;
        const struct gk_pci_cap_function *f = &funcs[i];
        uint32_t cmd = 0;
        bool master = gk_pci_cap_config_read(f->pci_slot, 4, 2, &cmd) != HV_OK ||
                      (cmd & GK_PCI_COMMAND_BUS_MASTER) != 0;
        const char *why = master                                     ? "bus mastering is still on"
                          : f->dev.vendor_id == GK_VIRTIO_PCI_VENDOR ? virtio_reset(f)
                                                                     : NULL;
        ok = ok && why == NULL;
        if (n < detail_cap)
            n += (size_t)snprintf(detail + n, detail_cap - n, "%s%02x:%02x.%x %s%s", n ? ", " : "",
                                  f->dev.bdf.bus, f->dev.bdf.dev, f->dev.bdf.fn,
                                  why ? "NOT reset: " : "bus mastering off (DMA detached), ",
                                  why ? why
                                  : f->dev.vendor_id == GK_VIRTIO_PCI_VENDOR
                                      ? "virtio reset"
                                      : "no reset for a non-virtio function");
    }
    return ok;
}

const char *devices_give(struct dom *d, char *detail, size_t detail_cap)
{
    enum proto_error_code code;
    if (devices_check(&d->cfg, d, detail, detail_cap, &code))
        return detail;
    for (uint32_t k = 0; d->cfg.has_pci && k < d->cfg.pci.count; k++) {
        const struct proto_pci_assign *a = &d->cfg.pci.items[k];
        uint32_t i = (uint32_t)resolve(a);
        const struct gk_pci_cap_function *f = &funcs[i];
        uint32_t rights = 0;
        if (a->rights & 1)
            rights |= HV_CAP_R_PCI_CONFIG_READ | HV_CAP_R_PCI_CONFIG_WRITE;
        if (a->rights & 4)
            rights |= HV_CAP_R_PCI_IRQ;
        if (a->rights & 8)
            rights |= HV_CAP_R_PCI_DMA;
        uint32_t slot = DEV_SLOT_FIRST + 8 * k;
        int64_t rc = gk_cap_copy(f->pci_slot, d->built.dom_slot, slot, rights, 0, 0);
        for (uint32_t b = 0; rc == HV_OK && (a->rights & 2) && b < f->bar_count; b++) {
            const struct gk_pci_cap_bar *bar = &f->bars[b];
            if (bar->mmio_slot == HV_PCI_NO_SLOT)
                continue;
            uint64_t first = bar->base / 4096,
                     count = (bar->base + bar->size_bytes + 4095) / 4096 - first;
            rc = gk_cap_copy(bar->mmio_slot, d->built.dom_slot, slot + 1 + b, HV_CAP_R_MMIO_ALL,
                             first, count);
        }
        holder[i] = d;
        holder_rights[i] = (uint8_t)a->rights;
        if (rc != HV_OK) {
            char what[32];
            describe(what, sizeof what, a);
            snprintf(detail, detail_cap, "pci[%u]: copying the capabilities of %s failed (%lld)", k,
                     what, (long long)rc);
            devices_release(d);
            return detail;
        }
    }
    return NULL;
}

void devices_list(struct proto_device_list_reply *r)
{
    static struct hv_host_info hi; /* 1 KiB: not on the stack */
    memset(&hi, 0, sizeof hi);
    hi.slot = HV_ROOT_SLOT_MEMORY;
    if (gk_hc_domain_op(HV_DOMCTL_HOST_INFO, &hi) == HV_OK) {
        static const char *const names[] = {"none", "vt-d", "off-unsafe"};
        const char *n = hi.iommu < 3 ? names[hi.iommu] : "unknown";
        r->has_iommu = true;
        r->iommu = (struct hvcbor_str){(const uint8_t *)n, (uint32_t)strlen(n)};
    }
    r->functions.count = 0;
    for (uint32_t i = 0; i < func_count && i < 64; i++) {
        const struct gk_pci_cap_function *f = &funcs[i];
        struct proto_pci_function *o = &r->functions.items[r->functions.count++];
        memset(o, 0, sizeof *o);
        o->bdf = bdf_of(f);
        o->vendor = f->dev.vendor_id;
        o->device = f->dev.device_id;
        o->class =
            (uint64_t)f->dev.class_code << 16 | (uint64_t)f->dev.subclass << 8 | f->dev.prog_if;
        if (holder[i]) {
            o->has_holder = true;
            o->holder = (struct hvcbor_str){(const uint8_t *)holder[i]->name,
                                            (uint32_t)strlen(holder[i]->name)};
            o->has_rights = true;
            o->rights = holder_rights[i];
            o->has_dma_faults = true;
            o->dma_faults = holder[i]->dma_faults;
        }
    }
}
