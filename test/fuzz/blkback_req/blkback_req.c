/*
 * libFuzzer target: blkback's decoder and checks of a front end's messages
 * (domains/blkback/blkproto.c) facing a hostile front end. The input is a
 * script of steps: a message of any bytes from the front end, blkback
 * completing the oldest request in flight, attaching a volume of some size,
 * a volume growing. Properties: a request let through lies inside its
 * volume, names exactly the pages its size needs, writes only a writable
 * attachment, and never takes the in-flight count past its limit; the
 * counts stay consistent; once cut, nothing more is decoded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blkproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct blkp_conn c;
static struct proto_msg m;

static void invariants(void)
{
    uint32_t sum = 0;
    for (uint32_t h = 0; h < BLKP_HANDLES; h++)
        sum += c.att[h].inflight;
    if (sum != c.inflight || c.inflight > BLKP_INFLIGHT_MAX || c.strikes > BLKP_STRIKES_MAX)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    blkp_init(&c);
    uint32_t fifo[BLKP_INFLIGHT_MAX]; /* handles of requests in flight, oldest first */
    uint32_t head = 0, count = 0;
    size_t i = 0;
    while (i + 2 <= size) {
        uint8_t op = data[i++] % 4, arg = data[i++];
        bool was_cut = c.cut;
        switch (op) {
        case 0: { /* a message of arg bytes */
            size_t len = arg <= size - i ? arg : size - i;
            enum blkp_kind k = blkp_decode(&c, data + i, len, &m);
            i += len;
            if (was_cut && k != BLKP_BAD)
                abort();
            if (k == BLKP_IO) {
                const struct proto_blk_request *r = &m.u.blk_request;
                if (blkp_check_io(&c, r) == PROTO_BLK_STATUS_OK) {
                    const struct blkp_attach *a = &c.att[r->handle];
                    if (r->handle >= BLKP_HANDLES || !a->used || count >= BLKP_INFLIGHT_MAX)
                        abort();
                    if (r->op != PROTO_BLK_OP_FLUSH &&
                        (r->count == 0 || r->sector + r->count > a->sectors ||
                         r->sector + r->count < r->sector ||
                         r->pages.count != blkp_pages_for(r->count)))
                        abort();
                    if (r->op == PROTO_BLK_OP_WRITE && !a->writable)
                        abort();
                    fifo[(head + count++) % BLKP_INFLIGHT_MAX] = (uint32_t)r->handle;
                }
            } else if (k == BLKP_DETACH) {
                uint64_t h = m.u.blk_detach_request.handle;
                if (blkp_check_detach(&c, h) == PROTO_BLK_STATUS_OK)
                    blkp_detach(&c, (uint32_t)h); /* stays while requests are in flight */
            }
            break;
        }
        case 1: /* the oldest request ends */
            if (count) {
                blkp_io_done(&c, fifo[head]);
                head = (head + 1) % BLKP_INFLIGHT_MAX;
                count--;
            }
            break;
        case 2: /* attach a volume of arg * 8 sectors */
            blkp_attach(&c, arg % 4, (uint64_t)arg * 8, arg & 1);
            break;
        default: /* volume arg % 4 grows */
            blkp_set_sectors(&c, arg % 4, (uint64_t)arg * 64);
            break;
        }
        if (was_cut && !c.cut)
            abort();
        if (count != c.inflight)
            abort();
        invariants();
    }
    return 0;
}
