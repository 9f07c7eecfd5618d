/*
 * Differential test: guest-kit's ELF checker (guest-kit/src/elf.c) against
 * the hypervisor's (hv/core/elf64.c) on the same images, so that a domain
 * built by guest-kit is refused exactly when the hypervisor would refuse
 * it as root. A valid base image and a fixed-seed stream of byte, field and
 * size mutations; both must give the same verdict, the same message and the
 * same description.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "elf64.h"
#include "gk/elf.h"

#define IMG_SIZE 0x3000
#define VA_MIN 0x1000ull
#define VA_LIMIT 0x0000800000000000ull

static uint8_t base_img[IMG_SIZE];

static void put(uint8_t *b, size_t off, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[off + i] = (uint8_t)(v >> (8 * i));
}

static void build_base(void)
{
    uint8_t *b = base_img;
    memset(b, 0, IMG_SIZE);
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
    put(b, 24, 0x401000, 8);
    put(b, 32, 64, 8);
    put(b, 52, 64, 2);
    put(b, 54, 56, 2);
    put(b, 56, 3, 2);
    const uint64_t ph[3][7] = {
        {1, 5, 0x1000, 0x401000, 0x100, 0x100, 0x1000},
        {1, 6, 0x2000, 0x402000, 0x80, 0x3000, 0x1000},
        {0x6474e551u, 6, 0, 0, 0, 0, 16},
    };
    for (int i = 0; i < 3; i++) {
        size_t o = 64 + (size_t)i * 56;
        put(b, o + 0, ph[i][0], 4);
        put(b, o + 4, ph[i][1], 4);
        put(b, o + 8, ph[i][2], 8);
        put(b, o + 16, ph[i][3], 8);
        put(b, o + 32, ph[i][4], 8);
        put(b, o + 40, ph[i][5], 8);
        put(b, o + 48, ph[i][6], 8);
    }
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Values that sit on the checkers' boundaries. */
static uint64_t interesting(void)
{
    static const uint64_t v[] = {0,
                                 1,
                                 0x1000,
                                 0xfff,
                                 0x400000,
                                 0x401000,
                                 0x402000,
                                 VA_LIMIT,
                                 VA_LIMIT - 0x1000,
                                 UINT64_MAX,
                                 1ull << 63,
                                 0x7fffffff,
                                 0x100000000ull,
                                 56,
                                 64,
                                 0xffff,
                                 IMG_SIZE};
    return v[next() % (sizeof(v) / sizeof(v[0]))] + (next() % 3) - 1;
}

static void compare(const uint8_t *img, size_t size, uint64_t max_bytes, unsigned *accepted)
{
    struct elf64_image a;
    struct gk_elf_image b;
    enum elf64_error ea = elf64_check(img, size, VA_MIN, VA_LIMIT, max_bytes, &a);
    enum gk_elf_error eb = gk_elf_check(img, size, VA_MIN, VA_LIMIT, max_bytes, &b);
    assert_int_equal((int)ea, (int)eb);
    assert_string_equal(elf64_strerror(ea), gk_elf_strerror(eb));
    assert_int_equal(a.entry, b.entry);
    assert_int_equal(a.segs_count, b.segs_count);
    assert_int_equal(a.va_lowest, b.va_lowest);
    assert_int_equal(a.va_end, b.va_end);
    for (size_t i = 0; i < a.segs_count; i++) {
        assert_int_equal(a.segs[i].vaddr, b.segs[i].vaddr);
        assert_int_equal(a.segs[i].memsz, b.segs[i].memsz);
        assert_int_equal(a.segs[i].file_offset, b.segs[i].file_offset);
        assert_int_equal(a.segs[i].filesz, b.segs[i].filesz);
        assert_int_equal(a.segs[i].flags, b.segs[i].flags);
    }
    if (ea == ELF64_OK)
        (*accepted)++;
}

static void test_same_verdicts(void **state)
{
    (void)state;
    build_base();
    unsigned accepted = 0, rounds = 200000;
    uint8_t *img = malloc(IMG_SIZE);
    assert_non_null(img);
    for (unsigned r = 0; r < rounds; r++) {
        memcpy(img, base_img, IMG_SIZE);
        unsigned edits = 1 + (unsigned)(next() % 4);
        for (unsigned k = 0; k < edits; k++) {
            switch (next() % 3) {
            case 0: /* a random byte in the headers */
                img[next() % (64 + 3 * 56)] = (uint8_t)next();
                break;
            case 1: { /* a program-header field set to a boundary value */
                static const size_t offs[] = {8, 16, 32, 40, 48};
                size_t o = 64 + (next() % 3) * 56 + offs[next() % 5];
                put(img, o, interesting(), 8);
                break;
            }
            default: /* a header field */ put(img, (next() & 1) ? 24 : 32, interesting(), 8); break;
            }
        }
        size_t size = (next() % 8 == 0) ? (size_t)(next() % IMG_SIZE) : IMG_SIZE;
        uint64_t max_bytes = (next() % 4 == 0) ? (next() % 0x8000) : (1ull << 30);
        /* An exact-size copy, so ASan sees any read past the end. */
        uint8_t *exact = malloc(size ? size : 1);
        assert_non_null(exact);
        memcpy(exact, img, size);
        compare(exact, size, max_bytes, &accepted);
        free(exact);
    }
    free(img);
    /* The stream must exercise both verdicts. */
    assert_true(accepted > rounds / 100);
    assert_true(accepted < rounds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_verdicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
