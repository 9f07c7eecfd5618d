/*
 * Single-producer single-consumer rings of variable-size messages over
 * shared memory (frames one domain grants to another).
 *
 * Shared layout (pinned by _Static_assert below), at the start of the
 * shared mapping:
 *
 *   offset  size  written by  field
 *   0       4     producer    prod: free-running byte index of the end of
 *                             the last published record
 *   4       4     producer    prod_event: "notify me when cons passes this"
 *                             (producer waiting for space)
 *   8..63         -           zero padding (own cache line)
 *   64      4     consumer    cons: free-running byte index of the end of
 *                             the last consumed record
 *   68      4     consumer    cons_event: "notify me when prod passes this"
 *                             (consumer waiting for data)
 *   72..127       -           zero padding
 *   128     size  producer    data: size is a power of two, >= 256
 *
 * The data may also live apart from the header (ring_attach_*_split): the
 * duplex layout keeps both rings' headers in one page and their data in
 * whole pages of their own, so that a ring of 2^n pages wastes nothing.
 *
 * A record is an 8-byte header {uint32 length, uint32 tag} followed by the
 * payload, padded to a multiple of 8 bytes. The tag is the writer's: 0 for
 * ring_write, any value for ring_write_tag (the duplex layer, hv/duplex.h,
 * uses it to tell inline messages from descriptors). ring_read accepts only
 * tag 0 (anything else is a protocol violation for its users); ring_peek
 * reports the tag and leaves its meaning to the caller. Records wrap around the end of
 * the data area (header and payload may be split in two copies; the header
 * itself never is, since everything is 8-byte aligned). Indices are
 * free-running uint32 and taken modulo size.
 *
 * Notification (lost-wake-up free, as in Xen's event indices): a side that
 * wants to sleep writes its event index (seq_cst), re-checks the ring
 * (seq_cst) and sleeps only if it still must; the other side publishes its
 * index (seq_cst), then reads the event index (seq_cst) and notifies only if
 * the index it just moved crossed it. So a busy ring costs no notifications.
 *
 * Trust: each side copies records out of/into shared memory and validates
 * every index it reads from the other side; a violation makes the ring
 * report RING_ECORRUPT forever after (the caller then tears it down).
 * Neither side ever reads or writes outside [shared, shared + bytes).
 *
 * One struct ring per side per thread; the two sides may run concurrently.
 */
#ifndef HV_RING_H
#define HV_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ring_shared {
    uint32_t prod;
    uint32_t prod_event;
    uint8_t pad0[56];
    uint32_t cons;
    uint32_t cons_event;
    uint8_t pad1[56];
    uint8_t data[];
};

_Static_assert(offsetof(struct ring_shared, prod) == 0, "ring layout: prod");
_Static_assert(offsetof(struct ring_shared, prod_event) == 4, "ring layout: prod_event");
_Static_assert(offsetof(struct ring_shared, cons) == 64, "ring layout: cons");
_Static_assert(offsetof(struct ring_shared, cons_event) == 68, "ring layout: cons_event");
_Static_assert(offsetof(struct ring_shared, data) == 128, "ring layout: data");
_Static_assert(sizeof(struct ring_shared) == 128, "ring layout: header size");

#define RING_HEADER_BYTES 128u
#define RING_RECORD_HEADER_BYTES 8u
#define RING_MIN_DATA_BYTES 256u

enum ring_status {
    RING_OK = 0,
    RING_EMPTY = 1,    /* reader: nothing to read */
    RING_FULL = 2,     /* writer: not enough room now; try after a notification */
    RING_ETOOBIG = 3,  /* writer: can never fit; reader: caller's buffer too small
                          (needed length returned, record left in the ring) */
    RING_ECORRUPT = 4, /* the other side broke the protocol; sticky */
    RING_EINVAL = 5,   /* bad arguments */
};

/* One side's private view of a ring. Nothing here is shared. */
struct ring {
    struct ring_shared *sh;
    uint8_t *data;
    uint32_t size; /* data bytes, power of two */
    uint32_t mask;
    uint32_t local; /* our own index (prod for the producer, cons for the consumer) */
    bool broken;
    /* Consumer: the record ring_peek validated and has not been consumed. */
    bool peeked;
    uint32_t peek_len, peek_tag;
};

/* The data size a mapping of `bytes` yields (0 if too small). */
uint32_t ring_data_size(size_t bytes);
/* Called once by whoever creates the ring, before either side attaches:
 * zeroes the header. Returns false if bytes is too small. */
bool ring_format(void *shared, size_t bytes);
/* Attach as producer or consumer. The local index starts from the shared
 * one, which is then validated on every use. */
bool ring_attach_producer(struct ring *r, void *shared, size_t bytes);
bool ring_attach_consumer(struct ring *r, void *shared, size_t bytes);
/* The same with the 128-byte header at hdr and data_bytes (a power of two,
 * >= RING_MIN_DATA_BYTES) of data at data, anywhere else. */
bool ring_attach_producer_split(struct ring *r, void *hdr, void *data, uint32_t data_bytes);
bool ring_attach_consumer_split(struct ring *r, void *hdr, void *data, uint32_t data_bytes);

/* Largest payload a ring of this data size accepts. */
uint32_t ring_max_payload(const struct ring *r);

/* Producer. *notify is set true if the consumer must be notified. */
enum ring_status ring_write(struct ring *r, const void *msg, uint32_t len, bool *notify);
/* ring_write with a tag in the record header (ring_write is tag 0). */
enum ring_status ring_write_tag(struct ring *r, const void *msg, uint32_t len, uint32_t tag,
                                bool *notify);
/* Whether a len-byte record fits now (RING_OK), later (RING_FULL) or never
 * (RING_ETOOBIG); RING_ECORRUPT as for ring_write. Writes nothing. */
enum ring_status ring_can_write(struct ring *r, uint32_t len);
/* The consumer's index as the producer last validated it (*cons), for a
 * producer that tracks when its earlier records were consumed. false once
 * the ring is corrupt (the index was impossible). */
bool ring_consumer_index(struct ring *r, uint32_t *cons);
/* Our own free-running index (the producer's next record starts here). */
uint32_t ring_local_index(const struct ring *r);
/* Producer about to sleep until the consumer's index reaches idx (a
 * free-running index at most size ahead of the consumer's): arms
 * prod_event there and re-checks. true: sleep; false: it is there (or the
 * ring is corrupt, which the next call reports). */
bool ring_producer_prepare_wait_index(struct ring *r, uint32_t idx);
/* Producer about to sleep waiting for room for a len-byte message: arms
 * prod_event and re-checks. Returns true if it must sleep (still no room),
 * false if it should retry ring_write() now. */
bool ring_producer_prepare_sleep(struct ring *r, uint32_t len);

/* Consumer. Copies the next message into buf (cap bytes). *len gets its
 * length (also on RING_ETOOBIG). *notify is set true if the producer must be
 * notified (it was waiting for the room just freed). */
enum ring_status ring_read(struct ring *r, void *buf, uint32_t cap, uint32_t *len, bool *notify);
/* Consumer, in three steps, for callers that read a record in pieces or
 * act on its tag: ring_peek validates the next record's header and reports
 * its length and tag (RING_OK, RING_EMPTY, RING_ECORRUPT) without consuming
 * it (peeking again returns the same record); ring_copy copies bytes
 * [off, off + n) of it (RING_EINVAL outside it or with nothing peeked);
 * ring_advance consumes it (*notify as for ring_read). */
enum ring_status ring_peek(struct ring *r, uint32_t *len, uint32_t *tag);
enum ring_status ring_copy(struct ring *r, uint32_t off, void *buf, uint32_t n);
enum ring_status ring_advance(struct ring *r, bool *notify);

/* Consumer about to sleep: arms cons_event and re-checks. Returns true if
 * it must sleep (still empty), false if it should read again now. */
bool ring_consumer_prepare_sleep(struct ring *r);

#endif /* HV_RING_H */
