/* Host stand-in for gk/hypercall.h (see gk.h here): the hypercalls the
 * builder makes go to the fake hypervisor of test_executor.c. */
#ifndef FAKE_GK_HYPERCALL_H
#define FAKE_GK_HYPERCALL_H

#include <stdint.h>

#include "hv/abi.h"
#include "hv/domctl.h"

int64_t gk_hc_domain_op(enum hv_domctl_cmd cmd, void *args);

#endif
