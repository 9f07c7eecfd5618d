/*
 * Tests for the start-of-day layout (lib/layout.c) that the hypervisor's
 * builder (root domain) and guest-kit's (every other domain) share: the
 * order of the regions, the page-table count at its fixed point, the
 * refusals, and the leaf flags. guest-kit's page contents on top of it are
 * tested in test/unit/builder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hvlib/layout.h"

#define PAGE 4096ull

/* A static executable: text (R+X) at 0x400000 (one page), data (R+W) at
 * 0x402000 (two pages of memsz), a one-page gap between them. */
static uint8_t img[0x2000];

static void put(size_t off, uint64_t v, size_t n)
{
    memcpy(img + off, &v, n);
}

static void ph(int i, uint32_t flags, uint64_t off, uint64_t va, uint64_t filesz, uint64_t memsz)
{
    size_t p = 64 + (size_t)i * 56;
    put(p + 0, 1, 4); /* PT_LOAD */
    put(p + 4, flags, 4);
    put(p + 8, off, 8);
    put(p + 16, va, 8);
    put(p + 24, va, 8);
    put(p + 32, filesz, 8);
    put(p + 40, memsz, 8);
    put(p + 48, PAGE, 8);
}

static int setup(void **state)
{
    (void)state;
    memset(img, 0, sizeof img);
    memcpy(img,
           "\x7f"
           "ELF",
           4);
    img[4] = 2;     /* ELFCLASS64 */
    img[5] = 1;     /* ELFDATA2LSB */
    img[6] = 1;     /* EV_CURRENT */
    put(16, 2, 2);  /* ET_EXEC */
    put(18, 62, 2); /* EM_X86_64 */
    put(20, 1, 4);
    put(24, 0x400100, 8); /* entry */
    put(32, 64, 8);       /* phoff */
    put(52, 64, 2);
    put(54, 56, 2);
    put(56, 2, 2);
    ph(0, 5, 0, 0x400000, 0x1000, 0x1000);     /* R+X */
    ph(1, 6, 0x1000, 0x402000, 0x100, 0x2000); /* R+W */
    return 0;
}

static void test_regions_in_order(void **state)
{
    (void)state;
    struct hv_layout l;
    uint64_t mods[2] = {1, PAGE + 1};
    enum elf64_error e = ELF64_E_COUNT_;
    assert_null(hv_layout_plan(img, sizeof img, 1024, mods, 2, &l, &e));
    assert_int_equal(e, ELF64_OK);
    assert_int_equal(l.base_va, 0x400000);
    assert_int_equal(l.image_pages, 4); /* 0x400000 .. 0x404000 */
    assert_int_equal(l.si_pfn, 4);
    assert_int_equal(l.shinfo_pfn, 5);
    assert_int_equal(l.p2m_pfn, 6);
    assert_int_equal(l.p2m_pages, 2); /* 1024 entries of 8 bytes */
    assert_int_equal(l.mods_pfn, 8);
    assert_int_equal(l.mods_pages, 3);
    assert_int_equal(l.mod_va[0], 0x400000 + 8 * PAGE);
    assert_int_equal(l.mod_va[1], 0x400000 + 9 * PAGE);
    assert_int_equal(l.pt_pfn, 11);
    /* 11 + pt + 8 pages from 0x400000 stay in one L1: L4 + L3 + L2 + L1. */
    assert_int_equal(l.pt_pages, 4);
    assert_int_equal(l.stack_pfn, 15);
    assert_int_equal(l.used_pages, 15 + HV_LAYOUT_STACK_PAGES);
    assert_int_equal(l.entry, 0x400100);
    assert_int_equal(l.si_va, 0x400000 + 4 * PAGE);
    assert_int_equal(l.stack_top_va, 0x400000 + l.used_pages * PAGE);
}

static void test_tables_reach_a_fixed_point(void **state)
{
    (void)state;
    /* 2 MiB of p2m pages alone (262144 entries) spill the layout over
     * several L1s; the count must cover the tables themselves. */
    struct hv_layout l;
    assert_null(hv_layout_plan(img, sizeof img, HV_LAYOUT_PAGES_MAX, NULL, 0, &l, NULL));
    uint64_t end = l.base_va + l.used_pages * PAGE - 1;
    uint64_t need = 1 + ((end >> 39) - (l.base_va >> 39) + 1) +
                    ((end >> 30) - (l.base_va >> 30) + 1) + ((end >> 21) - (l.base_va >> 21) + 1);
    assert_int_equal(l.pt_pages, need);
    assert_true(l.pt_pages > 4);
}

static void test_refusals(void **state)
{
    (void)state;
    struct hv_layout l;
    enum elf64_error e;
    uint64_t mods[HV_START_MODULES_MAX + 1] = {0};
    assert_string_equal(hv_layout_plan(img, sizeof img, 0, NULL, 0, &l, &e),
                        "its memory size is out of range (1 .. 262144 pages)");
    assert_string_equal(hv_layout_plan(img, sizeof img, HV_LAYOUT_PAGES_MAX + 1, NULL, 0, &l, &e),
                        "its memory size is out of range (1 .. 262144 pages)");
    assert_string_equal(hv_layout_plan(img, sizeof img, 64, mods, HV_START_MODULES_MAX + 1, &l, &e),
                        "too many modules (at most 8)");
    mods[0] = 64 * PAGE + 1;
    assert_string_equal(hv_layout_plan(img, sizeof img, 64, mods, 1, &l, &e),
                        "a module is larger than the domain's memory");
    /* 19 pages: the image's span and what follows need 4 + 2 + 1 + 4 + 8. */
    assert_string_equal(hv_layout_plan(img, sizeof img, 18, NULL, 0, &l, &e),
                        "its image and start-of-day layout do not fit in its memory");
    assert_int_equal(l.used_pages, 0); /* zeroed */
    assert_null(hv_layout_plan(img, sizeof img, 19, NULL, 0, &l, &e));
    img[0] = 0;
    assert_string_equal(hv_layout_plan(img, sizeof img, 64, NULL, 0, &l, &e),
                        "not a valid ELF64 image");
    assert_int_equal(e, ELF64_E_BAD_MAGIC);
}

static void test_page_flags(void **state)
{
    (void)state;
    struct hv_layout l;
    assert_null(hv_layout_plan(img, sizeof img, 64, NULL, 0, &l, NULL));
    assert_int_equal(hv_layout_page_flags(&l, 0), HV_LAYOUT_X); /* text */
    assert_int_equal(hv_layout_page_flags(&l, 1), 0);           /* the gap */
    assert_int_equal(hv_layout_page_flags(&l, 2), HV_LAYOUT_W); /* data */
    assert_int_equal(hv_layout_page_flags(&l, 3), HV_LAYOUT_W); /* bss */
    assert_int_equal(hv_layout_page_flags(&l, l.si_pfn), HV_LAYOUT_W);
    assert_int_equal(hv_layout_page_flags(&l, l.pt_pfn), 0); /* tables: read-only */
    assert_int_equal(hv_layout_page_flags(&l, l.stack_pfn - 1), 0);
    assert_int_equal(hv_layout_page_flags(&l, l.stack_pfn), HV_LAYOUT_W);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_regions_in_order, setup),
        cmocka_unit_test_setup(test_tables_reach_a_fixed_point, setup),
        cmocka_unit_test_setup(test_refusals, setup),
        cmocka_unit_test_setup(test_page_flags, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
