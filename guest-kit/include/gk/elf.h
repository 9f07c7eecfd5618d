/*
 * guest-kit's ELF64 executable checker, for the domain builder (gk/builder.h).
 *
 * The same contract as the hypervisor's checker for the root domain
 * (hv/core/include/elf64.h, which guest-kit cannot include: it must build out of
 * tree), with the same accepted images and the same order of checks, so a
 * domain built by guest-kit is refused exactly when the hypervisor would
 * refuse the same image as root.
 *
 * Accepted: ELFCLASS64, little-endian, EV_CURRENT, ET_EXEC, EM_X86_64, with
 * 1..GK_ELF_MAX_SEGMENTS non-empty PT_LOAD segments and no PT_INTERP or
 * PT_DYNAMIC. gk_elf_check() reads nothing outside [img, img + size),
 * accepts an unaligned img, never overflows, and copies nothing.
 *
 * Pure code: no hypercalls; host-tested in test/unit/builder.
 */
#ifndef GK_ELF_H
#define GK_ELF_H

#include <stddef.h>
#include <stdint.h>

#define GK_ELF_MAX_SEGMENTS 16
#define GK_ELF_PF_X 1u
#define GK_ELF_PF_W 2u
#define GK_ELF_PF_R 4u

/* One non-empty PT_LOAD segment, in program-header order. */
struct gk_elf_segment {
    uint64_t vaddr, memsz, file_offset, filesz;
    uint32_t flags; /* GK_ELF_PF_* bits only */
};

/* The description of an accepted image. */
struct gk_elf_image {
    uint64_t entry;
    struct gk_elf_segment segs[GK_ELF_MAX_SEGMENTS];
    size_t segs_count;
    uint64_t va_lowest, va_end; /* page-rounded span of all segments */
};

enum gk_elf_error {
    GK_ELF_OK = 0,
    GK_ELF_E_TRUNCATED,         /* smaller than the ELF header */
    GK_ELF_E_BAD_MAGIC,         /* not \x7fELF */
    GK_ELF_E_NOT_64BIT,         /* EI_CLASS != ELFCLASS64 */
    GK_ELF_E_NOT_LE,            /* EI_DATA != ELFDATA2LSB */
    GK_ELF_E_BAD_VERSION,       /* EI_VERSION or e_version != 1 */
    GK_ELF_E_NOT_EXEC,          /* e_type != ET_EXEC (e.g. ET_DYN / PIE) */
    GK_ELF_E_NOT_X86_64,        /* e_machine != EM_X86_64 */
    GK_ELF_E_BAD_PHDRS,         /* e_phentsize != 56, e_phnum 0 or PN_XNUM, or the
                                   table not inside the file */
    GK_ELF_E_NO_LOAD,           /* no non-empty PT_LOAD */
    GK_ELF_E_TOO_MANY_SEGMENTS, /* more than GK_ELF_MAX_SEGMENTS non-empty PT_LOAD */
    GK_ELF_E_SEG_OUT_OF_FILE,   /* [p_offset, p_offset + p_filesz) not inside the file */
    GK_ELF_E_SEG_FILESZ,        /* p_filesz > p_memsz */
    GK_ELF_E_SEG_RANGE,         /* outside [va_min, va_limit) or wraps */
    GK_ELF_E_SEG_MISALIGNED,    /* vaddr % 4096 != offset % 4096, or p_align not a
                                   power of two / not honoured */
    GK_ELF_E_SEG_OVERLAP,       /* two segments share a page */
    GK_ELF_E_ENTRY,             /* entry not inside an executable segment */
    GK_ELF_E_TOO_BIG,           /* page-rounded span > max_bytes */
    GK_ELF_E_BAD_HEADER,        /* e_ehsize != 64 */
    GK_ELF_E_DYNAMIC,           /* has PT_INTERP or PT_DYNAMIC */
    GK_ELF_E_BAD_ARGS,          /* img/out NULL, va_min/va_limit not page aligned,
                                   or va_min >= va_limit */
    GK_ELF_E_COUNT_             /* number of codes; not an error */
};

/*
 * Validates an untrusted ELF64 executable of `size` bytes. Every PT_LOAD
 * segment must lie in [va_min, va_limit) (both page aligned), with
 * vaddr % 4096 == file_offset % 4096, no overflow anywhere, no two segments
 * sharing a page, filesz <= memsz, bytes within the file; the entry point in
 * an executable segment; the page-rounded span at most max_bytes. PT_LOAD
 * segments with memsz == 0 are checked like the others but not listed. On
 * success fills *out; on error *out is zeroed.
 */
enum gk_elf_error gk_elf_check(const void *img, size_t size, uint64_t va_min, uint64_t va_limit,
                               uint64_t max_bytes, struct gk_elf_image *out);

/* A short static English description of `e` (never NULL). */
const char *gk_elf_strerror(enum gk_elf_error e);

#endif /* GK_ELF_H */
