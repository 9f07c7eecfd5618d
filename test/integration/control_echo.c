/*
 * A guest for the control-domain console tests: prints "echo: ready", then
 * echoes every line of console input as "echo: LINE"; "quit" powers it off.
 * Input arrives through the control domain (console-data -> the domain's
 * input ring).
 *
 * Shutdown requests (gk/event.h), by command line: `shutdown=hook` cleans
 * up in a hook (prints "echo: hook: REASON: flushing", then shuts down with
 * the reason asked); `shutdown=ignore` prints "echo: ignoring REASON" and
 * keeps running (the control domain forces it at the timeout); without it,
 * guest-kit's default stops it at once.
 */
#include <string.h>

#include "gk/gk.h"

static const char *reason_name(enum hv_shutdown_reason r)
{
    return r == HV_SHUTDOWN_REBOOT ? "reboot" : r == HV_SHUTDOWN_POWEROFF ? "poweroff" : "other";
}

/* Runs at a safe point (the return of gk_block), not in the upcall. */
static void hook_clean(enum hv_shutdown_reason r)
{
    gk_printf("echo: hook: %s: flushing\n", reason_name(r));
    gk_shutdown(r);
}

static void hook_ignore(enum hv_shutdown_reason r)
{
    gk_printf("echo: ignoring %s\n", reason_name(r));
}

int main(const struct hv_start_info *si)
{
    (void)si;
    char mode[16] = "";
    gk_cmdline_get("shutdown", mode, sizeof mode);
    if (!strcmp(mode, "hook"))
        gk_on_shutdown_request(hook_clean);
    else if (!strcmp(mode, "ignore"))
        gk_on_shutdown_request(hook_ignore);
    gk_printf("echo: ready%s%s\n", mode[0] ? " shutdown=" : "", mode);
    char line[128];
    size_t n = 0;
    for (;;) {
        int c = gk_console_getc_blocking();
        if (c < 0)
            gk_panic("echo: console read failed (%d)", c);
        if (c == '\r' || c == '\n') {
            line[n] = 0;
            if (n == 4 && line[0] == 'q' && line[1] == 'u' && line[2] == 'i' && line[3] == 't') {
                gk_printf("echo: bye\n");
                return 0;
            }
            gk_printf("echo: %s\n", line);
            n = 0;
        } else if (n < sizeof line - 1) {
            line[n++] = (char)c;
        }
    }
}
