/*
 * guest-kit virtio: constants of the virtio 1.x specification that a driver
 * domain needs, for the PCI transport guest-kit uses: **virtio-PCI modern**
 * (virtio 1.0+, VIRTIO_F_VERSION_1). docs/guest-kit.md explains the choice;
 * in short, modern lets each part of a virtqueue (descriptor table, avail
 * ring, used ring) sit in its own page at its own 64-bit address, so a PV
 * domain whose frames are not machine-contiguous can build queues from
 * single frames, and its registers are in memory BARs (mapped MMIO frames,
 * no port I/O per access).
 *
 * The split virtqueue itself is in gk/virtqueue.h; PCI enumeration and the
 * virtio vendor-capability parser in gk/pci.h; device bring-up in
 * gk/virtio_dev.h over the transport of gk/virtio_pci.h; the drivers in
 * gk/virtio_blk.h, gk/virtio_net.h and gk/virtio_console.h.
 */
#ifndef GK_VIRTIO_H
#define GK_VIRTIO_H

#include <stddef.h>
#include <stdint.h>

/* PCI identity (virtio 1.2, 4.1.2). */
#define GK_VIRTIO_PCI_VENDOR 0x1af4u
#define GK_VIRTIO_PCI_DEVICE_MODERN_BASE 0x1040u /* 0x1040 + device type */
#define GK_VIRTIO_PCI_DEVICE_TRANSITIONAL_FIRST 0x1000u
#define GK_VIRTIO_PCI_DEVICE_TRANSITIONAL_LAST 0x103fu

/* Device types (virtio 1.2, 5). */
enum gk_virtio_device_type {
    GK_VIRTIO_ID_NET = 1,
    GK_VIRTIO_ID_BLOCK = 2,
    GK_VIRTIO_ID_CONSOLE = 3,
    GK_VIRTIO_ID_RNG = 4,
};

/* Device status bits (virtio 1.2, 2.1). */
#define GK_VIRTIO_STATUS_ACKNOWLEDGE 1u
#define GK_VIRTIO_STATUS_DRIVER 2u
#define GK_VIRTIO_STATUS_DRIVER_OK 4u
#define GK_VIRTIO_STATUS_FEATURES_OK 8u
#define GK_VIRTIO_STATUS_NEEDS_RESET 64u
#define GK_VIRTIO_STATUS_FAILED 128u

/* Feature bits independent of the device type (virtio 1.2, 6). */
#define GK_VIRTIO_F_INDIRECT_DESC 28u /* not used by guest-kit's virtqueue */
#define GK_VIRTIO_F_EVENT_IDX 29u
#define GK_VIRTIO_F_VERSION_1 32u
#define GK_VIRTIO_F_ACCESS_PLATFORM 33u
#define GK_VIRTIO_F_RING_PACKED 34u /* not supported: split rings only */

/* virtio-PCI vendor capability types (cfg_type, virtio 1.2, 4.1.4). */
enum gk_virtio_pci_cap_type {
    GK_VIRTIO_PCI_CAP_COMMON_CFG = 1,
    GK_VIRTIO_PCI_CAP_NOTIFY_CFG = 2,
    GK_VIRTIO_PCI_CAP_ISR_CFG = 3,
    GK_VIRTIO_PCI_CAP_DEVICE_CFG = 4,
    GK_VIRTIO_PCI_CAP_PCI_CFG = 5,
};

/* Layout of the vendor capability in config space (PCI cap id 0x09). */
#define GK_VIRTIO_PCI_CAP_OFF_CFG_TYPE 3u
#define GK_VIRTIO_PCI_CAP_OFF_BAR 4u
#define GK_VIRTIO_PCI_CAP_OFF_OFFSET 8u
#define GK_VIRTIO_PCI_CAP_OFF_LENGTH 12u
#define GK_VIRTIO_PCI_CAP_OFF_NOTIFY_MULT 16u /* notify cap only */
#define GK_VIRTIO_PCI_CAP_LEN_MIN 16u
#define GK_VIRTIO_PCI_NOTIFY_CAP_LEN_MIN 20u

/* The common configuration structure, in the BAR named by the COMMON_CFG
 * capability (virtio 1.2, 4.1.4.3). Accessed with volatile loads/stores of
 * each field's width, never as a whole. */
struct gk_virtio_pci_common_cfg {
    uint32_t device_feature_select;
    uint32_t device_feature;
    uint32_t driver_feature_select;
    uint32_t driver_feature;
    uint16_t config_msix_vector;
    uint16_t num_queues;
    uint8_t device_status;
    uint8_t config_generation;
    uint16_t queue_select;
    uint16_t queue_size;
    uint16_t queue_msix_vector;
    uint16_t queue_enable;
    uint16_t queue_notify_off;
    uint64_t queue_desc;
    uint64_t queue_driver; /* the avail ring */
    uint64_t queue_device; /* the used ring */
};
_Static_assert(offsetof(struct gk_virtio_pci_common_cfg, device_status) == 20, "virtio 4.1.4.3");
_Static_assert(offsetof(struct gk_virtio_pci_common_cfg, queue_select) == 22, "virtio 4.1.4.3");
_Static_assert(offsetof(struct gk_virtio_pci_common_cfg, queue_notify_off) == 30, "virtio 4.1.4.3");
_Static_assert(offsetof(struct gk_virtio_pci_common_cfg, queue_desc) == 32, "virtio 4.1.4.3");
_Static_assert(offsetof(struct gk_virtio_pci_common_cfg, queue_device) == 48, "virtio 4.1.4.3");
_Static_assert(sizeof(struct gk_virtio_pci_common_cfg) == 56, "virtio 4.1.4.3");

/* Where one virtio structure lives: BAR index, offset and length in it. */
struct gk_virtio_pci_region {
    uint8_t bar;
    uint32_t offset;
    uint32_t length;
};

/* What gk_virtio_pci_find_caps (gk/pci.h) found in a device's config space:
 * each `has_*` says whether the structure is present; the notify address of
 * queue q is BAR notify.bar + notify.offset + queue_notify_off(q) *
 * notify_off_multiplier. */
struct gk_virtio_pci_caps {
    struct gk_virtio_pci_region common, notify, isr, device;
    uint32_t notify_off_multiplier;
    uint8_t has_common, has_notify, has_isr, has_device;
};

#endif
