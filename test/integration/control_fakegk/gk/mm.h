/* Host stand-in for gk/mm.h (control_host_test). */
#ifndef GK_MM_H
#define GK_MM_H

#include <stdint.h>

uint64_t gk_pfn_free_count(void);

#endif
