/*
 * Shared definitions of the libc subset's public headers.
 *
 * LIBC_NAME(x) is the link name of the standard function x. Normally it
 * is x itself. When the library is compiled for the host unit tests with
 * -DLIBC_PREFIX, it is libc_x, so that the very same sources can be
 * linked next to glibc (which the tests use as the oracle) without a clash.
 * See lib/libc/README.md, "The prefix scheme".
 *
 * Names that are not in the C library (libc_vformat, libc_strtoull_checked...)
 * already carry the libc_ prefix and are never renamed.
 */
#ifndef HV_LIBC_CDEFS_H
#define HV_LIBC_CDEFS_H

#ifdef LIBC_PREFIX
#define LIBC_NAME(name) libc_##name
#else
#define LIBC_NAME(name) name
#endif

/* printf-style format checking; fmt_index and first_arg are 1-based. */
#define LIBC_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))

#endif /* HV_LIBC_CDEFS_H */
