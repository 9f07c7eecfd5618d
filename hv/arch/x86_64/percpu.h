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

struct percpu {
    struct percpu *self; /* PCPU_SELF */
    uint64_t kstack_top; /* PCPU_KSTACK_TOP: rsp on syscall entry */
    uint64_t scratch;    /* PCPU_SCRATCH: the guest's rsp during syscall entry */
    uint32_t cpu_id;
    uint32_t apic_id;
    struct tss64 tss;
    uint64_t gdt[9];
};

_Static_assert(offsetof(struct percpu, self) == PCPU_SELF, "percpu layout");
_Static_assert(offsetof(struct percpu, kstack_top) == PCPU_KSTACK_TOP, "percpu layout");
_Static_assert(offsetof(struct percpu, scratch) == PCPU_SCRATCH, "percpu layout");

extern struct percpu cpu0_percpu;

#endif
