/*
 * Host tests of guest-kit's virtio bring-up (guest-kit/src/virtio_dev.c)
 * against the simulated device of sim_virtio.c: the status sequence and the
 * feature negotiation of virtio 3.1.1, queue set-up through the common
 * configuration, and every kind of bad device behaviour (VERSION_1 not
 * offered, FEATURES_OK refused, a reset that never finishes, no queues, a
 * zero queue size, a notify offset outside the structure, a queue that will
 * not enable, DEVICE_NEEDS_RESET, an unstable config generation, a short
 * device configuration, used ids and lengths out of range, a device that
 * never answers): an error and a device marked broken, never a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gk/virtio_dev.h"
#include "sim_virtio.h"

static struct sim_dev sim;
static struct gk_virtio_dev dev;
static struct gk_virtio_queue q[2];

static int setup(void **state)
{
    (void)state;
    sim_init(&sim, GK_VIRTIO_ID_CONSOLE);
    sim.features |= (1ull << 1) | (1ull << 40);
    memset(q, 0, sizeof(q));
    assert_int_equal(sim_attach(&sim, &dev), GK_VIRTIO_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sim_fini(&sim);
    return 0;
}

static void test_init_refuses_bad_regions(void **state)
{
    (void)state;
    uint32_t len[GK_VIRTIO_REGION_COUNT] = {55, 4, 0, 0};
    assert_int_equal(gk_virtio_dev_init(&dev, &sim_ops, &sim, len, 0), GK_VIRTIO_EINVAL);
    len[0] = 56;
    len[1] = 1;
    assert_int_equal(gk_virtio_dev_init(&dev, &sim_ops, &sim, len, 0), GK_VIRTIO_EINVAL);
    struct gk_virtio_ops no_dma = sim_ops;
    no_dma.dma_alloc = NULL;
    len[1] = 2;
    assert_int_equal(gk_virtio_dev_init(&dev, &no_dma, &sim, len, 0), GK_VIRTIO_EINVAL);
    assert_int_equal(gk_virtio_dev_init(&dev, &sim_ops, &sim, len, 0), GK_VIRTIO_OK);
}

static void test_bring_up(void **state)
{
    (void)state;
    assert_int_equal(gk_virtio_dev_negotiate(&dev, 1ull << 40 | 1ull << 3, 1ull << 1),
                     GK_VIRTIO_OK);
    /* Offered & (wanted | required | VERSION_1): bit 3 is not offered. */
    assert_int_equal(dev.features, 1ull << 40 | 1ull << 1 | 1ull << GK_VIRTIO_F_VERSION_1);
    assert_int_equal(sim.driver_features, dev.features);
    assert_true(gk_virtio_dev_has(&dev, 40));
    assert_false(gk_virtio_dev_has(&dev, 3));
    assert_false(gk_virtio_dev_has(&dev, 64));
    assert_int_equal(gk_virtio_queue_setup(&dev, &q[0], 0, 8), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_queue_setup(&dev, &q[1], 1, 1000), GK_VIRTIO_OK);
    assert_int_equal(q[0].size, 8);
    assert_int_equal(q[1].size, GK_VIRTIO_QUEUE_SIZE_MAX);
    assert_int_equal(sim.q[0].size, 8);
    assert_int_equal(sim.q[1].size, 256);
    assert_int_equal(sim.q[1].desc, q[1].desc_addr);
    assert_int_equal(sim.q[1].driver, q[1].ring_addr);
    assert_int_equal(sim.q[1].device, q[1].ring_addr + 1024);
    assert_int_equal(q[1].notify_offset, 4);
    assert_int_equal(gk_virtio_dev_ready(&dev), GK_VIRTIO_OK);
    const uint8_t want[] = {0, 1, 3, 11, 15};
    assert_int_equal(sim.status_log_count, sizeof(want));
    assert_memory_equal(sim.status_log, want, sizeof(want));
    assert_int_equal(gk_virtio_dev_check(&dev), GK_VIRTIO_OK);

    /* One buffer through queue 1 (the console's transmit queue). */
    static uint8_t data[16] __attribute__((aligned(16))) = "sixteen bytes!!";
    struct gk_vq_buf b = {(uint64_t)(uintptr_t)data, 16};
    assert_int_equal(gk_vq_add(&q[1].vq, &b, 1, 0, data), GK_VQ_OK);
    gk_virtio_kick(&dev, &q[1]);
    assert_int_equal(sim.notifies, 1);
    void *token = NULL;
    uint32_t len = 99;
    assert_int_equal(gk_virtio_wait_used(&dev, &q[1], &token, &len, 1000000000), GK_VIRTIO_OK);
    assert_ptr_equal(token, data);
    assert_int_equal(len, 0);
    assert_memory_equal(sim.out, data, 16);
    assert_int_equal(gk_virtio_poll_used(&dev, &q[1], &token, &len), GK_VIRTIO_EAGAIN);

    /* A reset takes everything back; set-up again reuses the pages. */
    unsigned pages = sim.page_count;
    assert_int_equal(gk_vq_add(&q[1].vq, &b, 1, 0, data), GK_VQ_OK);
    assert_int_equal(gk_virtio_dev_reset(&dev, q, 2), GK_VIRTIO_OK);
    assert_int_equal(gk_vq_free_count(&q[1].vq), 256);
    assert_false(q[1].ready);
    assert_int_equal(gk_virtio_poll_used(&dev, &q[1], &token, &len), GK_VIRTIO_EINVAL);
    assert_int_equal(gk_virtio_dev_negotiate(&dev, 0, 0), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_queue_setup(&dev, &q[1], 1, 4), GK_VIRTIO_OK);
    assert_int_equal(sim.page_count, pages);
}

static void test_queue_size_rounding(void **state)
{
    (void)state;
    assert_int_equal(gk_virtio_dev_negotiate(&dev, 0, 0), GK_VIRTIO_OK);
    sim.q[0].max_size = 100; /* not a power of two: use 64 */
    assert_int_equal(gk_virtio_queue_setup(&dev, &q[0], 0, 256), GK_VIRTIO_OK);
    assert_int_equal(q[0].size, 64);
    sim.q[1].max_size = 1;
    assert_int_equal(gk_virtio_queue_setup(&dev, &q[1], 1, 256), GK_VIRTIO_OK);
    assert_int_equal(q[1].size, 1);
    assert_int_equal(gk_virtio_queue_setup(&dev, &q[1], 2, 256), GK_VIRTIO_EINVAL); /* 2 queues */
    assert_int_equal(gk_virtio_queue_setup(&dev, &q[1], 1, 0), GK_VIRTIO_EINVAL);
}

static void test_no_version_1(void **state)
{
    (void)state;
    sim.features &= ~(1ull << GK_VIRTIO_F_VERSION_1);
    assert_int_equal(gk_virtio_dev_negotiate(&dev, 0, 0), GK_VIRTIO_ENOTSUP);
    assert_true(dev.broken);
    assert_true(sim.status & GK_VIRTIO_STATUS_FAILED);
    assert_false(sim.status & GK_VIRTIO_STATUS_FEATURES_OK);
    assert_int_equal(gk_virtio_queue_setup(&dev, &q[0], 0, 8), GK_VIRTIO_EBROKEN);
    assert_int_equal(gk_virtio_dev_ready(&dev), GK_VIRTIO_EBROKEN);
}

static void test_required_feature_missing(void **state)
{
    (void)state;
    assert_int_equal(gk_virtio_dev_negotiate(&dev, 0, 1ull << 5), GK_VIRTIO_ENOTSUP);
    assert_true(sim.status & GK_VIRTIO_STATUS_FAILED);
}

static void test_features_ok_refused(void **state)
{
    (void)state;
    sim.refuse_features_ok = true;
    assert_int_equal(gk_virtio_dev_negotiate(&dev, 0, 0), GK_VIRTIO_EBROKEN);
    assert_true(dev.broken);
    assert_non_null(strstr(gk_virtio_dev_broken_why(&dev), "FEATURES_OK"));
    assert_true(sim.status & GK_VIRTIO_STATUS_FAILED);
    /* A device that behaves again can be negotiated again. */
    sim.refuse_features_ok = false;
    assert_int_equal(gk_virtio_dev_negotiate(&dev, 0, 0), GK_VIRTIO_OK);
    assert_false(dev.broken);
}

static void test_reset_stuck(void **state)
{
    (void)state;
    sim.status = GK_VIRTIO_STATUS_ACKNOWLEDGE;
    sim.reset_stuck = true;
    assert_int_equal(gk_virtio_dev_negotiate(&dev, 0, 0), GK_VIRTIO_EBROKEN);
    assert_true(dev.broken);
    assert_int_equal(gk_virtio_dev_reset(&dev, q, 0), GK_VIRTIO_EBROKEN);
}

static void test_no_queues(void **state)
{
    (void)state;
    sim.num_queues = 0;
    assert_int_equal(gk_virtio_dev_negotiate(&dev, 0, 0), GK_VIRTIO_EBROKEN);
}

static void test_zero_queue_size(void **state)
{
    (void)state;
    assert_int_equal(gk_virtio_dev_negotiate(&dev, 0, 0), GK_VIRTIO_OK);
    sim.q[0].max_size = 0;
    assert_int_equal(gk_virtio_queue_setup(&dev, &q[0], 0, 8), GK_VIRTIO_ENOTSUP);
    assert_false(q[0].ready);
    assert_int_equal(sim.page_count, 0); /* nothing allocated */
}

static void test_notify_off_outside(void **state)
{
    (void)state;
    assert_int_equal(gk_virtio_dev_negotiate(&dev, 0, 0), GK_VIRTIO_OK);
    sim.q[1].notify_off = 3; /* 3 * 4 + 2 > 12 */
    assert_int_equal(gk_virtio_queue_setup(&dev, &q[1], 1, 8), GK_VIRTIO_EBROKEN);
    assert_true(sim.status & GK_VIRTIO_STATUS_FAILED);
    assert_int_equal(gk_virtio_dev_negotiate(&dev, 0, 0), GK_VIRTIO_OK);
    sim.q[1].notify_off = 0xffff;
    sim.notify_mult = 0x10001; /* 0xffff * 0x10001 > 2^32 */
    dev.notify_off_multiplier = 0x10001;
    assert_int_equal(gk_virtio_queue_setup(&dev, &q[1], 1, 8), GK_VIRTIO_EBROKEN);
}

static void test_enable_lost(void **state)
{
    (void)state;
    assert_int_equal(gk_virtio_dev_negotiate(&dev, 0, 0), GK_VIRTIO_OK);
    sim.lose_enable = true;
    assert_int_equal(gk_virtio_queue_setup(&dev, &q[0], 0, 8), GK_VIRTIO_EBROKEN);
}

static void test_dma_exhausted(void **state)
{
    (void)state;
    assert_int_equal(gk_virtio_dev_negotiate(&dev, 0, 0), GK_VIRTIO_OK);
    sim.page_limit = 1;
    assert_int_equal(gk_virtio_queue_setup(&dev, &q[0], 0, 8), GK_VIRTIO_ENOMEM);
    assert_false(q[0].ready);
    sim.page_limit = 8; /* the page taken first is kept */
    assert_int_equal(gk_virtio_queue_setup(&dev, &q[0], 0, 8), GK_VIRTIO_OK);
    assert_int_equal(sim.page_count, 2);
}

/* Brings queue 1 up and puts one transmit buffer in flight. */
static uint8_t buf[64] __attribute__((aligned(16)));
static void one_in_flight(bool hold)
{
    assert_int_equal(gk_virtio_dev_negotiate(&dev, 0, 0), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_queue_setup(&dev, &q[0], 0, 4), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_queue_setup(&dev, &q[1], 1, 4), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_dev_ready(&dev), GK_VIRTIO_OK);
    sim.hold = hold;
    struct gk_vq_buf b = {(uint64_t)(uintptr_t)buf, sizeof(buf)};
    assert_int_equal(gk_vq_add(&q[1].vq, &b, 1, 0, buf), GK_VQ_OK);
    gk_virtio_kick(&dev, &q[1]);
}

static void test_used_id_out_of_range(void **state)
{
    (void)state;
    sim.used_id_add = 4; /* id = head + 4 >= size 4 */
    one_in_flight(false);
    void *t;
    uint32_t len;
    assert_int_equal(gk_virtio_wait_used(&dev, &q[1], &t, &len, 1000000000), GK_VIRTIO_EBROKEN);
    assert_true(dev.broken);
    assert_true(sim.status & GK_VIRTIO_STATUS_FAILED);
    assert_int_equal(gk_virtio_poll_used(&dev, &q[1], &t, &len), GK_VIRTIO_EBROKEN);
    /* Reset and detach: the buffer comes back, the device works again. */
    assert_int_equal(gk_virtio_dev_reset(&dev, q, 2), GK_VIRTIO_OK);
    assert_int_equal(gk_vq_free_count(&q[1].vq), 4);
    sim.used_id_add = 0;
    one_in_flight(false);
    assert_int_equal(gk_virtio_wait_used(&dev, &q[1], &t, &len, 1000000000), GK_VIRTIO_OK);
}

static void test_used_len_too_large(void **state)
{
    (void)state;
    sim.used_len_add = 1; /* a device-readable chain: any length > 0 is a lie */
    one_in_flight(false);
    void *t;
    uint32_t len;
    assert_int_equal(gk_virtio_poll_used(&dev, &q[1], &t, &len), GK_VIRTIO_EBROKEN);
    assert_non_null(strstr(gk_virtio_dev_broken_why(&dev), "length"));
}

static void test_never_answers(void **state)
{
    (void)state;
    one_in_flight(true);
    void *t;
    uint32_t len;
    assert_int_equal(gk_virtio_wait_used(&dev, &q[1], &t, &len, 50000000), GK_VIRTIO_ETIMEDOUT);
    assert_true(dev.broken);
}

static void test_needs_reset(void **state)
{
    (void)state;
    one_in_flight(true);
    sim.status |= GK_VIRTIO_STATUS_NEEDS_RESET;
    void *t;
    uint32_t len;
    assert_int_equal(gk_virtio_wait_used(&dev, &q[1], &t, &len, ~0ull), GK_VIRTIO_EBROKEN);
    assert_non_null(strstr(gk_virtio_dev_broken_why(&dev), "NEEDS_RESET"));
    assert_int_equal(gk_virtio_dev_check(&dev), GK_VIRTIO_EBROKEN);
}

static void test_driver_ok_lost(void **state)
{
    (void)state;
    one_in_flight(true);
    sim.status = GK_VIRTIO_STATUS_ACKNOWLEDGE;
    assert_int_equal(gk_virtio_dev_check(&dev), GK_VIRTIO_EBROKEN);
}

static void test_config_reads(void **state)
{
    (void)state;
    assert_int_equal(gk_virtio_dev_negotiate(&dev, 0, 0), GK_VIRTIO_OK);
    for (unsigned i = 0; i < sizeof(sim.devcfg); i++)
        sim.devcfg[i] = (uint8_t)(i + 1);
    uint64_t v;
    assert_int_equal(gk_virtio_config_read(&dev, 0, 8, &v), GK_VIRTIO_OK);
    assert_int_equal(v, 0x0807060504030201ull);
    assert_int_equal(gk_virtio_config_read(&dev, 62, 2, &v), GK_VIRTIO_OK);
    assert_int_equal(v, 0x403f);
    assert_int_equal(gk_virtio_config_read(&dev, 0, 3, &v), GK_VIRTIO_EINVAL);
    assert_false(dev.broken);
    /* Past the structure, and an offset that would wrap. */
    assert_int_equal(gk_virtio_config_read(&dev, 60, 8, &v), GK_VIRTIO_ERANGE);
    assert_true(dev.broken);
    assert_int_equal(gk_virtio_dev_negotiate(&dev, 0, 0), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_config_read(&dev, 0xfffffffe, 4, &v), GK_VIRTIO_ERANGE);
    assert_int_equal(gk_virtio_dev_negotiate(&dev, 0, 0), GK_VIRTIO_OK);
    sim.generation_unstable = true;
    assert_int_equal(gk_virtio_config_read(&dev, 0, 4, &v), GK_VIRTIO_EBROKEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_init_refuses_bad_regions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bring_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_size_rounding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_version_1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_required_feature_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_features_ok_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_stuck, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_queues, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_queue_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify_off_outside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enable_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dma_exhausted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_used_id_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_used_len_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_never_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_needs_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_driver_ok_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_reads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
