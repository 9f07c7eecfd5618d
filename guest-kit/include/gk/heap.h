/*
 * guest-kit heap: malloc/free/calloc/realloc over memory the caller hands in.
 *
 * A struct gk_heap manages up to GK_HEAP_REGIONS_MAX regions of memory given
 * by the caller (gk_heap_init, gk_heap_add_region) or by a grow callback that
 * the heap calls when no free block is large enough. A region that starts
 * exactly where the last one ends extends it, so a callback that maps pages
 * after the heap's end gives one contiguous heap.
 *
 * Guarantees:
 *   - every pointer returned is aligned to GK_HEAP_ALIGN (16) bytes;
 *   - every request is bounded: more than GK_HEAP_ALLOC_MAX bytes, or an
 *     n * size overflow in calloc, returns NULL and changes nothing;
 *   - free/realloc check the block they are given: a pointer outside the
 *     heap, misaligned, with a damaged header, or already free (double free)
 *     is reported through the corruption handler, and so is a damaged
 *     free-list link found while allocating;
 *   - after a corruption report the heap is poisoned: every later call
 *     returns NULL / does nothing, so a handler that returns (host tests)
 *     leaves no way to use the damaged structures.
 *
 * The corruption handler defaults to gk_panic in a domain (the domain is
 * shut down as crashed with the reason); host code must set one.
 *
 * A struct gk_heap is not thread-safe: a domain with several VCPUs wraps
 * calls on its own heaps in a spinlock (gk/spinlock.h). The global malloc
 * family below is MP-safe (one lock, events masked while held): one heap
 * over a static arena in .bss (GK_HEAP_STATIC_ARENA_BYTES); until the
 * page-mapping helpers (gk/mm.h) grow it, that arena is all the memory
 * malloc has.
 */
#ifndef GK_HEAP_H
#define GK_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GK_HEAP_ALIGN 16u
#define GK_HEAP_REGIONS_MAX 16u
/* The largest request the heap accepts (64 GiB); larger ones return NULL.
 * A region is also capped at GK_HEAP_REGION_MAX bytes (the rest is unused). */
#define GK_HEAP_ALLOC_MAX (1ull << 36)
#define GK_HEAP_REGION_MAX (1ull << 38)
/* Size of the .bss arena behind the global malloc (guest builds only). */
#ifndef GK_HEAP_STATIC_ARENA_BYTES
#define GK_HEAP_STATIC_ARENA_BYTES (256u * 1024u)
#endif

struct gk_heap;

/* Asked for at least min_bytes more memory: returns the start of a new
 * region and its size in *size_bytes, or NULL if there is no more. The size
 * should be >= min_bytes; a smaller region (all that was left) is kept by
 * the heap, and the allocation that asked fails. Called only from inside
 * gk_heap_alloc/realloc. */
typedef void *(*gk_heap_grow_fn)(void *ctx, size_t min_bytes, size_t *size_bytes);

/* Called once when the heap finds damage; `why` is a constant string, `ptr`
 * the pointer involved. In a domain it should not return (gk_panic does
 * not); if it returns, the heap stays poisoned. */
typedef void (*gk_heap_corrupt_fn)(struct gk_heap *heap, const char *why, const void *ptr);

struct gk_heap_region {
    uintptr_t start; /* first block header (16-aligned) */
    uintptr_t end;   /* the end sentinel header sits at end - 16 */
};

/* Statistics, kept exactly (the tests compare them with a model). */
struct gk_heap_stats {
    size_t total_bytes;      /* bytes of all regions under management */
    size_t used_bytes;       /* bytes of allocated blocks, headers included */
    size_t allocated_count;  /* live allocations */
    size_t free_block_count; /* blocks on the free list */
    size_t grow_count;       /* successful grow callbacks */
};

/* A heap. Treat the fields as private; zero-initialised storage is fine
 * before gk_heap_init. */
struct gk_heap {
    struct gk_heap_region regions[GK_HEAP_REGIONS_MAX];
    unsigned region_count;
    struct gk_heap_free *free_head; /* doubly linked free blocks, address-unordered */
    gk_heap_grow_fn grow;
    void *grow_ctx;
    gk_heap_corrupt_fn on_corrupt;
    bool poisoned;
    uint64_t secret; /* mixed into every header check word */
    struct gk_heap_stats stats;
};

/* Sets the heap up over [region, region + size_bytes) (which may be NULL/0:
 * an empty heap that only grows). Returns false if the region is too small to
 * hold one block (64 bytes after alignment) or wraps around. */
bool gk_heap_init(struct gk_heap *heap, void *region, size_t size_bytes);
/* Plugs in a grow callback (NULL to remove it). */
void gk_heap_set_grow(struct gk_heap *heap, gk_heap_grow_fn grow, void *ctx);
/* Plugs in the corruption handler (NULL: the default, see above). */
void gk_heap_set_corrupt_handler(struct gk_heap *heap, gk_heap_corrupt_fn fn);
/* Adds memory. Returns false (and changes nothing) if the region is too
 * small, overlaps a region already managed, or the region table is full. */
bool gk_heap_add_region(struct gk_heap *heap, void *region, size_t size_bytes);

void *gk_heap_alloc(struct gk_heap *heap, size_t size_bytes);
void *gk_heap_calloc(struct gk_heap *heap, size_t count, size_t size_bytes);
/* C semantics: realloc(NULL, n) allocates; realloc(p, 0) frees p and
 * returns NULL; on failure p is left untouched and NULL is returned. */
void *gk_heap_realloc(struct gk_heap *heap, void *ptr, size_t size_bytes);
void gk_heap_free(struct gk_heap *heap, void *ptr);
/* Bytes usable at ptr (>= the size asked for); 0 for NULL or a bad pointer
 * (which is reported as corruption). */
size_t gk_heap_usable_size(struct gk_heap *heap, void *ptr);

/* Walks every block of every region and the free list and checks all
 * invariants (check words, sizes, neighbours' back links, no two adjacent
 * free blocks, free list == free blocks, statistics). Returns true if the
 * heap is consistent; does not call the corruption handler. O(blocks). */
bool gk_heap_check(const struct gk_heap *heap);
void gk_heap_get_stats(const struct gk_heap *heap, struct gk_heap_stats *out);

#ifndef HV_HOST_TEST
/* The domain's global heap: GK_HEAP_STATIC_ARENA_BYTES of .bss, set up on
 * first use, corruption -> gk_panic. malloc/calloc/realloc/free take its
 * lock themselves; calling gk_heap_* on it directly (statistics, checks)
 * from a domain with several VCPUs needs gk_heap_global_lock around it. */
struct gk_heap *gk_heap_global(void);
/* Takes the global heap's lock with this VCPU's events masked; returns
 * whether they were enabled, for gk_heap_global_unlock. Not recursive: no
 * malloc & co. while holding it. */
bool gk_heap_global_lock(void);
void gk_heap_global_unlock(bool events_were_enabled);

/* A grow callback that backs a heap with the domain's own unused frames
 * (gk/mm.h; gk_mm_init must have run): each call maps fresh pfns read-write
 * (NX) at consecutive pages from next_va, never past end_va, at least
 * GK_HEAP_FRAMES_CHUNK_BYTES at a time, so successive regions are contiguous
 * and extend one another. Frames are never given back. */
struct gk_heap_frames {
    uint64_t next_va; /* page-aligned, unmapped */
    uint64_t end_va;
};
#define GK_HEAP_FRAMES_CHUNK_BYTES (64u * 1024u)
/* A suggested place for heap pages: 16 TiB, far from the start-of-day layout
 * at 4 MiB and from the mm table window next to it. */
#define GK_HEAP_FRAMES_VA_DEFAULT 0x0000100000000000ull
void *gk_heap_grow_frames(void *ctx, size_t min_bytes, size_t *size_bytes);
/* Lets the global heap grow into [va, va + max_bytes) with
 * gk_heap_grow_frames once its .bss arena is used up. False if va or
 * max_bytes is not page-aligned or the range leaves the guest half. */
bool gk_heap_global_grow_from_frames(uint64_t va, uint64_t max_bytes);
void *malloc(size_t size_bytes);
void *calloc(size_t count, size_t size_bytes);
void *realloc(void *ptr, size_t size_bytes);
void free(void *ptr);
#endif

#endif
