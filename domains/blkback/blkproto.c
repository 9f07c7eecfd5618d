/* blkback's side of the block protocol (see blkproto.h). */
#include "blkproto.h"

#include <string.h>

void blkp_init(struct blkp_conn *c)
{
    memset(c, 0, sizeof *c);
}

void blkp_strike(struct blkp_conn *c)
{
    c->refused++;
    if (c->strikes < BLKP_STRIKES_MAX)
        c->strikes++;
    if (c->strikes >= BLKP_STRIKES_MAX)
        c->cut = true;
}

static void accept(struct blkp_conn *c)
{
    c->accepted++;
    if (c->strikes)
        c->strikes--;
}

/* A front end's messages are small and flat: a tight bound on the codec. */
static const struct hvcbor_limits LIMITS = {4, 64, 64};

enum blkp_kind blkp_decode(struct blkp_conn *c, const void *buf, size_t len, struct proto_msg *m)
{
    if (c->cut)
        return BLKP_BAD;
    struct hvcbor_error err;
    if (len > BLKP_MSG_BYTES_MAX || !proto_msg_decode(buf, len, &LIMITS, m, &err)) {
        blkp_strike(c);
        return BLKP_BAD;
    }
    switch (m->type) {
    case PROTO_MSG_BLK_ATTACH_REQUEST: return BLKP_ATTACH;
    case PROTO_MSG_BLK_REQUEST: return BLKP_IO;
    case PROTO_MSG_BLK_DETACH_REQUEST: return BLKP_DETACH;
    default: blkp_strike(c); return BLKP_BAD;
    }
}

uint32_t blkp_pages_for(uint64_t count)
{
    if (count > BLKP_SECTORS_MAX)
        count = BLKP_SECTORS_MAX;
    return (uint32_t)((count * BLKP_SECTOR_BYTES + BLKP_PAGE_BYTES - 1) / BLKP_PAGE_BYTES);
}

/* The checks of blkp_check_io, in order, changing nothing. */
static enum proto_blk_status check(const struct blkp_conn *c, const struct proto_blk_request *r)
{
    if (r->handle >= BLKP_HANDLES || !c->att[r->handle].used)
        return PROTO_BLK_STATUS_NO_VOLUME;
    const struct blkp_attach *a = &c->att[r->handle];
    switch (r->op) {
    case PROTO_BLK_OP_FLUSH:
        if (r->sector || r->count || r->pages.count)
            return PROTO_BLK_STATUS_INVALID;
        break;
    case PROTO_BLK_OP_READ:
    case PROTO_BLK_OP_WRITE:
        if (r->count == 0 || r->count > BLKP_SECTORS_MAX ||
            r->pages.count != blkp_pages_for(r->count))
            return PROTO_BLK_STATUS_INVALID;
        break;
    default: return PROTO_BLK_STATUS_INVALID;
    }
    if (c->inflight >= BLKP_INFLIGHT_MAX)
        return PROTO_BLK_STATUS_BUSY;
    if (r->op != PROTO_BLK_OP_FLUSH &&
        (r->sector >= a->sectors || r->count > a->sectors - r->sector))
        return PROTO_BLK_STATUS_OUT_OF_RANGE;
    if (r->op == PROTO_BLK_OP_WRITE && !a->writable)
        return PROTO_BLK_STATUS_READ_ONLY;
    return PROTO_BLK_STATUS_OK;
}

enum proto_blk_status blkp_check_io(struct blkp_conn *c, const struct proto_blk_request *r)
{
    enum proto_blk_status s = check(c, r);
    if (s != PROTO_BLK_STATUS_OK) {
        blkp_strike(c);
        return s;
    }
    accept(c);
    c->inflight++;
    c->att[r->handle].inflight++;
    return s;
}

void blkp_io_done(struct blkp_conn *c, uint32_t handle)
{
    /* An internal invariant, not input: each done matches a check that
     * let the request through. */
    if (handle < BLKP_HANDLES && c->att[handle].inflight && c->inflight) {
        c->att[handle].inflight--;
        c->inflight--;
    }
}

int blkp_attach(struct blkp_conn *c, uint32_t volume, uint64_t sectors, bool writable)
{
    for (uint32_t h = 0; h < BLKP_HANDLES; h++)
        if (!c->att[h].used) {
            c->att[h] = (struct blkp_attach){true, writable, sectors, volume, 0};
            accept(c);
            return (int)h;
        }
    return -1;
}

enum proto_blk_status blkp_check_detach(struct blkp_conn *c, uint64_t handle)
{
    if (handle >= BLKP_HANDLES || !c->att[handle].used) {
        blkp_strike(c);
        return PROTO_BLK_STATUS_NO_VOLUME;
    }
    accept(c);
    return PROTO_BLK_STATUS_OK;
}

void blkp_detach(struct blkp_conn *c, uint32_t handle)
{
    if (handle < BLKP_HANDLES && c->att[handle].inflight == 0)
        c->att[handle] = (struct blkp_attach){0};
}

void blkp_set_sectors(struct blkp_conn *c, uint32_t volume, uint64_t sectors)
{
    for (uint32_t h = 0; h < BLKP_HANDLES; h++)
        if (c->att[h].used && c->att[h].volume == volume)
            c->att[h].sectors = sectors;
}
