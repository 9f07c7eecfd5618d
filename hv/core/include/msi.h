/*
 * Message-signalled interrupts (MSI, MSI-X) as the hypervisor hands them
 * out (docs/devices.md, "Message interrupts"): a machine-wide table of
 * vectors, each owned by one PCI function, and per function the vectors
 * one domain set up there. The hypervisor, never a domain, chooses the
 * vector, the destination CPU and so the message address and data; a
 * domain asks for N vectors and binds each to an event channel.
 *
 * Pure logic (hv/core/msi.c), host-tested (test/unit/iommu/test_msi.c): it
 * decides, the caller programs the device and the interrupt controller
 * (the message formats are the architecture's: vtd_tables.h).
 * Every function checks everything first and changes nothing on error.
 *
 * Locking: the caller holds the hypervisor lock for every call (the same
 * lock that serialises event channels and PCI configuration access).
 */
#ifndef HV_MSI_H
#define HV_MSI_H

#include "arch.h"
#include "types.h"
#include <hv/abi.h>
#include <hv/domctl.h>

/* Vectors MSI_VECTOR_FIRST .. + MSI_VECTORS - 1 are the machine's message
 * interrupts (the I/O APIC lines sit below, the timer and IPIs above). */
#define MSI_VECTOR_FIRST ARCH_MSI_VECTOR_FIRST
#define MSI_VECTORS ARCH_MSI_VECTORS
#define MSI_PER_FUNC HV_PCI_MSI_VECTORS_MAX

/* One vector of the machine. */
struct msi_vector {
    bool used;
    uint16_t func;  /* index of the function in the PCI table */
    uint16_t entry; /* MSI-X table entry (0 for MSI) */
    uint16_t cpu;   /* destination CPU */
};

struct msi_table {
    uint32_t used_count;
    struct msi_vector v[MSI_VECTORS];
};

/* What one function has set up (kept with the function). */
struct msi_func {
    uint64_t owner_uid; /* the domain that set them up (0: none) */
    uint8_t kind;       /* enum hv_pci_msi_kind, 0: none */
    uint8_t count;
    uint8_t slot[MSI_PER_FUNC]; /* index into the table's v[] per vector */
};

void msi_table_init(struct msi_table *t);

/*
 * Sets up `count` vectors of `kind` on function func_index for the domain
 * owner_uid (non-zero), each first aimed at CPU `cpu`. have_msi / msix_size
 * describe the function (0: no such capability). HV_ENOTSUP: no capability
 * of that kind; HV_EINVAL: bad kind, count 0, above what the capability
 * has (1 for MSI, its table size for MSI-X) or above MSI_PER_FUNC; HV_EBUSY:
 * vectors already set up on it; HV_ENOMEM: fewer than count vectors free.
 */
enum hv_status msi_enable(struct msi_table *t, struct msi_func *f, uint16_t func_index,
                          uint64_t owner_uid, uint32_t kind, uint32_t count, bool have_msi,
                          uint16_t msix_size, uint16_t cpu);

/* Frees f's vectors (the caller has quiesced the device first). */
void msi_disable(struct msi_table *t, struct msi_func *f);

/* Whether domain owner_uid may use f's vectors: HV_OK, HV_ENOENT (none set
 * up), HV_EPERM (another domain's). */
enum hv_status msi_check_owner(const struct msi_func *f, uint64_t owner_uid);

/* The table slot of f's vector `index`, or -1 if index >= its count. */
int msi_slot_of(const struct msi_func *f, uint32_t index);

/* The CPU vector number of table slot s (< MSI_VECTORS). */
static inline uint8_t msi_vector_number(uint32_t s)
{
    return (uint8_t)(MSI_VECTOR_FIRST + s);
}

/* The table slot of CPU vector `vector`, or -1 if it is not a message
 * vector or not in use (a spurious or stale message). */
int msi_slot_of_vector(const struct msi_table *t, unsigned vector);

#endif /* HV_MSI_H */
