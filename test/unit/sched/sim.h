/*
 * A discrete-event simulator that drives the scheduling policy the way the
 * per-CPU mechanism will: sched_pick when a slice ends or a CPU is kicked,
 * sched_block when a VCPU's burst of work ends, sched_wake when its I/O
 * completes. It measures what actually ran (independently of the policy's
 * own statistics) and checks invariants at every instant. Test code only.
 */
#ifndef SCHED_SIM_H
#define SCHED_SIM_H

#include "sched.h"

#define SIM_MAX_DOMS 16
#define SIM_MAX_VCPUS 64

struct sim_dom_cfg {
    domid_t id;
    struct sched_domain_params p;
};

/* run_ns == 0: CPU-bound. Otherwise I/O-bound: bursts of about run_ns of
 * CPU, then blocked for about block_ns (both jittered +-50%). */
struct sim_vcpu_cfg {
    domid_t dom;
    sched_cpumask_t affinity; /* 0 = all CPUs */
    uint64_t run_ns, block_ns;
};

struct sim_cfg {
    uint32_t packages, cores, threads;
    uint32_t dom_count, vcpu_count;
    struct sim_dom_cfg dom[SIM_MAX_DOMS];
    struct sim_vcpu_cfg vcpu[SIM_MAX_VCPUS];
    uint64_t duration_ns;
    uint32_t seed;
};

struct sim_result {
    double vcpu_run_ns[SIM_MAX_VCPUS];
    double dom_run_ns[SIM_MAX_DOMS];
    double dom_share[SIM_MAX_DOMS];      /* CPUs' worth: run time / duration */
    uint64_t max_wait_ns[SIM_MAX_VCPUS]; /* longest runnable-not-running stretch */
    uint64_t max_idle_overload_ns;       /* idle CPU while work it may run waited elsewhere */
    uint64_t gang_violations;            /* instants where a gang ran partially */
    uint64_t gang_instants;              /* instants where a gang ran */
    uint64_t pin_violations;
    uint64_t consistency_errors; /* sim view != policy view, or stats mismatch */
    uint64_t steals[SCHED_LEVEL_COUNT];
    uint64_t migrations;
    uint64_t picks;
    double idle_fraction;
};

/* Runs the simulation; returns 0, or -1 if the policy refused the setup. */
int sim_run(const struct sim_cfg *cfg, struct sim_result *out);

/* Ideal CPU shares (CPUs' worth per domain) of CPU-bound VCPUs under
 * weighted fair sharing: each VCPU weighs its domain's weight divided by
 * the domain's VCPU count, may use at most one CPU, water-filling. */
void sim_ideal_shares(const struct sim_cfg *cfg, double *dom_share);

#endif /* SCHED_SIM_H */
