/*
 * netback's logging and auditing: the record log (lease granted and
 * released, flow start and end, rule denials, spoofing drops) and the flow
 * table that produces flow records. Plain C11, no allocation, host-tested
 * in test/unit/netback/test_vfr_log.c.
 *
 * The log is a ring of VFR_LOG_RING records that netback drains towards
 * the control domain (as catalog messages: a later step). A flood cannot
 * grow it or starve the rest: records other than lease changes pass a
 * token bucket (rate per second, with a burst); a record refused by the
 * bucket or a full ring is counted, and the next record that gets in is
 * preceded by a VFR_LOG_LOST record saying how many were lost. Sequence
 * numbers count the records stored, without gaps, so a reader knows it saw
 * everything the log kept and, through VFR_LOG_LOST, what it did not keep.
 *
 * The flow table keeps VFR_FLOWS_MAX flows (protocol, domain, the
 * domain's port, the peer's address and port): packets and bytes each way,
 * start and last activity. A flow ends when TCP saw a RST or FINs both
 * ways, when it has been idle for VFR_FLOW_IDLE_TCP_NS (TCP) or
 * VFR_FLOW_IDLE_NS (others), when its domain leaves, or when the table is
 * full and it is the least recently active (a flood of new flows evicts old
 * ones, each with its flow-end record, rate-limited like the rest).
 */
#ifndef NETBACK_VFR_LOG_H
#define NETBACK_VFR_LOG_H

#include <stdbool.h>
#include <stdint.h>

#define VFR_LOG_RING 512u
#define VFR_FLOWS_MAX 1024u
#define VFR_FLOW_BUCKETS 1024u
#define VFR_FLOW_IDLE_NS (30ull * 1000000000ull)
#define VFR_FLOW_IDLE_TCP_NS (300ull * 1000000000ull)

enum vfr_log_type {
    VFR_LOG_LEASE_GRANTED = 1,
    VFR_LOG_LEASE_RELEASED,
    VFR_LOG_FLOW_START,
    VFR_LOG_FLOW_END,
    VFR_LOG_DENIED, /* a rule denied a packet (rule, direction) */
    VFR_LOG_SPOOF,  /* a domain's packet with a source not its own (reason) */
    VFR_LOG_LOST,   /* `count` records were not kept before this one */
};

struct vfr_log_rec {
    uint64_t seq, at_ns;
    uint8_t type, proto, reason, dir;
    uint16_t dom;
    uint32_t src, dst; /* host order */
    uint16_t sport, dport;
    int32_t rule;
    uint16_t lo, hi; /* lease records: the range */
    uint64_t pkts_in, pkts_out, bytes_in, bytes_out, duration_ns;
    uint64_t count; /* VFR_LOG_LOST */
};

struct vfr_log {
    struct vfr_log_rec ring[VFR_LOG_RING];
    uint32_t head, len;
    uint64_t next_seq;
    uint64_t rate_per_s, burst; /* records; rate 0: no limit */
    uint64_t tokens, refill_at; /* tokens scaled by 1e9 */
    uint64_t lost_pending;      /* lost since the last record kept */
    uint64_t kept, lost_rate, lost_full;
};

void vfr_log_init(struct vfr_log *l, uint64_t rate_per_s, uint64_t burst, uint64_t now_ns);
/* Stores a copy of r (seq and at_ns filled in). Lease records are never
 * refused by the rate, only by a full ring. Returns whether it was kept. */
bool vfr_log_put(struct vfr_log *l, const struct vfr_log_rec *r, uint64_t now_ns);
/* The oldest record, removed; false if none. */
bool vfr_log_take(struct vfr_log *l, struct vfr_log_rec *out);

/* ---- Flows ------------------------------------------------------------------------ */

struct vfr_flow_key {
    uint8_t proto;
    uint16_t dom;
    uint16_t lport; /* the domain's port */
    uint32_t peer;
    uint16_t pport;
};

struct vfr_flow {
    bool used;
    struct vfr_flow_key k;
    uint64_t start_ns, last_ns;
    uint64_t pkts_in, pkts_out, bytes_in, bytes_out;
    uint8_t fins;               /* bit 0: FIN in, bit 1: FIN out */
    int32_t next;               /* hash chain */
    int32_t lru_prev, lru_next; /* least recently active first */
};

struct vfr_flows {
    struct vfr_flow f[VFR_FLOWS_MAX];
    int32_t bucket[VFR_FLOW_BUCKETS];
    int32_t lru_head, lru_tail, free_head;
    uint32_t count;
    uint64_t started, ended, evicted;
};

void vfr_flows_init(struct vfr_flows *t);
/* A packet of flow k in direction in (towards the domain) or out, with its
 * TCP flags (0 otherwise): counted; a new flow logs its start, a flow that
 * ends with it (RST, the second FIN) logs its end. */
void vfr_flows_note(struct vfr_flows *t, struct vfr_log *log, const struct vfr_flow_key *k, bool in,
                    uint32_t bytes, uint8_t tcp_flags, uint64_t now_ns);
/* Ends idle flows (at most `budget` of them; returns how many). */
uint32_t vfr_flows_expire(struct vfr_flows *t, struct vfr_log *log, uint64_t now_ns,
                          uint32_t budget);
/* Ends every flow of dom (it left). */
void vfr_flows_end_dom(struct vfr_flows *t, struct vfr_log *log, uint16_t dom, uint64_t now_ns);

#endif
