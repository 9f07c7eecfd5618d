/*
 * Maps the hypervisor's ELF64 checker names onto guest-kit's port
 * (gk/elf.h), so that test/unit/boot/test_elf64.c runs unchanged against
 * guest-kit/src/elf.c (gk_elf_port_test). Only for that test.
 */
#ifndef BUILDER_SHIM_ELF64_H
#define BUILDER_SHIM_ELF64_H

#include <stdbool.h>

#include "gk/elf.h"

/* What hv/include/types.h gives the original test. */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define elf64_error gk_elf_error
#define elf64_image gk_elf_image
#define elf64_segment gk_elf_segment
#define elf64_check gk_elf_check
#define elf64_strerror gk_elf_strerror
#define ELF64_OK GK_ELF_OK
#define ELF64_MAX_SEGMENTS GK_ELF_MAX_SEGMENTS
#define ELF64_PF_R GK_ELF_PF_R
#define ELF64_PF_W GK_ELF_PF_W
#define ELF64_PF_X GK_ELF_PF_X
#define ELF64_E_TRUNCATED GK_ELF_E_TRUNCATED
#define ELF64_E_BAD_MAGIC GK_ELF_E_BAD_MAGIC
#define ELF64_E_NOT_64BIT GK_ELF_E_NOT_64BIT
#define ELF64_E_NOT_LE GK_ELF_E_NOT_LE
#define ELF64_E_BAD_VERSION GK_ELF_E_BAD_VERSION
#define ELF64_E_NOT_EXEC GK_ELF_E_NOT_EXEC
#define ELF64_E_NOT_X86_64 GK_ELF_E_NOT_X86_64
#define ELF64_E_BAD_PHDRS GK_ELF_E_BAD_PHDRS
#define ELF64_E_NO_LOAD GK_ELF_E_NO_LOAD
#define ELF64_E_TOO_MANY_SEGMENTS GK_ELF_E_TOO_MANY_SEGMENTS
#define ELF64_E_SEG_OUT_OF_FILE GK_ELF_E_SEG_OUT_OF_FILE
#define ELF64_E_SEG_FILESZ GK_ELF_E_SEG_FILESZ
#define ELF64_E_SEG_RANGE GK_ELF_E_SEG_RANGE
#define ELF64_E_SEG_MISALIGNED GK_ELF_E_SEG_MISALIGNED
#define ELF64_E_SEG_OVERLAP GK_ELF_E_SEG_OVERLAP
#define ELF64_E_ENTRY GK_ELF_E_ENTRY
#define ELF64_E_TOO_BIG GK_ELF_E_TOO_BIG
#define ELF64_E_BAD_HEADER GK_ELF_E_BAD_HEADER
#define ELF64_E_DYNAMIC GK_ELF_E_DYNAMIC
#define ELF64_E_BAD_ARGS GK_ELF_E_BAD_ARGS
#define ELF64_E_COUNT_ GK_ELF_E_COUNT_

#endif /* BUILDER_SHIM_ELF64_H */
