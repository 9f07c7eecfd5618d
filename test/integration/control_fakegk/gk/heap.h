/* Host stand-in for gk/heap.h (control_host_test): the statistics only. */
#ifndef GK_HEAP_H
#define GK_HEAP_H

#include <stddef.h>

struct gk_heap;
struct gk_heap_stats {
    size_t total_bytes, used_bytes, allocated_count, free_block_count, grow_count;
};
struct gk_heap *gk_heap_global(void);
void gk_heap_get_stats(const struct gk_heap *heap, struct gk_heap_stats *out);

#endif
