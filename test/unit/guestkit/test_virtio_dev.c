/*
 * Host tests of guest-kit's virtio bring-up (guest-kit/src/virtio_dev.c)
 * against the simulated device of sim_virtio.c: the status sequence and the
 * feature negotiation of virtio 3.1.1, queue set-up through the common
 * configuration, and every kind of bad device behaviour (VERSION_1 not
 * offered, FEATURES_OK refused, a reset that never finishes, no queues, a
 * zero queue size, a notify offset outside the structure, a queue that will
 * not enable, DEVICE_NEEDS_RESET, an unstable config generation, a short
 * device configuration, used ids and lengths out of range, a device that
 * never answers): an error and a device marked broken, never a crash. And
 * interrupt mode (MSI-X vectors and a wait): the vector programming, the
 * arm-then-re-check that loses no completion, a device that completes only
 * while the driver sleeps, a lost interrupt, a refused vector, a timeout.
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

/* ---- Interrupt mode ------------------------------------------------------ */

static void irq_bring_up(uint16_t device_vectors, uint16_t driver_vectors)
{
    assert_int_equal(sim_attach_irq(&sim, &dev, device_vectors, driver_vectors), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_dev_negotiate(&dev, 0, 0), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_queue_setup(&dev, &q[0], 0, 4), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_queue_setup(&dev, &q[1], 1, 4), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_dev_ready(&dev), GK_VIRTIO_OK);
}

static void irq_send(void)
{
    static uint8_t data[8] __attribute__((aligned(16))) = "irqtest";
    struct gk_vq_buf b = {(uint64_t)(uintptr_t)data, 8};
    assert_int_equal(gk_vq_add(&q[1].vq, &b, 1, 0, data), GK_VQ_OK);
    gk_virtio_kick(&dev, &q[1]);
}

static void test_irq_vectors_programmed(void **state)
{
    (void)state;
    irq_bring_up(2, 2);
    assert_int_equal(q[0].vector, 0);
    assert_int_equal(q[1].vector, 1);
    assert_int_equal(sim.q[0].vector, 0);
    assert_int_equal(sim.q[1].vector, 1);
    assert_int_equal(sim.config_vector, GK_VIRTIO_NO_VECTOR);
    /* More queues than vectors: the rest share the last one. */
    irq_bring_up(1, 1);
    assert_int_equal(q[0].vector, 0);
    assert_int_equal(q[1].vector, 0);
    /* A vector the device has not: read back as NO_VECTOR, that queue polled. */
    irq_bring_up(1, 2);
    assert_int_equal(q[0].vector, 0);
    assert_int_equal(q[1].vector, GK_VIRTIO_NO_VECTOR);
    irq_send();
    void *t;
    uint32_t len;
    assert_int_equal(gk_virtio_wait_used(&dev, &q[1], &t, &len, 1000000000), GK_VIRTIO_OK);
    assert_int_equal(sim.waits, 0);
    /* No wait op, or too many vectors: refused. */
    assert_int_equal(sim_attach(&sim, &dev), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_dev_use_vectors(&dev, 1), GK_VIRTIO_EINVAL);
    assert_int_equal(gk_virtio_dev_use_vectors(&dev, 0), GK_VIRTIO_OK);
    assert_int_equal(sim_attach_irq(&sim, &dev, 8, GK_VIRTIO_VECTORS_MAX + 1), GK_VIRTIO_EINVAL);
}

static void test_irq_sleeps_until_completion(void **state)
{
    (void)state;
    irq_bring_up(2, 2);
    sim.defer_until_wait = true; /* completes only while the driver sleeps */
    irq_send();
    void *t = NULL;
    uint32_t len = 99;
    assert_int_equal(gk_virtio_wait_used(&dev, &q[1], &t, &len, 1000000000), GK_VIRTIO_OK);
    assert_non_null(t);
    assert_int_equal(len, 0);
    assert_int_equal(sim.waits, 1);
    assert_int_equal(sim.irqs, 1);
    assert_memory_equal(sim.out, "irqtest", 8);
    /* Completed before the driver looks: the re-check after arming finds
     * it, no sleep at all. */
    sim.defer_until_wait = false;
    irq_send();
    assert_int_equal(gk_virtio_wait_used(&dev, &q[1], &t, &len, 1000000000), GK_VIRTIO_OK);
    assert_int_equal(sim.waits, 1);
}

/* Line-interrupt mode (a function without MSI-X): every queue waits for
 * the line; no vector is written to the device. */
static void test_intx_sleeps_until_completion(void **state)
{
    (void)state;
    sim.intx = true;
    assert_int_equal(sim_attach_irq(&sim, &dev, 0, 0), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_dev_use_intx(&dev, true), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_dev_negotiate(&dev, 0, 0), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_queue_setup(&dev, &q[0], 0, 4), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_queue_setup(&dev, &q[1], 1, 4), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_dev_ready(&dev), GK_VIRTIO_OK);
    assert_int_equal(q[0].vector, GK_VIRTIO_INTX);
    assert_int_equal(q[1].vector, GK_VIRTIO_INTX);
    assert_int_equal(sim.q[1].vector, GK_VIRTIO_NO_VECTOR); /* nothing written */
    assert_int_equal(sim.config_vector, GK_VIRTIO_NO_VECTOR);
    sim.defer_until_wait = true;
    irq_send();
    void *t = NULL;
    uint32_t len = 99;
    assert_int_equal(gk_virtio_wait_used(&dev, &q[1], &t, &len, 1000000000), GK_VIRTIO_OK);
    assert_non_null(t);
    assert_int_equal(sim.waits, 1);
    assert_int_equal(sim.irqs, 1);
    /* Turning vectors on turns the line mode off; no wait op: refused. */
    assert_int_equal(gk_virtio_dev_use_vectors(&dev, 0), GK_VIRTIO_OK);
    assert_false(dev.intx);
    assert_int_equal(sim_attach(&sim, &dev), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_dev_use_intx(&dev, true), GK_VIRTIO_EINVAL);
}

static void test_irq_lost_interrupt(void **state)
{
    (void)state;
    /* The device completes while the driver sleeps but raises nothing: the
     * wait times out, the last look finds the chain. */
    irq_bring_up(2, 2);
    sim.defer_until_wait = true;
    sim.no_irq = true;
    irq_send();
    void *t = NULL;
    uint32_t len;
    assert_int_equal(gk_virtio_wait_used(&dev, &q[1], &t, &len, 1000000000), GK_VIRTIO_OK);
    assert_non_null(t);
    assert_int_equal(sim.waits, 1);
    assert_false(dev.broken);
}

static void test_irq_timeout(void **state)
{
    (void)state;
    irq_bring_up(2, 2);
    sim.hold = true;
    irq_send();
    void *t;
    uint32_t len;
    assert_int_equal(gk_virtio_wait_used(&dev, &q[1], &t, &len, 50000000), GK_VIRTIO_ETIMEDOUT);
    assert_int_equal(sim.waits, 1);
    assert_true(dev.broken);
}

static void test_wait_queue(void **state)
{
    (void)state;
    /* Polled: a pause, then OK until the clock passes the deadline. */
    irq_bring_up(0, 0);
    assert_int_equal(q[1].vector, GK_VIRTIO_NO_VECTOR);
    uint64_t now = sim.clock_ns;
    assert_int_equal(gk_virtio_wait_queue(&dev, &q[1], now + 100000000), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_wait_queue(&dev, &q[1], now), GK_VIRTIO_ETIMEDOUT);
    /* Interrupt mode: a pending chain means no sleep; else sleep. */
    irq_bring_up(2, 2);
    irq_send();
    assert_int_equal(gk_virtio_wait_queue(&dev, &q[1], ~0ull), GK_VIRTIO_OK);
    assert_int_equal(sim.waits, 0);
    void *t;
    uint32_t len;
    assert_int_equal(gk_virtio_poll_used(&dev, &q[1], &t, &len), GK_VIRTIO_OK);
    /* The interrupt of that chain is still pending: a spurious wake-up
     * (OK: look again), then a real sleep that times out. */
    assert_int_equal(gk_virtio_wait_queue(&dev, &q[1], sim.clock_ns + 5), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_wait_queue(&dev, &q[1], sim.clock_ns + 5), GK_VIRTIO_ETIMEDOUT);
    assert_int_equal(sim.waits, 2);
    sim.defer_until_wait = true;
    irq_send();
    assert_int_equal(gk_virtio_wait_queue(&dev, &q[1], ~0ull), GK_VIRTIO_OK);
    assert_int_equal(sim.waits, 3);
    assert_int_equal(gk_virtio_poll_used(&dev, &q[1], &t, &len), GK_VIRTIO_OK);
}

static void test_access_platform_accepted(void **state)
{
    (void)state;
    sim.features |= 1ull << GK_VIRTIO_F_ACCESS_PLATFORM;
    assert_int_equal(gk_virtio_dev_negotiate(&dev, 0, 0), GK_VIRTIO_OK);
    assert_true(gk_virtio_dev_has(&dev, GK_VIRTIO_F_ACCESS_PLATFORM));
    assert_true(sim.driver_features & (1ull << GK_VIRTIO_F_ACCESS_PLATFORM));
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
        cmocka_unit_test_setup_teardown(test_irq_vectors_programmed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_irq_sleeps_until_completion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intx_sleeps_until_completion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_irq_lost_interrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_irq_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access_platform_accepted, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
