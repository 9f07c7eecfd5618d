/*
 * Hypercall dispatch. Decode, then invoke: every argument is checked before
 * anything changes, and a bad argument gets a status code, never a panic.
 */
#include "arch.h"
#include "arch_hooks.h"
#include "domain.h"
#include "schedule.h"
#include "dom_teardown.h"
#include "objects.h"
#include "console.h"
#include "hypercall.h"
#include "log.h"
#include "test_op.h"
#include <hv/test_op.h>

static int64_t hc_console_write(struct domain *d, uint64_t buf, uint64_t len)
{
    static char bounce[HV_CONSOLE_WRITE_MAX];

    if (len > HV_CONSOLE_WRITE_MAX)
        len = HV_CONSOLE_WRITE_MAX; /* a partial write, as write(2) does */
    if (arch_copy_from_guest(bounce, gva(buf), len) != HV_OK)
        return HV_EFAULT;
    domain_console_write(d, bounce, len);
    console_output(d, bounce, len);
    return (int64_t)len;
}

/* Gives up the CPU (see schedule_yield). */
static int64_t hc_yield(void)
{
    schedule_yield();
    return HV_OK;
}

int hypercall_probe_out(uint64_t va, const void *in, size_t n)
{
    return arch_copy_to_guest(gva(va), in, n) == HV_OK ? HV_OK : HV_EFAULT;
}

int64_t hypercall_cmd(struct domain *d, struct hypercall *c, const struct hc_cmd *cmds, size_t n)
{
    static union {
        uint64_t align;
        uint8_t bytes[HC_REC_MAX];
    } rec;
    uint64_t cmd = c->arg[0], va = c->arg[1];
    if (cmd >= n || !cmds[cmd].fn)
        return HV_EINVAL;
    const struct hc_cmd *k = &cmds[cmd];
    bool out = k->flags & HC_REC_OUT;
    BUG_ON(k->size > sizeof(rec));
    if (arch_copy_from_guest(&rec, gva(va), k->size) != HV_OK ||
        (out && hypercall_probe_out(va, &rec, k->size) != HV_OK))
        return HV_EFAULT;
    int64_t ret = k->fn(d, c, &rec);
    if (ret == HV_OK && out && arch_copy_to_guest(gva(va), &rec, k->size) != HV_OK)
        return HV_EFAULT; /* probed above: only if the probe's premise broke */
    return ret;
}

int64_t hypercall_restart(struct hypercall *c)
{
    schedule_preempt_point();
    return arch_hypercall_restart(c);
}

static int64_t hc_shutdown(struct domain *d, uint64_t reason)
{
    switch (reason) {
    case HV_SHUTDOWN_POWEROFF:
    case HV_SHUTDOWN_CRASH:
    case HV_SHUTDOWN_REBOOT:
        domain_shutdown(d, (enum hv_shutdown_reason)reason);
        return HV_OK; /* not seen: the domain is gone */
    default: return HV_EINVAL;
    }
}

static int64_t hypercall_invoke(struct domain *d, struct hypercall *c)
{
    uint64_t *a = c->arg;
    switch (c->nr) {
    case HC_CONSOLE_WRITE: return hc_console_write(d, a[0], a[1]);
    case HC_YIELD: return hc_yield();
    case HC_SHUTDOWN: return hc_shutdown(d, a[0]);
    case HC_MMU_UPDATE: return hc_mmu_update(d, c);
    case HC_MMUEXT_OP: return hc_mmuext_op(d, c);
    case HC_UPDATE_VA_MAPPING: return hc_update_va_mapping(d, c);
    case HC_MEMORY_OP: return hc_memory_op(d, c);
    case HC_SET_TRAP_TABLE: return hc_set_trap_table(d, c);
    case HC_IRET: return hc_iret(d, c);
    case HC_CAP_OP: return hc_cap_op(d, c);
    case HC_EVTCHN_OP: return hc_evtchn_op(d, c);
    case HC_GRANT_OP: return hc_grant_op(d, c);
    case HC_SET_CALLBACK: return hc_set_callback(d, c);
    case HC_BLOCK: return hc_block(d, c);
    case HC_SET_TIMER: return hc_set_timer(d, c);
    case HC_DOMAIN_OP: return hc_domain_op(d, c);
    case HC_CONSOLE_OP: return hc_console_op(d, c);
    case HC_IOPORT_OP: return hc_ioport_op(d, c);
    case HC_PCI_OP: return hc_pci_op(d, c);
    case HC_TEST_OP: return hc_test_op(d, c); /* HV_ENOSYS but in the test image */
    default:
        log_debug("d%u: unknown hypercall %llu", d->id, (unsigned long long)c->nr);
        return HV_ENOSYS;
    }
}

void hypercall_entry(struct hypercall *c)
{
    hv_lock();
    struct domain *d = current_domain;
    int64_t ret;
#ifdef HV_TEST_IMAGE
    test_hypercall(c->nr, c->arg[0]);
#endif

    if (domain_owed_work(d)) {
        /* d destroyed a domain whose teardown is not finished: d pays for it
         * a bounded step per entry, and the call waits (dom_teardown.c). */
        ret = hypercall_restart(c);
    } else {
        ret = hypercall_invoke(d, c);
    }
    const char *why = arch_hypercall_return(c, ret);
    if (why && d->state == DOMAIN_RUNNING)
        domain_kill(d, c->frame, why);
    domain_deferred_work();
    schedule_exit(c->frame);
    hv_unlock();
}
