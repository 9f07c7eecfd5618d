/*
 * The domain builder's plan (see gk/builder.h): input checks, the layout,
 * and the bytes of every start-of-day page. Pure code, no hypercalls: the
 * same file is host-tested (test/unit/builder) and linked into gk_runtime.
 *
 * The layout is planned by lib/layout.c (hvlib/layout.h), the same code
 * the hypervisor's own builder (hv/core/dom_build.c) uses; the page tables
 * are those dom_build.c makes, frame for frame:
 *   - table frames are handed out in the order dom_build.c's lazy walk
 *     allocates them while it maps the layout in increasing va order: the
 *     L4 first (pt_pfn), then for each 2 MiB region in turn a new L3 (first
 *     region of a 512 GiB slot), a new L2 (first region of a GiB), its L1;
 *   - table entries are P|RW|US; leaves are P|US, RW for writable pages, NX
 *     (when the CPU has it) unless executable. Image pages take their
 *     segment's PF_W / PF_X; a gap between segments is read-only; the page
 *     tables themselves are read-only; every other page is read-write.
 *   - the hypervisor's L4 slots (256..511) are left zero: validation fills
 *     them from its template (docs/mm.md, rule 5).
 */
#include <string.h>

#include <hv/pte.h>

#include "gk/builder.h"
#include "hvlib/layout.h"

#define PAGE 4096ull
#define PTE_TABLE (HV_PTE_P | HV_PTE_RW | HV_PTE_US)

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* Length of s if it is below limit, else limit (reads at most limit bytes). */
static size_t bounded_len(const char *s, size_t limit)
{
    size_t n = 0;
    while (n < limit && s[n] != '\0')
        n++;
    return n;
}

static const char *check_modules(const struct gk_build_input *in)
{
    if (in->modules_count > HV_START_MODULES_MAX)
        return "too many modules (at most 8)";
    if (in->modules_count > 0 && in->modules == NULL)
        return "modules_count is not 0 but there is no module list";
    for (uint32_t i = 0; i < in->modules_count; i++) {
        const struct gk_build_module *m = &in->modules[i];
        if (m->bytes == NULL && m->size_bytes != 0)
            return "a module has a size but no bytes";
        if (m->size_bytes > in->pages * PAGE)
            return "a module is larger than the domain's memory";
        if (m->name != NULL &&
            bounded_len(m->name, GK_BUILD_MODULE_NAME_MAX) == GK_BUILD_MODULE_NAME_MAX)
            return "a module name is longer than 47 bytes";
    }
    return NULL;
}

const char *gk_build_plan(const struct gk_build_input *in, struct gk_build_plan *plan,
                          const char **detail, enum elf64_error *elf_error)
{
    if (detail)
        *detail = NULL;
    if (elf_error)
        *elf_error = ELF64_OK;
    if (plan == NULL || in == NULL)
        return "bad arguments (no input or no plan)";
    memset(plan, 0, sizeof(*plan));
    if (in->pages == 0 || in->pages > GK_BUILD_PAGES_MAX)
        return "its memory size is out of range (1 .. 262144 pages)";
    if (in->cmdline != NULL && bounded_len(in->cmdline, HV_CMDLINE_MAX) == HV_CMDLINE_MAX)
        return "its command line is longer than 1023 bytes";
    const char *why = check_modules(in);
    if (why)
        return why;

    uint64_t sizes[HV_START_MODULES_MAX];
    for (uint32_t i = 0; i < in->modules_count; i++)
        sizes[i] = in->modules[i].size_bytes;
    enum elf64_error e;
    why = hv_layout_plan(in->image, in->image_size, in->pages, sizes, in->modules_count,
                         &plan->layout, &e);
    if (why) {
        if (detail && e != ELF64_OK)
            *detail = elf64_strerror(e);
        if (elf_error)
            *elf_error = e;
        memset(plan, 0, sizeof(*plan));
        return why;
    }
    plan->in = *in;
    return NULL;
}

/* ---- Page contents -------------------------------------------------------- */

uint64_t gk_build_leaf_pte(const struct gk_build_plan *plan, const uint64_t *mfns, uint64_t pfn)
{
    uint32_t flags = hv_layout_page_flags(&plan->layout, pfn);
    bool writable = (flags & HV_LAYOUT_W) != 0, exec = (flags & HV_LAYOUT_X) != 0;
    uint64_t pte = (mfns[pfn] << 12) | HV_PTE_P | HV_PTE_US;
    if (writable)
        pte |= HV_PTE_RW;
    if (!exec && plan->in.nx)
        pte |= HV_PTE_NX;
    return pte;
}

/* The 2 MiB / 1 GiB / 512 GiB regions (va >> 21, 30, 39) of the layout. */
struct regions {
    uint64_t b1, e1, b2, e2, b3, e3, bp, ep; /* first and last of each; pages */
};

static struct regions layout_regions(const struct gk_build_plan *plan)
{
    uint64_t base = plan->layout.base_va,
             end = plan->layout.base_va + plan->layout.used_pages * PAGE - 1;
    return (struct regions){base >> 21, end >> 21, base >> 30, end >> 30,
                            base >> 39, end >> 39, base >> 12, end >> 12};
}

/* Index (from pt_pfn) of the L1 of 2 MiB region r1; its L2 is the index
 * before it if r1 is the first region of its GiB, its L3 the one before
 * that if it is also the first of its 512 GiB. */
static uint64_t l1_index(const struct regions *r, uint64_t r1)
{
    return 1 + ((r1 >> 18) - r->b3 + 1) + ((r1 >> 9) - r->b2 + 1) + (r1 - r->b1);
}

static uint64_t table_mfn(const struct gk_build_plan *plan, const uint64_t *mfns, uint64_t index)
{
    return mfns[plan->layout.pt_pfn + index];
}

/* Fills table frame `index` (0 = the L4) of the layout into t. */
static void build_table(const struct gk_build_plan *plan, const uint64_t *mfns, uint64_t index,
                        uint64_t *t)
{
    struct regions r = layout_regions(plan);
    memset(t, 0, PAGE);
    if (index == 0) {
        for (uint64_t r3 = r.b3; r3 <= r.e3; r3++)
            t[r3 & 511] = (table_mfn(plan, mfns, l1_index(&r, max_u64(r.b1, r3 << 18)) - 2) << 12) |
                          PTE_TABLE;
        return;
    }
    for (uint64_t r1 = r.b1; r1 <= r.e1; r1++) {
        uint64_t i1 = l1_index(&r, r1);
        bool first_of_gib = r1 == r.b1 || (r1 & 511) == 0;
        bool first_of_l3 = r1 == r.b1 || (r1 & ((1u << 18) - 1)) == 0;
        if (index == i1) { /* the L1 of r1 */
            uint64_t lo = max_u64(r.bp, r1 << 9), hi = min_u64(r.ep, (r1 << 9) + 511);
            for (uint64_t p = lo; p <= hi; p++)
                t[p & 511] = gk_build_leaf_pte(plan, mfns, p - r.bp);
            return;
        }
        if (first_of_gib && index == i1 - 1) { /* the L2 of r1's GiB */
            uint64_t r2 = r1 >> 9;
            uint64_t lo = max_u64(r.b1, r2 << 9), hi = min_u64(r.e1, (r2 << 9) + 511);
            for (uint64_t x = lo; x <= hi; x++)
                t[x & 511] = (table_mfn(plan, mfns, l1_index(&r, x)) << 12) | PTE_TABLE;
            return;
        }
        if (first_of_l3 && index == i1 - 2) { /* the L3 of r1's 512 GiB */
            uint64_t r3 = r1 >> 18;
            uint64_t lo = max_u64(r.b2, r3 << 9), hi = min_u64(r.e2, (r3 << 9) + 511);
            for (uint64_t r2 = lo; r2 <= hi; r2++)
                t[r2 & 511] =
                    (table_mfn(plan, mfns, l1_index(&r, max_u64(r.b1, r2 << 9)) - 1) << 12) |
                    PTE_TABLE;
            return;
        }
    }
}

static void build_start_info(const struct gk_build_plan *plan, void *buf)
{
    const struct gk_build_input *in = &plan->in;
    struct hv_start_info *si = buf;
    memset(buf, 0, PAGE);
    si->magic = HV_START_INFO_MAGIC;
    si->abi_version = HV_ABI_VERSION;
    si->domid = in->domid;
    si->pages_count = in->pages;
    si->p2m_va = plan->layout.base_va + plan->layout.p2m_pfn * PAGE;
    si->pt_base_va = plan->layout.base_va + plan->layout.pt_pfn * PAGE;
    si->pt_frames_count = plan->layout.pt_pages;
    si->stack_top_va = plan->layout.stack_top_va;
    si->first_free_va = plan->layout.base_va + plan->layout.used_pages * PAGE;
    si->first_free_pfn = plan->layout.used_pages;
    si->tsc_hz = in->tsc_hz;
    si->m2p_entries = in->m2p_entries;
    si->shared_info_va = plan->layout.base_va + plan->layout.shinfo_pfn * PAGE;
    si->modules_count = in->modules_count;
    si->flags = 0; /* never HV_SIF_ROOT: only the hypervisor builds the root */
    if (in->bus) {
        si->bus = *in->bus;
        si->flags |= HV_SIF_BUS;
    }
    if (in->cmdline)
        memcpy(si->cmdline, in->cmdline, bounded_len(in->cmdline, HV_CMDLINE_MAX - 1));
    for (uint32_t i = 0; i < in->modules_count; i++) {
        const struct gk_build_module *m = &in->modules[i];
        si->modules[i].va = plan->layout.mod_va[i];
        si->modules[i].size_bytes = m->size_bytes;
        if (m->name)
            memcpy(si->modules[i].name, m->name,
                   bounded_len(m->name, GK_BUILD_MODULE_NAME_MAX - 1));
    }
}

/* Copies the part of [src_va, src_va + len) (bytes at src) that falls in the
 * page at va into buf. Returns whether anything was copied. */
static bool copy_overlap(uint64_t va, void *buf, uint64_t src_va, const uint8_t *src, uint64_t len)
{
    uint64_t lo = max_u64(va, src_va), hi = min_u64(va + PAGE, src_va + len);
    if (lo >= hi)
        return false;
    memcpy((uint8_t *)buf + (lo - va), src + (lo - src_va), hi - lo);
    return true;
}

enum gk_build_page_kind gk_build_page(const struct gk_build_plan *plan, const uint64_t *mfns,
                                      uint64_t pfn, void *buf)
{
    const struct gk_build_input *in = &plan->in;
    uint64_t va = plan->layout.base_va + pfn * PAGE;
    if (pfn == plan->layout.shinfo_pfn)
        return GK_BUILD_PAGE_SHINFO;
    if (pfn == plan->layout.si_pfn) {
        build_start_info(plan, buf);
        return GK_BUILD_PAGE_DATA;
    }
    memset(buf, 0, PAGE);
    if (pfn < plan->layout.image_pages) {
        bool any = false;
        const uint8_t *img = in->image;
        for (size_t i = 0; i < plan->layout.elf.segs_count; i++) {
            const struct elf64_segment *s = &plan->layout.elf.segs[i];
            any |= copy_overlap(va, buf, s->vaddr, img + s->file_offset, s->filesz);
        }
        return any ? GK_BUILD_PAGE_DATA : GK_BUILD_PAGE_ZERO;
    }
    if (pfn >= plan->layout.p2m_pfn && pfn < plan->layout.p2m_pfn + plan->layout.p2m_pages) {
        uint64_t first = (pfn - plan->layout.p2m_pfn) * (PAGE / 8);
        uint64_t count = min_u64(PAGE / 8, in->pages - first);
        memcpy(buf, mfns + first, count * 8);
        return GK_BUILD_PAGE_DATA;
    }
    if (pfn >= plan->layout.mods_pfn && pfn < plan->layout.pt_pfn) {
        bool any = false;
        for (uint32_t i = 0; i < in->modules_count; i++)
            any |= copy_overlap(va, buf, plan->layout.mod_va[i], in->modules[i].bytes,
                                in->modules[i].size_bytes);
        return any ? GK_BUILD_PAGE_DATA : GK_BUILD_PAGE_ZERO;
    }
    if (pfn >= plan->layout.pt_pfn && pfn < plan->layout.stack_pfn) {
        build_table(plan, mfns, pfn - plan->layout.pt_pfn, buf);
        return GK_BUILD_PAGE_DATA;
    }
    return GK_BUILD_PAGE_ZERO; /* the stack, and the frames after the layout */
}
