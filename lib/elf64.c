/*
 * ELF64 executable image checker (see elf64.h for the contract).
 *
 * Design: the header and each program header are decoded field by field with
 * little-endian byte loads at offsets that were bounds-checked first, so the
 * image may be unaligned and nothing outside [img, img + size) is read. Every
 * sum is checked for wrap-around before it is formed. The description is
 * built in *out and cleared again on any error.
 *
 * Order of checks (the first failing one is reported): header identity,
 * header layout, program-header table bounds, then each program header in
 * table order (dynamic markers, file bounds, sizes, alignment, range), then
 * the cross-segment checks (count, overlap, entry, span).
 *
 * One copy (lib/), called by the hypervisor when it builds the first domain
 * from a Multiboot2 module and by guest-kit's domain builder, so a domain
 * built by either is refused for the same reasons; host-tested in
 * test/unit/lib (lib_elf64_test).
 */
#include <stdbool.h>

#include "hvlib/elf64.h"
#include "hvlib/le.h"

#define PAGE_SIZE 4096ull
#define ALIGN_DOWN(x, a) ((x) & ~((a)-1))
#define ALIGN_UP(x, a) (((x) + (a)-1) & ~((a)-1))
#define IS_ALIGNED(x, a) (((x) & ((a)-1)) == 0)
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* ELF constants we need (no <elf.h> in the freestanding build). */
#define ELF64_EHDR_BYTES 64u
#define ELF64_PHDR_BYTES 56u
#define ELF64_EI_CLASS 4
#define ELF64_EI_DATA 5
#define ELF64_EI_VERSION 6
#define ELF64_CLASS64 2
#define ELF64_DATA2LSB 1
#define ELF64_EV_CURRENT 1
#define ELF64_ET_EXEC 2
#define ELF64_EM_X86_64 62
#define ELF64_PN_XNUM 0xffffu
#define ELF64_PT_LOAD 1u
#define ELF64_PT_DYNAMIC 2u
#define ELF64_PT_INTERP 3u

/* Offsets in the ELF64 file header. */
#define ELF64_EH_TYPE 16
#define ELF64_EH_MACHINE 18
#define ELF64_EH_VERSION 20
#define ELF64_EH_ENTRY 24
#define ELF64_EH_PHOFF 32
#define ELF64_EH_EHSIZE 52
#define ELF64_EH_PHENTSIZE 54
#define ELF64_EH_PHNUM 56

/* Offsets in an ELF64 program header. */
#define ELF64_PH_TYPE 0
#define ELF64_PH_FLAGS 4
#define ELF64_PH_OFFSET 8
#define ELF64_PH_VADDR 16
#define ELF64_PH_FILESZ 32
#define ELF64_PH_MEMSZ 40
#define ELF64_PH_ALIGN 48

static enum elf64_error elf64_check_header(const uint8_t *b, size_t size)
{
    if (size < ELF64_EHDR_BYTES)
        return ELF64_E_TRUNCATED;
    if (b[0] != 0x7f || b[1] != 'E' || b[2] != 'L' || b[3] != 'F')
        return ELF64_E_BAD_MAGIC;
    if (b[ELF64_EI_CLASS] != ELF64_CLASS64)
        return ELF64_E_NOT_64BIT;
    if (b[ELF64_EI_DATA] != ELF64_DATA2LSB)
        return ELF64_E_NOT_LE;
    if (b[ELF64_EI_VERSION] != ELF64_EV_CURRENT ||
        hv_le32(b + ELF64_EH_VERSION) != ELF64_EV_CURRENT)
        return ELF64_E_BAD_VERSION;
    if (hv_le16(b + ELF64_EH_TYPE) != ELF64_ET_EXEC)
        return ELF64_E_NOT_EXEC;
    if (hv_le16(b + ELF64_EH_MACHINE) != ELF64_EM_X86_64)
        return ELF64_E_NOT_X86_64;
    if (hv_le16(b + ELF64_EH_EHSIZE) != ELF64_EHDR_BYTES)
        return ELF64_E_BAD_HEADER;
    uint64_t phoff = hv_le64(b + ELF64_EH_PHOFF);
    uint64_t phnum = hv_le16(b + ELF64_EH_PHNUM);
    if (hv_le16(b + ELF64_EH_PHENTSIZE) != ELF64_PHDR_BYTES || phnum == 0 || phnum == ELF64_PN_XNUM)
        return ELF64_E_BAD_PHDRS;
    /* phnum * 56 < 2^22, so only phoff can make the sum wrap. */
    if (phoff > size || phnum * ELF64_PHDR_BYTES > size - phoff)
        return ELF64_E_BAD_PHDRS;
    return ELF64_OK;
}

/* Checks one PT_LOAD program header on its own and describes it in *seg. */
static enum elf64_error elf64_check_load(const uint8_t *ph, size_t size, uint64_t va_min,
                                         uint64_t va_limit, struct elf64_segment *seg)
{
    uint64_t offset = hv_le64(ph + ELF64_PH_OFFSET);
    uint64_t vaddr = hv_le64(ph + ELF64_PH_VADDR);
    uint64_t filesz = hv_le64(ph + ELF64_PH_FILESZ);
    uint64_t memsz = hv_le64(ph + ELF64_PH_MEMSZ);
    uint64_t align = hv_le64(ph + ELF64_PH_ALIGN);

    if (offset > size || filesz > size - offset)
        return ELF64_E_SEG_OUT_OF_FILE;
    if (filesz > memsz)
        return ELF64_E_SEG_FILESZ;
    if (vaddr % PAGE_SIZE != offset % PAGE_SIZE)
        return ELF64_E_SEG_MISALIGNED;
    if (align > 1 && ((align & (align - 1)) != 0 || (vaddr - offset) % align != 0))
        return ELF64_E_SEG_MISALIGNED;
    /* va_limit <= 2^64 - 4096 (page aligned, nonzero), so once
     * vaddr + memsz <= va_limit is known, rounding the end up cannot wrap. */
    if (vaddr < va_min || vaddr > va_limit || memsz > va_limit - vaddr)
        return ELF64_E_SEG_RANGE;

    seg->vaddr = vaddr;
    seg->memsz = memsz;
    seg->file_offset = offset;
    seg->filesz = filesz;
    seg->flags = hv_le32(ph + ELF64_PH_FLAGS) & (ELF64_PF_R | ELF64_PF_W | ELF64_PF_X);
    return ELF64_OK;
}

static uint64_t elf64_page_start(const struct elf64_segment *s)
{
    return ALIGN_DOWN(s->vaddr, PAGE_SIZE);
}

static uint64_t elf64_page_end(const struct elf64_segment *s)
{
    return ALIGN_UP(s->vaddr + s->memsz, PAGE_SIZE);
}

/* The checks across all segments: overlap, entry point, span. */
static enum elf64_error elf64_check_set(struct elf64_image *out, uint64_t max_bytes)
{
    bool entry_ok = false;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < out->segs_count; i++) {
        const struct elf64_segment *a = &out->segs[i];
        uint64_t as = elf64_page_start(a), ae = elf64_page_end(a);
        for (size_t j = i + 1; j < out->segs_count; j++) {
            const struct elf64_segment *b = &out->segs[j];
            if (as < elf64_page_end(b) && elf64_page_start(b) < ae)
                return ELF64_E_SEG_OVERLAP;
        }
        if ((a->flags & ELF64_PF_X) != 0 && out->entry >= a->vaddr &&
            out->entry - a->vaddr < a->memsz)
            entry_ok = true;
        lo = MIN(lo, as);
        hi = MAX(hi, ae);
    }
    if (!entry_ok)
        return ELF64_E_ENTRY;
    if (hi - lo > max_bytes)
        return ELF64_E_TOO_BIG;
    out->va_lowest = lo;
    out->va_end = hi;
    return ELF64_OK;
}

static enum elf64_error elf64_check_inner(const uint8_t *b, size_t size, uint64_t va_min,
                                          uint64_t va_limit, uint64_t max_bytes,
                                          struct elf64_image *out)
{
    enum elf64_error e = elf64_check_header(b, size);
    if (e != ELF64_OK)
        return e;
    uint64_t phoff = hv_le64(b + ELF64_EH_PHOFF);
    uint64_t phnum = hv_le16(b + ELF64_EH_PHNUM);
    out->entry = hv_le64(b + ELF64_EH_ENTRY);

    for (uint64_t i = 0; i < phnum; i++) {
        const uint8_t *ph = b + phoff + i * ELF64_PHDR_BYTES;
        uint32_t type = hv_le32(ph + ELF64_PH_TYPE);
        if (type == ELF64_PT_INTERP || type == ELF64_PT_DYNAMIC)
            return ELF64_E_DYNAMIC;
        if (type != ELF64_PT_LOAD)
            continue;
        struct elf64_segment seg;
        e = elf64_check_load(ph, size, va_min, va_limit, &seg);
        if (e != ELF64_OK)
            return e;
        if (seg.memsz == 0)
            continue; /* maps nothing */
        if (out->segs_count == ELF64_MAX_SEGMENTS)
            return ELF64_E_TOO_MANY_SEGMENTS;
        out->segs[out->segs_count++] = seg;
    }
    if (out->segs_count == 0)
        return ELF64_E_NO_LOAD;
    return elf64_check_set(out, max_bytes);
}

enum elf64_error elf64_check(const void *img, size_t size, uint64_t va_min, uint64_t va_limit,
                             uint64_t max_bytes, struct elf64_image *out)
{
    if (out == NULL)
        return ELF64_E_BAD_ARGS;
    __builtin_memset(out, 0, sizeof(*out));
    if (img == NULL || !IS_ALIGNED(va_min, PAGE_SIZE) || !IS_ALIGNED(va_limit, PAGE_SIZE) ||
        va_min >= va_limit)
        return ELF64_E_BAD_ARGS;
    enum elf64_error e = elf64_check_inner(img, size, va_min, va_limit, max_bytes, out);
    if (e != ELF64_OK)
        __builtin_memset(out, 0, sizeof(*out));
    return e;
}

const char *elf64_strerror(enum elf64_error e)
{
    static const char *const msgs[ELF64_E_COUNT_] = {
        [ELF64_OK] = "ok",
        [ELF64_E_TRUNCATED] = "smaller than an ELF64 header",
        [ELF64_E_BAD_MAGIC] = "not an ELF file",
        [ELF64_E_NOT_64BIT] = "not ELFCLASS64",
        [ELF64_E_NOT_LE] = "not little-endian",
        [ELF64_E_BAD_VERSION] = "bad ELF version",
        [ELF64_E_NOT_EXEC] = "not ET_EXEC",
        [ELF64_E_NOT_X86_64] = "not x86_64",
        [ELF64_E_BAD_PHDRS] = "bad program header table",
        [ELF64_E_NO_LOAD] = "no loadable segment",
        [ELF64_E_TOO_MANY_SEGMENTS] = "too many loadable segments",
        [ELF64_E_SEG_OUT_OF_FILE] = "segment bytes outside the file",
        [ELF64_E_SEG_FILESZ] = "segment filesz > memsz",
        [ELF64_E_SEG_RANGE] = "segment outside the allowed address range",
        [ELF64_E_SEG_MISALIGNED] = "segment misaligned",
        [ELF64_E_SEG_OVERLAP] = "segments share a page",
        [ELF64_E_ENTRY] = "entry point not in an executable segment",
        [ELF64_E_TOO_BIG] = "image span too big",
        [ELF64_E_BAD_HEADER] = "bad ELF header size",
        [ELF64_E_DYNAMIC] = "dynamically linked (PT_INTERP/PT_DYNAMIC)",
        [ELF64_E_BAD_ARGS] = "bad arguments",
    };
    if ((unsigned)e >= ELF64_E_COUNT_ || msgs[e] == NULL)
        return "unknown error";
    return msgs[e];
}
