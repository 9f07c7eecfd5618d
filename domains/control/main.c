/*
 * The control domain (root). UNFINISHED: this is the skeleton the foundation
 * boots by default. It reports its start of day and then idles, yielding the
 * CPU. The control protocol on COM2, the domain builder and supervision come
 * with the control-domain issue (see domains/control/README.md).
 */
#include "gk/gk.h"

int main(const struct hv_start_info *si)
{
    gk_printf("control: root domain up: %llu MiB, %u boot modules, command line \"%s\"\n",
              (unsigned long long)(si->pages_count >> 8), si->modules_count, si->cmdline);
    for (uint32_t i = 0; i < si->modules_count; i++)
        gk_printf("control: module %u \"%s\", %llu bytes\n", i, si->modules[i].name,
                  (unsigned long long)si->modules[i].size_bytes);
    gk_printf("control: the control protocol is not implemented yet; idling\n");
    for (;;)
        gk_hc_yield();
}
