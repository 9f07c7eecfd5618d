/*
 * The scheduling policy of the hypervisor (hv/sched/): per-CPU run queues,
 * weighted fair virtual-time accounting, per-domain caps, SMT-aware wake-up
 * placement and work stealing, and gang scheduling. docs/sched.md explains
 * the policy, its formulas and constants.
 *
 * The policy is plain C: no hardware access, no allocation, no floating
 * point. All its state lives in a caller-provided struct sched (the
 * hypervisor has one static instance; the host simulator makes several).
 * The per-CPU mechanism (context switch, timers, IPIs) calls it:
 *
 *   - sched_pick(cpu) when that CPU's slice expires, when it was kicked,
 *     or right after the VCPU it runs blocked (sched_block). It returns the
 *     VCPU to run next and for how long.
 *   - sched_wake() when an event makes a blocked VCPU runnable; it returns
 *     the CPUs to kick (an IPI that makes each call sched_pick), if any.
 *   A CPU calls sched_pick no later than the end of the slice it was given.
 *
 * Locking: every function must be called with one global scheduler lock
 * held (the caller's); the policy itself takes no lock. Time: now_ns is a
 * machine-wide monotonic clock in nanoseconds, below 2^63; a call with a
 * now_ns older than the newest seen is treated as happening at the newest.
 * Handles, CPU numbers and parameters are all checked (HV_ENOENT/HV_EINVAL)
 * before anything changes.
 *
 * Unfinished: a single global lock (data is already per-CPU, so the lock
 * can be split later); CPUs cannot be hot-plugged after sched_init.
 */
#ifndef HV_SCHED_H
#define HV_SCHED_H

#include "types.h"
#include <hv/abi.h>

/* Documented maxima (fixed-size tables, no allocation). */
#define SCHED_MAX_CPUS 64u
#define SCHED_MAX_VCPUS 256u
#define SCHED_MAX_DOMAINS 256u

/* Domain parameters and their ranges. */
#define SCHED_WEIGHT_MIN 1u
#define SCHED_WEIGHT_MAX 65535u
#define SCHED_WEIGHT_DEFAULT 256u
#define SCHED_CAP_MAX_PCT (100u * SCHED_MAX_CPUS) /* 0 = no cap */

/*
 * Time constants (docs/sched.md justifies each value).
 *   SLOT: every slice ends at a global boundary, a multiple of SLOT; gang
 *     domains rendezvous there.
 *   PERIOD: caps are enforced per accounting period (a multiple of SLOT).
 *   MIGRATE_COST_*: a queued VCPU that ran within this time on its CPU is
 *     cache-hot and is not stolen by a CPU at that distance.
 *   STEAL_INTERVAL: the longest a CPU stays idle while a VCPU it may run
 *     waits on another CPU's queue (= the largest migration cost).
 *   STARVE: a runnable VCPU (or gang) that waited this long is run first.
 */
#define SCHED_SLOT_NS 10000000ull              /* 10 ms */
#define SCHED_PERIOD_NS (3 * SCHED_SLOT_NS)    /* 30 ms */
#define SCHED_MIGRATE_COST_SMT_NS 0ull         /* SMT sibling: shares L1/L2 */
#define SCHED_MIGRATE_COST_PKG_NS 200000ull    /* same package: shares LLC */
#define SCHED_MIGRATE_COST_REMOTE_NS 500000ull /* another package */
#define SCHED_STEAL_INTERVAL_NS SCHED_MIGRATE_COST_REMOTE_NS
#define SCHED_STARVE_NS 250000000ull     /* 250 ms */
#define SCHED_STARVE_SLICE_NS 1000000ull /* 1 ms */
#define SCHED_MIN_SLICE_NS 50000ull      /* 50 us */
/*
 * Upper bound on how long a runnable VCPU waits before it runs, when at
 * most q VCPUs that may run on its CPUs are starved at the same time:
 * SCHED_STARVE_NS + 2 * SCHED_SLOT_NS + q * SCHED_STARVE_SLICE_NS.
 */
#define SCHED_MAX_WAIT_NS(q)                                                                       \
    (SCHED_STARVE_NS + 2 * SCHED_SLOT_NS + (uint64_t)(q)*SCHED_STARVE_SLICE_NS)

/* Virtual-time knobs, in the vtime of a default-weight lone VCPU (= ns). */
#define SCHED_WAKE_BONUS_VT (SCHED_SLOT_NS / 2) /* sleeper credit */
#define SCHED_WAKE_PREEMPT_VT 1000000ull        /* wakee preempts if ahead by */
#define SCHED_BALANCE_VT (2 * SCHED_SLOT_NS)    /* steal for fairness if behind by */

typedef uint64_t sched_cpumask_t; /* bit i = CPU i */
typedef uint16_t sched_vcpu_t;    /* VCPU handle returned by sched_add_vcpu */

#define SCHED_VCPU_NONE ((sched_vcpu_t)0xffff) /* idle / no VCPU */
#define SCHED_NO_CPU 0xffffffffu

/* Steal distances, nearest first. */
enum sched_level {
    SCHED_LEVEL_SMT = 0,    /* SMT siblings: same package and core */
    SCHED_LEVEL_PKG = 1,    /* other cores of the same package */
    SCHED_LEVEL_REMOTE = 2, /* other packages */
    SCHED_LEVEL_COUNT = 3,
};

/* Topology input: one entry per CPU, CPU numbers are the array indices. */
struct sched_cpu_topo {
    uint16_t package_id;
    uint16_t core_id;   /* unique within the package */
    uint16_t thread_id; /* unique within the core */
};

struct sched_topology {
    uint32_t cpu_count; /* 1..SCHED_MAX_CPUS */
    struct sched_cpu_topo cpu[SCHED_MAX_CPUS];
};

/* Parameters a control domain may set for a domain. */
struct sched_domain_params {
    uint32_t weight;  /* SCHED_WEIGHT_MIN..SCHED_WEIGHT_MAX */
    uint32_t cap_pct; /* percent of one CPU, 0 = no cap, <= SCHED_CAP_MAX_PCT */
    bool gang;        /* co-schedule all VCPUs or none */
};

enum sched_vcpu_state {
    SCHED_VCPU_FREE = 0,
    SCHED_VCPU_BLOCKED,   /* not runnable */
    SCHED_VCPU_QUEUED,    /* runnable, on the run queue of .cpu */
    SCHED_VCPU_RUNNING,   /* running on .cpu */
    SCHED_VCPU_GANG_WAIT, /* runnable gang member waiting for a gang slot */
};

/* Per-VCPU statistics (shown by `hvctl top`). */
struct sched_vcpu_stats {
    uint64_t run_ns;     /* total time running */
    uint64_t wait_ns;    /* total time runnable but not running */
    uint64_t migrations; /* times it started running on a CPU other than the last */
    uint32_t cpu;        /* current or last CPU, SCHED_NO_CPU if never ran */
    uint8_t state;       /* enum sched_vcpu_state */
    bool parked;         /* runnable but its domain is out of cap budget */
    domid_t domid;
};

/* Per-CPU statistics, for tests and `hvctl info`. */
struct sched_cpu_stats {
    uint64_t steals[SCHED_LEVEL_COUNT]; /* VCPUs this CPU took, by distance */
    sched_vcpu_t current;               /* SCHED_VCPU_NONE when idle */
    uint32_t queued;                    /* VCPUs on its run queue */
    sched_vcpu_t gang_reserved;         /* gang VCPU owning it this slot */
};

/* What a CPU runs next (result of sched_pick). */
struct sched_decision {
    sched_vcpu_t vcpu;         /* SCHED_VCPU_NONE: idle */
    uint64_t slice_ns;         /* call sched_pick again at now + slice_ns at the latest */
    sched_cpumask_t kick_mask; /* also kick these CPUs (they have work to take) */
};

/* ---- Internal state. Callers allocate it; only sched_*.c touch fields. ---- */

struct sched_vcpu {
    uint8_t state;           /* enum sched_vcpu_state */
    bool block_pending;      /* blocked while running: leaves at the next pick */
    uint16_t dom;            /* index into sched.dom */
    uint32_t cpu;            /* CPU of its queue or where it runs */
    uint32_t last_cpu;       /* CPU it last ran on, SCHED_NO_CPU if never */
    sched_vcpu_t next, prev; /* run-queue links */
    sched_cpumask_t affinity;
    uint64_t vtime;
    uint64_t since_ns;    /* start of the current run or wait */
    uint64_t last_ran_ns; /* end of the last run, for cache hotness */
    uint64_t granted_ns;  /* cap budget promised to the current run */
    uint64_t run_ns, wait_ns, migrations;
};

struct sched_dom {
    bool used;
    bool gang;
    bool gang_active; /* gang holds CPUs in the current slot */
    domid_t domid;
    uint32_t weight, cap_pct;
    uint32_t vcpu_count, runnable_count;
    int64_t budget_ns;           /* cap budget left this period (may go negative) */
    uint64_t committed_ns;       /* budget granted to running VCPUs, not yet charged */
    uint64_t gang_end_ns;        /* end of the gang's run in the current slot */
    bool gang_vt_valid;          /* gang_vt computed for the current plan */
    uint64_t gang_vt;            /* smallest vtime of runnable members (plan scratch) */
    bool gang_waiting;           /* runnable and not planned ... */
    uint64_t gang_wait_since_ns; /* ... since this time */
};

struct sched_cpu {
    sched_vcpu_t current;
    sched_vcpu_t head; /* run queue, unordered doubly-linked list */
    uint32_t queued;
    sched_vcpu_t gang_vcpu; /* reservation in the current slot */
    /* A gang member another CPU's slot plan took off this CPU: the
     * mechanism still runs it here (its frame is live on this CPU) until
     * this CPU's next sched_pick, so no other CPU may be given it before. */
    sched_vcpu_t held;
    uint16_t package_id, core_id, thread_id;
    uint64_t idle_until_ns; /* idle: when it calls sched_pick again; else 0 */
    uint64_t idle_since_ns; /* idle: since when */
    sched_cpumask_t level_mask[SCHED_LEVEL_COUNT];
    uint64_t steals[SCHED_LEVEL_COUNT];
};

struct sched {
    uint32_t cpu_count;
    sched_cpumask_t all_cpus;
    uint64_t now_ns;    /* newest time seen */
    uint64_t slot;      /* index of the current slot (now / SLOT) */
    uint64_t period;    /* index of the current accounting period */
    uint64_t vclock;    /* global virtual-time reference (monotonic) */
    uint32_t vcpu_high; /* VCPU slots [0, vcpu_high) may be in use */
    struct sched_cpu cpu[SCHED_MAX_CPUS];
    struct sched_dom dom[SCHED_MAX_DOMAINS];
    struct sched_vcpu vcpu[SCHED_MAX_VCPUS];
};

/* ---- API ---- */

/* Resets *s for the given topology. HV_EINVAL if the CPU count is 0 or too
 * large or two CPUs have the same (package, core, thread). */
enum hv_status sched_init(struct sched *s, const struct sched_topology *topo);

/* Adds a domain. HV_EEXIST if domid is known, HV_EINVAL on a bad parameter,
 * HV_ENOMEM if the domain table is full. */
enum hv_status sched_add_domain(struct sched *s, domid_t domid,
                                const struct sched_domain_params *p);

/* Changes weight, cap and gang flag. Turning gang on fails with HV_E2BIG if
 * the domain's VCPUs cannot all run on distinct CPUs of their affinities.
 * Changing the gang flag is refused (HV_EBUSY) while a VCPU is runnable.
 * Nothing changes on error. */
enum hv_status sched_set_domain(struct sched *s, domid_t domid,
                                const struct sched_domain_params *p);

/* Removes a domain that has no VCPUs left (else HV_EBUSY). */
enum hv_status sched_remove_domain(struct sched *s, domid_t domid);

/* Adds a blocked VCPU to a domain with a hard-affinity mask (CPUs outside
 * the topology are ignored; none left is HV_EINVAL). HV_E2BIG if the domain
 * is a gang and could no longer run all VCPUs on distinct CPUs. */
enum hv_status sched_add_vcpu(struct sched *s, domid_t domid, sched_cpumask_t affinity,
                              sched_vcpu_t *out);

/* Removes a VCPU; it must be blocked and descheduled (else HV_EBUSY). */
enum hv_status sched_remove_vcpu(struct sched *s, sched_vcpu_t v);

/* Sets the hard affinity (pinning). *kick_mask gets the CPUs that must call
 * sched_pick for the change to take effect. HV_E2BIG as for add. */
enum hv_status sched_set_affinity(struct sched *s, sched_vcpu_t v, sched_cpumask_t affinity,
                                  uint64_t now_ns, sched_cpumask_t *kick_mask);

/* Makes a VCPU runnable and places it. *kick_mask gets the CPUs that must
 * call sched_pick: normally none or one (an idle CPU, or one running
 * something the wakee should preempt); all the CPUs of a gang when a member
 * that cannot join the running gang stops it. Waking a runnable VCPU is a
 * no-op. */
enum hv_status sched_wake(struct sched *s, sched_vcpu_t v, uint64_t now_ns,
                          sched_cpumask_t *kick_mask);

/* Makes a VCPU not runnable. If it is running, *kick_mask holds the CPU
 * running it, which must call sched_pick (normally the caller's own CPU). */
enum hv_status sched_block(struct sched *s, sched_vcpu_t v, uint64_t now_ns,
                           sched_cpumask_t *kick_mask);

/* Accounts the VCPU that ran on cpu, and chooses what runs next: a reserved
 * gang member, else the best local VCPU, else (or when a remote one is
 * owed far more CPU) one stolen from the nearest CPU first. */
enum hv_status sched_pick(struct sched *s, uint32_t cpu, uint64_t now_ns,
                          struct sched_decision *out);

/* The running VCPU v gives up the rest of its turn: its virtual time moves
 * just behind every VCPU queued on its CPU, so the caller's next sched_pick
 * runs one of them if there is one (and v again otherwise). No-op for a VCPU
 * that is not running. */
enum hv_status sched_vcpu_yield(struct sched *s, sched_vcpu_t v, uint64_t now_ns);

enum hv_status sched_vcpu_stats(const struct sched *s, sched_vcpu_t v, uint64_t now_ns,
                                struct sched_vcpu_stats *out);
enum hv_status sched_cpu_stats(const struct sched *s, uint32_t cpu, struct sched_cpu_stats *out);

#endif /* HV_SCHED_H */
