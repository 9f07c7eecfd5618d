/*
 * Intel VT-d, the register side (docs/devices.md, "The IOMMU"): finds the
 * remapping unit in the ACPI DMAR, turns on DMA remapping with queued
 * invalidation and, where the unit and the DMAR offer it, interrupt
 * remapping; implements arch.h's arch_iommu_* (translation spaces,
 * attach/detach, map/unmap with a completed IOTLB invalidation before
 * returning) and reports DMA faults to the core.
 *
 * One unit: the first one of PCI segment 0 in the DMAR (QEMU's q35 has
 * one). Functions another unit translates count as not covered, so only
 * the root may give them DMA (iommu.h). Memory: the root table, one
 * context table per bus in use, the invalidation queue, the interrupt
 * remapping table and every translation space's tables are hypervisor
 * frames the core hands out (arch_hooks.h, hv_frame_get/put).
 *
 * Invalidation is always queued (VT-d 6.5.2) and waited for with an
 * invalidation-wait descriptor that writes a status word: every hook that
 * removes a translation returns only after the unit has acknowledged the
 * invalidation (the ordering rule of iommu.h). A unit that does not
 * acknowledge within a second, or reports an invalidation-queue error,
 * leaves memory unprotected: that is a panic.
 *
 * Locking: every entry point runs under the hypervisor lock (hypercalls,
 * boot) except vtd_fault_interrupt, which only reads and clears fault
 * records and hands them to the core's iommu_fault_report.
 */
#include "vtd.h"
#include "arch.h"
#include "arch_hooks.h"
#include "dmar.h"
#include "log.h"
#include "vtd_tables.h"
#include "x86.h"

#define REG_VER 0x00
#define REG_CAP 0x08
#define REG_ECAP 0x10
#define REG_GCMD 0x18
#define REG_GSTS 0x1c
#define REG_RTADDR 0x20
#define REG_FSTS 0x34
#define REG_FECTL 0x38
#define REG_FEDATA 0x3c
#define REG_FEADDR 0x40
#define REG_FEUADDR 0x44
#define REG_IQH 0x80
#define REG_IQT 0x88
#define REG_IQA 0x90
#define REG_IRTA 0xb8

#define GCMD_TE (1u << 31)
#define GCMD_SRTP (1u << 30)
#define GCMD_QIE (1u << 26)
#define GCMD_IRE (1u << 25)
#define GCMD_SIRTP (1u << 24)
#define GSTS_ONESHOT_MASK 0x96ffffffu /* status bits that are not one-shot commands */

#define ECAP_C (1ull << 0)
#define ECAP_QI (1ull << 1)
#define ECAP_IR (1ull << 3)
#define CAP_CM (1ull << 7)
#define CAP_PSI (1ull << 39)

#define FSTS_PFO (1u << 0)
#define FSTS_PPF (1u << 1)
#define FSTS_IQE (1u << 4)

#define QI_ENTRIES 256u /* one page of 16-byte descriptors (QS = 0) */
#define QI_CC 0x1ull
#define QI_IOTLB 0x2ull
#define QI_IEC 0x4ull
#define QI_WAIT 0x5ull
#define QI_WAIT_SW (1ull << 5)
#define QI_GRAN_GLOBAL (1ull << 4)
#define QI_GRAN_DOMAIN (2ull << 4)
#define QI_GRAN_DEVICE (3ull << 4)
#define QI_GRAN_PAGE (3ull << 4)
#define QI_IOTLB_DR (1ull << 7)
#define QI_IOTLB_DW (1ull << 6)

#define IRT_ENTRIES 256u /* one page (IRTA size field 7: 2^(7+1)) */
#define IRTA_S 7u

#define SPACES_MAX 64u

struct arch_iommu_space {
    struct vtd_space t;
    bool used;
};

static struct {
    volatile uint8_t *regs;
    uint64_t cap, ecap;
    bool on, ir, coherent;
    unsigned levels;
    struct vtd_root root;
    uint64_t *queue;
    paddr_t queue_pa;
    uint32_t tail;
    volatile uint32_t *status; /* the wait descriptors' status word: a frame of its own */
    paddr_t status_pa;
    uint32_t seq;
    struct vtd_irte *irt;
    paddr_t irt_pa;
    struct dmar_info dmar;
    int unit;
    struct arch_iommu_space spaces[SPACES_MAX];
} vtd;

static uint32_t rd32(unsigned off)
{
    return *(volatile uint32_t *)(vtd.regs + off);
}

static uint64_t rd64(unsigned off)
{
    return *(volatile uint64_t *)(vtd.regs + off);
}

static void wr32(unsigned off, uint32_t v)
{
    *(volatile uint32_t *)(vtd.regs + off) = v;
}

static void wr64(unsigned off, uint64_t v)
{
    *(volatile uint64_t *)(vtd.regs + off) = v;
}

/* A zeroed hypervisor frame for the unit's tables. */
static void *frame_new(paddr_t *pa)
{
    mfn_t m = hv_frame_get();
    if (mfn_x(m) == mfn_x(INVALID_MFN))
        return NULL;
    uint64_t *p = arch_frame_va(m);
    for (unsigned i = 0; i < 512; i++)
        p[i] = 0;
    *pa = mfn_to_paddr(m);
    return p;
}

void *vtd_hook_table_alloc(uint64_t *maddr)
{
    paddr_t pa;
    void *p = frame_new(&pa);
    if (p != NULL)
        *maddr = pa;
    return p;
}

void vtd_hook_table_free(uint64_t maddr)
{
    hv_frame_put(paddr_to_mfn(maddr));
}

uint64_t *vtd_hook_table_va(uint64_t maddr)
{
    return phys_to_virt(maddr);
}

void vtd_hook_flush_entry(const void *p)
{
    if (!vtd.coherent)
        __asm__ volatile("clflush %0" ::"m"(*(const volatile char *)p) : "memory");
}

/* Issues a global command and waits for its status bit to read `want`. */
static void gcmd(uint32_t bit, bool set)
{
    uint32_t sts = rd32(REG_GSTS) & GSTS_ONESHOT_MASK;
    wr32(REG_GCMD, set ? (sts | bit) : (sts & ~bit));
    uint64_t end = arch_now_ns() + 1000000000ull;
    while (((rd32(REG_GSTS) & bit) != 0) != set) {
        if (arch_now_ns() > end)
            panic("vtd: the unit did not take global command %#x", bit);
        __asm__ volatile("pause");
    }
}

/* Queues one 128-bit descriptor (the caller waits with qi_wait). */
static void qi_push(uint64_t lo, uint64_t hi)
{
    uint32_t t = vtd.tail;
    vtd.queue[2 * t] = lo;
    vtd.queue[2 * t + 1] = hi;
    vtd.tail = (t + 1) % QI_ENTRIES;
    __asm__ volatile("sfence" ::: "memory");
    wr64(REG_IQT, (uint64_t)vtd.tail << 4);
}

/* Waits until the unit has done every descriptor queued before. */
static void qi_wait(void)
{
    uint32_t want = ++vtd.seq;
    qi_push(QI_WAIT | QI_WAIT_SW | (uint64_t)want << 32, vtd.status_pa);
    uint64_t end = arch_now_ns() + 1000000000ull;
    while (__atomic_load_n(vtd.status, __ATOMIC_ACQUIRE) != want) {
        if (rd32(REG_FSTS) & FSTS_IQE)
            panic("vtd: invalidation queue error (head %#llx)", (unsigned long long)rd64(REG_IQH));
        if (arch_now_ns() > end)
            panic("vtd: an invalidation was not acknowledged within 1 s");
        __asm__ volatile("pause");
    }
}

static void iotlb_flush_domain(uint16_t did)
{
    qi_push(QI_IOTLB | QI_GRAN_DOMAIN | QI_IOTLB_DR | QI_IOTLB_DW | (uint64_t)did << 16, 0);
}

/* ---- The core's hooks (iommu.h) ------------------------------------------ */

struct arch_iommu_space *arch_iommu_space_create(void)
{
    for (unsigned i = 0; i < SPACES_MAX; i++) {
        struct arch_iommu_space *s = &vtd.spaces[i];
        if (s->used)
            continue;
        /* Domain id 0 is left unused (caching mode reserves it). */
        if (vtd_space_init(&s->t, (uint16_t)(i + 1), vtd.levels) != HV_OK)
            return NULL;
        s->used = true;
        return s;
    }
    return NULL;
}

void arch_iommu_space_destroy(struct arch_iommu_space *s)
{
    qi_push(QI_CC | QI_GRAN_DOMAIN | (uint64_t)s->t.did << 16, 0);
    iotlb_flush_domain(s->t.did);
    qi_wait();
    vtd_space_destroy(&s->t);
    s->used = false;
}

enum hv_status arch_iommu_map(struct arch_iommu_space *s, mfn_t m, bool writable)
{
    enum hv_status st = vtd_space_map(&s->t, mfn_x(m), mfn_x(m), writable);
    if (st == HV_OK && (vtd.cap & CAP_CM)) {
        /* Caching mode: not-present entries may be cached too. */
        iotlb_flush_domain(s->t.did);
        qi_wait();
    }
    return st;
}

bool arch_iommu_unmap(struct arch_iommu_space *s, mfn_t m)
{
    if (!vtd_space_unmap(&s->t, mfn_x(m)))
        return false;
    if (vtd.cap & CAP_PSI)
        qi_push(QI_IOTLB | QI_GRAN_PAGE | QI_IOTLB_DR | QI_IOTLB_DW | (uint64_t)s->t.did << 16,
                mfn_to_paddr(m)); /* address mask 0: this page */
    else
        iotlb_flush_domain(s->t.did);
    qi_wait();
    return true;
}

enum hv_status arch_iommu_attach(uint16_t bdf, struct arch_iommu_space *s)
{
    uint16_t old;
    bool was = vtd_context_get(&vtd.root, bdf, &old, NULL);
    enum hv_status st = vtd_context_set(&vtd.root, bdf, &s->t);
    if (st != HV_OK)
        return st;
    qi_push(QI_CC | QI_GRAN_DEVICE | (uint64_t)bdf << 32, 0);
    if (was)
        iotlb_flush_domain(old);
    qi_wait();
    return HV_OK;
}

void arch_iommu_detach(uint16_t bdf)
{
    uint16_t old;
    if (!vtd_context_clear(&vtd.root, bdf, &old))
        return;
    qi_push(QI_CC | QI_GRAN_DEVICE | (uint64_t)bdf << 32, 0);
    iotlb_flush_domain(old);
    qi_wait();
}

/* ---- Interrupt remapping -------------------------------------------------- */

bool vtd_ir_on(void)
{
    return vtd.ir;
}

void vtd_irte_set(uint16_t handle, uint8_t vector, uint8_t apic_id, bool level, bool sid_check,
                  uint16_t sid)
{
    if (!vtd.ir || handle >= IRT_ENTRIES)
        panic("vtd: interrupt-remapping entry %u out of range", handle);
    struct vtd_irte e = vtd_irte_make(vector, apic_id, level, sid_check, sid);
    volatile uint64_t *p = (volatile uint64_t *)&vtd.irt[handle];
    p[0] = 0; /* not present while the upper half changes */
    vtd_hook_flush_entry((const void *)p);
    p[1] = e.hi;
    p[0] = e.lo;
    vtd_hook_flush_entry((const void *)p);
    qi_push(QI_IEC, 0); /* global interrupt-entry-cache invalidation */
    qi_wait();
}

void vtd_irte_clear(uint16_t handle)
{
    if (!vtd.ir || handle >= IRT_ENTRIES)
        return;
    volatile uint64_t *p = (volatile uint64_t *)&vtd.irt[handle];
    p[0] = 0;
    p[1] = 0;
    vtd_hook_flush_entry((const void *)p);
    qi_push(QI_IEC, 0);
    qi_wait();
}

bool vtd_ioapic_sid(uint8_t ioapic_id, uint16_t *sid)
{
    return dmar_ioapic_sid(&vtd.dmar, ioapic_id, sid);
}

/* ---- Faults ---------------------------------------------------------------- */

void vtd_fault_interrupt(void)
{
    if (!vtd.on)
        return;
    uint32_t fsts = rd32(REG_FSTS);
    unsigned count = (unsigned)((vtd.cap >> 40) & 0xff) + 1;
    unsigned first = (fsts >> 8) & 0xff;
    unsigned fro = (unsigned)((vtd.cap >> 24) & 0x3ff) * 16;
    for (unsigned n = 0; n < count && (fsts & FSTS_PPF); n++) {
        unsigned rec = fro + 16 * ((first + n) % count);
        uint64_t hi = rd64(rec + 8);
        if (!(hi >> 63))
            continue;
        uint64_t lo = rd64(rec);
        wr32(rec + 12, 1u << 31); /* clear F */
        iommu_fault_report((uint16_t)hi, lo & PAGE_MASK, (uint8_t)(hi >> 32), !((hi >> 62) & 1));
    }
    if (fsts & FSTS_PFO)
        log_warn("vtd: fault records overflowed: some DMA faults were not recorded");
    wr32(REG_FSTS, FSTS_PFO);
}

/* ---- Boot ------------------------------------------------------------------ */

bool vtd_covers(uint16_t bdf)
{
    return vtd.on && dmar_unit_of(&vtd.dmar, bdf, NULL, NULL, NULL) == vtd.unit;
}

bool vtd_init(const uint8_t *dmar_table, uint32_t dmar_len, bool want_ir, uint8_t fault_vector,
              uint8_t bsp_apic_id)
{
    uint32_t where;
    enum dmar_error e = dmar_parse(dmar_table, dmar_len, &vtd.dmar, &where);
    if (e != DMAR_OK) {
        log_warn("vtd: DMAR: %s (at byte %u): no IOMMU", dmar_strerror(e), where);
        return false;
    }
    vtd.unit = 0;
    paddr_t base = vtd.dmar.units[0].reg_base;
    if (base < 0xfe000000ull || base >= (4ull << 30)) {
        log_warn("vtd: unit registers at %#llx are outside the uncached window: no IOMMU",
                 (unsigned long long)base);
        return false;
    }
    vtd.regs = phys_to_virt(base);
    vtd.cap = rd64(REG_CAP);
    vtd.ecap = rd64(REG_ECAP);
    vtd.coherent = vtd.ecap & ECAP_C;
    unsigned sagaw = (unsigned)(vtd.cap >> 8) & 0x1f;
    vtd.levels = (sagaw & 2) ? 3 : (sagaw & 4) ? 4 : 0;
    if (vtd.levels == 0 || !(vtd.ecap & ECAP_QI)) {
        log_warn("vtd: unit at %#llx lacks 3- or 4-level tables or queued invalidation "
                 "(cap %#llx ecap %#llx): no IOMMU",
                 (unsigned long long)base, (unsigned long long)vtd.cap,
                 (unsigned long long)vtd.ecap);
        return false;
    }
    if (rd32(REG_GSTS) & (GCMD_TE | GCMD_IRE | GCMD_QIE)) {
        /* Left on by the firmware: off before reprogramming. */
        gcmd(GCMD_TE, false);
        gcmd(GCMD_IRE, false);
        gcmd(GCMD_QIE, false);
    }
    if (vtd_root_init(&vtd.root) != HV_OK || (vtd.queue = frame_new(&vtd.queue_pa)) == NULL ||
        (vtd.status = frame_new(&vtd.status_pa)) == NULL)
        panic("vtd: no memory for the root table and queue");
    wr64(REG_RTADDR, vtd.root.maddr);
    gcmd(GCMD_SRTP, true);
    wr64(REG_IQT, 0);
    wr64(REG_IQA, vtd.queue_pa); /* QS 0: 256 entries; 128-bit descriptors */
    vtd.tail = 0;
    gcmd(GCMD_QIE, true);
    qi_push(QI_CC | QI_GRAN_GLOBAL, 0);
    qi_push(QI_IOTLB | QI_GRAN_GLOBAL | QI_IOTLB_DR | QI_IOTLB_DW, 0);
    qi_wait();

    vtd.ir = want_ir && vtd.dmar.intr_remap && (vtd.ecap & ECAP_IR);
    if (vtd.ir) {
        if ((vtd.irt = frame_new(&vtd.irt_pa)) == NULL)
            panic("vtd: no memory for the interrupt-remapping table");
        wr64(REG_IRTA, vtd.irt_pa | IRTA_S); /* xAPIC format (EIME clear) */
        gcmd(GCMD_SIRTP, true);
        qi_push(QI_IEC, 0);
        qi_wait();
        /* Turned on by vtd_ir_enable once the I/O APIC entries are remapped. */
    }
    wr32(REG_FEDATA, fault_vector);
    wr32(REG_FEADDR, 0xfee00000u | (uint32_t)bsp_apic_id << 12);
    wr32(REG_FEUADDR, 0);
    wr32(REG_FECTL, 0); /* unmasked */
    gcmd(GCMD_TE, true);
    vtd.on = true;
    log_info("vtd: DMA remapping on: unit at %#llx version %u.%u, %u-level tables, %u domain ids, "
             "%u fault records, %scoherent, interrupt remapping %s",
             (unsigned long long)base, (rd32(REG_VER) >> 4) & 0xf, rd32(REG_VER) & 0xf, vtd.levels,
             1u << (4 + 2 * (vtd.cap & 7)), (unsigned)((vtd.cap >> 40) & 0xff) + 1,
             vtd.coherent ? "" : "not ",
             vtd.ir    ? "available"
             : want_ir ? "not offered"
                       : "off");
    return true;
}

void vtd_ir_enable(void)
{
    if (vtd.ir)
        gcmd(GCMD_IRE, true); /* compatibility-format interrupts stay blocked (CFI clear) */
}
