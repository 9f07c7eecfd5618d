/*
 * The hypervisor users run has no test instruments: HC_TEST_OP is unknown
 * here, as any number without a handler (test_op.c is the test image's).
 */
#include "domain.h"
#include "test_op.h"

int64_t hc_test_op(struct domain *d, struct hypercall *c)
{
    (void)d;
    (void)c;
    return HV_ENOSYS;
}
