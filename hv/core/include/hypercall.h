/*
 * The hypercall handlers of the core and the one way a long hypercall
 * restarts itself. Every handler gets the calling domain and the decoded
 * call (arch.h, struct hypercall) and returns the value for the guest's
 * result register: an enum hv_status or a count (proto/include/hv/abi.h).
 * Decode, then invoke: a handler checks every argument before it changes
 * anything, and a bad argument gets a status code, never a panic.
 */
#ifndef HV_HYPERCALL_H
#define HV_HYPERCALL_H

#include "arch.h"

struct domain;

/*
 * A hypercall that stops part-way (a budget ran out, a batch is long)
 * restarts: the scheduler may run something else first, then the guest
 * re-enters the same hypercall with the arguments now in c (advanced past
 * the work done, where the call's ABI says so). Returns what the handler
 * must return.
 */
int64_t hypercall_restart(struct hypercall *c);

/*
 * Decode, then invoke, for a hypercall that writes a result into guest
 * memory after acting (a port, a grant ref, a domain id, a device read):
 * proves [va, va + n) writable before anything changes, by writing back
 * the n argument bytes just read from there (which changes nothing the
 * guest sees). HV_OK or HV_EFAULT. The hypervisor lock is held from here
 * to the final copy-out, and a guest's page tables change only under it,
 * so the final copy cannot fail. Pure queries need no probe.
 */
int hypercall_probe_out(uint64_t va, const void *in, size_t n);

/*
 * A (command, record) hypercall: arg[0] picks a row of a table, arg[1] is
 * the guest address of that command's argument record. hypercall_cmd()
 * decodes it once for every such call: it refuses a command with no row
 * (HV_EINVAL), copies the record in (HV_EFAULT if it cannot), and for a row
 * with HC_REC_OUT proves the record writable before the handler acts and
 * writes it back when the handler returns HV_OK. So a handler only checks
 * the record's fields and acts. The record lives in one buffer of
 * HC_REC_MAX bytes, used under the hypervisor lock.
 */
#define HC_REC_OUT 1u
#define HC_REC_MAX 2048u
struct hc_cmd {
    int64_t (*fn)(struct domain *d, struct hypercall *c, void *rec);
    uint32_t size;  /* bytes of the record */
    uint32_t flags; /* HC_REC_OUT */
};
#define HC_REC(fn, type, flags)                                                                    \
    {                                                                                              \
        (fn), sizeof(type), (flags)                                                                \
    }
int64_t hypercall_cmd(struct domain *d, struct hypercall *c, const struct hc_cmd *cmds, size_t n);

/* hv/core/hc_mm.c: the PV-memory hypercalls, with continuations. */
int64_t hc_mmu_update(struct domain *d, struct hypercall *c);
int64_t hc_mmuext_op(struct domain *d, struct hypercall *c);
int64_t hc_update_va_mapping(struct domain *d, struct hypercall *c);
int64_t hc_memory_op(struct domain *d, struct hypercall *c);
/* hv/core/trap_reflect.c */
int64_t hc_set_trap_table(struct domain *d, struct hypercall *c);
int64_t hc_iret(struct domain *d, struct hypercall *c);
int64_t hc_set_callback(struct domain *d, struct hypercall *c);
/* hv/core/objects.c */
int64_t hc_cap_op(struct domain *d, struct hypercall *c);
int64_t hc_evtchn_op(struct domain *d, struct hypercall *c);
int64_t hc_grant_op(struct domain *d, struct hypercall *c);
/* hv/core/domctl.c */
int64_t hc_domain_op(struct domain *d, struct hypercall *c);
/* hv/core/ioport.c */
int64_t hc_ioport_op(struct domain *d, struct hypercall *c);
/* hv/core/pci_hv.c */
int64_t hc_pci_op(struct domain *d, struct hypercall *c);
/* hv/core/console.c */
int64_t hc_console_op(struct domain *d, struct hypercall *c);
/* hv/core/vtime.c */
int64_t hc_block(struct domain *d, struct hypercall *c);
int64_t hc_set_timer(struct domain *d, struct hypercall *c);

#endif /* HV_HYPERCALL_H */
