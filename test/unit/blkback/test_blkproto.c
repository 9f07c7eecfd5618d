/*
 * blkback's side of the block protocol (domains/blkback/blkproto.c): every
 * message a hostile front end can send, through the real codec, each
 * refused with its status and a strike, nothing else changed; the strike
 * ladder; the in-flight limit.
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

static struct blkp_conn c;
static struct proto_msg m, out;
static uint8_t buf[4096];

static size_t encode(const struct proto_msg *msg)
{
    size_t len = 0;
    struct hvcbor_error err;
    assert_true(proto_msg_encode(msg, buf, sizeof buf, &len, &err));
    return len;
}

static struct proto_blk_request io(uint64_t handle, enum proto_blk_op op, uint64_t sector,
                                   uint64_t count)
{
    struct proto_blk_request r = {
        .request_id = 7, .handle = handle, .op = op, .sector = sector, .count = count};
    r.pages.count = op == PROTO_BLK_OP_FLUSH ? 0 : blkp_pages_for(count);
    for (uint32_t i = 0; i < r.pages.count; i++)
        r.pages.items[i] = 100 + i;
    return r;
}

/* Sends r through the codec and the checks. */
static enum proto_blk_status send_io(const struct proto_blk_request *r)
{
    memset(&m, 0, sizeof m);
    m.type = PROTO_MSG_BLK_REQUEST;
    m.u.blk_request = *r;
    size_t len = encode(&m);
    assert_int_equal(blkp_decode(&c, buf, len, &out), BLKP_IO);
    assert_true(proto_blk_request_equal(&out.u.blk_request, r));
    return blkp_check_io(&c, &out.u.blk_request);
}

static int setup(void **state)
{
    (void)state;
    blkp_init(&c);
    assert_int_equal(blkp_attach(&c, 3, 1000, true), 0); /* rw, 1000 sectors */
    assert_int_equal(blkp_attach(&c, 4, 64, false), 1);  /* ro, 64 sectors */
    assert_int_equal(c.strikes, 0);
    return 0;
}

static void test_good_requests(void **state)
{
    (void)state;
    struct proto_blk_request r = io(0, PROTO_BLK_OP_READ, 0, 8);
    assert_int_equal(r.pages.count, 1);
    assert_int_equal(send_io(&r), PROTO_BLK_STATUS_OK);
    r = io(0, PROTO_BLK_OP_WRITE, 1000 - 256, 256); /* the last 128 KiB, 32 pages */
    assert_int_equal(r.pages.count, 32);
    assert_int_equal(send_io(&r), PROTO_BLK_STATUS_OK);
    r = io(0, PROTO_BLK_OP_READ, 999, 1);
    assert_int_equal(send_io(&r), PROTO_BLK_STATUS_OK);
    r = io(1, PROTO_BLK_OP_READ, 0, 64);
    assert_int_equal(send_io(&r), PROTO_BLK_STATUS_OK);
    r = io(1, PROTO_BLK_OP_FLUSH, 0, 0); /* harmless on a read-only attachment */
    assert_int_equal(send_io(&r), PROTO_BLK_STATUS_OK);
    r = io(0, PROTO_BLK_OP_FLUSH, 0, 0);
    assert_int_equal(send_io(&r), PROTO_BLK_STATUS_OK);
    assert_int_equal(c.inflight, 6);
    assert_int_equal(c.att[0].inflight, 4);
    assert_int_equal(c.att[1].inflight, 2);
    assert_int_equal(c.strikes, 0);
    assert_int_equal(c.accepted, 2 + 6); /* two attaches, six requests */
    for (int i = 0; i < 4; i++)
        blkp_io_done(&c, 0);
    blkp_io_done(&c, 1);
    blkp_io_done(&c, 1);
    assert_int_equal(c.inflight, 0);
    blkp_io_done(&c, 1); /* one too many changes nothing */
    assert_int_equal(c.inflight, 0);
    assert_int_equal(c.att[1].inflight, 0);
}

/* Every bad request: its status, a strike, nothing in flight. */
static void test_bad_requests(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint64_t handle;
        enum proto_blk_op op;
        uint64_t sector, count;
        int pages_delta; /* added to the right page count */
        enum proto_blk_status want;
    } cases[] = {
        {"a handle never attached", 5, PROTO_BLK_OP_READ, 0, 8, 0, PROTO_BLK_STATUS_NO_VOLUME},
        {"handle 15", 15, PROTO_BLK_OP_FLUSH, 0, 0, 0, PROTO_BLK_STATUS_NO_VOLUME},
        {"a read of 0 sectors", 0, PROTO_BLK_OP_READ, 0, 0, 0, PROTO_BLK_STATUS_INVALID},
        {"a write of 0 sectors", 0, PROTO_BLK_OP_WRITE, 0, 0, 0, PROTO_BLK_STATUS_INVALID},
        {"one page too few", 0, PROTO_BLK_OP_READ, 0, 16, -1, PROTO_BLK_STATUS_INVALID},
        {"one page too many", 0, PROTO_BLK_OP_WRITE, 0, 8, 1, PROTO_BLK_STATUS_INVALID},
        {"a flush with a sector", 0, PROTO_BLK_OP_FLUSH, 5, 0, 0, PROTO_BLK_STATUS_INVALID},
        {"a flush with a count", 0, PROTO_BLK_OP_FLUSH, 0, 1, 0, PROTO_BLK_STATUS_INVALID},
        {"a flush with a page", 0, PROTO_BLK_OP_FLUSH, 0, 0, 1, PROTO_BLK_STATUS_INVALID},
        {"one sector past the end", 0, PROTO_BLK_OP_READ, 1000, 1, 0,
         PROTO_BLK_STATUS_OUT_OF_RANGE},
        {"straddling the end", 0, PROTO_BLK_OP_WRITE, 999, 2, 0, PROTO_BLK_STATUS_OUT_OF_RANGE},
        {"a sector that wraps", 0, PROTO_BLK_OP_READ, UINT64_MAX, 2, 0,
         PROTO_BLK_STATUS_OUT_OF_RANGE},
        {"a sector far away", 1, PROTO_BLK_OP_READ, 1ull << 40, 8, 0,
         PROTO_BLK_STATUS_OUT_OF_RANGE},
        {"a write to a read-only attachment", 1, PROTO_BLK_OP_WRITE, 0, 8, 0,
         PROTO_BLK_STATUS_READ_ONLY},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        blkp_init(&c);
        assert_int_equal(blkp_attach(&c, 3, 1000, true), 0);
        assert_int_equal(blkp_attach(&c, 4, 64, false), 1);
        struct proto_blk_request r =
            io(cases[i].handle, cases[i].op, cases[i].sector, cases[i].count);
        r.pages.count = (uint32_t)((int)r.pages.count + cases[i].pages_delta);
        for (uint32_t k = 0; k < r.pages.count; k++)
            r.pages.items[k] = 100 + k;
        enum proto_blk_status s = send_io(&r);
        if (s != cases[i].want)
            fail_msg("%s: status %d, want %d", cases[i].what, s, cases[i].want);
        assert_int_equal(c.strikes, 1);
        assert_int_equal(c.refused, 1);
        assert_int_equal(c.inflight, 0);
        assert_int_equal(c.att[0].inflight + c.att[1].inflight, 0);
    }
}

/* What the codec refuses never reaches the checks: a strike each. */
static void test_bad_messages(void **state)
{
    (void)state;
    struct proto_blk_request r = io(0, PROTO_BLK_OP_READ, 0, 8);
    memset(&m, 0, sizeof m);
    m.type = PROTO_MSG_BLK_REQUEST;
    m.u.blk_request = r;
    size_t len = encode(&m);
    uint32_t strikes = 0;
    /* Truncated at every length. */
    for (size_t l = 0; l < len; l++) {
        assert_int_equal(blkp_decode(&c, buf, l, &out), BLKP_BAD);
        assert_int_equal(c.strikes, ++strikes < BLKP_STRIKES_MAX ? strikes : BLKP_STRIKES_MAX);
        if (c.cut)
            break;
    }
    assert_true(c.cut); /* eight in a row */
    /* A cut connection decodes nothing, not even a good message. */
    assert_int_equal(blkp_decode(&c, buf, len, &out), BLKP_BAD);

    static const struct {
        const char *what;
        uint8_t bytes[16];
        size_t len;
    } garbage[] = {
        {"empty", {0}, 0},
        {"not a map", {0x01}, 1},
        {"an unknown type", {0xa2, 0x00, 0x18, 0xc8, 0x02, 0x01}, 6},
        {"a control-domain message (ok-reply)", {0xa2, 0x00, 0x04, 0x02, 0x01}, 5},
        {"a reply blkback sends (blk-reply)", {0xa3, 0x00, 0x18, 0x99, 0x02, 0x01, 0x04, 0x00}, 8},
        {"a request without its members", {0xa2, 0x00, 0x18, 0x98, 0x02, 0x01}, 6},
        {"trailing bytes", {0xa3, 0x00, 0x18, 0x9a, 0x02, 0x01, 0x04, 0x00, 0x00}, 9},
    };
    for (unsigned i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        blkp_init(&c);
        if (blkp_decode(&c, garbage[i].bytes, garbage[i].len, &out) != BLKP_BAD)
            fail_msg("%s: accepted", garbage[i].what);
        assert_int_equal(c.strikes, 1);
    }
    /* The detach message, good, decodes (the trailing-bytes case minus the byte). */
    blkp_init(&c);
    assert_int_equal(blkp_decode(&c, garbage[6].bytes, 8, &out), BLKP_DETACH);
    assert_int_equal(out.u.blk_detach_request.handle, 0);
    /* Too long: refused before decoding. */
    uint8_t big[BLKP_MSG_BYTES_MAX + 1];
    memset(big, 0, sizeof big);
    memcpy(big, buf, len);
    assert_int_equal(blkp_decode(&c, big, sizeof big, &out), BLKP_BAD);
    /* A page ref above 32 bits, a count above 256, a handle above 15, 33
     * pages, an unknown op: the codec's bounds. */
    uint64_t *fields[] = {&m.u.blk_request.pages.items[0], &m.u.blk_request.count,
                          &m.u.blk_request.handle};
    uint64_t values[] = {1ull << 32, 257, 16};
    for (unsigned i = 0; i < 3; i++) {
        m.u.blk_request = r;
        *fields[i] = values[i];
        struct hvcbor_error err;
        size_t l2;
        assert_false(proto_msg_encode(&m, buf, sizeof buf, &l2, &err)); /* refused on both ends */
    }
}

/* A flood: BLKP_INFLIGHT_MAX in flight, the next busy; one done, one more
 * goes. */
static void test_inflight_limit(void **state)
{
    (void)state;
    struct proto_blk_request r = io(0, PROTO_BLK_OP_READ, 0, 8);
    for (unsigned i = 0; i < BLKP_INFLIGHT_MAX; i++)
        assert_int_equal(send_io(&r), PROTO_BLK_STATUS_OK);
    assert_int_equal(send_io(&r), PROTO_BLK_STATUS_BUSY);
    assert_int_equal(c.inflight, BLKP_INFLIGHT_MAX);
    assert_int_equal(c.strikes, 1);
    blkp_io_done(&c, 0);
    assert_int_equal(send_io(&r), PROTO_BLK_STATUS_OK);
    assert_int_equal(c.strikes, 0);
    /* A flood past the limit is cut after eight. */
    for (unsigned i = 0; i < BLKP_STRIKES_MAX; i++)
        assert_int_equal(send_io(&r), PROTO_BLK_STATUS_BUSY);
    assert_true(c.cut);
}

/* Good requests pay off strikes: a front end that misbehaves now and then
 * stays; one whose refusals outnumber its good requests by 8 is cut. */
static void test_strike_ladder(void **state)
{
    (void)state;
    struct proto_blk_request good = io(0, PROTO_BLK_OP_READ, 0, 8);
    struct proto_blk_request bad = io(1, PROTO_BLK_OP_WRITE, 0, 8);
    for (unsigned i = 0; i < 100; i++) {
        assert_int_equal(send_io(&bad), PROTO_BLK_STATUS_READ_ONLY);
        assert_int_equal(send_io(&good), PROTO_BLK_STATUS_OK);
        blkp_io_done(&c, 0);
    }
    assert_false(c.cut);
    for (unsigned i = 0; i < BLKP_STRIKES_MAX - 1; i++)
        assert_int_equal(send_io(&bad), PROTO_BLK_STATUS_READ_ONLY);
    assert_false(c.cut);
    assert_int_equal(send_io(&bad), PROTO_BLK_STATUS_READ_ONLY);
    assert_true(c.cut);
}

static void test_attach_detach(void **state)
{
    (void)state;
    for (unsigned i = 2; i < BLKP_HANDLES; i++)
        assert_int_equal(blkp_attach(&c, i + 10, 8, false), (int)i);
    assert_int_equal(blkp_attach(&c, 99, 8, false), -1); /* all 16 used */
    assert_int_equal(blkp_check_detach(&c, 16), PROTO_BLK_STATUS_NO_VOLUME);
    assert_int_equal(c.strikes, 1);
    assert_int_equal(blkp_check_detach(&c, 2), PROTO_BLK_STATUS_OK);
    blkp_detach(&c, 2);
    assert_false(c.att[2].used);
    assert_int_equal(blkp_check_detach(&c, 2), PROTO_BLK_STATUS_NO_VOLUME);
    struct proto_blk_request r = io(2, PROTO_BLK_OP_READ, 0, 1);
    assert_int_equal(send_io(&r), PROTO_BLK_STATUS_NO_VOLUME);
    /* A detach while requests are in flight waits for them. */
    r = io(0, PROTO_BLK_OP_READ, 0, 1);
    assert_int_equal(send_io(&r), PROTO_BLK_STATUS_OK);
    blkp_detach(&c, 0);
    assert_true(c.att[0].used);
    blkp_io_done(&c, 0);
    blkp_detach(&c, 0);
    assert_false(c.att[0].used);
    /* A volume that grows: its attachments see the new size. */
    assert_int_equal(blkp_attach(&c, 3, 1000, true), 0);
    r = io(0, PROTO_BLK_OP_READ, 1000, 8);
    assert_int_equal(send_io(&r), PROTO_BLK_STATUS_OUT_OF_RANGE);
    blkp_set_sectors(&c, 3, 2000);
    assert_int_equal(send_io(&r), PROTO_BLK_STATUS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_good_requests, setup),
        cmocka_unit_test_setup(test_bad_requests, setup),
        cmocka_unit_test_setup(test_bad_messages, setup),
        cmocka_unit_test_setup(test_inflight_limit, setup),
        cmocka_unit_test_setup(test_strike_ladder, setup),
        cmocka_unit_test_setup(test_attach_detach, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
