/*
 * Domains and their (single, for now) VCPU. The foundation runs one domain,
 * the root, built from the first boot module; capabilities, more domains and
 * more VCPUs come with later issues.
 */
#ifndef HV_DOMAIN_H
#define HV_DOMAIN_H

#include "types.h"
#include "hv/abi.h"
#include "mm_ops.h"

struct cpu_regs;
struct mb2_info;
struct pmm;

enum domain_state { DOMAIN_BUILDING, DOMAIN_RUNNING, DOMAIN_DEAD };

struct domain {
    domid_t id;
    bool is_root;
    enum domain_state state;
    mfn_t l4;                /* the current page-table base (validated) */
    struct mm_domain mm;     /* base reference, pending mm operation */
    uint64_t pages_count;    /* frames owned */
    uint64_t max_pages;      /* memory reservation limit (HV_MEMOP_INCREASE) */
    char name[32];
    /* Console output is collected per line so that lines of different
     * domains never interleave in the log. */
    char console_line[160];
    size_t console_len;
};

/* The domain whose VCPU this CPU is running (NULL before the first entry). */
extern struct domain *current_domain;

/* A module handed to a domain at start of day (copied into its memory). */
struct domain_module {
    const void *bytes;
    uint64_t size_bytes;
    const char *name;
};

/* What to build. The image and modules are hypervisor-readable bytes. */
struct domain_spec {
    domid_t id;
    const char *name;
    const void *image;
    size_t image_size;
    const char *cmdline;
    uint64_t mem_bytes;  /* initial memory */
    uint64_t max_bytes;  /* reservation limit */
    uint32_t flags;      /* HV_SIF_* for the start info */
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

/* Builds the root domain from boot module 0 and enters it. On a bad image
 * logs the reason and ends the machine with HV_EXIT_BOOT_ERROR. */
__noreturn void domain_build_root(const struct mb2_info *mbi, struct pmm *pmm);

/* A fault in ring 3 with no handler: kills the current domain. */
__noreturn void domain_fault(const struct cpu_regs *regs, unsigned vector, uint64_t cr2);
/* The current domain stops for `reason` (HC_SHUTDOWN or a kill). */
__noreturn void domain_shutdown(struct domain *d, enum hv_shutdown_reason reason);

/* Appends guest console bytes to the domain's line buffer, flushing whole lines. */
void domain_console_write(struct domain *d, const char *buf, size_t n);

/* The dispatcher called by entry.S for every syscall from a guest. */
void hypercall_entry(struct cpu_regs *regs);

/* Memory-management hypercalls (hv/core/hc_mm.c). Each returns the result
 * for rax, or sets up a continuation (see hc_mm.c) and returns its rax. */
void hc_mm_init(struct pmm *pmm);
int64_t hc_mmu_update(struct domain *d, struct cpu_regs *regs);
int64_t hc_mmuext_op(struct domain *d, struct cpu_regs *regs);
int64_t hc_update_va_mapping(struct domain *d, struct cpu_regs *regs);
int64_t hc_memory_op(struct domain *d, struct cpu_regs *regs);
/* Gives a fresh, scrubbed frame to d (frame table and reservation count). */
mfn_t domain_alloc_frame(struct domain *d, struct pmm *pmm);

#endif
