/* The disk scheduler (see dsched.h for the policy and its guarantees). */
#include "dsched.h"

#include <stddef.h>

#define NS_PER_S 1000000000ull

/* Virtual times compare modulo 2^64 (they only ever grow): a before b. */
static bool vt_before(uint64_t a, uint64_t b)
{
    return (int64_t)(a - b) < 0;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* x * NS_PER_S / den rounded to nearest; x <= 2^23, den <= 2^44, so nothing
 * overflows (x * NS_PER_S < 2^53). */
static uint64_t ns_for(uint64_t x, uint64_t den)
{
    return (x * NS_PER_S + den / 2) / den;
}

void dsched_init(struct dsched *s, enum dsched_policy policy, uint32_t op_cost_bytes)
{
    *s = (struct dsched){0};
    s->policy = policy;
    if (op_cost_bytes == 0)
        op_cost_bytes = DSCHED_OP_COST_DEFAULT;
    if (op_cost_bytes > DSCHED_OP_COST_MAX)
        op_cost_bytes = DSCHED_OP_COST_MAX;
    s->op_cost_bytes = op_cost_bytes;
    s->unit_cost = (uint64_t)op_cost_bytes + DSCHED_UNIT_BYTES;
}

const char *dsched_qos_check(const struct dsched_qos *q)
{
    if (q->weight == 0 || q->weight > DSCHED_WEIGHT_MAX)
        return "weight must be 1..1000";
    if (q->iops_min > DSCHED_IOPS_LIMIT || q->iops_max > DSCHED_IOPS_LIMIT)
        return "iops above 10000000";
    if (q->bps_max > DSCHED_BPS_LIMIT)
        return "bytes per second above 1 TiB/s";
    if (q->iops_min != 0 && q->iops_max != 0 && q->iops_min > q->iops_max)
        return "iops_min above iops_max";
    return NULL;
}

uint64_t dsched_cost(const struct dsched *s, uint32_t bytes)
{
    if (bytes > DSCHED_REQ_BYTES_MAX)
        bytes = DSCHED_REQ_BYTES_MAX;
    return (uint64_t)s->op_cost_bytes + bytes;
}

/* Tags of f's head (f->queued > 0). The reservation tag restarts when the
 * flow becomes backlogged, not at each request's arrival: a backlogged flow
 * that falls behind its reservation (the reservations add up to more than
 * the device) keeps its debt, so that overloaded reservations share the
 * device in their ratio; an idle flow forgets it. */
static uint64_t tag_r(const struct dsched_flow *f)
{
    return f->qos.iops_min ? max_u64(f->r_next_ns, f->backlog_from_ns) : DSCHED_NEVER;
}

/* When f's head is allowed by its limits (0: no limit). */
static uint64_t tag_eligible(const struct dsched_flow *f)
{
    uint64_t e = 0;
    if (f->qos.iops_max)
        e = max_u64(e, max_u64(f->l_next_ns, f->head->arrival_ns));
    if (f->qos.bps_max)
        e = max_u64(e, max_u64(f->b_next_ns, f->head->arrival_ns));
    return e;
}

/* f's head just became the head at now: its share tag, and the start of a
 * limit wait if its limits hold it back. */
static void head_arrived(struct dsched *s, struct dsched_flow *f, uint64_t now_ns)
{
    f->s_tag = vt_before(f->f_last, s->vtime) ? s->vtime : f->f_last;
    f->thr_from_ns = f->thr_until_ns = 0;
    if (s->policy != DSCHED_MCLOCK)
        return;
    uint64_t e = tag_eligible(f);
    if (e > now_ns) {
        f->thr_from_ns = now_ns;
        f->thr_until_ns = e;
    }
}

/* Adds the part of a limit wait that has passed by now to the stats. */
static void settle_throttle(struct dsched_flow *f, uint64_t now_ns)
{
    if (f->thr_until_ns > f->thr_from_ns && now_ns > f->thr_from_ns)
        f->stats.throttled_ns += min_u64(now_ns, f->thr_until_ns) - f->thr_from_ns;
    f->thr_from_ns = f->thr_until_ns = 0;
}

uint64_t dsched_flow_throttled_ns(const struct dsched_flow *f, uint64_t now_ns)
{
    uint64_t t = f->stats.throttled_ns;
    if (f->thr_until_ns > f->thr_from_ns && now_ns > f->thr_from_ns)
        t += min_u64(now_ns, f->thr_until_ns) - f->thr_from_ns;
    return t;
}

/* Restarts f's tags at now and drops any share lead (QoS or policy change). */
static void restart_tags(struct dsched *s, struct dsched_flow *f, uint64_t now_ns)
{
    settle_throttle(f, now_ns);
    f->r_next_ns = f->l_next_ns = f->b_next_ns = now_ns;
    if (!vt_before(f->f_last, s->vtime))
        f->f_last = s->vtime;
    if (f->queued)
        head_arrived(s, f, now_ns);
}

void dsched_set_policy(struct dsched *s, enum dsched_policy policy, uint64_t now_ns)
{
    s->policy = policy;
    for (uint32_t i = 0; i < s->flow_count; i++)
        restart_tags(s, s->flows[i], now_ns);
}

bool dsched_attach(struct dsched *s, struct dsched_flow *f, const struct dsched_qos *q,
                   uint64_t now_ns)
{
    if (dsched_qos_check(q) || s->flow_count >= DSCHED_FLOWS_MAX || f->attached)
        return false;
    *f = (struct dsched_flow){0};
    f->qos = *q;
    f->attached = true;
    f->index = s->flow_count;
    f->r_next_ns = f->l_next_ns = f->b_next_ns = now_ns;
    f->f_last = s->vtime;
    s->flows[s->flow_count++] = f;
    return true;
}

struct dsched_req *dsched_detach(struct dsched *s, struct dsched_flow *f, uint64_t now_ns)
{
    if (!f->attached)
        return NULL;
    settle_throttle(f, now_ns);
    struct dsched_req *list = f->head;
    s->queued -= f->queued;
    f->head = f->tail = NULL;
    f->queued = 0;
    uint32_t i = f->index;
    s->flows[i] = s->flows[--s->flow_count];
    s->flows[i]->index = i;
    s->flows[s->flow_count] = NULL;
    f->attached = false;
    if (s->rr_next >= s->flow_count)
        s->rr_next = 0;
    return list;
}

bool dsched_set_qos(struct dsched *s, struct dsched_flow *f, const struct dsched_qos *q,
                    uint64_t now_ns)
{
    if (!f->attached || dsched_qos_check(q))
        return false;
    f->qos = *q;
    restart_tags(s, f, now_ns);
    return true;
}

void dsched_enqueue(struct dsched *s, struct dsched_flow *f, struct dsched_req *r, uint64_t now_ns)
{
    r->next = NULL;
    r->phase = DSCHED_PHASE_NONE;
    if (f->tail)
        f->tail->next = r;
    else
        f->head = r;
    f->tail = r;
    f->queued++;
    s->queued++;
    if (f->queued == 1) {
        f->backlog_from_ns = r->arrival_ns;
        head_arrived(s, f, now_ns);
    }
}

/* Takes f's head off in phase p and advances f's tags. */
static struct dsched_req *take(struct dsched *s, struct dsched_flow *f, enum dsched_phase p,
                               uint64_t now_ns)
{
    struct dsched_req *r = f->head;
    uint64_t cost = dsched_cost(s, r->bytes);
    uint32_t bytes = r->bytes > DSCHED_REQ_BYTES_MAX ? DSCHED_REQ_BYTES_MAX : r->bytes;
    settle_throttle(f, now_ns);
    if (p == DSCHED_PHASE_RESERVATION)
        f->r_next_ns = tag_r(f) + ns_for(cost, s->unit_cost * f->qos.iops_min);
    if (f->qos.iops_max)
        f->l_next_ns =
            max_u64(f->l_next_ns, r->arrival_ns) + ns_for(cost, s->unit_cost * f->qos.iops_max);
    if (f->qos.bps_max)
        f->b_next_ns = max_u64(f->b_next_ns, r->arrival_ns) + ns_for(bytes, f->qos.bps_max);
    f->f_last = f->s_tag + cost * DSCHED_VT_SCALE / f->qos.weight;
    if (p == DSCHED_PHASE_WEIGHT)
        s->vtime = f->s_tag;

    f->head = r->next;
    if (!f->head)
        f->tail = NULL;
    f->queued--;
    s->queued--;
    r->next = NULL;
    r->phase = (uint8_t)p;
    f->stats.ops++;
    f->stats.bytes += bytes;
    f->stats.cost += cost;
    if (p == DSCHED_PHASE_RESERVATION)
        f->stats.reservation_ops++;
    if (f->queued)
        head_arrived(s, f, now_ns);
    return r;
}

static struct dsched_req *dispatch_rr(struct dsched *s, uint64_t now_ns, struct dsched_flow **flow)
{
    for (uint32_t k = 0; k < s->flow_count; k++) {
        uint32_t i = (s->rr_next + k) % s->flow_count;
        struct dsched_flow *f = s->flows[i];
        if (f->queued) {
            s->rr_next = (i + 1) % s->flow_count;
            *flow = f;
            return take(s, f, DSCHED_PHASE_RR, now_ns);
        }
    }
    return NULL;
}

struct dsched_req *dsched_dispatch(struct dsched *s, uint64_t now_ns, struct dsched_flow **flow,
                                   uint64_t *wake_ns)
{
    *flow = NULL;
    *wake_ns = DSCHED_NEVER;
    if (s->queued == 0 || s->flow_count == 0)
        return NULL;
    if (s->policy == DSCHED_RR)
        return dispatch_rr(s, now_ns, flow);

    /* Reservation phase: the smallest R tag that is due. */
    struct dsched_flow *best = NULL;
    uint64_t best_r = 0;
    for (uint32_t i = 0; i < s->flow_count; i++) {
        struct dsched_flow *f = s->flows[i];
        if (!f->queued || !f->qos.iops_min)
            continue;
        uint64_t r = tag_r(f);
        if (r <= now_ns && (!best || r < best_r)) {
            best = f;
            best_r = r;
        }
    }
    if (best) {
        *flow = best;
        return take(s, best, DSCHED_PHASE_RESERVATION, now_ns);
    }

    /* Weight phase: the smallest share tag among heads the limits allow;
     * ties go round the flows so that none is favoured by its index. */
    uint64_t wake = DSCHED_NEVER;
    for (uint32_t k = 0; k < s->flow_count; k++) {
        struct dsched_flow *f = s->flows[(s->rr_next + k) % s->flow_count];
        if (!f->queued)
            continue;
        uint64_t e = tag_eligible(f);
        if (e > now_ns) {
            wake = min_u64(wake, e);
            if (f->qos.iops_min)
                wake = min_u64(wake, tag_r(f));
            continue;
        }
        if (!best || vt_before(f->s_tag, best->s_tag))
            best = f;
    }
    if (!best) {
        *wake_ns = wake;
        return NULL;
    }
    s->rr_next = (best->index + 1) % s->flow_count;
    *flow = best;
    return take(s, best, DSCHED_PHASE_WEIGHT, now_ns);
}
