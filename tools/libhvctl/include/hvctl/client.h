/*
 * libhvctl client: one connection to a control-domain socket carrying framed
 * CBOR messages (proto/include/hv/frame.h, docs/protocol.md).
 *
 * Everything the server sends is treated as hostile: garbage between frames is
 * dropped and counted, a frame that does not decode as a catalog message is a
 * protocol error naming the byte offset and key, a frame cut short is dropped
 * after an idle timeout, and every wait has a deadline. Strings shown to the
 * user (the server's error message) are copied with control characters
 * replaced, so a server cannot send escape sequences to the terminal.
 *
 * A connection is used by one thread at a time. Messages returned by
 * hvctl_recv()/hvctl_call() live in the connection and stay valid until the
 * next receive on it.
 */
#ifndef HVCTL_CLIENT_H
#define HVCTL_CLIENT_H

#include <hv/frame.h>
#include <hv/proto_msgs.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HVCTL_CLIENT_NAME "hvctl 0.1"
#define HVCTL_DEFAULT_TIMEOUT_MS 10000u
/* A hang-catcher: a partial frame after which nothing came for this long
 * (and nothing waits in the socket) is dropped. A frame is otherwise cut
 * short only by a new frame after at least HVCTL_PAUSE_MS of quiet. */
#define HVCTL_DEFAULT_IDLE_FLUSH_MS 10000u
#define HVCTL_PAUSE_MS 500u

/* Outcome of a client call. Stable: hvctl maps them to exit codes. */
enum hvctl_status {
    HVCTL_OK = 0,
    HVCTL_ERR_SERVER = 1,   /* the server answered error-reply (code, message) */
    HVCTL_ERR_CONNECT = 2,  /* no socket / nobody listening */
    HVCTL_ERR_TIMEOUT = 3,  /* no (complete) answer before the deadline */
    HVCTL_ERR_CLOSED = 4,   /* the server closed the connection */
    HVCTL_ERR_PROTOCOL = 5, /* the server sent something that is not a valid answer */
    HVCTL_ERR_IO = 6,       /* a system call failed */
    HVCTL_ERR_LOCAL = 7,    /* the request itself is invalid (refused before sending) */
};

/* What went wrong, for the user. message is NUL-terminated and printable. */
struct hvctl_error {
    enum hvctl_status status;
    enum proto_error_code server_code; /* for HVCTL_ERR_SERVER */
    bool has_hv_status;                /* HVCTL_ERR_SERVER: the hypervisor refused */
    int64_t hv_status;                 /* its status (enum hv_status, hvlib/status.h names it) */
    char server_text[600];             /* HVCTL_ERR_SERVER: the server's message, printable */
    char message[768];
};

/* One connection. Fields are private to client.c except the counters. */
struct hvctl_conn {
    int fd;
    uint64_t next_request_id;
    uint32_t idle_flush_ms; /* a partial frame idle this long is dropped (a hang-catcher) */
    struct frame_reader reader;
    uint8_t *reader_buf;
    uint8_t *in_buf; /* bytes read but not yet pushed to the reader */
    size_t in_off, in_len;
    uint8_t *payload; /* copy of the current message's bytes */
    uint32_t payload_len;
    struct proto_msg *msg; /* the current decoded message (large: heap) */
    uint8_t *out_buf;
    uint64_t last_byte_ms;     /* when bytes last arrived (partial-frame idle flush) */
    uint64_t dropped_bytes;    /* garbage / bad frames dropped so far */
    uint64_t skipped_messages; /* valid messages for other request ids, skipped */
    char notice[256];          /* the last error-reply with request id 0 (why the peer may
                                  close: the broker's admission, docs/hvctl.md) */
};

/* Names a status ("timeout", "server error", ...). */
const char *hvctl_status_name(enum hvctl_status s);

/* Sets up c around an already connected stream fd (socketpair, tests). Takes
 * ownership of fd. false only on allocation failure. */
bool hvctl_conn_init_fd(struct hvctl_conn *c, int fd, struct hvctl_error *err);
/* Connects to the Unix socket at path. */
bool hvctl_connect(struct hvctl_conn *c, const char *path, struct hvctl_error *err);
/* Closes the fd and frees the buffers. Safe on a zeroed or closed conn. */
void hvctl_close(struct hvctl_conn *c);

/* A fresh request id (never 0). */
uint64_t hvctl_next_id(struct hvctl_conn *c);

/* Validates, encodes, frames and writes m within timeout_ms. */
enum hvctl_status hvctl_send(struct hvctl_conn *c, const struct proto_msg *m, uint32_t timeout_ms,
                             struct hvctl_error *err);
/* Receives the next valid message of any request id within timeout_ms. */
enum hvctl_status hvctl_recv(struct hvctl_conn *c, uint32_t timeout_ms,
                             const struct proto_msg **out, struct hvctl_error *err);
/* Waits for the next message answering request_id (others are skipped and
 * counted). An error-reply becomes HVCTL_ERR_SERVER with its code and message. */
enum hvctl_status hvctl_wait_reply(struct hvctl_conn *c, uint64_t request_id, uint32_t timeout_ms,
                                   const struct proto_msg **out, struct hvctl_error *err);
/* Sends req and waits for its reply, which must be of type expect. */
enum hvctl_status hvctl_call(struct hvctl_conn *c, const struct proto_msg *req,
                             enum proto_msg_type expect, uint32_t timeout_ms,
                             const struct proto_msg **reply, struct hvctl_error *err);
/* The handshake: hello with PROTO_VERSION; fills server_name (printable,
 * NUL-terminated) and the server's version. */
enum hvctl_status hvctl_hello(struct hvctl_conn *c, uint32_t timeout_ms, char *server_name,
                              size_t cap, uint64_t *server_version, struct hvctl_error *err);

/* Copies a received string for display: control bytes become '?'. */
void hvctl_str_printable(char *out, size_t cap, struct hvcbor_str s);

#endif
