/*
 * Stream framing for the COM2 byte stream between hvctl and the control
 * domain (and any other byte stream that carries CBOR messages).
 *
 * Wire format of one frame, all integers little-endian:
 *
 *   offset  size  field
 *   0       4     magic "HVF1" (0x48 0x56 0x46 0x31)
 *   4       4     payload length in bytes (<= FRAME_MAX_PAYLOAD)
 *   8       4     header check: CRC-32C of bytes 0..7
 *   12      len   payload (one CBOR message)
 *   12+len  4     CRC-32C of the payload
 *
 * The header check means a corrupt length is caught before the reader waits
 * for the bytes it names. A reader resynchronises after garbage, a corrupt
 * header or a corrupt payload by dropping one byte and searching for the
 * next magic, so a valid frame that starts inside a bad one is still found.
 * A truncated frame (the writer died half-way) is found by what follows it,
 * not by how long the stream was quiet: the owner of the stream calls
 * frame_reader_mark_pause() when bytes arrive after a pause of its choice,
 * and if they begin a valid frame header the frame in progress is dropped
 * there; if they do not, they continue it, however long the pause (a busy
 * host stalls a writer mid-frame). A frame whose writer never writes again
 * is dropped by frame_reader_flush_partial() after an idle timeout (a
 * hang-catcher), which drops its first byte and rescans the rest.
 *
 * Freestanding; allocation-free; the reader works in a caller-provided
 * buffer. Not thread-safe.
 */
#ifndef HV_FRAME_H
#define HV_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_MAGIC0 0x48u /* 'H' */
#define FRAME_MAGIC1 0x56u /* 'V' */
#define FRAME_MAGIC2 0x46u /* 'F' */
#define FRAME_MAGIC3 0x31u /* '1' */
#define FRAME_HEADER_BYTES 12u
#define FRAME_TRAILER_BYTES 4u
#define FRAME_OVERHEAD_BYTES (FRAME_HEADER_BYTES + FRAME_TRAILER_BYTES)
#define FRAME_MAX_PAYLOAD 65536u

/* CRC-32C (Castagnoli), as in iSCSI and ext4: init ~0, final xor ~0.
 * Pass crc = 0 to start; feed the result back in to continue. */
uint32_t frame_crc32c(uint32_t crc, const void *p, size_t len);

/* Writes one frame around payload into out. Returns the frame length, or 0
 * if len exceeds FRAME_MAX_PAYLOAD or the frame does not fit in cap. */
size_t frame_encode(void *out, size_t cap, const void *payload, size_t len);

/* Why bytes were dropped. */
enum frame_drop_reason {
    FRAME_DROP_NONE = 0,
    FRAME_DROP_GARBAGE = 1,    /* bytes that did not start with the magic */
    FRAME_DROP_BAD_HEADER = 2, /* magic found but header check failed */
    FRAME_DROP_OVERSIZED = 3,  /* header valid but length above the reader's limit */
    FRAME_DROP_BAD_CRC = 4,    /* payload checksum mismatch */
    FRAME_DROP_TRUNCATED = 5,  /* partial frame flushed by the caller */
};

/* What frame_reader_next() found. */
enum frame_event_kind {
    FRAME_EV_NONE = 0,    /* need more bytes */
    FRAME_EV_FRAME = 1,   /* a valid frame: payload, payload_len */
    FRAME_EV_DROPPED = 2, /* dropped_bytes bytes discarded for reason */
};

struct frame_event {
    enum frame_event_kind kind;
    const uint8_t *payload; /* into the reader's buffer; valid until the next reader call */
    uint32_t payload_len;
    uint64_t dropped_bytes;
    enum frame_drop_reason reason; /* the first reason seen in this run of drops */
};

/*
 * The resynchronising reader. Holds at most cap bytes; cap must be at least
 * FRAME_OVERHEAD_BYTES + max_payload. Counters are for statistics only.
 */
struct frame_reader {
    uint8_t *buf;
    size_t cap;
    size_t start; /* live bytes are buf[start..len) */
    size_t len;
    size_t consumed; /* bytes at the front already handed out, removed on next call */
    uint32_t max_payload;
    uint64_t pending_drop; /* bytes dropped not yet reported */
    size_t pause_at;       /* the bytes from buf[pause_at] came after a pause */
    bool pause;            /* pause_at is set and not yet judged */
    enum frame_drop_reason pending_reason;
    uint64_t frames_count;
    uint64_t dropped_bytes_total;
};

/* Returns false (and leaves r unusable) if cap is too small for max_payload
 * or max_payload exceeds FRAME_MAX_PAYLOAD. */
bool frame_reader_init(struct frame_reader *r, void *buf, size_t cap, uint32_t max_payload);
/* Copies in as many bytes as fit; returns how many were taken. Call
 * frame_reader_next() until it returns FRAME_EV_NONE before pushing again if
 * fewer than len were taken. */
size_t frame_reader_push(struct frame_reader *r, const void *data, size_t len);
/* Produces the next event. Drops are reported before the frame that ends
 * them, so the caller learns of every discarded byte. */
void frame_reader_next(struct frame_reader *r, struct frame_event *ev);
/* Declares the partially received frame (if any) dead; its first byte is
 * dropped and the rest rescanned by later frame_reader_next() calls. Returns
 * true if there was something to flush. */
bool frame_reader_flush_partial(struct frame_reader *r);
/* Call before pushing the first bytes that came after a pause in the
 * stream (the owner's judgement, e.g. no byte for 300 ms). If a partial
 * frame is buffered and the bytes pushed next begin a valid frame header
 * (magic and header check: a writer that went away and a new one that
 * started), the partial frame is dropped whole as FRAME_DROP_TRUNCATED and
 * reading resumes at that header. If they do not (or they complete the
 * partial frame with a valid checksum), they continue it: a pause alone
 * never drops anything. Nothing happens when no partial frame is buffered;
 * while an earlier pause is still undecided (fewer than a header's bytes
 * followed it, all of them the magic's) that one stands. */
void frame_reader_mark_pause(struct frame_reader *r);

#endif /* HV_FRAME_H */
