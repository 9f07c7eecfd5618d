/* Unit tests of the in-system CBOR codec (proto/cbor.c): deterministic
 * encoding against RFC 8949 Appendix A, and every refusal with its code and
 * byte offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <cbor.h>
#include <hv/cbor.h>

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    while (*h) {
        if (*h == ' ') {
            h++;
            continue;
        }
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (uint8_t)v;
        h += 2;
    }
    return n;
}

static void expect_enc(void (*fn)(struct hvcbor_enc *, const void *), const void *arg,
                       const char *hex)
{
    uint8_t want[64], got[64];
    size_t wn = unhex(hex, want), gn;
    struct hvcbor_enc e;
    hvcbor_enc_init(&e, got, sizeof(got));
    fn(&e, arg);
    assert_int_equal(hvcbor_enc_finish(&e, &gn), HVCBOR_OK);
    assert_int_equal(gn, wn);
    assert_memory_equal(got, want, wn);
}

static void enc_u(struct hvcbor_enc *e, const void *a)
{
    hvcbor_enc_uint(e, *(const uint64_t *)a);
}
static void enc_i(struct hvcbor_enc *e, const void *a)
{
    hvcbor_enc_int(e, *(const int64_t *)a);
}

static void test_encode_rfc_vectors(void **state)
{
    static const struct {
        uint64_t v;
        const char *hex;
    } u[] = {
        {0, "00"},
        {1, "01"},
        {10, "0a"},
        {23, "17"},
        {24, "1818"},
        {25, "1819"},
        {100, "1864"},
        {255, "18ff"},
        {256, "190100"},
        {1000, "1903e8"},
        {65535, "19ffff"},
        {65536, "1a00010000"},
        {1000000, "1a000f4240"},
        {0xffffffffull, "1affffffff"},
        {0x100000000ull, "1b0000000100000000"},
        {1000000000000ull, "1b000000e8d4a51000"},
        {UINT64_MAX, "1bffffffffffffffff"},
    };
    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
        expect_enc(enc_u, &u[i].v, u[i].hex);
    static const struct {
        int64_t v;
        const char *hex;
    } s[] = {
        {-1, "20"},
        {-10, "29"},
        {-24, "37"},
        {-25, "3818"},
        {-100, "3863"},
        {-1000, "3903e7"},
        {INT64_MIN, "3b7fffffffffffffff"},
        {INT64_MAX, "1b7fffffffffffffff"},
    };
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        expect_enc(enc_i, &s[i].v, s[i].hex);
}

static void test_encode_containers(void **state)
{
    uint8_t buf[64];
    size_t n;
    struct hvcbor_enc e;
    hvcbor_enc_init(&e, buf, sizeof(buf));
    hvcbor_enc_map(&e, 2);
    hvcbor_enc_uint(&e, 1);
    hvcbor_enc_text(&e, "\xc3\xbc", 2);
    hvcbor_enc_uint(&e, 3);
    hvcbor_enc_array(&e, 3);
    hvcbor_enc_bool(&e, false);
    hvcbor_enc_bool(&e, true);
    hvcbor_enc_null(&e);
    assert_int_equal(hvcbor_enc_finish(&e, &n), HVCBOR_OK);
    uint8_t want[16];
    size_t wn = unhex("a2 01 62c3bc 03 83 f4 f5 f6", want);
    assert_int_equal(n, wn);
    assert_memory_equal(buf, want, wn);
}

static void test_encode_errors(void **state)
{
    uint8_t buf[4];
    size_t n = 99;
    struct hvcbor_enc e;
    hvcbor_enc_init(&e, buf, sizeof(buf));
    hvcbor_enc_uint(&e, 1000); /* 3 bytes */
    hvcbor_enc_uint(&e, 1000); /* does not fit */
    hvcbor_enc_uint(&e, 1);    /* would fit, but errors are sticky */
    assert_int_equal(hvcbor_enc_finish(&e, &n), HVCBOR_ERR_BUFFER_FULL);
    assert_int_equal(n, 0);
    hvcbor_enc_init(&e, buf, sizeof(buf));
    hvcbor_enc_text(&e, "\xc0\x80", 2); /* overlong NUL */
    assert_int_equal(hvcbor_enc_finish(&e, &n), HVCBOR_ERR_BAD_UTF8);
    hvcbor_enc_init(&e, buf, sizeof(buf));
    hvcbor_enc_bytes(&e, NULL, 3);
    assert_int_equal(hvcbor_enc_finish(&e, &n), HVCBOR_ERR_INVALID_ARG);
}

struct bad {
    const char *hex;
    enum hvcbor_err code;
    uint32_t offset;
};

static void check_bad(const struct bad *b, size_t count, const struct hvcbor_limits *lim)
{
    for (size_t i = 0; i < count; i++) {
        uint8_t in[128];
        size_t n = unhex(b[i].hex, in);
        struct hvcbor_error err = hvcbor_check(in, n, lim);
        if (err.code != b[i].code || err.offset != b[i].offset)
            fail_msg("input %s: got %s at %u, want %s at %u", b[i].hex, hvcbor_err_name(err.code),
                     err.offset, hvcbor_err_name(b[i].code), b[i].offset);
    }
}

static void test_decode_refusals(void **state)
{
    static const struct bad b[] = {
        {"", HVCBOR_ERR_TRUNCATED, 0},
        {"18", HVCBOR_ERR_TRUNCATED, 0},
        {"1b000000", HVCBOR_ERR_TRUNCATED, 0},
        {"1817", HVCBOR_ERR_NON_CANONICAL, 0},
        {"190017", HVCBOR_ERR_NON_CANONICAL, 0},
        {"1a0000ffff", HVCBOR_ERR_NON_CANONICAL, 0},
        {"1b00000000ffffffff", HVCBOR_ERR_NON_CANONICAL, 0},
        {"3817", HVCBOR_ERR_NON_CANONICAL, 0},
        {"5801 00", HVCBOR_ERR_NON_CANONICAL, 0},
        {"8200 1800", HVCBOR_ERR_NON_CANONICAL, 2},
        {"1c", HVCBOR_ERR_MALFORMED, 0},
        {"1f", HVCBOR_ERR_MALFORMED, 0},
        {"5f 41 00 ff", HVCBOR_ERR_INDEFINITE, 0},
        {"7f ff", HVCBOR_ERR_INDEFINITE, 0},
        {"9f ff", HVCBOR_ERR_INDEFINITE, 0},
        {"bf ff", HVCBOR_ERR_INDEFINITE, 0},
        {"c0 00", HVCBOR_ERR_UNSUPPORTED, 0},
        {"f7", HVCBOR_ERR_UNSUPPORTED, 0},
        {"f93c00", HVCBOR_ERR_UNSUPPORTED, 0},
        {"fb3ff0000000000000", HVCBOR_ERR_UNSUPPORTED, 0},
        {"f820", HVCBOR_ERR_UNSUPPORTED, 0},
        {"e0", HVCBOR_ERR_UNSUPPORTED, 0},
        {"82 00 62c328", HVCBOR_ERR_BAD_UTF8, 2},
        {"63eda080", HVCBOR_ERR_BAD_UTF8, 0},
        {"62c080", HVCBOR_ERR_BAD_UTF8, 0},
        {"64f4908080", HVCBOR_ERR_BAD_UTF8, 0},
        {"61ff", HVCBOR_ERR_BAD_UTF8, 0},
        {"a2 01 00 01 00", HVCBOR_ERR_DUPLICATE_KEY, 3},
        {"a2 02 00 01 00", HVCBOR_ERR_KEY_ORDER, 3},
        {"a2 6161 00 01 00", HVCBOR_ERR_KEY_ORDER, 4},
        {"a2 20 00 19ffff 00", HVCBOR_ERR_KEY_ORDER, 3},
        {"a2 18ff 00 18ff 00", HVCBOR_ERR_DUPLICATE_KEY, 4},
        {"00 00", HVCBOR_ERR_TRAILING, 1},
        {"82 00", HVCBOR_ERR_TRUNCATED, 0},
        {"a1 00", HVCBOR_ERR_TRUNCATED, 0},
        {"5a ffffffff", HVCBOR_ERR_TOO_LONG, 0},
        {"59 0100 00", HVCBOR_ERR_TRUNCATED, 0},
        {"9b 0000000100000000", HVCBOR_ERR_TOO_MANY, 0},
        {"81818181818181818181818181818181 81 00", HVCBOR_ERR_TOO_DEEP, 16},
    };
    check_bad(b, sizeof(b) / sizeof(b[0]), NULL);

    struct hvcbor_limits lim = {.max_depth = 2, .max_items = 4, .max_string_bytes = 3};
    static const struct bad lb[] = {
        {"85 00 00 00 00 00", HVCBOR_ERR_TOO_MANY, 0},
        {"84 00 00 00 64 61616161", HVCBOR_ERR_TOO_LONG, 4},
        {"81 81 81 00", HVCBOR_ERR_TOO_DEEP, 2},
    };
    check_bad(lb, sizeof(lb) / sizeof(lb[0]), &lim);
    assert_int_equal(hvcbor_check("\x81\x81\x00", 3, &lim).code, HVCBOR_OK);
}

static void test_decode_accepts(void **state)
{
    static const char *good[] = {
        "00",
        "17",
        "1818",
        "1bffffffffffffffff",
        "3b7fffffffffffffff",
        "40",
        "60",
        "6449455446",
        "80",
        "a0",
        "f4",
        "f5",
        "f6",
        "a2 01 02 03 04",
        "a3 00 00 20 00 6161 00", /* keys 0, -1, "a": bytewise ascending */
        "a2 17 00 1818 00",
        "a2 18ff 00 190100 00",
        "a2 19ffff 00 20 00",
        "83 01 82 02 03 82 04 05",
        "62c3bc",
        "64f09f9880",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        uint8_t in[64];
        size_t n = unhex(good[i], in);
        struct hvcbor_error err = hvcbor_check(in, n, NULL);
        if (err.code != HVCBOR_OK)
            fail_msg("%s refused: %s at %u", good[i], hvcbor_err_name(err.code), err.offset);
    }
}

static void test_typed_decoding(void **state)
{
    uint8_t in[32];
    size_t n = unhex("86 3b7fffffffffffffff 3b8000000000000000 f5 f6 43010203 60", in);
    struct hvcbor_dec d;
    uint32_t count;
    int64_t iv;
    bool bv;
    struct hvcbor_str s;
    hvcbor_dec_init(&d, in, n, NULL);
    assert_true(hvcbor_dec_array(&d, &count));
    assert_int_equal(count, 6);
    assert_true(hvcbor_dec_int(&d, &iv));
    assert_true(iv == INT64_MIN);
    assert_false(hvcbor_dec_int(&d, &iv)); /* -2^64+..., below INT64_MIN */
    assert_int_equal(d.err.code, HVCBOR_ERR_RANGE);
    assert_int_equal(d.err.offset, 10);

    hvcbor_dec_init(&d, in, n, NULL);
    assert_true(hvcbor_dec_array(&d, &count));
    assert_true(hvcbor_dec_skip(&d));
    assert_true(hvcbor_dec_skip(&d));
    assert_false(hvcbor_dec_null(&d)); /* it is true */
    assert_int_equal(d.err.code, HVCBOR_ERR_WRONG_TYPE);
    assert_int_equal(d.err.offset, 19);

    hvcbor_dec_init(&d, in, n, NULL);
    assert_true(hvcbor_dec_array(&d, &count));
    assert_true(hvcbor_dec_skip(&d));
    assert_true(hvcbor_dec_skip(&d));
    assert_true(hvcbor_dec_bool(&d, &bv));
    assert_true(bv);
    assert_true(hvcbor_dec_null(&d));
    assert_true(hvcbor_dec_bytes(&d, &s));
    assert_int_equal(s.len, 3);
    assert_ptr_equal(s.ptr, in + 22); /* zero copy */
    assert_true(hvcbor_dec_text(&d, &s));
    assert_int_equal(s.len, 0);
    hvcbor_dec_leave(&d);
    assert_true(hvcbor_dec_finish(&d));
    /* a wrong-type call changes nothing but the sticky error */
    uint64_t u;
    hvcbor_dec_init(&d, in, n, NULL);
    assert_false(hvcbor_dec_uint(&d, &u));
    assert_int_equal(d.pos, 0);
    assert_false(hvcbor_dec_array(&d, &count)); /* sticky */
}

static void test_utf8(void **state)
{
    assert_true(hvcbor_utf8_valid((const uint8_t *)"", 0));
    assert_true(hvcbor_utf8_valid((const uint8_t *)"\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
    assert_false(hvcbor_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4));
    assert_false(hvcbor_utf8_valid((const uint8_t *)"\xe0\x80\xaf", 3));
    assert_false(hvcbor_utf8_valid((const uint8_t *)"\xed\xbf\xbf", 3));
    assert_false(hvcbor_utf8_valid((const uint8_t *)"\xe2\x82", 2));
    assert_false(hvcbor_utf8_valid((const uint8_t *)"\xf8\x88\x80\x80\x80", 5));
    /* the 8-byte ASCII fast path hands over to the byte loop correctly */
    assert_true(hvcbor_utf8_valid((const uint8_t *)"abcdefghijklmno\xc3\xa9xyz", 20));
    assert_false(hvcbor_utf8_valid((const uint8_t *)"abcdefgh\xff", 9));
    assert_false(hvcbor_utf8_valid((const uint8_t *)"abcdefg\xc3", 8));
    assert_false(hvcbor_utf8_valid((const uint8_t *)"abcdefghabcdefgh\xed\xa0\x80", 19));
}

/* Every prefix of a valid item is refused, and never read past its end
 * (ASan checks the reads: each prefix is copied to its own allocation). */
static void test_all_prefixes_truncated(void **state)
{
    uint8_t in[64];
    size_t n = unhex("a3 01 83 1903e8 62c3bc 420102 02 f5 03 a1 00 f6", in);
    assert_int_equal(hvcbor_check(in, n, NULL).code, HVCBOR_OK);
    for (size_t k = 0; k < n; k++) {
        uint8_t *p = test_malloc(k ? k : 1);
        memcpy(p, in, k);
        struct hvcbor_error err = hvcbor_check(p, k, NULL);
        assert_int_not_equal(err.code, HVCBOR_OK);
        test_free(p);
    }
}

/* Random well-formed libcbor trees: our decoder accepts libcbor's encoding
 * exactly when it is deterministic, and both agree on the tree. */
static void test_libcbor_agreement_random(void **state)
{
    uint64_t s = 42;
    for (int iter = 0; iter < 2000; iter++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t v = s >> (s & 63);
        cbor_item_t *arr = cbor_new_definite_array(3);
        cbor_item_t *x = v <= 0xff          ? cbor_build_uint8((uint8_t)v)
                         : v <= 0xffff      ? cbor_build_uint16((uint16_t)v)
                         : v <= 0xffffffffu ? cbor_build_uint32((uint32_t)v)
                                            : cbor_build_uint64(v);
        assert_true(cbor_array_push(arr, cbor_move(x)));
        assert_true(cbor_array_push(arr, cbor_move(cbor_build_negint64(v))));
        assert_true(
            cbor_array_push(arr, cbor_move(cbor_build_bytestring((const uint8_t *)&v, v & 7))));
        unsigned char *out = NULL;
        size_t outsz = 0, len = cbor_serialize_alloc(arr, &out, &outsz);
        assert_true(len > 0);
        struct hvcbor_error err = hvcbor_check(out, len, NULL);
        /* negint64 always uses 8 bytes: canonical only when the value needs them */
        bool canonical = v > 0xffffffffu;
        assert_int_equal(err.code, canonical ? HVCBOR_OK : HVCBOR_ERR_NON_CANONICAL);
        if (canonical) {
            struct hvcbor_dec d;
            uint32_t c;
            uint64_t got;
            int64_t neg;
            hvcbor_dec_init(&d, out, len, NULL);
            assert_true(hvcbor_dec_array(&d, &c));
            assert_true(hvcbor_dec_uint(&d, &got));
            assert_true(got == v);
            if (v <= (uint64_t)INT64_MAX) {
                assert_true(hvcbor_dec_int(&d, &neg));
                assert_true(neg == -(int64_t)v - 1);
            }
        }
        free(out);
        cbor_decref(&arr);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_rfc_vectors),
        cmocka_unit_test(test_encode_containers),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_decode_refusals),
        cmocka_unit_test(test_decode_accepts),
        cmocka_unit_test(test_typed_decoding),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_all_prefixes_truncated),
        cmocka_unit_test(test_libcbor_agreement_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
