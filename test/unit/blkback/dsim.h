/*
 * A discrete-event simulator of blkback's disk scheduler (dsched.c): a
 * device with a number of parallel slots whose service time is a fixed
 * cost plus a cost per KiB (with jitter), and clients that are closed loops
 * (keep `depth` requests outstanding: saturating) or open loops (Poisson
 * arrivals at a rate), each active in a window of time, each a flow of the
 * scheduler with its own QoS. Time is virtual; results are deterministic
 * for a seed. Counts are taken over a measurement window, by completion.
 */
#ifndef BLKBACK_DSIM_H
#define BLKBACK_DSIM_H

#include <stdbool.h>
#include <stdint.h>

#include "dsched.h"

#define SIM_CLIENTS_MAX 8u
#define SIM_POOL 512u /* requests per client; an open loop beyond it drops */

enum sim_kind { SIM_CLOSED, SIM_OPEN };

struct sim_client_cfg {
    struct dsched_qos qos;
    enum sim_kind kind;
    uint32_t bytes;     /* request size */
    uint32_t bytes_alt; /* if not 0, each request is bytes or bytes_alt, at random */
    uint32_t depth;     /* closed: requests kept outstanding */
    double rate_iops;   /* open: mean arrival rate */
    uint64_t start_ns;  /* active from */
    uint64_t stop_ns;   /* to (0: the end); requests still queued are served */
};

struct sim_dev_cfg {
    uint64_t fixed_ns;   /* per request */
    uint64_t ns_per_kib; /* per KiB of data */
    uint32_t slots;      /* requests served in parallel */
    uint32_t jitter_pct; /* service times uniform in +-jitter_pct % */
};

/* A live QoS change (hvctl disk-qos) at at_ns. */
struct sim_change {
    uint64_t at_ns;
    uint32_t client;
    struct dsched_qos qos;
};

struct sim_cfg {
    struct sim_dev_cfg dev;
    enum dsched_policy policy;
    uint32_t op_cost_bytes; /* 0: the default */
    uint32_t client_count;
    struct sim_client_cfg client[SIM_CLIENTS_MAX];
    uint64_t duration_ns;
    uint64_t window_from_ns, window_to_ns; /* to 0: duration */
    uint32_t change_count;
    struct sim_change change[4];
    uint32_t seed;
};

struct sim_client_result {
    uint64_t ops, bytes, cost, reservation_ops, dropped;
    double iops;      /* ops per second in the window */
    double bps;       /* bytes per second */
    double cost_rate; /* 4 KiB-equivalent operations per second (cost / unit) */
    uint64_t lat_p50_ns, lat_p99_ns, lat_max_ns;
    uint64_t throttled_ns; /* in the window */
};

struct sim_result {
    struct sim_client_result c[SIM_CLIENTS_MAX];
    double busy_fraction;       /* of slot time in the window */
    uint64_t idle_violation_ns; /* a slot free while an unlimited client had queued requests */
    uint64_t dispatches;
    uint64_t wrong_flow; /* dispatches that named another flow than the request's */
};

/* Runs c; 0, or -1 for a bad configuration. */
int sim_run(const struct sim_cfg *c, struct sim_result *r);

/* The device's capacity in requests of `bytes` per second (no jitter). */
double sim_capacity(const struct sim_dev_cfg *d, uint32_t bytes);

#endif
