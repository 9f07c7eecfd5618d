/*
 * Domains and their (single, for now) VCPU. The foundation runs one domain,
 * the root, built from the first boot module; capabilities, more domains and
 * more VCPUs come with later issues.
 */
#ifndef HV_DOMAIN_H
#define HV_DOMAIN_H

#include "types.h"
#include "hv/abi.h"

struct cpu_regs;
struct mb2_info;
struct pmm;

enum domain_state { DOMAIN_RUNNING, DOMAIN_DEAD };

struct domain {
    domid_t id;
    bool is_root;
    enum domain_state state;
    mfn_t l4;
    uint64_t pages_count;
    char name[32];
    /* Console output is collected per line so that lines of different
     * domains never interleave in the log. */
    char console_line[160];
    size_t console_len;
};

/* The domain whose VCPU this CPU is running (NULL before the first entry). */
extern struct domain *current_domain;

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

#endif
