/*
 * Duplex areas: two rings and two bulk buffers (see hv/duplex.h for the
 * layout, the bulk FIFO rule and the trust model).
 *
 * Free-running indices are uint32 and compared by distance: "a is at or
 * past b" within a window of at most 2^31 is (uint32_t)(a - b) < 2^31.
 */
#include <hv/duplex.h>

#include "copy_bytes.h"

#define LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)

static bool pow2(uint32_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

static bool geometry_ok(uint32_t ring_bytes, uint32_t buf_bytes)
{
    if (!pow2(ring_bytes) || ring_bytes < DUPLEX_RING_MIN || ring_bytes > DUPLEX_RING_MAX)
        return false;
    if (buf_bytes != 0 &&
        (!pow2(buf_bytes) || buf_bytes < DUPLEX_PAGE || buf_bytes > DUPLEX_BUF_MAX))
        return false;
    return 2u * (ring_bytes + buf_bytes) / DUPLEX_PAGE <= DUPLEX_REFS_MAX;
}

uint32_t duplex_area_pages(uint32_t ring_bytes, uint32_t buf_bytes)
{
    if (!geometry_ok(ring_bytes, buf_bytes))
        return 0;
    return 1u + 2u * (ring_bytes + buf_bytes) / DUPLEX_PAGE;
}

bool duplex_format(void *area, uint32_t ring_bytes, uint32_t buf_bytes)
{
    if (area == NULL || !geometry_ok(ring_bytes, buf_bytes))
        return false;
    uint8_t *p = area;
    for (uint32_t i = 0; i < DUPLEX_PAGE; i++)
        p[i] = 0;
    struct duplex_header *h = area;
    h->magic = DUPLEX_MAGIC;
    h->version = DUPLEX_VERSION;
    h->ring_bytes = ring_bytes;
    h->buf_bytes = buf_bytes;
    h->refs_count = duplex_area_pages(ring_bytes, buf_bytes) - 1u;
    return true;
}

bool duplex_read_geometry(const void *hdr_page, uint32_t max_pages, uint32_t *ring_bytes,
                          uint32_t *buf_bytes)
{
    const volatile struct duplex_header *h = hdr_page;
    uint32_t magic = h->magic, version = h->version, rb = h->ring_bytes, bb = h->buf_bytes;
    uint32_t refs = h->refs_count;
    uint32_t pages = duplex_area_pages(rb, bb);
    if (magic != DUPLEX_MAGIC || version != DUPLEX_VERSION || pages == 0 || pages > max_pages ||
        refs != pages - 1u)
        return false;
    *ring_bytes = rb;
    *buf_bytes = bb;
    return true;
}

uint32_t duplex_ref(const void *hdr_page, uint32_t i)
{
    const volatile struct duplex_header *h = hdr_page;
    return i < DUPLEX_REFS_MAX ? h->refs[i] : 0;
}

bool duplex_attach(struct duplex *d, void *area, uint32_t ring_bytes, uint32_t buf_bytes,
                   enum duplex_side side)
{
    *d = (struct duplex){0};
    d->broken = true;
    if (area == NULL || !geometry_ok(ring_bytes, buf_bytes) ||
        (side != DUPLEX_OFFERER && side != DUPLEX_ACCEPTOR))
        return false;
    uint8_t *base = area;
    struct duplex_header *h = area;
    uint8_t *data[2] = {base + DUPLEX_PAGE, base + DUPLEX_PAGE + ring_bytes};
    uint8_t *bufs[2] = {base + DUPLEX_PAGE + 2u * ring_bytes,
                        base + DUPLEX_PAGE + 2u * ring_bytes + buf_bytes};
    unsigned out = side == DUPLEX_OFFERER ? 0 : 1, in = 1 - out;
    if (!ring_attach_producer_split(&d->tx, &h->ring[out], data[out], ring_bytes) ||
        !ring_attach_consumer_split(&d->rx, &h->ring[in], data[in], ring_bytes))
        return false;
    /* The other side's starting index is validated here already (it must be
     * 8-byte aligned, like every record boundary). */
    if ((d->tx.local & 7u) != 0 || (d->rx.local & 7u) != 0)
        return false;
    d->hdr = h;
    d->ring_bytes = ring_bytes;
    d->buf_bytes = buf_bytes;
    d->tx_buf = buf_bytes ? bufs[out] : NULL;
    d->rx_buf = buf_bytes ? bufs[in] : NULL;
    d->side = side;
    d->broken = false;
    return true;
}

uint32_t duplex_inline_max(const struct duplex *d)
{
    uint32_t ring_max = ring_max_payload(&d->tx);
    return d->buf_bytes && ring_max > DUPLEX_INLINE_MAX ? DUPLEX_INLINE_MAX : ring_max;
}

uint32_t duplex_max_msg(const struct duplex *d)
{
    uint32_t in = duplex_inline_max(d);
    return d->buf_bytes > in ? d->buf_bytes : in;
}

uint32_t duplex_stream_chunk(const struct duplex *d)
{
    uint32_t half = d->ring_bytes / 2u - RING_RECORD_HEADER_BYTES;
    return half > 32768u ? 32768u : half;
}

static enum ring_status corrupt(struct duplex *d)
{
    d->broken = true;
    return RING_ECORRUPT;
}

/* Sender: frees the bulk space of messages whose descriptors the receiver
 * has consumed (its ring index passed their end). */
static bool reclaim(struct duplex *d)
{
    uint32_t cons;
    if (!ring_consumer_index(&d->tx, &cons))
        return false;
    uint32_t local = ring_local_index(&d->tx);
    while (d->pend_count) {
        uint32_t i = d->pend_first;
        /* consumed iff cons lies in [ring_end, local] */
        if ((uint32_t)(local - cons) > (uint32_t)(local - d->pend[i].ring_end))
            break;
        d->tx_tail = d->pend[i].bulk_end;
        d->pend_first = (i + 1u) % DUPLEX_BULK_PENDING_MAX;
        d->pend_count--;
    }
    if (d->pend_count == 0)
        d->tx_tail = d->tx_head;
    return true;
}

/* Where a len-byte bulk message would start, or false if it does not fit now. */
static bool bulk_place(const struct duplex *d, uint32_t len, uint32_t *start)
{
    uint32_t mask = d->buf_bytes - 1u, s = d->tx_head;
    if ((s & mask) + len > d->buf_bytes)
        s += d->buf_bytes - (s & mask);
    if ((uint32_t)(s + len - d->tx_tail) > d->buf_bytes)
        return false;
    *start = s;
    return true;
}

static enum ring_status send_bulk(struct duplex *d, const void *msg, uint32_t len, bool *notify)
{
    if (!reclaim(d))
        return corrupt(d);
    if (d->pend_count == DUPLEX_BULK_PENDING_MAX)
        return RING_FULL;
    enum ring_status st = ring_can_write(&d->tx, 8);
    if (st != RING_OK)
        return st == RING_ECORRUPT ? corrupt(d) : st;
    uint32_t start;
    if (!bulk_place(d, len, &start))
        return RING_FULL;
    proto_copy_bytes(d->tx_buf + (start & (d->buf_bytes - 1u)), msg, len);
    uint8_t desc[8] = {(uint8_t)start,         (uint8_t)(start >> 8), (uint8_t)(start >> 16),
                       (uint8_t)(start >> 24), (uint8_t)len,          (uint8_t)(len >> 8),
                       (uint8_t)(len >> 16),   (uint8_t)(len >> 24)};
    st = ring_write_tag(&d->tx, desc, 8, DUPLEX_TAG_BULK, notify);
    if (st != RING_OK)
        return st == RING_ECORRUPT ? corrupt(d) : st; /* cannot be FULL: checked above */
    uint32_t i = (d->pend_first + d->pend_count) % DUPLEX_BULK_PENDING_MAX;
    d->pend[i].ring_end = ring_local_index(&d->tx);
    d->pend[i].bulk_end = start + len;
    d->pend_count++;
    d->tx_head = start + len;
    return RING_OK;
}

enum ring_status duplex_send(struct duplex *d, const void *msg, uint32_t len, bool *notify)
{
    *notify = false;
    if (d->broken)
        return RING_ECORRUPT;
    if (msg == NULL && len != 0)
        return RING_EINVAL;
    if (len > duplex_max_msg(d))
        return RING_ETOOBIG;
    if (len > duplex_inline_max(d))
        return send_bulk(d, msg, len, notify);
    enum ring_status st = ring_write_tag(&d->tx, msg, len, DUPLEX_TAG_INLINE, notify);
    return st == RING_ECORRUPT ? corrupt(d) : st;
}

/* Arms the ring to wake us once room for a len-byte record AND half the ring
 * is free (hysteresis: a consumer draining a full ring wakes a waiting
 * producer once per half ring, not once per record; on one CPU, where a
 * woken domain runs at once, that is the difference between one switch per
 * batch and two per message). true: sleep. */
static bool wait_room(struct duplex *d, uint32_t len)
{
    uint32_t need = RING_RECORD_HEADER_BYTES + ((len + 7u) & ~7u);
    uint32_t want = need > d->ring_bytes / 2u ? need : d->ring_bytes / 2u;
    if (need > ring_max_payload(&d->tx) + RING_RECORD_HEADER_BYTES)
        return false; /* never fits: the next send says so */
    return ring_producer_prepare_wait_index(&d->tx,
                                            ring_local_index(&d->tx) + want - d->ring_bytes);
}

bool duplex_send_prepare_sleep(struct duplex *d, uint32_t len)
{
    if (d->broken)
        return false;
    if (len <= duplex_inline_max(d) || d->buf_bytes == 0)
        return wait_room(d, len);
    if (!reclaim(d))
        return false;
    if (d->pend_count == 0)
        return wait_room(d, 8); /* only the ring can be full */
    uint32_t start;
    if (d->pend_count < DUPLEX_BULK_PENDING_MAX && bulk_place(d, len, &start))
        return wait_room(d, 8);
    /* Wait for the oldest bulk message to be consumed: that frees space
     * (and a pending slot); the caller then tries again. */
    return ring_producer_prepare_wait_index(&d->tx, d->pend[d->pend_first].ring_end);
}

/* Receiver: validates the next record (and its descriptor) into rd_*. */
enum ring_status duplex_peek(struct duplex *d, uint32_t *len)
{
    *len = 0;
    if (d->broken)
        return RING_ECORRUPT;
    if (d->rd_active) {
        *len = d->rd_len;
        return RING_OK;
    }
    uint32_t n, tag;
    enum ring_status st = ring_peek(&d->rx, &n, &tag);
    if (st != RING_OK)
        return st == RING_ECORRUPT ? corrupt(d) : st;
    if (tag == DUPLEX_TAG_INLINE) {
        d->rd_bulk = false;
        d->rd_len = n;
    } else if (tag == DUPLEX_TAG_BULK && n == 8 && d->buf_bytes != 0) {
        uint8_t desc[8];
        ring_copy(&d->rx, 0, desc, 8);
        uint32_t start = (uint32_t)desc[0] | (uint32_t)desc[1] << 8 | (uint32_t)desc[2] << 16 |
                         (uint32_t)desc[3] << 24;
        uint32_t blen = (uint32_t)desc[4] | (uint32_t)desc[5] << 8 | (uint32_t)desc[6] << 16 |
                        (uint32_t)desc[7] << 24;
        uint32_t mask = d->buf_bytes - 1u, exp = d->rx_next;
        uint32_t wrapped = exp + (d->buf_bytes - (exp & mask));
        if (blen > d->buf_bytes || (start != exp && start != wrapped) ||
            (start & mask) + blen > d->buf_bytes || (uint32_t)(start + blen - exp) > d->buf_bytes)
            return corrupt(d);
        d->rd_bulk = true;
        d->rd_len = blen;
        d->rd_at = start & mask;
        d->rd_next = start + blen;
    } else {
        return corrupt(d);
    }
    d->rd_active = true;
    d->rd_off = 0;
    *len = d->rd_len;
    return RING_OK;
}

enum ring_status duplex_copy(struct duplex *d, uint32_t off, void *buf, uint32_t n)
{
    if (d->broken)
        return RING_ECORRUPT;
    if (!d->rd_active || off > d->rd_len || n > d->rd_len - off || (buf == NULL && n != 0))
        return RING_EINVAL;
    if (!d->rd_bulk)
        return ring_copy(&d->rx, off, buf, n);
    proto_copy_bytes(buf, d->rx_buf + d->rd_at + off, n);
    return RING_OK;
}

const uint8_t *duplex_view(struct duplex *d)
{
    if (d->broken || !d->rd_active || !d->rd_bulk)
        return NULL;
    return d->rx_buf + d->rd_at;
}

enum ring_status duplex_release(struct duplex *d, bool *notify)
{
    *notify = false;
    if (d->broken)
        return RING_ECORRUPT;
    if (!d->rd_active)
        return RING_EINVAL;
    enum ring_status st = ring_advance(&d->rx, notify);
    if (st != RING_OK)
        return st == RING_ECORRUPT ? corrupt(d) : st;
    if (d->rd_bulk)
        d->rx_next = d->rd_next;
    d->rd_active = false;
    return RING_OK;
}

enum ring_status duplex_recv(struct duplex *d, void *buf, uint32_t cap, uint32_t *len, bool *notify)
{
    *notify = false;
    if (buf == NULL && cap != 0)
        return RING_EINVAL;
    enum ring_status st = duplex_peek(d, len);
    if (st != RING_OK)
        return st;
    if (d->rd_off != 0)
        return RING_EINVAL; /* a stream read is half-way through it */
    if (*len > cap)
        return RING_ETOOBIG;
    duplex_copy(d, 0, buf, *len);
    return duplex_release(d, notify);
}

bool duplex_recv_prepare_sleep(struct duplex *d)
{
    if (d->broken || d->rd_active)
        return false;
    return ring_consumer_prepare_sleep(&d->rx);
}

enum ring_status duplex_write(struct duplex *d, const void *buf, uint32_t n, uint32_t *done,
                              bool *notify)
{
    *done = 0;
    *notify = false;
    if (d->broken)
        return RING_ECORRUPT;
    if (buf == NULL && n != 0)
        return RING_EINVAL;
    const uint8_t *p = buf;
    uint32_t chunk = duplex_stream_chunk(d);
    while (*done < n) {
        uint32_t k = n - *done < chunk ? n - *done : chunk;
        bool nt = false;
        enum ring_status st = ring_write_tag(&d->tx, p + *done, k, DUPLEX_TAG_INLINE, &nt);
        *notify = *notify || nt;
        if (st == RING_FULL)
            break;
        if (st != RING_OK)
            return st == RING_ECORRUPT ? corrupt(d) : st;
        *done += k;
    }
    return *done == 0 && n != 0 ? RING_FULL : RING_OK;
}

enum ring_status duplex_read(struct duplex *d, void *buf, uint32_t cap, uint32_t *got, bool *notify)
{
    *got = 0;
    *notify = false;
    if (buf == NULL && cap != 0)
        return RING_EINVAL;
    uint8_t *p = buf;
    while (*got < cap) {
        uint32_t len;
        enum ring_status st = duplex_peek(d, &len);
        if (st == RING_EMPTY)
            break;
        if (st != RING_OK)
            return st;
        uint32_t k = len - d->rd_off < cap - *got ? len - d->rd_off : cap - *got;
        duplex_copy(d, d->rd_off, p + *got, k);
        d->rd_off += k;
        *got += k;
        if (d->rd_off == len) {
            bool nt = false;
            st = duplex_release(d, &nt);
            *notify = *notify || nt;
            if (st != RING_OK)
                return st;
        }
    }
    return *got == 0 && cap != 0 ? RING_EMPTY : RING_OK;
}

void duplex_close(struct duplex *d)
{
    if (d->hdr)
        STORE(&d->hdr->closed[d->side], 1u);
}

bool duplex_peer_closed(const struct duplex *d)
{
    return d->hdr && LOAD(&d->hdr->closed[1 - d->side]) != 0;
}

bool duplex_broken(const struct duplex *d)
{
    return d->broken || d->tx.broken || d->rx.broken;
}
