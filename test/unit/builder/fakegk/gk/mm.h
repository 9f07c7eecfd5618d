/* Host stand-in for gk/mm.h (see gk.h here): the functions the builder
 * uses, implemented by the fake hypervisor of test_executor.c. The PTE
 * bits are the real ones (hv/pte.h). */
#ifndef FAKE_GK_MM_H
#define FAKE_GK_MM_H

#include <stdint.h>

#include "gk/hypercall.h"
#include "hv/abi.h"
#include "hv/pte.h"

#define GK_PTE_P HV_PTE_P
#define GK_PTE_RW HV_PTE_RW
#define GK_PTE_US HV_PTE_US
#define GK_PTE_NX HV_PTE_NX
#define GK_PTE_RWDATA (GK_PTE_P | GK_PTE_RW | GK_PTE_US | GK_PTE_NX)

int64_t gk_hc_memory_op(uint64_t cmd, uint64_t arg);
int64_t gk_hc_update_va_mapping(uint64_t va, uint64_t pte, uint64_t flags);
uint64_t gk_mm_window_va(void);
uint64_t gk_pt_entry_maddr(uint64_t va, unsigned level);
uint64_t gk_pt_read(uint64_t maddr);
int64_t gk_map_frame(uint64_t va, uint64_t mfn, uint64_t flags);

#endif
