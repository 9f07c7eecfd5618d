/*
 * Domains and their VCPUs. The root domain is built from the first boot
 * module; further domains are created by holders of the right capability.
 * Domains live in a fixed table (DOMAIN_MAX); ids are never reused.
 */
#ifndef HV_DOMAIN_H
#define HV_DOMAIN_H

#include "types.h"
#include "arch.h"
#include "arch_hooks.h"
#include "cap.h"
#include "evtchn.h"
#include "iommu.h"
#include "grant.h"
#include "hv/abi.h"
#include "hv/domctl.h"
#include "hv/shared_info.h"
#include "mm_ops.h"
#include "sched.h"
struct mb2_info;
struct pmm;

/*
 * BUILDING: created, VCPU 0 not started. RUNNING: started (possibly paused).
 * SHUTDOWN: stopped by HC_SHUTDOWN or a kill, memory kept until a holder of
 * its capability destroys it. DEAD: being destroyed. ZOMBIE: destroyed but
 * some of its frames are still mapped by grantees (orphaned grants).
 */
enum domain_state {
    DOMAIN_FREE = 0,
    DOMAIN_BUILDING,
    DOMAIN_RUNNING,
    DOMAIN_SHUTDOWN,
    DOMAIN_DEAD,
    DOMAIN_ZOMBIE,
};

#define DOMAIN_MAX 32
#define VCPU_MAX 8

struct domain;

/* A console ring (hv/core/console.c): bytes [tail, head) are unread. */
struct console_ring {
    uint64_t head;    /* bytes ever written */
    uint64_t tail;    /* bytes ever read (or dropped) */
    uint64_t dropped; /* bytes lost to a full ring */
    char buf[HV_CONSOLE_RING_SIZE];
};

/* A virtual CPU. While it does not run, its ring-3 context is in `arch`. */
struct vcpu {
    struct domain *dom;
    unsigned id;
    bool online;                /* has a context and a scheduler handle */
    bool blocked;               /* not runnable (the policy's view) */
    bool waiting_event;         /* in HC_BLOCK until an event or its timer */
    bool timer_fired;           /* its timer fired since its last HC_BLOCK */
    int on_cpu;                 /* the CPU it is on (running or leaving), -1: none */
    int last_cpu;               /* the CPU it last came onto (its device interrupts' too), -1 */
    uint64_t affinity;          /* hard affinity (HV_DOMCTL_VCPU_PIN), 0: every CPU */
    struct cap_object obj;      /* what VCPU capabilities name */
    sched_vcpu_t sv;            /* the policy's handle */
    uint64_t timer_deadline_ns; /* one-shot timer, 0 = none */
    uint64_t run_start_ns;      /* when it was last put on the CPU */
    uint64_t cpu_time_ns;       /* time it has run */
    struct arch_vcpu *arch;     /* registers and x87/SSE state while off the CPU */
};

struct domain {
    domid_t id;
    bool is_root;
    enum domain_state state;
    mfn_t l4;                               /* the current page-table base (validated) */
    struct mm_domain mm;                    /* base reference, pending mm operation */
    uint64_t pages_count;                   /* frames owned */
    uint64_t max_pages;                     /* memory reservation limit (HV_MEMOP_INCREASE) */
    mfn_t shared_info_mfn;                  /* held with a WRITABLE type reference */
    struct hv_shared_info *shared;          /* the same frame through the direct map */
    uint64_t trap_handler[HV_TRAP_VECTORS]; /* 0: no handler (the domain is killed) */
    char name[HV_DOMAIN_NAME_MAX];
    uint64_t uid;         /* never reused, never 0 (events, grants) */
    bool paused;          /* HV_DOMCTL_PAUSE: no VCPU runs */
    bool destroy_pending; /* its last capability went: destroy it soon */
    enum hv_shutdown_reason shutdown_reason;
    uint32_t shutdown_request;        /* HV_DOMCTL_SHUTDOWN_REQUEST: reason + 1, 0: none */
    uint64_t callback;                /* upcall entry (HC_SET_CALLBACK), 0: none */
    struct sched_domain_params sched; /* weight 0 means the default */
    uint64_t creator_uid;             /* who created it (quota goes back there) */
    uint64_t quota_pages;             /* limit carved out of the creator's */
    struct cap_object obj;            /* what domain capabilities name */
    struct cap_object console_obj;    /* what its console capabilities name */
    struct cap_object endpoint_obj[HV_EVTCHN_PORTS]; /* what endpoint capabilities name */
    struct cap_table caps;                           /* its capabilities */
    struct evtchn_domain ev;                         /* its event channels */
    struct grant_table gt;                           /* its grants */
    struct iommu_dom iommu;                          /* what its devices may DMA (iommu.h) */
    struct console_ring con_out;                     /* what it wrote (HC_CONSOLE_WRITE) */
    struct console_ring con_in;                      /* what its console holder typed */
    uint64_t con_watcher_uid;                        /* gets HV_VIRQ_CONSOLE on output, 0: none */
    /* Console output is collected per line so that lines of different
     * domains never interleave in the log. */
    char console_line[160];
    size_t console_len;
    unsigned vcpu_count; /* VCPUs known to the scheduler */
    unsigned max_vcpus;  /* VCPUs it may start */
    struct vcpu vcpus[VCPU_MAX];
    /* Teardown (DEAD and ZOMBIE; hv/core/dom_teardown.c). */
    uint8_t td_stage;           /* the next stage */
    bool td_started;            /* DEAD with its teardown under way */
    uint32_t td_index;          /* capabilities stage: the next object to clear */
    uint32_t td_orphans;        /* grants left orphaned (frames that stay) */
    uint64_t td_cursor;         /* frames stage: the next frame to look at */
    uint64_t owed_teardown_uid; /* d destroyed it: d's hypercalls finish it first */
};

/* The VCPU this CPU runs (NULL while idle) and its domain. */
struct vcpu *sched_current_vcpu(void);
#define current_vcpu (sched_current_vcpu())
#define current_domain (current_vcpu ? current_vcpu->dom : (struct domain *)0)

/* The hypervisor lock (hv/core/schedule.c; hv_lock and hv_unlock are in
 * arch_hooks.h): held by every CPU doing hypervisor work; see schedule.c. */
bool hv_lock_held(void);

/* Allocates a free slot of the domain table with a fresh id (NULL if full). */
struct domain *domain_alloc(void);
/* Zeroes d, a slot of the table, except its id; state BUILDING; its VCPUs
 * get their architecture state (arch_vcpu) back. */
void domain_reset(struct domain *d);
/* The domain with this id, or NULL. */
struct domain *domain_by_id(domid_t id);

/* --- scheduling mechanism (hv/core/schedule.c) --- */
void schedule_init(void);
/* Gives d VCPU `id` with an initial ring-3 context, blocked until woken. */
int vcpu_init(struct domain *d, unsigned id, uint64_t entry, uint64_t stack, uint64_t arg);
void vcpu_wake(struct vcpu *v);
/* Stops v until vcpu_wake (the current VCPU leaves the CPU on exit). */
void vcpu_block(struct vcpu *v);
/* Takes v off the CPU for good (it may be started again with vcpu_init). */
void vcpu_stop(struct vcpu *v);
/* Takes every VCPU of d off the CPU for good (its domain is dying). */
void domain_vcpus_stop(struct domain *d);
/* The current VCPU lets the VCPUs queued on its CPU run first; if the
 * policy picks it again, it goes on after a halt of at most 50 us. */
void schedule_yield(void);
/* A long operation restarts itself: let the policy run something else
 * first if it wants (the current VCPU continues at once otherwise). */
void schedule_preempt_point(void);
/* Scheduling parameters of d (applied now if d has VCPUs in the policy,
 * else when its first VCPU starts); status as sched_set_domain. */
int schedule_set_params(struct domain *d, const struct sched_domain_params *p);
void schedule_get_params(const struct domain *d, struct sched_domain_params *out);
/* Hard affinity of v (0: every CPU); status as sched_set_affinity. */
int schedule_pin(struct vcpu *v, uint64_t mask);
/* State and statistics of v. */
void schedule_vcpu_info(struct vcpu *v, struct hv_domctl_vcpu_info *out);
/* CPUs the scheduler runs on. */
unsigned schedule_cpu_count(void);
/* The CPUs currently running a VCPU of d (bit i = CPU i). */
uint64_t schedule_cpus_running(const struct domain *d);
/* A VCPU timer deadline changed: reprogram the local timer. */
void schedule_timer_changed(void);
/* Starts running VCPUs on this CPU (any CPU, once); never returns. */
__noreturn void schedule_start(void);

/* A module handed to a domain at start of day (copied into its memory). */
struct domain_module {
    const void *bytes;
    uint64_t size_bytes;
    const char *name;
};

/* What to build. The image and modules are hypervisor-readable bytes. */
struct domain_spec {
    const char *name;
    const void *image;
    size_t image_size;
    const char *cmdline;
    uint64_t mem_bytes; /* initial memory */
    uint64_t max_bytes; /* reservation limit */
    uint32_t flags;     /* HV_SIF_* for the start info */
    const struct domain_module *modules;
    size_t modules_count;
};

/* Where a freshly built domain starts. */
struct domain_entry {
    uint64_t entry;
    uint64_t stack_top;
    uint64_t start_info_va;
};

/* Builds d from spec: memory, validated initial page tables, start info.
 * Returns NULL on success, else why it was refused (and *detail, if not
 * NULL, says more); a refused build leaves nothing allocated. */
const char *domain_build(struct domain *d, const struct domain_spec *spec, struct pmm *pmm,
                         struct domain_entry *out, const char **detail);
/* --- teardown (hv/core/dom_teardown.c), in bounded steps --- */
/* One bounded step of releasing every object, frame and reference d
 * holds (d must not be running): true when it is done, false when more
 * steps are needed. Afterwards frames stay only if grantees still map them
 * (d must then stay a zombie until grant_table_reap ends those grants). */
bool domain_teardown_step(struct domain *d, struct pmm *pmm);
/* The same to completion, for boot-time callers only (the root's failed
 * build, the domain_cycle self-test): unbounded, no guest waits on it. */
bool domain_destroy(struct domain *d, struct pmm *pmm);
/* Kills d (it must not be the current domain): stops its VCPUs, marks it
 * DEAD and starts its teardown; steps are taken by its destroyer's next
 * hypercalls (domain_owed_work) and by deferred work. When done its quota
 * goes back to its creator and its slot is freed (or it stays a zombie
 * while grantees map its frames). */
void domain_destroy_dead(struct domain *d);
/* Destroys d at the next safe point (domain_deferred_work). */
void domain_destroy_later(struct domain *d);
/* Makes the next domain_deferred_work look for work (teardown steps). */
void domain_deferred_kick(void);
/* One bounded step for zombie d: ends what grants it can, frees frames;
 * frees the slot when nothing is left. */
void domain_reap(struct domain *d);
/* Called by hypercall_entry before it runs a call of d: if d destroyed a
 * domain whose teardown is not finished, takes one step of it and returns
 * true if the call must restart (the teardown is not finished yet); the
 * destroyer pays for what it destroyed, a bounded step per entry. */
bool domain_owed_work(struct domain *d);
/* One step of deferred teardown work (one domain, one bounded step);
 * true if work remains. */
bool domain_teardown_deferred_step(void);
/* Slot i of the domain table, or NULL if free. */
struct domain *domain_at(unsigned i);

/* Builds the root domain from boot module 0 and enters it. On a bad image
 * logs the reason and ends the machine with HV_EXIT_BOOT_ERROR. */
__noreturn void domain_build_root(const struct mb2_info *mbi, struct pmm *pmm);

/* Kills the current domain, logging why (used when a fault cannot be
 * reflected). */
void domain_kill(struct domain *d, const struct cpu_regs *regs, const char *why);
/* Domain d stops for `reason` (HC_SHUTDOWN or a kill). The root domain's
 * end stops the machine; another domain is destroyed. */
void domain_shutdown(struct domain *d, enum hv_shutdown_reason reason);

/* Appends guest console bytes to the domain's line buffer, flushing whole lines. */
void domain_console_write(struct domain *d, const char *buf, size_t n);

/* Gives a fresh, scrubbed frame to d (frame table and reservation count). */
mfn_t domain_alloc_frame(struct domain *d, struct pmm *pmm);
/* Called after frames of d were released (frame_release) and before they go
 * back to the pool: flushes every CPU that may still translate them, so a
 * frame in the pool is never reachable by a guest (docs/mm.md). */
void domain_frames_freed(struct domain *d);

/* --- core objects (hv/core/objects.c) --- */
/* Gives d (its shared page set up) a fresh uid, an empty capability table,
 * event channels and grant table, and its capability objects. */
void domain_objects_init(struct domain *d);
/* Closes every port of d (at most 1,023, each O(1)). */
void domain_ports_teardown(struct domain *d);
/* Removes capabilities naming d's objects, then d's own, charging *budget
 * (cap_object_clear_some): true when none is left. d->td_index says where
 * it is. Its grants are handled after the memory (dom_teardown.c). */
bool domain_caps_teardown(struct domain *d, uint32_t *budget);
/* The root's boot capabilities (proto/include/hv/domctl.h, enum hv_root_slot). */
void domain_root_caps(struct domain *root);
/* The domain with this uid (live: not FREE, DEAD or ZOMBIE), or NULL. */
struct domain *domain_by_uid(uint64_t uid);
/* The machine's physical interrupt sources and who they go to; the domain
 * whose event-channel state ed is. */
struct evtchn_pirq_table *domain_pirq_table(void);
/* Level lines waiting for EOIs: the nearest time one's limit passes (0:
 * none), and releasing those whose limit passed (evtchn_pirq_expire). */
uint64_t domain_pirq_deadline(void);
void domain_pirq_expire(uint64_t now_ns);
struct domain *domain_of_evtchn(struct evtchn_domain *ed);
/* Destroys domains whose last capability went or that only capability
 * cycles name (cap_mark_reachable) and reaps zombies; called on
 * the way out of every hypercall (never from inside a capability or mm
 * operation). */
void domain_deferred_work(void);
/* Raises HV_VIRQ_DOM_STATE in every domain holding a capability to d with
 * HV_CAP_R_DOM_STATE. */
void domain_notify_state(struct domain *d);

/* --- domain control (hv/core/domctl.c) --- */
/* Makes v runnable or not according to its domain's state, pause and
 * HC_BLOCK (the one place that decides). */
void vcpu_update_runnable(struct vcpu *v);

/* --- console rings (hv/core/console.c) --- */
/* Appends guest output to d's output ring and tells its watcher. */
void console_output(struct domain *d, const char *buf, size_t n);

/* --- upcalls, blocking and time (hv/core/upcall.c) --- */
/* On the way to ring 3 with v's frame in regs: enter its upcall if an event
 * is pending and upcalls are unmasked. */
void upcall_deliver(struct vcpu *v, struct cpu_regs *regs);
/* v's one-shot timer expired: raise HV_VIRQ_TIMER and wake it from HC_BLOCK. */
void vcpu_timer_fire(struct vcpu *v);
/* Fills d's wall-clock fields in shared info. */
void domain_wallclock_init(struct domain *d);

#endif
