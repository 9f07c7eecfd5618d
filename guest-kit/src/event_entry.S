/*
 * The upcall entry point (HC_SET_CALLBACK). The hypervisor enters with
 * rsp = a struct hv_bounce_frame (vector HV_UPCALL_VECTOR), upcall_mask set
 * and every other register holding the interrupted context. Save what the
 * C ABI lets a call clobber and HC_IRET does not restore (rax, rcx, r11 and
 * rdi come back from the frame), run gk_event_dispatch(frame), find the
 * calling VCPU's upcall_mask (gk_event_mask_addr: VCPUs share this code),
 * restore, then clear that mask and HC_IRET the frame the dispatcher
 * returned.
 *
 * The mask is cleared by the last store before the `syscall`: an upcall
 * taken there interrupts gk_event_iret_insn with rdi = our frame, which the
 * dispatcher resumes directly (see src/event.c), so upcalls nest at most
 * one deep. rcx and rax are free here: HC_IRET reloads them from the frame.
 */

    .text
    .globl gk_event_entry
    .globl gk_event_iret_insn
gk_event_entry:
    pushq %rsi
    pushq %rdx
    pushq %r8
    pushq %r9
    pushq %r10
    pushq $0                 /* keeps rsp 16-byte aligned for the call */
    leaq 48(%rsp), %rdi
    call gk_event_dispatch   /* rax = the frame to resume */
    movq %rax, (%rsp)        /* kept in the padding slot */
    call gk_event_mask_addr  /* rax = this VCPU's &upcall_mask */
    movq %rax, %rcx
    popq %rdi                /* the frame to resume */
    popq %r10
    popq %r9
    popq %r8
    popq %rdx
    popq %rsi
    movl $8, %eax            /* HC_IRET */
    movb $0, (%rcx)          /* upcall_mask = 0 */
gk_event_iret_insn:
    syscall
    ud2                      /* HC_IRET refused the frame */

    .section .note.GNU-stack, "", @progbits
