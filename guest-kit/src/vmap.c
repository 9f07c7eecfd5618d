/*
 * The mapping arena (bus_internal.h): addresses where guest-kit maps pages
 * other domains grant (the bus, connections) and the pages of areas it
 * offers. A sorted array of free ranges, first fit, merged on free; a
 * freed range is found again first, so its page tables serve again.
 * MP-safe (a spinlock, held with upcalls masked). Also gk/pages.h: the
 * domain's own pages mapped in the arena.
 */
#include <string.h>

#include "bus_internal.h"
#include "gk/event.h"
#include "gk/grant.h"
#include "gk/mm.h"
#include "gk/pages.h"
#include "gk/spinlock.h"

#define RANGES_MAX 64u
#define PAGE 4096ull

static struct {
    uint64_t va, pages;
} ranges[RANGES_MAX];
static uint32_t range_count;
static bool ready; /* the whole arena is one free range until first used */
static struct gk_spinlock lock = GK_SPINLOCK_INIT;

static void init_locked(void)
{
    if (ready)
        return;
    ranges[0].va = GK_VMAP_BASE;
    ranges[0].pages = GK_VMAP_BYTES / PAGE;
    range_count = 1;
    ready = true;
}

uint64_t gk_vmap_alloc(uint64_t pages)
{
    if (pages == 0 || pages > GK_VMAP_BYTES / PAGE)
        return 0;
    bool was = gk_events_disable();
    gk_spin_lock(&lock);
    init_locked();
    uint64_t va = 0;
    for (uint32_t i = 0; i < range_count; i++) {
        if (ranges[i].pages < pages)
            continue;
        va = ranges[i].va;
        ranges[i].va += pages * PAGE;
        ranges[i].pages -= pages;
        if (ranges[i].pages == 0) {
            for (uint32_t j = i + 1; j < range_count; j++)
                ranges[j - 1] = ranges[j];
            range_count--;
        }
        break;
    }
    gk_spin_unlock(&lock);
    gk_events_restore(was);
    return va;
}

void gk_vmap_free(uint64_t va, uint64_t pages)
{
    if (pages == 0 || va < GK_VMAP_BASE || va - GK_VMAP_BASE >= GK_VMAP_BYTES)
        return;
    bool was = gk_events_disable();
    gk_spin_lock(&lock);
    init_locked();
    uint32_t i = 0;
    while (i < range_count && ranges[i].va < va)
        i++;
    bool merge_prev = i > 0 && ranges[i - 1].va + ranges[i - 1].pages * PAGE == va;
    bool merge_next = i < range_count && va + pages * PAGE == ranges[i].va;
    if (merge_prev && merge_next) {
        ranges[i - 1].pages += pages + ranges[i].pages;
        for (uint32_t j = i + 1; j < range_count; j++)
            ranges[j - 1] = ranges[j];
        range_count--;
    } else if (merge_prev) {
        ranges[i - 1].pages += pages;
    } else if (merge_next) {
        ranges[i].va = va;
        ranges[i].pages += pages;
    } else if (range_count < RANGES_MAX) {
        for (uint32_t j = range_count; j > i; j--)
            ranges[j] = ranges[j - 1];
        ranges[i].va = va;
        ranges[i].pages = pages;
        range_count++;
    }
    /* else: too fragmented to remember; the addresses are lost (the arena
     * is 1 TiB, so this costs nothing real). */
    gk_spin_unlock(&lock);
    gk_events_restore(was);
}

/* ---- gk/pages.h ---------------------------------------------------------- */

void gk_pages_free(void *va, uint32_t pages)
{
    uint64_t base = (uint64_t)(uintptr_t)va;
    if (va == NULL)
        return;
    for (uint32_t i = 0; i < pages; i++) {
        uint64_t p = base + i * PAGE;
        uint64_t mfn = gk_va_to_mfn(p);
        if (mfn == HV_M2P_INVALID)
            continue;
        uint64_t pfn = gk_m2p(mfn);
        if (gk_unmap(p) == HV_OK && pfn != HV_M2P_INVALID)
            gk_pfn_free(pfn);
    }
    gk_vmap_free(base, pages);
}

void *gk_pages_alloc(uint32_t pages)
{
    uint64_t base = gk_vmap_alloc(pages);
    if (!base)
        return NULL;
    for (uint32_t i = 0; i < pages; i++) {
        uint64_t pfn = gk_pfn_alloc();
        if (pfn == HV_M2P_INVALID ||
            gk_map_frame(base + i * PAGE, gk_p2m(pfn), GK_PTE_RWDATA) != HV_OK) {
            if (pfn != HV_M2P_INVALID)
                gk_pfn_free(pfn);
            gk_pages_free((void *)(uintptr_t)base, i);
            gk_vmap_free(base + i * PAGE, pages - i);
            return NULL;
        }
        memset((void *)(uintptr_t)(base + i * PAGE), 0, PAGE);
    }
    return (void *)(uintptr_t)base;
}
