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
 *
 * HV_TEST_CHECK: the hypervisor audits its own state, independently of the
 * code that keeps it: every frame's reference and type counts recomputed
 * from what holds them (table entries of validated, partial and
 * devalidating tables, pins, bases, pending operations, grants, shared-info
 * frames), the frame invariants F1..F9 of hv/mm/frame.c, every grant's
 * mapping count against the L1 entries that map it, frame owners against
 * the domains' page counts and the free pool (its frames owned by nobody,
 * its count right), every capability (links,
 * type, the object's count, reachable from the object's roots), and every
 * live domain a capability names reached from the root by a chain of
 * domain capabilities (no capability cycle keeps one alive). Slow
 * (every table entry of the machine): a test instrument only.
 *
 * HV_TEST_IRQS: the device interrupts (lines and message vectors) each CPU
 * took, counted by test_device_irq in domain_pirq and domain_msi.
 */
#include <string.h>

#include <stdio.h>

#include "arch.h"
#include "domain.h"
#include "frame.h"
#include "grant.h"
#include "log.h"
#include "hypercall.h"
#include "mm_hv.h"
#include "pmm.h"
#include "pt.h"
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
    /* The audit (HV_TEST_CHECK) walks every frame and table entry of the
     * machine: the instrument, not work a guest can make the hypervisor do. */
    if (ns > stats.longest_ns && s->nr != HC_TEST_OP) {
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

static struct hv_test_irqs irqs;

void test_device_irq(void)
{
    if (arch_cpu_id() < HV_TEST_IRQ_CPUS)
        irqs.taken[arch_cpu_id()]++;
}

/* --- HV_TEST_CHECK ------------------------------------------------------------ */

static struct hv_test_check check;

static void disagree(const char *fmt, unsigned long long a, unsigned long long b,
                     unsigned long long c)
{
    if (check.errors++ == 0)
        snprintf(check.first, sizeof(check.first), fmt, a, b, c);
}

/* Per-frame counters in frames taken from the pool for the audit (the
 * direct map gives each frame's 512 words): counter k of frame m at index
 * m * 3 + k (expected refs, expected types, foreign mappings). */
#define AUDIT_WORDS 3u
static mfn_t audit_frames[3 * ((1ull << 22) / 512)];
static uint64_t audit_frames_count;

static uint64_t *counter(uint64_t m, unsigned k)
{
    uint64_t i = m * AUDIT_WORDS + k;
    return (uint64_t *)arch_frame_va(audit_frames[i / 512]) + i % 512;
}

static bool audit_alloc(uint64_t frames)
{
    audit_frames_count = 0;
    uint64_t need = (frames * AUDIT_WORDS + 511) / 512;
    if (need > ARRAY_SIZE(audit_frames))
        return false;
    for (uint64_t i = 0; i < need; i++) {
        mfn_t m = pmm_alloc(mm_hv_pool());
        if (mfn_x(m) == mfn_x(INVALID_MFN))
            return false;
        audit_frames[audit_frames_count++] = m;
        memset(arch_frame_va(m), 0, PAGE_SIZE);
    }
    return true;
}

static void audit_free(void)
{
    for (uint64_t i = 0; i < audit_frames_count; i++)
        if (!pmm_free(mm_hv_pool(), audit_frames[i]))
            panic("test: the audit's frame %#llx was not allocated",
                  (unsigned long long)mfn_x(audit_frames[i]));
    audit_frames_count = 0;
}

/* A holder's type reference of `type` on m (and its general reference). */
static void holds_type(uint64_t m, unsigned type, const char *what)
{
    const struct frame *f = frame_get(mfn(m));
    (void)what; /* for a debugger */
    if (f == NULL) {
        disagree("frame %#llx held outside the table (type %llu)%.0llu", m, type, 0);
        return;
    }
    if (f->type != type)
        disagree("frame %#llx held as type %llu but is type %llu", m, type, f->type);
    (*counter(m, 0))++;
    (*counter(m, 1))++;
}

static void audit_tables(uint64_t frames)
{
    for (uint64_t m = 0; m < frames; m++) {
        const struct frame *f = frame_get(mfn(m));
        if (f->owner == DOMID_INVALID) {
            if (f->ref_count || f->type_count || f->type || f->flags)
                disagree("free frame %#llx has state (refs %llu, flags %#llx)", m, f->ref_count,
                         f->flags);
            continue;
        }
        if (f->flags & FRAME_F_ALLOCATED)
            (*counter(m, 0))++;
        if ((f->type_count == 0) != (f->type == FRAME_TYPE_NONE))
            disagree("frame %#llx: type %llu with type count %llu", m, f->type, f->type_count);
        bool table = f->type >= FRAME_TYPE_L1 && f->type <= FRAME_TYPE_L4;
        unsigned st = (unsigned)(!!(f->flags & FRAME_F_VALIDATED) + !!(f->flags & FRAME_F_PARTIAL) +
                                 !!(f->flags & FRAME_F_DEVAL));
        if (table ? st != 1 : st != 0)
            disagree("frame %#llx: type %llu with flags %#llx", m, f->type, f->flags);
        if ((f->flags & FRAME_F_PINNED) && !(f->flags & FRAME_F_VALIDATED))
            disagree("frame %#llx pinned but not validated (flags %#llx)%.0llu", m, f->flags, 0);
        if (f->flags & FRAME_F_PINNED)
            holds_type(m, f->type, "a pin");
        if (!table || st != 1)
            continue;
        unsigned limit = f->type == FRAME_TYPE_L4 ? PT_HV_L4_FIRST : PT_ENTRIES;
        unsigned upto = limit;
        if (!(f->flags & FRAME_F_VALIDATED)) {
            upto = f->partial_index;
            if ((f->flags & FRAME_F_PARTIAL) && (f->flags & FRAME_F_CHILD_PARTIAL))
                upto++;
        }
        const uint64_t *t = arch_frame_va(mfn(m));
        for (unsigned j = 0; j < upto && j < PT_ENTRIES; j++) {
            uint64_t e = __atomic_load_n(&t[j], __ATOMIC_RELAXED);
            if (!(e & HV_PTE_P))
                continue;
            uint64_t target = mfn_x(pt_entry_mfn(e));
            if (target >= frames)
                continue; /* a device frame (R3a): holds nothing */
            const struct frame *tf = frame_get(mfn(target));
            if (tf->owner == DOMID_INVALID || tf->owner == DOMID_HV)
                disagree("table %#llx entry %llu maps free or hypervisor frame %#llx", m, j,
                         target);
            if (f->type == FRAME_TYPE_L1) {
                (*counter(target, 0))++;
                if (tf->owner != f->owner)
                    (*counter(target, 2))++;
                if (e & HV_PTE_RW) {
                    if (tf->type != FRAME_TYPE_WRITABLE)
                        disagree("frame %#llx mapped writable by %#llx but is type %llu", target, m,
                                 tf->type);
                    (*counter(target, 1))++;
                }
            } else {
                if (tf->owner != f->owner)
                    disagree("table %#llx uses frame %#llx of another owner (%llu)", m, target,
                             tf->owner);
                holds_type(target, f->type - 1u, "an entry");
            }
        }
    }
}

static void audit_domains(uint64_t frames)
{
    for (unsigned i = 0; i < DOMAIN_MAX; i++) {
        struct domain *d = domain_at(i);
        if (!d)
            continue;
        if (mfn_x(d->mm.base) != mfn_x(INVALID_MFN))
            holds_type(mfn_x(d->mm.base), FRAME_TYPE_L4, "a base");
        if (d->mm.cont.op != MM_CONT_NONE) {
            mfn_t m = d->mm.cont.phase == MM_PHASE_VALIDATE ? d->mm.cont.top : d->mm.cont.dv;
            const struct frame *f = frame_get(m);
            if (f)
                holds_type(mfn_x(m), f->type, "a continuation");
        }
        if (d->shared)
            holds_type(mfn_x(d->shared_info_mfn), FRAME_TYPE_WRITABLE, "the shared-info page");
        if (d->uid == 0)
            continue;
        for (unsigned r = 1; r < GRANT_REFS; r++) {
            const struct grant_entry *e = &d->gt.entries[r];
            if (e->state == GRANT_FREE)
                continue;
            if (e->mfn >= frames || frame_get(mfn(e->mfn))->owner != d->id) {
                disagree("d%llu grant %llu names frame %#llx it does not own", d->id, r, e->mfn);
                continue;
            }
            holds_type(e->mfn, FRAME_TYPE_WRITABLE, "a grant");
            /* Its mappings are counted against the foreign L1 entries below. */
            *counter(e->mfn, 2) -= e->map_count;
        }
    }
    /* Page counts, and the pool. */
    uint64_t owned[DOMAIN_MAX] = {0}, free_frames = 0;
    for (uint64_t m = 0; m < frames; m++) {
        const struct frame *f = frame_get(mfn(m));
        /* A frame in the pool is owned by nobody (the converse does not hold:
         * the hypervisor's own allocations keep owner DOMID_INVALID). */
        bool in_pool = pmm_is_free(mm_hv_pool(), mfn(m));
        if (in_pool && f->owner != DOMID_INVALID)
            disagree("frame %#llx in the free pool is owned by %llu%.0llu", m, f->owner, 0);
        free_frames += in_pool;
        for (unsigned i = 0; i < DOMAIN_MAX; i++) {
            struct domain *d = domain_at(i);
            if (d && f->owner == d->id)
                owned[i]++;
        }
    }
    uint64_t hv_held = 0;
    for (uint64_t m = 0; m < frames; m++) {
        const struct frame *f = frame_get(mfn(m));
        if ((f->owner == DOMID_INVALID || f->owner == DOMID_HV) &&
            !pmm_is_free(mm_hv_pool(), mfn(m)))
            hv_held++;
    }
    for (unsigned i = 0; i < DOMAIN_MAX; i++) {
        struct domain *d = domain_at(i);
        if (d && owned[i] != d->pages_count)
            disagree("d%llu owns %llu frames but counts %llu", d->id, owned[i], d->pages_count);
        if (d)
            log_info("test: audit: d%u (%s) state %u owns %llu frames (teardown %u stage %u, "
                     "cursor %llu, orphans %u, %u VCPUs on the scheduler, destroy pending %u)",
                     d->id, d->name, (unsigned)d->state, (unsigned long long)owned[i],
                     (unsigned)d->td_started, (unsigned)d->td_stage,
                     (unsigned long long)d->td_cursor, (unsigned)d->td_orphans,
                     (unsigned)d->vcpu_count, (unsigned)d->destroy_pending);
    }
    log_info("test: audit: the hypervisor holds %llu frames (%llu checked, the audit's own "
             "included)",
             (unsigned long long)hv_held, (unsigned long long)frames);
    check.frames_free = pmm_free_count(mm_hv_pool());
    if (free_frames != check.frames_free)
        disagree("the pool counts %llu free frames, %llu are%.0llu", check.frames_free, free_frames,
                 0);
}

static void audit_counts(uint64_t frames)
{
    for (uint64_t m = 0; m < frames; m++) {
        const struct frame *f = frame_get(mfn(m));
        if (f->owner == DOMID_INVALID || f->owner == DOMID_HV)
            continue;
        if (f->ref_count != *counter(m, 0) || f->type_count != *counter(m, 1))
            disagree("frame %#llx: counts %#llx, recomputed %#llx (refs << 32 | types)", m,
                     ((uint64_t)f->ref_count << 32) | f->type_count,
                     (*counter(m, 0) << 32) | *counter(m, 1));
        if (*counter(m, 2) != 0)
            disagree("frame %#llx: foreign mappings and grant counts differ by %lld%.0llu", m,
                     *counter(m, 2), 0); /* %lld: the difference may be negative */
    }
    check.frames_checked = frames;
}

/* Every capability: links, type, its object's count, reachable from the
 * object's roots through the derivation lists. */
static void audit_caps(void)
{
    /* Every live domain: its capability count against the capabilities
     * naming it; none at all and it must be on its way out. */
    for (unsigned i = 0; i < DOMAIN_MAX; i++) {
        struct domain *d = domain_at(i);
        if (!d || d->uid == 0 || d->is_root ||
            (d->state != DOMAIN_BUILDING && d->state != DOMAIN_RUNNING &&
             d->state != DOMAIN_SHUTDOWN))
            continue;
        uint64_t naming = 0;
        for (unsigned j = 0; j < DOMAIN_MAX; j++) {
            struct domain *e = domain_at(j);
            if (!e || e->uid == 0 || e->state == DOMAIN_ZOMBIE)
                continue;
            for (unsigned k = 0; k < HV_CAP_SLOTS; k++)
                naming += e->caps.slots[k].obj == &d->obj;
        }
        if (naming != d->obj.cap_count)
            disagree("d%llu: counts %llu capabilities naming it, %llu do", d->id, d->obj.cap_count,
                     naming);
        else if (naming == 0 && !d->destroy_pending)
            disagree("d%llu: no capability names it, yet it lives%.0llu%.0llu", d->id, 0, 0);
        if (naming != 0) {
            unsigned first_holder = ~0u;
            for (unsigned j = 0; j < DOMAIN_MAX && first_holder == ~0u; j++) {
                struct domain *e = domain_at(j);
                if (!e || e->uid == 0 || e->state == DOMAIN_ZOMBIE)
                    continue;
                for (unsigned k = 0; k < HV_CAP_SLOTS; k++)
                    if (e->caps.slots[k].obj == &d->obj) {
                        first_holder = e->id;
                        break;
                    }
            }
            log_info("test: audit: d%u: %llu capabilities name it, the first in d%u's table", d->id,
                     (unsigned long long)naming, first_holder);
        }
    }
    for (unsigned i = 0; i < DOMAIN_MAX; i++) {
        struct domain *d = domain_at(i);
        if (!d || d->uid == 0 || d->state == DOMAIN_ZOMBIE)
            continue;
        for (unsigned s = 0; s < HV_CAP_SLOTS; s++) {
            const struct cap *c = &d->caps.slots[s];
            if (c->sibling.next->prev != &c->sibling || c->sibling.prev->next != &c->sibling ||
                c->children.next->prev != &c->children)
                disagree("d%llu slot %llu: broken links%.0llu", d->id, s, 0);
            if (!c->obj) {
                if (c->type != HV_CAP_NULL || c->children.next != &c->children)
                    disagree("d%llu slot %llu: empty with type %llu or copies", d->id, s, c->type);
                continue;
            }
            check.caps_checked++;
            if (c->type != c->obj->type)
                disagree("d%llu slot %llu: type %llu differs from its object's", d->id, s, c->type);
            if ((c->rights & ~cap_valid_rights(c->type)) != 0)
                disagree("d%llu slot %llu: rights %#llx", d->id, s, c->rights);
            /* Count the capabilities naming this object (every table) and
             * those reachable from its roots (depth first, bounded). */
            uint64_t naming = 0;
            for (unsigned j = 0; j < DOMAIN_MAX; j++) {
                struct domain *e = domain_at(j);
                if (!e || e->uid == 0 || e->state == DOMAIN_ZOMBIE)
                    continue;
                for (unsigned k = 0; k < HV_CAP_SLOTS; k++)
                    naming += e->caps.slots[k].obj == c->obj;
            }
            if (naming != c->obj->cap_count)
                disagree("d%llu slot %llu: %llu capabilities name its object", d->id, s, naming);
            uint64_t reach = 0, steps = 0;
            const struct cap_link *l = c->obj->roots.next;
            const struct cap_link *stack[64];
            unsigned depth = 0;
            const struct cap_link *head = &c->obj->roots;
            while (steps++ < 100000) {
                if (l == head) {
                    if (depth == 0)
                        break;
                    /* Back up: the head was a node's children list. */
                    const struct cap_link *node_sibling = stack[--depth];
                    l = node_sibling->next;
                    head = depth ? &((const struct cap *)((const char *)stack[depth - 1] -
                                                          offsetof(struct cap, sibling)))
                                        ->children
                                 : &c->obj->roots;
                    continue;
                }
                const struct cap *n =
                    (const struct cap *)((const char *)l - offsetof(struct cap, sibling));
                reach++;
                if (n->children.next != &n->children && depth < 64) {
                    stack[depth++] = l;
                    head = &n->children;
                    l = n->children.next;
                } else {
                    l = l->next;
                }
            }
            if (reach != naming)
                disagree("d%llu slot %llu: %llu capabilities reachable from the object's roots",
                         d->id, s, reach);
        }
    }
}

static bool audit_live(const struct domain *d)
{
    return d && d->uid != 0 &&
           (d->state == DOMAIN_BUILDING || d->state == DOMAIN_RUNNING ||
            d->state == DOMAIN_SHUTDOWN);
}

/* Every live domain that a capability names is reached from the root by a
 * chain of domain capabilities in live domains' tables, or is on its way
 * out: no capability cycle keeps a domain nobody else names. */
static void audit_reach(void)
{
    bool reached[DOMAIN_MAX] = {false}, scanned[DOMAIN_MAX] = {false};
    for (unsigned i = 0; i < DOMAIN_MAX; i++)
        reached[i] = audit_live(domain_at(i)) && domain_at(i)->is_root;
    for (bool more = true; more;) {
        more = false;
        for (unsigned i = 0; i < DOMAIN_MAX; i++) {
            if (!reached[i] || scanned[i])
                continue;
            scanned[i] = more = true;
            const struct domain *d = domain_at(i);
            for (unsigned j = 0; j < DOMAIN_MAX; j++) {
                const struct domain *e = domain_at(j);
                if (!audit_live(e) || reached[j])
                    continue;
                for (unsigned k = 0; k < HV_CAP_SLOTS && !reached[j]; k++)
                    reached[j] = d->caps.slots[k].obj == &e->obj;
            }
        }
    }
    for (unsigned i = 0; i < DOMAIN_MAX; i++) {
        const struct domain *d = domain_at(i);
        if (audit_live(d) && !reached[i] && d->obj.cap_count != 0 && !d->destroy_pending)
            disagree("d%llu: only capability cycles name it (%llu capabilities)%.0llu", d->id,
                     d->obj.cap_count, 0);
    }
}

static void audit(const struct domain *caller, uint32_t inject)
{
    memset(&check, 0, sizeof(check));
    uint64_t frames = mm_hv_frames_count();
    if (!audit_alloc(frames)) {
        disagree("no memory for the audit (%llu frames)%.0llu%.0llu", frames, 0, 0);
        audit_free();
        return;
    }
    audit_tables(frames);
    audit_domains(frames);
    if (inject) /* the audit's own test: a reference nobody holds */
        for (uint64_t m = 0; m < frames; m++)
            if (frame_get(mfn(m))->owner == caller->id) {
                (*counter(m, 0))++;
                break;
            }
    audit_counts(frames);
    audit_free();
    audit_caps();
    audit_reach();
    log_info("test: audit: %u disagreements in %llu frames and %llu capabilities%s%s", check.errors,
             (unsigned long long)check.frames_checked, (unsigned long long)check.caps_checked,
             check.errors ? "; first: " : "", check.errors ? check.first : "");
}

int64_t hc_test_op(struct domain *d, struct hypercall *c)
{
    switch (c->arg[0]) {
    case HV_TEST_STATS: {
        struct hv_test_stats a;
        if (arch_copy_from_guest(&a, gva(c->arg[1]), sizeof(a)) != HV_OK)
            return HV_EFAULT;
        uint64_t reset = a.reset;
        a = stats;
        a.reset = reset;
        if (arch_copy_to_guest(gva(c->arg[1]), &a, sizeof(a)) != HV_OK)
            return HV_EFAULT;
        if (reset)
            stats = (struct hv_test_stats){.longest_nr = ~0ull};
        return HV_OK;
    }
    case HV_TEST_CHECK: {
        struct hv_test_check probe;
        if (arch_copy_from_guest(&probe, gva(c->arg[1]), sizeof(probe)) != HV_OK ||
            arch_copy_to_guest(gva(c->arg[1]), &probe, sizeof(probe)) != HV_OK)
            return HV_EFAULT;
        if (probe.inject > 1)
            return HV_EINVAL;
        audit(d, probe.inject);
        return arch_copy_to_guest(gva(c->arg[1]), &check, sizeof(check)) == HV_OK ? HV_OK
                                                                                  : HV_EFAULT;
    }
    case HV_TEST_IRQS:
        return arch_copy_to_guest(gva(c->arg[1]), &irqs, sizeof(irqs)) == HV_OK ? HV_OK : HV_EFAULT;
    default: return HV_EINVAL;
    }
}
