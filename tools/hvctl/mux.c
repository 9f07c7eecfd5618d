/* The broker's sockets and event loop (see mux.h; routing in mux_route.c). */
#include "mux.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <hv/frame.h>
#include <hv/proto_msgs.h>

#include "hvctl/unixsock.h"
#include "mux_route.h"

#define HELLO_RESEND_MS 150u
#define WIRE_OUT_HIGH (256u * 1024u) /* stop reading clients while this much waits for QEMU */
#define CLIENT_NAME "hvctl-mux 0.1"

struct buf {
    uint8_t *p;
    size_t len, cap;
};

struct peer {
    int fd;
    uint32_t id;
    struct mux_slot slot; /* admission: peer, authenticated, since (mux_admit.h) */
    uint32_t pid, uid;    /* SO_PEERCRED */
    bool dead;
    const char *why; /* why it is closed */
    struct frame_reader rd;
    uint8_t *rbuf;
    bool partial; /* bytes arrived since the reader was last drained by a flush */
    uint64_t last_byte_ms, garbage;
    struct buf out;
};

static struct {
    const struct mux_opts *o;
    uint32_t self_uid;
    uint64_t quiet_until_ms; /* admission lines are rate-limited (a flood) */
    uint32_t quiet_lines[3], quiet_dropped;
    bool quiet_close; /* close_client: the reason was logged already */
    struct peer wire;
    struct peer *clients[MUX_MAX_CLIENTS];
    uint32_t next_client_id;
    struct mux_router *router;
    struct proto_msg *msg;
    uint8_t *enc;
} M;

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static uint64_t now_ms(void)
{
    if (M.o && M.o->clock_ms)
        return *M.o->clock_ms;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    if (!M.o->log)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(M.o->log, "%02d:%02d:%02d.%03ld hvctl-mux: ", tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(M.o->log, fmt, ap);
    va_end(ap);
    fputc('\n', M.o->log);
    fflush(M.o->log);
}

/* At most MUX_LOG_BURST admission lines of each kind per second (a flood of
 * connections must not fill the disk); the count of the rest is logged after. */
#define MUX_LOG_BURST 10u
enum adm_kind { ADM_CONNECT, ADM_REFUSE, ADM_CLOSE, ADM_KINDS };
static bool log_admission(enum adm_kind k, uint64_t now)
{
    if (now >= M.quiet_until_ms) {
        if (M.quiet_dropped)
            logf_("(%u more connections, refusals and closes not logged in the last second)",
                  M.quiet_dropped);
        M.quiet_until_ms = now + 1000;
        memset(M.quiet_lines, 0, sizeof M.quiet_lines);
        M.quiet_dropped = 0;
    }
    if (M.quiet_lines[k] < MUX_LOG_BURST) {
        M.quiet_lines[k]++;
        return true;
    }
    M.quiet_dropped++;
    return false;
}

static bool buf_add(struct buf *b, const void *p, size_t n, size_t max)
{
    if (b->len + n > max)
        return false;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q)
            return false;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return true;
}

/* Writes what the socket takes now. false: the peer is gone. */
static bool flush_out(struct peer *p)
{
    while (p->out.len) {
        ssize_t n = send(p->fd, p->out.p, p->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            memmove(p->out.p, p->out.p + n, p->out.len - (size_t)n);
            p->out.len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        return false;
    }
    return true;
}

enum queued { Q_OK, Q_FULL, Q_GONE };

/* Encodes m as one frame onto p's output and writes what the socket takes. */
static enum queued queue_msg(struct peer *p, const struct proto_msg *m, size_t max)
{
    struct hvcbor_error ce;
    size_t len = 0;
    if (!proto_msg_encode(m, M.enc, FRAME_MAX_PAYLOAD, &len, &ce)) {
        logf_("cannot encode %s: %s", proto_msg_name(m->type) ? proto_msg_name(m->type) : "?",
              hvcbor_err_name(ce.code));
        return Q_OK; /* nothing sent; the peer is fine */
    }
    static uint8_t frame[FRAME_MAX_PAYLOAD + FRAME_OVERHEAD_BYTES];
    size_t flen = frame_encode(frame, sizeof frame, M.enc, len);
    if (!flen || !buf_add(&p->out, frame, flen, max))
        return Q_FULL;
    return flush_out(p) ? Q_OK : Q_GONE;
}

static struct peer *client_by_id(uint32_t id)
{
    for (uint32_t i = 0; i < MUX_MAX_CLIENTS; i++)
        if (M.clients[i] && M.clients[i]->id == id)
            return M.clients[i];
    return NULL;
}

static void kill_peer(struct peer *p, const char *why)
{
    if (!p->dead) {
        p->dead = true;
        p->why = why;
    }
}

static void to_wire(void *ctx, const struct proto_msg *m)
{
    (void)ctx;
    if (queue_msg(&M.wire, m, SIZE_MAX) != Q_OK)
        kill_peer(&M.wire, "QEMU's socket closed");
}

static void authenticated(void *ctx, uint32_t client)
{
    (void)ctx;
    struct peer *p = client_by_id(client);
    if (p && !p->slot.auth) {
        p->slot.auth = true;
        logf_("client %u authenticated (pid %u uid %u)", p->id, p->pid, p->uid);
    }
}

static void to_client(void *ctx, uint32_t client, const struct proto_msg *m)
{
    (void)ctx;
    struct peer *p = client_by_id(client);
    if (!p || p->dead)
        return;
    enum queued q = queue_msg(p, m, MUX_CLIENT_OUT_MAX);
    if (q != Q_OK)
        kill_peer(p, q == Q_FULL ? "1 MiB of answers unread: it stopped reading" : "it went away");
}

static bool peer_init(struct peer *p, int fd, uint32_t max_payload)
{
    memset(p, 0, sizeof *p);
    p->fd = fd;
    size_t cap = FRAME_OVERHEAD_BYTES + max_payload + 4096;
    p->rbuf = malloc(cap);
    return p->rbuf && frame_reader_init(&p->rd, p->rbuf, cap, max_payload);
}

static void peer_free(struct peer *p)
{
    if (p->fd >= 0)
        close(p->fd);
    free(p->rbuf);
    free(p->out.p);
}

static void client_error(struct peer *p, uint64_t id, enum proto_error_code code, const char *text)
{
    struct proto_msg *e = M.msg;
    memset(e, 0, sizeof *e);
    e->type = PROTO_MSG_ERROR_REPLY;
    e->u.error_reply = (struct proto_error_reply){
        .request_id = id, .code = code, .message = {(const uint8_t *)text, (uint32_t)strlen(text)}};
    to_client(NULL, p->id, e);
}

/* Tells a connection that is about to be closed why (error-reply busy,
 * request id 0; libhvctl reports it with the close), without waiting. */
static void notice_fd(int fd, const char *text)
{
    struct proto_msg *e = M.msg;
    memset(e, 0, sizeof *e);
    e->type = PROTO_MSG_ERROR_REPLY;
    e->u.error_reply =
        (struct proto_error_reply){.request_id = 0,
                                   .code = PROTO_ERROR_CODE_BUSY,
                                   .message = {(const uint8_t *)text, (uint32_t)strlen(text)}};
    struct hvcbor_error ce;
    size_t len = 0;
    static uint8_t frame[1024];
    if (!proto_msg_encode(e, M.enc, FRAME_MAX_PAYLOAD, &len, &ce))
        return;
    size_t flen = frame_encode(frame, sizeof frame, M.enc, len);
    if (flen)
        (void)!send(fd, frame, flen, MSG_NOSIGNAL | MSG_DONTWAIT);
}

#define NOTE_PEER_LIMIT                                                                            \
    "hvctl broker: refused: this process holds the most unauthenticated connections allowed"
#define NOTE_FULL "hvctl broker: refused: every connection is held by an authenticated client"
#define NOTE_EVICTED                                                                               \
    "hvctl broker: closed: unauthenticated, and its place was needed for a new connection"
#define NOTE_DEADLINE "hvctl broker: closed: no request with an accepted token within 3 s"
_Static_assert(MUX_AUTH_DEADLINE_MS == 3000u, "NOTE_DEADLINE names the deadline");

/* One frame event from a client or the wire. */
static void handle_event(struct peer *p, const struct frame_event *ev)
{
    bool wire = p == &M.wire;
    if (ev->kind == FRAME_EV_DROPPED) {
        logf_("%s %u: dropped %llu bytes (%s)", wire ? "QEMU" : "client", p->id,
              (unsigned long long)ev->dropped_bytes,
              ev->reason == FRAME_DROP_OVERSIZED    ? "oversized frame"
              : ev->reason == FRAME_DROP_TRUNCATED  ? "truncated frame"
              : ev->reason == FRAME_DROP_BAD_CRC    ? "bad checksum"
              : ev->reason == FRAME_DROP_BAD_HEADER ? "bad header"
                                                    : "garbage");
        if (wire)
            return;
        if (ev->reason == FRAME_DROP_OVERSIZED) {
            char t[128];
            snprintf(t, sizeof t, "hvctl broker: a frame above %u bytes was dropped",
                     MUX_CLIENT_MAX_PAYLOAD);
            client_error(p, 0, PROTO_ERROR_CODE_TOO_LARGE, t);
        }
        p->garbage += ev->dropped_bytes;
        if (p->garbage > MUX_CLIENT_GARBAGE_MAX) {
            client_error(p, 0, PROTO_ERROR_CODE_INVALID,
                         "hvctl broker: too much garbage; closing this connection");
            kill_peer(p, "too much garbage");
        }
        return;
    }
    if (ev->kind != FRAME_EV_FRAME)
        return;
    struct hvcbor_error ce;
    if (!proto_msg_decode(ev->payload, ev->payload_len, NULL, M.msg, &ce)) {
        char t[160];
        if (ce.key == HVCBOR_NO_KEY)
            snprintf(t, sizeof t, "undecodable message: %s at byte %u", hvcbor_err_name(ce.code),
                     ce.offset);
        else
            snprintf(t, sizeof t, "undecodable message: %s at byte %u key %u",
                     hvcbor_err_name(ce.code), ce.offset, ce.key);
        logf_("%s %u: %s", wire ? "QEMU" : "client", p->id, t);
        if (!wire)
            client_error(p, 0, PROTO_ERROR_CODE_INVALID, t);
        return;
    }
    if (wire) {
        mux_server_msg(M.router, M.msg);
        return;
    }
    /* Until its token is accepted a client may have one request in flight
     * (mux_admit.h): it cannot queue work for the control domain in bulk. */
    if (!p->slot.auth && M.msg->type != PROTO_MSG_HELLO && mux_entries_used(M.router, p->id) > 0) {
        client_error(p, proto_msg_request_id(M.msg), PROTO_ERROR_CODE_BUSY,
                     "hvctl broker: one request at a time until this connection's token is "
                     "accepted");
        return;
    }
    mux_client_msg(M.router, p->id, M.msg);
}

/* Reads what is there and handles every event. false: EOF or error. */
static bool read_peer(struct peer *p)
{
    static uint8_t in[65536];
    ssize_t n = recv(p->fd, in, sizeof in, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return true;
    if (n <= 0)
        return false;
    uint64_t now = now_ms();
    /* Bytes after a pause: if they begin a new frame, a partial frame before
     * them is dropped there (its writer went away); if they do not, they
     * continue it, however long the pause was (a busy host stalls writers
     * and this loop alike). Nothing is dropped for being slow. */
    if (p != &M.wire && now >= p->last_byte_ms + MUX_PAUSE_MS)
        frame_reader_mark_pause(&p->rd);
    p->last_byte_ms = now;
    p->partial = true;
    size_t off = 0;
    while (off < (size_t)n) {
        off += frame_reader_push(&p->rd, in + off, (size_t)n - off);
        struct frame_event ev;
        do {
            frame_reader_next(&p->rd, &ev);
            handle_event(p, &ev);
        } while (ev.kind != FRAME_EV_NONE && !p->dead);
        if (p->dead)
            return true;
    }
    return true;
}

/* A hang-catcher: a partial frame after which the client sent nothing for
 * MUX_IDLE_FLUSH_MS is dropped (a frame announced longer than what follows
 * it would otherwise hold the next ones). Bytes waiting in the socket are
 * not silence, however late this loop comes to them. */
static void idle_flush(struct peer *p, uint64_t now)
{
    uint8_t c;
    if (!p->partial || now < p->last_byte_ms + MUX_IDLE_FLUSH_MS ||
        recv(p->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1)
        return;
    p->partial = false;
    while (!p->dead && frame_reader_flush_partial(&p->rd)) {
        struct frame_event ev;
        do {
            frame_reader_next(&p->rd, &ev);
            handle_event(p, &ev);
        } while (ev.kind != FRAME_EV_NONE && !p->dead);
    }
}

static void close_client(uint32_t slot);

/* Takes at most MUX_ACCEPT_BATCH connections: a flood of connections must
 * not keep the loop from reading the clients it has (a client accepted
 * while the loop accepted for 3 s met its deadline with its hello unread). */
static void accept_clients(int lfd)
{
    for (uint32_t k = 0; k < MUX_ACCEPT_BATCH; k++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        uint64_t now = now_ms();
        struct ucred cr;
        socklen_t crl = sizeof cr;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) != 0) {
            if (log_admission(ADM_REFUSE, now))
                logf_("refused a client: SO_PEERCRED: %s", strerror(errno));
            close(fd);
            continue;
        }
        struct mux_peer who = mux_peer_of((uint32_t)cr.pid, (uint32_t)cr.uid, M.self_uid);
        static struct mux_slot view[MUX_MAX_CLIENTS];
        for (uint32_t i = 0; i < MUX_MAX_CLIENTS; i++)
            view[i] = M.clients[i] ? M.clients[i]->slot : (struct mux_slot){0};
        struct mux_admit_result a = mux_admit(view, MUX_MAX_CLIENTS, who);
        if (a.verdict == MUX_REFUSE_PEER || a.verdict == MUX_REFUSE_FULL) {
            const char *why = a.verdict == MUX_REFUSE_PEER ? NOTE_PEER_LIMIT : NOTE_FULL;
            if (log_admission(ADM_REFUSE, now))
                logf_("refused a client (pid %d uid %u): %s", (int)cr.pid, (unsigned)cr.uid,
                      why + strlen("hvctl broker: refused: "));
            notice_fd(fd, why);
            close(fd);
            continue;
        }
        if (a.verdict == MUX_ADMIT_EVICT) {
            struct peer *v = M.clients[a.evict];
            if (log_admission(ADM_CLOSE, now))
                logf_("client %u closed (pid %u uid %u): unauthenticated, its place was needed",
                      v->id, v->pid, v->uid);
            client_error(v, 0, PROTO_ERROR_CODE_BUSY, NOTE_EVICTED);
            M.quiet_close = true;
            close_client(a.evict);
            M.quiet_close = false;
        }
        uint32_t slot = MUX_MAX_CLIENTS;
        for (uint32_t i = 0; i < MUX_MAX_CLIENTS; i++)
            if (!M.clients[i]) {
                slot = i;
                break;
            }
        struct peer *p = slot < MUX_MAX_CLIENTS ? calloc(1, sizeof *p) : NULL;
        if (!p || !peer_init(p, fd, MUX_CLIENT_MAX_PAYLOAD)) {
            logf_("refused a client: %s", p ? "out of memory" : "no free slot");
            if (p)
                peer_free(p);
            else
                close(fd);
            free(p);
            continue;
        }
        p->id = ++M.next_client_id;
        p->pid = (uint32_t)cr.pid;
        p->uid = (uint32_t)cr.uid;
        p->slot = (struct mux_slot){.used = true, .auth = false, .peer = who, .since_ms = now};
        M.clients[slot] = p;
        if (log_admission(ADM_CONNECT, now))
            logf_("client %u connected (pid %d uid %u)", p->id, (int)cr.pid, (unsigned)cr.uid);
    }
}

static void close_client(uint32_t slot)
{
    struct peer *p = M.clients[slot];
    if (!M.quiet_close && (p->slot.auth || log_admission(ADM_CLOSE, now_ms())))
        logf_("client %u closed (%s)", p->id, p->why ? p->why : "it went away");
    M.clients[slot] = NULL;
    mux_client_gone(M.router, p->id);
    peer_free(p);
    free(p);
}

/* Connects to QEMU and exchanges hello; fills the router. */
static bool handshake(uint64_t deadline)
{
    for (;;) {
        if (stop_flag || now_ms() >= deadline)
            return false;
        int fd = unix_connect(M.o->qemu_sock, SOCK_CLOEXEC);
        if (fd >= 0) {
            M.wire.fd = fd;
            break;
        }
        if (errno == ENAMETOOLONG) {
            logf_("QEMU socket name too long: %s", M.o->qemu_sock);
            return false;
        }
        if (M.o->qemu_pid > 0 && kill((pid_t)M.o->qemu_pid, 0) != 0 && errno == ESRCH) {
            logf_("QEMU (pid %ld) exited before opening %s", M.o->qemu_pid, M.o->qemu_sock);
            return false;
        }
        usleep(100 * 1000);
    }
    logf_("connected to %s", M.o->qemu_sock);
    /* Hello every HELLO_RESEND_MS: bytes sent before the control domain
     * reads COM2 are lost. Ids 1..k are the broker's; an answer to any one
     * counts. */
    uint64_t next_id = 1, next_send = 0;
    for (;;) {
        uint64_t now = now_ms();
        if (stop_flag || now >= deadline)
            return false;
        if (now >= next_send) {
            struct proto_msg *h = M.msg;
            memset(h, 0, sizeof *h);
            h->type = PROTO_MSG_HELLO;
            h->u.hello = (struct proto_hello){
                .request_id = next_id++,
                .version = PROTO_VERSION,
                .client = {(const uint8_t *)CLIENT_NAME, (uint32_t)strlen(CLIENT_NAME)}};
            if (queue_msg(&M.wire, h, SIZE_MAX) != Q_OK)
                return false;
            next_send = now + HELLO_RESEND_MS;
        }
        struct pollfd pf = {.fd = M.wire.fd, .events = POLLIN | (M.wire.out.len ? POLLOUT : 0)};
        int t = (int)(next_send > now ? next_send - now : 0);
        if (poll(&pf, 1, t) < 0 && errno != EINTR)
            return false;
        if (pf.revents & POLLOUT && !flush_out(&M.wire))
            return false;
        if (!(pf.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        static uint8_t in[65536];
        ssize_t n = recv(M.wire.fd, in, sizeof in, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            logf_("QEMU closed COM2 during the handshake");
            return false;
        }
        size_t off = 0;
        while (n > 0 && off < (size_t)n) {
            off += frame_reader_push(&M.wire.rd, in + off, (size_t)n - off);
            struct frame_event ev;
            for (;;) {
                frame_reader_next(&M.wire.rd, &ev);
                if (ev.kind == FRAME_EV_NONE)
                    break;
                struct hvcbor_error ce;
                if (ev.kind != FRAME_EV_FRAME ||
                    !proto_msg_decode(ev.payload, ev.payload_len, NULL, M.msg, &ce))
                    continue;
                uint64_t rid = proto_msg_request_id(M.msg);
                if (rid == 0 || rid >= next_id)
                    continue;
                if (M.msg->type == PROTO_MSG_ERROR_REPLY) {
                    char t2[600];
                    size_t l = M.msg->u.error_reply.message.len;
                    if (l > sizeof t2 - 1)
                        l = sizeof t2 - 1;
                    memcpy(t2, M.msg->u.error_reply.message.ptr, l);
                    t2[l] = 0;
                    logf_("the control domain refused hello: %s", t2);
                    return false;
                }
                if (M.msg->type != PROTO_MSG_HELLO_REPLY)
                    continue;
                char name[65];
                size_t l =
                    M.msg->u.hello_reply.server.len < 64 ? M.msg->u.hello_reply.server.len : 64;
                for (size_t i = 0; i < l; i++) {
                    uint8_t ch = M.msg->u.hello_reply.server.ptr[i];
                    name[i] = (char)(ch < 0x20 || ch == 0x7f ? '?' : ch);
                }
                name[l] = 0;
                static const struct mux_ops ops = {to_wire, to_client, authenticated};
                mux_router_init(M.router, &ops, NULL, name, M.msg->u.hello_reply.version, next_id);
                logf_("the control domain (%s, protocol %llu) answered hello", name,
                      (unsigned long long)M.msg->u.hello_reply.version);
                return true;
            }
        }
    }
}

int hvctl_mux_run(const struct mux_opts *o)
{
    memset(&M, 0, sizeof M);
    M.o = o;
    M.self_uid = (uint32_t)geteuid();
    M.wire.fd = -1;
    stop_flag = 0;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    M.router = calloc(1, sizeof *M.router);
    M.msg = calloc(1, sizeof *M.msg);
    M.enc = malloc(FRAME_MAX_PAYLOAD);
    int rc = 1, lfd = -1;
    if (!M.router || !M.msg || !M.enc || !peer_init(&M.wire, -1, FRAME_MAX_PAYLOAD)) {
        logf_("out of memory");
        goto out;
    }
    /* Listen first: clients that connect while the machine boots wait in
     * the backlog, unread, until the control domain has answered. */
    lfd = unix_listen(o->listen_sock, 64, 0600, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (lfd < 0) {
        logf_("cannot listen on %s: %s", o->listen_sock, strerror(errno));
        goto out;
    }
    logf_("listening on %s", o->listen_sock);
    if (!handshake(o->wait_ms ? now_ms() + o->wait_ms : UINT64_MAX)) {
        logf_("no control domain; stopping");
        goto out;
    }
    rc = 0;
    static struct pollfd pf[MUX_MAX_CLIENTS + 2];
    while (!stop_flag && !M.wire.dead) {
        bool read_clients = M.wire.out.len < WIRE_OUT_HIGH;
        uint32_t np = 0, slot_of[MUX_MAX_CLIENTS + 2];
        pf[np++] =
            (struct pollfd){.fd = M.wire.fd, .events = POLLIN | (M.wire.out.len ? POLLOUT : 0)};
        pf[np++] = (struct pollfd){.fd = lfd, .events = POLLIN};
        for (uint32_t i = 0; i < MUX_MAX_CLIENTS; i++) {
            struct peer *p = M.clients[i];
            if (!p)
                continue;
            slot_of[np] = i;
            pf[np++] = (struct pollfd){
                .fd = p->fd,
                .events = (short)((read_clients ? POLLIN : 0) | (p->out.len ? POLLOUT : 0))};
        }
        if (poll(pf, np, 50) < 0 && errno != EINTR)
            break;
        if (pf[0].revents & POLLOUT && !flush_out(&M.wire))
            kill_peer(&M.wire, "QEMU's socket closed");
        if (pf[0].revents & (POLLIN | POLLHUP | POLLERR) && !read_peer(&M.wire))
            kill_peer(&M.wire, "QEMU closed COM2");
        for (uint32_t k = 2; k < np; k++) {
            struct peer *p = M.clients[slot_of[k]];
            if (!p || p->dead)
                continue;
            if (pf[k].revents & POLLOUT && !flush_out(p))
                kill_peer(p, "it went away");
            if (!p->dead && pf[k].revents & (POLLIN | POLLHUP | POLLERR) && !read_peer(p))
                kill_peer(p, "it closed the connection");
        }
        if (pf[1].revents & POLLIN)
            accept_clients(lfd);
        uint64_t now = now_ms();
        for (uint32_t i = 0; i < MUX_MAX_CLIENTS; i++) {
            struct peer *p = M.clients[i];
            if (!p || p->dead)
                continue;
            /* While the broker does not read clients (QEMU's side is full),
             * their silence is its own doing: it does not count. */
            if (!read_clients)
                p->last_byte_ms = now;
            idle_flush(p, now);
            if (!p->dead && mux_deadline_due(&p->slot, now, false) &&
                mux_entries_used(M.router, p->id) == 0) {
                client_error(p, 0, PROTO_ERROR_CODE_BUSY, NOTE_DEADLINE);
                kill_peer(p, NOTE_DEADLINE + strlen("hvctl broker: closed: "));
            }
        }
        mux_tick(M.router, now);
        /* Closing a client may queue a console-detach for the wire. */
        for (uint32_t i = 0; i < MUX_MAX_CLIENTS; i++)
            if (M.clients[i] && M.clients[i]->dead)
                close_client(i);
    }
    if (M.wire.dead)
        logf_("%s; stopping", M.wire.why);
    else
        logf_("stopping (signal)");
out:
    for (uint32_t i = 0; i < MUX_MAX_CLIENTS; i++)
        if (M.clients[i]) {
            peer_free(M.clients[i]);
            free(M.clients[i]);
            M.clients[i] = NULL;
        }
    if (lfd >= 0) {
        close(lfd);
        unlink(o->listen_sock);
    }
    if (M.wire.fd >= 0 || M.wire.rbuf)
        peer_free(&M.wire);
    free(M.router);
    free(M.msg);
    free(M.enc);
    return rc;
}
