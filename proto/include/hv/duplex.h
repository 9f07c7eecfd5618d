/*
 * Duplex areas: a two-way message pipe between two domains made of two
 * rings (hv/ring.h) and, optionally, two bulk buffers, in pages that one
 * domain (the offerer) owns and grants to the other (the acceptor). The
 * domain bus (control domain <-> every domain) and the channels guest-kit
 * hands out (services, declared channels) are duplex areas; docs/bus.md.
 *
 * Layout of an area of 1 + N pages (N = 2 * (ring_bytes + buf_bytes) / 4096),
 * the same at both ends (the acceptor maps the pages in order):
 *
 *   page 0                 struct duplex_header (below): both rings' headers,
 *                          the geometry, each side's "closed" word, and the
 *                          grant refs of pages 1..N
 *   ring_bytes             data of ring 0, offerer -> acceptor
 *   ring_bytes             data of ring 1, acceptor -> offerer
 *   buf_bytes              bulk buffer 0, offerer -> acceptor
 *   buf_bytes              bulk buffer 1, acceptor -> offerer
 *
 * ring_bytes is a power of two, DUPLEX_RING_MIN .. DUPLEX_RING_MAX; buf_bytes
 * is 0 (no bulk) or a power of two, DUPLEX_PAGE .. DUPLEX_BUF_MAX.
 *
 * Messages. A message of at most duplex_inline_max() bytes travels inside
 * the ring (a record with tag DUPLEX_TAG_INLINE). A larger one (up to
 * buf_bytes) is written by the sender into its bulk buffer and announced
 * by a record with tag DUPLEX_TAG_BULK whose 8-byte payload is
 * {uint32 start, uint32 len}: start is a free-running byte index into the
 * bulk buffer (taken modulo buf_bytes). Bulk space is used in FIFO order:
 * each message starts where the previous one ended, or at the next
 * multiple of buf_bytes if it would otherwise wrap; it is free again when
 * the receiver has consumed the descriptor record (the ring's consumer
 * index passed it), so no index of its own is shared. The receiver checks
 * every descriptor against that rule and turns corrupt on a violation.
 *
 * Streams. duplex_write/duplex_read carry a byte stream over the same
 * rings (inline records of up to duplex_stream_chunk() bytes, read in
 * pieces); a channel is used either as a stream or for messages.
 *
 * Trust: as for rings, everything read from the area comes from the other
 * domain. Each side validates every index, record header and descriptor it
 * reads and turns DUPLEX corrupt (RING_ECORRUPT from every call) on a
 * violation; no call reads or writes outside the area. Bulk bytes and
 * viewed messages may change under the reader while it reads them (the
 * other side can write them): copy before validating what they say.
 *
 * Notification: the ring protocol (hv/ring.h). Every call that moves an
 * index returns *notify = true when the other side asked to be woken; the
 * caller then sends the event. A sender waiting for bulk space arms the
 * ring's producer event at the index that frees it.
 *
 * One struct duplex per side; one thread at a time per side.
 */
#ifndef HV_DUPLEX_H
#define HV_DUPLEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/ring.h"

#define DUPLEX_MAGIC 0x31445648u /* "HVD1" */
#define DUPLEX_VERSION 1u
#define DUPLEX_PAGE 4096u
#define DUPLEX_RING_MIN 4096u
#define DUPLEX_RING_MAX (256u * 1024u)
#define DUPLEX_BUF_MAX (1024u * 1024u)
#define DUPLEX_REFS_MAX 944u
/* Messages up to this size travel inside the ring; larger ones in bulk. */
#define DUPLEX_INLINE_MAX 4096u
#define DUPLEX_TAG_INLINE 0u
#define DUPLEX_TAG_BULK 1u
/* Bulk messages a sender can have in flight (unconsumed) at once. */
#define DUPLEX_BULK_PENDING_MAX 64u

enum duplex_side {
    DUPLEX_OFFERER = 0,  /* owns and grants the pages; sends on ring 0 */
    DUPLEX_ACCEPTOR = 1, /* maps them; sends on ring 1 */
};

/* Page 0 of an area. */
struct duplex_header {
    struct ring_shared ring[2]; /* ring[0]: offerer -> acceptor; ring[1]: back */
    uint32_t magic;             /* DUPLEX_MAGIC (offerer) */
    uint32_t version;           /* DUPLEX_VERSION (offerer) */
    uint32_t ring_bytes;        /* each ring's data bytes (offerer) */
    uint32_t buf_bytes;         /* each bulk buffer's bytes, 0: none (offerer) */
    uint32_t refs_count;        /* = pages after page 0 (offerer) */
    uint32_t closed[2];         /* closed[side] = 1: that side closed (written by it) */
    uint32_t reserved[9];
    uint32_t refs[DUPLEX_REFS_MAX]; /* grant refs of pages 1..N, in order (offerer) */
};
_Static_assert(sizeof(struct ring_shared) * 2 == 256, "duplex layout: ring headers");
_Static_assert(offsetof(struct duplex_header, magic) == 256, "duplex layout: magic");
_Static_assert(offsetof(struct duplex_header, closed) == 276, "duplex layout: closed");
_Static_assert(offsetof(struct duplex_header, refs) == 320, "duplex layout: refs");
_Static_assert(sizeof(struct duplex_header) == DUPLEX_PAGE, "duplex layout: one page");

/* One side's private view of an area. */
struct duplex {
    struct duplex_header *hdr;
    struct ring tx, rx;
    uint8_t *tx_buf, *rx_buf;
    uint32_t ring_bytes, buf_bytes;
    enum duplex_side side;
    bool broken;
    /* Sender's bulk FIFO: [tail, head) is held by messages the receiver
     * has not consumed; pend[] says when each one's space comes back. */
    uint32_t tx_head, tx_tail;
    struct {
        uint32_t ring_end; /* ring index just after its descriptor record */
        uint32_t bulk_end; /* bulk index just after its bytes */
    } pend[DUPLEX_BULK_PENDING_MAX];
    uint32_t pend_first, pend_count;
    /* Receiver: the next bulk index expected, and the record being read. */
    uint32_t rx_next;
    bool rd_active;   /* a record is peeked (duplex_peek or a stream read) */
    bool rd_bulk;     /* it is a bulk descriptor */
    uint32_t rd_len;  /* its message length */
    uint32_t rd_at;   /* bulk: start offset in rx_buf; */
    uint32_t rd_next; /* bulk: rx_next once released */
    uint32_t rd_off;  /* stream: bytes of it already read */
};

/* Pages of an area of this geometry (0 if the geometry is invalid). */
uint32_t duplex_area_pages(uint32_t ring_bytes, uint32_t buf_bytes);

/* Offerer: formats page 0 of a zeroed or reused area (rings empty, nobody
 * closed); the caller then writes refs[0 .. refs_count) as it grants the
 * pages. false for an invalid geometry. */
bool duplex_format(void *area, uint32_t ring_bytes, uint32_t buf_bytes);

/* Acceptor: reads the geometry from a mapped page 0 (once, each word
 * copied before it is checked). false if the magic, version or geometry is
 * wrong, or the area is larger than max_pages. */
bool duplex_read_geometry(const void *hdr_page, uint32_t max_pages, uint32_t *ring_bytes,
                          uint32_t *buf_bytes);

/* The ref of page i + 1 as written in page 0 (the caller range-checks it). */
uint32_t duplex_ref(const void *hdr_page, uint32_t i);

/* Attaches one side to a whole area mapped at `area` (duplex_area_pages
 * pages, contiguous). false for a bad geometry (the caller's, never read
 * from the area). */
bool duplex_attach(struct duplex *d, void *area, uint32_t ring_bytes, uint32_t buf_bytes,
                   enum duplex_side side);

/* The largest message duplex_send takes, and the inline limit. */
uint32_t duplex_max_msg(const struct duplex *d);
uint32_t duplex_inline_max(const struct duplex *d);
/* The largest record a stream write makes. */
uint32_t duplex_stream_chunk(const struct duplex *d);

/* Messages. send: RING_OK, RING_FULL (no room now), RING_ETOOBIG, RING_ECORRUPT,
 * RING_EINVAL. recv: RING_OK, RING_EMPTY, RING_ETOOBIG (cap too small: *len
 * = the length, the message stays), RING_ECORRUPT. */
enum ring_status duplex_send(struct duplex *d, const void *msg, uint32_t len, bool *notify);
enum ring_status duplex_recv(struct duplex *d, void *buf, uint32_t cap, uint32_t *len,
                             bool *notify);

/* Reading the next message in place: peek reports its length (RING_OK,
 * RING_EMPTY, RING_ECORRUPT); copy copies [off, off + n) of it; view gives a
 * pointer to a bulk message's bytes (NULL for an inline one, which may wrap:
 * copy it); release consumes it. */
enum ring_status duplex_peek(struct duplex *d, uint32_t *len);
enum ring_status duplex_copy(struct duplex *d, uint32_t off, void *buf, uint32_t n);
const uint8_t *duplex_view(struct duplex *d);
enum ring_status duplex_release(struct duplex *d, bool *notify);

/* Streams: write as much of buf as fits now (*done bytes; RING_FULL if
 * none fit), read what is there (*got bytes; RING_EMPTY if none). */
enum ring_status duplex_write(struct duplex *d, const void *buf, uint32_t n, uint32_t *done,
                              bool *notify);
enum ring_status duplex_read(struct duplex *d, void *buf, uint32_t cap, uint32_t *got,
                             bool *notify);

/* Before sleeping (with the wake-up armed, as the ring protocol says):
 * sender waiting to send len bytes (message) or any (stream: len 0), woken
 * once room for it and half the ring are free (or, for bulk, once the oldest
 * bulk message is consumed); receiver waiting for anything. true: sleep. */
bool duplex_send_prepare_sleep(struct duplex *d, uint32_t len);
bool duplex_recv_prepare_sleep(struct duplex *d);

/* Orderly close: marks our side closed (the caller notifies the peer). */
void duplex_close(struct duplex *d);
/* Whether the peer marked its side closed. */
bool duplex_peer_closed(const struct duplex *d);
/* Whether the area turned corrupt. */
bool duplex_broken(const struct duplex *d);

#endif /* HV_DUPLEX_H */
