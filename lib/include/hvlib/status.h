/*
 * Names of the hypervisor's status codes (enum hv_status,
 * proto/include/hv/abi.h), made from the ABI's one list HV_STATUS_LIST, so
 * every code has its name. For the hypervisor's log, guest-kit, the
 * control domain and host tools alike.
 */
#ifndef HVLIB_STATUS_H
#define HVLIB_STATUS_H

#include <stdint.h>

/* "HV_EBUSY" for HV_EBUSY; NULL for a value that is no status code. */
const char *hv_status_name(int64_t status);
/* What the code means ("object in use"); NULL for a value that is no
 * status code. */
const char *hv_status_meaning(int64_t status);

#endif /* HVLIB_STATUS_H */
