/*
 * guest-kit's ELF64 executable checker (see gk/elf.h for the contract): a
 * port of the hypervisor's hv/core/elf64.c with the same checks in the same
 * order (keep the two in step).
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
 * Called by the domain builder (builder_plan.c); host-tested in
 * test/unit/builder.
 */
#include <stdbool.h>

#include "gk/elf.h"

#define PAGE_SIZE 4096ull
#define ALIGN_DOWN(x, a) ((x) & ~((a)-1))
#define ALIGN_UP(x, a) (((x) + (a)-1) & ~((a)-1))
#define IS_ALIGNED(x, a) (((x) & ((a)-1)) == 0)
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* ELF constants we need (no <elf.h> in the freestanding build). */
#define ELF_EHDR_BYTES 64u
#define ELF_PHDR_BYTES 56u
#define ELF_EI_CLASS 4
#define ELF_EI_DATA 5
#define ELF_EI_VERSION 6
#define ELF_CLASS64 2
#define ELF_DATA2LSB 1
#define ELF_EV_CURRENT 1
#define ELF_ET_EXEC 2
#define ELF_EM_X86_64 62
#define ELF_PN_XNUM 0xffffu
#define ELF_PT_LOAD 1u
#define ELF_PT_DYNAMIC 2u
#define ELF_PT_INTERP 3u

/* Offsets in the ELF64 file header. */
#define ELF_EH_TYPE 16
#define ELF_EH_MACHINE 18
#define ELF_EH_VERSION 20
#define ELF_EH_ENTRY 24
#define ELF_EH_PHOFF 32
#define ELF_EH_EHSIZE 52
#define ELF_EH_PHENTSIZE 54
#define ELF_EH_PHNUM 56

/* Offsets in an ELF64 program header. */
#define ELF_PH_TYPE 0
#define ELF_PH_FLAGS 4
#define ELF_PH_OFFSET 8
#define ELF_PH_VADDR 16
#define ELF_PH_FILESZ 32
#define ELF_PH_MEMSZ 40
#define ELF_PH_ALIGN 48

static uint16_t elf_rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t elf_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t elf_rd64(const uint8_t *p)
{
    return (uint64_t)elf_rd32(p) | ((uint64_t)elf_rd32(p + 4) << 32);
}

static enum gk_elf_error elf_check_header(const uint8_t *b, size_t size)
{
    if (size < ELF_EHDR_BYTES)
        return GK_ELF_E_TRUNCATED;
    if (b[0] != 0x7f || b[1] != 'E' || b[2] != 'L' || b[3] != 'F')
        return GK_ELF_E_BAD_MAGIC;
    if (b[ELF_EI_CLASS] != ELF_CLASS64)
        return GK_ELF_E_NOT_64BIT;
    if (b[ELF_EI_DATA] != ELF_DATA2LSB)
        return GK_ELF_E_NOT_LE;
    if (b[ELF_EI_VERSION] != ELF_EV_CURRENT || elf_rd32(b + ELF_EH_VERSION) != ELF_EV_CURRENT)
        return GK_ELF_E_BAD_VERSION;
    if (elf_rd16(b + ELF_EH_TYPE) != ELF_ET_EXEC)
        return GK_ELF_E_NOT_EXEC;
    if (elf_rd16(b + ELF_EH_MACHINE) != ELF_EM_X86_64)
        return GK_ELF_E_NOT_X86_64;
    if (elf_rd16(b + ELF_EH_EHSIZE) != ELF_EHDR_BYTES)
        return GK_ELF_E_BAD_HEADER;
    uint64_t phoff = elf_rd64(b + ELF_EH_PHOFF);
    uint64_t phnum = elf_rd16(b + ELF_EH_PHNUM);
    if (elf_rd16(b + ELF_EH_PHENTSIZE) != ELF_PHDR_BYTES || phnum == 0 || phnum == ELF_PN_XNUM)
        return GK_ELF_E_BAD_PHDRS;
    /* phnum * 56 < 2^22, so only phoff can make the sum wrap. */
    if (phoff > size || phnum * ELF_PHDR_BYTES > size - phoff)
        return GK_ELF_E_BAD_PHDRS;
    return GK_ELF_OK;
}

/* Checks one PT_LOAD program header on its own and describes it in *seg. */
static enum gk_elf_error elf_check_load(const uint8_t *ph, size_t size, uint64_t va_min,
                                        uint64_t va_limit, struct gk_elf_segment *seg)
{
    uint64_t offset = elf_rd64(ph + ELF_PH_OFFSET);
    uint64_t vaddr = elf_rd64(ph + ELF_PH_VADDR);
    uint64_t filesz = elf_rd64(ph + ELF_PH_FILESZ);
    uint64_t memsz = elf_rd64(ph + ELF_PH_MEMSZ);
    uint64_t align = elf_rd64(ph + ELF_PH_ALIGN);

    if (offset > size || filesz > size - offset)
        return GK_ELF_E_SEG_OUT_OF_FILE;
    if (filesz > memsz)
        return GK_ELF_E_SEG_FILESZ;
    if (vaddr % PAGE_SIZE != offset % PAGE_SIZE)
        return GK_ELF_E_SEG_MISALIGNED;
    if (align > 1 && ((align & (align - 1)) != 0 || (vaddr - offset) % align != 0))
        return GK_ELF_E_SEG_MISALIGNED;
    /* va_limit <= 2^64 - 4096 (page aligned, nonzero), so once
     * vaddr + memsz <= va_limit is known, rounding the end up cannot wrap. */
    if (vaddr < va_min || vaddr > va_limit || memsz > va_limit - vaddr)
        return GK_ELF_E_SEG_RANGE;

    seg->vaddr = vaddr;
    seg->memsz = memsz;
    seg->file_offset = offset;
    seg->filesz = filesz;
    seg->flags = elf_rd32(ph + ELF_PH_FLAGS) & (GK_ELF_PF_R | GK_ELF_PF_W | GK_ELF_PF_X);
    return GK_ELF_OK;
}

static uint64_t elf_page_start(const struct gk_elf_segment *s)
{
    return ALIGN_DOWN(s->vaddr, PAGE_SIZE);
}

static uint64_t elf_page_end(const struct gk_elf_segment *s)
{
    return ALIGN_UP(s->vaddr + s->memsz, PAGE_SIZE);
}

/* The checks across all segments: overlap, entry point, span. */
static enum gk_elf_error elf_check_set(struct gk_elf_image *out, uint64_t max_bytes)
{
    bool entry_ok = false;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < out->segs_count; i++) {
        const struct gk_elf_segment *a = &out->segs[i];
        uint64_t as = elf_page_start(a), ae = elf_page_end(a);
        for (size_t j = i + 1; j < out->segs_count; j++) {
            const struct gk_elf_segment *b = &out->segs[j];
            if (as < elf_page_end(b) && elf_page_start(b) < ae)
                return GK_ELF_E_SEG_OVERLAP;
        }
        if ((a->flags & GK_ELF_PF_X) != 0 && out->entry >= a->vaddr &&
            out->entry - a->vaddr < a->memsz)
            entry_ok = true;
        lo = MIN(lo, as);
        hi = MAX(hi, ae);
    }
    if (!entry_ok)
        return GK_ELF_E_ENTRY;
    if (hi - lo > max_bytes)
        return GK_ELF_E_TOO_BIG;
    out->va_lowest = lo;
    out->va_end = hi;
    return GK_ELF_OK;
}

static enum gk_elf_error elf_check_inner(const uint8_t *b, size_t size, uint64_t va_min,
                                         uint64_t va_limit, uint64_t max_bytes,
                                         struct gk_elf_image *out)
{
    enum gk_elf_error e = elf_check_header(b, size);
    if (e != GK_ELF_OK)
        return e;
    uint64_t phoff = elf_rd64(b + ELF_EH_PHOFF);
    uint64_t phnum = elf_rd16(b + ELF_EH_PHNUM);
    out->entry = elf_rd64(b + ELF_EH_ENTRY);

    for (uint64_t i = 0; i < phnum; i++) {
        const uint8_t *ph = b + phoff + i * ELF_PHDR_BYTES;
        uint32_t type = elf_rd32(ph + ELF_PH_TYPE);
        if (type == ELF_PT_INTERP || type == ELF_PT_DYNAMIC)
            return GK_ELF_E_DYNAMIC;
        if (type != ELF_PT_LOAD)
            continue;
        struct gk_elf_segment seg;
        e = elf_check_load(ph, size, va_min, va_limit, &seg);
        if (e != GK_ELF_OK)
            return e;
        if (seg.memsz == 0)
            continue; /* maps nothing */
        if (out->segs_count == GK_ELF_MAX_SEGMENTS)
            return GK_ELF_E_TOO_MANY_SEGMENTS;
        out->segs[out->segs_count++] = seg;
    }
    if (out->segs_count == 0)
        return GK_ELF_E_NO_LOAD;
    return elf_check_set(out, max_bytes);
}

enum gk_elf_error gk_elf_check(const void *img, size_t size, uint64_t va_min, uint64_t va_limit,
                               uint64_t max_bytes, struct gk_elf_image *out)
{
    if (out == NULL)
        return GK_ELF_E_BAD_ARGS;
    __builtin_memset(out, 0, sizeof(*out));
    if (img == NULL || !IS_ALIGNED(va_min, PAGE_SIZE) || !IS_ALIGNED(va_limit, PAGE_SIZE) ||
        va_min >= va_limit)
        return GK_ELF_E_BAD_ARGS;
    enum gk_elf_error e = elf_check_inner(img, size, va_min, va_limit, max_bytes, out);
    if (e != GK_ELF_OK)
        __builtin_memset(out, 0, sizeof(*out));
    return e;
}

const char *gk_elf_strerror(enum gk_elf_error e)
{
    static const char *const msgs[GK_ELF_E_COUNT_] = {
        [GK_ELF_OK] = "ok",
        [GK_ELF_E_TRUNCATED] = "smaller than an ELF64 header",
        [GK_ELF_E_BAD_MAGIC] = "not an ELF file",
        [GK_ELF_E_NOT_64BIT] = "not ELFCLASS64",
        [GK_ELF_E_NOT_LE] = "not little-endian",
        [GK_ELF_E_BAD_VERSION] = "bad ELF version",
        [GK_ELF_E_NOT_EXEC] = "not ET_EXEC",
        [GK_ELF_E_NOT_X86_64] = "not x86_64",
        [GK_ELF_E_BAD_PHDRS] = "bad program header table",
        [GK_ELF_E_NO_LOAD] = "no loadable segment",
        [GK_ELF_E_TOO_MANY_SEGMENTS] = "too many loadable segments",
        [GK_ELF_E_SEG_OUT_OF_FILE] = "segment bytes outside the file",
        [GK_ELF_E_SEG_FILESZ] = "segment filesz > memsz",
        [GK_ELF_E_SEG_RANGE] = "segment outside the allowed address range",
        [GK_ELF_E_SEG_MISALIGNED] = "segment misaligned",
        [GK_ELF_E_SEG_OVERLAP] = "segments share a page",
        [GK_ELF_E_ENTRY] = "entry point not in an executable segment",
        [GK_ELF_E_TOO_BIG] = "image span too big",
        [GK_ELF_E_BAD_HEADER] = "bad ELF header size",
        [GK_ELF_E_DYNAMIC] = "dynamically linked (PT_INTERP/PT_DYNAMIC)",
        [GK_ELF_E_BAD_ARGS] = "bad arguments",
    };
    if ((unsigned)e >= GK_ELF_E_COUNT_ || msgs[e] == NULL)
        return "unknown error";
    return msgs[e];
}
