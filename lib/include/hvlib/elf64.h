/*
 * ELF64 executable image checker.
 *
 * Called by whoever loads an untrusted ELF image: the hypervisor when it
 * builds the first domain from a Multiboot2 module, and guest-kit's domain
 * builder (one copy in lib/, compiled for each).
 * elf64_check() only validates and describes the image; it copies nothing.
 * It reads nothing outside [img, img + size), accepts unaligned `img`, does
 * no arithmetic that can overflow, and either accepts the image with a
 * complete description or rejects it with a precise error code.
 *
 * Accepted: ELFCLASS64, little-endian, EV_CURRENT, ET_EXEC, EM_X86_64, with
 * 1..ELF64_MAX_SEGMENTS non-empty PT_LOAD segments and no PT_INTERP or
 * PT_DYNAMIC (static executables only). Loading an accepted image means, for
 * each segment: map the pages of [vaddr, vaddr + memsz) (page-rounded), copy
 * filesz bytes from file_offset to vaddr, zero the rest up to memsz.
 * The ELF structures are defined privately (no <elf.h>).
 */
#ifndef HVLIB_ELF64_H
#define HVLIB_ELF64_H

#include <stddef.h>
#include <stdint.h>

#define ELF64_MAX_SEGMENTS 16
#define ELF64_PF_X 1u
#define ELF64_PF_W 2u
#define ELF64_PF_R 4u

/* One PT_LOAD segment, in program-header order. */
struct elf64_segment {
    uint64_t vaddr, memsz, file_offset, filesz;
    uint32_t flags; /* ELF64_PF_* bits only */
};

/* The description of an accepted image. */
struct elf64_image {
    uint64_t entry;
    struct elf64_segment segs[ELF64_MAX_SEGMENTS];
    size_t segs_count;
    uint64_t va_lowest, va_end; /* page-rounded span of all segments */
};

enum elf64_error {
    ELF64_OK = 0,
    ELF64_E_TRUNCATED,         /* smaller than the ELF header */
    ELF64_E_BAD_MAGIC,         /* not \x7fELF */
    ELF64_E_NOT_64BIT,         /* EI_CLASS != ELFCLASS64 */
    ELF64_E_NOT_LE,            /* EI_DATA != ELFDATA2LSB */
    ELF64_E_BAD_VERSION,       /* EI_VERSION or e_version != 1 */
    ELF64_E_NOT_EXEC,          /* e_type != ET_EXEC (e.g. ET_DYN / PIE) */
    ELF64_E_NOT_X86_64,        /* e_machine != EM_X86_64 */
    ELF64_E_BAD_PHDRS,         /* e_phentsize != 56, e_phnum 0 or PN_XNUM, or the
                                  table not inside the file */
    ELF64_E_NO_LOAD,           /* no non-empty PT_LOAD */
    ELF64_E_TOO_MANY_SEGMENTS, /* more than ELF64_MAX_SEGMENTS non-empty PT_LOAD */
    ELF64_E_SEG_OUT_OF_FILE,   /* [p_offset, p_offset + p_filesz) not inside the file */
    ELF64_E_SEG_FILESZ,        /* p_filesz > p_memsz */
    ELF64_E_SEG_RANGE,         /* outside [va_min, va_limit) or wraps */
    ELF64_E_SEG_MISALIGNED,    /* vaddr % 4096 != offset % 4096, or p_align not a
                                  power of two / not honoured */
    ELF64_E_SEG_OVERLAP,       /* two segments share a page */
    ELF64_E_ENTRY,             /* entry not inside an executable segment */
    ELF64_E_TOO_BIG,           /* page-rounded span > max_bytes */
    ELF64_E_BAD_HEADER,        /* e_ehsize != 64 */
    ELF64_E_DYNAMIC,           /* has PT_INTERP or PT_DYNAMIC */
    ELF64_E_BAD_ARGS,          /* img/out NULL, va_min/va_limit not page aligned,
                                  or va_min >= va_limit */
    ELF64_E_COUNT_             /* number of codes; not an error */
};

/*
 * Validates an untrusted ELF64 executable of `size` bytes. Every PT_LOAD
 * segment must lie in [va_min, va_limit) (both page aligned), with
 * vaddr % 4096 == file_offset % 4096, no overflow anywhere, no two segments
 * sharing a page, filesz <= memsz, bytes within the file; the entry point in
 * an executable segment; the total page-rounded span at most max_bytes.
 * PT_LOAD segments with memsz == 0 are checked like the others but not
 * listed in *out (they map nothing). On success fills *out; on
 * error *out is zeroed. Reads nothing outside [img, img + size).
 */
enum elf64_error elf64_check(const void *img, size_t size, uint64_t va_min, uint64_t va_limit,
                             uint64_t max_bytes, struct elf64_image *out);

/* A short static English description of `e` (never NULL). */
const char *elf64_strerror(enum elf64_error e);

#endif /* HVLIB_ELF64_H */
