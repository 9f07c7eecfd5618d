/*
 * The scheduling mechanism: it runs the policy of hv/sched (sched_pick and
 * friends) with real VCPUs on every CPU.
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
 * SMP: one hypervisor lock (hv_lock) serialises all hypervisor work: it is
 * taken on every entry from ring 3 and for every interrupt, and released on
 * the way back to ring 3 and while a CPU idles. A CPU waiting for it keeps
 * serving remote TLB-flush requests (arch_smp_poll), so a lock holder may
 * wait for other CPUs' flushes. Kicks (the policy's kick masks) set the
 * target CPU's resched flag and send it the generic IPI.
 *
 * Time: each CPU's local APIC timer runs one-shot, programmed for the end
 * of its current slice; CPU 0 also keeps every VCPU's one-shot timer. With
 * nothing to run a CPU idles (sti; hlt) on the hypervisor's own tables.
 *
 * A VCPU's registers and x87/SSE state (struct arch_vcpu, the
 * architecture's) are switched eagerly with the frame: saved whenever a
 * VCPU leaves the CPU, restored when it comes on (arch_vcpu_save/load).
 *
 * UNFINISHED: one lock for everything (the policy's data is per-CPU
 * already, so it can be split).
 */
#include <string.h>

#include "arch.h"
#include "arch_hooks.h"
#include "domain.h"
#include "schedule.h"
#include "objects.h"
#include "upcall.h"
#include "log.h"
#include "mm_hv.h"
#include "test_op.h"

/* The longest a yield with nothing else to run halts the CPU (schedule_yield). */
#define SCHED_YIELD_IDLE_NS 50000ull

static struct sched policy;
static struct vcpu *vcpu_of[SCHED_MAX_VCPUS]; /* policy handle -> VCPU */

/* What each CPU runs; written only by that CPU (with the lock held), except
 * resched, which a kicking CPU sets. */
struct cpu_rt {
    struct vcpu *current;  /* NULL while idle */
    struct vcpu *retiring; /* stopped while running here: retired once descheduled */
    uint64_t slice_end_ns;
    volatile bool resched;  /* call the policy on the way out */
    bool yielding;          /* the current VCPU yielded: halt briefly if picked again */
    bool started;           /* the timer belongs to the scheduler */
    uint64_t idle_until_ns; /* idle: when to ask the policy again (0: on a kick only) */
};
static struct cpu_rt rt[SCHED_MAX_CPUS];
static unsigned ncpus = 1;

static struct cpu_rt *me(void)
{
    return &rt[arch_cpu_id()];
}

struct vcpu *sched_current_vcpu(void)
{
    return rt[arch_cpu_id()].current;
}

/* --- the hypervisor lock: a ticket lock ------------------------------------ */

static uint32_t lock_next, lock_serving;
static int lock_owner = -1;

void hv_lock(void)
{
    uint32_t t = __atomic_fetch_add(&lock_next, 1, __ATOMIC_ACQUIRE);
    while (__atomic_load_n(&lock_serving, __ATOMIC_ACQUIRE) != t) {
        arch_smp_poll();
        arch_cpu_relax();
    }
    lock_owner = (int)arch_cpu_id();
#ifdef HV_TEST_IMAGE
    test_lock_taken();
#endif
}

void hv_unlock(void)
{
    BUG_ON(lock_owner != (int)arch_cpu_id());
#ifdef HV_TEST_IMAGE
    test_lock_released();
#endif
    lock_owner = -1;
    __atomic_store_n(&lock_serving, lock_serving + 1, __ATOMIC_RELEASE);
}

/* Waits for an interrupt without the lock (the handler takes it). */
static void idle_wait_unlocked(void)
{
    hv_unlock();
    arch_idle_wait();
    hv_lock();
}

void schedule_init(void)
{
    static struct sched_topology topo;
    memset(&topo, 0, sizeof(topo));
    ncpus = arch_cpu_count() < SCHED_MAX_CPUS ? arch_cpu_count() : SCHED_MAX_CPUS;
    topo.cpu_count = ncpus;
    for (unsigned c = 0; c < ncpus; c++) {
        const struct arch_cpu_topo *t = arch_cpu_topology(c);
        topo.cpu[c].package_id = t->package_id;
        topo.cpu[c].core_id = t->core_id;
        topo.cpu[c].thread_id = t->thread_id;
    }
    if (sched_init(&policy, &topo) != HV_OK)
        panic("schedule: the policy refused the topology of %u CPUs", ncpus);
}

/* The policy asked for these CPUs to pick again. */
static void kick(sched_cpumask_t mask)
{
    unsigned self = arch_cpu_id();
    for (unsigned c = 0; c < ncpus; c++) {
        if (!(mask & (1ull << c)))
            continue;
        rt[c].resched = true;
        if (c != self)
            arch_send_ipi(c, ARCH_IPI_VECTOR);
    }
}

int vcpu_init(struct domain *d, unsigned id, uint64_t entry, uint64_t stack, uint64_t arg)
{
    if (id >= VCPU_MAX)
        return HV_EINVAL;
    struct vcpu *v = &d->vcpus[id];
    if (v->online)
        return HV_EEXIST;
    if (d->vcpu_count == 0) {
        struct sched_domain_params p;
        schedule_get_params(d, &p);
        int rc = sched_add_domain(&policy, d->id, &p);
        if (rc != HV_OK)
            return rc;
    }
    sched_cpumask_t all = ncpus >= 64 ? ~0ull : (1ull << ncpus) - 1;
    sched_cpumask_t aff = v->affinity ? v->affinity & all : all;
    int rc = aff ? sched_add_vcpu(&policy, d->id, aff, &v->sv) : HV_EINVAL;
    if (rc != HV_OK) {
        if (d->vcpu_count == 0)
            sched_remove_domain(&policy, d->id);
        return rc;
    }
    arch_vcpu_init(v->arch, entry, stack, arg);
    v->dom = d;
    v->id = id;
    v->online = true;
    v->blocked = true;
    v->on_cpu = -1;
    v->last_cpu = -1;
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
    me()->resched = true; /* let the policy choose; no idling if it picks us again */
}

/* HC_YIELD: the VCPUs queued on this CPU run first; with none, the CPU
 * halts for at most SCHED_YIELD_IDLE_NS (or until an interrupt) and the
 * yielder goes on. The short halt keeps a yield loop from hammering the
 * hypervisor lock; waiting for the end of the slice (up to a 10 ms slot), as
 * before, made a lone yield loop run 100 yields a second (issue 20 item 2). */
void schedule_yield(void)
{
    struct cpu_rt *r = me();
    r->resched = true;
    r->yielding = true;
    if (r->current)
        sched_vcpu_yield(&policy, r->current->sv, arch_now_ns());
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
    if (v->on_cpu < 0)
        vcpu_retire(v);
    else /* retired by the CPU running it, once the pick took it off */
        kick(1ull << v->on_cpu);
}

void domain_vcpus_stop(struct domain *d)
{
    for (unsigned i = 0; i < VCPU_MAX; i++)
        vcpu_stop(&d->vcpus[i]);
}

unsigned schedule_cpu_count(void)
{
    return ncpus;
}

void schedule_get_params(const struct domain *d, struct sched_domain_params *out)
{
    *out = d->sched;
    if (out->weight == 0)
        out->weight = SCHED_WEIGHT_DEFAULT;
}

int schedule_set_params(struct domain *d, const struct sched_domain_params *p)
{
    if (p->weight < SCHED_WEIGHT_MIN || p->weight > SCHED_WEIGHT_MAX ||
        p->cap_pct > SCHED_CAP_MAX_PCT)
        return HV_EINVAL;
    if (d->vcpu_count != 0) {
        int rc = sched_set_domain(&policy, d->id, p);
        if (rc != HV_OK)
            return rc;
    }
    d->sched = *p;
    return HV_OK;
}

int schedule_pin(struct vcpu *v, uint64_t mask)
{
    sched_cpumask_t all = ncpus >= 64 ? ~0ull : (1ull << ncpus) - 1;
    sched_cpumask_t aff = mask ? mask & all : all;
    if (aff == 0)
        return HV_EINVAL;
    if (v->online) {
        sched_cpumask_t kick_mask = 0;
        int rc = sched_set_affinity(&policy, v->sv, aff, arch_now_ns(), &kick_mask);
        if (rc != HV_OK)
            return rc;
        kick(kick_mask);
    }
    v->affinity = mask ? aff : 0;
    return HV_OK;
}

void schedule_vcpu_info(struct vcpu *v, struct hv_domctl_vcpu_info *out)
{
    sched_cpumask_t all = ncpus >= 64 ? ~0ull : (1ull << ncpus) - 1;
    out->cpu_mask = v->affinity ? v->affinity : all;
    out->state = HV_VCPU_OFFLINE;
    out->cpu = ~0u;
    out->run_ns = out->wait_ns = out->migrations = 0;
    if (!v->online)
        return;
    struct sched_vcpu_stats st;
    if (sched_vcpu_stats(&policy, v->sv, arch_now_ns(), &st) != HV_OK)
        return;
    out->run_ns = st.run_ns;
    out->wait_ns = st.wait_ns;
    out->migrations = st.migrations;
    out->cpu = st.cpu == SCHED_NO_CPU ? ~0u : st.cpu;
    switch (st.state) {
    case SCHED_VCPU_RUNNING: out->state = HV_VCPU_RUNNING; break;
    case SCHED_VCPU_QUEUED:
    case SCHED_VCPU_GANG_WAIT: out->state = HV_VCPU_RUNNABLE; break;
    default: out->state = HV_VCPU_BLOCKED; break;
    }
}

/* When this CPU's timer must fire: the end of its slice and, on CPU 0
 * (which keeps every VCPU's one-shot timer), the nearest VCPU deadline.
 * VCPU deadlines that passed are fired (and cleared) by the interrupt. */
static uint64_t next_deadline(void)
{
    struct cpu_rt *r = me();
    /* A slice that has ended (resched pending) must not re-arm the timer:
     * a deadline in the past fires at once, and re-armed from its own
     * interrupt it would fire again before the CPU could leave. */
    uint64_t next = r->current && !r->resched ? r->slice_end_ns : 0;
    if (!r->current && r->idle_until_ns && !r->resched)
        next = r->idle_until_ns;
    if (arch_cpu_id() != 0)
        return next;
    for (unsigned h = 0; h < SCHED_MAX_VCPUS; h++) {
        struct vcpu *v = vcpu_of[h];
        if (v && v->timer_deadline_ns && (next == 0 || v->timer_deadline_ns < next))
            next = v->timer_deadline_ns;
    }
    uint64_t line = domain_pirq_deadline(); /* shared lines waiting for EOIs */
    return line && (next == 0 || line < next) ? line : next;
}

void schedule_timer_changed(void)
{
    if (arch_cpu_id() == 0) {
        if (me()->started)
            arch_timer_set_deadline(next_deadline());
    } else {
        arch_send_ipi(0, ARCH_IPI_VECTOR); /* CPU 0 reprograms (smp_ipi_handler) */
    }
}

/* The generic IPI (interrupts off, the lock held by trap_entry): a kick,
 * or CPU 0 asked to look at the VCPU timers again. */
void smp_ipi_handler(void)
{
#ifdef HV_TEST_IMAGE
    arch_smp_test_ipi();
#endif
    if (me()->started)
        arch_timer_set_deadline(next_deadline());
}

void schedule_timer_interrupt(void)
{
    struct cpu_rt *r = me();
    if (!r->started) { /* before the scheduler: the test image's timer self-test */
#ifdef HV_TEST_IMAGE
        arch_time_test_tick();
#endif
        return;
    }
    uint64_t now = arch_now_ns();
    if (arch_cpu_id() == 0) {
        for (unsigned h = 0; h < SCHED_MAX_VCPUS; h++) {
            struct vcpu *v = vcpu_of[h];
            if (v && v->timer_deadline_ns && v->timer_deadline_ns <= now)
                vcpu_timer_fire(v);
        }
        domain_pirq_expire(now);
    }
    if (r->current && now >= r->slice_end_ns)
        r->resched = true;
    if (!r->current && r->idle_until_ns && now >= r->idle_until_ns)
        r->resched = true; /* idle: time to ask the policy again */
    arch_timer_set_deadline(next_deadline());
}

/* Asks the policy what runs next on this CPU, idling until something can. */
static struct vcpu *pick_next(uint64_t *slice_ns)
{
    struct cpu_rt *r = me();
    for (;;) {
        struct sched_decision dec;
        r->resched = false;
        if (sched_pick(&policy, arch_cpu_id(), arch_now_ns(), &dec) != HV_OK)
            panic("schedule: sched_pick failed");
        if (r->retiring) { /* the pick took it off the CPU: now it can go */
            r->retiring->on_cpu = -1;
            vcpu_retire(r->retiring);
            r->retiring = NULL;
        }
        kick(dec.kick_mask);
        if (dec.vcpu != SCHED_VCPU_NONE) {
            struct vcpu *v = vcpu_of[dec.vcpu];
            BUG_ON(!v || !v->online);
            /* The policy never hands out a VCPU another CPU still runs
             * (its frame is live there until that CPU's pick saves it). */
            BUG_ON(v->on_cpu >= 0 && v->on_cpu != (int)arch_cpu_id());
            *slice_ns = dec.slice_ns;
            return v;
        }
        /* Nothing to run: idle on the hypervisor's tables until an
         * interrupt makes something runnable. */
        if (r->current) {
            arch_load_base(paddr_to_mfn(arch_hv_l4()));
            mm_note_local_flush();
            r->current->on_cpu = -1;
            r->current = NULL;
        }
        domain_deferred_work(); /* the CPU is off every domain's tables */
        if (r->resched)
            continue;
        /* The policy says when an idle CPU must look again (work it may
         * steal once cache-cold, the next slot): the timer brings it back. */
        r->idle_until_ns = dec.slice_ns ? arch_now_ns() + dec.slice_ns : 0;
        arch_timer_set_deadline(next_deadline());
        while (!r->resched)
            idle_wait_unlocked();
        r->idle_until_ns = 0;
    }
}

/* Puts next on the CPU with its frame in regs. */
static void switch_to(struct vcpu *next, struct cpu_regs *regs, uint64_t slice_ns)
{
    struct cpu_rt *r = me();
    uint64_t now = arch_now_ns();
    arch_vcpu_load(next->arch, regs);
    arch_load_base(next->dom->l4);
    mm_note_local_flush();
    if (r->current && r->current != next)
        r->current->on_cpu = -1;
    r->current = next;
    next->on_cpu = (int)arch_cpu_id();
    if (next->last_cpu != next->on_cpu) { /* moved: its device interrupts come here too */
        next->last_cpu = next->on_cpu;
        evtchn_pirq_follow_vcpu(&next->dom->ev, next->id);
    }
    next->run_start_ns = now;
    r->slice_end_ns = now + slice_ns;
    arch_timer_set_deadline(next_deadline());
}

static void schedule_switch(struct cpu_regs *regs)
{
    struct cpu_rt *r = me();
    struct vcpu *prev = r->current;
    if (!r->resched && prev && prev->online)
        return;

    if (prev) {
        prev->cpu_time_ns += arch_now_ns() - prev->run_start_ns;
        prev->run_start_ns = arch_now_ns();
    }
    if (prev && prev->online) {
        arch_vcpu_save(prev->arch, regs); /* before another CPU may take it (held rule) */
    } else if (prev)
        r->retiring = prev; /* it stopped on this CPU */
    uint64_t slice_ns;
    struct vcpu *next = pick_next(&slice_ns);
    if (next == prev && r->current == prev) {
        /* Keep running without having idled: the frame is still prev's. A
         * VCPU that yielded with nothing else to run goes on after a short
         * halt (see schedule_yield). */
        uint64_t now = arch_now_ns();
        r->slice_end_ns = now + slice_ns;
        if (r->yielding) {
            r->yielding = false;
            uint64_t next_ns = next_deadline();
            uint64_t pause_end = now + SCHED_YIELD_IDLE_NS;
            arch_timer_set_deadline(next_ns && next_ns < pause_end ? next_ns : pause_end);
            idle_wait_unlocked();
        }
        arch_timer_set_deadline(next_deadline());
        return;
    }
    r->yielding = false;
    switch_to(next, regs, slice_ns);
    domain_deferred_work(); /* prev's domain may now be destroyed */
}

void schedule_exit(struct cpu_regs *regs)
{
    /* An upcall whose frame cannot be written kills the domain: then pick
     * again rather than return to the dead VCPU. */
    do {
        schedule_switch(regs);
        upcall_deliver(me()->current, regs);
    } while (!me()->current->online);
}

paddr_t smp_flush_base(void)
{
    struct vcpu *v = rt[arch_cpu_id()].current;
    if (!v)
        return 0;
    return mfn_to_paddr(mfn(__atomic_load_n(&v->dom->l4.v, __ATOMIC_ACQUIRE)));
}

uint64_t schedule_cpus_running(const struct domain *d)
{
    uint64_t mask = 0;
    for (unsigned c = 0; c < ncpus; c++) {
        struct vcpu *v = rt[c].current;
        if (v && v->dom == d)
            mask |= 1ull << c;
    }
    return mask;
}

/* APs wait here until the boot CPU starts scheduling (the root exists). */
static bool aps_may_schedule;

void smp_ap_run(void)
{
    while (!__atomic_load_n(&aps_may_schedule, __ATOMIC_ACQUIRE))
        arch_idle_wait(); /* the boot CPU's IPI (or any interrupt) wakes it */
    schedule_start();
}

void schedule_start(void)
{
    struct cpu_regs *regs = arch_first_frame();
    uint64_t slice_ns;
    hv_lock();
    me()->started = true;
    if (arch_cpu_id() == 0)
        __atomic_store_n(&aps_may_schedule, true, __ATOMIC_RELEASE);
    if (arch_cpu_id() == 0 && ncpus > 1)
        arch_send_ipi_all_but_self(ARCH_IPI_VECTOR);
    struct vcpu *next = pick_next(&slice_ns);
    switch_to(next, regs, slice_ns);
    upcall_deliver(me()->current, regs);
    hv_unlock();
    arch_enter_frame(regs);
}
