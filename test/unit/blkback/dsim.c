/* The disk scheduler simulator (see dsim.h). */
#include "dsim.h"

#include <math.h>
#include <string.h>

#include "blkstat.h"

struct sreq {
    struct dsched_req q; /* first: a dsched_req * is a struct sreq * */
    uint32_t client;
};

struct sclient {
    const struct sim_client_cfg *cfg;
    struct dsched_flow flow;
    struct sreq pool[SIM_POOL];
    uint32_t free_idx[SIM_POOL];
    uint32_t free_count;
    bool started;
    uint64_t next_arrival_ns;
    struct blkstat_hist lat;
    uint64_t lat_max_ns;
    uint64_t thr_at_from, thr_at_to;
};

struct slot {
    bool busy;
    uint64_t end_ns;
    struct sreq *r;
};

#define SLOTS_MAX 64u

static struct sim {
    const struct sim_cfg *c;
    struct dsched s;
    struct sclient cl[SIM_CLIENTS_MAX];
    struct slot slot[SLOTS_MAX];
    uint64_t rng;
    uint64_t wake_ns;
    uint64_t from_ns, to_ns;
    bool from_snap, to_snap;
    uint64_t busy_ns, violation_ns;
    struct sim_result *r;
} sim;

static uint64_t rnd(void)
{
    uint64_t x = sim.rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    sim.rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Uniform in (0, 1]. */
static double rnd_unit(void)
{
    return (double)((rnd() >> 11) + 1) / 9007199254740992.0;
}

double sim_capacity(const struct sim_dev_cfg *d, uint32_t bytes)
{
    double t = (double)d->fixed_ns + (double)bytes * (double)d->ns_per_kib / 1024.0;
    return (double)d->slots * 1e9 / t;
}

static uint64_t service_ns(uint32_t bytes)
{
    const struct sim_dev_cfg *d = &sim.c->dev;
    double t = (double)d->fixed_ns + (double)bytes * (double)d->ns_per_kib / 1024.0;
    if (d->jitter_pct) {
        double j = (2.0 * rnd_unit() - 1.0) * (double)d->jitter_pct / 100.0;
        t *= 1.0 + j;
    }
    return t < 1.0 ? 1 : (uint64_t)t;
}

static bool active(const struct sclient *k, uint64_t t)
{
    return k->started && (k->cfg->stop_ns == 0 || t < k->cfg->stop_ns);
}

static void submit(uint32_t ci, uint64_t t)
{
    struct sclient *k = &sim.cl[ci];
    if (k->free_count == 0) {
        sim.r->c[ci].dropped++;
        return;
    }
    struct sreq *q = &k->pool[k->free_idx[--k->free_count]];
    memset(q, 0, sizeof *q);
    q->client = ci;
    q->q.arrival_ns = t;
    q->q.bytes = k->cfg->bytes;
    if (k->cfg->bytes_alt && (rnd() & 1))
        q->q.bytes = k->cfg->bytes_alt;
    dsched_enqueue(&sim.s, &k->flow, &q->q, t);
}

static uint64_t next_gap(const struct sclient *k)
{
    double g = -log(rnd_unit()) * 1e9 / k->cfg->rate_iops;
    return g < 1.0 ? 1 : (uint64_t)g;
}

static void dispatch_all(uint64_t t)
{
    sim.wake_ns = DSCHED_NEVER;
    for (uint32_t i = 0; i < sim.c->dev.slots; i++) {
        if (sim.slot[i].busy)
            continue;
        struct dsched_flow *f;
        uint64_t wake;
        struct dsched_req *q = dsched_dispatch(&sim.s, t, &f, &wake);
        if (!q) {
            sim.wake_ns = wake;
            return;
        }
        struct sreq *sr = (struct sreq *)q;
        if (f != &sim.cl[sr->client].flow)
            sim.r->wrong_flow++;
        sim.slot[i] = (struct slot){true, t + service_ns(q->bytes), sr};
        sim.r->dispatches++;
    }
}

static bool unlimited(const struct sclient *k)
{
    return sim.c->policy == DSCHED_RR || (k->cfg->qos.iops_max == 0 && k->cfg->qos.bps_max == 0);
}

static uint64_t overlap(uint64_t a, uint64_t b)
{
    uint64_t lo = a > sim.from_ns ? a : sim.from_ns;
    uint64_t hi = b < sim.to_ns ? b : sim.to_ns;
    return hi > lo ? hi - lo : 0;
}

/* Accounts [t, tn): nothing changes in between. */
static void account(uint64_t t, uint64_t tn)
{
    uint32_t busy = 0;
    for (uint32_t i = 0; i < sim.c->dev.slots; i++)
        busy += sim.slot[i].busy;
    sim.busy_ns += overlap(t, tn) * busy;
    if (busy < sim.c->dev.slots)
        for (uint32_t ci = 0; ci < sim.c->client_count; ci++)
            if (sim.cl[ci].flow.queued && unlimited(&sim.cl[ci])) {
                sim.violation_ns += tn - t;
                break;
            }
    if (!sim.from_snap && tn >= sim.from_ns) {
        for (uint32_t ci = 0; ci < sim.c->client_count; ci++)
            sim.cl[ci].thr_at_from = dsched_flow_throttled_ns(&sim.cl[ci].flow, sim.from_ns);
        sim.from_snap = true;
    }
    if (!sim.to_snap && tn >= sim.to_ns) {
        for (uint32_t ci = 0; ci < sim.c->client_count; ci++)
            sim.cl[ci].thr_at_to = dsched_flow_throttled_ns(&sim.cl[ci].flow, sim.to_ns);
        sim.to_snap = true;
    }
}

static void complete(struct slot *sl, uint64_t t)
{
    struct sreq *q = sl->r;
    struct sclient *k = &sim.cl[q->client];
    struct sim_client_result *cr = &sim.r->c[q->client];
    if (t >= sim.from_ns && t < sim.to_ns) {
        cr->ops++;
        cr->bytes += q->q.bytes;
        cr->cost += dsched_cost(&sim.s, q->q.bytes);
        if (q->q.phase == DSCHED_PHASE_RESERVATION)
            cr->reservation_ops++;
        uint64_t lat = t - q->q.arrival_ns;
        blkstat_hist_add(&k->lat, lat);
        if (lat > k->lat_max_ns)
            k->lat_max_ns = lat;
    }
    k->free_idx[k->free_count++] = (uint32_t)(q - k->pool);
    sl->busy = false;
    sl->r = NULL;
    if (k->cfg->kind == SIM_CLOSED && active(k, t))
        submit(q->client, t);
}

static uint64_t next_event(void)
{
    uint64_t tn = sim.c->duration_ns;
    for (uint32_t i = 0; i < sim.c->dev.slots; i++)
        if (sim.slot[i].busy && sim.slot[i].end_ns < tn)
            tn = sim.slot[i].end_ns;
    for (uint32_t ci = 0; ci < sim.c->client_count; ci++) {
        const struct sclient *k = &sim.cl[ci];
        if (!k->started && k->cfg->start_ns < tn)
            tn = k->cfg->start_ns;
        if (k->started && k->cfg->kind == SIM_OPEN && active(k, k->next_arrival_ns) &&
            k->next_arrival_ns < tn)
            tn = k->next_arrival_ns;
    }
    if (sim.wake_ns < tn)
        tn = sim.wake_ns;
    return tn;
}

int sim_run(const struct sim_cfg *c, struct sim_result *r)
{
    if (c->client_count > SIM_CLIENTS_MAX || c->dev.slots == 0 || c->dev.slots > SLOTS_MAX ||
        c->change_count > 4 || c->duration_ns == 0)
        return -1;
    memset(&sim, 0, sizeof sim);
    memset(r, 0, sizeof *r);
    sim.c = c;
    sim.r = r;
    sim.rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)c->seed * 0xbf58476d1ce4e5b9ull);
    if (sim.rng == 0)
        sim.rng = 1;
    sim.from_ns = c->window_from_ns;
    sim.to_ns = c->window_to_ns ? c->window_to_ns : c->duration_ns;
    if (sim.to_ns <= sim.from_ns || sim.to_ns > c->duration_ns)
        return -1;
    dsched_init(&sim.s, c->policy, c->op_cost_bytes);
    for (uint32_t ci = 0; ci < c->client_count; ci++) {
        struct sclient *k = &sim.cl[ci];
        k->cfg = &c->client[ci];
        if ((k->cfg->kind == SIM_OPEN && !(k->cfg->rate_iops > 0)) ||
            (k->cfg->kind == SIM_CLOSED && (k->cfg->depth == 0 || k->cfg->depth > SIM_POOL)))
            return -1;
        for (uint32_t i = 0; i < SIM_POOL; i++)
            k->free_idx[i] = SIM_POOL - 1u - i;
        k->free_count = SIM_POOL;
        if (!dsched_attach(&sim.s, &k->flow, &k->cfg->qos, 0))
            return -1;
    }
    bool applied[4] = {false};
    uint64_t t = 0;
    for (;;) {
        /* Everything that happens at t. */
        for (uint32_t i = 0; i < c->dev.slots; i++)
            if (sim.slot[i].busy && sim.slot[i].end_ns <= t)
                complete(&sim.slot[i], t);
        for (uint32_t ci = 0; ci < c->client_count; ci++) {
            struct sclient *k = &sim.cl[ci];
            if (!k->started && k->cfg->start_ns <= t) {
                k->started = true;
                if (k->cfg->kind == SIM_CLOSED)
                    for (uint32_t i = 0; i < k->cfg->depth; i++)
                        submit(ci, t);
                else
                    k->next_arrival_ns = t + next_gap(k);
            }
            while (k->started && k->cfg->kind == SIM_OPEN && active(k, k->next_arrival_ns) &&
                   k->next_arrival_ns <= t) {
                submit(ci, t);
                k->next_arrival_ns += next_gap(k);
            }
        }
        for (uint32_t i = 0; i < c->change_count; i++)
            if (!applied[i] && c->change[i].at_ns <= t) {
                applied[i] = true;
                if (c->change[i].client >= c->client_count ||
                    !dsched_set_qos(&sim.s, &sim.cl[c->change[i].client].flow, &c->change[i].qos,
                                    t))
                    return -1;
            }
        dispatch_all(t);

        uint64_t tn = next_event();
        for (uint32_t i = 0; i < c->change_count; i++)
            if (!applied[i] && c->change[i].at_ns < tn)
                tn = c->change[i].at_ns;
        if (tn < t)
            tn = t;
        account(t, tn);
        if (tn >= c->duration_ns)
            break;
        t = tn;
    }

    double secs = (double)(sim.to_ns - sim.from_ns) / 1e9;
    for (uint32_t ci = 0; ci < c->client_count; ci++) {
        struct sim_client_result *cr = &r->c[ci];
        cr->iops = (double)cr->ops / secs;
        cr->bps = (double)cr->bytes / secs;
        cr->cost_rate = (double)cr->cost / (double)sim.s.unit_cost / secs;
        cr->lat_p50_ns = blkstat_hist_quantile(&sim.cl[ci].lat, 500);
        cr->lat_p99_ns = blkstat_hist_quantile(&sim.cl[ci].lat, 990);
        cr->lat_max_ns = sim.cl[ci].lat_max_ns;
        cr->throttled_ns = sim.cl[ci].thr_at_to - sim.cl[ci].thr_at_from;
    }
    r->busy_fraction = (double)sim.busy_ns / ((double)(sim.to_ns - sim.from_ns) * c->dev.slots);
    r->idle_violation_ns = sim.violation_ns;
    return 0;
}
