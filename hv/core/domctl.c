/*
 * HC_DOMAIN_OP: creating a domain and giving it memory, page tables and
 * VCPUs (what a domain builder does, see proto/include/hv/domctl.h),
 * pausing, destroying and describing it. Every operation names the domain
 * by a capability in the caller's table; there is no privileged domain id.
 *
 * The hypervisor never parses the new domain's image: the builder fills
 * frames it owns, gives them away (ownership checks as for giving a frame
 * back), and the new domain's page tables are validated as the new
 * domain's, by the same rules as every other page-table update.
 */
#include <string.h>

#include "arch.h"
#include "domain.h"
#include "schedule.h"
#include "dom_teardown.h"
#include "objects.h"
#include "pci.h"
#include "frame.h"
#include "hypercall.h"
#include "log.h"
#include "mm_hooks.h"
#include "mm_hv.h"
#include "pmm.h"
#include "pt.h"

/* Frames moved per ASSIGN step before the call restarts itself. */
#define ASSIGN_STEP 256u

void vcpu_update_runnable(struct vcpu *v)
{
    struct domain *d = v->dom;
    if (!v->online)
        return;
    if (!v->waiting_event && !d->paused && d->state == DOMAIN_RUNNING)
        vcpu_wake(v);
    else
        vcpu_block(v);
}

/* The domain named by slot of d's table, with every bit of rights. */
static enum hv_status target_of(struct domain *d, uint32_t slot, uint32_t rights,
                                struct domain **out)
{
    struct cap *c;
    if (slot == HV_CAP_SLOT_SELF) {
        *out = d;
        return HV_OK;
    }
    enum hv_status st = cap_lookup(&d->caps, slot, HV_CAP_DOMAIN, rights, &c);
    if (st != HV_OK)
        return st;
    struct domain *t = container_of(c->obj, struct domain, obj);
    if (!domain_live(t))
        return HV_ENOENT;
    *out = t;
    return HV_OK;
}

/*
 * The VCPU `vcpu` named by slot: a domain capability with dom_rights (the
 * VCPU of that domain), or a VCPU capability with vcpu_rights for exactly
 * that VCPU (HV_EPERM for another VCPU). HV_EINVAL: vcpu out of range.
 */
static enum hv_status vcpu_target_of(struct domain *d, uint32_t slot, uint32_t vcpu,
                                     uint32_t dom_rights, uint32_t vcpu_rights,
                                     struct domain **dom_out)
{
    if (slot != HV_CAP_SLOT_SELF && slot < HV_CAP_SLOTS && d->caps.slots[slot].obj &&
        d->caps.slots[slot].type == HV_CAP_VCPU) {
        struct cap *c;
        enum hv_status st = cap_lookup(&d->caps, slot, HV_CAP_VCPU, vcpu_rights, &c);
        if (st != HV_OK)
            return st;
        struct vcpu *v = container_of(c->obj, struct vcpu, obj);
        struct domain *t = v->dom;
        if (!domain_live(t))
            return HV_ENOENT;
        if (vcpu >= t->max_vcpus)
            return HV_EINVAL;
        if (&t->vcpus[vcpu] != v)
            return HV_EPERM; /* a capability to another VCPU */
        *dom_out = t;
        return HV_OK;
    }
    enum hv_status st = target_of(d, slot, dom_rights, dom_out);
    if (st != HV_OK)
        return st;
    return vcpu < (*dom_out)->max_vcpus ? HV_OK : HV_EINVAL;
}

static int64_t domctl_vcpu_cap(struct domain *d, struct hypercall *c, void *rec)
{
    struct hv_domctl_vcpu_cap *a = rec;
    struct domain *t;
    enum hv_status st = target_of(d, a->dom_slot, HV_CAP_R_DOM_CONTROL, &t);
    if (st != HV_OK)
        return st;
    if (a->vcpu >= t->max_vcpus || (a->rights & ~(HV_CAP_R_VCPU_ALL | HV_CAP_R_GRANT)) ||
        a->dst_slot >= HV_CAP_SLOTS)
        return HV_EINVAL;
    if (d->caps.slots[a->dst_slot].obj)
        return HV_EEXIST;
    return cap_insert_root(&d->caps, a->dst_slot, &t->vcpus[a->vcpu].obj, a->rights, 0, 0);
}

static bool name_ok(const char *name)
{
    size_t n = 0;
    while (n < HV_DOMAIN_NAME_MAX && name[n]) {
        if (name[n] < 0x20 || name[n] > 0x7e)
            return false;
        n++;
    }
    return n > 0 && n < HV_DOMAIN_NAME_MAX;
}

static bool slot_free(const struct domain *d, uint32_t slot)
{
    return d->caps.slots[slot].obj == NULL;
}

static int64_t domctl_create(struct domain *d, struct hypercall *c, void *rec)
{
    struct hv_domctl_create *a = rec;
    struct cap *mem;
    enum hv_status st =
        cap_lookup(&d->caps, a->mem_slot, HV_CAP_MEMORY, HV_CAP_R_MEM_CREATE_DOMAIN, &mem);
    if (st != HV_OK)
        return st;
    if (a->reserved != 0 || a->vcpus == 0 || a->vcpus > VCPU_MAX || a->max_pages == 0 ||
        !name_ok(a->name))
        return HV_EINVAL;
    if (a->dom_slot >= HV_CAP_SLOTS || a->console_slot >= HV_CAP_SLOTS ||
        a->dom_slot == a->console_slot)
        return HV_EINVAL;
    if (!slot_free(d, a->dom_slot) || !slot_free(d, a->console_slot))
        return HV_EEXIST;
    if (d->max_pages < d->pages_count || a->max_pages > d->max_pages - d->pages_count)
        return HV_ENOMEM; /* beyond the creator's own headroom */
    struct domain *nd = domain_alloc();
    if (!nd)
        return HV_ENOMEM;

    nd->l4 = INVALID_MFN;
    nd->max_pages = a->max_pages;
    nd->max_vcpus = a->vcpus;
    memcpy(nd->name, a->name, HV_DOMAIN_NAME_MAX);
    nd->name[HV_DOMAIN_NAME_MAX - 1] = 0;
    mm_domain_init(&nd->mm, nd->id);
    mfn_t si = domain_alloc_frame(nd, mm_hv_pool());
    if (mfn_x(si) == mfn_x(INVALID_MFN)) {
        nd->state = DOMAIN_FREE;
        return HV_ENOMEM;
    }
    if (pt_type_get(nd->id, si, FRAME_TYPE_WRITABLE) != HV_OK)
        panic("domctl: could not hold d%u's shared-info frame", nd->id);
    nd->shared_info_mfn = si;
    nd->shared = arch_frame_va(si);
    domain_objects_init(nd);
    nd->creator_uid = d->uid;
    nd->quota_pages = a->max_pages;
    d->max_pages -= a->max_pages;
    if (cap_insert_root(&d->caps, a->dom_slot, &nd->obj, HV_CAP_R_DOM_ALL | HV_CAP_R_GRANT, 0, 0) !=
            HV_OK ||
        cap_insert_root(&d->caps, a->console_slot, &nd->console_obj,
                        HV_CAP_R_CON_ALL | HV_CAP_R_GRANT, 0, 0) != HV_OK)
        panic("domctl: checked capability slots refused");
    log_info("d%u (%s): created by d%u: max %llu KiB, %u VCPUs", nd->id, nd->name, d->id,
             (unsigned long long)(a->max_pages << 2), a->vcpus);
    a->domid = nd->id;
    a->shared_info_mfn = mfn_x(si);
    return HV_OK;
}

/* Writes back only done, after every step (not the whole record). */
static int64_t domctl_assign(struct domain *d, struct hypercall *c, void *rec)
{
    struct hv_domctl_assign *a = rec;
    uint64_t done_va = c->arg[1] + offsetof(struct hv_domctl_assign, done);
    if (hypercall_probe_out(done_va, &a->done, sizeof(a->done)) != HV_OK)
        return HV_EFAULT;
    struct domain *t;
    enum hv_status st = target_of(d, a->dom_slot, HV_CAP_R_DOM_BUILD, &t);
    if (st != HV_OK)
        return st;
    if (t == d || a->count == 0 || a->count > HV_DOMCTL_ASSIGN_MAX || a->done >= a->count)
        return HV_EINVAL;
    if (t->state != DOMAIN_BUILDING)
        return HV_EBUSY;

    int64_t rc = HV_OK;
    uint32_t steps = 0;
    bool moved = false;
    while (a->done < a->count) {
        if (steps++ == ASSIGN_STEP) {
            rc = HV_EAGAIN;
            break;
        }
        struct hv_domctl_frame f;
        if (arch_copy_from_guest(&f, gva(a->list + a->done * sizeof(f)), sizeof(f)) != HV_OK) {
            rc = HV_EFAULT;
            break;
        }
        if (f.mfn >= mm_hv_frames_count()) {
            rc = HV_ERANGE;
            break;
        }
        if (f.pfn >= t->max_pages) {
            rc = HV_EINVAL;
            break;
        }
        if (f.mfn == mfn_x(t->shared_info_mfn)) {
            frame_m2p_set(mfn(f.mfn), f.pfn); /* already the new domain's */
            a->done++;
            continue;
        }
        if (t->pages_count >= t->max_pages) {
            rc = HV_ENOMEM;
            break;
        }
        int r = frame_transfer(mfn(f.mfn), d->id, t->id);
        if (r != HV_OK) {
            rc = r;
            break;
        }
        frame_m2p_set(mfn(f.mfn), f.pfn);
        d->pages_count--;
        t->pages_count++;
        moved = true;
        a->done++;
    }
    /* The builder's CPUs may still translate frames it gave away. */
    if (moved)
        mm_tlb_flush_cpus(schedule_cpus_running(d));
    if (arch_copy_to_guest(gva(done_va), &a->done, sizeof(a->done)) != HV_OK)
        return HV_EFAULT; /* probed above: only if the probe's premise broke */
    if (rc == HV_EAGAIN) {
        return hypercall_restart(c); /* after the scheduler had a chance */
    }
    return rc;
}

static int64_t domctl_set_base(struct domain *d, struct hypercall *c, void *rec)
{
    struct hv_domctl_set_base *a = rec;
    struct domain *t;
    enum hv_status st = target_of(d, a->dom_slot, HV_CAP_R_DOM_BUILD, &t);
    if (st != HV_OK)
        return st;
    if (t == d || a->reserved != 0)
        return HV_EINVAL;
    if (t->state != DOMAIN_BUILDING)
        return HV_EBUSY;
    if (mfn_x(t->l4) != mfn_x(INVALID_MFN))
        return HV_EEXIST;
    const struct frame *f = frame_get(mfn(a->l4_mfn));
    if (!f)
        return HV_ERANGE;
    if (f->owner != t->id)
        return HV_EPERM;
    int rc = mm_pin(&t->mm, mfn(a->l4_mfn), 4);
    if (rc == HV_EAGAIN) {
        return hypercall_restart(c);
    }
    if (rc != HV_OK)
        return rc;
    rc = mm_new_baseptr(&t->mm, mfn(a->l4_mfn));
    if (rc != HV_OK) {
        mm_unpin(&t->mm, mfn(a->l4_mfn));
        return rc;
    }
    t->l4 = mfn(a->l4_mfn);
    return HV_OK;
}

static int64_t domctl_vcpu_start(struct domain *d, struct hypercall *c, void *rec)
{
    struct hv_domctl_vcpu_start *a = rec;
    struct domain *t;
    enum hv_status st =
        vcpu_target_of(d, a->dom_slot, a->vcpu, HV_CAP_R_DOM_CONTROL, HV_CAP_R_VCPU_CONTROL, &t);
    if (st != HV_OK)
        return st;
    if (a->rip >= HV_GUEST_VA_LIMIT || a->rsp >= HV_GUEST_VA_LIMIT)
        return HV_EINVAL;
    if (t->state != DOMAIN_BUILDING && t->state != DOMAIN_RUNNING)
        return HV_EBUSY;
    if (mfn_x(t->l4) == mfn_x(INVALID_MFN))
        return HV_EINVAL; /* no base yet */
    if (t->vcpus[a->vcpu].online)
        return HV_EEXIST;
    int rc = vcpu_init(t, a->vcpu, a->rip, a->rsp, a->arg);
    if (rc != HV_OK)
        return rc;
    if (t->state == DOMAIN_BUILDING) {
        t->state = DOMAIN_RUNNING;
        log_info("d%u (%s): started by d%u at %#llx", t->id, t->name, d->id,
                 (unsigned long long)a->rip);
    }
    vcpu_update_runnable(&t->vcpus[a->vcpu]);
    return HV_OK;
}

static int64_t domctl_vcpu_stop(struct domain *d, struct hypercall *c, void *rec)
{
    struct hv_domctl_vcpu_start *a = rec;
    struct domain *t;
    enum hv_status st =
        vcpu_target_of(d, a->dom_slot, a->vcpu, HV_CAP_R_DOM_CONTROL, HV_CAP_R_VCPU_CONTROL, &t);
    if (st != HV_OK)
        return st;
    if (a->rip != 0 || a->rsp != 0 || a->arg != 0)
        return HV_EINVAL;
    if (t->state != DOMAIN_RUNNING)
        return HV_EBUSY;
    struct vcpu *v = &t->vcpus[a->vcpu];
    if (!v->online)
        return HV_ENOENT;
    unsigned online = 0;
    for (unsigned i = 0; i < VCPU_MAX; i++)
        online += t->vcpus[i].online;
    if (online == 1)
        return HV_EBUSY; /* the last one: HC_SHUTDOWN ends a domain */
    log_debug("d%u (%s): VCPU %u stopped by d%u", t->id, t->name, a->vcpu, d->id);
    vcpu_stop(v);
    return HV_OK;
}

static int64_t domctl_sched(struct domain *d, struct hypercall *c, void *rec)
{
    struct hv_domctl_sched *a = rec;
    struct domain *t;
    bool set = c->arg[0] == HV_DOMCTL_SCHED_SET;
    enum hv_status st =
        target_of(d, a->dom_slot, set ? HV_CAP_R_DOM_CONTROL : HV_CAP_R_DOM_STATE, &t);
    if (st != HV_OK)
        return st;
    if (set) {
        if (a->gang > 1)
            return HV_EINVAL;
        struct sched_domain_params p = {
            .weight = a->weight, .cap_pct = a->cap_pct, .gang = a->gang != 0};
        return schedule_set_params(t, &p);
    }
    struct sched_domain_params p;
    schedule_get_params(t, &p);
    a->weight = p.weight;
    a->cap_pct = p.cap_pct;
    a->gang = p.gang;
    return HV_OK;
}

static int64_t domctl_vcpu_pin(struct domain *d, struct hypercall *c, void *rec)
{
    struct hv_domctl_vcpu_pin *a = rec;
    struct domain *t;
    enum hv_status st =
        vcpu_target_of(d, a->dom_slot, a->vcpu, HV_CAP_R_DOM_CONTROL, HV_CAP_R_VCPU_CONTROL, &t);
    if (st != HV_OK)
        return st;
    return schedule_pin(&t->vcpus[a->vcpu], a->cpu_mask);
}

static int64_t domctl_vcpu_info(struct domain *d, struct hypercall *c, void *rec)
{
    struct hv_domctl_vcpu_info *a = rec;
    struct domain *t;
    enum hv_status st =
        vcpu_target_of(d, a->dom_slot, a->vcpu, HV_CAP_R_DOM_STATE, HV_CAP_R_VCPU_STATE, &t);
    if (st != HV_OK)
        return st;
    schedule_vcpu_info(&t->vcpus[a->vcpu], a);
    return HV_OK;
}

static int64_t domctl_host_info(struct domain *d, struct hypercall *c, void *rec)
{
    struct hv_host_info *a = rec;
    struct cap *mem;
    enum hv_status st = cap_lookup(&d->caps, a->slot, HV_CAP_MEMORY, 0, &mem);
    if (st != HV_OK)
        return st;
    uint32_t slot = a->slot;
    memset(a, 0, sizeof(*a));
    a->slot = slot;
    a->cpus = schedule_cpu_count();
    a->tsc_hz = arch_tsc_hz();
    a->frames_total = mm_hv_frames_count();
    a->frames_free = pmm_free_count(mm_hv_pool());
    a->iommu = pci_dev_iommu_kind();
    for (unsigned i = 0; i < a->cpus && i < HV_HOST_CPUS_MAX; i++) {
        const struct arch_cpu_topo *tp = arch_cpu_topology(i);
        a->cpu[i].package_id = tp->package_id;
        a->cpu[i].core_id = tp->core_id;
        a->cpu[i].thread_id = tp->thread_id;
        a->cpu[i].apic_id = tp->apic_id;
    }
    return HV_OK;
}

static int64_t domctl_shutdown_request(struct domain *d, struct hypercall *c, void *rec)
{
    struct hv_domctl_shutdown_request *a = rec;
    struct domain *t;
    enum hv_status st = target_of(d, a->dom_slot, HV_CAP_R_DOM_CONTROL, &t);
    if (st != HV_OK)
        return st;
    if (t == d || a->reason > HV_SHUTDOWN_REBOOT)
        return HV_EINVAL;
    if (t->state != DOMAIN_RUNNING)
        return HV_EBUSY;
    t->shutdown_request = a->reason + 1;
    log_info("d%u (%s): asked to shut down by d%u", t->id, t->name, d->id);
    evtchn_raise_virq(&t->ev, HV_VIRQ_SHUTDOWN, 0);
    return HV_OK;
}

static int64_t domctl_simple(struct domain *d, struct hypercall *c, void *rec)
{
    struct hv_domctl_dom *a = rec;
    struct domain *t;
    enum hv_status st = target_of(d, a->dom_slot, HV_CAP_R_DOM_CONTROL, &t);
    if (st != HV_OK)
        return st;
    if (t == d || a->reserved != 0)
        return HV_EINVAL; /* a domain stops itself with HC_SHUTDOWN */
    if (t->is_root)
        return HV_EPERM;
    switch (c->arg[0]) {
    case HV_DOMCTL_PAUSE:
    case HV_DOMCTL_UNPAUSE: {
        bool pause = c->arg[0] == HV_DOMCTL_PAUSE;
        if (t->state != DOMAIN_RUNNING)
            return HV_EBUSY;
        if (t->paused == pause)
            return HV_OK;
        t->paused = pause;
        for (unsigned i = 0; i < VCPU_MAX; i++)
            vcpu_update_runnable(&t->vcpus[i]);
        log_info("d%u (%s): %s by d%u", t->id, t->name, pause ? "paused" : "unpaused", d->id);
        domain_notify_state(t);
        return HV_OK;
    }
    default: /* HV_DOMCTL_DESTROY */
        log_info("d%u (%s): destroyed by d%u", t->id, t->name, d->id);
        /* d's next hypercalls finish the teardown first (no owed work is
         * pending here: this call began by finishing it). */
        d->owed_teardown_uid = t->uid;
        domain_destroy_dead(t);
        return HV_OK;
    }
}

static int64_t domctl_info(struct domain *d, struct hypercall *c, void *rec)
{
    struct hv_domctl_info *a = rec;
    struct domain *t;
    enum hv_status st = target_of(d, a->dom_slot, HV_CAP_R_DOM_STATE, &t);
    if (st != HV_OK)
        return st;
    uint32_t slot = a->dom_slot;
    memset(a, 0, sizeof(*a));
    a->dom_slot = slot;
    a->domid = t->id;
    switch (t->state) {
    case DOMAIN_BUILDING: a->state = HV_DOMSTATE_BUILDING; break;
    case DOMAIN_RUNNING: a->state = t->paused ? HV_DOMSTATE_PAUSED : HV_DOMSTATE_RUNNING; break;
    default: a->state = HV_DOMSTATE_SHUTDOWN; break;
    }
    a->shutdown_reason = t->state == DOMAIN_SHUTDOWN ? t->shutdown_reason : 0;
    a->vcpus = t->max_vcpus;
    a->shutdown_request = t->shutdown_request;
    a->pages = t->pages_count;
    a->max_pages = t->max_pages;
    a->events_sent = __atomic_load_n(&t->ev.sent_count, __ATOMIC_RELAXED);
    a->events_delivered = __atomic_load_n(&t->ev.delivered_count, __ATOMIC_RELAXED);
    a->dma_faults = t->iommu.faults;
    for (unsigned i = 0; i < VCPU_MAX; i++)
        a->cpu_time_ns += t->vcpus[i].cpu_time_ns;
    return HV_OK;
}

static const struct hc_cmd domctl_cmds[] = {
    [HV_DOMCTL_CREATE] = HC_REC(domctl_create, struct hv_domctl_create, HC_REC_OUT),
    [HV_DOMCTL_ASSIGN] = HC_REC(domctl_assign, struct hv_domctl_assign, 0),
    [HV_DOMCTL_SET_BASE] = HC_REC(domctl_set_base, struct hv_domctl_set_base, 0),
    [HV_DOMCTL_VCPU_START] = HC_REC(domctl_vcpu_start, struct hv_domctl_vcpu_start, 0),
    [HV_DOMCTL_PAUSE] = HC_REC(domctl_simple, struct hv_domctl_dom, 0),
    [HV_DOMCTL_UNPAUSE] = HC_REC(domctl_simple, struct hv_domctl_dom, 0),
    [HV_DOMCTL_DESTROY] = HC_REC(domctl_simple, struct hv_domctl_dom, 0),
    [HV_DOMCTL_INFO] = HC_REC(domctl_info, struct hv_domctl_info, HC_REC_OUT),
    [HV_DOMCTL_VCPU_STOP] = HC_REC(domctl_vcpu_stop, struct hv_domctl_vcpu_start, 0),
    [HV_DOMCTL_SCHED_SET] = HC_REC(domctl_sched, struct hv_domctl_sched, 0),
    [HV_DOMCTL_SCHED_GET] = HC_REC(domctl_sched, struct hv_domctl_sched, HC_REC_OUT),
    [HV_DOMCTL_VCPU_PIN] = HC_REC(domctl_vcpu_pin, struct hv_domctl_vcpu_pin, 0),
    [HV_DOMCTL_VCPU_INFO] = HC_REC(domctl_vcpu_info, struct hv_domctl_vcpu_info, HC_REC_OUT),
    [HV_DOMCTL_HOST_INFO] = HC_REC(domctl_host_info, struct hv_host_info, HC_REC_OUT),
    [HV_DOMCTL_SHUTDOWN_REQUEST] =
        HC_REC(domctl_shutdown_request, struct hv_domctl_shutdown_request, 0),
    [HV_DOMCTL_VCPU_CAP] = HC_REC(domctl_vcpu_cap, struct hv_domctl_vcpu_cap, 0),
};

int64_t hc_domain_op(struct domain *d, struct hypercall *c)
{
    return hypercall_cmd(d, c, domctl_cmds, ARRAY_SIZE(domctl_cmds));
}
