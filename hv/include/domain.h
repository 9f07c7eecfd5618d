/*
 * Domains and their VCPUs. The root domain is built from the first boot
 * module; further domains are created by holders of the right capability.
 * Domains live in a fixed table (DOMAIN_MAX); ids are never reused.
 */
#ifndef HV_DOMAIN_H
#define HV_DOMAIN_H

#include "types.h"
#include "hv/abi.h"
#include "hv/shared_info.h"
#include "mm_ops.h"
#include "regs.h"
#include "sched.h"
struct mb2_info;
struct pmm;

enum domain_state { DOMAIN_FREE = 0, DOMAIN_BUILDING, DOMAIN_RUNNING, DOMAIN_DEAD };

#define DOMAIN_MAX 32
#define VCPU_MAX 8

struct domain;

/* A virtual CPU. While it does not run, its ring-3 context is in `regs`. */
struct vcpu {
    struct domain *dom;
    unsigned id;
    bool online;                /* has a context and a scheduler handle */
    bool blocked;               /* waiting for an event (HC_BLOCK) */
    sched_vcpu_t sv;            /* the policy's handle */
    uint64_t timer_deadline_ns; /* one-shot timer, 0 = none */
    struct cpu_regs regs;
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
    char name[32];
    /* Console output is collected per line so that lines of different
     * domains never interleave in the log. */
    char console_line[160];
    size_t console_len;
    unsigned vcpu_count;
    struct vcpu vcpus[VCPU_MAX];
};

/* The VCPU this CPU runs (NULL while idle) and its domain. */
extern struct vcpu *current_vcpu;
extern struct domain *current_domain;

/* Allocates a free slot of the domain table with a fresh id (NULL if full). */
struct domain *domain_alloc(void);
/* The domain with this id, or NULL. */
struct domain *domain_by_id(domid_t id);

/* --- scheduling mechanism (hv/core/schedule.c) --- */
void schedule_init(void);
/* Gives d VCPU `id` with an initial ring-3 context, blocked until woken. */
int vcpu_init(struct domain *d, unsigned id, uint64_t rip, uint64_t rsp, uint64_t rdi);
void vcpu_wake(struct vcpu *v);
/* Stops v until vcpu_wake (the current VCPU leaves the CPU on exit). */
void vcpu_block(struct vcpu *v);
/* Takes every VCPU of d off the CPU for good (its domain is dying). */
void domain_vcpus_stop(struct domain *d);
/* Called on every way back to ring 3 with the frame about to be restored:
 * switches to another VCPU if the policy says so (rewriting *regs). */
void schedule_exit(struct cpu_regs *regs);
/* The current VCPU gives up the CPU; if the policy picks it again, the CPU
 * waits for the next interrupt before resuming it. */
void schedule_yield(void);
/* The local timer fired (interrupts off). */
void schedule_timer_interrupt(void);
/* Starts running VCPUs on this CPU; never returns. */
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
/* Releases every frame and reference d holds. d must not be running. */
void domain_destroy(struct domain *d, struct pmm *pmm);
/* Destroys a dead domain whose VCPUs are all retired and frees its slot. */
void domain_destroy_dead(struct domain *d);

/* Builds the root domain from boot module 0 and enters it. On a bad image
 * logs the reason and ends the machine with HV_EXIT_BOOT_ERROR. */
__noreturn void domain_build_root(const struct mb2_info *mbi, struct pmm *pmm);

/* A fault in ring 3: reflected to the domain's handler if it has one (see
 * hv/core/trap_reflect.c), else the domain is killed (the CPU switches away at the
 * exit to ring 3). */
void domain_fault(struct cpu_regs *regs, unsigned vector, uint64_t cr2);
/* HC_SET_TRAP_TABLE and HC_IRET (hv/core/traps.c). */
int64_t hc_set_trap_table(struct domain *d, struct cpu_regs *regs);
int64_t hc_iret(struct domain *d, struct cpu_regs *regs);
/* Kills the current domain, logging why (used when a fault cannot be
 * reflected). */
void domain_kill(struct domain *d, const struct cpu_regs *regs, const char *why);
/* Domain d stops for `reason` (HC_SHUTDOWN or a kill). The root domain's
 * end stops the machine; another domain is destroyed. */
void domain_shutdown(struct domain *d, enum hv_shutdown_reason reason);

/* Appends guest console bytes to the domain's line buffer, flushing whole lines. */
void domain_console_write(struct domain *d, const char *buf, size_t n);

/* The dispatcher called by entry.S for every syscall from a guest. */
void hypercall_entry(struct cpu_regs *regs);

/* Memory-management hypercalls (hv/core/hc_mm.c). Each returns the result
 * for rax, or sets up a continuation (see hc_mm.c) and returns its rax. */
int64_t hc_mmu_update(struct domain *d, struct cpu_regs *regs);
int64_t hc_mmuext_op(struct domain *d, struct cpu_regs *regs);
int64_t hc_update_va_mapping(struct domain *d, struct cpu_regs *regs);
int64_t hc_memory_op(struct domain *d, struct cpu_regs *regs);
/* Gives a fresh, scrubbed frame to d (frame table and reservation count). */
mfn_t domain_alloc_frame(struct domain *d, struct pmm *pmm);

#endif
