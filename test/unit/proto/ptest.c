/* Host-test support for the message catalog; see proto_sample.h. */
#include <stdlib.h>
#include <string.h>
#include "proto_sample.h"

void ptest_rng_init(struct ptest_rng *r, uint64_t seed, uint8_t *arena, size_t cap)
{
    r->s = seed * 0x9e3779b97f4a7c15ull + 1;
    r->arena = arena;
    r->cap = cap;
    r->used = 0;
}

uint64_t ptest_next(struct ptest_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545f4914f6cdd1dull;
}

uint64_t ptest_uint(struct ptest_rng *r, uint64_t lo, uint64_t hi)
{
    static const uint64_t edges[] = {
        0, 1, 23, 24, 255, 256, 65535, 65536, 0xffffffffull, 0x100000000ull, UINT64_MAX};
    uint64_t pick = ptest_next(r) % 16;
    if (pick < sizeof(edges) / sizeof(edges[0])) {
        uint64_t v = edges[pick];
        if (v >= lo && v <= hi)
            return v;
    }
    if (pick == 12)
        return lo;
    if (pick == 13)
        return hi;
    uint64_t span = hi - lo;
    uint64_t x = ptest_next(r);
    if (pick == 14)
        x &= 0xffff;
    return span == UINT64_MAX ? x : lo + x % (span + 1);
}

int64_t ptest_int(struct ptest_rng *r)
{
    uint64_t v = ptest_uint(r, 0, UINT64_MAX);
    return (int64_t)v;
}

uint64_t ptest_count(struct ptest_rng *r, uint64_t lo, uint64_t hi)
{
    uint64_t pick = ptest_next(r) % 8;
    if (pick == 0)
        return hi;
    if (pick == 1)
        return lo;
    uint64_t small = hi < lo + 4 ? hi : lo + 4;
    return lo + ptest_next(r) % (small - lo + 1);
}

struct hvcbor_str ptest_str(struct ptest_rng *r, uint32_t lo, uint32_t hi, bool text)
{
    uint32_t len = (uint32_t)ptest_count(r, lo, hi);
    if (len > 4 && (ptest_next(r) & 1)) {
        uint32_t cap = hi < 40 ? hi : 40;
        len = cap < lo ? lo : lo + (uint32_t)(ptest_next(r) % (cap - lo + 1));
    }
    if (r->used + len > r->cap)
        abort();
    uint8_t *p = r->arena + r->used;
    r->used += len;
    for (uint32_t i = 0; i < len; i++) {
        uint64_t x = ptest_next(r);
        if (!text) {
            p[i] = (uint8_t)x;
        } else if (i + 1 < len && x % 5 == 0) {
            p[i] = 0xc3; /* U+00E9 */
            p[++i] = 0xa9;
        } else {
            p[i] = (uint8_t)('a' + x % 26);
        }
    }
    return (struct hvcbor_str){p, len};
}

cbor_item_t *ptest_lc_uint(uint64_t v)
{
    if (v <= 0xff)
        return cbor_build_uint8((uint8_t)v);
    if (v <= 0xffff)
        return cbor_build_uint16((uint16_t)v);
    if (v <= 0xffffffffull)
        return cbor_build_uint32((uint32_t)v);
    return cbor_build_uint64(v);
}

cbor_item_t *ptest_lc_int(int64_t v)
{
    if (v >= 0)
        return ptest_lc_uint((uint64_t)v);
    uint64_t a = (uint64_t)(-(v + 1));
    cbor_item_t *it;
    if (a <= 0xff)
        it = cbor_build_negint8((uint8_t)a);
    else if (a <= 0xffff)
        it = cbor_build_negint16((uint16_t)a);
    else if (a <= 0xffffffffull)
        it = cbor_build_negint32((uint32_t)a);
    else
        it = cbor_build_negint64(a);
    return it;
}

void ptest_lc_add(cbor_item_t *map, uint64_t key, cbor_item_t *value)
{
    if (!cbor_map_add(map, (struct cbor_pair){.key = cbor_move(ptest_lc_uint(key)),
                                              .value = cbor_move(value)}))
        abort();
}

bool ptest_lc_equal(const cbor_item_t *a, const cbor_item_t *b)
{
    cbor_type ta = cbor_typeof(a);
    if (ta != cbor_typeof(b))
        return false;
    switch (ta) {
    case CBOR_TYPE_UINT:
    case CBOR_TYPE_NEGINT: return cbor_get_int(a) == cbor_get_int(b);
    case CBOR_TYPE_BYTESTRING:
        return cbor_bytestring_is_definite(a) && cbor_bytestring_is_definite(b) &&
               cbor_bytestring_length(a) == cbor_bytestring_length(b) &&
               memcmp(cbor_bytestring_handle(a), cbor_bytestring_handle(b),
                      cbor_bytestring_length(a)) == 0;
    case CBOR_TYPE_STRING:
        return cbor_string_is_definite(a) && cbor_string_is_definite(b) &&
               cbor_string_length(a) == cbor_string_length(b) &&
               memcmp(cbor_string_handle(a), cbor_string_handle(b), cbor_string_length(a)) == 0;
    case CBOR_TYPE_ARRAY:
        if (cbor_array_size(a) != cbor_array_size(b))
            return false;
        for (size_t i = 0; i < cbor_array_size(a); i++) {
            cbor_item_t *x = cbor_array_get(a, i), *y = cbor_array_get(b, i);
            bool eq = ptest_lc_equal(x, y);
            cbor_decref(&x);
            cbor_decref(&y);
            if (!eq)
                return false;
        }
        return true;
    case CBOR_TYPE_MAP: {
        if (cbor_map_size(a) != cbor_map_size(b))
            return false;
        struct cbor_pair *pa = cbor_map_handle(a), *pb = cbor_map_handle(b);
        for (size_t i = 0; i < cbor_map_size(a); i++) {
            if (!ptest_lc_equal(pa[i].key, pb[i].key) || !ptest_lc_equal(pa[i].value, pb[i].value))
                return false;
        }
        return true;
    }
    case CBOR_TYPE_FLOAT_CTRL:
        return cbor_float_get_width(a) == CBOR_FLOAT_0 && cbor_float_get_width(b) == CBOR_FLOAT_0 &&
               cbor_ctrl_value(a) == cbor_ctrl_value(b);
    default: return false;
    }
}
