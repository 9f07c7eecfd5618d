/*
 * <stdio.h> of the guest-kit libc subset: only string formatting. There are
 * no streams and no printf here; a console printf is built on gk_vformat
 * (declared in gk_format.h, included below). See gk_format.h for the
 * supported conversions (no floating point, no %n).
 */
#ifndef GK_LIBC_STDIO_H
#define GK_LIBC_STDIO_H

#include <stdarg.h>
#include <stddef.h>

#include "gk_format.h"
#include "gk_libc_cdefs.h"

#ifndef EOF
#define EOF (-1)
#endif

/*
 * C99 semantics: writes at most size bytes to buf, always NUL-terminated
 * when size > 0 (buf may be NULL when size is 0), and returns the length the
 * full output would have had (not counting the NUL), or -1 if that length
 * does not fit in an int. Output is truncated iff the result is >= size.
 */
int GK_LIBC_NAME(vsnprintf)(char *restrict buf, size_t size, const char *restrict fmt, va_list ap);
int GK_LIBC_NAME(snprintf)(char *restrict buf, size_t size, const char *restrict fmt, ...)
    GK_LIBC_PRINTF(3, 4);

#endif /* GK_LIBC_STDIO_H */
