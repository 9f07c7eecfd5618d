/*
 * CPU set-up: per CPU a GDT with a TSS (IST stacks for double fault, NMI and
 * machine check), the GS base and the syscall MSRs; one IDT shared by all
 * CPUs; and the control-register features the hypervisor relies on (NX, WP,
 * SMEP, SMAP where present). The boot CPU decides the features
 * (arch_cpu_init); every AP applies the same ones (cpu_init_ap, smp.c).
 */
#include "arch.h"
#include "log.h"
#include "percpu.h"
#include "x86.h"

struct percpu percpu_area[ARCH_MAX_CPUS];

/* Read by entry.S: whether stac/clac may be executed. */
uint8_t hv_smap_enabled;

uint64_t hv_pte_nx; /* HV_PTE_NX when EFER.NXE is on, else 0 */

static uint8_t cpu0_stack[HV_STACK_SIZE] __attribute__((aligned(16)));
static uint8_t ist_df[HV_IST_STACK_SIZE] __attribute__((aligned(16)));
static uint8_t ist_nmi[HV_IST_STACK_SIZE] __attribute__((aligned(16)));
static uint8_t ist_mce[HV_IST_STACK_SIZE] __attribute__((aligned(16)));

struct idt_gate {
    uint16_t offset_lo;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_hi;
    uint32_t zero;
} __packed;
_Static_assert(sizeof(struct idt_gate) == 16, "IDT gate layout");

static struct idt_gate idt[256] __attribute__((aligned(16)));

struct desc_ptr {
    uint16_t limit;
    uint64_t base;
} __packed;

extern const uint8_t isr_stubs[], isr_stubs_end[];
extern void syscall_entry(void);

#define IST_DF 1
#define IST_NMI 2
#define IST_MCE 3

static void idt_set(unsigned vec, uint64_t handler, uint8_t ist, uint8_t dpl)
{
    struct idt_gate *g = &idt[vec];
    g->offset_lo = (uint16_t)handler;
    g->selector = SEL_HV_CS;
    g->ist = ist;
    g->type_attr = (uint8_t)(0x8e | (dpl << 5)); /* present, 64-bit interrupt gate */
    g->offset_mid = (uint16_t)(handler >> 16);
    g->offset_hi = (uint32_t)(handler >> 32);
    g->zero = 0;
}

static void gdt_init(struct percpu *pc)
{
    pc->gdt[0] = 0;
    pc->gdt[1] = 0x00af9a000000ffffull; /* 0x08 hypervisor code, 64-bit */
    pc->gdt[2] = 0x00cf92000000ffffull; /* 0x10 hypervisor data */
    pc->gdt[3] = 0x00cffa000000ffffull; /* 0x18 user code, 32-bit (unused; sysret layout) */
    pc->gdt[4] = 0x00cff2000000ffffull; /* 0x20 user data (dpl 3) */
    pc->gdt[5] = 0x00affa000000ffffull; /* 0x28 user code, 64-bit (dpl 3) */
    pc->gdt[6] = 0;                     /* 0x30 TSS (two slots) */
    pc->gdt[7] = 0;
    pc->gdt[8] = 0;

    uint64_t base = (uint64_t)(uintptr_t)&pc->tss;
    uint64_t limit = sizeof(pc->tss) - 1;
    pc->gdt[6] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
                 (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    pc->gdt[7] = base >> 32;

    struct desc_ptr gdtr = {sizeof(pc->gdt) - 1, (uint64_t)(uintptr_t)pc->gdt};
    __asm__ volatile("lgdt %0\n\t"
                     "pushq %1\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "movl %2, %%eax\n\t"
                     "movw %%ax, %%ds\n\t"
                     "movw %%ax, %%es\n\t"
                     "movw %%ax, %%ss\n\t"
                     :
                     : "m"(gdtr), "i"(SEL_HV_CS), "i"(SEL_HV_DS)
                     : "rax", "memory");
    __asm__ volatile("ltr %w0" ::"r"(SEL_TSS));
}

/* What the boot CPU turned on, applied as is on every AP. */
static uint64_t cr4_features, efer_features;

static void features_init(void)
{
    uint32_t a, b, c, d;
    uint64_t cr4 = read_cr4();
    uint64_t efer = rdmsr(MSR_EFER);

    cpuid(0x80000001, 0, &a, &b, &c, &d);
    if (d & (1u << 20)) {
        efer |= EFER_NXE;
        hv_pte_nx = HV_PTE_NX;
    }
    efer |= EFER_SCE;
    wrmsr(MSR_EFER, efer);

    cpuid(0, 0, &a, &b, &c, &d);
    uint32_t max_leaf = a;
    bool smep = false, smap = false;
    if (max_leaf >= 7) {
        cpuid(7, 0, &a, &b, &c, &d);
        smep = (b >> 7) & 1;
        smap = (b >> 20) & 1;
    }
    if (smep && !cmdline_flag("nosmep"))
        cr4 |= CR4_SMEP;
    if (smap && !cmdline_flag("nosmap")) {
        cr4 |= CR4_SMAP;
        hv_smap_enabled = 1;
    }
    cr4 |= CR4_PGE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    write_cr4(cr4);
    write_cr0((read_cr0() | CR0_WP | CR0_NE | CR0_MP) & ~CR0_EM);
    cr4_features = cr4 & (CR4_SMEP | CR4_SMAP | CR4_PGE | CR4_OSFXSR | CR4_OSXMMEXCPT);
    efer_features = efer & (EFER_NXE | EFER_SCE);

    log_info("cpu: NX %s, SMEP %s, SMAP %s", hv_pte_nx ? "on" : "absent",
             (cr4 & CR4_SMEP) ? "on" : (smep ? "off (nosmep)" : "absent"),
             (cr4 & CR4_SMAP) ? "on" : (smap ? "off (nosmap)" : "absent"));
}

/* Per-CPU tables and MSRs; the IDT must have been filled (arch_cpu_init). */
static void cpu_tables_load(struct percpu *pc, uint64_t kstack_top, const uint64_t ist_top[3])
{
    pc->self = pc;
    pc->kstack_top = kstack_top;
    pc->tss.rsp[0] = kstack_top;
    pc->tss.ist[IST_DF - 1] = ist_top[0];
    pc->tss.ist[IST_NMI - 1] = ist_top[1];
    pc->tss.ist[IST_MCE - 1] = ist_top[2];
    pc->tss.iomap_base = sizeof(pc->tss); /* no I/O bitmap: every port access from ring 3 faults */
    gdt_init(pc);

    struct desc_ptr idtr = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
    __asm__ volatile("lidt %0" ::"m"(idtr));

    wrmsr(MSR_GS_BASE, (uint64_t)(uintptr_t)pc);
    wrmsr(MSR_KERNEL_GS_BASE, 0);
    wrmsr(MSR_STAR, ((uint64_t)SEL_USER_CS32 - 3) << 48 | (uint64_t)SEL_HV_CS << 32);
    wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)syscall_entry);
    wrmsr(MSR_CSTAR, 0);
    wrmsr(MSR_FMASK, RFLAGS_IF | RFLAGS_TF | RFLAGS_DF | RFLAGS_AC | RFLAGS_NT | RFLAGS_IOPL);
}

void arch_cpu_init(void)
{
    struct percpu *pc = &percpu_area[0];

    if ((size_t)(isr_stubs_end - isr_stubs) != 256 * 16)
        panic("entry stubs are %zu bytes, expected 4096", (size_t)(isr_stubs_end - isr_stubs));
    for (unsigned v = 0; v < 256; v++) {
        uint8_t ist = 0;
        if (v == 2)
            ist = IST_NMI;
        else if (v == 8)
            ist = IST_DF;
        else if (v == 18)
            ist = IST_MCE;
        idt_set(v, (uint64_t)(uintptr_t)(isr_stubs + 16 * v), ist, 0);
    }

    pc->cpu_id = 0;
    const uint64_t ist_top[3] = {(uint64_t)(uintptr_t)(ist_df + sizeof(ist_df)),
                                 (uint64_t)(uintptr_t)(ist_nmi + sizeof(ist_nmi)),
                                 (uint64_t)(uintptr_t)(ist_mce + sizeof(ist_mce))};
    cpu_tables_load(pc, (uint64_t)(uintptr_t)(cpu0_stack + sizeof(cpu0_stack)), ist_top);
    features_init();
}

/*
 * Whether this CPU has every feature the boot CPU turned on (an AP that
 * lacks one would fault on the CR4/EFER write).
 */
static bool ap_features_ok(void)
{
    uint32_t a, b, c, d;
    cpuid(0x80000001, 0, &a, &b, &c, &d);
    if ((efer_features & EFER_NXE) && !(d & (1u << 20)))
        return false;
    cpuid(0, 0, &a, &b, &c, &d);
    uint32_t ebx7 = 0;
    if (a >= 7) {
        cpuid(7, 0, &a, &b, &c, &d);
        ebx7 = b;
    }
    if ((cr4_features & CR4_SMEP) && !(ebx7 & (1u << 7)))
        return false;
    if ((cr4_features & CR4_SMAP) && !(ebx7 & (1u << 20)))
        return false;
    return true;
}

bool cpu_init_ap(struct percpu *pc, const uint64_t ist_top[3])
{
    if (!ap_features_ok())
        return false;
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | efer_features);
    write_cr4(read_cr4() | cr4_features);
    write_cr0((read_cr0() | CR0_WP | CR0_NE | CR0_MP) & ~CR0_EM);
    cpu_tables_load(pc, pc->kstack_top, ist_top);
    return true;
}

unsigned arch_cpu_id(void)
{
    uint32_t id;
    __asm__ volatile("movl %%gs:%c1, %0" : "=r"(id) : "i"(PCPU_CPU_ID));
    return id;
}

void arch_irqs_off(void)
{
    irq_disable();
}

void arch_cpu_relax(void)
{
    cpu_relax();
}

uint32_t arch_port_in(uint16_t port, unsigned width)
{
    switch (width) {
    case 1: return inb(port);
    case 2: return inw(port);
    case 4: return inl(port);
    default: return 0;
    }
}

void arch_port_out(uint16_t port, unsigned width, uint32_t value)
{
    switch (width) {
    case 1: outb(port, (uint8_t)value); break;
    case 2: outw(port, (uint16_t)value); break;
    case 4: outl(port, value); break;
    default: break;
    }
}
