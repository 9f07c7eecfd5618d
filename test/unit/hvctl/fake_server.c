/* The fake control domain (fake_server.h). */
#include "fake_server.h"

#include <hv/frame.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static atomic_bool g_stop;

static struct hvcbor_str S(const char *s) {
    return (struct hvcbor_str){(const uint8_t *)s, (uint32_t)strlen(s)};
}

static void
write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        b += w;
        n -= (size_t)w;
    }
}

/* Sends m's frame: its first cut bytes only (0: all of it); or, with
 * pause_us, all of it in two writes, the first cut bytes and the rest, with
 * a pause between them. */
static void send_msg_frame_paused(int fd, const struct proto_msg *m, size_t cut,
                                  useconds_t pause_us)
{
    static _Thread_local uint8_t payload[65536], frame[65536 + 16];
    size_t len;
    struct hvcbor_error e;
    if (!proto_msg_encode(m, payload, sizeof payload, &len, &e)) {
        fprintf(stderr, "fake server: cannot encode %s: %s key %u\n", proto_msg_name(m->type),
                hvcbor_err_name(e.code), e.key);
        abort();
    }
    size_t flen = frame_encode(frame, sizeof frame, payload, len);
    size_t first = cut && cut < flen ? cut : flen;
    write_all(fd, frame, first);
    if (pause_us && first < flen) {
        usleep(pause_us);
        write_all(fd, frame + first, flen - first);
    }
}

static void send_msg_frame(int fd, const struct proto_msg *m, size_t cut)
{
    send_msg_frame_paused(fd, m, cut, 0);
}

static void summary(struct proto_domain_summary *d, uint64_t id, const char *name,
                    enum proto_domain_state st)
{
    *d = (struct proto_domain_summary){.id = id,
                                       .name = S(name),
                                       .state = st,
                                       .memory_bytes = 16ull << 20,
                                       .vcpus = 1,
                                       .cpu_time_ns = 1500000000ull + id,
                                       .event_count = 42 + id};
}

/* The normal answer to req, into *r. */
static void answer(const struct proto_msg *req, struct proto_msg *r)
{
    uint64_t id = proto_msg_request_id(req);
    memset(r, 0, sizeof *r);
    switch (req->type) {
    case PROTO_MSG_HELLO:
        r->type = PROTO_MSG_HELLO_REPLY;
        r->u.hello_reply = (struct proto_hello_reply){id, PROTO_VERSION, S("fake-control 1")};
        break;
    case PROTO_MSG_DOMAIN_LIST_REQUEST:
        r->type = PROTO_MSG_DOMAIN_LIST_REPLY;
        r->u.domain_list_reply.request_id = id;
        r->u.domain_list_reply.domains.count = 2;
        summary(&r->u.domain_list_reply.domains.items[0], 0, "control", PROTO_DOMAIN_STATE_RUNNING);
        summary(&r->u.domain_list_reply.domains.items[1], 3, "web1", PROTO_DOMAIN_STATE_PAUSED);
        break;
    case PROTO_MSG_DOMAIN_INFO_REQUEST: {
        const struct hvcbor_str *n = &req->u.domain_info_request.domain;
        bool web = n->len == 4 && !memcmp(n->ptr, "web1", 4);
        bool ctl = n->len == 7 && !memcmp(n->ptr, "control", 7);
        if (!web && !ctl) {
            r->type = PROTO_MSG_ERROR_REPLY;
            r->u.error_reply = (struct proto_error_reply){.request_id = id,
                                                          .code = PROTO_ERROR_CODE_NOT_FOUND,
                                                          .message = S(FAKE_ERROR_TEXT)};
            break;
        }
        r->type = PROTO_MSG_DOMAIN_INFO_REPLY;
        struct proto_domain_info_reply *i = &r->u.domain_info_reply;
        i->request_id = id;
        summary(&i->summary, web ? 3 : 0, web ? "web1" : "control", PROTO_DOMAIN_STATE_RUNNING);
        i->config = (struct proto_domain_config){.name = S(web ? "web1" : "control"),
                                                 .kernel = S("hello"),
                                                 .cmdline = S("console=hvc0 role=web"),
                                                 .memory_bytes = 64ull << 20,
                                                 .max_memory_bytes = 128ull << 20,
                                                 .vcpus = 2,
                                                 .weight = 256,
                                                 .cap_percent = 150,
                                                 .gang = true,
                                                 .on_poweroff = PROTO_STOP_POLICY_DESTROY,
                                                 .on_reboot = PROTO_STOP_POLICY_RESTART,
                                                 .on_crash = PROTO_STOP_POLICY_RESTART};
        break;
    }
    case PROTO_MSG_DOMAIN_CREATE_REQUEST:
        r->type = PROTO_MSG_DOMAIN_CREATE_REPLY;
        r->u.domain_create_reply = (struct proto_domain_create_reply){id, 7};
        break;
    case PROTO_MSG_LOG_QUERY_REQUEST: {
        r->type = PROTO_MSG_LOG_ENTRIES;
        struct proto_log_entries *l = &r->u.log_entries;
        l->request_id = id;
        l->entries.count = 2;
        l->entries.items[0] = (struct proto_log_entry){.seq = 1,
                                                       .time_ns = 5,
                                                       .actor = S("admin"),
                                                       .action = S("create"),
                                                       .target = S("web1"),
                                                       .ok = true};
        l->entries.items[1] = (struct proto_log_entry){.seq = 2,
                                                       .time_ns = 9,
                                                       .actor = S("ops"),
                                                       .action = S("destroy"),
                                                       .target = S("web1"),
                                                       .ok = false,
                                                       .has_error = true,
                                                       .error = PROTO_ERROR_CODE_REFUSED};
        l->next_seq = 3;
        break;
    }
    case PROTO_MSG_CONSOLE_ATTACH_REQUEST:
        r->type = PROTO_MSG_CONSOLE_ATTACH_REPLY;
        r->u.console_attach_reply =
            (struct proto_console_attach_reply){id, 5, strlen(FAKE_CONSOLE_HISTORY)};
        break;
    case PROTO_MSG_IMAGE_UPLOAD_REQUEST:
        /* hvctl create/apply upload the kernel first: "held already". */
        r->type = PROTO_MSG_IMAGE_UPLOAD_REPLY;
        r->u.image_upload_reply = (struct proto_image_upload_reply){
            .request_id = id, .upload = 0, .has_present = true, .present = true};
        break;
    case PROTO_MSG_TOKEN_CREATE_REQUEST: {
        static const uint8_t secret[16] = {0xde, 0xad, 0xbe, 0xef, 1, 2,  3,  4,
                                           5,    6,    7,    8,    9, 10, 11, 12};
        r->type = PROTO_MSG_TOKEN_CREATE_REPLY;
        r->u.token_create_reply = (struct proto_token_create_reply){id, 12, {secret, 16}};
        break;
    }
    default:
        r->type = PROTO_MSG_OK_REPLY;
        r->u.ok_reply.request_id = id;
        break;
    }
}

static void handle(struct fake_server *s, int fd, const uint8_t *p, uint32_t len)
{
    static _Thread_local struct proto_msg req, rep;
    struct hvcbor_error e;
    s->requests++;
    if (!proto_msg_decode(p, len, NULL, &req, &e)) {
        memset(&rep, 0, sizeof rep);
        rep.type = PROTO_MSG_ERROR_REPLY;
        rep.u.error_reply = (struct proto_error_reply){
            .request_id = 0, .code = PROTO_ERROR_CODE_INVALID, .message = S("undecodable request")};
        send_msg_frame(fd, &rep, 0);
        return;
    }
    uint32_t t = req.type < FAKE_MAX_TYPES ? req.type : 0;
    s->type_count[t]++;
    memcpy(s->last_req, p, len);
    s->last_req_len = len;
    s->last_req_type = t;
    if (t == PROTO_MSG_DOMAIN_CREATE_REQUEST) {
        memcpy(s->create_req, p, len);
        s->create_req_len = len;
    }
    if (t == PROTO_MSG_SCHED_SET_REQUEST && len <= sizeof s->sched_req) {
        memcpy(s->sched_req, p, len);
        s->sched_req_len = len;
    }
    uint64_t id = proto_msg_request_id(&req);
    /* Console streams: data in is recorded, a detach is acknowledged. */
    if (t == PROTO_MSG_CONSOLE_DATA) {
        const struct hvcbor_str *d = &req.u.console_data.data;
        if (s->console_in_len + d->len < sizeof s->console_in) {
            memcpy(s->console_in + s->console_in_len, d->ptr, d->len);
            s->console_in_len += d->len;
        }
        return;
    }
    if (t == PROTO_MSG_CONSOLE_DETACH) {
        s->console_detached = true;
        memset(&rep, 0, sizeof rep);
        rep.type = PROTO_MSG_OK_REPLY;
        rep.u.ok_reply.request_id = id;
        send_msg_frame(fd, &rep, 0);
        return;
    }
    answer(&req, &rep);
    if (t == PROTO_MSG_CONSOLE_ATTACH_REQUEST && s->action[t] == FA_REPLY) {
        send_msg_frame(fd, &rep, 0);
        memset(&rep, 0, sizeof rep);
        rep.type = PROTO_MSG_CONSOLE_DATA;
        rep.u.console_data = (struct proto_console_data){id, 5, S(FAKE_CONSOLE_HISTORY)};
        send_msg_frame(fd, &rep, 0);
        return;
    }
    switch (s->action[t]) {
    case FA_REPLY: send_msg_frame(fd, &rep, 0); break;
    case FA_HV_ERROR:
        memset(&rep, 0, sizeof rep);
        rep.type = PROTO_MSG_ERROR_REPLY;
        rep.u.error_reply = (struct proto_error_reply){.request_id = id,
                                                       .code = PROTO_ERROR_CODE_WRONG_STATE,
                                                       .message = S(FAKE_HV_ERROR_TEXT),
                                                       .has_hv_status = true,
                                                       .hv_status = HV_EBUSY};
        send_msg_frame(fd, &rep, 0);
        break;
    case FA_ERROR:
    case FA_CONTROL_CHARS:
        memset(&rep, 0, sizeof rep);
        rep.type = PROTO_MSG_ERROR_REPLY;
        rep.u.error_reply = (struct proto_error_reply){
            .request_id = id,
            .code = PROTO_ERROR_CODE_NOT_FOUND,
            .message = S(s->action[t] == FA_ERROR ? FAKE_ERROR_TEXT : "bad\033[2Jthing\nhere")};
        send_msg_frame(fd, &rep, 0);
        break;
    case FA_GARBAGE_THEN_REPLY: {
        uint8_t junk[3000];
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = (uint8_t)(i * 131u + 7u);
        junk[100] = 'H'; /* a false magic start */
        junk[101] = 'V';
        junk[102] = 'F';
        junk[103] = '1';
        write_all(fd, junk, sizeof junk);
        send_msg_frame(fd, &rep, 0);
        break;
    }
    case FA_BAD_CBOR: {
        static const uint8_t bad[] = {0xa2, 0x00, 0x0b, 0x02}; /* map of 2, truncated */
        uint8_t frame[64];
        size_t n = frame_encode(frame, sizeof frame, bad, sizeof bad);
        write_all(fd, frame, n);
        break;
    }
    case FA_TRUNCATE_CLOSE:
        send_msg_frame(fd, &rep, 20);
        shutdown(fd, SHUT_RDWR);
        break;
    case FA_TRUNCATE_THEN_REPLY:
        send_msg_frame(fd, &rep, 20);
        usleep(700 * 1000); /* longer than the client's pause */
        send_msg_frame(fd, &rep, 0);
        break;
    case FA_SPLIT_REPLY: send_msg_frame_paused(fd, &rep, 20, 700 * 1000); break;
    case FA_SILENT: break;
    case FA_OVERSIZED_THEN_REPLY: {
        uint8_t h[12] = {'H', 'V', 'F', '1', 0, 0, 0x10, 0}; /* 1 MiB: above any reader's limit */
        uint32_t crc = frame_crc32c(0, h, 8);
        for (int i = 0; i < 4; i++)
            h[8 + i] = (uint8_t)(crc >> (8 * i));
        write_all(fd, h, sizeof h);
        uint8_t junk[500];
        memset(junk, 0x5a, sizeof junk);
        write_all(fd, junk, sizeof junk);
        send_msg_frame(fd, &rep, 0);
        break;
    }
    case FA_WRONG_ID_FIRST: {
        static _Thread_local struct proto_msg other;
        memset(&other, 0, sizeof other);
        other.type = PROTO_MSG_OK_REPLY;
        other.u.ok_reply.request_id = id + 1000;
        send_msg_frame(fd, &other, 0);
        send_msg_frame(fd, &rep, 0);
        break;
    }
    }
}

/* Serves one connection until EOF (or stop in socket mode). */
static void serve(struct fake_server *s, int fd)
{
    static _Thread_local uint8_t rbuf[65536 + 4096 + 16], in[8192];
    struct frame_reader r;
    frame_reader_init(&r, rbuf, sizeof rbuf, 65536);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, 50);
        if (pr == 0) {
            if (s->listen_fd >= 0 && atomic_load(&g_stop))
                return;
            continue;
        }
        ssize_t n = recv(fd, in, sizeof in, 0);
        if (n <= 0)
            return;
        size_t off = 0;
        while (off < (size_t)n) {
            off += frame_reader_push(&r, in + off, (size_t)n - off);
            struct frame_event ev;
            for (frame_reader_next(&r, &ev); ev.kind != FRAME_EV_NONE; frame_reader_next(&r, &ev))
                if (ev.kind == FRAME_EV_FRAME)
                    handle(s, fd, ev.payload, ev.payload_len);
        }
    }
}

static void *pair_main(void *arg)
{
    struct fake_server *s = arg;
    serve(s, s->fd);
    close(s->fd);
    return NULL;
}

static void *socket_main(void *arg)
{
    struct fake_server *s = arg;
    while (!atomic_load(&g_stop)) {
        struct pollfd p = {.fd = s->listen_fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        serve(s, fd);
        close(fd);
    }
    return NULL;
}

void fake_server_start_pair(struct fake_server *s, int *client_fd)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        abort();
    s->fd = sv[0];
    s->listen_fd = -1;
    *client_fd = sv[1];
    pthread_create(&s->thread, NULL, pair_main, s);
}

void fake_server_start_socket(struct fake_server *s, const char *dir)
{
    atomic_store(&g_stop, false);
    snprintf(s->sock_path, sizeof s->sock_path, "%s/com2.sock", dir);
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", s->sock_path);
    unlink(s->sock_path);
    if (bind(s->listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(s->listen_fd, 4) != 0)
        abort();
    s->fd = -1;
    pthread_create(&s->thread, NULL, socket_main, s);
}

void fake_server_stop(struct fake_server *s)
{
    if (s->listen_fd >= 0)
        atomic_store(&g_stop, true);
    pthread_join(s->thread, NULL);
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        unlink(s->sock_path);
        s->listen_fd = -1;
    }
}
