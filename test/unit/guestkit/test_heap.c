/*
 * Host tests of the guest-kit heap (guest-kit/src/heap.c, the same file that
 * goes into domains): random alloc/free/realloc/calloc sequences checked
 * against a model after every step, exhaustion, growth through the callback,
 * bounds, and detection of double frees and damaged headers/links.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gk/heap.h"

static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int corrupt_count;
static const char *corrupt_why;
static const void *corrupt_ptr;

static void on_corrupt(struct gk_heap *heap, const char *why, const void *ptr)
{
    (void)heap;
    corrupt_count++;
    corrupt_why = why;
    corrupt_ptr = ptr;
}

static void heap_setup(struct gk_heap *h, void *mem, size_t size)
{
    assert_true(gk_heap_init(h, mem, size));
    gk_heap_set_corrupt_handler(h, on_corrupt);
    corrupt_count = 0;
    corrupt_why = NULL;
    assert_true(gk_heap_check(h));
}

struct slot {
    unsigned char *p;
    size_t size;
    unsigned char fill;
};

#define SLOTS 256

static void check_slot(const struct slot *s)
{
    for (size_t i = 0; i < s->size; i++)
        if (s->p[i] != (unsigned char)(s->fill + i))
            fail_msg("allocation %p (%zu bytes) damaged at byte %zu", (void *)s->p, s->size, i);
}

static void fill_slot(struct slot *s)
{
    for (size_t i = 0; i < s->size; i++)
        s->p[i] = (unsigned char)(s->fill + i);
}

static size_t random_size(void)
{
    switch (rng() % 8) {
    case 0: return 0;
    case 1: return rng() % 4096;
    case 2: return 1 + rng() % 20000;
    default: return rng() % 128;
    }
}

/* Random steps against a model: each live allocation holds a pattern that
 * must survive every other operation (overlap or a wrong realloc copy shows
 * up as a damaged byte), every pointer is 16-aligned, the heap's own check
 * passes and its statistics match the model after every step. */
static void random_run(uint64_t seed, size_t arena_bytes, unsigned steps)
{
    unsigned char *arena = malloc(arena_bytes);
    struct gk_heap h;
    struct slot slots[SLOTS] = {0};
    size_t live = 0, nulls = 0;
    rng_state = seed;
    heap_setup(&h, arena, arena_bytes);

    for (unsigned step = 0; step < steps; step++) {
        struct slot *s = &slots[rng() % SLOTS];
        unsigned op = (unsigned)(rng() % 10);
        if (!s->p && op < 7) {
            size_t size = random_size();
            bool zero = op == 6;
            size_t count = zero ? 1 + rng() % 4 : 1;
            unsigned char *p = zero ? gk_heap_calloc(&h, count, size) : gk_heap_alloc(&h, size);
            if (!p) {
                nulls++;
                continue;
            }
            assert_int_equal((uintptr_t)p % 16, 0);
            assert_true(p >= arena && p + size * count <= arena + arena_bytes);
            assert_true(gk_heap_usable_size(&h, p) >= size * count);
            if (zero)
                for (size_t i = 0; i < size * count; i++)
                    assert_int_equal(p[i], 0);
            *s = (struct slot){p, size * count, (unsigned char)rng()};
            fill_slot(s);
            live++;
        } else if (s->p && op < 5) {
            check_slot(s);
            gk_heap_free(&h, s->p);
            s->p = NULL;
            live--;
        } else if (s->p) {
            check_slot(s);
            size_t size = random_size();
            if (size == 0)
                size = 1; /* realloc(p, 0) frees: tested on its own */
            unsigned char *p = gk_heap_realloc(&h, s->p, size);
            if (!p) {
                nulls++;
                check_slot(s); /* a failed realloc leaves the block alone */
                continue;
            }
            assert_int_equal((uintptr_t)p % 16, 0);
            struct slot grown = {p, size, s->fill};
            if (size > s->size) {
                check_slot(&(struct slot){p, s->size, s->fill});
                fill_slot(&grown);
            } else {
                check_slot(&grown);
            }
            *s = grown;
        }
        assert_int_equal(corrupt_count, 0);
        if (!gk_heap_check(&h))
            fail_msg("heap inconsistent after step %u (seed %llu)", step, (unsigned long long)seed);
        struct gk_heap_stats st;
        gk_heap_get_stats(&h, &st);
        assert_int_equal(st.allocated_count, live);
    }
    for (unsigned i = 0; i < SLOTS; i++)
        if (slots[i].p) {
            check_slot(&slots[i]);
            gk_heap_free(&h, slots[i].p);
        }
    struct gk_heap_stats st;
    gk_heap_get_stats(&h, &st);
    assert_true(gk_heap_check(&h));
    assert_int_equal(st.allocated_count, 0);
    assert_int_equal(st.used_bytes, 0);
    assert_int_equal(st.free_block_count, 1); /* everything merged back */
    assert_int_equal(corrupt_count, 0);
    /* The whole arena minus sentinels and one header is one allocation again. */
    void *all = gk_heap_alloc(&h, st.total_bytes - 48);
    assert_non_null(all);
    assert_null(gk_heap_alloc(&h, 0));
    if (arena_bytes < 100000)
        assert_true(nulls > 0); /* the small arena really ran out at times */
    free(arena);
}

static void test_random_small(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 6; seed++)
        random_run(seed * 0x9e3779b97f4a7c15ull, 48 * 1024, 6000);
}

static void test_random_large(void **state)
{
    (void)state;
    random_run(12345, 4 * 1024 * 1024, 20000);
}

static void test_bounds(void **state)
{
    (void)state;
    static unsigned char arena[8192] __attribute__((aligned(16)));
    struct gk_heap h;
    heap_setup(&h, arena + 3, sizeof(arena) - 3); /* unaligned region start */
    struct gk_heap_stats before, after;
    gk_heap_get_stats(&h, &before);
    assert_null(gk_heap_alloc(&h, (size_t)GK_HEAP_ALLOC_MAX + 1));
    assert_null(gk_heap_alloc(&h, SIZE_MAX));
    assert_null(gk_heap_calloc(&h, SIZE_MAX / 2, 3));
    assert_null(gk_heap_calloc(&h, 1u << 20, 1u << 20)); /* fits size_t, not the heap */
    assert_null(gk_heap_alloc(&h, 8192));
    gk_heap_get_stats(&h, &after);
    assert_memory_equal(&before, &after, sizeof(before));
    assert_int_equal(corrupt_count, 0);

    void *p = gk_heap_alloc(&h, 100);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 16, 0);
    assert_null(gk_heap_realloc(&h, p, 100000)); /* fails, p still valid */
    assert_null(gk_heap_realloc(&h, p, 0));      /* frees p */
    gk_heap_get_stats(&h, &after);
    assert_int_equal(after.allocated_count, 0);
    assert_true(gk_heap_check(&h));
    gk_heap_free(&h, NULL); /* a no-op, like free(NULL) */
    assert_int_equal(corrupt_count, 0);

    struct gk_heap tiny;
    assert_false(gk_heap_init(&tiny, arena, 63));
    assert_false(gk_heap_init(&tiny, (void *)(UINTPTR_MAX - 100), 200)); /* wraps */
    assert_true(gk_heap_init(&tiny, NULL, 0));                           /* empty: only grows */
    assert_null(gk_heap_alloc(&tiny, 1));
}

static void test_realloc_in_place(void **state)
{
    (void)state;
    static unsigned char arena[4096] __attribute__((aligned(16)));
    struct gk_heap h;
    heap_setup(&h, arena, sizeof(arena));
    unsigned char *a = gk_heap_alloc(&h, 64);
    unsigned char *b = gk_heap_alloc(&h, 64);
    unsigned char *c = gk_heap_alloc(&h, 64);
    memset(a, 0xaa, 64);
    gk_heap_free(&h, b);
    /* a grows into b's space without moving. */
    assert_ptr_equal(gk_heap_realloc(&h, a, 128), a);
    for (int i = 0; i < 64; i++)
        assert_int_equal(a[i], 0xaa);
    /* Shrinking keeps the pointer and frees the tail for others. */
    assert_ptr_equal(gk_heap_realloc(&h, a, 16), a);
    unsigned char *d = gk_heap_alloc(&h, 64);
    assert_true(d > a && d < c);
    assert_true(gk_heap_check(&h));
    assert_int_equal(corrupt_count, 0);
}

static void expect_corrupt(const char *fragment)
{
    assert_int_equal(corrupt_count, 1);
    assert_non_null(corrupt_why);
    if (!strstr(corrupt_why, fragment))
        fail_msg("corruption reported as \"%s\", expected \"%s\"", corrupt_why, fragment);
}

static void test_double_free(void **state)
{
    (void)state;
    static unsigned char arena[4096] __attribute__((aligned(16)));
    struct gk_heap h;
    heap_setup(&h, arena, sizeof(arena));
    void *a = gk_heap_alloc(&h, 40);
    void *b = gk_heap_alloc(&h, 40); /* keeps a from merging with the tail */
    assert_non_null(b);
    gk_heap_free(&h, a);
    assert_int_equal(corrupt_count, 0);
    gk_heap_free(&h, a);
    expect_corrupt("double free");
    assert_ptr_equal(corrupt_ptr, a);
    /* Poisoned: nothing more is handed out, nothing more is reported. */
    assert_null(gk_heap_alloc(&h, 1));
    gk_heap_free(&h, b);
    assert_int_equal(corrupt_count, 1);
}

static void test_double_free_merged(void **state)
{
    (void)state;
    static unsigned char arena[4096] __attribute__((aligned(16)));
    struct gk_heap h;
    heap_setup(&h, arena, sizeof(arena));
    void *a = gk_heap_alloc(&h, 40);
    void *b = gk_heap_alloc(&h, 40);
    void *c = gk_heap_alloc(&h, 40);
    assert_non_null(c);
    gk_heap_free(&h, a);
    gk_heap_free(&h, b); /* b merges into a: its header is scrubbed */
    gk_heap_free(&h, b);
    assert_int_equal(corrupt_count, 1);
}

static void test_bad_pointers(void **state)
{
    (void)state;
    static unsigned char arena[4096] __attribute__((aligned(16)));
    struct gk_heap h;
    int on_stack;
    heap_setup(&h, arena, sizeof(arena));
    gk_heap_free(&h, &on_stack);
    expect_corrupt("not from this heap");

    heap_setup(&h, arena, sizeof(arena));
    unsigned char *p = gk_heap_alloc(&h, 40);
    gk_heap_free(&h, p + 1);
    expect_corrupt("not from this heap");

    heap_setup(&h, arena, sizeof(arena));
    p = gk_heap_alloc(&h, 40);
    gk_heap_free(&h, p + 16); /* aligned, inside the block, not a block */
    expect_corrupt("damaged");

    heap_setup(&h, arena, sizeof(arena));
    p = gk_heap_alloc(&h, 40);
    assert_int_equal(gk_heap_usable_size(&h, p + 32), 0);
    expect_corrupt("damaged");
}

static void test_damaged_header(void **state)
{
    (void)state;
    static unsigned char arena[4096] __attribute__((aligned(16)));
    struct gk_heap h;
    /* Every single-bit flip of a block's header is caught. */
    for (int bit = 0; bit < 128; bit++) {
        heap_setup(&h, arena, sizeof(arena));
        unsigned char *p = gk_heap_alloc(&h, 40);
        unsigned char *q = gk_heap_alloc(&h, 40);
        assert_non_null(q);
        p[-16 + bit / 8] ^= (unsigned char)(1u << (bit % 8));
        gk_heap_free(&h, p);
        assert_int_equal(corrupt_count, 1);
        assert_false(gk_heap_check(&h));
    }
    /* Overrunning an allocation into the next header is caught when either
     * block is freed. */
    heap_setup(&h, arena, sizeof(arena));
    unsigned char *p = gk_heap_alloc(&h, 32);
    unsigned char *q = gk_heap_alloc(&h, 32);
    memset(p, 0x41, 32 + 8); /* clobbers q's prev_size */
    gk_heap_free(&h, p);
    expect_corrupt("damaged");
    (void)q;
}

static void test_use_after_free_links(void **state)
{
    (void)state;
    static unsigned char arena[4096] __attribute__((aligned(16)));
    struct gk_heap h;
    const uintptr_t bad_links[] = {0x4141414141414140ull, (uintptr_t)arena + 8, (uintptr_t)&h};
    for (unsigned i = 0; i < sizeof(bad_links) / sizeof(bad_links[0]); i++) {
        heap_setup(&h, arena, sizeof(arena));
        unsigned char *a = gk_heap_alloc(&h, 64);
        unsigned char *guard = gk_heap_alloc(&h, 64);
        assert_non_null(guard);
        gk_heap_free(&h, a);
        memcpy(a, &bad_links[i], sizeof(uintptr_t)); /* write after free: next link */
        void *b = gk_heap_alloc(&h, 48);             /* takes a, unlinks it */
        assert_null(b);
        assert_int_equal(corrupt_count, 1);
    }
}

/* Grow callback: hands out chunks of a buffer, contiguous or with gaps. */
struct grower {
    unsigned char *buf;
    size_t size, used, chunk, gap;
    unsigned calls;
};

static void *grow_cb(void *ctx, size_t min_bytes, size_t *size_bytes)
{
    struct grower *g = ctx;
    g->calls++;
    size_t n = min_bytes > g->chunk ? min_bytes : g->chunk;
    if (g->used + n > g->size)
        return NULL;
    void *p = g->buf + g->used;
    g->used += n + g->gap;
    *size_bytes = n;
    return p;
}

static void grow_run(size_t gap)
{
    struct grower g = {.size = 1 << 20, .chunk = 8192, .gap = gap};
    g.buf = aligned_alloc(16, g.size);
    struct gk_heap h;
    heap_setup(&h, NULL, 0);
    gk_heap_set_grow(&h, grow_cb, &g);
    void *ptrs[400];
    unsigned n = 0;
    while (n < 400) {
        void *p = gk_heap_alloc(&h, 1000);
        if (!p)
            break;
        memset(p, (int)n, 1000);
        ptrs[n++] = p;
        assert_true(gk_heap_check(&h));
    }
    struct gk_heap_stats st;
    gk_heap_get_stats(&h, &st);
    assert_true(st.grow_count > 0);
    if (gap) {
        /* Separate regions: the table of 16 fills up and growth stops. */
        assert_int_equal(h.region_count, GK_HEAP_REGIONS_MAX);
        assert_true(n < 400);
    } else {
        /* Contiguous chunks extend one region. */
        assert_int_equal(h.region_count, 1);
        assert_int_equal(n, 400);
    }
    for (unsigned i = 0; i < n; i++) {
        unsigned char *p = ptrs[i];
        for (int j = 0; j < 1000; j++)
            assert_int_equal(p[j], (unsigned char)i);
        gk_heap_free(&h, p);
    }
    gk_heap_get_stats(&h, &st);
    assert_int_equal(st.used_bytes, 0);
    assert_int_equal(st.free_block_count, h.region_count);
    assert_true(gk_heap_check(&h));
    assert_int_equal(corrupt_count, 0);
    /* Overlapping memory is refused. */
    assert_false(gk_heap_add_region(&h, g.buf + 64, 4096));
    free(g.buf);
}

static void test_grow_contiguous(void **state)
{
    (void)state;
    grow_run(0);
}

static void test_grow_regions(void **state)
{
    (void)state;
    grow_run(4096);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_small),
        cmocka_unit_test(test_random_large),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_realloc_in_place),
        cmocka_unit_test(test_double_free),
        cmocka_unit_test(test_double_free_merged),
        cmocka_unit_test(test_bad_pointers),
        cmocka_unit_test(test_damaged_header),
        cmocka_unit_test(test_use_after_free_links),
        cmocka_unit_test(test_grow_contiguous),
        cmocka_unit_test(test_grow_regions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
