/*
 * The start-of-day layout of a domain (docs/abi.md, "Start of day"), planned
 * in one place for both builders: the hypervisor's (hv/core/dom_build.c, the
 * root domain) and guest-kit's (guest-kit/src/builder_plan.c, every other
 * domain). Pure code: the image is checked (hvlib/elf64.h) and the layout
 * computed; nothing is allocated or written.
 *
 * pfns [0, used_pages) are mapped at base_va + pfn * 4096: the image's span,
 * the start-info page, the shared-info page, the p2m list, the modules, the
 * page tables (which map themselves: their count is found by iterating to a
 * fixed point), the stack. A builder maps them in increasing va order; the
 * leaves take hv_layout_page_flags.
 */
#ifndef HVLIB_LAYOUT_H
#define HVLIB_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "hv/abi.h"
#include "hvlib/elf64.h"

#define HV_LAYOUT_STACK_PAGES 8u
#define HV_LAYOUT_PAGES_MAX (1ull << 18) /* 1 GiB: bounds the builders' bookkeeping */

/* hv_layout_page_flags bits (a leaf without W is read-only, without X NX). */
#define HV_LAYOUT_W 1u
#define HV_LAYOUT_X 2u

struct hv_layout {
    struct elf64_image elf;
    uint64_t base_va;     /* va of pfn 0: the image's lowest page */
    uint64_t image_pages; /* pfns [0, image_pages) hold the image's span */
    uint64_t si_pfn;      /* start info */
    uint64_t shinfo_pfn;  /* shared info */
    uint64_t p2m_pfn, p2m_pages;
    uint64_t mods_pfn, mods_pages;
    uint64_t mod_va[HV_START_MODULES_MAX];
    uint64_t pt_pfn, pt_pages; /* the L4 is pt_pfn */
    uint64_t stack_pfn;        /* HV_LAYOUT_STACK_PAGES pages */
    uint64_t used_pages;       /* pfns [0, used_pages) are mapped */
    uint64_t entry;            /* the ELF entry point */
    uint64_t si_va;            /* va of the start-info page (the VCPU's rdi) */
    uint64_t stack_top_va;     /* the VCPU's rsp */
};

/*
 * Checks the untrusted ELF image (image_size bytes) and lays out a domain
 * of `pages` frames with modules_count (<= HV_START_MODULES_MAX) modules of
 * module_bytes[i] bytes. Returns NULL and fills *out, or a static English
 * reason with *out zeroed; for an image the checker refuses the reason is
 * "not a valid ELF64 image" and *elf_error (if not NULL) the checker's code.
 */
const char *hv_layout_plan(const void *image, size_t image_size, uint64_t pages,
                           const uint64_t *module_bytes, uint32_t modules_count,
                           struct hv_layout *out, enum elf64_error *elf_error);

/* HV_LAYOUT_W / HV_LAYOUT_X of the leaf mapping pfn (< used_pages): image
 * pages take their segment's PF_W / PF_X (a gap between segments is
 * read-only), the page tables are read-only, every other page writable. */
uint32_t hv_layout_page_flags(const struct hv_layout *l, uint64_t pfn);

#endif /* HVLIB_LAYOUT_H */
