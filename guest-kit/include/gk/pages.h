/*
 * Pages of the domain's own memory, mapped writable at fresh addresses of
 * guest-kit's mapping arena (the addresses where other domains' grants are
 * mapped too, docs/bus.md): for areas a domain shares with another (it
 * grants them page by page: gk_va_to_mfn gives each page's frame).
 * Needs gk_mm_init. MP-safe.
 */
#ifndef GK_PAGES_H
#define GK_PAGES_H

#include <stdint.h>

/* `pages` zeroed pages, contiguous in the address space (not in machine
 * memory), or NULL (no free pfn, no address range, a mapping refused). */
void *gk_pages_alloc(uint32_t pages);

/* Unmaps them and gives their pfns back to gk_pfn_alloc. Grants of them
 * must have ended. */
void gk_pages_free(void *va, uint32_t pages);

#endif
