/*
 * What the core (hv/core, hv/mm) asks of the architecture. Implemented in
 * hv/arch/x86_64; nothing here names an x86 register or instruction.
 */
#ifndef HV_ARCH_H
#define HV_ARCH_H

#include "types.h"
#include "hv/abi.h"

struct cpu_regs;

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
uint64_t arch_kstack_top(void);

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
uint32_t arch_isa_irq_gsi(uint32_t irq);

/* Programs the local timer to interrupt at deadline_ns (arch_now_ns time);
 * 0 stops it. A deadline in the past fires at once. */
void arch_timer_set_deadline(uint64_t deadline_ns);

/* Ends the machine: through isa-debug-exit when enabled (cmdline `debug_exit`),
 * else halts forever. For a reboot request without debug_exit, resets. */
__noreturn void arch_machine_exit(enum hv_exit_code code);
__noreturn void arch_halt_forever(void);
/* Enables interrupts and waits for one (used when nothing can run). */
void arch_idle_wait(void);

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

/* Register dump and backtrace for panics and killed domains. */
void arch_dump_regs(const struct cpu_regs *regs);
/* A name for an exception vector ("#PF page fault"), or "interrupt". */
const char *arch_exception_name(unsigned vector);
void arch_backtrace(uint64_t rbp);

#include "arch_smp.h" /* CPUs, topology, IPIs, remote TLB flushes */

#endif /* HV_ARCH_H */
