/*
 * Per-domain firewall rules of the VFR. Plain C11, no allocation, host-
 * tested in test/unit/netback.
 *
 * A rule matches a packet by direction (in: towards the domain, out: from
 * it), protocol (any, TCP, UDP, ICMP), the domain's own port range (TCP and
 * UDP; ICMP echo: the identifier) and the peer's address prefix; the first
 * rule that matches decides (allow or deny) and counts the packet and its
 * bytes. When none matches, the default is to allow: inbound packets reach
 * a domain only on ports it leases (vfr.c drops the rest before the rules
 * are asked, which is the "inbound default deny"), outbound ones must pass
 * the spoofing check first.
 *
 * A domain's rule set is replaced whole (vfr_rules_replace checks the new
 * rules first and changes nothing if one is invalid): `hvctl apply` is
 * atomic for a domain's rules. Counters start at 0 for the new set.
 */
#ifndef NETBACK_VFR_RULES_H
#define NETBACK_VFR_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "vfr_pkt.h"

#define VFR_RULES_MAX 64u
#define VFR_PROTO_ANY 0u

enum vfr_action { VFR_ALLOW = 1, VFR_DENY = 2 };
enum vfr_dir { VFR_IN = 1, VFR_OUT = 2, VFR_BOTH = 3 };

struct vfr_rule {
    uint8_t action, dir, proto;
    uint16_t port_lo, port_hi; /* the domain's port; 0..0 = any */
    uint32_t peer;             /* the peer's prefix (host order) */
    uint8_t peer_len;          /* 0..32; 0 = any peer */
};

struct vfr_rule_counters {
    uint64_t packets, bytes;
};

struct vfr_rules {
    struct vfr_rule r[VFR_RULES_MAX];
    struct vfr_rule_counters c[VFR_RULES_MAX];
    uint32_t count;
};

#define VFR_RULE_NONE (-1)

/* Checks rules[0..n) and, only if all are valid, makes them the set.
 * Returns the index of the first invalid rule, or -1 when done (and
 * n > VFR_RULES_MAX returns VFR_RULES_MAX). */
int32_t vfr_rules_replace(struct vfr_rules *set, const struct vfr_rule *rules, uint32_t n);

/* The first rule matching a packet in direction dir whose domain-side port
 * is port (0 for a packet without ports) and peer is peer; counts it with
 * bytes. Returns its index (the caller reads its action), or VFR_RULE_NONE. */
int32_t vfr_rules_match(struct vfr_rules *set, enum vfr_dir dir, uint8_t proto, uint16_t port,
                        uint32_t peer, uint32_t bytes);

#endif
