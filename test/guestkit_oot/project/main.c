/* A domain built outside the tree: console, command line, libc, heap and a
 * spinlock, all from the installed guest-kit. */
#include <stdio.h>
#include <string.h>

#include "gk/gk.h"
#include "gk/heap.h"
#include "gk/spinlock.h"

static struct gk_spinlock lock = GK_SPINLOCK_INIT;

int main(const struct hv_start_info *si)
{
    char who[32];
    if (!gk_cmdline_get("who", who, sizeof(who)))
        strlcpy(who, "nobody", sizeof(who));
    gk_printf("oot-hello: built outside the tree, hello %s\n", who);

    gk_spin_lock(&lock);
    char *a = malloc(100);
    char *b = calloc(10, 10);
    gk_assert(a && b && ((uintptr_t)a & 15) == 0 && b[99] == 0);
    snprintf(a, 100, "domain %u", si->domid);
    a = realloc(a, 4000);
    gk_assert(a && strcmp(a, "domain 0") == 0);
    free(b);
    free(a);
    struct gk_heap_stats st;
    gk_heap_get_stats(gk_heap_global(), &st);
    gk_assert(st.allocated_count == 0 && gk_heap_check(gk_heap_global()));
    gk_spin_unlock(&lock);
    gk_printf("oot-hello: heap ok (%zu bytes in the arena)\n", st.total_bytes);
    gk_printf("oot-hello: done\n");
    return 0;
}
