/* Schema-less JSON rendering through libcbor (proto/host/cbor_json.c), as
 * hvctl --json uses it: exact output for known messages, and every catalog
 * message renders to valid JSON whose "0" and "2" are its type and id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <hv/cbor_json.h>
#include "proto_sample.h"

/* A strict little JSON checker (RFC 8259 grammar). */
struct jp {
    const char *s;
    int depth;
};

static void ws(struct jp *p)
{
    while (*p->s == ' ' || *p->s == '\n' || *p->s == '\t' || *p->s == '\r')
        p->s++;
}

static bool value(struct jp *p);

static bool string(struct jp *p)
{
    if (*p->s++ != '"')
        return false;
    while (*p->s != '"') {
        unsigned char c = (unsigned char)*p->s;
        if (c < 0x20 || c == 0)
            return false;
        if (c == '\\') {
            p->s++;
            if (*p->s == 'u') {
                for (int i = 1; i <= 4; i++) {
                    if (!strchr("0123456789abcdefABCDEF", p->s[i]) || !p->s[i])
                        return false;
                }
                p->s += 5;
                continue;
            }
            if (!*p->s || !strchr("\"\\/bfnrt", *p->s))
                return false;
        }
        p->s++;
    }
    p->s++;
    return true;
}

static bool number(struct jp *p)
{
    const char *start = p->s;
    if (*p->s == '-')
        p->s++;
    if (*p->s == '0')
        p->s++;
    else if (*p->s >= '1' && *p->s <= '9')
        while (*p->s >= '0' && *p->s <= '9')
            p->s++;
    else
        return false;
    return p->s > start;
}

static bool value(struct jp *p)
{
    ws(p);
    if (++p->depth > 100)
        return false;
    bool ok = false;
    if (*p->s == '{' || *p->s == '[') {
        char close = *p->s == '{' ? '}' : ']';
        bool obj = close == '}';
        p->s++;
        ws(p);
        if (*p->s == close) {
            p->s++;
            ok = true;
        } else {
            for (;;) {
                ws(p);
                if (obj) {
                    if (!string(p))
                        break;
                    ws(p);
                    if (*p->s++ != ':')
                        break;
                }
                if (!value(p))
                    break;
                ws(p);
                if (*p->s == ',') {
                    p->s++;
                    continue;
                }
                ok = *p->s++ == close;
                break;
            }
        }
    } else if (*p->s == '"') {
        ok = string(p);
    } else if (!strncmp(p->s, "true", 4) || !strncmp(p->s, "null", 4)) {
        p->s += 4;
        ok = true;
    } else if (!strncmp(p->s, "false", 5)) {
        p->s += 5;
        ok = true;
    } else {
        ok = number(p);
    }
    p->depth--;
    return ok;
}

static bool json_valid(const char *s)
{
    struct jp p = {s, 0};
    if (!value(&p))
        return false;
    ws(&p);
    return *p.s == 0;
}

static void test_exact(void **state)
{
    static const uint8_t hello[] = {0xa4, 0x00, 0x01, 0x02, 0x07, 0x04, 0x01,
                                    0x06, 0x64, 'h',  0xc3, 0xa9, '"'};
    char *j = proto_json_render(hello, sizeof(hello));
    assert_non_null(j);
    assert_string_equal(j, "{\"0\":1,\"2\":7,\"4\":1,\"6\":\"h\xc3\xa9\\\"\"}");
    free(j);
    /* bytes as base64url, negative ints, nested, control characters */
    static const uint8_t misc[] = {0x84, 0x43, 0xfb, 0xff, 0x01, 0x38, 0x63,
                                   0xa1, 0x20, 0xf6, 0x62, '\n', 0x01};
    j = proto_json_render(misc, sizeof(misc));
    assert_non_null(j);
    assert_string_equal(j, "[\"-_8B\",-100,{\"-1\":null},\"\\u000a\\u0001\"]");
    free(j);
    /* refused: non-canonical, trailing bytes, truncated, too deep */
    assert_null(proto_json_render((const uint8_t *)"\x18\x01", 2));
    assert_null(proto_json_render((const uint8_t *)"\x01\x01", 2));
    assert_null(proto_json_render((const uint8_t *)"\x82\x01", 2));
    uint8_t deep[40];
    memset(deep, 0x81, sizeof(deep));
    deep[39] = 0;
    assert_null(proto_json_render(deep, sizeof(deep)));
}

static uint8_t arena[1 << 20], buf[1 << 18];
static struct proto_msg msg;

static void test_every_message(void **state)
{
    for (uint32_t t = 0; t < PROTO_MSG_TYPES_COUNT; t++) {
        for (uint64_t seed = 1; seed <= 20; seed++) {
            struct ptest_rng r;
            struct hvcbor_error err;
            size_t len;
            ptest_rng_init(&r, seed, arena, sizeof(arena));
            proto_msg_sample(&msg, proto_msg_types[t], &r);
            assert_true(proto_msg_encode(&msg, buf, sizeof(buf), &len, &err));
            char *j = proto_json_render(buf, len);
            assert_non_null(j);
            if (!json_valid(j))
                fail_msg("%s: invalid JSON: %.200s", proto_msg_name(msg.type), j);
            char want[64];
            snprintf(want, sizeof(want), "{\"0\":%u,\"2\":%llu", (unsigned)msg.type,
                     (unsigned long long)proto_msg_request_id(&msg));
            assert_true(strncmp(j, want, strlen(want)) == 0);
            free(j);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact),
        cmocka_unit_test(test_every_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
