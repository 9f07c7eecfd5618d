/*
 * Request dispatch: decodes each frame as a catalog message, checks the
 * token and its rights, performs the request through the registry, the
 * consoles, the images or the token table, answers it, and logs it.
 *
 * Decode, then invoke: dispatch.c keeps one route per request type (a
 * table keyed by message type). The decode step, common to all routes,
 * checks the names, the token, its right over the target and finds the
 * target domain, changing nothing; only then does the route's invoke act.
 * A new request type is a new route and its invoke function.
 *
 * Sessions: COM2 carries one connection at a time and the control domain
 * cannot see it close, so `hello` starts a new session: the streams of
 * the previous one (console attachments, log follow, unfinished uploads)
 * end. Requests are served with or without a hello first.
 */
#ifndef CONTROL_DISPATCH_H
#define CONTROL_DISPATCH_H

#include <stdint.h>

#include <hv/proto_msgs.h>

#define CONTROL_SERVER_NAME "hv-control 0.1"

/* The transport's frame callback. */
void dispatch_frame(const uint8_t *payload, uint32_t len);

/* Sends new log entries to a following log query, if any. */
void dispatch_poll(void);

/* Answers a request of session `session` that had to wait for a domain
 * (bus.c: suspend, memory target, volume requests): ok-reply if code is 0
 * (or `relay`, the domain's own reply, with its request id set to id),
 * else error-reply with why (and hv_status if not 0). Dropped if the
 * session has ended. */
void dispatch_answer_later(uint64_t session, uint64_t id, enum proto_error_code code,
                           int64_t hv_status, const char *why, struct proto_msg *relay);

#endif
