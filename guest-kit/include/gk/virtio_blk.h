/*
 * guest-kit virtio-blk driver (virtio 1.2, 5.2) on gk/virtio_dev.h: reads
 * and writes 512-byte sectors, flushes if the device offers
 * VIRTIO_BLK_F_FLUSH, capacity from the device configuration. Two ways:
 * the synchronous calls (one request at a time, through bounce pages,
 * waiting for completion), and the asynchronous ones (gk_virtio_blk_submit,
 * gk_virtio_blk_reap: up to GK_VIRTIO_BLK_ASYNC_MAX requests in flight,
 * data at device addresses the caller gives, no copy; blkback's data path).
 * The two must not be mixed: a synchronous call needs no asynchronous
 * request in flight (it would harvest one and fail the device).
 *
 * Data goes through the driver's own DMA pages (bounce buffers): the
 * caller's buffer may be anywhere and its frames need not be
 * machine-contiguous. A request larger than GK_VIRTIO_BLK_DATA_PAGES pages
 * is split.
 *
 * Hostile device: the capacity is whatever the device says, but every
 * request is checked against it (no wrap); a status byte other than OK,
 * IOERR or UNSUPP, a status never written, or a read whose used length is
 * not the data plus the status byte marks the device broken.
 */
#ifndef GK_VIRTIO_BLK_H
#define GK_VIRTIO_BLK_H

#include <stddef.h>
#include <stdint.h>

#include "gk/virtio_dev.h"

#define GK_VIRTIO_BLK_SECTOR_BYTES 512u
#define GK_VIRTIO_BLK_F_RO 5u
#define GK_VIRTIO_BLK_F_FLUSH 9u
#define GK_VIRTIO_BLK_T_IN 0u
#define GK_VIRTIO_BLK_T_OUT 1u
#define GK_VIRTIO_BLK_T_FLUSH 4u
#define GK_VIRTIO_BLK_S_OK 0u
#define GK_VIRTIO_BLK_S_IOERR 1u
#define GK_VIRTIO_BLK_S_UNSUPP 2u
#define GK_VIRTIO_BLK_DATA_PAGES 8u /* up to 64 sectors per request */

/* The request header the device reads (virtio 5.2.6). */
struct gk_virtio_blk_req_hdr {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};
_Static_assert(sizeof(struct gk_virtio_blk_req_hdr) == 16, "virtio 5.2.6");

struct gk_virtio_blk {
    struct gk_virtio_dev *dev;
    struct gk_virtio_queue q;
    uint64_t capacity_sectors;
    bool read_only;
    bool has_flush;
    unsigned data_pages; /* bounce pages usable per request (<= queue size - 2) */
    void *hdr_va;        /* header at 0, status byte at 64 */
    uint64_t hdr_addr;
    void *data_va[GK_VIRTIO_BLK_DATA_PAGES];
    uint64_t data_addr[GK_VIRTIO_BLK_DATA_PAGES];
    uint64_t requests, io_errors;
    /* Asynchronous requests: header and status byte of slot i at i * 64
     * of async_va (the status at + 16); async_busy bit i: slot i in flight. */
    void *async_va;
    uint64_t async_addr;
    uint64_t async_busy;
    uint32_t async_inflight;
    uint64_t async_cookie[64];
    uint32_t async_bytes[64];
    uint8_t async_type[64];
};
#define GK_VIRTIO_BLK_ASYNC_MAX 64u
#define GK_VIRTIO_BLK_SEGS_MAX 64u /* data pieces of one asynchronous request */

/* Brings dev up as a block device: negotiates (RO and FLUSH if offered),
 * sets up queue 0, allocates the bounce pages, DRIVER_OK, reads the
 * capacity. *b must start zeroed. GK_VIRTIO_OK or an error of
 * gk/virtio_dev.h (a queue of fewer than 3 entries: GK_VIRTIO_ENOTSUP). */
int gk_virtio_blk_init(struct gk_virtio_blk *b, struct gk_virtio_dev *dev);

/* Reads / writes `count` sectors from `sector`. GK_VIRTIO_ERANGE past the
 * capacity (nothing sent), GK_VIRTIO_EINVAL for a write to a read-only
 * device, GK_VIRTIO_EIO if the device reported an error,
 * GK_VIRTIO_EBROKEN / GK_VIRTIO_ETIMEDOUT (device failed). A failed read
 * may have filled part of buf. */
int gk_virtio_blk_read(struct gk_virtio_blk *b, uint64_t sector, void *buf, uint32_t count);
int gk_virtio_blk_write(struct gk_virtio_blk *b, uint64_t sector, const void *buf, uint32_t count);

/* Flushes the device's write cache; GK_VIRTIO_ENOTSUP if it offers no flush. */
int gk_virtio_blk_flush(struct gk_virtio_blk *b);

/* A piece of an asynchronous request's data: a device address and a length
 * (any alignment; the pieces follow each other in the disk's order). */
struct gk_virtio_blk_seg {
    uint64_t addr;
    uint32_t len;
};

/*
 * Queues an asynchronous request without waiting: type T_IN (read into the
 * segments), T_OUT (write from them) or T_FLUSH (no segments), at `sector`,
 * its data the segments (1..GK_VIRTIO_BLK_SEGS_MAX, the total a multiple of
 * 512; none for a flush); cookie comes back from gk_virtio_blk_reap. The
 * device is not notified: call gk_virtio_blk_kick after a batch.
 * GK_VIRTIO_OK; GK_VIRTIO_EAGAIN when GK_VIRTIO_BLK_ASYNC_MAX requests are
 * in flight or the queue has no room for the chain (retry after a reap);
 * GK_VIRTIO_EINVAL (bad segments, a write to a read-only device, a flush
 * the device lacks), GK_VIRTIO_ERANGE (past the capacity),
 * GK_VIRTIO_EBROKEN. The first call allocates the slots' DMA page
 * (GK_VIRTIO_ENOMEM).
 */
int gk_virtio_blk_submit(struct gk_virtio_blk *b, uint32_t type, uint64_t sector,
                         const struct gk_virtio_blk_seg *segs, uint32_t seg_count, uint64_t cookie);

/* Notifies the device of what was queued (if it asked to be). */
void gk_virtio_blk_kick(struct gk_virtio_blk *b);

/*
 * Takes one finished asynchronous request without waiting: GK_VIRTIO_OK
 * with its cookie and *result (GK_VIRTIO_OK, GK_VIRTIO_EIO: the device
 * failed it); GK_VIRTIO_EAGAIN when none has finished; GK_VIRTIO_EBROKEN
 * when the device broke the protocol (a completion nobody asked for, a bad
 * status byte or used length): it is marked broken, and the requests in
 * flight are lost (their data pages may still be written until a reset).
 */
int gk_virtio_blk_reap(struct gk_virtio_blk *b, uint64_t *cookie, int *result);

/* Asks for the queue's interrupt (interrupt mode): false if a completion is
 * already waiting (reap before sleeping), true if the vector will fire. */
bool gk_virtio_blk_arm(struct gk_virtio_blk *b);

#endif
