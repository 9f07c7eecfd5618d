/*
 * The x86_64 page-table entry, as a guest writes it into its own page tables
 * and the hypervisor validates it (docs/mm.md, "Validation rules"; the rules
 * themselves are in hv/mm/pt.c). The one definition of these bits: the
 * hypervisor's memory manager and paging code, guest-kit (gk/mm.h names them
 * GK_PTE_*) and the start-of-day layout all use it.
 */
#ifndef HV_PTE_H
#define HV_PTE_H

#define HV_PTE_P (1ull << 0)
#define HV_PTE_RW (1ull << 1)
#define HV_PTE_US (1ull << 2) /* must be set in every present guest entry */
#define HV_PTE_PWT (1ull << 3)
#define HV_PTE_PCD (1ull << 4)
#define HV_PTE_A (1ull << 5)
#define HV_PTE_D (1ull << 6)
#define HV_PTE_PS (1ull << 7)        /* superpage at L2/L3, PAT at L1: refused in guest tables */
#define HV_PTE_G (1ull << 8)         /* global: refused in guest tables */
#define HV_PTE_AVAIL_LOW (7ull << 9) /* bits 9..11, ignored by hardware */
#define HV_PTE_AVAIL_HIGH (0x7ffull << 52) /* bits 52..62, ignored by hardware */
#define HV_PTE_NX (1ull << 63)
#define HV_PTE_ADDR_MASK 0x000ffffffffff000ull /* address bits 12..51 */

#endif /* HV_PTE_H */
