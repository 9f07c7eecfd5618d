/*
 * Host tests of the block front end (guest-kit/src/blk.c, gk/blk.h) against
 * a fake blkback that uses blkback's own checks (domains/blkback/blkproto.c,
 * the real codec) over a fake bus connection and fake grants (the gk_conn_*,
 * gk_grant_* and gk_pages_* calls blk.c makes, defined here). The fake
 * blkback runs whenever the front end would sleep: it takes every message
 * waiting, serves reads and writes against an in-memory volume through the
 * granted pages (a page not granted, or granted read-only for a read, is
 * not-granted), and answers a batch in reverse order, so replies come out of
 * order. Checked: the disks list first, attach (and a refusal's message),
 * synchronous reads and writes of any length, 64 asynchronous requests in
 * flight and no more, the pool's limit, flushes, the front end's own
 * refusals (read-only, range), blkback's (passed on), and hostile messages
 * from blkback (garbage, a reply to no request, a second reply, a second
 * disks list, an oversize message) counted and ignored; a gone connection;
 * a lost wake-up recovered by the once-a-second re-check (counted late).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "blkproto.h"
#include "gk/blk.h"
#include "gk/bus.h"
#include "gk/grant.h"
#include "gk/pages.h"
#include "gk/time.h"
#include "hv/abi.h"

#define QMSGS 1024
#define MSG_BYTES 2048
#define VOL_SECTORS 4096u
#define REFS_MAX 1024u

/* ---- A fake connection, fake grants -------------------------------------------- */

struct fq {
    uint32_t head, n;
    uint32_t len[QMSGS];
    uint8_t data[QMSGS][MSG_BYTES];
};

struct gk_conn {
    struct fq in, out; /* in: blkback -> front end; out: front end -> blkback */
    bool gone, closed;
};

static struct gk_conn conn;
static uint64_t fake_now;
static bool service_asked;
static uint32_t service_asks, intro_failures; /* introductions that fail before one works */
static uint32_t lose_wakeups; /* waits that sleep to their deadline although a message came */
struct fake_grant {
    void *page;
    bool writable, live;
};
static struct fake_grant grants[REFS_MAX];
static uint32_t next_ref = 1;
static uint32_t grants_ended;

uint64_t gk_now_ns(void)
{
    return fake_now;
}

int64_t gk_service_use(const char *name)
{
    service_asked = strcmp(name, "blk") == 0;
    service_asks++;
    return HV_OK;
}

static void fq_push(struct fq *q, const void *m, uint32_t len)
{
    assert_true(q->n < QMSGS && len <= MSG_BYTES);
    uint32_t at = (q->head + q->n) % QMSGS;
    memcpy(q->data[at], m, len);
    q->len[at] = len;
    q->n++;
}

static void blkback_run(void);

struct gk_conn *gk_conn_wait(const char *name, uint64_t deadline_ns)
{
    if (intro_failures) { /* nothing comes: time passes to the deadline */
        intro_failures--;
        fake_now = deadline_ns;
        return NULL;
    }
    return strcmp(name, "blk") == 0 ? &conn : NULL;
}

uint32_t gk_conn_peer_slot(const struct gk_conn *c)
{
    (void)c;
    return 200;
}

enum gk_chan_status gk_conn_peek(struct gk_conn *c, uint32_t *len, const uint8_t **bulk,
                                 uint64_t deadline_ns)
{
    if (bulk)
        *bulk = NULL;
    if (c->in.n == 0)
        blkback_run(); /* the front end would sleep: blkback runs */
    if (c->in.n && lose_wakeups && deadline_ns != 0 && deadline_ns != UINT64_MAX) {
        lose_wakeups--; /* the event that announced it is lost: we sleep on */
        fake_now = deadline_ns;
        return GK_CHAN_ETIMEDOUT;
    }
    if (c->in.n) {
        *len = c->in.len[c->in.head];
        return GK_CHAN_OK;
    }
    if (c->gone)
        return GK_CHAN_EDISCONNECTED;
    if (deadline_ns > fake_now && deadline_ns != UINT64_MAX)
        fake_now = deadline_ns;
    return GK_CHAN_ETIMEDOUT;
}

enum gk_chan_status gk_conn_release(struct gk_conn *c)
{
    if (c->in.n == 0)
        return GK_CHAN_EINVAL;
    c->in.head = (c->in.head + 1) % QMSGS;
    c->in.n--;
    return GK_CHAN_OK;
}

enum gk_chan_status gk_conn_recv(struct gk_conn *c, void *buf, uint32_t cap, uint32_t *len,
                                 uint64_t deadline_ns)
{
    (void)deadline_ns;
    if (c->in.n == 0)
        return c->gone ? GK_CHAN_EDISCONNECTED : GK_CHAN_ETIMEDOUT;
    uint32_t n = c->in.len[c->in.head];
    *len = n;
    if (n > cap)
        return GK_CHAN_ETOOBIG;
    memcpy(buf, c->in.data[c->in.head], n);
    return gk_conn_release(c);
}

enum gk_chan_status gk_conn_send(struct gk_conn *c, const void *msg, uint32_t len,
                                 uint64_t deadline_ns)
{
    (void)deadline_ns;
    if (c->gone)
        return GK_CHAN_EDISCONNECTED;
    fq_push(&c->out, msg, len);
    return GK_CHAN_OK;
}

bool gk_conn_gone(const struct gk_conn *c)
{
    return c->gone;
}

int64_t gk_conn_close(struct gk_conn *c)
{
    c->closed = true;
    return HV_OK;
}

int64_t gk_grant_page(uint32_t dom_slot, const void *page, bool writable, uint32_t *ref)
{
    assert_int_equal(dom_slot, 200);
    assert_true(((uintptr_t)page & 4095) == 0);
    assert_true(next_ref < REFS_MAX);
    grants[next_ref] = (struct fake_grant){(void *)(uintptr_t)page, writable, true};
    *ref = next_ref++;
    return HV_OK;
}

int64_t gk_grant_end(uint32_t ref)
{
    assert_true(ref < REFS_MAX && grants[ref].live);
    grants[ref].live = false;
    grants_ended++;
    return HV_OK;
}

void *gk_pages_alloc(uint32_t pages)
{
    return aligned_alloc(4096, (size_t)pages * 4096);
}

void gk_pages_free(void *va, uint32_t pages)
{
    (void)pages;
    free(va);
}

/* ---- The fake blkback ------------------------------------------------------------ */

static struct blkp_conn bp;
static uint8_t volume[VOL_SECTORS * 512];
static struct proto_msg in_msg, out_msg;
static bool reverse = true; /* answer a batch in reverse order */
static bool refuse_attach;  /* answer attach with error-reply */
static uint32_t flushes, max_batch;
static uint64_t pending_ids[QMSGS];
static uint8_t pending_status[QMSGS];

static void reply(void)
{
    uint8_t buf[MSG_BYTES];
    size_t n = 0;
    struct hvcbor_error e;
    assert_true(proto_msg_encode(&out_msg, buf, sizeof buf, &n, &e));
    fq_push(&conn.in, buf, (uint32_t)n);
}

static void send_disks(void)
{
    out_msg.type = PROTO_MSG_BLK_DISKS_EVENT;
    struct proto_blk_disks_event *e = &out_msg.u.blk_disks_event;
    memset(e, 0, sizeof *e);
    e->domain = (struct hvcbor_str){(const uint8_t *)"fe", 2};
    e->disks.count = 2;
    e->disks.items[0] =
        (struct proto_disk_spec){.volume = {(const uint8_t *)"data", 4}, .writable = true};
    e->disks.items[1] =
        (struct proto_disk_spec){.volume = {(const uint8_t *)"conf", 4}, .writable = false};
    reply();
}

/* Serves one read or write through the granted pages. */
static enum proto_blk_status serve(const struct proto_blk_request *r)
{
    if (r->op == PROTO_BLK_OP_FLUSH) {
        flushes++;
        return PROTO_BLK_STATUS_OK;
    }
    for (uint32_t p = 0; p < r->pages.count; p++) {
        uint64_t ref = r->pages.items[p];
        if (ref >= REFS_MAX || !grants[ref].live ||
            (r->op == PROTO_BLK_OP_READ && !grants[ref].writable))
            return PROTO_BLK_STATUS_NOT_GRANTED;
    }
    uint64_t bytes = r->count * 512;
    for (uint64_t off = 0; off < bytes; off += 512) {
        uint8_t *page = grants[r->pages.items[off / 4096]].page;
        uint8_t *disk = volume + r->sector * 512 + off;
        if (r->op == PROTO_BLK_OP_READ)
            memcpy(page + off % 4096, disk, 512);
        else
            memcpy(disk, page + off % 4096, 512);
    }
    return PROTO_BLK_STATUS_OK;
}

static void blkback_run(void)
{
    uint32_t n = 0;
    while (conn.out.n) {
        uint32_t at = conn.out.head;
        enum blkp_kind k = blkp_decode(&bp, conn.out.data[at], conn.out.len[at], &in_msg);
        conn.out.head = (conn.out.head + 1) % QMSGS;
        conn.out.n--;
        if (k == BLKP_ATTACH) {
            const struct proto_blk_attach_request *q = &in_msg.u.blk_attach_request;
            if (refuse_attach) {
                out_msg.type = PROTO_MSG_ERROR_REPLY;
                out_msg.u.error_reply = (struct proto_error_reply){
                    .request_id = q->request_id,
                    .code = PROTO_ERROR_CODE_REFUSED,
                    .message = {(const uint8_t *)"no, says blkback", 16}};
                reply();
                continue;
            }
            int h = blkp_attach(
                &bp, 0, q->volume.len == 4 && !memcmp(q->volume.ptr, "conf", 4) ? 64 : VOL_SECTORS,
                q->writable);
            out_msg.type = PROTO_MSG_BLK_ATTACH_REPLY;
            out_msg.u.blk_attach_reply =
                (struct proto_blk_attach_reply){.request_id = q->request_id,
                                                .handle = (uint64_t)h,
                                                .sectors = bp.att[h].sectors,
                                                .writable = q->writable,
                                                .max_inflight = BLKP_INFLIGHT_MAX,
                                                .max_sectors = BLKP_SECTORS_MAX};
            reply();
        } else if (k == BLKP_IO) {
            const struct proto_blk_request *r = &in_msg.u.blk_request;
            enum proto_blk_status s = blkp_check_io(&bp, r);
            if (s == PROTO_BLK_STATUS_OK) {
                s = serve(r);
                blkp_io_done(&bp, (uint32_t)r->handle);
            }
            pending_ids[n] = r->request_id;
            pending_status[n] = (uint8_t)s;
            n++;
        } else {
            fail_msg("the front end sent something blkback refuses");
        }
    }
    if (n > max_batch)
        max_batch = n;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t j = reverse ? n - 1 - i : i;
        out_msg.type = PROTO_MSG_BLK_REPLY;
        out_msg.u.blk_reply = (struct proto_blk_reply){pending_ids[j], pending_status[j]};
        reply();
    }
}

/* ---- Tests ---------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    memset(&conn, 0, sizeof conn);
    memset(grants, 0, sizeof grants);
    next_ref = 1;
    grants_ended = 0;
    fake_now = 1000000000ull;
    blkp_init(&bp);
    reverse = true;
    refuse_attach = false;
    lose_wakeups = 0;
    service_asks = intro_failures = 0;
    flushes = max_batch = 0;
    for (uint32_t i = 0; i < VOL_SECTORS * 512; i++)
        volume[i] = (uint8_t)(i * 7 + i / 512);
    send_disks();
    return 0;
}

static struct gk_blk *open_attached(void)
{
    struct gk_blk *b = gk_blk_open(UINT64_MAX);
    assert_non_null(b);
    assert_true(service_asked);
    assert_int_equal(gk_blk_disk_count(b), 2);
    assert_int_equal(gk_blk_attach(b, 0, UINT64_MAX), GK_BLK_OK);
    assert_int_equal(gk_blk_attach(b, 1, UINT64_MAX), GK_BLK_OK);
    return b;
}

static void test_disks_and_attach(void **state)
{
    (void)state;
    struct gk_blk *b = open_attached();
    assert_int_equal(grants_ended, 0);
    assert_int_equal(next_ref - 1, GK_BLK_POOL_PAGES); /* the pool, granted once */
    for (uint32_t r = 1; r < next_ref; r++)
        assert_true(grants[r].writable);
    const struct gk_blk_disk *d = gk_blk_disk(b, 0);
    assert_string_equal(d->volume, "data");
    assert_true(d->writable && d->attached);
    assert_int_equal(d->sectors, VOL_SECTORS);
    d = gk_blk_disk(b, 1);
    assert_string_equal(d->volume, "conf");
    assert_false(d->writable);
    assert_int_equal(d->sectors, 64);
    assert_int_equal(gk_blk_find(b, "conf"), 1);
    assert_int_equal(gk_blk_find(b, "nope"), -1);
    assert_null(gk_blk_disk(b, 2));
    assert_int_equal(gk_blk_attach(b, 2, UINT64_MAX), GK_BLK_ENODEV);
    gk_blk_close(b);
    assert_true(conn.closed);
    assert_int_equal(grants_ended, GK_BLK_POOL_PAGES);
}

static void test_attach_refused(void **state)
{
    (void)state;
    refuse_attach = true;
    struct gk_blk *b = gk_blk_open(UINT64_MAX);
    assert_int_equal(gk_blk_attach(b, 0, UINT64_MAX), GK_BLK_EREFUSED);
    assert_string_equal(gk_blk_why(b), "no, says blkback");
    assert_false(gk_blk_disk(b, 0)->attached);
    uint8_t buf[512];
    assert_int_equal(gk_blk_read(b, 0, 0, buf, 1), GK_BLK_ENODEV);
    gk_blk_close(b);
}

static void test_sync(void **state)
{
    (void)state;
    struct gk_blk *b = open_attached();
    static uint8_t w[600 * 512], r[600 * 512];
    for (uint32_t i = 0; i < sizeof w; i++)
        w[i] = (uint8_t)(i * 13 + 5);
    /* 600 sectors: three requests (256, 256, 88). */
    assert_int_equal(gk_blk_write(b, 0, 100, w, 600), GK_BLK_OK);
    assert_memory_equal(volume + 100 * 512, w, sizeof w);
    assert_int_equal(gk_blk_flush(b, 0), GK_BLK_OK);
    assert_int_equal(flushes, 1);
    assert_int_equal(gk_blk_read(b, 0, 100, r, 600), GK_BLK_OK);
    assert_memory_equal(r, w, sizeof r);
    /* An odd length and an unaligned start. */
    assert_int_equal(gk_blk_read(b, 0, 3, r, 3), GK_BLK_OK);
    assert_memory_equal(r, volume + 3 * 512, 3 * 512);
    /* The front end's own refusals: nothing sent. */
    uint32_t sent = conn.out.n;
    assert_int_equal(gk_blk_write(b, 1, 0, w, 1), GK_BLK_EROFS);
    assert_int_equal(gk_blk_read(b, 1, 63, r, 2), GK_BLK_ERANGE);
    assert_int_equal(gk_blk_read(b, 0, VOL_SECTORS, r, 1), GK_BLK_ERANGE);
    assert_int_equal(gk_blk_read(b, 0, 0, NULL, 1), GK_BLK_EINVAL);
    assert_int_equal(gk_blk_submit(b, 0, GK_BLK_READ, 0, 257, r, 0), GK_BLK_EINVAL);
    assert_int_equal(gk_blk_submit(b, 0, GK_BLK_FLUSH, 1, 0, r, 0), GK_BLK_EINVAL);
    assert_int_equal(conn.out.n, sent);
    struct gk_blk_stats st;
    gk_blk_get_stats(b, &st);
    assert_int_equal(st.bad, 0);
    assert_int_equal(st.errors, 0);
    gk_blk_close(b);
}

static void test_async_64_in_flight(void **state)
{
    (void)state;
    struct gk_blk *b = open_attached();
    static uint8_t bufs[GK_BLK_INFLIGHT_MAX + 1][4096];
    for (uint32_t i = 0; i < GK_BLK_INFLIGHT_MAX; i++) {
        memset(bufs[i], (int)i + 1, 4096);
        assert_int_equal(gk_blk_submit(b, 0, GK_BLK_WRITE, i * 8u, 8, bufs[i], 1000 + i),
                         GK_BLK_OK);
    }
    assert_int_equal(gk_blk_inflight(b), GK_BLK_INFLIGHT_MAX);
    /* The 65th waits for a slot. */
    assert_int_equal(gk_blk_submit(b, 0, GK_BLK_WRITE, 0, 8, bufs[64], 0), GK_BLK_EAGAIN);
    uint64_t seen[GK_BLK_INFLIGHT_MAX] = {0};
    uint32_t got = 0, first = UINT32_MAX;
    while (got < GK_BLK_INFLIGHT_MAX) {
        uint64_t cookie;
        int st;
        if (gk_blk_poll(b, &cookie, &st) == GK_BLK_OK) {
            assert_int_equal(st, GK_BLK_OK);
            assert_true(cookie >= 1000 && cookie < 1000 + GK_BLK_INFLIGHT_MAX);
            assert_int_equal(seen[cookie - 1000]++, 0);
            if (first == UINT32_MAX)
                first = (uint32_t)cookie;
            got++;
            continue;
        }
        assert_int_equal(gk_blk_wait(b, UINT64_MAX), GK_BLK_OK);
    }
    assert_int_equal(max_batch, GK_BLK_INFLIGHT_MAX);        /* blkback saw all 64 at once */
    assert_int_equal(first, 1000 + GK_BLK_INFLIGHT_MAX - 1); /* out of order */
    assert_int_equal(gk_blk_inflight(b), 0);
    for (uint32_t i = 0; i < GK_BLK_INFLIGHT_MAX; i++)
        assert_int_equal(volume[i * 4096u + 100], (uint8_t)(i + 1));
    /* The pool: 256 pages hold 8 requests of 128 KiB, not 9. */
    static uint8_t large[9][128 * 1024];
    for (uint32_t i = 0; i < 8; i++)
        assert_int_equal(gk_blk_submit(b, 0, GK_BLK_READ, i * 256u, 256, large[i], i), GK_BLK_OK);
    assert_int_equal(gk_blk_submit(b, 0, GK_BLK_READ, 0, 256, large[8], 8), GK_BLK_EAGAIN);
    for (uint32_t got2 = 0; got2 < 8;) {
        uint64_t cookie;
        int st;
        if (gk_blk_poll(b, &cookie, &st) == GK_BLK_OK) {
            assert_int_equal(st, GK_BLK_OK);
            assert_memory_equal(large[cookie], volume + cookie * 256 * 512, 128 * 1024);
            got2++;
        } else {
            assert_int_equal(gk_blk_wait(b, UINT64_MAX), GK_BLK_OK);
        }
    }
    /* A synchronous read while asynchronous ones are in flight leaves
     * their completions for poll. */
    reverse = false;
    assert_int_equal(gk_blk_submit(b, 0, GK_BLK_READ, 0, 8, bufs[0], 77), GK_BLK_OK);
    assert_int_equal(gk_blk_read(b, 0, 8, bufs[1], 8), GK_BLK_OK);
    uint64_t cookie;
    int st;
    assert_int_equal(gk_blk_poll(b, &cookie, &st), GK_BLK_OK);
    assert_int_equal(cookie, 77);
    assert_int_equal(gk_blk_poll(b, &cookie, &st), GK_BLK_EAGAIN);
    gk_blk_close(b);
}

static void test_blkback_refusals_passed_on(void **state)
{
    (void)state;
    struct gk_blk *b = open_attached();
    uint8_t buf[4096];
    /* A grant blkback cannot use: the pool's page ended behind its back. */
    grants[1].live = false;
    assert_int_equal(gk_blk_read(b, 0, 0, buf, 8), GK_BLK_ENOTGRANTED);
    grants[1].live = true;
    assert_int_equal(gk_blk_read(b, 0, 0, buf, 8), GK_BLK_OK);
    struct gk_blk_stats st;
    gk_blk_get_stats(b, &st);
    assert_int_equal(st.errors, 1);
    gk_blk_close(b);
}

static void push_raw(const void *m, uint32_t len)
{
    fq_push(&conn.in, m, len);
}

static void test_hostile_blkback(void **state)
{
    (void)state;
    struct gk_blk *b = open_attached();
    uint8_t buf[4096];
    static const uint8_t garbage[] = {0xff, 0x00, 0x13, 0x37};
    push_raw(garbage, sizeof garbage);
    out_msg.type = PROTO_MSG_BLK_REPLY;
    out_msg.u.blk_reply = (struct proto_blk_reply){.request_id = 0x4242, .status = 0};
    reply();      /* a reply to no request */
    send_disks(); /* a second list */
    out_msg.type = PROTO_MSG_OK_REPLY;
    out_msg.u.ok_reply = (struct proto_ok_reply){.request_id = 5};
    reply(); /* an answer to nothing */
    static uint8_t huge[MSG_BYTES];
    push_raw(huge, sizeof huge); /* longer than any message of blkback's */
    assert_int_equal(gk_blk_read(b, 0, 0, buf, 8), GK_BLK_OK);
    assert_memory_equal(buf, volume, 4096);
    struct gk_blk_stats st;
    gk_blk_get_stats(b, &st);
    assert_int_equal(st.bad, 5);
    /* A reply repeated after the request ended: counted too. */
    out_msg.type = PROTO_MSG_BLK_REPLY;
    out_msg.u.blk_reply = (struct proto_blk_reply){.request_id = pending_ids[0], .status = 0};
    reply();
    assert_int_equal(gk_blk_read(b, 0, 0, buf, 8), GK_BLK_OK);
    gk_blk_get_stats(b, &st);
    assert_int_equal(st.bad, 6);
    assert_int_equal(gk_blk_disk_count(b), 2); /* the second list changed nothing */
    /* blkback goes away: calls say so, waits end. */
    conn.gone = true;
    assert_true(gk_blk_gone(b));
    assert_int_equal(gk_blk_read(b, 0, 0, buf, 8), GK_BLK_EGONE);
    assert_int_equal(gk_blk_wait(b, UINT64_MAX), GK_BLK_EGONE);
    gk_blk_close(b);
}

/* A wake-up lost: the message is found by the re-check at the end of the
 * one-second slice, counted as late, and the call succeeds. */
static void test_lost_wakeup(void **state)
{
    (void)state;
    struct gk_blk *b = open_attached();
    uint8_t buf[4096];
    lose_wakeups = 1;
    uint64_t t0 = fake_now;
    assert_int_equal(gk_blk_read(b, 0, 0, buf, 8), GK_BLK_OK);
    assert_memory_equal(buf, volume, 4096);
    struct gk_blk_stats st;
    gk_blk_get_stats(b, &st);
    assert_int_equal(st.late, 1);
    assert_int_equal(fake_now - t0, 1000000000ull); /* one slice, not the 120 s deadline */
    gk_blk_close(b);
}

/* An introduction that never comes: the front end asks again after 10 s. */
static void test_asks_again(void **state)
{
    (void)state;
    intro_failures = 2;
    uint64_t t0 = fake_now;
    struct gk_blk *b = gk_blk_open(fake_now + 60000000000ull);
    assert_non_null(b);
    assert_int_equal(service_asks, 3);
    assert_int_equal(fake_now - t0, 20000000000ull);
    gk_blk_close(b);
    /* And gives up at its deadline. */
    intro_failures = 10;
    service_asks = 0;
    assert_null(gk_blk_open(fake_now + 15000000000ull));
    assert_int_equal(service_asks, 2);
}

static void test_open_times_out(void **state)
{
    (void)state;
    conn.in.n = 0; /* no disks list ever comes */
    conn.gone = false;
    struct gk_blk *b = gk_blk_open(fake_now + 1000);
    assert_null(b);
    assert_true(conn.closed);
    assert_int_equal(grants_ended, GK_BLK_POOL_PAGES); /* the pool given back */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_disks_and_attach, setup),
        cmocka_unit_test_setup(test_attach_refused, setup),
        cmocka_unit_test_setup(test_sync, setup),
        cmocka_unit_test_setup(test_async_64_in_flight, setup),
        cmocka_unit_test_setup(test_blkback_refusals_passed_on, setup),
        cmocka_unit_test_setup(test_hostile_blkback, setup),
        cmocka_unit_test_setup(test_lost_wakeup, setup),
        cmocka_unit_test_setup(test_asks_again, setup),
        cmocka_unit_test_setup(test_open_times_out, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
