/* The smallest domain: say hello, describe the start of day, power off. */
#include "gk/gk.h"

int main(const struct hv_start_info *si)
{
    gk_printf("hello from domain %u\n", si->domid);
    gk_printf("memory: %llu KiB in %llu frames, %llu page-table frames, stack top %#llx\n",
              (unsigned long long)(si->pages_count * 4), (unsigned long long)si->pages_count,
              (unsigned long long)si->pt_frames_count, (unsigned long long)si->stack_top_va);
    gk_printf("command line: \"%s\", %u modules\n", si->cmdline, si->modules_count);
    gk_printf("hello: done\n");
    return 0;
}
