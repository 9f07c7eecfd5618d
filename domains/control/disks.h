/*
 * Disks of domains (manifest `disks:`, docs/blkback.md#disks-in-manifests):
 * the control domain's side. It keeps each domain's disks in its
 * configuration, refuses a configuration whose disks clash with another
 * domain's (a volume read-write in one and named by another), refuses to
 * let a volume named by a domain be deleted, and tells the provider of
 * `blk` (blkback) which volumes each user may attach (blk-disks-event)
 * before it introduces them. A domain with disks may use `blk` without
 * listing it under `uses:`.
 *
 * Whether a volume exists and is large enough is blkback's to know: hvctl
 * checks it before it sends a create (volume-list-request), and blkback
 * refuses an attach of a volume it does not have.
 *
 * The control domain's loop only.
 */
#ifndef CONTROL_DISKS_H
#define CONTROL_DISKS_H

#include <stdbool.h>
#include <stddef.h>

#include <hv/proto_msgs.h>

#include "registry.h"

/* NULL if cfg's disks may be created beside every other domain's (skip:
 * the domain cfg replaces, or NULL), else why not (detail filled, *code:
 * invalid for a volume named twice, conflict for a clash). */
const char *disks_check(const struct proto_domain_config *cfg, const struct dom *skip, char *detail,
                        size_t detail_cap, enum proto_error_code *code);

/* The domain whose disks name volume `name`, or NULL. */
const struct dom *disks_user_of(struct hvcbor_str name);

/* Whether d's disks let it use the service `name` ("blk"). */
bool disks_uses(const struct dom *d, struct hvcbor_str name);

/* Sends provider the blk-disks-event of user u (nothing if u has none). */
void disks_tell(struct dom *provider, const struct dom *u);

#endif
