/*
 * Little-endian loads from byte buffers that may be unaligned: the firmware
 * tables (ACPI, DMAR), the Multiboot2 information and ELF images are read
 * field by field with these, at offsets the caller bounds-checked first.
 * Header-only (static inline): used by the hypervisor and lib/elf64.c.
 */
#ifndef HVLIB_LE_H
#define HVLIB_LE_H

#include <stdint.h>

static inline uint16_t hv_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t hv_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t hv_le64(const uint8_t *p)
{
    return (uint64_t)hv_le32(p) | (uint64_t)hv_le32(p + 4) << 32;
}

#endif /* HVLIB_LE_H */
