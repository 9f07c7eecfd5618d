/* Host stand-in for guest-kit's gk/gk.h in control_host_test: only what the
 * control domain's tokens.c, log.c and images.c use. */
#ifndef GK_GK_H
#define GK_GK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/abi.h"

int gk_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t gk_now_ns(void);
size_t strlcpy(char *restrict dst, const char *restrict src, size_t size);

#endif
