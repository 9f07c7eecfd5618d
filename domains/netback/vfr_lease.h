/*
 * RSIP port leases (RFC 3102/3103, RSAP-IP mode): which domain holds which
 * TCP and UDP ports of the machine's one external address. Plain C11, no
 * allocation (the table is the caller's), host-tested in
 * test/unit/netback.
 *
 * A lease is a range of ports of one protocol (TCP or UDP; a manifest's
 * port stands for both) held by one domain. Ranges never overlap across
 * domains. ICMP echo identifiers are looked up in the UDP leases (a domain
 * pings with an identifier from its UDP range).
 *
 * Changes are checked first and applied whole or not at all (decode, then
 * invoke): vfr_lease_set replaces every lease of one domain after
 * checking that none of the new ranges overlaps another domain's, and says
 * which one it would have overlapped. Lookups are a binary search over the
 * ranges sorted by protocol and start.
 */
#ifndef NETBACK_VFR_LEASE_H
#define NETBACK_VFR_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#define VFR_LEASES_MAX 256u
#define VFR_DOM_NONE 0xffffu
/* Ports that `auto` leases come from (the first 1024 are never given out
 * automatically). */
#define VFR_AUTO_LO 20000u
#define VFR_AUTO_HI 60999u

enum vfr_lease_status {
    VFR_LEASE_OK = 0,
    VFR_LEASE_INVALID,  /* a range with lo > hi, port 0, a protocol other than TCP/UDP */
    VFR_LEASE_CONFLICT, /* overlaps a range another domain holds (see *conflict) */
    VFR_LEASE_FULL,     /* more than VFR_LEASES_MAX ranges, or no room for an auto lease */
};

struct vfr_lease {
    uint16_t dom;
    uint8_t proto; /* VFR_PROTO_TCP or VFR_PROTO_UDP */
    uint16_t lo, hi;
};

struct vfr_leases {
    struct vfr_lease l[VFR_LEASES_MAX]; /* sorted by (proto, lo) */
    uint32_t count;
};

void vfr_lease_init(struct vfr_leases *t);

/* Replaces every lease of dom by ranges[0..n) (n may be 0: releases them
 * all). Overlapping ranges of dom itself are allowed and merged. On
 * VFR_LEASE_CONFLICT *conflict (if not NULL) is the range in the way. */
enum vfr_lease_status vfr_lease_set(struct vfr_leases *t, uint16_t dom,
                                    const struct vfr_lease *ranges, uint32_t n,
                                    struct vfr_lease *conflict);

/* Finds `count` consecutive ports free in both TCP and UDP within
 * VFR_AUTO_LO..HI, the lowest such range: *lo. Changes nothing. */
enum vfr_lease_status vfr_lease_find_free(const struct vfr_leases *t, uint32_t count, uint16_t *lo);

/* The domain holding (proto, port), VFR_DOM_NONE if nobody. */
uint16_t vfr_lease_owner(const struct vfr_leases *t, uint8_t proto, uint16_t port);

/* Whether dom holds (proto, port). */
bool vfr_lease_held(const struct vfr_leases *t, uint16_t dom, uint8_t proto, uint16_t port);

/* dom's ranges, up to max, into out; returns how many it has. */
uint32_t vfr_lease_list(const struct vfr_leases *t, uint16_t dom, struct vfr_lease *out,
                        uint32_t max);

#endif
