/*
 * guest-kit virtio-net driver (gk/virtio_net.h). Receive buffers are
 * device-writable chains of one 2 KiB buffer (header then frame); transmit
 * buffers are device-readable chains of one buffer. A chain's token points
 * into the driver's own arrays, so the buffer index comes from private
 * memory, never from the device.
 */
#include <string.h>

#include "gk/virtio_net.h"

static int post_rx(struct gk_virtio_net *n, unsigned i)
{
    struct gk_vq_buf buf = {n->rx_addr[i], GK_VIRTIO_NET_BUF_BYTES};
    if (gk_vq_add(&n->rxq.vq, &buf, 0, 1, &n->rx_va[i]) != GK_VQ_OK) {
        gk_virtio_dev_fail(n->dev, "receive queue refused a buffer");
        return GK_VIRTIO_EBROKEN;
    }
    return GK_VIRTIO_OK;
}

/* Carves `count` 2 KiB buffers out of DMA pages (two per page). */
static int alloc_bufs(struct gk_virtio_dev *dev, uint8_t **va, uint64_t *addr, unsigned count)
{
    for (unsigned i = 0; i < count; i += 2) {
        if (va[i])
            continue; /* kept from an earlier init */
        void *p;
        uint64_t a;
        if (gk_virtio_dma_page(dev, &p, &a) != GK_VIRTIO_OK)
            return GK_VIRTIO_ENOMEM;
        va[i] = p;
        addr[i] = a;
        if (i + 1 < count) {
            va[i + 1] = (uint8_t *)p + GK_VIRTIO_NET_BUF_BYTES;
            addr[i + 1] = a + GK_VIRTIO_NET_BUF_BYTES;
        }
    }
    return GK_VIRTIO_OK;
}

int gk_virtio_net_init(struct gk_virtio_net *n, struct gk_virtio_dev *dev)
{
    n->dev = dev;
    int rc = gk_virtio_dev_negotiate(dev, 1ull << GK_VIRTIO_NET_F_MAC, 0);
    if (rc == GK_VIRTIO_OK)
        rc = gk_virtio_queue_setup(dev, &n->rxq, GK_VIRTIO_NET_QUEUE_RX, GK_VIRTIO_NET_RX_BUFS);
    if (rc == GK_VIRTIO_OK)
        rc = gk_virtio_queue_setup(dev, &n->txq, GK_VIRTIO_NET_QUEUE_TX, GK_VIRTIO_NET_TX_BUFS);
    if (rc != GK_VIRTIO_OK)
        return rc;
    n->rx_count = n->rxq.size;
    n->tx_count = n->txq.size;
    if (alloc_bufs(dev, n->rx_va, n->rx_addr, GK_VIRTIO_NET_RX_BUFS) != GK_VIRTIO_OK ||
        alloc_bufs(dev, n->tx_va, n->tx_addr, GK_VIRTIO_NET_TX_BUFS) != GK_VIRTIO_OK)
        return GK_VIRTIO_ENOMEM;
    memset(n->tx_busy, 0, sizeof(n->tx_busy));
    n->has_mac = gk_virtio_dev_has(dev, GK_VIRTIO_NET_F_MAC);
    if (n->has_mac) {
        for (unsigned i = 0; i < 6; i++) {
            uint64_t v;
            rc = gk_virtio_config_read(dev, i, 1, &v);
            if (rc != GK_VIRTIO_OK)
                return rc;
            n->mac[i] = (uint8_t)v;
        }
    }
    for (unsigned i = 0; i < n->rx_count; i++)
        if ((rc = post_rx(n, i)) != GK_VIRTIO_OK)
            return rc;
    rc = gk_virtio_dev_ready(dev);
    if (rc != GK_VIRTIO_OK)
        return rc;
    gk_virtio_kick(dev, &n->rxq);
    return GK_VIRTIO_OK;
}

int gk_virtio_net_tx_reclaim(struct gk_virtio_net *n)
{
    if (!n->dev || !n->txq.ready)
        return GK_VIRTIO_EINVAL;
    for (;;) {
        void *token;
        int rc = gk_virtio_poll_used(n->dev, &n->txq, &token, NULL);
        if (rc == GK_VIRTIO_EAGAIN)
            break;
        if (rc != GK_VIRTIO_OK)
            return rc;
        size_t i = (size_t)((uint8_t **)token - n->tx_va);
        if (i >= n->tx_count || !n->tx_busy[i]) {
            gk_virtio_dev_fail(n->dev, "transmit token not in flight"); /* cannot happen */
            return GK_VIRTIO_EBROKEN;
        }
        n->tx_busy[i] = false;
    }
    int busy = 0;
    for (unsigned i = 0; i < n->tx_count; i++)
        busy += n->tx_busy[i];
    return busy;
}

int gk_virtio_net_send(struct gk_virtio_net *n, const void *frame, size_t len)
{
    if (!n->dev || !n->txq.ready || !frame)
        return GK_VIRTIO_EINVAL;
    if (len < GK_VIRTIO_NET_FRAME_MIN || len > GK_VIRTIO_NET_FRAME_MAX)
        return GK_VIRTIO_ERANGE;
    int rc = gk_virtio_net_tx_reclaim(n);
    if (rc < 0)
        return rc;
    unsigned i = 0;
    while (i < n->tx_count && n->tx_busy[i])
        i++;
    if (i == n->tx_count)
        return GK_VIRTIO_EAGAIN;
    memset(n->tx_va[i], 0, GK_VIRTIO_NET_HDR_BYTES);
    memcpy(n->tx_va[i] + GK_VIRTIO_NET_HDR_BYTES, frame, len);
    struct gk_vq_buf buf = {n->tx_addr[i], (uint32_t)(GK_VIRTIO_NET_HDR_BYTES + len)};
    if (gk_vq_add(&n->txq.vq, &buf, 1, 0, &n->tx_va[i]) != GK_VQ_OK) {
        gk_virtio_dev_fail(n->dev, "transmit queue refused a buffer");
        return GK_VIRTIO_EBROKEN;
    }
    n->tx_busy[i] = true;
    n->tx_frames++;
    gk_virtio_kick(n->dev, &n->txq);
    return GK_VIRTIO_OK;
}

int gk_virtio_net_recv(struct gk_virtio_net *n, void *buf, size_t cap, size_t *len)
{
    if (!n->dev || !n->rxq.ready || !buf || !len)
        return GK_VIRTIO_EINVAL;
    void *token;
    uint32_t used_len;
    int rc = gk_virtio_poll_used(n->dev, &n->rxq, &token, &used_len);
    if (rc != GK_VIRTIO_OK)
        return rc;
    size_t i = (size_t)((uint8_t **)token - n->rx_va);
    if (i >= n->rx_count) {
        gk_virtio_dev_fail(n->dev, "receive token out of range"); /* cannot happen */
        return GK_VIRTIO_EBROKEN;
    }
    struct gk_virtio_net_hdr h;
    memcpy(&h, n->rx_va[i], sizeof(h));
    /* num_buffers is not looked at: without MRG_RXBUF a frame is one buffer
     * (QEMU leaves the field as it was, as Linux expects). */
    if (used_len < GK_VIRTIO_NET_HDR_BYTES || h.gso_type != 0) {
        gk_virtio_dev_fail(n->dev, "received a short buffer or a header with GSO");
        return GK_VIRTIO_EBROKEN;
    }
    size_t frame_len = used_len - GK_VIRTIO_NET_HDR_BYTES;
    if (frame_len > cap) {
        n->rx_too_long++;
        rc = GK_VIRTIO_ERANGE;
    } else {
        memcpy(buf, n->rx_va[i] + GK_VIRTIO_NET_HDR_BYTES, frame_len);
        *len = frame_len;
        n->rx_frames++;
    }
    int prc = post_rx(n, (unsigned)i);
    if (prc != GK_VIRTIO_OK)
        return prc;
    gk_virtio_kick(n->dev, &n->rxq);
    return rc;
}

struct recv_args {
    struct gk_virtio_net *n;
    void *buf;
    size_t cap;
    size_t *len;
};

static int recv_attempt(void *ctx)
{
    struct recv_args *a = ctx;
    return gk_virtio_net_recv(a->n, a->buf, a->cap, a->len);
}

int gk_virtio_net_recv_wait(struct gk_virtio_net *n, void *buf, size_t cap, size_t *len,
                            uint64_t timeout_ns)
{
    if (!n->dev)
        return GK_VIRTIO_EINVAL;
    struct recv_args a = {n, buf, cap, len};
    return gk_virtio_wait_for(n->dev, &n->rxq, timeout_ns, recv_attempt, &a);
}
