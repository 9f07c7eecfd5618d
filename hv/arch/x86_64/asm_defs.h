/* Constants shared by the assembly files and C (struct offsets are checked
 * by _Static_assert in percpu.h and regs.h). */
#ifndef HV_ASM_DEFS_H
#define HV_ASM_DEFS_H

/* Selectors: see gdt_init() in cpu.c. */
#define SEL_HV_CS 0x08
#define SEL_HV_DS 0x10
#define SEL_USER_CS32 0x1b
#define SEL_USER_DS 0x23
#define SEL_USER_CS 0x2b
#define SEL_TSS 0x30

#define PCPU_SELF 0
#define PCPU_KSTACK_TOP 8
#define PCPU_SCRATCH 16
#define PCPU_CPU_ID 24

#define VECTOR_SYSCALL 0x100

#endif
