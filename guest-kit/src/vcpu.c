/*
 * Secondary VCPUs, the VCPU id, per-VCPU data and IPIs (see gk/vcpu.h).
 *
 * vcpus[] is shared by every VCPU of the domain. A record goes FREE ->
 * STARTING (claimed by gk_vcpu_start with a compare-and-swap, so two
 * starters cannot both claim it) -> RUNNING (set by the new VCPU itself)
 * -> STOPPED (set by vcpu_entry.S after the function returned, as the last
 * store before the stop hypercall, using no stack after it) -> FREE again
 * (gk_vcpu_join, or a new gk_vcpu_start once the hypervisor has taken the
 * VCPU down). gk_vcpu_id() reads the stack ranges of records that are not
 * FREE; a range is written before the record leaves FREE and never changes
 * while it is not FREE.
 */
#include "gk/vcpu.h"

#include "gk/event.h"
#include "gk/gk.h"

static struct gk_vcpu vcpus[GK_VCPU_MAX];
static void *vcpu0_local;
/* Set (for good) before the first secondary record leaves FREE: until
 * then every caller is VCPU 0 and gk_vcpu_id() costs one load. */
static bool any_started;

_Static_assert(offsetof(struct gk_vcpu, state) == 0, "vcpu_entry.S: state at 0");
_Static_assert(offsetof(struct gk_vcpu, mask_ptr) == 8, "vcpu_entry.S: mask_ptr at 8");

static uint32_t load_state(const struct gk_vcpu *v)
{
    return __atomic_load_n(&v->state, __ATOMIC_ACQUIRE);
}

unsigned gk_vcpu_id(void)
{
    if (!__atomic_load_n(&any_started, __ATOMIC_ACQUIRE))
        return 0;
    uint64_t sp;
    __asm__ volatile("movq %%rsp, %0" : "=r"(sp));
    for (unsigned i = 1; i < GK_VCPU_MAX; i++) {
        const struct gk_vcpu *v = &vcpus[i];
        if (load_state(v) != GK_VCPU_FREE && sp >= v->stack_lo && sp < v->stack_hi)
            return i;
    }
    return 0;
}

bool gk_vcpu_running(unsigned id)
{
    if (id == 0)
        return true;
    if (id >= GK_VCPU_MAX)
        return false;
    uint32_t s = load_state(&vcpus[id]);
    return s == GK_VCPU_STARTING || s == GK_VCPU_RUNNING;
}

static bool overlaps(uint64_t lo, uint64_t hi)
{
    for (unsigned i = 1; i < GK_VCPU_MAX; i++) {
        const struct gk_vcpu *v = &vcpus[i];
        if (load_state(v) != GK_VCPU_FREE && lo < v->stack_hi && v->stack_lo < hi)
            return true;
    }
    return false;
}

int64_t gk_vcpu_start(unsigned id, gk_vcpu_fn fn, void *arg, void *stack, size_t stack_size)
{
    uint64_t lo = (uint64_t)(uintptr_t)stack;
    if (id == 0 || id >= GK_VCPU_MAX || fn == NULL || stack == NULL ||
        stack_size < GK_VCPU_STACK_MIN || stack_size > HV_GUEST_VA_LIMIT ||
        lo > HV_GUEST_VA_LIMIT - stack_size)
        return HV_EINVAL;
    uint64_t hi = lo + stack_size;
    struct gk_vcpu *v = &vcpus[id];
    /* A record left STOPPED by a finished VCPU that nobody joined is free
     * to take once the hypervisor has stopped the VCPU: VCPU_START then
     * succeeds; while it has not, VCPU_START says HV_EEXIST and we retry. */
    uint32_t expect = GK_VCPU_STOPPED;
    __atomic_compare_exchange_n(&v->state, &expect, GK_VCPU_FREE, false, __ATOMIC_ACQ_REL,
                                __ATOMIC_ACQUIRE);
    if (load_state(v) != GK_VCPU_FREE)
        return HV_EEXIST;
    /* The range check and the claim are not one atomic step: starts of
     * different VCPUs with overlapping stacks from two VCPUs at once are
     * the caller's bug, and at worst both run on the same stack. */
    if (overlaps(lo, hi))
        return HV_EINVAL;
    v->id = id;
    v->stack_lo = lo;
    v->stack_hi = hi;
    v->fn = fn;
    v->arg = arg;
    v->local = NULL;
    v->mask_ptr = &gk_shared_info()->vcpu_info[id].upcall_mask;
    v->stop = (struct hv_domctl_vcpu_start){.dom_slot = HV_CAP_SLOT_SELF, .vcpu = id};
    __atomic_store_n(&any_started, true, __ATOMIC_RELEASE);
    expect = GK_VCPU_FREE;
    if (!__atomic_compare_exchange_n(&v->state, &expect, GK_VCPU_STARTING, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return HV_EEXIST;

    /* The entry stub aligns rsp itself; the top is the end of the range. */
    struct hv_domctl_vcpu_start a = {.dom_slot = HV_CAP_SLOT_SELF,
                                     .vcpu = id,
                                     .rip = (uint64_t)(uintptr_t)gk_vcpu_entry,
                                     .rsp = hi & ~15ull,
                                     .arg = (uint64_t)(uintptr_t)v};
    int64_t rc = HV_EEXIST;
    /* HV_EEXIST right after a stop: the hypervisor retires a stopped VCPU
     * once it is off the CPU. Give it a few chances. */
    for (unsigned tries = 0; tries < 1000u && rc == HV_EEXIST; tries++) {
        rc = gk_hc_domain_op(HV_DOMCTL_VCPU_START, &a);
        if (rc == HV_EEXIST)
            gk_hc_yield();
    }
    if (rc != HV_OK)
        __atomic_store_n(&v->state, GK_VCPU_FREE, __ATOMIC_RELEASE);
    return rc;
}

struct hv_domctl_vcpu_start *gk_vcpu_main(struct gk_vcpu *v)
{
    /* rdi is what gk_vcpu_start passed; a domain's own code could start a
     * VCPU at gk_vcpu_entry with anything, so check it names a record. */
    uintptr_t p = (uintptr_t)v, base = (uintptr_t)vcpus;
    if (p < base + sizeof(vcpus[0]) || p >= base + sizeof(vcpus) ||
        (p - base) % sizeof(vcpus[0]) != 0 || load_state(v) != GK_VCPU_STARTING)
        gk_panic("gk_vcpu_entry: entered with %#lx, not a VCPU being started", (unsigned long)p);
    /* A VCPU starts with upcalls masked, also when started again: let its
     * gk_events_init_vcpu unmask them. */
    gk_events_vcpu_reset(v->id);
    __atomic_store_n(&v->state, GK_VCPU_RUNNING, __ATOMIC_RELEASE);
    v->fn(v->arg);
    gk_console_flush();
    /* Masked from here on: no upcall may run on this stack once the entry
     * stub has marked it STOPPED. */
    gk_events_disable();
    return &v->stop;
}

int64_t gk_vcpu_join(unsigned id)
{
    if (id == 0 || id >= GK_VCPU_MAX)
        return HV_EINVAL;
    struct gk_vcpu *v = &vcpus[id];
    for (;;) {
        uint32_t s = load_state(v);
        if (s == GK_VCPU_FREE)
            return HV_ENOENT;
        if (s == GK_VCPU_STOPPED)
            break;
        gk_hc_yield();
    }
    /* STOPPED is stored just before the stop hypercall; VCPU_START's
     * HV_EEXIST retry in gk_vcpu_start covers the rest of that window. */
    uint32_t expect = GK_VCPU_STOPPED;
    __atomic_compare_exchange_n(&v->state, &expect, GK_VCPU_FREE, false, __ATOMIC_ACQ_REL,
                                __ATOMIC_ACQUIRE);
    return HV_OK;
}

void *gk_vcpu_local(void)
{
    unsigned id = gk_vcpu_id();
    return id == 0 ? vcpu0_local : vcpus[id].local;
}

void gk_vcpu_set_local(void *p)
{
    unsigned id = gk_vcpu_id();
    if (id == 0)
        vcpu0_local = p;
    else
        vcpus[id].local = p;
}

unsigned gk_vcpu_count(void)
{
    struct hv_domctl_info info = {.dom_slot = HV_CAP_SLOT_SELF};
    if (gk_hc_domain_op(HV_DOMCTL_INFO, &info) != HV_OK || info.vcpus == 0)
        return 1;
    return info.vcpus;
}

int64_t gk_ipi_bind(unsigned vcpu, uint32_t *port)
{
    return gk_evtchn_bind_ipi(vcpu, port);
}

int64_t gk_ipi_send(uint32_t port)
{
    return gk_evtchn_send(port);
}

int64_t gk_evtchn_bind_vcpu(uint32_t port, unsigned vcpu)
{
    struct hv_evtchn_port_args a = {.port = port, .vcpu = vcpu};
    return gk_hc_evtchn_op(HV_EVTCHN_BIND_VCPU, &a);
}
