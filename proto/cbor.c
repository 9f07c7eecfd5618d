/*
 * The in-system CBOR codec. See hv/cbor.h for the contract. Freestanding:
 * no libc, no allocation; recursion only in cbor_dec_skip, bounded by
 * CBOR_HARD_MAX_DEPTH.
 */
#include <hv/cbor.h>

/* ---- Encoder ---- */

void cbor_enc_init(struct cbor_enc *e, void *buf, size_t cap)
{
    e->buf = buf;
    e->cap = cap;
    e->len = 0;
    e->err = buf == NULL && cap != 0 ? CBOR_ERR_INVALID_ARG : CBOR_OK;
}

static void enc_put(struct cbor_enc *e, const void *p, size_t n)
{
    if (e->err != CBOR_OK)
        return;
    if (n > e->cap - e->len) {
        e->err = CBOR_ERR_BUFFER_FULL;
        return;
    }
    const uint8_t *s = p;
    for (size_t i = 0; i < n; i++)
        e->buf[e->len + i] = s[i];
    e->len += n;
}

/* Writes an item head in its shortest form (deterministic encoding). */
static void enc_head(struct cbor_enc *e, unsigned major, uint64_t v)
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

void cbor_enc_uint(struct cbor_enc *e, uint64_t v) { enc_head(e, CBOR_MAJOR_UINT, v); }

void cbor_enc_int(struct cbor_enc *e, int64_t v)
{
    if (v >= 0)
        enc_head(e, CBOR_MAJOR_UINT, (uint64_t)v);
    else
        enc_head(e, CBOR_MAJOR_NINT, (uint64_t)(-(v + 1)));
}

void cbor_enc_bool(struct cbor_enc *e, bool v)
{
    uint8_t b = v ? 0xf5 : 0xf4;
    enc_put(e, &b, 1);
}

void cbor_enc_null(struct cbor_enc *e)
{
    uint8_t b = 0xf6;
    enc_put(e, &b, 1);
}

void cbor_enc_bytes(struct cbor_enc *e, const void *p, size_t len)
{
    if (p == NULL && len != 0 && e->err == CBOR_OK)
        e->err = CBOR_ERR_INVALID_ARG;
    enc_head(e, CBOR_MAJOR_BYTES, len);
    enc_put(e, p, len);
}

void cbor_enc_text(struct cbor_enc *e, const void *p, size_t len)
{
    if (e->err == CBOR_OK && p == NULL && len != 0)
        e->err = CBOR_ERR_INVALID_ARG;
    if (e->err == CBOR_OK && !cbor_utf8_valid(p, len))
        e->err = CBOR_ERR_BAD_UTF8;
    enc_head(e, CBOR_MAJOR_TEXT, len);
    enc_put(e, p, len);
}

void cbor_enc_array(struct cbor_enc *e, uint64_t count) { enc_head(e, CBOR_MAJOR_ARRAY, count); }
void cbor_enc_map(struct cbor_enc *e, uint64_t pairs) { enc_head(e, CBOR_MAJOR_MAP, pairs); }

enum cbor_err cbor_enc_finish(const struct cbor_enc *e, size_t *len_out)
{
    if (len_out)
        *len_out = e->err == CBOR_OK ? e->len : 0;
    return e->err;
}

/* ---- UTF-8 ---- */

bool cbor_utf8_valid(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
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

void cbor_dec_init(struct cbor_dec *d, const void *buf, size_t len,
                   const struct cbor_limits *limits)
{
    d->buf = buf;
    d->len = buf ? len : 0;
    d->pos = 0;
    d->depth = 0;
    d->lim.max_depth = CBOR_DEFAULT_MAX_DEPTH;
    d->lim.max_items = CBOR_DEFAULT_MAX_ITEMS;
    d->lim.max_string_bytes = CBOR_DEFAULT_MAX_STRING;
    if (limits) {
        if (limits->max_depth)
            d->lim.max_depth = limits->max_depth;
        if (limits->max_items)
            d->lim.max_items = limits->max_items;
        if (limits->max_string_bytes)
            d->lim.max_string_bytes = limits->max_string_bytes;
    }
    if (d->lim.max_depth > CBOR_HARD_MAX_DEPTH)
        d->lim.max_depth = CBOR_HARD_MAX_DEPTH;
    d->err.code = CBOR_OK;
    d->err.offset = 0;
    d->err.key = CBOR_NO_KEY;
    d->cur_key = CBOR_NO_KEY;
}

bool cbor_dec_ok(const struct cbor_dec *d) { return d->err.code == CBOR_OK; }

bool cbor_dec_fail(struct cbor_dec *d, enum cbor_err code, size_t offset)
{
    if (d->err.code == CBOR_OK) {
        d->err.code = code;
        d->err.offset = offset > UINT32_MAX ? UINT32_MAX : (uint32_t)offset;
        d->err.key = d->cur_key;
    }
    return false;
}

bool cbor_dec_at_end(const struct cbor_dec *d) { return d->pos >= d->len; }

bool cbor_dec_peek(struct cbor_dec *d, enum cbor_major *major)
{
    if (!cbor_dec_ok(d) || d->pos >= d->len)
        return false;
    *major = (enum cbor_major)(d->buf[d->pos] >> 5);
    return true;
}

/*
 * Reads one item head at d->pos: its major type and argument. Refuses
 * reserved and indefinite forms and non-shortest arguments. On success the
 * position moves past the head; on failure nothing moves.
 */
static bool dec_head(struct cbor_dec *d, unsigned *major, uint64_t *arg)
{
    size_t at = d->pos;
    if (!cbor_dec_ok(d))
        return false;
    if (at >= d->len)
        return cbor_dec_fail(d, CBOR_ERR_TRUNCATED, at);
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
            return cbor_dec_fail(d, CBOR_ERR_TRUNCATED, at);
        v = 0;
        for (size_t i = 0; i < n; i++)
            v = (v << 8) | d->buf[at + 1 + i];
        /* Simple values and floats use the argument differently. */
        if (mt != CBOR_MAJOR_SIMPLE) {
            uint64_t min = ai == 24 ? 24 : ai == 25 ? 0x100 : ai == 26 ? 0x10000 : 0x100000000ull;
            if (v < min)
                return cbor_dec_fail(d, CBOR_ERR_NON_CANONICAL, at);
        }
    } else if (ai == 31) {
        return cbor_dec_fail(d, mt == CBOR_MAJOR_UINT || mt == CBOR_MAJOR_NINT ||
                                        mt == CBOR_MAJOR_TAG
                                    ? CBOR_ERR_MALFORMED
                                    : CBOR_ERR_INDEFINITE,
                             at);
    } else {
        return cbor_dec_fail(d, CBOR_ERR_MALFORMED, at);
    }
    if (mt == CBOR_MAJOR_TAG)
        return cbor_dec_fail(d, CBOR_ERR_UNSUPPORTED, at);
    if (mt == CBOR_MAJOR_SIMPLE) {
        /* Only false, true and null, in their one-byte form. */
        if (ai != 20 && ai != 21 && ai != 22)
            return cbor_dec_fail(d, CBOR_ERR_UNSUPPORTED, at);
    }
    *major = mt;
    *arg = v;
    d->pos = at + 1 + n;
    return true;
}

/* Reads a head and requires a given major type; restores position on a type error. */
static bool dec_expect(struct cbor_dec *d, unsigned want, uint64_t *arg)
{
    size_t at = d->pos;
    unsigned mt;
    if (!dec_head(d, &mt, arg))
        return false;
    if (mt != want) {
        d->pos = at;
        return cbor_dec_fail(d, CBOR_ERR_WRONG_TYPE, at);
    }
    return true;
}

bool cbor_dec_uint(struct cbor_dec *d, uint64_t *v) { return dec_expect(d, CBOR_MAJOR_UINT, v); }

bool cbor_dec_int(struct cbor_dec *d, int64_t *v)
{
    size_t at = d->pos;
    unsigned mt;
    uint64_t a;
    if (!dec_head(d, &mt, &a))
        return false;
    if (mt != CBOR_MAJOR_UINT && mt != CBOR_MAJOR_NINT) {
        d->pos = at;
        return cbor_dec_fail(d, CBOR_ERR_WRONG_TYPE, at);
    }
    if (a > (uint64_t)INT64_MAX) {
        d->pos = at;
        return cbor_dec_fail(d, CBOR_ERR_RANGE, at);
    }
    *v = mt == CBOR_MAJOR_UINT ? (int64_t)a : -(int64_t)a - 1;
    return true;
}

static bool dec_simple(struct cbor_dec *d, uint64_t *which)
{
    return dec_expect(d, CBOR_MAJOR_SIMPLE, which);
}

bool cbor_dec_bool(struct cbor_dec *d, bool *v)
{
    size_t at = d->pos;
    uint64_t s;
    if (!dec_simple(d, &s))
        return false;
    if (s != 20 && s != 21) {
        d->pos = at;
        return cbor_dec_fail(d, CBOR_ERR_WRONG_TYPE, at);
    }
    *v = s == 21;
    return true;
}

bool cbor_dec_null(struct cbor_dec *d)
{
    size_t at = d->pos;
    uint64_t s;
    if (!dec_simple(d, &s))
        return false;
    if (s != 22) {
        d->pos = at;
        return cbor_dec_fail(d, CBOR_ERR_WRONG_TYPE, at);
    }
    return true;
}

static bool dec_string(struct cbor_dec *d, unsigned major, struct cbor_str *s)
{
    size_t at = d->pos;
    uint64_t n;
    if (!dec_expect(d, major, &n))
        return false;
    if (n > d->lim.max_string_bytes) {
        d->pos = at;
        return cbor_dec_fail(d, CBOR_ERR_TOO_LONG, at);
    }
    if (n > d->len - d->pos) {
        d->pos = at;
        return cbor_dec_fail(d, CBOR_ERR_TRUNCATED, at);
    }
    const uint8_t *p = d->buf + d->pos;
    if (major == CBOR_MAJOR_TEXT && !cbor_utf8_valid(p, (size_t)n)) {
        d->pos = at;
        return cbor_dec_fail(d, CBOR_ERR_BAD_UTF8, at);
    }
    s->ptr = p;
    s->len = (uint32_t)n;
    d->pos += (size_t)n;
    return true;
}

bool cbor_dec_bytes(struct cbor_dec *d, struct cbor_str *s) { return dec_string(d, CBOR_MAJOR_BYTES, s); }
bool cbor_dec_text(struct cbor_dec *d, struct cbor_str *s) { return dec_string(d, CBOR_MAJOR_TEXT, s); }

/* Opens a container. Every element needs at least one byte (a map pair two),
 * so a count larger than the bytes left is truncated input, caught here
 * before any caller loops over it. */
static bool dec_container(struct cbor_dec *d, unsigned major, uint32_t *count)
{
    size_t at = d->pos;
    uint64_t n;
    if (!dec_expect(d, major, &n))
        return false;
    if (d->depth >= d->lim.max_depth) {
        d->pos = at;
        return cbor_dec_fail(d, CBOR_ERR_TOO_DEEP, at);
    }
    if (n > d->lim.max_items) {
        d->pos = at;
        return cbor_dec_fail(d, CBOR_ERR_TOO_MANY, at);
    }
    uint64_t min_bytes = major == CBOR_MAJOR_MAP ? 2 * n : n;
    if (min_bytes > d->len - d->pos) {
        d->pos = at;
        return cbor_dec_fail(d, CBOR_ERR_TRUNCATED, at);
    }
    d->depth++;
    *count = (uint32_t)n;
    return true;
}

bool cbor_dec_array(struct cbor_dec *d, uint32_t *count) { return dec_container(d, CBOR_MAJOR_ARRAY, count); }
bool cbor_dec_map(struct cbor_dec *d, uint32_t *pairs) { return dec_container(d, CBOR_MAJOR_MAP, pairs); }

void cbor_dec_leave(struct cbor_dec *d)
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

bool cbor_dec_skip(struct cbor_dec *d)
{
    enum cbor_major mt;
    struct cbor_str s;
    uint32_t n;
    uint64_t u;
    if (!cbor_dec_ok(d))
        return false;
    if (!cbor_dec_peek(d, &mt))
        return cbor_dec_fail(d, CBOR_ERR_TRUNCATED, d->pos);
    switch (mt) {
    case CBOR_MAJOR_UINT:
    case CBOR_MAJOR_NINT:
    case CBOR_MAJOR_TAG:
    case CBOR_MAJOR_SIMPLE: {
        unsigned m;
        return dec_head(d, &m, &u);
    }
    case CBOR_MAJOR_BYTES:
        return cbor_dec_bytes(d, &s);
    case CBOR_MAJOR_TEXT:
        return cbor_dec_text(d, &s);
    case CBOR_MAJOR_ARRAY:
        if (!cbor_dec_array(d, &n))
            return false;
        for (uint32_t i = 0; i < n; i++) {
            if (!cbor_dec_skip(d))
                return false;
        }
        cbor_dec_leave(d);
        return true;
    case CBOR_MAJOR_MAP: {
        if (!cbor_dec_map(d, &n))
            return false;
        size_t prev_start = 0, prev_end = 0;
        for (uint32_t i = 0; i < n; i++) {
            size_t ks = d->pos;
            if (!cbor_dec_skip(d))
                return false;
            size_t ke = d->pos;
            if (i > 0) {
                int c = key_cmp(d->buf + prev_start, prev_end - prev_start, d->buf + ks, ke - ks);
                if (c == 0)
                    return cbor_dec_fail(d, CBOR_ERR_DUPLICATE_KEY, ks);
                if (c > 0)
                    return cbor_dec_fail(d, CBOR_ERR_KEY_ORDER, ks);
            }
            prev_start = ks;
            prev_end = ke;
            if (!cbor_dec_skip(d))
                return false;
        }
        cbor_dec_leave(d);
        return true;
    }
    }
    return cbor_dec_fail(d, CBOR_ERR_MALFORMED, d->pos);
}

bool cbor_dec_finish(struct cbor_dec *d)
{
    if (!cbor_dec_ok(d))
        return false;
    if (d->pos != d->len)
        return cbor_dec_fail(d, CBOR_ERR_TRAILING, d->pos);
    return true;
}

struct cbor_error cbor_check(const void *buf, size_t len, const struct cbor_limits *limits)
{
    struct cbor_dec d;
    cbor_dec_init(&d, buf, len, limits);
    if (cbor_dec_skip(&d))
        cbor_dec_finish(&d);
    return d.err;
}

const char *cbor_err_name(enum cbor_err code)
{
    static const char *const names[CBOR_ERR_COUNT] = {
        [CBOR_OK] = "ok",
        [CBOR_ERR_TRUNCATED] = "truncated input",
        [CBOR_ERR_MALFORMED] = "malformed item head",
        [CBOR_ERR_INDEFINITE] = "indefinite length",
        [CBOR_ERR_NON_CANONICAL] = "non-shortest integer or length",
        [CBOR_ERR_UNSUPPORTED] = "unsupported item (tag, float or simple value)",
        [CBOR_ERR_WRONG_TYPE] = "wrong type",
        [CBOR_ERR_TOO_DEEP] = "nested too deep",
        [CBOR_ERR_TOO_MANY] = "too many elements",
        [CBOR_ERR_TOO_LONG] = "string too long",
        [CBOR_ERR_RANGE] = "value out of range",
        [CBOR_ERR_BAD_UTF8] = "invalid UTF-8",
        [CBOR_ERR_KEY_ORDER] = "map keys out of order",
        [CBOR_ERR_DUPLICATE_KEY] = "duplicate map key",
        [CBOR_ERR_TRAILING] = "trailing bytes",
        [CBOR_ERR_UNKNOWN_KEY] = "unknown required key",
        [CBOR_ERR_MISSING_KEY] = "missing required key",
        [CBOR_ERR_UNKNOWN_TYPE] = "unknown message type",
        [CBOR_ERR_BUFFER_FULL] = "output buffer full",
        [CBOR_ERR_INVALID_ARG] = "invalid argument",
    };
    if ((unsigned)code >= CBOR_ERR_COUNT)
        return "unknown error";
    return names[code];
}
