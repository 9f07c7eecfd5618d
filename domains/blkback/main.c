/*
 * blkback, the disk driver domain (docs/blkback.md). The control domain
 * starts it at boot when the machine has a disk (its compiled manifest,
 * domains/blkback/blkback.yaml, is the boot module blkback.driver). It takes
 * the virtio-blk function its manifest gives it (`pci:`), brings it up with
 * guest-kit's driver (MSI-X completion when the hypervisor sets it up, else
 * polled), reads the volume table (vtab.c), formats the disk if it is blank,
 * reports what it found, registers the service blk on its bus and then
 * serves front ends and volume requests (serve.c) until it is shut down,
 * sleeping whenever nothing can progress (no CPU while idle). A disk that
 * is not blank and holds no valid table is left untouched.
 *
 * Console lines (the QEMU tests read them):
 *   blkback: disk 00:03.0: N sectors (M MiB), interrupts|polled
 *   blkback: formatted a blank disk (unit 1 MiB)
 *   blkback: volume table seq S (copy A|B): V volumes, F MiB free
 *   blkback: volume NAME: M MiB, id I, E extents
 *   blkback: offering the service blk
 *   blkback: ready
 * or "blkback: FAILED ...": a disk it must not write (damaged, or blank and
 * read-only) powers it off (kept stopped by its manifest); any other
 * failure exits with status 1, a crash (restarted by its manifest).
 */
#include <string.h>

#include "gk/bus.h"
#include "gk/event.h"
#include "gk/gk.h"
#include "gk/mm.h"
#include "gk/virtio_blk.h"
#include "gk/virtio_pci.h"
#include "serve.h"
#include "vtab.h"

#define MAX_FUNCTIONS 8u
#define WINDOW_VA 0x300000000ull
#define WINDOW_BYTES 0x1000000ull /* 16 MiB of virtual space for the device's DMA pages */
#define VIRTIO_PCI_TRANSITIONAL_BLK 0x1001u

static struct gk_pci_cap_function fns[MAX_FUNCTIONS];
static struct gk_virtio_pci pci;
static struct gk_virtio_blk blk;
static struct vtab tab;
static struct vt_disk disk;

static int disk_read(void *ctx, uint64_t sector, void *buf, uint32_t count)
{
    return gk_virtio_blk_read(ctx, sector, buf, count) == GK_VIRTIO_OK ? 0 : -1;
}

static int disk_write(void *ctx, uint64_t sector, const void *buf, uint32_t count)
{
    return gk_virtio_blk_write(ctx, sector, buf, count) == GK_VIRTIO_OK ? 0 : -1;
}

/* A device without a flush command has no volatile cache (virtio 5.2.6.2):
 * its writes are durable when they complete. */
static int disk_flush(void *ctx)
{
    int rc = gk_virtio_blk_flush(ctx);
    return rc == GK_VIRTIO_OK || rc == GK_VIRTIO_ENOTSUP ? 0 : -1;
}

static bool is_blk(const struct gk_pci_cap_function *f)
{
    return gk_virtio_pci_device_type(f) == GK_VIRTIO_ID_BLOCK ||
           (f->dev.vendor_id == GK_VIRTIO_PCI_VENDOR &&
            f->dev.device_id == VIRTIO_PCI_TRANSITIONAL_BLK);
}

static int fail(const char *what, long long rc)
{
    gk_printf("blkback: FAILED %s (%lld)\n", what, rc);
    return 1;
}

static void report(void)
{
    gk_printf("blkback: volume table seq %llu (copy %c): %u volumes, %llu MiB free\n",
              (unsigned long long)tab.seq, tab.current_b ? 'B' : 'A', tab.count,
              (unsigned long long)(vt_free_sectors(&tab) / 2048u));
    for (uint32_t i = 0; i < VT_VOLUMES_MAX; i++) {
        const struct vt_volume *v = &tab.vol[i];
        if (v->name[0])
            gk_printf("blkback: volume %s: %llu MiB, id %u, %u extents\n", v->name,
                      (unsigned long long)(v->sectors / 2048u), v->id, v->extent_count);
    }
}

int main(const struct hv_start_info *si)
{
    (void)si;
    if (gk_mm_init(si) != 0)
        return fail("gk_mm_init", -1);
    size_t n = gk_pci_enumerate_caps(HV_ROOT_SLOT_DEVICE_FIRST, fns, MAX_FUNCTIONS);
    if (n > MAX_FUNCTIONS)
        n = MAX_FUNCTIONS;
    const struct gk_pci_cap_function *f = NULL;
    for (size_t i = 0; i < n && !f; i++)
        if (is_blk(&fns[i]))
            f = &fns[i];
    if (!f)
        return fail("no virtio-blk function given (manifest pci:)", (long long)n);
    int64_t rc = gk_virtio_pci_open(&pci, f, WINDOW_VA, WINDOW_BYTES);
    if (rc != HV_OK)
        return fail("opening the virtio-blk function", rc);
    bool irq = gk_virtio_pci_use_interrupts(&pci, 1) == HV_OK;
    int brc = gk_virtio_blk_init(&blk, &pci.dev);
    if (brc != GK_VIRTIO_OK)
        return fail("virtio-blk init", brc);
    gk_printf("blkback: disk %02x:%02x.%u: %llu sectors (%llu MiB), %s%s\n", f->dev.bdf.bus,
              f->dev.bdf.dev, f->dev.bdf.fn, (unsigned long long)blk.capacity_sectors,
              (unsigned long long)(blk.capacity_sectors / 2048u), irq ? "interrupts" : "polled",
              blk.read_only ? ", read-only" : "");

    disk = (struct vt_disk){&blk, blk.capacity_sectors, disk_read, disk_write, disk_flush};
    int vrc = vt_open(&tab, &disk);
    if (vrc == VT_EBLANK) {
        if (blk.read_only) {
            fail("a blank read-only disk cannot be formatted", vrc);
            gk_poweroff(); /* a refusal, not a crash: restarting cannot help */
        }
        vrc = vt_format(&tab, &disk, 0);
        if (vrc != VT_OK)
            return fail(vt_strerror(vrc), vrc);
        gk_printf("blkback: formatted a blank disk (unit 1 MiB)\n");
    } else if (vrc == VT_EDAMAGED) {
        /* Someone else's data, or a table we cannot trust: never write. */
        gk_printf("blkback: FAILED the disk holds no valid volume table and is not blank: "
                  "left untouched\n");
        gk_poweroff(); /* a refusal, not a crash: its manifest keeps it stopped */
    } else if (vrc != VT_OK) {
        return fail(vt_strerror(vrc), vrc);
    }
    report();
    int64_t src = gk_service_register("blk");
    if (src != HV_OK)
        gk_printf("blkback: cannot offer the service blk (%lld)\n", (long long)src);
    else
        gk_printf("blkback: offering the service blk\n");
    gk_printf("blkback: ready\n");
    serve_run(&tab, &blk, &pci, irq); /* a shutdown request ends it (the runtime's default) */
}
