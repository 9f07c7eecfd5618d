/*
 * Physical frame allocator (boot-time and general machine-frame allocator).
 *
 * Manages machine frame numbers only: it never reads or writes the memory of
 * the frames it hands out. Its only storage is a caller-provided bitmap area
 * holding two bitmaps of one bit per frame below `limit_frames`:
 *   usable[]  1 = the frame may ever be handed out (fixed after pmm_init)
 *   free[]    1 = the frame is free now; invariant: free[] is a subset of usable[]
 *
 * A frame is usable iff ALL of these hold:
 *   - it lies wholly inside one MEM_AVAILABLE entry (ranges rounded inward
 *     to whole pages; an available entry whose base + length overflows is
 *     ignored as absurd),
 *   - no byte of it is covered by any non-available entry (rounded outward;
 *     a non-available entry whose end overflows covers everything from its
 *     base up), whatever the order or overlap of the map,
 *   - no byte of it is covered by any reserved range the caller names
 *     (hypervisor image, modules, boot information, the first 1 MiB, ...),
 *   - it lies wholly below max_addr,
 *   - it is not one of the frames holding the bitmaps themselves.
 *
 * Use at boot:
 *   1. pmm_plan() says how big the bitmap storage is and where to put it
 *      (the lowest suitable usable place);
 *   2. the caller maps [bitmap_paddr, bitmap_paddr + size) somewhere;
 *   3. pmm_init() with the same map/reserved list/max_addr and that mapping.
 *
 * Not thread-safe: the caller holds the lock that protects the struct pmm for
 * every call. Cost: pmm_alloc is O(1) amortised (next-fit over 64-frame
 * words), pmm_free / pmm_is_free are O(1), pmm_init is O(frames / 64 + entries).
 */
#ifndef HV_PMM_H
#define HV_PMM_H

#include "memmap.h"
#include "types.h"

/* Allocator state. Treat as opaque outside pmm.c. */
struct pmm {
    uint64_t *free_bits;   /* words_count words */
    uint64_t *usable_bits; /* words_count words, right after free_bits */
    uint64_t words_count;
    uint64_t limit_frames; /* frames [0, limit_frames) are tracked */
    uint64_t free_count;
    uint64_t total_count; /* usable frames */
    uint64_t hint_word;   /* next-fit: where the next search starts */
};

/*
 * Step 1: computes how many bytes the bitmap storage needs (a multiple of
 * PAGE_SIZE) and a page-aligned physical place for it made only of usable
 * frames (see above; it overlaps no reserved range, no non-available entry,
 * and lies below max_addr). Picks the lowest such place that lies inside a
 * single available entry (a place straddling two adjacent available entries
 * is not considered). Returns false (and
 * leaves the outputs untouched) if there is no usable frame at all or no
 * place is big enough. Pure function of its arguments.
 */
bool pmm_plan(const struct mem_map_entry *mmap, size_t mmap_count, const struct mem_range *reserved,
              size_t reserved_count, paddr_t max_addr, paddr_t *bitmap_paddr,
              size_t *bitmap_size_bytes);

/*
 * Step 2: initialises *pmm with `bitmap_storage` (8-byte aligned, at least the
 * size pmm_plan returned, mapped by the caller; it is the memory at
 * bitmap_paddr). The frames of [bitmap_paddr, bitmap_paddr + size) are removed
 * from the usable set. Every usable frame starts free. Returns false, leaving
 * *pmm zeroed (every call then fails/returns INVALID_MFN), if the arguments do
 * not match a plan: storage too small or misaligned, or the bitmap place not
 * made of usable frames.
 */
bool pmm_init(struct pmm *pmm, const struct mem_map_entry *mmap, size_t mmap_count,
              const struct mem_range *reserved, size_t reserved_count, paddr_t max_addr,
              paddr_t bitmap_paddr, void *bitmap_storage, size_t bitmap_size_bytes);

/* Allocates one free frame; INVALID_MFN when none is left. */
mfn_t pmm_alloc(struct pmm *pmm);

/* Returns frame m to the pool. Returns false and changes nothing if m is not
 * usable or already free: that is a bug in the caller (double free). */
bool pmm_free(struct pmm *pmm, mfn_t m);

/* True iff m is usable and currently free. */
bool pmm_is_free(const struct pmm *pmm, mfn_t m);

/* True iff m may ever be handed out by this allocator. */
bool pmm_is_usable(const struct pmm *pmm, mfn_t m);

uint64_t pmm_free_count(const struct pmm *pmm);
uint64_t pmm_total_count(const struct pmm *pmm);

#endif /* HV_PMM_H */
