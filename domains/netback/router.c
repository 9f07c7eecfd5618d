/* netback's router (router.h). */
#include "router.h"

#ifdef HV_HOST_TEST
#include <stdlib.h>
#else
#include "gk/heap.h"
#endif

static int32_t dom_index(struct nb_router *r, uint16_t dom)
{
    struct vfr_dom *d = vfr_dom_get(&r->vfr, dom);
    return d ? (int32_t)(d - r->vfr.doms) : -1;
}

void nb_router_init(struct nb_router *r, uint32_t ext_addr, const uint8_t mac[6],
                    const struct nb_out *out, uint64_t log_rate, uint64_t log_burst,
                    uint64_t now_ns)
{
    vfr_init(&r->vfr, ext_addr, mac);
    vfr_log_init(&r->log, log_rate, log_burst, now_ns);
    vfr_flows_init(&r->flows);
    nsched_init(&r->tx);
    nsched_init(&r->rx);
    for (uint32_t i = 0; i < VFR_DOMS_MAX; i++) {
        struct nb_txq zero = {0};
        r->q[i] = zero;
        r->rq[i] = zero;
    }
    r->out = *out;
    r->to_wire = r->to_domains = 0;
}

static void queue_free(struct nb_txq *q)
{
    free(q->buf);
    q->buf = NULL;
    q->head = q->count = 0;
}

bool nb_router_add_domain(struct nb_router *r, uint16_t dom, const struct nsched_class *tx,
                          const struct nsched_class *rx, uint64_t now_ns)
{
    if (!vfr_dom_add(&r->vfr, dom))
        return false;
    int32_t i = dom_index(r, dom);
    struct nb_txq *q = &r->q[i], *rq = &r->rq[i];
    q->buf = malloc((size_t)NB_TXQ_MAX * VFR_ETH_MAX);
    rq->buf = malloc((size_t)NB_TXQ_MAX * VFR_ETH_MAX);
    if (q->buf == NULL || rq->buf == NULL || !nsched_set_class(&r->tx, (uint32_t)i, tx, now_ns) ||
        !nsched_set_class(&r->rx, (uint32_t)i, rx, now_ns)) {
        queue_free(q);
        queue_free(rq);
        nsched_remove(&r->tx, (uint32_t)i);
        vfr_dom_remove(&r->vfr, dom);
        return false;
    }
    q->head = q->count = rq->head = rq->count = 0;
    q->dropped = rq->dropped = 0;
    return true;
}

int32_t nb_router_set_rules(struct nb_router *r, uint16_t dom, const struct vfr_rule *rules,
                            uint32_t n)
{
    struct vfr_dom *d = vfr_dom_get(&r->vfr, dom);
    if (d == NULL)
        return 0;
    return vfr_rules_replace(&d->rules, rules, n);
}

static void log_leases(struct nb_router *r, uint16_t dom, uint8_t type, uint64_t now)
{
    struct vfr_lease l[VFR_LEASES_MAX];
    uint32_t n = vfr_lease_list(&r->vfr.leases, dom, l, VFR_LEASES_MAX);
    for (uint32_t k = 0; k < n && k < VFR_LEASES_MAX; k++) {
        struct vfr_log_rec rec = {0};
        rec.type = type;
        rec.dom = dom;
        rec.proto = l[k].proto;
        rec.lo = l[k].lo;
        rec.hi = l[k].hi;
        rec.rule = VFR_RULE_NONE;
        vfr_log_put(&r->log, &rec, now);
    }
}

enum vfr_lease_status nb_router_set_leases(struct nb_router *r, uint16_t dom,
                                           const struct vfr_lease *ranges, uint32_t n,
                                           struct vfr_lease *conflict, uint64_t now_ns)
{
    if (vfr_dom_get(&r->vfr, dom) == NULL)
        return VFR_LEASE_INVALID;
    struct vfr_leases before = r->vfr.leases;
    enum vfr_lease_status st = vfr_lease_set(&r->vfr.leases, dom, ranges, n, conflict);
    if (st != VFR_LEASE_OK)
        return st;
    struct vfr_leases after = r->vfr.leases;
    r->vfr.leases = before;
    log_leases(r, dom, VFR_LOG_LEASE_RELEASED, now_ns);
    r->vfr.leases = after;
    log_leases(r, dom, VFR_LOG_LEASE_GRANTED, now_ns);
    return VFR_LEASE_OK;
}

void nb_router_remove_domain(struct nb_router *r, uint16_t dom, uint64_t now_ns)
{
    int32_t i = dom_index(r, dom);
    if (i < 0)
        return;
    vfr_flows_end_dom(&r->flows, &r->log, dom, now_ns);
    log_leases(r, dom, VFR_LOG_LEASE_RELEASED, now_ns);
    nsched_remove(&r->tx, (uint32_t)i);
    nsched_remove(&r->rx, (uint32_t)i);
    queue_free(&r->q[i]);
    queue_free(&r->rq[i]);
    vfr_dom_remove(&r->vfr, dom);
}

/* The flow a routed packet belongs to, seen from domain dom. */
static void note_flow(struct nb_router *r, uint16_t dom, const struct vfr_pkt *p, bool in,
                      size_t len, uint64_t now)
{
    if (p->kind != VFR_KIND_IPV4 || !p->has_ports || p->frag_offset != 0)
        return;
    struct vfr_flow_key k;
    k.proto = p->proto;
    k.dom = dom;
    k.lport = in ? p->dport : p->sport;
    k.peer = in ? p->src : p->dst;
    k.pport = in ? p->sport : p->dport;
    vfr_flows_note(&r->flows, &r->log, &k, in, (uint32_t)len, p->tcp_flags, now);
}

static void log_drop(struct nb_router *r, uint16_t dom, const struct vfr_verdict *v, bool in,
                     uint64_t now)
{
    uint8_t type;
    if (v->drop == VFR_DROP_DENIED)
        type = VFR_LOG_DENIED;
    else if (v->drop == VFR_DROP_SPOOF_MAC || v->drop == VFR_DROP_SPOOF_ADDR ||
             v->drop == VFR_DROP_SPOOF_PORT)
        type = VFR_LOG_SPOOF;
    else
        return;
    struct vfr_log_rec rec = {0};
    rec.type = type;
    rec.dom = dom;
    rec.reason = v->drop;
    rec.dir = in ? VFR_IN : VFR_OUT;
    rec.rule = v->rule;
    rec.proto = v->pkt.proto;
    rec.src = v->pkt.src;
    rec.dst = v->pkt.dst;
    rec.sport = v->pkt.sport;
    rec.dport = v->pkt.dport;
    vfr_log_put(&r->log, &rec, now);
}

/* Queues a frame on q (the domain's at index i) for scheduler s: false,
 * counted in q->dropped, when the queue or the scheduler's is full. */
static bool enqueue(struct nsched *s, struct nb_txq *q, int32_t i, const uint8_t *f, size_t len,
                    uint64_t now)
{
    if (q->count == NB_TXQ_MAX || !nsched_enqueue(s, (uint32_t)i, (uint32_t)len, now)) {
        q->dropped++;
        return false;
    }
    uint32_t at = (q->head + q->count) % NB_TXQ_MAX;
    uint8_t *dst = q->buf + (size_t)at * VFR_ETH_MAX;
    for (size_t k = 0; k < len; k++)
        dst[k] = f[k];
    q->len[at] = (uint16_t)len;
    q->count++;
    return true;
}

/* Towards a domain: through its receive queue and class. */
static void to_domain(struct nb_router *r, uint16_t dom, const uint8_t *f, size_t len, uint64_t now)
{
    int32_t i = dom_index(r, dom);
    if (i >= 0)
        enqueue(&r->rx, &r->rq[i], i, f, len, now);
}

void nb_router_from_wire(struct nb_router *r, const uint8_t *frame, size_t len, uint64_t now_ns)
{
    struct vfr_verdict v;
    vfr_from_wire(&r->vfr, frame, len, now_ns, r->reply, &v);
    switch (v.to) {
    case VFR_TO_DOMAIN:
        note_flow(r, v.dom, &v.pkt, true, len, now_ns);
        to_domain(r, v.dom, frame, len, now_ns);
        break;
    case VFR_TO_ALL_DOMAINS:
        for (uint32_t i = 0; i < VFR_DOMS_MAX; i++)
            if (r->vfr.doms[i].used)
                to_domain(r, r->vfr.doms[i].id, frame, len, now_ns);
        break;
    case VFR_TO_REPLY:
        r->to_wire++;
        r->out.wire(r->out.ctx, r->reply, v.reply_len);
        break;
    default:
        if (v.drop == VFR_DROP_DENIED)
            log_drop(r, v.dom, &v, true, now_ns);
        break;
    }
}

void nb_router_from_domain(struct nb_router *r, uint16_t dom, const uint8_t *frame, size_t len,
                           uint64_t now_ns)
{
    struct vfr_verdict v;
    vfr_from_domain(&r->vfr, dom, frame, len, now_ns, r->reply, &v);
    switch (v.to) {
    case VFR_TO_WIRE:
        note_flow(r, dom, &v.pkt, false, len, now_ns);
        if (dom_index(r, dom) >= 0)
            enqueue(&r->tx, &r->q[dom_index(r, dom)], dom_index(r, dom), frame, len, now_ns);
        break;
    case VFR_TO_DOMAIN: /* domain to domain */
        note_flow(r, dom, &v.pkt, false, len, now_ns);
        note_flow(r, v.dom, &v.pkt, true, len, now_ns);
        to_domain(r, v.dom, frame, len, now_ns);
        break;
    case VFR_TO_REPLY: to_domain(r, dom, r->reply, v.reply_len, now_ns); break;
    default:
        /* A denial of a domain-to-domain packet by the receiver's rules is
         * logged for the receiver (v.dom), anything else for the sender. */
        log_drop(r, v.dom != VFR_DOM_NONE ? v.dom : dom, &v, v.dom != VFR_DOM_NONE, now_ns);
        break;
    }
}

/* Up to budget frames the scheduler s lets go now, from queues qs; returns
 * when it wants to run again. */
static uint64_t drain(struct nb_router *r, struct nsched *s, struct nb_txq *qs, bool wire,
                      uint64_t now_ns, uint32_t budget)
{
    uint64_t wake = UINT64_MAX;
    for (uint32_t n = 0; n < budget; n++) {
        uint32_t len;
        int32_t i = nsched_dispatch(s, now_ns, &len, &wake);
        if (i == NSCHED_NONE)
            break;
        struct nb_txq *q = &qs[i];
        const uint8_t *f = q->buf + (size_t)q->head * VFR_ETH_MAX;
        q->head = (q->head + 1) % NB_TXQ_MAX;
        q->count--;
        if (wire) {
            r->to_wire++;
            r->out.wire(r->out.ctx, f, len);
        } else {
            r->to_domains++;
            r->out.domain(r->out.ctx, r->vfr.doms[i].id, f, len);
        }
        wake = now_ns;
    }
    return wake;
}

uint64_t nb_router_poll(struct nb_router *r, uint64_t now_ns, uint32_t budget)
{
    uint64_t wake = drain(r, &r->tx, r->q, true, now_ns, budget);
    uint64_t wake_rx = drain(r, &r->rx, r->rq, false, now_ns, budget);
    vfr_flows_expire(&r->flows, &r->log, now_ns, 64);
    return wake_rx < wake ? wake_rx : wake;
}
