/*
 * Console output for domains: characters are collected in a line buffer and
 * written with one HC_CONSOLE_WRITE per line (or when the buffer fills).
 * Not thread-safe (one VCPU for now).
 */
#include <string.h>

#include "gk/gk.h"
#include "gk_format.h"

static char line[256];
static size_t line_len;

void gk_console_flush(void)
{
    size_t off = 0;
    while (off < line_len) {
        int64_t n = gk_hc_console_write(line + off, line_len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    line_len = 0;
}

static void emit(void *ctx, char c)
{
    (void)ctx;
    line[line_len++] = c;
    if (c == '\n' || line_len == sizeof(line))
        gk_console_flush();
}

int gk_vprintf(const char *fmt, va_list ap)
{
    return gk_vformat(emit, NULL, fmt, ap);
}

int gk_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = gk_vprintf(fmt, ap);
    va_end(ap);
    return n;
}

void gk_puts(const char *s)
{
    while (*s)
        emit(NULL, *s++);
}
