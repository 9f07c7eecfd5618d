/* A root domain that shuts down with the reason named by `reason=`. */
#include <string.h>

#include "gk/gk.h"

int main(const struct hv_start_info *si)
{
    (void)si;
    char reason[16];
    if (!gk_cmdline_get("reason", reason, sizeof(reason)))
        gk_panic("no reason= on the command line");
    gk_printf("shutdown: asking for %s\n", reason);
    if (!strcmp(reason, "crash"))
        gk_shutdown(HV_SHUTDOWN_CRASH);
    if (!strcmp(reason, "reboot"))
        gk_shutdown(HV_SHUTDOWN_REBOOT);
    if (!strcmp(reason, "assert"))
        gk_assert(1 + 1 == 3);
    gk_shutdown(HV_SHUTDOWN_POWEROFF);
}
