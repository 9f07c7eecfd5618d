/* Single-threaded unit tests of duplex areas (proto/duplex.c): geometry,
 * inline and bulk messages against a FIFO model through many wraps of both
 * the rings and the bulk buffers, views, streams read in random pieces,
 * closing, the bulk-space wait, and refusal of every corrupt descriptor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <hv/duplex.h>

#define RING 4096u
#define BUF 16384u

static uint8_t *area;
static uint32_t area_bytes;

static void make(struct duplex *off, struct duplex *acc, uint32_t ring, uint32_t buf)
{
    uint32_t pages = duplex_area_pages(ring, buf);
    assert_true(pages > 0);
    free(area);
    area_bytes = pages * DUPLEX_PAGE;
    area = aligned_alloc(DUPLEX_PAGE, area_bytes);
    memset(area, 0xee, area_bytes);
    assert_true(duplex_format(area, ring, buf));
    uint32_t rb, bb;
    assert_true(duplex_read_geometry(area, pages, &rb, &bb));
    assert_int_equal(rb, ring);
    assert_int_equal(bb, buf);
    assert_true(duplex_attach(off, area, ring, buf, DUPLEX_OFFERER));
    assert_true(duplex_attach(acc, area, ring, buf, DUPLEX_ACCEPTOR));
}

static void test_geometry(void **state)
{
    assert_int_equal(duplex_area_pages(4096, 0), 3);
    assert_int_equal(duplex_area_pages(8192, 16384), 1 + 2 * 6);
    assert_int_equal(duplex_area_pages(2048, 0), 0);        /* ring too small */
    assert_int_equal(duplex_area_pages(6144, 0), 0);        /* not a power of two */
    assert_int_equal(duplex_area_pages(4096, 2048), 0);     /* bulk under a page */
    assert_int_equal(duplex_area_pages(1u << 20, 0), 0);    /* ring too large */
    assert_int_equal(duplex_area_pages(4096, 1u << 21), 0); /* bulk too large */
    assert_int_equal(duplex_area_pages(262144, 1u << 20), 1 + 640);
    struct duplex o, a;
    make(&o, &a, RING, BUF);
    uint32_t rb, bb;
    struct duplex_header *h = (struct duplex_header *)area;
    assert_false(duplex_read_geometry(area, 8, &rb, &bb)); /* larger than the caller allows */
    h->magic ^= 1;
    assert_false(duplex_read_geometry(area, 100, &rb, &bb));
    h->magic ^= 1;
    h->refs_count++;
    assert_false(duplex_read_geometry(area, 100, &rb, &bb));
    h->refs_count--;
    h->ring_bytes = 3000;
    assert_false(duplex_read_geometry(area, 100, &rb, &bb));
    h->ring_bytes = RING;
    h->version = 2;
    assert_false(duplex_read_geometry(area, 100, &rb, &bb));
    h->version = DUPLEX_VERSION;
    assert_true(duplex_read_geometry(area, 100, &rb, &bb));
    h->refs[3] = 77;
    assert_int_equal(duplex_ref(area, 3), 77);
    assert_int_equal(duplex_ref(area, DUPLEX_REFS_MAX), 0);
    assert_int_equal(duplex_inline_max(&o), DUPLEX_INLINE_MAX - 8); /* the ring's own limit */
    assert_int_equal(duplex_max_msg(&o), BUF);
    assert_false(duplex_attach(&o, area, 3000, 0, DUPLEX_OFFERER));
    assert_true(duplex_broken(&o));
}

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* Both directions at once, random sizes straddling the inline limit and
 * up to the whole bulk buffer, against a FIFO model of lengths and seeds. */
static void test_messages_model(void **state)
{
    struct duplex o, a;
    make(&o, &a, RING, BUF);
    static uint8_t msg[BUF], out[BUF];
    static struct {
        uint32_t len[4096], seed[4096];
        uint32_t head, tail;
    } q[2];
    memset(q, 0, sizeof q);
    uint32_t sent[2] = {0}, got[2] = {0}, bulk = 0;
    for (int step = 0; step < 60000; step++) {
        int dir = (int)rnd(2);
        struct duplex *tx = dir ? &a : &o, *rx = dir ? &o : &a;
        bool notify;
        if (rnd(2)) {
            uint32_t len = rnd(5) == 0 ? rnd(BUF + 1) : rnd(600);
            uint32_t seed = (uint32_t)step;
            for (uint32_t k = 0; k < len; k++)
                msg[k] = (uint8_t)(seed * 31 + k);
            enum ring_status st = duplex_send(tx, msg, len, &notify);
            if (st == RING_FULL)
                continue;
            assert_int_equal(st, RING_OK);
            if (len > duplex_inline_max(tx))
                bulk++;
            q[dir].len[q[dir].tail % 4096] = len;
            q[dir].seed[q[dir].tail % 4096] = seed;
            q[dir].tail++;
            sent[dir]++;
        } else {
            uint32_t len;
            enum ring_status st = duplex_recv(rx, out, sizeof out, &len, &notify);
            if (q[dir].head == q[dir].tail) {
                assert_int_equal(st, RING_EMPTY);
                continue;
            }
            assert_int_equal(st, RING_OK);
            uint32_t want = q[dir].len[q[dir].head % 4096], seed = q[dir].seed[q[dir].head % 4096];
            q[dir].head++;
            assert_int_equal(len, want);
            for (uint32_t k = 0; k < len; k++)
                if (out[k] != (uint8_t)(seed * 31 + k))
                    fail_msg("byte %u of a %u-byte message differs", k, len);
            got[dir]++;
        }
    }
    assert_true(sent[0] > 5000 && sent[1] > 5000 && got[0] > 5000 && got[1] > 5000);
    assert_true(bulk > 2000);
    assert_false(duplex_broken(&o) || duplex_broken(&a));
}

/* A full bulk buffer: the sender is told FULL, arms the wait at the oldest
 * message's end, and the receiver's release of it notifies. */
static void test_bulk_wait(void **state)
{
    struct duplex o, a;
    make(&o, &a, RING, BUF);
    static uint8_t msg[BUF], out[BUF];
    bool notify;
    uint32_t len;
    assert_int_equal(duplex_send(&o, msg, 6000, &notify), RING_OK);
    assert_int_equal(duplex_send(&o, msg, 6000, &notify), RING_OK);
    assert_int_equal(duplex_send(&o, msg, 6000, &notify), RING_FULL); /* 12000 + 6000 > 16384 */
    assert_true(duplex_send_prepare_sleep(&o, 6000));
    assert_int_equal(duplex_recv(&a, out, sizeof out, &len, &notify), RING_OK);
    assert_true(notify);
    assert_false(duplex_send_prepare_sleep(&o, 6000));
    /* it would wrap: starts at the buffer's beginning (the first 6000 are free) */
    assert_int_equal(duplex_send(&o, msg, 6000, &notify), RING_OK);
    assert_int_equal(duplex_send(&o, msg, BUF + 1, &notify), RING_ETOOBIG);
    /* a view of a bulk message, then release */
    assert_int_equal(duplex_peek(&a, &len), RING_OK);
    assert_int_equal(len, 6000);
    assert_non_null(duplex_view(&a));
    assert_ptr_equal(duplex_view(&a), area + DUPLEX_PAGE + 2 * RING + 6000);
    assert_int_equal(duplex_release(&a, &notify), RING_OK);
    assert_int_equal(duplex_peek(&a, &len), RING_OK);
    assert_ptr_equal(duplex_view(&a), area + DUPLEX_PAGE + 2 * RING); /* wrapped */
    assert_int_equal(duplex_release(&a, &notify), RING_OK);
    assert_int_equal(duplex_send(&o, msg, 100, &notify), RING_OK);
    assert_int_equal(duplex_peek(&a, &len), RING_OK);
    assert_null(duplex_view(&a)); /* inline: copy it */
    assert_int_equal(duplex_release(&a, &notify), RING_OK);
    /* many small bulk messages run out of pending slots before space */
    struct duplex o2, a2;
    make(&o2, &a2, 262144, 1u << 20);
    int n = 0;
    while (duplex_send(&o2, msg, DUPLEX_INLINE_MAX + 1, &notify) == RING_OK)
        n++;
    assert_int_equal(n, DUPLEX_BULK_PENDING_MAX);
    assert_true(duplex_send_prepare_sleep(&o2, DUPLEX_INLINE_MAX + 1));
    assert_int_equal(duplex_recv(&a2, out, sizeof out, &len, &notify), RING_OK);
    assert_true(notify);
    assert_int_equal(duplex_send(&o2, msg, DUPLEX_INLINE_MAX + 1, &notify), RING_OK);
}

/* A producer waiting on a full ring is woken once half the ring is free,
 * not at the first record consumed (a batch per wake-up). */
static void test_wait_half_ring(void **state)
{
    (void)state;
    struct duplex o, a;
    make(&o, &a, RING, 0);
    static uint8_t msg[512], out[512];
    bool notify;
    uint32_t len, sent = 0;
    while (duplex_send(&o, msg, 504, &notify) == RING_OK) /* 512-byte records */
        sent++;
    assert_int_equal(sent, RING / 512);
    assert_true(duplex_send_prepare_sleep(&o, 504));
    uint32_t woken_after = 0;
    for (uint32_t i = 1; i <= sent; i++) {
        assert_int_equal(duplex_recv(&a, out, sizeof out, &len, &notify), RING_OK);
        if (notify) {
            woken_after = i;
            break;
        }
    }
    assert_int_equal(woken_after, sent / 2); /* half of 4 KiB freed */
    assert_false(duplex_send_prepare_sleep(&o, 504));
}

/* A stream: random write sizes, random read sizes, the bytes in order. */
static void test_stream(void **state)
{
    struct duplex o, a;
    make(&o, &a, 8192, 0);
    static uint8_t in[100000], out[100000];
    for (uint32_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 7 + (i >> 9));
    uint32_t w = 0, r = 0;
    bool notify;
    while (r < sizeof in) {
        if (w < sizeof in && rnd(2)) {
            uint32_t n = 1 + rnd(9000), done;
            if (n > sizeof in - w)
                n = sizeof in - w;
            enum ring_status st = duplex_write(&o, in + w, n, &done, &notify);
            assert_true(st == RING_OK || st == RING_FULL);
            assert_true(done <= n);
            w += done;
        } else {
            uint32_t n = 1 + rnd(5000), g;
            if (n > sizeof out - r)
                n = sizeof out - r;
            enum ring_status st = duplex_read(&a, out + r, n, &g, &notify);
            assert_true(st == RING_OK || st == RING_EMPTY);
            r += g;
            assert_true(r <= w);
        }
    }
    assert_memory_equal(in, out, sizeof in);
    uint32_t g;
    assert_int_equal(duplex_read(&a, out, 10, &g, &notify), RING_EMPTY);
    assert_true(duplex_recv_prepare_sleep(&a));
    /* closing */
    assert_false(duplex_peer_closed(&a));
    duplex_close(&o);
    assert_true(duplex_peer_closed(&a));
    assert_false(duplex_peer_closed(&o));
}

/* Every descriptor the other side can forge is refused, sticky; nothing is
 * read outside the area (ASan watches the exact allocation). */
static void test_corrupt_descriptors(void **state)
{
    static const struct {
        uint32_t start, len, tag, rec_len;
    } bad[] = {
        {0, BUF + 1, DUPLEX_TAG_BULK, 8},  /* longer than the buffer */
        {8, 100, DUPLEX_TAG_BULK, 8},      /* not where the FIFO is */
        {16000, 1000, DUPLEX_TAG_BULK, 8}, /* would wrap */
        {0, 100, DUPLEX_TAG_BULK, 12},     /* descriptor of the wrong size */
        {0, 100, 7, 8},                    /* unknown tag */
    };
    uint8_t out[BUF];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct duplex o, a;
        make(&o, &a, RING, BUF);
        uint8_t desc[12] = {0};
        memcpy(desc, &bad[i].start, 4);
        memcpy(desc + 4, &bad[i].len, 4);
        bool notify;
        assert_int_equal(ring_write_tag(&o.tx, desc, bad[i].rec_len, bad[i].tag, &notify), RING_OK);
        uint32_t len;
        assert_int_equal(duplex_recv(&a, out, sizeof out, &len, &notify), RING_ECORRUPT);
        assert_int_equal(duplex_recv(&a, out, sizeof out, &len, &notify), RING_ECORRUPT);
        assert_true(duplex_broken(&a));
    }
    /* bulk on an area without bulk buffers */
    struct duplex o, a;
    make(&o, &a, RING, 0);
    uint8_t desc[8] = {0, 0, 0, 0, 16, 0, 0, 0};
    bool notify;
    uint32_t len;
    assert_int_equal(ring_write_tag(&o.tx, desc, 8, DUPLEX_TAG_BULK, &notify), RING_OK);
    assert_int_equal(duplex_recv(&a, out, sizeof out, &len, &notify), RING_ECORRUPT);
    /* the receiver moving its index past what was sent breaks the sender */
    make(&o, &a, RING, BUF);
    struct duplex_header *h = (struct duplex_header *)area;
    h->ring[0].cons = 4096 + 64;
    assert_int_equal(duplex_send(&o, out, 10, &notify), RING_ECORRUPT);
    assert_int_equal(duplex_send(&o, out, 10000, &notify), RING_ECORRUPT);
}

static int teardown(void **state)
{
    free(area);
    area = NULL;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geometry),  cmocka_unit_test(test_messages_model),
        cmocka_unit_test(test_bulk_wait), cmocka_unit_test(test_wait_half_ring),
        cmocka_unit_test(test_stream),    cmocka_unit_test(test_corrupt_descriptors),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
