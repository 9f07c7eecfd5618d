/*
 * A simulated virtio-PCI modern device for the host tests of guest-kit's
 * virtio bring-up and drivers (gk/virtio_dev.h and the drivers). It
 * implements the common configuration registers as the specification
 * describes them (feature windows, status with reset and FEATURES_OK,
 * queue select/size/addresses/enable, notify offsets, config generation),
 * checks what a careful device would (every assert_* fails the test), and
 * processes a queue when its doorbell is written: block requests against a
 * disk in memory, network frames delivered to a peer device, console bytes
 * into an output buffer and from an input buffer. Device addresses are host
 * pointers.
 *
 * Knobs make it misbehave: refuse FEATURES_OK, never finish a reset, report
 * zero queues or a zero queue size, a notify offset outside the structure,
 * an unstable config generation, DEVICE_NEEDS_RESET, used ids out of range,
 * used lengths larger than the buffers, bad block status bytes, GSO headers,
 * or never complete anything.
 */
#ifndef SIM_VIRTIO_H
#define SIM_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gk/virtio_dev.h"

#define SIM_QUEUES 3
#define SIM_PAGES_MAX 256
#define SIM_PENDING_MAX 64

struct sim_queue {
    uint16_t max_size; /* what the device offers (0: no queue) */
    uint16_t size;
    uint16_t enable;
    uint16_t notify_off;
    uint64_t desc, driver, device;
    uint16_t last_avail;
    uint16_t used_idx;
    unsigned completed;
    uint16_t vector; /* MSI-X vector (GK_VIRTIO_NO_VECTOR: none) */
};

struct sim_frame {
    uint8_t data[2048];
    size_t len;
};

struct sim_dev {
    unsigned type; /* GK_VIRTIO_ID_* */
    uint64_t features;
    uint32_t dfsel, drfsel;
    uint64_t driver_features;
    uint8_t status;
    uint8_t generation;
    uint16_t num_queues;
    uint16_t qsel;
    struct sim_queue q[SIM_QUEUES];
    uint32_t notify_mult;
    uint8_t devcfg[64];
    uint32_t region_length[GK_VIRTIO_REGION_COUNT];
    uint8_t status_log[32];
    unsigned status_log_count;
    unsigned resets, notifies;
    void *pages[SIM_PAGES_MAX];
    unsigned page_count, page_limit;
    uint64_t clock_ns;

    /* MSI-X (sim_ops_irq): vectors the device has; a completion on a queue
     * with a vector (and interrupts not suppressed by the driver) sets
     * irq_pending[vector]. defer_until_wait: doorbells complete nothing until
     * the driver sleeps in wait (the device works while the CPU sleeps);
     * no_irq: completions raise no interrupt (a lost interrupt). */
    uint16_t msix_vectors;
    uint16_t config_vector;
    bool irq_pending[8];
    bool intx, intx_pending; /* intx: a queue without a vector raises the line */
    unsigned irqs, waits;
    bool defer_until_wait, no_irq;
    unsigned deferred; /* queues with a doorbell not yet processed (bit mask) */

    /* misbehaviour */
    bool refuse_features_ok, reset_stuck, generation_unstable, hold, lose_enable;
    uint32_t used_id_add;  /* added to each used id */
    uint32_t used_len_add; /* added to each used length */
    int blk_status;        /* >= 0: written instead of the real status; -2: none written */
    bool blk_short_read;   /* a read reports one byte less */
    uint8_t net_gso_type;
    bool net_short_len; /* rx used length smaller than the header */

    /* block */
    uint8_t *disk;
    uint64_t disk_sectors;
    unsigned flushes;
    /* network */
    struct sim_dev *peer;
    struct sim_frame pending[SIM_PENDING_MAX];
    unsigned pending_count;
    unsigned tx_seen;
    /* console */
    uint8_t out[16384];
    size_t out_len;
    uint8_t in[16384];
    size_t in_len, in_off;
};

extern const struct gk_virtio_ops sim_ops;     /* polled: no wait */
extern const struct gk_virtio_ops sim_ops_irq; /* with wait (MSI-X vectors) */

/* A device of `type` with the usual features, queue sizes and config. */
void sim_init(struct sim_dev *s, unsigned type);
/* Frees the DMA pages and the disk. */
void sim_fini(struct sim_dev *s);
/* gk_virtio_dev_init over the simulated device. */
int sim_attach(struct sim_dev *s, struct gk_virtio_dev *d);
/* The same in interrupt mode: the device has device_vectors MSI-X vectors,
 * the driver uses driver_vectors (gk_virtio_dev_use_vectors). */
int sim_attach_irq(struct sim_dev *s, struct gk_virtio_dev *d, uint16_t device_vectors,
                   uint16_t driver_vectors);
/* Delivers a frame (network) or input bytes (console) to the device and
 * fills the driver's receive buffers as far as they go. */
void sim_net_inject(struct sim_dev *s, const void *frame, size_t len);
void sim_console_inject(struct sim_dev *s, const void *data, size_t len);
/* Processes queue q as if its doorbell had been rung. */
void sim_process(struct sim_dev *s, unsigned q);

#endif
