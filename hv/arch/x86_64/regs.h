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

/*
 * A VCPU's x87/MMX/SSE state: the 512-byte FXSAVE image. Guests run with
 * CR4.OSFXSR (SSE usable in ring 3); AVX is not enabled (no CR4.OSXSAVE),
 * so FXSAVE covers everything a guest can change. The hypervisor itself is
 * built -mgeneral-regs-only and never touches these registers, so a VCPU's
 * state stays live in the CPU from its switch-in to its switch-out.
 */
struct cpu_fpu {
    uint8_t image[512];
} __attribute__((aligned(16)));

/* The state after FNINIT and a reset MXCSR (all exceptions masked). */
static inline void cpu_fpu_reset(struct cpu_fpu *f)
{
    for (size_t i = 0; i < sizeof(f->image); i++)
        f->image[i] = 0;
    f->image[0] = 0x7f; /* FCW = 0x037f */
    f->image[1] = 0x03;
    f->image[24] = 0x80; /* MXCSR = 0x1f80 */
    f->image[25] = 0x1f;
}

static inline void cpu_fpu_save(struct cpu_fpu *f)
{
    __asm__ volatile("fxsave64 %0" : "=m"(*f));
}

/* Only ever given an image cpu_fpu_reset or cpu_fpu_save wrote (a guest
 * never supplies one), so its MXCSR is valid and FXRSTOR cannot fault. */
static inline void cpu_fpu_restore(const struct cpu_fpu *f)
{
    __asm__ volatile("fxrstor64 %0" : : "m"(*f));
}

#include "asm_defs.h" /* VECTOR_SYSCALL: the pseudo-vector of a syscall entry */

#endif /* HV_REGS_H */
