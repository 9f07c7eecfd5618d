/*
 * The start-of-day layout of a domain (see hvlib/layout.h), one copy for the
 * hypervisor's and guest-kit's builders; host-tested through both
 * (boot tests in QEMU, test/unit/builder and test/unit/lib).
 */
#include <string.h>

#include "hvlib/layout.h"

#define PAGE 4096ull

static uint64_t align_up(uint64_t x)
{
    return (x + PAGE - 1) & ~(PAGE - 1);
}

/* Page-table frames needed to map `pages` pages from `base` (plus the L4). */
static uint64_t pt_frames_for(uint64_t base, uint64_t pages)
{
    uint64_t end = base + pages * PAGE - 1;
    uint64_t l1 = (end >> 21) - (base >> 21) + 1;
    uint64_t l2 = (end >> 30) - (base >> 30) + 1;
    uint64_t l3 = (end >> 39) - (base >> 39) + 1;
    return 1 + l3 + l2 + l1;
}

const char *hv_layout_plan(const void *image, size_t image_size, uint64_t pages,
                           const uint64_t *module_bytes, uint32_t modules_count,
                           struct hv_layout *out, enum elf64_error *elf_error)
{
    if (elf_error)
        *elf_error = ELF64_OK;
    memset(out, 0, sizeof(*out));
    if (pages == 0 || pages > HV_LAYOUT_PAGES_MAX)
        return "its memory size is out of range (1 .. 262144 pages)";
    if (modules_count > HV_START_MODULES_MAX)
        return "too many modules (at most 8)";
    for (uint32_t i = 0; i < modules_count; i++)
        if (module_bytes[i] > pages * PAGE)
            return "a module is larger than the domain's memory";

    enum elf64_error e =
        elf64_check(image, image_size, HV_GUEST_VA_MIN, HV_GUEST_VA_LIMIT, pages * PAGE, &out->elf);
    if (e != ELF64_OK) {
        if (elf_error)
            *elf_error = e;
        memset(out, 0, sizeof(*out));
        return "not a valid ELF64 image";
    }

    uint64_t base = out->elf.va_lowest;
    uint64_t img_pages = (out->elf.va_end - out->elf.va_lowest) / PAGE;
    uint64_t si_pfn = img_pages;
    uint64_t shinfo_pfn = si_pfn + 1;
    uint64_t p2m_pfn = shinfo_pfn + 1;
    uint64_t p2m_pages = align_up(pages * 8) / PAGE;
    uint64_t mods_pfn = p2m_pfn + p2m_pages;
    uint64_t mods_pages = 0;
    for (uint32_t i = 0; i < modules_count; i++) {
        out->mod_va[i] = base + (mods_pfn + mods_pages) * PAGE;
        mods_pages += align_up(module_bytes[i]) / PAGE;
    }
    uint64_t pt_pfn = mods_pfn + mods_pages;
    uint64_t pt_pages = 0;
    for (;;) { /* the tables map themselves: iterate to a fixed point */
        uint64_t need = pt_frames_for(base, pt_pfn + pt_pages + HV_LAYOUT_STACK_PAGES);
        if (need == pt_pages)
            break;
        pt_pages = need;
    }
    uint64_t stack_pfn = pt_pfn + pt_pages;
    uint64_t used = stack_pfn + HV_LAYOUT_STACK_PAGES;
    if (used > pages) {
        memset(out, 0, sizeof(*out));
        return "its image and start-of-day layout do not fit in its memory";
    }
    if (base + used * PAGE > HV_GUEST_VA_LIMIT) {
        memset(out, 0, sizeof(*out));
        return "its layout reaches the hypervisor's address range";
    }

    out->base_va = base;
    out->image_pages = img_pages;
    out->si_pfn = si_pfn;
    out->shinfo_pfn = shinfo_pfn;
    out->p2m_pfn = p2m_pfn;
    out->p2m_pages = p2m_pages;
    out->mods_pfn = mods_pfn;
    out->mods_pages = mods_pages;
    out->pt_pfn = pt_pfn;
    out->pt_pages = pt_pages;
    out->stack_pfn = stack_pfn;
    out->used_pages = used;
    out->entry = out->elf.entry;
    out->si_va = base + si_pfn * PAGE;
    out->stack_top_va = base + used * PAGE;
    return NULL;
}

uint32_t hv_layout_page_flags(const struct hv_layout *l, uint64_t pfn)
{
    if (pfn < l->image_pages) {
        uint64_t va = l->base_va + pfn * PAGE;
        for (size_t i = 0; i < l->elf.segs_count; i++) {
            const struct elf64_segment *s = &l->elf.segs[i];
            uint64_t lo = s->vaddr & ~(PAGE - 1);
            uint64_t hi = align_up(s->vaddr + s->memsz);
            if (va >= lo && va < hi)
                return ((s->flags & ELF64_PF_W) ? HV_LAYOUT_W : 0) |
                       ((s->flags & ELF64_PF_X) ? HV_LAYOUT_X : 0);
        }
        return 0; /* a gap between segments: read-only */
    }
    if (pfn >= l->pt_pfn && pfn < l->stack_pfn)
        return 0; /* page tables are read-only to the guest */
    return HV_LAYOUT_W;
}
