/* The control-socket client (client.h). */
#include "hvctl/client.h"
#include "hvctl/unixsock.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hvlib/status.h"

#define READER_CAP (FRAME_OVERHEAD_BYTES + FRAME_MAX_PAYLOAD + 4096u)
#define IN_CAP 16384u
#define OUT_CAP (FRAME_OVERHEAD_BYTES + FRAME_MAX_PAYLOAD)

static enum hvctl_status fail(struct hvctl_error *err, enum hvctl_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum hvctl_status fail(struct hvctl_error *err, enum hvctl_status s, const char *fmt, ...)
{
    if (err) {
        err->status = s;
        err->server_code = 0;
        err->has_hv_status = false;
        err->hv_status = 0;
        err->server_text[0] = 0;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return s;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const char *hvctl_status_name(enum hvctl_status s)
{
    switch (s) {
    case HVCTL_OK: return "ok";
    case HVCTL_ERR_SERVER: return "refused by the control domain";
    case HVCTL_ERR_CONNECT: return "cannot connect";
    case HVCTL_ERR_TIMEOUT: return "timeout";
    case HVCTL_ERR_CLOSED: return "connection closed";
    case HVCTL_ERR_PROTOCOL: return "protocol error";
    case HVCTL_ERR_IO: return "I/O error";
    case HVCTL_ERR_LOCAL: return "invalid request";
    }
    return "unknown";
}

void hvctl_str_printable(char *out, size_t cap, struct hvcbor_str s)
{
    if (cap == 0)
        return;
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = s.ptr[i];
        out[i] = (b < 0x20 || b == 0x7f) ? '?' : (char)b;
    }
    out[n] = '\0';
}

bool hvctl_conn_init_fd(struct hvctl_conn *c, int fd, struct hvctl_error *err)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->next_request_id = 1;
    c->idle_flush_ms = HVCTL_DEFAULT_IDLE_FLUSH_MS;
    c->reader_buf = malloc(READER_CAP);
    c->in_buf = malloc(IN_CAP);
    c->payload = malloc(FRAME_MAX_PAYLOAD);
    c->msg = malloc(sizeof *c->msg);
    c->out_buf = malloc(OUT_CAP);
    if (!c->reader_buf || !c->in_buf || !c->payload || !c->msg || !c->out_buf ||
        !frame_reader_init(&c->reader, c->reader_buf, READER_CAP, FRAME_MAX_PAYLOAD)) {
        close(fd);
        c->fd = -1;
        hvctl_close(c);
        fail(err, HVCTL_ERR_IO, "out of memory");
        return false;
    }
    return true;
}

bool hvctl_connect(struct hvctl_conn *c, const char *path, struct hvctl_error *err)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    int fd = unix_connect(path, SOCK_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            fail(err, HVCTL_ERR_CONNECT,
                 "no control socket at %s (is the machine up? see `hvctl up`)", path);
        else if (e == ECONNREFUSED)
            fail(err, HVCTL_ERR_CONNECT, "nothing listens on %s (QEMU is not running?)", path);
        else if (e == ENAMETOOLONG)
            fail(err, HVCTL_ERR_CONNECT, "socket path %s: the socket's own name is too long", path);
        else
            fail(err, HVCTL_ERR_CONNECT, "cannot connect to %s: %s", path, strerror(e));
        return false;
    }
    return hvctl_conn_init_fd(c, fd, err);
}

void hvctl_close(struct hvctl_conn *c)
{
    /* Only a conn set up by hvctl_conn_init_fd owns its fd (reader_buf set). */
    if (c->reader_buf && c->fd >= 0)
        close(c->fd);
    free(c->reader_buf);
    free(c->in_buf);
    free(c->payload);
    free(c->msg);
    free(c->out_buf);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

uint64_t hvctl_next_id(struct hvctl_conn *c)
{
    uint64_t id = c->next_request_id++;
    if (c->next_request_id == 0)
        c->next_request_id = 1;
    return id;
}

static const char *key_text(uint32_t key, char *buf, size_t cap)
{
    if (key == HVCBOR_NO_KEY)
        snprintf(buf, cap, "outside any map");
    else
        snprintf(buf, cap, "key %u", key);
    return buf;
}

enum hvctl_status hvctl_send(struct hvctl_conn *c, const struct proto_msg *m, uint32_t timeout_ms,
                             struct hvctl_error *err)
{
    struct hvcbor_error ce;
    size_t len = 0;
    uint8_t *payload = c->out_buf + FRAME_HEADER_BYTES;
    if (!proto_msg_encode(m, payload, FRAME_MAX_PAYLOAD, &len, &ce)) {
        char kb[32];
        return fail(err, HVCTL_ERR_LOCAL, "cannot encode %s: %s (%s)",
                    proto_msg_name(m->type) ? proto_msg_name(m->type) : "message",
                    hvcbor_err_name(ce.code), key_text(ce.key, kb, sizeof kb));
    }
    /* frame_encode copies; encode from a separate buffer to avoid overlap. */
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return fail(err, HVCTL_ERR_IO, "out of memory");
    memcpy(copy, payload, len);
    size_t flen = frame_encode(c->out_buf, OUT_CAP, copy, len);
    free(copy);
    if (flen == 0)
        return fail(err, HVCTL_ERR_LOCAL, "message of %zu bytes does not fit in a frame", len);
    uint64_t deadline = now_ms() + timeout_ms;
    size_t off = 0;
    while (off < flen) {
        ssize_t n = send(c->fd, c->out_buf + off, flen - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            if (errno == EPIPE || errno == ECONNRESET)
                if (c->notice[0])
                    return fail(
                        err, HVCTL_ERR_CLOSED,
                        "the control domain closed the connection; the last notice on it: %s",
                        c->notice);
            return fail(err, HVCTL_ERR_CLOSED, "the control domain closed the connection");
            return fail(err, HVCTL_ERR_IO, "send: %s", strerror(errno));
        }
        uint64_t now = now_ms();
        if (now >= deadline)
            return fail(err, HVCTL_ERR_TIMEOUT, "timed out after %u ms sending a request",
                        timeout_ms);
        struct pollfd p = {.fd = c->fd, .events = POLLOUT};
        poll(&p, 1, (int)(deadline - now));
    }
    return HVCTL_OK;
}

/* Pushes buffered input into the reader and returns the next event. */
static void next_event(struct hvctl_conn *c, struct frame_event *ev)
{
    for (;;) {
        frame_reader_next(&c->reader, ev);
        if (ev->kind != FRAME_EV_NONE || c->in_off == c->in_len)
            return;
        size_t took = frame_reader_push(&c->reader, c->in_buf + c->in_off, c->in_len - c->in_off);
        c->in_off += took;
        if (took == 0) {
            /* The reader is full without a frame: cannot happen with a cap
             * above overhead + max payload, but never spin on it. */
            frame_reader_flush_partial(&c->reader);
        }
    }
}

enum hvctl_status hvctl_recv(struct hvctl_conn *c, uint32_t timeout_ms,
                             const struct proto_msg **out, struct hvctl_error *err)
{
    uint64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        struct frame_event ev;
        next_event(c, &ev);
        if (ev.kind == FRAME_EV_DROPPED) {
            c->dropped_bytes += ev.dropped_bytes;
            continue;
        }
        if (ev.kind == FRAME_EV_FRAME) {
            memcpy(c->payload, ev.payload, ev.payload_len);
            c->payload_len = ev.payload_len;
            struct hvcbor_error ce;
            if (!proto_msg_decode(c->payload, c->payload_len, NULL, c->msg, &ce)) {
                char kb[32];
                return fail(
                    err, HVCTL_ERR_PROTOCOL,
                    "the control domain sent an invalid message (%u bytes): %s at byte %u (%s)",
                    c->payload_len, hvcbor_err_name(ce.code), ce.offset,
                    key_text(ce.key, kb, sizeof kb));
            }
            if (c->msg->type == PROTO_MSG_ERROR_REPLY && c->msg->u.error_reply.request_id == 0)
                hvctl_str_printable(c->notice, sizeof c->notice, c->msg->u.error_reply.message);
            *out = c->msg;
            return HVCTL_OK;
        }
        /* Need bytes. */
        uint64_t now = now_ms();
        bool partial = c->reader.len > c->reader.start + c->reader.consumed;
        if (!partial)
            c->last_byte_ms = now;
        if (now >= deadline) {
            if (partial)
                return fail(
                    err, HVCTL_ERR_TIMEOUT,
                    "timed out after %u ms with an incomplete frame from the control domain",
                    timeout_ms);
            return fail(err, HVCTL_ERR_TIMEOUT,
                        "timed out after %u ms waiting for the control domain", timeout_ms);
        }
        uint64_t wait = deadline - now;
        if (partial) {
            uint64_t quiet = now - c->last_byte_ms;
            uint64_t left = quiet >= c->idle_flush_ms ? 0 : c->idle_flush_ms - quiet;
            if (left < wait)
                wait = left;
        }
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int pr = poll(&p, 1, (int)wait);
        if (pr < 0 && errno != EINTR)
            return fail(err, HVCTL_ERR_IO, "poll: %s", strerror(errno));
        if (pr == 0 && partial && now_ms() - c->last_byte_ms >= c->idle_flush_ms) {
            /* A hang-catcher: nothing came for idle_flush_ms and nothing
             * waits in the socket (poll said so), however late we look. */
            frame_reader_flush_partial(&c->reader);
            c->last_byte_ms = now_ms();
            continue;
        }
        if (pr <= 0)
            continue;
        ssize_t n = recv(c->fd, c->in_buf, IN_CAP, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR || errno == EWOULDBLOCK))
            continue;
        if (n < 0 && errno != ECONNRESET)
            return fail(err, HVCTL_ERR_IO, "recv: %s", strerror(errno));
        if (n <= 0) {
            /* End of stream: whatever is left can never complete. */
            uint64_t before = c->dropped_bytes;
            while (frame_reader_flush_partial(&c->reader)) {
                struct frame_event e2;
                do {
                    next_event(c, &e2);
                    if (e2.kind == FRAME_EV_DROPPED)
                        c->dropped_bytes += e2.dropped_bytes;
                } while (e2.kind == FRAME_EV_DROPPED);
                if (e2.kind == FRAME_EV_FRAME) {
                    /* A whole frame was hiding behind a truncated one. */
                    memcpy(c->payload, e2.payload, e2.payload_len);
                    c->payload_len = e2.payload_len;
                    struct hvcbor_error ce;
                    if (!proto_msg_decode(c->payload, c->payload_len, NULL, c->msg, &ce))
                        break;
                    *out = c->msg;
                    return HVCTL_OK;
                }
            }
            if (c->dropped_bytes > before)
                return fail(err, HVCTL_ERR_CLOSED,
                            "the control domain closed the connection (%llu bytes of an incomplete "
                            "frame dropped)",
                            (unsigned long long)(c->dropped_bytes - before));
            if (c->notice[0])
                return fail(err, HVCTL_ERR_CLOSED,
                            "the control domain closed the connection; the last notice on it: %s",
                            c->notice);
            return fail(err, HVCTL_ERR_CLOSED, "the control domain closed the connection");
        }
        c->in_off = 0;
        c->in_len = (size_t)n;
        /* Bytes after a pause: a new frame there cuts a partial one short
         * (its writer went away); other bytes continue it (hv/frame.h). */
        now = now_ms();
        if (now - c->last_byte_ms >= HVCTL_PAUSE_MS)
            frame_reader_mark_pause(&c->reader);
        c->last_byte_ms = now;
    }
}

enum hvctl_status hvctl_wait_reply(struct hvctl_conn *c, uint64_t request_id, uint32_t timeout_ms,
                                   const struct proto_msg **out, struct hvctl_error *err)
{
    uint64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        uint64_t now = now_ms();
        uint32_t left = now >= deadline ? 0 : (uint32_t)(deadline - now);
        const struct proto_msg *m;
        enum hvctl_status s = hvctl_recv(c, left, &m, err);
        if (s != HVCTL_OK) {
            if (s == HVCTL_ERR_TIMEOUT)
                return fail(err, s, "no answer from the control domain within %u ms", timeout_ms);
            return s;
        }
        if (proto_msg_request_id(m) != request_id) {
            c->skipped_messages++;
            continue;
        }
        if (m->type == PROTO_MSG_ERROR_REPLY) {
            const struct proto_error_reply *er = &m->u.error_reply;
            char text[sizeof err->server_text];
            hvctl_str_printable(text, sizeof text, er->message);
            bool by_hv = er->has_hv_status && er->hv_status != 0;
            const char *hv = by_hv ? hv_status_name(er->hv_status) : NULL;
            if (by_hv)
                fail(err, HVCTL_ERR_SERVER, "%s: %s (hypervisor: %s)",
                     proto_error_code_name(er->code), text, hv ? hv : "an unknown status");
            else
                fail(err, HVCTL_ERR_SERVER, "%s: %s", proto_error_code_name(er->code), text);
            err->server_code = er->code;
            err->has_hv_status = by_hv;
            err->hv_status = by_hv ? er->hv_status : 0;
            memcpy(err->server_text, text, sizeof text);
            return HVCTL_ERR_SERVER;
        }
        *out = m;
        return HVCTL_OK;
    }
}

enum hvctl_status hvctl_call(struct hvctl_conn *c, const struct proto_msg *req,
                             enum proto_msg_type expect, uint32_t timeout_ms,
                             const struct proto_msg **reply, struct hvctl_error *err)
{
    enum hvctl_status s = hvctl_send(c, req, timeout_ms, err);
    if (s != HVCTL_OK)
        return s;
    const struct proto_msg *m;
    s = hvctl_wait_reply(c, proto_msg_request_id(req), timeout_ms, &m, err);
    if (s != HVCTL_OK)
        return s;
    if (m->type != expect)
        return fail(err, HVCTL_ERR_PROTOCOL, "the control domain answered %s with %s (expected %s)",
                    proto_msg_name(req->type), proto_msg_name(m->type), proto_msg_name(expect));
    *reply = m;
    return HVCTL_OK;
}

enum hvctl_status hvctl_hello(struct hvctl_conn *c, uint32_t timeout_ms, char *server_name,
                              size_t cap, uint64_t *server_version, struct hvctl_error *err)
{
    struct proto_msg req = {.type = PROTO_MSG_HELLO};
    req.u.hello.request_id = hvctl_next_id(c);
    req.u.hello.version = PROTO_VERSION;
    req.u.hello.client.ptr = (const uint8_t *)HVCTL_CLIENT_NAME;
    req.u.hello.client.len = (uint32_t)strlen(HVCTL_CLIENT_NAME);
    const struct proto_msg *m;
    enum hvctl_status s = hvctl_call(c, &req, PROTO_MSG_HELLO_REPLY, timeout_ms, &m, err);
    if (s != HVCTL_OK)
        return s;
    if (m->u.hello_reply.version != PROTO_VERSION)
        return fail(err, HVCTL_ERR_PROTOCOL,
                    "the control domain speaks protocol version %llu, hvctl speaks %u",
                    (unsigned long long)m->u.hello_reply.version, PROTO_VERSION);
    if (server_name)
        hvctl_str_printable(server_name, cap, m->u.hello_reply.server);
    if (server_version)
        *server_version = m->u.hello_reply.version;
    return HVCTL_OK;
}
