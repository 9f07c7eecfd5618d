/*
 * guest-kit virtio-blk driver (gk/virtio_blk.h). A request is a chain of the
 * 16-byte header (device-readable), the data pages (readable for a write,
 * writable for a read, absent for a flush) and the status byte (writable).
 */
#include <string.h>

#include "gk/virtio_blk.h"

#define STATUS_OFFSET 64u
#define STATUS_UNSET 0xffu
#define SECTORS_PER_PAGE (GK_VIRTIO_PAGE_BYTES / GK_VIRTIO_BLK_SECTOR_BYTES)

int gk_virtio_blk_init(struct gk_virtio_blk *b, struct gk_virtio_dev *dev)
{
    b->dev = dev;
    int rc = gk_virtio_dev_negotiate(
        dev, (1ull << GK_VIRTIO_BLK_F_RO) | (1ull << GK_VIRTIO_BLK_F_FLUSH), 0);
    if (rc != GK_VIRTIO_OK)
        return rc;
    rc = gk_virtio_queue_setup(dev, &b->q, 0, GK_VIRTIO_QUEUE_SIZE_MAX);
    if (rc != GK_VIRTIO_OK)
        return rc;
    if (b->q.size < 3) {
        gk_virtio_dev_fail(dev, "block queue too small for a request");
        return GK_VIRTIO_ENOTSUP;
    }
    b->data_pages =
        b->q.size - 2u < GK_VIRTIO_BLK_DATA_PAGES ? b->q.size - 2u : GK_VIRTIO_BLK_DATA_PAGES;
    if (!b->hdr_va && gk_virtio_dma_page(dev, &b->hdr_va, &b->hdr_addr) != GK_VIRTIO_OK)
        return GK_VIRTIO_ENOMEM;
    for (unsigned i = 0; i < b->data_pages; i++)
        if (!b->data_va[i] &&
            gk_virtio_dma_page(dev, &b->data_va[i], &b->data_addr[i]) != GK_VIRTIO_OK)
            return GK_VIRTIO_ENOMEM;
    b->read_only = gk_virtio_dev_has(dev, GK_VIRTIO_BLK_F_RO);
    b->has_flush = gk_virtio_dev_has(dev, GK_VIRTIO_BLK_F_FLUSH);
    rc = gk_virtio_dev_ready(dev);
    if (rc != GK_VIRTIO_OK)
        return rc;
    return gk_virtio_config_read(dev, 0, 8, &b->capacity_sectors);
}

/* Sends one request of `sectors` sectors (<= data_pages * 8) whose data is
 * already in (write) or goes to (read) the bounce pages, and waits for it. */
static int blk_request(struct gk_virtio_blk *b, uint32_t type, uint64_t sector, uint32_t sectors)
{
    struct gk_vq_buf bufs[GK_VIRTIO_BLK_DATA_PAGES + 2];
    unsigned n = 0;
    struct gk_virtio_blk_req_hdr *h = b->hdr_va;
    volatile uint8_t *status = (uint8_t *)b->hdr_va + STATUS_OFFSET;
    *h = (struct gk_virtio_blk_req_hdr){.type = type, .sector = sector};
    *status = STATUS_UNSET;
    bufs[n++] = (struct gk_vq_buf){b->hdr_addr, sizeof(*h)};
    uint32_t bytes = sectors * GK_VIRTIO_BLK_SECTOR_BYTES;
    for (uint32_t done = 0, p = 0; done < bytes; done += GK_VIRTIO_PAGE_BYTES, p++) {
        uint32_t chunk = bytes - done < GK_VIRTIO_PAGE_BYTES ? bytes - done : GK_VIRTIO_PAGE_BYTES;
        bufs[n++] = (struct gk_vq_buf){b->data_addr[p], chunk};
    }
    bufs[n++] = (struct gk_vq_buf){b->hdr_addr + STATUS_OFFSET, 1};
    unsigned out_count = type == GK_VIRTIO_BLK_T_IN ? 1u : n - 1u;
    int rc = gk_vq_add(&b->q.vq, bufs, out_count, n - out_count, b);
    if (rc != GK_VQ_OK) {
        /* One request at a time: the queue is empty unless the device broke it. */
        gk_virtio_dev_fail(b->dev, "block queue unexpectedly full");
        return GK_VIRTIO_EBROKEN;
    }
    gk_virtio_kick(b->dev, &b->q);
    b->requests++;
    void *token = NULL;
    uint32_t len = 0;
    rc = gk_virtio_wait_used(b->dev, &b->q, &token, &len, GK_VIRTIO_TIMEOUT_NS);
    if (rc != GK_VIRTIO_OK)
        return rc;
    if (token != b) {
        gk_virtio_dev_fail(b->dev, "block completion for another request");
        return GK_VIRTIO_EBROKEN;
    }
    uint8_t s = *status;
    if (s != GK_VIRTIO_BLK_S_OK && s != GK_VIRTIO_BLK_S_IOERR && s != GK_VIRTIO_BLK_S_UNSUPP) {
        gk_virtio_dev_fail(b->dev, "block status byte not OK, IOERR or UNSUPP");
        return GK_VIRTIO_EBROKEN;
    }
    if (len == 0 || (s == GK_VIRTIO_BLK_S_OK && type == GK_VIRTIO_BLK_T_IN && len != bytes + 1)) {
        gk_virtio_dev_fail(b->dev, "block used length does not cover the data and status");
        return GK_VIRTIO_EBROKEN;
    }
    if (s != GK_VIRTIO_BLK_S_OK) {
        b->io_errors++;
        return GK_VIRTIO_EIO;
    }
    return GK_VIRTIO_OK;
}

static int blk_check(struct gk_virtio_blk *b, uint64_t sector, const void *buf, uint32_t count)
{
    if (!b->dev || !b->q.ready)
        return GK_VIRTIO_EINVAL;
    if (b->dev->broken)
        return GK_VIRTIO_EBROKEN;
    if (!buf || count == 0)
        return GK_VIRTIO_EINVAL;
    if (sector > b->capacity_sectors || count > b->capacity_sectors - sector)
        return GK_VIRTIO_ERANGE;
    return GK_VIRTIO_OK;
}

int gk_virtio_blk_read(struct gk_virtio_blk *b, uint64_t sector, void *buf, uint32_t count)
{
    int rc = blk_check(b, sector, buf, count);
    uint32_t max = b->data_pages * SECTORS_PER_PAGE;
    for (uint32_t done = 0; rc == GK_VIRTIO_OK && done < count;) {
        uint32_t n = count - done < max ? count - done : max;
        rc = blk_request(b, GK_VIRTIO_BLK_T_IN, sector + done, n);
        if (rc != GK_VIRTIO_OK)
            break;
        uint8_t *dst = (uint8_t *)buf + (size_t)done * GK_VIRTIO_BLK_SECTOR_BYTES;
        for (uint32_t p = 0; p * SECTORS_PER_PAGE < n; p++) {
            uint32_t s = n - p * SECTORS_PER_PAGE;
            if (s > SECTORS_PER_PAGE)
                s = SECTORS_PER_PAGE;
            memcpy(dst + (size_t)p * GK_VIRTIO_PAGE_BYTES, b->data_va[p],
                   (size_t)s * GK_VIRTIO_BLK_SECTOR_BYTES);
        }
        done += n;
    }
    return rc;
}

int gk_virtio_blk_write(struct gk_virtio_blk *b, uint64_t sector, const void *buf, uint32_t count)
{
    int rc = blk_check(b, sector, buf, count);
    if (rc == GK_VIRTIO_OK && b->read_only)
        return GK_VIRTIO_EINVAL;
    uint32_t max = b->data_pages * SECTORS_PER_PAGE;
    for (uint32_t done = 0; rc == GK_VIRTIO_OK && done < count;) {
        uint32_t n = count - done < max ? count - done : max;
        const uint8_t *src = (const uint8_t *)buf + (size_t)done * GK_VIRTIO_BLK_SECTOR_BYTES;
        for (uint32_t p = 0; p * SECTORS_PER_PAGE < n; p++) {
            uint32_t s = n - p * SECTORS_PER_PAGE;
            if (s > SECTORS_PER_PAGE)
                s = SECTORS_PER_PAGE;
            memcpy(b->data_va[p], src + (size_t)p * GK_VIRTIO_PAGE_BYTES,
                   (size_t)s * GK_VIRTIO_BLK_SECTOR_BYTES);
        }
        rc = blk_request(b, GK_VIRTIO_BLK_T_OUT, sector + done, n);
        done += n;
    }
    return rc;
}

int gk_virtio_blk_flush(struct gk_virtio_blk *b)
{
    if (!b->dev || !b->q.ready)
        return GK_VIRTIO_EINVAL;
    if (b->dev->broken)
        return GK_VIRTIO_EBROKEN;
    if (!b->has_flush)
        return GK_VIRTIO_ENOTSUP;
    return blk_request(b, GK_VIRTIO_BLK_T_FLUSH, 0, 0);
}
