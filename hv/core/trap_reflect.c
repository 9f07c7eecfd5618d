/*
 * Trap reflection: a fault in a guest goes to the handler the guest
 * registered (HC_SET_TRAP_TABLE) on a bounce frame written to its own stack;
 * the handler resumes with HC_IRET. A fault with no handler, or whose frame
 * cannot be written, kills the domain. The layout and rules are in
 * proto/include/hv/abi.h ("Trap reflection"). This file decides (which
 * handler, or the domain's end); the architecture writes and reads the
 * frames (arch_frame_bounce, arch_frame_iret).
 */
#include <stdio.h>

#include "arch.h"
#include "domain.h"
#include "upcall.h"
#include "hypercall.h"
#include "log.h"

/*
 * Enters handler with a bounce frame describing the interrupted context in
 * frame (see abi.h "Trap reflection"). If the frame cannot be written the
 * domain is killed and false returned.
 */
static bool bounce(struct domain *d, struct cpu_regs *frame, uint64_t vector, uint64_t error_code,
                   uint64_t handler)
{
    if (arch_frame_bounce(frame, vector, error_code, handler))
        return true;
    char why[160];
    snprintf(why, sizeof(why), "could not deliver %s: stack %#llx not writable",
             vector < HV_TRAP_VECTORS ? arch_exception_name((unsigned)vector) : "an upcall",
             (unsigned long long)arch_frame_stack(frame));
    domain_kill(d, frame, why);
    return false;
}

void domain_fault(struct cpu_regs *frame, const struct arch_fault *f)
{
    struct domain *d = current_domain;
    struct vcpu *v = current_vcpu;
    BUG_ON(!d || !v);

    uint64_t handler = f->reflectable ? d->trap_handler[f->vector] : 0;
    if (!handler) {
        char why[160];
        if (f->has_addr)
            snprintf(why, sizeof(why), "%s at rip %#llx, address %#llx, error code %#llx", f->name,
                     (unsigned long long)f->ip, (unsigned long long)f->addr,
                     (unsigned long long)f->error_code);
        else
            snprintf(why, sizeof(why), "%s at rip %#llx, error code %#llx", f->name,
                     (unsigned long long)f->ip, (unsigned long long)f->error_code);
        domain_kill(d, frame, why);
        return;
    }
    if (!bounce(d, frame, f->vector, f->error_code, handler))
        return;
    if (f->has_addr && v->id < HV_SHARED_INFO_VCPUS)
        d->shared->vcpu_info[v->id].fault_addr = f->addr;
    log_debug("d%u: %s at %#llx reflected to %#llx", d->id, f->name, (unsigned long long)f->ip,
              (unsigned long long)handler);
}

void upcall_deliver(struct vcpu *v, struct cpu_regs *frame)
{
    struct domain *d = v->dom;
    if (!d->callback || d->state != DOMAIN_RUNNING || !v->online)
        return;
    if (!evtchn_upcall_begin(&d->ev, v->id))
        return;
    bounce(d, frame, HV_UPCALL_VECTOR, 0, d->callback);
}

int64_t hc_set_callback(struct domain *d, struct hypercall *c)
{
    if (c->arg[0] >= HV_GUEST_VA_LIMIT)
        return HV_EINVAL;
    d->callback = c->arg[0];
    return HV_OK;
}

int64_t hc_set_trap_table(struct domain *d, struct hypercall *c)
{
    struct hv_trap_entry table[HV_TRAP_VECTORS];
    uint64_t count = c->arg[1];

    if (count > HV_TRAP_VECTORS)
        return HV_E2BIG;
    if (arch_copy_from_guest(table, gva(c->arg[0]), count * sizeof(table[0])) != HV_OK)
        return HV_EFAULT;
    for (uint64_t i = 0; i < count; i++) {
        if (!arch_vector_reflectable(table[i].vector) || table[i].handler >= HV_GUEST_VA_LIMIT)
            return HV_EINVAL;
    }
    for (unsigned i = 0; i < HV_TRAP_VECTORS; i++)
        d->trap_handler[i] = 0;
    for (uint64_t i = 0; i < count; i++)
        d->trap_handler[table[i].vector] = table[i].handler;
    return HV_OK;
}

int64_t hc_iret(struct domain *d, struct hypercall *c)
{
    (void)d;
    return arch_frame_iret(c->frame, gva(c->arg[0]));
}
