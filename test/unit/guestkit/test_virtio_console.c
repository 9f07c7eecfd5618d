/*
 * Host tests of the virtio-console driver, port 0 (guest-kit/src/
 * virtio_console.c), against the simulated device (sim_virtio.c): writes
 * of one byte to several pages, input read in pieces across buffer
 * boundaries with every receive buffer reposted, nothing to read, and a
 * hostile device: a transmit completion with a length, a receive length
 * larger than the buffer, a used id out of range, a device that never takes
 * a write — each an error and a broken device, never a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gk/virtio_console.h"
#include "sim_virtio.h"

static struct sim_dev sim;
static struct gk_virtio_dev dev;
static struct gk_virtio_console con;
static char text[10000];

static int setup(void **state)
{
    (void)state;
    sim_init(&sim, GK_VIRTIO_ID_CONSOLE);
    memset(&con, 0, sizeof(con));
    assert_int_equal(sim_attach(&sim, &dev), GK_VIRTIO_OK);
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (char)('!' + i % 90);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sim_fini(&sim);
    return 0;
}

static void test_write(void **state)
{
    (void)state;
    assert_int_equal(gk_virtio_console_write(&con, "x", 1), GK_VIRTIO_EINVAL); /* not init */
    assert_int_equal(gk_virtio_console_init(&con, &dev), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_console_write(&con, "hello\n", 6), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_console_write(&con, text, 0), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_console_write(&con, text, sizeof(text)), GK_VIRTIO_OK);
    assert_int_equal(sim.out_len, 6 + sizeof(text));
    assert_memory_equal(sim.out, "hello\n", 6);
    assert_memory_equal(sim.out + 6, text, sizeof(text));
    assert_int_equal(sim.q[1].completed, 1 + 3); /* 10000 bytes: three pages */
    assert_int_equal(gk_virtio_console_write(&con, NULL, 1), GK_VIRTIO_EINVAL);
}

static void test_read(void **state)
{
    (void)state;
    assert_int_equal(gk_virtio_console_init(&con, &dev), GK_VIRTIO_OK);
    assert_int_equal(con.rx_count, GK_VIRTIO_CONSOLE_RX_BUFS);
    char in[4096];
    size_t got = 99;
    assert_int_equal(gk_virtio_console_read(&con, in, sizeof(in), &got), GK_VIRTIO_EAGAIN);
    assert_int_equal(got, 0);
    /* 3000 bytes fill three buffers; read them 7 bytes at a time. */
    sim_console_inject(&sim, text, 3000);
    size_t have = 0;
    while (have < 3000) {
        assert_int_equal(gk_virtio_console_read(&con, in + have, 7, &got), GK_VIRTIO_OK);
        assert_true(got > 0 && got <= 7);
        have += got;
    }
    assert_memory_equal(in, text, 3000);
    assert_int_equal(gk_virtio_console_read(&con, in, sizeof(in), &got), GK_VIRTIO_EAGAIN);
    /* More input than the buffers hold: the rest arrives as buffers are
     * reposted (the device fills them when it next looks at the queue). */
    sim_console_inject(&sim, text + 3000, 5000);
    static char in2[5000];
    have = 0;
    for (unsigned rounds = 0; have < sizeof(in2) && rounds < 100; rounds++) {
        if (gk_virtio_console_read(&con, in2 + have, sizeof(in2) - have, &got) == GK_VIRTIO_OK)
            have += got;
        sim_process(&sim, 0);
    }
    assert_int_equal(have, sizeof(in2));
    assert_memory_equal(in2, text + 3000, sizeof(in2));
    assert_int_equal(gk_virtio_console_read(&con, in, 0, &got), GK_VIRTIO_EINVAL);
    assert_false(dev.broken);
}

static void test_tx_len_not_zero(void **state)
{
    (void)state;
    assert_int_equal(gk_virtio_console_init(&con, &dev), GK_VIRTIO_OK);
    sim.used_len_add = 5;
    assert_int_equal(gk_virtio_console_write(&con, "abc", 3), GK_VIRTIO_EBROKEN);
    assert_true(dev.broken);
    assert_true(sim.status & GK_VIRTIO_STATUS_FAILED);
    assert_int_equal(gk_virtio_console_write(&con, "abc", 3), GK_VIRTIO_EBROKEN);
}

static void test_rx_len_too_large(void **state)
{
    (void)state;
    assert_int_equal(gk_virtio_console_init(&con, &dev), GK_VIRTIO_OK);
    sim.used_len_add = GK_VIRTIO_CONSOLE_RX_BUF_BYTES;
    sim_console_inject(&sim, "abc", 3);
    char in[16];
    size_t got;
    assert_int_equal(gk_virtio_console_read(&con, in, sizeof(in), &got), GK_VIRTIO_EBROKEN);
    assert_true(dev.broken);
}

static void test_rx_used_id_out_of_range(void **state)
{
    (void)state;
    assert_int_equal(gk_virtio_console_init(&con, &dev), GK_VIRTIO_OK);
    sim.used_id_add = 4;
    sim_console_inject(&sim, "abc", 3);
    char in[16];
    size_t got;
    assert_int_equal(gk_virtio_console_read(&con, in, sizeof(in), &got), GK_VIRTIO_EBROKEN);
}

static void test_write_never_taken(void **state)
{
    (void)state;
    assert_int_equal(gk_virtio_console_init(&con, &dev), GK_VIRTIO_OK);
    sim.hold = true;
    assert_int_equal(gk_virtio_console_write(&con, "abc", 3), GK_VIRTIO_ETIMEDOUT);
    assert_true(dev.broken);
    /* A re-init resets the device and takes the buffer back. */
    sim.hold = false;
    assert_int_equal(gk_virtio_console_init(&con, &dev), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_console_write(&con, "def", 3), GK_VIRTIO_OK);
    assert_memory_equal(sim.out + sim.out_len - 3, "def", 3);
}

/* Interrupt mode: writes sleep until the device takes each chunk; a read
 * that waits sleeps until input comes, or times out. */
static void test_interrupt_mode(void **state)
{
    (void)state;
    assert_int_equal(sim_attach_irq(&sim, &dev, 2, 2), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_console_init(&con, &dev), GK_VIRTIO_OK);
    sim.defer_until_wait = true;
    assert_int_equal(gk_virtio_console_write(&con, text, 5000), GK_VIRTIO_OK);
    assert_int_equal(sim.waits, 2); /* two chunks, each waited for asleep */
    assert_memory_equal(sim.out, text, 5000);
    sim.defer_until_wait = false;
    char in[16];
    size_t got;
    assert_int_equal(gk_virtio_console_read_wait(&con, in, sizeof(in), &got, 5000000),
                     GK_VIRTIO_EAGAIN);
    assert_int_equal(sim.waits, 3);
    sim_console_inject(&sim, "typed", 5);
    assert_int_equal(gk_virtio_console_read_wait(&con, in, sizeof(in), &got, 5000000),
                     GK_VIRTIO_OK);
    assert_int_equal(got, 5);
    assert_memory_equal(in, "typed", 5);
    assert_int_equal(sim.waits, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_len_not_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_len_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_used_id_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_never_taken, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
