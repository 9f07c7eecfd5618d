/*
 * guest-kit virtio device bring-up (virtio 1.2, 3.1) over the virtio-PCI
 * modern register layout, shared by the block, network and console drivers
 * (gk/virtio_blk.h, gk/virtio_net.h, gk/virtio_console.h).
 *
 * Transport. The device is reached through a small table of functions
 * (struct gk_virtio_ops): sized register reads and writes in one of the
 * virtio structures (common, notify, ISR, device configuration) and an
 * allocator of zeroed DMA pages. gk/virtio_pci.h provides the real one
 * (memory BARs mapped through MMIO capabilities, DMA pages from the
 * domain's own frames); the host tests provide a simulated device. Every
 * register access is bounds-checked here against the structure's length
 * before the transport sees it.
 *
 * DMA addresses. In this PV system a device DMAs to machine addresses
 * (host-physical) and there is no IOMMU: the addresses written into queue
 * registers and descriptors are the machine addresses of the domain's own
 * frames (pfn -> mfn through the p2m list). A device with bus mastering can
 * write any memory of the machine; the DMA right of the PCI capability is
 * the only guard (docs/devices.md).
 *
 * Completion. Polled by default (gk_virtio_wait_used spins with `pause`).
 * A transport that can wait for an MSI-X vector (ops->wait; gk/virtio_pci.h
 * binds the vectors to event channels) turns on interrupt mode with
 * gk_virtio_dev_use_vectors before the queues are set up: each queue is
 * given a vector (queue i vector i, the last vector shared by the rest),
 * and a wait arms the queue's interrupt (gk_vq_enable_cb), re-checks the
 * used ring and only then sleeps in ops->wait, so no completion is missed.
 * A queue whose vector the device refuses (it reads back NO_VECTOR) stays
 * polled. Not thread-safe: one caller per device at a time.
 *
 * Hostile device. Everything read from the device is checked: the status
 * after a reset and after FEATURES_OK, the features (VERSION_1 must be
 * offered), num_queues, each queue's size (0 means no queue; otherwise
 * rounded down to a power of two), notify offsets (must land inside the
 * notify structure), the used rings (gk/virtqueue.h) and the configuration
 * values the drivers read. The first impossible value marks the device
 * broken: the driver writes FAILED to its status and every later call
 * returns GK_VIRTIO_EBROKEN. DEVICE_NEEDS_RESET or FAILED read from the
 * status does the same.
 */
#ifndef GK_VIRTIO_DEV_H
#define GK_VIRTIO_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "gk/virtio.h"
#include "gk/virtqueue.h"

enum gk_virtio_status_code {
    GK_VIRTIO_OK = 0,
    GK_VIRTIO_EINVAL = -1,    /* bad arguments (nothing changed) */
    GK_VIRTIO_ENOTSUP = -2,   /* the device lacks a required feature or queue */
    GK_VIRTIO_EBROKEN = -3,   /* the device did something impossible, or reported failure */
    GK_VIRTIO_EIO = -4,       /* the device reported an I/O error for this request */
    GK_VIRTIO_ETIMEDOUT = -5, /* the device did not answer in time */
    GK_VIRTIO_EAGAIN = -6,    /* nothing to receive / no free buffer right now */
    GK_VIRTIO_ENOMEM = -7,    /* no DMA page left */
    GK_VIRTIO_ERANGE = -8,    /* outside the device (sector past capacity, frame too long) */
};

/* The four virtio structures of a modern device. */
enum gk_virtio_region_kind {
    GK_VIRTIO_REGION_COMMON = 0,
    GK_VIRTIO_REGION_NOTIFY = 1,
    GK_VIRTIO_REGION_ISR = 2,
    GK_VIRTIO_REGION_DEVICE = 3,
    GK_VIRTIO_REGION_COUNT = 4,
};

/* A transport. read/write get an offset and width (1, 2 or 4) already
 * checked against the region's length. dma_alloc returns one zeroed,
 * 4 KiB-aligned page: its address for the driver and for the device (a
 * machine address). now_ns may be NULL (timeouts then count polls). wait may
 * be NULL (polled only); else it sleeps until MSI-X vector `vector` may have
 * fired since the last wait on it, or until now_ns() >= deadline_ns:
 * GK_VIRTIO_OK, or GK_VIRTIO_ETIMEDOUT when the deadline passed. */
struct gk_virtio_ops {
    uint32_t (*read)(void *ctx, enum gk_virtio_region_kind region, uint32_t offset, unsigned width);
    void (*write)(void *ctx, enum gk_virtio_region_kind region, uint32_t offset, unsigned width,
                  uint32_t value);
    int (*dma_alloc)(void *ctx, void **va, uint64_t *dev_addr);
    uint64_t (*now_ns)(void *ctx);
    int (*wait)(void *ctx, uint16_t vector, uint64_t deadline_ns);
};

/* "No MSI-X vector" in the common configuration (virtio 4.1.4.3). */
#define GK_VIRTIO_NO_VECTOR 0xffffu
/* The vector ops->wait gets in line-interrupt mode (gk_virtio_dev_use_intx):
 * the function's INTx line, whichever queue. */
#define GK_VIRTIO_INTX 0xfffeu
/* The device's DMA goes through the platform's translation (an IOMMU):
 * accepted whenever offered, since guest-kit's device addresses are the
 * ones the hypervisor maps for the domain's DMA (virtio 6). */
#define GK_VIRTIO_F_ACCESS_PLATFORM 33u

#define GK_VIRTIO_PAGE_BYTES 4096u
/* Largest queue guest-kit sets up: the descriptor table fills one page. */
#define GK_VIRTIO_QUEUE_SIZE_MAX 256u
/* Polls of a wait without a clock (now_ns NULL), and the default timeout. */
#define GK_VIRTIO_POLLS_MAX 100000000u
#define GK_VIRTIO_TIMEOUT_NS 5000000000ull

/* A device. Fields are private; fill it with gk_virtio_dev_init. */
struct gk_virtio_dev {
    const struct gk_virtio_ops *ops;
    void *ctx;
    uint32_t region_length[GK_VIRTIO_REGION_COUNT]; /* 0: absent */
    uint32_t notify_off_multiplier;
    uint64_t device_features;
    uint64_t features; /* negotiated */
    uint16_t num_queues;
    uint16_t vector_count; /* MSI-X vectors the transport can wait for (0: polled) */
    bool intx;             /* the transport waits for the INTx line instead */
    bool broken;
    const char *broken_why;
};

/* One virtqueue of a device: the split ring in two DMA pages (descriptors;
 * avail ring at 0 and used ring at 1024 of the second) and its doorbell. */
struct gk_virtio_queue {
    struct gk_virtqueue vq;
    struct gk_vq_slot slots[GK_VIRTIO_QUEUE_SIZE_MAX];
    uint16_t index;
    uint16_t size;
    uint32_t notify_offset; /* in the notify structure */
    uint16_t vector;        /* its MSI-X vector; GK_VIRTIO_NO_VECTOR: polled */
    bool ready;
    /* The two DMA pages, allocated by the first set-up and reused after a
     * reset (a queue struct must start zeroed). */
    void *desc_va, *ring_va;
    uint64_t desc_addr, ring_addr;
};

/* Fills *d (nothing is read from the device yet). region_length[i] is the
 * length of structure i (0 if absent); common and notify are required and
 * the common structure must hold struct gk_virtio_pci_common_cfg.
 * GK_VIRTIO_EINVAL otherwise. */
int gk_virtio_dev_init(struct gk_virtio_dev *d, const struct gk_virtio_ops *ops, void *ctx,
                       const uint32_t region_length[GK_VIRTIO_REGION_COUNT],
                       uint32_t notify_off_multiplier);

/*
 * Resets the device and negotiates features (virtio 3.1.1 steps 1-6):
 * reset and wait for status 0, ACKNOWLEDGE, DRIVER, read the 64 feature
 * bits, accept offered & (wanted | VERSION_1 | ACCESS_PLATFORM), set
 * FEATURES_OK and read it
 * back. VERSION_1 and every bit of `required` must be offered
 * (GK_VIRTIO_ENOTSUP otherwise, status FAILED); a device that clears
 * FEATURES_OK, does not finish its reset, or reports no queue is
 * GK_VIRTIO_EBROKEN. A broken device may be tried again with this call.
 */
int gk_virtio_dev_negotiate(struct gk_virtio_dev *d, uint64_t wanted, uint64_t required);

/* Whether feature bit `bit` was negotiated. */
bool gk_virtio_dev_has(const struct gk_virtio_dev *d, unsigned bit);

/*
 * Sets up queue `index` (after negotiate, before ready): reads its size (0:
 * GK_VIRTIO_ENOTSUP; else the largest power of two <= min(size, max_size,
 * GK_VIRTIO_QUEUE_SIZE_MAX)), allocates two DMA pages, writes size and the
 * three machine addresses, checks the notify offset, enables it.
 * GK_VIRTIO_EINVAL for a bad index or max_size 0; GK_VIRTIO_ENOMEM;
 * GK_VIRTIO_EBROKEN for a notify offset outside the notify structure.
 */
int gk_virtio_queue_setup(struct gk_virtio_dev *d, struct gk_virtio_queue *q, uint16_t index,
                          uint16_t max_size);

/*
 * Interrupt mode: the transport can wait for MSI-X vectors 0..count-1
 * (ops->wait). Call after gk_virtio_dev_init and before the queues are set
 * up (0 turns it off). GK_VIRTIO_EINVAL without ops->wait or with more than
 * GK_VIRTIO_VECTORS_MAX vectors.
 */
#define GK_VIRTIO_VECTORS_MAX 8u
int gk_virtio_dev_use_vectors(struct gk_virtio_dev *d, uint16_t count);

/*
 * Line-interrupt mode (a function without MSI-X, or MSI-X left off): every
 * queue is waited for with ops->wait(ctx, GK_VIRTIO_INTX, ..), which sleeps
 * until the function's INTx line fired and acknowledges it (reads the ISR
 * structure) before the line may fire again. Same rules as use_vectors.
 */
int gk_virtio_dev_use_intx(struct gk_virtio_dev *d, bool on);

/* Sets DRIVER_OK (virtio 3.1.1 step 8) and checks the device accepted it. */
int gk_virtio_dev_ready(struct gk_virtio_dev *d);

/* Reads the device status: GK_VIRTIO_EBROKEN (device marked broken) if it
 * says DEVICE_NEEDS_RESET or FAILED, or lost DRIVER_OK. */
int gk_virtio_dev_check(struct gk_virtio_dev *d);

/* Marks the device broken (for logs: why) and writes FAILED to its status. */
void gk_virtio_dev_fail(struct gk_virtio_dev *d, const char *why);

static inline bool gk_virtio_dev_is_broken(const struct gk_virtio_dev *d)
{
    return d->broken;
}
static inline const char *gk_virtio_dev_broken_why(const struct gk_virtio_dev *d)
{
    return d->broken_why;
}

/* Resets the device (status 0, waits for it) and takes every buffer back
 * from q[0..queue_count): each queue is empty and no longer ready. The
 * device must be negotiated and set up again. */
int gk_virtio_dev_reset(struct gk_virtio_dev *d, struct gk_virtio_queue *q, unsigned queue_count);

/* Rings q's doorbell if the device asked for it (gk_vq_kick_needed). */
void gk_virtio_kick(struct gk_virtio_dev *d, struct gk_virtio_queue *q);

/* Harvests one used chain without waiting: GK_VIRTIO_OK, GK_VIRTIO_EAGAIN
 * (none), GK_VIRTIO_EBROKEN (bad used ring: the device is failed). */
int gk_virtio_poll_used(struct gk_virtio_dev *d, struct gk_virtio_queue *q, void **token,
                        uint32_t *len_bytes);

/* Waits until a used chain comes, up to timeout_ns (or GK_VIRTIO_POLLS_MAX
 * polls without a clock): polling with `pause`, or in interrupt mode
 * sleeping on the queue's vector (see the top of this file), checking the
 * device status now and then. GK_VIRTIO_ETIMEDOUT marks the device broken
 * too: a request may still be in flight, so its buffers must not be reused
 * before a reset. */
int gk_virtio_wait_used(struct gk_virtio_dev *d, struct gk_virtio_queue *q, void **token,
                        uint32_t *len_bytes, uint64_t timeout_ns);

/*
 * Waits for activity on q without harvesting it (for drivers whose callers
 * wait for input: network receive, console read): in interrupt mode arms
 * the queue's interrupt and, if no used chain is pending, sleeps until the
 * vector fires or now_ns() >= deadline_ns; polled, pauses once. Returns
 * GK_VIRTIO_OK (look at the queue again), GK_VIRTIO_ETIMEDOUT (the deadline
 * has passed; with no clock: never), GK_VIRTIO_EBROKEN.
 */
int gk_virtio_wait_queue(struct gk_virtio_dev *d, struct gk_virtio_queue *q, uint64_t deadline_ns);

/* now_ns() + timeout_ns (saturating); timeout_ns when there is no clock. */
uint64_t gk_virtio_deadline(struct gk_virtio_dev *d, uint64_t timeout_ns);

/* Calls attempt(ctx) until it returns anything but GK_VIRTIO_EAGAIN, waiting
 * for q in between (gk_virtio_wait_queue), for up to timeout_ns (without a
 * clock: GK_VIRTIO_POLLS_MAX attempts); then GK_VIRTIO_EAGAIN. One last
 * attempt is made at the deadline. For the drivers' waiting receives. */
int gk_virtio_wait_for(struct gk_virtio_dev *d, struct gk_virtio_queue *q, uint64_t timeout_ns,
                       int (*attempt)(void *ctx), void *ctx);

/* Reads `width` (1, 2, 4) bytes of device configuration at offset, or 8
 * bytes as two 4-byte reads; retried until config_generation is stable (at
 * most 16 times, then GK_VIRTIO_EBROKEN). GK_VIRTIO_ERANGE if the range is
 * not inside the device structure (the device marked broken: a driver
 * reads only fields its features promise). */
int gk_virtio_config_read(struct gk_virtio_dev *d, uint32_t offset, unsigned width,
                          uint64_t *value);

/* Allocates a zeroed DMA page through the transport. */
int gk_virtio_dma_page(struct gk_virtio_dev *d, void **va, uint64_t *dev_addr);

#endif
