/*
 * Domains and their VCPUs. The root domain is built from the first boot
 * module; further domains are created by holders of the right capability.
 * Domains live in a fixed table (DOMAIN_MAX); ids are never reused.
 *
 * This header has the two structures and the table (hv/core/domain.c);
 * each area that owns a part of a domain has its own header: schedule.h
 * (VCPUs on CPUs), dom_build.h, dom_teardown.h, objects.h (capabilities,
 * event channels, grants), console.h, upcall.h (upcalls and virtual time).
 */
#ifndef HV_DOMAIN_H
#define HV_DOMAIN_H

#include "types.h"
#include "arch.h"
#include "arch_hooks.h"
#include "cap.h"
#include "console.h"
#include "evtchn.h"
#include "iommu.h"
#include "grant.h"
#include "hv/abi.h"
#include "hv/domctl.h"
#include "hv/shared_info.h"
#include "mm_ops.h"
#include "sched.h"
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
    struct domain_console con;                       /* its console (console.h) */
    unsigned vcpu_count;                             /* VCPUs known to the scheduler */
    unsigned max_vcpus;                              /* VCPUs it may start */
    struct vcpu vcpus[VCPU_MAX];
    /* Teardown (DEAD and ZOMBIE; hv/core/dom_teardown.c). */
    uint8_t td_stage;           /* the next stage */
    bool td_started;            /* DEAD with its teardown under way */
    uint32_t td_index;          /* capabilities stage: the next object to clear */
    uint32_t td_orphans;        /* grants left orphaned (frames that stay) */
    uint64_t td_cursor;         /* frames stage: the next frame to look at */
    uint64_t owed_teardown_uid; /* d destroyed it: d's hypercalls finish it first */
    /* The removal of an MMIO capability of its table under way
     * (cap_hook_may_remove): the capability, NULL if none, and how far the
     * sweep of its L1 tables got (mm_io_sweep_step). */
    struct cap *io_sweep;
    uint64_t io_sweep_cursor;
};

/* The VCPU this CPU runs (NULL while idle) and its domain. */
struct vcpu *sched_current_vcpu(void);
#define current_vcpu (sched_current_vcpu())
#define current_domain (current_vcpu ? current_vcpu->dom : (struct domain *)0)

/* Allocates a free slot of the domain table with a fresh id (NULL if full). */
struct domain *domain_alloc(void);
/* Zeroes d, a slot of the table, except its id; state BUILDING; its VCPUs
 * get their architecture state (arch_vcpu) back. */
void domain_reset(struct domain *d);
/* The domain with this id, or NULL. */
struct domain *domain_by_id(domid_t id);

/* Slot i of the domain table, or NULL if free. */
struct domain *domain_at(unsigned i);

/* Kills the current domain, logging why (used when a fault cannot be
 * reflected). */
void domain_kill(struct domain *d, const struct cpu_regs *regs, const char *why);
/* Domain d stops for `reason` (HC_SHUTDOWN or a kill). The root domain's
 * end stops the machine; another domain is destroyed. */
void domain_shutdown(struct domain *d, enum hv_shutdown_reason reason);

/* --- a domain's memory (hv/core/hc_mm.c) --- */
/* Gives a fresh, scrubbed frame to d (frame table and reservation count). */
mfn_t domain_alloc_frame(struct domain *d, struct pmm *pmm);
/* Called after frames of d were released (frame_release) and before they go
 * back to the pool: flushes every CPU that may still translate them, so a
 * frame in the pool is never reachable by a guest (docs/mm.md). */
void domain_frames_freed(struct domain *d);

#endif
