/*
 * What a domain driving a PCI function may do with its DMA and its message
 * interrupts (docs/devices.md, "The IOMMU" and "Message interrupts"):
 *
 *   - Bus mastering. Turning it on (a configuration write of the command
 *     register with bit 2 set, which already needs HV_CAP_R_PCI_DMA)
 *     attaches the function's DMA to the writer's translation space
 *     (iommu.h): from then on the device reaches exactly the writer's
 *     frames. Without an IOMMU covering the function only the root may, or
 *     anyone with `iommu=off-unsafe`. Turning it off, the writer dying or
 *     losing its last capability with the DMA right detaches it.
 *   - Message interrupts. HV_PCI_MSI_ENABLE gives the caller vectors
 *     (msi.h) and programs the function's MSI or MSI-X structure with the
 *     messages the architecture makes for them (with interrupt remapping:
 *     entries only this function's source id may use); HV_EVTCHN_BIND_MSI
 *     binds each to a port of the caller. A domain never writes a message
 *     address or data: config writes into the structures are refused
 *     (pci.c) and the MSI-X table's frames are never mapped writable.
 *   - DMA faults are counted for the domain the function is attached to and
 *     logged (the first 8 per domain, then every 1000th); the
 *     IOMMU_FAULT_STOP-th since it was attached stops the function (bus
 *     mastering off, detached).
 *
 * Locking: every entry runs under the hypervisor lock (hypercalls, the
 * interrupt entry, capability removal, domain teardown).
 */
#include "arch.h"
#include "domain.h"
#include "schedule.h"
#include "objects.h"
#include "evtchn.h"
#include "iommu.h"
#include "log.h"
#include "msi.h"
#include "pci.h"
#include "test_op.h"

#define PCI_MSI_CTRL_ENABLE 0x0001u
#define PCI_MSI_CTRL_MME 0x0070u
#define PCI_MSIX_CTRL_ENABLE 0x8000u
#define PCI_MSIX_CTRL_MASKALL 0x4000u
#define MSIX_ENTRY_BYTES 16u

static enum iommu_mode mode = IOMMU_ABSENT;
static struct msi_table msis;

void pci_dev_boot(enum arch_iommu found, bool off_unsafe)
{
    msi_table_init(&msis);
    if (found == ARCH_IOMMU_VTD) {
        mode = IOMMU_ON;
        return;
    }
    mode = off_unsafe ? IOMMU_OFF_UNSAFE : IOMMU_ABSENT;
    if (off_unsafe)
        log_warn("iommu=off-unsafe: NO IOMMU, and any domain given the DMA right may turn on bus "
                 "mastering: its devices can read and write ALL memory of the machine");
    else
        log_warn("iommu: no IOMMU: DMA for the root domain only (driver domains are refused "
                 "bus mastering; `iommu=off-unsafe` would allow it, unconfined)");
}

uint32_t pci_dev_iommu_kind(void)
{
    return mode == IOMMU_ON           ? HV_IOMMU_VTD
           : mode == IOMMU_OFF_UNSAFE ? HV_IOMMU_OFF_UNSAFE
                                      : HV_IOMMU_NONE;
}

/* ---- Bus mastering --------------------------------------------------------- */

static uint16_t cfg16(struct pci_func *f, uint32_t off)
{
    return (uint16_t)(pci_hook_read32(f->bdf, off & 0xfc) >> (8 * (off & 2)));
}

static void cfg16_write(struct pci_func *f, uint32_t off, uint16_t v)
{
    uint32_t d = pci_hook_read32(f->bdf, off & 0xfc);
    unsigned sh = 8 * (off & 2);
    pci_hook_write32(f->bdf, off & 0xfc, (d & ~(0xffffu << sh)) | (uint32_t)v << sh);
}

static void detach(struct pci_func *f)
{
    struct domain *o = f->dma_owner == DOMID_INVALID ? NULL : domain_by_id(f->dma_owner);
    if (o)
        iommu_detach(&o->iommu, f->bdf);
    f->dma_owner = DOMID_INVALID;
}

enum hv_status pci_dma_before_command(struct domain *d, struct pci_func *f, uint32_t value)
{
    if (!(value & PCI_COMMAND_MASTER))
        return HV_OK;
    bool attach;
    enum hv_status st =
        iommu_dma_rule(mode, arch_iommu_covers(f->bdf), d->is_root, d->id, f->dma_owner, &attach);
    if (st != HV_OK || !attach)
        return st;
    st = iommu_attach(&d->iommu, d->id, f->bdf);
    if (st == HV_OK) {
        f->dma_owner = d->id;
        f->dma_faults = 0;
    }
    return st;
}

void pci_dma_after_command(struct pci_func *f, uint32_t value)
{
    if (!(value & PCI_COMMAND_MASTER))
        detach(f); /* the device can DMA no more: its translation goes too */
}

/* Bus mastering off (the command register's other bits kept). */
static void master_off(struct pci_func *f)
{
    uint32_t cmd = pci_hook_read32(f->bdf, PCI_CFG_COMMAND) & 0xffffu;
    if (cmd & PCI_COMMAND_MASTER)
        pci_hook_write32(f->bdf, PCI_CFG_COMMAND, cmd & ~PCI_COMMAND_MASTER);
}

/* ---- Message interrupts ---------------------------------------------------- */

/* The MSI-X table of f, mapped uncached, or NULL. */
static volatile uint32_t *msix_table(struct pci_func *f)
{
    const struct hv_pci_bar *b =
        f->msix_table_bir < PCI_BARS_MAX ? &f->bars[f->msix_table_bir] : NULL;
    if (!b || (b->kind != HV_PCI_BAR_MEM32 && b->kind != HV_PCI_BAR_MEM64) ||
        (uint64_t)f->msix_table_off + MSIX_ENTRY_BYTES * f->msix_count > b->size)
        return NULL;
    return arch_mmio_va(b->base + f->msix_table_off, MSIX_ENTRY_BYTES * f->msix_count);
}

/* The CPU the VCPU `vcpu` of the domain owning ed last came onto (0 if it
 * never ran: it is re-aimed when it first runs, evtchn_pirq_follow_vcpu). */
static unsigned cpu_of(struct evtchn_domain *ed, uint32_t vcpu)
{
    const struct vcpu *v = vcpu < VCPU_MAX ? &domain_of_evtchn(ed)->vcpus[vcpu] : NULL;
    return v && v->last_cpu >= 0 ? (unsigned)v->last_cpu : 0;
}

/* Writes vector i's message into the device (MSI or MSI-X entry i). */
static void program(struct pci_func *f, volatile uint32_t *table, uint32_t i)
{
    int s = msi_slot_of(&f->msi, i);
    uint32_t addr, data;
    arch_msi_message((unsigned)s, msi_vector_number((uint32_t)s), f->bdf, msis.v[s].cpu, &addr,
                     &data);
    if (f->msi.kind == HV_PCI_MSIX) {
        volatile uint32_t *e = table + i * (MSIX_ENTRY_BYTES / 4);
        e[0] = addr;
        e[1] = 0;
        e[2] = data;
        e[3] = 0; /* unmasked */
        return;
    }
    pci_hook_write32(f->bdf, f->msi_off + 4u, addr);
    if (f->msi_64bit)
        pci_hook_write32(f->bdf, f->msi_off + 8u, 0);
    uint32_t doff = f->msi_off + (f->msi_64bit ? 12u : 8u);
    cfg16_write(f, doff, (uint16_t)data);
}

/* Turns f's MSI/MSI-X off in the device and forgets its vectors. */
static void msi_off(struct pci_func *f)
{
    if (f->msi.kind == HV_PCI_MSIX)
        cfg16_write(f, f->msix_off + 2u,
                    (uint16_t)(cfg16(f, f->msix_off + 2u) & ~PCI_MSIX_CTRL_ENABLE));
    else if (f->msi.kind == HV_PCI_MSI)
        cfg16_write(f, f->msi_off + 2u,
                    (uint16_t)(cfg16(f, f->msi_off + 2u) & ~PCI_MSI_CTRL_ENABLE));
    for (uint32_t i = 0; i < f->msi.count; i++) {
        int s = msi_slot_of(&f->msi, i);
        evtchn_pirq_unbind(domain_pirq_table(), EVTCHN_MSI_FIRST + (uint32_t)s);
        arch_msi_release((unsigned)s);
    }
    msi_disable(&msis, &f->msi);
}

enum hv_status pci_msi_enable(struct domain *d, struct pci_func *f, uint32_t kind, uint32_t count)
{
    volatile uint32_t *table = NULL;
    if (kind == HV_PCI_MSIX && f->msix_off && (table = msix_table(f)) == NULL)
        return HV_ENOTSUP; /* the table is not where the hypervisor can write it */
    enum hv_status st =
        msi_enable(&msis, &f->msi, (uint16_t)(f - pci_hv_table()->funcs), d->uid, kind, count,
                   f->msi_off != 0, f->msix_off ? f->msix_count : 0, 0);
    if (st != HV_OK)
        return st;
    if (kind == HV_PCI_MSIX) {
        /* Everything masked while the entries are written, then on. */
        cfg16_write(f, f->msix_off + 2u,
                    (uint16_t)(cfg16(f, f->msix_off + 2u) | PCI_MSIX_CTRL_MASKALL));
        for (uint32_t i = 0; i < f->msix_count; i++)
            table[i * 4 + 3] = 1; /* vector control: masked */
        for (uint32_t i = 0; i < count; i++)
            program(f, table, i);
        cfg16_write(f, f->msix_off + 2u,
                    (uint16_t)((cfg16(f, f->msix_off + 2u) & ~PCI_MSIX_CTRL_MASKALL) |
                               PCI_MSIX_CTRL_ENABLE));
    } else {
        program(f, NULL, 0);
        cfg16_write(
            f, f->msi_off + 2u,
            (uint16_t)((cfg16(f, f->msi_off + 2u) & ~PCI_MSI_CTRL_MME) | PCI_MSI_CTRL_ENABLE));
    }
    return HV_OK;
}

enum hv_status pci_msi_disable(struct domain *d, struct pci_func *f)
{
    enum hv_status st = msi_check_owner(&f->msi, d->uid);
    if (st != HV_OK)
        return st;
    msi_off(f);
    return HV_OK;
}

enum hv_status pci_msi_bind(struct domain *d, struct pci_func *f, uint32_t index, uint32_t *port)
{
    enum hv_status st = msi_check_owner(&f->msi, d->uid);
    if (st == HV_ENOENT)
        return HV_ENOENT;
    if (st != HV_OK)
        return HV_EPERM;
    int s = msi_slot_of(&f->msi, index);
    if (s < 0)
        return HV_EINVAL;
    return evtchn_bind_msi(&d->ev, EVTCHN_MSI_FIRST + (uint32_t)s, port);
}

void evtchn_pirq_follow(uint32_t pirq, struct evtchn_domain *ed, uint32_t vcpu)
{
    unsigned cpu = cpu_of(ed, vcpu);
    if (pirq < EVTCHN_MSI_FIRST) {
        arch_irq_set_cpu(pirq, cpu);
        return;
    }
    uint32_t s = pirq - EVTCHN_MSI_FIRST;
    if (s >= MSI_VECTORS || !msis.v[s].used || msis.v[s].cpu == cpu)
        return;
    msis.v[s].cpu = (uint16_t)cpu;
    struct pci_func *f = &pci_hv_table()->funcs[msis.v[s].func];
    program(f, f->msi.kind == HV_PCI_MSIX ? msix_table(f) : NULL, msis.v[s].entry);
}

void domain_msi(unsigned vector)
{
#ifdef HV_TEST_IMAGE
    test_device_irq();
#endif
    int s = msi_slot_of_vector(&msis, vector);
    if (s < 0 || !evtchn_pirq_raise(domain_pirq_table(), EVTCHN_MSI_FIRST + (uint32_t)s))
        log_debug("msi: vector %#x arrived with nobody to take it", vector);
}

bool pci_msix_frame(uint64_t mfn)
{
    const struct pci_scan *t = pci_hv_table();
    for (uint32_t i = 0; i < t->count; i++) {
        const struct pci_func *f = &t->funcs[i];
        if (!f->msix_off)
            continue;
        uint8_t bir[2] = {f->msix_table_bir, f->msix_pba_bir};
        uint64_t off[2] = {f->msix_table_off, f->msix_pba_off};
        uint64_t len[2] = {MSIX_ENTRY_BYTES * (uint64_t)f->msix_count,
                           8 * (((uint64_t)f->msix_count + 63) / 64)};
        for (unsigned k = 0; k < 2; k++) {
            if (bir[k] >= PCI_BARS_MAX)
                continue;
            uint64_t a = f->bars[bir[k]].base + off[k];
            if (mfn >= a >> PAGE_SHIFT && mfn <= (a + len[k] - 1) >> PAGE_SHIFT)
                return true;
        }
    }
    return false;
}

/* ---- Faults, capabilities going, domains going ----------------------------- */

void iommu_fault_report(uint16_t sid, uint64_t addr, uint8_t reason, bool write)
{
    struct pci_scan *t = pci_hv_table();
    struct pci_func *f = NULL;
    for (uint32_t i = 0; i < t->count && !f; i++)
        if (t->funcs[i].bdf == sid)
            f = &t->funcs[i];
    struct domain *d = f && f->dma_owner != DOMID_INVALID ? domain_by_id(f->dma_owner) : NULL;
    uint64_t n = d ? ++d->iommu.faults : 0;
    if (!d || n <= 8 || n % 1000 == 0)
        log_warn("iommu: DMA fault: %02x:%02x.%u %s at %#llx (reason %#x), domain %d, %llu so far",
                 sid >> 8, (sid >> 3) & 0x1f, sid & 7, write ? "write" : "read",
                 (unsigned long long)addr, reason, d ? (int)d->id : -1, (unsigned long long)n);
    if (d && ++f->dma_faults == IOMMU_FAULT_STOP) {
        master_off(f);
        detach(f); /* its later fault records count for nobody */
        log_warn("iommu: %02x:%02x.%u stopped (bus mastering off) after %u DMA faults, domain %d",
                 sid >> 8, (sid >> 3) & 0x1f, sid & 7, IOMMU_FAULT_STOP, (int)d->id);
    }
}

/* Whether d still holds a PCI capability to f with all of `rights`. */
static bool holds(struct domain *d, struct pci_func *f, uint32_t rights)
{
    for (uint32_t s = 0; s < HV_CAP_SLOTS; s++) {
        const struct cap *c = &d->caps.slots[s];
        if (c->obj == &f->pci_obj && (c->rights & rights) == rights)
            return true;
    }
    return false;
}

void pci_dev_cap_removed(struct domain *d, const struct cap_object *obj)
{
    struct pci_func *f = pci_func_of_obj(pci_hv_table(), obj);
    if (!f || obj != &f->pci_obj)
        return;
    if (f->dma_owner == d->id && !holds(d, f, HV_CAP_R_PCI_DMA)) {
        master_off(f);
        detach(f);
    }
    if (f->msi.kind && f->msi.owner_uid == d->uid && !holds(d, f, HV_CAP_R_PCI_IRQ))
        msi_off(f);
}

void pci_dev_domain_gone(struct domain *d)
{
    struct pci_scan *t = pci_hv_table();
    for (uint32_t i = 0; i < t->count; i++) {
        struct pci_func *f = &t->funcs[i];
        if (f->dma_owner == d->id) {
            master_off(f);
            detach(f);
        }
        if (f->msi.kind && f->msi.owner_uid == d->uid)
            msi_off(f);
    }
}
