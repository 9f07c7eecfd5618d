/*
 * Multiboot2 boot information parser.
 *
 * Called once by the hypervisor's boot path (hv main, on the boot CPU, before
 * anything else is set up) with the pointer GRUB left in %ebx, and by the
 * host unit tests. The boot information is treated as untrusted input: the
 * parser checks every size and offset, never reads outside
 * [info, info + min(total_size, avail_bytes)), never writes anything except
 * *out and *err_offset, and either accepts the whole blob or rejects it with a
 * precise error code and the byte offset of the offending tag or field.
 *
 * Strings and the ACPI RSDP copy in a parsed mb2_info point INTO the parsed
 * buffer (no copies), so the buffer must stay mapped and unmodified for as
 * long as those pointers are used. Memory-map entries are copied verbatim
 * (including absurd ones: zero length, base + length overflowing); judging
 * them is the frame allocator's job (pmm.h).
 *
 * Layouts follow the Multiboot2 specification (version 2.0):
 *   header     u32 total_size, u32 reserved; then tags, each 8-byte aligned
 *   tag        u32 type, u32 size (size excludes the padding to 8 bytes)
 *   1 cmdline  string;  2 loader name  string
 *   3 module   u32 mod_start, u32 mod_end (exclusive), string
 *   4 meminfo  u32 mem_lower (KiB), u32 mem_upper (KiB)
 *   6 mmap     u32 entry_size, u32 entry_version, entries of
 *              { u64 base_addr, u64 length, u32 type, u32 reserved }
 *   14 ACPI old RSDP (v1, 20 bytes)   15 ACPI new RSDP (v2, 36+ bytes)
 *   0 end      size 8
 */
#ifndef HV_MB2_H
#define HV_MB2_H

#include "memmap.h"
#include "types.h"

#define MB2_BOOTLOADER_MAGIC 0x36d76289u
#define MB2_MMAP_MAX 128
#define MB2_MODULES_MAX 16

/* One boot module: [start, end) in physical memory, end > start. */
struct mb2_module {
    paddr_t start;
    paddr_t end;         /* exclusive */
    const char *cmdline; /* NUL-terminated, points into the parsed buffer */
};

/* Everything the hypervisor uses from the boot information. */
struct mb2_info {
    const char *cmdline;         /* "" if absent; points into the parsed buffer */
    const char *bootloader_name; /* "" if absent */
    struct mem_map_entry mmap[MB2_MMAP_MAX];
    size_t mmap_count; /* >= 1 after a successful parse (an empty map tag is allowed
                          by the layout but rejected as MB2_E_NO_MMAP) */
    struct mb2_module modules[MB2_MODULES_MAX];
    size_t modules_count;
    /* ACPI new (v2) RSDP preferred over old (v1); NULL/0 if neither present. */
    const void *acpi_rsdp;
    size_t acpi_rsdp_size_bytes;
    uint32_t mem_lower_kib, mem_upper_kib;
    bool have_basic_meminfo;
    uint32_t total_size_bytes; /* the header's total_size */
};

enum mb2_error {
    MB2_OK = 0,
    MB2_E_BAD_MAGIC,           /* magic != MB2_BOOTLOADER_MAGIC */
    MB2_E_TRUNCATED,           /* avail_bytes < 8, or total_size > avail_bytes */
    MB2_E_TOO_SMALL,           /* total_size < 16 (header + end tag) */
    MB2_E_MISALIGNED,          /* info not 8-byte aligned, or total_size % 8 != 0 */
    MB2_E_TAG_OVERRUN,         /* a tag's size runs past total_size */
    MB2_E_BAD_TAG_SIZE,        /* size < 8, smaller than the tag's fixed fields,
                                  or an end tag whose size is not 8 */
    MB2_E_NO_END_TAG,          /* tags ran out before a type-0 tag */
    MB2_E_STRING_UNTERMINATED, /* cmdline / loader name / module string without NUL */
    MB2_E_BAD_MMAP,            /* entry_size < 24 or % 8, or (size-16) % entry_size */
    MB2_E_TOO_MANY_MMAP,       /* more than MB2_MMAP_MAX entries */
    MB2_E_BAD_MODULE,          /* module end <= start */
    MB2_E_TOO_MANY_MODULES,    /* more than MB2_MODULES_MAX modules */
    MB2_E_NO_MMAP,             /* no memory map tag, or an empty one */
    MB2_E_DUPLICATE_TAG,       /* a second cmdline/loader/meminfo/mmap/ACPI tag
                                  of the same type */
    MB2_E_BAD_ARGS,            /* info or out is NULL */
    MB2_E_COUNT_               /* number of codes; not an error */
};

/*
 * Parses the boot information at `info` (8-byte aligned) of which at most
 * `avail_bytes` may be read. Never reads outside
 * [info, info + min(total_size, avail_bytes)). On success fills *out and
 * returns MB2_OK. On error returns the code, sets *err_offset (if not NULL)
 * to the byte offset of the offending tag or field from `info`, and leaves
 * *out zeroed except for the "" strings (no partial results).
 * Reentrant; touches no global state.
 */
enum mb2_error mb2_parse(uint32_t magic, const void *info, size_t avail_bytes, struct mb2_info *out,
                         size_t *err_offset);

/* A short static English description of `e` (never NULL). */
const char *mb2_strerror(enum mb2_error e);

#endif /* HV_MB2_H */
