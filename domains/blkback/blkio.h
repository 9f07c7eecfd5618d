/*
 * A front end's read or write as the disk sees it: its sectors of a volume
 * mapped through the volume's extents (vtab.h) to disk sectors, and its
 * data — count * 512 bytes from the start of its first page, in pages the
 * front end granted (mapped by blkback; their device addresses given) —
 * cut into the pieces of each disk request. A request that crosses an
 * extent's end becomes several disk requests (one per extent it touches:
 * at most VT_EXTENTS_MAX). Plain C: blkback (serve.c) and the host test
 * (test/unit/blkback/test_blkio.c) compile this same file.
 */
#ifndef BLKBACK_BLKIO_H
#define BLKBACK_BLKIO_H

#include <stdbool.h>
#include <stdint.h>

#include "vtab.h"

#define BLKIO_PAGE_BYTES 4096u
#define BLKIO_PAGES_MAX 32u /* a request's pages (256 sectors) */
/* Disk requests of one front-end request: one per extent it touches, so a
 * request inside the volume always fits. */
#define BLKIO_PARTS_MAX VT_EXTENTS_MAX
#define BLKIO_SEGS_MAX (BLKIO_PAGES_MAX + BLKIO_PARTS_MAX - 1) /* over every part */

struct blkio_seg {
    uint64_t addr; /* device address */
    uint32_t len;  /* bytes */
};

/* One disk request: its first disk sector and its data segs[first ..
 * first + count) of the split's segment array. */
struct blkio_part {
    uint64_t disk_sector;
    uint32_t sectors;
    uint32_t seg_first, seg_count;
};

struct blkio_split {
    uint32_t part_count, seg_count;
    struct blkio_part part[BLKIO_PARTS_MAX];
    struct blkio_seg seg[BLKIO_SEGS_MAX];
};

/*
 * Splits `count` sectors (1..256) of volume v from `sector`, whose data is
 * in pages at device addresses page_addr[0 .. ceil(count * 512 / 4096)),
 * into disk requests. false (out filled with nothing usable) if the range
 * is not inside v or count is 0 or above 256.
 */
bool blkio_split(const struct vt_volume *v, uint64_t sector, uint32_t count,
                 const uint64_t *page_addr, struct blkio_split *out);

#endif
