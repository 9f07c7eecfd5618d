/*
 * blkback's side of the block protocol (proto/catalog.cddl, blk-*;
 * docs/blkback.md#the-block-protocol): what one front end's connection may
 * send, and the checks every message passes before blkback acts on it
 * (decode, then check; nothing changes on a refusal except the strike
 * count). Plain C over proto's codec: blkback and the host tests and fuzz
 * target (test/unit/blkback/test_blkproto.c, test/fuzz/blkback_req/) compile
 * this same file.
 *
 * Misbehaviour. Every message refused (undecodable, a type a front end may
 * not send, a request that fails a check) is a *strike*; every request that
 * passes takes one strike away. At BLKP_STRIKES_MAX the connection is cut:
 * blkback answers nothing more and closes it. So a front end whose refused
 * messages outnumber its good ones by eight is disconnected, while a good
 * one that sends the odd bad request is not. A disk error is not a strike.
 *
 * Not thread-safe: blkback's loop only.
 */
#ifndef BLKBACK_BLKPROTO_H
#define BLKBACK_BLKPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/proto_msgs.h"

#define BLKP_HANDLES 16u      /* attachments per connection (handle 0..15) */
#define BLKP_INFLIGHT_MAX 64u /* requests in flight per connection */
#define BLKP_SECTORS_MAX 256u /* the largest request: 128 KiB */
#define BLKP_SECTOR_BYTES 512u
#define BLKP_PAGE_BYTES 4096u
#define BLKP_STRIKES_MAX 8u
#define BLKP_MSG_BYTES_MAX 1024u /* a front end's message; a blk-request with 32 refs is < 400 */

struct blkp_attach {
    bool used;
    bool writable;
    uint64_t sectors;  /* the volume's size (updated by blkp_set_sectors when it grows) */
    uint32_t volume;   /* the caller's index of the volume */
    uint32_t inflight; /* requests of this attachment in flight */
};

struct blkp_conn {
    struct blkp_attach att[BLKP_HANDLES];
    uint32_t inflight; /* over every attachment, <= BLKP_INFLIGHT_MAX */
    uint32_t strikes;
    bool cut; /* disconnected for misbehaving: nothing more is read */
    uint64_t accepted, refused;
};

/* What a front end's message is. */
enum blkp_kind {
    BLKP_BAD = 0, /* undecodable, too long, or not a front end's message: a strike */
    BLKP_ATTACH,  /* m->u.blk_attach_request */
    BLKP_IO,      /* m->u.blk_request */
    BLKP_DETACH,  /* m->u.blk_detach_request */
};

/* Starts a connection's state. */
void blkp_init(struct blkp_conn *c);

/* Decodes one message of a front end into *m (strings point into buf).
 * BLKP_BAD counts a strike; nothing is decoded on a cut connection. */
enum blkp_kind blkp_decode(struct blkp_conn *c, const void *buf, size_t len, struct proto_msg *m);

/*
 * Checks a blk-request. PROTO_BLK_STATUS_OK: it may go, and it is counted
 * in flight until blkp_io_done. Else the status to answer with (a strike
 * counted; nothing else changes): no-volume (handle not attached), invalid
 * (read or write of 0 sectors, a page count other than count * 512 bytes
 * rounded up to pages, a flush with a sector, a count or pages), busy (more
 * than BLKP_INFLIGHT_MAX in flight), out-of-range (past the volume's end,
 * no wrap-around), read-only (a write to a read-only attachment).
 */
enum proto_blk_status blkp_check_io(struct blkp_conn *c, const struct proto_blk_request *r);

/* A request blkp_check_io let through has ended (any status). */
void blkp_io_done(struct blkp_conn *c, uint32_t handle);

/* A refusal found after blkp_check_io (a page not granted): a strike. */
void blkp_strike(struct blkp_conn *c);

/* Attaches a volume the caller has checked: the new handle, or -1 when all
 * BLKP_HANDLES are used. */
int blkp_attach(struct blkp_conn *c, uint32_t volume, uint64_t sectors, bool writable);

/* Checks a blk-detach-request: PROTO_BLK_STATUS_OK (then blkp_detach once
 * its requests have ended), or no-volume (a strike). */
enum proto_blk_status blkp_check_detach(struct blkp_conn *c, uint64_t handle);
void blkp_detach(struct blkp_conn *c, uint32_t handle);

/* The volume `volume` now has `sectors` (it grew): every attachment of it. */
void blkp_set_sectors(struct blkp_conn *c, uint32_t volume, uint64_t sectors);

/* The number of pages a request of `count` sectors names. */
uint32_t blkp_pages_for(uint64_t count);

#endif
