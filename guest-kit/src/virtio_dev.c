/*
 * guest-kit virtio device bring-up (gk/virtio_dev.h): reset, feature
 * negotiation, queue set-up through the common configuration, doorbells,
 * polled or interrupt-driven completion, device configuration reads. Transport-independent:
 * every register access goes through d->ops after a bounds check.
 */
#include <stddef.h>

#include "gk/virtio_dev.h"

#define CC(field) ((uint32_t)offsetof(struct gk_virtio_pci_common_cfg, field))
/* Polls of the status while waiting for a reset to finish. */
#define RESET_POLLS_MAX 1000000u
#define CONFIG_GENERATION_TRIES 16u
/* Used ring at this offset of the queue's second page (avail at 0): with 256
 * entries the avail ring takes 518 bytes and the used ring 2054. */
#define USED_OFFSET 1024u

static inline void cpu_relax(void)
{
    __asm__ volatile("pause" ::: "memory");
}

static bool region_ok(const struct gk_virtio_dev *d, enum gk_virtio_region_kind r, uint32_t off,
                      unsigned width)
{
    uint32_t len = d->region_length[r];
    return width <= len && off <= len - width;
}

/* Common-configuration accessors: the offsets are constants inside the
 * structure, whose length gk_virtio_dev_init checked. */
static uint32_t cc_read(struct gk_virtio_dev *d, uint32_t off, unsigned width)
{
    return d->ops->read(d->ctx, GK_VIRTIO_REGION_COMMON, off, width);
}

static void cc_write(struct gk_virtio_dev *d, uint32_t off, unsigned width, uint32_t v)
{
    d->ops->write(d->ctx, GK_VIRTIO_REGION_COMMON, off, width, v);
}

static uint8_t status_read(struct gk_virtio_dev *d)
{
    return (uint8_t)cc_read(d, CC(device_status), 1);
}

static void status_write(struct gk_virtio_dev *d, uint8_t s)
{
    cc_write(d, CC(device_status), 1, s);
}

int gk_virtio_dev_init(struct gk_virtio_dev *d, const struct gk_virtio_ops *ops, void *ctx,
                       const uint32_t region_length[GK_VIRTIO_REGION_COUNT],
                       uint32_t notify_off_multiplier)
{
    if (!d || !ops || !ops->read || !ops->write || !ops->dma_alloc || !region_length ||
        region_length[GK_VIRTIO_REGION_COMMON] < sizeof(struct gk_virtio_pci_common_cfg) ||
        region_length[GK_VIRTIO_REGION_NOTIFY] < 2)
        return GK_VIRTIO_EINVAL;
    *d = (struct gk_virtio_dev){
        .ops = ops, .ctx = ctx, .notify_off_multiplier = notify_off_multiplier};
    for (unsigned i = 0; i < GK_VIRTIO_REGION_COUNT; i++)
        d->region_length[i] = region_length[i];
    return GK_VIRTIO_OK;
}

void gk_virtio_dev_fail(struct gk_virtio_dev *d, const char *why)
{
    if (!d->broken) {
        d->broken = true;
        d->broken_why = why;
    }
    status_write(d, (uint8_t)(status_read(d) | GK_VIRTIO_STATUS_FAILED));
}

/* Writes 0 to the status and waits until it reads 0 (virtio 4.1.4.3.2). */
static int reset_wait(struct gk_virtio_dev *d)
{
    status_write(d, 0);
    for (unsigned i = 0; i < RESET_POLLS_MAX; i++) {
        if (status_read(d) == 0)
            return GK_VIRTIO_OK;
        cpu_relax();
    }
    return GK_VIRTIO_EBROKEN;
}

int gk_virtio_dev_negotiate(struct gk_virtio_dev *d, uint64_t wanted, uint64_t required)
{
    d->broken = false;
    d->broken_why = NULL;
    d->features = 0;
    if (reset_wait(d) != GK_VIRTIO_OK) {
        gk_virtio_dev_fail(d, "the reset did not finish");
        return GK_VIRTIO_EBROKEN;
    }
    status_write(d, GK_VIRTIO_STATUS_ACKNOWLEDGE);
    status_write(d, GK_VIRTIO_STATUS_ACKNOWLEDGE | GK_VIRTIO_STATUS_DRIVER);

    cc_write(d, CC(device_feature_select), 4, 0);
    uint64_t lo = cc_read(d, CC(device_feature), 4);
    cc_write(d, CC(device_feature_select), 4, 1);
    uint64_t hi = cc_read(d, CC(device_feature), 4);
    d->device_features = hi << 32 | lo;
    required |= 1ull << GK_VIRTIO_F_VERSION_1;
    wanted |= 1ull << GK_VIRTIO_F_ACCESS_PLATFORM;
    if ((d->device_features & required) != required) {
        gk_virtio_dev_fail(d, "a required feature is not offered");
        return GK_VIRTIO_ENOTSUP;
    }
    uint64_t accept = d->device_features & (wanted | required);
    cc_write(d, CC(driver_feature_select), 4, 0);
    cc_write(d, CC(driver_feature), 4, (uint32_t)accept);
    cc_write(d, CC(driver_feature_select), 4, 1);
    cc_write(d, CC(driver_feature), 4, (uint32_t)(accept >> 32));
    uint8_t s =
        GK_VIRTIO_STATUS_ACKNOWLEDGE | GK_VIRTIO_STATUS_DRIVER | GK_VIRTIO_STATUS_FEATURES_OK;
    status_write(d, s);
    if (!(status_read(d) & GK_VIRTIO_STATUS_FEATURES_OK)) {
        gk_virtio_dev_fail(d, "the device refused FEATURES_OK");
        return GK_VIRTIO_EBROKEN;
    }
    d->num_queues = (uint16_t)cc_read(d, CC(num_queues), 2);
    if (d->num_queues == 0) {
        gk_virtio_dev_fail(d, "the device has no queue");
        return GK_VIRTIO_EBROKEN;
    }
    if (d->vector_count)
        cc_write(d, CC(config_msix_vector), 2, GK_VIRTIO_NO_VECTOR); /* no config interrupts */
    d->features = accept;
    return GK_VIRTIO_OK;
}

int gk_virtio_dev_use_vectors(struct gk_virtio_dev *d, uint16_t count)
{
    if (count > GK_VIRTIO_VECTORS_MAX || (count && !d->ops->wait))
        return GK_VIRTIO_EINVAL;
    d->vector_count = count;
    d->intx = false;
    return GK_VIRTIO_OK;
}

int gk_virtio_dev_use_intx(struct gk_virtio_dev *d, bool on)
{
    if (on && !d->ops->wait)
        return GK_VIRTIO_EINVAL;
    d->vector_count = 0;
    d->intx = on;
    return GK_VIRTIO_OK;
}

bool gk_virtio_dev_has(const struct gk_virtio_dev *d, unsigned bit)
{
    return bit < 64 && ((d->features >> bit) & 1u);
}

static void write64(struct gk_virtio_dev *d, uint32_t off, uint64_t v)
{
    cc_write(d, off, 4, (uint32_t)v);
    cc_write(d, off + 4, 4, (uint32_t)(v >> 32));
}

int gk_virtio_queue_setup(struct gk_virtio_dev *d, struct gk_virtio_queue *q, uint16_t index,
                          uint16_t max_size)
{
    if (d->broken)
        return GK_VIRTIO_EBROKEN;
    if (!q || max_size == 0 || index >= d->num_queues)
        return GK_VIRTIO_EINVAL;
    q->ready = false;
    cc_write(d, CC(queue_select), 2, index);
    uint16_t dev_size = (uint16_t)cc_read(d, CC(queue_size), 2);
    if (dev_size == 0)
        return GK_VIRTIO_ENOTSUP; /* no such queue: the caller decides */
    uint32_t limit = dev_size;
    if (limit > max_size)
        limit = max_size;
    if (limit > GK_VIRTIO_QUEUE_SIZE_MAX)
        limit = GK_VIRTIO_QUEUE_SIZE_MAX;
    uint16_t size = 1;
    while ((uint32_t)size * 2 <= limit)
        size = (uint16_t)(size * 2);
    uint32_t notify_off = cc_read(d, CC(queue_notify_off), 2);
    uint64_t noff = (uint64_t)notify_off * d->notify_off_multiplier;
    if (noff > UINT32_MAX || !region_ok(d, GK_VIRTIO_REGION_NOTIFY, (uint32_t)noff, 2)) {
        gk_virtio_dev_fail(d, "queue notify offset outside the notify structure");
        return GK_VIRTIO_EBROKEN;
    }

    if (!q->desc_va && d->ops->dma_alloc(d->ctx, &q->desc_va, &q->desc_addr) != 0) {
        q->desc_va = NULL;
        return GK_VIRTIO_ENOMEM;
    }
    if (!q->ring_va && d->ops->dma_alloc(d->ctx, &q->ring_va, &q->ring_addr) != 0) {
        q->ring_va = NULL; /* the descriptor page is kept for the next try */
        return GK_VIRTIO_ENOMEM;
    }
    uint64_t desc_addr = q->desc_addr, ring_addr = q->ring_addr;
    int rc = gk_vq_init(&q->vq, size, q->desc_va, q->ring_va,
                        (struct gk_vq_used *)(void *)((uint8_t *)q->ring_va + USED_OFFSET),
                        q->slots, false);
    if (rc != GK_VQ_OK)
        return GK_VIRTIO_EINVAL;
    q->index = index;
    q->size = size;
    q->notify_offset = (uint32_t)noff;

    cc_write(d, CC(queue_size), 2, size);
    q->vector = d->intx ? GK_VIRTIO_INTX : GK_VIRTIO_NO_VECTOR;
    if (d->vector_count) {
        uint16_t v = index < d->vector_count ? index : (uint16_t)(d->vector_count - 1);
        cc_write(d, CC(queue_msix_vector), 2, v);
        if (cc_read(d, CC(queue_msix_vector), 2) == v)
            q->vector = v; /* else the device has no vector for it: polled */
    }
    write64(d, CC(queue_desc), desc_addr);
    write64(d, CC(queue_driver), ring_addr);
    write64(d, CC(queue_device), ring_addr + USED_OFFSET);
    cc_write(d, CC(queue_enable), 2, 1);
    if (cc_read(d, CC(queue_enable), 2) != 1) {
        gk_virtio_dev_fail(d, "the device did not enable a queue");
        return GK_VIRTIO_EBROKEN;
    }
    q->ready = true;
    return GK_VIRTIO_OK;
}

int gk_virtio_dev_ready(struct gk_virtio_dev *d)
{
    if (d->broken)
        return GK_VIRTIO_EBROKEN;
    status_write(d, GK_VIRTIO_STATUS_ACKNOWLEDGE | GK_VIRTIO_STATUS_DRIVER |
                        GK_VIRTIO_STATUS_FEATURES_OK | GK_VIRTIO_STATUS_DRIVER_OK);
    return gk_virtio_dev_check(d);
}

int gk_virtio_dev_check(struct gk_virtio_dev *d)
{
    if (d->broken)
        return GK_VIRTIO_EBROKEN;
    uint8_t s = status_read(d);
    if (s & (GK_VIRTIO_STATUS_NEEDS_RESET | GK_VIRTIO_STATUS_FAILED)) {
        gk_virtio_dev_fail(d, "the device reports DEVICE_NEEDS_RESET or FAILED");
        return GK_VIRTIO_EBROKEN;
    }
    if (!(s & GK_VIRTIO_STATUS_DRIVER_OK)) {
        gk_virtio_dev_fail(d, "the device lost DRIVER_OK");
        return GK_VIRTIO_EBROKEN;
    }
    return GK_VIRTIO_OK;
}

int gk_virtio_dev_reset(struct gk_virtio_dev *d, struct gk_virtio_queue *q, unsigned queue_count)
{
    int rc = reset_wait(d);
    for (unsigned i = 0; i < queue_count; i++) {
        if (!q[i].ready && q[i].size == 0)
            continue;
        while (gk_vq_detach(&q[i].vq, NULL) == GK_VQ_OK)
            ;
        q[i].ready = false;
    }
    if (rc != GK_VIRTIO_OK) {
        gk_virtio_dev_fail(d, "the reset did not finish");
        return GK_VIRTIO_EBROKEN;
    }
    return GK_VIRTIO_OK;
}

void gk_virtio_kick(struct gk_virtio_dev *d, struct gk_virtio_queue *q)
{
    if (d->broken || !q->ready)
        return;
    if (gk_vq_kick_needed(&q->vq))
        d->ops->write(d->ctx, GK_VIRTIO_REGION_NOTIFY, q->notify_offset, 2, q->index);
}

int gk_virtio_poll_used(struct gk_virtio_dev *d, struct gk_virtio_queue *q, void **token,
                        uint32_t *len_bytes)
{
    if (d->broken)
        return GK_VIRTIO_EBROKEN;
    if (!q->ready)
        return GK_VIRTIO_EINVAL;
    int rc = gk_vq_get_used(&q->vq, token, len_bytes);
    if (rc == GK_VQ_OK)
        return GK_VIRTIO_OK;
    if (rc == GK_VQ_EEMPTY)
        return GK_VIRTIO_EAGAIN;
    gk_virtio_dev_fail(d, q->vq.broken_why ? q->vq.broken_why : "bad used ring");
    return GK_VIRTIO_EBROKEN;
}

/* Whether q is waited for by interrupt (else polled). */
static bool queue_irq(const struct gk_virtio_dev *d, const struct gk_virtio_queue *q)
{
    return q->vector != GK_VIRTIO_NO_VECTOR && d->ops->wait != NULL;
}

int gk_virtio_wait_queue(struct gk_virtio_dev *d, struct gk_virtio_queue *q, uint64_t deadline_ns)
{
    if (d->broken)
        return GK_VIRTIO_EBROKEN;
    if (!q->ready)
        return GK_VIRTIO_EINVAL;
    if (!queue_irq(d, q)) {
        cpu_relax();
        return d->ops->now_ns && d->ops->now_ns(d->ctx) >= deadline_ns ? GK_VIRTIO_ETIMEDOUT
                                                                       : GK_VIRTIO_OK;
    }
    if (gk_vq_enable_cb(&q->vq))
        return GK_VIRTIO_OK;
    return d->ops->wait(d->ctx, q->vector, deadline_ns);
}

uint64_t gk_virtio_deadline(struct gk_virtio_dev *d, uint64_t timeout_ns)
{
    uint64_t now = d->ops->now_ns ? d->ops->now_ns(d->ctx) : 0;
    return timeout_ns > UINT64_MAX - now ? UINT64_MAX : now + timeout_ns;
}

int gk_virtio_wait_for(struct gk_virtio_dev *d, struct gk_virtio_queue *q, uint64_t timeout_ns,
                       int (*attempt)(void *ctx), void *ctx)
{
    uint64_t deadline = gk_virtio_deadline(d, timeout_ns);
    for (uint64_t i = 0; i < GK_VIRTIO_POLLS_MAX; i++) {
        int rc = attempt(ctx);
        if (rc != GK_VIRTIO_EAGAIN)
            return rc;
        rc = gk_virtio_wait_queue(d, q, deadline);
        if (rc == GK_VIRTIO_ETIMEDOUT)
            return attempt(ctx);
        if (rc != GK_VIRTIO_OK)
            return rc;
    }
    return GK_VIRTIO_EAGAIN;
}

int gk_virtio_wait_used(struct gk_virtio_dev *d, struct gk_virtio_queue *q, void **token,
                        uint32_t *len_bytes, uint64_t timeout_ns)
{
    uint64_t start = d->ops->now_ns ? d->ops->now_ns(d->ctx) : 0;
    uint64_t deadline = timeout_ns > UINT64_MAX - start ? UINT64_MAX : start + timeout_ns;
    for (uint64_t n = 0;; n++) {
        int rc = gk_virtio_poll_used(d, q, token, len_bytes);
        if (rc != GK_VIRTIO_EAGAIN)
            return rc;
        if ((n & 1023u) == 1023u && gk_virtio_dev_check(d) != GK_VIRTIO_OK)
            return GK_VIRTIO_EBROKEN;
        bool expired;
        if (queue_irq(d, q) && d->ops->now_ns) {
            /* Arm, re-check, sleep; a timeout gets one last look. */
            if (gk_vq_enable_cb(&q->vq) ||
                d->ops->wait(d->ctx, q->vector, deadline) != GK_VIRTIO_ETIMEDOUT)
                continue;
            rc = gk_virtio_poll_used(d, q, token, len_bytes);
            if (rc != GK_VIRTIO_EAGAIN)
                return rc;
            expired = true;
        } else {
            expired = d->ops->now_ns ? d->ops->now_ns(d->ctx) - start > timeout_ns
                                     : n >= GK_VIRTIO_POLLS_MAX;
        }
        if (expired) {
            gk_virtio_dev_fail(d, "the device did not complete a request in time");
            return GK_VIRTIO_ETIMEDOUT;
        }
        cpu_relax();
    }
}

int gk_virtio_config_read(struct gk_virtio_dev *d, uint32_t offset, unsigned width, uint64_t *value)
{
    if (d->broken)
        return GK_VIRTIO_EBROKEN;
    if (width != 1 && width != 2 && width != 4 && width != 8)
        return GK_VIRTIO_EINVAL;
    if (!region_ok(d, GK_VIRTIO_REGION_DEVICE, offset, width)) {
        gk_virtio_dev_fail(d, "device configuration too short");
        return GK_VIRTIO_ERANGE;
    }
    for (unsigned t = 0; t < CONFIG_GENERATION_TRIES; t++) {
        uint32_t gen = cc_read(d, CC(config_generation), 1);
        uint64_t v;
        if (width == 8)
            v = d->ops->read(d->ctx, GK_VIRTIO_REGION_DEVICE, offset, 4) |
                (uint64_t)d->ops->read(d->ctx, GK_VIRTIO_REGION_DEVICE, offset + 4, 4) << 32;
        else
            v = d->ops->read(d->ctx, GK_VIRTIO_REGION_DEVICE, offset, width);
        if (cc_read(d, CC(config_generation), 1) == gen) {
            *value = v;
            return GK_VIRTIO_OK;
        }
    }
    gk_virtio_dev_fail(d, "config_generation never stable");
    return GK_VIRTIO_EBROKEN;
}

int gk_virtio_dma_page(struct gk_virtio_dev *d, void **va, uint64_t *dev_addr)
{
    return d->ops->dma_alloc(d->ctx, va, dev_addr) == 0 ? GK_VIRTIO_OK : GK_VIRTIO_ENOMEM;
}
