/* The memory manager's hypervisor-side set-up (hv/mm/mm_hv.c). */
#ifndef HV_MM_HV_H
#define HV_MM_HV_H

#include "types.h"

struct pmm;

/* Allocates and maps the frame table and the M2P for frames
 * [0, frames_count), and configures page-table validation. Boot only. */
void mm_hv_init(struct pmm *pmm, uint64_t frames_count);
/* Frames the frame table covers (mfns at or above are refused: HV_ERANGE). */
uint64_t mm_hv_frames_count(void);
/* The hypervisor's frame allocator (set by mm_hv_init). */
struct pmm *mm_hv_pool(void);

#endif
