/*
 * Services, declared channels and introductions (docs/bus.md).
 *
 * A domain registers a service its manifest `offers`; another asks to use
 * one its manifest `uses`. Whenever a provider and a user of the same
 * service both are there — the user asked, the provider registered, in
 * either order, and again after the provider restarted — the control
 * domain introduces them. A channel a manifest declares (`channels:`) is
 * introduced the same way as soon as both domains said bus-hello.
 *
 * An introduction, for an offering side O (the user; the declarer) and an
 * accepting side A (the provider; the declared peer):
 *   1. capabilities: the control domain copies its capability of A into a
 *      slot of its own (grant and event-channel rights, copyable), copies
 *      that into a free peer slot of O's table (the same rights, not
 *      copyable), and the same the other way; the intermediate copies are
 *      what it revokes when the connection ends, so the copies it handed
 *      out go with them. Nobody is ever named by a domain id.
 *   2. bus-connect-request (offer) to O: O makes the area, grants it to A
 *      (the slot names A) and answers ref and port;
 *   3. bus-connect-request (accept) to A with that ref and port: A maps and
 *      binds, and answers;
 *   4. connected. A failure or a timeout at any step ends the connection.
 * Ending one (a side closes it, stops, crashes, is cut off): the other side
 * gets bus-gone-event, the capabilities are revoked, the slots freed.
 */
#ifndef CONTROL_SERVICES_H
#define CONTROL_SERVICES_H

#include <stdint.h>

#include <hv/proto_msgs.h>

struct dom;

#define SERVICES_MAX 32u
#define SERVICE_USES_MAX 64u
#define CONNS_MAX 48u
/* The geometry of a service connection: 16 KiB rings, 64 KiB bulk each way. */
#define SERVICE_RING_BYTES (16u * 1024u)
#define SERVICE_BUF_BYTES (64u * 1024u)
/* Declared channels: size-bytes is a power of two in this range. */
#define CHANNEL_SIZE_MIN (32u * 1024u)
#define CHANNEL_SIZE_MAX (2u * 1024u * 1024u)

/* The geometry of a declared channel of size_bytes (false if invalid). */
bool channel_geometry(uint64_t size_bytes, uint32_t *ring_bytes, uint32_t *buf_bytes);

/* Bus requests of d (answered with services_reply). */
void services_register(struct dom *d, uint64_t id, struct hvcbor_str name);
void services_use(struct dom *d, uint64_t id, struct hvcbor_str name);
void services_close(struct dom *d, uint64_t id, uint64_t conn);

/* d said bus-hello: introduces its declared channels (as either end). */
void services_domain_up(struct dom *d);
/* d stopped or was cut off: its connections end (the peers are told), its
 * registrations and uses are forgotten (a new incarnation asks again). */
void services_domain_gone(struct dom *d, const char *why);

/* The answer of `from` to a bus-connect-request of connection conn: the
 * reply (bus-connect-reply, ok-reply or error-reply) or NULL with why (it
 * timed out, or the domain went away). */
void services_connect_answer(uint64_t conn, struct dom *from, const struct proto_msg *reply,
                             const char *why);

/* The domain that registered service `name` and whose bus is up, or NULL
 * (hvctl volume goes to the provider of blk). */
struct dom *services_provider(const char *name);

/* hvctl services; and d's part for hvctl bus. */
void services_list(struct proto_service_list_reply *r);
void services_dom_info(const struct dom *d, struct proto_bus_info_reply *r);
/* Connections that exist now (any state but gone). */
uint64_t services_conn_count(void);

/* Implemented by bus.c: answers a bus request of d (code 0: ok-reply). */
void services_reply(struct dom *d, uint64_t id, enum proto_error_code code, int64_t hv_status,
                    const char *why);

#endif
