/*
 * Tests for the ELF64 checker (lib/elf64.c). Images are built here byte
 * by byte (no <elf.h>); every check runs on an exact-size heap copy so ASan
 * catches any read outside [img, img + size). One test per error code, the
 * host's own /bin/true, and a fixed-seed random-mutation loop.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hvlib/elf64.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define VA_MIN 0x400000ull
#define VA_LIMIT 0x800000ull
#define MAX_BYTES 0x100000ull
#define IMG_MAX 0x6000

#define PH(i) (64 + (size_t)(i)*56)
#define PH_TYPE 0
#define PH_FLAGS 4
#define PH_OFFSET 8
#define PH_VADDR 16
#define PH_FILESZ 32
#define PH_MEMSZ 40
#define PH_ALIGN 48

/* An image under construction. */
struct img {
    uint8_t b[IMG_MAX];
    size_t size;
};

static void set16(struct img *im, size_t off, uint16_t v)
{
    memcpy(im->b + off, &v, 2);
}

static void set32(struct img *im, size_t off, uint32_t v)
{
    memcpy(im->b + off, &v, 4);
}

static void set64(struct img *im, size_t off, uint64_t v)
{
    memcpy(im->b + off, &v, 8);
}

static void set_ph(struct img *im, int i, uint32_t type, uint32_t flags, uint64_t offset,
                   uint64_t vaddr, uint64_t filesz, uint64_t memsz, uint64_t align)
{
    set32(im, PH(i) + PH_TYPE, type);
    set32(im, PH(i) + PH_FLAGS, flags);
    set64(im, PH(i) + PH_OFFSET, offset);
    set64(im, PH(i) + PH_VADDR, vaddr);
    set64(im, PH(i) + 24, vaddr); /* p_paddr */
    set64(im, PH(i) + PH_FILESZ, filesz);
    set64(im, PH(i) + PH_MEMSZ, memsz);
    set64(im, PH(i) + PH_ALIGN, align);
}

/* A valid static executable: text (R+X) at 0x401000, data+bss (R+W) at
 * 0x402000..0x405000, and a PT_GNU_STACK that must be ignored. */
static void build_valid(struct img *im)
{
    memset(im, 0, sizeof(*im));
    memcpy(im->b,
           "\x7f"
           "ELF",
           4);
    im->b[4] = 2;      /* ELFCLASS64 */
    im->b[5] = 1;      /* ELFDATA2LSB */
    im->b[6] = 1;      /* EV_CURRENT */
    set16(im, 16, 2);  /* ET_EXEC */
    set16(im, 18, 62); /* EM_X86_64 */
    set32(im, 20, 1);
    set64(im, 24, 0x401000); /* entry */
    set64(im, 32, 64);       /* phoff */
    set16(im, 52, 64);       /* ehsize */
    set16(im, 54, 56);       /* phentsize */
    set16(im, 56, 3);        /* phnum */
    set_ph(im, 0, 1, ELF64_PF_R | ELF64_PF_X, 0x1000, 0x401000, 0x100, 0x100, 0x1000);
    set_ph(im, 1, 1, ELF64_PF_R | ELF64_PF_W, 0x2000, 0x402000, 0x80, 0x3000, 0x1000);
    set_ph(im, 2, 0x6474e551u, ELF64_PF_R | ELF64_PF_W, 0, 0, 0, 0, 16);
    memset(im->b + 0x1000, 0xc3, 0x100);
    memset(im->b + 0x2000, 0x11, 0x80);
    im->size = 0x2080;
}

static uint8_t *g_copy;

/* Checks an exact-size heap copy of the image. */
static enum elf64_error check_sized(const struct img *im, size_t size, uint64_t va_min,
                                    uint64_t va_limit, uint64_t max_bytes, struct elf64_image *out)
{
    free(g_copy);
    g_copy = malloc(size ? size : 1);
    assert_non_null(g_copy);
    memcpy(g_copy, im->b, size);
    return elf64_check(g_copy, size, va_min, va_limit, max_bytes, out);
}

static enum elf64_error check(const struct img *im)
{
    struct elf64_image out;
    enum elf64_error e = check_sized(im, im->size, VA_MIN, VA_LIMIT, MAX_BYTES, &out);
    if (e != ELF64_OK) {
        assert_int_equal(out.segs_count, 0); /* nothing half-described */
        assert_int_equal(out.entry, 0);
    }
    return e;
}

static void test_valid(void **state)
{
    struct img im;
    struct elf64_image out;
    build_valid(&im);
    assert_int_equal(check_sized(&im, im.size, VA_MIN, VA_LIMIT, MAX_BYTES, &out), ELF64_OK);
    assert_int_equal(out.entry, 0x401000);
    assert_int_equal(out.segs_count, 2);
    assert_int_equal(out.segs[0].vaddr, 0x401000);
    assert_int_equal(out.segs[0].memsz, 0x100);
    assert_int_equal(out.segs[0].file_offset, 0x1000);
    assert_int_equal(out.segs[0].filesz, 0x100);
    assert_int_equal(out.segs[0].flags, ELF64_PF_R | ELF64_PF_X);
    assert_int_equal(out.segs[1].vaddr, 0x402000);
    assert_int_equal(out.segs[1].memsz, 0x3000);
    assert_int_equal(out.segs[1].filesz, 0x80);
    assert_int_equal(out.segs[1].flags, ELF64_PF_R | ELF64_PF_W);
    assert_int_equal(out.va_lowest, 0x401000);
    assert_int_equal(out.va_end, 0x405000);
    /* unaligned image pointer is fine */
    uint8_t *un = malloc(im.size + 1);
    memcpy(un + 1, im.b, im.size);
    assert_int_equal(elf64_check(un + 1, im.size, VA_MIN, VA_LIMIT, MAX_BYTES, &out), ELF64_OK);
    free(un);
}

static void test_boundaries_ok(void **state)
{
    struct img im;
    struct elf64_image out;
    /* segments touching va_min and va_limit exactly */
    build_valid(&im);
    set_ph(&im, 0, 1, 5, 0x1000, VA_MIN, 0x100, 0x100, 0x1000);
    set_ph(&im, 1, 1, 6, 0x2000, VA_LIMIT - 0x1000, 0x80, 0x1000, 0x1000);
    set64(&im, 24, VA_MIN + 0xff); /* last byte of the text */
    assert_int_equal(check_sized(&im, im.size, VA_MIN, VA_LIMIT, VA_LIMIT - VA_MIN, &out),
                     ELF64_OK);
    assert_int_equal(out.va_lowest, VA_MIN);
    assert_int_equal(out.va_end, VA_LIMIT);
    /* the span exactly max_bytes */
    build_valid(&im);
    assert_int_equal(check_sized(&im, im.size, VA_MIN, VA_LIMIT, 0x4000, &out), ELF64_OK);
    /* a zero-size PT_LOAD is checked but not listed; p_align 0 and 2 MiB accepted */
    build_valid(&im);
    set_ph(&im, 2, 1, 4, 0x2080, 0x406080, 0, 0, 0);
    set64(&im, PH(0) + PH_ALIGN, 0x200000);
    assert_int_equal(check_sized(&im, im.size, VA_MIN, VA_LIMIT, MAX_BYTES, &out), ELF64_OK);
    assert_int_equal(out.segs_count, 2);
    /* exactly ELF64_MAX_SEGMENTS segments */
    memset(&im, 0, sizeof(im));
    build_valid(&im);
    set16(&im, 56, ELF64_MAX_SEGMENTS);
    for (int i = 0; i < ELF64_MAX_SEGMENTS; i++)
        set_ph(&im, i, 1, 5, 0x1000, 0x401000 + (uint64_t)i * 0x1000, 0, 0x10, 0x1000);
    set64(&im, PH(0) + PH_FILESZ, 0x100);
    set64(&im, PH(0) + PH_MEMSZ, 0x100);
    assert_int_equal(check_sized(&im, im.size, VA_MIN, VA_LIMIT, MAX_BYTES, &out), ELF64_OK);
    assert_int_equal(out.segs_count, ELF64_MAX_SEGMENTS);
}

static void test_e_truncated(void **state)
{
    struct img im;
    build_valid(&im);
    for (size_t sz = 0; sz < 64; sz++) {
        im.size = sz;
        assert_int_equal(check(&im), ELF64_E_TRUNCATED);
    }
}

static void test_e_bad_magic(void **state)
{
    struct img im;
    for (int i = 0; i < 4; i++) {
        build_valid(&im);
        im.b[i] ^= 0x20;
        assert_int_equal(check(&im), ELF64_E_BAD_MAGIC);
    }
}

static void test_e_not_64bit(void **state)
{
    struct img im;
    build_valid(&im);
    im.b[4] = 1;
    assert_int_equal(check(&im), ELF64_E_NOT_64BIT);
    im.b[4] = 0;
    assert_int_equal(check(&im), ELF64_E_NOT_64BIT);
}

static void test_e_not_le(void **state)
{
    struct img im;
    build_valid(&im);
    im.b[5] = 2;
    assert_int_equal(check(&im), ELF64_E_NOT_LE);
}

static void test_e_bad_version(void **state)
{
    struct img im;
    build_valid(&im);
    im.b[6] = 0;
    assert_int_equal(check(&im), ELF64_E_BAD_VERSION);
    build_valid(&im);
    set32(&im, 20, 2);
    assert_int_equal(check(&im), ELF64_E_BAD_VERSION);
}

static void test_e_not_exec(void **state)
{
    struct img im;
    static const uint16_t types[] = {0, 1, 3, 4, 0xfe00};
    for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
        build_valid(&im);
        set16(&im, 16, types[i]);
        assert_int_equal(check(&im), ELF64_E_NOT_EXEC);
    }
}

static void test_e_not_x86_64(void **state)
{
    struct img im;
    build_valid(&im);
    set16(&im, 18, 3); /* EM_386 */
    assert_int_equal(check(&im), ELF64_E_NOT_X86_64);
    set16(&im, 18, 183); /* EM_AARCH64 */
    assert_int_equal(check(&im), ELF64_E_NOT_X86_64);
}

static void test_e_bad_header(void **state)
{
    struct img im;
    build_valid(&im);
    set16(&im, 52, 52);
    assert_int_equal(check(&im), ELF64_E_BAD_HEADER);
}

static void test_e_bad_phdrs(void **state)
{
    struct img im;
    build_valid(&im);
    set16(&im, 54, 32); /* phentsize */
    assert_int_equal(check(&im), ELF64_E_BAD_PHDRS);
    build_valid(&im);
    set16(&im, 56, 0); /* phnum 0 */
    assert_int_equal(check(&im), ELF64_E_BAD_PHDRS);
    build_valid(&im);
    set16(&im, 56, 0xffff); /* PN_XNUM */
    assert_int_equal(check(&im), ELF64_E_BAD_PHDRS);
    build_valid(&im);
    set64(&im, 32, im.size - 56 * 3 + 1); /* table one byte past the end */
    assert_int_equal(check(&im), ELF64_E_BAD_PHDRS);
    set64(&im, 32, UINT64_MAX - 8); /* phoff + table wraps */
    assert_int_equal(check(&im), ELF64_E_BAD_PHDRS);
    set64(&im, 32, im.size - 56 * 3); /* exactly at the end: fine */
    memcpy(im.b + im.size - 56 * 3, im.b + 64, 56 * 3);
    assert_int_equal(check(&im), ELF64_OK);
    /* file ends inside the table */
    build_valid(&im);
    im.size = 64 + 56 * 2;
    assert_int_equal(check(&im), ELF64_E_BAD_PHDRS);
}

static void test_e_no_load(void **state)
{
    struct img im;
    build_valid(&im);
    set32(&im, PH(0), 4); /* PT_NOTE */
    set32(&im, PH(1), 6); /* PT_PHDR */
    assert_int_equal(check(&im), ELF64_E_NO_LOAD);
    build_valid(&im);
    set64(&im, PH(0) + PH_MEMSZ, 0);
    set64(&im, PH(0) + PH_FILESZ, 0);
    set64(&im, PH(1) + PH_MEMSZ, 0);
    set64(&im, PH(1) + PH_FILESZ, 0);
    assert_int_equal(check(&im), ELF64_E_NO_LOAD);
}

static void test_e_too_many_segments(void **state)
{
    struct img im;
    build_valid(&im);
    set16(&im, 56, ELF64_MAX_SEGMENTS + 1);
    for (int i = 0; i < ELF64_MAX_SEGMENTS + 1; i++)
        set_ph(&im, i, 1, 5, 0x1000, 0x401000 + (uint64_t)i * 0x1000, 0, 0x10, 0x1000);
    assert_int_equal(check(&im), ELF64_E_TOO_MANY_SEGMENTS);
}

static void test_e_seg_out_of_file(void **state)
{
    struct img im;
    build_valid(&im);
    set64(&im, PH(1) + PH_FILESZ, 0x81); /* one byte past the end */
    assert_int_equal(check(&im), ELF64_E_SEG_OUT_OF_FILE);
    build_valid(&im);
    set64(&im, PH(1) + PH_OFFSET, 0x3000); /* offset past the end */
    set64(&im, PH(1) + PH_VADDR, 0x403000);
    assert_int_equal(check(&im), ELF64_E_SEG_OUT_OF_FILE);
    build_valid(&im);
    set64(&im, PH(1) + PH_OFFSET, UINT64_MAX - 0xfff); /* offset + filesz wraps */
    set64(&im, PH(1) + PH_VADDR, 0x403001);
    assert_int_equal(check(&im), ELF64_E_SEG_OUT_OF_FILE);
    build_valid(&im);
    set64(&im, PH(1) + PH_FILESZ, UINT64_MAX);
    set64(&im, PH(1) + PH_MEMSZ, UINT64_MAX);
    assert_int_equal(check(&im), ELF64_E_SEG_OUT_OF_FILE);
}

static void test_e_seg_filesz(void **state)
{
    struct img im;
    build_valid(&im);
    set64(&im, PH(1) + PH_MEMSZ, 0x7f);
    assert_int_equal(check(&im), ELF64_E_SEG_FILESZ);
}

static void test_e_seg_range(void **state)
{
    struct img im;
    struct elf64_image out;
    build_valid(&im);
    set64(&im, PH(0) + PH_VADDR, VA_MIN - 0x1000 + 0x0); /* below va_min */
    assert_int_equal(check(&im), ELF64_E_SEG_RANGE);
    build_valid(&im);
    set64(&im, PH(1) + PH_MEMSZ, VA_LIMIT - 0x402000 + 1); /* one byte past va_limit */
    assert_int_equal(check(&im), ELF64_E_SEG_RANGE);
    build_valid(&im);
    set64(&im, PH(1) + PH_VADDR, VA_LIMIT); /* starts at va_limit */
    assert_int_equal(check(&im), ELF64_E_SEG_RANGE);
    build_valid(&im);
    set64(&im, PH(1) + PH_MEMSZ, UINT64_MAX); /* vaddr + memsz wraps */
    assert_int_equal(check(&im), ELF64_E_SEG_RANGE);
    /* wrap against the very top of the address space */
    build_valid(&im);
    set64(&im, PH(1) + PH_VADDR, 0xffffffffffffe000ull);
    set64(&im, PH(1) + PH_MEMSZ, 0x3000);
    assert_int_equal(check_sized(&im, im.size, VA_MIN, 0xfffffffffffff000ull, UINT64_MAX, &out),
                     ELF64_E_SEG_RANGE);
}

static void test_e_seg_misaligned(void **state)
{
    struct img im;
    build_valid(&im);
    set64(&im, PH(0) + PH_VADDR, 0x401010);
    set64(&im, 24, 0x401010);
    assert_int_equal(check(&im), ELF64_E_SEG_MISALIGNED);
    build_valid(&im);
    set64(&im, PH(0) + PH_ALIGN, 0x3000); /* not a power of two */
    assert_int_equal(check(&im), ELF64_E_SEG_MISALIGNED);
    build_valid(&im);
    set64(&im, PH(0) + PH_ALIGN, 0x800000); /* vaddr - offset = 0x400000 */
    assert_int_equal(check(&im), ELF64_E_SEG_MISALIGNED);
}

static void test_e_seg_overlap(void **state)
{
    struct img im;
    build_valid(&im);
    set64(&im, PH(1) + PH_VADDR, 0x401000); /* same page, same offset%4096 */
    assert_int_equal(check(&im), ELF64_E_SEG_OVERLAP);
    /* disjoint bytes but a shared page: text ends at 0x401100, data at 0x401800 */
    build_valid(&im);
    set64(&im, PH(1) + PH_OFFSET, 0x1800);
    set64(&im, PH(1) + PH_VADDR, 0x401800);
    assert_int_equal(check(&im), ELF64_E_SEG_OVERLAP);
    /* one segment inside another */
    build_valid(&im);
    set64(&im, PH(0) + PH_MEMSZ, 0x5000);
    assert_int_equal(check(&im), ELF64_E_SEG_OVERLAP);
}

static void test_e_entry(void **state)
{
    struct img im;
    build_valid(&im);
    set64(&im, 24, 0x402000); /* in the W-only segment */
    assert_int_equal(check(&im), ELF64_E_ENTRY);
    set64(&im, 24, 0x401100); /* one past the end of text */
    assert_int_equal(check(&im), ELF64_E_ENTRY);
    set64(&im, 24, 0x400fff); /* just before text */
    assert_int_equal(check(&im), ELF64_E_ENTRY);
    set64(&im, 24, 0);
    assert_int_equal(check(&im), ELF64_E_ENTRY);
    set64(&im, 24, UINT64_MAX);
    assert_int_equal(check(&im), ELF64_E_ENTRY);
}

static void test_e_too_big(void **state)
{
    struct img im;
    struct elf64_image out;
    build_valid(&im);
    assert_int_equal(check_sized(&im, im.size, VA_MIN, VA_LIMIT, 0x3fff, &out), ELF64_E_TOO_BIG);
    assert_int_equal(check_sized(&im, im.size, VA_MIN, VA_LIMIT, 0, &out), ELF64_E_TOO_BIG);
}

static void test_e_dynamic(void **state)
{
    struct img im;
    build_valid(&im);
    set32(&im, PH(2), 3); /* PT_INTERP */
    assert_int_equal(check(&im), ELF64_E_DYNAMIC);
    set32(&im, PH(2), 2); /* PT_DYNAMIC */
    assert_int_equal(check(&im), ELF64_E_DYNAMIC);
}

static void test_e_bad_args(void **state)
{
    struct img im;
    struct elf64_image out;
    build_valid(&im);
    assert_int_equal(elf64_check(NULL, 100, VA_MIN, VA_LIMIT, MAX_BYTES, &out), ELF64_E_BAD_ARGS);
    assert_int_equal(elf64_check(im.b, im.size, VA_MIN, VA_LIMIT, MAX_BYTES, NULL),
                     ELF64_E_BAD_ARGS);
    assert_int_equal(check_sized(&im, im.size, VA_MIN + 1, VA_LIMIT, MAX_BYTES, &out),
                     ELF64_E_BAD_ARGS);
    assert_int_equal(check_sized(&im, im.size, VA_MIN, VA_LIMIT - 1, MAX_BYTES, &out),
                     ELF64_E_BAD_ARGS);
    assert_int_equal(check_sized(&im, im.size, VA_LIMIT, VA_MIN, MAX_BYTES, &out),
                     ELF64_E_BAD_ARGS);
    assert_int_equal(check_sized(&im, im.size, VA_MIN, VA_MIN, MAX_BYTES, &out), ELF64_E_BAD_ARGS);
}

static void test_strerror(void **state)
{
    for (int e = 0; e < ELF64_E_COUNT_; e++)
        assert_string_not_equal(elf64_strerror((enum elf64_error)e), "unknown error");
    assert_string_equal(elf64_strerror(ELF64_E_COUNT_), "unknown error");
}

/* The host's /bin/true is a PIE (ET_DYN) on Debian, or an executable far
 * outside a small window: either way it must be refused. */
static void test_host_true(void **state)
{
    FILE *f = fopen("/bin/true", "rb");
    if (f == NULL) {
        skip();
        return;
    }
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    assert_true(n > 64);
    uint8_t *copy = malloc(n);
    memcpy(copy, buf, n);
    struct elf64_image out;
    enum elf64_error e = elf64_check(copy, n, VA_MIN, VA_LIMIT, MAX_BYTES, &out);
    assert_true(e == ELF64_E_NOT_EXEC || e == ELF64_E_SEG_RANGE || e == ELF64_E_DYNAMIC);
    /* Pretend it is ET_EXEC: still refused (PT_INTERP / dynamic, or range). */
    copy[16] = 2;
    copy[17] = 0;
    e = elf64_check(copy, n, VA_MIN, VA_LIMIT, MAX_BYTES, &out);
    assert_int_not_equal(e, ELF64_OK);
    free(copy);
}

static uint64_t rng_state = 0x853c49e6748fea9bull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Accepted images must satisfy every documented guarantee. */
static void check_guarantees(const struct elf64_image *o, size_t size)
{
    bool entry_ok = false;
    assert_true(o->segs_count >= 1 && o->segs_count <= ELF64_MAX_SEGMENTS);
    for (size_t i = 0; i < o->segs_count; i++) {
        const struct elf64_segment *s = &o->segs[i];
        assert_true(s->memsz > 0 && s->filesz <= s->memsz);
        assert_true(s->file_offset <= size && s->filesz <= size - s->file_offset);
        assert_true(s->vaddr >= VA_MIN && s->vaddr < VA_LIMIT);
        assert_true(s->memsz <= VA_LIMIT - s->vaddr);
        assert_true(s->vaddr % 4096 == s->file_offset % 4096);
        assert_true(s->vaddr >= o->va_lowest && s->vaddr + s->memsz <= o->va_end);
        for (size_t j = 0; j < i; j++) {
            const struct elf64_segment *t = &o->segs[j];
            uint64_t ss = s->vaddr & ~0xfffull, se = (s->vaddr + s->memsz + 0xfff) & ~0xfffull;
            uint64_t ts = t->vaddr & ~0xfffull, te = (t->vaddr + t->memsz + 0xfff) & ~0xfffull;
            assert_true(se <= ts || te <= ss);
        }
        if ((s->flags & ELF64_PF_X) && o->entry >= s->vaddr && o->entry < s->vaddr + s->memsz)
            entry_ok = true;
        assert_int_equal(s->flags & ~7u, 0);
    }
    assert_true(entry_ok);
    assert_true(o->va_end - o->va_lowest <= MAX_BYTES);
}

static void test_mutation(void **state)
{
    struct img good, im;
    struct elf64_image out;
    int ok_count = 0;
    build_valid(&good);
    for (int iter = 0; iter < 20000; iter++) {
        im = good;
        int flips = 1 + (int)(rng() % 6);
        for (int k = 0; k < flips; k++) {
            /* mostly the headers, where the interesting bytes are */
            size_t at = (rng() % 4) ? rng() % PH(3) : rng() % good.size;
            switch (rng() % 3) {
            case 0: im.b[at] = (uint8_t)rng(); break;
            case 1: im.b[at] ^= (uint8_t)(1u << (rng() % 8)); break;
            default: im.b[at] = (rng() % 2) ? 0xff : 0x00; break;
            }
        }
        size_t size = (rng() % 10 == 0) ? rng() % (good.size + 1) : good.size;
        enum elf64_error e = check_sized(&im, size, VA_MIN, VA_LIMIT, MAX_BYTES, &out);
        assert_true((unsigned)e < ELF64_E_COUNT_);
        if (e == ELF64_OK) {
            ok_count++;
            check_guarantees(&out, size);
        } else {
            assert_int_equal(out.segs_count, 0);
        }
    }
    assert_true(ok_count > 100); /* flips of data bytes / unused fields pass */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_boundaries_ok),
        cmocka_unit_test(test_e_truncated),
        cmocka_unit_test(test_e_bad_magic),
        cmocka_unit_test(test_e_not_64bit),
        cmocka_unit_test(test_e_not_le),
        cmocka_unit_test(test_e_bad_version),
        cmocka_unit_test(test_e_not_exec),
        cmocka_unit_test(test_e_not_x86_64),
        cmocka_unit_test(test_e_bad_header),
        cmocka_unit_test(test_e_bad_phdrs),
        cmocka_unit_test(test_e_no_load),
        cmocka_unit_test(test_e_too_many_segments),
        cmocka_unit_test(test_e_seg_out_of_file),
        cmocka_unit_test(test_e_seg_filesz),
        cmocka_unit_test(test_e_seg_range),
        cmocka_unit_test(test_e_seg_misaligned),
        cmocka_unit_test(test_e_seg_overlap),
        cmocka_unit_test(test_e_entry),
        cmocka_unit_test(test_e_too_big),
        cmocka_unit_test(test_e_dynamic),
        cmocka_unit_test(test_e_bad_args),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_host_true),
        cmocka_unit_test(test_mutation),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(g_copy);
    return rc;
}
