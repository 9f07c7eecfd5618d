/*
 * The control domain's end of every domain's bus (docs/bus.md).
 *
 * When the registry builds a domain, bus_on_created (the builder's hook,
 * run after HV_DOMCTL_CREATE) makes its bus: three pages of the control
 * domain's own memory formatted as a duplex area (one 4 KiB ring each way),
 * each granted writable to the new domain; an unbound port for it; and a
 * copy of the control domain's own domain capability (grant and event-
 * channel rights only) in slot BUS_CONTROL_SLOT of the new domain's table.
 * The start-info page tells the domain where all that is.
 *
 * bus_poll, once per loop, serves every bus in turn under the rules of
 * bus_conn.h (budget, rate, queue, strikes): hello, ping, config values,
 * and the service requests (services.c). Requests the control domain
 * sends a domain (shutdown, suspend, memory target, introductions) wait in
 * a per-domain table for their reply, with a deadline; their answer may
 * complete an hvctl request (a continuation answered over COM2).
 *
 * Life: bus_domain_gone when the domain stops or is cut off (its
 * connections end, its peers are told, pending requests fail);
 * bus_release once the hypervisor domain is destroyed (grants ended,
 * pages freed, port closed). Nothing of a bus outlives its domain.
 */
#ifndef CONTROL_BUS_H
#define CONTROL_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include <hv/abi.h>
#include <hv/proto_msgs.h>

#include "bus_conn.h"

struct dom;

/* The slot of every bus domain's table that names the control domain. */
#define BUS_CONTROL_SLOT 192u
/* Slots the control domain fills with introduced peers: 193 .. 255. */
#define BUS_PEER_SLOT_FIRST 193u
#define BUS_RING_BYTES 4096u
#define BUS_PENDING_MAX 16u
#define BUS_REQUEST_TIMEOUT_NS (5ull * 1000 * 1000 * 1000)

/* What to do with the answer to a request the control domain sent. */
enum bus_cont {
    BUS_CONT_NONE = 0,      /* log it */
    BUS_CONT_HVCTL = 1,     /* answer hvctl request `arg` of `session` */
    BUS_CONT_SUSPEND = 2,   /* pause the domain, then answer as HVCTL */
    BUS_CONT_CONNECT = 3,   /* an introduction's step (services.c, conn `arg`) */
    BUS_CONT_RELAY = 4,     /* as HVCTL, but an answer of the expected type goes to hvctl
                             as it is (its request id replaced): hvctl volume */
    BUS_CONT_HEARTBEAT = 5, /* registry_heartbeat: answered (bus-pong) or not in time */
};

/* How dispatch.c answers an hvctl request later (code 0: ok-reply, or
 * `relay` when it is not NULL: the domain's reply, sent on with the id). */
typedef void (*bus_answer_fn)(uint64_t session, uint64_t id, enum proto_error_code code,
                              int64_t hv_status, const char *why, struct proto_msg *relay);

/* Binds nothing yet; remembers how to wake the loop and answer hvctl. */
void bus_init(void (*wake)(void), bus_answer_fn answer);

/* The builder's on_created hook for d (see gk_build_spec). */
int64_t bus_on_created(void *d, uint32_t dom_slot, uint32_t domid, struct hv_start_bus *out);

/* The domain stopped, is being destroyed, or was cut off: ends its
 * connections (peers told), fails its pending requests, stops serving. */
void bus_domain_gone(struct dom *d, const char *why);

/* After the hypervisor domain is gone (or its build failed): ends the
 * grants, frees the pages, closes the port. */
void bus_release(struct dom *d);

/* Serves every bus (one round each), times requests out. */
void bus_poll(void);

/* Its bus state (PROTO_BUS_STATE_NONE if it never had one). */
enum proto_bus_state bus_state(const struct dom *d);

/* Sends d a request (m's request id is set here) with a continuation.
 * NULL, or a reason (not connected, too many pending, ...). */
const char *bus_request(struct dom *d, struct proto_msg *m, enum bus_cont cont, uint64_t arg,
                        uint64_t session);
/* The same with its own timeout (a volume request may zero many MiB). */
const char *bus_request_timeout(struct dom *d, struct proto_msg *m, enum bus_cont cont,
                                uint64_t arg, uint64_t session, uint64_t timeout_ns);

/* Sends d an event (m's request id is set to the next event number). */
void bus_event(struct dom *d, struct proto_msg *m);

/* Asks d to shut down over its bus; false if it has no connected bus (the
 * caller then uses HV_DOMCTL_SHUTDOWN_REQUEST). */
bool bus_shutdown(struct dom *d, enum proto_shutdown_kind kind);

/* Sends d a heartbeat (bus-ping) that must be answered within timeout_ns
 * (registry_heartbeat says whether it was); false if its bus is not
 * connected or too busy (nothing sent). */
bool bus_heartbeat(struct dom *d, uint64_t timeout_ns);

/* Tells d it was resumed (after a suspend). */
void bus_resumed(struct dom *d);

/* hvctl bus DOMAIN: fills r (d NULL: the control domain's totals). */
void bus_info(const struct dom *d, struct proto_bus_info_reply *r);

/* The capability slot of d's domain capability in the control domain's
 * table, and d by index (for services.c). */
uint32_t bus_dom_slot(const struct dom *d);

#endif
