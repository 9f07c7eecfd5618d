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
#include "hv/caps.h"
#include "hv/domctl.h"
#include "hv/grant.h"

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

/* ---- Core objects (hv/domctl.h, hv/caps.h, hv/grant.h) ------------------ */

/* Capability operation: cmd is enum hv_cap_cmd, args its struct. */
static inline int64_t gk_hc_cap_op(enum hv_cap_cmd cmd, void *args)
{
    return gk_hypercall3(HC_CAP_OP, (uint64_t)cmd, (uint64_t)(uintptr_t)args, 0);
}

/* Event-channel operation: cmd is enum hv_evtchn_cmd, args its struct. */
static inline int64_t gk_hc_evtchn_op(enum hv_evtchn_cmd cmd, void *args)
{
    return gk_hypercall3(HC_EVTCHN_OP, (uint64_t)cmd, (uint64_t)(uintptr_t)args, 0);
}

/* Grant operation: cmd is enum hv_grant_cmd, args its struct. */
static inline int64_t gk_hc_grant_op(enum hv_grant_cmd cmd, void *args)
{
    return gk_hypercall3(HC_GRANT_OP, (uint64_t)cmd, (uint64_t)(uintptr_t)args, 0);
}

/* Registers the upcall entry point (0: none). */
static inline int64_t gk_hc_set_callback(uint64_t entry)
{
    return gk_hypercall3(HC_SET_CALLBACK, entry, 0, 0);
}

/* Unmasks upcalls and waits until an event is pending (see hv/domctl.h). */
static inline int64_t gk_hc_block(void)
{
    return gk_hypercall3(HC_BLOCK, 0, 0, 0);
}

/* Arms this VCPU's one-shot timer for system time deadline_ns (0 cancels). */
static inline int64_t gk_hc_set_timer(uint64_t deadline_ns)
{
    return gk_hypercall3(HC_SET_TIMER, deadline_ns, 0, 0);
}

/* Domain operation: cmd is enum hv_domctl_cmd, args its struct. */
static inline int64_t gk_hc_domain_op(enum hv_domctl_cmd cmd, void *args)
{
    return gk_hypercall3(HC_DOMAIN_OP, (uint64_t)cmd, (uint64_t)(uintptr_t)args, 0);
}

/* Console-ring operation (see hv/domctl.h); returns a byte count or status. */
static inline int64_t gk_hc_console_op(enum hv_console_cmd cmd, struct hv_console_args *args)
{
    return gk_hypercall3(HC_CONSOLE_OP, (uint64_t)cmd, (uint64_t)(uintptr_t)args, 0);
}

/* One port-I/O instruction through an IOPORT capability (hv/domctl.h). */
static inline int64_t gk_hc_ioport_op(struct hv_ioport_args *args)
{
    return gk_hypercall3(HC_IOPORT_OP, (uint64_t)(uintptr_t)args, 0, 0);
}

/* PCI configuration access or device description through a PCI capability:
 * cmd is enum hv_pci_cmd, args its struct (hv/domctl.h). */
static inline int64_t gk_hc_pci_op(enum hv_pci_cmd cmd, void *args)
{
    return gk_hypercall3(HC_PCI_OP, (uint64_t)cmd, (uint64_t)(uintptr_t)args, 0);
}

#endif
