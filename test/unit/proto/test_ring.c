/* Single-threaded unit tests of the SPSC ring (proto/ring.c): layout,
 * wrap-around against a FIFO model, the notification protocol, and
 * refusal of every corrupt index or record the other side can write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <hv/ring.h>

#define SHARED_BYTES (RING_HEADER_BYTES + 1024)

static _Alignas(64) uint8_t shared[SHARED_BYTES];

static void setup_ring(struct ring *p, struct ring *c)
{
    memset(shared, 0xee, sizeof(shared));
    assert_true(ring_format(shared, sizeof(shared)));
    assert_true(ring_attach_producer(p, shared, sizeof(shared)));
    assert_true(ring_attach_consumer(c, shared, sizeof(shared)));
}

static void test_sizes(void **state)
{
    assert_int_equal(ring_data_size(RING_HEADER_BYTES + 255), 0);
    assert_int_equal(ring_data_size(RING_HEADER_BYTES + 256), 256);
    assert_int_equal(ring_data_size(4096), 2048);
    assert_int_equal(ring_data_size(8192 + RING_HEADER_BYTES), 8192);
    struct ring r;
    assert_false(ring_attach_producer(&r, shared, 100));
    assert_false(ring_format(NULL, 4096));
}

/* Random writes and reads of random sizes against a FIFO model, through
 * thousands of wrap-arounds; records are compared byte for byte. */
static void test_wraparound_model(void **state)
{
    struct ring p, c;
    setup_ring(&p, &c);
    static uint8_t model[1 << 16];
    size_t head = 0, tail = 0; /* model holds [len:u32][bytes] entries */
    uint64_t s = 1;
    uint32_t wrote = 0, read = 0;
    uint8_t msg[1024], out[1024];
    for (int step = 0; step < 200000; step++) {
        s = s * 6364136223846793005ull + 1;
        bool notify;
        if ((s >> 33) % 2) {
            uint32_t len = (uint32_t)((s >> 40) % 300);
            for (uint32_t k = 0; k < len; k++)
                msg[k] = (uint8_t)(wrote + k * 7);
            enum ring_status st = ring_write(&p, msg, len, &notify);
            if (st == RING_FULL)
                continue;
            assert_int_equal(st, RING_OK);
            if (tail + 4 + len > sizeof(model)) {
                memmove(model, model + head, tail - head);
                tail -= head;
                head = 0;
            }
            memcpy(model + tail, &len, 4);
            memcpy(model + tail + 4, msg, len);
            tail += 4 + len;
            wrote++;
        } else {
            uint32_t len;
            enum ring_status st = ring_read(&c, out, sizeof(out), &len, &notify);
            if (head == tail) {
                assert_int_equal(st, RING_EMPTY);
                continue;
            }
            assert_int_equal(st, RING_OK);
            uint32_t want;
            memcpy(&want, model + head, 4);
            assert_int_equal(len, want);
            assert_memory_equal(out, model + head + 4, len);
            head += 4 + len;
            read++;
        }
    }
    assert_true(wrote > 10000 && read > 10000);
    /* wrapped many times over the 1 KiB data area */
    assert_true(p.local > 100u * 1024);
}

static void test_full_and_too_big(void **state)
{
    struct ring p, c;
    setup_ring(&p, &c);
    uint8_t msg[1024] = {0}, out[1024];
    bool notify;
    uint32_t len;
    assert_int_equal(ring_max_payload(&p), 1016);
    assert_int_equal(ring_write(&p, msg, 1017, &notify), RING_ETOOBIG);
    assert_int_equal(ring_write(&p, msg, 1016, &notify), RING_OK);
    assert_int_equal(ring_write(&p, msg, 0, &notify), RING_FULL);
    /* a reader buffer too small: told the length, record kept */
    assert_int_equal(ring_read(&c, out, 10, &len, &notify), RING_ETOOBIG);
    assert_int_equal(len, 1016);
    assert_int_equal(ring_read(&c, out, sizeof(out), &len, &notify), RING_OK);
    assert_int_equal(len, 1016);
    assert_int_equal(ring_read(&c, out, sizeof(out), &len, &notify), RING_EMPTY);
    assert_int_equal(ring_write(&p, NULL, 3, &notify), RING_EINVAL);
}

static void test_notifications(void **state)
{
    struct ring p, c;
    setup_ring(&p, &c);
    uint8_t msg[600] = {0}, out[1024];
    bool notify;
    uint32_t len;
    /* nobody waits: no notification */
    assert_int_equal(ring_write(&p, msg, 8, &notify), RING_OK);
    assert_false(notify);
    /* consumer drains, arms, must sleep; the next write notifies once */
    assert_int_equal(ring_read(&c, out, sizeof(out), &len, &notify), RING_OK);
    assert_true(ring_consumer_prepare_sleep(&c));
    assert_int_equal(ring_write(&p, msg, 8, &notify), RING_OK);
    assert_true(notify);
    assert_int_equal(ring_write(&p, msg, 8, &notify), RING_OK);
    assert_false(notify);
    /* arming while data is there: do not sleep */
    assert_false(ring_consumer_prepare_sleep(&c));
    assert_int_equal(ring_read(&c, out, sizeof(out), &len, &notify), RING_OK);
    assert_int_equal(ring_read(&c, out, sizeof(out), &len, &notify), RING_OK);
    assert_false(notify);
    /* producer waits for room for 600 bytes */
    assert_int_equal(ring_write(&p, msg, 600, &notify), RING_OK);
    assert_int_equal(ring_write(&p, msg, 600, &notify), RING_FULL);
    assert_true(ring_producer_prepare_sleep(&p, 600));
    assert_int_equal(ring_read(&c, out, sizeof(out), &len, &notify), RING_OK);
    assert_true(notify); /* the room it waited for is now free */
    assert_false(ring_producer_prepare_sleep(&p, 600));
    assert_int_equal(ring_write(&p, msg, 600, &notify), RING_OK);
}

/* Every corruption the other side can write is refused, sticky, and
 * nothing is copied out of bounds (ASan watches the shared array). */
static void test_corruption(void **state)
{
    struct ring p, c;
    uint8_t msg[64] = {0}, out[2048];
    bool notify;
    uint32_t len;
    struct ring_shared *sh = (struct ring_shared *)shared;

    setup_ring(&p, &c);
    sh->prod = 1024 + 8; /* more than the ring holds */
    assert_int_equal(ring_read(&c, out, sizeof(out), &len, &notify), RING_ECORRUPT);
    sh->prod = 0;
    assert_int_equal(ring_read(&c, out, sizeof(out), &len, &notify), RING_ECORRUPT); /* sticky */

    setup_ring(&p, &c);
    sh->prod = 12; /* misaligned */
    assert_int_equal(ring_read(&c, out, sizeof(out), &len, &notify), RING_ECORRUPT);

    setup_ring(&p, &c);
    assert_int_equal(ring_write(&p, msg, 16, &notify), RING_OK);
    sh->data[0] = 200; /* record claims more than was published */
    assert_int_equal(ring_read(&c, out, sizeof(out), &len, &notify), RING_ECORRUPT);

    setup_ring(&p, &c);
    assert_int_equal(ring_write(&p, msg, 16, &notify), RING_OK);
    sh->data[5] = 1; /* reserved header bytes must be zero */
    assert_int_equal(ring_read(&c, out, sizeof(out), &len, &notify), RING_ECORRUPT);

    setup_ring(&p, &c);
    assert_int_equal(ring_write(&p, msg, 16, &notify), RING_OK);
    sh->prod = 8; /* only a header published */
    assert_int_equal(ring_read(&c, out, sizeof(out), &len, &notify), RING_ECORRUPT);

    setup_ring(&p, &c);
    sh->prod = 4; /* less than a header */
    assert_int_equal(ring_read(&c, out, sizeof(out), &len, &notify), RING_ECORRUPT);

    /* the producer checks the consumer's index too */
    setup_ring(&p, &c);
    sh->cons = 64; /* consumed what was never produced */
    assert_int_equal(ring_write(&p, msg, 8, &notify), RING_ECORRUPT);
    setup_ring(&p, &c);
    sh->cons = 3;
    assert_int_equal(ring_write(&p, msg, 8, &notify), RING_ECORRUPT);
    assert_false(ring_producer_prepare_sleep(&p, 8));
}

/* Tagged records, read in pieces: peek reports length and tag without
 * consuming, copy reads any part, advance consumes; ring_read refuses a
 * tagged record (its users never write one). */
static void test_tags_and_pieces(void **state)
{
    struct ring p, c;
    setup_ring(&p, &c);
    uint8_t msg[100], out[100];
    for (int i = 0; i < 100; i++)
        msg[i] = (uint8_t)i;
    bool notify;
    uint32_t len, tag;
    assert_int_equal(ring_peek(&c, &len, &tag), RING_EMPTY);
    assert_int_equal(ring_copy(&c, 0, out, 1), RING_EINVAL); /* nothing peeked */
    assert_int_equal(ring_advance(&c, &notify), RING_EINVAL);
    assert_int_equal(ring_write_tag(&p, msg, 100, 0xabcd1234u, &notify), RING_OK);
    assert_int_equal(ring_peek(&c, &len, &tag), RING_OK);
    assert_int_equal(len, 100);
    assert_int_equal(tag, 0xabcd1234u);
    assert_int_equal(ring_peek(&c, &len, &tag), RING_OK); /* the same record again */
    assert_int_equal(ring_copy(&c, 40, out, 60), RING_OK);
    assert_memory_equal(out, msg + 40, 60);
    assert_int_equal(ring_copy(&c, 41, out, 60), RING_EINVAL); /* past its end */
    assert_int_equal(ring_copy(&c, 101, out, 0), RING_EINVAL);
    assert_int_equal(ring_advance(&c, &notify), RING_OK);
    assert_int_equal(ring_peek(&c, &len, &tag), RING_EMPTY);
    /* ring_read refuses a tagged record for good */
    assert_int_equal(ring_write_tag(&p, msg, 8, 1, &notify), RING_OK);
    assert_int_equal(ring_read(&c, out, sizeof(out), &len, &notify), RING_ECORRUPT);
    assert_int_equal(ring_peek(&c, &len, &tag), RING_ECORRUPT);
}

/* Header and data apart; the producer's view of the consumer's index; a
 * producer waiting for the consumer to reach an index is woken exactly
 * when it does. */
static void test_split_and_wait_index(void **state)
{
    static _Alignas(64) uint8_t hdr[128], data[512];
    struct ring p, c;
    assert_false(ring_attach_producer_split(&p, hdr, data, 384)); /* not a power of two */
    assert_false(ring_attach_producer_split(&p, hdr, data, 128)); /* too small */
    assert_false(ring_attach_producer_split(&p, NULL, data, 512));
    memset(hdr, 0, sizeof hdr);
    assert_true(ring_attach_producer_split(&p, hdr, data, 512));
    assert_true(ring_attach_consumer_split(&c, hdr, data, 512));
    assert_int_equal(ring_max_payload(&p), 504);
    uint8_t msg[64] = {1}, out[64];
    bool notify;
    uint32_t len, cons;
    assert_int_equal(ring_can_write(&p, 505), RING_ETOOBIG);
    assert_int_equal(ring_can_write(&p, 504), RING_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ring_write(&p, msg, 24, &notify), RING_OK); /* 32 bytes each */
    uint32_t end2 = 64;                                              /* after the 2nd record */
    assert_int_equal(ring_local_index(&p), 96);
    assert_true(ring_consumer_index(&p, &cons));
    assert_int_equal(cons, 0);
    assert_true(ring_producer_prepare_wait_index(&p, end2)); /* not there: sleep */
    assert_int_equal(ring_read(&c, out, sizeof out, &len, &notify), RING_OK);
    assert_false(notify); /* cons 32: not yet */
    assert_int_equal(ring_read(&c, out, sizeof out, &len, &notify), RING_OK);
    assert_true(notify); /* cons 64: reached */
    assert_false(ring_producer_prepare_wait_index(&p, end2));
    assert_true(ring_consumer_index(&p, &cons));
    assert_int_equal(cons, 64);
    /* the data lives where it was put */
    assert_int_equal(data[64 + 8], 1);
    assert_int_equal(ring_read(&c, out, sizeof out, &len, &notify), RING_OK);
    assert_int_equal(ring_can_write(&p, 504), RING_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_wraparound_model),
        cmocka_unit_test(test_full_and_too_big),
        cmocka_unit_test(test_notifications),
        cmocka_unit_test(test_corruption),
        cmocka_unit_test(test_tags_and_pieces),
        cmocka_unit_test(test_split_and_wait_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
