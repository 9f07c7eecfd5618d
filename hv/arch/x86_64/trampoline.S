/*
 * The application-processor start-up trampoline.
 *
 * smp.c copies [smp_tramp_start, smp_tramp_end) to a page T below 1 MiB and
 * patches the fields marked "patched" (their offsets are the symbols'
 * distances from smp_tramp_start). A STARTUP IPI with vector T >> 12 starts
 * the AP in real mode at T:0. The AP then:
 *   16-bit: loads the trampoline's GDT, sets CR0.PE, far-jumps to 32-bit;
 *   32-bit: sets CR4.PAE, CR3 = the trampoline L4 (identity map of the first
 *           2 MiB plus the hypervisor's slots 256-511), EFER.LME/NXE/SCE,
 *           CR0.PG/WP, far-jumps to the 64-bit code segment;
 *   64-bit: jumps to smp_ap_entry64 in the image (higher half), which loads
 *           the hypervisor's CR3 and the stack smp.c prepared, checks that
 *           the boot slot is meant for this CPU, and calls smp_ap_main().
 * The BSP starts one AP at a time, so the boot variables (smp_ap_boot_*)
 * are used by one AP at a time; an AP that arrives after the BSP gave up on
 * it finds another APIC id there and parks itself (cli; hlt).
 */
#include "asm_defs.h"

#define TR(x) ((x) - smp_tramp_start)

    .section .rodata
    .balign 16
    .globl smp_tramp_start, smp_tramp_end
    .globl smp_tramp_gdt_desc, smp_tramp_far32, smp_tramp_far64
    .globl smp_tramp_cr3, smp_tramp_efer
    .code16
smp_tramp_start:
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    movzwl %ax, %ebx
    shll $4, %ebx                  /* ebx = T, the trampoline's physical base */
    lgdtl TR(smp_tramp_gdt_desc)
    movl %cr0, %eax
    orl $1, %eax                   /* PE */
    movl %eax, %cr0
    ljmpl *TR(smp_tramp_far32)

    .code32
tramp_pm32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movl %cr4, %eax
    orl $(1 << 5), %eax            /* PAE */
    movl %eax, %cr4
    movl TR(smp_tramp_cr3)(%ebx), %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx         /* EFER */
    rdmsr
    orl TR(smp_tramp_efer)(%ebx), %eax
    wrmsr
    movl %cr0, %eax
    andl $0x9fffffff, %eax         /* caches on: INIT leaves CD and NW set */
    orl $0x80010001, %eax          /* PG, WP, PE */
    movl %eax, %cr0
    ljmpl *TR(smp_tramp_far64)(%ebx)

    .code64
tramp_lm64:
    movabsq $smp_ap_entry64, %rax
    jmpq *%rax

    .balign 8
smp_tramp_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff       /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff       /* 0x10: data */
    .quad 0x00af9a000000ffff       /* 0x18: 64-bit code */
smp_tramp_gdt_end:
    .balign 4
    .short 0
smp_tramp_gdt_desc:                /* patched: base = T + TR(smp_tramp_gdt) */
    .short smp_tramp_gdt_end - smp_tramp_gdt - 1
    .long TR(smp_tramp_gdt)
smp_tramp_far32:                   /* patched: offset = T + TR(tramp_pm32) */
    .long TR(tramp_pm32)
    .short 0x08
smp_tramp_far64:                   /* patched: offset = T + TR(tramp_lm64) */
    .long TR(tramp_lm64)
    .short 0x18
    .balign 4
smp_tramp_cr3:                     /* patched: the trampoline L4 (below 4 GiB) */
    .long 0
smp_tramp_efer:                    /* patched: EFER bits to set (LME, NXE, SCE) */
    .long 0
smp_tramp_end:

/*
 * 64-bit, higher half, still on the trampoline L4 with interrupts off.
 */
    .text
    .globl smp_ap_entry64
smp_ap_entry64:
    movl $0x10, %eax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    /* Is the boot slot ours? (initial APIC id, CPUID.1:EBX[31:24]) */
    movl $1, %eax
    xorl %ecx, %ecx
    cpuid
    shrl $24, %ebx
    cmpl smp_ap_boot_apic_id(%rip), %ebx
    jne 2f
    movq smp_ap_boot_cr3(%rip), %rax
    movq %rax, %cr3
    movq smp_ap_boot_rsp(%rip), %rsp
    movq smp_ap_boot_percpu(%rip), %rdi
    xorl %ebp, %ebp
    call smp_ap_main
2:  cli
    hlt
    jmp 2b

    .data
    .balign 8
    .globl smp_ap_boot_cr3, smp_ap_boot_rsp, smp_ap_boot_percpu, smp_ap_boot_apic_id
smp_ap_boot_cr3:     .quad 0
smp_ap_boot_rsp:     .quad 0
smp_ap_boot_percpu:  .quad 0
smp_ap_boot_apic_id: .long 0xffffffff
    .long 0

    .section .note.GNU-stack, "", @progbits
