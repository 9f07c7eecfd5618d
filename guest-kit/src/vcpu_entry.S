/*
 * Entry of a secondary VCPU started by gk_vcpu_start (gk/vcpu.h): the
 * hypervisor enters in ring 3 with rsp = the top of the VCPU's stack and
 * rdi = its struct gk_vcpu. Align the stack, run gk_vcpu_main (which calls
 * the VCPU's function and returns with upcalls masked and rax = &v->stop),
 * then mark the record STOPPED and stop this VCPU with HV_DOMCTL_VCPU_STOP.
 * From the STOPPED store on, nothing touches the stack: gk_vcpu_join may
 * hand it back to the application at once. Should the stop be refused,
 * mask upcalls again (nothing has unmasked them) and yield forever.
 */
    .text
    .globl gk_vcpu_entry
gk_vcpu_entry:
    andq $-16, %rsp
    xorl %ebp, %ebp
    movq %rdi, %rbx          /* struct gk_vcpu *, callee-saved */
    call gk_vcpu_main        /* rax = &v->stop */
    movq %rax, %rsi          /* HC_DOMAIN_OP(HV_DOMCTL_VCPU_STOP, &v->stop) */
    movl $8, %edi            /* HV_DOMCTL_VCPU_STOP */
    movq 8(%rbx), %r8        /* v->mask_ptr */
    movl $15, %eax           /* HC_DOMAIN_OP */
    movl $3, (%rbx)          /* v->state = GK_VCPU_STOPPED (release: x86 stores) */
    syscall
1:  movb $1, (%r8)           /* refused: stay masked, use no stack */
    movl $1, %eax            /* HC_YIELD */
    syscall
    jmp 1b

    .section .note.GNU-stack, "", @progbits
