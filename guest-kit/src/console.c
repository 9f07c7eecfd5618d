/*
 * Console output for domains: characters are collected in a line buffer and
 * written with one HC_CONSOLE_WRITE per line (or when the buffer fills).
 * Console input and the holder side of other domains' rings are at the end
 * (gk/console.h). Each VCPU has its own line buffer, so lines printed by
 * different VCPUs never mix (each line is one hypercall); an event handler
 * that prints interrupts its own VCPU's line, as before.
 */
#include <string.h>

#include "gk/console.h"
#include "gk/event.h"
#include "gk/gk.h"
#include "gk/vcpu.h"
#include "libc_format.h"

#define LINE_MAX 256u
static GK_PER_VCPU(char, line)[LINE_MAX];
static GK_PER_VCPU(size_t, line_len);

void gk_console_flush(void)
{
    unsigned id = gk_vcpu_id();
    size_t off = 0;
    while (off < line_len[id]) {
        int64_t n = gk_hc_console_write(line[id] + off, line_len[id] - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    line_len[id] = 0;
}

static void emit(void *ctx, char c)
{
    (void)ctx;
    unsigned id = gk_vcpu_id();
    line[id][line_len[id]++] = c;
    if (c == '\n' || line_len[id] == LINE_MAX)
        gk_console_flush();
}

int gk_vprintf(const char *fmt, va_list ap)
{
    return libc_vformat(emit, NULL, fmt, ap);
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

/* ---- Console input and the holder side (gk/console.h) -------------------- */

static int64_t con_virq_port; /* > 0 once bound, 0 if bound by others */
static bool con_virq_done;

static void console_event(uint32_t port, void *arg)
{
    (void)port;
    (void)arg; /* the reader re-reads the ring: nothing to do here */
}

int64_t gk_console_virq_port(void)
{
    if (con_virq_done)
        return con_virq_port;
    int64_t rc = gk_events_init();
    if (rc != HV_OK)
        return rc;
    uint32_t port = 0;
    rc = gk_evtchn_bind_virq(HV_VIRQ_CONSOLE, 0, &port);
    if (rc == HV_OK) {
        gk_evtchn_bind_handler(port, console_event, NULL);
        gk_evtchn_unmask(port);
        con_virq_port = port;
    } else if (rc != HV_EEXIST) {
        return rc;
    }
    con_virq_done = true;
    return con_virq_port;
}

static int64_t console_op(enum hv_console_cmd cmd, uint32_t slot, uint64_t buf, size_t len)
{
    struct hv_console_args a = {.con_slot = slot, .buf = buf, .len = len};
    return gk_hc_console_op(cmd, &a);
}

int64_t gk_console_read(char *buf, size_t len)
{
    return console_op(HV_CONSOLE_READ_INPUT, HV_CAP_SLOT_SELF, (uint64_t)(uintptr_t)buf, len);
}

int gk_console_getc_blocking(void)
{
    int64_t rc = gk_console_virq_port();
    if (rc < 0)
        return (int)rc;
    bool was = gk_events_disable();
    for (;;) {
        char c;
        int64_t n = gk_console_read(&c, 1);
        if (n == 1) {
            gk_events_restore(was);
            return (unsigned char)c;
        }
        if (n < 0) {
            gk_events_restore(was);
            return (int)n;
        }
        /* Empty, checked with upcalls masked: input arriving from here on
         * raises HV_VIRQ_CONSOLE and HC_BLOCK returns at once. */
        gk_block();
        gk_events_disable();
    }
}

int64_t gk_console_read_output(uint32_t con_slot, char *buf, size_t len)
{
    return console_op(HV_CONSOLE_READ, con_slot, (uint64_t)(uintptr_t)buf, len);
}

int64_t gk_console_write_input(uint32_t con_slot, const char *buf, size_t len)
{
    return console_op(HV_CONSOLE_WRITE, con_slot, (uint64_t)(uintptr_t)buf, len);
}

int64_t gk_console_watch(uint32_t con_slot)
{
    int64_t rc = gk_console_virq_port();
    if (rc < 0)
        return rc;
    return console_op(HV_CONSOLE_WATCH, con_slot, 0, 0);
}
