/*
 * <string.h> of the guest-kit libc subset: memory and string functions with
 * their C11 meaning (strlcpy with its BSD meaning). No locale: strcoll,
 * strxfrm, strerror and strtok are not provided.
 */
#ifndef HV_LIBC_STRING_H
#define HV_LIBC_STRING_H

#include <stddef.h>

#include "libc_cdefs.h"

void *LIBC_NAME(memcpy)(void *restrict dst, const void *restrict src, size_t n);
void *LIBC_NAME(memmove)(void *dst, const void *src, size_t n);
void *LIBC_NAME(memset)(void *dst, int c, size_t n);
int LIBC_NAME(memcmp)(const void *a, const void *b, size_t n);
void *LIBC_NAME(memchr)(const void *s, int c, size_t n);

size_t LIBC_NAME(strlen)(const char *s);
/* Length of s, but reads at most max_bytes bytes of it. */
size_t LIBC_NAME(strnlen)(const char *s, size_t max_bytes);
int LIBC_NAME(strcmp)(const char *a, const char *b);
int LIBC_NAME(strncmp)(const char *a, const char *b, size_t n);
char *LIBC_NAME(strchr)(const char *s, int c);
char *LIBC_NAME(strrchr)(const char *s, int c);
char *LIBC_NAME(strstr)(const char *haystack, const char *needle);
size_t LIBC_NAME(strspn)(const char *s, const char *accept);
size_t LIBC_NAME(strcspn)(const char *s, const char *reject);
/* C semantics: copies at most n bytes and pads with NULs; may leave dst
 * unterminated when strlen(src) >= n. Prefer strlcpy. */
char *LIBC_NAME(strncpy)(char *restrict dst, const char *restrict src, size_t n);
/* BSD semantics: copies at most size-1 bytes, NUL-terminates when size > 0,
 * returns strlen(src); truncation happened iff the result is >= size. */
size_t LIBC_NAME(strlcpy)(char *restrict dst, const char *restrict src, size_t size);

#endif /* HV_LIBC_STRING_H */
