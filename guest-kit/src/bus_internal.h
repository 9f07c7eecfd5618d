/*
 * guest-kit internal: what bus.c (the connection to the control domain),
 * conn.c (connections to other domains), vmap.c (the mapping arena),
 * event.c and runtime.c share. Not installed; see gk/bus.h for the API.
 */
#ifndef GK_BUS_INTERNAL_H
#define GK_BUS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/abi.h"

struct proto_bus_connect_request;

/* ---- vmap.c: virtual addresses for mappings of other domains' pages ---- */

/* The arena: [GK_VMAP_BASE, GK_VMAP_BASE + GK_VMAP_BYTES) = [96 TiB, 97 TiB), L4
 * slot 192 (keep your own mappings elsewhere). Nothing else of
 * guest-kit maps there (the heap is at 16 TiB, the builder's scratch page
 * at the top). */
#define GK_VMAP_BASE 0x0000600000000000ull
#define GK_VMAP_BYTES (1ull << 40)

/* A page-aligned range of `pages` unused addresses (first fit, so freed
 * ranges and their page tables are used again), or 0. */
uint64_t gk_vmap_alloc(uint64_t pages);
/* Gives a range back (its pages must be unmapped already). */
void gk_vmap_free(uint64_t va, uint64_t pages);

/* ---- bus.c ------------------------------------------------------------------ */

/* Connects the bus described by si (HV_SIF_BUS) and sends bus-hello; the
 * outcome is gk_bus_status(). Called by gk_start before main. */
void gk_bus_start(const struct hv_start_info *si);

/* A safe point (gk_block's return, gk_shutdown_poll): serves the bus
 * unless the calling VCPU is inside a bus call already. */
void gk_bus_safe_point(void);

/* Whether the bus has work for a safe point (a queued request or event, or
 * unread messages). Drains and arms the ring first, so a caller that finds
 * none, with upcalls masked, may block: anything new notifies. */
bool gk_bus_work_pending(void);

/* Drains what the control domain sent without acting on queued requests
 * (for gk_shutdown_poll with upcalls masked: finds shutdown requests). */
void gk_bus_poll_shutdown(void);

/* Sends one encoded message to the control domain, waiting for room until
 * deadline_ns. HV_OK or HV_EAGAIN (no room in time), HV_ENOENT (no bus). */
int64_t gk_bus_send_raw(const uint8_t *msg, uint32_t len, uint64_t deadline_ns);

/* Encodes a reply (ok-reply if err == 0, else error-reply with that code,
 * an enum proto_error_code, hv_status and message) to request id and sends
 * it. */
void gk_bus_reply(uint64_t id, uint32_t err, int64_t hv_status, const char *message);

/* For the hostile-bus test guest only: the mapped bus area (NULL without a
 * bus) and our port to the control domain. */
void *gk_bus_area(void);
uint32_t gk_bus_port(void);

/* Tells the control domain we closed connection conn (it tells the peer). */
int64_t gk_bus_close_conn(uint64_t conn);

/* ---- conn.c ----------------------------------------------------------------- */

/* A bus-connect-request from the control domain (at a safe point): makes or
 * maps the area and answers. */
void gk_conn_on_connect(const struct proto_bus_connect_request *q);
/* A bus-gone-event: marks the connection gone. */
void gk_conn_on_gone(uint64_t conn);
/* At every safe point: retries what closing connections could not finish
 * (grants the peer still maps). */
void gk_conn_reap(void);
/* Connections open now. */
uint32_t gk_conn_count(void);

/* ---- event.c ---------------------------------------------------------------- */

/* A shutdown request that came over the bus: recorded like one from
 * HV_VIRQ_SHUTDOWN; without a hook the domain stops at once. May be called
 * from the bus's event handler. */
void gk_shutdown_request(enum hv_shutdown_reason reason);

#endif
