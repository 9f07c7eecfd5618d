/* The simulated virtio-PCI modern device (sim_virtio.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gk/virtio_blk.h"
#include "gk/virtio_net.h"
#include "sim_virtio.h"

#define CC(field) ((uint32_t)offsetof(struct gk_virtio_pci_common_cfg, field))

void sim_init(struct sim_dev *s, unsigned type)
{
    memset(s, 0, sizeof(*s));
    s->type = type;
    s->features = 1ull << GK_VIRTIO_F_VERSION_1;
    s->notify_mult = 4;
    s->region_length[GK_VIRTIO_REGION_COMMON] = 56;
    s->region_length[GK_VIRTIO_REGION_NOTIFY] = 4 * SIM_QUEUES;
    s->region_length[GK_VIRTIO_REGION_ISR] = 1;
    s->region_length[GK_VIRTIO_REGION_DEVICE] = sizeof(s->devcfg);
    s->page_limit = SIM_PAGES_MAX;
    s->blk_status = -1;
    for (unsigned i = 0; i < SIM_QUEUES; i++)
        s->q[i] = (struct sim_queue){
            .max_size = 256, .notify_off = (uint16_t)i, .vector = GK_VIRTIO_NO_VECTOR};
    s->config_vector = GK_VIRTIO_NO_VECTOR;
    switch (type) {
    case GK_VIRTIO_ID_BLOCK:
        s->num_queues = 1;
        s->features |= 1ull << GK_VIRTIO_BLK_F_FLUSH;
        s->disk_sectors = 256;
        s->disk = calloc(s->disk_sectors, 512);
        for (size_t i = 0; i < s->disk_sectors * 512; i++)
            s->disk[i] = (uint8_t)(i * 13 + i / 512);
        memcpy(s->devcfg, &s->disk_sectors, 8);
        break;
    case GK_VIRTIO_ID_NET:
        s->num_queues = 2;
        s->features |= 1ull << GK_VIRTIO_NET_F_MAC;
        memcpy(s->devcfg, (uint8_t[]){0x52, 0x54, 0, 0x12, 0x34, 0x56}, 6);
        break;
    default: s->num_queues = 2; break;
    }
}

void sim_fini(struct sim_dev *s)
{
    for (unsigned i = 0; i < s->page_count; i++)
        free(s->pages[i]);
    free(s->disk);
    s->page_count = 0;
    s->disk = NULL;
}

static void sim_reset(struct sim_dev *s)
{
    s->resets++;
    if (s->reset_stuck)
        return;
    s->status = 0;
    s->driver_features = 0;
    for (unsigned i = 0; i < SIM_QUEUES; i++) {
        struct sim_queue *q = &s->q[i];
        q->size = 0;
        q->enable = 0;
        q->desc = q->driver = q->device = 0;
        q->last_avail = q->used_idx = 0;
        q->vector = GK_VIRTIO_NO_VECTOR;
    }
    s->config_vector = GK_VIRTIO_NO_VECTOR;
    s->deferred = 0;
    s->pending_count = 0;
}

static uint32_t sim_read(void *ctx, enum gk_virtio_region_kind r, uint32_t off, unsigned width)
{
    struct sim_dev *s = ctx;
    assert_true(off + width <= s->region_length[r]);
    if (r == GK_VIRTIO_REGION_DEVICE) {
        uint32_t v = 0;
        memcpy(&v, s->devcfg + off, width);
        return v;
    }
    assert_int_equal(r, GK_VIRTIO_REGION_COMMON);
    struct sim_queue *q = s->qsel < SIM_QUEUES ? &s->q[s->qsel] : NULL;
    switch (off) {
    case CC(device_feature_select): return s->dfsel;
    case CC(device_feature): return s->dfsel < 2 ? (uint32_t)(s->features >> (32 * s->dfsel)) : 0;
    case CC(driver_feature_select): return s->drfsel;
    case CC(num_queues): assert_int_equal(width, 2); return s->num_queues;
    case CC(device_status): assert_int_equal(width, 1); return s->status;
    case CC(config_generation):
        if (s->generation_unstable)
            s->generation++;
        return s->generation;
    case CC(queue_select): return s->qsel;
    case CC(queue_size): return q ? (q->size ? q->size : q->max_size) : 0;
    case CC(queue_enable): return q ? q->enable : 0;
    case CC(queue_notify_off): return q ? q->notify_off : 0;
    case CC(queue_msix_vector): return q ? q->vector : GK_VIRTIO_NO_VECTOR;
    case CC(config_msix_vector): return s->config_vector;
    default: fail_msg("read of common config offset %u", off); return 0;
    }
}

static void set64(uint64_t *field, uint32_t off, uint32_t base, uint32_t v)
{
    if (off == base)
        *field = (*field & ~0xffffffffull) | v;
    else
        *field = (*field & 0xffffffffull) | (uint64_t)v << 32;
}

static void sim_write(void *ctx, enum gk_virtio_region_kind r, uint32_t off, unsigned width,
                      uint32_t v)
{
    struct sim_dev *s = ctx;
    assert_true(off + width <= s->region_length[r]);
    if (r == GK_VIRTIO_REGION_NOTIFY) {
        assert_int_equal(width, 2);
        assert_true(v < SIM_QUEUES);
        assert_int_equal(off, s->q[v].notify_off * s->notify_mult);
        s->notifies++;
        sim_process(s, v);
        return;
    }
    assert_int_equal(r, GK_VIRTIO_REGION_COMMON);
    struct sim_queue *q = s->qsel < SIM_QUEUES ? &s->q[s->qsel] : NULL;
    switch (off) {
    case CC(device_feature_select): s->dfsel = v; return;
    case CC(driver_feature_select): s->drfsel = v; return;
    case CC(driver_feature):
        assert_true(s->drfsel < 2);
        if (s->drfsel == 0)
            s->driver_features = (s->driver_features & ~0xffffffffull) | v;
        else
            s->driver_features = (s->driver_features & 0xffffffffull) | (uint64_t)v << 32;
        return;
    case CC(device_status):
        assert_int_equal(width, 1);
        if (s->status_log_count < sizeof(s->status_log))
            s->status_log[s->status_log_count++] = (uint8_t)v;
        if (v == 0) {
            sim_reset(s);
            return;
        }
        if ((v & GK_VIRTIO_STATUS_FEATURES_OK) && !(s->status & GK_VIRTIO_STATUS_FEATURES_OK)) {
            /* A device accepts only features it offered. */
            assert_int_equal(s->driver_features & ~s->features, 0);
            if (s->refuse_features_ok)
                v &= ~GK_VIRTIO_STATUS_FEATURES_OK;
        }
        s->status = (uint8_t)(v | (s->status & GK_VIRTIO_STATUS_NEEDS_RESET));
        return;
    case CC(queue_select): s->qsel = (uint16_t)v; return;
    case CC(queue_msix_vector):
        assert_non_null(q);
        q->vector = v < s->msix_vectors ? (uint16_t)v : GK_VIRTIO_NO_VECTOR;
        return;
    case CC(config_msix_vector):
        s->config_vector = v < s->msix_vectors ? (uint16_t)v : GK_VIRTIO_NO_VECTOR;
        return;
    case CC(queue_size):
        assert_non_null(q);
        assert_true(v != 0 && v <= q->max_size && (v & (v - 1)) == 0);
        q->size = (uint16_t)v;
        return;
    case CC(queue_enable):
        assert_non_null(q);
        assert_int_equal(v, 1);
        assert_true(q->desc && q->driver && q->device);
        assert_int_equal(q->desc % 16, 0);
        assert_int_equal(q->device % 4, 0);
        if (!s->lose_enable)
            q->enable = 1;
        return;
    case CC(queue_desc):
    case CC(queue_desc) + 4: set64(&q->desc, off, CC(queue_desc), v); return;
    case CC(queue_driver):
    case CC(queue_driver) + 4: set64(&q->driver, off, CC(queue_driver), v); return;
    case CC(queue_device):
    case CC(queue_device) + 4: set64(&q->device, off, CC(queue_device), v); return;
    default: fail_msg("write of common config offset %u", off);
    }
}

static int sim_dma_alloc(void *ctx, void **va, uint64_t *addr)
{
    struct sim_dev *s = ctx;
    if (s->page_count >= s->page_limit)
        return -1;
    void *p = aligned_alloc(4096, 4096);
    assert_non_null(p);
    memset(p, 0, 4096);
    s->pages[s->page_count++] = p;
    *va = p;
    *addr = (uint64_t)(uintptr_t)p;
    return 0;
}

static uint64_t sim_now(void *ctx)
{
    struct sim_dev *s = ctx;
    return s->clock_ns += 1000000; /* each look at the clock: 1 ms */
}

/* The device works while the driver sleeps: deferred doorbells are
 * processed, then the vector is looked at; with nothing for it, time runs
 * to the deadline. */
static int sim_wait(void *ctx, uint16_t vector, uint64_t deadline_ns)
{
    struct sim_dev *s = ctx;
    assert_true((vector < s->msix_vectors && vector < 8) || (vector == GK_VIRTIO_INTX && s->intx));
    bool *pending = vector == GK_VIRTIO_INTX ? &s->intx_pending : &s->irq_pending[vector];
    s->waits++;
    if (!*pending && s->deferred) {
        unsigned d = s->deferred;
        s->deferred = 0;
        bool was = s->defer_until_wait;
        s->defer_until_wait = false;
        for (unsigned qi = 0; qi < SIM_QUEUES; qi++)
            if (d & (1u << qi))
                sim_process(s, qi);
        s->defer_until_wait = was;
    }
    if (!*pending) {
        if (s->clock_ns < deadline_ns)
            s->clock_ns = deadline_ns;
        return GK_VIRTIO_ETIMEDOUT;
    }
    *pending = false; /* the line: acknowledged, as the transport's ISR read */
    return GK_VIRTIO_OK;
}

const struct gk_virtio_ops sim_ops = {sim_read, sim_write, sim_dma_alloc, sim_now, NULL};
const struct gk_virtio_ops sim_ops_irq = {sim_read, sim_write, sim_dma_alloc, sim_now, sim_wait};

int sim_attach(struct sim_dev *s, struct gk_virtio_dev *d)
{
    return gk_virtio_dev_init(d, &sim_ops, s, s->region_length, s->notify_mult);
}

int sim_attach_irq(struct sim_dev *s, struct gk_virtio_dev *d, uint16_t device_vectors,
                   uint16_t driver_vectors)
{
    s->msix_vectors = device_vectors;
    int rc = gk_virtio_dev_init(d, &sim_ops_irq, s, s->region_length, s->notify_mult);
    return rc != GK_VIRTIO_OK ? rc : gk_virtio_dev_use_vectors(d, driver_vectors);
}

/* ---- queues --------------------------------------------------------------- */

struct chain {
    struct gk_vq_desc d[64];
    unsigned count;
    uint16_t head;
};

static bool ready(struct sim_dev *s, unsigned qi)
{
    struct sim_queue *q = &s->q[qi];
    return (s->status & GK_VIRTIO_STATUS_DRIVER_OK) && q->enable && q->size;
}

/* Takes the next available chain of queue qi, checked; false if none. */
static bool take(struct sim_dev *s, unsigned qi, struct chain *c)
{
    struct sim_queue *q = &s->q[qi];
    struct gk_vq_avail *avail = (void *)(uintptr_t)q->driver;
    struct gk_vq_desc *desc = (void *)(uintptr_t)q->desc;
    if (!ready(s, qi) || avail->idx == q->last_avail)
        return false;
    uint16_t head = avail->ring[q->last_avail % q->size];
    q->last_avail++;
    assert_true(head < q->size);
    c->head = head;
    c->count = 0;
    bool writable = false;
    for (uint16_t i = head;;) {
        assert_true(c->count < 64 && c->count < q->size);
        c->d[c->count] = desc[i];
        assert_true(desc[i].len > 0);
        if (desc[i].flags & GK_VQ_DESC_F_WRITE)
            writable = true;
        else
            assert_false(writable); /* readable buffers first */
        c->count++;
        if (!(desc[i].flags & GK_VQ_DESC_F_NEXT))
            break;
        i = desc[i].next;
        assert_true(i < q->size);
    }
    return true;
}

static void complete(struct sim_dev *s, unsigned qi, uint16_t head, uint32_t len)
{
    struct sim_queue *q = &s->q[qi];
    struct gk_vq_used *used = (void *)(uintptr_t)q->device;
    used->ring[q->used_idx % q->size] =
        (struct gk_vq_used_elem){head + s->used_id_add, len + s->used_len_add};
    q->used_idx++;
    __atomic_store_n(&used->idx, q->used_idx, __ATOMIC_RELEASE);
    q->completed++;
    /* MSI-X: unless the driver asked for no interrupt (no EVENT_IDX here). */
    const struct gk_vq_avail *avail = (const void *)(uintptr_t)q->driver;
    if ((q->vector != GK_VIRTIO_NO_VECTOR || s->intx) && !s->no_irq &&
        !(__atomic_load_n(&avail->flags, __ATOMIC_ACQUIRE) & GK_VQ_AVAIL_F_NO_INTERRUPT)) {
        if (q->vector == GK_VIRTIO_NO_VECTOR) {
            s->intx_pending = true;
        } else {
            assert_true(q->vector < 8);
            s->irq_pending[q->vector] = true;
        }
        s->irqs++;
    }
}

static void *ptr(uint64_t a)
{
    return (void *)(uintptr_t)a;
}

static void blk_chain(struct sim_dev *s, struct chain *c)
{
    assert_true(c->count >= 2);
    assert_int_equal(c->d[0].len, 16);
    assert_false(c->d[0].flags & GK_VQ_DESC_F_WRITE);
    struct gk_vq_desc *st = &c->d[c->count - 1];
    assert_int_equal(st->len, 1);
    assert_true(st->flags & GK_VQ_DESC_F_WRITE);
    struct gk_virtio_blk_req_hdr h;
    memcpy(&h, ptr(c->d[0].addr), 16);
    uint64_t bytes = 0;
    for (unsigned i = 1; i + 1 < c->count; i++)
        bytes += c->d[i].len;
    assert_int_equal(bytes % 512, 0);
    uint8_t status = GK_VIRTIO_BLK_S_OK;
    uint32_t len = 1;
    if (h.type == GK_VIRTIO_BLK_T_FLUSH) {
        s->flushes++;
    } else if (h.sector > s->disk_sectors || bytes / 512 > s->disk_sectors - h.sector) {
        status = GK_VIRTIO_BLK_S_IOERR;
    } else {
        uint8_t *at = s->disk + h.sector * 512;
        for (unsigned i = 1; i + 1 < c->count; i++) {
            bool w = c->d[i].flags & GK_VQ_DESC_F_WRITE;
            assert_int_equal(w, h.type == GK_VIRTIO_BLK_T_IN);
            if (w)
                memcpy(ptr(c->d[i].addr), at, c->d[i].len);
            else
                memcpy(at, ptr(c->d[i].addr), c->d[i].len);
            at += c->d[i].len;
        }
        if (h.type == GK_VIRTIO_BLK_T_IN)
            len = (uint32_t)bytes + 1 - (s->blk_short_read ? 1 : 0);
    }
    if (s->blk_status >= 0)
        status = (uint8_t)s->blk_status;
    if (s->blk_status != -2)
        *(uint8_t *)ptr(st->addr) = status;
    complete(s, 0, c->head, len);
}

/* Fills the driver's receive buffers with pending frames (net) or input
 * bytes (console). */
static void fill_rx(struct sim_dev *s)
{
    struct chain c;
    for (;;) {
        bool have = s->type == GK_VIRTIO_ID_NET ? s->pending_count > 0 : s->in_off < s->in_len;
        if (!have || s->hold || !take(s, 0, &c))
            return;
        assert_int_equal(c.count, 1);
        assert_true(c.d[0].flags & GK_VQ_DESC_F_WRITE);
        uint8_t *b = ptr(c.d[0].addr);
        if (s->type == GK_VIRTIO_ID_NET) {
            struct sim_frame *f = &s->pending[0];
            assert_true(f->len + 12 <= c.d[0].len);
            struct gk_virtio_net_hdr h = {.gso_type = s->net_gso_type, .num_buffers = 1};
            memcpy(b, &h, sizeof(h));
            memcpy(b + 12, f->data, f->len);
            uint32_t len = (uint32_t)(12 + f->len);
            if (s->net_short_len)
                len = 11;
            memmove(&s->pending[0], &s->pending[1], (s->pending_count - 1) * sizeof(*f));
            s->pending_count--;
            complete(s, 0, c.head, len);
        } else {
            size_t n = s->in_len - s->in_off;
            if (n > c.d[0].len)
                n = c.d[0].len;
            memcpy(b, s->in + s->in_off, n);
            s->in_off += n;
            complete(s, 0, c.head, (uint32_t)n);
        }
    }
}

void sim_net_inject(struct sim_dev *s, const void *frame, size_t len)
{
    assert_true(s->pending_count < SIM_PENDING_MAX && len <= sizeof(s->pending[0].data));
    memcpy(s->pending[s->pending_count].data, frame, len);
    s->pending[s->pending_count++].len = len;
    fill_rx(s);
}

void sim_console_inject(struct sim_dev *s, const void *data, size_t len)
{
    assert_true(s->in_len + len <= sizeof(s->in));
    memcpy(s->in + s->in_len, data, len);
    s->in_len += len;
    fill_rx(s);
}

void sim_process(struct sim_dev *s, unsigned qi)
{
    if (s->hold)
        return;
    if (s->defer_until_wait) {
        s->deferred |= 1u << qi;
        return;
    }
    struct chain c;
    if (s->type == GK_VIRTIO_ID_BLOCK) {
        while (take(s, qi, &c))
            blk_chain(s, &c);
        return;
    }
    if (qi == 0) {
        fill_rx(s);
        return;
    }
    while (take(s, qi, &c)) {
        assert_int_equal(c.count, 1);
        assert_false(c.d[0].flags & GK_VQ_DESC_F_WRITE);
        if (s->type == GK_VIRTIO_ID_NET) {
            assert_true(c.d[0].len >= 12);
            static const uint8_t zero[12];
            assert_memory_equal(ptr(c.d[0].addr), zero, 12);
            s->tx_seen++;
            if (s->peer)
                sim_net_inject(s->peer, (uint8_t *)ptr(c.d[0].addr) + 12, c.d[0].len - 12);
        } else {
            assert_true(s->out_len + c.d[0].len <= sizeof(s->out));
            memcpy(s->out + s->out_len, ptr(c.d[0].addr), c.d[0].len);
            s->out_len += c.d[0].len;
        }
        complete(s, qi, c.head, 0);
    }
}
