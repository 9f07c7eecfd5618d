/* Placement checks for boot modules (see bootmod.h). */
#include "bootmod.h"

static bool overlaps(paddr_t a0, paddr_t a1, paddr_t b0, paddr_t b1)
{
    return a0 < b1 && b0 < a1;
}

enum bootmod_error bootmod_check(const paddr_t (*mods)[2], size_t count, size_t index,
                                 paddr_t hv_start, paddr_t hv_end, paddr_t readable_limit)
{
    paddr_t start = mods[index][0], end = mods[index][1];

    if (end <= start)
        return BOOTMOD_E_EMPTY;
    if (overlaps(start, end, hv_start, hv_end))
        return BOOTMOD_E_OVERLAPS_HV;
    if (end > readable_limit)
        return BOOTMOD_E_NOT_MAPPED;
    for (size_t i = 0; i < count; i++) {
        if (i != index && overlaps(start, end, mods[i][0], mods[i][1]))
            return BOOTMOD_E_OVERLAPS_OTHER;
    }
    return BOOTMOD_OK;
}

const char *bootmod_strerror(enum bootmod_error e)
{
    switch (e) {
    case BOOTMOD_OK: return "ok";
    case BOOTMOD_E_EMPTY: return "it is empty";
    case BOOTMOD_E_OVERLAPS_HV: return "it overlaps the hypervisor image";
    case BOOTMOD_E_NOT_MAPPED: return "it lies beyond the memory the hypervisor maps";
    case BOOTMOD_E_OVERLAPS_OTHER: return "it overlaps another module";
    }
    return "unknown error";
}
