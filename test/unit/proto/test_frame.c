/* Unit tests of the stream framing (proto/frame.c): CRC-32C vectors, the
 * wire format, and resynchronisation after garbage, corrupt frames and
 * truncation, checking that every valid frame comes through and every
 * dropped byte is reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <hv/frame.h>

static uint64_t rng_s = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_s ^= rng_s << 13;
    rng_s ^= rng_s >> 7;
    rng_s ^= rng_s << 17;
    return rng_s;
}

static void test_crc32c_vectors(void **state)
{
    assert_int_equal(frame_crc32c(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(frame_crc32c(0, "", 0), 0);
    uint8_t zeros[32] = {0};
    assert_int_equal(frame_crc32c(0, zeros, 32), 0x8a9136aau); /* RFC 3720 B.4 */
    /* incremental equals one-shot */
    uint32_t c = frame_crc32c(0, "1234", 4);
    assert_int_equal(frame_crc32c(c, "56789", 5), 0xe3069283u);
}

static void test_encode_format(void **state)
{
    uint8_t out[64];
    size_t n = frame_encode(out, sizeof(out), "abc", 3);
    assert_int_equal(n, 3 + FRAME_OVERHEAD_BYTES);
    assert_memory_equal(out, "HVF1\x03\x00\x00\x00", 8);
    uint32_t hc = frame_crc32c(0, out, 8), pc = frame_crc32c(0, "abc", 3);
    assert_int_equal(out[8] | out[9] << 8 | out[10] << 16 | (uint32_t)out[11] << 24, hc);
    assert_memory_equal(out + 12, "abc", 3);
    assert_int_equal(out[15] | out[16] << 8 | out[17] << 16 | (uint32_t)out[18] << 24, pc);
    assert_int_equal(frame_encode(out, 18, "abc", 3), 0); /* one byte short */
    assert_int_equal(frame_encode(out, sizeof(out), NULL, 1), 0);
    static uint8_t big[FRAME_MAX_PAYLOAD + 64];
    assert_int_equal(frame_encode(big, sizeof(big), big, FRAME_MAX_PAYLOAD + 1), 0);
}

static void test_reader_init_bounds(void **state)
{
    struct frame_reader r;
    uint8_t buf[64];
    assert_false(frame_reader_init(&r, buf, sizeof(buf), 64 - FRAME_OVERHEAD_BYTES + 1));
    assert_true(frame_reader_init(&r, buf, sizeof(buf), 64 - FRAME_OVERHEAD_BYTES));
    assert_false(frame_reader_init(&r, NULL, sizeof(buf), 8));
}

/* The stream under test and what must come out of it. */
struct expect {
    uint8_t *stream;
    size_t len, cap;
    uint32_t frame_count;
    uint32_t *frame_len; /* per frame */
    uint64_t garbage_bytes;
};

static void put(struct expect *x, const void *p, size_t n)
{
    assert_true(x->len + n <= x->cap);
    memcpy(x->stream + x->len, p, n);
    x->len += n;
}

/* Payload i is deterministic so the reader's output can be checked. */
static size_t payload_of(uint32_t i, uint8_t *p, uint32_t max)
{
    size_t n = (i * 2654435761u) % (max + 1);
    for (size_t k = 0; k < n; k++)
        p[k] = (uint8_t)(i * 31 + k);
    if (n >= 4)
        memcpy(p, &i, 4);
    return n;
}

/* One kind of garbage: random bytes, magic prefixes, a bad header, an
 * oversized header, or a complete frame with one payload bit flipped. */
static void add_garbage(struct expect *x, uint32_t max_payload)
{
    uint8_t g[512];
    size_t n = 0;
    switch (rnd() % 6) {
    case 0:
        n = 1 + rnd() % 200;
        for (size_t k = 0; k < n; k++)
            g[k] = (uint8_t)rnd();
        break;
    case 1:
        n = 1 + rnd() % 3;
        memcpy(g, "HVF1", n);
        break;
    case 2: /* magic, random length and check */
        memcpy(g, "HVF1", 4);
        for (size_t k = 4; k < 12; k++)
            g[k] = (uint8_t)rnd();
        n = 12;
        break;
    case 3: { /* a valid header with a length above the reader's limit */
        uint32_t len = max_payload + 1 + (uint32_t)(rnd() % 1000);
        memcpy(g, "HVF1", 4);
        memcpy(g + 4, &len, 4);
        uint32_t c = frame_crc32c(0, g, 8);
        memcpy(g + 8, &c, 4);
        n = 12;
        break;
    }
    default: { /* a complete frame, corrupted */
        uint8_t p[256];
        size_t pl = 1 + rnd() % 200;
        for (size_t k = 0; k < pl; k++)
            p[k] = (uint8_t)rnd();
        n = frame_encode(g, sizeof(g), p, pl);
        size_t at = 12 + rnd() % (pl + 4);
        g[at] ^= (uint8_t)(1u << (rnd() % 8));
        break;
    }
    }
    put(x, g, n);
    x->garbage_bytes += n;
}

static void run_stream(struct expect *x, uint32_t max_payload, bool flush_when_stuck)
{
    size_t cap = FRAME_OVERHEAD_BYTES + max_payload;
    uint8_t *buf = malloc(cap), *want = malloc(max_payload + 1);
    struct frame_reader r;
    assert_true(frame_reader_init(&r, buf, cap, max_payload));
    uint32_t got = 0;
    uint64_t dropped = 0;
    size_t at = 0;
    while (at < x->len || flush_when_stuck) {
        size_t chunk = 1 + rnd() % 700;
        if (chunk > x->len - at)
            chunk = x->len - at;
        at += frame_reader_push(&r, x->stream + at, chunk);
        bool progressed = false;
        for (;;) {
            struct frame_event ev;
            frame_reader_next(&r, &ev);
            if (ev.kind == FRAME_EV_NONE)
                break;
            progressed = true;
            if (ev.kind == FRAME_EV_DROPPED) {
                assert_true(ev.dropped_bytes > 0);
                assert_int_not_equal(ev.reason, FRAME_DROP_NONE);
                dropped += ev.dropped_bytes;
                continue;
            }
            assert_true(got < x->frame_count);
            size_t wl = payload_of(got, want, max_payload);
            assert_int_equal(ev.payload_len, wl);
            assert_memory_equal(ev.payload, want, wl);
            got++;
        }
        if (at == x->len && !progressed) {
            if (!flush_when_stuck || !frame_reader_flush_partial(&r))
                break;
        }
    }
    assert_int_equal(got, x->frame_count);
    assert_true(dropped == x->garbage_bytes);
    assert_true(r.dropped_bytes_total == x->garbage_bytes);
    free(buf);
    free(want);
}

static void test_garbage_interleaved(void **state)
{
    const uint32_t max_payload = 2048;
    struct expect x = {0};
    x.cap = 8u << 20;
    x.stream = malloc(x.cap);
    uint8_t p[2048], f[2048 + FRAME_OVERHEAD_BYTES];
    for (uint32_t i = 0; i < 5000; i++) {
        if (rnd() % 2)
            add_garbage(&x, max_payload);
        size_t pl = payload_of(i, p, max_payload);
        size_t fl = frame_encode(f, sizeof(f), p, pl);
        assert_true(fl > 0);
        put(&x, f, fl);
        x.frame_count++;
    }
    run_stream(&x, max_payload, false);
    free(x.stream);
}

/* A frame cut short is detected when enough later bytes arrive or, at the
 * end of the stream, when the owner flushes after its idle timeout. */
static void test_truncated_frames(void **state)
{
    const uint32_t max_payload = 1024;
    for (int trial = 0; trial < 200; trial++) {
        struct expect x = {0};
        x.cap = 1 << 20;
        x.stream = malloc(x.cap);
        uint8_t p[1024], f[1024 + FRAME_OVERHEAD_BYTES];
        uint32_t n = 1 + (uint32_t)(rnd() % 5);
        for (uint32_t i = 0; i < n; i++) {
            /* a truncated frame: a valid header and part of its payload */
            size_t tl = 900 + rnd() % 100;
            for (size_t k = 0; k < tl; k++)
                p[k] = (uint8_t)rnd();
            size_t fl = frame_encode(f, sizeof(f), p, tl);
            size_t cut = 12 + rnd() % (fl - 12);
            put(&x, f, cut);
            x.garbage_bytes += cut;
            size_t pl = payload_of(i, p, max_payload);
            fl = frame_encode(f, sizeof(f), p, pl);
            put(&x, f, fl);
            x.frame_count++;
        }
        run_stream(&x, max_payload, true);
        free(x.stream);
    }
}

static void test_drop_reasons(void **state)
{
    uint8_t buf[256], s[128];
    struct frame_reader r;
    struct frame_event ev;
    assert_true(frame_reader_init(&r, buf, sizeof(buf), 100));
    /* garbage then a frame: the drop is reported first, then the frame */
    size_t n = frame_encode(s + 3, sizeof(s) - 3, "hi", 2);
    memcpy(s, "xyz", 3);
    assert_int_equal(frame_reader_push(&r, s, n + 3), n + 3);
    frame_reader_next(&r, &ev);
    assert_int_equal(ev.kind, FRAME_EV_DROPPED);
    assert_int_equal(ev.reason, FRAME_DROP_GARBAGE);
    assert_int_equal(ev.dropped_bytes, 3);
    frame_reader_next(&r, &ev);
    assert_int_equal(ev.kind, FRAME_EV_FRAME);
    assert_int_equal(ev.payload_len, 2);
    assert_memory_equal(ev.payload, "hi", 2);
    frame_reader_next(&r, &ev);
    assert_int_equal(ev.kind, FRAME_EV_NONE);
    /* corrupt payload checksum */
    n = frame_encode(s, sizeof(s), "hello", 5);
    s[13] ^= 1;
    frame_reader_push(&r, s, n);
    frame_reader_next(&r, &ev);
    assert_int_equal(ev.kind, FRAME_EV_DROPPED);
    assert_int_equal(ev.reason, FRAME_DROP_BAD_CRC);
    assert_int_equal(ev.dropped_bytes, n);
    /* oversized (valid header, length above this reader's 100) */
    uint32_t len = 101, c;
    memcpy(s, "HVF1", 4);
    memcpy(s + 4, &len, 4);
    c = frame_crc32c(0, s, 8);
    memcpy(s + 8, &c, 4);
    frame_reader_push(&r, s, 12);
    frame_reader_next(&r, &ev);
    assert_int_equal(ev.kind, FRAME_EV_DROPPED);
    assert_int_equal(ev.reason, FRAME_DROP_OVERSIZED);
    assert_int_equal(ev.dropped_bytes, 12);
    /* a bad header check */
    n = frame_encode(s, sizeof(s), "q", 1);
    s[9] ^= 0x40;
    frame_reader_push(&r, s, n);
    frame_reader_next(&r, &ev);
    assert_int_equal(ev.kind, FRAME_EV_DROPPED);
    assert_int_equal(ev.reason, FRAME_DROP_BAD_HEADER);
    assert_int_equal(ev.dropped_bytes, n);
    /* a partial frame waits, and a flush reports it truncated */
    n = frame_encode(s, sizeof(s), "abcdef", 6);
    frame_reader_push(&r, s, n - 3);
    frame_reader_next(&r, &ev);
    assert_int_equal(ev.kind, FRAME_EV_NONE);
    assert_true(frame_reader_flush_partial(&r));
    frame_reader_next(&r, &ev);
    assert_int_equal(ev.kind, FRAME_EV_DROPPED);
    assert_int_equal(ev.reason, FRAME_DROP_TRUNCATED);
    assert_int_equal(ev.dropped_bytes, n - 3);
    assert_false(frame_reader_flush_partial(&r));
    assert_int_equal(r.frames_count, 1);
}

/* Pushes n bytes of s in chunks of 1..k bytes and collects the events. */
struct seen {
    uint32_t frames, drops[8];
    uint64_t dropped[8];
    uint8_t last[2048];
    uint32_t last_len;
};

static void feed(struct frame_reader *r, const uint8_t *s, size_t n, size_t k, struct seen *v)
{
    size_t at = 0;
    do {
        size_t c = 1 + rnd() % k;
        if (c > n - at)
            c = n - at;
        assert_int_equal(frame_reader_push(r, s + at, c), c);
        at += c;
        struct frame_event ev;
        for (frame_reader_next(r, &ev); ev.kind != FRAME_EV_NONE; frame_reader_next(r, &ev)) {
            if (ev.kind == FRAME_EV_DROPPED) {
                v->drops[ev.reason]++;
                v->dropped[ev.reason] += ev.dropped_bytes;
                continue;
            }
            v->frames++;
            assert_true(ev.payload_len <= sizeof v->last);
            memcpy(v->last, ev.payload, ev.payload_len);
            v->last_len = ev.payload_len;
        }
    } while (at < n);
}

/* A pause in the middle of a frame (a busy host stalls the writer) drops
 * nothing, wherever it falls: in the header, in the payload, on payload
 * bytes that spell the magic or a whole valid header, in the checksum. */
static void test_pause_is_not_truncation(void **state)
{
    uint8_t buf[4096], p[1000], f[1100];
    for (size_t k = 0; k < sizeof p; k++)
        p[k] = (uint8_t)rnd();
    /* payload bytes that look like the start of a frame: the magic alone,
     * and the magic with a bad header check */
    memcpy(p + 100, "HVF1", 4);
    memcpy(p + 300, "HVF1\x10\0\0\0\0\0\0\0", 12);
    size_t fl = frame_encode(f, sizeof f, p, sizeof p);
    for (size_t cut = 1; cut < fl; cut++) {
        struct frame_reader r;
        struct seen v = {0};
        assert_true(frame_reader_init(&r, buf, sizeof buf, 2000));
        feed(&r, f, cut, 64, &v);
        frame_reader_mark_pause(&r);
        frame_reader_mark_pause(&r); /* a second pause changes nothing */
        feed(&r, f + cut, fl - cut, 64, &v);
        assert_int_equal(v.frames, 1);
        assert_int_equal(v.last_len, sizeof p);
        assert_memory_equal(v.last, p, sizeof p);
        assert_int_equal(r.dropped_bytes_total, 0);
        assert_false(r.pause);
    }
    /* A pause with nothing buffered, or right after a whole frame, is no mark. */
    struct frame_reader r;
    struct seen v = {0};
    assert_true(frame_reader_init(&r, buf, sizeof buf, 2000));
    frame_reader_mark_pause(&r);
    assert_false(r.pause);
    feed(&r, f, fl, 4096, &v);
    frame_reader_mark_pause(&r);
    assert_false(r.pause);
    assert_int_equal(v.frames, 1);
}

/* A frame cut short (its writer went away), a pause, and a new frame: the
 * partial frame is dropped whole as truncated as soon as the new frame's
 * header is in, wherever the cut was, however long the partial frame said
 * it would be; no idle flush is needed. Without the pause mark the new
 * frame would wait inside the partial one's announced length. */
static void test_pause_then_new_frame(void **state)
{
    uint8_t buf[40000], big[32768], f[32768 + FRAME_OVERHEAD_BYTES], g[64];
    for (size_t k = 0; k < sizeof big; k++)
        big[k] = (uint8_t)rnd();
    size_t bl = frame_encode(f, sizeof f, big, sizeof big);
    size_t gl = frame_encode(g, sizeof g, "list", 4);
    for (int trial = 0; trial < 300; trial++) {
        size_t cut = 1 + rnd() % (bl - gl - 1); /* the new frame does not complete it */
        if (trial < 16)
            cut = 1 + (size_t)trial; /* every cut inside the header */
        struct frame_reader r;
        struct seen v = {0};
        assert_true(frame_reader_init(&r, buf, sizeof buf, sizeof big));
        feed(&r, f, cut, 700, &v);
        assert_int_equal(v.frames, 0);
        frame_reader_mark_pause(&r);
        feed(&r, g, gl, 5, &v); /* the header may come a few bytes at a time */
        assert_int_equal(v.frames, 1);
        assert_int_equal(v.last_len, 4);
        assert_memory_equal(v.last, "list", 4);
        /* a cut inside the magic is garbage; anything longer is truncated */
        uint64_t all = v.dropped[FRAME_DROP_TRUNCATED] + v.dropped[FRAME_DROP_GARBAGE] +
                       v.dropped[FRAME_DROP_BAD_HEADER];
        assert_int_equal(all, cut);
        if (cut >= FRAME_HEADER_BYTES) {
            assert_int_equal(v.drops[FRAME_DROP_TRUNCATED], 1);
            assert_int_equal(v.dropped[FRAME_DROP_TRUNCATED], cut);
        }
        assert_false(r.pause);
    }
    /* The same without the mark: the new frame is swallowed by the partial
     * frame's announced 32 KiB until an idle flush. */
    struct frame_reader r;
    struct seen v = {0};
    assert_true(frame_reader_init(&r, buf, sizeof buf, sizeof big));
    feed(&r, f, 500, 700, &v);
    feed(&r, g, gl, 5, &v);
    assert_int_equal(v.frames, 0);
    assert_true(frame_reader_flush_partial(&r));
    feed(&r, g, 0, 1, &v);
    assert_int_equal(v.frames, 1);
}

/* The bytes after a pause that start like a frame but are not one (magic,
 * then a bad header check) continue the partial frame; so do bytes that
 * complete it with a valid checksum. */
static void test_pause_undecided(void **state)
{
    uint8_t buf[4096], f[256], junk[16] = "HVF1";
    const char *text = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    size_t fl = frame_encode(f, sizeof f, text, 64);
    struct frame_reader r;
    struct seen v = {0};
    assert_true(frame_reader_init(&r, buf, sizeof buf, 2000));
    feed(&r, f, 20, 1, &v);
    frame_reader_mark_pause(&r);
    feed(&r, junk, 3, 1, &v); /* "HVF": undecided */
    assert_true(r.pause);
    frame_reader_mark_pause(&r); /* a later pause: the first one stands */
    assert_int_equal(r.pause_at, 20);
    feed(&r, junk + 3, 9, 1, &v); /* magic, bad header check: a continuation */
    assert_false(r.pause);
    assert_int_equal(v.frames, 0);
    assert_int_equal(r.dropped_bytes_total, 0);
    /* the partial frame then fails its checksum (it swallowed the junk) */
    feed(&r, f, fl, 1, &v);
    assert_int_equal(v.frames, 1);
    assert_int_equal(v.drops[FRAME_DROP_TRUNCATED], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vectors),          cmocka_unit_test(test_encode_format),
        cmocka_unit_test(test_reader_init_bounds),      cmocka_unit_test(test_drop_reasons),
        cmocka_unit_test(test_garbage_interleaved),     cmocka_unit_test(test_truncated_frames),
        cmocka_unit_test(test_pause_is_not_truncation), cmocka_unit_test(test_pause_then_new_frame),
        cmocka_unit_test(test_pause_undecided),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
