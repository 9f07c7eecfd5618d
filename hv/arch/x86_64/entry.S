/*
 * Entry and exit paths of the hypervisor: the 256 interrupt/exception stubs,
 * the syscall (hypercall) entry, the common return to the interrupted
 * context, and the guest-memory copy routine with its exception fixup.
 *
 * Every entry builds a struct cpu_regs (regs.h) on the stack and calls C
 * with a pointer to it. GS: while a guest runs, MSR_KERNEL_GS_BASE holds the
 * per-CPU area; entries from ring 3 swapgs, and so does the exit to ring 3.
 * AC is cleared on every entry (SMAP stays in force in the hypervisor).
 */
#include "asm_defs.h"

.macro CLAC_IF_SMAP
    testb $1, hv_smap_enabled(%rip)
    jz 91f
    clac
91:
.endm

.macro STAC_IF_SMAP
    testb $1, hv_smap_enabled(%rip)
    jz 92f
    stac
92:
.endm

.macro PUSH_GPRS
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
.endm

.macro POP_GPRS
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
.endm

/* Stubs: 16 bytes each, so the IDT entry for vector n is isr_stubs + 16*n. */
.altmacro
.macro ISR_STUB n
    .balign 16
    .if (\n == 8) || (\n == 10) || (\n == 11) || (\n == 12) || (\n == 13) || (\n == 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
    pushq $\n
    .else
    pushq $0
    pushq $\n
    .endif
    jmp trap_common
.endm

    .text
    .balign 16
    .globl isr_stubs, isr_stubs_end
isr_stubs:
    .set vec, 0
    .rept 256
    ISR_STUB %vec
    .set vec, vec + 1
    .endr
    .balign 16
isr_stubs_end:
.noaltmacro

trap_common:
    testb $3, 24(%rsp)          /* cs of the interrupted context */
    jz 1f
    swapgs
1:  PUSH_GPRS
    CLAC_IF_SMAP
    cld
    movq %rsp, %rdi
    call trap_entry
    jmp return_from_trap

/*
 * syscall from ring 3: rcx = return rip, r11 = rflags. FMASK has cleared
 * IF, DF, TF and AC. Build the same frame as an interrupt would.
 */
    .globl syscall_entry
syscall_entry:
    swapgs
    movq %rsp, %gs:PCPU_SCRATCH
    movq %gs:PCPU_KSTACK_TOP, %rsp
    pushq $SEL_USER_DS
    pushq %gs:PCPU_SCRATCH
    pushq %r11
    pushq $SEL_USER_CS
    pushq %rcx
    pushq $0
    pushq $VECTOR_SYSCALL
    PUSH_GPRS
    cld
    movq %rsp, %rdi
    call arch_syscall_entry
    /* fall through */

    .globl return_from_trap
return_from_trap:
    POP_GPRS
    addq $16, %rsp              /* vector, error code */
    testb $3, 8(%rsp)           /* cs we return to */
    jz 2f
    swapgs
2:  iretq

/*
 * arch_enter_frame(struct cpu_regs *regs): load the frame at regs (which must
 * be at the top of this CPU's hypervisor stack) and return through it.
 */
    .globl arch_enter_frame
arch_enter_frame:
    movq %rdi, %rsp
    jmp return_from_trap

/*
 * size_t arch_copy_guest_raw(void *dst, const void *src, size_t n)
 * Copies n bytes where one side is guest memory the caller has range-checked.
 * Returns the number of bytes NOT copied (0 on success): a fault in the copy
 * is caught through the exception table and ends the copy early.
 */
    .globl arch_copy_guest_raw
arch_copy_guest_raw:
    movq %rdx, %rcx
    STAC_IF_SMAP
copy_insn:
    rep movsb
    CLAC_IF_SMAP
    xorl %eax, %eax
    ret
copy_fixup:
    CLAC_IF_SMAP
    movq %rcx, %rax
    ret

    .section __ex_table, "a"
    .quad copy_insn, copy_fixup
    .previous

    .section .note.GNU-stack, "", @progbits
