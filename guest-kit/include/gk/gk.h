/*
 * guest-kit: the runtime every domain is written with.
 *
 * A domain provides `int main(const struct hv_start_info *si)`. The runtime
 * (start.S, runtime.c) checks the start-info page, binds HV_VIRQ_SHUTDOWN
 * (shutdown requests, gk/event.h), calls main, and shuts the domain down:
 * poweroff if main returned 0 (or the reason of a shutdown request seen
 * before it returned), crash otherwise.
 */
#ifndef GK_GK_H
#define GK_GK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "gk/cap.h"
#include "gk/console.h"
#include "gk/event.h"
#include "gk/grant.h"
#include "gk/hypercall.h"
#include "gk/time.h"
#include "hv/abi.h"

int main(const struct hv_start_info *si);

/* The start-info page of this domain (valid from before main). */
extern const struct hv_start_info *gk_start_info;

/* Console output. gk_printf buffers a line and writes it with one hypercall. */
int gk_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int gk_vprintf(const char *fmt, va_list ap);
void gk_puts(const char *s);
void gk_console_flush(void);

/* Stops the domain; never returns. */
__attribute__((noreturn)) void gk_shutdown(enum hv_shutdown_reason reason);
__attribute__((noreturn)) void gk_poweroff(void);
/* Prints the message and shuts the domain down as crashed. */
__attribute__((noreturn)) void gk_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void abort(void);

#define gk_assert(cond)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            gk_panic("assertion failed: %s (%s:%d)", #cond, __FILE__, __LINE__);                   \
    } while (0)

/* The value of `key=value` in the domain's command line (NUL-terminated into
 * buf); false if absent. A bare `key` gives "". The first word of the command
 * line names the domain (like argv[0]) and is never matched. */
int gk_cmdline_get(const char *key, char *buf, size_t size);

#endif
