/*
 * guest-kit memory management (see gk/mm.h): the layout, the p2m/M2P
 * accessors, a pfn allocator, the table window and the page-table helpers.
 * Every page-table change goes through HC_MMU_UPDATE / HC_UPDATE_VA_MAPPING:
 * the domain never has a writable mapping of a table.
 *
 * MP-safe: every function that changes the allocator, the window or the
 * page tables holds one recursive lock with the calling VCPU's events masked
 * (mm_enter/mm_leave), so the functions may call each other and an event
 * handler on the holder's VCPU cannot run in the middle. Unmapping flushes
 * the TLBs of the domain's other running VCPUs too (flush_va).
 */
#include <string.h>

#include "gk/event.h"
#include "gk/gk.h"
#include "gk/mm.h"
#include "gk/spinlock.h"
#include "gk/vcpu.h"

#define PAGE 4096ull
#define SZ_2M (1ull << 21)
#define SZ_1G (1ull << 30)
#define WINDOW_SLOTS 512u
#define WINDOW_SLOT_SELF 0u    /* the window's L1, read-only */
#define WINDOW_SLOT_SCRATCH 1u /* writable scratch for zeroing */
#define WINDOW_SLOT_FIRST 2u   /* first slot for created tables */
/* The allocator manages pfns below this (1 GiB of domain memory). */
#define PFNS_MAX (1u << 18)

static struct {
    int ready;
    uint64_t base_va;        /* VA of pfn 0 */
    uint64_t pages;          /* si->pages_count */
    uint64_t first_free_pfn; /* first pfn after the layout */
    uint64_t *p2m;
    uint64_t m2p_entries;
    uint64_t pt_first_pfn; /* the layout's page-table frames */
    uint64_t pt_count;
    uint64_t base_mfn; /* the current L4 */
    uint64_t win_va;
    uint64_t win_mfn[WINDOW_SLOTS]; /* slot -> mfn mapped there, or HV_M2P_INVALID */
    uint64_t alloc_hint;
    uint64_t free_count;
} mm;

static uint64_t pfn_used[PFNS_MAX / 64]; /* allocator bitmap: 1 = handed out */

static struct gk_rspinlock mm_lock = GK_RSPINLOCK_INIT;

/* Takes the memory manager's lock; returns whether events were enabled. */
static bool mm_enter(void)
{
    bool was = gk_events_disable();
    gk_rspin_lock(&mm_lock, gk_vcpu_id());
    return was;
}

static void mm_leave(bool was)
{
    gk_rspin_unlock(&mm_lock);
    gk_events_restore(was);
}

/* After a translation for va was removed: this CPU's TLB entry, and the
 * TLBs of the CPUs running this domain's other VCPUs (they may have cached
 * it). A failed remote flush is a hypervisor refusal we cannot repair: it
 * is reported, so the caller never reuses the frame believing it unmapped. */
static int64_t flush_va(uint64_t va)
{
    int64_t rc = gk_hc_mmuext_op(HV_MMUEXT_INVLPG_LOCAL, va);
    uint64_t others = 0, me = gk_vcpu_id();
    for (unsigned i = 0; i < GK_VCPU_MAX && i < 64; i++)
        if (i != me && gk_vcpu_running(i))
            others |= 1ull << i;
    if (rc == HV_OK && others != 0)
        rc = gk_hc_mmuext_op(HV_MMUEXT_TLB_FLUSH_VCPUS, others);
    return rc;
}

uint64_t gk_mm_layout_base(void)
{
    return mm.base_va;
}

uint64_t gk_mm_window_va(void)
{
    return mm.win_va;
}

uint64_t gk_mm_window_l1_mfn(void)
{
    return mm.win_mfn[WINDOW_SLOT_SELF];
}

uint64_t gk_m2p(uint64_t mfn)
{
    if (mfn >= mm.m2p_entries)
        return HV_M2P_INVALID;
    return ((const volatile uint64_t *)(uintptr_t)HV_M2P_VA)[mfn];
}

uint64_t gk_p2m(uint64_t pfn)
{
    if (pfn >= mm.pages)
        return HV_M2P_INVALID;
    return mm.p2m[pfn];
}

static void p2m_set_locked(uint64_t pfn, uint64_t mfn)
{
    if (pfn < mm.pages)
        mm.p2m[pfn] = mfn;
}

void gk_p2m_set(uint64_t pfn, uint64_t mfn)
{
    bool was = mm_enter();
    p2m_set_locked(pfn, mfn);
    mm_leave(was);
}

uint64_t gk_layout_va_to_mfn(uint64_t va)
{
    if (va < mm.base_va || va >= mm.base_va + mm.first_free_pfn * PAGE)
        return HV_M2P_INVALID;
    return gk_p2m((va - mm.base_va) / PAGE);
}

static uint64_t alloc_limit(void)
{
    return mm.pages < PFNS_MAX ? mm.pages : PFNS_MAX;
}

static uint64_t pfn_alloc_locked(void)
{
    uint64_t lim = alloc_limit();
    for (uint64_t n = 0, p = mm.alloc_hint; n < lim; n++, p++) {
        if (p >= lim)
            p = mm.first_free_pfn;
        if (p < mm.first_free_pfn)
            continue;
        if (!(pfn_used[p / 64] & (1ull << (p % 64)))) {
            pfn_used[p / 64] |= 1ull << (p % 64);
            mm.alloc_hint = p + 1;
            mm.free_count--;
            return p;
        }
    }
    return HV_M2P_INVALID;
}

uint64_t gk_pfn_alloc(void)
{
    bool was = mm_enter();
    uint64_t r = pfn_alloc_locked();
    mm_leave(was);
    return r;
}

static void pfn_free_locked(uint64_t pfn)
{
    if (pfn < mm.first_free_pfn || pfn >= alloc_limit())
        gk_panic("gk_pfn_free: pfn %llu not from the allocator", (unsigned long long)pfn);
    if (!(pfn_used[pfn / 64] & (1ull << (pfn % 64))))
        gk_panic("gk_pfn_free: pfn %llu freed twice", (unsigned long long)pfn);
    pfn_used[pfn / 64] &= ~(1ull << (pfn % 64));
    mm.free_count++;
    if (pfn < mm.alloc_hint)
        mm.alloc_hint = pfn;
}

void gk_pfn_free(uint64_t pfn)
{
    bool was = mm_enter();
    pfn_free_locked(pfn);
    mm_leave(was);
}

uint64_t gk_pfn_free_count(void)
{
    return mm.free_count;
}

uint64_t gk_mm_base_mfn(void)
{
    return mm.base_mfn;
}

static int64_t mm_new_baseptr_locked(uint64_t l4_mfn)
{
    int64_t rc = gk_hc_mmuext_op(HV_MMUEXT_NEW_BASEPTR, l4_mfn);
    if (rc == HV_OK)
        mm.base_mfn = l4_mfn;
    return rc;
}

int64_t gk_mm_new_baseptr(uint64_t l4_mfn)
{
    bool was = mm_enter();
    int64_t r = mm_new_baseptr_locked(l4_mfn);
    mm_leave(was);
    return r;
}

const uint64_t *gk_pt_table_ptr(uint64_t mfn)
{
    /* A table of the layout: trust the p2m (ours), not only the M2P. */
    uint64_t pfn = gk_m2p(mfn);
    if (pfn >= mm.pt_first_pfn && pfn < mm.pt_first_pfn + mm.pt_count && gk_p2m(pfn) == mfn)
        return (const uint64_t *)(uintptr_t)(mm.base_va + pfn * PAGE);
    for (uint64_t p = mm.pt_first_pfn; p < mm.pt_first_pfn + mm.pt_count; p++)
        if (gk_p2m(p) == mfn)
            return (const uint64_t *)(uintptr_t)(mm.base_va + p * PAGE);
    for (unsigned s = 0; s < WINDOW_SLOTS; s++)
        if (s != WINDOW_SLOT_SCRATCH && mm.win_mfn[s] == mfn)
            return (const uint64_t *)(uintptr_t)(mm.win_va + s * PAGE);
    return NULL;
}

uint64_t gk_pt_read(uint64_t maddr)
{
    const uint64_t *t = gk_pt_table_ptr(maddr >> 12);
    if (!t)
        return 0;
    return ((const volatile uint64_t *)t)[(maddr & (PAGE - 1)) >> 3];
}

int64_t gk_pt_write(uint64_t maddr, uint64_t val)
{
    struct hv_mmu_update req = {.ptr = maddr | HV_MMU_CMD_PTE, .val = val};
    uint64_t done = 0;
    return gk_hc_mmu_update(&req, 1, &done);
}

uint64_t gk_pt_entry_maddr(uint64_t va, unsigned level)
{
    if (level < 1 || level > 4 || va >= HV_GUEST_VA_LIMIT)
        return 0;
    uint64_t table = mm.base_mfn;
    for (unsigned l = 4; l > level; l--) {
        const uint64_t *t = gk_pt_table_ptr(table);
        if (!t)
            return 0;
        uint64_t e = ((const volatile uint64_t *)t)[gk_pt_index(va, l)];
        if (!(e & GK_PTE_P))
            return 0;
        table = gk_pte_mfn(e);
    }
    if (!gk_pt_table_ptr(table))
        return 0;
    return (table << 12) | ((uint64_t)gk_pt_index(va, level) << 3);
}

static int64_t pt_alloc_table_locked(void)
{
    unsigned slot = WINDOW_SLOT_FIRST;
    while (slot < WINDOW_SLOTS && mm.win_mfn[slot] != HV_M2P_INVALID)
        slot++;
    if (slot == WINDOW_SLOTS)
        return HV_ENOMEM;
    uint64_t pfn = gk_pfn_alloc();
    if (pfn == HV_M2P_INVALID)
        return HV_ENOMEM;
    uint64_t mfn = gk_p2m(pfn);
    uint64_t scratch = mm.win_va + WINDOW_SLOT_SCRATCH * PAGE;
    int64_t rc = gk_hc_update_va_mapping(scratch, (mfn << 12) | GK_PTE_RWDATA, HV_UVM_INVLPG);
    if (rc != HV_OK) {
        gk_pfn_free(pfn);
        return rc;
    }
    memset((void *)(uintptr_t)scratch, 0, PAGE);
    rc = gk_hc_update_va_mapping(scratch, 0, HV_UVM_INVLPG);
    if (rc != HV_OK)
        return rc; /* cannot happen unless the hypervisor misbehaves: pfn leaks */
    uint64_t win_l1 = mm.win_mfn[WINDOW_SLOT_SELF];
    rc = gk_pt_write((win_l1 << 12) | (slot << 3), (mfn << 12) | GK_PTE_RO);
    if (rc != HV_OK) {
        gk_pfn_free(pfn);
        return rc;
    }
    mm.win_mfn[slot] = mfn;
    return (int64_t)mfn;
}

int64_t gk_pt_alloc_table(void)
{
    bool was = mm_enter();
    int64_t r = pt_alloc_table_locked();
    mm_leave(was);
    return r;
}

static int64_t pt_free_table_locked(uint64_t mfn)
{
    unsigned slot = WINDOW_SLOT_FIRST;
    while (slot < WINDOW_SLOTS && mm.win_mfn[slot] != mfn)
        slot++;
    if (slot == WINDOW_SLOTS)
        return HV_EINVAL;
    uint64_t pfn = gk_m2p(mfn);
    if (pfn >= mm.pages || gk_p2m(pfn) != mfn) {
        /* M2P not trustworthy: find the pfn in our own list. */
        for (pfn = mm.first_free_pfn; pfn < mm.pages && gk_p2m(pfn) != mfn; pfn++)
            ;
        if (pfn == mm.pages)
            return HV_EINVAL;
    }
    uint64_t win_l1 = mm.win_mfn[WINDOW_SLOT_SELF];
    int64_t rc = gk_pt_write((win_l1 << 12) | (slot << 3), 0);
    if (rc != HV_OK)
        return rc;
    rc = flush_va(mm.win_va + slot * PAGE);
    mm.win_mfn[slot] = HV_M2P_INVALID;
    if (rc != HV_OK)
        return rc; /* the frame stays out of the allocator: it may still be cached */
    gk_pfn_free(pfn);
    return HV_OK;
}

int64_t gk_pt_free_table(uint64_t mfn)
{
    bool was = mm_enter();
    int64_t r = pt_free_table_locked(mfn);
    mm_leave(was);
    return r;
}

static int64_t map_frame_locked(uint64_t va, uint64_t mfn, uint64_t flags)
{
    if ((va & (PAGE - 1)) || va < HV_GUEST_VA_MIN || va >= HV_GUEST_VA_LIMIT)
        return HV_EINVAL;
    uint64_t table = mm.base_mfn;
    for (unsigned level = 4; level > 1; level--) {
        const uint64_t *t = gk_pt_table_ptr(table);
        if (!t)
            return HV_ENOENT;
        unsigned idx = gk_pt_index(va, level);
        uint64_t e = ((const volatile uint64_t *)t)[idx];
        if (!(e & GK_PTE_P)) {
            int64_t nt = gk_pt_alloc_table();
            if (nt < 0)
                return nt;
            e = ((uint64_t)nt << 12) | GK_PTE_TABLE;
            int64_t rc = gk_pt_write((table << 12) | ((uint64_t)idx << 3), e);
            if (rc != HV_OK) {
                gk_pt_free_table((uint64_t)nt);
                return rc;
            }
        }
        table = gk_pte_mfn(e);
    }
    uint64_t pte = (mfn << 12) | (flags & ~GK_PTE_ADDR_MASK) | GK_PTE_P;
    return gk_pt_write((table << 12) | ((uint64_t)gk_pt_index(va, 1) << 3), pte);
}

int64_t gk_map_frame(uint64_t va, uint64_t mfn, uint64_t flags)
{
    bool was = mm_enter();
    int64_t r = map_frame_locked(va, mfn, flags);
    mm_leave(was);
    return r;
}

static int64_t unmap_locked(uint64_t va)
{
    if (va & (PAGE - 1))
        return HV_EINVAL;
    uint64_t maddr = gk_pt_entry_maddr(va, 1);
    if (maddr == 0 || !(gk_pt_read(maddr) & GK_PTE_P))
        return HV_ENOENT;
    int64_t rc = gk_pt_write(maddr, 0);
    if (rc != HV_OK)
        return rc;
    return flush_va(va);
}

int64_t gk_unmap(uint64_t va)
{
    bool was = mm_enter();
    int64_t r = unmap_locked(va);
    mm_leave(was);
    return r;
}

/* A 2 MiB region for the window whose L2 entry (in the layout's L2) is free. */
static uint64_t pick_window(const uint64_t *l2)
{
    uint64_t lo = mm.base_va & ~(SZ_2M - 1);
    uint64_t cands[2] = {0, (mm.base_va + mm.pages * PAGE + SZ_2M - 1) & ~(SZ_2M - 1)};
    if (lo >= 2 * SZ_2M)
        cands[0] = lo - SZ_2M;
    for (unsigned i = 0; i < 2; i++) {
        uint64_t w = cands[i];
        if (w == 0 || (w / SZ_1G) != (mm.base_va / SZ_1G))
            continue;
        if (!(l2[gk_pt_index(w, 2)] & GK_PTE_P))
            return w;
    }
    return 0;
}

int gk_mm_init(const struct hv_start_info *si)
{
    /* Called again (guest-kit's runtime calls it before main in a domain
     * with a bus, and main usually calls it too): nothing more to do. */
    if (mm.ready)
        return si != NULL && si->p2m_va == (uint64_t)(uintptr_t)mm.p2m ? HV_OK : HV_EEXIST;
    mm.base_va = si->first_free_va - si->first_free_pfn * PAGE;
    mm.pages = si->pages_count;
    mm.first_free_pfn = si->first_free_pfn;
    mm.p2m = (uint64_t *)(uintptr_t)si->p2m_va;
    mm.m2p_entries = si->m2p_entries;
    mm.pt_first_pfn = (si->pt_base_va - mm.base_va) / PAGE;
    mm.pt_count = si->pt_frames_count;
    mm.base_mfn = gk_p2m(mm.pt_first_pfn);
    mm.alloc_hint = mm.first_free_pfn;
    mm.free_count = alloc_limit() > mm.first_free_pfn ? alloc_limit() - mm.first_free_pfn : 0;
    for (unsigned s = 0; s < WINDOW_SLOTS; s++)
        mm.win_mfn[s] = HV_M2P_INVALID;

    /* The layout's L2 (the window goes in the same GiB). */
    uint64_t table = mm.base_mfn;
    for (unsigned level = 4; level > 2; level--) {
        const uint64_t *t = gk_pt_table_ptr(table);
        if (!t)
            return HV_ENOENT;
        uint64_t e = t[gk_pt_index(mm.base_va, level)];
        if (!(e & GK_PTE_P))
            return HV_ENOENT;
        table = gk_pte_mfn(e);
    }
    uint64_t l2_mfn = table;
    const uint64_t *l2 = gk_pt_table_ptr(l2_mfn);
    if (!l2)
        return HV_ENOENT;
    uint64_t w = pick_window(l2);
    if (w == 0)
        return HV_ENOTSUP;

    /* A never-used free frame is zero (docs/abi.md): it becomes the window's
     * L1 directly, mapping itself read-only in slot 0. */
    uint64_t pfn = gk_pfn_alloc();
    if (pfn == HV_M2P_INVALID)
        return HV_ENOMEM;
    uint64_t l1 = gk_p2m(pfn);
    struct hv_mmu_update reqs[2] = {
        {.ptr = (l2_mfn << 12) | ((uint64_t)gk_pt_index(w, 2) << 3),
         .val = (l1 << 12) | GK_PTE_TABLE},
        {.ptr = (l1 << 12) | (WINDOW_SLOT_SELF << 3), .val = (l1 << 12) | GK_PTE_RO},
    };
    uint64_t done = 0;
    int64_t rc = gk_hc_mmu_update(reqs, 2, &done);
    if (rc != HV_OK) {
        if (done == 1)
            gk_pt_write(reqs[0].ptr, 0);
        gk_pfn_free(pfn);
        return (int)rc;
    }
    mm.win_va = w;
    mm.win_mfn[WINDOW_SLOT_SELF] = l1;
    const volatile uint64_t *self = (const volatile uint64_t *)(uintptr_t)w;
    for (unsigned i = 1; i < WINDOW_SLOTS; i++)
        if (self[i] != 0)
            return HV_EINVAL; /* the frame was not zeroed */
    mm.ready = 1;
    return HV_OK;
}
