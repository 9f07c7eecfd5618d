/*
 * The block front end (docs/blkback.md#the-front-end-gkblkh): the disks a
 * domain's manifest gives it (`disks: [{volume: NAME, mode: rw|ro}]`),
 * served by blkback over a connection of the domain bus (service `blk`;
 * the manifest's `disks:` implies `uses: [blk]`).
 *
 * gk_blk_open asks for the service (again every 10 s until its deadline,
 * should an introduction fail), waits for the connection and for
 * blkback's first message, the list of this domain's disks
 * (blk-disks-event). gk_blk_attach attaches one (read-write if its mode is
 * rw). Requests are catalog messages (blk-request, blk-reply) over the
 * connection's ring; their data is never in the ring: it is in pages of
 * this domain granted to blkback once, at open (a pool of
 * GK_BLK_POOL_PAGES pages, writable for blkback, which maps those a
 * request names while the disk works on them). The front end copies
 * between the caller's buffer and the pool.
 *
 * Asynchronous: gk_blk_submit queues a request (up to GK_BLK_INFLIGHT_MAX
 * at once, while the pool has room for its pages), gk_blk_poll takes a
 * finished one, gk_blk_wait sleeps (on the connection's event channel,
 * interrupt-driven) until one finishes or a deadline. Synchronous:
 * gk_blk_read, gk_blk_write, gk_blk_flush submit and wait for their own
 * request; other requests' completions stay for gk_blk_poll.
 *
 * Ordering (docs/blkback.md#flush-and-ordering): requests in flight may
 * finish in any order. gk_blk_flush (or a submitted flush) returns once
 * every write that finished before it was submitted, and every write
 * blkback took before it, is on stable storage: a write acknowledged
 * before a flush that returned survives a crash of blkback and of the
 * machine.
 *
 * What blkback sends is hostile: a message that does not decode, a reply
 * to no request of ours, a disks list out of bounds is counted
 * (gk_blk_stats.bad) and ignored. One thread at a time (every front end of
 * the domain shares one message buffer).
 */
#ifndef GK_BLK_H
#define GK_BLK_H

#include <stdbool.h>
#include <stdint.h>

#define GK_BLK_DISKS_MAX 4u
#define GK_BLK_INFLIGHT_MAX 64u
#define GK_BLK_POOL_PAGES 256u /* 1 MiB of granted data pages */
#define GK_BLK_SECTOR_BYTES 512u
#define GK_BLK_SECTORS_MAX 256u /* the largest request (128 KiB) */

enum gk_blk_status {
    GK_BLK_OK = 0,
    GK_BLK_EIO = -1,         /* the disk failed it */
    GK_BLK_EINVAL = -2,      /* a bad argument (or blkback said invalid) */
    GK_BLK_ERANGE = -3,      /* past the volume's end */
    GK_BLK_EROFS = -4,       /* a write to a disk attached read-only */
    GK_BLK_ENOTGRANTED = -5, /* blkback could not map a page */
    GK_BLK_EBUSY = -6,       /* blkback has too many requests */
    GK_BLK_ENODEV = -7,      /* no such disk, or not attached */
    GK_BLK_EAGAIN = -8,      /* GK_BLK_INFLIGHT_MAX in flight or the pool full: poll first */
    GK_BLK_ETIMEDOUT = -9,   /* the deadline passed */
    GK_BLK_EGONE = -10,      /* blkback went away (the connection is over) */
    GK_BLK_EREFUSED = -11,   /* attach refused (blkback's message in gk_blk_why) */
    GK_BLK_ENOMEM = -12,
};

enum gk_blk_op { GK_BLK_READ = 0, GK_BLK_WRITE = 1, GK_BLK_FLUSH = 2 };

struct gk_blk_disk {
    char volume[33];
    bool writable; /* the manifest's mode */
    bool attached;
    uint32_t handle;
    uint64_t sectors; /* once attached */
};

struct gk_blk_stats {
    uint64_t submitted, completed, errors, bad, waits;
    uint64_t late; /* messages found by the once-a-second re-check, not by their event */
};

struct gk_blk;

/* Asks for the service blk, waits for blkback and the list of disks until
 * deadline_ns (gk_now_ns). NULL on timeout, without a bus, or without
 * memory. */
struct gk_blk *gk_blk_open(uint64_t deadline_ns);
uint32_t gk_blk_disk_count(const struct gk_blk *b);
/* Disk i (0 .. count-1), or NULL. */
const struct gk_blk_disk *gk_blk_disk(const struct gk_blk *b, uint32_t i);
/* The index of the disk of volume `name`, or -1. */
int gk_blk_find(const struct gk_blk *b, const char *name);
/* Attaches disk i (read-write if its mode is rw). GK_BLK_OK, or a status
 * (GK_BLK_EREFUSED: gk_blk_why says why). */
int gk_blk_attach(struct gk_blk *b, uint32_t i, uint64_t deadline_ns);
/* blkback's message for the last refusal. */
const char *gk_blk_why(const struct gk_blk *b);

/* Queues a request on attached disk i: count sectors (1..256; 0 for a
 * flush) from sector; buf is read from now (write) or filled when it
 * finishes (read) and must stay valid until then. cookie comes back from
 * gk_blk_poll. GK_BLK_OK, GK_BLK_EAGAIN, GK_BLK_EINVAL, GK_BLK_ENODEV,
 * GK_BLK_ERANGE, GK_BLK_EROFS, GK_BLK_EGONE. */
int gk_blk_submit(struct gk_blk *b, uint32_t i, enum gk_blk_op op, uint64_t sector, uint32_t count,
                  void *buf, uint64_t cookie);
/* A finished request without waiting, in the order they finished: GK_BLK_OK
 * with its cookie and status (a gk_blk_status), or GK_BLK_EAGAIN. */
int gk_blk_poll(struct gk_blk *b, uint64_t *cookie, int *status);
/* Sleeps until a request finishes or deadline_ns: GK_BLK_OK (poll now),
 * GK_BLK_ETIMEDOUT, GK_BLK_EGONE. */
int gk_blk_wait(struct gk_blk *b, uint64_t deadline_ns);
/* Requests in flight (submitted, not taken by poll). */
uint32_t gk_blk_inflight(const struct gk_blk *b);

/* Synchronous calls: a gk_blk_status. count up to any length (cut into
 * requests of 256 sectors, one after the other). */
int gk_blk_read(struct gk_blk *b, uint32_t i, uint64_t sector, void *buf, uint32_t count);
int gk_blk_write(struct gk_blk *b, uint32_t i, uint64_t sector, const void *buf, uint32_t count);
int gk_blk_flush(struct gk_blk *b, uint32_t i);

bool gk_blk_gone(const struct gk_blk *b);
void gk_blk_get_stats(const struct gk_blk *b, struct gk_blk_stats *out);
/* Closes the connection and frees b (the pool stays granted while blkback
 * still maps a page: ended at close once it lets go). */
void gk_blk_close(struct gk_blk *b);

#endif
