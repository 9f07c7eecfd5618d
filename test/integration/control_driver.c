/*
 * control_driver: the parts of the control-domain QEMU tests that the hvctl
 * command line does not offer, done through libhvctl (test/integration/
 * control.cmake, control_test.py):
 *
 *   control_driver upload SOCK TOKENFILE NAME FILE
 *       image-upload-request + image-upload-chunk (32 KiB pieces); also
 *       checks that a chunk out of order and a wrong CRC are refused.
 *   control_driver console SOCK TOKENFILE DOMAIN EXPECT SECONDS [INPUT]
 *       console-attach; collects history and live console-data until EXPECT
 *       appears (exit 0) or SECONDS pass (exit 1); with INPUT, sends it as
 *       console-data once attached; then console-detach. Prints the bytes.
 *   control_driver takeover SOCK TOKENFILE DOMAIN
 *       attaches; a second attach without force must be refused (conflict);
 *       a forced one must detach the first (console-detach with a reason)
 *       and be attached; then detaches. (COM2 carries one connection, so
 *       the "clients" share it.)
 *   control_driver logfollow SOCK TOKENFILE ACTION COUNT SECONDS
 *       log-query with follow from the current end; waits for COUNT entries
 *       with action ACTION to be streamed (exit 0) within SECONDS.
 *   control_driver garbage SOCK TOKENFILE
 *       random garbage, a truncated frame, an oversized frame header, a bad
 *       payload CRC, a frame written in two parts with a pause between them
 *       (one frame), valid frames that are not valid CBOR or not a request:
 *       each undecodable message must get error-reply (invalid); then hello
 *       and domain-list must still be answered.
 *
 * Exit 0 on success; a message on stderr and exit 1 otherwise.
 */
#include <hvctl/client.h>
#include <hvctl/rundir.h>
#include <hvctl/upload.h>

#include <hv/frame.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct proto_msg msg;
/* How long any one answer may take before this driver calls it a hang (a
 * loaded host makes the machine slow; nothing is measured against it). */
#define WAIT_MS 120000u

static int die(const char *what, const struct hvctl_error *e)
{
    fprintf(stderr, "control_driver: %s: %s (%s)\n", what, e ? e->message : "",
            e ? hvctl_status_name(e->status) : "");
    return 1;
}

static struct hvctl_conn conn;
static struct hvctl_token tok;

static int open_session(const char *sock, const char *tokfile)
{
    struct hvctl_error e;
    char eb[512];
    if (tokfile && !rundir_token_read(tokfile, &tok, eb, sizeof eb)) {
        fprintf(stderr, "control_driver: %s\n", eb);
        return 1;
    }
    if (!hvctl_connect(&conn, sock, &e))
        return die("connect", &e);
    char server[80];
    uint64_t ver;
    if (hvctl_hello(&conn, WAIT_MS, server, sizeof server, &ver, &e) != HVCTL_OK)
        return die("hello", &e);
    return 0;
}

static struct hvcbor_str tokstr(void)
{
    return (struct hvcbor_str){tok.bytes, tok.len};
}

static int cmd_upload(char **av)
{
    if (open_session(av[0], av[1]))
        return 1;
    FILE *f = fopen(av[3], "rb");
    if (!f) {
        perror(av[3]);
        return 1;
    }
    static uint8_t img[64 << 20];
    size_t file_size = fread(img, 1, sizeof img, f);
    fclose(f);
    /* As hvctl create sends it: without symbols and debug information. */
    size_t size = hvctl_image_strip(img, file_size);
    uint32_t crc = frame_crc32c(0, img, size);
    struct hvctl_error e;
    const struct proto_msg *r;
    /* An image larger than the control domain's memory: no-resources. */
    memset(&msg, 0, sizeof msg);
    msg.type = PROTO_MSG_IMAGE_UPLOAD_REQUEST;
    msg.u.image_upload_request =
        (struct proto_image_upload_request){hvctl_next_id(&conn),
                                            tokstr(),
                                            {(const uint8_t *)av[2], (uint32_t)strlen(av[2])},
                                            200u << 20,
                                            0};
    if (hvctl_call(&conn, &msg, PROTO_MSG_IMAGE_UPLOAD_REPLY, WAIT_MS, &r, &e) !=
            HVCTL_ERR_SERVER ||
        e.server_code != PROTO_ERROR_CODE_NO_RESOURCES)
        return die("a 200 MiB image was not refused (no-resources)", &e);
    printf("control_driver: 200 MiB image refused: %s\n", e.message);
    /* A wrong CRC first: the last chunk must be refused and the upload dropped. */
    for (int pass = 0; pass < 2; pass++) {
        memset(&msg, 0, sizeof msg);
        msg.type = PROTO_MSG_IMAGE_UPLOAD_REQUEST;
        msg.u.image_upload_request =
            (struct proto_image_upload_request){hvctl_next_id(&conn),
                                                tokstr(),
                                                {(const uint8_t *)av[2], (uint32_t)strlen(av[2])},
                                                size,
                                                pass == 0 ? crc ^ 1 : crc};
        if (hvctl_call(&conn, &msg, PROTO_MSG_IMAGE_UPLOAD_REPLY, WAIT_MS, &r, &e) != HVCTL_OK)
            return die("image-upload-request", &e);
        uint64_t up = r->u.image_upload_reply.upload;
        if (r->u.image_upload_reply.has_present && r->u.image_upload_reply.present) {
            if (pass == 0)
                return die("an image with a wrong CRC was taken as already present", NULL);
            printf("control_driver: %s is held already (identical): nothing sent\n", av[2]);
            return 0;
        }
        if (pass == 1 && size > 100) {
            /* Out of order: refused, the upload stays usable. */
            msg.type = PROTO_MSG_IMAGE_UPLOAD_CHUNK;
            msg.u.image_upload_chunk =
                (struct proto_image_upload_chunk){hvctl_next_id(&conn), up, 50, {img + 50, 10}};
            enum hvctl_status s = hvctl_call(&conn, &msg, PROTO_MSG_OK_REPLY, WAIT_MS, &r, &e);
            if (s != HVCTL_ERR_SERVER || e.server_code != PROTO_ERROR_CODE_INVALID)
                return die("a chunk out of order was not refused as invalid", &e);
        }
        for (size_t off = 0; off < size; off += 32768) {
            size_t n = size - off < 32768 ? size - off : 32768;
            msg.type = PROTO_MSG_IMAGE_UPLOAD_CHUNK;
            msg.u.image_upload_chunk = (struct proto_image_upload_chunk){
                hvctl_next_id(&conn), up, off, {img + off, (uint32_t)n}};
            enum hvctl_status s = hvctl_call(&conn, &msg, PROTO_MSG_OK_REPLY, WAIT_MS, &r, &e);
            bool last = off + n == size;
            if (pass == 0 && last) {
                if (s != HVCTL_ERR_SERVER || e.server_code != PROTO_ERROR_CODE_INVALID)
                    return die("a wrong CRC-32C was not refused", &e);
                printf("control_driver: wrong CRC refused: %s\n", e.message);
            } else if (s != HVCTL_OK) {
                return die("image-upload-chunk", &e);
            }
        }
    }
    printf("control_driver: uploaded %s (%zu bytes of %zu in the file, crc32c %08x)\n", av[2], size,
           file_size, crc);
    hvctl_close(&conn);
    return 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int cmd_console(char **av, int ac)
{
    if (open_session(av[0], av[1]))
        return 1;
    const char *expect = av[3];
    uint64_t deadline = now_ms() + (uint64_t)atoi(av[4]) * 1000;
    struct hvctl_error e;
    const struct proto_msg *r;
    memset(&msg, 0, sizeof msg);
    msg.type = PROTO_MSG_CONSOLE_ATTACH_REQUEST;
    uint64_t id = hvctl_next_id(&conn);
    msg.u.console_attach_request = (struct proto_console_attach_request){
        id, tokstr(), {(const uint8_t *)av[2], (uint32_t)strlen(av[2])}, false};
    if (hvctl_call(&conn, &msg, PROTO_MSG_CONSOLE_ATTACH_REPLY, WAIT_MS, &r, &e) != HVCTL_OK)
        return die("console-attach", &e);
    uint64_t stream = r->u.console_attach_reply.stream;
    uint64_t history = r->u.console_attach_reply.history_bytes;
    if (ac > 5) {
        msg.type = PROTO_MSG_CONSOLE_DATA;
        msg.u.console_data = (struct proto_console_data){
            id, stream, {(const uint8_t *)av[5], (uint32_t)strlen(av[5])}};
        if (hvctl_send(&conn, &msg, WAIT_MS, &e) != HVCTL_OK)
            return die("console-data", &e);
    }
    static char got[1 << 20];
    size_t len = 0;
    bool found = false;
    while (!found && now_ms() < deadline) {
        enum hvctl_status s = hvctl_recv(&conn, (uint32_t)(deadline - now_ms()), &r, &e);
        if (s == HVCTL_ERR_TIMEOUT)
            break;
        if (s != HVCTL_OK)
            return die("receiving console-data", &e);
        if (r->type == PROTO_MSG_CONSOLE_DETACH) {
            fprintf(stderr, "control_driver: detached by the server\n");
            break;
        }
        if (r->type != PROTO_MSG_CONSOLE_DATA || r->u.console_data.stream != stream)
            continue;
        size_t n = r->u.console_data.data.len;
        if (n > sizeof got - 1 - len)
            n = sizeof got - 1 - len;
        memcpy(got + len, r->u.console_data.data.ptr, n);
        len += n;
        got[len] = 0;
        found = strstr(got, expect) != NULL;
    }
    printf("control_driver: history %llu bytes; received %zu bytes:\n%s\n",
           (unsigned long long)history, len, got);
    msg.type = PROTO_MSG_CONSOLE_DETACH;
    msg.u.console_detach = (struct proto_console_detach){id, stream, false, {NULL, 0}};
    hvctl_call(&conn, &msg, PROTO_MSG_OK_REPLY, WAIT_MS, &r, &e);
    hvctl_close(&conn);
    if (!found) {
        fprintf(stderr, "control_driver: \"%s\" not seen on the console\n", expect);
        return 1;
    }
    printf("control_driver: console shows \"%s\"\n", expect);
    return 0;
}

static int attach(const char *dom, bool force, uint64_t *id, uint64_t *stream,
                  enum hvctl_status *st, struct hvctl_error *e)
{
    const struct proto_msg *r;
    memset(&msg, 0, sizeof msg);
    msg.type = PROTO_MSG_CONSOLE_ATTACH_REQUEST;
    *id = hvctl_next_id(&conn);
    msg.u.console_attach_request = (struct proto_console_attach_request){
        *id, tokstr(), {(const uint8_t *)dom, (uint32_t)strlen(dom)}, force};
    *st = hvctl_call(&conn, &msg, PROTO_MSG_CONSOLE_ATTACH_REPLY, WAIT_MS, &r, e);
    if (*st == HVCTL_OK)
        *stream = r->u.console_attach_reply.stream;
    return 0;
}

static int cmd_takeover(char **av)
{
    if (open_session(av[0], av[1]))
        return 1;
    uint64_t id1, s1, id2, s2, id3, s3;
    enum hvctl_status st;
    struct hvctl_error e;
    attach(av[2], false, &id1, &s1, &st, &e);
    if (st != HVCTL_OK)
        return die("first attach", &e);
    attach(av[2], false, &id2, &s2, &st, &e);
    if (st != HVCTL_ERR_SERVER || e.server_code != PROTO_ERROR_CODE_CONFLICT)
        return die("a second attach without force was not refused (conflict)", &e);
    printf("control_driver: second writer: conflict refused: %s\n", e.message);
    /* The forced attach: the first stream's console-detach comes before the
     * reply (hvctl_call skips it: read it from the skipped count). */
    uint64_t skipped = conn.skipped_messages;
    attach(av[2], true, &id3, &s3, &st, &e);
    if (st != HVCTL_OK)
        return die("forced attach", &e);
    if (conn.skipped_messages == skipped || s3 == s1)
        return die("the first stream was not detached", NULL);
    printf("control_driver: forced attach: first detached (%llu messages for it), stream %llu\n",
           (unsigned long long)(conn.skipped_messages - skipped), (unsigned long long)s3);
    /* console-detach carries the attach's request id, as do the replayed
     * console-data messages: skip those until the answer. */
    for (int round = 0; round < 2; round++) {
        msg.type = PROTO_MSG_CONSOLE_DETACH;
        msg.u.console_detach = (struct proto_console_detach){id3, s3, false, {NULL, 0}};
        if (hvctl_send(&conn, &msg, WAIT_MS, &e) != HVCTL_OK)
            return die("sending console-detach", &e);
        const struct proto_msg *r;
        for (;;) {
            enum hvctl_status rs = hvctl_wait_reply(&conn, id3, WAIT_MS, &r, &e);
            if (rs == HVCTL_OK && r->type == PROTO_MSG_CONSOLE_DATA)
                continue;
            if (round == 0 && (rs != HVCTL_OK || r->type != PROTO_MSG_OK_REPLY))
                return die("console-detach was not answered with ok-reply", &e);
            if (round == 1 &&
                (rs != HVCTL_ERR_SERVER || e.server_code != PROTO_ERROR_CODE_NOT_FOUND))
                return die("a second detach of the same stream was not refused (not-found)", &e);
            break;
        }
    }
    printf("control_driver: detached; a second detach is not-found\n");
    hvctl_close(&conn);
    return 0;
}

static int cmd_logfollow(char **av)
{
    if (open_session(av[0], av[1]))
        return 1;
    const char *action = av[2];
    int want = atoi(av[3]);
    uint64_t deadline = now_ms() + (uint64_t)atoi(av[4]) * 1000;
    struct hvctl_error e;
    const struct proto_msg *r;
    /* Find the end of the log first (no follow), then follow from there. */
    uint64_t since = 0;
    for (;;) {
        memset(&msg, 0, sizeof msg);
        msg.type = PROTO_MSG_LOG_QUERY_REQUEST;
        msg.u.log_query_request =
            (struct proto_log_query_request){hvctl_next_id(&conn), tokstr(), since, 64, false};
        if (hvctl_call(&conn, &msg, PROTO_MSG_LOG_ENTRIES, WAIT_MS, &r, &e) != HVCTL_OK)
            return die("log-query", &e);
        since = r->u.log_entries.next_seq;
        if (r->u.log_entries.entries.count < 64)
            break;
    }
    uint64_t id = hvctl_next_id(&conn);
    msg.u.log_query_request = (struct proto_log_query_request){id, tokstr(), since, 64, true};
    if (hvctl_call(&conn, &msg, PROTO_MSG_LOG_ENTRIES, WAIT_MS, &r, &e) != HVCTL_OK)
        return die("log-query follow", &e);
    int seen = 0, batches = 0;
    while (seen < want && now_ms() < deadline) {
        enum hvctl_status s = hvctl_wait_reply(&conn, id, (uint32_t)(deadline - now_ms()), &r, &e);
        if (s == HVCTL_ERR_TIMEOUT)
            break;
        if (s != HVCTL_OK || r->type != PROTO_MSG_LOG_ENTRIES)
            return die("streamed log-entries", &e);
        batches++;
        for (uint32_t i = 0; i < r->u.log_entries.entries.count; i++) {
            const struct proto_log_entry *le = &r->u.log_entries.entries.items[i];
            if (le->action.len == strlen(action) && !memcmp(le->action.ptr, action, le->action.len))
                seen++;
        }
    }
    printf("control_driver: %d streamed \"%s\" entries in %d batches after seq %llu\n", seen,
           action, batches, (unsigned long long)since);
    hvctl_close(&conn);
    return seen >= want ? 0 : 1;
}

/* Writes raw bytes to the connection's socket. */
static int raw(const void *p, size_t n)
{
    return write(conn.fd, p, n) == (ssize_t)n ? 0 : 1;
}

static void le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16),
    p[3] = (uint8_t)(v >> 24);
}

/* A frame around payload, with its checksums right or wrong. */
static size_t make_frame(uint8_t *out, const void *payload, uint32_t len, bool bad_crc)
{
    size_t n = frame_encode(out, 1 << 20, payload, len);
    if (bad_crc)
        out[n - 1] ^= 0xff;
    return n;
}

/* Expects an error-reply (invalid) to an undecodable message. */
static int expect_invalid(const char *what)
{
    struct hvctl_error e;
    const struct proto_msg *r;
    enum hvctl_status s = hvctl_recv(&conn, WAIT_MS, &r, &e);
    if (s != HVCTL_OK)
        return die(what, &e);
    if (r->type != PROTO_MSG_ERROR_REPLY || r->u.error_reply.code != PROTO_ERROR_CODE_INVALID) {
        fprintf(stderr, "control_driver: %s: expected error-reply (invalid), got %s\n", what,
                proto_msg_name(r->type));
        return 1;
    }
    char m[600];
    hvctl_str_printable(m, sizeof m, r->u.error_reply.message);
    printf("control_driver: %s -> invalid: %s\n", what, m);
    return 0;
}

static int list_ok(const char *when)
{
    struct hvctl_error e;
    const struct proto_msg *r;
    memset(&msg, 0, sizeof msg);
    msg.type = PROTO_MSG_DOMAIN_LIST_REQUEST;
    msg.u.domain_list_request = (struct proto_domain_list_request){hvctl_next_id(&conn), tokstr()};
    if (hvctl_call(&conn, &msg, PROTO_MSG_DOMAIN_LIST_REPLY, WAIT_MS, &r, &e) != HVCTL_OK)
        return die(when, &e);
    printf("control_driver: %s: domain-list answered (%u domains)\n", when,
           r->u.domain_list_reply.domains.count);
    return 0;
}

static int cmd_garbage(char **av)
{
    if (open_session(av[0], av[1]))
        return 1;
    static uint8_t buf[1 << 20];
    srand(7);
    /* 1. Random garbage (no magic inside). */
    for (size_t i = 0; i < 5000; i++) {
        buf[i] = (uint8_t)rand();
        if (buf[i] == FRAME_MAGIC0)
            buf[i] = 0;
    }
    if (raw(buf, 5000))
        return 1;
    if (list_ok("after 5000 bytes of garbage"))
        return 1;
    /* 2. A header that announces 1 MiB (above the server's limit), valid CRC. */
    uint8_t h[12] = {FRAME_MAGIC0, FRAME_MAGIC1, FRAME_MAGIC2, FRAME_MAGIC3};
    le32(h + 4, 1u << 20);
    le32(h + 8, frame_crc32c(0, h, 8));
    if (raw(h, sizeof h) || list_ok("after an oversized frame header"))
        return 1;
    /* 3. A frame with a bad payload CRC. */
    uint8_t cbor[] = {0xa1, 0x00, 0x01};
    size_t n = make_frame(buf, cbor, sizeof cbor, true);
    if (raw(buf, n) || list_ok("after a frame with a bad CRC"))
        return 1;
    /* 4. A truncated frame, a pause longer than the server's (the broker's
     * 500 ms; the control domain's 300 ms), then a request: its frame cuts
     * the truncated one short (or, failing that, the idle flush does). */
    n = make_frame(buf, cbor, sizeof cbor, false);
    if (raw(buf, n - 3))
        return 1;
    usleep(800 * 1000);
    if (list_ok("after a truncated frame and a pause"))
        return 1;
    /* 4b. One frame written in two parts with a pause between them (a
     * writer stalled by a busy host): it is one frame, answered. Until
     * 2026-12-07 the broker dropped its first part as truncated after 500 ms
     * of quiet and never answered. */
    uint8_t split[] = {0xff, 0xfe, 0x01};
    n = make_frame(buf, split, sizeof split, false);
    if (raw(buf, 7))
        return 1;
    usleep(800 * 1000);
    if (raw(buf + 7, n - 7) || expect_invalid("a frame written in two parts with a pause"))
        return 1;
    /* 5. Valid frames, invalid messages: not CBOR; a map without a type; a
     * reply type sent as a request. */
    uint8_t notcbor[] = {0xff, 0xfe, 0x00};
    n = make_frame(buf, notcbor, sizeof notcbor, false);
    if (raw(buf, n) || expect_invalid("a frame that is not CBOR"))
        return 1;
    n = make_frame(buf, cbor, sizeof cbor, false);
    if (raw(buf, n) || expect_invalid("a map with type 1 and nothing else"))
        return 1;
    uint8_t okrep[] = {0xa2, 0x00, 0x04, 0x02, 0x05}; /* ok-reply, request-id 5 */
    n = make_frame(buf, okrep, sizeof okrep, false);
    if (raw(buf, n) || expect_invalid("a reply sent to the server"))
        return 1;
    /* 6. A request with a token that is not the admin's. */
    memset(&msg, 0, sizeof msg);
    msg.type = PROTO_MSG_DOMAIN_LIST_REQUEST;
    static const uint8_t bad[32] = {1, 2, 3};
    msg.u.domain_list_request =
        (struct proto_domain_list_request){hvctl_next_id(&conn), {bad, sizeof bad}};
    struct hvctl_error e;
    const struct proto_msg *r;
    enum hvctl_status s = hvctl_call(&conn, &msg, PROTO_MSG_DOMAIN_LIST_REPLY, WAIT_MS, &r, &e);
    if (s != HVCTL_ERR_SERVER || e.server_code != PROTO_ERROR_CODE_REFUSED)
        return die("a wrong token was not refused", &e);
    printf("control_driver: wrong token refused: %s\n", e.message);
    /* 7. A name with a NUL inside ("web1\0x" would read as "web1"). */
    memset(&msg, 0, sizeof msg);
    msg.type = PROTO_MSG_DOMAIN_INFO_REQUEST;
    msg.u.domain_info_request = (struct proto_domain_info_request){
        hvctl_next_id(&conn), tokstr(), {(const uint8_t *)"web1\0x", 6}};
    s = hvctl_call(&conn, &msg, PROTO_MSG_DOMAIN_INFO_REPLY, WAIT_MS, &r, &e);
    if (s != HVCTL_ERR_SERVER || e.server_code != PROTO_ERROR_CODE_INVALID)
        return die("a name with a NUL was not refused as invalid", &e);
    printf("control_driver: name with a NUL refused: %s\n", e.message);
    /* 8. Garbage with magic bytes and a valid request in the middle. */
    n = 0;
    for (int i = 0; i < 300; i++)
        buf[n++] = (uint8_t) "HVF1HV"[i % 6];
    memset(&msg, 0, sizeof msg);
    msg.type = PROTO_MSG_DOMAIN_LIST_REQUEST;
    uint64_t id = hvctl_next_id(&conn);
    msg.u.domain_list_request = (struct proto_domain_list_request){id, tokstr()};
    uint8_t payload[256];
    size_t plen;
    struct hvcbor_error ce;
    if (!proto_msg_encode(&msg, payload, sizeof payload, &plen, &ce))
        return 1;
    n += make_frame(buf + n, payload, (uint32_t)plen, false);
    for (int i = 0; i < 300; i++)
        buf[n++] = (uint8_t)rand();
    if (raw(buf, n))
        return 1;
    if (hvctl_wait_reply(&conn, id, WAIT_MS, &r, &e) != HVCTL_OK ||
        r->type != PROTO_MSG_DOMAIN_LIST_REPLY)
        return die("a request between garbage with magic bytes", &e);
    printf("control_driver: a request inside garbage with magic bytes was answered\n");
    usleep(500 * 1000);
    hvctl_close(&conn);
    /* A fresh connection is served. */
    if (open_session(av[0], NULL) || list_ok("on a new connection"))
        return 1;
    hvctl_close(&conn);
    printf("control_driver: garbage survived\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 6 && !strcmp(argv[1], "upload"))
        return cmd_upload(argv + 2);
    if (argc >= 7 && !strcmp(argv[1], "console"))
        return cmd_console(argv + 2, argc - 2);
    if (argc >= 7 && !strcmp(argv[1], "logfollow"))
        return cmd_logfollow(argv + 2);
    if (argc >= 5 && !strcmp(argv[1], "takeover"))
        return cmd_takeover(argv + 2);
    if (argc >= 4 && !strcmp(argv[1], "garbage"))
        return cmd_garbage(argv + 2);
    fprintf(stderr, "usage: see the comment at the top of control_driver.c\n");
    return 2;
}
