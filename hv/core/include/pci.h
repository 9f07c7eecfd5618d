/*
 * PCI devices as capabilities (docs/devices.md).
 *
 * hv/core/pci.c is pure logic, compiled on the host too (test/unit/pci):
 * enumeration over configuration mechanism #1 through two hooks, BAR
 * sizing, the table of functions found (each with the capability objects
 * that name it) and the rule that decides which configuration accesses a
 * PCI capability allows. hv/core/pci_hv.c implements the hooks over ports
 * 0xcf8/0xcfc, gives the root its device capabilities and serves
 * HC_PCI_OP.
 *
 * Called at boot (one CPU) and from hypercalls (one CPU runs hypercalls);
 * the SMP work adds a lock around the configuration-port pair.
 */
#ifndef HV_PCI_H
#define HV_PCI_H

#include "cap.h"
#include "msi.h"
#include "types.h"
#include <hv/domctl.h>

/* Functions recorded at most; further ones are counted and left out. */
#define PCI_FUNCS_MAX 64u
#define PCI_BARS_MAX 6u

/* A function's address: bus << 8 | device << 3 | function. */
typedef uint16_t pci_bdf_t;

static inline pci_bdf_t pci_bdf(unsigned bus, unsigned dev, unsigned fn)
{
    return (pci_bdf_t)((bus & 0xff) << 8 | (dev & 0x1f) << 3 | (fn & 7));
}

/* Configuration-space registers used here. */
#define PCI_CFG_VENDOR 0x00
#define PCI_CFG_COMMAND 0x04
#define PCI_CFG_CLASS_REV 0x08
#define PCI_CFG_HEADER 0x0c /* byte 0x0e: header type */
#define PCI_CFG_BAR0 0x10
#define PCI_CFG_ROM0 0x30              /* expansion ROM base, header type 0 */
#define PCI_CFG_ROM1 0x38              /* expansion ROM base, header type 1 */
#define PCI_CFG_INTR 0x3c              /* interrupt line (byte 0x3c) and pin (0x3d) */
#define PCI_CFG_CAP_PTR 0x34           /* first capability (header types 0 and 1) */
#define PCI_STATUS_CAP_LIST (1u << 20) /* in the command/status dword */
#define PCI_CAP_ID_MSI 0x05
#define PCI_CAP_ID_MSIX 0x11
#define PCI_MSIX_BYTES 12u /* the MSI-X capability structure */
#define PCI_COMMAND_IO (1u << 0)
#define PCI_COMMAND_MEMORY (1u << 1)
#define PCI_COMMAND_MASTER (1u << 2)
#define PCI_HEADER_MULTIFUNCTION 0x80u
#define PCI_CLASS_HOST_BRIDGE 0x0600u /* class << 8 | subclass */
#define PCI_CLASS_ISA_BRIDGE 0x0601u

/*
 * One recorded function. bars[] is in the ABI's form (struct hv_pci_bar);
 * the capability objects are what the root's PCI and MMIO capabilities to
 * this function name. root_pci_slot and root_mmio_slot[] are the slots
 * pci_hv.c put them in at boot (HV_PCI_NO_SLOT if none).
 */
struct pci_func {
    pci_bdf_t bdf;
    uint16_t vendor, device;
    uint8_t header_type; /* without the multifunction bit */
    uint8_t irq_line, irq_pin;
    uint32_t class_rev; /* class << 24 | subclass << 16 | prog-if << 8 | revision */
    uint32_t bar_count; /* BAR registers of its header type: 6, 2 or 0 */
    struct hv_pci_bar bars[PCI_BARS_MAX];
    /* Message interrupts (0: no such capability). msi_bytes covers the
     * whole MSI structure (10, 14, 20 or 24 bytes); MSI-X's table and PBA
     * are in memory BARs: BIR (BAR index) and offset each. */
    uint8_t msi_off, msi_bytes, msix_off;
    bool msi_64bit;
    uint16_t msix_count; /* table entries */
    uint8_t msix_table_bir, msix_pba_bir;
    uint32_t msix_table_off, msix_pba_off;
    struct msi_func msi;        /* message vectors set up on it (pci_dev.c) */
    domid_t dma_owner;          /* the domain its DMA is attached to, DOMID_INVALID: none */
    uint32_t dma_faults;        /* since attached (IOMMU_FAULT_STOP stops it) */
    struct cap_object pci_obj;  /* HV_CAP_PCI */
    struct cap_object mmio_obj; /* HV_CAP_MMIO, every memory BAR of it */
    uint32_t root_pci_slot;
    uint32_t root_mmio_slot[PCI_BARS_MAX];
};

/* What pci_enumerate found. */
struct pci_scan {
    uint32_t count;   /* recorded in funcs[] */
    uint32_t dropped; /* present but beyond PCI_FUNCS_MAX */
    struct pci_func funcs[PCI_FUNCS_MAX];
};

/*
 * Scans bus 0..255, device 0..31, function 0 (and 1..7 of a multifunction
 * device) with the hooks below, records every present function and sizes
 * its BARs (the write-all-ones method, with decoding turned off in the
 * command register meanwhile; every register is restored) and finds its
 * MSI and MSI-X capabilities (a capability list of at most 48 entries,
 * each at 0x40 or above, is followed; a loop or a bad pointer ends it). At
 * most 256 * 32 * 8 functions are probed: the scan always ends. Initialises
 * each recorded function's capability objects; slots are HV_PCI_NO_SLOT.
 */
void pci_enumerate(struct pci_scan *out);

/*
 * The recorded function a PCI or MMIO capability object belongs to, or
 * NULL (an object of something else). s: the table it may be in.
 */
struct pci_func *pci_func_of_obj(struct pci_scan *s, const struct cap_object *obj);

/*
 * The access rule of HC_PCI_OP (docs/devices.md), checked before any
 * access: HV_EINVAL if offset >= 256, size is not 1, 2 or 4, or offset is
 * not a multiple of size; HV_EPERM if rights lack CONFIG_READ (read) or
 * CONFIG_WRITE (write); for a write, HV_EPERM if it touches an address
 * register (BARs, expansion ROM, and for a bridge its bus numbers and
 * windows: header type 0 bytes 0x10-0x27 and 0x30-0x33, type 1 bytes
 * 0x10-0x3b, other types 0x10-0x3b), touches 0x40 and up of a host or
 * ISA bridge (class 06/00, 06/01: chipset registers), or, without
 * HV_CAP_R_PCI_DMA, writes the command register's bus-master bit as 1, or
 * touches the MSI or MSI-X capability structure (the hypervisor programs
 * message addresses and data). HV_OK otherwise.
 */
enum hv_status pci_config_check(const struct pci_func *f, uint32_t rights, uint32_t offset,
                                uint32_t size, bool write, uint32_t value);

/* Fills the ABI description of f (the slots are its root_* slots). */
void pci_func_info(const struct pci_func *f, struct hv_pci_info_args *out);

/* ---- The hypervisor's side (hv/core/pci_hv.c) ------------------------- */

/*
 * Boot, root domain only: enumerates PCI (logging one line per function
 * and BAR) and puts the device capabilities (docs/devices.md) in t from
 * first_slot upward. Returns how many slots it filled.
 */
uint32_t pci_root_caps(struct cap_table *t, uint32_t first_slot);

/* The hypervisor's table of functions (pci_hv.c). */
struct pci_scan *pci_hv_table(void);

/* ---- DMA and message interrupts (hv/core/pci_dev.c) --------------------- */

struct domain;

/* Boot, after arch_iommu_init: what confines DMA (off_unsafe: the command
 * line's `iommu=off-unsafe`), logged loudly when nothing does. */
void pci_dev_boot(enum arch_iommu found, bool off_unsafe);
/* enum hv_iommu_kind (HV_DOMCTL_HOST_INFO). */
uint32_t pci_dev_iommu_kind(void);
/* A config write of the command register with `value` by d: before it,
 * HV_OK or why not (bus mastering needs the IOMMU's attach, iommu.h);
 * after it, bus mastering off detaches the function's DMA. */
enum hv_status pci_dma_before_command(struct domain *d, struct pci_func *f, uint32_t value);
void pci_dma_after_command(struct pci_func *f, uint32_t value);
/* HV_PCI_MSI_ENABLE / DISABLE for d on f (the capability checked). */
enum hv_status pci_msi_enable(struct domain *d, struct pci_func *f, uint32_t kind, uint32_t count);
enum hv_status pci_msi_disable(struct domain *d, struct pci_func *f);
/* HV_EVTCHN_BIND_MSI for d: vector `index` of f to a new port; the _slot
 * form looks f up from d's PCI capability (with HV_CAP_R_PCI_IRQ). */
enum hv_status pci_msi_bind(struct domain *d, struct pci_func *f, uint32_t index, uint32_t *port);
enum hv_status pci_msi_bind_slot(struct domain *d, uint32_t pci_slot, uint32_t index,
                                 uint32_t *port);
/* Whether frame mfn holds an MSI-X table or pending-bit array (never
 * mapped writable by a domain). */
bool pci_msix_frame(uint64_t mfn);
/* d lost a PCI capability (obj): without the DMA right left its function's
 * DMA is stopped and detached, without the IRQ right its vectors go. */
void pci_dev_cap_removed(struct domain *d, const struct cap_object *obj);
/* d is being destroyed: the same for every function it drives. */
void pci_dev_domain_gone(struct domain *d);

/* ---- Hooks: ports 0xcf8/0xcfc in the hypervisor, a fake in the tests ---- */

/* The 32-bit register at offset (a multiple of 4, < 256) of function bdf. */
uint32_t pci_hook_read32(pci_bdf_t bdf, uint32_t offset);
void pci_hook_write32(pci_bdf_t bdf, uint32_t offset, uint32_t value);

#endif /* HV_PCI_H */
