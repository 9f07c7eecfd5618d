/*
 * The one entry point registered for every handled vector. The hypervisor
 * enters with rsp = the bounce frame and every other register holding the
 * interrupted context. Save what the C ABI lets a call clobber and the frame
 * does not restore, call gk_trap_dispatch(frame), restore, then HC_IRET.
 */

    .text
    .globl gk_trap_entry
gk_trap_entry:
    pushq %rsi
    pushq %rdx
    pushq %r8
    pushq %r9
    pushq %r10
    pushq $0                 /* keeps rsp 16-byte aligned for the call */
    leaq 48(%rsp), %rdi
    call gk_trap_dispatch
    addq $8, %rsp
    popq %r10
    popq %r9
    popq %r8
    popq %rdx
    popq %rsi
    movq %rsp, %rdi          /* the frame: rax, rcx, r11 and rdi come from it */
    movl $8, %eax            /* HC_IRET */
    syscall
    ud2                      /* HC_IRET refused the frame */

    .section .note.GNU-stack, "", @progbits
