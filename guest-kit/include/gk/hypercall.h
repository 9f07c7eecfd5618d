/*
 * Typed wrappers for every hypercall of the guest ABI (proto/include/hv/abi.h).
 * A hypercall is the `syscall` instruction: number in rax, arguments in rdi,
 * rsi, rdx, r10, r8, r9; rcx and r11 are clobbered; the result is in rax.
 */
#ifndef GK_HYPERCALL_H
#define GK_HYPERCALL_H

#include <stddef.h>
#include <stdint.h>

#include "hv/abi.h"

static inline int64_t gk_hypercall3(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
    int64_t ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a0), "S"(a1), "d"(a2)
                     : "rcx", "r11", "memory");
    return ret;
}

/* Writes up to HV_CONSOLE_WRITE_MAX bytes to this domain's console; returns
 * the number written or a negative enum hv_status. */
static inline int64_t gk_hc_console_write(const char *buf, size_t len)
{
    return gk_hypercall3(HC_CONSOLE_WRITE, (uint64_t)(uintptr_t)buf, len, 0);
}

/* Gives up the CPU; returns when this domain is scheduled again. */
static inline int64_t gk_hc_yield(void)
{
    return gk_hypercall3(HC_YIELD, 0, 0, 0);
}

/* Stops this domain. Returns only if the reason is invalid (HV_EINVAL). */
static inline int64_t gk_hc_shutdown(enum hv_shutdown_reason reason)
{
    return gk_hypercall3(HC_SHUTDOWN, (uint64_t)reason, 0, 0);
}

#endif
