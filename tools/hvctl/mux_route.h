/*
 * The broker's routing (docs/hvctl.md, "The broker"): many hvctl clients share
 * the one connection to QEMU's COM2. No I/O here: mux.c decodes frames and
 * calls these functions; they answer through the two send callbacks. The unit
 * test (test/unit/hvctl/mux_test.c) drives them directly.
 *
 * Every request a client sends goes out with a request id unique on the wire;
 * a table maps it back to (client, the client's own id). Replies and stream
 * messages (console-data, console-detach, log-entries) come back with the
 * client's id restored. What the control domain keeps per connection and the
 * broker must therefore keep per client instead:
 *   - hello starts a new session in the control domain (every console
 *     attachment, the log follower and unfinished uploads end), so a client's
 *     hello is never forwarded: the broker answers it from the control
 *     domain's own hello-reply (sent once, when the broker connects).
 *   - console streams: the stream id is the authority for console-data and
 *     console-detach; the broker accepts them only from the client the stream
 *     was attached for, and detaches a client's streams when it goes away.
 *   - log-query with follow: the control domain keeps one follower, which any
 *     other log-query ends. The broker therefore forwards every log-query
 *     without follow and, for a follower, asks again every
 *     MUX_FOLLOW_POLL_MS from the sequence number the last batch ended at,
 *     passing on non-empty batches under the follower's request id.
 *   - image uploads: chunks are accepted only for an upload id the same
 *     client was given. An upload abandoned by a client that goes away stays
 *     reserved in the control domain (the protocol has no way to cancel it;
 *     unfinished, see docs/hvctl.md).
 */
#ifndef HVCTL_MUX_ROUTE_H
#define HVCTL_MUX_ROUTE_H

#include <hv/proto_msgs.h>
#include <stdbool.h>
#include <stdint.h>

#define MUX_MAX_ENTRIES 1024u    /* requests in flight, all clients */
#define MUX_MAX_PER_CLIENT 64u   /* requests in flight per client (streams included) */
#define MUX_MAX_FOLLOWERS 32u    /* `log -f` clients */
#define MUX_MAX_UPLOADS 64u      /* upload ids remembered, all clients */
#define MUX_FOLLOW_POLL_MS 250u  /* a follower's log is asked for this often */
#define MUX_NO_CLIENT UINT32_MAX /* owner of an entry whose client went away */

enum mux_kind {
    MUX_FREE = 0,
    MUX_REQ,    /* one request, one reply */
    MUX_ATTACH, /* console-attach-request sent, no reply yet */
    MUX_STREAM, /* an attached console: console-data both ways */
    MUX_LOGQ,   /* a follower's first log-query */
    MUX_POLL,   /* the broker's own log-query for a follower */
    MUX_UPLOAD, /* image-upload-request: the reply names an upload id */
};

struct mux_entry {
    enum mux_kind kind;
    uint32_t client; /* MUX_NO_CLIENT: gone, its answer is dropped */
    uint64_t orig_id, wire_id;
    uint64_t stream;     /* MUX_STREAM */
    bool detach_pending; /* MUX_STREAM: a console-detach was sent for it */
    uint32_t follower;   /* MUX_LOGQ/MUX_POLL: index in followers */
};

struct mux_follower {
    bool used, poll_in_flight;
    uint32_t client;
    uint64_t orig_id, next_seq, max_entries, last_poll_ms;
    uint8_t token[64];
    uint32_t token_len;
};

struct mux_upload {
    bool used;
    uint32_t client;
    uint64_t upload;
};

struct mux_ops {
    /* A message for the control domain (request id already rewritten). */
    void (*to_wire)(void *ctx, const struct proto_msg *m);
    /* A message for one client (request id already restored). */
    void (*to_client)(void *ctx, uint32_t client, const struct proto_msg *m);
    /* Optional: the control domain answered one of client's requests with
     * something other than an error-reply, so it accepted the client's
     * token (mux_admit.h). Called before the answer is passed on. */
    void (*authenticated)(void *ctx, uint32_t client);
};

struct mux_stats {
    uint64_t forwarded, routed, dropped_replies, local_answers, detaches_on_close;
};

struct mux_router {
    struct mux_ops ops;
    void *ctx;
    uint64_t next_wire_id;
    uint64_t server_version;
    char server_name[65];
    struct mux_entry entries[MUX_MAX_ENTRIES];
    struct mux_follower followers[MUX_MAX_FOLLOWERS];
    struct mux_upload uploads[MUX_MAX_UPLOADS];
    struct proto_msg scratch; /* large: the router lives in static storage or the heap */
    struct mux_stats stats;
};

/* server_name/version: from the control domain's hello-reply. first_wire_id:
 * the first id to hand out (ids below it were used by the broker's hello). */
void mux_router_init(struct mux_router *r, const struct mux_ops *ops, void *ctx,
                     const char *server_name, uint64_t server_version, uint64_t first_wire_id);

/* A decoded message from a client. */
void mux_client_msg(struct mux_router *r, uint32_t client, const struct proto_msg *m);
/* A decoded message from the control domain. */
void mux_server_msg(struct mux_router *r, const struct proto_msg *m);
/* The client closed (or was closed): its streams are detached, its answers
 * in flight dropped, its follower ended. */
void mux_client_gone(struct mux_router *r, uint32_t client);
/* Sends due follower polls. */
void mux_tick(struct mux_router *r, uint64_t now_ms);

/* Entries in use (all, or one client's). */
uint32_t mux_entries_used(const struct mux_router *r, uint32_t client);

/* Sets a message's request id (every catalog message has one). */
void mux_set_request_id(struct proto_msg *m, uint64_t id);

#endif
