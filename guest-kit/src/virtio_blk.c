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

/* ---- Asynchronous requests ------------------------------------------------- */

#define ASYNC_SLOT_BYTES 64u
#define ASYNC_STATUS_OFFSET 16u
_Static_assert(GK_VIRTIO_BLK_ASYNC_MAX *ASYNC_SLOT_BYTES <= GK_VIRTIO_PAGE_BYTES,
               "the slots fill one DMA page");
_Static_assert(GK_VIRTIO_BLK_ASYNC_MAX <= 64, "async_busy is a 64-bit map");

int gk_virtio_blk_submit(struct gk_virtio_blk *b, uint32_t type, uint64_t sector,
                         const struct gk_virtio_blk_seg *segs, uint32_t seg_count, uint64_t cookie)
{
    if (!b->dev || !b->q.ready)
        return GK_VIRTIO_EINVAL;
    if (b->dev->broken)
        return GK_VIRTIO_EBROKEN;
    uint64_t bytes = 0;
    if (type == GK_VIRTIO_BLK_T_FLUSH) {
        if (seg_count != 0 || !b->has_flush)
            return GK_VIRTIO_EINVAL;
    } else if (type == GK_VIRTIO_BLK_T_IN || type == GK_VIRTIO_BLK_T_OUT) {
        if (!segs || seg_count == 0 || seg_count > GK_VIRTIO_BLK_SEGS_MAX)
            return GK_VIRTIO_EINVAL;
        for (uint32_t i = 0; i < seg_count; i++) {
            if (segs[i].len == 0)
                return GK_VIRTIO_EINVAL;
            bytes += segs[i].len;
        }
        if (bytes % GK_VIRTIO_BLK_SECTOR_BYTES != 0 || bytes > UINT32_MAX)
            return GK_VIRTIO_EINVAL;
        uint64_t count = bytes / GK_VIRTIO_BLK_SECTOR_BYTES;
        if (sector > b->capacity_sectors || count > b->capacity_sectors - sector)
            return GK_VIRTIO_ERANGE;
        if (type == GK_VIRTIO_BLK_T_OUT && b->read_only)
            return GK_VIRTIO_EINVAL;
    } else {
        return GK_VIRTIO_EINVAL;
    }
    if (!b->async_va && gk_virtio_dma_page(b->dev, &b->async_va, &b->async_addr) != GK_VIRTIO_OK)
        return GK_VIRTIO_ENOMEM;
    if (b->async_inflight >= GK_VIRTIO_BLK_ASYNC_MAX || seg_count + 2u > b->q.size)
        return GK_VIRTIO_EAGAIN;
    uint32_t slot = 0;
    while (b->async_busy & (1ull << slot))
        slot++;
    uint8_t *base = (uint8_t *)b->async_va + slot * ASYNC_SLOT_BYTES;
    uint64_t addr = b->async_addr + slot * ASYNC_SLOT_BYTES;
    *(struct gk_virtio_blk_req_hdr *)base =
        (struct gk_virtio_blk_req_hdr){.type = type, .sector = sector};
    base[ASYNC_STATUS_OFFSET] = STATUS_UNSET;
    struct gk_vq_buf bufs[GK_VIRTIO_BLK_SEGS_MAX + 2];
    unsigned n = 0;
    bufs[n++] = (struct gk_vq_buf){addr, sizeof(struct gk_virtio_blk_req_hdr)};
    for (uint32_t i = 0; i < seg_count; i++)
        bufs[n++] = (struct gk_vq_buf){segs[i].addr, segs[i].len};
    bufs[n++] = (struct gk_vq_buf){addr + ASYNC_STATUS_OFFSET, 1};
    unsigned out_count = type == GK_VIRTIO_BLK_T_IN ? 1u : n - 1u;
    /* The token names the slot: the address of its cookie. */
    if (gk_vq_add(&b->q.vq, bufs, out_count, n - out_count, &b->async_cookie[slot]) != GK_VQ_OK)
        return GK_VIRTIO_EAGAIN; /* no room for the chain now */
    b->async_busy |= 1ull << slot;
    b->async_inflight++;
    b->async_cookie[slot] = cookie;
    b->async_bytes[slot] = (uint32_t)bytes;
    b->async_type[slot] = (uint8_t)type;
    b->requests++;
    return GK_VIRTIO_OK;
}

void gk_virtio_blk_kick(struct gk_virtio_blk *b)
{
    if (b->dev && b->q.ready && !b->dev->broken)
        gk_virtio_kick(b->dev, &b->q);
}

int gk_virtio_blk_reap(struct gk_virtio_blk *b, uint64_t *cookie, int *result)
{
    if (!b->dev || !b->q.ready)
        return GK_VIRTIO_EINVAL;
    void *token = NULL;
    uint32_t len = 0;
    int rc = gk_virtio_poll_used(b->dev, &b->q, &token, &len);
    if (rc != GK_VIRTIO_OK)
        return rc;
    uintptr_t t = (uintptr_t)token, first = (uintptr_t)&b->async_cookie[0];
    uint32_t slot = (uint32_t)((t - first) / sizeof b->async_cookie[0]);
    if (t < first || (t - first) % sizeof b->async_cookie[0] != 0 ||
        slot >= GK_VIRTIO_BLK_ASYNC_MAX || !(b->async_busy & (1ull << slot))) {
        gk_virtio_dev_fail(b->dev, "block completion for no request in flight");
        return GK_VIRTIO_EBROKEN;
    }
    const volatile uint8_t *status =
        (uint8_t *)b->async_va + slot * ASYNC_SLOT_BYTES + ASYNC_STATUS_OFFSET;
    uint8_t s = *status;
    if (s != GK_VIRTIO_BLK_S_OK && s != GK_VIRTIO_BLK_S_IOERR && s != GK_VIRTIO_BLK_S_UNSUPP) {
        gk_virtio_dev_fail(b->dev, "block status byte not OK, IOERR or UNSUPP");
        return GK_VIRTIO_EBROKEN;
    }
    if (len == 0 || (s == GK_VIRTIO_BLK_S_OK && b->async_type[slot] == GK_VIRTIO_BLK_T_IN &&
                     len != b->async_bytes[slot] + 1u)) {
        gk_virtio_dev_fail(b->dev, "block used length does not cover the data and status");
        return GK_VIRTIO_EBROKEN;
    }
    b->async_busy &= ~(1ull << slot);
    b->async_inflight--;
    *cookie = b->async_cookie[slot];
    if (s != GK_VIRTIO_BLK_S_OK)
        b->io_errors++;
    *result = s == GK_VIRTIO_BLK_S_OK ? GK_VIRTIO_OK : GK_VIRTIO_EIO;
    return GK_VIRTIO_OK;
}

bool gk_virtio_blk_arm(struct gk_virtio_blk *b)
{
    return gk_vq_enable_cb(&b->q.vq) == false;
}
