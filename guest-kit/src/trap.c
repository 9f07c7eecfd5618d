/* C side of trap handling (see gk/trap.h and src/trap_entry.S). */
#include "gk/gk.h"
#include "gk/spinlock.h"
#include "gk/trap.h"
#include "gk/vcpu.h"
#include "hv/shared_info.h"

extern void gk_trap_entry(void);
void gk_trap_dispatch(struct hv_bounce_frame *frame);

static gk_trap_fn handlers[HV_TRAP_VECTORS];
/* Serialises gk_trap_set between VCPUs (the table is the domain's). */
static struct gk_spinlock set_lock = GK_SPINLOCK_INIT;

int64_t gk_hc_set_trap_table(const struct hv_trap_entry *table, uint64_t count)
{
    return gk_hypercall3(HC_SET_TRAP_TABLE, (uint64_t)(uintptr_t)table, count, 0);
}

int64_t gk_hc_iret(const struct hv_bounce_frame *frame)
{
    return gk_hypercall3(HC_IRET, (uint64_t)(uintptr_t)frame, 0, 0);
}

int64_t gk_trap_set(unsigned vector, gk_trap_fn fn)
{
    if (vector >= HV_TRAP_VECTORS)
        return HV_EINVAL;
    gk_spin_lock(&set_lock);
    gk_trap_fn old = handlers[vector];
    handlers[vector] = fn;
    struct hv_trap_entry table[HV_TRAP_VECTORS];
    uint64_t n = 0;
    for (unsigned v = 0; v < HV_TRAP_VECTORS; v++) {
        if (handlers[v]) {
            table[n].vector = v;
            table[n].handler = (uint64_t)(uintptr_t)gk_trap_entry;
            n++;
        }
    }
    int64_t rc = gk_hc_set_trap_table(table, n);
    if (rc != HV_OK)
        handlers[vector] = old;
    gk_spin_unlock(&set_lock);
    return rc;
}

uint64_t gk_trap_fault_addr(void)
{
    const struct hv_shared_info *sh =
        (const struct hv_shared_info *)(uintptr_t)gk_start_info->shared_info_va;
    return sh->vcpu_info[gk_vcpu_id()].fault_addr;
}

void gk_trap_dispatch(struct hv_bounce_frame *frame)
{
    gk_trap_fn fn = frame->vector < HV_TRAP_VECTORS ? handlers[frame->vector] : 0;
    if (!fn)
        gk_panic("trap %llu at rip %#llx with no handler", (unsigned long long)frame->vector,
                 (unsigned long long)frame->rip);
    fn(frame);
}
