/*
 * Event channels: per-domain ports whose pending and mask bits live in the
 * domain's shared-info page (see proto/include/hv/shared_info.h and
 * docs/evtchn.md).
 *
 * Port states: FREE, UNBOUND (allocated, waiting for one named remote
 * domain to bind), INTERDOMAIN, VIRQ, IPI, PIRQ. Port 0 is never allocated.
 *
 * Domains are identified between themselves by a 64-bit uid that is never
 * reused, so an UNBOUND port never dereferences (or matches) a dead domain.
 * An INTERDOMAIN port points at its peer's struct evtchn_domain; teardown
 * (evtchn_domain_teardown) closes every port, turning each peer back to
 * UNBOUND, before the structure may be freed.
 *
 * Locking: none yet. Callers must serialise every call that touches a
 * domain and, for inter-domain operations, its peer (one global event lock
 * until the SMP work splits it). The shared-info page is written by the
 * guest concurrently, so bits there are only changed with atomic
 * operations.
 */
#ifndef HV_EVTCHN_H
#define HV_EVTCHN_H

#include "cap.h"
#include "types.h"
#include <hv/abi.h>
#include <hv/caps.h>
#include <hv/shared_info.h>

#define EVTCHN_PORTS HV_EVTCHN_PORTS
/* Physical interrupt sources that can be bound: I/O APIC lines 0..255, then
 * the machine's message vectors (msi.h), source EVTCHN_MSI_FIRST + slot. */
#define EVTCHN_MSI_FIRST 256u
#define EVTCHN_MSIS 128u
#define EVTCHN_PIRQS (EVTCHN_MSI_FIRST + EVTCHN_MSIS)

enum evtchn_state {
    EVTCHN_FREE = 0,
    EVTCHN_UNBOUND,
    EVTCHN_INTERDOMAIN,
    EVTCHN_VIRQ,
    EVTCHN_IPI,
    EVTCHN_PIRQ,
};

struct evtchn_domain;

/* One port. Which fields mean something depends on state. */
struct evtchn_port {
    uint8_t state; /* enum evtchn_state */
    uint8_t reserved;
    uint16_t vcpu;                /* VCPU notified when it becomes pending */
    uint32_t arg;                 /* INTERDOMAIN: remote port; VIRQ: virq; PIRQ: irq */
    uint64_t remote_uid;          /* UNBOUND: uid of the domain allowed to bind */
    struct evtchn_domain *remote; /* INTERDOMAIN: the peer */
};

/*
 * Bindings of one physical interrupt source. A line is masked from the
 * moment it is delivered until every port it was delivered to has had its
 * EOI. A level-triggered line (evtchn_pirq_shareable) may be bound by up to
 * EVTCHN_LINE_SHARERS ports of different domains, each driving one of the
 * devices sharing it: each gets the event, checks (acknowledges) its own
 * device, and EOIs; the line is unmasked after the last EOI, and fires
 * again at once if a device still asserts it. An edge line and a message
 * vector have one binding (d[0]); a message vector is an edge with nothing
 * to mask: each one sets the port pending (merged into a pending port) and
 * needs no EOI.
 */
#define EVTCHN_LINE_SHARERS 4u
struct evtchn_pirq {
    struct evtchn_domain *d[EVTCHN_LINE_SHARERS]; /* NULL: slot free */
    uint16_t port[EVTCHN_LINE_SHARERS];
    uint8_t waiting; /* bit i: d[i] was told and has not EOId (line masked) */
};

/* The machine-wide physical IRQ bindings (one instance in the hypervisor). */
struct evtchn_pirq_table {
    struct evtchn_pirq lines[EVTCHN_PIRQS];
};

/* A domain's event-channel state. Initialise with evtchn_domain_init. */
struct evtchn_domain {
    uint64_t uid;                    /* never reused, never 0 */
    struct hv_shared_info *shared;   /* the hypervisor's mapping */
    struct cap_table *caps;          /* the domain's capability table */
    struct evtchn_pirq_table *pirqs; /* machine-wide PIRQ bindings */
    uint32_t vcpu_count;
    uint32_t pirq_bound; /* its ports bound to physical sources (lines, vectors) */
    uint16_t virq_port[HV_SHARED_INFO_VCPUS][HV_VIRQ_COUNT]; /* 0: unbound */
    /* Counters for HV_DOMCTL_INFO (atomic, relaxed; zero at init): events
     * this domain sent (HV_EVTCHN_SEND on an inter-domain or IPI port), and
     * events made pending in it (a port's pending bit set from clear, by
     * any source: a peer, an IPI, a VIRQ, a physical IRQ, a notify; an
     * event raised on a port that is pending already coalesces and is not
     * counted again). */
    uint64_t sent_count;
    uint64_t delivered_count;
    struct evtchn_port ports[EVTCHN_PORTS];
};

void evtchn_pirq_table_init(struct evtchn_pirq_table *pt);

/*
 * Initialise d with every port FREE. Clears the event bits of the shared
 * page and sets every VCPU's upcall_mask (the guest unmasks once it has
 * registered its callback). uid must be non-zero and unique for the life
 * of the machine; 1 <= vcpu_count <= HV_SHARED_INFO_VCPUS. Returns
 * HV_EINVAL otherwise.
 */
enum hv_status evtchn_domain_init(struct evtchn_domain *d, uint64_t uid,
                                  struct hv_shared_info *shared, struct cap_table *caps,
                                  struct evtchn_pirq_table *pirqs, uint32_t vcpu_count);

/* Close every port of d (peers become UNBOUND, PIRQs are released). */
void evtchn_domain_teardown(struct evtchn_domain *d);

/* ---- Guest operations (the event-channel hypercall) -------------------- */
/* Each checks everything first; on error nothing has changed. The error of
 * every case is listed in docs/evtchn.md. */

enum hv_status evtchn_alloc_unbound(struct evtchn_domain *d, uint32_t dom_slot, uint32_t *port_out);
enum hv_status evtchn_bind_interdomain(struct evtchn_domain *d, uint32_t dom_slot,
                                       uint32_t remote_port, uint32_t *port_out);
enum hv_status evtchn_bind_virq(struct evtchn_domain *d, uint32_t virq, uint32_t vcpu,
                                uint32_t *port_out);
enum hv_status evtchn_bind_ipi(struct evtchn_domain *d, uint32_t vcpu, uint32_t *port_out);
enum hv_status evtchn_bind_pirq(struct evtchn_domain *d, uint32_t irq_slot, uint32_t irq,
                                uint32_t *port_out);
/* A new port for message-vector source pirq (>= EVTCHN_MSI_FIRST); the
 * caller has checked that d may have it (pci_hv.c). HV_EINVAL: not a
 * message source; HV_EBUSY: bound already; HV_ENOMEM: no free port. */
enum hv_status evtchn_bind_msi(struct evtchn_domain *d, uint32_t pirq, uint32_t *port_out);
/* VCPU vcpu of d came onto another CPU: every source whose first binding
 * is a port of d bound to that VCPU follows it (evtchn_pirq_follow). Costs
 * nothing for a domain with no physical source bound. */
void evtchn_pirq_follow_vcpu(struct evtchn_domain *d, uint32_t vcpu);
/* Closes the port bound to source pirq, if any (its vector is going away). */
void evtchn_pirq_unbind(struct evtchn_pirq_table *pt, uint32_t pirq);
enum hv_status evtchn_close(struct evtchn_domain *d, uint32_t port);
enum hv_status evtchn_send(struct evtchn_domain *d, uint32_t port);
enum hv_status evtchn_unmask(struct evtchn_domain *d, uint32_t port);
enum hv_status evtchn_pirq_eoi(struct evtchn_domain *d, uint32_t port);
enum hv_status evtchn_bind_vcpu(struct evtchn_domain *d, uint32_t port, uint32_t vcpu);

/* ---- Hypervisor side ---------------------------------------------------- */

/*
 * Sets port (of d) pending on behalf of the holder of an endpoint
 * capability to it: only an UNBOUND port (a mailbox its owner keeps for
 * such notifications) can be signalled this way. HV_EINVAL: port out of
 * range or 0; HV_ENOENT: the port is not UNBOUND (closed, or bound since).
 */
enum hv_status evtchn_notify_unbound(struct evtchn_domain *d, uint32_t port);

/* State of a port (EVTCHN_FREE for an out-of-range port). */
enum evtchn_state evtchn_port_state(const struct evtchn_domain *d, uint32_t port);

/*
 * Raise virq for d. Per-VCPU virqs go to the port bound on vcpu; global
 * ones to the port bound on VCPU 0 (vcpu is ignored). Returns whether a
 * port was bound (false: the event is dropped).
 */
bool evtchn_raise_virq(struct evtchn_domain *d, uint32_t virq, uint32_t vcpu);

/*
 * A physical interrupt on line irq arrived; the interrupt code has already
 * masked the line. If it is bound, set every bound port pending and wait
 * for each one's EOI; the line stays masked until the last (then
 * evtchn_pirq_unmask is called). Returns false if the line is unbound or
 * still waiting: the caller leaves it masked. For a message-vector source
 * (>= EVTCHN_MSI_FIRST) the port is set pending every time (nothing is in
 * flight); false if it is unbound (the message is dropped).
 */
bool evtchn_pirq_raise(struct evtchn_pirq_table *pt, uint32_t irq);

/*
 * Line irq has waited too long for its EOIs (the hypervisor's limit,
 * EVTCHN_EOI_LIMIT_NS after the raise): the bindings that have not EOId
 * lose their hold and the line is unmasked, so a sharer that never EOIs can
 * delay the others' interrupts, never stop them. Their ports stay pending.
 * Returns whether the line was still waiting.
 */
#define EVTCHN_EOI_LIMIT_NS 10000000ull
bool evtchn_pirq_expire(struct evtchn_pirq_table *pt, uint32_t irq);

/*
 * Upcall entry: if vcpu has upcall_pending set and upcall_mask clear, set
 * upcall_mask and return true (the caller then builds the upcall frame).
 */
bool evtchn_upcall_begin(struct evtchn_domain *d, uint32_t vcpu);

/*
 * Whether vcpu has an event waiting (upcall_pending). A VCPU about to block
 * must first mark itself blocked, then check this, and not block if true:
 * evtchn_kick_vcpu after a set-pending then wakes it, so no wake-up is lost.
 */
bool evtchn_vcpu_event_pending(struct evtchn_domain *d, uint32_t vcpu);

/* ---- Hooks: implemented by the hypervisor, faked by the tests ---------- */

/*
 * vcpu of d has just got upcall_pending set: wake it if blocked, or send it
 * an IPI if it is running on another CPU so the upcall is delivered soon.
 * Must not call evtchn_*.
 */
void evtchn_kick_vcpu(struct evtchn_domain *d, uint32_t vcpu);

/*
 * Unmask physical line irq at the interrupt controller: called when a line
 * is bound to a port and when the guest EOIs a delivered interrupt.
 */
void evtchn_pirq_unmask(uint32_t irq);

/* Mask physical line irq: called when its last port is closed. */
void evtchn_pirq_mask(uint32_t irq);

/* Whether line irq is level-triggered, so that devices may share it
 * (several bindings); an edge line has one. */
bool evtchn_pirq_shareable(uint32_t irq);

/* Source pirq is now delivered to vcpu of d (bound, or its port moved):
 * the hypervisor aims the interrupt at the CPU that VCPU runs on. */
void evtchn_pirq_follow(uint32_t pirq, struct evtchn_domain *d, uint32_t vcpu);

/*
 * The event-channel state of the domain whose object is domain_obj (type
 * HV_CAP_DOMAIN), or NULL if it is being destroyed.
 */
struct evtchn_domain *evtchn_domain_of(struct cap_object *domain_obj);

#endif /* HV_EVTCHN_H */
