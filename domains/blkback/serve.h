/*
 * blkback's data path (docs/blkback.md#the-data-path): serving the service
 * `blk` to front ends over their bus connections, one loop for everything.
 *
 * Each front end's connection (gk/bus.h) carries catalog messages
 * (blk-*, blkproto.h checks them). Its data never travels through the
 * ring: a request names the front end's pages by grant ref; blkback maps
 * them (writable for a read, read-only for a write: the hypervisor checks
 * the grant is that front end's, made to blkback, with that access), hands
 * their machine addresses to the disk (the IOMMU maps exactly the grants
 * blkback has mapped) and unmaps them when the disk is done. Requests wait
 * in the disk scheduler (dsched.h), one flow per attachment, and up to
 * GK_VIRTIO_BLK_ASYNC_MAX are on the disk at once; completions come as
 * interrupts. The loop sleeps in gk_block when nothing can progress.
 *
 * Which volumes a front end may attach is the control domain's word: it
 * sends blk-disks-event (the domain's manifest `disks:`) before it
 * introduces the two; blkback passes the same event on to the front end
 * first on its connection, so the front end discovers its disks.
 *
 * Volume requests relayed by the control domain (hvctl volume) are served
 * between requests: while one waits, nothing new goes to the disk, and it
 * is served once the disk is idle (the table's I/O is synchronous).
 *
 * One VCPU (blkback's main), never from an event handler.
 */
#ifndef BLKBACK_SERVE_H
#define BLKBACK_SERVE_H

#include <stdbool.h>

#include "gk/virtio_blk.h"
#include "gk/virtio_pci.h"
#include "vtab.h"

/* Serves forever. irq: the disk's completions come as events (else the
 * loop polls while requests are on the disk). */
_Noreturn void serve_run(struct vtab *t, struct gk_virtio_blk *b, struct gk_virtio_pci *p,
                         bool irq);

#endif
