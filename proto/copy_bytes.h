/*
 * proto-internal: the byte copy of rings and duplex areas (ring.c,
 * duplex.c), needing no libc.
 *
 * Copies n bytes, 32 then 8 at a time while it can. __builtin_memcpy with a
 * constant size is expanded inline even under -fno-builtin. One side of
 * every copy is shared memory the other domain may be writing: the data is
 * only ever treated as bytes, and callers copy a record header out once
 * before checking it, so a concurrent change cannot turn a checked length
 * into an unchecked one.
 */
#ifndef PROTO_COPY_BYTES_H
#define PROTO_COPY_BYTES_H

#include <stdint.h>

static inline void proto_copy_bytes(uint8_t *dst, const uint8_t *src, uint32_t n)
{
    while (n >= 32) {
        uint64_t a, b, c, d;
        __builtin_memcpy(&a, src, 8);
        __builtin_memcpy(&b, src + 8, 8);
        __builtin_memcpy(&c, src + 16, 8);
        __builtin_memcpy(&d, src + 24, 8);
        __builtin_memcpy(dst, &a, 8);
        __builtin_memcpy(dst + 8, &b, 8);
        __builtin_memcpy(dst + 16, &c, 8);
        __builtin_memcpy(dst + 24, &d, 8);
        dst += 32;
        src += 32;
        n -= 32;
    }
    while (n >= 8) {
        uint64_t a;
        __builtin_memcpy(&a, src, 8);
        __builtin_memcpy(dst, &a, 8);
        dst += 8;
        src += 8;
        n -= 8;
    }
    while (n--)
        *dst++ = *src++;
}

#endif
