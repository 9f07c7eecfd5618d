/*
 * Host tests of the virtio-blk driver (guest-kit/src/virtio_blk.c) against
 * the simulated device (sim_virtio.c): capacity, reads and writes of every
 * size up to several requests, flush, refusals before anything is sent
 * (past the capacity, wrapping, read-only), an I/O error, and a hostile
 * device: bad status bytes, a status never written, a short read length,
 * used ids and lengths out of range, a zero or tiny queue, a short device
 * configuration; each is an error and a broken device, never a crash, and
 * a re-init after a broken device works. The asynchronous calls: requests
 * whose data is pieces at any offset of the caller's pages, several in
 * flight, harvested with their cookies; 64 in flight and no more; their
 * refusals; a completion for nothing in flight and a bad status byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gk/virtio_blk.h"
#include "sim_virtio.h"

static struct sim_dev sim;
static struct gk_virtio_dev dev;
static struct gk_virtio_blk blk;
static uint8_t buf[256 * 512], ref[256 * 512];

static int setup(void **state)
{
    (void)state;
    sim_init(&sim, GK_VIRTIO_ID_BLOCK);
    memset(&blk, 0, sizeof(blk));
    assert_int_equal(sim_attach(&sim, &dev), GK_VIRTIO_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sim_fini(&sim);
    return 0;
}

static void init_ok(void)
{
    assert_int_equal(gk_virtio_blk_init(&blk, &dev), GK_VIRTIO_OK);
}

static void test_read_write(void **state)
{
    (void)state;
    init_ok();
    assert_int_equal(blk.capacity_sectors, 256);
    assert_true(blk.has_flush);
    assert_false(blk.read_only);
    assert_int_equal(blk.data_pages, GK_VIRTIO_BLK_DATA_PAGES);
    /* Every size from 1 to 150 sectors (up to three requests) at varied places. */
    for (uint32_t n = 1; n <= 150; n += 7) {
        uint64_t at = (n * 37) % (256 - n + 1);
        memset(buf, 0xee, sizeof(buf));
        assert_int_equal(gk_virtio_blk_read(&blk, at, buf, n), GK_VIRTIO_OK);
        assert_memory_equal(buf, sim.disk + at * 512, n * 512);
        assert_int_equal(buf[n * 512], 0xee); /* nothing past the request */
    }
    for (size_t i = 0; i < sizeof(ref); i++)
        ref[i] = (uint8_t)rand();
    assert_int_equal(gk_virtio_blk_write(&blk, 3, ref, 130), GK_VIRTIO_OK);
    assert_memory_equal(sim.disk + 3 * 512, ref, 130 * 512);
    assert_int_equal(gk_virtio_blk_read(&blk, 0, buf, 256), GK_VIRTIO_OK);
    assert_memory_equal(buf + 3 * 512, ref, 130 * 512);
    assert_int_equal(gk_virtio_blk_flush(&blk), GK_VIRTIO_OK);
    assert_int_equal(sim.flushes, 1);
    assert_int_equal(gk_virtio_blk_read(&blk, 255, buf, 1), GK_VIRTIO_OK);
    assert_false(dev.broken);
}

static void test_refusals(void **state)
{
    (void)state;
    assert_int_equal(gk_virtio_blk_read(&blk, 0, buf, 1), GK_VIRTIO_EINVAL); /* not init */
    init_ok();
    unsigned notifies = sim.notifies;
    assert_int_equal(gk_virtio_blk_read(&blk, 255, buf, 2), GK_VIRTIO_ERANGE);
    assert_int_equal(gk_virtio_blk_read(&blk, 256, buf, 1), GK_VIRTIO_ERANGE);
    assert_int_equal(gk_virtio_blk_read(&blk, ~0ull, buf, 2), GK_VIRTIO_ERANGE);
    assert_int_equal(gk_virtio_blk_write(&blk, 1, buf, UINT32_MAX), GK_VIRTIO_ERANGE);
    assert_int_equal(gk_virtio_blk_read(&blk, 0, buf, 0), GK_VIRTIO_EINVAL);
    assert_int_equal(gk_virtio_blk_read(&blk, 0, NULL, 1), GK_VIRTIO_EINVAL);
    assert_int_equal(sim.notifies, notifies); /* nothing sent */
    assert_false(dev.broken);
}

static void test_read_only_and_no_flush(void **state)
{
    (void)state;
    sim.features |= 1ull << GK_VIRTIO_BLK_F_RO;
    sim.features &= ~(1ull << GK_VIRTIO_BLK_F_FLUSH);
    init_ok();
    assert_true(blk.read_only);
    assert_int_equal(gk_virtio_blk_write(&blk, 0, buf, 1), GK_VIRTIO_EINVAL);
    assert_int_equal(gk_virtio_blk_flush(&blk), GK_VIRTIO_ENOTSUP);
    assert_int_equal(gk_virtio_blk_read(&blk, 0, buf, 1), GK_VIRTIO_OK);
}

static void test_io_error(void **state)
{
    (void)state;
    init_ok();
    sim.blk_status = GK_VIRTIO_BLK_S_IOERR;
    assert_int_equal(gk_virtio_blk_read(&blk, 0, buf, 1), GK_VIRTIO_EIO);
    sim.blk_status = GK_VIRTIO_BLK_S_UNSUPP;
    assert_int_equal(gk_virtio_blk_flush(&blk), GK_VIRTIO_EIO);
    assert_int_equal(blk.io_errors, 2);
    assert_false(dev.broken); /* an error the device reports is not a broken device */
    sim.blk_status = -1;
    assert_int_equal(gk_virtio_blk_read(&blk, 0, buf, 1), GK_VIRTIO_OK);
}

/* A misbehaviour set up by `bad` makes the next read an error and the device
 * broken; later calls say so; a re-init over a device that behaves works. */
static void expect_broken(int want)
{
    assert_int_equal(gk_virtio_blk_read(&blk, 8, buf, 9), want);
    assert_true(dev.broken);
    assert_true(sim.status & GK_VIRTIO_STATUS_FAILED);
    assert_int_equal(gk_virtio_blk_read(&blk, 0, buf, 1), GK_VIRTIO_EBROKEN);
    assert_int_equal(gk_virtio_blk_write(&blk, 0, buf, 1), GK_VIRTIO_EBROKEN);
    assert_int_equal(gk_virtio_blk_flush(&blk), GK_VIRTIO_EBROKEN);
    unsigned pages = sim.page_count;
    sim.blk_status = -1;
    sim.blk_short_read = false;
    sim.used_id_add = sim.used_len_add = 0;
    sim.hold = false;
    init_ok();
    assert_int_equal(sim.page_count, pages); /* the pages are reused */
    assert_int_equal(gk_virtio_blk_read(&blk, 8, buf, 9), GK_VIRTIO_OK);
    assert_memory_equal(buf, sim.disk + 8 * 512, 9 * 512);
}

static void test_bad_status_byte(void **state)
{
    (void)state;
    init_ok();
    sim.blk_status = 7;
    expect_broken(GK_VIRTIO_EBROKEN);
}

static void test_status_never_written(void **state)
{
    (void)state;
    init_ok();
    sim.blk_status = -2;
    expect_broken(GK_VIRTIO_EBROKEN);
}

static void test_short_read(void **state)
{
    (void)state;
    init_ok();
    sim.blk_short_read = true;
    expect_broken(GK_VIRTIO_EBROKEN);
}

static void test_used_id_out_of_range(void **state)
{
    (void)state;
    init_ok();
    sim.used_id_add = 256;
    expect_broken(GK_VIRTIO_EBROKEN);
}

static void test_used_len_larger_than_buffer(void **state)
{
    (void)state;
    init_ok();
    sim.used_len_add = 1; /* data + status + 1 */
    expect_broken(GK_VIRTIO_EBROKEN);
}

static void test_no_answer(void **state)
{
    (void)state;
    init_ok();
    sim.hold = true;
    expect_broken(GK_VIRTIO_ETIMEDOUT);
}

static void test_small_queues(void **state)
{
    (void)state;
    sim.q[0].max_size = 0;
    assert_int_equal(gk_virtio_blk_init(&blk, &dev), GK_VIRTIO_ENOTSUP);
    assert_int_equal(gk_virtio_blk_read(&blk, 0, buf, 1), GK_VIRTIO_EINVAL);
    sim.q[0].max_size = 2;
    assert_int_equal(gk_virtio_blk_init(&blk, &dev), GK_VIRTIO_ENOTSUP);
    assert_true(dev.broken);
    /* 4 entries: two data pages per request, a 17-sector read takes two. */
    sim.q[0].max_size = 4;
    init_ok();
    assert_int_equal(blk.data_pages, 2);
    assert_int_equal(gk_virtio_blk_read(&blk, 1, buf, 17), GK_VIRTIO_OK);
    assert_memory_equal(buf, sim.disk + 512, 17 * 512);
    assert_int_equal(sim.q[0].completed, 2);
}

static void test_short_config(void **state)
{
    (void)state;
    sim.region_length[GK_VIRTIO_REGION_DEVICE] = 4; /* no room for the capacity */
    assert_int_equal(sim_attach(&sim, &dev), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_blk_init(&blk, &dev), GK_VIRTIO_ERANGE);
    assert_true(dev.broken);
}

static void test_huge_capacity(void **state)
{
    (void)state;
    uint64_t cap = ~0ull;
    memcpy(sim.devcfg, &cap, 8);
    init_ok();
    assert_int_equal(blk.capacity_sectors, ~0ull);
    /* The device's disk is smaller: it answers IOERR, the driver does not wrap. */
    assert_int_equal(gk_virtio_blk_read(&blk, ~0ull - 1, buf, 1), GK_VIRTIO_EIO);
    assert_int_equal(gk_virtio_blk_read(&blk, ~0ull, buf, 1), GK_VIRTIO_ERANGE);
    assert_false(dev.broken);
}

/* A DMA page of the simulated device for the asynchronous tests. */
static uint8_t *dma_page(uint64_t *addr)
{
    void *va = NULL;
    assert_int_equal(gk_virtio_dma_page(&dev, &va, addr), GK_VIRTIO_OK);
    return va;
}

static void test_async(void **state)
{
    (void)state;
    init_ok();
    uint64_t a0, a1, a2;
    uint8_t *p0 = dma_page(&a0), *p1 = dma_page(&a1), *p2 = dma_page(&a2);
    for (int i = 0; i < 4096; i++) {
        p0[i] = (uint8_t)(i * 3);
        p1[i] = (uint8_t)(i * 5 + 1);
    }
    /* A write of 3 sectors from two pieces: 1000 bytes at offset 100 of
     * page 0, then 536 bytes at the start of page 1. */
    struct gk_virtio_blk_seg w[2] = {{a0 + 100, 1000}, {a1, 536}};
    struct gk_virtio_blk_seg r[1] = {{a2 + 8, 1536}};
    sim.hold = true;
    unsigned notifies = sim.notifies;
    assert_int_equal(gk_virtio_blk_submit(&blk, GK_VIRTIO_BLK_T_OUT, 10, w, 2, 11), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_blk_submit(&blk, GK_VIRTIO_BLK_T_FLUSH, 0, NULL, 0, 12),
                     GK_VIRTIO_OK);
    assert_int_equal(blk.async_inflight, 2);
    assert_int_equal(sim.notifies, notifies); /* nothing told before the kick */
    uint64_t cookie = 0;
    int result = 1;
    assert_int_equal(gk_virtio_blk_reap(&blk, &cookie, &result), GK_VIRTIO_EAGAIN);
    sim.hold = false;
    gk_virtio_blk_kick(&blk);
    sim_process(&sim, 0);
    uint64_t got = 0;
    for (int k = 0; k < 2; k++) {
        assert_int_equal(gk_virtio_blk_reap(&blk, &cookie, &result), GK_VIRTIO_OK);
        assert_int_equal(result, GK_VIRTIO_OK);
        assert_true(cookie == 11 || cookie == 12);
        got |= 1ull << cookie;
    }
    assert_int_equal(got, (1ull << 11) | (1ull << 12));
    assert_int_equal(gk_virtio_blk_reap(&blk, &cookie, &result), GK_VIRTIO_EAGAIN);
    assert_memory_equal(sim.disk + 10 * 512, p0 + 100, 1000);
    assert_memory_equal(sim.disk + 10 * 512 + 1000, p1, 536);
    assert_int_equal(sim.flushes, 1);
    /* Read them back into another page at offset 8. */
    assert_int_equal(gk_virtio_blk_submit(&blk, GK_VIRTIO_BLK_T_IN, 10, r, 1, 13), GK_VIRTIO_OK);
    gk_virtio_blk_kick(&blk);
    sim_process(&sim, 0);
    assert_int_equal(gk_virtio_blk_reap(&blk, &cookie, &result), GK_VIRTIO_OK);
    assert_int_equal(cookie, 13);
    assert_memory_equal(p2 + 8, sim.disk + 10 * 512, 1536);
    /* Refusals, before anything is queued. */
    struct gk_virtio_blk_seg odd[1] = {{a0, 100}}, zero[1] = {{a0, 0}}, end[1] = {{a0, 1024}};
    assert_int_equal(gk_virtio_blk_submit(&blk, GK_VIRTIO_BLK_T_IN, 0, odd, 1, 0),
                     GK_VIRTIO_EINVAL); /* not whole sectors */
    assert_int_equal(gk_virtio_blk_submit(&blk, GK_VIRTIO_BLK_T_IN, 0, zero, 1, 0),
                     GK_VIRTIO_EINVAL);
    assert_int_equal(gk_virtio_blk_submit(&blk, GK_VIRTIO_BLK_T_IN, 0, NULL, 0, 0),
                     GK_VIRTIO_EINVAL);
    assert_int_equal(gk_virtio_blk_submit(&blk, GK_VIRTIO_BLK_T_IN, 255, end, 1, 0),
                     GK_VIRTIO_ERANGE); /* two sectors from the last */
    assert_int_equal(gk_virtio_blk_submit(&blk, GK_VIRTIO_BLK_T_FLUSH, 0, odd, 1, 0),
                     GK_VIRTIO_EINVAL);
    assert_int_equal(gk_virtio_blk_submit(&blk, 99, 0, odd, 1, 0), GK_VIRTIO_EINVAL);
    assert_int_equal(blk.async_inflight, 0);
    assert_false(dev.broken);
}

static void test_async_limit(void **state)
{
    (void)state;
    init_ok();
    sim.hold = true;
    for (uint64_t i = 0; i < GK_VIRTIO_BLK_ASYNC_MAX; i++)
        assert_int_equal(gk_virtio_blk_submit(&blk, GK_VIRTIO_BLK_T_FLUSH, 0, NULL, 0, i),
                         GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_blk_submit(&blk, GK_VIRTIO_BLK_T_FLUSH, 0, NULL, 0, 64),
                     GK_VIRTIO_EAGAIN);
    sim.hold = false;
    gk_virtio_blk_kick(&blk);
    sim_process(&sim, 0);
    uint64_t seen = 0, cookie;
    int result;
    while (gk_virtio_blk_reap(&blk, &cookie, &result) == GK_VIRTIO_OK) {
        assert_true(cookie < 64 && !(seen & (1ull << cookie)));
        seen |= 1ull << cookie;
    }
    assert_int_equal(seen, UINT64_MAX);
    assert_int_equal(blk.async_inflight, 0);
    assert_int_equal(sim.flushes, 64);
}

static void test_async_hostile(void **state)
{
    (void)state;
    init_ok();
    uint64_t cookie;
    int result;
    sim.blk_status = 7; /* not OK, IOERR or UNSUPP */
    assert_int_equal(gk_virtio_blk_submit(&blk, GK_VIRTIO_BLK_T_FLUSH, 0, NULL, 0, 1),
                     GK_VIRTIO_OK);
    gk_virtio_blk_kick(&blk);
    sim_process(&sim, 0);
    assert_int_equal(gk_virtio_blk_reap(&blk, &cookie, &result), GK_VIRTIO_EBROKEN);
    assert_true(dev.broken);
    assert_int_equal(gk_virtio_blk_submit(&blk, GK_VIRTIO_BLK_T_FLUSH, 0, NULL, 0, 2),
                     GK_VIRTIO_EBROKEN);
    /* An I/O error is a result, not a broken device. */
    sim_fini(&sim);
    setup(NULL);
    memset(&blk, 0, sizeof blk);
    init_ok();
    sim.blk_status = GK_VIRTIO_BLK_S_IOERR;
    assert_int_equal(gk_virtio_blk_submit(&blk, GK_VIRTIO_BLK_T_FLUSH, 0, NULL, 0, 3),
                     GK_VIRTIO_OK);
    gk_virtio_blk_kick(&blk);
    sim_process(&sim, 0);
    assert_int_equal(gk_virtio_blk_reap(&blk, &cookie, &result), GK_VIRTIO_OK);
    assert_int_equal(result, GK_VIRTIO_EIO);
    assert_false(dev.broken);
    /* A used id shifted to a chain nobody queued. */
    sim.blk_status = -1;
    sim.used_id_add = 1;
    assert_int_equal(gk_virtio_blk_submit(&blk, GK_VIRTIO_BLK_T_FLUSH, 0, NULL, 0, 4),
                     GK_VIRTIO_OK);
    gk_virtio_blk_kick(&blk);
    sim_process(&sim, 0);
    assert_int_equal(gk_virtio_blk_reap(&blk, &cookie, &result), GK_VIRTIO_EBROKEN);
    assert_true(dev.broken);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_and_no_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_io_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_status_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_never_written, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_used_id_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_used_len_larger_than_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_queues, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_capacity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_hostile, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
