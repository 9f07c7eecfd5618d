/*
 * The generated message code (proto_msgs.c from catalog.cddl) against
 * libcbor, for every message in the catalog:
 *  - libcbor decodes what the in-system codec encodes into the expected tree;
 *  - libcbor's encoding of that tree is byte-identical (both deterministic);
 *  - the in-system decoder turns libcbor's encoding back into the message;
 * and the refusals a hostile peer can trigger, each with its code, offset
 * and key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "proto_sample.h"

#define SAMPLES_PER_TYPE 200
#define BUF_BYTES (256 * 1024)

static uint8_t arena[1 << 20];
static uint8_t enc_buf[BUF_BYTES];
static struct proto_msg msg_a, msg_b;

static size_t encode_sample(uint32_t type, uint64_t seed, struct proto_msg *m, uint8_t *out)
{
    struct ptest_rng r;
    struct hvcbor_error err;
    size_t len = 0;
    ptest_rng_init(&r, seed, arena, sizeof(arena));
    proto_msg_sample(m, type, &r);
    if (!proto_msg_encode(m, out, BUF_BYTES, &len, &err))
        fail_msg("%s seed %llu: encode failed: %s key %u", proto_msg_name(type),
                 (unsigned long long)seed, hvcbor_err_name(err.code), err.key);
    return len;
}

static void test_every_message_agrees_with_libcbor(void **state)
{
    for (uint32_t t = 0; t < PROTO_MSG_TYPES_COUNT; t++) {
        uint32_t type = proto_msg_types[t];
        for (uint64_t seed = 1; seed <= SAMPLES_PER_TYPE; seed++) {
            size_t len = encode_sample(type, seed * 977 + type, &msg_a, enc_buf);
            /* libcbor decodes our bytes into the expected structure */
            struct cbor_load_result res;
            cbor_item_t *got = cbor_load(enc_buf, len, &res);
            assert_non_null(got);
            assert_int_equal(res.error.code, CBOR_ERR_NONE);
            assert_int_equal(res.read, len);
            cbor_item_t *want = proto_msg_to_libcbor(&msg_a);
            if (!ptest_lc_equal(got, want))
                fail_msg("%s seed %llu: libcbor tree differs", proto_msg_name(type),
                         (unsigned long long)seed);
            /* libcbor's canonical encoding is byte-identical */
            unsigned char *lc = NULL;
            size_t lc_size = 0, lc_len = cbor_serialize_alloc(want, &lc, &lc_size);
            assert_int_equal(lc_len, len);
            assert_memory_equal(lc, enc_buf, len);
            /* and decodes back into the same message */
            struct hvcbor_error err;
            memset(&msg_b, 0xa5, sizeof(msg_b));
            if (!proto_msg_decode(lc, lc_len, NULL, &msg_b, &err))
                fail_msg("%s seed %llu: decode failed: %s at %u key %u", proto_msg_name(type),
                         (unsigned long long)seed, hvcbor_err_name(err.code), err.offset, err.key);
            assert_int_equal(msg_b.type, type);
            assert_true(proto_msg_equal(&msg_a, &msg_b));
            assert_true(proto_msg_request_id(&msg_b) == proto_msg_request_id(&msg_a));
            free(lc);
            cbor_decref(&got);
            cbor_decref(&want);
        }
    }
}

/* Any single-byte change is refused, or decodes to a message whose
 * encoding is exactly the changed input (deterministic encoding is unique),
 * or — when the change turned a member into an unknown optional one, which
 * a receiver skips — to one whose shorter encoding decodes back to it. */
static void test_mutations_refused_or_canonical(void **state)
{
    static uint8_t mut[BUF_BYTES], re[BUF_BYTES];
    for (uint32_t t = 0; t < PROTO_MSG_TYPES_COUNT; t++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            size_t len = encode_sample(proto_msg_types[t], seed, &msg_a, enc_buf);
            size_t stride = len > 4000 ? len / 1000 : 1;
            for (size_t i = 0; i < len; i += stride) {
                static const uint8_t flips[] = {0x01, 0x20, 0x80, 0xff};
                for (size_t f = 0; f < sizeof(flips); f++) {
                    memcpy(mut, enc_buf, len);
                    mut[i] ^= flips[f];
                    struct hvcbor_error err;
                    size_t rlen;
                    if (!proto_msg_decode(mut, len, NULL, &msg_b, &err)) {
                        assert_int_not_equal(err.code, HVCBOR_OK);
                        assert_true(err.offset <= len);
                        continue;
                    }
                    assert_true(proto_msg_encode(&msg_b, re, sizeof(re), &rlen, &err));
                    if (rlen == len) {
                        assert_memory_equal(re, mut, len);
                        continue;
                    }
                    /* Shorter: the change made a member an unknown optional
                     * one (odd key), which the decoder skips by design (e.g.
                     * error-reply's hv-status read as a hello-reply). What was
                     * kept re-encodes canonically. */
                    assert_true(rlen < len);
                    static struct proto_msg msg_c;
                    assert_true(proto_msg_decode(re, rlen, NULL, &msg_c, &err));
                    assert_true(proto_msg_equal(&msg_b, &msg_c));
                }
            }
            /* every proper prefix is refused */
            for (size_t k = 0; k < len; k++) {
                struct hvcbor_error err;
                assert_false(proto_msg_decode(enc_buf, k, NULL, &msg_b, &err));
            }
        }
    }
}

static size_t serialize(cbor_item_t *it, uint8_t *out)
{
    unsigned char *p = NULL;
    size_t sz = 0, n = cbor_serialize_alloc(it, &p, &sz);
    assert_true(n > 0 && n <= BUF_BYTES);
    memcpy(out, p, n);
    free(p);
    cbor_decref(&it);
    return n;
}

/* A hello built by hand with libcbor, with extra pairs appended. */
static cbor_item_t *hello_tree(size_t extra)
{
    cbor_item_t *m = cbor_new_definite_map(4 + extra);
    ptest_lc_add(m, 0, ptest_lc_uint(PROTO_MSG_HELLO));
    ptest_lc_add(m, 2, ptest_lc_uint(7));
    ptest_lc_add(m, 4, ptest_lc_uint(PROTO_VERSION));
    ptest_lc_add(m, 6, cbor_build_string("hvctl 1"));
    return m;
}

static void expect_refusal(const uint8_t *in, size_t len, enum hvcbor_err code, uint32_t offset,
                           uint32_t key)
{
    struct hvcbor_error err;
    bool ok = proto_msg_decode(in, len, NULL, &msg_b, &err);
    if (ok || err.code != code || err.offset != offset || err.key != key)
        fail_msg("got %s at %u key %u, want %s at %u key %u",
                 ok ? "success" : hvcbor_err_name(err.code), err.offset, err.key,
                 hvcbor_err_name(code), offset, key);
}

static void test_unknown_keys(void **state)
{
    uint8_t in[256];
    struct hvcbor_error err;
    /* unknown optional (odd) key with a nested value: skipped */
    cbor_item_t *m = hello_tree(1);
    cbor_item_t *nested = cbor_new_definite_array(2);
    assert_true(cbor_array_push(nested, cbor_move(cbor_build_string("x"))));
    assert_true(cbor_array_push(nested, cbor_move(cbor_new_definite_map(0))));
    ptest_lc_add(m, 9, nested);
    size_t n = serialize(m, in);
    assert_true(proto_msg_decode(in, n, NULL, &msg_b, &err));
    assert_int_equal(msg_b.type, PROTO_MSG_HELLO);
    assert_true(msg_b.u.hello.version == PROTO_VERSION);
    assert_int_equal(msg_b.u.hello.client.len, 7);
    assert_memory_equal(msg_b.u.hello.client.ptr, "hvctl 1", 7);
    assert_true(msg_b.u.hello.request_id == 7);

    /* unknown required (even) key: refused at the key */
    m = hello_tree(1);
    ptest_lc_add(m, 8, ptest_lc_uint(1));
    n = serialize(m, in);
    expect_refusal(in, n, HVCBOR_ERR_UNKNOWN_KEY, (uint32_t)n - 2, 8);

    /* a malformed value under an unknown odd key is still refused */
    m = hello_tree(1);
    ptest_lc_add(m, 9, cbor_build_negint64(5)); /* non-canonical width */
    n = serialize(m, in);
    expect_refusal(in, n, HVCBOR_ERR_NON_CANONICAL, (uint32_t)n - 9, 9);
}

static void test_structural_refusals(void **state)
{
    uint8_t in[256];
    /* missing required key 6 (client): reported at the map, naming the key */
    cbor_item_t *m = cbor_new_definite_map(3);
    ptest_lc_add(m, 0, ptest_lc_uint(PROTO_MSG_HELLO));
    ptest_lc_add(m, 2, ptest_lc_uint(7));
    ptest_lc_add(m, 4, ptest_lc_uint(1));
    size_t n = serialize(m, in);
    expect_refusal(in, n, HVCBOR_ERR_MISSING_KEY, 0, 6);

    /* wrong type: version as text */
    m = cbor_new_definite_map(4);
    ptest_lc_add(m, 0, ptest_lc_uint(PROTO_MSG_HELLO));
    ptest_lc_add(m, 2, ptest_lc_uint(7));
    ptest_lc_add(m, 4, cbor_build_string("1"));
    ptest_lc_add(m, 6, cbor_build_string(""));
    n = serialize(m, in);
    expect_refusal(in, n, HVCBOR_ERR_WRONG_TYPE, 6, 4);

    /* keys out of order and duplicated */
    m = cbor_new_definite_map(4);
    ptest_lc_add(m, 0, ptest_lc_uint(PROTO_MSG_HELLO));
    ptest_lc_add(m, 4, ptest_lc_uint(1));
    ptest_lc_add(m, 2, ptest_lc_uint(7));
    ptest_lc_add(m, 6, cbor_build_string(""));
    n = serialize(m, in);
    expect_refusal(in, n, HVCBOR_ERR_KEY_ORDER, 5, 2);
    m = cbor_new_definite_map(4);
    ptest_lc_add(m, 0, ptest_lc_uint(PROTO_MSG_HELLO));
    ptest_lc_add(m, 2, ptest_lc_uint(7));
    ptest_lc_add(m, 2, ptest_lc_uint(7));
    ptest_lc_add(m, 6, cbor_build_string(""));
    n = serialize(m, in);
    expect_refusal(in, n, HVCBOR_ERR_DUPLICATE_KEY, 5, 2);

    /* unknown message type, and type not first */
    m = cbor_new_definite_map(2);
    ptest_lc_add(m, 0, ptest_lc_uint(999));
    ptest_lc_add(m, 2, ptest_lc_uint(7));
    n = serialize(m, in);
    expect_refusal(in, n, HVCBOR_ERR_UNKNOWN_TYPE, 2, 0);
    m = cbor_new_definite_map(1);
    ptest_lc_add(m, 2, ptest_lc_uint(7));
    n = serialize(m, in);
    expect_refusal(in, n, HVCBOR_ERR_MISSING_KEY, 1, 0);

    /* not a map at all */
    expect_refusal((const uint8_t *)"\x80", 1, HVCBOR_ERR_WRONG_TYPE, 0, HVCBOR_NO_KEY);

    /* trailing bytes after a valid message */
    m = hello_tree(0);
    n = serialize(m, in);
    in[n] = 0x00;
    expect_refusal(in, n + 1, HVCBOR_ERR_TRAILING, (uint32_t)n, HVCBOR_NO_KEY);
}

static void test_value_refusals(void **state)
{
    static uint8_t in[BUF_BYTES]; /* a sampled create request can be a few KiB */
    /* domain-create-request whose config has vcpus = 0 (range 1..64) */
    struct ptest_rng r;
    ptest_rng_init(&r, 5, arena, sizeof(arena));
    proto_msg_sample(&msg_a, PROTO_MSG_DOMAIN_CREATE_REQUEST, &r);
    msg_a.u.domain_create_request.config.vcpus = 0;
    struct hvcbor_error err;
    size_t n;
    /* the encoder refuses to emit it */
    assert_false(proto_msg_encode(&msg_a, in, sizeof(in), &n, &err));
    assert_int_equal(err.code, HVCBOR_ERR_RANGE);
    assert_int_equal(err.key, 10);
    /* and the decoder refuses it from libcbor, at the value's offset */
    cbor_item_t *t = proto_msg_to_libcbor(&msg_a);
    n = serialize(t, in);
    struct hvcbor_dec d;
    hvcbor_dec_init(&d, in, n, NULL);
    assert_false(proto_msg_decode(in, n, NULL, &msg_b, &err));
    assert_int_equal(err.code, HVCBOR_ERR_RANGE);
    assert_int_equal(err.key, 10);
    assert_true(err.offset < n);
    assert_int_equal(in[err.offset], 0x00);     /* the encoded 0 */
    assert_int_equal(in[err.offset - 1], 0x0a); /* preceded by key 10 */

    /* enum value not in the catalog */
    msg_a.type = PROTO_MSG_ERROR_REPLY;
    msg_a.u.error_reply.request_id = 1;
    msg_a.u.error_reply.code = (enum proto_error_code)77;
    msg_a.u.error_reply.message = (struct hvcbor_str){(const uint8_t *)"x", 1};
    assert_false(proto_msg_encode(&msg_a, in, sizeof(in), &n, &err));
    assert_int_equal(err.code, HVCBOR_ERR_RANGE);
    n = serialize(proto_msg_to_libcbor(&msg_a), in);
    expect_refusal(in, n, HVCBOR_ERR_RANGE, 6, 4); /* the value after a4 00 03 02 01 04 */

    /* string over its bound, invalid UTF-8 in a text member */
    static uint8_t big[600];
    memset(big, 'a', sizeof(big));
    msg_a.u.error_reply.code = PROTO_ERROR_CODE_INVALID;
    msg_a.u.error_reply.message = (struct hvcbor_str){big, 513};
    assert_false(proto_msg_encode(&msg_a, enc_buf, BUF_BYTES, &n, &err));
    assert_int_equal(err.code, HVCBOR_ERR_TOO_LONG);
    assert_int_equal(err.key, 6);
    n = serialize(proto_msg_to_libcbor(&msg_a), enc_buf);
    expect_refusal(enc_buf, n, HVCBOR_ERR_TOO_LONG, 8, 6);
    msg_a.u.error_reply.message = (struct hvcbor_str){(const uint8_t *)"\xff", 1};
    assert_false(proto_msg_encode(&msg_a, in, sizeof(in), &n, &err));
    assert_int_equal(err.code, HVCBOR_ERR_BAD_UTF8);

    /* array above its bound: token-create-request rights is [1*7 right] */
    ptest_rng_init(&r, 9, arena, sizeof(arena));
    proto_msg_sample(&msg_a, PROTO_MSG_TOKEN_CREATE_REQUEST, &r);
    msg_a.u.token_create_request.rights.count = 0;
    assert_false(proto_msg_encode(&msg_a, in, sizeof(in), &n, &err));
    assert_int_equal(err.code, HVCBOR_ERR_RANGE);
    assert_int_equal(err.key, 8);
    msg_a.u.token_create_request.rights.count = 8;
    assert_false(proto_msg_encode(&msg_a, in, sizeof(in), &n, &err));
    assert_int_equal(err.code, HVCBOR_ERR_TOO_MANY);
}

static void test_encode_buffer_too_small(void **state)
{
    struct ptest_rng r;
    struct hvcbor_error err;
    size_t n, full;
    ptest_rng_init(&r, 3, arena, sizeof(arena));
    proto_msg_sample(&msg_a, PROTO_MSG_DOMAIN_INFO_REPLY, &r);
    assert_true(proto_msg_encode(&msg_a, enc_buf, BUF_BYTES, &full, &err));
    for (size_t cap = 0; cap < full; cap++) {
        assert_false(proto_msg_encode(&msg_a, enc_buf, cap, &n, &err));
        assert_int_equal(err.code, HVCBOR_ERR_BUFFER_FULL);
        assert_int_equal(n, 0);
    }
}

static void test_names(void **state)
{
    assert_string_equal(proto_msg_name(PROTO_MSG_HELLO), "hello");
    assert_string_equal(proto_msg_name(PROTO_MSG_DOMAIN_INFO_REPLY), "domain-info-reply");
    assert_null(proto_msg_name(12345));
    assert_string_equal(proto_error_code_name(PROTO_ERROR_CODE_WRONG_STATE), "wrong-state");
    assert_null(proto_error_code_name(0));
    assert_true(proto_stop_policy_valid(2));
    assert_false(proto_stop_policy_valid(3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_message_agrees_with_libcbor),
        cmocka_unit_test(test_mutations_refused_or_canonical),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_structural_refusals),
        cmocka_unit_test(test_value_refusals),
        cmocka_unit_test(test_encode_buffer_too_small),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
