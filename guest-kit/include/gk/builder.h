/*
 * guest-kit domain builder: builds a domain from a static ELF64 image, the
 * way the hypervisor builds the root domain (hv/core/dom_build.c), through
 * the HC_DOMAIN_OP building steps of proto/include/hv/domctl.h.
 *
 * Two parts (docs/builder.md):
 *   - the plan (builder_plan.c, pure, host-tested): checks the image and
 *     the inputs, lays out the start-of-day region, and produces the bytes
 *     of every page (image, start info, p2m list, modules, page tables)
 *     from the array of machine frames given to pfn 0 .. pages-1;
 *   - the executor (builder.c, in a domain): creates the domain, allocates
 *     its frames from the caller's own memory, writes them through a scratch
 *     mapping, assigns them, sets the base and starts VCPU 0.
 *
 * The layout, from the image's lowest page (pfn i at base_va + i * 4096):
 *
 *   image | start info | shared info | p2m list | modules | page tables | stack
 *
 * exactly as dom_build.c (docs/abi.md "Start of day"). Frames after the
 * layout are owned by the domain, listed in its p2m, and not mapped.
 */
#ifndef GK_BUILDER_H
#define GK_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hvlib/elf64.h"
#include "hvlib/layout.h"
#include "hv/abi.h"
#include "hv/domctl.h"

#define GK_BUILD_STACK_PAGES HV_LAYOUT_STACK_PAGES
#define GK_BUILD_PAGES_MAX HV_LAYOUT_PAGES_MAX /* 1 GiB: bounds the builder's bookkeeping */
#define GK_BUILD_MODULE_NAME_MAX 48u /* sizeof(struct hv_start_module.name), NUL included */

/* One module passed to the new domain (copied into its memory). */
struct gk_build_module {
    const void *bytes;
    uint64_t size_bytes;
    const char *name; /* NUL-terminated, < GK_BUILD_MODULE_NAME_MAX bytes with the NUL */
};

/* ---- The plan (pure) ------------------------------------------------------ */

/* What the plan is computed from. Every field is checked. */
struct gk_build_input {
    const void *image; /* the ELF64 executable (untrusted; any alignment) */
    size_t image_size;
    uint64_t pages;      /* frames the domain gets: 1 .. GK_BUILD_PAGES_MAX */
    const char *cmdline; /* NULL or NUL-terminated, < HV_CMDLINE_MAX bytes with the NUL */
    const struct gk_build_module *modules;
    uint32_t modules_count; /* 0 .. HV_START_MODULES_MAX */
    bool nx;                /* set NX on non-executable pages (the CPU has NX) */
    /* Copied into the start-info page as they are. */
    uint32_t domid;
    uint64_t tsc_hz;
    uint64_t m2p_entries;
    const struct hv_start_bus *bus; /* NULL: none; else copied, with HV_SIF_BUS */
};

/* The layout: pfns are indices into the domain's pfn space. */
struct gk_build_plan {
    struct gk_build_input in; /* a copy (the pointers are the caller's) */
    struct hv_layout layout;  /* lib/layout.c, as the hypervisor's builder */
};

/*
 * Checks `in` and lays out the domain into *plan. Returns NULL on success,
 * else a static English reason (and *plan zeroed). For an image the ELF
 * checker refuses, the reason is "not a valid ELF64 image", *detail (if
 * detail != NULL) is elf64_strerror of the code and *elf_error (if not
 * NULL) the code; otherwise they are NULL and ELF64_OK.
 */
const char *gk_build_plan(const struct gk_build_input *in, struct gk_build_plan *plan,
                          const char **detail, enum elf64_error *elf_error);

/* What a pfn of the domain holds at start of day. */
enum gk_build_page_kind {
    GK_BUILD_PAGE_ZERO = 0,   /* all zero (a fresh frame already is): nothing to write */
    GK_BUILD_PAGE_DATA = 1,   /* the bytes gk_build_page produced */
    GK_BUILD_PAGE_SHINFO = 2, /* the shared-info frame: the hypervisor's to fill */
};

/*
 * Produces the contents of pfn (< plan->in.pages) into buf (4096 bytes,
 * fully written unless GK_BUILD_PAGE_SHINFO), given mfns[0 .. pages-1]: the
 * machine frame of every pfn (mfns[plan->shinfo_pfn] is the shared-info
 * frame). Image pages are copied from the ELF segments (the rest zero), the
 * start-info page, the p2m list, the modules and the page tables are built
 * from the plan. Never reads outside the image, the modules or mfns.
 */
enum gk_build_page_kind gk_build_page(const struct gk_build_plan *plan, const uint64_t *mfns,
                                      uint64_t pfn, void *buf);

/* The page-table entry the layout maps pfn (< used_pages) with (address
 * included), as written in an L1 of the layout. */
uint64_t gk_build_leaf_pte(const struct gk_build_plan *plan, const uint64_t *mfns, uint64_t pfn);

/* ---- The executor (in a domain) ------------------------------------------- */

/* What to build. */
struct gk_build_spec {
    const char *name; /* NUL-terminated, printable, < HV_DOMAIN_NAME_MAX bytes with the NUL */
    const void *image;
    size_t image_size;
    uint64_t pages;     /* frames given to it at start (the shared-info frame included) */
    uint64_t max_pages; /* its memory limit (>= pages; 0: = pages) */
    uint32_t vcpus;     /* 1 .. HV_DOMAIN_VCPUS_MAX (0: 1) */
    const char *cmdline;
    const struct gk_build_module *modules;
    uint32_t modules_count;
    uint32_t mem_slot;     /* MEMORY cap with HV_CAP_R_MEM_CREATE_DOMAIN */
    uint32_t dom_slot;     /* empty slot for the new domain's capability */
    uint32_t console_slot; /* empty slot for its console capability */
    bool paused;           /* true: do not start VCPU 0 (gk_domain_start does) */
    /* A page-aligned va of the caller's own address space, used (and left
     * with its tables) to map each new frame while writing it: 0 picks
     * GK_BUILD_SCRATCH_VA_DEFAULT. Must not be used for anything else. */
    uint64_t scratch_va;
    /* Optional: room for the pfn -> mfn list (pages entries); NULL: the
     * builder takes it from malloc and frees it before returning. */
    uint64_t *mfns;
    uint64_t mfns_capacity;
    /* Optional: called once the domain exists (after HV_DOMCTL_CREATE, with
     * its capability in dom_slot) and before its start-info page is
     * written, to set up what the page must describe: the control domain
     * makes the domain's bus here. It fills *bus (copied into the page with
     * HV_SIF_BUS) and returns HV_OK, or a status that fails the build (the
     * domain is then destroyed; undoing the hook's own work is the
     * caller's). */
    int64_t (*on_created)(void *arg, uint32_t dom_slot, uint32_t domid, struct hv_start_bus *bus);
    void *on_created_arg;
};

#define GK_BUILD_SCRATCH_VA_DEFAULT (HV_GUEST_VA_LIMIT - (2ull << 20))

/* A built domain. */
struct gk_built_domain {
    uint32_t dom_slot, console_slot;
    uint32_t domid;
    uint64_t pages;
    uint64_t shared_info_mfn;
    uint64_t l4_mfn;
    uint64_t base_va, entry, stack_top_va, start_info_va, first_free_va;
    bool started;
};

/*
 * Builds a domain from spec (see the steps in hv/domctl.h): HV_DOMCTL_CREATE,
 * HV_MEMOP_INCREASE for every frame, writes each through spec->scratch_va,
 * HV_DOMCTL_ASSIGN, HV_DOMCTL_SET_BASE, and HV_DOMCTL_VCPU_START unless
 * spec->paused. The caller must have called gk_mm_init. Returns NULL with
 * *out filled, or a static English reason; on failure the half-built domain
 * is destroyed and every frame the caller still held for it is given back,
 * and *status (if status != NULL) is the failing hypercall's status (0 if
 * the refusal is the builder's own). The reason's second half, if any, is
 * in *detail (as for gk_build_plan; may be NULL); it stays valid until the
 * next gk_build_domain.
 * Any VCPU may call it; builds are serialised (a second caller waits for
 * the first to finish). Not from an event handler.
 */
const char *gk_build_domain(const struct gk_build_spec *spec, struct gk_built_domain *out,
                            const char **detail, int64_t *status);

/* Starts VCPU 0 of a domain built with spec->paused. HV_OK or the status. */
int64_t gk_domain_start(struct gk_built_domain *d);

/* HV_DOMCTL_DESTROY of a built domain (its frames go back to the
 * hypervisor; the capabilities naming it disappear). HV_OK or the status. */
int64_t gk_domain_destroy(struct gk_built_domain *d);

#endif /* GK_BUILDER_H */
