/*
 * Multiboot2 boot information parser (see mb2.h for the contract).
 *
 * Design: one forward pass over the tags. Invariants kept by the loop:
 *   - `off` is always a multiple of 8 and off + 8 <= total before a tag
 *     header is read; a tag's body is read only after off + size <= total
 *     has been checked (all arithmetic in uint64_t, so it cannot wrap);
 *   - total = total_size <= avail_bytes, so nothing outside
 *     [info, info + min(total_size, avail_bytes)) is ever read;
 *   - results are written straight into *out, which is cleared again on any
 *     error, so a caller never sees a half-parsed blob.
 * Reads use byte loads assembled little-endian, so no alignment or aliasing
 * assumption is made about the fields (the blob itself must be 8-aligned,
 * which the specification guarantees and we check).
 *
 * Called by hv main on the boot CPU, and by test/unit/boot.
 */
#include "mb2.h"
#include "hvlib/le.h"

enum {
    MB2_TAG_END = 0,
    MB2_TAG_CMDLINE = 1,
    MB2_TAG_LOADER_NAME = 2,
    MB2_TAG_MODULE = 3,
    MB2_TAG_BASIC_MEMINFO = 4,
    MB2_TAG_MMAP = 6,
    MB2_TAG_ACPI_OLD = 14,
    MB2_TAG_ACPI_NEW = 15,
};

#define MB2_TAG_HDR_BYTES 8u
#define MB2_MODULE_FIXED_BYTES 16u   /* header + mod_start + mod_end */
#define MB2_MEMINFO_BYTES 16u        /* header + mem_lower + mem_upper */
#define MB2_MMAP_FIXED_BYTES 16u     /* header + entry_size + entry_version */
#define MB2_MMAP_ENTRY_MIN_BYTES 24u /* base, length, type, reserved */
#define MB2_RSDP_V1_BYTES 20u
#define MB2_RSDP_V2_BYTES 36u

/* Resets *out to "nothing parsed". The builtin may become a call to memset,
 * which GCC requires every freestanding environment to provide anyway. */
static void mb2_clear(struct mb2_info *out)
{
    __builtin_memset(out, 0, sizeof(*out));
    out->cmdline = "";
    out->bootloader_name = "";
}

/* True iff a NUL occurs in [p, p + len). */
static bool mb2_has_nul(const uint8_t *p, uint64_t len)
{
    for (uint64_t i = 0; i < len; i++) {
        if (p[i] == 0)
            return true;
    }
    return false;
}

/* The parse itself; on error sets *err_off and returns the code. */
static enum mb2_error mb2_parse_tags(const uint8_t *base, uint64_t total, struct mb2_info *out,
                                     uint64_t *err_off)
{
    bool seen_cmdline = false, seen_loader = false, seen_mmap = false;
    const void *rsdp_old = NULL, *rsdp_new = NULL;
    size_t rsdp_old_size = 0, rsdp_new_size = 0;
    uint64_t off = 8; /* after total_size and reserved */

    for (;;) {
        if (off + MB2_TAG_HDR_BYTES > total) {
            *err_off = off;
            return MB2_E_NO_END_TAG;
        }
        const uint8_t *tag = base + off;
        uint32_t type = hv_le32(tag);
        uint64_t size = hv_le32(tag + 4);
        *err_off = off;
        if (size < MB2_TAG_HDR_BYTES)
            return MB2_E_BAD_TAG_SIZE;
        if (off + size > total)
            return MB2_E_TAG_OVERRUN;
        const uint8_t *body = tag + MB2_TAG_HDR_BYTES;
        uint64_t body_len = size - MB2_TAG_HDR_BYTES;

        switch (type) {
        case MB2_TAG_END:
            if (size != MB2_TAG_HDR_BYTES)
                return MB2_E_BAD_TAG_SIZE;
            if (!seen_mmap || out->mmap_count == 0)
                return MB2_E_NO_MMAP;
            if (rsdp_new != NULL) {
                out->acpi_rsdp = rsdp_new;
                out->acpi_rsdp_size_bytes = rsdp_new_size;
            } else if (rsdp_old != NULL) {
                out->acpi_rsdp = rsdp_old;
                out->acpi_rsdp_size_bytes = rsdp_old_size;
            }
            return MB2_OK;

        case MB2_TAG_CMDLINE:
        case MB2_TAG_LOADER_NAME: {
            bool *seen = type == MB2_TAG_CMDLINE ? &seen_cmdline : &seen_loader;
            if (*seen)
                return MB2_E_DUPLICATE_TAG;
            *seen = true;
            if (!mb2_has_nul(body, body_len)) {
                *err_off = off + MB2_TAG_HDR_BYTES;
                return MB2_E_STRING_UNTERMINATED;
            }
            if (type == MB2_TAG_CMDLINE)
                out->cmdline = (const char *)body;
            else
                out->bootloader_name = (const char *)body;
            break;
        }

        case MB2_TAG_MODULE: {
            if (size < MB2_MODULE_FIXED_BYTES)
                return MB2_E_BAD_TAG_SIZE;
            if (out->modules_count >= MB2_MODULES_MAX)
                return MB2_E_TOO_MANY_MODULES;
            uint32_t start = hv_le32(body);
            uint32_t end = hv_le32(body + 4);
            if (end <= start) {
                *err_off = off + MB2_TAG_HDR_BYTES;
                return MB2_E_BAD_MODULE;
            }
            const uint8_t *str = tag + MB2_MODULE_FIXED_BYTES;
            if (!mb2_has_nul(str, size - MB2_MODULE_FIXED_BYTES)) {
                *err_off = off + MB2_MODULE_FIXED_BYTES;
                return MB2_E_STRING_UNTERMINATED;
            }
            struct mb2_module *m = &out->modules[out->modules_count++];
            m->start = start;
            m->end = end;
            m->cmdline = (const char *)str;
            break;
        }

        case MB2_TAG_BASIC_MEMINFO:
            if (size < MB2_MEMINFO_BYTES)
                return MB2_E_BAD_TAG_SIZE;
            if (out->have_basic_meminfo)
                return MB2_E_DUPLICATE_TAG;
            out->have_basic_meminfo = true;
            out->mem_lower_kib = hv_le32(body);
            out->mem_upper_kib = hv_le32(body + 4);
            break;

        case MB2_TAG_MMAP: {
            if (size < MB2_MMAP_FIXED_BYTES)
                return MB2_E_BAD_TAG_SIZE;
            if (seen_mmap)
                return MB2_E_DUPLICATE_TAG;
            seen_mmap = true;
            uint64_t entry_size = hv_le32(body);
            uint64_t entries_bytes = size - MB2_MMAP_FIXED_BYTES;
            if (entry_size < MB2_MMAP_ENTRY_MIN_BYTES || entry_size % 8 != 0 ||
                entries_bytes % entry_size != 0) {
                *err_off = off + MB2_TAG_HDR_BYTES;
                return MB2_E_BAD_MMAP;
            }
            uint64_t n = entries_bytes / entry_size;
            if (n > MB2_MMAP_MAX) {
                *err_off = off + MB2_MMAP_FIXED_BYTES + MB2_MMAP_MAX * entry_size;
                return MB2_E_TOO_MANY_MMAP;
            }
            for (uint64_t i = 0; i < n; i++) {
                const uint8_t *e = tag + MB2_MMAP_FIXED_BYTES + i * entry_size;
                out->mmap[i].base = hv_le64(e);
                out->mmap[i].length = hv_le64(e + 8);
                out->mmap[i].type = hv_le32(e + 16);
            }
            out->mmap_count = (size_t)n;
            break;
        }

        case MB2_TAG_ACPI_OLD:
        case MB2_TAG_ACPI_NEW: {
            bool is_new = type == MB2_TAG_ACPI_NEW;
            if (body_len < (is_new ? MB2_RSDP_V2_BYTES : MB2_RSDP_V1_BYTES))
                return MB2_E_BAD_TAG_SIZE;
            if ((is_new ? rsdp_new : rsdp_old) != NULL)
                return MB2_E_DUPLICATE_TAG;
            if (is_new) {
                rsdp_new = body;
                rsdp_new_size = (size_t)body_len;
            } else {
                rsdp_old = body;
                rsdp_old_size = (size_t)body_len;
            }
            break;
        }

        default: break; /* framebuffer, EFI, ELF sections, ...: not used */
        }
        /* size <= total <= UINT32_MAX, so this cannot wrap. */
        off = ALIGN_UP(off + size, (uint64_t)8);
    }
}

enum mb2_error mb2_parse(uint32_t magic, const void *info, size_t avail_bytes, struct mb2_info *out,
                         size_t *err_offset)
{
    size_t dummy;
    if (err_offset == NULL)
        err_offset = &dummy;
    *err_offset = 0;
    if (out == NULL)
        return MB2_E_BAD_ARGS;
    mb2_clear(out);
    if (info == NULL)
        return MB2_E_BAD_ARGS;
    if (magic != MB2_BOOTLOADER_MAGIC)
        return MB2_E_BAD_MAGIC;
    if (((uintptr_t)info & 7u) != 0)
        return MB2_E_MISALIGNED;
    if (avail_bytes < 8)
        return MB2_E_TRUNCATED;

    const uint8_t *base = info;
    uint32_t total = hv_le32(base);
    if (total < 16)
        return MB2_E_TOO_SMALL;
    if (total > avail_bytes)
        return MB2_E_TRUNCATED;
    if (total % 8 != 0)
        return MB2_E_MISALIGNED;

    uint64_t err_off = 0;
    enum mb2_error e = mb2_parse_tags(base, total, out, &err_off);
    if (e != MB2_OK) {
        mb2_clear(out);
        *err_offset = (size_t)err_off;
        return e;
    }
    out->total_size_bytes = total;
    return MB2_OK;
}

const char *mb2_strerror(enum mb2_error e)
{
    static const char *const msgs[MB2_E_COUNT_] = {
        [MB2_OK] = "ok",
        [MB2_E_BAD_MAGIC] = "bad boot loader magic",
        [MB2_E_TRUNCATED] = "boot information truncated",
        [MB2_E_TOO_SMALL] = "boot information total_size < 16",
        [MB2_E_MISALIGNED] = "boot information misaligned",
        [MB2_E_TAG_OVERRUN] = "tag runs past total_size",
        [MB2_E_BAD_TAG_SIZE] = "bad tag size",
        [MB2_E_NO_END_TAG] = "no end tag",
        [MB2_E_STRING_UNTERMINATED] = "string not NUL-terminated within its tag",
        [MB2_E_BAD_MMAP] = "bad memory map tag layout",
        [MB2_E_TOO_MANY_MMAP] = "too many memory map entries",
        [MB2_E_BAD_MODULE] = "module end <= start",
        [MB2_E_TOO_MANY_MODULES] = "too many modules",
        [MB2_E_NO_MMAP] = "no memory map",
        [MB2_E_DUPLICATE_TAG] = "duplicate tag",
        [MB2_E_BAD_ARGS] = "bad arguments",
    };
    if ((unsigned)e >= MB2_E_COUNT_ || msgs[e] == NULL)
        return "unknown error";
    return msgs[e];
}
