/*
 * netback at boot (docs/net.md, "netback the domain"): when the machine has
 * a virtio-net function nobody holds and the boot modules include the image
 * "netback", the control domain creates the domain "netback" with that
 * function alone (config, mmio, irq, dma), the service "net" to offer, and
 * its external address and gateway from the fw_cfg file "opt/hv/net"
 * (`hvctl up --net` writes "ADDRESS/LEN [GATEWAY]"; default 192.0.2.10/24,
 * no gateway). It is restarted if it crashes.
 *
 * It also answers netback's questions about front ends' leases: the
 * config-get key "net-lease:NAME" from the domain that offers "net" is
 * answered with NAME's ports (netstart_lease).
 */
#ifndef CONTROL_NETSTART_H
#define CONTROL_NETSTART_H

#include <stddef.h>
#include <stdint.h>

#include <hv/cbor.h>

#include "registry.h"

#define NETSTART_IMAGE "netback"
#define NETSTART_FWCFG_FILE "opt/hv/net"

/* Creates netback if the machine has a NIC for it (logged either way). */
void netstart_boot(uint32_t fwcfg_slot);

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
