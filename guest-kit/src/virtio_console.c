/*
 * guest-kit virtio-console driver, port 0 (gk/virtio_console.h). Receive
 * buffers are device-writable 1 KiB chains; a used one is consumed by
 * gk_virtio_console_read across calls and posted again when empty.
 */
#include <string.h>

#include "gk/virtio_console.h"

static int post_rx(struct gk_virtio_console *c, unsigned i)
{
    struct gk_vq_buf buf = {c->rx_addr[i], GK_VIRTIO_CONSOLE_RX_BUF_BYTES};
    if (gk_vq_add(&c->rxq.vq, &buf, 0, 1, &c->rx_va[i]) != GK_VQ_OK) {
        gk_virtio_dev_fail(c->dev, "console receive queue refused a buffer");
        return GK_VIRTIO_EBROKEN;
    }
    return GK_VIRTIO_OK;
}

int gk_virtio_console_init(struct gk_virtio_console *c, struct gk_virtio_dev *dev)
{
    c->dev = dev;
    c->cur = -1;
    int rc = gk_virtio_dev_negotiate(dev, 0, 0);
    if (rc == GK_VIRTIO_OK)
        rc = gk_virtio_queue_setup(dev, &c->rxq, GK_VIRTIO_CONSOLE_QUEUE_RX,
                                   GK_VIRTIO_CONSOLE_RX_BUFS);
    if (rc == GK_VIRTIO_OK)
        rc = gk_virtio_queue_setup(dev, &c->txq, GK_VIRTIO_CONSOLE_QUEUE_TX, 1);
    if (rc != GK_VIRTIO_OK)
        return rc;
    if (!c->tx_va) {
        void *p;
        if (gk_virtio_dma_page(dev, &p, &c->tx_addr) != GK_VIRTIO_OK)
            return GK_VIRTIO_ENOMEM;
        c->tx_va = p;
    }
    if (!c->rx_va[0]) {
        void *p;
        uint64_t a;
        if (gk_virtio_dma_page(dev, &p, &a) != GK_VIRTIO_OK)
            return GK_VIRTIO_ENOMEM;
        for (unsigned i = 0; i < GK_VIRTIO_CONSOLE_RX_BUFS; i++) {
            c->rx_va[i] = (uint8_t *)p + i * GK_VIRTIO_CONSOLE_RX_BUF_BYTES;
            c->rx_addr[i] = a + i * GK_VIRTIO_CONSOLE_RX_BUF_BYTES;
        }
    }
    c->rx_count = c->rxq.size;
    for (unsigned i = 0; i < c->rx_count; i++)
        if ((rc = post_rx(c, i)) != GK_VIRTIO_OK)
            return rc;
    rc = gk_virtio_dev_ready(dev);
    if (rc != GK_VIRTIO_OK)
        return rc;
    gk_virtio_kick(dev, &c->rxq);
    return GK_VIRTIO_OK;
}

int gk_virtio_console_write(struct gk_virtio_console *c, const void *buf, size_t len)
{
    if (!c->dev || !c->txq.ready || (!buf && len))
        return GK_VIRTIO_EINVAL;
    if (c->dev->broken)
        return GK_VIRTIO_EBROKEN;
    for (size_t done = 0; done < len;) {
        size_t chunk = len - done < GK_VIRTIO_PAGE_BYTES ? len - done : GK_VIRTIO_PAGE_BYTES;
        memcpy(c->tx_va, (const uint8_t *)buf + done, chunk);
        struct gk_vq_buf b = {c->tx_addr, (uint32_t)chunk};
        if (gk_vq_add(&c->txq.vq, &b, 1, 0, &c->tx_va) != GK_VQ_OK) {
            gk_virtio_dev_fail(c->dev, "console transmit queue unexpectedly full");
            return GK_VIRTIO_EBROKEN;
        }
        gk_virtio_kick(c->dev, &c->txq);
        void *token;
        int rc = gk_virtio_wait_used(c->dev, &c->txq, &token, NULL, GK_VIRTIO_TIMEOUT_NS);
        if (rc != GK_VIRTIO_OK)
            return rc;
        done += chunk;
    }
    return GK_VIRTIO_OK;
}

int gk_virtio_console_read(struct gk_virtio_console *c, void *buf, size_t max, size_t *got)
{
    if (!c->dev || !c->rxq.ready || !buf || !got || max == 0)
        return GK_VIRTIO_EINVAL;
    *got = 0;
    while (*got < max) {
        if (c->cur < 0) {
            void *token;
            uint32_t len;
            int rc = gk_virtio_poll_used(c->dev, &c->rxq, &token, &len);
            if (rc == GK_VIRTIO_EAGAIN)
                break;
            if (rc != GK_VIRTIO_OK)
                return rc;
            size_t i = (size_t)((uint8_t **)token - c->rx_va);
            if (i >= c->rx_count) {
                gk_virtio_dev_fail(c->dev, "console token out of range"); /* cannot happen */
                return GK_VIRTIO_EBROKEN;
            }
            c->cur = (int)i;
            c->cur_len = len; /* <= the buffer: checked by the virtqueue */
            c->cur_off = 0;
        }
        size_t n = c->cur_len - c->cur_off;
        if (n > max - *got)
            n = max - *got;
        memcpy((uint8_t *)buf + *got, c->rx_va[c->cur] + c->cur_off, n);
        *got += n;
        c->cur_off += (uint32_t)n;
        if (c->cur_off == c->cur_len) {
            int rc = post_rx(c, (unsigned)c->cur);
            c->cur = -1;
            if (rc != GK_VIRTIO_OK)
                return rc;
            gk_virtio_kick(c->dev, &c->rxq);
        }
    }
    return *got ? GK_VIRTIO_OK : GK_VIRTIO_EAGAIN;
}

struct read_args {
    struct gk_virtio_console *c;
    void *buf;
    size_t max;
    size_t *got;
};

static int read_attempt(void *ctx)
{
    struct read_args *a = ctx;
    return gk_virtio_console_read(a->c, a->buf, a->max, a->got);
}

int gk_virtio_console_read_wait(struct gk_virtio_console *c, void *buf, size_t max, size_t *got,
                                uint64_t timeout_ns)
{
    if (!c->dev)
        return GK_VIRTIO_EINVAL;
    struct read_args a = {c, buf, max, got};
    return gk_virtio_wait_for(c->dev, &c->rxq, timeout_ns, read_attempt, &a);
}
