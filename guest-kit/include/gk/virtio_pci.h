/*
 * guest-kit virtio-PCI modern transport for gk/virtio_dev.h, in a domain
 * that holds a PCI capability (with CONFIG_WRITE and DMA) and the MMIO
 * capabilities covering the device's BARs: the virtio capabilities are
 * parsed through HC_PCI_OP, memory decoding and bus mastering are turned on,
 * the common, notify, ISR and device structures are mapped uncached, and
 * DMA pages are the domain's own frames (gk_pfn_alloc) mapped writable in a
 * window the caller chooses. Their device address is the machine address
 * mfn * 4096: there is no IOMMU, the device sees host-physical memory.
 *
 * The domain must have called gk_mm_init. DMA pages are never freed
 * (unfinished: a device is set up once per domain life).
 */
#ifndef GK_VIRTIO_PCI_H
#define GK_VIRTIO_PCI_H

#include <stdint.h>

#include "gk/pci.h"
#include "gk/virtio_dev.h"

struct gk_virtio_pci {
    struct gk_pci_cap_function fn;
    struct gk_pci_cap_backend backend;
    struct gk_pci_cfg cfg;
    struct gk_virtio_pci_caps caps;
    struct gk_pci_mapping map[GK_VIRTIO_REGION_COUNT];
    volatile uint8_t *base[GK_VIRTIO_REGION_COUNT];
    uint32_t length[GK_VIRTIO_REGION_COUNT];
    uint64_t va_next, va_end; /* the DMA window */
    uint64_t dma_pages;
    struct gk_virtio_dev dev;
};

/*
 * Opens the virtio function f: uses [va, va + va_bytes) (page-aligned) for
 * the register mappings (at most 4 x 64 KiB of each structure) and then
 * the DMA pages, and fills p->dev with gk_virtio_dev_init. HV_OK; the
 * status of the failing step (HV_ENOENT: not a modern virtio device; a
 * structure longer than 64 KiB is mapped up to 64 KiB).
 */
int64_t gk_virtio_pci_open(struct gk_virtio_pci *p, const struct gk_pci_cap_function *f,
                           uint64_t va, uint64_t va_bytes);

/* The virtio device type of a PCI function (0x1040 + type, or a
 * transitional id with its subsystem id), 0 if it is not virtio. */
unsigned gk_virtio_pci_device_type(const struct gk_pci_cap_function *f);

#endif
