/*
 * The memory manager in the hypervisor: boot-time set-up of the frame table
 * and the M2P table, and the hooks hv/mm/{frame,pt,mm_ops}.c need
 * (hv/mm/include/mm_hooks.h), implemented over the direct map and the CPU's
 * TLB instructions.
 *
 * Virtual placement (PML4 slots of the hypervisor's half):
 *   slot 257  HV_M2P_VA    the M2P, read-only and user-readable (guests)
 *   slot 258  M2P_RW_VA    the same frames, writable, supervisor only
 *   slot 259  FRAMES_VA    the frame table (struct frame[frames_count])
 * Called under the hypervisor lock (hv_lock, docs/smp.md); no lock of its own.
 */
#include <string.h>

#include "arch.h"
#include "cmdline.h"
#include "domain.h"
#include "schedule.h"
#include "frame.h"
#include "grant.h"
#include "log.h"
#include "mm_hooks.h"
#include "mm_hv.h"
#include "pci.h"
#include "pmm.h"
#include "pt.h"
#include "test_op.h"

#define M2P_RW_VA 0xffff810000000000ull
#define FRAMES_VA 0xffff818000000000ull
#define VALIDATE_BUDGET_ENTRIES 512

static uint32_t flush_clock;
static uint64_t frames_total;
static struct pmm *frame_pool;

static mfn_t boot_alloc(void *ctx)
{
    return pmm_alloc(ctx);
}

static void map_region(uint64_t va, uint64_t bytes, unsigned flags, struct pmm *pmm,
                       mfn_t *first_out, const mfn_t *reuse)
{
    uint64_t pages = ALIGN_UP(bytes, PAGE_SIZE) / PAGE_SIZE;
    for (uint64_t i = 0; i < pages; i++) {
        mfn_t m = reuse ? reuse[i] : pmm_alloc(pmm);
        if (mfn_x(m) == mfn_x(INVALID_MFN) ||
            !arch_hv_map(va + i * PAGE_SIZE, m, flags, boot_alloc, pmm))
            panic("mm: out of memory while mapping boot structures");
        if (first_out)
            first_out[i] = m;
    }
}

/* Frames of the M2P, remembered so the read-only alias maps the same ones. */
static mfn_t m2p_frames[(1ull << 22) / 512]; /* enough for 2^22 frames = 16 GiB */

void mm_hv_init(struct pmm *pmm, uint64_t frames_count)
{
    uint64_t m2p_pages = ALIGN_UP(frames_count * 8, PAGE_SIZE) / PAGE_SIZE;
    if (m2p_pages > ARRAY_SIZE(m2p_frames)) {
        frames_count = ARRAY_SIZE(m2p_frames) * 512;
        m2p_pages = ARRAY_SIZE(m2p_frames);
        log_warn("mm: frame table limited to %llu frames", (unsigned long long)frames_count);
    }
    map_region(M2P_RW_VA, frames_count * 8, ARCH_MAP_W, pmm, m2p_frames, NULL);
    map_region(HV_M2P_VA, frames_count * 8, ARCH_MAP_USER, pmm, NULL, m2p_frames);
    map_region(FRAMES_VA, frames_count * sizeof(struct frame), ARCH_MAP_W, pmm, NULL, NULL);
    memset((void *)(uintptr_t)FRAMES_VA, 0, frames_count * sizeof(struct frame));

    if (!frame_table_init((struct frame *)(uintptr_t)FRAMES_VA, (uint64_t *)(uintptr_t)M2P_RW_VA,
                          frames_count))
        panic("mm: frame_table_init refused %llu frames", (unsigned long long)frames_count);
    struct pt_config cfg = {
        .maxphyaddr_bits = arch_maxphyaddr_bits(),
        .hv_l4_template = arch_hv_l4_slots(),
        .validate_budget_entries = VALIDATE_BUDGET_ENTRIES,
    };
    if (!pt_init(&cfg))
        panic("mm: pt_init refused the configuration (MAXPHYADDR %u)", cfg.maxphyaddr_bits);
    frames_total = frames_count;
    frame_pool = pmm;
    log_info("mm: frame table for %llu frames (%llu KiB), M2P %llu KiB at %#llx (read-only "
             "to guests), MAXPHYADDR %u",
             (unsigned long long)frames_count,
             (unsigned long long)(frames_count * sizeof(struct frame) >> 10),
             (unsigned long long)(m2p_pages * 4), (unsigned long long)HV_M2P_VA,
             cfg.maxphyaddr_bits);
}

uint64_t mm_hv_frames_count(void)
{
    return frames_total;
}

struct pmm *mm_hv_pool(void)
{
    return frame_pool;
}

/* --- hooks (hv/mm/include/mm_hooks.h) ---------------------------------------- */

uint64_t *mm_frame_map(mfn_t m)
{
    return arch_frame_va(m);
}

void mm_frame_unmap(uint64_t *p)
{
    (void)p; /* the direct map needs no unmapping */
}

/* Device frames the hypervisor drives itself, whatever capability is
 * shown: the I/O APIC range 0xfec00000-0xfecfffff (HPET and chipset
 * registers follow it) up to the local APIC range 0xfee00000-0xfeefffff,
 * whose writes are also the MSI window. */
static bool io_frame_reserved(uint64_t m)
{
    return m >= 0xfec00 && m < 0xfef00;
}

/*
 * An I/O frame (outside the frame table, so never RAM: the table spans the
 * highest RAM address): d may map it if one of its MMIO capabilities
 * covers it with READ, and WRITE for a writable mapping, and it is not one
 * of the hypervisor's. The whole table is scanned: any capability will do.
 */
static bool io_may_map(domid_t dom, mfn_t m, bool writable)
{
    struct domain *d = domain_by_id(dom);
    uint32_t need = HV_CAP_R_MMIO_READ | (writable ? HV_CAP_R_MMIO_WRITE : 0);
    if (d == NULL || d->uid == 0 || io_frame_reserved(mfn_x(m)))
        return false;
    for (uint32_t s = 0; s < HV_CAP_SLOTS; s++) {
        const struct cap *c = &d->caps.slots[s];
        if (c->obj != NULL && c->type == HV_CAP_MMIO && (c->rights & need) == need &&
            !(c->flags & CAP_F_DYING) && mfn_x(m) >= c->base && mfn_x(m) - c->base < c->count)
            return true;
    }
    return false;
}

bool mm_may_map_foreign(domid_t dom, mfn_t m, bool writable)
{
    if (mfn_x(m) >= frames_total)
        return io_may_map(dom, m, writable) && !(writable && pci_msix_frame(mfn_x(m)));
    return grant_may_map(dom, m, writable);
}

/* ---- DMA (hv/core/include/iommu.h) ---------------------------------------- */

void mm_dma_frame(domid_t dom, mfn_t m, bool usable, bool writable)
{
    struct domain *d = dom == DOMID_HV || dom == DOMID_INVALID ? NULL : domain_by_id(dom);
    if (d != NULL)
        iommu_frame(&d->iommu, m, usable, writable);
}

void iommu_hook_dma_frames(domid_t dom, iommu_frame_fn fn, void *ctx)
{
    struct domain *d = domain_by_id(dom);
    if (d == NULL)
        return;
    for (uint64_t m = 0; m < frames_total; m++) {
        const struct frame *f = frame_get(mfn(m));
        if (f->owner == dom && (f->type < FRAME_TYPE_L1 || f->type > FRAME_TYPE_L4))
            fn(ctx, mfn(m), true);
    }
    /* Grants other domains made to it that it has mapped. */
    for (unsigned i = 0; i < DOMAIN_MAX; i++) {
        struct domain *g = domain_at(i);
        if (g == NULL || g->uid == 0 || g == d)
            continue;
        for (uint32_t r = 0; r < GRANT_REFS; r++) {
            const struct grant_entry *e = &g->gt.entries[r];
            if (e->state != GRANT_FREE && e->grantee_uid == d->uid && e->map_count > 0)
                fn(ctx, mfn(e->mfn), (e->flags & GRANT_E_WRITE) != 0);
        }
    }
}

mfn_t hv_frame_get(void)
{
    mfn_t m = pmm_alloc(mm_hv_pool());
    if (mfn_x(m) == mfn_x(INVALID_MFN))
        return m;
    if (mfn_x(m) < frames_total && frame_assign(m, DOMID_HV) != HV_OK)
        panic("mm: free frame %#llx could not be made the hypervisor's",
              (unsigned long long)mfn_x(m));
    return m;
}

void hv_frame_put(mfn_t m)
{
    if (mfn_x(m) < frames_total && frame_release(m, DOMID_HV) != HV_OK)
        panic("mm: hypervisor frame %#llx could not be released", (unsigned long long)mfn_x(m));
    if (!pmm_free(mm_hv_pool(), m))
        panic("mm: hypervisor frame %#llx was not allocated", (unsigned long long)mfn_x(m));
}

bool mm_io_sweep_step(domid_t dom, uint64_t base, uint64_t count, uint64_t *cursor, uint32_t budget,
                      unsigned *cleared)
{
    uint32_t spent = 0;
    while ((*cursor >> 9) < frames_total) {
        if (spent >= budget)
            return false;
        uint64_t m = *cursor >> 9;
        unsigned i = (unsigned)(*cursor & 511);
        const struct frame *f = frame_get(mfn(m));
        spent++;
        /* Looked at again on every resumption: between steps the table may
         * have been released and the frame used otherwise. */
        if (f->owner != dom || f->type != FRAME_TYPE_L1) {
            *cursor = (m + 1) << 9;
            continue;
        }
        uint64_t *t = arch_frame_va(mfn(m));
        for (; i < 512 && spent < budget; i++) {
            spent++;
            uint64_t e = __atomic_load_n(&t[i], __ATOMIC_RELAXED);
            if (!(e & HV_PTE_P))
                continue;
            uint64_t target = mfn_x(pt_entry_mfn(e));
            /* I/O frames only (outside the frame table); they hold no
             * reference, so clearing the entry is all there is to do. */
            if (target < frames_total || target < base || target - base >= count)
                continue;
            spent += MM_IO_SWEEP_CHECK;
            if (io_may_map(dom, mfn(target), (e & HV_PTE_RW) != 0))
                continue; /* another capability still covers it */
            __atomic_store_n(&t[i], 0, __ATOMIC_RELEASE);
            (*cleared)++;
        }
        *cursor = i < 512 ? (m << 9 | i) : (m + 1) << 9;
    }
    return true;
}

bool mm_foreign_map_get(domid_t dom, mfn_t m, bool writable)
{
    return grant_map_get(dom, m, writable);
}

void mm_foreign_map_put(domid_t dom, mfn_t m, bool writable)
{
    grant_map_put(dom, m, writable);
}

/*
 * The TLB-flush clock (docs/smp.md, "TLB shootdown"): flush_clock ticks on
 * every full flush; cpu_flush_time[c] is the clock value of CPU c's last
 * full flush (a CR3 load counts: guest mappings are never global), and
 * frames record the clock when they lose a type or an owner. A CPU whose
 * last flush is not newer than a frame's stamp may still translate it.
 */
static uint32_t cpu_flush_time[64];
static uint64_t cpu_flushed_once; /* bit c: cpu_flush_time[c] is meaningful */

void mm_note_local_flush(void)
{
    unsigned c = arch_cpu_id();
    cpu_flush_time[c] = ++flush_clock;
    cpu_flushed_once |= 1ull << c;
}

void mm_tlb_flush_local(void)
{
    arch_tlb_flush_local();
    mm_note_local_flush();
}

void mm_tlb_flush_stale(uint32_t stamp)
{
#ifdef HV_TEST_IMAGE
    if (test_no_shootdown()) {
        if (pt_tlb_may_be_stale(stamp))
            mm_tlb_flush_local();
        return;
    }
#endif
    unsigned n = schedule_cpu_count();
    uint64_t mask = 0;
    for (unsigned c = 0; c < n && c < 64; c++)
        if (!(cpu_flushed_once & (1ull << c)) || (int32_t)(stamp - cpu_flush_time[c]) >= 0)
            mask |= 1ull << c;
    mm_tlb_flush_cpus(mask);
}

void mm_tlb_flush_cpus(uint64_t mask)
{
    if (!mask)
        return;
    unsigned self = arch_cpu_id();
    uint32_t tick = ++flush_clock; /* every flush below happens after this */
    uint64_t remote = mask & ~(1ull << self);
    if (remote) {
        if (arch_tlb_flush_cpus(remote) != 0)
            panic("mm: TLB shootdown: a CPU did not acknowledge");
    }
    if (mask & (1ull << self))
        arch_tlb_flush_local();
    for (unsigned c = 0; c < 64; c++)
        if (mask & (1ull << c)) {
            cpu_flush_time[c] = tick;
            cpu_flushed_once |= 1ull << c;
        }
    pt_tlb_note_flush();
}

void mm_tlb_invlpg_local(uint64_t va)
{
    arch_tlb_invlpg(va);
}

uint32_t mm_flush_clock_now(void)
{
    return flush_clock;
}

bool mm_load_base(domid_t dom, mfn_t l4)
{
    struct domain *d = domain_by_id(dom);
    BUG_ON(!d);
    __atomic_store_n(&d->l4.v, mfn_x(l4), __ATOMIC_RELEASE);
    /* Other CPUs running this domain move to the new base before the
     * caller drops the old base's reference (the flush service loads it). */
    uint64_t others = schedule_cpus_running(d) & ~(1ull << arch_cpu_id());
    if (others && arch_tlb_flush_cpus(others) != 0)
        panic("mm: a CPU running d%u did not move to its new base", dom);
    if (d != current_domain)
        return false; /* loaded when it is next scheduled */
    arch_load_base(l4);
    mm_note_local_flush(); /* loading CR3 flushed the non-global TLB */
    return true;
}
