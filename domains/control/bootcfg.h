/*
 * The boot configuration: the boot module named "boot-config" holds the
 * domains to create at start, as written by `hvctl compile` (one framed
 * domain-create-request per manifest; docs/manifests.md). Each is created
 * with the control domain's own authority (actor "boot" in the log); a
 * frame or request that does not decode, and a domain that cannot be
 * built, is logged and skipped.
 */
#ifndef CONTROL_BOOTCFG_H
#define CONTROL_BOOTCFG_H

#include "hv/abi.h"

#define BOOTCFG_MODULE_NAME "boot-config"

/* Creates the domains of the boot configuration, if there is one. */
void bootcfg_apply(const struct hv_start_info *si);

#endif
