/*
 * The domain bus (docs/bus.md): this domain's connection to the control
 * domain, the configuration values of its manifest, services, and
 * connections to other domains (services and declared channels).
 *
 * The connection. A domain the control domain builds finds its bus in its
 * start-info page (HV_SIF_BUS): a duplex area (hv/duplex.h) of the control
 * domain's, granted to it, with an event channel. guest-kit connects it
 * before main (gk_start: gk_mm_init, map the area, bind the port, send
 * bus-hello); gk_bus_status() says whether that worked. Domains built
 * otherwise (the root, domains another domain builds) have no bus: every
 * call here then returns HV_ENOENT (or NULL / 0).
 *
 * Messages are catalog messages (proto/catalog.cddl): requests with ids,
 * ok-reply / error-reply (with the hypervisor's status when there is one),
 * events. The bus's port has a handler that reads what the control domain
 * sends whenever upcalls run: replies go to their waiters; a shutdown
 * request is answered and acted on at once (or by the hook of
 * gk_on_shutdown_request, gk/event.h); everything else (introductions,
 * suspend, memory targets, heartbeats (bus-ping from the control domain,
 * answered at the safe point: a domain stuck elsewhere does not answer),
 * connection gone, a driver domain's own requests)
 * is queued and handled at the next safe point: any call of this header, the return of gk_block (so
 * every gk_sleep_* and blocking wait), or gk_bus_poll. A domain that never
 * blocks and never calls gk_bus_poll (or gk_shutdown_poll) does not answer;
 * the control domain then times its requests out.
 *
 * Thread safety: every call may be made from any VCPU (a lock, held with
 * upcalls masked); none from an event handler unless it says so. The
 * blocking calls take a deadline in system time (gk_now_ns; GK_BUS_FOREVER
 * for none) and, while they wait, own the calling VCPU's one-shot timer as
 * gk_sleep_* do.
 */
#ifndef GK_BUS_H
#define GK_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gk/channel.h"

#define GK_BUS_FOREVER UINT64_MAX
/* How long the calls without a deadline wait for the control domain. */
#define GK_BUS_REPLY_TIMEOUT_NS (5ull * 1000 * 1000 * 1000)

/* HV_OK once the control domain answered bus-hello; HV_EAGAIN while the
 * answer is awaited; HV_ENOENT without a bus; else why connecting failed
 * (the hypercall's status, or HV_EINVAL for a malformed area). */
int64_t gk_bus_status(void);

/* Serves the bus now (a safe point): reads what arrived, answers requests,
 * completes introductions. Cheap when nothing is pending. */
void gk_bus_poll(void);

/* The value of key in the manifest's `config:` mapping, NUL-terminated into
 * buf (truncated to size - 1 bytes). 1: found; 0: the manifest has no such
 * key; negative: an hv_status (no bus HV_ENOENT, the control domain did not
 * answer in time HV_EAGAIN, a key of 0 or more than 64 bytes HV_EINVAL). */
int gk_config_get(const char *key, char *buf, size_t size);

/* A round trip to the control domain (bus-ping / bus-pong): HV_OK or a
 * status. For liveness and figures. */
int64_t gk_bus_ping(uint64_t seq);

/* ---- Services and connections -------------------------------------------- */

/* Offers service `name` (1..32 bytes). HV_OK; HV_EPERM when the manifest's
 * `offers` does not list it; HV_EEXIST when another domain provides it. Each
 * user the control domain introduces becomes a connection: gk_conn_wait. */
int64_t gk_service_register(const char *name);

/* Asks to use service `name`: the control domain introduces its provider
 * now or when one registers, and again whenever the provider restarts.
 * HV_OK; HV_EPERM when the manifest's `uses` does not list it. */
int64_t gk_service_use(const char *name);

/* A connection to another domain: a service (user or provider side) or a
 * declared channel. Messages and streams over a duplex area (hv/duplex.h)
 * made by the offering side and mapped by the other, with an event
 * channel. Opaque; valid until gk_conn_close. */
struct gk_conn;

/* The next connection named `name` (a service or a channel) that the
 * control domain introduced and this call has not returned yet; waits for
 * one until deadline_ns. NULL at the deadline or without a bus. A provider
 * calls it once per user; a user again after its provider went away. */
struct gk_conn *gk_conn_wait(const char *name, uint64_t deadline_ns);

/* Its name, the peer domain's name, whether this side offered the area. */
const char *gk_conn_name(const struct gk_conn *c);
const char *gk_conn_peer(const struct gk_conn *c);
/* The slot of this domain's capability table naming the peer domain (grant
 * and event-channel rights): to grant it pages (gk_grant_page) and to map
 * its grants (gk_grant_map), as a block front end and blkback do. 0 for
 * NULL. */
uint32_t gk_conn_peer_slot(const struct gk_conn *c);
/* Whether it is over: the peer closed, went away or broke the protocol.
 * What was already received can still be read. */
bool gk_conn_gone(const struct gk_conn *c);
/* The largest message (bulk buffer size, or the ring's limit). */
uint32_t gk_conn_max_msg(const struct gk_conn *c);

/* Messages, in order, none lost, 0 .. gk_conn_max_msg bytes. Those up to a
 * ring page go inside the ring, larger ones through the bulk buffers (no
 * copy through the ring). Results as for gk/channel.h; GK_CHAN_EDISCONNECTED
 * once gone and, for receiving, nothing is left. */
enum gk_chan_status gk_conn_send(struct gk_conn *c, const void *msg, uint32_t len,
                                 uint64_t deadline_ns);
enum gk_chan_status gk_conn_recv(struct gk_conn *c, void *buf, uint32_t cap, uint32_t *len,
                                 uint64_t deadline_ns);
/* Several messages in one call: sent in order, the peer woken once at the
 * end (or when the ring is full and it must drain) instead of after each:
 * on one CPU, where a woken peer runs at once, this is what lets it take a
 * batch per wake-up. *sent: how many went (all, unless an error or the
 * deadline stopped it). */
struct gk_conn_msg {
    const void *data;
    uint32_t len;
};
enum gk_chan_status gk_conn_sendv(struct gk_conn *c, const struct gk_conn_msg *msgs, uint32_t count,
                                  uint32_t *sent, uint64_t deadline_ns);

/* Receiving in place: the next message's length and, for one that came
 * through the bulk buffer, a pointer to its bytes (NULL: inline, use
 * gk_conn_recv); gk_conn_release consumes it. The bytes are the peer's and
 * may change under the reader: copy before validating. */
enum gk_chan_status gk_conn_peek(struct gk_conn *c, uint32_t *len, const uint8_t **bulk,
                                 uint64_t deadline_ns);
enum gk_chan_status gk_conn_release(struct gk_conn *c);

/* A byte stream instead: write sends all n bytes (waiting for room), read
 * returns at least one byte (*got), or GK_CHAN_EDISCONNECTED at the end of
 * a closed or gone stream. */
enum gk_chan_status gk_conn_write(struct gk_conn *c, const void *buf, uint32_t n,
                                  uint64_t deadline_ns);
enum gk_chan_status gk_conn_read(struct gk_conn *c, void *buf, uint32_t cap, uint32_t *got,
                                 uint64_t deadline_ns);

/* Closes it: tells the peer (the area's closed word and the control domain),
 * unmaps or takes back the area (an offering side whose peer still maps it
 * keeps it until the peer lets go, then frees it at a later safe point).
 * c is invalid afterwards. */
int64_t gk_conn_close(struct gk_conn *c);

/* ---- Requests from the control domain --------------------------------------- */

/* hvctl suspend: fn is called at a safe point and says whether the domain
 * is ready to be paused (true: the control domain pauses it; false: the
 * request is refused). Without a hook the domain agrees at once. */
void gk_bus_on_suspend(bool (*fn)(void));
/* Called at a safe point after the domain was unpaused following a suspend. */
void gk_bus_on_resume(void (*fn)(void));
/* hvctl mem-set: called at a safe point with the new target. Without a
 * hook the target is only recorded (the balloon driver is not written). */
void gk_bus_on_memory_target(void (*fn)(uint64_t target_bytes));
/* The last memory target asked for (0: none). */
uint64_t gk_bus_memory_target(void);

/* Requests guest-kit does not handle itself, for a driver domain (blkback's
 * volume requests, docs/blkback.md): once a hook is set, every other
 * message the control domain sends is queued (up to 512 bytes; a full
 * inbox answers busy) and fn is called with it at a safe point: its type,
 * request id and encoded bytes (the domain decodes and checks them; they
 * are the control domain's, not trusted further than any input). fn
 * answers with gk_bus_send. Without a hook they are dropped. */
void gk_bus_on_request(void (*fn)(uint64_t type, uint64_t id, const uint8_t *msg, uint32_t len));
/* Sends one encoded catalog message (a reply) to the control domain,
 * waiting up to GK_BUS_REPLY_TIMEOUT_NS for room. HV_OK or a status
 * (HV_E2BIG: larger than a ring message). Not from an event handler. */
int64_t gk_bus_send(const void *msg, uint32_t len);

/* Figures for tests and debugging. */
struct gk_bus_stats {
    uint64_t sent, received, dropped; /* messages; dropped: inbox full or undecodable */
    uint32_t conns;                   /* connections open now */
};
void gk_bus_get_stats(struct gk_bus_stats *out);

#endif
