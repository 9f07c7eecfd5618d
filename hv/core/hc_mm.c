/*
 * The PV-memory hypercalls: argument copying and checking around the logic
 * in hv/mm/mm_ops.c. Decode, then invoke: guest memory is read into
 * hypervisor buffers (and the done pointer proven writable) before any
 * change is made.
 *
 * Continuations: a validation that exceeds its budget returns HV_EAGAIN
 * from mm_ops with its progress saved. The hypercall then restarts itself
 * (hypercall_restart), so the guest re-enters the same call after the
 * scheduler had a chance and any pending interrupt; for HC_MMU_UPDATE the
 * arguments are advanced past the requests already applied (the fourth
 * argument carries the running done count). Long batches are also split
 * this way every MMU_BATCH_PREEMPT requests, or sooner when their requests
 * validate or release tables (a budget of entries a call).
 */
#include <string.h>

#include "arch.h"
#include "domain.h"
#include "schedule.h"
#include "frame.h"
#include "hypercall.h"
#include "log.h"
#include "mm_hooks.h"
#include "mm_hv.h"
#include "pmm.h"

#define MMU_CHUNK 32
#define MMU_BATCH_PREEMPT 512
int64_t hc_mmu_update(struct domain *d, struct hypercall *c)
{
    uint64_t reqs_va = c->arg[0], count = c->arg[1], done_va = c->arg[2];
    uint64_t done_so_far = c->arg[3];
    struct hv_mmu_update chunk[MMU_CHUNK];

    if (count > HV_MMU_UPDATE_MAX || done_so_far > HV_MMU_UPDATE_MAX)
        return HV_E2BIG;
    if (done_va && arch_copy_to_guest(gva(done_va), &done_so_far, sizeof(done_so_far)) != HV_OK)
        return HV_EFAULT;

    uint64_t done = 0;
    int rc = HV_OK;
    uint64_t work0 = pt_work();
    while (done < count) {
        /* Preempted every MMU_BATCH_PREEMPT requests, and as soon as the
         * requests validated or released a budget's worth of entries. */
        if (done >= MMU_BATCH_PREEMPT || pt_work() - work0 >= pt_validate_budget())
            break;
        uint32_t n = (uint32_t)MIN((uint64_t)MMU_CHUNK, count - done);
        if (arch_copy_from_guest(chunk, gva(reqs_va + done * sizeof(chunk[0])),
                                 n * sizeof(chunk[0])) != HV_OK) {
            rc = HV_EFAULT;
            break;
        }
        uint32_t k = 0;
        rc = mm_mmu_update(&d->mm, (const struct mm_update_req *)chunk, n, &k);
        done += k;
        if (rc != HV_OK)
            break;
    }

    uint64_t total = done_so_far + done;
    if (rc == HV_EAGAIN || (rc == HV_OK && done < count)) {
        /* Preempted: continue from the first request not yet applied. */
        c->arg[0] = reqs_va + done * sizeof(chunk[0]);
        c->arg[1] = count - done;
        c->arg[3] = total;
        return hypercall_restart(c);
    }
    if (done_va && arch_copy_to_guest(gva(done_va), &total, sizeof(total)) != HV_OK)
        return HV_EFAULT;
    return rc;
}

int64_t hc_mmuext_op(struct domain *d, struct hypercall *c)
{
    uint64_t cmd = c->arg[0], arg = c->arg[1];
    int rc;

    switch (cmd) {
    case HV_MMUEXT_PIN_L1:
    case HV_MMUEXT_PIN_L2:
    case HV_MMUEXT_PIN_L3:
    case HV_MMUEXT_PIN_L4: rc = mm_pin(&d->mm, mfn(arg), (unsigned)cmd); break;
    case HV_MMUEXT_UNPIN: rc = mm_unpin(&d->mm, mfn(arg)); break;
    case HV_MMUEXT_NEW_BASEPTR: rc = mm_new_baseptr(&d->mm, mfn(arg)); break;
    case HV_MMUEXT_TLB_FLUSH_LOCAL: rc = mm_flush_local(&d->mm); break;
    case HV_MMUEXT_INVLPG_LOCAL: rc = mm_invlpg(&d->mm, arg); break;
    case HV_MMUEXT_TLB_FLUSH_VCPUS: {
        if (arg >> d->max_vcpus) /* a VCPU the domain does not have */
            return HV_EINVAL;
        uint64_t cpus = 0;
        for (unsigned i = 0; i < VCPU_MAX; i++)
            if ((arg >> i) & 1 && d->vcpus[i].online && d->vcpus[i].on_cpu >= 0)
                cpus |= 1ull << d->vcpus[i].on_cpu;
        mm_tlb_flush_cpus(cpus);
        return HV_OK;
    }
    default: return HV_EINVAL;
    }
    if (rc == HV_EAGAIN)
        return hypercall_restart(c);
    return rc;
}

int64_t hc_update_va_mapping(struct domain *d, struct hypercall *c)
{
    uint64_t flags = c->arg[2];
    if (flags > 0xffffffffull)
        return HV_EINVAL;
    int rc = mm_update_va_mapping(&d->mm, c->arg[0], c->arg[1], (unsigned)flags);
    if (rc == HV_EAGAIN)
        return hypercall_restart(c);
    return rc;
}

mfn_t domain_alloc_frame(struct domain *d, struct pmm *pmm)
{
    mfn_t m = pmm_alloc(pmm);
    if (mfn_x(m) == mfn_x(INVALID_MFN))
        return m;
    if (mfn_x(m) >= mm_hv_frames_count() || frame_assign(m, d->id) != HV_OK)
        panic("mm: allocator handed out frame %#llx the frame table cannot assign",
              (unsigned long long)mfn_x(m));
    /* A CPU that has not flushed since the frame was freed may still
     * translate it: flush those (and only those) before anyone reaches it. */
    mm_tlb_flush_stale(frame_get(m)->tlbflush_timestamp);
    memset(arch_frame_va(m), 0, PAGE_SIZE); /* scrub before the domain sees it */
    d->pages_count++;
    return m;
}

/*
 * Frames of d were released (no reference, no mapping left) and are about
 * to go back to the pool: no CPU may still translate them once they are
 * there (issue 20 item 1). The guest may have unmapped them without a
 * flush, so the CPUs running d now are flushed (by IPI, waiting for each);
 * every other CPU has loaded another base, a full flush, since it last ran
 * d. Grantees' translations were flushed when their mappings ended
 * (grant.c, settle_flush), before the frame could lose its grant.
 */
void domain_frames_freed(struct domain *d)
{
    mm_tlb_flush_cpus(schedule_cpus_running(d));
}

static uint64_t frame_info(const struct frame *f)
{
    return (uint64_t)f->type | ((uint64_t)((f->flags & FRAME_F_PINNED) != 0) << 8) |
           ((uint64_t)((f->flags & FRAME_F_VALIDATED) != 0) << 9) |
           ((uint64_t)(f->type_count & 0xffffff) << 16) |
           ((uint64_t)(f->ref_count & 0x7fffff) << 40);
}

int64_t hc_memory_op(struct domain *d, struct hypercall *c)
{
    uint64_t cmd = c->arg[0], arg = c->arg[1];

    switch (cmd) {
    case HV_MEMOP_INCREASE: {
        if (d->pages_count >= d->max_pages)
            return HV_ENOMEM;
        mfn_t m = domain_alloc_frame(d, mm_hv_pool());
        if (mfn_x(m) == mfn_x(INVALID_MFN))
            return HV_ENOMEM;
        return (int64_t)mfn_x(m);
    }
    case HV_MEMOP_DECREASE: {
        if (arg >= mm_hv_frames_count())
            return HV_ERANGE;
        int rc = frame_release(mfn(arg), d->id);
        if (rc != HV_OK)
            return rc;
        domain_frames_freed(d);
        if (!pmm_free(mm_hv_pool(), mfn(arg)))
            panic("mm: frame %#llx released by d%u was not allocated", (unsigned long long)arg,
                  d->id);
        d->pages_count--;
        return HV_OK;
    }
    case HV_MEMOP_CURRENT: return (int64_t)d->pages_count;
    case HV_MEMOP_MAXIMUM: return (int64_t)d->max_pages;
    case HV_MEMOP_FRAME_INFO: {
        if (arg >= mm_hv_frames_count())
            return HV_ERANGE;
        const struct frame *f = frame_get(mfn(arg));
        if (f->owner != d->id)
            return HV_EPERM;
        return (int64_t)frame_info(f);
    }
    default: return HV_EINVAL;
    }
}
