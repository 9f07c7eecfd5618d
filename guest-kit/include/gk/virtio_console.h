/*
 * guest-kit virtio-console driver (virtio 1.2, 5.3) on gk/virtio_dev.h:
 * port 0 only (no VIRTIO_CONSOLE_F_MULTIPORT, no control queues, no
 * console size). Writes are synchronous (each chunk waits for the device);
 * reads take what is in the receive buffers without waiting, or wait for
 * input (gk_virtio_console_read_wait). Completion is polled, or
 * interrupt-driven when the transport set up vectors (gk/virtio_dev.h).
 *
 * Hostile device: used ids and lengths are checked by the virtqueue (a
 * receive length never exceeds the buffer, a transmit length must be 0).
 */
#ifndef GK_VIRTIO_CONSOLE_H
#define GK_VIRTIO_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "gk/virtio_dev.h"

#define GK_VIRTIO_CONSOLE_QUEUE_RX 0u
#define GK_VIRTIO_CONSOLE_QUEUE_TX 1u
#define GK_VIRTIO_CONSOLE_RX_BUFS 4u
#define GK_VIRTIO_CONSOLE_RX_BUF_BYTES 1024u /* four per DMA page */

struct gk_virtio_console {
    struct gk_virtio_dev *dev;
    struct gk_virtio_queue rxq, txq;
    uint8_t *tx_va; /* one page */
    uint64_t tx_addr;
    unsigned rx_count;
    uint8_t *rx_va[GK_VIRTIO_CONSOLE_RX_BUFS];
    uint64_t rx_addr[GK_VIRTIO_CONSOLE_RX_BUFS];
    int cur;          /* receive buffer being consumed, -1: none */
    uint32_t cur_len; /* bytes the device wrote into it */
    uint32_t cur_off; /* bytes already returned */
};

/* Brings dev up as a console, sets up both queues of port 0, posts the
 * receive buffers, DRIVER_OK. *c must start zeroed. */
int gk_virtio_console_init(struct gk_virtio_console *c, struct gk_virtio_dev *dev);

/* Writes len bytes (in chunks of a page, each waited for). */
int gk_virtio_console_write(struct gk_virtio_console *c, const void *buf, size_t len);

/* Copies up to `max` received bytes into buf, *got says how many;
 * GK_VIRTIO_EAGAIN if nothing was received. */
int gk_virtio_console_read(struct gk_virtio_console *c, void *buf, size_t max, size_t *got);

/* gk_virtio_console_read, waiting up to timeout_ns for the first byte
 * (asleep in interrupt mode). GK_VIRTIO_EAGAIN if nothing came in time. */
int gk_virtio_console_read_wait(struct gk_virtio_console *c, void *buf, size_t max, size_t *got,
                                uint64_t timeout_ns);

#endif
