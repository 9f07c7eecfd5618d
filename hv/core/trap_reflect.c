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

/*
 * Enters handler with a bounce frame describing the interrupted context in
 * regs (see abi.h "Trap reflection"). If the frame cannot be written the
 * domain is killed and false returned.
 */
static bool bounce(struct domain *d, struct cpu_regs *regs, uint64_t vector, uint64_t error_code,
                   uint64_t handler, char *why, size_t why_size)
{
    struct hv_bounce_frame f = {
        .vector = vector,
        .error_code = error_code,
        .rip = regs->rip,
        .rflags = regs->rflags,
        .rsp = regs->rsp,
        .rax = regs->rax,
        .rcx = regs->rcx,
        .r11 = regs->r11,
        .rdi = regs->rdi,
    };
    uint64_t frame_va = 0;
    if (regs->rsp >= HV_BOUNCE_GAP + sizeof(f) && regs->rsp < HV_GUEST_VA_LIMIT)
        frame_va = ALIGN_DOWN(regs->rsp - HV_BOUNCE_GAP - sizeof(f), 16);
    if (!frame_va || arch_copy_to_guest(gva(frame_va), &f, sizeof(f)) != HV_OK) {
        snprintf(why, why_size, "could not deliver %s: stack %#llx not writable",
                 vector < HV_TRAP_VECTORS ? arch_exception_name((unsigned)vector) : "an upcall",
                 (unsigned long long)regs->rsp);
        domain_kill(d, regs, why);
        return false;
    }
    regs->rip = handler;
    regs->rsp = frame_va;
    regs->rflags = RFLAGS_BASE;
    return true;
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

    uint64_t f_rip = regs->rip;
    if (!bounce(d, regs, vector, regs->error_code, handler, why, sizeof(why)))
        return;
    if (vector == 14 && v->id < HV_SHARED_INFO_VCPUS)
        d->shared->vcpu_info[v->id].fault_addr = cr2;
    log_debug("d%u: %s at %#llx reflected to %#llx", d->id, arch_exception_name(vector),
              (unsigned long long)f_rip, (unsigned long long)handler);
}

void upcall_deliver(struct vcpu *v, struct cpu_regs *regs)
{
    struct domain *d = v->dom;
    char why[160];
    if (!d->callback || d->state != DOMAIN_RUNNING || !v->online)
        return;
    if (!evtchn_upcall_begin(&d->ev, v->id))
        return;
    bounce(d, regs, HV_UPCALL_VECTOR, 0, d->callback, why, sizeof(why));
}

int64_t hc_set_callback(struct domain *d, struct cpu_regs *regs)
{
    if (regs->rdi >= HV_GUEST_VA_LIMIT)
        return HV_EINVAL;
    d->callback = regs->rdi;
    return HV_OK;
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
