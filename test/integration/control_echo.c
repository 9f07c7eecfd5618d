/*
 * A guest for the control-domain console tests: prints "echo: ready", then
 * echoes every line of console input as "echo: LINE"; "quit" powers it off.
 * Input arrives through the control domain (console-data -> the domain's
 * input ring).
 */
#include "gk/gk.h"

int main(const struct hv_start_info *si)
{
    (void)si;
    gk_printf("echo: ready\n");
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
