/*
 * netback's network scheduler: which domain's queued packet goes next, in
 * one direction (transmit to the wire, or receive into the domains). Plain
 * C11, no allocation, no floating point, no hardware: the same file runs in
 * netback and in the host simulator (test/unit/netback/test_nsched.c).
 *
 * A *flow* is one domain in one direction. Each has a class:
 *
 *   rate_bps, burst_bytes   a token bucket in bytes: the flow never sends
 *                           more than burst_bytes + rate_bps * t in any
 *                           span t (0: no limit);
 *   rate_pps, burst_pkts    the same in packets;
 *   floor_bps               a guaranteed rate: while the flow is backlogged
 *                           it gets at least this much, as long as the link
 *                           can carry the sum of all floors;
 *   weight                  its share of what the floors leave (1..1000).
 *
 * The policy is the disk scheduler's (domains/blkback/dsched.h, mClock with
 * start-time fair queueing) in bytes:
 *
 *   - the floor tag R of a flow's head is max(R_next, the time the flow
 *     became backlogged); every packet sent *because of* the floor advances
 *     R_next by len / floor_bps;
 *   - the share tag S of a head is max(F_last, V) when it becomes the head;
 *     F_last = S + len / weight (virtual time); V is the S of the last
 *     packet sent in the share phase;
 *   - dispatch(now): among heads the token buckets allow, the smallest R
 *     that is <= now goes (floor phase); else the smallest S (share phase);
 *     else nothing, and *wake_ns says when a bucket will allow a head.
 *
 * A floor is met only within the flow's own limit (a floor above the limit
 * is refused by nsched_set_class). Packets sent for the floor count against
 * the share, so a flow gets about max(floor, share). A flow that was idle
 * gets no credit for it: R restarts at the moment it becomes backlogged, S
 * at V. The scheduler is work-conserving: it never holds back a packet that
 * no limit holds back.
 *
 * Each flow's queue of packet lengths (the packets themselves are the
 * caller's, in the same order) holds at most NSCHED_QUEUE_MAX; a packet
 * beyond that is refused and counted (the caller drops it).
 */
#ifndef NETBACK_NSCHED_H
#define NETBACK_NSCHED_H

#include <stdbool.h>
#include <stdint.h>

#define NSCHED_FLOWS_MAX 32u
#define NSCHED_QUEUE_MAX 256u
#define NSCHED_WEIGHT_MAX 1000u
#define NSCHED_NONE (-1)

struct nsched_class {
    uint64_t rate_bps, burst_bytes; /* bytes per second, bytes */
    uint64_t rate_pps, burst_pkts;
    uint64_t floor_bps;
    uint32_t weight;
};

struct nsched_flow {
    bool used;
    struct nsched_class c;
    /* Token buckets, scaled by 1e9 (tokens * ns per s). */
    uint64_t tok_bytes, tok_pkts, refill_at;
    /* Tags. */
    uint64_t r_next, s, f_last;
    bool head_tagged;
    /* The queue of packet lengths. */
    uint16_t q[NSCHED_QUEUE_MAX];
    uint32_t q_head, q_len;
    /* Statistics. */
    uint64_t sent_pkts, sent_bytes, refused, floor_pkts;
};

struct nsched {
    struct nsched_flow f[NSCHED_FLOWS_MAX];
    uint64_t v; /* virtual time of the share phase */
};

void nsched_init(struct nsched *s);

/* Sets (or changes, live) flow's class; the flow starts with full buckets.
 * false, changing nothing, if the class is invalid: weight 0 or above
 * NSCHED_WEIGHT_MAX, a rate without a burst (or a burst below one
 * Ethernet frame, 1514 bytes, or one packet), a floor above the rate. */
bool nsched_set_class(struct nsched *s, uint32_t flow, const struct nsched_class *c,
                      uint64_t now_ns);
/* Forgets a flow (its queue too). */
void nsched_remove(struct nsched *s, uint32_t flow);

/* Queues a packet of len bytes (1..65535) for flow; false if the flow is
 * unknown or its queue is full (counted in refused). */
bool nsched_enqueue(struct nsched *s, uint32_t flow, uint32_t len, uint64_t now_ns);

/* The flow whose head packet goes now (removed from its queue, *len set),
 * or NSCHED_NONE; then *wake_ns is when a bucket will allow a queued packet
 * (UINT64_MAX if nothing is queued). */
int32_t nsched_dispatch(struct nsched *s, uint64_t now_ns, uint32_t *len, uint64_t *wake_ns);

/* Packets queued for flow. */
uint32_t nsched_queued(const struct nsched *s, uint32_t flow);

#endif
