/*
 * Event channels: the port state machine and two-level pending logic. See
 * hv/core/include/evtchn.h for the model and docs/evtchn.md for the ABI.
 *
 * Every guest operation decodes and checks all its arguments before it
 * changes anything; the changing part cannot fail. Bits in the shared-info
 * page are only touched with atomic operations because the guest writes
 * that page concurrently.
 */
#include "evtchn.h"
#include "log.h"

/* ---- Shared-info bit operations ---------------------------------------- */

static uint64_t port_bit(uint32_t port)
{
    return 1ull << (port % 64u);
}

static bool bit_test_and_set(uint64_t *word, uint64_t bit)
{
    return (__atomic_fetch_or(word, bit, __ATOMIC_SEQ_CST) & bit) != 0;
}

static void bit_clear(uint64_t *word, uint64_t bit)
{
    __atomic_fetch_and(word, ~bit, __ATOMIC_SEQ_CST);
}

static bool bit_test(uint64_t *word, uint64_t bit)
{
    return (__atomic_load_n(word, __ATOMIC_SEQ_CST) & bit) != 0;
}

/*
 * Second level: note that pending word `word` has work for vcpu, raise its
 * upcall_pending and kick it if that was a 0 -> 1 transition.
 */
static void evtchn_mark_vcpu(struct evtchn_domain *d, uint32_t vcpu, uint32_t word)
{
    struct hv_vcpu_info *vi = &d->shared->vcpu_info[vcpu];

    if (bit_test_and_set(&vi->pending_sel, 1ull << word))
        return;
    if (__atomic_exchange_n(&vi->upcall_pending, 1, __ATOMIC_SEQ_CST) == 0)
        evtchn_kick_vcpu(d, vcpu);
}

/* First level: set port pending and, unless masked, notify its VCPU. */
static void evtchn_set_pending(struct evtchn_domain *d, uint32_t port)
{
    struct hv_shared_info *s = d->shared;
    uint32_t word = port / 64u;

    if (bit_test_and_set(&s->evtchn_pending[word], port_bit(port)))
        return;
    __atomic_fetch_add(&d->delivered_count, 1, __ATOMIC_RELAXED);
    if (bit_test(&s->evtchn_mask[word], port_bit(port)))
        return;
    evtchn_mark_vcpu(d, d->ports[port].vcpu, word);
}

/* ---- Port bookkeeping --------------------------------------------------- */

static bool port_valid(uint32_t port)
{
    return port != 0 && port < EVTCHN_PORTS;
}

/* Lowest FREE port, or 0 if there is none. */
static uint32_t evtchn_find_free(const struct evtchn_domain *d)
{
    for (uint32_t p = 1; p < EVTCHN_PORTS; p++)
        if (d->ports[p].state == EVTCHN_FREE)
            return p;
    return 0;
}

/* Make port FREE and clear its pending bit (the mask bit is the guest's). */
static void evtchn_port_reset(struct evtchn_domain *d, uint32_t port)
{
    struct evtchn_port *p = &d->ports[port];

    p->state = EVTCHN_FREE;
    p->vcpu = 0;
    p->arg = 0;
    p->remote_uid = 0;
    p->remote = NULL;
    bit_clear(&d->shared->evtchn_pending[port / 64u], port_bit(port));
}

/* Take a FREE port into use in state st, notified on vcpu. */
static struct evtchn_port *evtchn_port_claim(struct evtchn_domain *d, uint32_t port,
                                             enum evtchn_state st, uint32_t vcpu, uint32_t arg)
{
    struct evtchn_port *p = &d->ports[port];

    BUG_ON(!(p->state == EVTCHN_FREE && vcpu < d->vcpu_count));
    evtchn_port_reset(d, port);
    p->state = (uint8_t)st;
    p->vcpu = (uint16_t)vcpu;
    p->arg = arg;
    return p;
}

/*
 * Resolve a "domain slot" argument to the remote domain's event state.
 * HV_CAP_SLOT_SELF is the caller; otherwise a domain capability with
 * HV_CAP_R_DOM_EVTCHN is required.
 */
static enum hv_status evtchn_resolve_domain(struct evtchn_domain *d, uint32_t dom_slot,
                                            struct evtchn_domain **out)
{
    struct cap *c;
    enum hv_status st;

    if (dom_slot == HV_CAP_SLOT_SELF) {
        *out = d;
        return HV_OK;
    }
    st = cap_lookup(d->caps, dom_slot, HV_CAP_DOMAIN, HV_CAP_R_DOM_EVTCHN, &c);
    if (st != HV_OK)
        return st;
    *out = evtchn_domain_of(c->obj);
    return *out != NULL ? HV_OK : HV_ENOENT;
}

/* Index into virq_port: global virqs are always kept on VCPU 0. */
static uint32_t virq_row(uint32_t virq, uint32_t vcpu)
{
    return HV_VIRQ_IS_PER_VCPU(virq) ? vcpu : 0;
}

/* A message-vector source (no mask, no EOI) rather than a line. */
static bool is_msi(uint32_t pirq)
{
    return pirq >= EVTCHN_MSI_FIRST && pirq < EVTCHN_PIRQS;
}

/* The binding of (d, port) on a source: its index, or -1. */
static int sharer_of(const struct evtchn_pirq *line, const struct evtchn_domain *d, uint32_t port)
{
    for (uint32_t k = 0; k < EVTCHN_LINE_SHARERS; k++)
        if (line->d[k] == d && (port == 0 || line->port[k] == port))
            return (int)k;
    return -1;
}

static bool line_bound(const struct evtchn_pirq *line)
{
    for (uint32_t k = 0; k < EVTCHN_LINE_SHARERS; k++)
        if (line->d[k] != NULL)
            return true;
    return false;
}

/* A free binding slot of the source, or -1 (full, or an unshareable source
 * bound already). */
static int sharer_free(const struct evtchn_pirq *line, uint32_t pirq)
{
    bool shareable = !is_msi(pirq) && evtchn_pirq_shareable(pirq);
    int free = -1;
    for (uint32_t k = 0; k < EVTCHN_LINE_SHARERS; k++) {
        if (line->d[k] != NULL && !shareable)
            return -1;
        if (line->d[k] == NULL && free < 0)
            free = (int)k;
    }
    return free;
}

/* ---- Setup and teardown ------------------------------------------------- */

void evtchn_pirq_table_init(struct evtchn_pirq_table *pt)
{
    for (uint32_t i = 0; i < EVTCHN_PIRQS; i++) {
        for (uint32_t k = 0; k < EVTCHN_LINE_SHARERS; k++) {
            pt->lines[i].d[k] = NULL;
            pt->lines[i].port[k] = 0;
        }
        pt->lines[i].waiting = 0;
    }
}

enum hv_status evtchn_domain_init(struct evtchn_domain *d, uint64_t uid,
                                  struct hv_shared_info *shared, struct cap_table *caps,
                                  struct evtchn_pirq_table *pirqs, uint32_t vcpu_count)
{
    if (uid == 0 || shared == NULL || caps == NULL || pirqs == NULL || vcpu_count == 0 ||
        vcpu_count > HV_SHARED_INFO_VCPUS)
        return HV_EINVAL;
    /* Field by field rather than memset: the hypervisor has no libc. */
    for (uint32_t p = 0; p < EVTCHN_PORTS; p++) {
        d->ports[p].state = EVTCHN_FREE;
        d->ports[p].reserved = 0;
        d->ports[p].vcpu = 0;
        d->ports[p].arg = 0;
        d->ports[p].remote_uid = 0;
        d->ports[p].remote = NULL;
    }
    for (uint32_t v = 0; v < HV_SHARED_INFO_VCPUS; v++)
        for (uint32_t i = 0; i < HV_VIRQ_COUNT; i++)
            d->virq_port[v][i] = 0;
    d->uid = uid;
    d->shared = shared;
    d->caps = caps;
    d->pirqs = pirqs;
    d->vcpu_count = vcpu_count;
    d->pirq_bound = 0;
    d->sent_count = 0;
    d->delivered_count = 0;
    for (uint32_t w = 0; w < HV_EVTCHN_WORDS; w++) {
        shared->evtchn_pending[w] = 0;
        shared->evtchn_mask[w] = 0;
    }
    for (uint32_t v = 0; v < HV_SHARED_INFO_VCPUS; v++) {
        shared->vcpu_info[v].upcall_pending = 0;
        shared->vcpu_info[v].upcall_mask = 1;
        shared->vcpu_info[v].pending_sel = 0;
    }
    return HV_OK;
}

void evtchn_domain_teardown(struct evtchn_domain *d)
{
    for (uint32_t p = 1; p < EVTCHN_PORTS; p++)
        if (d->ports[p].state != EVTCHN_FREE)
            (void)evtchn_close(d, p);
}

/* ---- Guest operations --------------------------------------------------- */

enum hv_status evtchn_alloc_unbound(struct evtchn_domain *d, uint32_t dom_slot, uint32_t *port_out)
{
    struct evtchn_domain *r;
    struct evtchn_port *p;
    uint32_t port;
    enum hv_status st = evtchn_resolve_domain(d, dom_slot, &r);

    if (st != HV_OK)
        return st;
    port = evtchn_find_free(d);
    if (port == 0)
        return HV_ENOMEM;

    p = evtchn_port_claim(d, port, EVTCHN_UNBOUND, 0, 0);
    p->remote_uid = r->uid;
    *port_out = port;
    return HV_OK;
}

enum hv_status evtchn_bind_interdomain(struct evtchn_domain *d, uint32_t dom_slot,
                                       uint32_t remote_port, uint32_t *port_out)
{
    struct evtchn_domain *r;
    struct evtchn_port *rp, *lp;
    uint32_t port;
    enum hv_status st = evtchn_resolve_domain(d, dom_slot, &r);

    if (st != HV_OK)
        return st;
    if (!port_valid(remote_port))
        return HV_EINVAL;
    rp = &r->ports[remote_port];
    if (rp->state != EVTCHN_UNBOUND)
        return HV_EINVAL;
    if (rp->remote_uid != d->uid)
        return HV_EPERM;
    port = evtchn_find_free(d);
    if (port == 0)
        return HV_ENOMEM;

    lp = evtchn_port_claim(d, port, EVTCHN_INTERDOMAIN, 0, remote_port);
    lp->remote = r;
    rp->state = EVTCHN_INTERDOMAIN;
    rp->remote = d;
    rp->remote_uid = 0;
    rp->arg = port;
    /* Anything the peer sent while unbound was dropped: make the binder look. */
    evtchn_set_pending(d, port);
    *port_out = port;
    return HV_OK;
}

enum hv_status evtchn_bind_virq(struct evtchn_domain *d, uint32_t virq, uint32_t vcpu,
                                uint32_t *port_out)
{
    uint32_t port;

    if (virq >= HV_VIRQ_COUNT || vcpu >= d->vcpu_count)
        return HV_EINVAL;
    if (!HV_VIRQ_IS_PER_VCPU(virq) && vcpu != 0)
        return HV_EINVAL;
    if (d->virq_port[virq_row(virq, vcpu)][virq] != 0)
        return HV_EEXIST;
    port = evtchn_find_free(d);
    if (port == 0)
        return HV_ENOMEM;

    evtchn_port_claim(d, port, EVTCHN_VIRQ, vcpu, virq);
    d->virq_port[virq_row(virq, vcpu)][virq] = (uint16_t)port;
    *port_out = port;
    return HV_OK;
}

enum hv_status evtchn_bind_ipi(struct evtchn_domain *d, uint32_t vcpu, uint32_t *port_out)
{
    uint32_t port;

    if (vcpu >= d->vcpu_count)
        return HV_EINVAL;
    port = evtchn_find_free(d);
    if (port == 0)
        return HV_ENOMEM;

    evtchn_port_claim(d, port, EVTCHN_IPI, vcpu, 0);
    *port_out = port;
    return HV_OK;
}

enum hv_status evtchn_bind_pirq(struct evtchn_domain *d, uint32_t irq_slot, uint32_t irq,
                                uint32_t *port_out)
{
    struct cap *c;
    struct evtchn_pirq *line;
    uint32_t port;
    enum hv_status st;

    if (irq >= EVTCHN_MSI_FIRST) /* lines only: message vectors are bound by evtchn_bind_msi */
        return HV_EINVAL;
    st = cap_lookup_range(d->caps, irq_slot, HV_CAP_IRQ, HV_CAP_R_IRQ_BIND, irq, 1, &c);
    if (st != HV_OK)
        return st;
    line = &d->pirqs->lines[irq];
    int k = sharer_free(line, irq);
    if (k < 0 || sharer_of(line, d, 0) >= 0) /* full, unshareable, or ours already */
        return HV_EBUSY;
    port = evtchn_find_free(d);
    if (port == 0)
        return HV_ENOMEM;

    evtchn_port_claim(d, port, EVTCHN_PIRQ, 0, irq);
    d->pirq_bound++;
    line->d[k] = d;
    line->port[k] = (uint16_t)port;
    if (line->waiting == 0) /* else it is unmasked by the sharers' last EOI */
        evtchn_pirq_unmask(irq);
    if (k == 0) /* the line follows its first binding */
        evtchn_pirq_follow(irq, d, 0);
    *port_out = port;
    return HV_OK;
}

enum hv_status evtchn_bind_msi(struct evtchn_domain *d, uint32_t pirq, uint32_t *port_out)
{
    if (!is_msi(pirq))
        return HV_EINVAL;
    struct evtchn_pirq *line = &d->pirqs->lines[pirq];
    if (line->d[0] != NULL)
        return HV_EBUSY;
    uint32_t port = evtchn_find_free(d);
    if (port == 0)
        return HV_ENOMEM;
    evtchn_port_claim(d, port, EVTCHN_PIRQ, 0, pirq);
    d->pirq_bound++;
    line->d[0] = d;
    line->port[0] = (uint16_t)port;
    evtchn_pirq_follow(pirq, d, 0);
    *port_out = port;
    return HV_OK;
}

void evtchn_pirq_follow_vcpu(struct evtchn_domain *d, uint32_t vcpu)
{
    for (uint32_t i = 0; i < EVTCHN_PIRQS && d->pirq_bound != 0; i++) {
        const struct evtchn_pirq *line = &d->pirqs->lines[i];
        if (line->d[0] == d && d->ports[line->port[0]].vcpu == vcpu)
            evtchn_pirq_follow(i, d, vcpu);
    }
}

void evtchn_pirq_unbind(struct evtchn_pirq_table *pt, uint32_t pirq)
{
    if (is_msi(pirq) && pt->lines[pirq].d[0] != NULL)
        evtchn_close(pt->lines[pirq].d[0], pt->lines[pirq].port[0]);
}

enum hv_status evtchn_close(struct evtchn_domain *d, uint32_t port)
{
    struct evtchn_port *p;

    if (!port_valid(port))
        return HV_EINVAL;
    p = &d->ports[port];
    switch (p->state) {
    case EVTCHN_FREE: return HV_ENOENT;
    case EVTCHN_UNBOUND:
    case EVTCHN_IPI: break;
    case EVTCHN_INTERDOMAIN: {
        struct evtchn_port *rp = &p->remote->ports[p->arg];

        BUG_ON(!(rp->state == EVTCHN_INTERDOMAIN && rp->remote == d && rp->arg == port));
        /* The peer waits for us again: we may re-bind to it. */
        rp->state = EVTCHN_UNBOUND;
        rp->remote = NULL;
        rp->remote_uid = d->uid;
        rp->arg = 0;
        break;
    }
    case EVTCHN_VIRQ:
        BUG_ON(d->virq_port[virq_row(p->arg, p->vcpu)][p->arg] != port);
        d->virq_port[virq_row(p->arg, p->vcpu)][p->arg] = 0;
        break;
    case EVTCHN_PIRQ: {
        struct evtchn_pirq *line = &d->pirqs->lines[p->arg];
        int k = sharer_of(line, d, port);

        BUG_ON(k < 0);
        line->d[k] = NULL;
        line->port[k] = 0;
        d->pirq_bound--;
        bool was_waiting = line->waiting != 0;
        line->waiting &= (uint8_t) ~(1u << k); /* closing is its EOI */
        if (is_msi(p->arg))
            break;
        if (!line_bound(line))
            evtchn_pirq_mask(p->arg);
        else if (was_waiting && line->waiting == 0)
            evtchn_pirq_unmask(p->arg);
        break;
    }
    default: BUG_ON(true);
    }
    evtchn_port_reset(d, port);
    return HV_OK;
}

enum hv_status evtchn_send(struct evtchn_domain *d, uint32_t port)
{
    struct evtchn_port *p;

    if (!port_valid(port))
        return HV_EINVAL;
    p = &d->ports[port];
    switch (p->state) {
    case EVTCHN_FREE: return HV_ENOENT;
    case EVTCHN_UNBOUND: return HV_OK; /* no peer (yet, or any more): harmless, dropped */
    case EVTCHN_INTERDOMAIN:
        __atomic_fetch_add(&d->sent_count, 1, __ATOMIC_RELAXED);
        evtchn_set_pending(p->remote, p->arg);
        return HV_OK;
    case EVTCHN_IPI:
        __atomic_fetch_add(&d->sent_count, 1, __ATOMIC_RELAXED);
        evtchn_set_pending(d, port);
        return HV_OK;
    default: return HV_EINVAL; /* VIRQ and PIRQ ports are raised by the hypervisor */
    }
}

enum hv_status evtchn_notify_unbound(struct evtchn_domain *d, uint32_t port)
{
    if (!port_valid(port))
        return HV_EINVAL;
    if (d->ports[port].state != EVTCHN_UNBOUND)
        return HV_ENOENT;
    evtchn_set_pending(d, port);
    return HV_OK;
}

enum hv_status evtchn_unmask(struct evtchn_domain *d, uint32_t port)
{
    struct hv_shared_info *s = d->shared;
    uint32_t word = port / 64u;

    if (!port_valid(port))
        return HV_EINVAL;
    bit_clear(&s->evtchn_mask[word], port_bit(port));
    if (d->ports[port].state != EVTCHN_FREE && bit_test(&s->evtchn_pending[word], port_bit(port)))
        evtchn_mark_vcpu(d, d->ports[port].vcpu, word);
    return HV_OK;
}

enum hv_status evtchn_pirq_eoi(struct evtchn_domain *d, uint32_t port)
{
    struct evtchn_port *p;
    struct evtchn_pirq *line;

    if (!port_valid(port))
        return HV_EINVAL;
    p = &d->ports[port];
    if (p->state == EVTCHN_FREE)
        return HV_ENOENT;
    if (p->state != EVTCHN_PIRQ)
        return HV_EINVAL;
    line = &d->pirqs->lines[p->arg];
    int k = sharer_of(line, d, port);
    BUG_ON(k < 0);
    if (!(line->waiting & (1u << k)))
        return HV_OK; /* nothing outstanding: a repeated EOI changes nothing */
    line->waiting &= (uint8_t) ~(1u << k);
    if (line->waiting == 0) /* the last of the sharers to acknowledge */
        evtchn_pirq_unmask(p->arg);
    return HV_OK;
}

enum hv_status evtchn_bind_vcpu(struct evtchn_domain *d, uint32_t port, uint32_t vcpu)
{
    struct evtchn_port *p;
    struct hv_shared_info *s = d->shared;
    uint32_t word = port / 64u;

    if (!port_valid(port) || vcpu >= d->vcpu_count)
        return HV_EINVAL;
    p = &d->ports[port];
    if (p->state == EVTCHN_FREE)
        return HV_ENOENT;
    if (p->state == EVTCHN_IPI || (p->state == EVTCHN_VIRQ && HV_VIRQ_IS_PER_VCPU(p->arg)))
        return HV_EINVAL; /* tied to their VCPU: bind a new port instead */

    p->vcpu = (uint16_t)vcpu;
    if (p->state == EVTCHN_PIRQ && sharer_of(&d->pirqs->lines[p->arg], d, port) == 0)
        evtchn_pirq_follow(p->arg, d, vcpu);
    /* An event already pending and unmasked must not be lost on the move. */
    if (bit_test(&s->evtchn_pending[word], port_bit(port)) &&
        !bit_test(&s->evtchn_mask[word], port_bit(port)))
        evtchn_mark_vcpu(d, vcpu, word);
    return HV_OK;
}

/* ---- Hypervisor side ---------------------------------------------------- */

enum evtchn_state evtchn_port_state(const struct evtchn_domain *d, uint32_t port)
{
    if (port >= EVTCHN_PORTS)
        return EVTCHN_FREE;
    return (enum evtchn_state)d->ports[port].state;
}

bool evtchn_raise_virq(struct evtchn_domain *d, uint32_t virq, uint32_t vcpu)
{
    uint32_t row, port;

    if (virq >= HV_VIRQ_COUNT)
        return false;
    row = virq_row(virq, vcpu);
    if (row >= d->vcpu_count)
        return false;
    port = d->virq_port[row][virq];
    if (port == 0)
        return false;
    evtchn_set_pending(d, port);
    return true;
}

bool evtchn_pirq_raise(struct evtchn_pirq_table *pt, uint32_t irq)
{
    struct evtchn_pirq *line;

    if (irq >= EVTCHN_PIRQS)
        return false;
    line = &pt->lines[irq];
    if (line->waiting != 0 || !line_bound(line))
        return false;
    for (uint32_t k = 0; k < EVTCHN_LINE_SHARERS; k++) {
        if (line->d[k] == NULL)
            continue;
        if (!is_msi(irq))
            line->waiting |= (uint8_t)(1u << k);
        evtchn_set_pending(line->d[k], line->port[k]);
    }
    return true;
}

bool evtchn_pirq_expire(struct evtchn_pirq_table *pt, uint32_t irq)
{
    if (irq >= EVTCHN_MSI_FIRST || pt->lines[irq].waiting == 0)
        return false;
    pt->lines[irq].waiting = 0;
    evtchn_pirq_unmask(irq);
    return true;
}

bool evtchn_upcall_begin(struct evtchn_domain *d, uint32_t vcpu)
{
    struct hv_vcpu_info *vi;

    if (vcpu >= d->vcpu_count)
        return false;
    vi = &d->shared->vcpu_info[vcpu];
    if (__atomic_load_n(&vi->upcall_pending, __ATOMIC_SEQ_CST) == 0)
        return false;
    return __atomic_exchange_n(&vi->upcall_mask, 1, __ATOMIC_SEQ_CST) == 0;
}

bool evtchn_vcpu_event_pending(struct evtchn_domain *d, uint32_t vcpu)
{
    if (vcpu >= d->vcpu_count)
        return false;
    return __atomic_load_n(&d->shared->vcpu_info[vcpu].upcall_pending, __ATOMIC_SEQ_CST) != 0;
}
