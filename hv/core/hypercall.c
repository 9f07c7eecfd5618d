/*
 * Hypercall dispatch. Decode, then invoke: every argument is checked before
 * anything changes, and a bad argument gets a status code, never a panic.
 */
#include "arch.h"
#include "domain.h"
#include "log.h"
#include "regs.h"
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
static int64_t hc_yield(struct cpu_regs *regs)
{
    (void)regs;
    schedule_yield();
    return HV_OK;
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

void hypercall_entry(struct cpu_regs *regs)
{
    hv_lock();
    struct domain *d = current_domain;
    int64_t ret;
#ifdef HV_TEST_IMAGE
    test_hypercall(regs->rax, regs->rdi);
#endif

    if (domain_owed_work(d)) {
        /* d destroyed a domain whose teardown is not finished: d pays for it
         * a bounded step per entry, and the call waits (dom_teardown.c). */
        regs->rip -= 2; /* re-enter the same call, rax its number again */
        schedule_preempt_point();
        ret = (int64_t)regs->rax;
        goto out;
    }

    switch (regs->rax) {
    case HC_CONSOLE_WRITE: ret = hc_console_write(d, regs->rdi, regs->rsi); break;
    case HC_YIELD: ret = hc_yield(regs); break;
    case HC_SHUTDOWN: ret = hc_shutdown(d, regs->rdi); break;
    case HC_MMU_UPDATE: ret = hc_mmu_update(d, regs); break;
    case HC_MMUEXT_OP: ret = hc_mmuext_op(d, regs); break;
    case HC_UPDATE_VA_MAPPING: ret = hc_update_va_mapping(d, regs); break;
    case HC_MEMORY_OP: ret = hc_memory_op(d, regs); break;
    case HC_SET_TRAP_TABLE: ret = hc_set_trap_table(d, regs); break;
    case HC_IRET: ret = hc_iret(d, regs); break;
    case HC_CAP_OP: ret = hc_cap_op(d, regs); break;
    case HC_EVTCHN_OP: ret = hc_evtchn_op(d, regs); break;
    case HC_GRANT_OP: ret = hc_grant_op(d, regs); break;
    case HC_SET_CALLBACK: ret = hc_set_callback(d, regs); break;
    case HC_BLOCK: ret = hc_block(d, regs); break;
    case HC_SET_TIMER: ret = hc_set_timer(d, regs); break;
    case HC_DOMAIN_OP: ret = hc_domain_op(d, regs); break;
    case HC_CONSOLE_OP: ret = hc_console_op(d, regs); break;
    case HC_IOPORT_OP: ret = hc_ioport_op(d, regs); break;
    case HC_PCI_OP: ret = hc_pci_op(d, regs); break;
    case HC_TEST_OP: ret = hc_test_op(d, regs); break; /* HV_ENOSYS but in the test image */
    default:
        log_debug("d%u: unknown hypercall %llu", d->id, (unsigned long long)regs->rax);
        ret = HV_ENOSYS;
        break;
    }
out:
    regs->rax = (uint64_t)ret;

    /* syscall at the very top of the lower half returns to a non-canonical
     * address, which iretq would fault on in ring 0: treat it as the guest's
     * fault instead. */
    if (d->state == DOMAIN_RUNNING && regs->rip >= HV_GUEST_VA_LIMIT)
        domain_kill(d, regs, "#GP: syscall would return to a non-canonical address");
    domain_deferred_work();
    schedule_exit(regs);
    hv_unlock();
}
