/*
 * The broker's sockets and event loop (tools/hvctl/mux.c) against the fake
 * control domain (fake_server.c, standing in for QEMU's COM2 socket): the
 * broker runs in a forked child, libhvctl clients and raw sockets connect to
 * it. Two clients at once with the same request ids; only the broker's own
 * hello reaches the control domain; garbage from the control domain is
 * dropped; an oversized frame header gets too-large; an undecodable frame gets
 * invalid, also when written in two parts with a pause between them; a frame
 * cut short is dropped when a new one follows it after a pause; a client flooding garbage is closed while another is served; a
 * client that never reads its answers is closed; a client that goes away
 * attached has its console detached; SIGTERM stops the broker and removes its
 * socket. Admission (issue 20 item 4): six processes holding 1,800
 * connections do not keep a new client out; an idle unauthenticated client is
 * closed after the deadline; a process past its limit is refused; one request
 * in flight before authentication.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fake_server.h"
#include "hvctl/client.h"
#include "mux.h"

static struct fake_server g_srv;

/* In a forked child: it dies with the test (a failed assertion or a kill
 * must not leave a broker or a flood behind, holding ctest's output pipe). */
static void die_with(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != parent)
        _exit(1);
}
static char g_dir[64], g_listen[128];
static pid_t g_mux;
/* The broker's clock in test_admission (virtual time: it moves only when
 * the test moves it), shared with the forked broker; NULL elsewhere. */
static volatile uint64_t *g_clock;

static void connect_ok(struct hvctl_conn *c)
{
    struct hvctl_error e;
    for (int i = 0; i < 100; i++) {
        if (hvctl_connect(c, g_listen, &e))
            return;
        usleep(50 * 1000);
    }
    fail_msg("cannot connect to the broker: %s", e.message);
}

static void hello_ok(struct hvctl_conn *c)
{
    char name[80];
    uint64_t v = 0;
    struct hvctl_error e;
    assert_int_equal(hvctl_hello(c, 5000, name, sizeof name, &v, &e), HVCTL_OK);
    assert_string_equal(name, "fake-control 1");
    assert_int_equal(v, PROTO_VERSION);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/hvctl-mux-test-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    memset(&g_srv, 0, sizeof g_srv);
    g_srv.action[PROTO_MSG_DOMAIN_LIST_REQUEST] = FA_GARBAGE_THEN_REPLY;
    fake_server_start_socket(&g_srv, g_dir); /* "QEMU": g_dir/com2.sock */
    snprintf(g_listen, sizeof g_listen, "%s/mux.sock", g_dir);
    fflush(NULL);
    pid_t parent = getpid();
    g_mux = fork();
    assert_true(g_mux >= 0);
    if (g_mux == 0) {
        die_with(parent);
        struct mux_opts o = {.qemu_sock = g_srv.sock_path,
                             .listen_sock = g_listen,
                             .wait_ms = 10000,
                             .log = stderr,
                             .clock_ms = g_clock};
        _exit(hvctl_mux_run(&o));
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (g_mux > 0) {
        kill(g_mux, SIGKILL);
        waitpid(g_mux, NULL, 0);
    }
    fake_server_stop(&g_srv);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* setup with the broker on a virtual clock (g_clock) that starts at 1 s. */
static int setup_virtual_clock(void **state)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    g_clock = p;
    *g_clock = 1000;
    return setup(state);
}

static int teardown_virtual_clock(void **state)
{
    int rc = teardown(state);
    munmap((void *)(uintptr_t)g_clock, 4096);
    g_clock = NULL;
    return rc;
}

static enum hvctl_status list(struct hvctl_conn *c, uint64_t id)
{
    struct proto_msg m = {.type = PROTO_MSG_DOMAIN_LIST_REQUEST};
    m.u.domain_list_request.request_id = id;
    struct hvctl_error e;
    return hvctl_send(c, &m, 5000, &e);
}

static void expect_reply(struct hvctl_conn *c, uint64_t id, enum proto_msg_type t)
{
    const struct proto_msg *r;
    struct hvctl_error e;
    assert_int_equal(hvctl_wait_reply(c, id, 5000, &r, &e), HVCTL_OK);
    assert_int_equal(r->type, t);
}

static void expect_error(struct hvctl_conn *c, enum proto_error_code code)
{
    const struct proto_msg *r;
    struct hvctl_error e;
    assert_int_equal(hvctl_recv(c, 5000, &r, &e), HVCTL_OK);
    assert_int_equal(r->type, PROTO_MSG_ERROR_REPLY);
    assert_int_equal(r->u.error_reply.code, code);
    assert_int_equal(proto_msg_request_id(r), 0);
}

/* True once the peer has closed c (EOF), within ms. */
static bool closed_within(struct hvctl_conn *c, int ms)
{
    static uint8_t sink[65536];
    for (int waited = 0; waited < ms; waited += 20) {
        ssize_t n = recv(c->fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return true;
        if (n < 0)
            usleep(20 * 1000);
    }
    return false;
}

static void test_broker(void **state)
{
    (void)state;
    struct hvctl_conn a, b, raw, flood, lazy;
    connect_ok(&a);
    connect_ok(&b);
    hello_ok(&a);
    hello_ok(&b);
    /* The same request id on two connections; answers cross. */
    assert_int_equal(list(&a, 7), HVCTL_OK);
    assert_int_equal(list(&b, 7), HVCTL_OK);
    expect_reply(&b, 7, PROTO_MSG_DOMAIN_LIST_REPLY);
    expect_reply(&a, 7, PROTO_MSG_DOMAIN_LIST_REPLY);

    /* An oversized frame header: too-large; then an undecodable frame:
     * invalid. The connection stays usable. (raw authenticates first: the
     * pauses below must not meet the deadline of an unauthenticated one.) */
    connect_ok(&raw);
    assert_int_equal(list(&raw, 8), HVCTL_OK);
    expect_reply(&raw, 8, PROTO_MSG_DOMAIN_LIST_REPLY);
    uint8_t h[12] = {FRAME_MAGIC0, FRAME_MAGIC1, FRAME_MAGIC2, FRAME_MAGIC3, 0, 0, 0x10, 0};
    uint32_t crc = frame_crc32c(0, h, 8);
    memcpy(h + 8, &crc, 4);
    assert_int_equal(write(raw.fd, h, sizeof h), (ssize_t)sizeof h);
    expect_error(&raw, PROTO_ERROR_CODE_TOO_LARGE);
    static const uint8_t notcbor[] = {0xff, 0xfe, 0x00};
    uint8_t fr[32];
    size_t n = frame_encode(fr, sizeof fr, notcbor, sizeof notcbor);
    assert_int_equal(write(raw.fd, fr, n), (ssize_t)n);
    expect_error(&raw, PROTO_ERROR_CODE_INVALID);
    hello_ok(&raw);
    /* The same frame in two writes with a pause longer than the broker's
     * between them (a client stalled by a busy host): one frame, answered.
     * Until 2026-12-07 the broker dropped the first part as truncated. */
    assert_int_equal(write(raw.fd, fr, 7), 7);
    usleep((MUX_PAUSE_MS + 300) * 1000);
    assert_int_equal(write(raw.fd, fr + 7, n - 7), (ssize_t)(n - 7));
    expect_error(&raw, PROTO_ERROR_CODE_INVALID);
    /* A frame cut short, a pause, a new frame: the new one is read at once
     * (the cut one is dropped where the new one begins). */
    assert_int_equal(write(raw.fd, fr, n - 2), (ssize_t)(n - 2));
    usleep((MUX_PAUSE_MS + 300) * 1000);
    hello_ok(&raw);

    /* Garbage flood: closed after 1 MiB; a is served meanwhile. */
    connect_ok(&flood);
    static uint8_t junk[65536];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 7u + 3u) == 'H' ? 0 : (uint8_t)(i * 7u + 3u);
    size_t sent = 0;
    while (sent < (2u << 20)) {
        struct pollfd p = {.fd = flood.fd, .events = POLLOUT};
        if (poll(&p, 1, 2000) <= 0 || !(p.revents & POLLOUT))
            break;
        ssize_t w = send(flood.fd, junk, sizeof junk, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w <= 0)
            break;
        sent += (size_t)w;
        if (sent % (256u << 10) == 0) {
            assert_int_equal(list(&a, 100 + sent), HVCTL_OK);
            expect_reply(&a, 100 + sent, PROTO_MSG_DOMAIN_LIST_REPLY);
        }
    }
    assert_true(closed_within(&flood, 5000));
    hvctl_close(&flood);

    /* A client that sends and never reads: closed once 1 MiB piles up
     * (busy errors and replies); a is still served. */
    connect_ok(&lazy);
    bool lazy_closed = false;
    for (uint64_t id = 1; id < 200000 && !lazy_closed; id++) {
        struct proto_msg m = {.type = PROTO_MSG_LOG_QUERY_REQUEST};
        m.u.log_query_request.request_id = id;
        m.u.log_query_request.max_entries = 64;
        struct hvctl_error e;
        enum hvctl_status s = hvctl_send(&lazy, &m, 2000, &e);
        if (s == HVCTL_ERR_CLOSED)
            lazy_closed = true;
        else if (s == HVCTL_ERR_TIMEOUT)
            break; /* the broker stopped reading it: see below */
        else
            assert_int_equal(s, HVCTL_OK);
    }
    assert_int_equal(list(&a, 5000), HVCTL_OK);
    expect_reply(&a, 5000, PROTO_MSG_DOMAIN_LIST_REPLY);
    assert_true(lazy_closed || closed_within(&lazy, 10000));
    hvctl_close(&lazy);

    /* b attaches a console and goes away without detaching. */
    struct proto_msg m = {.type = PROTO_MSG_CONSOLE_ATTACH_REQUEST};
    m.u.console_attach_request.request_id = 9;
    m.u.console_attach_request.domain = (struct hvcbor_str){(const uint8_t *)"web1", 4};
    const struct proto_msg *r;
    struct hvctl_error e;
    assert_int_equal(hvctl_call(&b, &m, PROTO_MSG_CONSOLE_ATTACH_REPLY, 5000, &r, &e), HVCTL_OK);
    uint64_t stream = r->u.console_attach_reply.stream;
    expect_reply(&b, 9, PROTO_MSG_CONSOLE_DATA);
    /* a cannot detach b's stream. */
    memset(&m, 0, sizeof m);
    m.type = PROTO_MSG_CONSOLE_DETACH;
    m.u.console_detach = (struct proto_console_detach){.request_id = 3, .stream = stream};
    assert_int_equal(hvctl_call(&a, &m, PROTO_MSG_OK_REPLY, 5000, &r, &e), HVCTL_ERR_SERVER);
    assert_int_equal(e.server_code, PROTO_ERROR_CODE_NOT_FOUND);
    hvctl_close(&b);
    /* The broker's detach reaches the control domain; then a last list
     * proves the order. */
    usleep(300 * 1000);
    assert_int_equal(list(&a, 6000), HVCTL_OK);
    expect_reply(&a, 6000, PROTO_MSG_DOMAIN_LIST_REPLY);
    hvctl_close(&a);
    hvctl_close(&raw);

    /* SIGTERM: exit 0, socket removed. */
    kill(g_mux, SIGTERM);
    int st = 0;
    assert_int_equal(waitpid(g_mux, &st, 0), g_mux);
    g_mux = 0;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_not_equal(access(g_listen, F_OK), 0);
    fake_server_stop(&g_srv);
    /* Only the broker's hellos reached the control domain (the clients'
     * three were answered by the broker), and b's console was detached. */
    assert_true(g_srv.type_count[PROTO_MSG_HELLO] >= 1);
    assert_true(g_srv.type_count[PROTO_MSG_HELLO] <= 2);
    assert_true(g_srv.console_detached);
    fake_server_start_socket(&g_srv, g_dir); /* teardown stops it again */
}

/* The next message on c is a notice (error-reply busy, id 0) saying what;
 * then the broker closes c. */
static void expect_notice_and_close(struct hvctl_conn *c, const char *what)
{
    const struct proto_msg *r;
    struct hvctl_error e;
    assert_int_equal(hvctl_recv(c, 6000, &r, &e), HVCTL_OK);
    assert_int_equal(r->type, PROTO_MSG_ERROR_REPLY);
    assert_int_equal(r->u.error_reply.code, PROTO_ERROR_CODE_BUSY);
    assert_int_equal(r->u.error_reply.request_id, 0);
    char text[256];
    hvctl_str_printable(text, sizeof text, r->u.error_reply.message);
    if (!strstr(text, what))
        print_message("expected a notice with \"%s\", got \"%s\"\n", what, text);
    assert_non_null(strstr(text, what));
    assert_true(closed_within(c, 3000));
    /* libhvctl reports the notice with the close. */
    assert_int_equal(hvctl_recv(c, 1000, &r, &e), HVCTL_ERR_CLOSED);
    assert_non_null(strstr(e.message, what));
}

/* Processes that each open n connections to the broker and hold them
 * without a word until killed. */
static pid_t hold_connections(int n)
{
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        die_with(parent);
        for (int i = 0; i < n; i++) {
            struct hvctl_conn c;
            struct hvctl_error e;
            if (hvctl_connect(&c, g_listen, &e))
                (void)c; /* held: its fd stays open */
        }
        for (;;)
            pause();
    }
    return pid;
}

/* Issue 20 item 4: connections that never authenticate cannot lock the
 * administrator out. Six processes open 300 connections each and hold them
 * (the broker keeps 8 per process, 32 in all, each for at most 3 s); a new
 * client is still served and, authenticated, keeps its connection; an idle
 * unauthenticated one is closed after the deadline; a process past its
 * limit is refused; an unauthenticated client has one request in flight.
 * The broker runs on a virtual clock that the test moves past the deadline
 * when it wants it passed: on a slow host no new client is cut by the
 * deadline halfway through its hello and list (that failed under load). */
static void test_admission(void **state)
{
    (void)state;
    struct hvctl_conn a, idle, c;
    connect_ok(&a); /* the broker is up */
    hello_ok(&a);
    /* a authenticates (its list is answered) before the flood: on a busy
     * host the flood can take longer than the deadline to get through. */
    assert_int_equal(list(&a, 1), HVCTL_OK);
    expect_reply(&a, 1, PROTO_MSG_DOMAIN_LIST_REPLY);
    /* Two requests in one write from an unauthenticated client: the first
     * is forwarded, the second answered busy. */
    connect_ok(&c);
    uint8_t both[512], enc[256];
    size_t len = 0, off = 0;
    for (uint64_t id = 1; id <= 2; id++) {
        struct proto_msg m = {.type = PROTO_MSG_DOMAIN_LIST_REQUEST};
        m.u.domain_list_request.request_id = id;
        struct hvcbor_error ce;
        assert_true(proto_msg_encode(&m, enc, sizeof enc, &len, &ce));
        off += frame_encode(both + off, sizeof both - off, enc, len);
    }
    assert_int_equal(write(c.fd, both, off), (ssize_t)off);
    const struct proto_msg *r;
    struct hvctl_error e;
    assert_int_equal(hvctl_wait_reply(&c, 2, 5000, &r, &e), HVCTL_ERR_SERVER);
    assert_int_equal(e.server_code, PROTO_ERROR_CODE_BUSY);
    assert_non_null(strstr(e.message, "one request at a time"));
    expect_reply(&c, 1, PROTO_MSG_DOMAIN_LIST_REPLY);
    hvctl_close(&c);
    /* This process: 8 unauthenticated connections are taken, the 9th is
     * refused with the reason. (Before the flood: during it this process
     * may hold the most unauthenticated connections and lose the oldest.) */
    struct hvctl_conn mine[MUX_PEER_UNAUTH_MAX];
    for (uint32_t i = 0; i < MUX_PEER_UNAUTH_MAX; i++) {
        connect_ok(&mine[i]);
        hello_ok(&mine[i]);
    }
    connect_ok(&c);
    expect_notice_and_close(&c, "this process holds the most unauthenticated connections");
    hvctl_close(&c);
    for (uint32_t i = 0; i < MUX_PEER_UNAUTH_MAX; i++)
        hvctl_close(&mine[i]);
    /* The broker has seen them go once a new connection of this process is
     * answered again (however long that takes on a busy host). */
    for (int tries = 0;; tries++) {
        char name[80];
        uint64_t v = 0;
        struct hvctl_error he;
        connect_ok(&c);
        bool ok = hvctl_hello(&c, 5000, name, sizeof name, &v, &he) == HVCTL_OK;
        hvctl_close(&c);
        if (ok)
            break;
        assert_true(tries < 1000);
        usleep(20 * 1000);
    }
    pid_t flood[6];
    for (int i = 0; i < 6; i++)
        flood[i] = hold_connections(300);
    usleep(500 * 1000);
    /* A new client (the administrator's hvctl list) is served while the
     * flood holds its connections, again and again. */
    for (uint64_t k = 0; k < 5; k++) {
        struct hvctl_conn l;
        connect_ok(&l);
        hello_ok(&l);
        assert_int_equal(list(&l, 40 + k), HVCTL_OK);
        expect_reply(&l, 40 + k, PROTO_MSG_DOMAIN_LIST_REPLY);
        hvctl_close(&l);
    }
    /* a, authenticated, keeps its connection past the deadline, through
     * the flood. */
    assert_int_equal(list(&a, 3), HVCTL_OK);
    expect_reply(&a, 3, PROTO_MSG_DOMAIN_LIST_REPLY);
    connect_ok(&idle);
    hello_ok(&idle);
    /* The broker has accepted idle (it answered the hello): its deadline
     * runs from now on the broker's clock. Just short of it nothing
     * happens; past it idle is closed. */
    *g_clock += MUX_AUTH_DEADLINE_MS - 1;
    assert_false(closed_within(&idle, 300));
    *g_clock += 2;
    expect_notice_and_close(&idle, "no request with an accepted token within 3 s");
    hvctl_close(&idle);
    assert_int_equal(list(&a, 2), HVCTL_OK);
    expect_reply(&a, 2, PROTO_MSG_DOMAIN_LIST_REPLY);
    for (int i = 0; i < 6; i++) {
        kill(flood[i], SIGKILL);
        waitpid(flood[i], NULL, 0);
    }
    hvctl_close(&a);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_broker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admission, setup_virtual_clock,
                                        teardown_virtual_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
