/*
 * The heap growing into the domain's own frames: after the 256 KiB .bss
 * arena, malloc maps fresh pages (gk_mm_init, gk_heap_global_grow_from_frames).
 * Allocates `mib=N` MiB (default 4) in 64 KiB blocks, fills each with its own
 * pattern, checks every byte, frees everything and checks the heap.
 * `mode=double_free` frees a block twice: the heap must stop the domain
 * (panic, shut down as crashed) instead of corrupting itself.
 */
#include <stdlib.h>
#include <string.h>

#include "gk/gk.h"
#include "gk/heap.h"
#include "gk/mm.h"

#define BLOCK_BYTES (64u * 1024u)
#define BLOCKS_MAX 256u

static unsigned char *blocks[BLOCKS_MAX];

int main(const struct hv_start_info *si)
{
    char arg[16];
    unsigned long mib = 4;
    if (gk_cmdline_get("mib", arg, sizeof(arg)))
        mib = strtoul(arg, NULL, 10);
    unsigned count = (unsigned)(mib * 1024u * 1024u / BLOCK_BYTES);
    if (count > BLOCKS_MAX)
        gk_panic("heapgrow: at most %u MiB", BLOCKS_MAX * BLOCK_BYTES / (1024u * 1024u));

    int rc = gk_mm_init(si);
    if (rc != HV_OK)
        gk_panic("heapgrow: gk_mm_init: %d", rc);
    if (!gk_heap_global_grow_from_frames(GK_HEAP_FRAMES_VA_DEFAULT, 64ull << 20))
        gk_panic("heapgrow: bad heap range");

    if (gk_cmdline_get("mode", arg, sizeof(arg)) && !strcmp(arg, "double_free")) {
        void *p = malloc(100), *q = malloc(100);
        free(p);
        gk_printf("heapgrow: freeing %p twice\n", p);
        free(p);
        gk_printf("heapgrow: double free NOT detected (%p)\n", q);
        return 1;
    }

    for (unsigned i = 0; i < count; i++) {
        blocks[i] = malloc(BLOCK_BYTES);
        if (!blocks[i])
            gk_panic("heapgrow: malloc %u of %u failed", i, count);
        memset(blocks[i], (int)(i * 7 + 1), BLOCK_BYTES);
    }
    struct gk_heap_stats st;
    gk_heap_get_stats(gk_heap_global(), &st);
    gk_printf("heapgrow: %u blocks of %u KiB, heap %zu KiB after %zu grows, %llu frames left\n",
              count, BLOCK_BYTES / 1024u, st.total_bytes / 1024u, st.grow_count,
              (unsigned long long)gk_pfn_free_count());
    for (unsigned i = 0; i < count; i++) {
        for (unsigned j = 0; j < BLOCK_BYTES; j++)
            if (blocks[i][j] != (unsigned char)(i * 7 + 1))
                gk_panic("heapgrow: block %u damaged at byte %u", i, j);
        free(blocks[i]);
    }
    gk_heap_get_stats(gk_heap_global(), &st);
    gk_assert(st.allocated_count == 0 && st.used_bytes == 0);
    gk_assert(gk_heap_check(gk_heap_global()));
    gk_printf("heapgrow: all blocks intact and freed, %zu free blocks\n", st.free_block_count);
    gk_printf("heapgrow: done\n");
    return 0;
}
