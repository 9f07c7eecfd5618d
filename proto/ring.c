/*
 * SPSC rings over shared memory. See hv/ring.h for the layout, the
 * notification protocol and the trust model.
 *
 * Memory ordering: payload bytes are published by the seq_cst store of the
 * producer's index and acquired by the consumer's seq_cst load of it (and
 * symmetrically for freed room). The event-index handshake is a Dekker
 * pattern (store own index / load other's event, and store own event / load
 * other's index), which is why those accesses are seq_cst and not merely
 * release/acquire.
 */
#include <hv/ring.h>

#include "copy_bytes.h"

#define LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)

static uint32_t round8(uint32_t n)
{
    return (n + 7u) & ~7u;
}

uint32_t ring_data_size(size_t bytes)
{
    if (bytes < RING_HEADER_BYTES + RING_MIN_DATA_BYTES)
        return 0;
    size_t avail = bytes - RING_HEADER_BYTES;
    uint32_t size = RING_MIN_DATA_BYTES;
    while (size <= UINT32_MAX / 4 && (size_t)size * 2 <= avail)
        size *= 2;
    return size;
}

bool ring_format(void *shared, size_t bytes)
{
    if (shared == NULL || ring_data_size(bytes) == 0)
        return false;
    uint8_t *p = shared;
    for (size_t i = 0; i < RING_HEADER_BYTES; i++)
        p[i] = 0;
    return true;
}

static bool ring_attach(struct ring *r, void *shared, size_t bytes)
{
    *r = (struct ring){0};
    r->sh = shared;
    r->size = shared ? ring_data_size(bytes) : 0;
    r->mask = r->size - 1;
    r->data = shared ? (uint8_t *)shared + RING_HEADER_BYTES : NULL;
    r->broken = r->size == 0;
    return !r->broken;
}

static bool ring_attach_split(struct ring *r, void *hdr, void *data, uint32_t data_bytes)
{
    *r = (struct ring){0};
    bool ok = hdr != NULL && data != NULL && data_bytes >= RING_MIN_DATA_BYTES &&
              data_bytes <= (1u << 30) && (data_bytes & (data_bytes - 1)) == 0;
    r->sh = hdr;
    r->data = data;
    r->size = ok ? data_bytes : 0;
    r->mask = r->size - 1;
    r->broken = !ok;
    return ok;
}

bool ring_attach_producer(struct ring *r, void *shared, size_t bytes)
{
    if (!ring_attach(r, shared, bytes))
        return false;
    r->local = LOAD(&r->sh->prod);
    return true;
}

bool ring_attach_consumer(struct ring *r, void *shared, size_t bytes)
{
    if (!ring_attach(r, shared, bytes))
        return false;
    r->local = LOAD(&r->sh->cons);
    return true;
}

bool ring_attach_producer_split(struct ring *r, void *hdr, void *data, uint32_t data_bytes)
{
    if (!ring_attach_split(r, hdr, data, data_bytes))
        return false;
    r->local = LOAD(&r->sh->prod);
    return true;
}

bool ring_attach_consumer_split(struct ring *r, void *hdr, void *data, uint32_t data_bytes)
{
    if (!ring_attach_split(r, hdr, data, data_bytes))
        return false;
    r->local = LOAD(&r->sh->cons);
    return true;
}

uint32_t ring_max_payload(const struct ring *r)
{
    return r->size - RING_RECORD_HEADER_BYTES;
}

/* Copies n bytes into the data area at free-running index idx, wrapping. */
static void copy_in(struct ring *r, uint32_t idx, const uint8_t *src, uint32_t n)
{
    uint32_t off = idx & r->mask;
    uint32_t first = r->size - off < n ? r->size - off : n;
    proto_copy_bytes(r->data + off, src, first);
    proto_copy_bytes(r->data, src + first, n - first);
}

static void copy_out(const struct ring *r, uint32_t idx, uint8_t *dst, uint32_t n)
{
    uint32_t off = idx & r->mask;
    uint32_t first = r->size - off < n ? r->size - off : n;
    proto_copy_bytes(dst, r->data + off, first);
    proto_copy_bytes(dst + first, r->data, n - first);
}

/* True if moving an index from old to new passed event (event in (old, new]). */
static bool crossed(uint32_t old, uint32_t new_idx, uint32_t event)
{
    return (uint32_t)(new_idx - event) < (uint32_t)(new_idx - old);
}

/* Room the producer sees, or -1 (as UINT64_MAX) if the consumer's index is impossible. */
static bool producer_room(struct ring *r, uint32_t *room)
{
    uint32_t cons = LOAD(&r->sh->cons);
    uint32_t used = r->local - cons;
    if (used > r->size || (cons & 7u) != 0) {
        r->broken = true;
        return false;
    }
    *room = r->size - used;
    return true;
}

enum ring_status ring_write_tag(struct ring *r, const void *msg, uint32_t len, uint32_t tag,
                                bool *notify)
{
    *notify = false;
    if (r->broken)
        return RING_ECORRUPT;
    if (msg == NULL && len != 0)
        return RING_EINVAL;
    if (len > ring_max_payload(r))
        return RING_ETOOBIG;
    uint32_t need = RING_RECORD_HEADER_BYTES + round8(len), room;
    if (!producer_room(r, &room))
        return RING_ECORRUPT;
    if (room < need)
        return RING_FULL;
    uint8_t hdr[8] = {(uint8_t)len,         (uint8_t)(len >> 8), (uint8_t)(len >> 16),
                      (uint8_t)(len >> 24), (uint8_t)tag,        (uint8_t)(tag >> 8),
                      (uint8_t)(tag >> 16), (uint8_t)(tag >> 24)};
    copy_in(r, r->local, hdr, 8);
    copy_in(r, r->local + 8, msg, len);
    uint32_t old = r->local;
    r->local += need;
    STORE(&r->sh->prod, r->local);
    *notify = crossed(old, r->local, LOAD(&r->sh->cons_event));
    return RING_OK;
}

enum ring_status ring_write(struct ring *r, const void *msg, uint32_t len, bool *notify)
{
    return ring_write_tag(r, msg, len, 0, notify);
}

enum ring_status ring_can_write(struct ring *r, uint32_t len)
{
    if (r->broken)
        return RING_ECORRUPT;
    if (len > ring_max_payload(r))
        return RING_ETOOBIG;
    uint32_t room;
    if (!producer_room(r, &room))
        return RING_ECORRUPT;
    return room < RING_RECORD_HEADER_BYTES + round8(len) ? RING_FULL : RING_OK;
}

bool ring_consumer_index(struct ring *r, uint32_t *cons)
{
    uint32_t room;
    if (r->broken || !producer_room(r, &room))
        return false;
    *cons = r->local - (r->size - room);
    return true;
}

uint32_t ring_local_index(const struct ring *r)
{
    return r->local;
}

bool ring_producer_prepare_wait_index(struct ring *r, uint32_t idx)
{
    if (r->broken)
        return false;
    STORE(&r->sh->prod_event, idx);
    uint32_t cons;
    if (!ring_consumer_index(r, &cons))
        return false;
    /* cons has reached idx once idx is no longer ahead of it. */
    return (uint32_t)(idx - cons) - 1u < r->size;
}

bool ring_producer_prepare_sleep(struct ring *r, uint32_t len)
{
    if (r->broken || len > ring_max_payload(r))
        return false; /* the next ring_write reports why */
    uint32_t need = RING_RECORD_HEADER_BYTES + round8(len), room;
    /* Room for need bytes exists once cons reaches prod + need - size. */
    STORE(&r->sh->prod_event, r->local + need - r->size);
    if (!producer_room(r, &room))
        return false;
    return room < need;
}

enum ring_status ring_peek(struct ring *r, uint32_t *len, uint32_t *tag)
{
    *len = 0;
    *tag = 0;
    if (r->broken)
        return RING_ECORRUPT;
    if (r->peeked) {
        *len = r->peek_len;
        *tag = r->peek_tag;
        return RING_OK;
    }
    uint32_t prod = LOAD(&r->sh->prod);
    uint32_t avail = prod - r->local;
    if (avail > r->size || (prod & 7u) != 0) {
        r->broken = true;
        return RING_ECORRUPT;
    }
    if (avail == 0)
        return RING_EMPTY;
    if (avail < RING_RECORD_HEADER_BYTES) {
        r->broken = true;
        return RING_ECORRUPT;
    }
    uint8_t hdr[8];
    copy_out(r, r->local, hdr, 8);
    uint32_t n =
        (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;
    uint32_t t =
        (uint32_t)hdr[4] | (uint32_t)hdr[5] << 8 | (uint32_t)hdr[6] << 16 | (uint32_t)hdr[7] << 24;
    if (n > avail - RING_RECORD_HEADER_BYTES || round8(n) > avail - RING_RECORD_HEADER_BYTES) {
        r->broken = true;
        return RING_ECORRUPT;
    }
    r->peeked = true;
    r->peek_len = n;
    r->peek_tag = t;
    *len = n;
    *tag = t;
    return RING_OK;
}

enum ring_status ring_copy(struct ring *r, uint32_t off, void *buf, uint32_t n)
{
    if (r->broken)
        return RING_ECORRUPT;
    if (!r->peeked || off > r->peek_len || n > r->peek_len - off || (buf == NULL && n != 0))
        return RING_EINVAL;
    copy_out(r, r->local + RING_RECORD_HEADER_BYTES + off, buf, n);
    return RING_OK;
}

enum ring_status ring_advance(struct ring *r, bool *notify)
{
    *notify = false;
    if (r->broken)
        return RING_ECORRUPT;
    if (!r->peeked)
        return RING_EINVAL;
    uint32_t old = r->local;
    r->local += RING_RECORD_HEADER_BYTES + round8(r->peek_len);
    r->peeked = false;
    STORE(&r->sh->cons, r->local);
    *notify = crossed(old, r->local, LOAD(&r->sh->prod_event));
    return RING_OK;
}

enum ring_status ring_read(struct ring *r, void *buf, uint32_t cap, uint32_t *len, bool *notify)
{
    *notify = false;
    *len = 0;
    if (buf == NULL && cap != 0)
        return RING_EINVAL;
    uint32_t n, tag;
    enum ring_status st = ring_peek(r, &n, &tag);
    if (st != RING_OK)
        return st;
    if (tag != 0) {
        /* ring_write's users: a tagged record is a protocol violation. */
        r->broken = true;
        return RING_ECORRUPT;
    }
    *len = n;
    if (n > cap)
        return RING_ETOOBIG;
    ring_copy(r, 0, buf, n);
    return ring_advance(r, notify);
}

bool ring_consumer_prepare_sleep(struct ring *r)
{
    if (r->broken)
        return false;
    STORE(&r->sh->cons_event, r->local + 1);
    return LOAD(&r->sh->prod) == r->local;
}
