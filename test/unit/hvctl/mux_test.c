/*
 * The broker's routing table (tools/hvctl/mux_route.c) without sockets: request
 * ids unique on the wire and restored for the client; hello answered locally;
 * console streams owned by the client that attached (another client's
 * console-data is dropped, its console-detach refused); a client that goes
 * away has its stream detached and its answers dropped; log -f by polling;
 * upload ids owned per client; the per-client limit; answers to nobody.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "mux_route.h"

#define WIRE UINT32_MAX

struct sent {
    uint32_t to; /* WIRE or a client */
    enum proto_msg_type type;
    uint64_t id, stream, since, count;
    bool follow;
    enum proto_error_code code;
    uint8_t token0;
};

static struct sent g_sent[256];
static unsigned g_n;
static struct mux_router *g_r;
static struct proto_msg g_m;

static void record(uint32_t to, const struct proto_msg *m)
{
    assert_true(g_n < 256);
    /* Every message the router emits must be a valid catalog message. */
    struct hvcbor_error ce;
    assert_true(proto_msg_validate(m, &ce));
    struct sent *s = &g_sent[g_n++];
    memset(s, 0, sizeof *s);
    s->to = to;
    s->type = m->type;
    s->id = proto_msg_request_id(m);
    switch (m->type) {
    case PROTO_MSG_CONSOLE_DATA: s->stream = m->u.console_data.stream; break;
    case PROTO_MSG_CONSOLE_DETACH: s->stream = m->u.console_detach.stream; break;
    case PROTO_MSG_CONSOLE_ATTACH_REPLY: s->stream = m->u.console_attach_reply.stream; break;
    case PROTO_MSG_LOG_QUERY_REQUEST:
        s->since = m->u.log_query_request.since_seq;
        s->follow = m->u.log_query_request.follow;
        s->token0 = m->u.log_query_request.token.len ? m->u.log_query_request.token.ptr[0] : 0;
        break;
    case PROTO_MSG_LOG_ENTRIES: s->count = m->u.log_entries.entries.count; break;
    case PROTO_MSG_ERROR_REPLY: s->code = m->u.error_reply.code; break;
    default: break;
    }
}

static void to_wire(void *ctx, const struct proto_msg *m)
{
    (void)ctx;
    record(WIRE, m);
}

static void to_client(void *ctx, uint32_t c, const struct proto_msg *m)
{
    (void)ctx;
    assert_int_not_equal(c, MUX_NO_CLIENT);
    record(c, m);
}

static uint32_t g_auth[16]; /* clients reported authenticated, in order */
static unsigned g_nauth;

static void authenticated(void *ctx, uint32_t c)
{
    (void)ctx;
    assert_true(g_nauth < 16);
    g_auth[g_nauth++] = c;
}

static const struct mux_ops ops = {to_wire, to_client, authenticated};
static const uint8_t tok[] = {0xaa, 1, 2, 3};

static int setup(void **state)
{
    (void)state;
    g_r = calloc(1, sizeof *g_r);
    mux_router_init(g_r, &ops, NULL, "hv-control test", PROTO_VERSION, 100);
    g_n = 0;
    g_nauth = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(g_r);
    return 0;
}

/* Message builders (into g_m). */
static const struct proto_msg *list_req(uint64_t id)
{
    memset(&g_m, 0, sizeof g_m);
    g_m.type = PROTO_MSG_DOMAIN_LIST_REQUEST;
    g_m.u.domain_list_request = (struct proto_domain_list_request){id, {tok, sizeof tok}};
    return &g_m;
}

static const struct proto_msg *ok_reply(uint64_t id)
{
    memset(&g_m, 0, sizeof g_m);
    g_m.type = PROTO_MSG_OK_REPLY;
    g_m.u.ok_reply.request_id = id;
    return &g_m;
}

static const struct proto_msg *list_reply(uint64_t id)
{
    memset(&g_m, 0, sizeof g_m);
    g_m.type = PROTO_MSG_DOMAIN_LIST_REPLY;
    g_m.u.domain_list_reply.request_id = id;
    return &g_m;
}

static const struct proto_msg *attach_req(uint64_t id)
{
    memset(&g_m, 0, sizeof g_m);
    g_m.type = PROTO_MSG_CONSOLE_ATTACH_REQUEST;
    g_m.u.console_attach_request.request_id = id;
    g_m.u.console_attach_request.token = (struct hvcbor_str){tok, sizeof tok};
    g_m.u.console_attach_request.domain = (struct hvcbor_str){(const uint8_t *)"web1", 4};
    return &g_m;
}

static const struct proto_msg *attach_reply(uint64_t id, uint64_t stream)
{
    memset(&g_m, 0, sizeof g_m);
    g_m.type = PROTO_MSG_CONSOLE_ATTACH_REPLY;
    g_m.u.console_attach_reply = (struct proto_console_attach_reply){id, stream, 0};
    return &g_m;
}

static const struct proto_msg *con_data(uint64_t id, uint64_t stream)
{
    memset(&g_m, 0, sizeof g_m);
    g_m.type = PROTO_MSG_CONSOLE_DATA;
    g_m.u.console_data = (struct proto_console_data){id, stream, {(const uint8_t *)"abc", 3}};
    return &g_m;
}

static const struct proto_msg *con_detach(uint64_t id, uint64_t stream)
{
    memset(&g_m, 0, sizeof g_m);
    g_m.type = PROTO_MSG_CONSOLE_DETACH;
    g_m.u.console_detach.request_id = id;
    g_m.u.console_detach.stream = stream;
    return &g_m;
}

static const struct proto_msg *log_req(uint64_t id, bool follow, uint8_t t0)
{
    static uint8_t t[4];
    memcpy(t, tok, sizeof t);
    t[0] = t0;
    memset(&g_m, 0, sizeof g_m);
    g_m.type = PROTO_MSG_LOG_QUERY_REQUEST;
    g_m.u.log_query_request = (struct proto_log_query_request){id, {t, sizeof t}, 0, 64, follow};
    return &g_m;
}

static const struct proto_msg *log_entries(uint64_t id, uint32_t count, uint64_t next)
{
    memset(&g_m, 0, sizeof g_m);
    g_m.type = PROTO_MSG_LOG_ENTRIES;
    g_m.u.log_entries.request_id = id;
    g_m.u.log_entries.entries.count = count;
    for (uint32_t i = 0; i < count; i++) {
        g_m.u.log_entries.entries.items[i].seq = next - count + i;
        g_m.u.log_entries.entries.items[i].actor = (struct hvcbor_str){(const uint8_t *)"a", 1};
        g_m.u.log_entries.entries.items[i].action = (struct hvcbor_str){(const uint8_t *)"b", 1};
    }
    g_m.u.log_entries.next_seq = next;
    return &g_m;
}

static const struct proto_msg *error_reply(uint64_t id, enum proto_error_code code)
{
    memset(&g_m, 0, sizeof g_m);
    g_m.type = PROTO_MSG_ERROR_REPLY;
    g_m.u.error_reply = (struct proto_error_reply){
        .request_id = id, .code = code, .message = {(const uint8_t *)"no", 2}};
    return &g_m;
}

/* A client counts as authenticated (mux_admit.h) once the control domain
 * answers one of its own requests with anything but an error-reply: not on
 * hello (answered by the broker), not on a refusal, not on the broker's own
 * follower polls or stream data. */
static void test_authenticated(void **state)
{
    (void)state;
    mux_client_msg(g_r, 1, list_req(1));
    mux_server_msg(g_r, error_reply(g_sent[0].id, PROTO_ERROR_CODE_REFUSED));
    assert_int_equal(g_nauth, 0);
    g_m = (struct proto_msg){.type = PROTO_MSG_HELLO};
    g_m.u.hello = (struct proto_hello){2, PROTO_VERSION, {(const uint8_t *)"x", 1}};
    mux_client_msg(g_r, 1, &g_m);
    assert_int_equal(g_nauth, 0);
    g_n = 0;
    mux_client_msg(g_r, 2, list_req(1));
    mux_server_msg(g_r, list_reply(g_sent[0].id));
    assert_int_equal(g_nauth, 1);
    assert_int_equal(g_auth[0], 2);
    /* A console attach answered: authenticated; its stream data adds nothing. */
    g_n = 0;
    mux_client_msg(g_r, 3, attach_req(7));
    mux_server_msg(g_r, attach_reply(g_sent[0].id, 42));
    assert_int_equal(g_nauth, 2);
    assert_int_equal(g_auth[1], 3);
    mux_server_msg(g_r, con_data(g_sent[0].id, 42));
    assert_int_equal(g_nauth, 2);
    /* An answer for a client that went away reports nobody. */
    g_n = 0;
    mux_client_msg(g_r, 4, list_req(1));
    mux_client_gone(g_r, 4);
    mux_server_msg(g_r, list_reply(g_sent[0].id));
    assert_int_equal(g_nauth, 2);
}

/* Two clients use the same request id; each gets its own reply back with
 * its id, whatever order the control domain answers in. */
static void test_ids_rewritten_and_restored(void **state)
{
    (void)state;
    mux_client_msg(g_r, 1, list_req(5));
    mux_client_msg(g_r, 2, list_req(5));
    assert_int_equal(g_n, 2);
    assert_int_equal(g_sent[0].to, WIRE);
    assert_int_equal(g_sent[1].to, WIRE);
    uint64_t w1 = g_sent[0].id, w2 = g_sent[1].id;
    assert_int_not_equal(w1, w2);
    assert_true(w1 >= 100 && w2 >= 100); /* below 100: the broker's hellos */
    assert_int_equal(mux_entries_used(g_r, UINT32_MAX), 2);
    mux_server_msg(g_r, list_reply(w2));
    mux_server_msg(g_r, list_reply(w1));
    assert_int_equal(g_n, 4);
    assert_int_equal(g_sent[2].to, 2);
    assert_int_equal(g_sent[2].id, 5);
    assert_int_equal(g_sent[2].type, PROTO_MSG_DOMAIN_LIST_REPLY);
    assert_int_equal(g_sent[3].to, 1);
    assert_int_equal(g_sent[3].id, 5);
    assert_int_equal(mux_entries_used(g_r, UINT32_MAX), 0);
    /* A second reply to the same wire id reaches nobody. */
    mux_server_msg(g_r, list_reply(w1));
    assert_int_equal(g_n, 4);
    /* Wire ids are never reused. */
    mux_client_msg(g_r, 1, list_req(5));
    assert_true(g_sent[4].id > w2 && g_sent[4].id > w1);
}

/* hello is answered by the broker and never reaches the control domain (it
 * would end everyone's streams); a wrong version gets version-mismatch. */
static void test_hello_local(void **state)
{
    (void)state;
    memset(&g_m, 0, sizeof g_m);
    g_m.type = PROTO_MSG_HELLO;
    g_m.u.hello = (struct proto_hello){77, PROTO_VERSION, {(const uint8_t *)"x", 1}};
    mux_client_msg(g_r, 3, &g_m);
    assert_int_equal(g_n, 1);
    assert_int_equal(g_sent[0].to, 3);
    assert_int_equal(g_sent[0].type, PROTO_MSG_HELLO_REPLY);
    assert_int_equal(g_sent[0].id, 77);
    g_m.u.hello.version = PROTO_VERSION + 1;
    mux_client_msg(g_r, 3, &g_m);
    assert_int_equal(g_n, 2);
    assert_int_equal(g_sent[1].type, PROTO_MSG_ERROR_REPLY);
    assert_int_equal(g_sent[1].code, PROTO_ERROR_CODE_VERSION_MISMATCH);
    assert_int_equal(mux_entries_used(g_r, UINT32_MAX), 0);
}

/* A reply type sent by a client is refused invalid, nothing forwarded. */
static void test_reply_from_client_refused(void **state)
{
    (void)state;
    mux_client_msg(g_r, 1, ok_reply(9));
    mux_client_msg(g_r, 1, log_entries(10, 0, 1));
    assert_int_equal(g_n, 2);
    for (unsigned i = 0; i < 2; i++) {
        assert_int_equal(g_sent[i].to, 1);
        assert_int_equal(g_sent[i].type, PROTO_MSG_ERROR_REPLY);
        assert_int_equal(g_sent[i].code, PROTO_ERROR_CODE_INVALID);
    }
    assert_int_equal(g_sent[0].id, 9);
}

/* Opens a stream for client c (attach id aid, stream s); returns the wire id. */
static uint64_t attach(uint32_t c, uint64_t aid, uint64_t s)
{
    unsigned n0 = g_n;
    mux_client_msg(g_r, c, attach_req(aid));
    assert_int_equal(g_n, n0 + 1);
    uint64_t w = g_sent[n0].id;
    mux_server_msg(g_r, attach_reply(w, s));
    assert_int_equal(g_n, n0 + 2);
    assert_int_equal(g_sent[n0 + 1].to, c);
    assert_int_equal(g_sent[n0 + 1].id, aid);
    assert_int_equal(g_sent[n0 + 1].stream, s);
    return w;
}

static void test_console_stream(void **state)
{
    (void)state;
    uint64_t w = attach(1, 7, 42);
    /* Output for the stream goes to its client with the attach's id. */
    mux_server_msg(g_r, con_data(w, 42));
    assert_int_equal(g_sent[2].to, 1);
    assert_int_equal(g_sent[2].id, 7);
    assert_int_equal(g_sent[2].type, PROTO_MSG_CONSOLE_DATA);
    /* Input from the owner goes out with the wire id. */
    mux_client_msg(g_r, 1, con_data(7, 42));
    assert_int_equal(g_sent[3].to, WIRE);
    assert_int_equal(g_sent[3].id, w);
    assert_int_equal(g_sent[3].stream, 42);
    /* Another client cannot type into it or detach it. */
    mux_client_msg(g_r, 2, con_data(7, 42));
    assert_int_equal(g_n, 4);
    mux_client_msg(g_r, 2, con_detach(7, 42));
    assert_int_equal(g_n, 5);
    assert_int_equal(g_sent[4].to, 2);
    assert_int_equal(g_sent[4].code, PROTO_ERROR_CODE_NOT_FOUND);
    /* A hello of another client changes nothing for this stream. */
    memset(&g_m, 0, sizeof g_m);
    g_m.type = PROTO_MSG_HELLO;
    g_m.u.hello = (struct proto_hello){1, PROTO_VERSION, {(const uint8_t *)"x", 1}};
    mux_client_msg(g_r, 2, &g_m);
    assert_int_equal(g_sent[5].to, 2);
    assert_int_equal(mux_entries_used(g_r, 1), 1);
    /* The owner's detach: forwarded once; a second one is refused locally. */
    mux_client_msg(g_r, 1, con_detach(7, 42));
    assert_int_equal(g_sent[6].to, WIRE);
    assert_int_equal(g_sent[6].id, w);
    assert_int_equal(g_sent[6].type, PROTO_MSG_CONSOLE_DETACH);
    mux_client_msg(g_r, 1, con_detach(7, 42));
    assert_int_equal(g_sent[7].to, 1);
    assert_int_equal(g_sent[7].code, PROTO_ERROR_CODE_NOT_FOUND);
    mux_server_msg(g_r, ok_reply(w));
    assert_int_equal(g_sent[8].to, 1);
    assert_int_equal(g_sent[8].id, 7);
    assert_int_equal(g_sent[8].type, PROTO_MSG_OK_REPLY);
    assert_int_equal(mux_entries_used(g_r, UINT32_MAX), 0);
}

/* The control domain ends a stream (takeover): the client hears it, the
 * entry goes. An attach refused (conflict) frees its entry too. */
static void test_console_server_detach(void **state)
{
    (void)state;
    uint64_t w = attach(1, 7, 42);
    mux_server_msg(g_r, con_detach(w, 42));
    assert_int_equal(g_sent[2].to, 1);
    assert_int_equal(g_sent[2].type, PROTO_MSG_CONSOLE_DETACH);
    assert_int_equal(g_sent[2].id, 7);
    assert_int_equal(mux_entries_used(g_r, UINT32_MAX), 0);
    mux_client_msg(g_r, 1, attach_req(8));
    mux_server_msg(g_r, error_reply(g_sent[3].id, PROTO_ERROR_CODE_CONFLICT));
    assert_int_equal(g_sent[4].to, 1);
    assert_int_equal(g_sent[4].code, PROTO_ERROR_CODE_CONFLICT);
    assert_int_equal(mux_entries_used(g_r, UINT32_MAX), 0);
}

/* A client goes away attached: the broker detaches its stream as hvctl
 * console would, and drops what comes back for it. */
static void test_gone_detaches(void **state)
{
    (void)state;
    uint64_t w = attach(1, 7, 42);
    mux_client_msg(g_r, 1, list_req(8));
    uint64_t wl = g_sent[2].id;
    mux_client_gone(g_r, 1);
    assert_int_equal(g_n, 4);
    assert_int_equal(g_sent[3].to, WIRE);
    assert_int_equal(g_sent[3].type, PROTO_MSG_CONSOLE_DETACH);
    assert_int_equal(g_sent[3].id, w);
    assert_int_equal(g_sent[3].stream, 42);
    mux_server_msg(g_r, con_data(w, 42)); /* output still in flight */
    mux_server_msg(g_r, list_reply(wl));
    mux_server_msg(g_r, ok_reply(w));
    assert_int_equal(g_n, 4); /* nothing to anybody */
    assert_int_equal(mux_entries_used(g_r, UINT32_MAX), 0);
    /* Gone while its attach is in flight: detached when the reply comes. */
    mux_client_msg(g_r, 2, attach_req(9));
    uint64_t w2 = g_sent[4].id;
    mux_client_gone(g_r, 2);
    assert_int_equal(g_n, 5);
    mux_server_msg(g_r, attach_reply(w2, 43));
    assert_int_equal(g_n, 6);
    assert_int_equal(g_sent[5].to, WIRE);
    assert_int_equal(g_sent[5].type, PROTO_MSG_CONSOLE_DETACH);
    assert_int_equal(g_sent[5].stream, 43);
    /* The control domain ended it first: its not-found answer to our detach
     * still finds the entry, then it is gone. */
    mux_server_msg(g_r, con_detach(w2, 43));
    assert_int_equal(mux_entries_used(g_r, UINT32_MAX), 1);
    mux_server_msg(g_r, error_reply(w2, PROTO_ERROR_CODE_NOT_FOUND));
    assert_int_equal(g_n, 6);
    assert_int_equal(mux_entries_used(g_r, UINT32_MAX), 0);
}

/* log -f: forwarded without follow, then polled from next-seq; only
 * non-empty batches reach the client, with its id; another client's log
 * query does not disturb it; a gone follower is no longer polled. */
static void test_log_follow_polls(void **state)
{
    (void)state;
    mux_client_msg(g_r, 1, log_req(9, true, 0x11));
    assert_int_equal(g_sent[0].to, WIRE);
    assert_false(g_sent[0].follow);
    mux_server_msg(g_r, log_entries(g_sent[0].id, 2, 10));
    assert_int_equal(g_sent[1].to, 1);
    assert_int_equal(g_sent[1].id, 9);
    assert_int_equal(g_sent[1].count, 2);
    mux_tick(g_r, 1000);
    assert_int_equal(g_n, 3);
    assert_int_equal(g_sent[2].to, WIRE);
    assert_int_equal(g_sent[2].type, PROTO_MSG_LOG_QUERY_REQUEST);
    assert_int_equal(g_sent[2].since, 10);
    assert_false(g_sent[2].follow);
    assert_int_equal(g_sent[2].token0, 0x11); /* the follower's own token */
    mux_tick(g_r, 2000);                      /* one poll in flight at a time */
    assert_int_equal(g_n, 3);
    mux_server_msg(g_r, log_entries(g_sent[2].id, 0, 10));
    assert_int_equal(g_n, 3);                     /* empty: nothing to the client */
    mux_tick(g_r, 1000 + MUX_FOLLOW_POLL_MS - 1); /* not due yet */
    assert_int_equal(g_n, 3);
    /* Another client's plain log query passes through untouched. */
    mux_client_msg(g_r, 2, log_req(4, false, 0x22));
    assert_int_equal(g_sent[3].to, WIRE);
    mux_server_msg(g_r, log_entries(g_sent[3].id, 1, 11));
    assert_int_equal(g_sent[4].to, 2);
    assert_int_equal(g_sent[4].id, 4);
    mux_tick(g_r, 1000 + MUX_FOLLOW_POLL_MS);
    assert_int_equal(g_sent[5].to, WIRE);
    assert_int_equal(g_sent[5].since, 10);
    mux_server_msg(g_r, log_entries(g_sent[5].id, 1, 11));
    assert_int_equal(g_sent[6].to, 1);
    assert_int_equal(g_sent[6].id, 9);
    assert_int_equal(g_sent[6].count, 1);
    /* Poll in flight when the follower goes: its answer is dropped, and
     * there are no more polls. */
    mux_tick(g_r, 5000);
    assert_int_equal(g_n, 8);
    mux_client_gone(g_r, 1);
    mux_server_msg(g_r, log_entries(g_sent[7].id, 3, 14));
    mux_tick(g_r, 10000);
    assert_int_equal(g_n, 8);
    assert_int_equal(mux_entries_used(g_r, UINT32_MAX), 0);
}

/* A refused follow (token lacks the right) or a revoked token during the
 * polls: the client hears the error and the polls stop. */
static void test_log_follow_errors(void **state)
{
    (void)state;
    mux_client_msg(g_r, 1, log_req(9, true, 1));
    mux_server_msg(g_r, error_reply(g_sent[0].id, PROTO_ERROR_CODE_REFUSED));
    assert_int_equal(g_sent[1].to, 1);
    assert_int_equal(g_sent[1].code, PROTO_ERROR_CODE_REFUSED);
    mux_tick(g_r, 10000);
    assert_int_equal(g_n, 2);
    mux_client_msg(g_r, 2, log_req(3, true, 1));
    mux_server_msg(g_r, log_entries(g_sent[2].id, 0, 5));
    mux_tick(g_r, 20000);
    assert_int_equal(g_sent[4].to, WIRE);
    mux_server_msg(g_r, error_reply(g_sent[4].id, PROTO_ERROR_CODE_REFUSED));
    assert_int_equal(g_sent[5].to, 2);
    assert_int_equal(g_sent[5].id, 3);
    mux_tick(g_r, 30000);
    assert_int_equal(g_n, 6);
}

/* Upload ids belong to the client that was given them. */
static void test_upload_owned(void **state)
{
    (void)state;
    memset(&g_m, 0, sizeof g_m);
    g_m.type = PROTO_MSG_IMAGE_UPLOAD_REQUEST;
    g_m.u.image_upload_request.request_id = 4;
    g_m.u.image_upload_request.token = (struct hvcbor_str){tok, sizeof tok};
    g_m.u.image_upload_request.name = (struct hvcbor_str){(const uint8_t *)"k", 1};
    g_m.u.image_upload_request.size_bytes = 10;
    mux_client_msg(g_r, 1, &g_m);
    uint64_t w = g_sent[0].id;
    memset(&g_m, 0, sizeof g_m);
    g_m.type = PROTO_MSG_IMAGE_UPLOAD_REPLY;
    g_m.u.image_upload_reply = (struct proto_image_upload_reply){w, 3, false, false};
    mux_server_msg(g_r, &g_m);
    assert_int_equal(g_sent[1].to, 1);
    assert_int_equal(g_sent[1].id, 4);
    static const uint8_t data[10];
    memset(&g_m, 0, sizeof g_m);
    g_m.type = PROTO_MSG_IMAGE_UPLOAD_CHUNK;
    g_m.u.image_upload_chunk = (struct proto_image_upload_chunk){5, 3, 0, {data, 10}};
    mux_client_msg(g_r, 2, &g_m); /* not its upload */
    assert_int_equal(g_sent[2].to, 2);
    assert_int_equal(g_sent[2].code, PROTO_ERROR_CODE_NOT_FOUND);
    mux_client_msg(g_r, 1, &g_m);
    assert_int_equal(g_sent[3].to, WIRE);
    assert_int_equal(g_sent[3].type, PROTO_MSG_IMAGE_UPLOAD_CHUNK);
    mux_client_gone(g_r, 1);
    mux_client_msg(g_r, 1, &g_m); /* a new client reusing the number: refused */
    assert_int_equal(g_sent[4].to, 1);
    assert_int_equal(g_sent[4].code, PROTO_ERROR_CODE_NOT_FOUND);
}

/* One client cannot fill the table: past MUX_MAX_PER_CLIENT it gets busy,
 * others are still served. */
static void test_per_client_limit(void **state)
{
    (void)state;
    for (uint64_t i = 0; i < MUX_MAX_PER_CLIENT; i++)
        mux_client_msg(g_r, 1, list_req(i + 1));
    assert_int_equal(g_n, MUX_MAX_PER_CLIENT);
    mux_client_msg(g_r, 1, list_req(1000));
    assert_int_equal(g_sent[g_n - 1].to, 1);
    assert_int_equal(g_sent[g_n - 1].code, PROTO_ERROR_CODE_BUSY);
    assert_int_equal(g_sent[g_n - 1].id, 1000);
    mux_client_msg(g_r, 2, list_req(1));
    assert_int_equal(g_sent[g_n - 1].to, WIRE);
    mux_client_gone(g_r, 1);
    for (uint64_t i = 0; i < MUX_MAX_PER_CLIENT; i++)
        mux_server_msg(g_r, list_reply(g_sent[i].id));
    assert_int_equal(mux_entries_used(g_r, UINT32_MAX), 1); /* client 2's */
}

/* Answers to nobody (id 0, unknown ids) are dropped. */
static void test_unknown_wire_ids(void **state)
{
    (void)state;
    mux_server_msg(g_r, error_reply(0, PROTO_ERROR_CODE_INVALID));
    mux_server_msg(g_r, list_reply(123456));
    mux_server_msg(g_r, con_data(99, 42));
    assert_int_equal(g_n, 0);
    assert_int_equal(g_r->stats.dropped_replies, 3);
}

/* mux_set_request_id covers every message type. */
static void test_set_request_id_every_type(void **state)
{
    (void)state;
    for (uint32_t t = 0; t < 100; t++) {
        if (!proto_msg_name(t))
            continue;
        memset(&g_m, 0, sizeof g_m);
        g_m.type = (enum proto_msg_type)t;
        mux_set_request_id(&g_m, 0x123456789ull + t);
        assert_int_equal(proto_msg_request_id(&g_m), 0x123456789ull + t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ids_rewritten_and_restored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authenticated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hello_local, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_from_client_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_server_detach, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gone_detaches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_follow_polls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_follow_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_owned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_per_client_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_wire_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_request_id_every_type, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
