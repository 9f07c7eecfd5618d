/*
 * Checks on where a boot module lies in physical memory, before anything
 * reads it. Pure logic (host-tested in test/unit/hv).
 */
#ifndef HV_BOOTMOD_H
#define HV_BOOTMOD_H

#include "types.h"

enum bootmod_error {
    BOOTMOD_OK = 0,
    BOOTMOD_E_EMPTY,          /* end <= start */
    BOOTMOD_E_OVERLAPS_HV,    /* intersects the hypervisor image */
    BOOTMOD_E_NOT_MAPPED,     /* reaches beyond what the hypervisor can read */
    BOOTMOD_E_OVERLAPS_OTHER, /* intersects another module */
};

/* Checks module `index` of mods[0..count): it must be non-empty, below
 * `readable_limit`, outside [hv_start, hv_end) and disjoint from every other
 * module. */
enum bootmod_error bootmod_check(const paddr_t (*mods)[2], size_t count, size_t index,
                                 paddr_t hv_start, paddr_t hv_end, paddr_t readable_limit);
const char *bootmod_strerror(enum bootmod_error e);

#endif
