/*
 * guest-kit virtio-net driver (virtio 1.2, 5.1) on gk/virtio_dev.h: the MAC
 * address from the device configuration, transmit and receive of Ethernet
 * frames with the 12-byte virtio_net_hdr (VERSION_1 layout), a pool of
 * receive buffers kept posted. No offloads (no checksum, GSO or mergeable
 * buffers are negotiated), no control queue, one queue pair. Completion is
 * polled, or interrupt-driven when the transport set up vectors
 * (gk/virtio_dev.h): gk_virtio_net_recv_wait then sleeps until a frame
 * comes.
 *
 * Buffers are the driver's own DMA pages, two 2 KiB buffers per page; frames
 * are copied in and out.
 *
 * Hostile device: a receive length shorter than the header or a header with
 * a GSO type (no GSO was negotiated) marks the device broken; used ids and
 * lengths are checked by the virtqueue. num_buffers is ignored (one buffer
 * per frame without VIRTIO_NET_F_MRG_RXBUF; QEMU does not set it then).
 */
#ifndef GK_VIRTIO_NET_H
#define GK_VIRTIO_NET_H

#include <stddef.h>
#include <stdint.h>

#include "gk/virtio_dev.h"

#define GK_VIRTIO_NET_F_MAC 5u
#define GK_VIRTIO_NET_HDR_BYTES 12u
#define GK_VIRTIO_NET_FRAME_MIN 14u   /* an Ethernet header */
#define GK_VIRTIO_NET_FRAME_MAX 1514u /* without FCS, no VLAN tag */
#define GK_VIRTIO_NET_BUF_BYTES 2048u
#define GK_VIRTIO_NET_RX_BUFS 32u
#define GK_VIRTIO_NET_TX_BUFS 16u
#define GK_VIRTIO_NET_QUEUE_RX 0u
#define GK_VIRTIO_NET_QUEUE_TX 1u

/* virtio 5.1.6 with VERSION_1 (num_buffers always present). */
struct gk_virtio_net_hdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
    uint16_t num_buffers;
};
_Static_assert(sizeof(struct gk_virtio_net_hdr) == GK_VIRTIO_NET_HDR_BYTES, "virtio 5.1.6");

struct gk_virtio_net {
    struct gk_virtio_dev *dev;
    struct gk_virtio_queue rxq, txq;
    uint8_t mac[6];
    bool has_mac;
    unsigned rx_count; /* receive buffers in the pool (<= rx queue size) */
    unsigned tx_count; /* transmit buffers (<= tx queue size) */
    uint8_t *rx_va[GK_VIRTIO_NET_RX_BUFS];
    uint64_t rx_addr[GK_VIRTIO_NET_RX_BUFS];
    uint8_t *tx_va[GK_VIRTIO_NET_TX_BUFS];
    uint64_t tx_addr[GK_VIRTIO_NET_TX_BUFS];
    bool tx_busy[GK_VIRTIO_NET_TX_BUFS];
    uint64_t rx_frames, tx_frames, rx_too_long;
};

/* Brings dev up as a network device (MAC if offered), sets up the receive
 * and transmit queues, posts the receive pool, DRIVER_OK. *n must start
 * zeroed. */
int gk_virtio_net_init(struct gk_virtio_net *n, struct gk_virtio_dev *dev);

/* Queues one frame (GK_VIRTIO_NET_FRAME_MIN..MAX bytes) for transmission
 * after reclaiming finished ones. GK_VIRTIO_EAGAIN if every transmit
 * buffer is still in flight; GK_VIRTIO_ERANGE for a bad length. */
int gk_virtio_net_send(struct gk_virtio_net *n, const void *frame, size_t len);

/* Reclaims transmit buffers the device has finished with; returns how many
 * are still in flight, or GK_VIRTIO_EBROKEN. */
int gk_virtio_net_tx_reclaim(struct gk_virtio_net *n);

/* Takes one received frame without waiting: copies it (without the header)
 * into buf and sets *len. GK_VIRTIO_EAGAIN if none; GK_VIRTIO_ERANGE if it
 * does not fit in `cap` bytes (the frame is dropped). The buffer is posted
 * again in every case. */
int gk_virtio_net_recv(struct gk_virtio_net *n, void *buf, size_t cap, size_t *len);

/* gk_virtio_net_recv, waiting up to timeout_ns for a frame (asleep in
 * interrupt mode, polling otherwise). GK_VIRTIO_EAGAIN if none came in
 * time (without a clock: after GK_VIRTIO_POLLS_MAX looks). */
int gk_virtio_net_recv_wait(struct gk_virtio_net *n, void *buf, size_t cap, size_t *len,
                            uint64_t timeout_ns);

#endif
