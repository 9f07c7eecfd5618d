/*
 * The control protocol's byte stream on COM2: frames in (proto's
 * resynchronising reader, hv/frame.h), catalog messages out. Garbage, bad
 * frames and oversized frames are dropped and counted; a frame left
 * incomplete is dropped when bytes that begin a new frame follow it after a
 * pause (TRANSPORT_PAUSE_NS; the writer went away and a new one started), or,
 * as a hang-catcher, when nothing follows it for TRANSPORT_IDLE_FLUSH_NS.
 *
 * COM2 carries one host connection at a time and the control domain cannot
 * see connections open and close: a `hello` marks a new one (dispatch.c).
 */
#ifndef CONTROL_TRANSPORT_H
#define CONTROL_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include <hv/proto_msgs.h>

/* The largest frame payload accepted: an image-upload-chunk of 32 KiB with
 * its envelope. Larger frames are dropped unread (FRAME_DROP_OVERSIZED). */
#define TRANSPORT_MAX_PAYLOAD (32768u + 1024u)
/* A hang-catcher, not a pace: behind hvctl's broker frames come whole but,
 * on a busy host, a 32 KiB chunk can trickle in with pauses of seconds
 * (QEMU moves 14 bytes per round of its main loop); 300 ms here dropped
 * chunks as "truncated" under a load average of 17. */
#define TRANSPORT_IDLE_FLUSH_NS (10000ull * 1000 * 1000)
/* Bytes after this much quiet may begin a new frame (frame_reader_mark_pause):
 * a pause alone never drops anything. */
#define TRANSPORT_PAUSE_NS (300ull * 1000 * 1000)
/* How long a send may wait on a host that does not read. */
#define TRANSPORT_TX_STALL_NS (2000ull * 1000 * 1000)

/* Called for every valid frame's payload. */
typedef void (*transport_frame_fn)(const uint8_t *payload, uint32_t len);

/* Sets up the UART and the reader. NULL or a static reason. */
const char *transport_init(transport_frame_fn on_frame);

/* Moves whatever COM2 received through the reader (calling on_frame for
 * each frame) and flushes an idle partial frame. Returns true if any byte
 * arrived. */
bool transport_poll(void);

/* Validates, encodes, frames and sends one message. false if it could not
 * be encoded (a bug: logged) or the host stopped reading. */
bool transport_send(const struct proto_msg *m);

/* Statistics for the log and the tests. */
struct transport_stats {
    uint64_t frames, dropped_bytes, drop_events, sent, send_failures, last_drop_reason;
};
void transport_get_stats(struct transport_stats *out);

/* The interrupt-arrived flag set by the UART handler (for the main loop). */
extern volatile bool transport_irq_pending;

#endif
