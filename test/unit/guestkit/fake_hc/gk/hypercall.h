/*
 * Host-test stand-in for guest-kit/include/gk/hypercall.h: everything of the
 * real header, except that gk_hc_pci_op is an ordinary function the test
 * provides (test_pci_cap.c), so that guest-kit/src/pci_cap.c is compiled
 * unchanged against a fake hypervisor. This directory comes first on the
 * test's include path.
 */
#ifndef GK_FAKE_HYPERCALL_H
#define GK_FAKE_HYPERCALL_H

#define gk_hc_pci_op gk_hc_pci_op_real_unused
#include "../../../../../guest-kit/include/gk/hypercall.h"
#undef gk_hc_pci_op

int64_t gk_hc_pci_op(enum hv_pci_cmd cmd, void *args);

#endif
