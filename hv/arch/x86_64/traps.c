/*
 * Interrupt and exception dispatch. Faults from a guest (ring 3) go to the
 * core (domain_fault), which reflects them to the guest's handler or kills
 * the domain.
 * Faults in the hypervisor are either expected (an exception-table entry
 * names a fixup, e.g. a guest-memory copy) or fatal (panic).
 */
#include "arch.h"
#include "apic.h"
#include "arch_hooks.h"
#include "log.h"
#include "regs.h"
#include "vtd.h"
#include "x86.h"

struct ex_entry {
    uint64_t insn;
    uint64_t fixup;
};
extern const struct ex_entry __ex_table_start[], __ex_table_end[];

static const char *const exception_names[32] = {
    "#DE divide error",
    "#DB debug",
    "NMI",
    "#BP breakpoint",
    "#OF overflow",
    "#BR bound range",
    "#UD invalid opcode",
    "#NM device not available",
    "#DF double fault",
    "coprocessor overrun",
    "#TS invalid TSS",
    "#NP segment not present",
    "#SS stack fault",
    "#GP general protection",
    "#PF page fault",
    "reserved 15",
    "#MF x87 fault",
    "#AC alignment check",
    "#MC machine check",
    "#XM SIMD fault",
    "#VE virtualization",
    "#CP control protection",
    "reserved 22",
    "reserved 23",
    "reserved 24",
    "reserved 25",
    "reserved 26",
    "reserved 27",
    "#HV hypervisor injection",
    "#VC VMM communication",
    "#SX security",
    "reserved 31",
};

const char *arch_exception_name(unsigned vector)
{
    return vector < 32 ? exception_names[vector] : "interrupt";
}

static bool search_fixup(struct cpu_regs *regs)
{
    for (const struct ex_entry *e = __ex_table_start; e < __ex_table_end; e++) {
        if (e->insn == regs->rip) {
            regs->rip = e->fixup;
            return true;
        }
    }
    return false;
}

void trap_entry(struct cpu_regs *regs);
/* Interrupts and every entry from ring 3 run under the hypervisor lock
 * (hv/core/schedule.c); an exception in the hypervisor itself happens with
 * the lock already held (or during boot) and takes nothing. The remote
 * TLB-flush vector needs no lock: a CPU waiting for the lock polls it. */
static void trap_dispatch(struct cpu_regs *regs);

void trap_entry(struct cpu_regs *regs)
{
    unsigned vec = (unsigned)regs->vector;
    bool lock =
        vec != APIC_FLUSH_VECTOR && vec != APIC_SPURIOUS_VECTOR && ((regs->cs & 3) || vec >= 32);
    if (lock)
        hv_lock();
    trap_dispatch(regs);
    if (lock)
        hv_unlock();
}

static void trap_dispatch(struct cpu_regs *regs)
{
    unsigned vec = (unsigned)regs->vector;

    if (vec == APIC_TIMER_VECTOR) {
        apic_eoi();
        schedule_timer_interrupt();
        if (regs->cs & 3)
            schedule_exit(regs);
        return;
    }
    if (vec == APIC_SPURIOUS_VECTOR)
        return;
    if (vec == APIC_IPI_VECTOR) {
        smp_ipi_interrupt(); /* EOI, then the hook smp_ipi_handler() */
        if (regs->cs & 3)
            schedule_exit(regs);
        return;
    }
    if (vec == APIC_FLUSH_VECTOR) {
        smp_flush_interrupt();
        return;
    }
    if (vec >= IRQ_VECTOR_BASE && vec < IRQ_VECTOR_BASE + ARCH_IRQ_LINES) {
        uint32_t gsi = vec - IRQ_VECTOR_BASE;
        arch_irq_mask(gsi); /* until the holder's EOI (or for good if unbound) */
        apic_eoi();
        domain_pirq(gsi);
        if (regs->cs & 3)
            schedule_exit(regs);
        return;
    }
    if (vec >= ARCH_MSI_VECTOR_FIRST && vec < ARCH_MSI_VECTOR_FIRST + ARCH_MSI_VECTORS) {
        apic_eoi(); /* an edge: nothing to mask */
        domain_msi(vec);
        if (regs->cs & 3)
            schedule_exit(regs);
        return;
    }
    if (vec == ARCH_IOMMU_FAULT_VECTOR) {
        apic_eoi();
        vtd_fault_interrupt();
        return;
    }
    if (vec >= 32) {
        log_warn("unexpected interrupt vector %u", vec);
        apic_eoi();
        return;
    }

    uint64_t cr2 = (vec == 14) ? read_cr2() : 0;
    if (regs->cs & 3) {
        struct arch_fault f = {.vector = vec,
                               .name = exception_names[vec],
                               .error_code = regs->error_code,
                               .ip = regs->rip,
                               .addr = cr2,
                               .has_addr = vec == 14,
                               .reflectable = arch_vector_reflectable(vec)};
        domain_fault(regs, &f);
        schedule_exit(regs); /* if the domain was killed, run another */
        return;
    }
    if ((vec == 14 || vec == 13) && search_fixup(regs))
        return;
    panic_regs(regs, "hypervisor fault: %s, error code %#llx, address %#llx", exception_names[vec],
               (unsigned long long)regs->error_code, (unsigned long long)cr2);
}

void arch_dump_regs(const struct cpu_regs *r)
{
    log_err("rip %016llx cs %04llx rflags %016llx rsp %016llx ss %04llx",
            (unsigned long long)r->rip, (unsigned long long)r->cs, (unsigned long long)r->rflags,
            (unsigned long long)r->rsp, (unsigned long long)r->ss);
    log_err("rax %016llx rbx %016llx rcx %016llx rdx %016llx", (unsigned long long)r->rax,
            (unsigned long long)r->rbx, (unsigned long long)r->rcx, (unsigned long long)r->rdx);
    log_err("rsi %016llx rdi %016llx rbp %016llx r8  %016llx", (unsigned long long)r->rsi,
            (unsigned long long)r->rdi, (unsigned long long)r->rbp, (unsigned long long)r->r8);
    log_err("r9  %016llx r10 %016llx r11 %016llx r12 %016llx", (unsigned long long)r->r9,
            (unsigned long long)r->r10, (unsigned long long)r->r11, (unsigned long long)r->r12);
    log_err("r13 %016llx r14 %016llx r15 %016llx cr3 %016llx", (unsigned long long)r->r13,
            (unsigned long long)r->r14, (unsigned long long)r->r15, (unsigned long long)read_cr3());
}

/* Walks the frame-pointer chain (the hypervisor is built with
 * -fno-omit-frame-pointer), trusting only addresses in the hypervisor's half. */
void arch_backtrace(uint64_t rbp)
{
    log_err("backtrace:");
    for (int depth = 0; depth < 24; depth++) {
        if (rbp < HV_DIRECTMAP_BASE || (rbp & 7) || rbp > ~0ull - 16)
            break;
        const uint64_t *frame = (const uint64_t *)(uintptr_t)rbp;
        uint64_t ret = frame[1];
        if (ret < HV_IMAGE_VBASE)
            break;
        log_err("  [%2d] %016llx", depth, (unsigned long long)ret);
        if (frame[0] <= rbp)
            break;
        rbp = frame[0];
    }
}
