/*
 * Message-interrupt vectors (see hv/core/include/msi.h). Host-tested in
 * test/unit/iommu/test_msi.c.
 */
#include "msi.h"

void msi_table_init(struct msi_table *t)
{
    *t = (struct msi_table){0};
}

enum hv_status msi_enable(struct msi_table *t, struct msi_func *f, uint16_t func_index,
                          uint64_t owner_uid, uint32_t kind, uint32_t count, bool have_msi,
                          uint16_t msix_size, uint16_t cpu)
{
    uint32_t limit;
    if (owner_uid == 0)
        return HV_EINVAL;
    switch (kind) {
    case HV_PCI_MSI: limit = have_msi ? 1 : 0; break;
    case HV_PCI_MSIX: limit = msix_size; break;
    default: return HV_EINVAL;
    }
    if (limit == 0)
        return HV_ENOTSUP;
    if (count == 0 || count > limit || count > MSI_PER_FUNC)
        return HV_EINVAL;
    if (f->kind != 0)
        return HV_EBUSY;
    if (MSI_VECTORS - t->used_count < count)
        return HV_ENOMEM;
    uint32_t got = 0;
    for (uint32_t s = 0; s < MSI_VECTORS && got < count; s++) {
        if (t->v[s].used)
            continue;
        t->v[s] = (struct msi_vector){
            .used = true, .func = func_index, .entry = (uint16_t)got, .cpu = cpu};
        f->slot[got++] = (uint8_t)s;
    }
    t->used_count += count;
    f->owner_uid = owner_uid;
    f->kind = (uint8_t)kind;
    f->count = (uint8_t)count;
    return HV_OK;
}

void msi_disable(struct msi_table *t, struct msi_func *f)
{
    for (uint32_t i = 0; i < f->count && i < MSI_PER_FUNC; i++) {
        struct msi_vector *v = &t->v[f->slot[i]];
        if (v->used) {
            *v = (struct msi_vector){0};
            t->used_count--;
        }
    }
    *f = (struct msi_func){0};
}

enum hv_status msi_check_owner(const struct msi_func *f, uint64_t owner_uid)
{
    if (f->kind == 0)
        return HV_ENOENT;
    return f->owner_uid == owner_uid ? HV_OK : HV_EPERM;
}

int msi_slot_of(const struct msi_func *f, uint32_t index)
{
    if (f->kind == 0 || index >= f->count)
        return -1;
    return f->slot[index];
}

int msi_slot_of_vector(const struct msi_table *t, unsigned vector)
{
    if (vector < MSI_VECTOR_FIRST || vector >= MSI_VECTOR_FIRST + MSI_VECTORS)
        return -1;
    uint32_t s = vector - MSI_VECTOR_FIRST;
    return t->v[s].used ? (int)s : -1;
}
