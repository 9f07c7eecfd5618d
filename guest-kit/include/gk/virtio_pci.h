/*
 * guest-kit virtio-PCI modern transport for gk/virtio_dev.h, in a domain
 * that holds a PCI capability (with CONFIG_WRITE and DMA) and the MMIO
 * capabilities covering the device's BARs: the virtio capabilities are
 * parsed through HC_PCI_OP, memory decoding and bus mastering are turned on,
 * the common, notify, ISR and device structures are mapped uncached, and
 * DMA pages are the domain's own frames (gk_pfn_alloc) mapped writable in a
 * window the caller chooses. Their device address is the machine address
 * mfn * 4096: with the IOMMU on, the hypervisor maps exactly the domain's
 * own frames (and grants it has mapped) at their machine addresses for the
 * devices it drives; without one the device sees all host-physical memory.
 *
 * Interrupts: gk_virtio_pci_use_interrupts asks for MSI-X vectors and binds
 * each to an event channel; a wait then blocks the VCPU (gk_block, with the
 * one-shot timer armed for the deadline) until the vector's port is
 * pending. gk_virtio_pci_use_intx does the same with the function's INTx
 * line (a PCI line may be shared: each wake-up reads the ISR structure,
 * which acknowledges the device, then EOIs the line's port; one that finds
 * the ISR clear was another device's). Without either the device is polled.
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
    uint16_t vector_count;                /* MSI-X vectors bound (0: polled) */
    uint32_t port[GK_VIRTIO_VECTORS_MAX]; /* the event channel of each */
    uint32_t intx_port;                   /* the INTx line's (0: not used) */
    uint64_t intx_spurious;               /* line events with the ISR clear */
    uint64_t timer_deadline;              /* last deadline armed by a wait */
    uint64_t waits, wakeups;              /* waits that blocked, and their wake-ups */
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

/*
 * Interrupt mode for p (after gk_virtio_pci_open, before the driver's
 * init): MSI-X vectors min(vectors, table size, GK_VIRTIO_VECTORS_MAX) set
 * up by the hypervisor (the PCI capability needs HV_CAP_R_PCI_IRQ), each
 * bound to a new port, and gk_virtio_dev_use_vectors. HV_OK; HV_ENOTSUP if
 * the function has no MSI-X; else the failing hypercall's status (the
 * vectors are disabled again and the device stays polled).
 */
int64_t gk_virtio_pci_use_interrupts(struct gk_virtio_pci *p, unsigned vectors);

/*
 * Line-interrupt mode for p (after gk_virtio_pci_open, before the driver's
 * init): binds I/O APIC line gsi (the function's INTx, which the platform's
 * routing decides: the caller knows it) through IRQ capability irq_slot to
 * a new port and turns on gk_virtio_dev_use_intx. HV_OK or the bind's status.
 */
int64_t gk_virtio_pci_use_intx(struct gk_virtio_pci *p, uint32_t irq_slot, uint32_t gsi);

/* The virtio device type of a PCI function (0x1040 + type, or a
 * transitional id with its subsystem id), 0 if it is not virtio. */
unsigned gk_virtio_pci_device_type(const struct gk_pci_cap_function *f);

#endif
