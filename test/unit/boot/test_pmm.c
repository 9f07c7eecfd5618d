/*
 * Tests for the physical frame allocator (hv/mm/pmm.c).
 *
 * The oracle is a naive per-frame definition of "usable" written from the
 * contract in pmm.h, independent of the range painting in pmm.c. Every map
 * (overlapping, unsorted, absurd, random) is checked frame by frame against
 * it, and every frame handed out is checked against the reserved list.
 */
#define _POSIX_C_SOURCE 199309L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "pmm.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* A map + reserved list + max_addr, and the allocator built from them. */
struct setup {
    const struct mem_map_entry *mmap;
    size_t mmap_count;
    const struct mem_range *res;
    size_t res_count;
    paddr_t max_addr;
    paddr_t bm_paddr;
    size_t bm_size;
    void *storage;
    struct pmm pmm;
};

#define SETUP(m, n, r, rn, mx)                                                                     \
    {                                                                                              \
        .mmap = (m), .mmap_count = (n), .res = (r), .res_count = (rn), .max_addr = (mx)            \
    }

/* Oracle: is byte range [a, a + len) (len > 0) touched by entry e's bytes? */
static bool touches(uint64_t a, uint64_t len, uint64_t base, uint64_t length)
{
    if (length == 0)
        return false;
    uint64_t last = base > UINT64_MAX - length ? UINT64_MAX : base + length - 1;
    return a <= last && base <= a + len - 1;
}

/* Oracle: the contract of pmm.h, one frame at a time. */
static bool oracle_usable(const struct setup *s, uint64_t f)
{
    uint64_t a = f * PAGE_SIZE;
    if (a + PAGE_SIZE > s->max_addr)
        return false;
    bool inside = false;
    for (size_t i = 0; i < s->mmap_count; i++) {
        const struct mem_map_entry *m = &s->mmap[i];
        if (m->type == MEM_AVAILABLE) {
            if (m->length != 0 && m->base <= UINT64_MAX - m->length && m->base <= a &&
                a + PAGE_SIZE <= m->base + m->length)
                inside = true;
        } else if (touches(a, PAGE_SIZE, m->base, m->length)) {
            return false;
        }
    }
    if (!inside)
        return false;
    for (size_t i = 0; i < s->res_count; i++) {
        if (s->res[i].end > s->res[i].base &&
            touches(a, PAGE_SIZE, s->res[i].base, s->res[i].end - s->res[i].base))
            return false;
    }
    if (s->bm_size != 0 && touches(a, PAGE_SIZE, s->bm_paddr, s->bm_size))
        return false;
    return true;
}

/* Plans and initialises; returns false if planning fails. */
static bool setup_run(struct setup *s)
{
    s->bm_paddr = 0;
    s->bm_size = 0;
    s->storage = NULL;
    if (!pmm_plan(s->mmap, s->mmap_count, s->res, s->res_count, s->max_addr, &s->bm_paddr,
                  &s->bm_size))
        return false;
    assert_true(s->bm_size > 0 && s->bm_size % PAGE_SIZE == 0);
    assert_true(s->bm_paddr % PAGE_SIZE == 0);
    /* The plan's place is made of usable frames (before the bitmap takes them). */
    size_t saved = s->bm_size;
    s->bm_size = 0;
    for (uint64_t f = s->bm_paddr / PAGE_SIZE; f < (s->bm_paddr + saved) / PAGE_SIZE; f++)
        assert_true(oracle_usable(s, f));
    s->bm_size = saved;
    s->storage = malloc(s->bm_size);
    assert_non_null(s->storage);
    memset(s->storage, 0xa5, s->bm_size); /* init must not rely on zeroed storage */
    assert_true(pmm_init(&s->pmm, s->mmap, s->mmap_count, s->res, s->res_count, s->max_addr,
                         s->bm_paddr, s->storage, s->bm_size));
    return true;
}

static void setup_done(struct setup *s)
{
    free(s->storage);
    s->storage = NULL;
}

/* Compares every frame up to `frames_to_check` with the oracle. */
static void check_against_oracle(const struct setup *s, uint64_t frames_to_check)
{
    uint64_t usable = 0;
    for (uint64_t f = 0; f < frames_to_check; f++) {
        bool want = oracle_usable(s, f);
        assert_int_equal(pmm_is_usable(&s->pmm, mfn(f)), want);
        usable += want;
    }
    assert_int_equal(pmm_total_count(&s->pmm), usable);
}

/* Allocates everything, checks each frame, frees everything, checks counts. */
static void exhaust_and_refill(struct setup *s)
{
    uint64_t total = pmm_total_count(&s->pmm);
    assert_int_equal(pmm_free_count(&s->pmm), total);
    mfn_t *got = malloc((total + 1) * sizeof(*got));
    assert_non_null(got);
    for (uint64_t i = 0; i < total; i++) {
        got[i] = pmm_alloc(&s->pmm);
        uint64_t f = mfn_x(got[i]);
        assert_true(f != mfn_x(INVALID_MFN));
        assert_true(oracle_usable(s, f));
        for (size_t r = 0; r < s->res_count; r++)
            assert_false(
                s->res[r].end > s->res[r].base &&
                touches(f * PAGE_SIZE, PAGE_SIZE, s->res[r].base, s->res[r].end - s->res[r].base));
        assert_false(pmm_is_free(&s->pmm, got[i])); /* so never handed out twice */
        assert_int_equal(pmm_free_count(&s->pmm), total - i - 1);
    }
    assert_int_equal(mfn_x(pmm_alloc(&s->pmm)), mfn_x(INVALID_MFN));
    for (uint64_t i = 0; i < total; i++)
        assert_true(pmm_free(&s->pmm, got[i]));
    assert_int_equal(pmm_free_count(&s->pmm), total);
    if (total > 0) {
        assert_false(pmm_free(&s->pmm, got[0])); /* double free */
        assert_int_equal(pmm_free_count(&s->pmm), total);
    }
    free(got);
}

static const struct mem_map_entry q35_map[] = {
    {0x0, 0x9fc00, MEM_AVAILABLE},       {0x9fc00, 0x400, MEM_RESERVED},
    {0xf0000, 0x10000, MEM_RESERVED},    {0x100000, 0x7ee0000, MEM_AVAILABLE},
    {0x7fe0000, 0x20000, MEM_RESERVED},  {0xb0000000, 0x10000000, MEM_RESERVED},
    {0xfffc0000, 0x40000, MEM_RESERVED},
};

static const struct mem_range q35_res[] = {
    {0, 1 * MiB},                /* first MiB */
    {1 * MiB, 3 * MiB + 0x123},  /* hypervisor image, unaligned end */
    {0x800000 + 0x10, 0x800020}, /* boot information, inside one page */
    {0x900000, 0x9a0001},        /* a module */
};

static void test_q35(void **state)
{
    struct setup s = SETUP(q35_map, ARRAY_SIZE(q35_map), q35_res, ARRAY_SIZE(q35_res), 4 * GiB);
    assert_true(setup_run(&s));
    /* lowest place right after the hypervisor image */
    assert_int_equal(s.bm_paddr, 3 * MiB + PAGE_SIZE);
    check_against_oracle(&s, 0x8000 + 64);
    /* 127.875 MiB available above 1 MiB minus image, boot info page, module, bitmap */
    uint64_t expect = (0x7fe0000 - 0x100000) / PAGE_SIZE - (2 * MiB + PAGE_SIZE) / PAGE_SIZE - 1 -
                      0xa1 - s.bm_size / PAGE_SIZE;
    assert_int_equal(pmm_total_count(&s.pmm), expect);
    assert_false(pmm_is_usable(&s.pmm, mfn(0x800)));
    assert_true(pmm_is_usable(&s.pmm, mfn(0x801)));
    exhaust_and_refill(&s);
    setup_done(&s);
}

/* Overlapping: available over reserved, unaligned holes, duplicated entries. */
static const struct mem_map_entry overlap_map[] = {
    {0x0, 64 * MiB, MEM_AVAILABLE},
    {8 * MiB + 100, 100, MEM_RESERVED},      /* kills one page */
    {16 * MiB - 1, 2, MEM_ACPI_RECLAIMABLE}, /* kills two pages */
    {20 * MiB, 1 * MiB, MEM_NVS},
    {20 * MiB + 0x800, 4 * MiB, MEM_AVAILABLE}, /* overlaps the NVS: NVS wins */
    {30 * MiB, 1, MEM_BADRAM},
    {40 * MiB, 2 * MiB, 77},            /* unknown type: not usable */
    {0x0, 64 * MiB, MEM_AVAILABLE},     /* duplicate */
    {60 * MiB, 8 * MiB, MEM_AVAILABLE}, /* extends past the first */
};

static void test_overlapping(void **state)
{
    static const struct mem_range res[] = {{0, MiB}};
    struct setup s = SETUP(overlap_map, ARRAY_SIZE(overlap_map), res, 1, 4 * GiB);
    assert_true(setup_run(&s));
    check_against_oracle(&s, 68 * MiB / PAGE_SIZE + 64);
    assert_false(pmm_is_usable(&s.pmm, mfn((8 * MiB) / PAGE_SIZE)));
    assert_true(pmm_is_usable(&s.pmm, mfn((8 * MiB) / PAGE_SIZE + 1)));
    assert_false(pmm_is_usable(&s.pmm, mfn((16 * MiB) / PAGE_SIZE - 1)));
    assert_false(pmm_is_usable(&s.pmm, mfn((16 * MiB) / PAGE_SIZE)));
    assert_false(pmm_is_usable(&s.pmm, mfn((21 * MiB) / PAGE_SIZE - 1)));
    assert_true(pmm_is_usable(&s.pmm, mfn((21 * MiB) / PAGE_SIZE)));
    assert_false(pmm_is_usable(&s.pmm, mfn((41 * MiB) / PAGE_SIZE)));
    assert_true(pmm_is_usable(&s.pmm, mfn((68 * MiB) / PAGE_SIZE - 1)));
    exhaust_and_refill(&s);
    setup_done(&s);
}

static void test_unsorted(void **state)
{
    struct mem_map_entry rev[ARRAY_SIZE(overlap_map)];
    for (size_t i = 0; i < ARRAY_SIZE(overlap_map); i++)
        rev[i] = overlap_map[ARRAY_SIZE(overlap_map) - 1 - i];
    static const struct mem_range res[] = {{0x3000, 0x1000} /* empty: ignored */, {0, MiB}};
    struct setup a = SETUP(overlap_map, ARRAY_SIZE(overlap_map), res, 2, 4 * GiB);
    struct setup b = SETUP(rev, ARRAY_SIZE(rev), res, 2, 4 * GiB);
    assert_true(setup_run(&a));
    assert_true(setup_run(&b));
    assert_int_equal(a.bm_paddr, b.bm_paddr); /* same answer whatever the order */
    assert_int_equal(pmm_total_count(&a.pmm), pmm_total_count(&b.pmm));
    for (uint64_t f = 0; f < 70 * MiB / PAGE_SIZE; f++)
        assert_int_equal(pmm_is_usable(&a.pmm, mfn(f)), pmm_is_usable(&b.pmm, mfn(f)));
    check_against_oracle(&b, 70 * MiB / PAGE_SIZE);
    setup_done(&a);
    setup_done(&b);
}

static void test_absurd(void **state)
{
    static const struct mem_map_entry map[] = {
        {0x100000, 0, MEM_AVAILABLE},                   /* length 0 */
        {0x200000, 0, MEM_RESERVED},                    /* length 0: hides nothing */
        {0xfffffffffffff000ull, 0x2000, MEM_AVAILABLE}, /* overflows: ignored */
        {UINT64_MAX, UINT64_MAX, MEM_AVAILABLE},        /* overflows: ignored */
        {0x100000, 0x1000000, MEM_AVAILABLE},           /* 1..17 MiB */
        {0x10000000000ull, 0x100000, MEM_AVAILABLE},    /* above max_addr */
        {0x800, 0x800, MEM_AVAILABLE},                  /* less than a page */
        {12 * MiB, UINT64_MAX, MEM_RESERVED},           /* overflows: kills >= 12 MiB */
    };
    struct setup s = SETUP(map, ARRAY_SIZE(map), NULL, 0, 64 * GiB);
    assert_true(setup_run(&s));
    /* the bitmap only covers up to the highest sane usable page below max_addr */
    assert_int_equal(s.pmm.limit_frames, 0x1100000 / PAGE_SIZE);
    check_against_oracle(&s, 0x1100000 / PAGE_SIZE + 128);
    assert_int_equal(pmm_total_count(&s.pmm), (11 * MiB) / PAGE_SIZE - 1); /* bitmap page */
    assert_false(pmm_is_usable(&s.pmm, mfn(0x10000000000ull / PAGE_SIZE)));
    assert_false(pmm_free(&s.pmm, mfn(0x10000000000ull / PAGE_SIZE)));
    assert_false(pmm_free(&s.pmm, INVALID_MFN));
    assert_false(pmm_is_free(&s.pmm, INVALID_MFN));
    exhaust_and_refill(&s);
    setup_done(&s);
}

static void test_max_addr(void **state)
{
    static const struct mem_range res[] = {{0, MiB}};
    /* max_addr cuts inside a page: that page is not usable */
    struct setup s = SETUP(q35_map, ARRAY_SIZE(q35_map), res, 1, 8 * MiB + 0x10);
    assert_true(setup_run(&s));
    assert_int_equal(s.pmm.limit_frames, 8 * MiB / PAGE_SIZE);
    check_against_oracle(&s, 0x8000 + 16);
    assert_int_equal(pmm_total_count(&s.pmm), (7 * MiB) / PAGE_SIZE - s.bm_size / PAGE_SIZE);
    exhaust_and_refill(&s);
    setup_done(&s);
    /* max_addr 0 or below all memory: nothing to manage */
    s.max_addr = 0;
    assert_false(setup_run(&s));
    s.max_addr = 0xfff;
    assert_false(setup_run(&s));
}

static void test_nothing_usable(void **state)
{
    paddr_t p = 1;
    size_t sz = 1;
    static const struct mem_range all[] = {{0, UINT64_MAX}};
    static const struct mem_map_entry only_reserved[] = {
        {0, 64 * MiB, MEM_RESERVED},
    };
    /* empty map */
    assert_false(pmm_plan(NULL, 0, NULL, 0, 4 * GiB, &p, &sz));
    assert_false(pmm_plan(q35_map, 0, NULL, 0, 4 * GiB, &p, &sz));
    /* only reserved entries */
    assert_false(pmm_plan(only_reserved, 1, NULL, 0, 4 * GiB, &p, &sz));
    /* reserved ranges covering everything */
    assert_false(pmm_plan(q35_map, ARRAY_SIZE(q35_map), all, 1, 4 * GiB, &p, &sz));
    assert_int_equal(p, 1); /* outputs untouched on failure */
    assert_int_equal(sz, 1);
    /* NULL array with a count */
    assert_false(pmm_plan(q35_map, ARRAY_SIZE(q35_map), NULL, 3, 4 * GiB, &p, &sz));

    /* Room for exactly the bitmap and nothing else: plans, manages zero frames. */
    static const struct mem_map_entry one_page[] = {{0x5000, 0x1000, MEM_AVAILABLE}};
    struct setup s = SETUP(one_page, 1, NULL, 0, 4 * GiB);
    assert_true(setup_run(&s));
    assert_int_equal(s.bm_paddr, 0x5000);
    assert_int_equal(pmm_total_count(&s.pmm), 0);
    assert_int_equal(mfn_x(pmm_alloc(&s.pmm)), mfn_x(INVALID_MFN));
    assert_false(pmm_free(&s.pmm, mfn(5)));
    setup_done(&s);
}

/* No place for the bitmap: memory too fragmented by reserved ranges. */
static void test_no_place(void **state)
{
    static struct mem_map_entry map[1] = {{0, 2 * GiB, MEM_AVAILABLE}};
    /* 2 GiB needs 2 * 64 KiB = 32 pages of bitmap; leave only 31-page gaps
     * between 100-page reserved ranges. */
    enum { PERIOD = 131, BLOCK = 100 };
    static struct mem_range res[524288 / PERIOD + 1];
    for (size_t i = 0; i < ARRAY_SIZE(res); i++)
        res[i] = (struct mem_range){i * PERIOD * PAGE_SIZE, (i * PERIOD + BLOCK) * PAGE_SIZE};
    paddr_t p;
    size_t sz;
    assert_false(pmm_plan(map, 1, res, ARRAY_SIZE(res), 4 * GiB, &p, &sz));
    /* open one hole: the plan finds exactly it */
    res[1000].end = res[1000].base; /* empty now */
    assert_true(pmm_plan(map, 1, res, ARRAY_SIZE(res), 4 * GiB, &p, &sz));
    assert_int_equal(sz, 32 * PAGE_SIZE);
    assert_int_equal(p, (999 * PERIOD + BLOCK) * PAGE_SIZE);
}

static void test_init_rejects(void **state)
{
    static const struct mem_range res[] = {{0, MiB}};
    paddr_t p;
    size_t sz;
    struct pmm pmm;
    assert_true(pmm_plan(q35_map, ARRAY_SIZE(q35_map), res, 1, 4 * GiB, &p, &sz));
    uint64_t *st = malloc(sz + 8);
    assert_non_null(st);
    /* storage too small */
    assert_false(pmm_init(&pmm, q35_map, ARRAY_SIZE(q35_map), res, 1, 4 * GiB, p, st, sz - 8));
    assert_int_equal(mfn_x(pmm_alloc(&pmm)), mfn_x(INVALID_MFN)); /* zeroed: harmless */
    assert_false(pmm_free(&pmm, mfn(0x200)));
    assert_int_equal(pmm_total_count(&pmm), 0);
    /* misaligned storage */
    assert_false(
        pmm_init(&pmm, q35_map, ARRAY_SIZE(q35_map), res, 1, 4 * GiB, p, (uint8_t *)st + 4, sz));
    assert_false(pmm_init(&pmm, q35_map, ARRAY_SIZE(q35_map), res, 1, 4 * GiB, p, NULL, sz));
    /* bitmap place not page aligned, in a reserved range, in a hole, above max */
    assert_false(pmm_init(&pmm, q35_map, ARRAY_SIZE(q35_map), res, 1, 4 * GiB, p + 8, st, sz));
    assert_false(pmm_init(&pmm, q35_map, ARRAY_SIZE(q35_map), res, 1, 4 * GiB, 0x80000, st, sz));
    assert_false(pmm_init(&pmm, q35_map, ARRAY_SIZE(q35_map), res, 1, 4 * GiB, 0x7fe0000, st, sz));
    assert_false(pmm_init(&pmm, q35_map, ARRAY_SIZE(q35_map), res, 1, 4 * GiB, 0x7fdf000, st, sz));
    assert_false(pmm_init(&pmm, q35_map, ARRAY_SIZE(q35_map), res, 1, 4 * GiB,
                          UINT64_MAX & PAGE_MASK, st, sz));
    /* a different usable place than planned is accepted */
    assert_true(pmm_init(&pmm, q35_map, ARRAY_SIZE(q35_map), res, 1, 4 * GiB, 0x4000000, st, sz));
    assert_false(pmm_is_usable(&pmm, mfn(0x4000)));
    assert_true(pmm_is_usable(&pmm, mfn(0x4000 + sz / PAGE_SIZE)));
    free(st);
}

static void test_free_refuses(void **state)
{
    struct setup s = SETUP(q35_map, ARRAY_SIZE(q35_map), q35_res, ARRAY_SIZE(q35_res), 4 * GiB);
    assert_true(setup_run(&s));
    uint64_t total = pmm_total_count(&s.pmm);
    /* reserved, hole, bitmap, beyond the limit: never usable */
    assert_false(pmm_free(&s.pmm, mfn(0)));
    assert_false(pmm_free(&s.pmm, mfn(0x150)));
    assert_false(pmm_free(&s.pmm, mfn(0x9f)));
    assert_false(pmm_free(&s.pmm, paddr_to_mfn(s.bm_paddr)));
    assert_false(pmm_free(&s.pmm, mfn(0x7fe0)));
    assert_false(pmm_free(&s.pmm, mfn(1ull << 40)));
    /* a free frame cannot be freed again */
    assert_true(pmm_is_free(&s.pmm, mfn(0x1000)));
    assert_false(pmm_free(&s.pmm, mfn(0x1000)));
    assert_int_equal(pmm_free_count(&s.pmm), total);
    mfn_t m = pmm_alloc(&s.pmm);
    assert_true(pmm_free(&s.pmm, m));
    assert_false(pmm_free(&s.pmm, m));
    assert_int_equal(pmm_free_count(&s.pmm), total);
    setup_done(&s);
}

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random maps in [0, 16 MiB), with random types, unaligned bounds and
 * reserved ranges, checked frame by frame against the oracle. */
static void test_random_maps(void **state)
{
    const uint64_t span = 16 * MiB;
    int planned = 0;
    for (int iter = 0; iter < 300; iter++) {
        struct mem_map_entry map[12];
        struct mem_range res[6];
        size_t n = 1 + rng() % ARRAY_SIZE(map), rn = rng() % ARRAY_SIZE(res);
        for (size_t i = 0; i < n; i++) {
            uint64_t base = rng() % span, len = rng() % (span / 2);
            if (rng() % 4)
                base &= ~0xfffull;
            uint32_t type = (rng() % 3) ? MEM_AVAILABLE : 1 + rng() % 6;
            map[i] = (struct mem_map_entry){base, len, type};
        }
        for (size_t i = 0; i < rn; i++) {
            uint64_t base = rng() % span;
            res[i] = (struct mem_range){base, base + rng() % (span / 8)};
        }
        struct setup s = SETUP(map, n, res, rn, (rng() % 2) ? span + 2 * MiB : rng() % span);
        if (!setup_run(&s))
            continue;
        planned++;
        check_against_oracle(&s, span / PAGE_SIZE + 600);
        if (iter % 10 == 0)
            exhaust_and_refill(&s);
        setup_done(&s);
    }
    assert_true(planned > 100);
}

/* Cost of the common case, reported in the output (4 GiB, 1M frames). */
static void test_speed_4g(void **state)
{
    static const struct mem_map_entry map[] = {{0, 4 * GiB, MEM_AVAILABLE}};
    static const struct mem_range res[] = {{0, MiB}};
    struct setup s = SETUP(map, 1, res, 1, 8 * GiB);
    assert_true(setup_run(&s));
    uint64_t total = pmm_total_count(&s.pmm);
    assert_int_equal(total, (4 * GiB - MiB) / PAGE_SIZE - s.bm_size / PAGE_SIZE);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int round = 0; round < 2; round++) {
        /* alloc/free in a ring of 512 outstanding frames */
        mfn_t ring[512];
        for (int i = 0; i < 512; i++)
            ring[i] = pmm_alloc(&s.pmm);
        for (int i = 0; i < 500000; i++) {
            assert_true(pmm_free(&s.pmm, ring[i % 512]));
            ring[i % 512] = pmm_alloc(&s.pmm);
        }
        for (int i = 0; i < 512; i++)
            assert_true(pmm_free(&s.pmm, ring[i]));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    print_message("pmm: %.1f ns per alloc+free pair (ASan build, 4 GiB map)\n", ns / 1001024.0);
    assert_int_equal(pmm_free_count(&s.pmm), total);
    setup_done(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_q35),          cmocka_unit_test(test_overlapping),
        cmocka_unit_test(test_unsorted),     cmocka_unit_test(test_absurd),
        cmocka_unit_test(test_max_addr),     cmocka_unit_test(test_nothing_usable),
        cmocka_unit_test(test_no_place),     cmocka_unit_test(test_init_rejects),
        cmocka_unit_test(test_free_refuses), cmocka_unit_test(test_random_maps),
        cmocka_unit_test(test_speed_4g),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
