/*
 * Channels: a bidirectional message pipe between two domains, made of two
 * proto rings (hv/ring.h) in one granted page and one event channel.
 *
 * Setting one up (the server is the domain whose page it is):
 *
 *   server                                   client
 *   gk_channel_offer(&ch, peer_slot, page,
 *                    &ref, &port)
 *     formats the rings, grants the page
 *     (writable) to the peer, allocates an
 *     unbound port for it
 *   -- tells the client ref and port by any means (console input, command
 *      line, a CBOR message) --
 *                                            gk_channel_connect(&ch,
 *                                                server_slot, ref, port, va)
 *                                              maps the grant at va, binds
 *                                              the port, notifies
 *   gk_channel_accept(&ch) (or
 *   gk_channel_poll_accept): waits for that
 *   first notification
 *
 * Then either side sends and receives messages of 0 .. gk_channel_max_msg()
 * bytes, in order, none lost: gk_channel_send / gk_channel_recv block (the
 * ring's lost-wake-up-free protocol: arm the event index, re-check, block
 * with upcalls masked), gk_channel_try_send / gk_channel_try_recv never do.
 * Notifications are sent only when the other side asked for one (its event
 * index was crossed), so a busy channel costs no hypercalls.
 *
 * Page layout: bytes [0, 2048) are the ring from server to client, [2048,
 * 4096) the ring from client to server (each a 128-byte header and 1 KiB
 * of data: messages of up to 1016 bytes).
 *
 * Trust: everything read from the shared page comes from the other domain.
 * An index out of range, a record header with a length that does not fit,
 * or a non-zero reserved header word makes the ring report RING_ECORRUPT;
 * the channel is then disconnected for good (GK_CHAN_EDISCONNECTED from
 * every call) and is only good for gk_channel_close. Nothing the peer
 * writes makes guest-kit read or write outside the page or crash. The ref
 * and port a client is given are range-checked before any hypercall; the
 * hypervisor checks the rest (whose grant, whose port). A peer that simply
 * stops (never writes, never notifies) cannot be told from a slow one: the
 * blocking calls then wait; use the _until calls (a deadline) or the try_
 * calls, or watch the peer's state (HV_VIRQ_DOM_STATE), and gk_channel_close.
 *
 * Events: the channel binds a handler to its port that counts
 * notifications and calls the optional on_event callback (from the event
 * handler: it must not block). The port is delivered to VCPU 0; a channel
 * is used from one VCPU at a time (the rings are single-producer,
 * single-consumer); move the port with gk_evtchn_bind_vcpu (gk/vcpu.h) to
 * block on it from another VCPU. Needs gk_events_init (and, for the client,
 * gk_mm_init: the mapping may need page tables).
 */
#ifndef GK_CHANNEL_H
#define GK_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/ring.h"

#define GK_CHANNEL_PAGE_BYTES 4096u
#define GK_CHANNEL_RING_BYTES (GK_CHANNEL_PAGE_BYTES / 2u)

/* Results of the message calls (the setup calls return enum hv_status). */
enum gk_chan_status {
    GK_CHAN_OK = 0,
    GK_CHAN_EMPTY = 1,         /* try_recv: nothing to read */
    GK_CHAN_FULL = 2,          /* try_send: no room now */
    GK_CHAN_ETOOBIG = 3,       /* send: longer than gk_channel_max_msg(); recv: the
                                  buffer is too small (*len = the length needed, the
                                  message stays in the ring) */
    GK_CHAN_EDISCONNECTED = 4, /* the peer broke the ring protocol (or not set up) */
    GK_CHAN_EINVAL = 5,        /* bad arguments (NULL buffer with a length, ...) */
    GK_CHAN_ENOTIFY = 6,       /* the message went through but the notification
                                  hypercall failed (gk_channel_last_error); for the
                                  _until calls also: the timer could not be armed
                                  (nothing sent or received) */
    GK_CHAN_ETIMEDOUT = 7,     /* _until: the deadline passed first (nothing sent or
                                  received) */
};

/* The result a ring status means for a caller (gk/bus.h's connections too):
 * RING_ECORRUPT is GK_CHAN_EDISCONNECTED. */
enum gk_chan_status gk_chan_status_of(enum ring_status st);

/* No deadline, for the _until calls (what send and recv use). */
#define GK_CHANNEL_FOREVER UINT64_MAX

struct gk_channel;
typedef void (*gk_channel_event_fn)(struct gk_channel *ch, void *arg);

/* One end of a channel. Private to its domain; set up by offer or connect. */
struct gk_channel {
    struct ring tx, rx;
    uint8_t *page;      /* the shared page (server: ours; client: the mapping) */
    uint32_t peer_slot; /* the peer's domain capability */
    uint32_t ref;       /* the grant (made by the server) */
    uint32_t port;      /* our end of the event channel */
    bool server;
    bool set_up;              /* offer/connect succeeded and close has not run */
    bool accepted;            /* server: the client has bound and notified */
    bool mapped;              /* client: the page is mapped */
    bool disconnected;        /* a ring reported RING_ECORRUPT */
    int64_t last_error;       /* status of the last failed notification */
    volatile uint64_t events; /* notifications received (handler count) */
    uint64_t notifies;        /* notifications sent */
    gk_channel_event_fn on_event;
    void *on_event_arg;
};

/*
 * Server: makes `page` (page-aligned, GK_CHANNEL_PAGE_BYTES, ours and used
 * for nothing else while the channel lives) into a channel with the domain
 * in peer_slot (a domain capability with HV_CAP_R_DOM_GRANT and
 * HV_CAP_R_DOM_EVTCHN). *ref and *port are what the client needs. On
 * failure everything done so far is undone (grant ended, port closed) and
 * the status returned: HV_EINVAL for a NULL/unaligned page or outputs,
 * else the failing hypercall's.
 */
int64_t gk_channel_offer(struct gk_channel *ch, uint32_t peer_slot, void *page, uint32_t *ref,
                         uint32_t *port);

/* Server: blocks until the client has connected (its first notification).
 * HV_EINVAL if ch is not a server channel. */
int64_t gk_channel_accept(struct gk_channel *ch);
/* Server: whether the client has connected, without blocking. */
bool gk_channel_poll_accept(struct gk_channel *ch);

/*
 * Client: connects to the channel the domain in server_slot offered with
 * (ref, port), mapping its page at the page-aligned, unmapped va. HV_EINVAL
 * before any hypercall for a ref or port out of range (0 included) or a bad
 * va; else the status of the map or bind (on failure the page is unmapped
 * again). The rings are validated as they are used, not here.
 */
int64_t gk_channel_connect(struct gk_channel *ch, uint32_t server_slot, uint32_t ref, uint32_t port,
                           uint64_t va);

/* Sends len bytes of msg. try_send: GK_CHAN_FULL if no room now. send:
 * waits for room (blocking with upcalls masked, woken by the peer's
 * notification). Both notify the peer if it is waiting for data. */
enum gk_chan_status gk_channel_try_send(struct gk_channel *ch, const void *msg, uint32_t len);
enum gk_chan_status gk_channel_send(struct gk_channel *ch, const void *msg, uint32_t len);

/* Receives the next message into buf (cap bytes); *len gets its length.
 * try_recv: GK_CHAN_EMPTY if none. recv: waits for one. Both notify the
 * peer if it was waiting for the room just freed. */
enum gk_chan_status gk_channel_try_recv(struct gk_channel *ch, void *buf, uint32_t cap,
                                        uint32_t *len);
enum gk_chan_status gk_channel_recv(struct gk_channel *ch, void *buf, uint32_t cap, uint32_t *len);

/* send and recv with a deadline in system time (gk_now_ns; GK_CHANNEL_FOREVER
 * for none): GK_CHAN_ETIMEDOUT if it passes before there is room / a
 * message (a deadline already past still tries once). While waiting they
 * own the calling VCPU's one-shot timer, as gk_sleep_* do (gk/time.h): a
 * timer the caller armed itself is replaced. Not from an event handler. */
enum gk_chan_status gk_channel_send_until(struct gk_channel *ch, const void *msg, uint32_t len,
                                          uint64_t deadline_ns);
enum gk_chan_status gk_channel_recv_until(struct gk_channel *ch, void *buf, uint32_t cap,
                                          uint32_t *len, uint64_t deadline_ns);

/* The largest message (1016 bytes with the layout above). */
uint32_t gk_channel_max_msg(const struct gk_channel *ch);

/* Whether the channel is disconnected (a corrupt ring, or not set up). */
bool gk_channel_disconnected(const struct gk_channel *ch);

/* The hypercall status behind the last GK_CHAN_ENOTIFY (HV_OK if none). */
int64_t gk_channel_last_error(const struct gk_channel *ch);

/* Calls fn(ch, arg) from the port's event handler on every notification
 * (NULL: none). fn runs in an event handler: it must not block. */
void gk_channel_set_event_fn(struct gk_channel *ch, gk_channel_event_fn fn, void *arg);

/*
 * Tears our end down: closes the port; the client unmaps the page; the
 * server ends the grant, which the hypervisor refuses with HV_EBUSY while
 * the client still maps it (then call again later: what was done is not
 * redone). HV_OK when nothing is left.
 */
int64_t gk_channel_close(struct gk_channel *ch);

#endif
