/*
 * The test-only hypercall HC_TEST_OP: present only in the hypervisor's test
 * image (build/hv/hv-test.elf, the same sources built with HV_TEST_IMAGE and
 * test/image/core/test_op.c); the hypervisor users run answers HV_ENOSYS, as for any
 * unknown number. Tests use it to measure the hypervisor from inside
 * (docs/mm.md, "Bounded work") and to have it check its own invariants.
 *
 * HC_TEST_OP(enum hv_test_cmd cmd, void *args) -> status.
 */
#ifndef HV_TEST_OP_H
#define HV_TEST_OP_H

#include <stdint.h>

#define HC_TEST_OP 63

enum hv_test_cmd {
    /* struct hv_test_stats: the longest hold of the hypervisor lock. */
    HV_TEST_STATS = 0,
    /* struct hv_test_check: the hypervisor audits its own state. */
    HV_TEST_CHECK = 1,
    /* struct hv_test_irqs: device interrupts taken, per CPU. */
    HV_TEST_IRQS = 2,
};

/*
 * Every stretch of hypervisor work on a CPU (from taking the hypervisor lock
 * to giving it back: a hypercall with its restart, deferred work and the
 * switch on the way out, an interrupt) is timed in system-time ns, which
 * under QEMU's -icount shift=0 is one per instruction executed.
 */
struct hv_test_stats {
    uint64_t reset;        /* in: non-zero clears the figures after reading them */
    uint64_t longest_ns;   /* the longest stretch since the last reset (not HC_TEST_OP's) */
    uint64_t longest_nr;   /* the hypercall it belonged to (~0: not a hypercall) */
    uint64_t longest_arg0; /* that hypercall's first argument (its command) */
    uint64_t stretches;    /* stretches timed */
    uint64_t hypercalls;   /* hypercall entries (restarts included) */
};
_Static_assert(sizeof(struct hv_test_stats) == 48, "hv_test_stats layout");

/*
 * The audit: every frame's counts recomputed from the page tables, pins,
 * bases, grants and pending operations that hold them; frame owners against
 * the domains' page counts and the free pool; every capability's links,
 * counts and object. errors = 0 when everything agrees; else the first
 * disagreement is described in `first` (NUL-terminated).
 */
struct hv_test_check {
    uint32_t errors;
    uint32_t inject; /* in: 1 = also count one reference too many on the first
                      * frame the caller owns: the audit must report it (a test
                      * of the audit itself); 0 = audit only */
    uint64_t frames_checked;
    uint64_t frames_free; /* the pool's count */
    uint64_t caps_checked;
    char first[96];
};
_Static_assert(sizeof(struct hv_test_check) == 128, "hv_test_check layout");

/*
 * Device interrupts (I/O APIC lines and message vectors, counted as they
 * enter the hypervisor) each CPU has taken since boot: which CPU a device's
 * interrupts reach (docs/devices.md, "Which CPU takes a device interrupt").
 */
#define HV_TEST_IRQ_CPUS 8
struct hv_test_irqs {
    uint64_t taken[HV_TEST_IRQ_CPUS]; /* CPUs 8 and up are not counted */
};
_Static_assert(sizeof(struct hv_test_irqs) == 64, "hv_test_irqs layout");

#endif /* HV_TEST_OP_H */
