/*
 * guest-kit PCI: configuration-space helpers over an abstract access
 * function, so the same code works through a PCI capability (HC_PCI_OP:
 * gk_pci_cap_cfg_init, below), through ECAM MMIO, or through a fake config
 * space in host tests (ports 0xcf8-0xcff are the hypervisor's).
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
#include "hv/domctl.h"

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

/* ---- PCI functions reached through capabilities (pci_cap.c) ---------------
 *
 * The hypervisor enumerates PCI at boot and gives the root one HV_CAP_PCI
 * capability per function and one HV_CAP_MMIO capability per memory BAR
 * (docs/devices.md). Configuration space is reached with HC_PCI_OP through
 * the PCI capability, device memory with ordinary mappings of frames an MMIO
 * capability covers. What the hypervisor returns is checked like device
 * input: a description with a bad BAR is refused, and a BAR's MMIO slot is
 * used only if a capability in that slot really covers the BAR.
 */

/* A PCI capability as a gk_pci_cfg: the function is the one the capability
 * names. Reads are 4-byte HC_PCI_OP reads; a refused or failed read returns
 * all ones (as an absent device does) and a refused write changes nothing;
 * both record the status in last_error (HV_OK is never written over it, so
 * it holds the first error since it was last cleared). An access for any
 * other bus/device/function reads as absent and is not written, so
 * gk_pci_enumerate over this backend sees exactly one function.
 *
 * The hypervisor refuses writes to BARs (HV_EPERM): gk_pci_read_bar cannot
 * size BARs through this backend; the BARs are in gk_pci_cap_function. */
struct gk_pci_cap_backend {
    uint32_t slot;
    struct gk_pci_bdf bdf;
    int64_t last_error;
};

/* Describes `slot` with HV_PCI_INFO and fills *backend and *cfg. HV_OK; the
 * hypercall's status otherwise (HV_ENOENT: empty slot, HV_EPERM: not a PCI
 * capability, HV_EINVAL: slot >= HV_CAP_SLOTS); *cfg is then unusable. */
int64_t gk_pci_cap_cfg_init(uint32_t slot, struct gk_pci_cap_backend *backend,
                            struct gk_pci_cfg *cfg);

/* The 1-, 2- or 4-byte HC_PCI_OP accesses themselves (offset aligned to
 * size); return the hypercall's status. */
int64_t gk_pci_cap_config_read(uint32_t slot, uint16_t offset, uint8_t size, uint32_t *value);
int64_t gk_pci_cap_config_write(uint32_t slot, uint16_t offset, uint8_t size, uint32_t value);

/* One BAR as the hypervisor described it, with the MMIO capability in the
 * caller's table that covers its frames (HV_PCI_NO_SLOT: none, or not a
 * memory BAR). */
struct gk_pci_cap_bar {
    uint64_t base;       /* machine address (I/O BAR: port) */
    uint64_t size_bytes; /* 0: not implemented */
    uint8_t kind;        /* enum hv_pci_bar_kind */
    bool prefetchable;
    uint32_t mmio_slot;
    uint32_t mmio_rights; /* HV_CAP_R_MMIO_* of mmio_slot's capability */
};

/* A PCI function found in the caller's capability table. */
struct gk_pci_cap_function {
    uint32_t pci_slot;        /* the PCI capability */
    uint32_t pci_rights;      /* its HV_CAP_R_PCI_* (and HV_CAP_R_GRANT) */
    struct gk_pci_device dev; /* ids, class, header type, IRQ (subsystem ids: 0) */
    uint32_t bar_count;       /* 6 (header type 0), 2 (type 1), 0 */
    struct gk_pci_cap_bar bars[6];
    uint16_t msix_count; /* MSI-X table size (0: no MSI-X) */
    uint8_t msi_count;   /* 1 if it has MSI (the hypervisor sets up one vector), else 0 */
};

/* Describes the PCI capability in `slot` into *f, checking the description
 * (bus/device/function in range, bar_count <= 6 and as its header type
 * says, BAR kinds known, a 64-bit BAR followed by its upper half, no range
 * wrapping) and finding each memory BAR's MMIO capability: the boot slot
 * the description names if a capability there covers the BAR, else the
 * first slot whose MMIO capability does. HV_OK; the status of HV_PCI_INFO;
 * HV_EINVAL if the description is inconsistent. */
int64_t gk_pci_cap_describe(uint32_t slot, struct gk_pci_cap_function *f);

/*
 * Walks the caller's capability table from slot_first (0 for every slot;
 * the root's devices start at HV_ROOT_SLOT_DEVICE_FIRST) with
 * HV_CAP_IDENTIFY and describes every PCI capability (gk_pci_cap_describe;
 * one that cannot be described is skipped). Stores up to max_count in
 * out, in slot order; returns the number found (which may exceed
 * max_count: only max_count are stored).
 */
size_t gk_pci_enumerate_caps(uint32_t slot_first, struct gk_pci_cap_function *out,
                             size_t max_count);

/* The first function in list[0..count) with this vendor (and device, unless
 * device is 0xffff), or NULL. */
const struct gk_pci_cap_function *gk_pci_cap_find(const struct gk_pci_cap_function *list,
                                                  size_t count, uint16_t vendor, uint16_t device);

/* A mapping of part of a BAR made by gk_pci_map_bar. */
struct gk_pci_mapping {
    volatile void *ptr;  /* the first byte asked for */
    uint64_t va;         /* page-aligned start of the mapping */
    uint64_t page_count; /* pages mapped from va */
};

/*
 * Maps bytes [offset, offset + length) of memory BAR `bar` of f at the
 * page-aligned va (the pages must be unmapped), uncached (PCD|PWT) and not
 * executable, writable if asked,
 * through the BAR's MMIO capability; *m says where. All or nothing: on a
 * failure the pages already mapped are unmapped again. HV_OK; HV_EINVAL (bar
 * out of range, not a memory BAR, va not page-aligned, length 0); HV_ERANGE
 * (the range is not inside the BAR, or it has no MMIO capability); HV_EPERM
 * (writable asked and the capability is read-only: checked before mapping);
 * else the status of the failing gk_map_frame (HV_ERANGE: no capability
 * covers the frame any more).
 */
int64_t gk_pci_map_bar(const struct gk_pci_cap_function *f, unsigned bar, uint64_t offset,
                       uint64_t length, uint64_t va, bool writable, struct gk_pci_mapping *m);

/*
 * Message interrupts (hv/domctl.h HV_PCI_MSI_ENABLE): the hypervisor sets up
 * `count` vectors of kind HV_PCI_MSI or HV_PCI_MSIX on the function of the
 * PCI capability `slot` (which needs HV_CAP_R_PCI_IRQ) and programs the
 * device; bind each vector to a port with gk_evtchn_bind_msi (gk/event.h).
 * Return the hypercall's status.
 */
int64_t gk_pci_msi_enable(uint32_t slot, uint32_t kind, uint32_t count);
int64_t gk_pci_msi_disable(uint32_t slot);

/* Unmaps what gk_pci_map_bar mapped; HV_OK or the first gk_unmap error (the
 * other pages are unmapped anyway). */
int64_t gk_pci_unmap_bar(struct gk_pci_mapping *m);

#endif
