/*
 * The little protocol of the fileserver and fileclient examples, over a
 * declared channel (docs/bus.md): messages for requests and answers, the
 * file's bytes as a stream (or as messages) between them.
 *
 *   client: "GET NAME"    server: "OK SIZE" | "ERR why", then SIZE bytes as a
 *                          stream, then "SUM CHECKSUM"
 *   client: "GETM NAME"   the same, the bytes as messages of up to 64 KiB
 *                          (larger than a ring page: through the bulk buffer)
 *   client: "BYE"
 *
 * Files are synthetic: NAME:SIZE pairs from the server's config (`files`),
 * each byte a function of its file's name and offset, so both ends can check
 * a checksum (a 64-bit Fletcher sum over 8-byte little-endian words, the
 * tail padded with zeros).
 */
#ifndef EXAMPLE_FILES_H
#define EXAMPLE_FILES_H

#include <stdint.h>

#define FILES_CHANNEL "files"
#define FILES_MSG_MAX 65536u

struct files_sum {
    uint64_t a, b;
};

static inline void files_sum_add(struct files_sum *s, const uint8_t *p, uint64_t n)
{
    uint64_t a = s->a, b = s->b;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        __builtin_memcpy(&w, p, 8);
        a += w;
        b += a;
    }
    if (n) {
        uint64_t w = 0;
        __builtin_memcpy(&w, p, n);
        a += w;
        b += a;
    }
    s->a = a;
    s->b = b;
}

static inline uint64_t files_sum_value(const struct files_sum *s)
{
    return s->a ^ (s->b << 1);
}

/* The seed of a file: a hash of its name. */
static inline uint64_t files_seed(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *name; name++)
        h = (h ^ (uint8_t)*name) * 0x100000001b3ull;
    return h;
}

/* Fills buf with the file's bytes at offset off (off and n multiples of 8). */
static inline void files_fill(uint64_t seed, uint64_t off, uint8_t *buf, uint64_t n)
{
    for (uint64_t i = 0; i < n; i += 8) {
        uint64_t w = ((off + i) >> 3) * 0x9e3779b97f4a7c15ull ^ seed;
        __builtin_memcpy(buf + i, &w, 8);
    }
}

#endif
