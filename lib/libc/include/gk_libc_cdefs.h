/*
 * Shared definitions of the guest-kit libc subset's public headers.
 *
 * GK_LIBC_NAME(x) is the link name of the standard function x. Normally it
 * is x itself. When the library is compiled for the host unit tests with
 * -DGK_LIBC_PREFIX, it is gk_libc_x, so that the very same sources can be
 * linked next to glibc (which the tests use as the oracle) without a clash.
 * See lib/libc/README.md, "The prefix scheme".
 *
 * Names that are not in the C library (gk_vformat, gk_strtoull_checked...)
 * already carry the gk_ prefix and are never renamed.
 */
#ifndef GK_LIBC_CDEFS_H
#define GK_LIBC_CDEFS_H

#ifdef GK_LIBC_PREFIX
#define GK_LIBC_NAME(name) gk_libc_##name
#else
#define GK_LIBC_NAME(name) name
#endif

/* printf-style format checking; fmt_index and first_arg are 1-based. */
#define GK_LIBC_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))

#endif /* GK_LIBC_CDEFS_H */
