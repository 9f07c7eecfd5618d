/*
 * Tests for the Multiboot2 parser (hv/core/mb2.c). Blobs are built here with
 * small tag-appending helpers; every parse runs on an exact-size heap copy so
 * that ASan catches any read outside [info, info + avail_bytes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mb2.h"

#define BLOB_MAX 8192

/* A boot-information blob under construction. */
struct blob {
    _Alignas(8) uint8_t buf[BLOB_MAX];
    size_t len;
};

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static void b_init(struct blob *b)
{
    memset(b, 0, sizeof(*b));
    b->len = 8;
}

/* Appends a tag with the given size field and body; returns its offset. */
static size_t b_tag_raw(struct blob *b, uint32_t type, uint32_t size_field, const void *body,
                        size_t body_len)
{
    size_t off = b->len;
    assert_true(off + 8 + body_len + 8 <= BLOB_MAX);
    put32(b->buf + off, type);
    put32(b->buf + off + 4, size_field);
    if (body_len)
        memcpy(b->buf + off + 8, body, body_len);
    b->len = (off + 8 + body_len + 7) & ~(size_t)7;
    return off;
}

static size_t b_tag(struct blob *b, uint32_t type, const void *body, size_t body_len)
{
    return b_tag_raw(b, type, (uint32_t)(8 + body_len), body, body_len);
}

static size_t b_string(struct blob *b, uint32_t type, const char *s)
{
    return b_tag(b, type, s, strlen(s) + 1);
}

static size_t b_module(struct blob *b, uint32_t start, uint32_t end, const char *s)
{
    uint8_t body[256];
    size_t n = strlen(s) + 1;
    put32(body, start);
    put32(body + 4, end);
    memcpy(body + 8, s, n);
    return b_tag(b, 3, body, 8 + n);
}

static size_t b_meminfo(struct blob *b, uint32_t lower, uint32_t upper)
{
    uint8_t body[8];
    put32(body, lower);
    put32(body + 4, upper);
    return b_tag(b, 4, body, 8);
}

/* Appends an mmap tag with `n` entries of `entry_size` bytes. */
static size_t b_mmap_sized(struct blob *b, uint32_t entry_size, const struct mem_map_entry *e,
                           size_t n)
{
    static uint8_t body[BLOB_MAX];
    memset(body, 0, sizeof(body));
    put32(body, entry_size);
    put32(body + 4, 0);
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = body + 8 + i * entry_size;
        put64(p, e[i].base);
        put64(p + 8, e[i].length);
        put32(p + 16, e[i].type);
        if (entry_size > 24)
            memset(p + 24, 0xee, entry_size - 24); /* future fields: ignored */
    }
    return b_tag(b, 6, body, 8 + n * entry_size);
}

static size_t b_mmap(struct blob *b, const struct mem_map_entry *e, size_t n)
{
    return b_mmap_sized(b, 24, e, n);
}

static void b_end(struct blob *b)
{
    b_tag(b, 0, NULL, 0);
    put32(b->buf, (uint32_t)b->len);
}

/* Parses a heap copy of exactly `avail` bytes of the blob. The copy stays
 * alive until the next call (pointers in *out refer to it). */
static uint8_t *g_copy;
static enum mb2_error parse_avail(const struct blob *b, size_t avail, struct mb2_info *out,
                                  size_t *err_off)
{
    free(g_copy);
    g_copy = malloc(avail ? avail : 1);
    assert_non_null(g_copy);
    memcpy(g_copy, b->buf, avail);
    *err_off = 0xdead;
    return mb2_parse(MB2_BOOTLOADER_MAGIC, g_copy, avail, out, err_off);
}

static enum mb2_error parse(const struct blob *b, struct mb2_info *out, size_t *err_off)
{
    return parse_avail(b, b->len, out, err_off);
}

static const struct mem_map_entry q35_map[] = {
    {0x0, 0x9fc00, MEM_AVAILABLE},       {0x9fc00, 0x400, MEM_RESERVED},
    {0xf0000, 0x10000, MEM_RESERVED},    {0x100000, 0x7ee0000, MEM_AVAILABLE},
    {0x7fe0000, 0x20000, MEM_RESERVED},  {0xb0000000, 0x10000000, MEM_RESERVED},
    {0xfffc0000, 0x40000, MEM_RESERVED},
};

static uint8_t rsdp_v1[20] = {'R', 'S', 'D', ' ', 'P', 'T', 'R', ' ', 1};
static uint8_t rsdp_v2[36] = {'R', 'S', 'D', ' ', 'P', 'T', 'R', ' ', 2};

/* A GRUB-like blob: the tag order GRUB 2.06 uses, with tags we skip. */
static void build_grub(struct blob *b)
{
    uint8_t fb[24] = {0};
    b_init(b);
    b_string(b, 1, "hv console=com1 loglvl=all");
    b_string(b, 2, "GRUB 2.06-13+deb12u1");
    b_module(b, 0x200000, 0x212345, "control.elf role=control");
    b_module(b, 0x213000, 0x213001, "");
    b_meminfo(b, 639, 130944);
    b_tag(b, 5, "\x80\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff", 12); /* bootdev */
    b_mmap(b, q35_map, ARRAY_SIZE(q35_map));
    b_tag(b, 8, fb, sizeof(fb)); /* framebuffer: skipped */
    b_tag(b, 9, fb, 12);         /* ELF sections: skipped */
    b_tag(b, 10, fb, 16);        /* APM: skipped */
    b_tag(b, 14, rsdp_v1, sizeof(rsdp_v1));
    b_tag(b, 15, rsdp_v2, sizeof(rsdp_v2));
    b_tag(b, 21, fb, 4); /* load base addr: skipped */
    b_end(b);
}

static void test_grub_layout(void **state)
{
    struct blob b;
    struct mb2_info info;
    size_t eo;
    build_grub(&b);
    assert_int_equal(parse(&b, &info, &eo), MB2_OK);
    assert_string_equal(info.cmdline, "hv console=com1 loglvl=all");
    assert_string_equal(info.bootloader_name, "GRUB 2.06-13+deb12u1");
    assert_true((const uint8_t *)info.cmdline > g_copy &&
                (const uint8_t *)info.cmdline < g_copy + b.len);
    assert_int_equal(info.modules_count, 2);
    assert_int_equal(info.modules[0].start, 0x200000);
    assert_int_equal(info.modules[0].end, 0x212345);
    assert_string_equal(info.modules[0].cmdline, "control.elf role=control");
    assert_int_equal(info.modules[1].start, 0x213000);
    assert_int_equal(info.modules[1].end, 0x213001);
    assert_string_equal(info.modules[1].cmdline, "");
    assert_true(info.have_basic_meminfo);
    assert_int_equal(info.mem_lower_kib, 639);
    assert_int_equal(info.mem_upper_kib, 130944);
    assert_int_equal(info.mmap_count, ARRAY_SIZE(q35_map));
    for (size_t i = 0; i < ARRAY_SIZE(q35_map); i++) {
        assert_int_equal(info.mmap[i].base, q35_map[i].base);
        assert_int_equal(info.mmap[i].length, q35_map[i].length);
        assert_int_equal(info.mmap[i].type, q35_map[i].type);
    }
    assert_non_null(info.acpi_rsdp);
    assert_int_equal(info.acpi_rsdp_size_bytes, 36);
    assert_memory_equal(info.acpi_rsdp, rsdp_v2, 36); /* v2 preferred */
    assert_int_equal(info.total_size_bytes, b.len);
}

static void test_minimal_and_defaults(void **state)
{
    struct blob b;
    struct mb2_info info;
    size_t eo;
    b_init(&b);
    b_mmap(&b, q35_map, 1);
    b_tag(&b, 14, rsdp_v1, sizeof(rsdp_v1));
    b_end(&b);
    assert_int_equal(parse(&b, &info, &eo), MB2_OK);
    assert_string_equal(info.cmdline, "");
    assert_string_equal(info.bootloader_name, "");
    assert_int_equal(info.modules_count, 0);
    assert_false(info.have_basic_meminfo);
    assert_int_equal(info.acpi_rsdp_size_bytes, 20); /* only v1 present */
    assert_memory_equal(info.acpi_rsdp, rsdp_v1, 20);

    b_init(&b);
    b_mmap(&b, q35_map, 1);
    b_end(&b);
    assert_int_equal(parse(&b, &info, &eo), MB2_OK);
    assert_null(info.acpi_rsdp);
    assert_int_equal(info.acpi_rsdp_size_bytes, 0);
    /* avail larger than total_size is fine; only total_size bytes matter. */
    assert_int_equal(parse_avail(&b, b.len + 100 > BLOB_MAX ? b.len : b.len + 100, &info, &eo),
                     MB2_OK);
}

static void test_mmap_larger_entries(void **state)
{
    struct blob b;
    struct mb2_info info;
    size_t eo;
    b_init(&b);
    b_mmap_sized(&b, 40, q35_map, ARRAY_SIZE(q35_map));
    b_end(&b);
    assert_int_equal(parse(&b, &info, &eo), MB2_OK);
    assert_int_equal(info.mmap_count, ARRAY_SIZE(q35_map));
    assert_int_equal(info.mmap[3].base, 0x100000);
    assert_int_equal(info.mmap[3].length, 0x7ee0000);
    assert_int_equal(info.mmap[6].type, MEM_RESERVED);
}

/* Expects `code` at `off`, and *out cleared. */
static void expect_err(const struct blob *b, size_t avail, enum mb2_error code, size_t off)
{
    struct mb2_info info;
    size_t eo;
    assert_int_equal(parse_avail(b, avail, &info, &eo), code);
    assert_int_equal(eo, off);
    assert_int_equal(info.mmap_count, 0);
    assert_int_equal(info.modules_count, 0);
    assert_null(info.acpi_rsdp);
    assert_string_equal(info.cmdline, "");
    assert_string_equal(info.bootloader_name, "");
    assert_string_not_equal(mb2_strerror(code), "unknown error");
}

static void test_header_errors(void **state)
{
    struct blob b;
    struct mb2_info info;
    size_t eo;
    build_grub(&b);
    /* magic */
    assert_int_equal(mb2_parse(0x2badb002u, b.buf, b.len, &info, &eo), MB2_E_BAD_MAGIC);
    /* NULL pointers */
    assert_int_equal(mb2_parse(MB2_BOOTLOADER_MAGIC, NULL, 100, &info, &eo), MB2_E_BAD_ARGS);
    assert_int_equal(mb2_parse(MB2_BOOTLOADER_MAGIC, b.buf, b.len, NULL, &eo), MB2_E_BAD_ARGS);
    /* err_offset may be NULL */
    assert_int_equal(mb2_parse(MB2_BOOTLOADER_MAGIC, b.buf, b.len, &info, NULL), MB2_OK);
    /* misaligned pointer */
    assert_int_equal(mb2_parse(MB2_BOOTLOADER_MAGIC, b.buf + 4, b.len - 8, &info, &eo),
                     MB2_E_MISALIGNED);
    /* fewer than 8 readable bytes */
    expect_err(&b, 0, MB2_E_TRUNCATED, 0);
    expect_err(&b, 7, MB2_E_TRUNCATED, 0);
    /* total_size larger than what may be read */
    expect_err(&b, b.len - 8, MB2_E_TRUNCATED, 0);
    /* total_size < 16 */
    put32(b.buf, 8);
    expect_err(&b, b.len, MB2_E_TOO_SMALL, 0);
    put32(b.buf, 0);
    expect_err(&b, b.len, MB2_E_TOO_SMALL, 0);
    /* total_size not a multiple of 8 */
    put32(b.buf, (uint32_t)b.len - 4);
    expect_err(&b, b.len, MB2_E_MISALIGNED, 0);
    /* total_size huge */
    put32(b.buf, 0xfffffff8u);
    expect_err(&b, b.len, MB2_E_TRUNCATED, 0);
}

static void test_tag_errors(void **state)
{
    struct blob b;
    size_t off;

    /* A tag whose size runs past total_size. */
    b_init(&b);
    b_mmap(&b, q35_map, 2);
    off = b_tag_raw(&b, 1, 4000, "x", 2);
    b_end(&b);
    expect_err(&b, b.len, MB2_E_TAG_OVERRUN, off);

    /* Tag size < 8 (would loop forever or go backwards). */
    for (uint32_t sz = 0; sz < 8; sz++) {
        b_init(&b);
        b_mmap(&b, q35_map, 2);
        off = b_tag_raw(&b, 77, sz, NULL, 0);
        b_end(&b);
        expect_err(&b, b.len, MB2_E_BAD_TAG_SIZE, off);
    }

    /* End tag with size != 8. */
    b_init(&b);
    b_mmap(&b, q35_map, 2);
    off = b_tag_raw(&b, 0, 16, "12345678", 8);
    put32(b.buf, (uint32_t)b.len);
    expect_err(&b, b.len, MB2_E_BAD_TAG_SIZE, off);

    /* No end tag: tags fill total_size exactly. */
    b_init(&b);
    b_mmap(&b, q35_map, 2);
    off = b_string(&b, 1, "abc");
    put32(b.buf, (uint32_t)b.len);
    expect_err(&b, b.len, MB2_E_NO_END_TAG, b.len);

    /* No end tag: total_size cuts the blob just before the end tag. */
    b_init(&b);
    b_mmap(&b, q35_map, 2);
    b_end(&b);
    put32(b.buf, (uint32_t)b.len - 8);
    expect_err(&b, b.len, MB2_E_NO_END_TAG, b.len - 8);

    /* The smallest blob: header + end tag, but then no memory map. */
    b_init(&b);
    b_end(&b);
    assert_int_equal(b.len, 16);
    expect_err(&b, b.len, MB2_E_NO_MMAP, 8);
}

static void test_unterminated_strings(void **state)
{
    struct blob b;
    size_t off;
    for (uint32_t type = 1; type <= 2; type++) {
        b_init(&b);
        b_mmap(&b, q35_map, 2);
        off = b_tag(&b, type, "abcdefgh", 8); /* no NUL, padding zeros outside the tag */
        b_end(&b);
        expect_err(&b, b.len, MB2_E_STRING_UNTERMINATED, off + 8);
        /* An empty string tag (size 8) has no room for the NUL. */
        b_init(&b);
        b_mmap(&b, q35_map, 2);
        off = b_tag(&b, type, NULL, 0);
        b_end(&b);
        expect_err(&b, b.len, MB2_E_STRING_UNTERMINATED, off + 8);
    }
    /* Module string without NUL, and module tag with no string bytes at all. */
    uint8_t body[12];
    put32(body, 0x100000);
    put32(body + 4, 0x101000);
    memcpy(body + 8, "abcd", 4);
    b_init(&b);
    b_mmap(&b, q35_map, 2);
    off = b_tag(&b, 3, body, 12);
    b_end(&b);
    expect_err(&b, b.len, MB2_E_STRING_UNTERMINATED, off + 16);
    b_init(&b);
    b_mmap(&b, q35_map, 2);
    off = b_tag(&b, 3, body, 8);
    b_end(&b);
    expect_err(&b, b.len, MB2_E_STRING_UNTERMINATED, off + 16);
}

static void test_fixed_field_sizes(void **state)
{
    struct blob b;
    size_t off;
    uint8_t body[64] = {0};
    /* module shorter than its two addresses */
    b_init(&b);
    b_mmap(&b, q35_map, 2);
    off = b_tag(&b, 3, body, 4);
    b_end(&b);
    expect_err(&b, b.len, MB2_E_BAD_TAG_SIZE, off);
    /* basic meminfo too short */
    b_init(&b);
    b_mmap(&b, q35_map, 2);
    off = b_tag(&b, 4, body, 4);
    b_end(&b);
    expect_err(&b, b.len, MB2_E_BAD_TAG_SIZE, off);
    /* mmap shorter than entry_size/entry_version */
    b_init(&b);
    off = b_tag(&b, 6, body, 4);
    b_end(&b);
    expect_err(&b, b.len, MB2_E_BAD_TAG_SIZE, off);
    /* ACPI RSDP copies shorter than the structure */
    b_init(&b);
    b_mmap(&b, q35_map, 2);
    off = b_tag(&b, 14, rsdp_v1, 19);
    b_end(&b);
    expect_err(&b, b.len, MB2_E_BAD_TAG_SIZE, off);
    b_init(&b);
    b_mmap(&b, q35_map, 2);
    off = b_tag(&b, 15, rsdp_v2, 35);
    b_end(&b);
    expect_err(&b, b.len, MB2_E_BAD_TAG_SIZE, off);
}

static void test_mmap_errors(void **state)
{
    struct blob b;
    size_t off;
    static struct mem_map_entry many[MB2_MMAP_MAX + 1];
    for (size_t i = 0; i < ARRAY_SIZE(many); i++)
        many[i] = (struct mem_map_entry){i * 0x10000, 0x10000, MEM_AVAILABLE};

    /* entry_size < 24 */
    b_init(&b);
    off = b_mmap_sized(&b, 16, q35_map, 3);
    b_end(&b);
    expect_err(&b, b.len, MB2_E_BAD_MMAP, off + 8);
    /* entry_size 0 (division by zero if unchecked) */
    b_init(&b);
    off = b_mmap_sized(&b, 0, q35_map, 0);
    b_end(&b);
    expect_err(&b, b.len, MB2_E_BAD_MMAP, off + 8);
    /* entry_size >= 24 but not a multiple of 8 */
    b_init(&b);
    off = b_mmap_sized(&b, 28, q35_map, 2);
    b_end(&b);
    expect_err(&b, b.len, MB2_E_BAD_MMAP, off + 8);
    /* (size - 16) not a multiple of entry_size: claim one byte less */
    b_init(&b);
    off = b_mmap(&b, q35_map, 3);
    put32(b.buf + off + 4, 16 + 3 * 24 - 8);
    b_end(&b);
    expect_err(&b, b.len, MB2_E_BAD_MMAP, off + 8);
    /* empty map */
    b_init(&b);
    b_mmap(&b, q35_map, 0);
    off = b.len;
    b_end(&b);
    expect_err(&b, b.len, MB2_E_NO_MMAP, off);
    /* exactly the maximum is fine, one more is an error (not truncation) */
    struct mb2_info info;
    size_t eo;
    b_init(&b);
    b_mmap(&b, many, MB2_MMAP_MAX);
    b_end(&b);
    assert_int_equal(parse(&b, &info, &eo), MB2_OK);
    assert_int_equal(info.mmap_count, MB2_MMAP_MAX);
    assert_int_equal(info.mmap[MB2_MMAP_MAX - 1].base, (MB2_MMAP_MAX - 1) * 0x10000ull);
    b_init(&b);
    off = b_mmap(&b, many, MB2_MMAP_MAX + 1);
    b_end(&b);
    expect_err(&b, b.len, MB2_E_TOO_MANY_MMAP, off + 16 + MB2_MMAP_MAX * 24);
    /* duplicate mmap tag */
    b_init(&b);
    b_mmap(&b, q35_map, 2);
    off = b_mmap(&b, q35_map, 3);
    b_end(&b);
    expect_err(&b, b.len, MB2_E_DUPLICATE_TAG, off);
}

static void test_module_errors(void **state)
{
    struct blob b;
    size_t off;
    struct mb2_info info;
    size_t eo;
    /* end == start and end < start */
    b_init(&b);
    b_mmap(&b, q35_map, 2);
    off = b_module(&b, 0x300000, 0x300000, "empty");
    b_end(&b);
    expect_err(&b, b.len, MB2_E_BAD_MODULE, off + 8);
    b_init(&b);
    b_mmap(&b, q35_map, 2);
    b_module(&b, 0x300000, 0x301000, "ok");
    off = b_module(&b, 0x300000, 0x2fffff, "backwards");
    b_end(&b);
    expect_err(&b, b.len, MB2_E_BAD_MODULE, off + 8);
    /* the maximum, then one more */
    b_init(&b);
    b_mmap(&b, q35_map, 2);
    for (uint32_t i = 0; i < MB2_MODULES_MAX; i++)
        b_module(&b, 0x400000 + i * 0x1000, 0x400800 + i * 0x1000, "m");
    off = b.len;
    b_end(&b);
    assert_int_equal(parse(&b, &info, &eo), MB2_OK);
    assert_int_equal(info.modules_count, MB2_MODULES_MAX);
    assert_int_equal(info.modules[MB2_MODULES_MAX - 1].end,
                     0x400800 + (MB2_MODULES_MAX - 1) * 0x1000);
    b.len = off;
    off = b_module(&b, 0x500000, 0x501000, "one too many");
    b_end(&b);
    expect_err(&b, b.len, MB2_E_TOO_MANY_MODULES, off);
}

static void test_duplicates(void **state)
{
    static const uint32_t types[] = {1, 2, 4, 14, 15};
    struct blob b;
    size_t off;
    uint8_t body[40] = {'x', 0};
    for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
        size_t len = types[i] == 15 ? 36 : types[i] == 14 ? 20 : 8;
        b_init(&b);
        b_tag(&b, types[i], body, len);
        b_mmap(&b, q35_map, 2);
        off = b_tag(&b, types[i], body, len);
        b_end(&b);
        expect_err(&b, b.len, MB2_E_DUPLICATE_TAG, off);
    }
}

static void test_strerror(void **state)
{
    for (int e = 0; e < MB2_E_COUNT_; e++) {
        assert_non_null(mb2_strerror((enum mb2_error)e));
        assert_string_not_equal(mb2_strerror((enum mb2_error)e), "unknown error");
    }
    assert_string_equal(mb2_strerror(MB2_E_COUNT_), "unknown error");
    assert_string_equal(mb2_strerror((enum mb2_error) - 1), "unknown error");
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* True iff a NUL-terminated string starts and ends inside [lo, hi). */
static bool str_inside(const char *s, const uint8_t *lo, const uint8_t *hi)
{
    const uint8_t *p = (const uint8_t *)s;
    if (p < lo || p >= hi)
        return false;
    for (; p < hi; p++)
        if (*p == 0)
            return true;
    return false;
}

/* Random byte flips of a GRUB-like blob: never crashes (ASan/UBSan), and
 * whatever it accepts satisfies the documented guarantees. */
static void test_mutation(void **state)
{
    struct blob good, b;
    struct mb2_info info;
    size_t eo;
    size_t ok_count = 0;
    build_grub(&good);
    for (int iter = 0; iter < 20000; iter++) {
        b = good;
        int flips = 1 + (int)(rng() % 4);
        for (int k = 0; k < flips; k++) {
            size_t at = rng() % good.len;
            if (rng() % 2)
                b.buf[at] = (uint8_t)rng();
            else
                b.buf[at] ^= (uint8_t)(1u << (rng() % 8));
        }
        size_t avail = (rng() % 8 == 0) ? rng() % (good.len + 1) : good.len;
        enum mb2_error e = parse_avail(&b, avail, &info, &eo);
        assert_true((unsigned)e < MB2_E_COUNT_);
        if (e != MB2_OK) {
            assert_true(eo <= avail);
            assert_int_equal(info.mmap_count, 0);
            continue;
        }
        ok_count++;
        const uint8_t *hi = g_copy + info.total_size_bytes;
        assert_true(info.total_size_bytes <= avail);
        assert_true(info.mmap_count >= 1 && info.mmap_count <= MB2_MMAP_MAX);
        assert_true(info.modules_count <= MB2_MODULES_MAX);
        for (size_t i = 0; i < info.modules_count; i++) {
            assert_true(info.modules[i].end > info.modules[i].start);
            assert_true(str_inside(info.modules[i].cmdline, g_copy, hi));
        }
        if (info.cmdline[0] != 0)
            assert_true(str_inside(info.cmdline, g_copy, hi));
        if (info.bootloader_name[0] != 0)
            assert_true(str_inside(info.bootloader_name, g_copy, hi));
        if (info.acpi_rsdp != NULL)
            assert_true((const uint8_t *)info.acpi_rsdp + info.acpi_rsdp_size_bytes <= hi);
    }
    /* Many single flips land in string bytes or skipped tags: some must pass. */
    assert_true(ok_count > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grub_layout),
        cmocka_unit_test(test_minimal_and_defaults),
        cmocka_unit_test(test_mmap_larger_entries),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_tag_errors),
        cmocka_unit_test(test_unterminated_strings),
        cmocka_unit_test(test_fixed_field_sizes),
        cmocka_unit_test(test_mmap_errors),
        cmocka_unit_test(test_module_errors),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_mutation),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(g_copy);
    return rc;
}
