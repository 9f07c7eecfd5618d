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
 * One list, X(name, value, meaning): the enum below and every table of
 * names (lib/status.c, hv_status_name) are made from it, so none can miss
 * a code. Values are dense from 0 down to HV_STATUS_LAST.
 */
#define HV_STATUS_LIST(X)                                                                          \
    X(HV_OK, 0, "success")                                                                         \
    X(HV_EPERM, -1, "not allowed: missing capability or right")                                    \
    X(HV_ENOENT, -2, "no such object")                                                             \
    X(HV_EINVAL, -3, "an argument is malformed or out of range")                                   \
    X(HV_EFAULT, -4, "a guest pointer is not readable/writable guest memory")                      \
    X(HV_ENOMEM, -5, "out of memory or quota")                                                     \
    X(HV_EBUSY, -6, "object in use")                                                               \
    X(HV_ENOSYS, -7, "unknown hypercall number")                                                   \
    X(HV_EAGAIN, -8, "try again (e.g. a continuation)")                                            \
    X(HV_EEXIST, -9, "object already exists")                                                      \
    X(HV_E2BIG, -10, "argument too large")                                                         \
    X(HV_ERANGE, -11, "value out of the permitted range")                                          \
    X(HV_ENOTSUP, -12, "recognised but not supported")

enum hv_status {
#define HV_STATUS_ENUM(name, value, meaning) name = value,
    HV_STATUS_LIST(HV_STATUS_ENUM)
#undef HV_STATUS_ENUM
        HV_STATUS_LAST = HV_ENOTSUP /* the most negative code */
};

/*
 * Hypercalls are made with the `syscall` instruction from ring 3:
 *   rax = hypercall number, arguments in rdi, rsi, rdx, r10, r8, r9.
 *   The result (an enum hv_status or a non-negative count) comes back in rax.
 *   rcx and r11 are clobbered by the instruction; all other registers are
 *   preserved.
 */
enum hv_hypercall {
    HC_CONSOLE_WRITE = 0,     /* (const char *buf, size_t len) -> bytes written */
    HC_YIELD = 1,             /* () -> HV_OK */
    HC_SHUTDOWN = 2,          /* (enum hv_shutdown_reason) -> does not return */
    HC_MMU_UPDATE = 3,        /* (const struct hv_mmu_update *reqs, uint64_t count,
                             uint64_t *done, uint64_t done_so_far = 0) -> status */
    HC_MMUEXT_OP = 4,         /* (enum hv_mmuext_cmd, uint64_t arg) -> status */
    HC_UPDATE_VA_MAPPING = 5, /* (uint64_t va, uint64_t pte, unsigned hv_uvm flags) */
    HC_MEMORY_OP = 6,         /* (enum hv_memop_cmd, uint64_t arg) -> mfn, count or status */
    HC_SET_TRAP_TABLE = 7,    /* (const struct hv_trap_entry *table, uint64_t count) -> status */
    HC_IRET = 8,              /* (const struct hv_bounce_frame *frame) -> resumes that context */
    HC_CAP_OP = 9,            /* (enum hv_cap_cmd, void *args) -> status (domctl.h) */
    HC_EVTCHN_OP = 10,        /* (enum hv_evtchn_cmd, void *args) -> status (caps.h) */
    HC_GRANT_OP = 11,         /* (enum hv_grant_cmd, void *args) -> status (grant.h) */
    HC_SET_CALLBACK = 12,     /* (uint64_t entry) -> status (domctl.h) */
    HC_BLOCK = 13,            /* () -> HV_OK once an event is pending (domctl.h) */
    HC_SET_TIMER = 14,        /* (uint64_t deadline_ns) -> status (domctl.h) */
    HC_DOMAIN_OP = 15,        /* (enum hv_domctl_cmd, void *args) -> status (domctl.h) */
    HC_CONSOLE_OP = 16,       /* (enum hv_console_cmd, struct hv_console_args *) -> count */
    HC_IOPORT_OP = 17,        /* (struct hv_ioport_args *) -> status (domctl.h) */
    HC_PCI_OP = 18,           /* (enum hv_pci_cmd, void *args) -> status (domctl.h) */
    HC_COUNT
};

/*
 * HC_MMU_UPDATE: a batch of page-table and M2P updates, applied in order
 * until one fails. ptr = machine address of the target | command (bits 0-1):
 *   HV_MMU_CMD_PTE: ptr is the 8-byte aligned machine address of an entry of
 *     a validated L1..L4 table the caller owns; val is the new entry.
 *   HV_MMU_CMD_M2P: ptr is the page-aligned machine address of a frame the
 *     caller owns; val is its pfn (or HV_M2P_INVALID).
 * *done (if done is not NULL) receives the number of requests applied; the
 * result is HV_OK or the status of request *done, which changed nothing.
 * *done is checked writable before any request is applied; if a request of
 * the batch itself unmaps it, the result is HV_EFAULT although the requests
 * before the failure (or all of them) were applied.
 * At most HV_MMU_UPDATE_MAX requests per call (HV_E2BIG otherwise). Long
 * validations are preempted and continued transparently (the hypervisor
 * restarts the syscall with done_so_far advanced; callers pass 0).
 */
struct hv_mmu_update {
    uint64_t ptr;
    uint64_t val;
};
_Static_assert(sizeof(struct hv_mmu_update) == 16, "mmu_update layout");
#define HV_MMU_CMD_PTE 0u
#define HV_MMU_CMD_M2P 1u
#define HV_MMU_UPDATE_MAX 4096u

/* HC_MMUEXT_OP commands. Frame arguments are machine frame numbers. */
enum hv_mmuext_cmd {
    HV_MMUEXT_PIN_L1 = 1, /* arg: mfn; validate (if needed) and pin as an L1 */
    HV_MMUEXT_PIN_L2 = 2,
    HV_MMUEXT_PIN_L3 = 3,
    HV_MMUEXT_PIN_L4 = 4,
    HV_MMUEXT_UNPIN = 5,           /* arg: mfn */
    HV_MMUEXT_NEW_BASEPTR = 6,     /* arg: mfn of a (validated or validatable) L4 */
    HV_MMUEXT_TLB_FLUSH_LOCAL = 7, /* arg: ignored */
    HV_MMUEXT_INVLPG_LOCAL = 8,    /* arg: page-aligned guest virtual address */
    HV_MMUEXT_TLB_FLUSH_VCPUS = 9, /* arg: mask of this domain's VCPUs (bit i = VCPU i):
                                      flush the TLBs of the CPUs running them now */
};

/* HC_UPDATE_VA_MAPPING flags (at most one). */
#define HV_UVM_INVLPG 1u /* invalidate va on this CPU afterwards */
#define HV_UVM_FLUSH 2u  /* flush this CPU's TLB afterwards */

/*
 * HC_MEMORY_OP: memory reservations (the foundation of ballooning).
 *   HV_MEMOP_INCREASE: arg ignored; returns the mfn of one new, zeroed frame
 *     now owned by the caller (HV_ENOMEM at its maximum or when none is free).
 *   HV_MEMOP_DECREASE: arg = mfn of a frame the caller owns and no longer uses
 *     (no page table maps it, not pinned, not a base): gives it back.
 *     HV_EBUSY while in use, HV_EPERM if not the caller's.
 *   HV_MEMOP_CURRENT / HV_MEMOP_MAXIMUM: returns frames owned / the maximum.
 *   HV_MEMOP_FRAME_INFO: arg = mfn of a frame the caller owns; returns its
 *     state packed as HV_FRAME_INFO_* (for tests and debugging).
 * The caller keeps its own p2m list and M2P entries up to date.
 */
enum hv_memop_cmd {
    HV_MEMOP_INCREASE = 1,
    HV_MEMOP_DECREASE = 2,
    HV_MEMOP_CURRENT = 3,
    HV_MEMOP_MAXIMUM = 4,
    HV_MEMOP_FRAME_INFO = 5,
};

/* HV_MEMOP_FRAME_INFO result: bits 0-7 type (HV_FRAME_TYPE_*), bit 8 pinned,
 * bit 9 validated, bits 16-39 type count, bits 40-62 reference count. */
#define HV_FRAME_INFO_TYPE(x) ((unsigned)((x)&0xff))
#define HV_FRAME_INFO_PINNED(x) ((unsigned)(((x) >> 8) & 1))
#define HV_FRAME_INFO_VALIDATED(x) ((unsigned)(((x) >> 9) & 1))
#define HV_FRAME_INFO_TYPE_COUNT(x) ((uint32_t)(((x) >> 16) & 0xffffff))
#define HV_FRAME_INFO_REF_COUNT(x) ((uint32_t)(((x) >> 40) & 0x7fffff))
enum hv_frame_type {
    HV_FRAME_TYPE_NONE = 0,
    HV_FRAME_TYPE_L1 = 1,
    HV_FRAME_TYPE_L2 = 2,
    HV_FRAME_TYPE_L3 = 3,
    HV_FRAME_TYPE_L4 = 4,
    HV_FRAME_TYPE_WRITABLE = 5,
};

/*
 * Trap reflection. A domain registers handlers for exceptions (vectors 0..31
 * except 2 NMI, 8 #DF and 18 #MC, which the hypervisor keeps) with
 * HC_SET_TRAP_TABLE; count 0 removes them all, at most 32 entries, every
 * handler below HV_GUEST_VA_LIMIT. On a fault with a handler the hypervisor
 * writes a struct hv_bounce_frame on the guest stack, 16-byte aligned and
 * 128 bytes below the interrupted rsp, and enters the handler with
 * rsp = the frame and rflags = IF; every other register still holds the
 * interrupted context. A page fault's address is in
 * shared_info->vcpu_info[vcpu].fault_addr. The handler resumes the
 * interrupted context with HC_IRET(frame): rip, rsp, rflags (arithmetic
 * flags and DF only; IF is always set), rax, rcx, r11 and rdi come from the
 * frame (the handler may change them), every other register is as the
 * handler leaves it. HC_IRET returns HV_EFAULT / HV_EINVAL (to the handler)
 * for an unreadable frame or a rip/rsp outside guest space. A fault with no
 * handler, or whose frame cannot be written, kills the domain.
 */
struct hv_trap_entry {
    uint64_t vector;
    uint64_t handler;
};
_Static_assert(sizeof(struct hv_trap_entry) == 16, "trap entry layout");

struct hv_bounce_frame {
    uint64_t vector;
    uint64_t error_code;
    uint64_t rip;
    uint64_t rflags;
    uint64_t rsp;
    uint64_t rax;
    uint64_t rcx;
    uint64_t r11;
    uint64_t rdi;
    uint64_t reserved;
};
_Static_assert(sizeof(struct hv_bounce_frame) == 80, "bounce frame layout");
#define HV_TRAP_VECTORS 32u
#define HV_BOUNCE_GAP 128u /* bytes left untouched below the interrupted rsp */

/*
 * The machine-to-pseudophysical table: uint64_t[HV_M2P_ENTRIES max], indexed
 * by machine frame number, mapped read-only at HV_M2P_VA in every address
 * space (the only user-readable part of the hypervisor's half). The start
 * info gives its length. HV_M2P_INVALID marks frames without a pfn.
 */
#define HV_M2P_VA 0xffff808000000000ull
#define HV_M2P_INVALID (~0ull)

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
 * HV_GUEST_VA_LIMIT (page 0 included: the hypervisor never follows a guest
 * pointer without a range check, and SMEP/SMAP stop it from using guest
 * mappings by accident). ELF images must be linked inside [HV_GUEST_VA_MIN,
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
 * order: the start-info page, the shared-info page, the
 * pseudophysical-to-machine list, the modules, the initial page tables, the
 * initial stack. Every frame the
 * domain owns appears exactly once in the p2m list; pfn 0 .. pages_count-1.
 */
#define HV_START_INFO_MAGIC 0x31564824544e4948ull /* "HINT$HV1" */
#define HV_CMDLINE_MAX 1024u
#define HV_START_MODULES_MAX 8u

struct hv_start_module {
    uint64_t va;         /* guest virtual address of the module's bytes */
    uint64_t size_bytes; /* its length */
    char name[48];       /* its GRUB command line (NUL-terminated, truncated) */
};

/*
 * Where a domain's bus is (docs/bus.md): filled by the control domain when
 * it builds a domain, zero otherwise (the root, domains other domains
 * build). The area is a duplex area (hv/duplex.h) owned by the control
 * domain: ref is the grant of its page 0, which lists the others.
 */
struct hv_start_bus {
    uint32_t control_slot; /* slot of this domain's table naming the control domain
                              (HV_CAP_R_DOM_GRANT | HV_CAP_R_DOM_EVTCHN) */
    uint32_t port;         /* the control domain's unbound port for this domain */
    uint32_t ref;          /* the control domain's grant of page 0 of the area */
    uint32_t pages;        /* pages of the area (page 0 included) */
};

struct hv_start_info {
    uint64_t magic;           /* HV_START_INFO_MAGIC */
    uint32_t abi_version;     /* HV_ABI_VERSION */
    uint32_t domid;           /* this domain's id (for logs only: no authority) */
    uint64_t pages_count;     /* frames owned by the domain */
    uint64_t p2m_va;          /* uint64_t[pages_count]: pfn -> mfn */
    uint64_t pt_base_va;      /* first initial page-table frame (the L4) */
    uint64_t pt_frames_count; /* number of initial page-table frames */
    uint64_t stack_top_va;    /* initial rsp */
    uint64_t first_free_va;   /* first unused virtual address after the layout */
    uint64_t first_free_pfn;  /* first pfn not used by the initial layout */
    uint64_t tsc_hz;          /* the TSC frequency the hypervisor measured */
    uint64_t m2p_entries;     /* entries of the read-only M2P table at HV_M2P_VA */
    uint64_t shared_info_va;  /* this domain's struct hv_shared_info (read-write) */
    uint32_t modules_count;
    uint32_t flags; /* HV_SIF_* */
    struct hv_start_module modules[HV_START_MODULES_MAX];
    char cmdline[HV_CMDLINE_MAX];
    struct hv_start_bus bus; /* valid with HV_SIF_BUS */
};

#define HV_SIF_ROOT (1u << 0) /* this is the root domain */
#define HV_SIF_BUS (1u << 1)  /* bus says where this domain's bus is */

_Static_assert(sizeof(struct hv_start_module) == 64, "start module layout");
_Static_assert(offsetof(struct hv_start_info, m2p_entries) == 80, "start info layout");
_Static_assert(offsetof(struct hv_start_info, shared_info_va) == 88, "start info layout");
_Static_assert(offsetof(struct hv_start_info, modules) == 104, "start info layout");
_Static_assert(sizeof(struct hv_start_bus) == 16, "start bus layout");
_Static_assert(offsetof(struct hv_start_info, bus) == 104 + 8 * 64 + 1024, "start info layout");
_Static_assert(sizeof(struct hv_start_info) == 104 + 8 * 64 + 1024 + 16, "start info size");
_Static_assert(sizeof(struct hv_start_info) <= HV_PAGE_SIZE, "start info fits a page");

#endif /* HV_ABI_H */
