/*
 * Builds the root domain from boot module 0 (an ELF64 executable) and
 * enters it. The guest's virtual layout is contiguous from the image's
 * lowest page (docs/abi.md, "Start of day"):
 *
 *   image | start info | p2m list | modules 1.. | page tables | stack
 *
 * pfn i is mapped at image_base + i * 4 KiB for every pfn of that layout;
 * the remaining pfns are owned but unmapped. Page-table frames are mapped
 * read-only. Every frame is scrubbed before the guest sees it.
 *
 * The builder writes the initial tables into frames the domain owns, then
 * pins the L4 through the same validation every guest update goes through
 * (hv/mm/pt.c) and makes it the base: no back door.
 */
#include <stdio.h>
#include <string.h>

#include "arch.h"
#include "bootmod.h"
#include "domain.h"
#include "elf64.h"
#include "frame.h"
#include "mm_hv.h"
#include "log.h"
#include "mb2.h"
#include "pmm.h"

#define ROOT_MEM_DEFAULT (16ull << 20)
#define ROOT_MEM_MIN (1ull << 20)
#define STACK_PAGES 8
/* Default reservation headroom of the root domain beyond root_mem. */
#define ROOT_MAX_EXTRA (4ull << 20)
/* Bounds the builder's own bookkeeping (the list of frames): 1 GiB. */
#define ROOT_PAGES_MAX (1ull << 18)

extern uint8_t _phys_start[], _phys_end[];

static struct domain root_domain;
static mfn_t root_frames[ROOT_PAGES_MAX]; /* pfn -> mfn while building */

struct build_ctx {
    uint64_t next_pt_pfn;
    uint64_t pt_end_pfn;
};

static mfn_t pt_alloc(void *opaque)
{
    struct build_ctx *ctx = opaque;
    if (ctx->next_pt_pfn == ctx->pt_end_pfn)
        return INVALID_MFN;
    return root_frames[ctx->next_pt_pfn++];
}

/* Page-table frames needed to map `pages` pages from `base` (plus the L4). */
static uint64_t pt_frames_for(uint64_t base, uint64_t pages)
{
    uint64_t end = base + pages * PAGE_SIZE - 1;
    uint64_t l1 = (end >> 21) - (base >> 21) + 1;
    uint64_t l2 = (end >> 30) - (base >> 30) + 1;
    uint64_t l3 = (end >> 39) - (base >> 39) + 1;
    return 1 + l3 + l2 + l1;
}

static __noreturn void boot_refuse(const struct mb2_module *mod, const char *why, const char *detail)
{
    log_err("boot: module 0 (\"%s\", %llu bytes) refused as root domain: %s%s%s", mod->cmdline,
            (unsigned long long)(mod->end - mod->start), why, detail ? ": " : "",
            detail ? detail : "");
    log_err("boot: cannot start without a root domain");
    arch_machine_exit(HV_EXIT_BOOT_ERROR);
}

static uint32_t page_flags(const struct elf64_image *img, uint64_t va)
{
    for (size_t i = 0; i < img->segs_count; i++) {
        const struct elf64_segment *s = &img->segs[i];
        uint64_t lo = ALIGN_DOWN(s->vaddr, PAGE_SIZE);
        uint64_t hi = ALIGN_UP(s->vaddr + s->memsz, PAGE_SIZE);
        if (va >= lo && va < hi)
            return ((s->flags & ELF64_PF_W) ? ARCH_MAP_W : 0) |
                   ((s->flags & ELF64_PF_X) ? ARCH_MAP_X : 0);
    }
    return 0; /* a gap between segments: read-only */
}

/* Copies bytes into the guest's pseudophysical memory at `va` of the layout. */
static void copy_to_layout(uint64_t base_va, uint64_t va, const uint8_t *src, uint64_t len)
{
    while (len) {
        uint64_t pfn_i = (va - base_va) >> PAGE_SHIFT;
        uint64_t off = va & (PAGE_SIZE - 1);
        uint64_t chunk = MIN(len, PAGE_SIZE - off);
        memcpy((uint8_t *)arch_frame_va(root_frames[pfn_i]) + off, src, chunk);
        va += chunk;
        src += chunk;
        len -= chunk;
    }
}

void domain_build_root(const struct mb2_info *mbi, struct pmm *pmm)
{
    if (mbi->modules_count == 0) {
        log_err("boot: no modules: the first module must be the root domain's ELF image");
        arch_machine_exit(HV_EXIT_BOOT_ERROR);
    }
    const struct mb2_module *mod = &mbi->modules[0];
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
        if (i == 0)
            boot_refuse(mod, bootmod_strerror(be), NULL);
        log_err("boot: module %zu (\"%s\") refused: %s", i, mbi->modules[i].cmdline,
                bootmod_strerror(be));
        arch_machine_exit(HV_EXIT_BOOT_ERROR);
    }

    uint64_t mem_bytes = cmdline_get_u64("root_mem", ROOT_MEM_DEFAULT);
    if (mem_bytes < ROOT_MEM_MIN || mem_bytes / PAGE_SIZE > ROOT_PAGES_MAX) {
        log_warn("boot: root_mem=%llu out of range; using %llu", (unsigned long long)mem_bytes,
                 (unsigned long long)ROOT_MEM_DEFAULT);
        mem_bytes = ROOT_MEM_DEFAULT;
    }
    uint64_t pages = mem_bytes / PAGE_SIZE;

    struct elf64_image img;
    const void *bytes = arch_frame_va(paddr_to_mfn(mod->start));
    bytes = (const uint8_t *)bytes + (mod->start & (PAGE_SIZE - 1));
    enum elf64_error e = elf64_check(bytes, mod->end - mod->start, HV_GUEST_VA_MIN,
                                     HV_GUEST_VA_LIMIT, mem_bytes, &img);
    if (e != ELF64_OK)
        boot_refuse(mod, "not a valid ELF64 image", elf64_strerror(e));

    /* Lay out the bootstrap region. */
    uint64_t base = img.va_lowest;
    uint64_t img_pages = (img.va_end - img.va_lowest) >> PAGE_SHIFT;
    uint64_t si_pfn = img_pages;
    uint64_t p2m_pfn = si_pfn + 1;
    uint64_t p2m_pages = ALIGN_UP(pages * 8, PAGE_SIZE) / PAGE_SIZE;
    uint64_t mods_pfn = p2m_pfn + p2m_pages;
    uint64_t mods_pages = 0;
    size_t mods_count = MIN(mbi->modules_count - 1, (size_t)HV_START_MODULES_MAX);
    for (size_t i = 1; i <= mods_count; i++)
        mods_pages += ALIGN_UP(mbi->modules[i].end - mbi->modules[i].start, PAGE_SIZE) / PAGE_SIZE;
    uint64_t pt_pfn = mods_pfn + mods_pages;
    uint64_t pt_pages = 0;
    for (;;) { /* the tables map themselves: iterate to a fixed point */
        uint64_t need = pt_frames_for(base, pt_pfn + pt_pages + STACK_PAGES);
        if (need == pt_pages)
            break;
        pt_pages = need;
    }
    uint64_t stack_pfn = pt_pfn + pt_pages;
    uint64_t used = stack_pfn + STACK_PAGES;
    if (used > pages)
        boot_refuse(mod, "it does not fit in root_mem", NULL);
    if (base + used * PAGE_SIZE > HV_GUEST_VA_LIMIT)
        boot_refuse(mod, "its layout reaches the hypervisor's address range", NULL);
    if (pmm_free_count(pmm) < pages)
        boot_refuse(mod, "not enough free memory for root_mem", NULL);

    struct domain *d = &root_domain;
    d->id = 0;
    d->is_root = true;
    d->state = DOMAIN_RUNNING;
    d->pages_count = 0;
    d->max_pages = cmdline_get_u64("root_max_mem", mem_bytes + ROOT_MAX_EXTRA) / PAGE_SIZE;
    if (d->max_pages < pages)
        d->max_pages = pages;
    strlcpy(d->name, "root", sizeof(d->name));
    mm_domain_init(&d->mm, d->id);

    /* Allocate, scrub and assign every frame; record its pfn in the M2P. */
    for (uint64_t i = 0; i < pages; i++) {
        root_frames[i] = domain_alloc_frame(d, pmm);
        BUG_ON(mfn_x(root_frames[i]) == mfn_x(INVALID_MFN));
        frame_m2p_set(root_frames[i], i);
    }

    /* Page tables: frames [pt_pfn, stack_pfn), the L4 first. */
    struct build_ctx ctx = { .next_pt_pfn = pt_pfn + 1, .pt_end_pfn = stack_pfn };
    mfn_t l4 = root_frames[pt_pfn];
    for (uint64_t i = 0; i < used; i++) {
        uint64_t va = base + i * PAGE_SIZE;
        uint32_t flags;
        if (i < img_pages)
            flags = page_flags(&img, va);
        else if (i >= pt_pfn && i < stack_pfn)
            flags = 0; /* page tables are read-only to the guest */
        else
            flags = ARCH_MAP_W;
        if (!arch_guest_map(l4, va, root_frames[i], flags, pt_alloc, &ctx))
            panic("dom_build: page-table frames miscounted");
    }

    /* Contents: ELF segments, p2m list, modules, start info. */
    for (size_t i = 0; i < img.segs_count; i++) {
        const struct elf64_segment *s = &img.segs[i];
        copy_to_layout(base, s->vaddr, (const uint8_t *)bytes + s->file_offset, s->filesz);
    }
    for (uint64_t i = 0; i < pages; i++) {
        uint64_t m = mfn_x(root_frames[i]);
        copy_to_layout(base, base + p2m_pfn * PAGE_SIZE + i * 8, (const uint8_t *)&m, 8);
    }

    static struct hv_start_info si;
    memset(&si, 0, sizeof(si));
    si.magic = HV_START_INFO_MAGIC;
    si.abi_version = HV_ABI_VERSION;
    si.domid = 0;
    si.pages_count = pages;
    si.p2m_va = base + p2m_pfn * PAGE_SIZE;
    si.pt_base_va = base + pt_pfn * PAGE_SIZE;
    si.pt_frames_count = pt_pages;
    si.stack_top_va = base + used * PAGE_SIZE;
    si.first_free_va = base + used * PAGE_SIZE;
    si.first_free_pfn = used;
    si.tsc_hz = arch_tsc_hz();
    si.flags = HV_SIF_ROOT;
    strlcpy(si.cmdline, mod->cmdline, sizeof(si.cmdline));
    uint64_t mva = base + mods_pfn * PAGE_SIZE;
    for (size_t i = 1; i <= mods_count; i++) {
        const struct mb2_module *m = &mbi->modules[i];
        uint64_t size = m->end - m->start;
        const uint8_t *src = (const uint8_t *)arch_frame_va(paddr_to_mfn(m->start)) +
                             (m->start & (PAGE_SIZE - 1));
        copy_to_layout(base, mva, src, size);
        si.modules[i - 1].va = mva;
        si.modules[i - 1].size_bytes = size;
        strlcpy(si.modules[i - 1].name, m->cmdline, sizeof(si.modules[i - 1].name));
        mva += ALIGN_UP(size, PAGE_SIZE);
    }
    si.modules_count = (uint32_t)mods_count;
    if (mbi->modules_count - 1 > mods_count)
        log_warn("boot: only %u modules are passed to the root domain; %zu ignored",
                 HV_START_MODULES_MAX, mbi->modules_count - 1 - mods_count);
    si.m2p_entries = mm_hv_frames_count();
    copy_to_layout(base, base + si_pfn * PAGE_SIZE, (const uint8_t *)&si, sizeof(si));

    /* The tables are written; now they go through the same validation as
     * any guest update: pin the L4 (validating the whole tree, continuing
     * across budget-sized steps) and make it the base. */
    current_domain = d;
    int rc;
    unsigned steps = 0;
    do {
        rc = mm_pin(&d->mm, l4, 4);
        steps++;
    } while (rc == HV_EAGAIN);
    if (rc != HV_OK)
        panic("dom_build: the root domain's initial page tables failed validation (%d)", rc);
    rc = mm_new_baseptr(&d->mm, l4);
    if (rc != HV_OK)
        panic("dom_build: new_baseptr of the validated L4 failed (%d)", rc);
    BUG_ON(mfn_x(d->l4) != mfn_x(l4));

    log_info("d0 (root): %llu KiB (max %llu KiB), image %#llx-%#llx, entry %#llx, %llu "
             "page-table frames pinned in %u validation steps, %zu modules",
             (unsigned long long)(mem_bytes >> 10), (unsigned long long)(d->max_pages << 2),
             (unsigned long long)img.va_lowest, (unsigned long long)img.va_end,
             (unsigned long long)img.entry, (unsigned long long)pt_pages, steps, mods_count);
    arch_enter_guest(l4, img.entry, si.stack_top_va, base + si_pfn * PAGE_SIZE);
}
