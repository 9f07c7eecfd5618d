/*
 * Devices (docs/devices.md, "Giving a device to a domain"): the machine's PCI
 * functions, as the control domain's boot capabilities name them, and the
 * domain each is given to by its manifest (`pci:`). Giving a function copies
 * the control domain's capabilities into the domain's table with only the
 * rights asked for (config: CONFIG_READ | CONFIG_WRITE; mmio: each memory
 * BAR's MMIO capability, read/write; irq: HV_CAP_R_PCI_IRQ; dma:
 * HV_CAP_R_PCI_DMA; never GRANT, so it cannot pass them on), at slots
 * DEV_SLOT_FIRST + 8k (the PCI capability) and the next ones (its BARs), k
 * the entry's index in the manifest. The control domain keeps its own
 * capabilities; taking a function back revokes every copy derived from them
 * (the domain's stop, destroy or a failed build), so a function is given to
 * at most one domain at a time.
 */
#ifndef CONTROL_DEVICES_H
#define CONTROL_DEVICES_H

#include <hv/proto_msgs.h>
#include <stddef.h>

#include "registry.h"

#define DEV_FUNCS_MAX 64u
#define DEV_SLOT_FIRST 128u /* as the root's own device slots (HV_ROOT_SLOT_DEVICE_FIRST) */

/* Finds the machine's PCI functions (the control domain's slots 128..). */
void devices_init(void);

/* Whether every entry of cfg's pci names a function, and none is given to a
 * domain other than `self` (NULL: any). NULL, or why not with *code
 * (not-found, conflict). */
const char *devices_check(const struct proto_domain_config *cfg, const struct dom *self,
                          char *detail, size_t detail_cap, enum proto_error_code *code);

/* Gives d (built, not started) its functions. NULL, or why not (everything
 * given so far is taken back). */
const char *devices_give(struct dom *d, char *detail, size_t detail_cap);

/* Takes back every function given to d (revokes the copies). */
void devices_release(const struct dom *d);
/* The same, but the functions stay d's (no other domain can be given them)
 * for its next incarnation: a restart (registry.c). */
void devices_keep(const struct dom *d);

/* Between two incarnations of d (the old one destroyed, its functions
 * kept): checks that each has bus mastering off — the hypervisor turns it
 * off and detaches the function from the old instance's DMA space, which
 * it destroys, before the instance's frames are freed (docs/devices.md) —
 * and resets it (a virtio function: device status 0, waited for). A
 * summary per function in detail; false if a check or reset failed. */
bool devices_reset(const struct dom *d, char *detail, size_t detail_cap);

/* The device list for hvctl devices. */
void devices_list(struct proto_device_list_reply *r);

#endif
