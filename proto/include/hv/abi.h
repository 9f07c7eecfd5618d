/*
 * The guest ABI of the hypervisor: hypercall numbers, status codes, the
 * start-info page and the virtual address layout a guest sees.
 *
 * This header is shared by the hypervisor (hv/), guest-kit and host tests.
 * It must stay freestanding (no libc) and its layouts are pinned by
 * _Static_assert below. docs/abi.md describes the same ABI in prose.
 */
#ifndef HV_ABI_H
#define HV_ABI_H

#include <stdint.h>
#include <stddef.h>

#define HV_ABI_VERSION 1u

/*
 * Status codes. HV_OK is zero; every error is negative so that a hypercall
 * returning a count (e.g. bytes written) can share the return register.
 */
enum hv_status {
    HV_OK = 0,
    HV_EPERM = -1,    /* not allowed: missing capability or right */
    HV_ENOENT = -2,   /* no such object */
    HV_EINVAL = -3,   /* an argument is malformed or out of range */
    HV_EFAULT = -4,   /* a guest pointer is not readable/writable guest memory */
    HV_ENOMEM = -5,   /* out of memory or quota */
    HV_EBUSY = -6,    /* object in use */
    HV_ENOSYS = -7,   /* unknown hypercall number */
    HV_EAGAIN = -8,   /* try again (e.g. a continuation) */
    HV_EEXIST = -9,   /* object already exists */
    HV_E2BIG = -10,   /* argument too large */
    HV_ERANGE = -11,  /* value out of the permitted range */
    HV_ENOTSUP = -12, /* recognised but not supported */
};

/*
 * Hypercalls are made with the `syscall` instruction from ring 3:
 *   rax = hypercall number, arguments in rdi, rsi, rdx, r10, r8, r9.
 *   The result (an enum hv_status or a non-negative count) comes back in rax.
 *   rcx and r11 are clobbered by the instruction; all other registers are
 *   preserved.
 */
enum hv_hypercall {
    HC_CONSOLE_WRITE = 0, /* (const char *buf, size_t len) -> bytes written */
    HC_YIELD = 1,         /* () -> HV_OK */
    HC_SHUTDOWN = 2,      /* (enum hv_shutdown_reason) -> does not return */
    HC_COUNT
};

/* Reasons given to HC_SHUTDOWN. */
enum hv_shutdown_reason {
    HV_SHUTDOWN_POWEROFF = 0,
    HV_SHUTDOWN_CRASH = 1,
    HV_SHUTDOWN_REBOOT = 2,
};

/* The largest buffer HC_CONSOLE_WRITE takes in one call. */
#define HV_CONSOLE_WRITE_MAX 4096u

/*
 * Guest virtual address layout. The hypervisor owns PML4 slots 256..511 (the
 * whole upper canonical half); a guest may map only addresses below
 * HV_GUEST_VA_LIMIT. ELF images must be linked inside [HV_GUEST_VA_MIN,
 * HV_GUEST_VA_LIMIT).
 */
#define HV_GUEST_VA_MIN 0x0000000000001000ull
#define HV_GUEST_VA_LIMIT 0x0000800000000000ull
#define HV_PAGE_SIZE 4096u

/*
 * The start-info page. At entry rdi holds its guest virtual address and rsp
 * points at the top of an initial stack; every other register is zero.
 *
 * After the ELF image the domain builder lays out, page-aligned and in this
 * order: the start-info page, the pseudophysical-to-machine list, the
 * modules, the initial page tables, the initial stack. Every frame the
 * domain owns appears exactly once in the p2m list; pfn 0 .. pages_count-1.
 */
#define HV_START_INFO_MAGIC 0x31564824544e4948ull /* "HINT$HV1" */
#define HV_CMDLINE_MAX 1024u
#define HV_START_MODULES_MAX 8u

struct hv_start_module {
    uint64_t va;          /* guest virtual address of the module's bytes */
    uint64_t size_bytes;  /* its length */
    char name[48];        /* its GRUB command line (NUL-terminated, truncated) */
};

struct hv_start_info {
    uint64_t magic;          /* HV_START_INFO_MAGIC */
    uint32_t abi_version;    /* HV_ABI_VERSION */
    uint32_t domid;          /* this domain's id (for logs only: no authority) */
    uint64_t pages_count;    /* frames owned by the domain */
    uint64_t p2m_va;         /* uint64_t[pages_count]: pfn -> mfn */
    uint64_t pt_base_va;     /* first initial page-table frame (the L4) */
    uint64_t pt_frames_count;/* number of initial page-table frames */
    uint64_t stack_top_va;   /* initial rsp */
    uint64_t first_free_va;  /* first unused virtual address after the layout */
    uint64_t first_free_pfn; /* first pfn not used by the initial layout */
    uint64_t tsc_hz;         /* the TSC frequency the hypervisor measured */
    uint32_t modules_count;
    uint32_t flags;          /* HV_SIF_* */
    struct hv_start_module modules[HV_START_MODULES_MAX];
    char cmdline[HV_CMDLINE_MAX];
};

#define HV_SIF_ROOT (1u << 0) /* this is the root domain */

_Static_assert(sizeof(struct hv_start_module) == 64, "start module layout");
_Static_assert(offsetof(struct hv_start_info, modules) == 88, "start info layout");
_Static_assert(sizeof(struct hv_start_info) == 88 + 8 * 64 + 1024, "start info size");
_Static_assert(sizeof(struct hv_start_info) <= HV_PAGE_SIZE, "start info fits a page");

#endif /* HV_ABI_H */
