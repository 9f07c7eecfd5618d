/*
 * Domain entry: the hypervisor enters here in ring 3 with rdi = the
 * start-info page and rsp = the top of the initial stack.
 */
    .text
    .globl _start
_start:
    xorl %ebp, %ebp
    andq $-16, %rsp
    call gk_start
1:  ud2
    jmp 1b

    .section .note.GNU-stack, "", @progbits
