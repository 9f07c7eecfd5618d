/*
 * The in-system CBOR codec. See hv/cbor.h for the contract. Freestanding:
 * no libc, no allocation; recursion only in hvcbor_dec_skip, bounded by
 * HVCBOR_HARD_MAX_DEPTH.
 */
#include <hv/cbor.h>

/* ---- Encoder ---- */

void hvcbor_enc_init(struct hvcbor_enc *e, void *buf, size_t cap)
{
    e->buf = buf;
    e->cap = cap;
    e->len = 0;
    e->err = buf == NULL && cap != 0 ? HVCBOR_ERR_INVALID_ARG : HVCBOR_OK;
}

static void enc_put(struct hvcbor_enc *e, const void *p, size_t n)
{
    if (e->err != HVCBOR_OK)
        return;
    if (n > e->cap - e->len) {
        e->err = HVCBOR_ERR_BUFFER_FULL;
        return;
    }
    const uint8_t *s = p;
    for (size_t i = 0; i < n; i++)
        e->buf[e->len + i] = s[i];
    e->len += n;
}

/* Writes an item head in its shortest form (deterministic encoding). */
static void enc_head(struct hvcbor_enc *e, unsigned major, uint64_t v)
{
    uint8_t h[9];
    size_t n;
    uint8_t mt = (uint8_t)(major << 5);
    if (v < 24) {
        h[0] = (uint8_t)(mt | v);
        n = 1;
    } else if (v <= 0xff) {
        h[0] = mt | 24;
        h[1] = (uint8_t)v;
        n = 2;
    } else if (v <= 0xffff) {
        h[0] = mt | 25;
        h[1] = (uint8_t)(v >> 8);
        h[2] = (uint8_t)v;
        n = 3;
    } else if (v <= 0xffffffffu) {
        h[0] = mt | 26;
        for (int i = 0; i < 4; i++)
            h[1 + i] = (uint8_t)(v >> (24 - 8 * i));
        n = 5;
    } else {
        h[0] = mt | 27;
        for (int i = 0; i < 8; i++)
            h[1 + i] = (uint8_t)(v >> (56 - 8 * i));
        n = 9;
    }
    enc_put(e, h, n);
}

void hvcbor_enc_uint(struct hvcbor_enc *e, uint64_t v)
{
    enc_head(e, HVCBOR_MAJOR_UINT, v);
}

void hvcbor_enc_int(struct hvcbor_enc *e, int64_t v)
{
    if (v >= 0)
        enc_head(e, HVCBOR_MAJOR_UINT, (uint64_t)v);
    else
        enc_head(e, HVCBOR_MAJOR_NINT, (uint64_t)(-(v + 1)));
}

void hvcbor_enc_bool(struct hvcbor_enc *e, bool v)
{
    uint8_t b = v ? 0xf5 : 0xf4;
    enc_put(e, &b, 1);
}

void hvcbor_enc_null(struct hvcbor_enc *e)
{
    uint8_t b = 0xf6;
    enc_put(e, &b, 1);
}

void hvcbor_enc_bytes(struct hvcbor_enc *e, const void *p, size_t len)
{
    if (p == NULL && len != 0 && e->err == HVCBOR_OK)
        e->err = HVCBOR_ERR_INVALID_ARG;
    enc_head(e, HVCBOR_MAJOR_BYTES, len);
    enc_put(e, p, len);
}

void hvcbor_enc_text(struct hvcbor_enc *e, const void *p, size_t len)
{
    if (e->err == HVCBOR_OK && p == NULL && len != 0)
        e->err = HVCBOR_ERR_INVALID_ARG;
    if (e->err == HVCBOR_OK && !hvcbor_utf8_valid(p, len))
        e->err = HVCBOR_ERR_BAD_UTF8;
    enc_head(e, HVCBOR_MAJOR_TEXT, len);
    enc_put(e, p, len);
}

void hvcbor_enc_array(struct hvcbor_enc *e, uint64_t count)
{
    enc_head(e, HVCBOR_MAJOR_ARRAY, count);
}
void hvcbor_enc_map(struct hvcbor_enc *e, uint64_t pairs)
{
    enc_head(e, HVCBOR_MAJOR_MAP, pairs);
}

enum hvcbor_err hvcbor_enc_finish(const struct hvcbor_enc *e, size_t *len_out)
{
    if (len_out)
        *len_out = e->err == HVCBOR_OK ? e->len : 0;
    return e->err;
}

/* ---- UTF-8 ---- */

bool hvcbor_utf8_valid(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        /* ASCII fast path: 8 bytes at a time while no byte has bit 7 set. */
        if (len - i >= 8) {
            uint64_t w;
            __builtin_memcpy(&w, p + i, 8);
            if ((w & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n > len - i - 1)
            return false;
        for (size_t k = 1; k <= n; k++) {
            uint8_t cc = p[i + k];
            if ((cc & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/* ---- Decoder ---- */

void hvcbor_dec_init(struct hvcbor_dec *d, const void *buf, size_t len,
                     const struct hvcbor_limits *limits)
{
    d->buf = buf;
    d->len = buf ? len : 0;
    d->pos = 0;
    d->depth = 0;
    d->lim.max_depth = HVCBOR_DEFAULT_MAX_DEPTH;
    d->lim.max_items = HVCBOR_DEFAULT_MAX_ITEMS;
    d->lim.max_string_bytes = HVCBOR_DEFAULT_MAX_STRING;
    if (limits) {
        if (limits->max_depth)
            d->lim.max_depth = limits->max_depth;
        if (limits->max_items)
            d->lim.max_items = limits->max_items;
        if (limits->max_string_bytes)
            d->lim.max_string_bytes = limits->max_string_bytes;
    }
    if (d->lim.max_depth > HVCBOR_HARD_MAX_DEPTH)
        d->lim.max_depth = HVCBOR_HARD_MAX_DEPTH;
    d->err.code = HVCBOR_OK;
    d->err.offset = 0;
    d->err.key = HVCBOR_NO_KEY;
    d->cur_key = HVCBOR_NO_KEY;
}

bool hvcbor_dec_ok(const struct hvcbor_dec *d)
{
    return d->err.code == HVCBOR_OK;
}

bool hvcbor_dec_fail(struct hvcbor_dec *d, enum hvcbor_err code, size_t offset)
{
    if (d->err.code == HVCBOR_OK) {
        d->err.code = code;
        d->err.offset = offset > UINT32_MAX ? UINT32_MAX : (uint32_t)offset;
        d->err.key = d->cur_key;
    }
    return false;
}

bool hvcbor_dec_at_end(const struct hvcbor_dec *d)
{
    return d->pos >= d->len;
}

bool hvcbor_dec_peek(struct hvcbor_dec *d, enum hvcbor_major *major)
{
    if (!hvcbor_dec_ok(d) || d->pos >= d->len)
        return false;
    *major = (enum hvcbor_major)(d->buf[d->pos] >> 5);
    return true;
}

/*
 * Reads one item head at d->pos: its major type and argument. Refuses
 * reserved and indefinite forms and non-shortest arguments. On success the
 * position moves past the head; on failure nothing moves.
 */
static bool dec_head(struct hvcbor_dec *d, unsigned *major, uint64_t *arg)
{
    size_t at = d->pos;
    if (!hvcbor_dec_ok(d))
        return false;
    if (at >= d->len)
        return hvcbor_dec_fail(d, HVCBOR_ERR_TRUNCATED, at);
    uint8_t ib = d->buf[at];
    unsigned mt = ib >> 5, ai = ib & 0x1f;
    uint64_t v;
    size_t n;
    if (ai < 24) {
        v = ai;
        n = 0;
    } else if (ai <= 27) {
        n = (size_t)1 << (ai - 24);
        if (n > d->len - at - 1)
            return hvcbor_dec_fail(d, HVCBOR_ERR_TRUNCATED, at);
        v = 0;
        for (size_t i = 0; i < n; i++)
            v = (v << 8) | d->buf[at + 1 + i];
        /* Simple values and floats use the argument differently. */
        if (mt != HVCBOR_MAJOR_SIMPLE) {
            uint64_t min = ai == 24 ? 24 : ai == 25 ? 0x100 : ai == 26 ? 0x10000 : 0x100000000ull;
            if (v < min)
                return hvcbor_dec_fail(d, HVCBOR_ERR_NON_CANONICAL, at);
        }
    } else if (ai == 31) {
        return hvcbor_dec_fail(d,
                               mt == HVCBOR_MAJOR_UINT || mt == HVCBOR_MAJOR_NINT ||
                                       mt == HVCBOR_MAJOR_TAG
                                   ? HVCBOR_ERR_MALFORMED
                                   : HVCBOR_ERR_INDEFINITE,
                               at);
    } else {
        return hvcbor_dec_fail(d, HVCBOR_ERR_MALFORMED, at);
    }
    if (mt == HVCBOR_MAJOR_TAG)
        return hvcbor_dec_fail(d, HVCBOR_ERR_UNSUPPORTED, at);
    if (mt == HVCBOR_MAJOR_SIMPLE) {
        /* Only false, true and null, in their one-byte form. */
        if (ai != 20 && ai != 21 && ai != 22)
            return hvcbor_dec_fail(d, HVCBOR_ERR_UNSUPPORTED, at);
    }
    *major = mt;
    *arg = v;
    d->pos = at + 1 + n;
    return true;
}

/* Reads a head and requires a given major type; restores position on a type error. */
static bool dec_expect(struct hvcbor_dec *d, unsigned want, uint64_t *arg)
{
    size_t at = d->pos;
    unsigned mt;
    if (!dec_head(d, &mt, arg))
        return false;
    if (mt != want) {
        d->pos = at;
        return hvcbor_dec_fail(d, HVCBOR_ERR_WRONG_TYPE, at);
    }
    return true;
}

bool hvcbor_dec_uint(struct hvcbor_dec *d, uint64_t *v)
{
    return dec_expect(d, HVCBOR_MAJOR_UINT, v);
}

bool hvcbor_dec_int(struct hvcbor_dec *d, int64_t *v)
{
    size_t at = d->pos;
    unsigned mt;
    uint64_t a;
    if (!dec_head(d, &mt, &a))
        return false;
    if (mt != HVCBOR_MAJOR_UINT && mt != HVCBOR_MAJOR_NINT) {
        d->pos = at;
        return hvcbor_dec_fail(d, HVCBOR_ERR_WRONG_TYPE, at);
    }
    if (a > (uint64_t)INT64_MAX) {
        d->pos = at;
        return hvcbor_dec_fail(d, HVCBOR_ERR_RANGE, at);
    }
    *v = mt == HVCBOR_MAJOR_UINT ? (int64_t)a : -(int64_t)a - 1;
    return true;
}

static bool dec_simple(struct hvcbor_dec *d, uint64_t *which)
{
    return dec_expect(d, HVCBOR_MAJOR_SIMPLE, which);
}

bool hvcbor_dec_bool(struct hvcbor_dec *d, bool *v)
{
    size_t at = d->pos;
    uint64_t s;
    if (!dec_simple(d, &s))
        return false;
    if (s != 20 && s != 21) {
        d->pos = at;
        return hvcbor_dec_fail(d, HVCBOR_ERR_WRONG_TYPE, at);
    }
    *v = s == 21;
    return true;
}

bool hvcbor_dec_null(struct hvcbor_dec *d)
{
    size_t at = d->pos;
    uint64_t s;
    if (!dec_simple(d, &s))
        return false;
    if (s != 22) {
        d->pos = at;
        return hvcbor_dec_fail(d, HVCBOR_ERR_WRONG_TYPE, at);
    }
    return true;
}

static bool dec_string(struct hvcbor_dec *d, unsigned major, struct hvcbor_str *s)
{
    size_t at = d->pos;
    uint64_t n;
    if (!dec_expect(d, major, &n))
        return false;
    if (n > d->lim.max_string_bytes) {
        d->pos = at;
        return hvcbor_dec_fail(d, HVCBOR_ERR_TOO_LONG, at);
    }
    if (n > d->len - d->pos) {
        d->pos = at;
        return hvcbor_dec_fail(d, HVCBOR_ERR_TRUNCATED, at);
    }
    const uint8_t *p = d->buf + d->pos;
    if (major == HVCBOR_MAJOR_TEXT && !hvcbor_utf8_valid(p, (size_t)n)) {
        d->pos = at;
        return hvcbor_dec_fail(d, HVCBOR_ERR_BAD_UTF8, at);
    }
    s->ptr = p;
    s->len = (uint32_t)n;
    d->pos += (size_t)n;
    return true;
}

bool hvcbor_dec_bytes(struct hvcbor_dec *d, struct hvcbor_str *s)
{
    return dec_string(d, HVCBOR_MAJOR_BYTES, s);
}
bool hvcbor_dec_text(struct hvcbor_dec *d, struct hvcbor_str *s)
{
    return dec_string(d, HVCBOR_MAJOR_TEXT, s);
}

/* Opens a container. Every element needs at least one byte (a map pair two),
 * so a count larger than the bytes left is truncated input, caught here
 * before any caller loops over it. */
static bool dec_container(struct hvcbor_dec *d, unsigned major, uint32_t *count)
{
    size_t at = d->pos;
    uint64_t n;
    if (!dec_expect(d, major, &n))
        return false;
    if (d->depth >= d->lim.max_depth) {
        d->pos = at;
        return hvcbor_dec_fail(d, HVCBOR_ERR_TOO_DEEP, at);
    }
    if (n > d->lim.max_items) {
        d->pos = at;
        return hvcbor_dec_fail(d, HVCBOR_ERR_TOO_MANY, at);
    }
    uint64_t min_bytes = major == HVCBOR_MAJOR_MAP ? 2 * n : n;
    if (min_bytes > d->len - d->pos) {
        d->pos = at;
        return hvcbor_dec_fail(d, HVCBOR_ERR_TRUNCATED, at);
    }
    d->depth++;
    *count = (uint32_t)n;
    return true;
}

bool hvcbor_dec_array(struct hvcbor_dec *d, uint32_t *count)
{
    return dec_container(d, HVCBOR_MAJOR_ARRAY, count);
}
bool hvcbor_dec_map(struct hvcbor_dec *d, uint32_t *pairs)
{
    return dec_container(d, HVCBOR_MAJOR_MAP, pairs);
}

void hvcbor_dec_leave(struct hvcbor_dec *d)
{
    if (d->depth > 0)
        d->depth--;
}

/* Bytewise comparison of two encoded keys (RFC 8949 4.2.1 order). */
static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    }
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

bool hvcbor_dec_skip(struct hvcbor_dec *d)
{
    enum hvcbor_major mt;
    struct hvcbor_str s;
    uint32_t n;
    uint64_t u;
    if (!hvcbor_dec_ok(d))
        return false;
    if (!hvcbor_dec_peek(d, &mt))
        return hvcbor_dec_fail(d, HVCBOR_ERR_TRUNCATED, d->pos);
    switch (mt) {
    case HVCBOR_MAJOR_UINT:
    case HVCBOR_MAJOR_NINT:
    case HVCBOR_MAJOR_TAG:
    case HVCBOR_MAJOR_SIMPLE: {
        unsigned m;
        return dec_head(d, &m, &u);
    }
    case HVCBOR_MAJOR_BYTES: return hvcbor_dec_bytes(d, &s);
    case HVCBOR_MAJOR_TEXT: return hvcbor_dec_text(d, &s);
    case HVCBOR_MAJOR_ARRAY:
        if (!hvcbor_dec_array(d, &n))
            return false;
        for (uint32_t i = 0; i < n; i++) {
            if (!hvcbor_dec_skip(d))
                return false;
        }
        hvcbor_dec_leave(d);
        return true;
    case HVCBOR_MAJOR_MAP: {
        if (!hvcbor_dec_map(d, &n))
            return false;
        size_t prev_start = 0, prev_end = 0;
        for (uint32_t i = 0; i < n; i++) {
            size_t ks = d->pos;
            if (!hvcbor_dec_skip(d))
                return false;
            size_t ke = d->pos;
            if (i > 0) {
                int c = key_cmp(d->buf + prev_start, prev_end - prev_start, d->buf + ks, ke - ks);
                if (c == 0)
                    return hvcbor_dec_fail(d, HVCBOR_ERR_DUPLICATE_KEY, ks);
                if (c > 0)
                    return hvcbor_dec_fail(d, HVCBOR_ERR_KEY_ORDER, ks);
            }
            prev_start = ks;
            prev_end = ke;
            if (!hvcbor_dec_skip(d))
                return false;
        }
        hvcbor_dec_leave(d);
        return true;
    }
    }
    return hvcbor_dec_fail(d, HVCBOR_ERR_MALFORMED, d->pos);
}

bool hvcbor_dec_finish(struct hvcbor_dec *d)
{
    if (!hvcbor_dec_ok(d))
        return false;
    if (d->pos != d->len)
        return hvcbor_dec_fail(d, HVCBOR_ERR_TRAILING, d->pos);
    return true;
}

struct hvcbor_error hvcbor_check(const void *buf, size_t len, const struct hvcbor_limits *limits)
{
    struct hvcbor_dec d;
    hvcbor_dec_init(&d, buf, len, limits);
    if (hvcbor_dec_skip(&d))
        hvcbor_dec_finish(&d);
    return d.err;
}

const char *hvcbor_err_name(enum hvcbor_err code)
{
    static const char *const names[HVCBOR_ERR_COUNT] = {
        [HVCBOR_OK] = "ok",
        [HVCBOR_ERR_TRUNCATED] = "truncated input",
        [HVCBOR_ERR_MALFORMED] = "malformed item head",
        [HVCBOR_ERR_INDEFINITE] = "indefinite length",
        [HVCBOR_ERR_NON_CANONICAL] = "non-shortest integer or length",
        [HVCBOR_ERR_UNSUPPORTED] = "unsupported item (tag, float or simple value)",
        [HVCBOR_ERR_WRONG_TYPE] = "wrong type",
        [HVCBOR_ERR_TOO_DEEP] = "nested too deep",
        [HVCBOR_ERR_TOO_MANY] = "too many elements",
        [HVCBOR_ERR_TOO_LONG] = "string too long",
        [HVCBOR_ERR_RANGE] = "value out of range",
        [HVCBOR_ERR_BAD_UTF8] = "invalid UTF-8",
        [HVCBOR_ERR_KEY_ORDER] = "map keys out of order",
        [HVCBOR_ERR_DUPLICATE_KEY] = "duplicate map key",
        [HVCBOR_ERR_TRAILING] = "trailing bytes",
        [HVCBOR_ERR_UNKNOWN_KEY] = "unknown required key",
        [HVCBOR_ERR_MISSING_KEY] = "missing required key",
        [HVCBOR_ERR_UNKNOWN_TYPE] = "unknown message type",
        [HVCBOR_ERR_BUFFER_FULL] = "output buffer full",
        [HVCBOR_ERR_INVALID_ARG] = "invalid argument",
    };
    if ((unsigned)code >= HVCBOR_ERR_COUNT)
        return "unknown error";
    return names[code];
}
