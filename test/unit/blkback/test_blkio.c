/*
 * A front end's request cut into disk requests (domains/blkback/blkio.c):
 * through one extent, across extent boundaries (the data pieces following
 * the pages at any byte offset), twelve extents at once, the bounds of the
 * volume and of a request, and every split checked against a byte-by-byte
 * model over many random requests on a volume of small extents.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "blkio.h"

static uint64_t pages[BLKIO_PAGES_MAX];

static void setup_pages(void)
{
    for (uint32_t i = 0; i < BLKIO_PAGES_MAX; i++)
        pages[i] = 0x100000ull * (i + 1) + 0x77000ull * (i % 3); /* not contiguous */
}

/* A volume of extents (start, sectors). */
static struct vt_volume vol(const uint64_t (*x)[2], uint32_t n)
{
    struct vt_volume v = {.name = "v", .id = 1, .extent_count = n};
    for (uint32_t i = 0; i < n; i++) {
        v.extent[i] = (struct vt_extent){x[i][0], x[i][1]};
        v.sectors += x[i][1];
    }
    return v;
}

static void test_one_extent(void **state)
{
    (void)state;
    setup_pages();
    const uint64_t x[][2] = {{2048, 2048}};
    struct vt_volume v = vol(x, 1);
    struct blkio_split s;
    assert_true(blkio_split(&v, 10, 24, pages, &s)); /* 12 KiB: three pages */
    assert_int_equal(s.part_count, 1);
    assert_int_equal(s.part[0].disk_sector, 2058);
    assert_int_equal(s.part[0].sectors, 24);
    assert_int_equal(s.seg_count, 3);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(s.seg[i].addr, pages[i]);
        assert_int_equal(s.seg[i].len, 4096);
    }
    assert_true(blkio_split(&v, 0, 1, pages, &s)); /* half a page */
    assert_int_equal(s.seg_count, 1);
    assert_int_equal(s.seg[0].len, 512);
    assert_true(blkio_split(&v, 2048 - 256, 256, pages, &s)); /* the last 128 KiB */
    assert_int_equal(s.seg_count, 32);
}

static void test_across_extents(void **state)
{
    (void)state;
    setup_pages();
    const uint64_t x[][2] = {{4096, 2048}, {10240, 2048}};
    struct vt_volume v = vol(x, 2);
    struct blkio_split s;
    /* 20 sectors from 2045: 3 in the first extent, 17 in the second; the
     * cut falls 1536 bytes into page 0. */
    assert_true(blkio_split(&v, 2045, 20, pages, &s));
    assert_int_equal(s.part_count, 2);
    assert_int_equal(s.part[0].disk_sector, 4096 + 2045);
    assert_int_equal(s.part[0].sectors, 3);
    assert_int_equal(s.part[0].seg_count, 1);
    assert_int_equal(s.seg[0].addr, pages[0]);
    assert_int_equal(s.seg[0].len, 1536);
    assert_int_equal(s.part[1].disk_sector, 10240);
    assert_int_equal(s.part[1].sectors, 17);
    assert_int_equal(s.part[1].seg_first, 1);
    assert_int_equal(s.part[1].seg_count, 3);
    assert_int_equal(s.seg[1].addr, pages[0] + 1536);
    assert_int_equal(s.seg[1].len, 2560);
    assert_int_equal(s.seg[2].addr, pages[1]);
    assert_int_equal(s.seg[2].len, 4096);
    assert_int_equal(s.seg[3].addr, pages[2]);
    assert_int_equal(s.seg[3].len, 2048);
}

static void test_bounds(void **state)
{
    (void)state;
    setup_pages();
    const uint64_t x[][2] = {{2048, 2048}};
    struct vt_volume v = vol(x, 1);
    struct blkio_split s;
    assert_false(blkio_split(&v, 0, 0, pages, &s));          /* nothing */
    assert_false(blkio_split(&v, 0, 257, pages, &s));        /* above 128 KiB */
    assert_false(blkio_split(&v, 2047, 2, pages, &s));       /* past the end */
    assert_false(blkio_split(&v, 2048, 1, pages, &s));       /* at the end */
    assert_false(blkio_split(&v, UINT64_MAX, 8, pages, &s)); /* wrapping */
    assert_true(blkio_split(&v, 2047, 1, pages, &s));
    /* Twelve extents of 8 sectors (the most a volume has, at the smallest
     * unit): a request over all of them is twelve disk requests. */
    uint64_t y[VT_EXTENTS_MAX][2];
    for (uint32_t i = 0; i < VT_EXTENTS_MAX; i++) {
        y[i][0] = 16u * i + 8u;
        y[i][1] = 8;
    }
    struct vt_volume w = vol((const uint64_t(*)[2])y, VT_EXTENTS_MAX);
    assert_true(blkio_split(&w, 3, 90, pages, &s));
    assert_int_equal(s.part_count, VT_EXTENTS_MAX);
    assert_int_equal(s.part[0].disk_sector, 11);
    assert_int_equal(s.part[11].sectors, 5);
    assert_true(s.seg_count <= BLKIO_SEGS_MAX);
}

/* Every byte of the request lands where the model says: the byte at offset
 * o of the request is byte o % 4096 of page o / 4096, and goes to disk byte
 * map(sector + o / 512) * 512 + o % 512. */
static void test_model(void **state)
{
    (void)state;
    setup_pages();
    const uint64_t x[][2] = {{100, 7}, {300, 13}, {500, 1}, {700, 40}, {900, 300}, {2000, 64}};
    struct vt_volume v = vol(x, 6);
    srand(7);
    for (int iter = 0; iter < 20000; iter++) {
        uint64_t sector = (uint64_t)rand() % v.sectors;
        uint32_t count = 1 + (uint32_t)rand() % 256;
        struct blkio_split s;
        bool ok = blkio_split(&v, sector, count, pages, &s);
        /* The model: how many extents the range touches. */
        uint64_t parts = 0, at = 0;
        bool inside = sector + count <= v.sectors;
        for (uint32_t k = 0; k < v.extent_count && inside; k++) {
            if (sector < at + x[k][1] && sector + count > at)
                parts++;
            at += x[k][1];
        }
        assert_int_equal(ok, inside);
        if (ok)
            assert_int_equal(s.part_count, parts);
        if (!ok)
            continue;
        uint64_t off = 0; /* request byte offset */
        for (uint32_t p = 0; p < s.part_count; p++) {
            uint64_t disk_byte = s.part[p].disk_sector * 512;
            uint64_t part_bytes = 0;
            for (uint32_t g = 0; g < s.part[p].seg_count; g++) {
                const struct blkio_seg *sg = &s.seg[s.part[p].seg_first + g];
                assert_true(sg->len > 0 && sg->len <= 4096);
                /* The segment stays in one page: its first and last byte. */
                assert_int_equal(sg->addr, pages[off / 4096] + off % 4096);
                assert_int_equal(sg->addr + sg->len - 1,
                                 pages[(off + sg->len - 1) / 4096] + (off + sg->len - 1) % 4096);
                /* The disk side: the volume sector of this byte maps here. */
                uint64_t vs = sector + off / 512, d, run;
                assert_true(vt_map(&v, vs, 1, &d, &run));
                assert_int_equal(d * 512 + off % 512, disk_byte + part_bytes);
                off += sg->len;
                part_bytes += sg->len;
            }
            assert_int_equal(part_bytes, (uint64_t)s.part[p].sectors * 512);
        }
        assert_int_equal(off, (uint64_t)count * 512);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_extent),
        cmocka_unit_test(test_across_extents),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
