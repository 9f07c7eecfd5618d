/* Status names from the ABI's list (see hvlib/status.h). */
#include "hvlib/status.h"

#include <hv/abi.h>

const char *hv_status_name(int64_t status)
{
    switch (status) {
#define HV_STATUS_NAME(name, value, meaning)                                                       \
    case value: return #name;
        HV_STATUS_LIST(HV_STATUS_NAME)
#undef HV_STATUS_NAME
    default: return (const char *)0;
    }
}

const char *hv_status_meaning(int64_t status)
{
    switch (status) {
#define HV_STATUS_MEANING(name, value, meaning)                                                    \
    case value: return meaning;
        HV_STATUS_LIST(HV_STATUS_MEANING)
#undef HV_STATUS_MEANING
    default: return (const char *)0;
    }
}
