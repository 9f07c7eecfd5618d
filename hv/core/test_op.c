/*
 * The test image's own instruments (HC_TEST_OP, proto/include/hv/test_op.h):
 * compiled only into hv-test.elf (HV_TEST_IMAGE); hv.elf links
 * test_op_absent.c instead, and its hv_lock/hypercall_entry have no calls
 * into this file.
 *
 * HV_TEST_STATS: every stretch of hypervisor work on a CPU, from taking the
 * hypervisor lock to giving it back, is timed; the longest since the last
 * reset is kept with the hypercall it belonged to. The caller holds the
 * lock for every function here (the hooks run right after taking it and
 * right before giving it back).
 */
#include <string.h>

#include "arch.h"
#include "domain.h"
#include "log.h"
#include "regs.h"
#include "test_op.h"
#include <hv/test_op.h>

struct cpu_stretch {
    uint64_t start_ns;
    uint64_t nr, arg0; /* the hypercall under way, ~0 if none */
};
static struct cpu_stretch stretch[SCHED_MAX_CPUS];
static struct hv_test_stats stats = {.longest_nr = ~0ull};

void test_lock_taken(void)
{
    struct cpu_stretch *s = &stretch[arch_cpu_id()];
    s->start_ns = arch_now_ns();
    s->nr = ~0ull;
    s->arg0 = 0;
}

void test_lock_released(void)
{
    struct cpu_stretch *s = &stretch[arch_cpu_id()];
    uint64_t ns = arch_now_ns() - s->start_ns;
    stats.stretches++;
    if (ns > stats.longest_ns) {
        stats.longest_ns = ns;
        stats.longest_nr = s->nr;
        stats.longest_arg0 = s->arg0;
    }
}

void test_hypercall(uint64_t nr, uint64_t arg0)
{
    struct cpu_stretch *s = &stretch[arch_cpu_id()];
    s->nr = nr;
    s->arg0 = arg0;
    stats.hypercalls++;
}

int64_t hc_test_op(struct domain *d, struct cpu_regs *regs)
{
    (void)d;
    switch (regs->rdi) {
    case HV_TEST_STATS: {
        struct hv_test_stats a;
        if (arch_copy_from_guest(&a, gva(regs->rsi), sizeof(a)) != HV_OK)
            return HV_EFAULT;
        uint64_t reset = a.reset;
        a = stats;
        a.reset = reset;
        if (arch_copy_to_guest(gva(regs->rsi), &a, sizeof(a)) != HV_OK)
            return HV_EFAULT;
        if (reset)
            stats = (struct hv_test_stats){.longest_nr = ~0ull};
        return HV_OK;
    }
    default: return HV_EINVAL;
    }
}
