/*
 * Capabilities and domain operations (hv/caps.h, hv/domctl.h,
 * docs/capabilities.md). Every object is named by a slot of this domain's
 * capability table (0 .. HV_CAP_SLOTS-1); HV_CAP_SLOT_SELF names the domain
 * itself where the ABI allows it. Results are enum hv_status.
 */
#ifndef GK_CAP_H
#define GK_CAP_H

#include <stdint.h>

#include "hv/caps.h"
#include "hv/domctl.h"

/* HV_CAP_COPY: copy the capability in src_slot into dst_slot of the table of
 * the domain in dst_domain_slot (HV_CAP_SLOT_SELF: ours) with `rights` (a
 * subset of the source's); base/count narrow a range type (0 otherwise). */
int64_t gk_cap_copy(uint32_t src_slot, uint32_t dst_domain_slot, uint32_t dst_slot, uint32_t rights,
                    uint64_t base, uint64_t count);

/* HV_CAP_DELETE: empty slot (its derived copies stay). */
int64_t gk_cap_delete(uint32_t slot);

/* HV_CAP_REVOKE: delete every capability derived from slot's (the slot
 * itself stays). The hypervisor restarts a long revoke itself; should it
 * return HV_EAGAIN anyway, this retries (a bounded number of times). */
int64_t gk_cap_revoke(uint32_t slot);

/* HV_CAP_IDENTIFY: type, rights and range of the capability in slot
 * (type HV_CAP_NULL for an empty slot). */
int64_t gk_cap_identify(uint32_t slot, struct hv_cap_info *info);

/* HV_DOMCTL_INFO of the domain in slot (HV_CAP_SLOT_SELF: ourselves). */
int64_t gk_domain_info(uint32_t slot, struct hv_domctl_info *info);

/* HV_DOMCTL_PAUSE / UNPAUSE / DESTROY of the domain in slot (a domain
 * capability with HV_CAP_R_DOM_CONTROL). Destroy is named _slot because
 * gk/builder.h's gk_domain_destroy takes a built domain. */
int64_t gk_domain_pause(uint32_t slot);
int64_t gk_domain_unpause(uint32_t slot);
int64_t gk_domain_destroy_slot(uint32_t slot);

#endif
