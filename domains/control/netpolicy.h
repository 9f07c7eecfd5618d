/*
 * The control domain's answers to netback about a front end's firewall rules
 * and traffic classes (docs/net.md, "Rules" and "The network scheduler"),
 * from the domain's manifest `net: {rules: [...], tx: {...}, rx: {...}}`.
 * Asked with config-get, like the lease (netstart.h), and answered only to
 * the domain that offers "net":
 *
 *   "net-rules:NAME"  "ACTION DIR PROTO LO-HI ADDR/LEN;..." in order, e.g.
 *                     "deny in 6 8081-8081 198.51.100.0/24;allow both 0 0-0 0.0.0.0/0"
 *                     (ACTION allow|deny, DIR in|out|both, PROTO the IP
 *                     protocol number, 0 any; ports 0-0 any);
 *   "net-class:NAME"  "tx R B P Q F W;rx R B P Q F W" (rate_bps burst_bytes
 *                     rate_pps burst_pkts floor_bps weight; either may be
 *                     absent).
 *
 * NAME without rules (or classes) is answered "absent" (not-found), which
 * netback reads as none (no rules, the unlimited class).
 */
#ifndef CONTROL_NETPOLICY_H
#define CONTROL_NETPOLICY_H

#include <stddef.h>

#include <hv/cbor.h>

#include "registry.h"

/* As netstart_lease: 1 with the answer in buf, 0 if key is neither
 * question, -1 with *why if it cannot be answered. */
int netpolicy_answer(const struct dom *d, struct hvcbor_str key, char *buf, size_t cap,
                     const char **why);

#endif
