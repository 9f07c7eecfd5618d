/*
 * The streaming printf engine of the guest-kit libc subset. snprintf and
 * vsnprintf are built on it, and so can a printf to a console, with no
 * buffer and no length limit.
 *
 * Supported: %d %i %u %x %X %o %c %s %p %%; flags - 0 + space #; width and
 * precision, both also as *; length modifiers hh h l ll z j t.
 * Deliberately NOT supported:
 *   - floating point (%f %F %e %E %g %G %a %A and the L modifier): the code
 *     runs with -mgeneral-regs-only, where a double cannot even be fetched
 *     from a va_list;
 *   - %n (writing through a pointer from a format string is a hazard);
 *   - %lc/%ls (no wide characters), positional arguments (%1$d).
 * An unsupported or malformed conversion is copied to the output verbatim
 * (for example "%5.2f" prints "%5.2f") and consumes NO argument, so it is
 * obvious in the output. A lone '%' at the end of the format prints '%'.
 * Everything else matches glibc byte for byte (including "(null)" for a NULL
 * %s, "(nil)" for a NULL %p and "0x..." for other pointers).
 */
#ifndef HV_LIBC_FORMAT_H
#define HV_LIBC_FORMAT_H

#include <stdarg.h>

#include "libc_cdefs.h"

/* Receives the formatted output one character at a time, in order. */
typedef void (*libc_emit_fn)(void *ctx, char c);

/*
 * Formats fmt with the arguments in ap, passing every produced character to
 * emit(ctx, c). Returns the number of characters produced, or -1 if that
 * number does not fit in an int (every character is still emitted). ap is
 * consumed as by vprintf. Any context may call it; it takes no lock and
 * keeps no state of its own.
 */
int libc_vformat(libc_emit_fn emit, void *ctx, const char *fmt, va_list ap);

/* libc_vformat with the arguments given directly. */
int libc_format(libc_emit_fn emit, void *ctx, const char *fmt, ...) LIBC_PRINTF(3, 4);

#endif /* HV_LIBC_FORMAT_H */
