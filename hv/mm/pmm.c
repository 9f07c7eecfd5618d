/*
 * Physical frame allocator (see pmm.h for the contract).
 *
 * Design: two bitmaps of one bit per frame below limit_frames, in storage the
 * caller maps. usable[] is computed once in pmm_init by painting ranges:
 *   1. set   every sane MEM_AVAILABLE entry, rounded inward, below max_addr;
 *   2. clear every non-available entry, rounded outward (so any order or
 *      overlap of the map ends with "a byte any non-available entry covers is
 *      never usable");
 *   3. clear every reserved range, rounded outward;
 *   4. clear the frames holding the bitmaps.
 * free[] starts as a copy of usable[]. Invariants after pmm_init:
 *   free[] is a subset of usable[]; free_count == popcount(free[]);
 *   total_count == popcount(usable[]); no bit at or above limit_frames is set.
 * Every function keeps them; pmm_free refuses anything that would break them.
 *
 * All range arithmetic is done so that absurd inputs cannot wrap: an
 * available entry whose end overflows is dropped, a non-available one is
 * saturated to the top of the address space.
 *
 * Called by hv main at boot (plan, map, init) and then by the frame-table and
 * domain-memory code under their lock. Never touches the managed frames.
 */
#include "pmm.h"

#define PMM_BITS_PER_WORD 64u

/* The page-rounded-inward extent [*s, *e) of an available entry, capped at
 * max_addr; false if the entry is absurd (end overflows) or holds no page. */
static bool pmm_avail_extent(const struct mem_map_entry *m, paddr_t max_addr, uint64_t *s,
                             uint64_t *e)
{
    if (m->type != MEM_AVAILABLE || m->length == 0)
        return false;
    if (m->base > UINT64_MAX - m->length)
        return false;
    if (m->base > UINT64_MAX - (PAGE_SIZE - 1))
        return false;
    uint64_t start = ALIGN_UP(m->base, PAGE_SIZE);
    uint64_t end = ALIGN_DOWN(m->base + m->length, PAGE_SIZE);
    uint64_t cap = ALIGN_DOWN(max_addr, PAGE_SIZE);
    if (end > cap)
        end = cap;
    if (start >= end)
        return false;
    *s = start;
    *e = end;
    return true;
}

/* The last byte a non-empty byte range [base, base + length) covers,
 * saturating at the top of the address space. */
static uint64_t pmm_last_byte(uint64_t base, uint64_t length)
{
    if (base > UINT64_MAX - length)
        return UINT64_MAX;
    return base + length - 1;
}

/* True iff byte ranges [a, a_last] and [b, b_last] intersect. */
static bool pmm_overlaps(uint64_t a, uint64_t a_last, uint64_t b, uint64_t b_last)
{
    return a <= b_last && b <= a_last;
}

/* Frames [0, result) are tracked: up to the highest usable page end. */
static uint64_t pmm_limit_frames(const struct mem_map_entry *mmap, size_t mmap_count,
                                 paddr_t max_addr)
{
    uint64_t lim = 0;
    for (size_t i = 0; i < mmap_count; i++) {
        uint64_t s, e;
        if (pmm_avail_extent(&mmap[i], max_addr, &s, &e) && (e >> PAGE_SHIFT) > lim)
            lim = e >> PAGE_SHIFT;
    }
    return lim;
}

static uint64_t pmm_words_for(uint64_t frames)
{
    return frames / PMM_BITS_PER_WORD + (frames % PMM_BITS_PER_WORD != 0);
}

/* Bytes of storage both bitmaps need, page rounded; 0 if it does not fit a
 * size_t (only possible for absurd maps on a 32-bit host). */
static uint64_t pmm_storage_bytes(uint64_t frames)
{
    uint64_t bytes = pmm_words_for(frames) * 2u * sizeof(uint64_t);
    bytes = ALIGN_UP(bytes, PAGE_SIZE);
    if (bytes > (uint64_t)SIZE_MAX)
        return 0;
    return bytes;
}

/*
 * True iff the page-aligned, non-empty range [base, end) is made only of
 * usable frames as pmm_plan understands it: inside one available entry
 * (rounded inward, capped at max_addr) and touching no non-available entry
 * and no reserved range.
 */
static bool pmm_range_ok(const struct mem_map_entry *mmap, size_t mmap_count,
                         const struct mem_range *reserved, size_t reserved_count, paddr_t max_addr,
                         uint64_t base, uint64_t end)
{
    bool inside = false;
    uint64_t last = end - 1;
    for (size_t i = 0; i < mmap_count; i++) {
        const struct mem_map_entry *m = &mmap[i];
        uint64_t s, e;
        if (m->type == MEM_AVAILABLE) {
            if (pmm_avail_extent(m, max_addr, &s, &e) && s <= base && end <= e)
                inside = true;
        } else if (m->length != 0 &&
                   pmm_overlaps(base, last, m->base, pmm_last_byte(m->base, m->length))) {
            return false;
        }
    }
    if (!inside)
        return false;
    for (size_t i = 0; i < reserved_count; i++) {
        const struct mem_range *r = &reserved[i];
        if (r->end > r->base && pmm_overlaps(base, last, r->base, r->end - 1))
            return false;
    }
    return true;
}

/* Page-rounded-up candidate start after a byte range ending at `last`;
 * false if there is none (the range reaches the top of memory). */
static bool pmm_after(uint64_t last, uint64_t *c)
{
    if (last >= UINT64_MAX - PAGE_SIZE)
        return false;
    *c = ALIGN_UP(last + 1, PAGE_SIZE);
    return true;
}

bool pmm_plan(const struct mem_map_entry *mmap, size_t mmap_count, const struct mem_range *reserved,
              size_t reserved_count, paddr_t max_addr, paddr_t *bitmap_paddr,
              size_t *bitmap_size_bytes)
{
    if ((mmap == NULL && mmap_count != 0) || (reserved == NULL && reserved_count != 0))
        return false;
    uint64_t frames = pmm_limit_frames(mmap, mmap_count, max_addr);
    if (frames == 0)
        return false;
    uint64_t need = pmm_storage_bytes(frames);
    if (need == 0)
        return false;

    /*
     * The lowest place inside one available entry starts either at the
     * entry's start or right after an obstacle (a non-available entry or a
     * reserved range); try exactly those candidates.
     */
    bool found = false;
    uint64_t best = 0;
    for (size_t i = 0; i < mmap_count; i++) {
        uint64_t s, e;
        if (!pmm_avail_extent(&mmap[i], max_addr, &s, &e))
            continue;
        for (size_t j = 0; j <= mmap_count + reserved_count; j++) {
            uint64_t c = s;
            if (j < mmap_count) {
                const struct mem_map_entry *o = &mmap[j];
                if (o->type == MEM_AVAILABLE || o->length == 0 ||
                    !pmm_after(pmm_last_byte(o->base, o->length), &c))
                    continue;
            } else if (j < mmap_count + reserved_count) {
                const struct mem_range *r = &reserved[j - mmap_count];
                if (r->end <= r->base || !pmm_after(r->end - 1, &c))
                    continue;
            }
            if (c < s || c >= e || e - c < need)
                continue;
            if (found && c >= best)
                continue;
            if (pmm_range_ok(mmap, mmap_count, reserved, reserved_count, max_addr, c, c + need)) {
                best = c;
                found = true;
            }
        }
    }
    if (!found)
        return false;
    *bitmap_paddr = best;
    *bitmap_size_bytes = (size_t)need;
    return true;
}

/* Sets (value true) or clears frames [first, end) in `bits`, clipped to
 * `limit` frames. Word at a time in the middle. */
static void pmm_paint(uint64_t *bits, uint64_t limit, uint64_t first, uint64_t end, bool value)
{
    if (end > limit)
        end = limit;
    while (first < end) {
        uint64_t w = first / PMM_BITS_PER_WORD;
        uint64_t bit = first % PMM_BITS_PER_WORD;
        uint64_t n = PMM_BITS_PER_WORD - bit;
        if (n > end - first)
            n = end - first;
        uint64_t mask = (n == PMM_BITS_PER_WORD) ? ~0ull : (((1ull << n) - 1) << bit);
        if (value)
            bits[w] |= mask;
        else
            bits[w] &= ~mask;
        first += n;
    }
}

/* Frames touched by the non-empty byte range [base, last]. */
static void pmm_clear_bytes(uint64_t *bits, uint64_t limit, uint64_t base, uint64_t last)
{
    pmm_paint(bits, limit, base >> PAGE_SHIFT, (last >> PAGE_SHIFT) + 1, false);
}

static uint64_t pmm_popcount(uint64_t x)
{
    uint64_t n = 0;
    while (x != 0) {
        x &= x - 1;
        n++;
    }
    return n;
}

static bool pmm_bit(const uint64_t *bits, uint64_t f)
{
    return (bits[f / PMM_BITS_PER_WORD] >> (f % PMM_BITS_PER_WORD)) & 1u;
}

bool pmm_init(struct pmm *pmm, const struct mem_map_entry *mmap, size_t mmap_count,
              const struct mem_range *reserved, size_t reserved_count, paddr_t max_addr,
              paddr_t bitmap_paddr, void *bitmap_storage, size_t bitmap_size_bytes)
{
    if (pmm == NULL)
        return false;
    *pmm = (struct pmm){0};
    if ((mmap == NULL && mmap_count != 0) || (reserved == NULL && reserved_count != 0))
        return false;
    if (bitmap_storage == NULL || ((uintptr_t)bitmap_storage & 7u) != 0)
        return false;
    if (!IS_ALIGNED(bitmap_paddr, PAGE_SIZE) || bitmap_size_bytes == 0)
        return false;
    uint64_t frames = pmm_limit_frames(mmap, mmap_count, max_addr);
    uint64_t need = pmm_storage_bytes(frames);
    if (frames == 0 || need == 0 || bitmap_size_bytes < need)
        return false;
    uint64_t bm_bytes = bitmap_size_bytes;
    if (bm_bytes > UINT64_MAX - (PAGE_SIZE - 1))
        return false;
    bm_bytes = ALIGN_UP(bm_bytes, PAGE_SIZE);
    if (bitmap_paddr > UINT64_MAX - bm_bytes)
        return false;

    uint64_t words = pmm_words_for(frames);
    uint64_t *free_bits = bitmap_storage;
    uint64_t *usable = free_bits + words;
    for (uint64_t i = 0; i < words; i++)
        usable[i] = 0;

    for (size_t i = 0; i < mmap_count; i++) {
        uint64_t s, e;
        if (pmm_avail_extent(&mmap[i], max_addr, &s, &e))
            pmm_paint(usable, frames, s >> PAGE_SHIFT, e >> PAGE_SHIFT, true);
    }
    for (size_t i = 0; i < mmap_count; i++) {
        const struct mem_map_entry *m = &mmap[i];
        if (m->type != MEM_AVAILABLE && m->length != 0)
            pmm_clear_bytes(usable, frames, m->base, pmm_last_byte(m->base, m->length));
    }
    for (size_t i = 0; i < reserved_count; i++) {
        const struct mem_range *r = &reserved[i];
        if (r->end > r->base)
            pmm_clear_bytes(usable, frames, r->base, r->end - 1);
    }

    /* The bitmap's own frames must have been usable; then they stop being so. */
    uint64_t bm_first = bitmap_paddr >> PAGE_SHIFT;
    uint64_t bm_end = (bitmap_paddr + bm_bytes) >> PAGE_SHIFT;
    for (uint64_t f = bm_first; f < bm_end; f++) {
        if (f >= frames || !pmm_bit(usable, f))
            return false;
    }
    pmm_paint(usable, frames, bm_first, bm_end, false);

    uint64_t total = 0;
    for (uint64_t i = 0; i < words; i++) {
        free_bits[i] = usable[i];
        total += pmm_popcount(usable[i]);
    }
    pmm->free_bits = free_bits;
    pmm->usable_bits = usable;
    pmm->words_count = words;
    pmm->limit_frames = frames;
    pmm->free_count = total;
    pmm->total_count = total;
    pmm->hint_word = 0;
    return true;
}

/* Takes the lowest free frame of word w (which must be non-zero). */
static mfn_t pmm_take(struct pmm *pmm, uint64_t w)
{
    uint64_t bit = (uint64_t)__builtin_ctzll(pmm->free_bits[w]);
    pmm->free_bits[w] &= ~(1ull << bit);
    pmm->free_count--;
    return mfn(w * PMM_BITS_PER_WORD + bit);
}

mfn_t pmm_alloc(struct pmm *pmm)
{
    if (pmm->free_count == 0)
        return INVALID_MFN;
    uint64_t w = pmm->hint_word < pmm->words_count ? pmm->hint_word : 0;
    for (uint64_t i = 0; i < pmm->words_count; i++) {
        if (pmm->free_bits[w] != 0) {
            pmm->hint_word = w;
            return pmm_take(pmm, w);
        }
        if (++w == pmm->words_count)
            w = 0;
    }
    /* free_count > 0 but no bit set: the invariant is broken. Hand out
     * nothing rather than guess. */
    return INVALID_MFN;
}

bool pmm_free(struct pmm *pmm, mfn_t m)
{
    uint64_t f = mfn_x(m);
    if (f >= pmm->limit_frames || !pmm_bit(pmm->usable_bits, f) || pmm_bit(pmm->free_bits, f))
        return false;
    pmm->free_bits[f / PMM_BITS_PER_WORD] |= 1ull << (f % PMM_BITS_PER_WORD);
    pmm->free_count++;
    return true;
}

bool pmm_is_free(const struct pmm *pmm, mfn_t m)
{
    uint64_t f = mfn_x(m);
    return f < pmm->limit_frames && pmm_bit(pmm->free_bits, f);
}

bool pmm_is_usable(const struct pmm *pmm, mfn_t m)
{
    uint64_t f = mfn_x(m);
    return f < pmm->limit_frames && pmm_bit(pmm->usable_bits, f);
}

uint64_t pmm_free_count(const struct pmm *pmm)
{
    return pmm->free_count;
}

uint64_t pmm_total_count(const struct pmm *pmm)
{
    return pmm->total_count;
}
