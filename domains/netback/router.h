/*
 * netback's router: the VFR's decisions (vfr.h) applied to frames, with the
 * flow table and record log (vfr_log.h) and the transmit scheduler
 * (nsched.h). Plain C: frames come in through nb_router_from_wire and
 * nb_router_from_domain, go out through the caller's callbacks. The same
 * file will run in netback's loop (between the virtio-net driver and the
 * front-end connections) and runs in the host tests, where real guest-kit
 * TCP/IP stacks are the domains and the outside peer
 * (test/unit/netback/test_router.c).
 *
 * Per domain: its leases (nb_router_set_leases, logged as granted and
 * released), rules (nb_router_set_rules, in the VFR), a transmit and a
 * receive class, and two queues of at most NB_TXQ_MAX frames each: one
 * bound for the wire (drained by the transmit scheduler `tx`), one bound
 * for the domain — from the wire, from another domain, ARP replies netback
 * builds — (drained by the receive scheduler `rx`), both in nb_router_poll.
 * A frame that finds its queue full is dropped and counted (TCP backs off):
 * that is how a rate limit towards a domain holds.
 *
 * Logged: lease changes; flow start and end (TCP, UDP, ICMP echo; not
 * later fragments, which have no ports); rule denials; spoofing drops.
 * Other drops are only counted (vfr.drops, per domain).
 *
 * Memory: two queues of NB_TXQ_MAX * 1514 bytes per domain, allocated when
 * the domain joins.
 */
#ifndef NETBACK_ROUTER_H
#define NETBACK_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nsched.h"
#include "vfr.h"
#include "vfr_log.h"

#define NB_TXQ_MAX 64u

struct nb_out {
    void *ctx;
    void (*wire)(void *ctx, const uint8_t *frame, size_t len);
    void (*domain)(void *ctx, uint16_t dom, const uint8_t *frame, size_t len);
};

struct nb_txq {
    uint8_t *buf; /* NB_TXQ_MAX frames of VFR_ETH_MAX bytes */
    uint16_t len[NB_TXQ_MAX];
    uint32_t head, count;
    uint64_t dropped;
};

struct nb_router {
    struct vfr vfr;
    struct vfr_log log;
    struct vfr_flows flows;
    struct nsched tx, rx;           /* to the wire; towards the domains */
    struct nb_txq q[VFR_DOMS_MAX];  /* to the wire, by the domain's index in vfr.doms */
    struct nb_txq rq[VFR_DOMS_MAX]; /* towards the domain, by the same index */
    struct nb_out out;
    uint8_t reply[VFR_ETH_MAX];
    uint64_t to_wire, to_domains;
};

void nb_router_init(struct nb_router *r, uint32_t ext_addr, const uint8_t mac[6],
                    const struct nb_out *out, uint64_t log_rate, uint64_t log_burst,
                    uint64_t now_ns);
/* A domain joins with its transmit and receive classes; false if the
 * tables are full, a class is invalid, the id is there already, or memory
 * is short. */
bool nb_router_add_domain(struct nb_router *r, uint16_t dom, const struct nsched_class *tx,
                          const struct nsched_class *rx, uint64_t now_ns);
/* Replaces dom's rules whole (vfr_rules_replace: -1 done, else the index
 * of the first invalid rule and nothing changed; 0 for an unknown dom). */
int32_t nb_router_set_rules(struct nb_router *r, uint16_t dom, const struct vfr_rule *rules,
                            uint32_t n);
/* It leaves: its flows end (logged), its leases are released (logged), its
 * queue is dropped. */
void nb_router_remove_domain(struct nb_router *r, uint16_t dom, uint64_t now_ns);
/* Replaces dom's leases (vfr_lease_set), logging each range released and
 * granted. */
enum vfr_lease_status nb_router_set_leases(struct nb_router *r, uint16_t dom,
                                           const struct vfr_lease *ranges, uint32_t n,
                                           struct vfr_lease *conflict, uint64_t now_ns);

void nb_router_from_wire(struct nb_router *r, const uint8_t *frame, size_t len, uint64_t now_ns);
void nb_router_from_domain(struct nb_router *r, uint16_t dom, const uint8_t *frame, size_t len,
                           uint64_t now_ns);
/* Sends what the scheduler lets go now (at most budget frames), ends idle
 * flows; returns when it wants to run again (UINT64_MAX: nothing queued). */
uint64_t nb_router_poll(struct nb_router *r, uint64_t now_ns, uint32_t budget);

#endif
