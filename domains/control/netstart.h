/*
 * The control domain's part of netback's leases (docs/net.md, "netback the
 * domain"). netback itself is an ordinary driver domain, started at boot
 * from its manifest domains/netback/netback.yaml (bootcfg.c) when the
 * machine has its virtio-net function, and rebuilt from it when it crashes.
 *
 * It answers netback's questions about front ends' leases: the config-get
 * key "net-lease:NAME" from the domain that offers "net" is answered with
 * NAME's ports (netstart_lease) — a new instance of netback asks again, so
 * the leases it had are given back to it by the same path.
 */
#ifndef CONTROL_NETSTART_H
#define CONTROL_NETSTART_H

#include <stddef.h>
#include <stdint.h>

#include <hv/cbor.h>

#include "registry.h"

/* The answer to config-get `key` from d when key is "net-lease:NAME": 1
 * with *value (NAME's ports as "P,LO-HI,..." in buf) if d offers "net" and
 * NAME has a lease; 0 if the key is not such a question; -1 (with *why) if
 * it is one that cannot be answered. */
int netstart_lease(const struct dom *d, struct hvcbor_str key, char *buf, size_t cap,
                   const char **why);

/* Whether cfg's lease (net.ports) is well-formed and overlaps no other
 * domain's: NULL, or why not (detail, *code invalid or conflict). */
const char *netstart_check_lease(const struct proto_domain_config *cfg, char *detail,
                                 size_t detail_cap, enum proto_error_code *code);

#endif
