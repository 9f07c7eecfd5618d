/*
 * guest-kit split virtqueue (virtio 1.2, 2.7): the driver side, shared by
 * the net, block and console drivers. Transport-independent: the caller
 * gives the memory of the three parts and their device (bus) addresses,
 * and rings the doorbell itself when gk_vq_kick_needed says so.
 *
 * Memory. The descriptor table (16 bytes per entry, 16-aligned), the avail
 * ring (6 + 2 * size bytes, 2-aligned) and the used ring (6 + 8 * size
 * bytes, 4-aligned) are separate: with size <= 256 each fits in one 4 KiB
 * page (gk_vq_*_bytes give exact sizes). Driver-private state (the free
 * list, each chain's length, token and writable byte count) is kept in the
 * caller's `slots` array, never in shared memory: the device could rewrite
 * anything it can see.
 *
 * Hostile device. Everything the device writes (used->idx, each used
 * element's id and len) is checked before use: an index that runs ahead of
 * what is in flight, an id that is out of range or not the head of a chain
 * in flight, a length larger than the chain's writable bytes. The first such
 * value marks the queue broken: every later call returns GK_VQ_EBROKEN and
 * touches no shared memory except what is needed to detach the buffers
 * (gk_vq_detach, which reads nothing the device wrote). A broken queue is a
 * disconnected device, never a crash. What the device writes into the
 * buffers themselves is the caller's to validate.
 *
 * Not thread-safe: one caller at a time (wrap in a gk_spinlock to share).
 * Not supported: indirect descriptors, packed rings.
 */
#ifndef GK_VIRTQUEUE_H
#define GK_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GK_VQ_SIZE_MAX 32768u

#define GK_VQ_DESC_F_NEXT 1u
#define GK_VQ_DESC_F_WRITE 2u
#define GK_VQ_DESC_F_INDIRECT 4u
#define GK_VQ_AVAIL_F_NO_INTERRUPT 1u
#define GK_VQ_USED_F_NO_NOTIFY 1u

/* Shared layouts (little-endian: x86 only). */
struct gk_vq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
struct gk_vq_avail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[]; /* [size], then uint16_t used_event */
};
struct gk_vq_used_elem {
    uint32_t id;
    uint32_t len;
};
struct gk_vq_used {
    uint16_t flags;
    uint16_t idx;
    struct gk_vq_used_elem ring[]; /* [size], then uint16_t avail_event */
};
_Static_assert(sizeof(struct gk_vq_desc) == 16, "virtio 2.7.5");
_Static_assert(sizeof(struct gk_vq_avail) == 4, "virtio 2.7.6");
_Static_assert(sizeof(struct gk_vq_used_elem) == 8, "virtio 2.7.8");
_Static_assert(offsetof(struct gk_vq_used, ring) == 4, "virtio 2.7.8");

static inline size_t gk_vq_desc_bytes(uint16_t size)
{
    return 16u * (size_t)size;
}
static inline size_t gk_vq_avail_bytes(uint16_t size)
{
    return 6u + 2u * (size_t)size;
}
static inline size_t gk_vq_used_bytes(uint16_t size)
{
    return 6u + 8u * (size_t)size;
}

/* Driver-private state of one descriptor (array of `size` from the caller). */
struct gk_vq_slot {
    void *token;             /* caller's cookie, for heads in flight */
    uint32_t writable_bytes; /* heads: sum of device-writable lengths */
    uint16_t next;           /* next in chain (in flight) or in free list */
    uint16_t chain_count;    /* heads: descriptors in the chain; 0: not a head in flight */
};

/* One buffer of a chain: device address and length. */
struct gk_vq_buf {
    uint64_t addr;
    uint32_t len;
};

enum gk_vq_status {
    GK_VQ_OK = 0,
    GK_VQ_EINVAL = -1,  /* bad arguments (nothing changed) */
    GK_VQ_EFULL = -2,   /* not enough free descriptors (nothing changed) */
    GK_VQ_EEMPTY = -3,  /* no used entry to harvest / nothing to detach */
    GK_VQ_EBROKEN = -4, /* the device wrote something impossible */
};

/* A split virtqueue. Fields are private. */
struct gk_virtqueue {
    struct gk_vq_desc *desc;
    struct gk_vq_avail *avail;
    struct gk_vq_used *used;
    struct gk_vq_slot *slots;
    uint16_t size;
    uint16_t free_head;
    uint16_t free_count;
    uint16_t avail_idx;     /* private copy of avail->idx (never read back) */
    uint16_t kicked_idx;    /* avail_idx at the last kick decision */
    uint16_t last_used_idx; /* next used entry to harvest */
    uint16_t in_flight;     /* chains handed to the device and not harvested */
    bool event_idx;         /* VIRTIO_F_EVENT_IDX negotiated */
    bool cb_enabled;        /* the driver wants interrupts (gk_vq_enable_cb) */
    bool broken;
    const char *broken_why; /* for logs: what the device did */
};

/*
 * Sets up a queue of `size` entries (a power of two, 1..GK_VQ_SIZE_MAX)
 * over the caller's memory; zeroes the three shared parts. event_idx says
 * whether VIRTIO_F_EVENT_IDX was negotiated. GK_VQ_EINVAL for a bad size or
 * misaligned memory.
 */
int gk_vq_init(struct gk_virtqueue *vq, uint16_t size, struct gk_vq_desc *desc,
               struct gk_vq_avail *avail, struct gk_vq_used *used, struct gk_vq_slot *slots,
               bool event_idx);

/*
 * Makes a chain of out_count device-readable buffers followed by in_count
 * device-writable ones available to the device, with `token` (not NULL)
 * returned when the device has used it. Publishes the new avail index;
 * call gk_vq_kick_needed afterwards (once per batch). Zero-length buffers
 * and chains of 0 buffers are GK_VQ_EINVAL; GK_VQ_EFULL if fewer than
 * out_count + in_count descriptors are free.
 */
int gk_vq_add(struct gk_virtqueue *vq, const struct gk_vq_buf *bufs, unsigned out_count,
              unsigned in_count, void *token);

/* True if the device must be notified about the chains added since the last
 * call (it asked for notifications: EVENT_IDX's avail_event, or the absence
 * of USED_F_NO_NOTIFY). Includes the full memory barrier the decision needs. */
bool gk_vq_kick_needed(struct gk_virtqueue *vq);

/*
 * Harvests one used chain: *token and *len_bytes (what the device says it
 * wrote, checked <= the chain's writable bytes) and frees its descriptors.
 * GK_VQ_EEMPTY if there is none, GK_VQ_EBROKEN if the device wrote
 * something impossible (the queue is then broken for good).
 */
int gk_vq_get_used(struct gk_virtqueue *vq, void **token, uint32_t *len_bytes);

/* Asks the device not to interrupt (a hint: it may still do so). */
void gk_vq_disable_cb(struct gk_virtqueue *vq);
/* Asks the device to interrupt on the next used chain; returns true if used
 * chains are already pending (the caller must harvest them, since the
 * interrupt for them may have been suppressed): the re-check after arming.
 * Also true for a broken queue, so the caller's harvest loop sees
 * GK_VQ_EBROKEN. */
bool gk_vq_enable_cb(struct gk_virtqueue *vq);

/* After the device has been reset (or when giving up on a broken one):
 * takes back one chain still in flight and returns its token. GK_VQ_EEMPTY
 * when none is left; the queue is then as after gk_vq_init (and not broken). */
int gk_vq_detach(struct gk_virtqueue *vq, void **token);

static inline unsigned gk_vq_free_count(const struct gk_virtqueue *vq)
{
    return vq->free_count;
}
static inline bool gk_vq_is_broken(const struct gk_virtqueue *vq)
{
    return vq->broken;
}

#endif
