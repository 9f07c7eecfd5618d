/*
 * <stdlib.h> of the guest-kit libc subset: string-to-integer conversion,
 * qsort, abs, and abort (the runtime: the domain stops as crashed). malloc &
 * co. are in gk/heap.h. No exit, no getenv, no rand, no floats.
 *
 * There is no errno. strtoul/strtoull/strtol/strtoll behave exactly like C's
 * (including clamping to the type's limits on overflow) but cannot report
 * the overflow; code that parses input it does not trust should use the
 * libc_strtoull_checked/libc_strtoll_checked variants, which return a status.
 */
#ifndef HV_LIBC_STDLIB_H
#define HV_LIBC_STDLIB_H

#include <stddef.h>

#include "libc_cdefs.h"

#ifndef NULL
#define NULL ((void *)0)
#endif

/*
 * C semantics: skip isspace(), optional sign, base 0 (prefix 0x/0X: 16,
 * prefix 0: 8, else 10) or 2..36 (16 also accepts a 0x prefix). *endptr (if
 * endptr is not NULL) is set past the last digit used, or to nptr when there
 * is none. On overflow the result is clamped (ULONG_MAX, LONG_MAX, LONG_MIN
 * ...). The unsigned versions negate the result when a '-' is present, as C
 * does. An invalid base returns 0 with *endptr = nptr.
 */
unsigned long LIBC_NAME(strtoul)(const char *restrict nptr, char **restrict endptr, int base);
unsigned long long LIBC_NAME(strtoull)(const char *restrict nptr, char **restrict endptr, int base);
long LIBC_NAME(strtol)(const char *restrict nptr, char **restrict endptr, int base);
long long LIBC_NAME(strtoll)(const char *restrict nptr, char **restrict endptr, int base);

/* What a checked conversion found. */
enum libc_strto_status {
    LIBC_STRTO_OK = 0,       /* digits parsed and the value fits */
    LIBC_STRTO_NO_DIGITS,    /* no digits at all: *value is 0, *endptr is nptr */
    LIBC_STRTO_OUT_OF_RANGE, /* too large (or negative for the unsigned one): *value clamped */
    LIBC_STRTO_BAD_BASE,     /* base is not 0 or 2..36: *value is 0, *endptr is nptr */
};

/*
 * Like strtoull, but reports what happened instead of relying on errno, and
 * rejects a negative number ("-5") with LIBC_STRTO_OUT_OF_RANGE and *value 0
 * instead of wrapping it around ("-0" is fine). Out of range positive input
 * gives *value = ULLONG_MAX. endptr may be NULL; value must not be. Callers
 * usually also require **endptr == '\0'.
 */
enum libc_strto_status libc_strtoull_checked(const char *nptr, char **endptr, int base,
                                             unsigned long long *value);
/* Like strtoll, with the same reporting; out of range clamps to LLONG_MIN/MAX. */
enum libc_strto_status libc_strtoll_checked(const char *nptr, char **endptr, int base,
                                            long long *value);

/*
 * Sorts count elements of size_bytes each in place, in the order given by
 * compare (negative, zero, positive like strcmp). Heapsort: O(n log n) time,
 * no recursion, no extra memory; not stable. count 0 or 1 is a no-op.
 */
void LIBC_NAME(qsort)(void *base, size_t count, size_t size_bytes,
                      int (*compare)(const void *a, const void *b));

/* As in C: the result is undefined for INT_MIN (and LONG_MIN, LLONG_MIN). */
int LIBC_NAME(abs)(int v);
long LIBC_NAME(labs)(long v);
long long LIBC_NAME(llabs)(long long v);

#ifndef LIBC_PREFIX
/* Provided by the guest-kit runtime (not by this library): the domain stops
 * as crashed with "abort() called". */
__attribute__((noreturn)) void abort(void);
#endif

#endif /* HV_LIBC_STDLIB_H */
