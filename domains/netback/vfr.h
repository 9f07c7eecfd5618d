/*
 * The virtual firewall router's forwarding decision (docs/net.md, "The
 * VFR"): for each frame from the wire or from a domain, where it goes —
 * never rewriting an IP, TCP, UDP or ICMP header. Plain C11, no allocation,
 * no hardware: the same file runs in netback and in the host tests
 * (test/unit/netback).
 *
 * RSIP (RFC 3102/3103, RSAP-IP): the machine has one external address and
 * one MAC, netback's; every domain's stack is configured with both and
 * owns the ports it leases (vfr_lease.h).
 *
 * From the wire (vfr_from_wire):
 *   - ARP: a request for the external address is answered by netback (the
 *     reply is built in `reply`); a reply to the external address goes to
 *     every domain (each stack keeps it only if it asked); the rest is
 *     dropped.
 *   - IPv4 to the external address: TCP and UDP to the holder of the
 *     destination port; ICMP echo replies to the holder of the identifier
 *     (UDP leases); ICMP errors to the holder of the quoted datagram's
 *     source port (the datagram it sent); echo requests answered by netback;
 *     a first fragment to the holder of its ports, later fragments of the
 *     same datagram after it (a table of VFR_FRAGS_MAX datagrams, 30 s);
 *     then the holder's inbound rules. Nobody holds the port: dropped (the
 *     inbound default deny).
 * From a domain (vfr_from_domain):
 *   - its frames must carry netback's MAC as source; ARP requests for the
 *     external address are answered by netback, others go to the wire if
 *     their sender address is the external one;
 *   - IPv4 must come from the external address and a port the domain
 *     holds (TCP, UDP source port; ICMP echo identifier; an ICMP error's
 *     quoted destination port) — else it is a spoofing drop; then its
 *     outbound rules; to the external address itself it goes to the
 *     holder of the destination port (domain to domain, through that
 *     domain's inbound rules), else to the wire.
 *
 * Every drop has a reason, counted per domain (vfr_dom) and for the
 * router (vfr.drops); the caller logs them (rate-limited, issue 16's
 * logging step).
 */
#ifndef NETBACK_VFR_H
#define NETBACK_VFR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vfr_lease.h"
#include "vfr_pkt.h"
#include "vfr_rules.h"

#define VFR_DOMS_MAX 32u
#define VFR_FRAGS_MAX 64u
#define VFR_FRAG_LIFETIME_NS (30ull * 1000000000ull)

enum vfr_to {
    VFR_TO_DROP = 0,
    VFR_TO_DOMAIN,      /* to domain `dom` */
    VFR_TO_WIRE,        /* out of the NIC, unchanged */
    VFR_TO_ALL_DOMAINS, /* an ARP reply for the external address */
    VFR_TO_REPLY,       /* netback answered: `reply` goes back where the frame came from */
};

enum vfr_drop {
    VFR_DROP_NONE = 0,
    VFR_DROP_PARSE,      /* vfr_pkt_parse refused it (verdict.parse says why) */
    VFR_DROP_NOT_OURS,   /* IPv4 not to the external address */
    VFR_DROP_NO_LEASE,   /* nobody holds the port */
    VFR_DROP_DENIED,     /* a rule denied it (verdict.rule) */
    VFR_DROP_SPOOF_MAC,  /* a domain's frame with another source MAC */
    VFR_DROP_SPOOF_ADDR, /* a domain's packet from another address */
    VFR_DROP_SPOOF_PORT, /* a domain's packet from a port it does not hold */
    VFR_DROP_FRAGMENT,   /* a later fragment of a datagram whose first was not seen */
    VFR_DROP_PROTO,      /* a protocol or ICMP type the VFR does not route */
    VFR_DROP_ARP,        /* ARP that is neither for nor from the external address */
    VFR_DROP_COUNT
};

struct vfr_verdict {
    uint8_t to;    /* enum vfr_to */
    uint8_t drop;  /* enum vfr_drop when to == VFR_TO_DROP */
    uint8_t parse; /* enum vfr_pkt_status when drop == VFR_DROP_PARSE */
    uint16_t dom;  /* VFR_TO_DOMAIN: the receiver (also set when its inbound rules denied it) */
    int32_t rule;  /* the rule that matched (allow or deny), VFR_RULE_NONE */
    size_t reply_len;
    struct vfr_pkt pkt; /* what the parser saw */
};

struct vfr_dom_counters {
    uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
    uint64_t drops[VFR_DROP_COUNT]; /* of its own packets (out) and of packets to it (in) */
};

struct vfr_dom {
    bool used;
    uint16_t id;
    struct vfr_rules rules;
    struct vfr_dom_counters c;
};

struct vfr_frag {
    bool used;
    uint8_t proto;
    uint16_t ip_id;
    uint16_t from, to; /* sender and receiver domains, VFR_DOM_NONE: the wire */
    uint32_t src, dst;
    uint64_t expires_ns;
};

struct vfr {
    uint32_t ext_addr;
    uint8_t mac[6];
    struct vfr_leases leases;
    struct vfr_dom doms[VFR_DOMS_MAX];
    struct vfr_frag frags[VFR_FRAGS_MAX];
    uint64_t drops[VFR_DROP_COUNT];
    uint64_t arp_answered, echo_answered;
};

void vfr_init(struct vfr *v, uint32_t ext_addr, const uint8_t mac[6]);

/* A domain joins (empty rules, no leases) or leaves (its leases and
 * fragments go). false: table full, id already there / not there. */
bool vfr_dom_add(struct vfr *v, uint16_t id);
bool vfr_dom_remove(struct vfr *v, uint16_t id);
struct vfr_dom *vfr_dom_get(struct vfr *v, uint16_t id);

/* A frame from the wire. reply must hold VFR_ETH_MAX bytes. */
void vfr_from_wire(struct vfr *v, const uint8_t *frame, size_t len, uint64_t now_ns, uint8_t *reply,
                   struct vfr_verdict *out);
/* A frame from domain dom. */
void vfr_from_domain(struct vfr *v, uint16_t dom, const uint8_t *frame, size_t len, uint64_t now_ns,
                     uint8_t *reply, struct vfr_verdict *out);

const char *vfr_drop_name(enum vfr_drop d);

#endif
