/*
 * The scheduling mechanism on the boot CPU: it runs the policy of
 * hv/sched (sched_pick and friends) with real VCPUs.
 *
 * Context switch by frame swap: every entry from ring 3 (hypercall or
 * interrupt) leaves the guest's registers in the frame at the top of this
 * CPU's hypervisor stack, and every exit to ring 3 restores that frame. On
 * the way out (schedule_exit) the frame of the VCPU leaving is saved into
 * its struct vcpu and the next VCPU's saved frame is written in its place,
 * with its domain's page-table base loaded. Handlers never switch in the
 * middle: they only change states (wake, block, yield, kill), and the
 * decision is taken on the way out.
 *
 * Time: the local APIC timer runs one-shot, programmed for the earlier of
 * the end of the current slice and the nearest VCPU timer. With nothing to
 * run the CPU idles (sti; hlt) on the hypervisor's own page tables.
 *
 * UNFINISHED (SMP issue): one CPU only; FPU/SSE state is not switched
 * (guests are built -mgeneral-regs-only); no per-CPU locking.
 */
#include <string.h>

#include "arch.h"
#include "domain.h"
#include "log.h"

static struct sched policy;
static struct vcpu *vcpu_of[SCHED_MAX_VCPUS]; /* policy handle -> VCPU */
static bool resched;
static bool yielding; /* the current VCPU yielded: idle if it is picked again */
static uint64_t slice_end_ns;
static bool started;          /* the timer belongs to the scheduler */
static struct vcpu *retiring; /* stopped on this CPU: retired once descheduled */

struct vcpu *current_vcpu;

void schedule_init(void)
{
    struct sched_topology topo;
    memset(&topo, 0, sizeof(topo));
    topo.cpu_count = 1;
    if (sched_init(&policy, &topo) != HV_OK)
        panic("schedule: the policy refused a one-CPU topology");
}

static void kick(sched_cpumask_t mask)
{
    if (mask & 1)
        resched = true;
}

int vcpu_init(struct domain *d, unsigned id, uint64_t rip, uint64_t rsp, uint64_t rdi)
{
    if (id >= VCPU_MAX)
        return HV_EINVAL;
    struct vcpu *v = &d->vcpus[id];
    if (v->online)
        return HV_EEXIST;
    if (d->vcpu_count == 0) {
        struct sched_domain_params p = {.weight = SCHED_WEIGHT_DEFAULT};
        int rc = sched_add_domain(&policy, d->id, &p);
        if (rc != HV_OK)
            return rc;
    }
    int rc = sched_add_vcpu(&policy, d->id, 1, &v->sv);
    if (rc != HV_OK) {
        if (d->vcpu_count == 0)
            sched_remove_domain(&policy, d->id);
        return rc;
    }
    memset(&v->regs, 0, sizeof(v->regs));
    v->regs.rip = rip;
    v->regs.cs = SEL_USER_CS;
    v->regs.rflags = 0x202; /* IF */
    v->regs.rsp = rsp;
    v->regs.ss = SEL_USER_DS;
    v->regs.rdi = rdi;
    v->dom = d;
    v->id = id;
    v->online = true;
    v->blocked = true;
    v->timer_deadline_ns = 0;
    vcpu_of[v->sv] = v;
    d->vcpu_count++;
    return HV_OK;
}

void vcpu_wake(struct vcpu *v)
{
    sched_cpumask_t mask = 0;
    if (!v->online || !v->blocked)
        return;
    v->blocked = false;
    if (sched_wake(&policy, v->sv, arch_now_ns(), &mask) != HV_OK)
        panic("schedule: wake of d%u v%u refused", v->dom->id, v->id);
    kick(mask);
}

void vcpu_block(struct vcpu *v)
{
    sched_cpumask_t mask = 0;
    if (!v->online || v->blocked)
        return;
    v->blocked = true;
    if (sched_block(&policy, v->sv, arch_now_ns(), &mask) != HV_OK)
        panic("schedule: block of d%u v%u refused", v->dom->id, v->id);
    kick(mask);
}

void schedule_preempt_point(void)
{
    resched = true; /* let the policy choose; no idling if it picks us again */
}

void schedule_yield(void)
{
    resched = true;
    yielding = true;
}

/* Removes an offline, descheduled VCPU from the policy (and its domain when
 * it was the last one). */
static void vcpu_retire(struct vcpu *v)
{
    if (sched_remove_vcpu(&policy, v->sv) != HV_OK)
        panic("schedule: could not retire d%u v%u", v->dom->id, v->id);
    vcpu_of[v->sv] = NULL;
    if (--v->dom->vcpu_count == 0)
        sched_remove_domain(&policy, v->dom->id);
}

void vcpu_stop(struct vcpu *v)
{
    if (!v->online)
        return;
    vcpu_block(v);
    v->online = false;
    v->waiting_event = false;
    v->timer_fired = false;
    v->timer_deadline_ns = 0;
    if (v != current_vcpu)
        vcpu_retire(v); /* else once the pick has taken it off the CPU */
    resched = true;
}

void domain_vcpus_stop(struct domain *d)
{
    for (unsigned i = 0; i < VCPU_MAX; i++)
        vcpu_stop(&d->vcpus[i]);
    resched = true;
}

static uint64_t next_deadline(void)
{
    uint64_t next = current_vcpu ? slice_end_ns : 0;
    for (unsigned h = 0; h < SCHED_MAX_VCPUS; h++) {
        struct vcpu *v = vcpu_of[h];
        if (v && v->timer_deadline_ns && (next == 0 || v->timer_deadline_ns < next))
            next = v->timer_deadline_ns;
    }
    return next;
}

void schedule_timer_changed(void)
{
    if (started)
        arch_timer_set_deadline(next_deadline());
}

void schedule_timer_interrupt(void)
{
    if (!started)
        return; /* the boot-time timer self-test */
    uint64_t now = arch_now_ns();
    for (unsigned h = 0; h < SCHED_MAX_VCPUS; h++) {
        struct vcpu *v = vcpu_of[h];
        if (v && v->timer_deadline_ns && v->timer_deadline_ns <= now) {
            vcpu_timer_fire(v);
        }
    }
    if (current_vcpu && now >= slice_end_ns)
        resched = true;
    arch_timer_set_deadline(next_deadline());
}

/* Asks the policy what runs next on this CPU, idling until something can. */
static struct vcpu *pick_next(uint64_t *slice_ns)
{
    for (;;) {
        struct sched_decision dec;
        resched = false;
        if (sched_pick(&policy, 0, arch_now_ns(), &dec) != HV_OK)
            panic("schedule: sched_pick failed");
        if (retiring) { /* the pick took it off the CPU: now it can go */
            vcpu_retire(retiring);
            retiring = NULL;
        }
        if (dec.vcpu != SCHED_VCPU_NONE) {
            struct vcpu *v = vcpu_of[dec.vcpu];
            BUG_ON(!v || !v->online);
            *slice_ns = dec.slice_ns;
            return v;
        }
        /* Nothing to run: idle on the hypervisor's tables until an
         * interrupt makes something runnable. */
        if (current_vcpu) {
            arch_load_base(paddr_to_mfn(arch_hv_l4()));
            current_vcpu = NULL;
            current_domain = NULL;
        }
        domain_deferred_work(); /* the CPU is off every domain's tables */
        if (resched)
            continue;
        arch_timer_set_deadline(next_deadline());
        while (!resched)
            arch_idle_wait();
    }
}

/* Puts next on the CPU with its frame in regs. */
static void switch_to(struct vcpu *next, struct cpu_regs *regs, uint64_t slice_ns)
{
    uint64_t now = arch_now_ns();
    *regs = next->regs;
    arch_load_base(next->dom->l4);
    current_vcpu = next;
    current_domain = next->dom;
    next->run_start_ns = now;
    slice_end_ns = now + slice_ns;
    arch_timer_set_deadline(next_deadline());
}

static void schedule_switch(struct cpu_regs *regs)
{
    struct vcpu *prev = current_vcpu;
    if (!resched && prev && prev->online)
        return;

    if (prev) {
        prev->cpu_time_ns += arch_now_ns() - prev->run_start_ns;
        prev->run_start_ns = arch_now_ns();
    }
    if (prev && prev->online)
        prev->regs = *regs;
    else if (prev)
        retiring = prev; /* it stopped on this CPU */
    uint64_t slice_ns;
    struct vcpu *next = pick_next(&slice_ns);
    if (next == prev && current_vcpu == prev) {
        /* Keep running without having idled: the frame is still prev's. A
         * VCPU that yielded with nothing else to run waits for the next
         * interrupt (at most the end of its slice) instead of spinning. */
        slice_end_ns = arch_now_ns() + slice_ns;
        arch_timer_set_deadline(next_deadline());
        if (yielding) {
            yielding = false;
            arch_idle_wait();
        }
        return;
    }
    yielding = false;
    switch_to(next, regs, slice_ns);
    domain_deferred_work(); /* prev's domain may now be destroyed */
}

void schedule_exit(struct cpu_regs *regs)
{
    /* An upcall whose frame cannot be written kills the domain: then pick
     * again rather than return to the dead VCPU. */
    do {
        schedule_switch(regs);
        upcall_deliver(current_vcpu, regs);
    } while (!current_vcpu->online);
}

void schedule_start(void)
{
    struct cpu_regs *regs = (struct cpu_regs *)(uintptr_t)(arch_kstack_top() - sizeof(*regs));
    uint64_t slice_ns;
    started = true;
    struct vcpu *next = pick_next(&slice_ns);
    switch_to(next, regs, slice_ns);
    upcall_deliver(current_vcpu, regs);
    arch_enter_frame(regs);
}
