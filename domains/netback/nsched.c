/* netback's network scheduler (nsched.h). */
#include "nsched.h"

#include <string.h>

#define NS_PER_S 1000000000ull
#define ETH_FRAME_MAX 1514u
/* Share-phase virtual time per byte at weight 1 (so that weights up to
 * 1000 still advance tags by whole units for the smallest packets). */
#define SHARE_SCALE 1000ull

void nsched_init(struct nsched *s)
{
    memset(s, 0, sizeof *s); /* not a zeroed local: larger than a domain's stack */
}

static bool class_ok(const struct nsched_class *c)
{
    if (c->weight == 0 || c->weight > NSCHED_WEIGHT_MAX)
        return false;
    if (c->rate_bps != 0 && c->burst_bytes < ETH_FRAME_MAX)
        return false;
    if (c->rate_pps != 0 && c->burst_pkts < 1)
        return false;
    /* Keep the scaled buckets and tags within 64 bits. */
    if (c->rate_bps > 100ull * NS_PER_S || c->burst_bytes > (1ull << 32) ||
        c->rate_pps > 100000000ull || c->burst_pkts > (1ull << 32) ||
        c->floor_bps > 100ull * NS_PER_S)
        return false;
    if (c->floor_bps != 0 && c->rate_bps != 0 && c->floor_bps > c->rate_bps)
        return false;
    return true;
}

bool nsched_set_class(struct nsched *s, uint32_t flow, const struct nsched_class *c,
                      uint64_t now_ns)
{
    if (flow >= NSCHED_FLOWS_MAX || c == 0 || !class_ok(c))
        return false;
    struct nsched_flow *f = &s->f[flow];
    if (!f->used) {
        struct nsched_flow zero = {0};
        *f = zero;
        f->used = true;
        f->s = f->f_last = s->v;
    }
    f->c = *c;
    f->tok_bytes = c->burst_bytes * NS_PER_S;
    f->tok_pkts = c->burst_pkts * NS_PER_S;
    f->refill_at = now_ns;
    if (f->r_next < now_ns)
        f->r_next = now_ns;
    return true;
}

void nsched_remove(struct nsched *s, uint32_t flow)
{
    if (flow < NSCHED_FLOWS_MAX)
        s->f[flow].used = false;
}

/* Adds what rate has earned since refill_at, up to the burst. */
static void refill_one(uint64_t *tok, uint64_t rate, uint64_t burst, uint64_t dt)
{
    uint64_t cap = burst * NS_PER_S;
    if (*tok >= cap)
        return;
    if (rate == 0 || dt >= (cap - *tok) / rate + 1) {
        *tok = cap;
        return;
    }
    *tok += dt * rate;
    if (*tok > cap)
        *tok = cap;
}

static void refill(struct nsched_flow *f, uint64_t now)
{
    if (now <= f->refill_at)
        return;
    uint64_t dt = now - f->refill_at;
    refill_one(&f->tok_bytes, f->c.rate_bps, f->c.burst_bytes, dt);
    refill_one(&f->tok_pkts, f->c.rate_pps, f->c.burst_pkts, dt);
    f->refill_at = now;
}

/* When the buckets allow a packet of len: now, or later. */
static uint64_t allowed_at(const struct nsched_flow *f, uint32_t len, uint64_t now)
{
    uint64_t at = now;
    if (f->c.rate_bps != 0) {
        uint64_t need = (uint64_t)len * NS_PER_S;
        if (f->tok_bytes < need) {
            uint64_t t = now + (need - f->tok_bytes + f->c.rate_bps - 1) / f->c.rate_bps;
            if (t > at)
                at = t;
        }
    }
    if (f->c.rate_pps != 0 && f->tok_pkts < NS_PER_S) {
        uint64_t t = now + (NS_PER_S - f->tok_pkts + f->c.rate_pps - 1) / f->c.rate_pps;
        if (t > at)
            at = t;
    }
    return at;
}

bool nsched_enqueue(struct nsched *s, uint32_t flow, uint32_t len, uint64_t now_ns)
{
    if (flow >= NSCHED_FLOWS_MAX || !s->f[flow].used || len == 0 || len > 65535)
        return false;
    struct nsched_flow *f = &s->f[flow];
    if (f->q_len == NSCHED_QUEUE_MAX) {
        f->refused++;
        return false;
    }
    if (f->q_len == 0) {
        /* Backlogged from now: no credit for the idle time. */
        if (f->r_next < now_ns)
            f->r_next = now_ns;
        f->head_tagged = false;
    }
    f->q[(f->q_head + f->q_len) % NSCHED_QUEUE_MAX] = (uint16_t)len;
    f->q_len++;
    return true;
}

static void tag_head(struct nsched *s, struct nsched_flow *f)
{
    if (f->head_tagged)
        return;
    f->s = f->f_last > s->v ? f->f_last : s->v;
    f->head_tagged = true;
}

int32_t nsched_dispatch(struct nsched *s, uint64_t now_ns, uint32_t *len, uint64_t *wake_ns)
{
    int32_t best_r = NSCHED_NONE, best_s = NSCHED_NONE;
    uint64_t wake = UINT64_MAX;
    for (uint32_t i = 0; i < NSCHED_FLOWS_MAX; i++) {
        struct nsched_flow *f = &s->f[i];
        if (!f->used || f->q_len == 0)
            continue;
        refill(f, now_ns);
        tag_head(s, f);
        uint32_t l = f->q[f->q_head];
        uint64_t at = allowed_at(f, l, now_ns);
        if (at > now_ns) {
            if (at < wake)
                wake = at;
            continue;
        }
        if (f->c.floor_bps != 0 && f->r_next <= now_ns &&
            (best_r == NSCHED_NONE || f->r_next < s->f[best_r].r_next))
            best_r = (int32_t)i;
        if (best_s == NSCHED_NONE || f->s < s->f[best_s].s)
            best_s = (int32_t)i;
    }
    int32_t pick = best_r != NSCHED_NONE ? best_r : best_s;
    if (pick == NSCHED_NONE) {
        *wake_ns = wake;
        return NSCHED_NONE;
    }
    struct nsched_flow *f = &s->f[pick];
    uint32_t l = f->q[f->q_head];
    f->q_head = (f->q_head + 1) % NSCHED_QUEUE_MAX;
    f->q_len--;
    if (f->c.rate_bps != 0)
        f->tok_bytes -= (uint64_t)l * NS_PER_S;
    if (f->c.rate_pps != 0)
        f->tok_pkts -= NS_PER_S;
    if (best_r != NSCHED_NONE) {
        f->r_next += (uint64_t)l * NS_PER_S / f->c.floor_bps;
        f->floor_pkts++;
    } else {
        s->v = f->s;
    }
    /* Either way the packet counts against the flow's share. */
    f->f_last = f->s + (uint64_t)l * SHARE_SCALE / f->c.weight;
    f->head_tagged = false;
    f->sent_pkts++;
    f->sent_bytes += l;
    *len = l;
    *wake_ns = now_ns;
    return pick;
}

uint32_t nsched_queued(const struct nsched *s, uint32_t flow)
{
    return flow < NSCHED_FLOWS_MAX && s->f[flow].used ? s->f[flow].q_len : 0;
}
