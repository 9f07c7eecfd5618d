/*
 * Host stand-in for guest-kit's gk/gk.h, for test_executor.c only: the
 * executor (guest-kit/src/builder.c) is compiled on the host against a fake
 * hypervisor. This directory comes before guest-kit/include in that test's
 * include path, so these headers shadow the real ones.
 */
#ifndef FAKE_GK_GK_H
#define FAKE_GK_GK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "gk/hypercall.h"
#include "hv/abi.h"

extern const struct hv_start_info *gk_start_info;

#endif
