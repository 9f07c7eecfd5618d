/*
 * Memory and string functions of the guest-kit libc subset.
 *
 * This file must be compiled with -fno-builtin and
 * -fno-tree-loop-distribute-patterns (the CMakeLists does both): otherwise
 * GCC may recognise the loops below as memset/memcpy and turn them into calls
 * to themselves.
 */
#include "libc_internal.h"

#include <stdint.h>
#include <string.h>

/* A word that may alias anything, for the aligned fast paths. */
typedef uint64_t __attribute__((may_alias)) word_t;
#define WORD_BYTES sizeof(word_t)

static int aligned2(const void *a, const void *b)
{
    return (((uintptr_t)a | (uintptr_t)b) & (WORD_BYTES - 1)) == 0;
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;

    if (aligned2(d, s)) {
        for (; n >= WORD_BYTES; n -= WORD_BYTES) {
            *(word_t *)(void *)d = *(const word_t *)(const void *)s;
            d += WORD_BYTES;
            s += WORD_BYTES;
        }
    }
    while (n--)
        *d++ = *s++;
    return dst;
}

/* Copies forwards when dst is below src and backwards otherwise, so that an
 * overlapping source is read before it is overwritten. */
void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;

    if (d == s || n == 0)
        return dst;
    if ((uintptr_t)d < (uintptr_t)s) {
        if (aligned2(d, s) && (uintptr_t)s - (uintptr_t)d >= WORD_BYTES) {
            for (; n >= WORD_BYTES; n -= WORD_BYTES) {
                *(word_t *)(void *)d = *(const word_t *)(const void *)s;
                d += WORD_BYTES;
                s += WORD_BYTES;
            }
        }
        while (n--)
            *d++ = *s++;
    } else {
        d += n;
        s += n;
        while (n--)
            *--d = *--s;
    }
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    unsigned char b = (unsigned char)c;

    if (n >= 2 * WORD_BYTES) {
        word_t w = (word_t)b * 0x0101010101010101ull;
        while ((uintptr_t)d & (WORD_BYTES - 1)) {
            *d++ = b;
            n--;
        }
        for (; n >= WORD_BYTES; n -= WORD_BYTES) {
            *(word_t *)(void *)d = w;
            d += WORD_BYTES;
        }
    }
    while (n--)
        *d++ = b;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;

    for (; n; n--, x++, y++) {
        if (*x != *y)
            return (int)*x - (int)*y;
    }
    return 0;
}

void *memchr(const void *s, int c, size_t n)
{
    const unsigned char *p = s;
    unsigned char b = (unsigned char)c;

    for (; n; n--, p++) {
        if (*p == b)
            return (void *)(uintptr_t)p;
    }
    return NULL;
}

size_t strlen(const char *s)
{
    const char *p = s;

    while (*p)
        p++;
    return (size_t)(p - s);
}

size_t strnlen(const char *s, size_t max_bytes)
{
    size_t n = 0;

    while (n < max_bytes && s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a;
    const unsigned char *y = (const unsigned char *)b;

    while (*x && *x == *y) {
        x++;
        y++;
    }
    return (int)*x - (int)*y;
}

int strncmp(const char *a, const char *b, size_t n)
{
    const unsigned char *x = (const unsigned char *)a;
    const unsigned char *y = (const unsigned char *)b;

    for (; n; n--, x++, y++) {
        if (*x != *y)
            return (int)*x - (int)*y;
        if (*x == 0)
            return 0;
    }
    return 0;
}

char *strchr(const char *s, int c)
{
    char ch = (char)c;

    for (;; s++) {
        if (*s == ch)
            return (char *)(uintptr_t)s;
        if (*s == 0)
            return NULL;
    }
}

char *strrchr(const char *s, int c)
{
    char ch = (char)c;
    const char *last = NULL;

    for (;; s++) {
        if (*s == ch)
            last = s;
        if (*s == 0)
            return (char *)(uintptr_t)last;
    }
}

/* Naive O(n*m) search: fine for the short strings this code base parses. */
char *strstr(const char *haystack, const char *needle)
{
    size_t n = strlen(needle);

    if (n == 0)
        return (char *)(uintptr_t)haystack;
    for (; *haystack; haystack++) {
        if (*haystack == *needle && strncmp(haystack, needle, n) == 0)
            return (char *)(uintptr_t)haystack;
    }
    return NULL;
}

size_t strspn(const char *s, const char *accept)
{
    size_t n = 0;

    while (s[n] && strchr(accept, s[n]))
        n++;
    return n;
}

size_t strcspn(const char *s, const char *reject)
{
    size_t n = 0;

    while (s[n] && !strchr(reject, s[n]))
        n++;
    return n;
}

char *strncpy(char *restrict dst, const char *restrict src, size_t n)
{
    size_t i = 0;

    for (; i < n && src[i]; i++)
        dst[i] = src[i];
    for (; i < n; i++)
        dst[i] = 0;
    return dst;
}

size_t strlcpy(char *restrict dst, const char *restrict src, size_t size)
{
    size_t len = strlen(src);

    if (size > 0) {
        size_t copy = len < size - 1 ? len : size - 1;
        memcpy(dst, src, copy);
        dst[copy] = 0;
    }
    return len;
}
