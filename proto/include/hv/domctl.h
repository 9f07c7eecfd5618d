/*
 * The guest ABI of the core objects beyond memory: capability operations,
 * domain creation and control, console rings, upcalls, blocking and time.
 * Hypercall numbers are in abi.h; capability and event-channel structs in
 * caps.h; grant structs in grant.h. docs/abi.md describes the same ABI in
 * prose, with the error of every case.
 *
 * Freestanding: no libc. Layouts are pinned by _Static_assert below.
 */
#ifndef HV_DOMCTL_H
#define HV_DOMCTL_H

#include <stddef.h>
#include <stdint.h>

#include "caps.h"

/* ---- HC_CAP_OP(enum hv_cap_cmd, void *args) ---------------------------- */

enum hv_cap_cmd {
    HV_CAP_COPY = 0,     /* struct hv_cap_copy_args */
    HV_CAP_DELETE = 1,   /* struct hv_cap_slot_args */
    HV_CAP_REVOKE = 2,   /* struct hv_cap_slot_args; preemptible, restarts itself */
    HV_CAP_IDENTIFY = 3, /* struct hv_cap_identify_args */
};

struct hv_cap_identify_args {
    uint32_t slot;           /* in */
    uint32_t reserved;       /* must be 0 */
    struct hv_cap_info info; /* out */
};
_Static_assert(sizeof(struct hv_cap_identify_args) == 32, "cap identify args layout");

/*
 * The slots of the root domain's table at boot. Every other domain starts
 * with an empty table: what it may do follows from what is copied into it.
 */
enum hv_root_slot {
    HV_ROOT_SLOT_SELF = 0,    /* DOMAIN: itself, every right */
    HV_ROOT_SLOT_MEMORY = 1,  /* MEMORY: all free memory as quota */
    HV_ROOT_SLOT_CONSOLE = 2, /* CONSOLE: its own console rings */
    HV_ROOT_SLOT_IOPORT = 3,  /* IOPORT: ports 0 .. 0xffff */
    HV_ROOT_SLOT_IRQ = 4,     /* IRQ: every I/O APIC line (GSI 0 .. lines-1) */
    HV_ROOT_SLOT_MMIO = 5,    /* MMIO: frames 0xc0000-0xfebff (docs/devices.md) */
    HV_ROOT_SLOT_FIRST_FREE = 8,
};

/* ---- HC_DOMAIN_OP(enum hv_domctl_cmd, void *args) ----------------------- */

/*
 * Building a domain (what a domain builder such as guest-kit's does):
 *   1. CREATE with a memory capability: an empty domain in state BUILDING,
 *      its memory limit carved out of the creator's; the caller receives a
 *      domain capability (every right) and a console capability.
 *   2. Allocate frames for it from the creator's own memory
 *      (HV_MEMOP_INCREASE), map them, write the image, page tables and start
 *      info, unmap them, and ASSIGN them to the new domain: ownership moves,
 *      with the pseudophysical number recorded in the M2P.
 *   3. SET_BASE: the new domain's L4 is validated as the new domain's (every
 *      frame it reaches must be the new domain's) and pinned as its base.
 *   4. VCPU_START for VCPU 0 (the domain becomes RUNNING).
 * The hypervisor never parses the image: it only checks ownership, types
 * and the page-table rules.
 */
enum hv_domctl_cmd {
    HV_DOMCTL_CREATE = 0,            /* struct hv_domctl_create */
    HV_DOMCTL_ASSIGN = 1,            /* struct hv_domctl_assign (preemptible, restarts itself) */
    HV_DOMCTL_SET_BASE = 2,          /* struct hv_domctl_set_base (preemptible) */
    HV_DOMCTL_VCPU_START = 3,        /* struct hv_domctl_vcpu_start */
    HV_DOMCTL_PAUSE = 4,             /* struct hv_domctl_dom */
    HV_DOMCTL_UNPAUSE = 5,           /* struct hv_domctl_dom */
    HV_DOMCTL_DESTROY = 6,           /* struct hv_domctl_dom */
    HV_DOMCTL_INFO = 7,              /* struct hv_domctl_info */
    HV_DOMCTL_VCPU_STOP = 8,         /* struct hv_domctl_vcpu_start (rip, rsp, arg = 0) */
    HV_DOMCTL_SCHED_SET = 9,         /* struct hv_domctl_sched (DOM_CONTROL) */
    HV_DOMCTL_SCHED_GET = 10,        /* struct hv_domctl_sched (DOM_STATE) */
    HV_DOMCTL_VCPU_PIN = 11,         /* struct hv_domctl_vcpu_pin (DOM_CONTROL) */
    HV_DOMCTL_VCPU_INFO = 12,        /* struct hv_domctl_vcpu_info (DOM_STATE) */
    HV_DOMCTL_HOST_INFO = 13,        /* struct hv_host_info (slot: any MEMORY capability) */
    HV_DOMCTL_SHUTDOWN_REQUEST = 14, /* struct hv_domctl_shutdown_request (DOM_CONTROL) */
    HV_DOMCTL_VCPU_CAP = 15,         /* struct hv_domctl_vcpu_cap (DOM_CONTROL) */
};

/*
 * VCPU_CAP mints, in the caller's empty slot dst_slot, a capability to VCPU
 * `vcpu` of the domain named by dom_slot, with `rights` (HV_CAP_R_VCPU_*,
 * HV_CAP_R_GRANT). VCPU_START, VCPU_STOP and VCPU_PIN accept in dom_slot a
 * VCPU capability with HV_CAP_R_VCPU_CONTROL, VCPU_INFO one with
 * HV_CAP_R_VCPU_STATE - for that VCPU only (HV_EPERM for another). So a
 * domain can be handed control of one VCPU of another without any right
 * over the domain. The capability is a derivation root of its own (revoking
 * the domain capability it was minted through does not remove it); it goes
 * when the domain is destroyed. HV_EINVAL: vcpu out of range, a right that
 * is not a VCPU right, dst_slot >= HV_CAP_SLOTS; HV_EEXIST: slot occupied.
 */
struct hv_domctl_vcpu_cap {
    uint32_t dom_slot;
    uint32_t vcpu;
    uint32_t dst_slot;
    uint32_t rights;
};
_Static_assert(sizeof(struct hv_domctl_vcpu_cap) == 16, "vcpu cap layout");

/*
 * SHUTDOWN_REQUEST asks a RUNNING domain to shut down with `reason` (enum
 * hv_shutdown_reason): the hypervisor records it (INFO's shutdown_request
 * becomes reason + 1) and raises HV_VIRQ_SHUTDOWN in the domain, which is
 * expected to stop itself with HC_SHUTDOWN. A domain that ignores it keeps
 * running: the requester decides when to destroy it. HV_EINVAL: a bad
 * reason, reserved != 0, or the caller itself; HV_EBUSY: not RUNNING.
 */
struct hv_domctl_shutdown_request {
    uint32_t dom_slot;
    uint32_t reason;
};
_Static_assert(sizeof(struct hv_domctl_shutdown_request) == 8, "shutdown request layout");

/* enum hv_domctl_info.state */
enum hv_domain_state {
    HV_DOMSTATE_BUILDING = 0, /* created, not started */
    HV_DOMSTATE_RUNNING = 1,
    HV_DOMSTATE_PAUSED = 2,
    HV_DOMSTATE_SHUTDOWN = 3, /* stopped; shutdown_reason says why; memory kept */
};

#define HV_DOMAIN_NAME_MAX 32u
#define HV_DOMAIN_VCPUS_MAX 8u

struct hv_domctl_create {
    uint32_t mem_slot;             /* in: MEMORY cap with HV_CAP_R_MEM_CREATE_DOMAIN */
    uint32_t dom_slot;             /* in: empty slot of the caller for the domain cap */
    uint32_t console_slot;         /* in: empty slot for its console cap (!= dom_slot) */
    uint32_t vcpus;                /* in: 1 .. HV_DOMAIN_VCPUS_MAX */
    uint64_t max_pages;            /* in: memory limit in frames, > 0 */
    uint32_t domid;                /* out: its id (logs only) */
    uint32_t reserved;             /* must be 0 */
    uint64_t shared_info_mfn;      /* out: its shared-info frame (map it for it) */
    char name[HV_DOMAIN_NAME_MAX]; /* in: NUL-terminated, printable */
};

/* One frame given to a domain being built. */
struct hv_domctl_frame {
    uint64_t mfn; /* owned by the caller, unused: no mapping, pin or grant */
    uint64_t pfn; /* its pseudophysical number in the new domain (< max_pages) */
};

#define HV_DOMCTL_ASSIGN_MAX 4096u /* frames per call */

struct hv_domctl_assign {
    uint32_t dom_slot; /* in: DOMAIN cap with HV_CAP_R_DOM_BUILD; state BUILDING */
    uint32_t count;    /* in: frames in list, 1 .. HV_DOMCTL_ASSIGN_MAX */
    uint64_t list;     /* in: const struct hv_domctl_frame[count] */
    uint64_t done;     /* in/out: frames already assigned (start with 0) */
};

struct hv_domctl_set_base {
    uint32_t dom_slot; /* in: DOMAIN cap with HV_CAP_R_DOM_BUILD; state BUILDING */
    uint32_t reserved; /* must be 0 */
    uint64_t l4_mfn;   /* in: an L4 frame owned by that domain */
};

/*
 * VCPU_START gives a VCPU of the domain its initial context and makes it
 * runnable (a domain starts its own further VCPUs with HV_CAP_SLOT_SELF).
 * VCPU_STOP takes an online VCPU down (its timer cancelled, its context
 * dropped; it may be started again); stopping the domain's last online
 * VCPU is refused with HV_EBUSY (use HC_SHUTDOWN). A VCPU that stops itself
 * does not return from the call.
 */
struct hv_domctl_vcpu_start {
    uint32_t dom_slot; /* in: DOMAIN cap with HV_CAP_R_DOM_CONTROL; base set */
    uint32_t vcpu;     /* in: < the domain's vcpus, not yet started */
    uint64_t rip;      /* in: entry point (< HV_GUEST_VA_LIMIT) */
    uint64_t rsp;      /* in: initial stack pointer (< HV_GUEST_VA_LIMIT) */
    uint64_t arg;      /* in: initial rdi */
};

struct hv_domctl_dom {
    uint32_t dom_slot; /* in: DOMAIN cap with HV_CAP_R_DOM_CONTROL */
    uint32_t reserved; /* must be 0 */
};

struct hv_domctl_info {
    uint32_t dom_slot;         /* in: DOMAIN cap with HV_CAP_R_DOM_STATE, or SELF */
    uint32_t domid;            /* out */
    uint32_t state;            /* out: enum hv_domain_state */
    uint32_t shutdown_reason;  /* out: enum hv_shutdown_reason when SHUTDOWN */
    uint32_t vcpus;            /* out */
    uint32_t shutdown_request; /* out: 0 none, else the requested reason + 1 */
    uint64_t pages;            /* out: frames owned */
    uint64_t max_pages;        /* out */
    uint64_t cpu_time_ns;      /* out: time its VCPUs ran */
    uint64_t events_sent;      /* out: HV_EVTCHN_SEND on its inter-domain and IPI ports */
    uint64_t events_delivered; /* out: events made pending in it (coalesced ones once) */
    uint64_t dma_faults;       /* out: IOMMU faults of the PCI functions it drives */
};

/*
 * Scheduling parameters (docs/sched.md): weight 1..65535 (default 256), cap
 * in percent of one CPU (0 = none, at most 100 * CPUs), gang 0/1 (all the
 * domain's VCPUs run at the same time on distinct CPUs, or none does).
 * SCHED_SET: HV_EINVAL for a value out of range; HV_E2BIG if gang is asked
 * for a domain whose VCPUs cannot run on distinct CPUs; HV_EBUSY if the
 * gang flag changes while one of its VCPUs is runnable (pause it first, or
 * set it before the first VCPU starts). Nothing changes on error.
 */
struct hv_domctl_sched {
    uint32_t dom_slot; /* in */
    uint32_t weight;   /* in (SET) / out (GET) */
    uint32_t cap_pct;
    uint32_t gang;
};

/* VCPU_PIN: the CPUs the VCPU may run on (hard affinity); 0 = all. Bits
 * beyond the machine's CPUs are ignored; none left is HV_EINVAL. */
struct hv_domctl_vcpu_pin {
    uint32_t dom_slot;
    uint32_t vcpu;
    uint64_t cpu_mask;
};

/* enum hv_vcpu_state */
enum hv_vcpu_state {
    HV_VCPU_OFFLINE = 0,  /* never started, or stopped */
    HV_VCPU_BLOCKED = 1,  /* waiting (HC_BLOCK, paused domain) */
    HV_VCPU_RUNNABLE = 2, /* waiting for a CPU */
    HV_VCPU_RUNNING = 3,
};

struct hv_domctl_vcpu_info {
    uint32_t dom_slot;   /* in */
    uint32_t vcpu;       /* in */
    uint32_t state;      /* out: enum hv_vcpu_state */
    uint32_t cpu;        /* out: CPU it runs on or last ran on, ~0u if never */
    uint64_t run_ns;     /* out: time running */
    uint64_t wait_ns;    /* out: time runnable but waiting for a CPU */
    uint64_t migrations; /* out: times it started on another CPU than the last */
    uint64_t cpu_mask;   /* out: its hard affinity */
};

#define HV_HOST_CPUS_MAX 64u

struct hv_host_cpu {
    uint16_t package_id;
    uint16_t core_id;
    uint16_t thread_id;
    uint16_t reserved;
    uint32_t apic_id;
    uint32_t reserved2;
};

struct hv_host_info {
    uint32_t slot;         /* in: any MEMORY capability */
    uint32_t cpus;         /* out: CPUs online */
    uint64_t tsc_hz;       /* out */
    uint64_t frames_total; /* out: RAM frames the hypervisor manages */
    uint64_t frames_free;  /* out: not owned by anyone now */
    uint32_t iommu;        /* out: enum hv_iommu_kind: what confines DMA */
    uint32_t reserved;     /* 0 */
    struct hv_host_cpu cpu[HV_HOST_CPUS_MAX];
};

/* What confines the DMA of devices (docs/devices.md, "The IOMMU"). */
enum hv_iommu_kind {
    HV_IOMMU_NONE = 0,       /* none: only the root domain may turn on bus mastering */
    HV_IOMMU_VTD = 1,        /* Intel VT-d DMA remapping */
    HV_IOMMU_OFF_UNSAFE = 2, /* `iommu=off-unsafe`: anyone with the DMA right, unconfined */
};

_Static_assert(sizeof(struct hv_domctl_sched) == 16, "domctl sched layout");
_Static_assert(sizeof(struct hv_domctl_vcpu_pin) == 16, "domctl pin layout");
_Static_assert(sizeof(struct hv_domctl_vcpu_info) == 48, "domctl vcpu info layout");
_Static_assert(sizeof(struct hv_host_cpu) == 16, "host cpu layout");
_Static_assert(sizeof(struct hv_host_info) == 40 + 64 * 16, "host info layout");
_Static_assert(sizeof(struct hv_domctl_create) == 72, "domctl create layout");
_Static_assert(offsetof(struct hv_domctl_create, name) == 40, "domctl create layout");
_Static_assert(sizeof(struct hv_domctl_frame) == 16, "domctl frame layout");
_Static_assert(sizeof(struct hv_domctl_assign) == 24, "domctl assign layout");
_Static_assert(sizeof(struct hv_domctl_set_base) == 16, "domctl set base layout");
_Static_assert(sizeof(struct hv_domctl_vcpu_start) == 32, "domctl vcpu start layout");
_Static_assert(sizeof(struct hv_domctl_dom) == 8, "domctl dom layout");
_Static_assert(sizeof(struct hv_domctl_info) == 72, "domctl info layout");
_Static_assert(offsetof(struct hv_domctl_info, events_sent) == 48, "domctl info layout");

/* ---- HC_CONSOLE_OP(enum hv_console_cmd, struct hv_console_args *) ------- */

/*
 * Every domain has an output ring (what it writes with HC_CONSOLE_WRITE;
 * each line also goes to the hypervisor's log) and an input ring, both
 * HV_CONSOLE_RING_SIZE bytes in hypervisor memory. A full output ring drops
 * its oldest bytes (counted; not reported yet); a full input ring
 * refuses what does not fit (a short count).
 *
 *   READ:       con_slot = CONSOLE cap with CON_READ: move up to len bytes
 *               of that domain's output to buf; returns the count.
 *   WRITE:      con_slot = CONSOLE cap with CON_WRITE: append up to len
 *               bytes of buf to its input; returns the count taken; the
 *               domain gets HV_VIRQ_CONSOLE.
 *   READ_INPUT: con_slot = HV_CAP_SLOT_SELF: move up to len bytes of the
 *               caller's own input to buf; returns the count.
 *   WATCH:      con_slot = CONSOLE cap with CON_READ: the caller gets
 *               HV_VIRQ_CONSOLE whenever that domain writes output (one
 *               watcher per console; the last WATCH wins). buf, len: 0.
 */
#define HV_CONSOLE_RING_SIZE 16384u

enum hv_console_cmd {
    HV_CONSOLE_READ = 0,
    HV_CONSOLE_WRITE = 1,
    HV_CONSOLE_READ_INPUT = 2,
    HV_CONSOLE_WATCH = 3,
};

struct hv_console_args {
    uint32_t con_slot;
    uint32_t reserved; /* must be 0 */
    uint64_t buf;
    uint64_t len; /* at most HV_CONSOLE_RING_SIZE is moved per call */
};
_Static_assert(sizeof(struct hv_console_args) == 24, "console args layout");

/* ---- HC_IOPORT_OP(struct hv_ioport_args *) ------------------------------ */

/*
 * One in or out instruction on I/O ports [port, port + size) covered by the
 * IOPORT capability in slot (HV_CAP_R_IO_ACCESS). size is 1, 2 or 4. For
 * an in, value is written back. Ports the hypervisor drives itself (the
 * PICs, the PIT, port 0x61, the CMOS/RTC, COM1, the debug-exit port 0xf4)
 * and the PCI configuration ports 0xcf8-0xcff (PCI-device capabilities
 * will cover those) are refused with HV_EPERM whatever the capability.
 */
struct hv_ioport_args {
    uint32_t slot;     /* in: IOPORT capability */
    uint16_t port;     /* in */
    uint8_t size;      /* in: 1, 2 or 4 */
    uint8_t write;     /* in: 1 = out, 0 = in */
    uint32_t value;    /* in (out) / out (in) */
    uint32_t reserved; /* must be 0 */
};
_Static_assert(sizeof(struct hv_ioport_args) == 16, "ioport args layout");

/* ---- Upcalls, blocking and time ------------------------------------------ */

/*
 * HC_SET_CALLBACK(entry): events are delivered to entry (0: none; events
 * stay pending). When a VCPU has upcall_pending set and upcall_mask clear on
 * its way back to ring 3, the hypervisor sets upcall_mask and enters entry
 * on a struct hv_bounce_frame exactly as for a reflected trap, with vector
 * HV_UPCALL_VECTOR and error_code 0; the callback returns with HC_IRET.
 * The callback must save every register it changes except rax, rcx, r11
 * and rdi (which HC_IRET restores from the frame).
 *
 * HC_BLOCK(): clears the calling VCPU's upcall_mask and, unless
 * upcall_pending is set, blocks the VCPU until it is. Returns HV_OK; the
 * upcall is delivered on the way out. Checking for work with upcall_mask
 * set and then calling HC_BLOCK loses no wake-up.
 *
 * HC_SET_TIMER(deadline_ns): arms the calling VCPU's one-shot timer for
 * system time deadline_ns (0 cancels; a deadline already past fires at
 * once). When it fires the VCPU gets HV_VIRQ_TIMER (if bound) and is woken
 * from HC_BLOCK.
 *
 * System time: nanoseconds since boot, from the VCPU's time record in
 * shared info (struct hv_vcpu_time_info): with d = tsc - tsc_timestamp,
 * shifted left by tsc_shift (right if negative),
 *   system_time_ns + ((unsigned __int128)d * tsc_to_system_mul >> 32).
 * Wall clock: wc_sec/wc_nsec in shared info is the UTC time at system time
 * 0 (read from the RTC at boot).
 */
#define HV_UPCALL_VECTOR 256u

/* ---- PCI devices: HC_PCI_OP(enum hv_pci_cmd, void *args) ---------------- */

/*
 * At boot the hypervisor enumerates PCI (configuration mechanism #1) and
 * gives the root, from slot HV_ROOT_SLOT_DEVICE_FIRST upward, for each
 * function found (bus, device, function order) one PCI capability
 * (HV_CAP_R_PCI_ALL | HV_CAP_R_GRANT) followed by one MMIO capability per
 * memory BAR (the BAR's frames, rounded out to whole frames;
 * HV_CAP_R_MMIO_ALL | HV_CAP_R_GRANT). The root finds them with
 * HV_CAP_IDENTIFY and describes a PCI capability with HV_PCI_INFO.
 * HV_ROOT_SLOT_MMIO (slot 5) is frames 0xc0000-0xfebff (3 GiB up to the
 * I/O APIC): the classic 32-bit PCI hole without the I/O APIC, HPET,
 * local APIC and firmware above it; RAM frames in it stay unmappable. It
 * may cover a chipset's PCI ECAM window: hand driver domains the per-BAR
 * capabilities, never slot 5.
 *
 *   CONFIG_READ:  struct hv_pci_config_args; slot = PCI cap with
 *                 HV_CAP_R_PCI_CONFIG_READ; value is written back.
 *   CONFIG_WRITE: struct hv_pci_config_args; slot = PCI cap with
 *                 HV_CAP_R_PCI_CONFIG_WRITE.
 *   INFO:         struct hv_pci_info_args; slot = any PCI cap.
 *   MSI_ENABLE:   struct hv_pci_msi_args; slot = PCI cap with
 *                 HV_CAP_R_PCI_IRQ. The hypervisor allocates `count`
 *                 vectors and programs the function's MSI or MSI-X
 *                 capability itself (address, data, table entries,
 *                 enable bit): a domain never chooses a message address or
 *                 data. Each vector is then bound to a port with
 *                 HV_EVTCHN_BIND_MSI (hv/caps.h); a vector not bound is
 *                 delivered nowhere. Errors: HV_ENOTSUP (the function has
 *                 no capability of that kind), HV_EINVAL (count 0, above
 *                 the function's vectors - 1 for MSI, the table size for
 *                 MSI-X - or above HV_PCI_MSI_VECTORS_MAX; a bad kind;
 *                 reserved != 0), HV_EBUSY (vectors already set up on
 *                 the function, by this domain or another: disable first),
 *                 HV_ENOMEM (the machine's vectors are used up).
 *   MSI_DISABLE:  struct hv_pci_msi_args (kind, count 0); the same
 *                 capability. Turns MSI/MSI-X off on the function, closes
 *                 the ports bound to its vectors and frees them. HV_ENOENT
 *                 if none are set up; HV_EPERM if another domain set them
 *                 up. A domain's vectors are also freed when it dies or
 *                 loses its last PCI capability to the function with
 *                 HV_CAP_R_PCI_IRQ.
 *
 * Config accesses: offset < 256, size 1, 2 or 4 and offset a multiple of
 * size, reserved fields 0 (else HV_EINVAL). Writes are refused with
 * HV_EPERM when they touch an address register (header type 0: BARs
 * 0x10-0x27 and the expansion ROM 0x30-0x33; any other header type:
 * 0x10-0x3b, i.e. BARs, bus numbers, windows and ROM), when they touch
 * offset 0x40 or above of a host bridge or ISA bridge (class 06/00 or
 * 06/01: chipset registers that remap memory), or when they write
 * the command register's bus-master bit (bit 2 of offset 4) as 1 and the
 * capability lacks HV_CAP_R_PCI_DMA, or when they touch the function's
 * MSI or MSI-X capability structure (message address, data, control:
 * only HV_PCI_MSI_ENABLE programs them). Slot errors: HV_EINVAL (>= 256),
 * HV_ENOENT (empty), HV_EPERM (not a PCI capability, or a right missing).
 * Every check is made before the hardware is touched.
 */
#define HV_ROOT_SLOT_DEVICE_FIRST 128u
#define HV_PCI_NO_SLOT 0xffffffffu

enum hv_pci_cmd {
    HV_PCI_CONFIG_READ = 0,  /* struct hv_pci_config_args */
    HV_PCI_CONFIG_WRITE = 1, /* struct hv_pci_config_args */
    HV_PCI_INFO = 2,         /* struct hv_pci_info_args */
    HV_PCI_MSI_ENABLE = 3,   /* struct hv_pci_msi_args */
    HV_PCI_MSI_DISABLE = 4,  /* struct hv_pci_msi_args */
};

/* Vectors one function may have (HV_PCI_MSI_ENABLE). */
#define HV_PCI_MSI_VECTORS_MAX 32u

enum hv_pci_msi_kind {
    HV_PCI_MSI = 1,  /* the MSI capability (one vector) */
    HV_PCI_MSIX = 2, /* the MSI-X capability (up to its table size) */
};

struct hv_pci_msi_args {
    uint32_t slot;     /* in: PCI capability with HV_CAP_R_PCI_IRQ */
    uint32_t kind;     /* in: enum hv_pci_msi_kind (MSI_DISABLE: 0) */
    uint32_t count;    /* in: vectors (MSI_DISABLE: 0) */
    uint32_t reserved; /* must be 0 */
};

struct hv_pci_config_args {
    uint32_t slot;     /* in: PCI capability */
    uint16_t offset;   /* in: byte offset in configuration space, < 256 */
    uint8_t size;      /* in: 1, 2 or 4, offset aligned to it */
    uint8_t reserved0; /* must be 0 */
    uint32_t value;    /* in (write) / out (read) */
    uint32_t reserved; /* must be 0 */
};

/* enum values of struct hv_pci_bar.kind */
enum hv_pci_bar_kind {
    HV_PCI_BAR_NONE = 0,      /* not implemented (size 0) */
    HV_PCI_BAR_IO = 1,        /* I/O ports [base, base + size) */
    HV_PCI_BAR_MEM32 = 2,     /* memory below 4 GiB */
    HV_PCI_BAR_MEM64 = 3,     /* memory, 64-bit: the next register is its upper half */
    HV_PCI_BAR_MEM64_HIGH = 4 /* the upper half of the BAR before it */
};
#define HV_PCI_BAR_F_PREFETCH 1u /* flags: prefetchable memory */

struct hv_pci_bar {
    uint64_t base;      /* machine address (I/O: port) as the firmware assigned it */
    uint64_t size;      /* bytes (0: none) */
    uint8_t kind;       /* enum hv_pci_bar_kind */
    uint8_t flags;      /* HV_PCI_BAR_F_* */
    uint16_t reserved;  /* 0 */
    uint32_t mmio_slot; /* root slot of its MMIO capability at boot, or HV_PCI_NO_SLOT */
};

struct hv_pci_info_args {
    uint32_t slot;     /* in: PCI capability (no right needed) */
    uint32_t reserved; /* must be 0 */
    uint8_t bus, dev, fn;
    uint8_t header_type; /* without the multifunction bit */
    uint16_t vendor, device;
    uint32_t class_rev; /* class << 24 | subclass << 16 | prog-if << 8 | revision */
    uint8_t irq_line;   /* as the firmware left it (legacy PIC/IOAPIC number, 0xff: none) */
    uint8_t irq_pin;    /* 0: none, 1..4: INTA..INTD */
    uint16_t reserved2; /* 0 */
    uint32_t pci_slot;  /* root slot of its PCI capability at boot */
    uint32_t bar_count; /* BAR registers of its header type: 6 (type 0), 2 (type 1), 0 */
    struct hv_pci_bar bars[6];
    uint16_t msix_count; /* MSI-X table size (0: no MSI-X capability) */
    uint8_t msi_count;   /* MSI vectors the hypervisor sets up (0: no MSI capability, or 1) */
    uint8_t reserved3;   /* 0 */
    uint32_t reserved4;  /* 0 */
};

_Static_assert(sizeof(struct hv_pci_config_args) == 16, "pci config args layout");
_Static_assert(sizeof(struct hv_pci_bar) == 24, "pci bar layout");
_Static_assert(offsetof(struct hv_pci_info_args, class_rev) == 16, "pci info layout");
_Static_assert(offsetof(struct hv_pci_info_args, bars) == 32, "pci info layout");
_Static_assert(offsetof(struct hv_pci_info_args, msix_count) == 176, "pci info layout");
_Static_assert(sizeof(struct hv_pci_info_args) == 184, "pci info layout");
_Static_assert(sizeof(struct hv_pci_msi_args) == 16, "pci msi args layout");

#endif /* HV_DOMCTL_H */
