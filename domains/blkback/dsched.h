/*
 * The disk scheduler of blkback: which queued request goes to the device
 * next. Plain C11, no allocation, no floating point, no hardware: the same
 * file runs in blkback and in the host simulator (test/unit/blkback/).
 *
 * A *flow* is one attached volume of one front end. Each has a QoS:
 *
 *   iops_min  reservation: this many operations per second at least, as
 *             long as the device can serve the sum of all reservations;
 *   iops_max  limit in operations per second (0: none);
 *   bps_max   limit in bytes per second (0: none);
 *   weight    its share of whatever the reservations leave (1..1000).
 *
 * Operations are counted in **cost units**: a request of b bytes costs
 * op_cost + b, where op_cost is the device's fixed cost of one request
 * expressed in bytes (dsched_init; the default, 28 KiB, makes a 4 KiB
 * request cost 32 KiB and a 64 KiB one 92 KiB, i.e. 2.875 times as much).
 * One "operation" of iops_min/iops_max is the cost of a 4 KiB request, so a
 * flow limited to 1000 IOPS gets 1000 4 KiB requests or about 348 64 KiB ones
 * per second. A flush costs op_cost alone.
 *
 * The policy (docs/blkback.md#the-disk-scheduler) is mClock's (Gulati,
 * Merchant, Varman, OSDI 2010) with start-time fair queueing (SFQ(D), Jin,
 * Chase, Kaur 2004) for the proportional phase:
 *
 *   - the reservation tag R of a flow's head is max(R_next, the arrival of
 *     the request that found the flow's queue empty); every request
 *     dispatched *because of* the reservation advances R_next by
 *     cost / iops_min (real time, nanoseconds);
 *   - the limit tags L and B are max(L_next, the head's arrival) and
 *     max(B_next, arrival); every dispatch advances them by cost / iops_max
 *     and bytes / bps_max;
 *   - the share tag S is max(F_last, V) when the request becomes the head,
 *     F_last = S + cost / weight (virtual time), V the S of the last request
 *     dispatched in the weight phase.
 *
 *   dispatch(now): if some head has R <= now, the smallest R goes
 *   (reservation phase, limits not applied: iops_min <= iops_max); else
 *   among heads with L <= now and B <= now the smallest S goes (weight
 *   phase); else nothing, and *wake_ns says when something becomes eligible.
 *
 * Consequences (each checked by the simulator, test_dsched_sim.c): shares
 * of the rest follow weights in cost units; a reservation is met while the
 * sum fits the device (and reservations share an overloaded device in their
 * ratio); a limited flow never exceeds its limit and the device never idles
 * while a flow under its limit waits (work-conserving); a flow that was idle
 * gets no credit for it (R, L, B restart at its arrival, S at V); requests
 * dispatched for the reservation count against the flow's share, so a flow
 * gets about max(reservation, share), not their sum. A limit can be
 * exceeded only by a burst of requests that each waited longer than the
 * limit's spacing (at most the flow's queue); a reservation that the device
 * could not meet (reservations adding up to more than it serves) is owed
 * for as long as the flow stays backlogged, which is what makes overloaded
 * reservations share the device in their ratio. mClock restarts R at each
 * request's arrival instead, which under overload serves closed-loop
 * clients in arrival order, i.e. equally.
 *
 * DSCHED_RR is the baseline the benchmarks compare against: plain round
 * robin, one request per backlogged flow in turn, QoS ignored.
 *
 * Not thread-safe: one caller (blkback's loop) at a time. Times are the
 * caller's nanoseconds (monotonic); they never go backwards.
 */
#ifndef BLKBACK_DSCHED_H
#define BLKBACK_DSCHED_H

#include <stdbool.h>
#include <stdint.h>

#define DSCHED_FLOWS_MAX 64u
#define DSCHED_WEIGHT_MAX 1000u
#define DSCHED_WEIGHT_DEFAULT 1u
#define DSCHED_IOPS_LIMIT 10000000u        /* largest iops_min/iops_max */
#define DSCHED_BPS_LIMIT (1ull << 40)      /* largest bps_max: 1 TiB/s */
#define DSCHED_REQ_BYTES_MAX (4u << 20)    /* largest request the cost model takes */
#define DSCHED_OP_COST_DEFAULT (28u << 10) /* bytes */
#define DSCHED_OP_COST_MAX (1u << 20)      /* bytes */
#define DSCHED_UNIT_BYTES 4096u            /* an "operation" is a 4 KiB request */
#define DSCHED_VT_SCALE 65536u             /* virtual time per cost byte at weight 1 */
#define DSCHED_NEVER UINT64_MAX

enum dsched_policy {
    DSCHED_MCLOCK = 0, /* reservations, limits, weights */
    DSCHED_RR = 1,     /* plain round robin (the baseline) */
};

/* Why a request was dispatched (dsched_req.phase). */
enum dsched_phase {
    DSCHED_PHASE_NONE = 0,
    DSCHED_PHASE_RESERVATION = 1,
    DSCHED_PHASE_WEIGHT = 2,
    DSCHED_PHASE_RR = 3,
};

struct dsched_qos {
    uint32_t iops_min; /* 0: no reservation */
    uint32_t iops_max; /* 0: no limit */
    uint64_t bps_max;  /* 0: no limit */
    uint32_t weight;   /* 1..DSCHED_WEIGHT_MAX */
};

/* A request as the scheduler sees it: embed it in your own. The caller
 * fills arrival_ns and bytes before dsched_enqueue; dispatch sets phase. */
struct dsched_req {
    struct dsched_req *next;
    uint64_t arrival_ns;
    uint32_t bytes; /* 0..DSCHED_REQ_BYTES_MAX (more is charged as the max); 0 for a flush */
    uint8_t phase;  /* enum dsched_phase */
};

/* What the scheduler counts per flow (dispatched requests). */
struct dsched_flow_stats {
    uint64_t ops;             /* dispatched */
    uint64_t bytes;           /* their data */
    uint64_t cost;            /* their cost (bytes, see the top) */
    uint64_t reservation_ops; /* dispatched in the reservation phase */
    uint64_t throttled_ns;    /* time its head waited for its limit, settled at dispatch */
};

/* One flow. Caller-owned, zeroed before dsched_attach; the fields are the
 * scheduler's. */
struct dsched_flow {
    struct dsched_qos qos;
    struct dsched_req *head, *tail;
    uint32_t queued;
    uint32_t index; /* in dsched.flows while attached */
    bool attached;
    uint64_t r_next_ns, l_next_ns, b_next_ns; /* see the top */
    uint64_t backlog_from_ns;                 /* arrival of the request that found it empty */
    uint64_t s_tag, f_last;                   /* virtual time */
    uint64_t thr_from_ns, thr_until_ns;       /* a limit wait in progress */
    struct dsched_flow_stats stats;
};

struct dsched {
    enum dsched_policy policy;
    uint32_t op_cost_bytes;
    uint64_t unit_cost; /* op_cost + DSCHED_UNIT_BYTES */
    struct dsched_flow *flows[DSCHED_FLOWS_MAX];
    uint32_t flow_count;
    uint32_t queued; /* over every flow */
    uint64_t vtime;  /* V */
    uint32_t rr_next;
};

/* Sets up s (any previous content is ignored). op_cost_bytes is clamped to
 * DSCHED_OP_COST_MAX; 0 means DSCHED_OP_COST_DEFAULT. */
void dsched_init(struct dsched *s, enum dsched_policy policy, uint32_t op_cost_bytes);

/* Switches the policy; queued requests stay, tags restart at now. */
void dsched_set_policy(struct dsched *s, enum dsched_policy policy, uint64_t now_ns);

/* NULL if q is acceptable, else why not (a constant string): weight 0 or
 * above DSCHED_WEIGHT_MAX, a rate above its bound, iops_min above iops_max
 * when both are set. */
const char *dsched_qos_check(const struct dsched_qos *q);

/* The cost of a request of `bytes` (see the top). */
uint64_t dsched_cost(const struct dsched *s, uint32_t bytes);

/* Attaches f (zeroed by the caller) with q. false if q is refused
 * (dsched_qos_check) or DSCHED_FLOWS_MAX flows are attached; nothing
 * changes then. */
bool dsched_attach(struct dsched *s, struct dsched_flow *f, const struct dsched_qos *q,
                   uint64_t now_ns);

/* Detaches f and returns its queued requests as a list (oldest first; NULL
 * if none), which the caller completes or frees. f may be attached again. */
struct dsched_req *dsched_detach(struct dsched *s, struct dsched_flow *f, uint64_t now_ns);

/* Changes f's QoS live. false (nothing changed) if q is refused. The flow's
 * tags restart at now, and a share lead it built up is dropped, so neither
 * the old reservation nor the old weight haunts the new one. */
bool dsched_set_qos(struct dsched *s, struct dsched_flow *f, const struct dsched_qos *q,
                    uint64_t now_ns);

/* Queues r (arrival_ns and bytes filled in) at the tail of f. */
void dsched_enqueue(struct dsched *s, struct dsched_flow *f, struct dsched_req *r, uint64_t now_ns);

/*
 * The next request to send to the device, taken off its queue, with its
 * flow in *flow and its phase set; or NULL when nothing may go now, with
 * *wake_ns the earliest time something becomes eligible (DSCHED_NEVER when
 * nothing is queued). The caller calls it whenever the device can take one
 * more request, and again at *wake_ns.
 */
struct dsched_req *dsched_dispatch(struct dsched *s, uint64_t now_ns, struct dsched_flow **flow,
                                   uint64_t *wake_ns);

/* f's throttled time including a limit wait still in progress at now. */
uint64_t dsched_flow_throttled_ns(const struct dsched_flow *f, uint64_t now_ns);

#endif
