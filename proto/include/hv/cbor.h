/*
 * The in-system CBOR codec (RFC 8949), used inside domains and by the host
 * tests. Freestanding: it allocates nothing and works only on buffers the
 * caller provides.
 *
 * Encoder: emits deterministic encoding (RFC 8949 section 4.2.1): shortest
 * argument form, definite lengths only. Map keys must be written in
 * ascending order of their encoding by the caller (the generated message
 * code does this). Errors are sticky: after the first error every call does
 * nothing and cbor_enc_finish() reports it.
 *
 * Decoder: a pull decoder over one contiguous buffer. It accepts only the
 * deterministic subset the encoder produces: unsigned and negative integers,
 * byte and text strings, arrays, maps, false, true and null. Everything else
 * (indefinite lengths, non-shortest arguments, tags, floats, undefined,
 * other simple values, invalid UTF-8 in text, maps with unsorted or
 * duplicate keys) is refused with a precise error: a code and the byte
 * offset of the offending item head. Depth, element counts and string
 * lengths are bounded by struct cbor_limits. Decoded strings point into the
 * input buffer (no copy); the caller must keep the buffer alive.
 *
 * Neither side is thread-safe; one context per thread.
 */
#ifndef HV_CBOR_H
#define HV_CBOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every way decoding or encoding can fail. Stable numbers: they appear in logs. */
enum cbor_err {
    CBOR_OK = 0,
    CBOR_ERR_TRUNCATED = 1,        /* input ends inside an item */
    CBOR_ERR_MALFORMED = 2,        /* reserved additional info (28..30) */
    CBOR_ERR_INDEFINITE = 3,       /* indefinite length (not deterministic) */
    CBOR_ERR_NON_CANONICAL = 4,    /* argument not in its shortest form */
    CBOR_ERR_UNSUPPORTED = 5,      /* tag, float, undefined or other simple value */
    CBOR_ERR_WRONG_TYPE = 6,       /* item is not of the expected major type */
    CBOR_ERR_TOO_DEEP = 7,         /* nesting deeper than limits.max_depth */
    CBOR_ERR_TOO_MANY = 8,         /* array/map count above limits.max_items */
    CBOR_ERR_TOO_LONG = 9,         /* string longer than limits.max_string_bytes */
    CBOR_ERR_RANGE = 10,           /* integer or size outside the allowed range */
    CBOR_ERR_BAD_UTF8 = 11,        /* text string is not valid UTF-8 */
    CBOR_ERR_KEY_ORDER = 12,       /* map keys not in ascending canonical order */
    CBOR_ERR_DUPLICATE_KEY = 13,   /* the same map key twice */
    CBOR_ERR_TRAILING = 14,        /* bytes after the top-level item */
    CBOR_ERR_UNKNOWN_KEY = 15,     /* unknown must-understand (even) key */
    CBOR_ERR_MISSING_KEY = 16,     /* a required key is absent */
    CBOR_ERR_UNKNOWN_TYPE = 17,    /* unknown message type */
    CBOR_ERR_BUFFER_FULL = 18,     /* encoder: output buffer too small */
    CBOR_ERR_INVALID_ARG = 19,     /* encoder: caller broke the API contract */
    CBOR_ERR_COUNT
};

/* An error with its place: the byte offset of the item head at fault and,
 * inside a message, the map key being decoded (or UINT32_MAX if none). */
struct cbor_error {
    enum cbor_err code;
    uint32_t offset;
    uint32_t key;
};

/* Bounds the decoder enforces. Zero fields mean "use the default". */
struct cbor_limits {
    uint32_t max_depth;        /* nested arrays/maps; default 16, hard cap 32 */
    uint32_t max_items;        /* elements in one array or pairs in one map; default 1024 */
    uint32_t max_string_bytes; /* default 65536 */
};

#define CBOR_DEFAULT_MAX_DEPTH 16u
#define CBOR_HARD_MAX_DEPTH 32u
#define CBOR_DEFAULT_MAX_ITEMS 1024u
#define CBOR_DEFAULT_MAX_STRING 65536u
#define CBOR_NO_KEY UINT32_MAX

/* Major types. */
enum cbor_major {
    CBOR_MAJOR_UINT = 0,
    CBOR_MAJOR_NINT = 1,
    CBOR_MAJOR_BYTES = 2,
    CBOR_MAJOR_TEXT = 3,
    CBOR_MAJOR_ARRAY = 4,
    CBOR_MAJOR_MAP = 5,
    CBOR_MAJOR_TAG = 6,
    CBOR_MAJOR_SIMPLE = 7,
};

/* A string decoded in place: bytes point into the decoder's input. */
struct cbor_str {
    const uint8_t *ptr;
    uint32_t len;
};

/* ---- Encoder ---- */

struct cbor_enc {
    uint8_t *buf;
    size_t cap;
    size_t len;
    enum cbor_err err;
};

void cbor_enc_init(struct cbor_enc *e, void *buf, size_t cap);
void cbor_enc_uint(struct cbor_enc *e, uint64_t v);
void cbor_enc_int(struct cbor_enc *e, int64_t v);
void cbor_enc_bool(struct cbor_enc *e, bool v);
void cbor_enc_null(struct cbor_enc *e);
void cbor_enc_bytes(struct cbor_enc *e, const void *p, size_t len);
/* Text must be valid UTF-8; the encoder checks and fails with CBOR_ERR_BAD_UTF8. */
void cbor_enc_text(struct cbor_enc *e, const void *p, size_t len);
void cbor_enc_array(struct cbor_enc *e, uint64_t count);
void cbor_enc_map(struct cbor_enc *e, uint64_t pairs);
/* Returns CBOR_OK and the encoded length, or the first error. */
enum cbor_err cbor_enc_finish(const struct cbor_enc *e, size_t *len_out);

/* ---- Decoder ---- */

struct cbor_dec {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    uint32_t depth;
    struct cbor_limits lim;
    struct cbor_error err; /* first error; sticky */
    uint32_t cur_key;      /* set by the message decoders for error reports */
};

/* limits may be NULL for the defaults. */
void cbor_dec_init(struct cbor_dec *d, const void *buf, size_t len,
                   const struct cbor_limits *limits);
bool cbor_dec_ok(const struct cbor_dec *d);
/* Records an error at offset (first error wins) and returns false. */
bool cbor_dec_fail(struct cbor_dec *d, enum cbor_err code, size_t offset);
/* Major type of the next item without consuming it; false at end of input. */
bool cbor_dec_peek(struct cbor_dec *d, enum cbor_major *major);
bool cbor_dec_at_end(const struct cbor_dec *d);
bool cbor_dec_uint(struct cbor_dec *d, uint64_t *v);
/* Accepts major 0 and 1; refuses values outside int64_t with CBOR_ERR_RANGE. */
bool cbor_dec_int(struct cbor_dec *d, int64_t *v);
bool cbor_dec_bool(struct cbor_dec *d, bool *v);
bool cbor_dec_null(struct cbor_dec *d);
bool cbor_dec_bytes(struct cbor_dec *d, struct cbor_str *s);
bool cbor_dec_text(struct cbor_dec *d, struct cbor_str *s);
/* Opens an array/map and returns its element (pair) count, checked against
 * max_items and against the bytes left. Each must be matched by
 * cbor_dec_leave() after its elements are consumed. */
bool cbor_dec_array(struct cbor_dec *d, uint32_t *count);
bool cbor_dec_map(struct cbor_dec *d, uint32_t *pairs);
void cbor_dec_leave(struct cbor_dec *d);
/* Skips one complete item of any supported type, with the same checks as
 * the typed calls, including key order inside maps. */
bool cbor_dec_skip(struct cbor_dec *d);
/* Fails with CBOR_ERR_TRAILING unless the whole input was consumed. */
bool cbor_dec_finish(struct cbor_dec *d);
/* Checks that buf holds exactly one well-formed deterministic item. */
struct cbor_error cbor_check(const void *buf, size_t len,
                             const struct cbor_limits *limits);

/* Validates UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
bool cbor_utf8_valid(const uint8_t *p, size_t len);
/* A short English name of an error code, never NULL. */
const char *cbor_err_name(enum cbor_err code);

#endif /* HV_CBOR_H */
