/*
 * Trap reflection: a fault in a guest goes to the handler the guest
 * registered (HC_SET_TRAP_TABLE) on a bounce frame written to its own stack;
 * the handler resumes with HC_IRET. A fault with no handler, or whose frame
 * cannot be written, kills the domain. The layout and rules are in
 * proto/include/hv/abi.h ("Trap reflection").
 */
#include <stdio.h>

#include "arch.h"
#include "domain.h"
#include "log.h"
#include "regs.h"

/* rflags bits a guest may set through HC_IRET: CF PF AF ZF SF DF OF. */
#define IRET_RFLAGS_MASK 0xcd5ull
#define RFLAGS_BASE 0x202ull /* IF and the always-one bit */

static bool vector_reflectable(uint64_t v)
{
    return v < HV_TRAP_VECTORS && v != 2 && v != 8 && v != 18;
}

void domain_fault(struct cpu_regs *regs, unsigned vector, uint64_t cr2)
{
    struct domain *d = current_domain;
    struct vcpu *v = current_vcpu;
    char why[160];
    BUG_ON(!d || !v);

    uint64_t handler = vector_reflectable(vector) ? d->trap_handler[vector] : 0;
    if (!handler) {
        if (vector == 14)
            snprintf(why, sizeof(why), "%s at rip %#llx, address %#llx, error code %#llx",
                     arch_exception_name(vector), (unsigned long long)regs->rip,
                     (unsigned long long)cr2, (unsigned long long)regs->error_code);
        else
            snprintf(why, sizeof(why), "%s at rip %#llx, error code %#llx",
                     arch_exception_name(vector), (unsigned long long)regs->rip,
                     (unsigned long long)regs->error_code);
        domain_kill(d, regs, why);
        return;
    }

    struct hv_bounce_frame f = {
        .vector = vector,
        .error_code = regs->error_code,
        .rip = regs->rip,
        .rflags = regs->rflags,
        .rsp = regs->rsp,
        .rax = regs->rax,
        .rcx = regs->rcx,
        .r11 = regs->r11,
        .rdi = regs->rdi,
    };
    uint64_t frame_va = 0;
    if (regs->rsp >= HV_BOUNCE_GAP + sizeof(f))
        frame_va = ALIGN_DOWN(regs->rsp - HV_BOUNCE_GAP - sizeof(f), 16);
    if (!frame_va || arch_copy_to_guest(gva(frame_va), &f, sizeof(f)) != HV_OK) {
        snprintf(why, sizeof(why), "could not deliver %s: stack %#llx not writable",
                 arch_exception_name(vector), (unsigned long long)regs->rsp);
        domain_kill(d, regs, why);
        return;
    }
    if (vector == 14 && v->id < HV_SHARED_INFO_VCPUS)
        d->shared->vcpu_info[v->id].fault_addr = cr2;
    log_debug("d%u: %s at %#llx reflected to %#llx", d->id, arch_exception_name(vector),
              (unsigned long long)regs->rip, (unsigned long long)handler);
    regs->rip = handler;
    regs->rsp = frame_va;
    regs->rflags = RFLAGS_BASE;
}

int64_t hc_set_trap_table(struct domain *d, struct cpu_regs *regs)
{
    struct hv_trap_entry table[HV_TRAP_VECTORS];
    uint64_t count = regs->rsi;

    if (count > HV_TRAP_VECTORS)
        return HV_E2BIG;
    if (arch_copy_from_guest(table, gva(regs->rdi), count * sizeof(table[0])) != HV_OK)
        return HV_EFAULT;
    for (uint64_t i = 0; i < count; i++) {
        if (!vector_reflectable(table[i].vector) || table[i].handler >= HV_GUEST_VA_LIMIT)
            return HV_EINVAL;
    }
    for (unsigned i = 0; i < HV_TRAP_VECTORS; i++)
        d->trap_handler[i] = 0;
    for (uint64_t i = 0; i < count; i++)
        d->trap_handler[table[i].vector] = table[i].handler;
    return HV_OK;
}

int64_t hc_iret(struct domain *d, struct cpu_regs *regs)
{
    struct hv_bounce_frame f;
    (void)d;
    if (arch_copy_from_guest(&f, gva(regs->rdi), sizeof(f)) != HV_OK)
        return HV_EFAULT;
    if (f.rip >= HV_GUEST_VA_LIMIT || f.rsp >= HV_GUEST_VA_LIMIT)
        return HV_EINVAL;
    regs->rip = f.rip;
    regs->rsp = f.rsp;
    regs->rflags = (f.rflags & IRET_RFLAGS_MASK) | RFLAGS_BASE;
    regs->rcx = f.rcx;
    regs->r11 = f.r11;
    regs->rdi = f.rdi;
    return (int64_t)f.rax; /* the dispatcher puts it in rax */
}
