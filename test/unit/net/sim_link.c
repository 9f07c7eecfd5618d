/* The simulated link of sim_link.h. */
#include "sim_link.h"

#include <stdlib.h>
#include <string.h>

uint64_t sim_random(struct sim *s)
{
    uint64_t x = s->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

static bool chance(struct sim *s, uint32_t ppm)
{
    return ppm && sim_random(s) % 1000000 < ppm;
}

void sim_init(struct sim *s, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->rng = seed * 0x9e3779b97f4a7c15ull + 1;
    s->now = 1000000000ull; /* 1 s: nothing special about time 0 */
    s->delay_ns = 100000;   /* 100 us each way */
}

void sim_fini(struct sim *s)
{
    for (int i = 0; i < s->ends; i++) {
        gk_ip_destroy(s->end[i].ip);
        free(s->end[i].q);
    }
    s->ends = 0;
}

static void enqueue(struct sim *s, int to, const uint8_t *f, uint32_t len, uint64_t at)
{
    struct sim_end *e = &s->end[to];
    if (len > sizeof e->q[0].data)
        abort(); /* a test's mistake */
    if (e->qn == SIM_QUEUE_MAX) {
        s->lost++;
        return;
    }
    struct sim_frame *fr = &e->q[e->qn++];
    fr->at = at;
    fr->seq = s->frame_seq++;
    fr->len = len;
    memcpy(fr->data, f, len);
}

static int drv_send(void *ctx, const void *frame, size_t len)
{
    struct sim_end *e = ctx;
    struct sim *s = e->sim;
    uint8_t buf[1518];
    if (len > sizeof buf)
        return -1;
    memcpy(buf, frame, len);
    uint32_t n = (uint32_t)len;
    e->tx++;
    if (s->tap && !s->tap(s, e->id, buf, &n, s->tap_arg))
        return 0;
    for (int to = 0; to < s->ends; to++) {
        if (to == e->id)
            continue;
        if (chance(s, s->loss_ppm)) {
            s->lost++;
            continue;
        }
        uint8_t copy[1518];
        memcpy(copy, buf, n);
        if (chance(s, s->corrupt_ppm) && n > 14) {
            size_t at = 14 + sim_random(s) % (n - 14);
            copy[at] ^= (uint8_t)(1u << (sim_random(s) % 8));
            s->corrupted++;
        }
        uint64_t j = s->jitter_ns ? sim_random(s) % s->jitter_ns : 0;
        enqueue(s, to, copy, n, s->now + s->delay_ns + j);
        if (chance(s, s->dup_ppm)) {
            s->duplicated++;
            enqueue(s, to, copy, n, s->now + s->delay_ns + j + 1000);
        }
    }
    return 0;
}

static int drv_recv(void *ctx, void *buf, size_t cap, size_t *len)
{
    struct sim_end *e = ctx;
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < e->qn; i++)
        if (e->q[i].at <= e->sim->now &&
            (best == SIZE_MAX || e->q[i].at < e->q[best].at ||
             (e->q[i].at == e->q[best].at && e->q[i].seq < e->q[best].seq)))
            best = i;
    if (best == SIZE_MAX)
        return -1;
    struct sim_frame *f = &e->q[best];
    if (f->len > cap) { /* as a NIC does: a frame too long for the buffer is dropped */
        e->q[best] = e->q[--e->qn];
        e->sim->lost++;
        return drv_recv(ctx, buf, cap, len);
    }
    memcpy(buf, f->data, f->len);
    *len = f->len;
    e->q[best] = e->q[--e->qn];
    e->rx++;
    return 0;
}

static uint64_t drv_now(void *ctx)
{
    struct sim_end *e = ctx;
    return e->sim->now;
}

static uint64_t next_frame_at(struct sim *s)
{
    uint64_t at = UINT64_MAX;
    for (int i = 0; i < s->ends; i++)
        for (size_t k = 0; k < s->end[i].qn; k++)
            if (s->end[i].q[k].at < at)
                at = s->end[i].q[k].at;
    return at;
}

static void drv_wait(void *ctx, uint64_t deadline)
{
    struct sim_end *e = ctx;
    struct sim *s = e->sim;
    if (s->stepping) { /* called from inside a step: just move the clock */
        uint64_t at = next_frame_at(s);
        s->now = at < deadline ? (at > s->now ? at : s->now) : deadline;
        return;
    }
    /* A blocking call of end e: the others run meanwhile. */
    uint64_t until = deadline;
    uint64_t at = next_frame_at(s);
    for (int i = 0; i < s->ends; i++) {
        if (i == e->id)
            continue;
        uint64_t n = gk_ip_poll(s->end[i].ip);
        if (s->end[i].app)
            s->end[i].app(&s->end[i], s->end[i].app_arg);
        if (n < until)
            until = n;
    }
    at = next_frame_at(s);
    if (at < until)
        until = at;
    if (until == UINT64_MAX) /* nothing will ever happen: time passes in steps */
        until = s->now + 1000000000ull;
    if (until > s->now)
        s->now = until;
}

struct gk_ip_driver sim_driver(struct sim_end *e)
{
    struct gk_ip_driver d = {
        .ctx = e, .send = drv_send, .recv = drv_recv, .wait = drv_wait, .now_ns = drv_now};
    return d;
}

struct gk_ip *sim_add(struct sim *s, const struct gk_ip_config *cfg)
{
    if (s->ends == SIM_ENDS_MAX)
        return NULL;
    struct sim_end *e = &s->end[s->ends];
    memset(e, 0, sizeof *e);
    e->sim = s;
    e->id = s->ends;
    e->q = calloc(SIM_QUEUE_MAX, sizeof *e->q);
    struct gk_ip_driver d = sim_driver(e);
    e->ip = gk_ip_create(cfg, &d);
    if (e->ip == NULL || e->q == NULL) {
        free(e->q);
        return NULL;
    }
    s->ends++;
    return e->ip;
}

void sim_inject(struct sim *s, int to, const void *frame, size_t len)
{
    enqueue(s, to, frame, (uint32_t)len, s->now);
}

bool sim_step(struct sim *s, uint64_t max_step_ns)
{
    s->stepping = true;
    uint64_t next = UINT64_MAX;
    for (int i = 0; i < s->ends; i++) {
        uint64_t n = gk_ip_poll(s->end[i].ip);
        if (n < next)
            next = n;
    }
    for (int i = 0; i < s->ends; i++)
        if (s->end[i].app)
            s->end[i].app(&s->end[i], s->end[i].app_arg);
    /* The apps may have sent: poll once more for the deadlines. */
    for (int i = 0; i < s->ends; i++) {
        uint64_t n = gk_ip_poll(s->end[i].ip);
        if (n < next)
            next = n;
    }
    s->stepping = false;
    uint64_t at = next_frame_at(s);
    if (at < next)
        next = at;
    if (next == UINT64_MAX) {
        s->now += max_step_ns;
        return false;
    }
    if (next > s->now + max_step_ns)
        next = s->now + max_step_ns;
    if (next > s->now)
        s->now = next;
    return true;
}

bool sim_run(struct sim *s, bool (*done)(void *arg), void *arg, uint64_t limit_ns)
{
    uint64_t end = s->now + limit_ns;
    while (s->now < end) {
        if (done && done(arg))
            return true;
        uint64_t left = end - s->now;
        sim_step(s, left < 10000000ull ? left : 10000000ull);
    }
    return done ? done(arg) : true;
}

void sim_advance(struct sim *s, uint64_t span_ns)
{
    sim_run(s, NULL, NULL, span_ns);
}

uint16_t sim_csum(const void *p, size_t len, uint32_t sum)
{
    const uint8_t *b = p;
    uint64_t s = sum;
    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t)b[i] << 8 | b[i + 1];
    if (len & 1)
        s += (uint32_t)b[len - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static void w16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void w32(uint8_t *p, uint32_t v)
{
    w16(p, (uint16_t)(v >> 16));
    w16(p + 2, (uint16_t)v);
}

size_t sim_build_ip(uint8_t *out, const uint8_t dst_mac[6], const uint8_t src_mac[6], uint32_t src,
                    uint32_t dst, uint8_t proto, uint16_t id, uint16_t frag, const void *payload,
                    size_t len)
{
    memcpy(out, dst_mac, 6);
    memcpy(out + 6, src_mac, 6);
    w16(out + 12, 0x0800);
    uint8_t *h = out + 14;
    h[0] = 0x45;
    h[1] = 0;
    w16(h + 2, (uint16_t)(20 + len));
    w16(h + 4, id);
    w16(h + 6, frag);
    h[8] = 64;
    h[9] = proto;
    w16(h + 10, 0);
    w32(h + 12, src);
    w32(h + 16, dst);
    w16(h + 10, sim_csum(h, 20, 0));
    memcpy(h + 20, payload, len);
    return 14 + 20 + len;
}

size_t sim_build_tcp(uint8_t *out, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                     uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd, const void *data,
                     size_t len)
{
    w16(out, sport);
    w16(out + 2, dport);
    w32(out + 4, seq);
    w32(out + 8, ack);
    out[12] = 5 << 4;
    out[13] = flags;
    w16(out + 14, wnd);
    w16(out + 16, 0);
    w16(out + 18, 0);
    if (len)
        memcpy(out + 20, data, len);
    uint32_t ps =
        (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6 + (uint32_t)(20 + len);
    w16(out + 16, sim_csum(out, 20 + len, ps));
    return 20 + len;
}
