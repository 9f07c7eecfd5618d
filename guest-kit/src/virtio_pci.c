/*
 * guest-kit virtio-PCI modern transport (gk/virtio_pci.h): the real
 * gk_virtio_ops over mapped BARs and the domain's own frames.
 */
#include <string.h>

#include "gk/event.h"
#include "gk/mm.h"
#include "gk/time.h"
#include "gk/virtio_pci.h"

#define PAGE 4096ull
#define REGION_MAP_MAX 0x10000u

static uint32_t mmio_read(void *ctx, enum gk_virtio_region_kind r, uint32_t off, unsigned width)
{
    struct gk_virtio_pci *p = ctx;
    volatile uint8_t *a = p->base[r] + off;
    switch (width) {
    case 1: return *a;
    case 2: return *(volatile uint16_t *)(volatile void *)a;
    default: return *(volatile uint32_t *)(volatile void *)a;
    }
}

static void mmio_write(void *ctx, enum gk_virtio_region_kind r, uint32_t off, unsigned width,
                       uint32_t v)
{
    struct gk_virtio_pci *p = ctx;
    volatile uint8_t *a = p->base[r] + off;
    switch (width) {
    case 1: *a = (uint8_t)v; break;
    case 2: *(volatile uint16_t *)(volatile void *)a = (uint16_t)v; break;
    default: *(volatile uint32_t *)(volatile void *)a = v; break;
    }
}

/* A fresh frame of our own, mapped writable in the DMA window; the device
 * address is its machine address. */
static int dma_alloc(void *ctx, void **va, uint64_t *dev_addr)
{
    struct gk_virtio_pci *p = ctx;
    if (p->va_next >= p->va_end)
        return -1;
    uint64_t pfn = gk_pfn_alloc();
    if (pfn == HV_M2P_INVALID)
        return -1;
    uint64_t mfn = gk_p2m(pfn);
    if (mfn == HV_M2P_INVALID || gk_map_frame(p->va_next, mfn, GK_PTE_RWDATA) != HV_OK) {
        gk_pfn_free(pfn);
        return -1;
    }
    *va = (void *)(uintptr_t)p->va_next;
    memset(*va, 0, PAGE);
    *dev_addr = mfn * PAGE;
    p->va_next += PAGE;
    p->dma_pages++;
    return 0;
}

static uint64_t now_ns(void *ctx)
{
    (void)ctx;
    return gk_now_ns();
}

/*
 * Sleeps until the vector's port is pending (test-and-clear with upcalls
 * masked, then HC_BLOCK: no wake-up is lost, gk/event.h) or the deadline
 * passes; the one-shot timer is armed for the deadline once per deadline.
 */
static int irq_wait(void *ctx, uint16_t vector, uint64_t deadline_ns)
{
    struct gk_virtio_pci *p = ctx;
    bool intx = vector == GK_VIRTIO_INTX && p->intx_port != 0;
    if (vector >= p->vector_count && !intx)
        return GK_VIRTIO_ETIMEDOUT;
    uint32_t port = intx ? p->intx_port : p->port[vector];
    int rc = GK_VIRTIO_OK;
    bool was = gk_events_disable();
    if (!gk_evtchn_test_and_clear(port)) {
        p->waits++;
        do {
            if (gk_now_ns() >= deadline_ns) {
                rc = GK_VIRTIO_ETIMEDOUT;
                break;
            }
            if (p->timer_deadline != deadline_ns && gk_timer_arm(deadline_ns) == HV_OK)
                p->timer_deadline = deadline_ns;
            gk_block();
            gk_events_disable();
            p->wakeups++;
        } while (!gk_evtchn_test_and_clear(port));
    }
    if (intx && rc == GK_VIRTIO_OK) {
        /* Acknowledge (reading the ISR clears it and lowers the line),
         * then let the line fire again. */
        if (p->base[GK_VIRTIO_REGION_ISR] == NULL || *p->base[GK_VIRTIO_REGION_ISR] == 0)
            p->intx_spurious++;
        (void)gk_evtchn_eoi(port);
    }
    gk_events_restore(was);
    return rc;
}

static const struct gk_virtio_ops pci_ops = {mmio_read, mmio_write, dma_alloc, now_ns, irq_wait};

int64_t gk_virtio_pci_use_intx(struct gk_virtio_pci *p, uint32_t irq_slot, uint32_t gsi)
{
    uint32_t port;
    int64_t rc = gk_evtchn_bind_pirq(irq_slot, gsi, &port);
    if (rc != HV_OK)
        return rc;
    p->intx_port = port;
    return gk_virtio_dev_use_intx(&p->dev, true) == GK_VIRTIO_OK ? HV_OK : HV_EINVAL;
}

unsigned gk_virtio_pci_device_type(const struct gk_pci_cap_function *f)
{
    if (f->dev.vendor_id != GK_VIRTIO_PCI_VENDOR)
        return 0;
    uint16_t id = f->dev.device_id;
    if (id >= GK_VIRTIO_PCI_DEVICE_MODERN_BASE && id < GK_VIRTIO_PCI_DEVICE_MODERN_BASE + 0x40u)
        return id - GK_VIRTIO_PCI_DEVICE_MODERN_BASE;
    if (id >= GK_VIRTIO_PCI_DEVICE_TRANSITIONAL_FIRST &&
        id <= GK_VIRTIO_PCI_DEVICE_TRANSITIONAL_LAST)
        return f->dev.subsystem_id; /* 0 when unknown (not in HV_PCI_INFO) */
    return 0;
}

int64_t gk_virtio_pci_open(struct gk_virtio_pci *p, const struct gk_pci_cap_function *f,
                           uint64_t va, uint64_t va_bytes)
{
    if (va % PAGE != 0 || va_bytes % PAGE != 0 || va + va_bytes < va)
        return HV_EINVAL;
    memset(p, 0, sizeof(*p));
    p->fn = *f;
    int64_t rc = gk_pci_cap_cfg_init(f->pci_slot, &p->backend, &p->cfg);
    if (rc != HV_OK)
        return rc;
    rc = gk_virtio_pci_find_caps(&p->cfg, f->dev.bdf, &p->caps);
    if (rc != HV_OK)
        return rc;
    if (p->backend.last_error != HV_OK)
        return p->backend.last_error;
    uint16_t cmd = gk_pci_read16(&p->cfg, f->dev.bdf, GK_PCI_OFF_COMMAND);
    gk_pci_write_command(&p->cfg, f->dev.bdf,
                         (uint16_t)(cmd | GK_PCI_COMMAND_MEMORY | GK_PCI_COMMAND_BUS_MASTER));
    if (p->backend.last_error != HV_OK)
        return p->backend.last_error; /* e.g. HV_EPERM: no DMA right */

    const struct gk_virtio_pci_region *regions[GK_VIRTIO_REGION_COUNT] = {
        &p->caps.common, &p->caps.notify, &p->caps.isr, &p->caps.device};
    const uint8_t has[GK_VIRTIO_REGION_COUNT] = {p->caps.has_common, p->caps.has_notify,
                                                 p->caps.has_isr, p->caps.has_device};
    uint64_t at = va;
    for (unsigned r = 0; r < GK_VIRTIO_REGION_COUNT; r++) {
        if (!has[r] || regions[r]->length == 0)
            continue;
        uint32_t len = regions[r]->length < REGION_MAP_MAX ? regions[r]->length : REGION_MAP_MAX;
        uint64_t need = ((regions[r]->offset % PAGE) + len + PAGE - 1) / PAGE * PAGE;
        if (at + need > va + va_bytes)
            return HV_ENOMEM;
        rc = gk_pci_map_bar(f, regions[r]->bar, regions[r]->offset, len, at, true, &p->map[r]);
        if (rc != HV_OK)
            return rc; /* regions mapped before stay mapped: unfinished cleanup */
        p->base[r] = p->map[r].ptr;
        p->length[r] = len;
        at += need;
    }
    p->va_next = at;
    p->va_end = va + va_bytes;
    if (gk_virtio_dev_init(&p->dev, &pci_ops, p, p->length, p->caps.notify_off_multiplier) !=
        GK_VIRTIO_OK)
        return HV_EINVAL; /* the common structure is too short */
    return HV_OK;
}

int64_t gk_virtio_pci_use_interrupts(struct gk_virtio_pci *p, unsigned vectors)
{
    if (p->fn.msix_count == 0)
        return HV_ENOTSUP;
    unsigned n = vectors;
    if (n > p->fn.msix_count)
        n = p->fn.msix_count;
    if (n > GK_VIRTIO_VECTORS_MAX)
        n = GK_VIRTIO_VECTORS_MAX;
    if (n == 0)
        return HV_EINVAL;
    int64_t rc = gk_pci_msi_enable(p->fn.pci_slot, HV_PCI_MSIX, n);
    if (rc != HV_OK)
        return rc;
    for (unsigned i = 0; i < n; i++) {
        rc = gk_evtchn_bind_msi(p->fn.pci_slot, i, &p->port[i]);
        if (rc != HV_OK) {
            (void)gk_pci_msi_disable(p->fn.pci_slot); /* closes the ports bound so far */
            return rc;
        }
    }
    p->vector_count = (uint16_t)n;
    return gk_virtio_dev_use_vectors(&p->dev, (uint16_t)n) == GK_VIRTIO_OK ? HV_OK : HV_EINVAL;
}
