/*
 * <stdio.h> of the guest-kit libc subset: only string formatting. There are
 * no streams and no printf here; a console printf is built on libc_vformat
 * (declared in libc_format.h, included below). See libc_format.h for the
 * supported conversions (no floating point, no %n).
 */
#ifndef HV_LIBC_STDIO_H
#define HV_LIBC_STDIO_H

#include <stdarg.h>
#include <stddef.h>

#include "libc_format.h"
#include "libc_cdefs.h"

#ifndef EOF
#define EOF (-1)
#endif

/*
 * C99 semantics: writes at most size bytes to buf, always NUL-terminated
 * when size > 0 (buf may be NULL when size is 0), and returns the length the
 * full output would have had (not counting the NUL), or -1 if that length
 * does not fit in an int. Output is truncated iff the result is >= size.
 */
int LIBC_NAME(vsnprintf)(char *restrict buf, size_t size, const char *restrict fmt, va_list ap);
int LIBC_NAME(snprintf)(char *restrict buf, size_t size, const char *restrict fmt, ...)
    LIBC_PRINTF(3, 4);

#endif /* HV_LIBC_STDIO_H */
