/*
 * Tests of the domain builder's plan (guest-kit/src/builder_plan.c).
 *
 * A valid image must give the documented layout (docs/builder.md, the same
 * as hv/core/dom_build.c); the page tables built from a fake pfn -> mfn
 * array are walked by an independent walker here (every mapped va resolves
 * to the right mfn with the right flags, nothing else is mapped) and are
 * compared byte for byte with a re-implementation of dom_build.c's lazy
 * arch_guest_map walk; every bad input gives its error. Images are built
 * byte by byte and handed over as exact-size heap copies so that ASan
 * catches any read outside them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gk/builder.h"

#define PAGE 4096ull
#define P (1ull << 0)
#define RW (1ull << 1)
#define US (1ull << 2)
#define PS (1ull << 7)
#define G (1ull << 8)
#define NX (1ull << 63)
#define ADDR 0x000ffffffffff000ull
#define SHINFO_MFN 0xabcdefull
#define MFN_BASE 0x100000ull
#define MFN_STRIDE 3ull

/* ---- Images --------------------------------------------------------------- */

struct seg {
    uint32_t type, flags;
    uint64_t offset, vaddr, filesz, memsz;
};

static void put(uint8_t *b, size_t off, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[off + i] = (uint8_t)(v >> (8 * i));
}

/* A heap image of exactly `size` bytes with the given program headers;
 * file bytes at offset o are (uint8_t)(o * 7 + 1) so copies can be checked. */
static uint8_t *make_image(size_t size, uint64_t entry, const struct seg *segs, unsigned count)
{
    uint8_t *b = malloc(size);
    assert_non_null(b);
    for (size_t o = 0; o < size; o++)
        b[o] = (uint8_t)(o * 7 + 1);
    memset(b, 0, 64 + (size_t)count * 56);
    memcpy(b,
           "\x7f"
           "ELF",
           4);
    b[4] = 2;
    b[5] = 1;
    b[6] = 1;
    put(b, 16, 2, 2);
    put(b, 18, 62, 2);
    put(b, 20, 1, 4);
    put(b, 24, entry, 8);
    put(b, 32, 64, 8);
    put(b, 52, 64, 2);
    put(b, 54, 56, 2);
    put(b, 56, count, 2);
    for (unsigned i = 0; i < count; i++) {
        size_t o = 64 + (size_t)i * 56;
        put(b, o + 0, segs[i].type, 4);
        put(b, o + 4, segs[i].flags, 4);
        put(b, o + 8, segs[i].offset, 8);
        put(b, o + 16, segs[i].vaddr, 8);
        put(b, o + 24, segs[i].vaddr, 8);
        put(b, o + 32, segs[i].filesz, 8);
        put(b, o + 40, segs[i].memsz, 8);
        put(b, o + 48, 0x1000, 8);
    }
    return b;
}

static uint8_t file_byte(uint64_t o)
{
    return (uint8_t)(o * 7 + 1);
}

/* The standard image: text R+X 0x400000 (0x1800 bytes, file 0x1000), a
 * read-only gap page at 0x402000, data R+W 0x403000 (0x80 in the file,
 * 0x1100 in memory: data + bss over two pages). */
#define STD_SIZE 0x4000
static const struct seg std_segs[] = {
    {1, ELF64_PF_R | ELF64_PF_X, 0x1000, 0x400000, 0x1800, 0x1800},
    {1, ELF64_PF_R | ELF64_PF_W, 0x3000, 0x403000, 0x80, 0x1100},
    {0x6474e551u, 6, 0, 0, 0, 0}, /* PT_GNU_STACK: ignored */
};

/* ---- Fake frames ---------------------------------------------------------- */

struct fake {
    struct gk_build_plan plan;
    uint64_t *mfns;
    uint8_t (*pages)[PAGE]; /* contents by pfn */
    enum gk_build_page_kind *kinds;
};

static uint64_t fake_mfn(uint64_t pfn)
{
    return MFN_BASE + pfn * MFN_STRIDE;
}

/* The pfn whose frame is mfn, or UINT64_MAX. */
static uint64_t fake_pfn(const struct fake *f, uint64_t mfn)
{
    if (mfn == SHINFO_MFN)
        return f->plan.layout.shinfo_pfn;
    if (mfn < MFN_BASE || (mfn - MFN_BASE) % MFN_STRIDE)
        return UINT64_MAX;
    uint64_t pfn = (mfn - MFN_BASE) / MFN_STRIDE;
    return pfn < f->plan.in.pages && pfn != f->plan.layout.shinfo_pfn ? pfn : UINT64_MAX;
}

static const uint64_t *table(const struct fake *f, uint64_t mfn)
{
    uint64_t pfn = fake_pfn(f, mfn);
    assert_true(pfn != UINT64_MAX);
    /* Every table the walk reaches must be one of the layout's table frames. */
    assert_true(pfn >= f->plan.layout.pt_pfn && pfn < f->plan.layout.stack_pfn);
    return (const uint64_t *)f->pages[pfn];
}

/* Produces every page of a planned domain into f. */
static void fake_build(struct fake *f)
{
    uint64_t n = f->plan.in.pages;
    f->mfns = malloc(n * 8);
    f->pages = calloc(n, PAGE);
    f->kinds = calloc(n, sizeof(*f->kinds));
    assert_non_null(f->mfns);
    assert_non_null(f->pages);
    assert_non_null(f->kinds);
    for (uint64_t i = 0; i < n; i++)
        f->mfns[i] = fake_mfn(i);
    f->mfns[f->plan.layout.shinfo_pfn] = SHINFO_MFN;
    for (uint64_t i = 0; i < n; i++) {
        memset(f->pages[i], 0x5a, PAGE); /* must be overwritten unless SHINFO */
        f->kinds[i] = gk_build_page(&f->plan, f->mfns, i, f->pages[i]);
        if (f->kinds[i] == GK_BUILD_PAGE_SHINFO)
            memset(f->pages[i], 0, PAGE);
    }
}

static void fake_free(struct fake *f)
{
    free(f->mfns);
    free(f->pages);
    free(f->kinds);
}

/* Walks the layout's tables: the leaf entry of va, or 0 if not mapped. Every
 * entry on the way must be exactly a table entry. */
static uint64_t walk(const struct fake *f, uint64_t va)
{
    uint64_t mfn = f->mfns[f->plan.layout.pt_pfn];
    for (int level = 4; level >= 1; level--) {
        const uint64_t *t = table(f, mfn);
        uint64_t e = t[(va >> (12 + 9 * (level - 1))) & 511];
        if (!(e & P))
            return 0;
        if (level == 1)
            return e;
        assert_int_equal(e & ~ADDR, P | RW | US);
        mfn = (e & ADDR) >> 12;
    }
    return 0;
}

/* Expected leaf flags of pfn for the standard image (nx on). */
static uint64_t std_flags(const struct gk_build_plan *p, uint64_t pfn)
{
    uint64_t va = p->layout.base_va + pfn * PAGE;
    if (va >= 0x400000 && va < 0x402000)
        return P | US; /* text: read-only, executable */
    if (va == 0x402000)
        return P | US | NX; /* the gap */
    if (va >= 0x403000 && va < 0x405000)
        return P | US | RW | NX; /* data + bss */
    if (pfn >= p->layout.pt_pfn && pfn < p->layout.stack_pfn)
        return P | US | NX; /* page tables */
    return P | US | RW | NX;
}

/*
 * Checks every rule of the tables: each pfn of the layout maps at
 * base + pfn * 4096 to its own mfn with flags_of(pfn), nothing else is
 * mapped anywhere (the leaf count is exact), the hypervisor's L4 slots are
 * empty, no entry has PS or G or a reserved bit, every table frame is
 * reached exactly once.
 */
static void check_tables(const struct fake *f,
                         uint64_t (*flags_of)(const struct gk_build_plan *, uint64_t))
{
    const struct gk_build_plan *p = &f->plan;
    for (uint64_t pfn = 0; pfn < p->layout.used_pages; pfn++) {
        uint64_t e = walk(f, p->layout.base_va + pfn * PAGE);
        assert_int_equal((e & ADDR) >> 12, f->mfns[pfn]);
        if (flags_of)
            assert_int_equal(e & ~ADDR, flags_of(p, pfn));
        assert_true(e & P);
        assert_true(e & US);
        if (pfn >= p->layout.pt_pfn && pfn < p->layout.stack_pfn)
            assert_false(e & RW); /* page tables are read-only */
    }
    assert_int_equal(walk(f, p->layout.base_va + p->layout.used_pages * PAGE), 0);
    if (p->layout.base_va >= PAGE)
        assert_int_equal(walk(f, p->layout.base_va - PAGE), 0);

    /* Count every present entry by level from the L4 down. */
    const uint64_t *l4 = table(f, f->mfns[p->layout.pt_pfn]);
    uint64_t tables = 1, leaves = 0;
    uint8_t *seen = calloc(p->layout.pt_pages, 1);
    assert_non_null(seen);
    seen[0] = 1;
    for (unsigned i4 = 0; i4 < 512; i4++) {
        if (i4 >= 256)
            assert_int_equal(l4[i4], 0);
        if (!(l4[i4] & P)) {
            assert_int_equal(l4[i4], 0);
            continue;
        }
        const uint64_t *l3 = table(f, (l4[i4] & ADDR) >> 12);
        tables++;
        for (unsigned i3 = 0; i3 < 512; i3++) {
            if (!(l3[i3] & P)) {
                assert_int_equal(l3[i3], 0);
                continue;
            }
            assert_int_equal(l3[i3] & ~ADDR, P | RW | US);
            const uint64_t *l2 = table(f, (l3[i3] & ADDR) >> 12);
            tables++;
            for (unsigned i2 = 0; i2 < 512; i2++) {
                if (!(l2[i2] & P)) {
                    assert_int_equal(l2[i2], 0);
                    continue;
                }
                assert_int_equal(l2[i2] & ~ADDR, P | RW | US);
                uint64_t l1_pfn = fake_pfn(f, (l2[i2] & ADDR) >> 12);
                const uint64_t *l1 = table(f, (l2[i2] & ADDR) >> 12);
                assert_int_equal(seen[l1_pfn - p->layout.pt_pfn], 0);
                seen[l1_pfn - p->layout.pt_pfn] = 1;
                tables++;
                for (unsigned i1 = 0; i1 < 512; i1++) {
                    if (!(l1[i1] & P)) {
                        assert_int_equal(l1[i1], 0);
                        continue;
                    }
                    assert_int_equal(l1[i1] & (PS | G), 0);
                    leaves++;
                }
            }
        }
    }
    free(seen);
    assert_int_equal(tables, p->layout.pt_pages);
    assert_int_equal(leaves, p->layout.used_pages);
}

/* ---- dom_build.c's walk, re-implemented on the fake frames ----------------- */

struct ref {
    const struct fake *f;
    uint8_t (*tables)[PAGE]; /* by index from pt_pfn */
    uint64_t next;           /* next table index to hand out */
};

static uint64_t *ref_table(struct ref *r, uint64_t mfn)
{
    uint64_t pfn = fake_pfn(r->f, mfn);
    assert_true(pfn >= r->f->plan.layout.pt_pfn && pfn < r->f->plan.layout.stack_pfn);
    return (uint64_t *)r->tables[pfn - r->f->plan.layout.pt_pfn];
}

/* arch_guest_map(l4, va, m, flags, pt_alloc) of hv/arch/x86_64/paging.c. */
static void ref_map(struct ref *r, uint64_t va, uint64_t mfn, uint64_t leaf_flags)
{
    uint64_t *t = ref_table(r, r->f->mfns[r->f->plan.layout.pt_pfn]);
    for (int level = 3; level >= 1; level--) {
        unsigned idx = (va >> (12 + 9 * level)) & 511;
        if (!(t[idx] & P)) {
            assert_true(r->next < r->f->plan.layout.pt_pages);
            t[idx] = (r->f->mfns[r->f->plan.layout.pt_pfn + r->next++] << 12) | P | RW | US;
        }
        t = ref_table(r, (t[idx] & ADDR) >> 12);
    }
    t[(va >> 12) & 511] = (mfn << 12) | leaf_flags;
}

/* The tables must equal, frame for frame, what dom_build.c writes. */
static void check_same_as_dom_build(const struct fake *f)
{
    const struct gk_build_plan *p = &f->plan;
    struct ref r = {.f = f, .tables = calloc(p->layout.pt_pages, PAGE), .next = 1};
    assert_non_null(r.tables);
    for (uint64_t pfn = 0; pfn < p->layout.used_pages; pfn++) {
        uint64_t e = gk_build_leaf_pte(p, f->mfns, pfn);
        ref_map(&r, p->layout.base_va + pfn * PAGE, f->mfns[pfn], e & ~ADDR);
    }
    assert_int_equal(r.next, p->layout.pt_pages); /* dom_build's count is exact */
    for (uint64_t i = 0; i < p->layout.pt_pages; i++)
        assert_memory_equal(r.tables[i], f->pages[p->layout.pt_pfn + i], PAGE);
    free(r.tables);
}

/* ---- Tests ---------------------------------------------------------------- */

static struct gk_build_input std_input(const uint8_t *img, uint64_t pages)
{
    return (struct gk_build_input){.image = img,
                                   .image_size = STD_SIZE,
                                   .pages = pages,
                                   .cmdline = "demo console=1",
                                   .nx = true,
                                   .domid = 7,
                                   .tsc_hz = 2000000000ull,
                                   .m2p_entries = 0x40000};
}

static void test_layout(void **state)
{
    (void)state;
    uint8_t *img = make_image(STD_SIZE, 0x400010, std_segs, 3);
    uint8_t m0[5000], m1[10];
    for (size_t i = 0; i < sizeof(m0); i++)
        m0[i] = (uint8_t)(i ^ 0x3c);
    memset(m1, 0xee, sizeof(m1));
    struct gk_build_module mods[2] = {{m0, sizeof(m0), "first arg=1"}, {m1, sizeof(m1), NULL}};
    struct gk_build_input in = std_input(img, 1024);
    in.modules = mods;
    in.modules_count = 2;
    struct fake f;
    const char *detail = "x";
    enum elf64_error ee = ELF64_E_BAD_ARGS;
    assert_null(gk_build_plan(&in, &f.plan, &detail, &ee));
    assert_null(detail);
    assert_int_equal(ee, ELF64_OK);

    /* image 0x400000..0x405000 | si | shinfo | p2m (1024 * 8 = 2 pages) |
     * modules (2 + 1 pages) | tables (L4 L3 L2 L1) | stack (8) */
    const struct gk_build_plan *p = &f.plan;
    assert_int_equal(p->layout.base_va, 0x400000);
    assert_int_equal(p->layout.image_pages, 5);
    assert_int_equal(p->layout.si_pfn, 5);
    assert_int_equal(p->layout.shinfo_pfn, 6);
    assert_int_equal(p->layout.p2m_pfn, 7);
    assert_int_equal(p->layout.p2m_pages, 2);
    assert_int_equal(p->layout.mods_pfn, 9);
    assert_int_equal(p->layout.mods_pages, 3);
    assert_int_equal(p->layout.mod_va[0], 0x409000);
    assert_int_equal(p->layout.mod_va[1], 0x40b000);
    assert_int_equal(p->layout.pt_pfn, 12);
    assert_int_equal(p->layout.pt_pages, 4);
    assert_int_equal(p->layout.stack_pfn, 16);
    assert_int_equal(p->layout.used_pages, 24);
    assert_int_equal(p->layout.entry, 0x400010);
    assert_int_equal(p->layout.si_va, 0x405000);
    assert_int_equal(p->layout.stack_top_va, 0x418000);

    fake_build(&f);
    check_tables(&f, std_flags);
    check_same_as_dom_build(&f);

    /* What each page holds. */
    for (uint64_t pfn = 0; pfn < 1024; pfn++) {
        enum gk_build_page_kind want = GK_BUILD_PAGE_ZERO;
        if (pfn < 2 || pfn == 3 || (pfn >= 5 && pfn < 16 && pfn != 6))
            want = GK_BUILD_PAGE_DATA;
        if (pfn == 6)
            want = GK_BUILD_PAGE_SHINFO;
        assert_int_equal(f.kinds[pfn], want);
        if (want == GK_BUILD_PAGE_ZERO) {
            static const uint8_t zero[PAGE];
            assert_memory_equal(f.pages[pfn], zero, PAGE);
        }
    }
    /* Image bytes, the gap and the bss are zero past filesz. */
    for (uint64_t off = 0; off < 0x5000; off++) {
        uint8_t got = f.pages[off / PAGE][off % PAGE];
        uint8_t want = 0;
        if (off < 0x1800)
            want = file_byte(0x1000 + off);
        else if (off >= 0x3000 && off < 0x3080)
            want = file_byte(off);
        assert_int_equal(got, want);
    }
    /* The start-info page. */
    const struct hv_start_info *si = (const void *)f.pages[5];
    assert_int_equal(si->magic, HV_START_INFO_MAGIC);
    assert_int_equal(si->abi_version, HV_ABI_VERSION);
    assert_int_equal(si->domid, 7);
    assert_int_equal(si->pages_count, 1024);
    assert_int_equal(si->p2m_va, 0x407000);
    assert_int_equal(si->pt_base_va, 0x40c000);
    assert_int_equal(si->pt_frames_count, 4);
    assert_int_equal(si->stack_top_va, 0x418000);
    assert_int_equal(si->first_free_va, 0x418000);
    assert_int_equal(si->first_free_pfn, 24);
    assert_int_equal(si->tsc_hz, 2000000000ull);
    assert_int_equal(si->m2p_entries, 0x40000);
    assert_int_equal(si->shared_info_va, 0x406000);
    assert_int_equal(si->modules_count, 2);
    assert_int_equal(si->flags, 0);
    assert_int_equal(si->modules[0].va, 0x409000);
    assert_int_equal(si->modules[0].size_bytes, 5000);
    assert_string_equal(si->modules[0].name, "first arg=1");
    assert_int_equal(si->modules[1].va, 0x40b000);
    assert_int_equal(si->modules[1].size_bytes, 10);
    assert_string_equal(si->modules[1].name, "");
    assert_int_equal(si->modules[2].va, 0);
    assert_string_equal(si->cmdline, "demo console=1");
    const uint8_t *rest = f.pages[5] + sizeof(*si);
    for (size_t i = 0; i < PAGE - sizeof(*si); i++)
        assert_int_equal(rest[i], 0);
    /* The p2m list: every pfn once, the shared-info frame at its pfn. */
    const uint64_t *p2m = (const uint64_t *)f.pages[7];
    for (uint64_t pfn = 0; pfn < 1024; pfn++)
        assert_int_equal(p2m[pfn], pfn == 6 ? SHINFO_MFN : fake_mfn(pfn));
    /* The modules, each from a page boundary, zero after. */
    assert_memory_equal(f.pages[9], m0, PAGE);
    assert_memory_equal(f.pages[10], m0 + PAGE, sizeof(m0) - PAGE);
    assert_int_equal(f.pages[10][sizeof(m0) - PAGE], 0);
    assert_memory_equal(f.pages[11], m1, sizeof(m1));
    assert_int_equal(f.pages[11][sizeof(m1)], 0);
    fake_free(&f);
    free(img);
}

static void test_no_nx(void **state)
{
    (void)state;
    uint8_t *img = make_image(STD_SIZE, 0x400010, std_segs, 3);
    struct gk_build_input in = std_input(img, 64);
    in.nx = false;
    struct fake f;
    assert_null(gk_build_plan(&in, &f.plan, NULL, NULL));
    fake_build(&f);
    for (uint64_t pfn = 0; pfn < f.plan.layout.used_pages; pfn++)
        assert_int_equal(walk(&f, f.plan.layout.base_va + pfn * PAGE) & NX, 0);
    check_tables(&f, NULL);
    check_same_as_dom_build(&f);
    fake_free(&f);
    free(img);
}

/* A layout at `base` (one text page + one data page) of `pages` frames with
 * a module of mod_bytes: walked and compared with dom_build's tables
 * (want_pt_pages: the expected count of table frames, 0 = not checked). */
static void check_layout_at(uint64_t base, uint64_t pages, uint64_t mod_bytes,
                            uint64_t want_pt_pages)
{
    const struct seg segs[] = {
        {1, ELF64_PF_R | ELF64_PF_X, 0x1000, base, 0x100, 0x100},
        {1, ELF64_PF_R | ELF64_PF_W, 0x2000, base + 0x1000, 0x10, 0x1000},
    };
    uint8_t *img = make_image(0x2010, base, segs, 2);
    uint8_t *mod = calloc(1, mod_bytes ? mod_bytes : 1);
    assert_non_null(mod);
    struct gk_build_module m = {mod, mod_bytes, "big"};
    struct gk_build_input in = {.image = img,
                                .image_size = 0x2010,
                                .pages = pages,
                                .modules = &m,
                                .modules_count = 1,
                                .nx = true};
    struct fake f;
    assert_null(gk_build_plan(&in, &f.plan, NULL, NULL));
    if (want_pt_pages != 0)
        assert_int_equal(f.plan.layout.pt_pages, want_pt_pages);
    fake_build(&f);
    check_tables(&f, NULL);
    check_same_as_dom_build(&f);
    fake_free(&f);
    free(mod);
    free(img);
}

static void test_layouts_across_boundaries(void **state)
{
    (void)state;
    /* 2 MiB crossings within one GiB: 32 MiB of memory, a 6 MiB module. */
    check_layout_at(0x400000, 8192, 6u << 20, 1 + 1 + 1 + 4);
    /* a GiB crossing: L4, L3, L2, L1, L2, L1 */
    check_layout_at(0x3fffe000, 2048, 0, 6);
    /* a 512 GiB crossing: L4, L3, L2, L1, L3, L2, L1 */
    check_layout_at(0x7ffffff000ull, 2048, 0, 7);
    /* the top of the guest half, the layout ending exactly at the limit */
    check_layout_at(HV_GUEST_VA_LIMIT - 0x20000, 64, 0, 4);
    /* page 1 (the lowest allowed image address) */
    check_layout_at(HV_GUEST_VA_MIN, 300, 0, 4);
}

static void test_fixed_point(void **state)
{
    (void)state;
    /* Tables that map themselves: scan sizes around a 2 MiB boundary so that
     * the fixed-point iteration has to add a table for its own tables. */
    for (uint64_t mod = 0x1d0000; mod < 0x1f8000; mod += 0x1000)
        check_layout_at(0x400000, 1024, mod, 0); /* the count is checked against dom_build */
}

/* ---- Errors --------------------------------------------------------------- */

static const char *plan_err(const struct gk_build_input *in, const char **detail,
                            enum elf64_error *ee)
{
    struct gk_build_plan plan;
    memset(&plan, 0x77, sizeof(plan));
    const char *why = gk_build_plan(in, &plan, detail, ee);
    assert_non_null(why);
    /* nothing half-planned */
    static struct gk_build_plan zero;
    assert_memory_equal(&plan, &zero, sizeof(plan));
    return why;
}

static void expect_elf(const uint8_t *img, size_t size, uint64_t pages, enum elf64_error want)
{
    struct gk_build_input in = std_input(img, pages);
    in.image_size = size;
    const char *detail = NULL;
    enum elf64_error ee = ELF64_OK;
    assert_string_equal(plan_err(&in, &detail, &ee), "not a valid ELF64 image");
    assert_int_equal(ee, want);
    assert_string_equal(detail, elf64_strerror(want));
}

static void test_bad_images(void **state)
{
    (void)state;
    uint8_t *img;
    struct seg s[3];

    /* not ELF; truncated */
    img = make_image(STD_SIZE, 0x400010, std_segs, 3);
    img[1] = 'X';
    expect_elf(img, STD_SIZE, 1024, ELF64_E_BAD_MAGIC);
    img[1] = 'E';
    expect_elf(img, 63, 1024, ELF64_E_TRUNCATED);
    expect_elf(img, 64 + 56, 1024, ELF64_E_BAD_PHDRS); /* table cut */
    free(img);

    /* overlapping segments (sharing a page) */
    memcpy(s, std_segs, sizeof(s));
    s[1].vaddr = 0x401000;
    s[1].offset = 0x3000;
    img = make_image(STD_SIZE, 0x400010, s, 3);
    expect_elf(img, STD_SIZE, 1024, ELF64_E_SEG_OVERLAP);
    free(img);

    /* below HV_GUEST_VA_MIN (page 0) */
    memcpy(s, std_segs, sizeof(s));
    s[0].vaddr = 0;
    s[0].offset = 0;
    img = make_image(STD_SIZE, 0x10, s, 3);
    expect_elf(img, STD_SIZE, 1024, ELF64_E_SEG_RANGE);
    free(img);

    /* reaching past HV_GUEST_VA_LIMIT; wrapping */
    memcpy(s, std_segs, sizeof(s));
    s[1].vaddr = HV_GUEST_VA_LIMIT - 0x1000;
    s[1].memsz = 0x1001;
    img = make_image(STD_SIZE, 0x400010, s, 3);
    expect_elf(img, STD_SIZE, 1024, ELF64_E_SEG_RANGE);
    free(img);
    memcpy(s, std_segs, sizeof(s));
    s[1].memsz = UINT64_MAX - 0x100;
    img = make_image(STD_SIZE, 0x400010, s, 3);
    expect_elf(img, STD_SIZE, 1024, ELF64_E_SEG_RANGE);
    free(img);

    /* file size > mem size */
    memcpy(s, std_segs, sizeof(s));
    s[1].filesz = 0x1200;
    img = make_image(STD_SIZE, 0x400010, s, 3);
    expect_elf(img, STD_SIZE, 1024, ELF64_E_SEG_OUT_OF_FILE); /* past the file first */
    s[1].filesz = 0x1000;
    s[1].memsz = 0x800;
    free(img);
    img = make_image(STD_SIZE, 0x400010, s, 3);
    expect_elf(img, STD_SIZE, 1024, ELF64_E_SEG_FILESZ);
    free(img);

    /* misaligned file offset */
    memcpy(s, std_segs, sizeof(s));
    s[1].offset = 0x3008;
    img = make_image(STD_SIZE, 0x400010, s, 3);
    expect_elf(img, STD_SIZE, 1024, ELF64_E_SEG_MISALIGNED);
    free(img);

    /* entry point in the data segment */
    img = make_image(STD_SIZE, 0x403000, std_segs, 3);
    expect_elf(img, STD_SIZE, 1024, ELF64_E_ENTRY);
    free(img);

    /* dynamic */
    memcpy(s, std_segs, sizeof(s));
    s[2].type = 3; /* PT_INTERP */
    img = make_image(STD_SIZE, 0x400010, s, 3);
    expect_elf(img, STD_SIZE, 1024, ELF64_E_DYNAMIC);
    free(img);

    /* no loadable segment */
    memcpy(s, std_segs, sizeof(s));
    s[0].type = s[1].type = 4; /* PT_NOTE */
    img = make_image(STD_SIZE, 0x400010, s, 3);
    expect_elf(img, STD_SIZE, 1024, ELF64_E_NO_LOAD);
    free(img);

    /* ET_DYN */
    img = make_image(STD_SIZE, 0x400010, std_segs, 3);
    put(img, 16, 3, 2);
    expect_elf(img, STD_SIZE, 1024, ELF64_E_NOT_EXEC);
    free(img);

    /* too big for the memory: the image's span alone (5 pages) > 4 pages */
    img = make_image(STD_SIZE, 0x400010, std_segs, 3);
    expect_elf(img, STD_SIZE, 4, ELF64_E_TOO_BIG);
    free(img);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    uint8_t *img = make_image(STD_SIZE, 0x400010, std_segs, 3);
    struct gk_build_input in;
    const char *detail = "x";
    enum elf64_error ee = ELF64_E_BAD_ARGS;
    struct gk_build_plan plan;

    assert_string_equal(gk_build_plan(NULL, &plan, &detail, &ee),
                        "bad arguments (no input or no plan)");
    assert_null(detail);
    assert_int_equal(ee, ELF64_OK);
    in = std_input(img, 1024);
    assert_string_equal(gk_build_plan(&in, NULL, NULL, NULL),
                        "bad arguments (no input or no plan)");

    in = std_input(img, 0);
    assert_string_equal(plan_err(&in, NULL, NULL),
                        "its memory size is out of range (1 .. 262144 pages)");
    in = std_input(img, GK_BUILD_PAGES_MAX + 1);
    assert_string_equal(plan_err(&in, NULL, NULL),
                        "its memory size is out of range (1 .. 262144 pages)");

    /* the image fits (5 pages) but not its layout (5 + 1 + 1 + 1 + 4 + 8) */
    in = std_input(img, 19);
    assert_string_equal(plan_err(&in, NULL, NULL),
                        "its image and start-of-day layout do not fit in its memory");
    in = std_input(img, 20);
    assert_null(gk_build_plan(&in, &plan, NULL, NULL));
    assert_int_equal(plan.layout.used_pages, 20);

    /* a layout that would run into the hypervisor's half */
    const struct seg top[] = {
        {1, ELF64_PF_R | ELF64_PF_X, 0x1000, HV_GUEST_VA_LIMIT - 0x2000, 0x10, 0x10}};
    uint8_t *img2 = make_image(0x1010, HV_GUEST_VA_LIMIT - 0x2000, top, 1);
    in = std_input(img2, 64);
    in.image_size = 0x1010;
    assert_string_equal(plan_err(&in, NULL, NULL),
                        "its layout reaches the hypervisor's address range");
    free(img2);

    /* command line: 1023 bytes fit, 1024 do not */
    char *cmd = malloc(HV_CMDLINE_MAX + 1);
    assert_non_null(cmd);
    memset(cmd, 'c', HV_CMDLINE_MAX);
    cmd[HV_CMDLINE_MAX] = 0;
    in = std_input(img, 1024);
    in.cmdline = cmd;
    assert_string_equal(plan_err(&in, NULL, NULL), "its command line is longer than 1023 bytes");
    cmd[HV_CMDLINE_MAX - 1] = 0;
    assert_null(gk_build_plan(&in, &plan, NULL, NULL));
    free(cmd);

    /* modules */
    uint8_t byte = 1;
    struct gk_build_module mods[HV_START_MODULES_MAX + 1];
    for (unsigned i = 0; i <= HV_START_MODULES_MAX; i++)
        mods[i] = (struct gk_build_module){&byte, 1, "m"};
    in = std_input(img, 1024);
    in.modules = mods;
    in.modules_count = HV_START_MODULES_MAX + 1;
    assert_string_equal(plan_err(&in, NULL, NULL), "too many modules (at most 8)");
    in.modules_count = HV_START_MODULES_MAX;
    assert_null(gk_build_plan(&in, &plan, NULL, NULL));
    assert_int_equal(plan.layout.mods_pages, HV_START_MODULES_MAX);
    in.modules = NULL;
    assert_string_equal(plan_err(&in, NULL, NULL),
                        "modules_count is not 0 but there is no module list");
    in.modules = mods;
    mods[3].bytes = NULL;
    assert_string_equal(plan_err(&in, NULL, NULL), "a module has a size but no bytes");
    mods[3].size_bytes = 0;
    assert_null(gk_build_plan(&in, &plan, NULL, NULL)); /* an empty module is fine */
    mods[3] = (struct gk_build_module){&byte, 1024 * PAGE + 1, "huge"};
    assert_string_equal(plan_err(&in, NULL, NULL), "a module is larger than the domain's memory");
    mods[3] = (struct gk_build_module){&byte, UINT64_MAX, "wraps"};
    assert_string_equal(plan_err(&in, NULL, NULL), "a module is larger than the domain's memory");
    char name[GK_BUILD_MODULE_NAME_MAX + 1];
    memset(name, 'n', sizeof(name));
    name[GK_BUILD_MODULE_NAME_MAX] = 0;
    mods[3] = (struct gk_build_module){&byte, 1, name};
    assert_string_equal(plan_err(&in, NULL, NULL), "a module name is longer than 47 bytes");
    name[GK_BUILD_MODULE_NAME_MAX - 1] = 0;
    assert_null(gk_build_plan(&in, &plan, NULL, NULL));
    /* modules that fit the memory one by one but not together with the layout */
    uint8_t *big = calloc(1, 200 * PAGE);
    assert_non_null(big);
    for (unsigned i = 0; i < 8; i++)
        mods[i] = (struct gk_build_module){big, 200 * PAGE, "big"};
    assert_string_equal(plan_err(&in, NULL, NULL),
                        "its image and start-of-day layout do not fit in its memory");
    free(big);
    free(img);
}

/* ---- Mutations ------------------------------------------------------------ */

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Hostile images: whatever the checker accepts gives consistent tables and
 * pages, and nothing reads outside the image (ASan). */
static void test_mutations(void **state)
{
    (void)state;
    unsigned accepted = 0;
    for (unsigned r = 0; r < 3000; r++) {
        uint8_t *img = make_image(STD_SIZE, 0x400010, std_segs, 3);
        for (unsigned k = 0; k < 1 + next() % 3; k++) {
            size_t o = 64 + (next() % 3) * 56 + 8 * (1 + next() % 5);
            if (next() & 1)
                img[o + next() % 8] = (uint8_t)next();
            else
                put(img, o, (next() % 0x8000) & ~0xfull, 8);
        }
        struct gk_build_input in = std_input(img, 16 + next() % 64);
        struct fake f;
        if (gk_build_plan(&in, &f.plan, NULL, NULL) == NULL) {
            accepted++;
            fake_build(&f);
            check_tables(&f, NULL);
            check_same_as_dom_build(&f);
            fake_free(&f);
        }
        free(img);
    }
    assert_true(accepted > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_no_nx),
        cmocka_unit_test(test_layouts_across_boundaries),
        cmocka_unit_test(test_fixed_point),
        cmocka_unit_test(test_bad_images),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
