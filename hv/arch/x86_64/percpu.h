/*
 * Per-CPU data. GS_BASE points at this CPU's struct percpu while the
 * hypervisor runs (entry.S swaps it in from MSR_KERNEL_GS_BASE on entry from
 * a guest). The first fields are read by entry.S at fixed offsets.
 */
#ifndef HV_PERCPU_H
#define HV_PERCPU_H

#include "types.h"
#include "asm_defs.h"

#define HV_STACK_SIZE 16384
#define HV_IST_STACK_SIZE 8192

struct tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __packed;
_Static_assert(sizeof(struct tss64) == 104, "TSS layout");

/*
 * One per CPU, in percpu_area[cpu_id] (cpu 0 = the boot CPU). Written by
 * the boot CPU before the CPU starts, then by the CPU itself, except the
 * fields marked "shared", which other CPUs access atomically.
 */
struct percpu {
    struct percpu *self; /* PCPU_SELF */
    uint64_t kstack_top; /* PCPU_KSTACK_TOP: rsp on syscall entry */
    uint64_t scratch;    /* PCPU_SCRATCH: the guest's rsp during syscall entry */
    uint32_t cpu_id;     /* PCPU_CPU_ID: index, 0 = boot CPU */
    uint32_t apic_id;    /* xAPIC id */
    struct tss64 tss;
    uint64_t gdt[9];
    /* Topology from CPUID on this CPU (smp.c). */
    uint32_t x2apic_id;
    uint16_t package_id, core_id, thread_id;
    /* shared: set by the CPU once it is fully set up. */
    uint32_t online;
    /* shared: IPIs taken on the generic vector (counted before the hook runs). */
    uint64_t ipi_count;
    /* shared: TLB flush requests (requesters increment flush_req; the CPU
     * stores in flush_done the flush_req value its last full flush covered). */
    uint64_t flush_req;
    uint64_t flush_done;
};

_Static_assert(offsetof(struct percpu, self) == PCPU_SELF, "percpu layout");
_Static_assert(offsetof(struct percpu, kstack_top) == PCPU_KSTACK_TOP, "percpu layout");
_Static_assert(offsetof(struct percpu, scratch) == PCPU_SCRATCH, "percpu layout");
_Static_assert(offsetof(struct percpu, cpu_id) == PCPU_CPU_ID, "percpu layout");

#define ARCH_MAX_CPUS 64u

/* Slot 260: per-CPU stacks (smp.c), one 64 KiB window per CPU:
 *   +0 guard, +4K stack (16 KiB), +20K guard, +24K #DF IST (8 KiB), +32K guard,
 *   +36K NMI IST, +44K guard, +48K #MC IST, +56K guard (8 KiB).
 * The test image's TLB self-test maps a page right after the last window. */
#define SMP_STACKS_VA 0xffff820000000000ull
#define SMP_WINDOW_BYTES 0x10000ull

extern struct percpu percpu_area[ARCH_MAX_CPUS];

/* This CPU's struct percpu (GS_BASE; valid after arch_cpu_init on the BSP
 * and cpu_init_ap on an AP). */
static inline struct percpu *this_percpu(void)
{
    struct percpu *pc;
    __asm__ volatile("movq %%gs:%c1, %0" : "=r"(pc) : "i"(PCPU_SELF));
    return pc;
}

/* Sets up the GDT/TSS, IDT, GS base, syscall MSRs and the control-register
 * features of an AP the way arch_cpu_init did on the boot CPU (cpu.c), with
 * pc->kstack_top already set and the IST stack tops (#DF, NMI, #MC) given.
 * Returns false, changing nothing, if this CPU lacks a feature the boot CPU
 * turned on. Runs on the AP itself, interrupts off. */
bool cpu_init_ap(struct percpu *pc, const uint64_t ist_top[3]);

#endif
