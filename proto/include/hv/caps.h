/*
 * The guest-visible capability and event-channel ABI.
 *
 * A domain names every object it acts on by a slot in its own capability
 * table (HV_CAP_SLOTS slots, numbered 0 .. HV_CAP_SLOTS-1; every slot is
 * usable, none is reserved). A capability has a type, a rights mask whose
 * bits mean something per type (below) and, for the range types (I/O ports,
 * MMIO frames, IRQ lines), a range [base, base + count).
 *
 * docs/capabilities.md and docs/evtchn.md describe the same ABI in prose,
 * including the exact error each operation returns.
 *
 * The hypercalls that carry these argument structs are HC_CAP_OP and
 * HC_EVTCHN_OP (abi.h; sub-commands of HC_CAP_OP in domctl.h).
 *
 * Freestanding: no libc. Layouts are pinned by _Static_assert below.
 */
#ifndef HV_CAPS_H
#define HV_CAPS_H

#include <stddef.h>
#include <stdint.h>

#define HV_CAP_SLOTS 256u

/* In a "domain slot" argument: the caller itself, no capability needed. */
#define HV_CAP_SLOT_SELF 0xffffffffu

enum hv_cap_type {
    HV_CAP_NULL = 0,    /* empty slot */
    HV_CAP_DOMAIN = 1,  /* a domain */
    HV_CAP_VCPU = 2,    /* one VCPU of a domain */
    HV_CAP_MEMORY = 3,  /* a memory quota (accounted by hv/mm, not here) */
    HV_CAP_EVTCHN = 4,  /* an event-channel endpoint (HV_EVTCHN_MINT_ENDPOINT) */
    HV_CAP_IOPORT = 5,  /* range: I/O ports [base, base+count) */
    HV_CAP_MMIO = 6,    /* range: machine frames [base, base+count) */
    HV_CAP_IRQ = 7,     /* range: physical IRQ lines [base, base+count) */
    HV_CAP_PCI = 8,     /* one PCI function */
    HV_CAP_CONSOLE = 9, /* a domain's console rings */
    HV_CAP_TYPE_COUNT
};

/* Types whose capabilities carry a range and can be narrowed when copied. */
#define HV_CAP_TYPE_IS_RANGE(t) ((t) == HV_CAP_IOPORT || (t) == HV_CAP_MMIO || (t) == HV_CAP_IRQ)

/*
 * Rights. Bit 31 means the same for every type: the capability may be copied
 * (with equal or fewer rights, or a sub-range). Bits 0..30 are per type.
 */
#define HV_CAP_R_GRANT (1u << 31)

/* HV_CAP_DOMAIN */
#define HV_CAP_R_DOM_CONTROL (1u << 0)    /* pause, unpause, destroy, start/stop VCPUs */
#define HV_CAP_R_DOM_CAP_INSERT (1u << 1) /* copy capabilities into its table */
#define HV_CAP_R_DOM_EVTCHN (1u << 2)     /* open/bind inter-domain channels to it */
#define HV_CAP_R_DOM_STATE (1u << 3)      /* read its state, domain-state VIRQ */
#define HV_CAP_R_DOM_BUILD (1u << 4)      /* assign frames, set its base while building */
#define HV_CAP_R_DOM_GRANT (1u << 5)      /* grant it frames / use its grants */
#define HV_CAP_R_DOM_ALL 0x3fu

/* HV_CAP_VCPU */
#define HV_CAP_R_VCPU_CONTROL (1u << 0) /* start, stop, set context */
#define HV_CAP_R_VCPU_STATE (1u << 1)   /* read its context */
#define HV_CAP_R_VCPU_ALL 0x3u

/* HV_CAP_MEMORY */
#define HV_CAP_R_MEM_ALLOC (1u << 0)         /* allocate frames against it */
#define HV_CAP_R_MEM_TRANSFER (1u << 1)      /* move quota to another domain */
#define HV_CAP_R_MEM_CREATE_DOMAIN (1u << 2) /* create a domain funded by it */
#define HV_CAP_R_MEM_ALL 0x7u

/* HV_CAP_EVTCHN: an endpoint (one port of one domain; see MINT_ENDPOINT) */
#define HV_CAP_R_EVT_BIND (1u << 0)
#define HV_CAP_R_EVT_SEND (1u << 1)
#define HV_CAP_R_EVT_ALL 0x3u

/* HV_CAP_IOPORT */
#define HV_CAP_R_IO_ACCESS (1u << 0) /* in/out on the ports of the range */
#define HV_CAP_R_IO_ALL 0x1u

/* HV_CAP_MMIO */
#define HV_CAP_R_MMIO_READ (1u << 0)  /* map the frames read-only */
#define HV_CAP_R_MMIO_WRITE (1u << 1) /* map the frames writable */
#define HV_CAP_R_MMIO_ALL 0x3u

/* HV_CAP_IRQ */
#define HV_CAP_R_IRQ_BIND (1u << 0) /* bind a line of the range to a port */
#define HV_CAP_R_IRQ_ALL 0x1u

/* HV_CAP_PCI */
#define HV_CAP_R_PCI_CONFIG_READ (1u << 0)
#define HV_CAP_R_PCI_CONFIG_WRITE (1u << 1)
#define HV_CAP_R_PCI_DMA (1u << 2) /* enable bus mastering (DMA into the holder's frames) */
#define HV_CAP_R_PCI_IRQ (1u << 3) /* MSI/MSI-X vectors: set up (HV_PCI_MSI_*), bind to ports */
#define HV_CAP_R_PCI_ALL 0xfu

/* HV_CAP_CONSOLE */
#define HV_CAP_R_CON_READ (1u << 0)  /* read the domain's output ring */
#define HV_CAP_R_CON_WRITE (1u << 1) /* write the domain's input ring */
#define HV_CAP_R_CON_ALL 0x3u

/*
 * Argument of the capability-copy hypercall. Copies the capability in the
 * caller's src_slot into dst_slot of the table named by dst_domain_slot
 * (HV_CAP_SLOT_SELF: the caller's own; otherwise a domain capability with
 * HV_CAP_R_DOM_CAP_INSERT). rights must be a subset of the source's. For the
 * range types [base, base+count) must lie inside the source's range (count
 * > 0); for every other type base and count must be 0. The copy is a child
 * of the source in the derivation tree: revoking the source removes it.
 */
struct hv_cap_copy_args {
    uint32_t src_slot;
    uint32_t dst_domain_slot;
    uint32_t dst_slot;
    uint32_t rights;
    uint64_t base;
    uint64_t count;
};

/* Argument of the capability delete and revoke hypercalls. */
struct hv_cap_slot_args {
    uint32_t slot;
    uint32_t reserved; /* must be 0 */
};

/* Result of the capability-identify hypercall. */
struct hv_cap_info {
    uint32_t type; /* enum hv_cap_type, HV_CAP_NULL for an empty slot */
    uint32_t rights;
    uint64_t base;
    uint64_t count;
};

_Static_assert(sizeof(struct hv_cap_copy_args) == 32, "cap copy args layout");
_Static_assert(offsetof(struct hv_cap_copy_args, base) == 16, "cap copy args layout");
_Static_assert(sizeof(struct hv_cap_slot_args) == 8, "cap slot args layout");
_Static_assert(sizeof(struct hv_cap_info) == 24, "cap info layout");

/* ---- Event channels --------------------------------------------------- */

/* Virtual IRQs. Per-VCPU ones may be bound once on each VCPU; global ones
 * only on VCPU 0. */
enum hv_virq {
    HV_VIRQ_TIMER = 0,     /* per VCPU: the one-shot timer fired */
    HV_VIRQ_CONSOLE = 1,   /* global: console ring activity */
    HV_VIRQ_DOM_STATE = 2, /* global: a domain this one watches changed state */
    HV_VIRQ_DEBUG = 3,     /* per VCPU: debug request */
    HV_VIRQ_SHUTDOWN = 4,  /* global: asked to shut down (HV_DOMCTL_SHUTDOWN_REQUEST) */
    HV_VIRQ_COUNT = 5      /* virqs defined so far; binding others fails */
};

#define HV_VIRQ_IS_PER_VCPU(v) ((v) == HV_VIRQ_TIMER || (v) == HV_VIRQ_DEBUG)

/* Sub-commands of the event-channel hypercall (cmd, struct pointer). */
enum hv_evtchn_cmd {
    HV_EVTCHN_ALLOC_UNBOUND = 0,    /* struct hv_evtchn_alloc_unbound */
    HV_EVTCHN_BIND_INTERDOMAIN = 1, /* struct hv_evtchn_bind_interdomain */
    HV_EVTCHN_BIND_VIRQ = 2,        /* struct hv_evtchn_bind_virq */
    HV_EVTCHN_BIND_IPI = 3,         /* struct hv_evtchn_bind_ipi */
    HV_EVTCHN_BIND_PIRQ = 4,        /* struct hv_evtchn_bind_pirq */
    HV_EVTCHN_CLOSE = 5,            /* struct hv_evtchn_port_args (port) */
    HV_EVTCHN_SEND = 6,             /* struct hv_evtchn_port_args (port) */
    HV_EVTCHN_UNMASK = 7,           /* struct hv_evtchn_port_args (port) */
    HV_EVTCHN_EOI = 8,              /* struct hv_evtchn_port_args (port) */
    HV_EVTCHN_BIND_VCPU = 9,        /* struct hv_evtchn_port_args (port, vcpu) */
    HV_EVTCHN_MINT_ENDPOINT = 10,   /* struct hv_evtchn_endpoint */
    HV_EVTCHN_NOTIFY = 11,          /* struct hv_evtchn_notify */
    HV_EVTCHN_BIND_MSI = 12,        /* struct hv_evtchn_bind_msi */
    HV_EVTCHN_CMD_COUNT
};

/* Allocate a port that only the named remote domain may bind to. */
struct hv_evtchn_alloc_unbound {
    uint32_t remote_domain_slot; /* in: domain cap with DOM_EVTCHN, or SELF */
    uint32_t port;               /* out */
};

/* Bind a new local port to the remote's port allocated for us. */
struct hv_evtchn_bind_interdomain {
    uint32_t remote_domain_slot; /* in: domain cap with DOM_EVTCHN, or SELF */
    uint32_t remote_port;        /* in */
    uint32_t port;               /* out */
    uint32_t reserved;
};

struct hv_evtchn_bind_virq {
    uint32_t virq; /* in: enum hv_virq */
    uint32_t vcpu; /* in */
    uint32_t port; /* out */
    uint32_t reserved;
};

struct hv_evtchn_bind_ipi {
    uint32_t vcpu; /* in: the VCPU notified when the port is sent to */
    uint32_t port; /* out */
};

struct hv_evtchn_bind_pirq {
    uint32_t irq_slot; /* in: IRQ cap with IRQ_BIND covering irq */
    uint32_t irq;      /* in: physical line */
    uint32_t port;     /* out */
    uint32_t reserved;
};

/*
 * Bind a new port to vector `index` of the MSI or MSI-X vectors the caller
 * set up on a PCI function (HV_PCI_MSI_ENABLE, hv/domctl.h). The port
 * becomes pending whenever the device signals that vector; it needs no EOI
 * (message interrupts are edges: one that arrives while the port is
 * pending is merged into it). HV_EPERM: pci_slot is not a PCI capability
 * with HV_CAP_R_PCI_IRQ, or the vectors of that function were set up by
 * another domain; HV_ENOENT: no vectors set up; HV_EINVAL: index beyond
 * them, reserved != 0; HV_EBUSY: the vector is bound already; HV_ENOMEM:
 * no free port.
 */
struct hv_evtchn_bind_msi {
    uint32_t pci_slot; /* in: PCI cap with HV_CAP_R_PCI_IRQ */
    uint32_t index;    /* in: vector index, < the count HV_PCI_MSI_ENABLE granted */
    uint32_t port;     /* out */
    uint32_t reserved; /* must be 0 */
};

struct hv_evtchn_port_args {
    uint32_t port;
    uint32_t vcpu; /* BIND_VCPU only; otherwise must be 0 */
};

/*
 * Endpoint capabilities (HV_CAP_EVTCHN). MINT_ENDPOINT puts in the caller's
 * empty slot dst_slot a capability naming its own port `port`, which must
 * be UNBOUND (a mailbox: allocate it with ALLOC_UNBOUND for SELF), with
 * rights HV_CAP_R_EVT_SEND (and HV_CAP_R_GRANT to let it be copied). Its
 * holder, in any domain it is copied to, signals the port with NOTIFY
 * (needs HV_CAP_R_EVT_SEND): the port becomes pending in its owner, as if
 * a bound peer had sent. NOTIFY works while the port is UNBOUND
 * (HV_ENOENT once a peer bound it); closing the port removes every endpoint
 * capability to it. This is how a domain hands out "may wake me" without
 * giving any right over itself.
 * MINT_ENDPOINT: HV_EINVAL port 0 or out of range, dst_slot >= 256, a
 * right other than EVT_SEND/GRANT, reserved != 0; HV_ENOENT port not
 * UNBOUND; HV_EEXIST slot occupied. NOTIFY: slot errors (HV_EPERM: not an
 * endpoint capability or no EVT_SEND); HV_ENOENT the port is gone.
 */
struct hv_evtchn_endpoint {
    uint32_t port;     /* in: the caller's UNBOUND port */
    uint32_t dst_slot; /* in */
    uint32_t rights;   /* in */
    uint32_t reserved; /* must be 0 */
};

struct hv_evtchn_notify {
    uint32_t slot;     /* in: an endpoint capability with EVT_SEND */
    uint32_t reserved; /* must be 0 */
};

_Static_assert(sizeof(struct hv_evtchn_endpoint) == 16, "evtchn args layout");
_Static_assert(sizeof(struct hv_evtchn_notify) == 8, "evtchn args layout");
_Static_assert(sizeof(struct hv_evtchn_alloc_unbound) == 8, "evtchn args layout");
_Static_assert(sizeof(struct hv_evtchn_bind_interdomain) == 16, "evtchn args layout");
_Static_assert(sizeof(struct hv_evtchn_bind_virq) == 16, "evtchn args layout");
_Static_assert(sizeof(struct hv_evtchn_bind_ipi) == 8, "evtchn args layout");
_Static_assert(sizeof(struct hv_evtchn_bind_pirq) == 16, "evtchn args layout");
_Static_assert(sizeof(struct hv_evtchn_port_args) == 8, "evtchn args layout");
_Static_assert(sizeof(struct hv_evtchn_bind_msi) == 16, "evtchn args layout");

#endif /* HV_CAPS_H */
