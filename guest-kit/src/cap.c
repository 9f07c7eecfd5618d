/* Capabilities and domain operations (see gk/cap.h). */
#include "gk/cap.h"

#include "gk/gk.h"

/* Retries of a revoke answered HV_EAGAIN: the hypervisor restarts revokes
 * itself, so more than a few would mean it makes no progress. */
#define REVOKE_TRIES 1000u

int64_t gk_cap_copy(uint32_t src_slot, uint32_t dst_domain_slot, uint32_t dst_slot, uint32_t rights,
                    uint64_t base, uint64_t count)
{
    struct hv_cap_copy_args a = {.src_slot = src_slot,
                                 .dst_domain_slot = dst_domain_slot,
                                 .dst_slot = dst_slot,
                                 .rights = rights,
                                 .base = base,
                                 .count = count};
    return gk_hc_cap_op(HV_CAP_COPY, &a);
}

int64_t gk_cap_delete(uint32_t slot)
{
    struct hv_cap_slot_args a = {.slot = slot};
    return gk_hc_cap_op(HV_CAP_DELETE, &a);
}

int64_t gk_cap_revoke(uint32_t slot)
{
    int64_t rc = HV_EAGAIN;
    for (unsigned i = 0; i < REVOKE_TRIES && rc == HV_EAGAIN; i++) {
        struct hv_cap_slot_args a = {.slot = slot};
        rc = gk_hc_cap_op(HV_CAP_REVOKE, &a);
    }
    return rc;
}

int64_t gk_cap_identify(uint32_t slot, struct hv_cap_info *info)
{
    struct hv_cap_identify_args a = {.slot = slot};
    int64_t rc = gk_hc_cap_op(HV_CAP_IDENTIFY, &a);
    if (rc == HV_OK)
        *info = a.info;
    return rc;
}

int64_t gk_domain_info(uint32_t slot, struct hv_domctl_info *info)
{
    struct hv_domctl_info a = {.dom_slot = slot};
    int64_t rc = gk_hc_domain_op(HV_DOMCTL_INFO, &a);
    if (rc == HV_OK)
        *info = a;
    return rc;
}

static int64_t dom_op(enum hv_domctl_cmd cmd, uint32_t slot)
{
    struct hv_domctl_dom a = {.dom_slot = slot};
    return gk_hc_domain_op(cmd, &a);
}

int64_t gk_domain_pause(uint32_t slot)
{
    return dom_op(HV_DOMCTL_PAUSE, slot);
}

int64_t gk_domain_unpause(uint32_t slot)
{
    return dom_op(HV_DOMCTL_UNPAUSE, slot);
}

int64_t gk_domain_destroy_slot(uint32_t slot)
{
    return dom_op(HV_DOMCTL_DESTROY, slot);
}
