/*
 * guest-kit split virtqueue, driver side (gk/virtqueue.h).
 *
 * Private state: slots[i].next links both the free list and, once a chain is
 * taken from the front of the free list, the chain itself (a chain is the
 * first n entries of the free list, so its links are already in place);
 * slots[head].chain_count != 0 marks a head in flight. Nothing the device
 * can write is ever followed as a link.
 *
 * Shared fields are read and written with __atomic builtins so the compiler
 * neither caches nor tears them; x86 needs only compiler barriers for
 * acquire/release, and a full fence where a store must be visible before a
 * later load (publish avail idx, then read avail_event; arm the interrupt,
 * then re-read used idx).
 */
#include <string.h>

#include "gk/virtqueue.h"

static uint16_t *avail_used_event(struct gk_virtqueue *vq)
{
    return &vq->avail->ring[vq->size];
}

static uint16_t *used_avail_event(struct gk_virtqueue *vq)
{
    return (uint16_t *)(void *)&vq->used->ring[vq->size];
}

/* Rebuilds the driver state of an empty queue and zeroes the shared parts. */
static void vq_reset(struct gk_virtqueue *vq)
{
    memset(vq->desc, 0, gk_vq_desc_bytes(vq->size));
    memset(vq->avail, 0, gk_vq_avail_bytes(vq->size));
    memset(vq->used, 0, gk_vq_used_bytes(vq->size));
    for (uint32_t i = 0; i < vq->size; i++)
        vq->slots[i] = (struct gk_vq_slot){NULL, 0, (uint16_t)((i + 1) % vq->size), 0};
    vq->free_head = 0;
    vq->free_count = vq->size;
    vq->avail_idx = 0;
    vq->kicked_idx = 0;
    vq->last_used_idx = 0;
    vq->in_flight = 0;
    vq->broken = false;
    vq->broken_why = NULL;
    vq->cb_enabled = true;
}

int gk_vq_init(struct gk_virtqueue *vq, uint16_t size, struct gk_vq_desc *desc,
               struct gk_vq_avail *avail, struct gk_vq_used *used, struct gk_vq_slot *slots,
               bool event_idx)
{
    if (size == 0 || (size & (size - 1)) != 0 || size > GK_VQ_SIZE_MAX || !desc || !avail ||
        !used || !slots || ((uintptr_t)desc & 15) || ((uintptr_t)avail & 1) ||
        ((uintptr_t)used & 3))
        return GK_VQ_EINVAL;
    vq->desc = desc;
    vq->avail = avail;
    vq->used = used;
    vq->slots = slots;
    vq->size = size;
    vq->event_idx = event_idx;
    vq_reset(vq);
    return GK_VQ_OK;
}

static void vq_break(struct gk_virtqueue *vq, const char *why)
{
    vq->broken = true;
    vq->broken_why = why;
}

int gk_vq_add(struct gk_virtqueue *vq, const struct gk_vq_buf *bufs, unsigned out_count,
              unsigned in_count, void *token)
{
    if (vq->broken)
        return GK_VQ_EBROKEN;
    unsigned total = out_count + in_count;
    if (!token || !bufs || total == 0 || total < out_count || total > vq->size)
        return GK_VQ_EINVAL;
    uint64_t writable = 0;
    for (unsigned i = 0; i < total; i++) {
        if (bufs[i].len == 0 || bufs[i].addr + bufs[i].len < bufs[i].addr)
            return GK_VQ_EINVAL;
        if (i >= out_count)
            writable += bufs[i].len;
    }
    if (writable > UINT32_MAX)
        return GK_VQ_EINVAL;
    if (total > vq->free_count)
        return GK_VQ_EFULL;

    uint16_t head = vq->free_head, d = head;
    for (unsigned i = 0; i < total; i++) {
        uint16_t flags = (uint16_t)((i + 1 < total ? GK_VQ_DESC_F_NEXT : 0) |
                                    (i >= out_count ? GK_VQ_DESC_F_WRITE : 0));
        vq->desc[d] = (struct gk_vq_desc){bufs[i].addr, bufs[i].len, flags, vq->slots[d].next};
        if (i + 1 < total)
            d = vq->slots[d].next;
    }
    vq->free_head = vq->slots[d].next;
    vq->free_count = (uint16_t)(vq->free_count - total);
    vq->slots[head].token = token;
    vq->slots[head].writable_bytes = (uint32_t)writable;
    vq->slots[head].chain_count = (uint16_t)total;

    __atomic_store_n(&vq->avail->ring[vq->avail_idx & (vq->size - 1)], head, __ATOMIC_RELAXED);
    vq->avail_idx++;
    /* The descriptors and the ring entry are visible before the index. */
    __atomic_store_n(&vq->avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
    vq->in_flight++;
    return GK_VQ_OK;
}

bool gk_vq_kick_needed(struct gk_virtqueue *vq)
{
    if (vq->broken)
        return false;
    /* The avail index store must be visible before we read the device's
     * wishes, or both sides could decide the other will act. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    uint16_t old_idx = vq->kicked_idx, new_idx = vq->avail_idx;
    vq->kicked_idx = new_idx;
    if (new_idx == old_idx)
        return false;
    if (vq->event_idx) {
        uint16_t event = __atomic_load_n(used_avail_event(vq), __ATOMIC_RELAXED);
        return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
    }
    return !(__atomic_load_n(&vq->used->flags, __ATOMIC_RELAXED) & GK_VQ_USED_F_NO_NOTIFY);
}

/* Puts the chain that starts at head back on the free list. */
static void *chain_free(struct gk_virtqueue *vq, uint16_t head)
{
    struct gk_vq_slot *s = &vq->slots[head];
    void *token = s->token;
    uint16_t last = head;
    for (unsigned i = 1; i < s->chain_count; i++)
        last = vq->slots[last].next;
    vq->slots[last].next = vq->free_head;
    vq->free_head = head;
    vq->free_count = (uint16_t)(vq->free_count + s->chain_count);
    s->token = NULL;
    s->chain_count = 0;
    s->writable_bytes = 0;
    vq->in_flight--;
    return token;
}

int gk_vq_get_used(struct gk_virtqueue *vq, void **token, uint32_t *len_bytes)
{
    if (vq->broken)
        return GK_VQ_EBROKEN;
    uint16_t used_idx = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
    uint16_t pending = (uint16_t)(used_idx - vq->last_used_idx);
    if (pending == 0)
        return GK_VQ_EEMPTY;
    if (pending > vq->in_flight) {
        vq_break(vq, "used index ahead of the buffers in flight");
        return GK_VQ_EBROKEN;
    }
    struct gk_vq_used_elem *e = &vq->used->ring[vq->last_used_idx & (vq->size - 1)];
    uint32_t id = __atomic_load_n(&e->id, __ATOMIC_RELAXED);
    uint32_t len = __atomic_load_n(&e->len, __ATOMIC_RELAXED);
    if (id >= vq->size || vq->slots[id].chain_count == 0) {
        vq_break(vq, "used id is not a chain in flight");
        return GK_VQ_EBROKEN;
    }
    if (len > vq->slots[id].writable_bytes) {
        vq_break(vq, "used length larger than the chain's writable buffers");
        return GK_VQ_EBROKEN;
    }
    vq->last_used_idx++;
    void *t = chain_free(vq, (uint16_t)id);
    if (token)
        *token = t;
    if (len_bytes)
        *len_bytes = len;
    if (vq->event_idx && vq->cb_enabled)
        __atomic_store_n(avail_used_event(vq), vq->last_used_idx, __ATOMIC_RELEASE);
    return GK_VQ_OK;
}

void gk_vq_disable_cb(struct gk_virtqueue *vq)
{
    vq->cb_enabled = false;
    if (vq->event_idx)
        __atomic_store_n(avail_used_event(vq), (uint16_t)(vq->last_used_idx + 0x8000u),
                         __ATOMIC_RELAXED);
    else
        __atomic_store_n(&vq->avail->flags, GK_VQ_AVAIL_F_NO_INTERRUPT, __ATOMIC_RELAXED);
}

bool gk_vq_enable_cb(struct gk_virtqueue *vq)
{
    if (vq->broken)
        return true;
    vq->cb_enabled = true;
    if (vq->event_idx)
        __atomic_store_n(avail_used_event(vq), vq->last_used_idx, __ATOMIC_RELAXED);
    else
        __atomic_store_n(&vq->avail->flags, 0, __ATOMIC_RELAXED);
    /* Arm, then re-check: a chain used before the device saw the arming
     * would otherwise wait for an interrupt that never comes. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE) != vq->last_used_idx;
}

int gk_vq_detach(struct gk_virtqueue *vq, void **token)
{
    for (uint32_t i = 0; i < vq->size; i++) {
        if (vq->slots[i].chain_count != 0) {
            void *t = chain_free(vq, (uint16_t)i);
            if (token)
                *token = t;
            return GK_VQ_OK;
        }
    }
    vq_reset(vq);
    return GK_VQ_EEMPTY;
}
