/*
 * The test image's instruments (hv/core/test_op.c; test_op_absent.c in the
 * hypervisor users run). The hooks exist only in the test image: callers
 * guard them with #ifdef HV_TEST_IMAGE.
 */
#ifndef HV_TEST_OP_INTERNAL_H
#define HV_TEST_OP_INTERNAL_H

#include "types.h"

struct domain;
struct hypercall;

/* HC_TEST_OP (proto/include/hv/test_op.h); HV_ENOSYS outside the test image. */
int64_t hc_test_op(struct domain *d, struct hypercall *c);

#ifdef HV_TEST_IMAGE
/* Right after this CPU took the hypervisor lock / right before it gives it back. */
void test_lock_taken(void);
void test_lock_released(void);
/* This CPU's stretch of work is hypercall nr with first argument arg0. */
void test_hypercall(uint64_t nr, uint64_t arg0);
/* This CPU took a device interrupt (a line or a message vector). */
void test_device_irq(void);
#endif

#endif
