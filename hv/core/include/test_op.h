/*
 * The test image's instruments and boot self-tests (test/image/core/: test_op.c,
 * test_boot.c; hv/core/test_op_absent.c in the hypervisor users run). The
 * hooks exist only in the test image: callers guard them with
 * #ifdef HV_TEST_IMAGE.
 */
#ifndef HV_TEST_OP_INTERNAL_H
#define HV_TEST_OP_INTERNAL_H

#include "types.h"

struct domain;
struct domain_spec;
struct hypercall;
struct pmm;

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
/* Boot self-tests chosen on the command line (test_boot.c): right after the
 * other CPUs started, and right before the root domain is built from root. */
void test_boot(struct pmm *pmm);
void test_before_root(const struct domain_spec *root, struct pmm *pmm);
/* `test_no_shootdown` on the command line: a stale translation is flushed
 * on this CPU only, as a one-CPU hypervisor would, so that the TLB race
 * tests can show that they fail without the shootdown. */
bool test_no_shootdown(void);
#endif

#endif
