/*
 * libhvctl against a fake control domain in a thread on a socketpair: the
 * handshake, replies, error replies with their message, hostile servers
 * (garbage, invalid CBOR, truncated frames, silence, wrong request ids), the
 * JSON rendering, the token file and apply plans.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fake_server.h"
#include "hvctl/client.h"
#include "hvctl/plan.h"
#include "hvctl/render.h"
#include "hvctl/rundir.h"
#include "hvctl/upload.h"

static struct fake_server g_srv;
static struct hvctl_conn g_c;

static void start(enum proto_msg_type t, enum fake_action a)
{
    memset(&g_srv, 0, sizeof g_srv);
    g_srv.action[t] = a;
    int fd;
    fake_server_start_pair(&g_srv, &fd);
    struct hvctl_error e;
    assert_true(hvctl_conn_init_fd(&g_c, fd, &e));
}

static void stop(void)
{
    hvctl_close(&g_c);
    fake_server_stop(&g_srv);
}

static uint64_t ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct proto_msg g_req;

static enum hvctl_status list(const struct proto_msg **r, struct hvctl_error *e,
                              uint32_t timeout_ms)
{
    memset(&g_req, 0, sizeof g_req);
    g_req.type = PROTO_MSG_DOMAIN_LIST_REQUEST;
    g_req.u.domain_list_request.request_id = hvctl_next_id(&g_c);
    return hvctl_call(&g_c, &g_req, PROTO_MSG_DOMAIN_LIST_REPLY, timeout_ms, r, e);
}

static void test_hello_and_list(void **state)
{
    (void)state;
    start(0, FA_REPLY);
    char name[64];
    uint64_t v = 0;
    struct hvctl_error e;
    assert_int_equal(hvctl_hello(&g_c, 2000, name, sizeof name, &v, &e), HVCTL_OK);
    assert_string_equal(name, "fake-control 1");
    assert_int_equal(v, PROTO_VERSION);
    const struct proto_msg *r;
    assert_int_equal(list(&r, &e, 2000), HVCTL_OK);
    assert_int_equal(r->type, PROTO_MSG_DOMAIN_LIST_REPLY);
    assert_int_equal(r->u.domain_list_reply.domains.count, 2);
    assert_int_equal(r->u.domain_list_reply.domains.items[1].id, 3);
    assert_memory_equal(r->u.domain_list_reply.domains.items[1].name.ptr, "web1", 4);
    assert_int_equal(r->u.domain_list_reply.request_id, 2); /* ids increase per request */
    stop();
    assert_int_equal(g_srv.type_count[PROTO_MSG_HELLO], 1);
    assert_int_equal(g_srv.type_count[PROTO_MSG_DOMAIN_LIST_REQUEST], 1);
}

static void test_error_reply_message(void **state)
{
    (void)state;
    start(PROTO_MSG_DOMAIN_LIST_REQUEST, FA_ERROR);
    const struct proto_msg *r;
    struct hvctl_error e;
    assert_int_equal(list(&r, &e, 2000), HVCTL_ERR_SERVER);
    assert_int_equal(e.status, HVCTL_ERR_SERVER);
    assert_int_equal(e.server_code, PROTO_ERROR_CODE_NOT_FOUND);
    assert_string_equal(e.message, "not-found: " FAKE_ERROR_TEXT);
    stop();
}

/* The hypervisor's status crosses the control boundary: the error-reply's
 * hv-status reaches the caller as a number and is named in the message. */
static void test_error_reply_hv_status(void **state)
{
    (void)state;
    start(PROTO_MSG_DOMAIN_LIST_REQUEST, FA_HV_ERROR);
    const struct proto_msg *r;
    struct hvctl_error e;
    assert_int_equal(list(&r, &e, 2000), HVCTL_ERR_SERVER);
    assert_int_equal(e.server_code, PROTO_ERROR_CODE_WRONG_STATE);
    assert_true(e.has_hv_status);
    assert_int_equal(e.hv_status, HV_EBUSY);
    assert_string_equal(e.server_text, FAKE_HV_ERROR_TEXT);
    assert_string_equal(e.message, "wrong-state: " FAKE_HV_ERROR_TEXT " (hypervisor: HV_EBUSY)");
    stop();
    /* Without one, nothing is made up. */
    start(PROTO_MSG_DOMAIN_LIST_REQUEST, FA_ERROR);
    assert_int_equal(list(&r, &e, 2000), HVCTL_ERR_SERVER);
    assert_false(e.has_hv_status);
    stop();
}

static void test_error_message_is_sanitised(void **state)
{
    (void)state;
    start(PROTO_MSG_DOMAIN_LIST_REQUEST, FA_CONTROL_CHARS);
    const struct proto_msg *r;
    struct hvctl_error e;
    assert_int_equal(list(&r, &e, 2000), HVCTL_ERR_SERVER);
    assert_string_equal(e.message, "not-found: bad?[2Jthing?here");
    stop();
}

static void test_garbage_before_reply(void **state)
{
    (void)state;
    start(PROTO_MSG_DOMAIN_LIST_REQUEST, FA_GARBAGE_THEN_REPLY);
    const struct proto_msg *r;
    struct hvctl_error e;
    assert_int_equal(list(&r, &e, 3000), HVCTL_OK);
    assert_int_equal(r->u.domain_list_reply.domains.count, 2);
    assert_int_equal(g_c.dropped_bytes, 3000);
    stop();
}

static void test_oversized_frame_dropped(void **state)
{
    (void)state;
    start(PROTO_MSG_DOMAIN_LIST_REQUEST, FA_OVERSIZED_THEN_REPLY);
    const struct proto_msg *r;
    struct hvctl_error e;
    assert_int_equal(list(&r, &e, 3000), HVCTL_OK);
    assert_int_equal(r->u.domain_list_reply.domains.count, 2);
    assert_int_equal(g_c.dropped_bytes, 512); /* the 12-byte header and the 500 junk bytes */
    stop();
}

static void test_invalid_cbor_is_protocol_error(void **state)
{
    (void)state;
    start(PROTO_MSG_DOMAIN_LIST_REQUEST, FA_BAD_CBOR);
    const struct proto_msg *r;
    struct hvctl_error e;
    assert_int_equal(list(&r, &e, 2000), HVCTL_ERR_PROTOCOL);
    assert_non_null(strstr(e.message, "the control domain sent an invalid message (4 bytes)"));
    /* The connection stays usable: the next request is answered. */
    g_srv.action[PROTO_MSG_DOMAIN_LIST_REQUEST] = FA_REPLY;
    assert_int_equal(list(&r, &e, 2000), HVCTL_OK);
    stop();
}

static void test_truncated_then_closed(void **state)
{
    (void)state;
    start(PROTO_MSG_DOMAIN_LIST_REQUEST, FA_TRUNCATE_CLOSE);
    const struct proto_msg *r;
    struct hvctl_error e;
    assert_int_equal(list(&r, &e, 2000), HVCTL_ERR_CLOSED);
    assert_string_equal(
        e.message,
        "the control domain closed the connection (20 bytes of an incomplete frame dropped)");
    stop();
}

static void test_truncated_then_whole_reply(void **state)
{
    (void)state;
    start(PROTO_MSG_DOMAIN_LIST_REQUEST, FA_TRUNCATE_THEN_REPLY);
    const struct proto_msg *r;
    struct hvctl_error e;
    assert_int_equal(list(&r, &e, 3000), HVCTL_OK);
    assert_int_equal(r->u.domain_list_reply.domains.count, 2);
    assert_int_equal(g_c.dropped_bytes, 20);
    stop();
}

/* A reply whose writer stalled mid-frame (a busy host) for longer than the
 * client's pause: one frame, nothing dropped. Until 2026-12-07 the client
 * dropped the first part after 500 ms of quiet and timed out. */
static void test_split_reply(void **state)
{
    (void)state;
    start(PROTO_MSG_DOMAIN_LIST_REQUEST, FA_SPLIT_REPLY);
    const struct proto_msg *r;
    struct hvctl_error e;
    assert_int_equal(list(&r, &e, 5000), HVCTL_OK);
    assert_int_equal(r->u.domain_list_reply.domains.count, 2);
    assert_int_equal(g_c.dropped_bytes, 0);
    stop();
}

static void test_timeout(void **state)
{
    (void)state;
    start(PROTO_MSG_DOMAIN_LIST_REQUEST, FA_SILENT);
    const struct proto_msg *r;
    struct hvctl_error e;
    uint64_t t0 = ms();
    assert_int_equal(list(&r, &e, 300), HVCTL_ERR_TIMEOUT);
    uint64_t took = ms() - t0;
    assert_true(took >= 290 && took < 2000);
    assert_string_equal(e.message, "no answer from the control domain within 300 ms");
    stop();
}

static void test_other_request_ids_skipped(void **state)
{
    (void)state;
    start(PROTO_MSG_DOMAIN_LIST_REQUEST, FA_WRONG_ID_FIRST);
    const struct proto_msg *r;
    struct hvctl_error e;
    assert_int_equal(list(&r, &e, 2000), HVCTL_OK);
    assert_int_equal(r->type, PROTO_MSG_DOMAIN_LIST_REPLY);
    assert_int_equal(g_c.skipped_messages, 1);
    stop();
}

static void test_invalid_request_not_sent(void **state)
{
    (void)state;
    start(0, FA_REPLY);
    memset(&g_req, 0, sizeof g_req);
    g_req.type = PROTO_MSG_DOMAIN_DESTROY_REQUEST;
    g_req.u.domain_destroy_request.request_id =
        hvctl_next_id(&g_c); /* empty domain name: invalid */
    struct hvctl_error e;
    const struct proto_msg *r;
    assert_int_equal(hvctl_call(&g_c, &g_req, PROTO_MSG_OK_REPLY, 500, &r, &e), HVCTL_ERR_LOCAL);
    assert_non_null(strstr(e.message, "cannot encode domain-destroy-request"));
    stop();
    assert_int_equal(g_srv.requests, 0);
}

static void test_wrong_reply_type(void **state)
{
    (void)state;
    start(0, FA_REPLY);
    memset(&g_req, 0, sizeof g_req);
    g_req.type = PROTO_MSG_DOMAIN_LIST_REQUEST;
    g_req.u.domain_list_request.request_id = hvctl_next_id(&g_c);
    struct hvctl_error e;
    const struct proto_msg *r;
    assert_int_equal(hvctl_call(&g_c, &g_req, PROTO_MSG_OK_REPLY, 2000, &r, &e),
                     HVCTL_ERR_PROTOCOL);
    assert_string_equal(e.message, "the control domain answered domain-list-request with "
                                   "domain-list-reply (expected ok-reply)");
    stop();
}

static void test_connect_errors(void **state)
{
    (void)state;
    struct hvctl_conn c;
    struct hvctl_error e;
    assert_false(hvctl_connect(&c, "/nonexistent/dir/com2.sock", &e));
    assert_int_equal(e.status, HVCTL_ERR_CONNECT);
    assert_string_equal(
        e.message,
        "no control socket at /nonexistent/dir/com2.sock (is the machine up? see `hvctl up`)");
    hvctl_close(&c); /* safe on a failed connect */
}

static void test_json_of_list(void **state)
{
    (void)state;
    start(0, FA_REPLY);
    const struct proto_msg *r;
    struct hvctl_error e;
    assert_int_equal(list(&r, &e, 2000), HVCTL_OK);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    char eb[64];
    assert_true(render_json(f, g_c.payload, g_c.payload_len, eb, sizeof eb));
    fclose(f);
    assert_string_equal(
        text,
        "{\"type\":\"domain-list-reply\",\"request-id\":1,\"domains\":["
        "{\"id\":0,\"name\":\"control\",\"state\":\"running\",\"memory-bytes\":16777216,\"vcpus\":"
        "1,"
        "\"cpu-time-ns\":1500000000,\"event-count\":42},"
        "{\"id\":3,\"name\":\"web1\",\"state\":\"paused\",\"memory-bytes\":16777216,\"vcpus\":1,"
        "\"cpu-time-ns\":1500000003,\"event-count\":45}]}\n");
    free(text);
    /* Not CBOR: refused, nothing written. */
    static const uint8_t junk[] = {0xff, 0x00};
    f = open_memstream(&text, &len);
    assert_false(render_json(f, junk, sizeof junk, eb, sizeof eb));
    fclose(f);
    assert_int_equal(len, 0);
    free(text);
    stop();
}

static void test_json_escapes_and_unknown_keys(void **state)
{
    (void)state;
    /* {0: 999, 2: 5, 4: "a\"\n", 5: h'0aff', 6: [-3, true, null]} */
    static const uint8_t m[] = {0xa5, 0x00, 0x19, 0x03, 0xe7, 0x02, 0x05, 0x04, 0x63, 'a', '"',
                                '\n', 0x05, 0x42, 0x0a, 0xff, 0x06, 0x83, 0x22, 0xf5, 0xf6};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    char eb[64];
    assert_true(render_json(f, m, sizeof m, eb, sizeof eb));
    fclose(f);
    assert_string_equal(
        text, "{\"0\":999,\"2\":5,\"4\":\"a\\\"\\n\",\"5\":\"0aff\",\"6\":[-3,true,null]}\n");
    free(text);
}

static void test_token_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/hvctl-token-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/admin.token", dir);
    struct hvctl_token t, back;
    char eb[256];
    assert_true(rundir_token_create(path, &t, eb, sizeof eb));
    assert_int_equal(t.len, HVCTL_TOKEN_BYTES);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_true(rundir_token_read(path, &back, eb, sizeof eb));
    assert_int_equal(back.len, t.len);
    assert_memory_equal(back.bytes, t.bytes, t.len);
    chmod(path, 0644);
    assert_false(rundir_token_read(path, &back, eb, sizeof eb));
    assert_non_null(strstr(eb, "has mode 644: it must not be accessible by group or others"));
    chmod(path, 0600);
    FILE *f = fopen(path, "w");
    fputs("abz1\n", f);
    fclose(f);
    assert_false(rundir_token_read(path, &back, eb, sizeof eb));
    assert_non_null(strstr(eb, "not a hex digit at byte 2"));
    unlink(path);
    rmdir(dir);

    struct rundir rd;
    setenv("HV_RUN_DIR", "/x/y/", 1);
    assert_true(rundir_resolve(&rd, NULL));
    assert_string_equal(rd.com2_sock, "/x/y/com2.sock");
    assert_true(rundir_resolve(&rd, "mine"));
    assert_string_equal(rd.token_file, "mine/admin.token");
    unsetenv("HV_RUN_DIR");
    assert_true(rundir_resolve(&rd, NULL));
    assert_string_equal(rd.pid_file, "run/qemu.pid");
}

static void test_plan(void **state)
{
    (void)state;
    struct manifest_diags d = {0};
    static struct manifest ms_[3];
    const char *y[] = {
        "name: web1\nkernel: /k/hello\ncmdline: \"console=hvc0 role=web\"\nmemory: 64M\n"
        "max_memory: 128M\nvcpus: 2\ncap: 150\ngang: true\non_crash: restart\nweight: 512\n",
        "name: new\nkernel: k\nmemory: 16M\n",
        "name: control\nkernel: /k/hello\ncmdline: \"console=hvc0 role=web\"\nmemory: 32M\n"
        "max_memory: 128M\nvcpus: 2\ncap: 150\ngang: true\non_crash: restart\n"};
    for (int i = 0; i < 3; i++)
        assert_true(manifest_parse("m.yaml", y[i], strlen(y[i]), &ms_[i], &d));
    struct manifest_set set = {3, ms_};
    static struct plan_domain have[3];
    struct proto_domain_config cfg;
    manifest_to_config(&ms_[0], &cfg);
    cfg.weight = 256; /* differs live */
    plan_domain_from_config(&have[0], 3, &cfg);
    manifest_to_config(&ms_[2], &cfg);
    cfg.memory_bytes = 16ull << 20; /* needs a restart */
    plan_domain_from_config(&have[1], 0, &cfg);
    snprintf(have[2].name, sizeof have[2].name, "old");
    have[2].id = 9;
    struct plan p;
    plan_compute(&set, have, 3, true, &p);
    assert_int_equal(p.count, 4);
    assert_int_equal(p.items[0].kind, PLAN_CHANGE);
    assert_int_equal(p.items[0].change_count, 1);
    assert_string_equal(p.items[0].changes[0].field, "weight");
    assert_string_equal(p.items[0].changes[0].from, "256");
    assert_string_equal(p.items[0].changes[0].to, "512");
    assert_int_equal(p.items[1].kind, PLAN_CREATE);
    assert_int_equal(p.items[2].kind, PLAN_RESTART);
    assert_string_equal(p.items[2].changes[0].from, "16 MiB");
    assert_string_equal(p.items[2].changes[0].to, "32 MiB");
    assert_int_equal(p.items[3].kind, PLAN_DESTROY);
    assert_string_equal(p.items[3].name, "old");
    assert_true(plan_has_differences(&p));
    plan_free(&p);
    /* In sync, no prune: nothing to do; domain 0 is never pruned. */
    manifest_to_config(&ms_[0], &cfg);
    plan_domain_from_config(&have[0], 3, &cfg);
    struct manifest_set one = {1, ms_};
    plan_compute(&one, have, 1, true, &p);
    assert_int_equal(p.count, 1);
    assert_int_equal(p.items[0].kind, PLAN_UNCHANGED);
    assert_false(plan_has_differences(&p));
    plan_free(&p);
    plan_compute(&one, have, 2, true, &p); /* have[1] is id 0, unnamed: kept */
    assert_int_equal(p.count, 1);
    plan_free(&p);
}

/* A small ELF64 executable laid out as ld lays out a guest: header, program
 * headers, two segments (the last file byte at 0x1180); the caller adds what
 * the builder never reads (symbols, debug information) and a section header
 * table. */
static void make_elf(uint8_t *b, size_t cap)
{
    memset(b, 0, cap);
    assert_true(cap >= 4096);
    static const uint8_t id[16] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
    memcpy(b, id, sizeof id);
    uint64_t v;
#define PUT(off, val, n) (v = (val), memcpy(b + (off), &v, (n)))
    PUT(16, 2, 2);  /* ET_EXEC */
    PUT(18, 62, 2); /* x86_64 */
    PUT(20, 1, 4);  /* version */
    PUT(24, 0x401000, 8);
    PUT(32, 64, 8);   /* phoff */
    PUT(40, 3000, 8); /* shoff: at the end */
    PUT(52, 64, 2);   /* ehsize */
    PUT(54, 56, 2);   /* phentsize */
    PUT(56, 2, 2);    /* phnum */
    PUT(58, 64, 2);   /* shentsize */
    PUT(60, 5, 2);    /* shnum */
    PUT(62, 4, 2);    /* shstrndx */
    for (int i = 0; i < 2; i++) {
        uint8_t *ph = b + 64 + 56 * i;
        v = 1; /* PT_LOAD */
        memcpy(ph, &v, 4);
        v = i == 0 ? 0 : 0x1000; /* offset */
        memcpy(ph + 8, &v, 8);
        v = 0x400000 + (uint64_t)i * 0x1000;
        memcpy(ph + 16, &v, 8);
        memcpy(ph + 24, &v, 8);
        v = i == 0 ? 0x200 : 0x180; /* filesz */
        memcpy(ph + 32, &v, 8);
        v = i == 0 ? 0x200 : 0x2000; /* memsz (bss in the second) */
        memcpy(ph + 40, &v, 8);
    }
#undef PUT
}

/* hvctl create leaves out what the builder never reads (issue 21): the
 * image ends at the last segment byte; hostile or odd files are sent as
 * they are, never read out of bounds. */
static void test_image_strip(void **state)
{
    (void)state;
    static uint8_t b[8192], orig[8192];
    /* Segments end at 0x1180; the section table (3000..3320) lies below,
     * then debug bytes up to 6000. */
    make_elf(b, sizeof b);
    uint64_t shoff = 6000;
    memcpy(b + 40, &shoff, 8);
    memset(b + 0x1180, 0xdb, 6000 - 0x1180);
    memcpy(orig, b, sizeof b);
    size_t n = hvctl_image_strip(b, 6000 + 5 * 64);
    assert_int_equal(n, 0x1180);
    assert_memory_equal(b + 64, orig + 64, 0x1180 - 64); /* program headers and segments */
    assert_memory_equal(b, orig, 40);                    /* identity, entry, phoff */
    uint64_t sh = 1;
    memcpy(&sh, b + 40, 8);
    assert_int_equal(sh, 0); /* the section table was cut off: no dangling offset */
    assert_int_equal(b[60] | b[61] << 8, 0);
    assert_int_equal(b[62] | b[63] << 8, 0);
    /* Nothing to leave out: unchanged. */
    memcpy(b, orig, sizeof b);
    assert_int_equal(hvctl_image_strip(b, 0x1180), 0x1180);
    assert_memory_equal(b, orig, 0x1180);
    /* A section table inside what stays is kept. */
    memcpy(b, orig, sizeof b);
    shoff = 0x300;
    memcpy(b + 40, &shoff, 8);
    assert_int_equal(hvctl_image_strip(b, 7000), 0x1180);
    memcpy(&sh, b + 40, 8);
    assert_int_equal(sh, 0x300);
    /* Hostile or other files: sent as they are, nothing read beyond. */
    struct {
        const char *what;
        size_t at, len;
        uint64_t val;
        size_t size;
    } bad[] = {
        {"not ELF", 0, 1, 'X', 7000},
        {"32-bit", 4, 1, 1, 7000},
        {"big-endian", 5, 1, 2, 7000},
        {"shorter than a header", 0, 0, 0, 63},
        {"program headers beyond the end", 32, 8, 6990, 7000},
        {"phoff near 2^64", 32, 8, UINT64_MAX - 8, 7000},
        {"odd phentsize", 54, 2, 32, 7000},
        {"no program headers", 56, 2, 0, 7000},
        {"segment beyond the end", 64 + 8, 8, 6999, 7000},
        {"segment size near 2^64", 64 + 32, 8, UINT64_MAX, 7000},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(b, orig, sizeof b);
        memcpy(b + bad[i].at, &bad[i].val, bad[i].len);
        uint8_t copy[8192];
        memcpy(copy, b, sizeof copy);
        size_t got = hvctl_image_strip(b, bad[i].size);
        if (got != bad[i].size)
            fail_msg("%s: cut to %zu", bad[i].what, got);
        assert_memory_equal(b, copy, sizeof copy);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_and_list),
        cmocka_unit_test(test_error_reply_message),
        cmocka_unit_test(test_error_reply_hv_status),
        cmocka_unit_test(test_error_message_is_sanitised),
        cmocka_unit_test(test_garbage_before_reply),
        cmocka_unit_test(test_oversized_frame_dropped),
        cmocka_unit_test(test_invalid_cbor_is_protocol_error),
        cmocka_unit_test(test_truncated_then_closed),
        cmocka_unit_test(test_truncated_then_whole_reply),
        cmocka_unit_test(test_split_reply),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_other_request_ids_skipped),
        cmocka_unit_test(test_invalid_request_not_sent),
        cmocka_unit_test(test_wrong_reply_type),
        cmocka_unit_test(test_connect_errors),
        cmocka_unit_test(test_json_of_list),
        cmocka_unit_test(test_json_escapes_and_unknown_keys),
        cmocka_unit_test(test_token_file),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_image_strip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
