/*
 * guest-kit virtio-blk driver (virtio 1.2, 5.2) on gk/virtio_dev.h: reads
 * and writes 512-byte sectors, flushes if the device offers
 * VIRTIO_BLK_F_FLUSH, capacity from the device configuration. One request
 * at a time, completion polled.
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
};

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

#endif
