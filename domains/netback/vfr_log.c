/* netback's record log and flow table (vfr_log.h). */
#include "vfr_log.h"

#include <string.h>

#define NS_PER_S 1000000000ull
#define TCP_FIN 0x01u
#define TCP_RST 0x04u
#define PROTO_TCP 6u

void vfr_log_init(struct vfr_log *l, uint64_t rate_per_s, uint64_t burst, uint64_t now_ns)
{
    memset(l, 0, sizeof *l); /* not a zeroed local: larger than a domain's stack */
    l->rate_per_s = rate_per_s;
    l->burst = burst == 0 ? 1 : burst;
    l->tokens = l->burst * NS_PER_S;
    l->refill_at = now_ns;
}

static bool take_token(struct vfr_log *l, uint64_t now)
{
    if (l->rate_per_s == 0)
        return true;
    uint64_t cap = l->burst * NS_PER_S;
    if (now > l->refill_at) {
        uint64_t dt = now - l->refill_at;
        if (l->tokens < cap)
            l->tokens =
                dt >= (cap - l->tokens) / l->rate_per_s + 1 ? cap : l->tokens + dt * l->rate_per_s;
        l->refill_at = now;
    }
    if (l->tokens < NS_PER_S)
        return false;
    l->tokens -= NS_PER_S;
    return true;
}

static void store(struct vfr_log *l, const struct vfr_log_rec *r, uint64_t now)
{
    struct vfr_log_rec *d = &l->ring[(l->head + l->len) % VFR_LOG_RING];
    *d = *r;
    d->seq = l->next_seq++;
    d->at_ns = now;
    l->len++;
    l->kept++;
}

bool vfr_log_put(struct vfr_log *l, const struct vfr_log_rec *r, uint64_t now_ns)
{
    bool lease = r->type == VFR_LOG_LEASE_GRANTED || r->type == VFR_LOG_LEASE_RELEASED;
    uint32_t need = l->lost_pending ? 2u : 1u;
    if (VFR_LOG_RING - l->len < need) {
        l->lost_full++;
        l->lost_pending++;
        return false;
    }
    if (!lease && !take_token(l, now_ns)) {
        l->lost_rate++;
        l->lost_pending++;
        return false;
    }
    if (l->lost_pending) {
        struct vfr_log_rec lost = {0};
        lost.type = VFR_LOG_LOST;
        lost.count = l->lost_pending;
        lost.rule = -1;
        store(l, &lost, now_ns);
        l->lost_pending = 0;
    }
    store(l, r, now_ns);
    return true;
}

bool vfr_log_take(struct vfr_log *l, struct vfr_log_rec *out)
{
    if (l->len == 0)
        return false;
    *out = l->ring[l->head];
    l->head = (l->head + 1) % VFR_LOG_RING;
    l->len--;
    return true;
}

/* ---- Flows ------------------------------------------------------------------------ */

void vfr_flows_init(struct vfr_flows *t)
{
    t->lru_head = t->lru_tail = -1;
    t->count = 0;
    t->started = t->ended = t->evicted = 0;
    for (uint32_t b = 0; b < VFR_FLOW_BUCKETS; b++)
        t->bucket[b] = -1;
    for (uint32_t i = 0; i < VFR_FLOWS_MAX; i++) {
        t->f[i].used = false;
        t->f[i].next = i + 1 < VFR_FLOWS_MAX ? (int32_t)(i + 1) : -1;
    }
    t->free_head = 0;
}

static uint32_t hash(const struct vfr_flow_key *k)
{
    uint32_t h = 2166136261u;
    uint32_t parts[5] = {k->proto, k->dom, k->lport, k->peer, k->pport};
    for (int i = 0; i < 5; i++) {
        h ^= parts[i];
        h *= 16777619u;
        h ^= h >> 15;
    }
    return h % VFR_FLOW_BUCKETS;
}

static bool key_eq(const struct vfr_flow_key *a, const struct vfr_flow_key *b)
{
    return a->proto == b->proto && a->dom == b->dom && a->lport == b->lport && a->peer == b->peer &&
           a->pport == b->pport;
}

static void lru_unlink(struct vfr_flows *t, int32_t i)
{
    struct vfr_flow *f = &t->f[i];
    if (f->lru_prev >= 0)
        t->f[f->lru_prev].lru_next = f->lru_next;
    else
        t->lru_head = f->lru_next;
    if (f->lru_next >= 0)
        t->f[f->lru_next].lru_prev = f->lru_prev;
    else
        t->lru_tail = f->lru_prev;
}

static void lru_append(struct vfr_flows *t, int32_t i)
{
    struct vfr_flow *f = &t->f[i];
    f->lru_prev = t->lru_tail;
    f->lru_next = -1;
    if (t->lru_tail >= 0)
        t->f[t->lru_tail].lru_next = i;
    else
        t->lru_head = i;
    t->lru_tail = i;
}

static void log_flow(struct vfr_log *log, const struct vfr_flow *f, uint8_t type, uint64_t now)
{
    struct vfr_log_rec r = {0};
    r.type = type;
    r.proto = f->k.proto;
    r.dom = f->k.dom;
    r.dst = f->k.peer;
    r.sport = f->k.lport;
    r.dport = f->k.pport;
    r.rule = -1;
    r.pkts_in = f->pkts_in;
    r.pkts_out = f->pkts_out;
    r.bytes_in = f->bytes_in;
    r.bytes_out = f->bytes_out;
    r.duration_ns = now - f->start_ns;
    vfr_log_put(log, &r, now);
}

/* Ends flow i: its record, out of the chain, the LRU list, back to free. */
static void end_flow(struct vfr_flows *t, struct vfr_log *log, int32_t i, uint64_t now)
{
    struct vfr_flow *f = &t->f[i];
    log_flow(log, f, VFR_LOG_FLOW_END, now);
    int32_t *p = &t->bucket[hash(&f->k)];
    while (*p != i)
        p = &t->f[*p].next;
    *p = f->next;
    lru_unlink(t, i);
    f->used = false;
    f->next = t->free_head;
    t->free_head = i;
    t->count--;
    t->ended++;
}

void vfr_flows_note(struct vfr_flows *t, struct vfr_log *log, const struct vfr_flow_key *k, bool in,
                    uint32_t bytes, uint8_t tcp_flags, uint64_t now_ns)
{
    uint32_t b = hash(k);
    int32_t i = t->bucket[b];
    while (i >= 0 && !key_eq(&t->f[i].k, k))
        i = t->f[i].next;
    if (i < 0) {
        if (t->free_head < 0) { /* full: the least recently active goes */
            t->evicted++;
            end_flow(t, log, t->lru_head, now_ns);
        }
        i = t->free_head;
        struct vfr_flow *f = &t->f[i];
        t->free_head = f->next;
        f->used = true;
        f->k = *k;
        f->start_ns = now_ns;
        f->pkts_in = f->pkts_out = f->bytes_in = f->bytes_out = 0;
        f->fins = 0;
        f->next = t->bucket[b];
        t->bucket[b] = i;
        lru_append(t, i);
        t->count++;
        t->started++;
        log_flow(log, f, VFR_LOG_FLOW_START, now_ns);
    } else {
        lru_unlink(t, i);
        lru_append(t, i);
    }
    struct vfr_flow *f = &t->f[i];
    f->last_ns = now_ns;
    if (in) {
        f->pkts_in++;
        f->bytes_in += bytes;
    } else {
        f->pkts_out++;
        f->bytes_out += bytes;
    }
    if (k->proto == PROTO_TCP) {
        if (tcp_flags & TCP_FIN)
            f->fins |= in ? 1u : 2u;
        if ((tcp_flags & TCP_RST) || f->fins == 3u)
            end_flow(t, log, i, now_ns);
    }
}

uint32_t vfr_flows_expire(struct vfr_flows *t, struct vfr_log *log, uint64_t now_ns,
                          uint32_t budget)
{
    uint32_t n = 0;
    /* The LRU list is ordered by last activity: stop at the first live one
     * (a TCP flow ahead of an idle UDP flow is skipped over, within the
     * budget). */
    int32_t i = t->lru_head;
    while (i >= 0 && n < budget) {
        struct vfr_flow *f = &t->f[i];
        int32_t next = f->lru_next;
        uint64_t idle = f->k.proto == PROTO_TCP ? VFR_FLOW_IDLE_TCP_NS : VFR_FLOW_IDLE_NS;
        if (now_ns - f->last_ns < VFR_FLOW_IDLE_NS)
            break; /* everyone after is more recent still */
        if (now_ns - f->last_ns >= idle) {
            end_flow(t, log, i, now_ns);
            n++;
        }
        i = next;
    }
    return n;
}

void vfr_flows_end_dom(struct vfr_flows *t, struct vfr_log *log, uint16_t dom, uint64_t now_ns)
{
    for (uint32_t i = 0; i < VFR_FLOWS_MAX; i++)
        if (t->f[i].used && t->f[i].k.dom == dom)
            end_flow(t, log, (int32_t)i, now_ns);
}
