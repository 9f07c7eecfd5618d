/*
 * The core objects of a domain wired into the hypervisor: its capability
 * table, event channels and grant table (the logic is in cap.c, evtchn.c
 * and hv/mm/grant*.c, host-tested from the same source), the hooks that
 * logic calls, the boot capabilities of the root, and the hypercalls
 * HC_CAP_OP, HC_EVTCHN_OP and HC_GRANT_OP.
 *
 * The hypercalls' argument structs are copied in, and back out on success,
 * by hypercall_cmd (hypercall.c) from the tables here; the logic checks
 * everything before it changes anything (decode, then invoke). A bad
 * pointer is HV_EFAULT with nothing changed: a command with an output has
 * its struct proven writable first, so a read-only argument page gets
 * HV_EFAULT and no port, grant or capability was made.
 *
 * Locking: every hypercall runs under the hypervisor lock (hv_lock,
 * docs/smp.md); cap.c, evtchn.c and mm take none of their own.
 */
#include <string.h>

#include "arch.h"
#include "domain.h"
#include "schedule.h"
#include "dom_teardown.h"
#include "objects.h"
#include "upcall.h"
#include "hypercall.h"
#include "log.h"
#include "mm_hooks.h"
#include "mm_hv.h"
#include "pci.h"
#include "pmm.h"
#include "test_op.h"

static struct evtchn_pirq_table pirq_table;
static uint64_t next_uid = 1;
static bool deferred_pending; /* a domain waits for destroy or reaping */
static bool cycles_pending;   /* a domain capability went: look for cycles nobody names */

static struct domain *domain_of_obj(struct cap_object *obj)
{
    if (obj == NULL || obj->type != HV_CAP_DOMAIN)
        return NULL;
    return container_of(obj, struct domain, obj);
}

bool domain_live(const struct domain *d)
{
    return d->state == DOMAIN_BUILDING || d->state == DOMAIN_RUNNING || d->state == DOMAIN_SHUTDOWN;
}

void domain_objects_init(struct domain *d)
{
    static bool pirqs_ready;
    if (!pirqs_ready) {
        evtchn_pirq_table_init(&pirq_table);
        pirqs_ready = true;
    }
    BUG_ON(d->shared == NULL);
    d->uid = next_uid++;
    cap_object_init(&d->obj, HV_CAP_DOMAIN);
    cap_object_init(&d->console_obj, HV_CAP_CONSOLE);
    /* Every VCPU knows its domain from the start, not only once it runs: a
     * VCPU capability (HV_DOMCTL_VCPU_CAP) may name one that never ran. */
    for (unsigned i = 0; i < VCPU_MAX; i++) {
        d->vcpus[i].dom = d;
        d->vcpus[i].id = i;
        cap_object_init(&d->vcpus[i].obj, HV_CAP_VCPU);
    }
    for (unsigned i = 0; i < HV_EVTCHN_PORTS; i++)
        cap_object_init(&d->endpoint_obj[i], HV_CAP_EVTCHN);
    cap_table_init(&d->caps);
    /* The domain's own VCPU count, not the table size: every VCPU number a
     * guest names (BIND_VIRQ, BIND_IPI, BIND_VCPU) is checked against it. */
    BUG_ON(d->max_vcpus == 0 || d->max_vcpus > VCPU_MAX);
    if (evtchn_domain_init(&d->ev, d->uid, d->shared, &d->caps, &pirq_table, d->max_vcpus) != HV_OK)
        panic("d%u: event-channel state refused", d->id);
    if (grant_table_init(&d->gt, d->uid, d->id) != HV_OK)
        panic("d%u: grant table refused", d->id);
    memset(&d->con.out, 0, sizeof(d->con.out));
    memset(&d->con.in, 0, sizeof(d->con.in));
    d->con.watcher_uid = 0;
    domain_wallclock_init(d);
}

void domain_ports_teardown(struct domain *d)
{
    if (d->uid == 0)
        return;             /* a refused build never got its objects */
    pci_dev_domain_gone(d); /* its devices stop: no DMA into frames about to be freed */
    evtchn_domain_teardown(&d->ev);
}

/* The objects capabilities may name, in the order they are cleared:
 * the domain, its console, its VCPUs, its endpoints; then its own table. */
#define TD_OBJ_VCPU0 2u
#define TD_OBJ_ENDPOINT0 (TD_OBJ_VCPU0 + VCPU_MAX)
#define TD_OBJ_TABLE (TD_OBJ_ENDPOINT0 + HV_EVTCHN_PORTS)

static struct cap_object *td_object(struct domain *d, uint32_t i)
{
    if (i == 0)
        return &d->obj;
    if (i == 1)
        return &d->console_obj;
    if (i < TD_OBJ_ENDPOINT0)
        return &d->vcpus[i - TD_OBJ_VCPU0].obj;
    return &d->endpoint_obj[i - TD_OBJ_ENDPOINT0];
}

bool domain_caps_teardown(struct domain *d, uint32_t *budget)
{
    if (d->uid == 0)
        return true;
    for (; d->td_index < TD_OBJ_TABLE; d->td_index++)
        if (cap_object_clear_some(td_object(d, d->td_index), budget) == HV_EAGAIN)
            return false;
    return cap_table_clear_some(&d->caps, budget) == HV_OK;
}

struct domain *domain_by_uid(uint64_t uid)
{
    if (uid == 0)
        return NULL;
    for (unsigned i = 0; i < DOMAIN_MAX; i++) {
        struct domain *d = domain_at(i);
        if (d && d->uid == uid && domain_live(d))
            return d;
    }
    return NULL;
}

void domain_root_caps(struct domain *root)
{
    struct {
        uint32_t slot;
        struct cap_object *obj;
        uint32_t rights;
        uint64_t base, count;
    } boot[] = {
        {HV_ROOT_SLOT_SELF, &root->obj, HV_CAP_R_DOM_ALL | HV_CAP_R_GRANT, 0, 0},
        {HV_ROOT_SLOT_CONSOLE, &root->console_obj, HV_CAP_R_CON_ALL | HV_CAP_R_GRANT, 0, 0},
    };
    static struct cap_object memory_obj, ioport_obj, irq_obj, mmio_obj;
    cap_object_init(&memory_obj, HV_CAP_MEMORY);
    cap_object_init(&ioport_obj, HV_CAP_IOPORT);
    cap_object_init(&irq_obj, HV_CAP_IRQ);
    cap_object_init(&mmio_obj, HV_CAP_MMIO);

    for (size_t i = 0; i < sizeof(boot) / sizeof(boot[0]); i++)
        if (cap_insert_root(&root->caps, boot[i].slot, boot[i].obj, boot[i].rights, boot[i].base,
                            boot[i].count) != HV_OK)
            panic("boot: capability slot %u refused", boot[i].slot);
    /* The memory quota is the root's reservation limit: every free frame. */
    if (cap_insert_root(&root->caps, HV_ROOT_SLOT_MEMORY, &memory_obj,
                        HV_CAP_R_MEM_ALL | HV_CAP_R_GRANT, 0, 0) != HV_OK ||
        cap_insert_root(&root->caps, HV_ROOT_SLOT_IOPORT, &ioport_obj,
                        HV_CAP_R_IO_ALL | HV_CAP_R_GRANT, 0, 0x10000) != HV_OK ||
        cap_insert_root(&root->caps, HV_ROOT_SLOT_IRQ, &irq_obj, HV_CAP_R_IRQ_ALL | HV_CAP_R_GRANT,
                        0, arch_irq_lines()) != HV_OK)
        panic("boot: device capabilities refused");
    /* Slot 5, MMIO: frames 3 GiB up to the I/O APIC at 0xfec00000, the
     * classic 32-bit PCI hole without the interrupt controllers, HPET and
     * firmware above it (docs/devices.md). Frames inside the frame table
     * (RAM) stay unmappable through it (pt.c, rule R3a). */
    uint64_t hole = 0xc0000;
    if (cap_insert_root(&root->caps, HV_ROOT_SLOT_MMIO, &mmio_obj,
                        HV_CAP_R_MMIO_ALL | HV_CAP_R_GRANT, hole, 0xfec00 - hole) != HV_OK)
        panic("boot: MMIO capability refused");
    /* Every PCI function and its memory BARs, from HV_ROOT_SLOT_DEVICE_FIRST. */
    uint32_t devices = pci_root_caps(&root->caps, HV_ROOT_SLOT_DEVICE_FIRST);
    log_info("d%u: boot capabilities: self, memory (%llu frames), console, I/O ports, IRQs, "
             "MMIO frames %#llx-%#llx, %u device capabilities from slot %u",
             root->id, (unsigned long long)root->max_pages, (unsigned long long)hole,
             (unsigned long long)0xfebff, devices, HV_ROOT_SLOT_DEVICE_FIRST);
}

/* --- hooks of cap.c ------------------------------------------------------ */

void cap_object_unreferenced(struct cap_object *obj)
{
    struct domain *d = domain_of_obj(obj);
    if (d && !d->is_root && domain_live(d))
        domain_destroy_later(d); /* nobody can name it any more */
}

/* The domain whose table holds the slot c, or NULL. */
static struct domain *holder_of(const struct cap *c)
{
    for (unsigned i = 0; i < DOMAIN_MAX; i++) {
        struct domain *d = domain_at(i);
        if (d && c >= &d->caps.slots[0] && c < &d->caps.slots[HV_CAP_SLOTS])
            return d;
    }
    return NULL;
}

/*
 * Revocation takes effect at once for device memory too: before an MMIO
 * capability of a live holder goes, the device mappings the holder made
 * that no other of its capabilities covers are taken out of its page tables
 * (and the TLBs of the CPUs running it flushed). That sweep looks at the
 * whole frame table and the holder's L1 tables, so it is done in bounded
 * steps (mm_io_sweep_step, one a call), the call that removes the
 * capability restarting until it is finished: the capability is marked
 * DYING at the first step (it covers nothing and cannot be copied any
 * more) and goes when the sweep is done. One sweep per holder at a time;
 * a removal that finds another under way takes a step of it first.
 */
bool cap_hook_may_remove(struct cap *c, uint32_t *budget)
{
    if (c->type != HV_CAP_MMIO || (c->flags & CAP_F_SWEPT))
        return true;
    struct domain *h = holder_of(c);
    if (!h || !domain_live(h))
        return true; /* its page tables are being torn down anyway */
    if (*budget == 0)
        return false;
    *budget = 0; /* a step is a call's work */
    if (h->io_sweep == NULL) {
        h->io_sweep = c;
        h->io_sweep_cursor = 0;
        c->flags |= CAP_F_DYING;
    }
    struct cap *s = h->io_sweep;
    unsigned cleared = 0;
    bool done = mm_io_sweep_step(h->id, s->base, s->count, &h->io_sweep_cursor, MM_IO_SWEEP_BUDGET,
                                 &cleared);
    if (cleared) {
        mm_tlb_flush_cpus(schedule_cpus_running(h));
        log_debug("d%u (%s): %u device mapping(s) removed with an MMIO capability", h->id, h->name,
                  cleared);
    }
    if (!done)
        return false;
    s->flags |= CAP_F_SWEPT;
    h->io_sweep = NULL;
    return s == c;
}

uint32_t cap_hook_removed(const struct cap *slot, const struct cap_object *obj, uint16_t type,
                          uint64_t base, uint64_t count)
{
    (void)base;
    (void)count;
    if (type == HV_CAP_DOMAIN) {
        /* The domain may still be named, but only by itself or by domains
         * nobody else names (a cycle): deferred work looks. */
        cycles_pending = true;
        deferred_pending = true;
        return 0;
    }
    if (type == HV_CAP_PCI) {
        /* The function's DMA and vectors go with the last right to them. */
        struct domain *d = holder_of(slot);
        if (d)
            pci_dev_cap_removed(d, obj);
    }
    return 0;
}

struct cap_table *cap_domain_table(struct cap_object *domain_obj)
{
    struct domain *d = domain_of_obj(domain_obj);
    return d && domain_live(d) ? &d->caps : NULL;
}

/* --- hooks of evtchn.c --------------------------------------------------- */

void evtchn_kick_vcpu(struct evtchn_domain *ed, uint32_t vcpu)
{
    struct domain *d = container_of(ed, struct domain, ev);
    if (vcpu >= VCPU_MAX)
        return;
    struct vcpu *v = &d->vcpus[vcpu];
    if (v->waiting_event) {
        v->waiting_event = false;
        vcpu_update_runnable(v);
    }
}

/* Physical lines are I/O APIC GSIs (hv/arch/x86_64/ioapic.c). */
void evtchn_pirq_unmask(uint32_t irq)
{
    arch_irq_unmask(irq);
}

void evtchn_pirq_mask(uint32_t irq)
{
    arch_irq_mask(irq);
}

bool evtchn_pirq_shareable(uint32_t irq)
{
    return arch_irq_level(irq);
}

struct evtchn_pirq_table *domain_pirq_table(void)
{
    return &pirq_table;
}

struct domain *domain_of_evtchn(struct evtchn_domain *ed)
{
    return container_of(ed, struct domain, ev);
}

/* When each level line waiting for EOIs is released anyway (0: none). */
static uint64_t eoi_limit_ns[ARCH_IRQ_LINES];

void domain_pirq(uint32_t gsi)
{
#ifdef HV_TEST_IMAGE
    test_device_irq();
#endif
    /* Unbound or already in flight: the line stays masked (an unbound line
     * is unmasked again only when someone binds it). */
    if (!evtchn_pirq_raise(&pirq_table, gsi)) {
        log_debug("irq: GSI %u arrived with nobody to take it", gsi);
    } else if (gsi < ARCH_IRQ_LINES && arch_irq_level(gsi)) {
        eoi_limit_ns[gsi] = arch_now_ns() + EVTCHN_EOI_LIMIT_NS;
        schedule_timer_changed();
    }
}

uint64_t domain_pirq_deadline(void)
{
    uint64_t next = 0;
    for (uint32_t g = 0; g < ARCH_IRQ_LINES; g++) {
        if (eoi_limit_ns[g] && pirq_table.lines[g].waiting == 0)
            eoi_limit_ns[g] = 0; /* every EOI came: no timer for it */
        if (eoi_limit_ns[g] && (next == 0 || eoi_limit_ns[g] < next))
            next = eoi_limit_ns[g];
    }
    return next;
}

void domain_pirq_expire(uint64_t now_ns)
{
    for (uint32_t g = 0; g < ARCH_IRQ_LINES; g++) {
        if (!eoi_limit_ns[g] || eoi_limit_ns[g] > now_ns)
            continue;
        static uint64_t expired;
        eoi_limit_ns[g] = 0;
        if (evtchn_pirq_expire(&pirq_table, g) && (expired++ < 4 || expired % 1000 == 0))
            log_warn("irq: GSI %u: a sharer did not EOI within %llu ms: line unmasked (%llu times)",
                     g, (unsigned long long)(EVTCHN_EOI_LIMIT_NS / 1000000),
                     (unsigned long long)expired);
    }
}

struct evtchn_domain *evtchn_domain_of(struct cap_object *domain_obj)
{
    struct domain *d = domain_of_obj(domain_obj);
    return d && domain_live(d) ? &d->ev : NULL;
}

/* --- hooks of grant.c ---------------------------------------------------- */

struct grant_table *grant_hook_table_of_domid(domid_t id)
{
    struct domain *d = domain_by_id(id);
    return d && d->uid != 0 ? &d->gt : NULL;
}

enum hv_status mm_cap_grant_table(struct cap_table *caps, uint32_t slot, struct grant_table **out)
{
    struct cap *c;
    enum hv_status st = cap_lookup(caps, slot, HV_CAP_DOMAIN, HV_GRANT_DOM_RIGHT, &c);
    if (st != HV_OK)
        return st;
    struct domain *d = domain_of_obj(c->obj);
    if (!d || !domain_live(d))
        return HV_ENOENT;
    *out = &d->gt;
    return HV_OK;
}

void grant_hook_tlb_flush(domid_t grantee)
{
    /* Every CPU loads a new base (a full flush) when it switches domains,
     * so only the CPUs running the grantee now can hold its translations. */
    struct domain *g = domain_by_id(grantee);
    if (g)
        mm_tlb_flush_cpus(schedule_cpus_running(g));
}

void grant_hook_orphan_idle(struct grant_table *gt)
{
    (void)gt;
    deferred_pending = true;
}

/* --- deferred work -------------------------------------------------------- */

void domain_deferred_kick(void)
{
    deferred_pending = true;
}

void domain_destroy_later(struct domain *d)
{
    d->destroy_pending = true;
    deferred_pending = true;
    /* The domain making this call (deleting d's last capability) pays for
     * d's teardown in its next hypercalls (dom_teardown.c). */
    struct domain *c = current_domain;
    if (c && c != d && c->owed_teardown_uid == 0 && d->state != DOMAIN_DEAD)
        c->owed_teardown_uid = d->uid;
}

/*
 * Capability cycles: a domain lives while a chain of domain capabilities
 * leads to it from the root, each in the table of a live domain. A domain
 * that names itself, or domains that name each other, keep their counts
 * above zero after everyone else let go of them; here they are found
 * (cap_mark_reachable) and destroyed like a domain whose last capability
 * went. A domain nobody ever named (a boot test's) is not looked at, and
 * neither is one already on its way out. Bounded: DOMAIN_MAX tables at
 * most, once per stretch of work in which a domain capability was removed.
 */
static void domain_cycles_collect(void)
{
    struct cap_object *objs[DOMAIN_MAX];
    struct domain *doms[DOMAIN_MAX];
    unsigned n = 0, nroots = 0;
    /* The roots first, then the candidates. */
    for (unsigned pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < DOMAIN_MAX; i++) {
            struct domain *d = domain_at(i);
            if (!d || d->uid == 0 || !domain_live(d) || d->is_root != (pass == 0))
                continue;
            if (!d->is_root && (d->destroy_pending || d->obj.cap_count == 0))
                continue;
            objs[n] = &d->obj;
            doms[n++] = d;
        }
        if (pass == 0)
            nroots = n;
    }
    if (nroots == 0)
        return; /* no root yet: nothing to measure from */
    cap_mark_reachable(objs, n, nroots);
    for (unsigned k = nroots; k < n; k++) {
        if (cap_object_reached(objs[k]))
            continue;
        log_info("d%u (%s): only capability cycles name it (%u capabilities): destroying it",
                 doms[k]->id, doms[k]->name, doms[k]->obj.cap_count);
        domain_destroy_later(doms[k]);
    }
}

void domain_deferred_work(void)
{
    if (!deferred_pending)
        return;
    deferred_pending = false;
    if (cycles_pending) {
        cycles_pending = false;
        domain_cycles_collect();
    }
    for (unsigned i = 0; i < DOMAIN_MAX; i++) {
        struct domain *d = domain_at(i);
        if (!d || !d->destroy_pending)
            continue;
        d->destroy_pending = false;
        if (d->state != DOMAIN_DEAD && d->obj.cap_count == 0)
            log_info("d%u (%s): its last capability was deleted: destroying it", d->id, d->name);
        domain_destroy_dead(d); /* retried later if a CPU still runs it */
    }
    /* One bounded step of one teardown (or zombie) each time. */
    if (domain_teardown_deferred_step())
        deferred_pending = true;
}

void domain_notify_state(struct domain *d)
{
    for (unsigned i = 0; i < DOMAIN_MAX; i++) {
        struct domain *w = domain_at(i);
        if (!w || !domain_live(w) || w == d || w->uid == 0)
            continue;
        for (uint32_t s = 0; s < HV_CAP_SLOTS; s++) {
            struct cap *c = &w->caps.slots[s];
            if (c->obj == &d->obj && (c->rights & HV_CAP_R_DOM_STATE)) {
                evtchn_raise_virq(&w->ev, HV_VIRQ_DOM_STATE, 0);
                break;
            }
        }
    }
}

/* --- hypercalls ------------------------------------------------------------ */

static int64_t cap_copy_op(struct domain *d, struct hypercall *c, void *rec)
{
    return cap_copy(&d->caps, rec);
}

static int64_t cap_slot_op(struct domain *d, struct hypercall *c, void *rec)
{
    struct hv_cap_slot_args *a = rec;
    if (a->reserved != 0)
        return HV_EINVAL;
    enum hv_status st = c->arg[0] == HV_CAP_DELETE
                            ? cap_delete(&d->caps, a->slot)
                            : cap_revoke(&d->caps, a->slot, CAP_REVOKE_BUDGET);
    if (st == HV_EAGAIN)
        return hypercall_restart(c);
    return st;
}

static int64_t cap_identify_op(struct domain *d, struct hypercall *c, void *rec)
{
    struct hv_cap_identify_args *a = rec;
    if (a->reserved != 0)
        return HV_EINVAL;
    return cap_identify(&d->caps, a->slot, &a->info);
}

static const struct hc_cmd cap_cmds[] = {
    [HV_CAP_COPY] = HC_REC(cap_copy_op, struct hv_cap_copy_args, 0),
    [HV_CAP_DELETE] = HC_REC(cap_slot_op, struct hv_cap_slot_args, 0),
    [HV_CAP_REVOKE] = HC_REC(cap_slot_op, struct hv_cap_slot_args, 0),
    [HV_CAP_IDENTIFY] = HC_REC(cap_identify_op, struct hv_cap_identify_args, HC_REC_OUT),
};

int64_t hc_cap_op(struct domain *d, struct hypercall *c)
{
    return hypercall_cmd(d, c, cap_cmds, ARRAY_SIZE(cap_cmds));
}

/* Endpoint capabilities: one cap_object per port of each domain. */
static int64_t evtchn_mint_endpoint(struct domain *d, struct hypercall *c, void *rec)
{
    struct hv_evtchn_endpoint *a = rec;
    if (a->reserved != 0 || a->port == 0 || a->port >= HV_EVTCHN_PORTS ||
        a->dst_slot >= HV_CAP_SLOTS || (a->rights & ~(HV_CAP_R_EVT_SEND | HV_CAP_R_GRANT)))
        return HV_EINVAL;
    if (evtchn_port_state(&d->ev, a->port) != EVTCHN_UNBOUND)
        return HV_ENOENT;
    if (d->caps.slots[a->dst_slot].obj)
        return HV_EEXIST;
    return cap_insert_root(&d->caps, a->dst_slot, &d->endpoint_obj[a->port], a->rights, 0, 0);
}

static int64_t evtchn_notify(struct domain *d, struct hypercall *hc, void *rec)
{
    struct hv_evtchn_notify *a = rec;
    if (a->reserved != 0)
        return HV_EINVAL;
    struct cap *c;
    enum hv_status st = cap_lookup(&d->caps, a->slot, HV_CAP_EVTCHN, HV_CAP_R_EVT_SEND, &c);
    if (st != HV_OK)
        return st;
    for (unsigned i = 0; i < DOMAIN_MAX; i++) {
        struct domain *t = domain_at(i);
        if (t && c->obj >= &t->endpoint_obj[0] && c->obj < &t->endpoint_obj[HV_EVTCHN_PORTS])
            return domain_live(t)
                       ? evtchn_notify_unbound(&t->ev, (uint32_t)(c->obj - &t->endpoint_obj[0]))
                       : HV_ENOENT;
    }
    return HV_ENOENT;
}

union evtchn_rec {
    struct hv_evtchn_alloc_unbound au;
    struct hv_evtchn_bind_interdomain bi;
    struct hv_evtchn_bind_virq bv;
    struct hv_evtchn_bind_ipi bp;
    struct hv_evtchn_bind_pirq bq;
    struct hv_evtchn_bind_msi bm;
};

/* The binding commands: each returns its new port in the record. */
static int64_t evtchn_bind_op(struct domain *d, struct hypercall *c, void *rec)
{
    union evtchn_rec *a = rec;
    switch (c->arg[0]) {
    case HV_EVTCHN_ALLOC_UNBOUND:
        return evtchn_alloc_unbound(&d->ev, a->au.remote_domain_slot, &a->au.port);
    case HV_EVTCHN_BIND_INTERDOMAIN:
        if (a->bi.reserved != 0)
            return HV_EINVAL;
        return evtchn_bind_interdomain(&d->ev, a->bi.remote_domain_slot, a->bi.remote_port,
                                       &a->bi.port);
    case HV_EVTCHN_BIND_VIRQ:
        if (a->bv.reserved != 0)
            return HV_EINVAL;
        return evtchn_bind_virq(&d->ev, a->bv.virq, a->bv.vcpu, &a->bv.port);
    case HV_EVTCHN_BIND_IPI: return evtchn_bind_ipi(&d->ev, a->bp.vcpu, &a->bp.port);
    case HV_EVTCHN_BIND_PIRQ:
        if (a->bq.reserved != 0 || a->bq.irq >= arch_irq_lines())
            return HV_EINVAL;
        return evtchn_bind_pirq(&d->ev, a->bq.irq_slot, a->bq.irq, &a->bq.port);
    default: /* HV_EVTCHN_BIND_MSI */
        if (a->bm.reserved != 0)
            return HV_EINVAL;
        return pci_msi_bind_slot(d, a->bm.pci_slot, a->bm.index, &a->bm.port);
    }
}

/* The commands on one port of the caller's. */
static int64_t evtchn_port_op(struct domain *d, struct hypercall *c, void *rec)
{
    struct hv_evtchn_port_args *a = rec;
    uint64_t cmd = c->arg[0];
    if (cmd != HV_EVTCHN_BIND_VCPU && a->vcpu != 0)
        return HV_EINVAL;
    switch (cmd) {
    case HV_EVTCHN_CLOSE: {
        /* A port that is closed stops being a mailbox: its endpoint
         * capabilities (any number, in any table) go first, a revocation
         * budget per call, the call restarting until none is left; then
         * the close, which cannot fail (checked here first). (A port that
         * was UNBOUND and got bound by its peer keeps them; they no longer
         * reach it.) */
        if (a->port == 0 || a->port >= HV_EVTCHN_PORTS)
            return HV_EINVAL;
        if (evtchn_port_state(&d->ev, a->port) == EVTCHN_FREE)
            return HV_ENOENT;
        uint32_t budget = CAP_REVOKE_BUDGET;
        if (cap_object_clear_some(&d->endpoint_obj[a->port], &budget) == HV_EAGAIN)
            return hypercall_restart(c);
        return evtchn_close(&d->ev, a->port);
    }
    case HV_EVTCHN_SEND: return evtchn_send(&d->ev, a->port);
    case HV_EVTCHN_UNMASK: return evtchn_unmask(&d->ev, a->port);
    case HV_EVTCHN_EOI: return evtchn_pirq_eoi(&d->ev, a->port);
    default: return evtchn_bind_vcpu(&d->ev, a->port, a->vcpu);
    }
}

static const struct hc_cmd evtchn_cmds[] = {
    [HV_EVTCHN_ALLOC_UNBOUND] = HC_REC(evtchn_bind_op, struct hv_evtchn_alloc_unbound, HC_REC_OUT),
    [HV_EVTCHN_BIND_INTERDOMAIN] =
        HC_REC(evtchn_bind_op, struct hv_evtchn_bind_interdomain, HC_REC_OUT),
    [HV_EVTCHN_BIND_VIRQ] = HC_REC(evtchn_bind_op, struct hv_evtchn_bind_virq, HC_REC_OUT),
    [HV_EVTCHN_BIND_IPI] = HC_REC(evtchn_bind_op, struct hv_evtchn_bind_ipi, HC_REC_OUT),
    [HV_EVTCHN_BIND_PIRQ] = HC_REC(evtchn_bind_op, struct hv_evtchn_bind_pirq, HC_REC_OUT),
    [HV_EVTCHN_BIND_MSI] = HC_REC(evtchn_bind_op, struct hv_evtchn_bind_msi, HC_REC_OUT),
    [HV_EVTCHN_CLOSE] = HC_REC(evtchn_port_op, struct hv_evtchn_port_args, 0),
    [HV_EVTCHN_SEND] = HC_REC(evtchn_port_op, struct hv_evtchn_port_args, 0),
    [HV_EVTCHN_UNMASK] = HC_REC(evtchn_port_op, struct hv_evtchn_port_args, 0),
    [HV_EVTCHN_EOI] = HC_REC(evtchn_port_op, struct hv_evtchn_port_args, 0),
    [HV_EVTCHN_BIND_VCPU] = HC_REC(evtchn_port_op, struct hv_evtchn_port_args, 0),
    [HV_EVTCHN_MINT_ENDPOINT] = HC_REC(evtchn_mint_endpoint, struct hv_evtchn_endpoint, 0),
    [HV_EVTCHN_NOTIFY] = HC_REC(evtchn_notify, struct hv_evtchn_notify, 0),
};

int64_t hc_evtchn_op(struct domain *d, struct hypercall *c)
{
    return hypercall_cmd(d, c, evtchn_cmds, ARRAY_SIZE(evtchn_cmds));
}

union grant_rec {
    struct hv_grant_set_args set;
    struct hv_grant_ref_args ref;
    struct hv_grant_status_args status;
    struct hv_grant_query_args query;
    struct hv_grant_copy_args copy;
    struct hv_grant_map_args map;
};

static int64_t grant_op(struct domain *d, struct hypercall *c, void *rec)
{
    union grant_rec *a = rec;
    switch (c->arg[0]) {
    case HV_GRANT_SET: return grant_set(&d->gt, &d->caps, &a->set);
    case HV_GRANT_END: return grant_end(&d->gt, &a->ref);
    case HV_GRANT_STATUS: return grant_status(&d->gt, &a->status);
    case HV_GRANT_QUERY: return grant_query(&d->gt, &d->caps, &a->query);
    case HV_GRANT_COPY: return grant_copy(&d->gt, &d->caps, &a->copy);
    case HV_GRANT_MAP: return grant_map(&d->gt, &d->mm, &d->caps, &a->map);
    default: return grant_unmap(&d->gt, &d->mm, &a->map);
    }
}

/* SET returns the new ref; STATUS and QUERY (pure) their answer. */
static const struct hc_cmd grant_cmds[] = {
    [HV_GRANT_SET] = HC_REC(grant_op, struct hv_grant_set_args, HC_REC_OUT),
    [HV_GRANT_END] = HC_REC(grant_op, struct hv_grant_ref_args, 0),
    [HV_GRANT_STATUS] = HC_REC(grant_op, struct hv_grant_status_args, HC_REC_OUT),
    [HV_GRANT_QUERY] = HC_REC(grant_op, struct hv_grant_query_args, HC_REC_OUT),
    [HV_GRANT_COPY] = HC_REC(grant_op, struct hv_grant_copy_args, 0),
    [HV_GRANT_MAP] = HC_REC(grant_op, struct hv_grant_map_args, 0),
    [HV_GRANT_UNMAP] = HC_REC(grant_op, struct hv_grant_map_args, 0),
};

int64_t hc_grant_op(struct domain *d, struct hypercall *c)
{
    return hypercall_cmd(d, c, grant_cmds, ARRAY_SIZE(grant_cmds));
}
