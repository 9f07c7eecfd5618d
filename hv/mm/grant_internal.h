/*
 * Helpers shared by the grant files (hv/mm/grant*.c); not for other callers.
 * Same locking as grant.h: the hypervisor lock is held.
 */
#ifndef HV_MM_GRANT_INTERNAL_H
#define HV_MM_GRANT_INTERNAL_H

#include "grant.h"

/*
 * The grant table of the domain named by slot of caps (a domain capability
 * with HV_GRANT_DOM_RIGHT) for an operation of `self`. HV_EINVAL: slot is
 * HV_CAP_SLOT_SELF, out of range, or names `self`; HV_ENOENT: empty slot or
 * a dying domain; HV_EPERM: not a domain capability or the right missing.
 */
enum hv_status grant_resolve_domain(struct cap_table *caps, uint32_t slot,
                                    const struct grant_table *self, struct grant_table **out);

/*
 * The ACTIVE entry `ref` of granter for use by grantee (write access if
 * `write`). HV_EINVAL: ref 0 or out of range; HV_ENOENT: no active grant
 * there; HV_EPERM: granted to another domain, or read-only and `write`.
 */
enum hv_status grant_entry_for(struct grant_table *granter, uint32_t ref,
                               const struct grant_table *grantee, bool write,
                               struct grant_entry **out);

#endif /* HV_MM_GRANT_INTERNAL_H */
