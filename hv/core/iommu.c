/*
 * DMA remapping policy (see hv/core/include/iommu.h, which states the ordering
 * rule). Host-tested in test/unit/iommu/test_iommu.c.
 */
#include "iommu.h"

enum hv_status iommu_dma_rule(enum iommu_mode mode, bool covered, bool is_root, domid_t dom,
                              domid_t owner, bool *attach)
{
    *attach = false;
    if (owner != DOMID_INVALID && owner != dom)
        return HV_EBUSY;
    if (mode == IOMMU_ON && covered) {
        *attach = owner == DOMID_INVALID;
        return HV_OK;
    }
    /* No unit translates this function: unconfined DMA, for the root only
     * unless the command line accepted the risk. */
    return is_root || mode == IOMMU_OFF_UNSAFE ? HV_OK : HV_EPERM;
}

struct fill {
    struct iommu_dom *d;
};

static void fill_one(void *ctx, mfn_t m, bool writable)
{
    struct fill *f = ctx;
    iommu_frame(f->d, m, true, writable);
}

enum hv_status iommu_attach(struct iommu_dom *d, domid_t dom, uint16_t bdf)
{
    bool created = false;
    if (d->space == NULL) {
        d->space = arch_iommu_space_create();
        if (d->space == NULL)
            return HV_ENOMEM;
        created = true;
        d->frames_mapped = 0;
        struct fill f = {d};
        iommu_hook_dma_frames(dom, fill_one, &f);
    }
    enum hv_status st = arch_iommu_attach(bdf, d->space);
    if (st != HV_OK) {
        if (created) {
            arch_iommu_space_destroy(d->space);
            d->space = NULL;
            d->frames_mapped = 0;
        }
        return st;
    }
    d->funcs++;
    return HV_OK;
}

void iommu_detach(struct iommu_dom *d, uint16_t bdf)
{
    if (d->space == NULL || d->funcs == 0)
        return;
    arch_iommu_detach(bdf);
    if (--d->funcs == 0) {
        arch_iommu_space_destroy(d->space);
        d->space = NULL;
        d->frames_mapped = 0;
    }
}

void iommu_frame(struct iommu_dom *d, mfn_t m, bool usable, bool writable)
{
    if (d->space == NULL)
        return;
    if (usable) {
        if (arch_iommu_map(d->space, m, writable) == HV_OK)
            d->frames_mapped++;
        else
            d->map_failures++; /* unreachable for DMA: safe, counted */
        return;
    }
    if (arch_iommu_unmap(d->space, m))
        d->frames_mapped--;
}
