/*
 * The hypervisor log on COM1. Every line starts with "(hv) " and a level
 * letter; guest console output is written through log_write() with its own
 * prefix. No lock of its own: the hypervisor lock covers every line after
 * boot (docs/smp.md).
 */
#include <stdio.h>
#include <string.h>

#include "libc_format.h"

#include "arch.h"
#include "log.h"

static enum log_level log_level = LOG_INFO;

static void putc_crlf(char c)
{
    if (c == '\n')
        arch_serial_putc('\r');
    arch_serial_putc(c);
}

static void emit(void *ctx, char c)
{
    (void)ctx;
    putc_crlf(c);
}

void log_set_level(enum log_level lvl)
{
    log_level = lvl;
}

void log_write(const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        putc_crlf(buf[i]);
}

void log_vprintf(enum log_level lvl, const char *fmt, va_list ap)
{
    static const char letters[] = {'E', 'W', 'I', 'D'};

    if (lvl > log_level)
        return;
    uint64_t ns = arch_now_ns();
    char prefix[40];
    snprintf(prefix, sizeof(prefix),
             "(hv) [%4llu.%06llu] %c: ", (unsigned long long)(ns / 1000000000ull),
             (unsigned long long)((ns / 1000ull) % 1000000ull), letters[lvl]);
    log_write(prefix, strlen(prefix));
    libc_vformat(emit, NULL, fmt, ap);
    putc_crlf('\n');
}

void log_printf(enum log_level lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vprintf(lvl, fmt, ap);
    va_end(ap);
}
