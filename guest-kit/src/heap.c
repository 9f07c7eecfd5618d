/*
 * guest-kit heap (gk/heap.h): boundary-tag blocks, a first-fit doubly linked
 * free list, immediate coalescing, every header protected by a check word.
 *
 * Layout of a region [start, end), both 16-aligned:
 *
 *   start: sentinel header, size 16, used (no payload)
 *          blocks: header (16 bytes) + payload, size a multiple of 16, >= 32
 *   end-16: sentinel header, size 0, used
 *
 * A header is { prev_size, word }: prev_size is the size of the block just
 * before (for backward coalescing); word holds the size (bits 4..39), the
 * used bit (bit 0) and a 24-bit tag (bits 40..63) that hashes the header's
 * address, prev_size, size, used bit and the heap's secret. A header whose
 * tag does not match was damaged, or is not a header at all. A free block
 * keeps its free-list links in the first 16 bytes of its payload.
 *
 * Every change to a header goes through hdr_set(), which recomputes the tag.
 */
#include <string.h>

#include "gk/heap.h"

#ifndef HV_HOST_TEST
#include "gk/event.h"
#include "gk/gk.h"
#include "gk/mm.h"
#include "gk/spinlock.h"
#endif

#define HDR_BYTES 16u
#define MIN_BLOCK 32u
#define USED_BIT 1ull
#define SIZE_MASK 0x000000fffffffff0ull
#define TAG_SHIFT 40

struct hdr {
    uint64_t prev_size;
    uint64_t word;
};

/* The payload of a free block. */
struct gk_heap_free {
    struct gk_heap_free *next;
    struct gk_heap_free *prev;
};

_Static_assert(sizeof(struct hdr) == HDR_BYTES, "header is 16 bytes");
_Static_assert(sizeof(struct gk_heap_free) <= MIN_BLOCK - HDR_BYTES, "links fit a minimal block");

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t hdr_tag(const struct gk_heap *heap, const struct hdr *h, uint64_t prev_size,
                        uint64_t size_used)
{
    uint64_t x = mix64((uint64_t)(uintptr_t)h ^ heap->secret);
    x = mix64(x ^ prev_size);
    x = mix64(x ^ size_used);
    return x >> TAG_SHIFT;
}

static void hdr_set(const struct gk_heap *heap, struct hdr *h, uint64_t prev_size, uint64_t size,
                    bool used)
{
    uint64_t size_used = size | (used ? USED_BIT : 0);
    h->prev_size = prev_size;
    h->word = size_used | (hdr_tag(heap, h, prev_size, size_used) << TAG_SHIFT);
}

static bool hdr_ok(const struct gk_heap *heap, const struct hdr *h)
{
    uint64_t size_used = h->word & (SIZE_MASK | USED_BIT);
    if (h->word & 0xeull) /* bits 1..3 are always zero */
        return false;
    return (h->word >> TAG_SHIFT) == hdr_tag(heap, h, h->prev_size, size_used);
}

static uint64_t hdr_size(const struct hdr *h)
{
    return h->word & SIZE_MASK;
}

static bool hdr_used(const struct hdr *h)
{
    return (h->word & USED_BIT) != 0;
}

static struct hdr *hdr_at(uintptr_t addr)
{
    return (struct hdr *)addr;
}

static struct hdr *hdr_next(const struct hdr *h)
{
    return hdr_at((uintptr_t)h + hdr_size(h));
}

static struct gk_heap_free *hdr_links(struct hdr *h)
{
    return (struct gk_heap_free *)((uintptr_t)h + HDR_BYTES);
}

static struct hdr *links_hdr(struct gk_heap_free *f)
{
    return hdr_at((uintptr_t)f - HDR_BYTES);
}

static void heap_corrupt(struct gk_heap *heap, const char *why, const void *ptr)
{
    if (heap->poisoned)
        return;
    heap->poisoned = true;
    if (heap->on_corrupt) {
        heap->on_corrupt(heap, why, ptr);
        return;
    }
#ifdef HV_HOST_TEST
    __builtin_trap();
#else
    gk_panic("heap: %s (pointer %p)", why, ptr);
#endif
}

/* The region that holds [addr, addr + len), or NULL. */
static const struct gk_heap_region *region_of(const struct gk_heap *heap, uintptr_t addr,
                                              uintptr_t len)
{
    for (unsigned i = 0; i < heap->region_count; i++) {
        const struct gk_heap_region *r = &heap->regions[i];
        if (addr >= r->start && addr < r->end && len <= r->end - addr)
            return r;
    }
    return NULL;
}

/* A free-list link is NULL or points at the links of a block in a region
 * (checked before it is followed: a use-after-free write may have changed it). */
static bool links_ok(const struct gk_heap *heap, const struct gk_heap_free *f)
{
    uintptr_t a = (uintptr_t)f;
    return !f || (!(a & (GK_HEAP_ALIGN - 1)) && a >= HDR_BYTES &&
                  region_of(heap, a - HDR_BYTES, MIN_BLOCK) != NULL);
}

static void free_list_insert(struct gk_heap *heap, struct hdr *h)
{
    struct gk_heap_free *f = hdr_links(h);
    f->prev = NULL;
    f->next = heap->free_head;
    if (heap->free_head)
        heap->free_head->prev = f;
    heap->free_head = f;
    heap->stats.free_block_count++;
}

/* Unlinks a free block after checking that its neighbours point back at it.
 * Returns false (heap poisoned) if they do not. */
static bool free_list_remove(struct gk_heap *heap, struct hdr *h)
{
    struct gk_heap_free *f = hdr_links(h);
    if (!links_ok(heap, f->prev) || !links_ok(heap, f->next) ||
        (f->prev ? f->prev->next != f : heap->free_head != f) || (f->next && f->next->prev != f)) {
        heap_corrupt(heap, "free list damaged", f);
        return false;
    }
    if (f->prev)
        f->prev->next = f->next;
    else
        heap->free_head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    heap->stats.free_block_count--;
    return true;
}

/* Checks that the neighbour after h is a valid header that points back at h. */
static bool next_ok(const struct gk_heap *heap, const struct hdr *h, const struct gk_heap_region *r)
{
    uintptr_t n = (uintptr_t)h + hdr_size(h);
    return n <= r->end - HDR_BYTES && hdr_ok(heap, hdr_at(n)) &&
           hdr_at(n)->prev_size == hdr_size(h);
}

/*
 * Turns a user pointer into its block header after checking everything that
 * can be checked in O(1): inside a region, aligned, a valid tag, a sane
 * size, a consistent next neighbour, and (if must_be_used) the used bit.
 * Reports corruption and returns NULL otherwise.
 */
static struct hdr *block_of(struct gk_heap *heap, const void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    const struct gk_heap_region *r = region_of(heap, p, 1);
    if ((p & (GK_HEAP_ALIGN - 1)) || !r || p < r->start + 2 * HDR_BYTES ||
        p > r->end - 2 * HDR_BYTES) {
        heap_corrupt(heap, "pointer not from this heap", ptr);
        return NULL;
    }
    struct hdr *h = hdr_at(p - HDR_BYTES);
    if (!hdr_ok(heap, h) || hdr_size(h) < MIN_BLOCK || !next_ok(heap, h, r)) {
        heap_corrupt(heap, "damaged block header or not a heap pointer", ptr);
        return NULL;
    }
    if (!hdr_used(h)) {
        heap_corrupt(heap, "double free (block is not allocated)", ptr);
        return NULL;
    }
    return h;
}

/*
 * Makes the used block h free: merges it with a free neighbour on either
 * side and puts the result on the free list. h's header and its next
 * neighbour were validated by the caller. Does not touch allocation stats.
 */
static void block_release(struct gk_heap *heap, struct hdr *h)
{
    uint64_t size = hdr_size(h);
    uint64_t prev_size = h->prev_size;
    struct hdr *next = hdr_next(h);

    if (!hdr_used(next)) {
        if (!free_list_remove(heap, next))
            return;
        size += hdr_size(next);
        next->word = 0; /* a stale header must never validate again */
    }
    struct hdr *prev = hdr_at((uintptr_t)h - prev_size);
    if (prev_size >= MIN_BLOCK && !hdr_used(prev)) {
        if (!hdr_ok(heap, prev) || hdr_size(prev) != prev_size) {
            heap_corrupt(heap, "damaged header before a freed block", h);
            return;
        }
        if (!free_list_remove(heap, prev))
            return;
        h->word = 0;
        size += prev_size;
        prev_size = prev->prev_size;
        h = prev;
    }
    hdr_set(heap, h, prev_size, size, false);
    struct hdr *after = hdr_next(h);
    hdr_set(heap, after, size, hdr_size(after), hdr_used(after));
    free_list_insert(heap, h);
}

/* Carves a used block of `need` bytes off the front of the used block h
 * (size >= need) and frees the rest if it can hold a block. */
static void block_trim(struct gk_heap *heap, struct hdr *h, uint64_t need)
{
    uint64_t size = hdr_size(h);
    if (size - need < MIN_BLOCK)
        return;
    hdr_set(heap, h, h->prev_size, need, true);
    struct hdr *rest = hdr_next(h);
    hdr_set(heap, rest, need, size - need, true);
    struct hdr *after = hdr_next(rest);
    hdr_set(heap, after, size - need, hdr_size(after), hdr_used(after));
    block_release(heap, rest);
}

static bool heap_add(struct gk_heap *heap, void *region, size_t size_bytes)
{
    uintptr_t s = ((uintptr_t)region + GK_HEAP_ALIGN - 1) & ~(uintptr_t)(GK_HEAP_ALIGN - 1);
    uintptr_t raw_end = (uintptr_t)region + size_bytes;
    if (!region || raw_end < (uintptr_t)region || s < (uintptr_t)region || s > raw_end)
        return false;
    uint64_t len = (raw_end - s) & ~(uint64_t)(GK_HEAP_ALIGN - 1);
    if (len > GK_HEAP_REGION_MAX)
        len = GK_HEAP_REGION_MAX;
    uintptr_t e = s + len;
    for (unsigned i = 0; i < heap->region_count; i++)
        if (s < heap->regions[i].end && heap->regions[i].start < e)
            return false; /* overlaps memory already managed */

    /* Contiguous with a region: the old end sentinel becomes a block. */
    for (unsigned i = 0; i < heap->region_count; i++) {
        struct gk_heap_region *r = &heap->regions[i];
        if (r->end != s || len < MIN_BLOCK || (r->end - r->start) + len > GK_HEAP_REGION_MAX)
            continue;
        struct hdr *old = hdr_at(r->end - HDR_BYTES);
        if (!hdr_ok(heap, old) || hdr_size(old) != 0) {
            heap_corrupt(heap, "damaged end of region", old);
            return false;
        }
        hdr_set(heap, old, old->prev_size, len, true);
        hdr_set(heap, hdr_at(e - HDR_BYTES), len, 0, true);
        r->end = e;
        heap->stats.total_bytes += len;
        block_release(heap, old);
        return !heap->poisoned;
    }

    if (len < 2 * HDR_BYTES + MIN_BLOCK || heap->region_count == GK_HEAP_REGIONS_MAX)
        return false;
    struct hdr *first = hdr_at(s + HDR_BYTES);
    uint64_t block = len - 2 * HDR_BYTES;
    hdr_set(heap, hdr_at(s), 0, HDR_BYTES, true);
    hdr_set(heap, first, HDR_BYTES, block, true);
    hdr_set(heap, hdr_at(e - HDR_BYTES), block, 0, true);
    heap->regions[heap->region_count++] = (struct gk_heap_region){s, e};
    heap->stats.total_bytes += len;
    block_release(heap, first);
    return true;
}

bool gk_heap_init(struct gk_heap *heap, void *region, size_t size_bytes)
{
    memset(heap, 0, sizeof(*heap));
    heap->secret = mix64((uint64_t)(uintptr_t)heap ^ 0x6b68656170ull);
    if (!region && size_bytes == 0)
        return true;
    return heap_add(heap, region, size_bytes);
}

void gk_heap_set_grow(struct gk_heap *heap, gk_heap_grow_fn grow, void *ctx)
{
    heap->grow = grow;
    heap->grow_ctx = ctx;
}

void gk_heap_set_corrupt_handler(struct gk_heap *heap, gk_heap_corrupt_fn fn)
{
    heap->on_corrupt = fn;
}

bool gk_heap_add_region(struct gk_heap *heap, void *region, size_t size_bytes)
{
    return !heap->poisoned && heap_add(heap, region, size_bytes);
}

/* Block size for a request: header + payload rounded to 16, at least 32. */
static uint64_t need_for(size_t size_bytes)
{
    uint64_t need =
        ((uint64_t)size_bytes + HDR_BYTES + GK_HEAP_ALIGN - 1) & ~(uint64_t)(GK_HEAP_ALIGN - 1);
    return need < MIN_BLOCK ? MIN_BLOCK : need;
}

/* First fit over the free list; validates each block it looks at and stops
 * a cycle with the free-block count. */
static struct hdr *find_fit(struct gk_heap *heap, uint64_t need)
{
    size_t seen = 0;
    for (struct gk_heap_free *f = heap->free_head; f; f = f->next) {
        struct hdr *h = links_hdr(f);
        if (++seen > heap->stats.free_block_count || !region_of(heap, (uintptr_t)h, MIN_BLOCK) ||
            !hdr_ok(heap, h) || hdr_used(h)) {
            heap_corrupt(heap, "free list damaged", f);
            return NULL;
        }
        if (hdr_size(h) >= need)
            return h;
    }
    return NULL;
}

void *gk_heap_alloc(struct gk_heap *heap, size_t size_bytes)
{
    if (heap->poisoned || size_bytes > GK_HEAP_ALLOC_MAX)
        return NULL;
    uint64_t need = need_for(size_bytes);
    struct hdr *h = find_fit(heap, need);
    if (!h && !heap->poisoned && heap->grow) {
        size_t got = 0;
        /* Room for the block and a new region's two sentinels. */
        void *more = heap->grow(heap->grow_ctx, (size_t)need + 2 * HDR_BYTES + GK_HEAP_ALIGN, &got);
        if (more && heap_add(heap, more, got)) {
            heap->stats.grow_count++;
            h = find_fit(heap, need);
        }
    }
    if (!h || heap->poisoned)
        return NULL;
    if (!free_list_remove(heap, h))
        return NULL;
    hdr_set(heap, h, h->prev_size, hdr_size(h), true);
    block_trim(heap, h, need);
    heap->stats.used_bytes += hdr_size(h);
    heap->stats.allocated_count++;
    return (void *)((uintptr_t)h + HDR_BYTES);
}

void *gk_heap_calloc(struct gk_heap *heap, size_t count, size_t size_bytes)
{
    size_t total;
    if (__builtin_mul_overflow(count, size_bytes, &total))
        return NULL;
    void *p = gk_heap_alloc(heap, total);
    if (p)
        memset(p, 0, total);
    return p;
}

void gk_heap_free(struct gk_heap *heap, void *ptr)
{
    if (!ptr || heap->poisoned)
        return;
    struct hdr *h = block_of(heap, ptr);
    if (!h)
        return;
    heap->stats.used_bytes -= hdr_size(h);
    heap->stats.allocated_count--;
    block_release(heap, h);
}

size_t gk_heap_usable_size(struct gk_heap *heap, void *ptr)
{
    if (!ptr || heap->poisoned)
        return 0;
    struct hdr *h = block_of(heap, ptr);
    return h ? (size_t)(hdr_size(h) - HDR_BYTES) : 0;
}

void *gk_heap_realloc(struct gk_heap *heap, void *ptr, size_t size_bytes)
{
    if (!ptr)
        return gk_heap_alloc(heap, size_bytes);
    if (heap->poisoned)
        return NULL;
    if (size_bytes == 0) {
        gk_heap_free(heap, ptr);
        return NULL;
    }
    struct hdr *h = block_of(heap, ptr);
    if (!h || size_bytes > GK_HEAP_ALLOC_MAX)
        return NULL;
    uint64_t need = need_for(size_bytes);
    uint64_t size = hdr_size(h);
    const uint64_t old_size = size;
    struct hdr *next = hdr_next(h);
    if (need > size && !hdr_used(next) && size + hdr_size(next) >= need) {
        /* Grow in place into the free block after it. */
        if (!free_list_remove(heap, next))
            return NULL;
        uint64_t merged = size + hdr_size(next);
        next->word = 0;
        hdr_set(heap, h, h->prev_size, merged, true);
        struct hdr *after = hdr_next(h);
        hdr_set(heap, after, merged, hdr_size(after), hdr_used(after));
        size = merged;
    }
    if (need <= size) {
        block_trim(heap, h, need);
        heap->stats.used_bytes = heap->stats.used_bytes - old_size + hdr_size(h);
        return heap->poisoned ? NULL : ptr;
    }
    void *fresh = gk_heap_alloc(heap, size_bytes);
    if (!fresh)
        return NULL;
    memcpy(fresh, ptr, (size_t)(old_size - HDR_BYTES));
    gk_heap_free(heap, ptr);
    return fresh;
}

bool gk_heap_check(const struct gk_heap *heap)
{
    size_t free_blocks = 0, used_bytes = 0, allocated = 0, total = 0;
    for (unsigned i = 0; i < heap->region_count; i++) {
        const struct gk_heap_region *r = &heap->regions[i];
        total += r->end - r->start;
        const struct hdr *h = hdr_at(r->start);
        if (!hdr_ok(heap, h) || h->prev_size != 0 || hdr_size(h) != HDR_BYTES || !hdr_used(h))
            return false;
        bool prev_free = false;
        for (;;) {
            uint64_t size = hdr_size(h);
            const struct hdr *n = hdr_next(h);
            if ((uintptr_t)n > r->end - HDR_BYTES || !hdr_ok(heap, n) || n->prev_size != size)
                return false;
            if ((uintptr_t)n == r->end - HDR_BYTES)
                break;
            if (hdr_size(n) < MIN_BLOCK)
                return false;
            if (hdr_used(n)) {
                used_bytes += hdr_size(n);
                allocated++;
                prev_free = false;
            } else {
                if (prev_free)
                    return false; /* two adjacent free blocks were not merged */
                prev_free = true;
                free_blocks++;
            }
            h = n;
        }
        const struct hdr *end = hdr_at(r->end - HDR_BYTES);
        if (hdr_size(end) != 0 || !hdr_used(end))
            return false;
    }
    size_t listed = 0;
    const struct gk_heap_free *prev = NULL;
    for (const struct gk_heap_free *f = heap->free_head; f; prev = f, f = f->next) {
        const struct hdr *h = (const struct hdr *)((uintptr_t)f - HDR_BYTES);
        if (++listed > free_blocks || f->prev != prev ||
            !region_of(heap, (uintptr_t)h, MIN_BLOCK) || !hdr_ok(heap, h) || hdr_used(h))
            return false;
    }
    const struct gk_heap_stats *s = &heap->stats;
    return listed == free_blocks && s->free_block_count == free_blocks &&
           s->used_bytes == used_bytes && s->allocated_count == allocated &&
           s->total_bytes == total;
}

void gk_heap_get_stats(const struct gk_heap *heap, struct gk_heap_stats *out)
{
    *out = heap->stats;
}

#ifndef HV_HOST_TEST
/* The domain's global heap over a static .bss arena (see gk/heap.h). */
static unsigned char global_arena[GK_HEAP_STATIC_ARENA_BYTES] __attribute__((aligned(16)));
static struct gk_heap global_heap;
static bool global_ready;
/* Serialises the malloc family across VCPUs. Events are masked while it is
 * held, so an event handler may call malloc without deadlocking on its own
 * VCPU's hold. Lock order: this lock, then the memory manager's (growth). */
static struct gk_spinlock global_lock = GK_SPINLOCK_INIT;

static bool global_enter(void)
{
    bool was = gk_events_disable();
    gk_spin_lock(&global_lock);
    return was;
}

static void global_leave(bool was)
{
    gk_spin_unlock(&global_lock);
    gk_events_restore(was);
}

static struct gk_heap *global_locked(void)
{
    if (!global_ready) {
        if (!gk_heap_init(&global_heap, global_arena, sizeof(global_arena)))
            gk_panic("heap: cannot set up the static arena");
        global_ready = true;
    }
    return &global_heap;
}

struct gk_heap *gk_heap_global(void)
{
    bool was = global_enter();
    struct gk_heap *h = global_locked();
    global_leave(was);
    return h;
}

bool gk_heap_global_lock(void)
{
    return global_enter();
}

void gk_heap_global_unlock(bool events_were_enabled)
{
    global_leave(events_were_enabled);
}

void *malloc(size_t size_bytes)
{
    bool was = global_enter();
    void *p = gk_heap_alloc(global_locked(), size_bytes);
    global_leave(was);
    return p;
}

void *calloc(size_t count, size_t size_bytes)
{
    bool was = global_enter();
    void *p = gk_heap_calloc(global_locked(), count, size_bytes);
    global_leave(was);
    return p;
}

void *realloc(void *ptr, size_t size_bytes)
{
    bool was = global_enter();
    void *p = gk_heap_realloc(global_locked(), ptr, size_bytes);
    global_leave(was);
    return p;
}

void free(void *ptr)
{
    bool was = global_enter();
    gk_heap_free(global_locked(), ptr);
    global_leave(was);
}

void *gk_heap_grow_frames(void *ctx, size_t min_bytes, size_t *size_bytes)
{
    struct gk_heap_frames *f = ctx;
    uint64_t want = min_bytes < GK_HEAP_FRAMES_CHUNK_BYTES ? GK_HEAP_FRAMES_CHUNK_BYTES : min_bytes;
    want = (want + 4095) & ~4095ull;
    if (f->next_va >= f->end_va)
        return NULL;
    if (want > f->end_va - f->next_va)
        want = f->end_va - f->next_va;
    uint64_t start = f->next_va, mapped = 0;
    while (mapped < want) {
        uint64_t pfn = gk_pfn_alloc();
        if (pfn == HV_M2P_INVALID)
            break;
        if (gk_map_frame(start + mapped, gk_p2m(pfn), GK_PTE_RWDATA) != HV_OK) {
            gk_pfn_free(pfn);
            break;
        }
        mapped += 4096;
    }
    f->next_va = start + mapped;
    if (mapped == 0)
        return NULL;
    *size_bytes = (size_t)mapped;
    return (void *)(uintptr_t)start;
}

static struct gk_heap_frames global_frames;

bool gk_heap_global_grow_from_frames(uint64_t va, uint64_t max_bytes)
{
    if ((va & 4095) || (max_bytes & 4095) || va < HV_GUEST_VA_MIN || va >= HV_GUEST_VA_LIMIT ||
        max_bytes > HV_GUEST_VA_LIMIT - va)
        return false;
    bool was = global_enter();
    global_frames = (struct gk_heap_frames){va, va + max_bytes};
    gk_heap_set_grow(global_locked(), gk_heap_grow_frames, &global_frames);
    global_leave(was);
    return true;
}
#endif
