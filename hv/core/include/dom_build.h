/*
 * Building a domain from an ELF64 image (hv/core/dom_build.c): what to
 * build, where it starts, and the root domain built from boot module 0.
 */
#ifndef HV_DOM_BUILD_H
#define HV_DOM_BUILD_H

#include "domain.h"

struct mb2_info;
struct pmm;

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

/* Builds the root domain from boot module 0 and enters it. On a bad image
 * logs the reason and ends the machine with HV_EXIT_BOOT_ERROR. */
__noreturn void domain_build_root(const struct mb2_info *mbi, struct pmm *pmm);

#endif
