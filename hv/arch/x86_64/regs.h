/*
 * The register frame every entry into the hypervisor builds on its stack
 * (entry.S): general registers, the vector and error code, then the frame
 * the CPU pushed (rip, cs, rflags, rsp, ss). Hypercall arguments and results
 * are read and written here.
 */
#ifndef HV_REGS_H
#define HV_REGS_H

#include <stdint.h>
#include <stddef.h>

struct cpu_regs {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};

#define REGS_OFF_VECTOR 120
#define REGS_OFF_CS 144
_Static_assert(offsetof(struct cpu_regs, vector) == REGS_OFF_VECTOR, "regs layout");
_Static_assert(offsetof(struct cpu_regs, cs) == REGS_OFF_CS, "regs layout");
_Static_assert(sizeof(struct cpu_regs) == 22 * 8, "regs size");

#include "asm_defs.h" /* VECTOR_SYSCALL: the pseudo-vector of a syscall entry */

#endif /* HV_REGS_H */
