/*
 * Builds a domain from an ELF64 image, and destroys one. The root domain is
 * built from boot module 0 and entered; the same builder will serve domain
 * creation by the control domain.
 *
 * The guest's virtual layout is contiguous from the image's lowest page
 * (docs/abi.md, "Start of day"):
 *
 *   image | start info | p2m list | modules | page tables | stack
 *
 * pfn i is mapped at image_base + i * 4 KiB for every pfn of that layout;
 * the remaining pfns are owned but unmapped. Page-table frames are mapped
 * read-only. Every frame is scrubbed before the guest sees it. The builder
 * writes the initial tables into frames the domain owns, then pins the L4
 * through the same validation every guest update goes through (hv/mm/pt.c)
 * and makes it the base: there is no back door.
 */
#include <stdio.h>
#include <string.h>

#include "arch.h"
#include "bootmod.h"
#include "domain.h"
#include "schedule.h"
#include "dom_build.h"
#include "dom_teardown.h"
#include "objects.h"
#include "hvlib/layout.h"
#include "frame.h"
#include "log.h"
#include "mb2.h"
#include "mm_hv.h"
#include "pt.h"
#include "pmm.h"
#include "test_op.h"

#define ROOT_MEM_DEFAULT (16ull << 20)
#define ROOT_MEM_MIN (1ull << 20)
/* Bounds the builder's own bookkeeping (the list of frames): 1 GiB. */
#define BUILD_PAGES_MAX HV_LAYOUT_PAGES_MAX

extern uint8_t _phys_start[], _phys_end[];

static mfn_t build_frames[BUILD_PAGES_MAX]; /* pfn -> mfn while building */

struct build_ctx {
    uint64_t next_pt_pfn;
    uint64_t pt_end_pfn;
};

static mfn_t pt_alloc(void *opaque)
{
    struct build_ctx *ctx = opaque;
    if (ctx->next_pt_pfn == ctx->pt_end_pfn)
        return INVALID_MFN;
    return build_frames[ctx->next_pt_pfn++];
}

/* Copies bytes into the guest's pseudophysical memory at `va` of the layout. */
static void copy_to_layout(uint64_t base_va, uint64_t va, const uint8_t *src, uint64_t len)
{
    while (len) {
        uint64_t pfn_i = (va - base_va) >> PAGE_SHIFT;
        uint64_t off = va & (PAGE_SIZE - 1);
        uint64_t chunk = MIN(len, PAGE_SIZE - off);
        memcpy((uint8_t *)arch_frame_va(build_frames[pfn_i]) + off, src, chunk);
        va += chunk;
        src += chunk;
        len -= chunk;
    }
}

const char *domain_build(struct domain *d, const struct domain_spec *spec, struct pmm *pmm,
                         struct domain_entry *out, const char **detail)
{
    *detail = NULL;
    uint64_t pages = spec->mem_bytes / PAGE_SIZE;

    /* Plan: check the image, lay out the start of day (lib/layout.c). */
    uint64_t sizes[HV_START_MODULES_MAX];
    uint32_t mods_count = (uint32_t)MIN(spec->modules_count, (size_t)HV_START_MODULES_MAX);
    for (uint32_t i = 0; i < mods_count; i++)
        sizes[i] = spec->modules[i].size_bytes;
    static struct hv_layout l;
    enum elf64_error e;
    const char *why =
        hv_layout_plan(spec->image, spec->image_size, pages, sizes, mods_count, &l, &e);
    if (why) {
        if (e != ELF64_OK)
            *detail = elf64_strerror(e);
        return why;
    }
    uint64_t base = l.base_va, used = l.used_pages;
    if (pmm_free_count(pmm) < pages)
        return "not enough free memory";

    domain_reset(d);
    d->is_root = (spec->flags & HV_SIF_ROOT) != 0;
    d->l4 = INVALID_MFN;
    d->max_pages = MAX(spec->max_bytes / PAGE_SIZE, pages);
    d->max_vcpus = VCPU_MAX;
    strlcpy(d->name, spec->name, sizeof(d->name));
    mm_domain_init(&d->mm, d->id);

    /* Allocate: scrub and assign every frame; record its pfn in the M2P. */
    for (uint64_t i = 0; i < pages; i++) {
        build_frames[i] = domain_alloc_frame(d, pmm);
        if (mfn_x(build_frames[i]) == mfn_x(INVALID_MFN)) {
            domain_destroy(d, pmm);
            return "not enough free memory";
        }
        frame_m2p_set(build_frames[i], i);
    }

    /* Populate: page tables in frames [pt_pfn, stack_pfn), the L4 first; */
    struct build_ctx ctx = {.next_pt_pfn = l.pt_pfn + 1, .pt_end_pfn = l.stack_pfn};
    mfn_t l4 = build_frames[l.pt_pfn];
    for (uint64_t i = 0; i < used; i++) {
        uint32_t lf = hv_layout_page_flags(&l, i);
        uint32_t flags =
            ((lf & HV_LAYOUT_W) ? ARCH_MAP_W : 0) | ((lf & HV_LAYOUT_X) ? ARCH_MAP_X : 0);
        if (!arch_guest_map(l4, base + i * PAGE_SIZE, build_frames[i], flags, pt_alloc, &ctx))
            panic("dom_build: page-table frames miscounted");
    }

    /* then the ELF segments, the p2m list, the modules, the start info. */
    for (size_t i = 0; i < l.elf.segs_count; i++) {
        const struct elf64_segment *s = &l.elf.segs[i];
        copy_to_layout(base, s->vaddr, (const uint8_t *)spec->image + s->file_offset, s->filesz);
    }
    for (uint64_t i = 0; i < pages; i++) {
        uint64_t m = mfn_x(build_frames[i]);
        copy_to_layout(base, base + l.p2m_pfn * PAGE_SIZE + i * 8, (const uint8_t *)&m, 8);
    }

    static struct hv_start_info si;
    memset(&si, 0, sizeof(si));
    si.magic = HV_START_INFO_MAGIC;
    si.abi_version = HV_ABI_VERSION;
    si.domid = d->id;
    si.pages_count = pages;
    si.p2m_va = base + l.p2m_pfn * PAGE_SIZE;
    si.pt_base_va = base + l.pt_pfn * PAGE_SIZE;
    si.pt_frames_count = l.pt_pages;
    si.stack_top_va = base + used * PAGE_SIZE;
    si.first_free_va = base + used * PAGE_SIZE;
    si.first_free_pfn = used;
    si.tsc_hz = arch_tsc_hz();
    si.m2p_entries = mm_hv_frames_count();
    si.shared_info_va = base + l.shinfo_pfn * PAGE_SIZE;
    si.flags = spec->flags;
    strlcpy(si.cmdline, spec->cmdline, sizeof(si.cmdline));
    uint64_t mva = base + l.mods_pfn * PAGE_SIZE;
    for (uint32_t i = 0; i < mods_count; i++) {
        const struct domain_module *m = &spec->modules[i];
        copy_to_layout(base, mva, m->bytes, m->size_bytes);
        si.modules[i].va = mva;
        si.modules[i].size_bytes = m->size_bytes;
        strlcpy(si.modules[i].name, m->name, sizeof(si.modules[i].name));
        mva += ALIGN_UP(m->size_bytes, PAGE_SIZE);
    }
    si.modules_count = mods_count;
    copy_to_layout(base, base + l.si_pfn * PAGE_SIZE, (const uint8_t *)&si, sizeof(si));

    /* Validate: pin the L4 (the whole tree, continuing across budget-sized
     * steps) and make it the base. A refusal here is the builder's bug. */
    int rc;
    unsigned steps = 0;
    do {
        rc = mm_pin(&d->mm, l4, 4);
        steps++;
    } while (rc == HV_EAGAIN);
    if (rc == HV_OK)
        rc = mm_new_baseptr(&d->mm, l4);
    if (rc != HV_OK) {
        log_err("dom_build: d%u's initial page tables failed validation (%d)", d->id, rc);
        domain_destroy(d, pmm);
        return "its initial page tables failed validation";
    }
    d->l4 = l4;

    /* The shared-info page: the hypervisor holds a WRITABLE type reference
     * on it, so the domain can neither give it back nor make it a table. */
    mfn_t shinfo = build_frames[l.shinfo_pfn];
    if (pt_type_get(d->id, shinfo, FRAME_TYPE_WRITABLE) != HV_OK)
        panic("dom_build: could not hold d%u's shared-info frame", d->id);
    d->shared_info_mfn = shinfo;
    d->shared = arch_frame_va(shinfo);
    domain_objects_init(d);
    d->state = DOMAIN_RUNNING;

    out->entry = l.elf.entry;
    out->stack_top = si.stack_top_va;
    out->start_info_va = base + l.si_pfn * PAGE_SIZE;
    log_info("d%u (%s): %llu KiB (max %llu KiB), image %#llx-%#llx, entry %#llx, %llu "
             "page-table frames pinned in %u validation steps, %zu modules",
             d->id, d->name, (unsigned long long)(pages << 2),
             (unsigned long long)(d->max_pages << 2), (unsigned long long)l.elf.va_lowest,
             (unsigned long long)l.elf.va_end, (unsigned long long)l.elf.entry,
             (unsigned long long)l.pt_pages, steps, (size_t)mods_count);
    return NULL;
}

/* --- the root domain ------------------------------------------------------- */

static const void *module_bytes(const struct mb2_module *m)
{
    return (const uint8_t *)arch_frame_va(paddr_to_mfn(m->start)) + (m->start & (PAGE_SIZE - 1));
}

/* Checks the placement of every boot module; ends the boot on a bad one. */
static void check_modules(const struct mb2_info *mbi)
{
    paddr_t placement[MB2_MODULES_MAX][2];
    for (size_t i = 0; i < mbi->modules_count; i++) {
        placement[i][0] = mbi->modules[i].start;
        placement[i][1] = mbi->modules[i].end;
    }
    for (size_t i = 0; i < mbi->modules_count; i++) {
        enum bootmod_error be = bootmod_check(
            (const paddr_t(*)[2])placement, mbi->modules_count, i, (paddr_t)(uintptr_t)_phys_start,
            (paddr_t)(uintptr_t)_phys_end, arch_directmap_limit());
        if (be == BOOTMOD_OK)
            continue;
        log_err("boot: module %zu (\"%s\", %llu bytes) refused%s: %s", i, mbi->modules[i].cmdline,
                (unsigned long long)(mbi->modules[i].end - mbi->modules[i].start),
                i == 0 ? " as root domain" : "", bootmod_strerror(be));
        log_err("boot: cannot start");
        arch_machine_exit(HV_EXIT_BOOT_ERROR);
    }
}

static void root_spec(const struct mb2_info *mbi, struct domain_spec *spec,
                      struct domain_module *mods)
{
    uint64_t mem_bytes = cmdline_get_u64("root_mem", ROOT_MEM_DEFAULT);
    if (mem_bytes < ROOT_MEM_MIN || mem_bytes / PAGE_SIZE > BUILD_PAGES_MAX) {
        log_warn("boot: root_mem=%llu out of range; using %llu", (unsigned long long)mem_bytes,
                 (unsigned long long)ROOT_MEM_DEFAULT);
        mem_bytes = ROOT_MEM_DEFAULT;
    }
    const struct mb2_module *mod = &mbi->modules[0];
    memset(spec, 0, sizeof(*spec));
    spec->name = "root";
    spec->image = module_bytes(mod);
    spec->image_size = mod->end - mod->start;
    spec->cmdline = mod->cmdline;
    spec->mem_bytes = mem_bytes;
    /* 0: all free memory (set once the root is built). */
    spec->max_bytes = cmdline_get_u64("root_max_mem", 0);
    spec->flags = HV_SIF_ROOT;
    spec->modules = mods;
    spec->modules_count = MIN(mbi->modules_count - 1, (size_t)HV_START_MODULES_MAX);
    if (mbi->modules_count - 1 > spec->modules_count)
        log_warn("boot: only %u modules are passed to the root domain; %zu ignored",
                 HV_START_MODULES_MAX, mbi->modules_count - 1 - spec->modules_count);
    for (size_t i = 0; i < spec->modules_count; i++) {
        const struct mb2_module *m = &mbi->modules[i + 1];
        mods[i].bytes = module_bytes(m);
        mods[i].size_bytes = m->end - m->start;
        mods[i].name = m->cmdline;
    }
}

void domain_build_root(const struct mb2_info *mbi, struct pmm *pmm)
{
    if (mbi->modules_count == 0) {
        log_err("boot: no modules: the first module must be the root domain's ELF image");
        arch_machine_exit(HV_EXIT_BOOT_ERROR);
    }
    check_modules(mbi);

    static struct domain_module mods[HV_START_MODULES_MAX];
    struct domain_spec spec;
    root_spec(mbi, &spec, mods);

    struct domain *root = domain_alloc();
    BUG_ON(!root || root->id != 0);
#ifdef HV_TEST_IMAGE
    test_before_root(&spec, pmm);
#endif

    struct domain_entry entry;
    const char *detail;
    const char *why = domain_build(root, &spec, pmm, &entry, &detail);
    if (why) {
        const struct mb2_module *mod = &mbi->modules[0];
        log_err("boot: module 0 (\"%s\", %llu bytes) refused as root domain: %s%s%s", mod->cmdline,
                (unsigned long long)(mod->end - mod->start), why, detail ? ": " : "",
                detail ? detail : "");
        log_err("boot: cannot start without a root domain");
        arch_machine_exit(HV_EXIT_BOOT_ERROR);
    }
    /* The root's quota is all free memory unless root_max_mem says less;
     * the memory capability in its table stands for it. */
    if (spec.max_bytes == 0)
        root->max_pages = root->pages_count + pmm_free_count(pmm);
    domain_root_caps(root);
    if (vcpu_init(root, 0, entry.entry, entry.stack_top, entry.start_info_va) != HV_OK)
        panic("boot: the scheduler refused the root domain's VCPU");
    vcpu_wake(&root->vcpus[0]);
    schedule_start();
}
