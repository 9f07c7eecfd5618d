/*
 * What the core (hv/core, hv/mm) asks of the architecture. Implemented in
 * hv/arch/x86_64; nothing here names an x86 register or instruction.
 */
#ifndef HV_ARCH_H
#define HV_ARCH_H

#include "types.h"
#include "hv/abi.h"

/* The register frame an entry from ring 3 leaves at the top of the CPU's
 * hypervisor stack, restored by the exit to ring 3. Its layout is the
 * architecture's (hv/arch/x86_64/regs.h): the core only passes it along. */
struct cpu_regs;

/*
 * One hypercall, decoded once by the architecture's entry code from the
 * registers the guest ABI names (proto/include/hv/abi.h). The core reads
 * its number and arguments here and never a register.
 */
#define HC_ARGS_MAX 6
struct hypercall {
    uint64_t nr;
    uint64_t arg[HC_ARGS_MAX]; /* in ABI order */
    struct cpu_regs *frame;    /* the caller's frame (opaque) */
};

/* Codes passed to arch_machine_exit(); see docs/abi.md "Exit status". */
enum hv_exit_code {
    HV_EXIT_POWEROFF = 0x10,   /* root domain powered off */
    HV_EXIT_ROOT_CRASH = 0x11, /* root domain crashed or was killed */
    HV_EXIT_REBOOT = 0x12,     /* root domain asked for a reboot */
    HV_EXIT_PANIC = 0x13,      /* the hypervisor panicked */
    HV_EXIT_BOOT_ERROR = 0x14, /* boot could not complete (e.g. bad root module) */
};

void arch_serial_init(void);
void arch_serial_putc(char c);

void arch_cpu_init(void);

/* Builds the hypervisor's own page tables: the image with proper permissions
 * and a direct map of physical memory [0, max_paddr). */
void arch_paging_init(paddr_t max_paddr);
/* Physical memory below this address is reachable through the direct map. */
paddr_t arch_directmap_limit(void);
/* The hypervisor virtual address of a machine frame (direct map). */
void *arch_frame_va(mfn_t m);
/* The machine address of the hypervisor's L4 (used as a template for guests). */
paddr_t arch_hv_l4(void);

/* Time: TSC calibrated against the PIT at boot; the local APIC timer. */
void arch_time_init(void);
/* The test image only (test/image/arch/time_test.c): the timer health
 * check, and its count of the timer interrupts taken before the scheduler
 * starts (the core's schedule_timer_interrupt calls it). */
void arch_time_self_test(void);
void arch_time_test_tick(void);
uint64_t arch_now_ns(void);
uint64_t arch_tsc_hz(void);
/* The constants of the guest time record (proto/include/hv/domctl.h). */
void arch_time_record(uint64_t *tsc_timestamp, uint32_t *mul, int8_t *shift);
/* UTC nanoseconds since 1970 at system time 0 (from the RTC at boot). */
uint64_t arch_wallclock_at_zero_ns(void);
/* Physical interrupt lines (hv/arch/x86_64/ioapic.c): GSI n arrives as
 * vector IRQ_VECTOR_BASE + n; every line starts masked. */
#define IRQ_VECTOR_BASE 0x30u
#define ARCH_IRQ_LINES 24u
void arch_irq_init(void);
uint32_t arch_irq_lines(void);
void arch_irq_mask(uint32_t gsi);
void arch_irq_unmask(uint32_t gsi);
/* Level-triggered (and so shareable): on a PC, the PCI lines from GSI 16,
 * active low; ISA lines 0-15 are edges. */
bool arch_irq_level(uint32_t gsi);

/* ---- Devices: DMA remapping and message interrupts (devirq.c, vtd.c) ---- */

/* What confines DMA (arch_iommu_init). */
enum arch_iommu {
    ARCH_IOMMU_NONE = 0, /* no remapping unit: devices reach all memory */
    ARCH_IOMMU_VTD = 1,  /* Intel VT-d: every function blocked until attached */
};
/* The vector of the IOMMU's fault events (boot CPU), and the message
 * vectors handed to devices (the core's msi.h table, slot i = vector
 * ARCH_MSI_VECTOR_FIRST + i on any CPU). */
#define ARCH_IOMMU_FAULT_VECTOR 0xe0u
#define ARCH_MSI_VECTOR_FIRST 0x50u
#define ARCH_MSI_VECTORS 128u

/* Boot, after arch_smp_init: finds the DMAR (RSDP as arch_smp_init takes
 * it) and starts the IOMMU (DMA remapping, and interrupt remapping where
 * offered: the I/O APIC's lines go through it from then on).
 * arch_iommu_space_* work once it returned VTD. */
enum arch_iommu arch_iommu_init(const void *acpi_rsdp, size_t acpi_rsdp_size_bytes);
/* Aims I/O APIC line gsi at CPU cpu. */
void arch_irq_set_cpu(uint32_t gsi, unsigned cpu);
/* Whether the IOMMU translates function bdf (bus << 8 | devfn). */
bool arch_iommu_covers(uint16_t bdf);

/*
 * Translation spaces (the core's hv/include/iommu.h decides what goes in
 * them): a space maps DMA frame m to machine frame m. Unmap and detach
 * return only once the unit's caches no longer translate what they removed
 * (the invalidation has completed); map of a frame not mapped before needs
 * no invalidation. create: NULL without memory; map, attach: HV_ENOMEM.
 */
struct arch_iommu_space;
struct arch_iommu_space *arch_iommu_space_create(void);
void arch_iommu_space_destroy(struct arch_iommu_space *s); /* after every detach */
enum hv_status arch_iommu_map(struct arch_iommu_space *s, mfn_t m, bool writable);
bool arch_iommu_unmap(struct arch_iommu_space *s, mfn_t m); /* false: was not mapped */
enum hv_status arch_iommu_attach(uint16_t bdf, struct arch_iommu_space *s);
void arch_iommu_detach(uint16_t bdf);
/*
 * The message (address, data) a function with source id sid must send to
 * raise `vector` on CPU cpu, for the core's message-vector table slot
 * `slot`. With interrupt remapping this writes the slot's remapping entry
 * (only sid may use it) and returns a message naming it; without, the
 * plain format. arch_msi_release clears the slot's entry.
 */
void arch_msi_message(unsigned slot, uint8_t vector, uint16_t sid, unsigned cpu, uint32_t *addr,
                      uint32_t *data);
void arch_msi_release(unsigned slot);
/* An uncached hypervisor mapping of device memory [pa, pa + len), or NULL
 * if there is none (device memory outside the direct map's uncached
 * window below 4 GiB). */
void *arch_mmio_va(paddr_t pa, size_t len);

/* Programs the local timer to interrupt at deadline_ns (arch_now_ns time);
 * 0 stops it. A deadline in the past fires at once. */
void arch_timer_set_deadline(uint64_t deadline_ns);

/* Ends the machine: through isa-debug-exit when enabled (cmdline `debug_exit`),
 * else halts forever. For a reboot request without debug_exit, resets. */
__noreturn void arch_machine_exit(enum hv_exit_code code);
__noreturn void arch_halt_forever(void);
/* Enables interrupts and waits for one (used when nothing can run). */
void arch_idle_wait(void);
/* Disables interrupts on this CPU for good (the panic path). */
void arch_irqs_off(void);
/* The hint a spin-wait loop executes on every turn (it also lets the one
 * TCG thread of an -icount run move on). */
void arch_cpu_relax(void);

/* Port I/O: `width` is 1, 2 or 4 bytes (anything else reads 0 and writes
 * nothing); a narrower value is zero-extended / truncated. Whoever calls
 * these has checked the caller's right to the port. */
uint32_t arch_port_in(uint16_t port, unsigned width);
void arch_port_out(uint16_t port, unsigned width, uint32_t value);

/* Copies between hypervisor memory and the current guest's address space.
 * Returns HV_OK, or HV_EFAULT when the range is not entirely below
 * HV_GUEST_VA_LIMIT or a page is not mapped (with user access) in the guest. */
int arch_copy_from_guest(void *dst, gva_t src, size_t n);
int arch_copy_to_guest(gva_t dst, const void *src, size_t n);

/* Guest page-table construction used by the root-domain builder. */
#define ARCH_MAP_W (1u << 0)
#define ARCH_MAP_X (1u << 1)
#define ARCH_MAP_USER (1u << 2) /* arch_hv_map: readable from ring 3 (the M2P) */
typedef mfn_t (*arch_frame_alloc_fn)(void *ctx);

/* Maps frame m at va in the hypervisor's own half (PML4 slots between the
 * direct map and the image), shared by every address space. Intermediate
 * tables come from alloc. For boot-time structures only. */
bool arch_hv_map(uint64_t va, mfn_t m, unsigned flags, arch_frame_alloc_fn alloc, void *ctx);
/* The hypervisor's PML4 entries 256..511 (the template every guest L4 gets). */
const uint64_t *arch_hv_l4_slots(void);
unsigned arch_maxphyaddr_bits(void);
void arch_tlb_flush_local(void);
void arch_tlb_invlpg(uint64_t va);
/* Loads a validated L4 as this CPU's page-table base. */
void arch_load_base(mfn_t l4);
/* Maps va -> m in the 4-level tables rooted at l4, allocating missing tables
 * from alloc (which hands out zeroed frames). Returns false if alloc failed. */
bool arch_guest_map(mfn_t l4, uint64_t va, mfn_t m, unsigned flags, arch_frame_alloc_fn alloc,
                    void *ctx);

/* Returns to ring 3 through the register frame at regs, which must be the
 * frame at the top of this CPU's hypervisor stack. Does not return. */
__noreturn void arch_enter_frame(struct cpu_regs *regs);

/*
 * A VCPU's architectural state (registers, x87/SSE) while it is off the
 * CPU: opaque to the core, which holds a pointer per VCPU. The context
 * switch moves it through the frame of the CPU's entry from ring 3.
 */
struct arch_vcpu;
#define ARCH_VCPUS_MAX 256u
/* The state of VCPU slot i < ARCH_VCPUS_MAX (the same one for good). */
struct arch_vcpu *arch_vcpu(unsigned i);
/* A first entry at `entry` with stack pointer `stack` and `arg` in the
 * first argument register (the start-info ABI of proto/include/hv/abi.h);
 * every other register zero, interrupts on, x87/SSE in their reset state. */
void arch_vcpu_init(struct arch_vcpu *v, uint64_t entry, uint64_t stack, uint64_t arg);
/* Saves the guest context in frame and the CPU's x87/SSE registers into v
 * (the VCPU leaves the CPU). */
void arch_vcpu_save(struct arch_vcpu *v, const struct cpu_regs *frame);
/* Puts v's context in frame and its x87/SSE state in the CPU (the VCPU
 * comes on: the exit to ring 3 restores frame). */
void arch_vcpu_load(const struct arch_vcpu *v, struct cpu_regs *frame);
/* This CPU's frame for its first entry to ring 3 (schedule_start), which
 * is not made by an entry from ring 3. */
struct cpu_regs *arch_first_frame(void);

/* A fault in ring 3 as the architecture decoded it for the core. */
struct arch_fault {
    unsigned vector;  /* the trap-table vector (proto/include/hv/abi.h) */
    const char *name; /* "#PF page fault" */
    uint64_t error_code;
    uint64_t ip;      /* where it happened */
    uint64_t addr;    /* the faulting address, when has_addr */
    bool has_addr;    /* a page fault: addr goes to the VCPU's shared info */
    bool reflectable; /* a guest handler may take it (arch_vector_reflectable) */
};
/* May a guest register a handler for vector (HC_SET_TRAP_TABLE)? */
bool arch_vector_reflectable(uint64_t vector);
/* Enters handler on a bounce frame (abi.h "Trap reflection") written below
 * the guest stack of frame, describing the interrupted context. False
 * (frame unchanged) if the stack cannot take it. */
bool arch_frame_bounce(struct cpu_regs *frame, uint64_t vector, uint64_t error_code,
                       uint64_t handler);
/* The guest stack pointer in frame (for messages). */
uint64_t arch_frame_stack(const struct cpu_regs *frame);
/* HC_IRET: resumes the context of the bounce frame at guest address
 * bounce_va. Returns HV_EFAULT or HV_EINVAL with frame unchanged, else the
 * value for the result register (the frame's). */
int64_t arch_frame_iret(struct cpu_regs *frame, gva_t bounce_va);

/*
 * Makes the current hypercall run again when its VCPU next resumes, with
 * the arguments now in c (a continuation may have advanced them): they are
 * written back and the guest's instruction pointer moved back over the
 * hypercall instruction. Returns the value the handler must return (the
 * hypercall number, which the result register must hold again).
 */
int64_t arch_hypercall_restart(struct hypercall *c);
/* Puts result in the guest's result register. Returns NULL, or why the
 * guest cannot be resumed where the hypercall would return (the caller
 * kills the domain). */
const char *arch_hypercall_return(struct hypercall *c, int64_t result);

/* Register dump and backtrace for panics and killed domains. */
void arch_dump_regs(const struct cpu_regs *regs);
/* A name for an exception vector ("#PF page fault"), or "interrupt". */
const char *arch_exception_name(unsigned vector);
void arch_backtrace(uint64_t rbp);

#include "arch_smp.h" /* CPUs, topology, IPIs, remote TLB flushes */

#endif /* HV_ARCH_H */
