/*
 * guest-kit PCI: configuration-space helpers over an abstract access
 * function, so the same code enumerates through port 0xcf8/0xcfc (once the
 * hypervisor grants an I/O-port capability for it: not yet), through ECAM
 * MMIO, or through a fake config space in host tests.
 *
 * Everything read from config space is device-controlled and treated as
 * hostile: capability lists are bounded and checked (no loops, no pointers
 * into the header), BAR sizes must be powers of two, virtio capabilities
 * must name a real BAR and a range that does not wrap.
 *
 * Not thread-safe; BAR sizing briefly disables the device's decoding, so
 * call it before the device is in use.
 */
#ifndef GK_PCI_H
#define GK_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gk/virtio.h"

struct gk_pci_bdf {
    uint8_t bus;
    uint8_t dev; /* 0..31 */
    uint8_t fn;  /* 0..7 */
};

/* Reads the aligned dword at `offset` (a multiple of 4, < space_bytes). An
 * absent device reads as 0xffffffff. */
typedef uint32_t (*gk_pci_read32_fn)(void *ctx, struct gk_pci_bdf bdf, uint16_t offset);
typedef void (*gk_pci_write32_fn)(void *ctx, struct gk_pci_bdf bdf, uint16_t offset,
                                  uint32_t value);

/* A way to reach configuration space. */
struct gk_pci_cfg {
    gk_pci_read32_fn read32;
    gk_pci_write32_fn write32;
    void *ctx;
};

#define GK_PCI_CFG_BYTES 256u /* legacy config space; extended space not used */
#define GK_PCI_OFF_VENDOR 0x00u
#define GK_PCI_OFF_COMMAND 0x04u
#define GK_PCI_OFF_STATUS 0x06u
#define GK_PCI_OFF_CLASS 0x08u /* revision, prog-if, subclass, class */
#define GK_PCI_OFF_HEADER_TYPE 0x0eu
#define GK_PCI_OFF_BAR0 0x10u
#define GK_PCI_OFF_SUBSYSTEM 0x2cu
#define GK_PCI_OFF_CAP_PTR 0x34u
#define GK_PCI_OFF_IRQ 0x3cu /* line, pin */
#define GK_PCI_COMMAND_IO 0x1u
#define GK_PCI_COMMAND_MEMORY 0x2u
#define GK_PCI_COMMAND_BUS_MASTER 0x4u
#define GK_PCI_STATUS_CAP_LIST 0x10u
#define GK_PCI_CAP_ID_MSI 0x05u
#define GK_PCI_CAP_ID_VENDOR 0x09u
#define GK_PCI_CAP_ID_MSIX 0x11u

/* One function found by gk_pci_enumerate. */
struct gk_pci_device {
    struct gk_pci_bdf bdf;
    uint16_t vendor_id, device_id;
    uint16_t subsystem_vendor_id, subsystem_id;
    uint8_t class_code, subclass, prog_if, revision;
    uint8_t header_type; /* without the multi-function bit */
    uint8_t irq_line, irq_pin;
};

/* A decoded base address register. */
struct gk_pci_bar {
    uint64_t base;
    uint64_t size_bytes;
    bool is_io;
    bool is_64bit; /* occupies this BAR and the next */
    bool prefetchable;
};

/* The dword address written to port 0xcf8 for (bdf, offset): enable bit,
 * bus, device, function, register (offset & 0xfc). */
uint32_t gk_pci_cf8_address(struct gk_pci_bdf bdf, uint16_t offset);

/* Sub-dword reads built on read32 (any offset < 256; beyond: all ones). */
uint8_t gk_pci_read8(const struct gk_pci_cfg *cfg, struct gk_pci_bdf bdf, uint16_t offset);
uint16_t gk_pci_read16(const struct gk_pci_cfg *cfg, struct gk_pci_bdf bdf, uint16_t offset);
uint32_t gk_pci_read32(const struct gk_pci_cfg *cfg, struct gk_pci_bdf bdf, uint16_t offset);
/* Writes the command register with a zero status half (status bits are
 * write-one-to-clear, so a read-modify-write of the dword would clear them). */
void gk_pci_write_command(const struct gk_pci_cfg *cfg, struct gk_pci_bdf bdf, uint16_t command);

/*
 * Scans buses bus_first..bus_last (every device, functions 1..7 only if
 * function 0 is multi-function) and stores up to max_count functions in
 * out, in bus/device/function order. Returns the number of functions found
 * (which may exceed max_count: only max_count are stored).
 */
size_t gk_pci_enumerate(const struct gk_pci_cfg *cfg, uint8_t bus_first, uint8_t bus_last,
                        struct gk_pci_device *out, size_t max_count);

/*
 * Decodes and sizes BAR `index` (0..5) of a type-0 function. Decoding of
 * the BAR's kind is disabled in the command register while it is sized,
 * and the BAR and command are restored. HV_OK; HV_ENOENT for an unused BAR
 * (size 0) or the upper half of a 64-bit BAR; HV_EINVAL for a bad index, a
 * bridge/other header type, a 64-bit BAR in slot 5, or a size that is not a
 * power of two; HV_ENOTSUP for the reserved memory type.
 */
int gk_pci_read_bar(const struct gk_pci_cfg *cfg, struct gk_pci_bdf bdf, unsigned index,
                    struct gk_pci_bar *bar);

/*
 * Finds the first capability with id cap_id after offset `after` (0: from
 * the start of the list). Returns its config-space offset (>= 0x40), or
 * HV_ENOENT if there is none, or HV_EINVAL if the list is corrupt (a pointer
 * into the header, or a loop: more entries than fit in config space).
 */
int gk_pci_find_cap(const struct gk_pci_cfg *cfg, struct gk_pci_bdf bdf, uint8_t cap_id,
                    uint8_t after);

/*
 * Parses a virtio-PCI modern device's vendor capabilities into *caps (the
 * first capability of each type counts, as the specification says).
 * HV_OK if at least the common and notify structures were found; HV_ENOENT
 * if not (e.g. a legacy-only device); HV_EINVAL if the capability list or a
 * virtio capability is malformed (cap_len too short for its type, BAR > 5,
 * offset + length wrapping around 2^32). A notify multiplier of 0 is valid
 * (every queue shares one doorbell).
 */
int gk_virtio_pci_find_caps(const struct gk_pci_cfg *cfg, struct gk_pci_bdf bdf,
                            struct gk_virtio_pci_caps *caps);

#endif
