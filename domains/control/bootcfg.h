/*
 * The boot configuration: the boot module named "boot-config" holds the
 * domains to create at start, as written by `hvctl compile` (one framed
 * domain-create-request per manifest; docs/manifests.md). Each is created
 * with the control domain's own authority (actor "boot" in the log); a
 * frame or request that does not decode, and a domain that cannot be
 * built, is logged and skipped.
 *
 * Driver domains (docs/control.md, "Driver domains at boot"): every boot
 * module whose name ends in ".driver" holds the compiled manifest of one
 * driver domain (blkback.driver: domains/blkback/blkback.yaml, with its
 * kernel the boot module "blkback"; netback.driver:
 * domains/netback/netback.yaml). They are created before the boot
 * configuration's domains, each only when the machine has every PCI
 * function its manifest's `pci:` names (else logged `driver-skipped`):
 * the manifest, not the control domain, says what a driver gets. The host
 * may replace or add `config:` values of a driver NAME through the fw_cfg
 * file "opt/hv/driver/NAME" (drvcfg.h; netback's address from `hvctl up
 * --net`). What was built is kept, and a driver is rebuilt from it by its
 * stop policies (registry.c).
 */
#ifndef CONTROL_BOOTCFG_H
#define CONTROL_BOOTCFG_H

#include <stdint.h>

#include "hv/abi.h"

#define BOOTCFG_MODULE_NAME "boot-config"
#define BOOTCFG_DRIVER_SUFFIX ".driver"

/* Creates the driver domains whose devices the machine has, then the
 * domains of the boot configuration, if there is one. fwcfg_io_slot: a
 * free slot for fwcfg_read_file. */
void bootcfg_apply(const struct hv_start_info *si, uint32_t fwcfg_io_slot);

#endif
