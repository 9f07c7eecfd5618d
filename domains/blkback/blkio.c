/* A front end's request cut into disk requests (see blkio.h). */
#include "blkio.h"

bool blkio_split(const struct vt_volume *v, uint64_t sector, uint32_t count,
                 const uint64_t *page_addr, struct blkio_split *out)
{
    out->part_count = 0;
    out->seg_count = 0;
    if (count == 0 || count > BLKIO_PAGES_MAX * (BLKIO_PAGE_BYTES / VT_SECTOR_BYTES))
        return false;
    uint32_t done = 0; /* sectors of the request placed so far */
    while (done < count) {
        uint64_t disk = 0, run = 0;
        if (!vt_map(v, sector + done, count - done, &disk, &run) || run == 0 ||
            out->part_count == BLKIO_PARTS_MAX)
            return false;
        struct blkio_part *p = &out->part[out->part_count++];
        p->disk_sector = disk;
        p->sectors = (uint32_t)run;
        p->seg_first = out->seg_count;
        /* The part's bytes [from, to) of the request's data, page by page. */
        uint64_t from = (uint64_t)done * VT_SECTOR_BYTES;
        uint64_t to = from + run * VT_SECTOR_BYTES;
        while (from < to) {
            uint64_t page = from / BLKIO_PAGE_BYTES, off = from % BLKIO_PAGE_BYTES;
            uint64_t len = BLKIO_PAGE_BYTES - off;
            if (len > to - from)
                len = to - from;
            out->seg[out->seg_count++] = (struct blkio_seg){page_addr[page] + off, (uint32_t)len};
            from += len;
        }
        p->seg_count = out->seg_count - p->seg_first;
        done += (uint32_t)run;
    }
    return true;
}
