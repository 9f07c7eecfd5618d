/*
 * Multiboot2 header and the 32-bit entry point.
 *
 * GRUB enters _start32 in 32-bit protected mode, paging off, with the
 * Multiboot2 magic in eax and the physical address of the boot information
 * in ebx. We check for long mode, build throw-away page tables that map the
 * first GiB three times (identity, the direct map at 0xffff800000000000 and
 * the image at 0xffffffff80000000), enable long mode and jump to the higher
 * half. hv/arch/x86_64/paging.c replaces these tables early in hv_main.
 */
#define MB2_HEADER_MAGIC 0xe85250d6
#define MB2_ARCH_I386 0

#define CR0_PE (1 << 0)
#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)

    .section .multiboot2, "a"
    .balign 8
mb2_header:
    .long MB2_HEADER_MAGIC
    .long MB2_ARCH_I386
    .long mb2_header_end - mb2_header
    .long -(MB2_HEADER_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
    /* end tag */
    .balign 8
    .short 0
    .short 0
    .long 8
mb2_header_end:

    .section .boot.text, "ax"
    .code32
    .globl _start32
_start32:
    cli
    cld
    movl $boot_stack32_top, %esp
    movl %eax, %edi            /* keep magic and info in callee-saved-ish regs */
    movl %ebx, %esi

    /* Long mode available? */
    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb no_long_mode
    movl $0x80000001, %eax
    cpuid
    btl $29, %edx
    jnc no_long_mode

    /* PD: 512 x 2 MiB identity pages for the first GiB. */
    movl $boot_pd, %ebx
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax            /* present, writable, 2 MiB */
    movl %eax, (%ebx, %ecx, 8)
    movl $0, 4(%ebx, %ecx, 8)
    incl %ecx
    cmpl $512, %ecx
    jne 1b

    movl $boot_pd, %eax
    orl $0x3, %eax
    movl %eax, boot_pdpt_lo          /* pdpt_lo[0]   -> pd */
    movl %eax, boot_pdpt_hi + 510*8  /* pdpt_hi[510] -> pd (0xffffffff80000000) */

    movl $boot_pdpt_lo, %eax
    orl $0x3, %eax
    movl %eax, boot_pml4             /* identity */
    movl %eax, boot_pml4 + 256*8     /* direct map at 0xffff800000000000 */
    movl $boot_pdpt_hi, %eax
    orl $0x3, %eax
    movl %eax, boot_pml4 + 511*8

    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    wrmsr
    movl %cr0, %eax
    orl $(CR0_PE | CR0_WP | CR0_PG), %eax
    movl %eax, %cr0

    lgdt boot_gdt_desc
    ljmp $0x08, $start64_low

no_long_mode:
    movl $msg_no_lm, %ebx
2:  movb (%ebx), %al
    testb %al, %al
    jz 3f
    movw $0x3f8, %dx
    outb %al, %dx
    incl %ebx
    jmp 2b
3:  hlt
    jmp 3b

    .code64
start64_low:
    movabs $start64_high, %rax
    jmp *%rax

    .section .boot.data, "aw"
msg_no_lm:
    .asciz "hv: this CPU has no long mode; cannot boot\r\n"
    .balign 16
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff   /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff   /* 0x10: data */
boot_gdt_end:
boot_gdt_desc:
    .short boot_gdt_end - boot_gdt - 1
    .long boot_gdt
    .balign 4096
    .globl boot_pml4
boot_pml4:    .fill 512, 8, 0
boot_pdpt_lo: .fill 512, 8, 0
boot_pdpt_hi: .fill 512, 8, 0
boot_pd:      .fill 512, 8, 0
boot_stack32: .fill 256, 1, 0
boot_stack32_top:

    .text
    .code64
start64_high:
    movl $0x10, %eax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    movabs $boot_stack_top, %rsp
    xorl %ebp, %ebp
    /* edi = Multiboot2 magic, esi = physical address of the boot info */
    call hv_main
4:  cli
    hlt
    jmp 4b

    .bss
    .balign 16
    .globl boot_stack, boot_stack_top
boot_stack:
    .skip 16384
boot_stack_top:
