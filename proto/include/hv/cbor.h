/*
 * The in-system CBOR codec (RFC 8949), used inside domains and by the host
 * tests. Freestanding: it allocates nothing and works only on buffers the
 * caller provides.
 *
 * Encoder: emits deterministic encoding (RFC 8949 section 4.2.1): shortest
 * argument form, definite lengths only. Map keys must be written in
 * ascending order of their encoding by the caller (the generated message
 * code does this). Errors are sticky: after the first error every call does
 * nothing and hvcbor_enc_finish() reports it.
 *
 * Decoder: a pull decoder over one contiguous buffer. It accepts only the
 * deterministic subset the encoder produces: unsigned and negative integers,
 * byte and text strings, arrays, maps, false, true and null. Everything else
 * (indefinite lengths, non-shortest arguments, tags, floats, undefined,
 * other simple values, invalid UTF-8 in text, maps with unsorted or
 * duplicate keys) is refused with a precise error: a code and the byte
 * offset of the offending item head. Depth, element counts and string
 * lengths are bounded by struct hvcbor_limits. Decoded strings point into the
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
enum hvcbor_err {
    HVCBOR_OK = 0,
    HVCBOR_ERR_TRUNCATED = 1,      /* input ends inside an item */
    HVCBOR_ERR_MALFORMED = 2,      /* reserved additional info (28..30) */
    HVCBOR_ERR_INDEFINITE = 3,     /* indefinite length (not deterministic) */
    HVCBOR_ERR_NON_CANONICAL = 4,  /* argument not in its shortest form */
    HVCBOR_ERR_UNSUPPORTED = 5,    /* tag, float, undefined or other simple value */
    HVCBOR_ERR_WRONG_TYPE = 6,     /* item is not of the expected major type */
    HVCBOR_ERR_TOO_DEEP = 7,       /* nesting deeper than limits.max_depth */
    HVCBOR_ERR_TOO_MANY = 8,       /* array/map count above limits.max_items */
    HVCBOR_ERR_TOO_LONG = 9,       /* string longer than limits.max_string_bytes */
    HVCBOR_ERR_RANGE = 10,         /* integer or size outside the allowed range */
    HVCBOR_ERR_BAD_UTF8 = 11,      /* text string is not valid UTF-8 */
    HVCBOR_ERR_KEY_ORDER = 12,     /* map keys not in ascending canonical order */
    HVCBOR_ERR_DUPLICATE_KEY = 13, /* the same map key twice */
    HVCBOR_ERR_TRAILING = 14,      /* bytes after the top-level item */
    HVCBOR_ERR_UNKNOWN_KEY = 15,   /* unknown must-understand (even) key */
    HVCBOR_ERR_MISSING_KEY = 16,   /* a required key is absent */
    HVCBOR_ERR_UNKNOWN_TYPE = 17,  /* unknown message type */
    HVCBOR_ERR_BUFFER_FULL = 18,   /* encoder: output buffer too small */
    HVCBOR_ERR_INVALID_ARG = 19,   /* encoder: caller broke the API contract */
    HVCBOR_ERR_COUNT
};

/* An error with its place: the byte offset of the item head at fault and,
 * inside a message, the map key being decoded (or UINT32_MAX if none). */
struct hvcbor_error {
    enum hvcbor_err code;
    uint32_t offset;
    uint32_t key;
};

/* Bounds the decoder enforces. Zero fields mean "use the default". */
struct hvcbor_limits {
    uint32_t max_depth;        /* nested arrays/maps; default 16, hard cap 32 */
    uint32_t max_items;        /* elements in one array or pairs in one map; default 1024 */
    uint32_t max_string_bytes; /* default 65536 */
};

#define HVCBOR_DEFAULT_MAX_DEPTH 16u
#define HVCBOR_HARD_MAX_DEPTH 32u
#define HVCBOR_DEFAULT_MAX_ITEMS 1024u
#define HVCBOR_DEFAULT_MAX_STRING 65536u
#define HVCBOR_NO_KEY UINT32_MAX

/* Major types. */
enum hvcbor_major {
    HVCBOR_MAJOR_UINT = 0,
    HVCBOR_MAJOR_NINT = 1,
    HVCBOR_MAJOR_BYTES = 2,
    HVCBOR_MAJOR_TEXT = 3,
    HVCBOR_MAJOR_ARRAY = 4,
    HVCBOR_MAJOR_MAP = 5,
    HVCBOR_MAJOR_TAG = 6,
    HVCBOR_MAJOR_SIMPLE = 7,
};

/* A string decoded in place: bytes point into the decoder's input. */
struct hvcbor_str {
    const uint8_t *ptr;
    uint32_t len;
};

/* ---- Encoder ---- */

struct hvcbor_enc {
    uint8_t *buf;
    size_t cap;
    size_t len;
    enum hvcbor_err err;
};

void hvcbor_enc_init(struct hvcbor_enc *e, void *buf, size_t cap);
void hvcbor_enc_uint(struct hvcbor_enc *e, uint64_t v);
void hvcbor_enc_int(struct hvcbor_enc *e, int64_t v);
void hvcbor_enc_bool(struct hvcbor_enc *e, bool v);
void hvcbor_enc_null(struct hvcbor_enc *e);
void hvcbor_enc_bytes(struct hvcbor_enc *e, const void *p, size_t len);
/* Text must be valid UTF-8; the encoder checks and fails with HVCBOR_ERR_BAD_UTF8. */
void hvcbor_enc_text(struct hvcbor_enc *e, const void *p, size_t len);
void hvcbor_enc_array(struct hvcbor_enc *e, uint64_t count);
void hvcbor_enc_map(struct hvcbor_enc *e, uint64_t pairs);
/* Returns HVCBOR_OK and the encoded length, or the first error. */
enum hvcbor_err hvcbor_enc_finish(const struct hvcbor_enc *e, size_t *len_out);

/* ---- Decoder ---- */

struct hvcbor_dec {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    uint32_t depth;
    struct hvcbor_limits lim;
    struct hvcbor_error err; /* first error; sticky */
    uint32_t cur_key;        /* set by the message decoders for error reports */
};

/* limits may be NULL for the defaults. */
void hvcbor_dec_init(struct hvcbor_dec *d, const void *buf, size_t len,
                     const struct hvcbor_limits *limits);
bool hvcbor_dec_ok(const struct hvcbor_dec *d);
/* Records an error at offset (first error wins) and returns false. */
bool hvcbor_dec_fail(struct hvcbor_dec *d, enum hvcbor_err code, size_t offset);
/* Major type of the next item without consuming it; false at end of input. */
bool hvcbor_dec_peek(struct hvcbor_dec *d, enum hvcbor_major *major);
bool hvcbor_dec_at_end(const struct hvcbor_dec *d);
bool hvcbor_dec_uint(struct hvcbor_dec *d, uint64_t *v);
/* Accepts major 0 and 1; refuses values outside int64_t with HVCBOR_ERR_RANGE. */
bool hvcbor_dec_int(struct hvcbor_dec *d, int64_t *v);
bool hvcbor_dec_bool(struct hvcbor_dec *d, bool *v);
bool hvcbor_dec_null(struct hvcbor_dec *d);
bool hvcbor_dec_bytes(struct hvcbor_dec *d, struct hvcbor_str *s);
bool hvcbor_dec_text(struct hvcbor_dec *d, struct hvcbor_str *s);
/* Opens an array/map and returns its element (pair) count, checked against
 * max_items and against the bytes left. Each must be matched by
 * hvcbor_dec_leave() after its elements are consumed. */
bool hvcbor_dec_array(struct hvcbor_dec *d, uint32_t *count);
bool hvcbor_dec_map(struct hvcbor_dec *d, uint32_t *pairs);
void hvcbor_dec_leave(struct hvcbor_dec *d);
/* Skips one complete item of any supported type, with the same checks as
 * the typed calls, including key order inside maps. */
bool hvcbor_dec_skip(struct hvcbor_dec *d);
/* Fails with HVCBOR_ERR_TRAILING unless the whole input was consumed. */
bool hvcbor_dec_finish(struct hvcbor_dec *d);
/* Checks that buf holds exactly one well-formed deterministic item. */
struct hvcbor_error hvcbor_check(const void *buf, size_t len, const struct hvcbor_limits *limits);

/* Validates UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
bool hvcbor_utf8_valid(const uint8_t *p, size_t len);
/* A short English name of an error code, never NULL. */
const char *hvcbor_err_name(enum hvcbor_err code);

#endif /* HV_CBOR_H */
