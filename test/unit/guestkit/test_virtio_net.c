/*
 * Host tests of the virtio-net driver (guest-kit/src/virtio_net.c) against
 * two simulated devices wired back to back (sim_virtio.c): the MAC from the
 * configuration, frames of every length each way compared byte for byte,
 * the receive pool reposted (more frames than buffers), transmit buffers
 * running out while the device holds them, length refusals, a frame larger
 * than the caller's buffer, and a hostile device: a receive length shorter
 * than the header, a GSO header that was never negotiated, used ids and
 * lengths out of range — each an error and a broken device, never a crash.
 * In interrupt mode: a receive that waits sleeps when nothing is there and
 * times out, and returns at once when a frame came meanwhile.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gk/virtio_net.h"
#include "sim_virtio.h"

static struct sim_dev sa, sb;
static struct gk_virtio_dev da, db;
static struct gk_virtio_net na, nb;
static uint8_t frame[2048], got[2048];

static int setup(void **state)
{
    (void)state;
    sim_init(&sa, GK_VIRTIO_ID_NET);
    sim_init(&sb, GK_VIRTIO_ID_NET);
    sb.devcfg[5] = 0x57;
    sa.peer = &sb;
    sb.peer = &sa;
    memset(&na, 0, sizeof(na));
    memset(&nb, 0, sizeof(nb));
    assert_int_equal(sim_attach(&sa, &da), GK_VIRTIO_OK);
    assert_int_equal(sim_attach(&sb, &db), GK_VIRTIO_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sim_fini(&sa);
    sim_fini(&sb);
    return 0;
}

static void both_up(void)
{
    assert_int_equal(gk_virtio_net_init(&na, &da), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_net_init(&nb, &db), GK_VIRTIO_OK);
}

static size_t make(unsigned seq, size_t len)
{
    memcpy(frame, nb.mac, 6);
    memcpy(frame + 6, na.mac, 6);
    for (size_t i = 12; i < len; i++)
        frame[i] = (uint8_t)(seq * 7 + i);
    return len;
}

static void test_mac_and_frames(void **state)
{
    (void)state;
    both_up();
    assert_true(na.has_mac);
    assert_memory_equal(na.mac, ((uint8_t[]){0x52, 0x54, 0, 0x12, 0x34, 0x56}), 6);
    assert_int_equal(nb.mac[5], 0x57);
    assert_int_equal(na.rx_count, GK_VIRTIO_NET_RX_BUFS);
    assert_int_equal(na.tx_count, GK_VIRTIO_NET_TX_BUFS);
    size_t n;
    assert_int_equal(gk_virtio_net_recv(&nb, got, sizeof(got), &n), GK_VIRTIO_EAGAIN);
    /* Every length each way; 1501 frames pass through 32 receive buffers. */
    for (size_t len = GK_VIRTIO_NET_FRAME_MIN; len <= GK_VIRTIO_NET_FRAME_MAX; len++) {
        struct gk_virtio_net *from = len % 2 ? &na : &nb, *to = len % 2 ? &nb : &na;
        make((unsigned)len, len);
        assert_int_equal(gk_virtio_net_send(from, frame, len), GK_VIRTIO_OK);
        memset(got, 0, sizeof(got));
        assert_int_equal(gk_virtio_net_recv(to, got, sizeof(got), &n), GK_VIRTIO_OK);
        assert_int_equal(n, len);
        assert_memory_equal(got, frame, len);
        assert_int_equal(gk_virtio_net_recv(from, got, sizeof(got), &n), GK_VIRTIO_EAGAIN);
    }
    assert_int_equal(nb.rx_frames + na.rx_frames, GK_VIRTIO_NET_FRAME_MAX - 13);
    /* A burst of 20 frames before any is received, then all in order. */
    for (unsigned i = 0; i < 20; i++) {
        make(i, 100 + i);
        assert_int_equal(gk_virtio_net_send(&na, frame, 100 + i), GK_VIRTIO_OK);
    }
    for (unsigned i = 0; i < 20; i++) {
        make(i, 100 + i);
        assert_int_equal(gk_virtio_net_recv(&nb, got, sizeof(got), &n), GK_VIRTIO_OK);
        assert_int_equal(n, 100 + i);
        assert_memory_equal(got, frame, n);
    }
    assert_int_equal(gk_virtio_net_tx_reclaim(&na), 0);
    assert_false(da.broken || db.broken);
}

static void test_refusals(void **state)
{
    (void)state;
    size_t n;
    assert_int_equal(gk_virtio_net_send(&na, frame, 60), GK_VIRTIO_EINVAL); /* not init */
    both_up();
    assert_int_equal(gk_virtio_net_send(&na, frame, GK_VIRTIO_NET_FRAME_MAX + 1), GK_VIRTIO_ERANGE);
    assert_int_equal(gk_virtio_net_send(&na, frame, GK_VIRTIO_NET_FRAME_MIN - 1), GK_VIRTIO_ERANGE);
    assert_int_equal(gk_virtio_net_send(&na, NULL, 60), GK_VIRTIO_EINVAL);
    assert_int_equal(sa.tx_seen, 0);
    /* A frame larger than the caller's buffer: dropped, the buffer reposted. */
    make(1, 500);
    assert_int_equal(gk_virtio_net_send(&na, frame, 500), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_net_recv(&nb, got, 499, &n), GK_VIRTIO_ERANGE);
    assert_int_equal(nb.rx_too_long, 1);
    assert_int_equal(gk_virtio_net_send(&na, frame, 500), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_net_recv(&nb, got, 500, &n), GK_VIRTIO_OK);
    assert_false(db.broken);
}

static void test_tx_exhausted(void **state)
{
    (void)state;
    both_up();
    sa.hold = true; /* the device takes nothing */
    make(0, 60);
    for (unsigned i = 0; i < GK_VIRTIO_NET_TX_BUFS; i++)
        assert_int_equal(gk_virtio_net_send(&na, frame, 60), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_net_send(&na, frame, 60), GK_VIRTIO_EAGAIN);
    assert_int_equal(gk_virtio_net_tx_reclaim(&na), GK_VIRTIO_NET_TX_BUFS);
    sa.hold = false;
    sim_process(&sa, GK_VIRTIO_NET_QUEUE_TX);
    assert_int_equal(gk_virtio_net_tx_reclaim(&na), 0);
    assert_int_equal(gk_virtio_net_send(&na, frame, 60), GK_VIRTIO_OK);
    assert_false(da.broken);
}

/* Sets a misbehaviour of the receiving device, sends one frame: the receive
 * is an error and the device broken, and stays so. */
static void rx_broken(void)
{
    make(2, 80);
    assert_int_equal(gk_virtio_net_send(&na, frame, 80), GK_VIRTIO_OK);
    size_t n;
    assert_int_equal(gk_virtio_net_recv(&nb, got, sizeof(got), &n), GK_VIRTIO_EBROKEN);
    assert_true(db.broken);
    assert_true(sb.status & GK_VIRTIO_STATUS_FAILED);
    assert_int_equal(gk_virtio_net_recv(&nb, got, sizeof(got), &n), GK_VIRTIO_EBROKEN);
    assert_int_equal(gk_virtio_net_send(&nb, frame, 80), GK_VIRTIO_EBROKEN);
    assert_false(da.broken);
}

static void test_rx_shorter_than_header(void **state)
{
    (void)state;
    both_up();
    sb.net_short_len = true;
    rx_broken();
}

static void test_rx_gso_header(void **state)
{
    (void)state;
    both_up();
    sb.net_gso_type = 1;
    rx_broken();
}

static void test_rx_used_id_out_of_range(void **state)
{
    (void)state;
    both_up();
    sb.used_id_add = 1000;
    rx_broken();
}

static void test_rx_used_len_too_large(void **state)
{
    (void)state;
    both_up();
    sb.used_len_add = GK_VIRTIO_NET_BUF_BYTES; /* longer than the buffer */
    rx_broken();
}

static void test_tx_used_len(void **state)
{
    (void)state;
    both_up();
    sa.used_len_add = 1; /* a transmit buffer is device-readable: 0 is the only length */
    make(3, 60);
    assert_int_equal(gk_virtio_net_send(&na, frame, 60), GK_VIRTIO_OK);
    assert_int_equal(gk_virtio_net_tx_reclaim(&na), GK_VIRTIO_EBROKEN);
    assert_true(da.broken);
    assert_int_equal(gk_virtio_net_send(&na, frame, 60), GK_VIRTIO_EBROKEN);
}

static void test_no_mac_and_zero_queue(void **state)
{
    (void)state;
    sa.features &= ~(1ull << GK_VIRTIO_NET_F_MAC);
    assert_int_equal(gk_virtio_net_init(&na, &da), GK_VIRTIO_OK);
    assert_false(na.has_mac);
    sb.q[1].max_size = 0; /* no transmit queue */
    assert_int_equal(gk_virtio_net_init(&nb, &db), GK_VIRTIO_ENOTSUP);
    assert_int_equal(gk_virtio_net_send(&nb, frame, 60), GK_VIRTIO_EINVAL);
    /* A small receive queue: the pool is as large as the queue. */
    sb.q[1].max_size = 256;
    sb.q[0].max_size = 4;
    assert_int_equal(gk_virtio_net_init(&nb, &db), GK_VIRTIO_OK);
    assert_int_equal(nb.rx_count, 4);
    for (unsigned i = 0; i < 10; i++) {
        make(i, 64);
        assert_int_equal(gk_virtio_net_send(&na, frame, 64), GK_VIRTIO_OK);
        size_t n;
        assert_int_equal(gk_virtio_net_recv(&nb, got, sizeof(got), &n), GK_VIRTIO_OK);
        assert_memory_equal(got, frame, 64);
    }
}

static void test_recv_wait_interrupt_mode(void **state)
{
    (void)state;
    assert_int_equal(sim_attach_irq(&sa, &da, 2, 2), GK_VIRTIO_OK);
    assert_int_equal(sim_attach_irq(&sb, &db, 2, 2), GK_VIRTIO_OK);
    both_up();
    assert_int_equal(nb.rxq.vector, 0);
    assert_int_equal(nb.txq.vector, 1);
    size_t n;
    /* Nothing to receive: one sleep, then the deadline. */
    assert_int_equal(gk_virtio_net_recv_wait(&nb, got, sizeof(got), &n, 10000000),
                     GK_VIRTIO_EAGAIN);
    assert_int_equal(sb.waits, 1);
    /* A frame on its way: the device raises the receive vector. */
    make(1, 64);
    assert_int_equal(gk_virtio_net_send(&na, frame, 64), GK_VIRTIO_OK);
    assert_true(sb.irq_pending[0]);
    assert_int_equal(gk_virtio_net_recv_wait(&nb, got, sizeof(got), &n, 10000000), GK_VIRTIO_OK);
    assert_int_equal(n, 64);
    assert_memory_equal(got, frame, 64);
    assert_int_equal(sb.waits, 1);
    /* Polled (no vectors): the same call polls and gives up at the deadline. */
    assert_int_equal(sim_attach(&sa, &da), GK_VIRTIO_OK);
    memset(&na, 0, sizeof(na));
    assert_int_equal(gk_virtio_net_init(&na, &da), GK_VIRTIO_OK);
    assert_int_equal(na.rxq.vector, GK_VIRTIO_NO_VECTOR);
    assert_int_equal(gk_virtio_net_recv_wait(&na, got, sizeof(got), &n, 10000000),
                     GK_VIRTIO_EAGAIN);
    assert_int_equal(sa.waits, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mac_and_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_exhausted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_shorter_than_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_gso_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_used_id_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_used_len_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_used_len, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_mac_and_zero_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recv_wait_interrupt_mode, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
