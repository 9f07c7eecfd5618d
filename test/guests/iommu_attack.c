/*
 * A hostile driver domain (issue 14's test; test/integration/iommu.cmake).
 * One image, two roles, as test_pingpong:
 *
 *   root (boot module 0): finds QEMU's virtio-blk function, builds module 1
 *   as "driver" and gives it that function the way the control domain does
 *   for a manifest's pci: (its PCI capability with CONFIG, DMA and IRQ at
 *   slot 128, the BARs' MMIO capabilities at 129 + BAR), plus a domain
 *   capability naming the root (grants only). It grants the driver one page
 *   (filled with 'G') and keeps another it does not grant ('S'), tells the
 *   driver their refs and machine addresses through its console input,
 *   starts it, and once it has stopped checks what landed where and reads
 *   its DMA-fault count.
 *
 *   driver: drives the device (guest-kit's virtio-blk over virtio-PCI,
 *   MSI-X interrupts unless "polled") and tries, each printed as one line
 *   "iommu-attack: driver: WHAT: ok|FAILED":
 *     - DMA into its own page (must land: the positive control),
 *     - DMA into the root's page it was not given,
 *     - DMA into the granted page while mapped (must land), then after
 *       unmapping it,
 *     - DMA into a frame it gave back to the hypervisor,
 *     - DMA into the hypervisor's image,
 *     - raw MSI: a config write into the MSI-X capability, a writable
 *       mapping of the MSI-X table,
 *     - more vectors than the function has, or than a function may have,
 *     - binding a vector it does not have, a vector twice, a PCI slot that
 *       is not a PCI capability, sending on a vector's port,
 *     - closing and re-binding the vector's port while the device
 *       interrupts (requests in flight), then a normal read.
 *   After every refused DMA the device is reset (QEMU marks a virtio
 *   device broken when a DMA fails) and a read into its own page must still
 *   work: nothing else is disturbed.
 *
 * Command line (root): "expect=confined" (the default: every attack is
 * refused), "expect=no-dma" (no IOMMU: the driver may not turn on bus
 * mastering), "expect=unconfined" (`iommu=off-unsafe`: the attacks land,
 * which this test reports as such: what the IOMMU prevents), and "polled".
 * Two more modes replace the attacks:
 *   "mode=idle": the driver opens the device and waits 12 s for it (asleep
 *     with interrupts, spinning with "polled"); the root prints the driver's
 *     CPU time over 10 s of them (HV_DOMCTL_INFO).
 *   "mode=bench": figures (scripts/bench.d/iommu.sh): a grant map + unmap
 *     pair before and after the driver's DMA is attached (its IOMMU space
 *     then updated on every map and unmap), the time from a virtio-blk
 *     request's doorbell to its completion seen by a polling driver and by
 *     an interrupt-driven one (woken from gk_block), and 4 KiB reads per
 *     second either way.
 *   "mode=intx": two virtio-blk functions without MSI-X on one slot
 *     (functions 0 and 1, so one INTx line): the root finds the line's GSI
 *     (it binds every PCI line and sees which one a completion raises),
 *     keeps the first function and gives the driver the second plus an IRQ
 *     capability for that line only; both bind the line and read their
 *     disks by interrupt at the same time (each wake-up acknowledges its own
 *     device and EOIs; the line is unmasked after both), the root closing
 *     and re-binding its port under the driver's load, then keeping it
 *     bound without ever EOIing again (the line must still work for the
 *     driver: the hypervisor's EOI limit).
 *   "mode=faults": the driver DMAs into the root's page until the hypervisor
 *     stops its function (16 faults: bus mastering found off), checks that a
 *     request then does not complete, turns bus mastering on again and
 *     reads; the root checks the page and that exactly 16 faults counted.
 *   "mode=forge" (test image): the root drives the first of two virtio-blk
 *     functions by MSI-X (the machine's first vector, 0x50, entry 32); the
 *     driver, given the second (polled, so that its requests raise no
 *     interrupt), makes its device write chosen dwords into
 *     the interrupt window (compatibility format with the root's vector,
 *     remappable through the root's entry and I/O APIC line 0's, the IOMMU
 *     fault vector), printing how many device interrupts the hypervisor
 *     took during each (HV_TEST_IRQS); the root reports whether its port
 *     was raised and reads its disk by interrupt afterwards.
 * The root ends with "iommu-attack: root: ok" or "FAILED".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gk/builder.h"
#include "gk/cap.h"
#include "gk/console.h"
#include "gk/event.h"
#include "gk/gk.h"
#include "gk/grant.h"
#include "gk/hypercall.h"
#include "gk/mm.h"
#include "gk/pci.h"
#include "gk/time.h"
#include "gk/virtio_blk.h"
#include "gk/virtio_pci.h"
#include "hv/test_op.h"

#define DRV_DOM_SLOT 20u
#define DRV_CON_SLOT 21u
#define ROOT_SLOT_IN_DRV 0u
#define DRV_PCI_SLOT 128u
#define GRANT_VA 0x40000000ull
#define MSIX_VA 0x40010000ull
#define WINDOW_VA 0x300000000ull
#define WINDOW_BYTES 0x1000000ull
#define HV_IMAGE_PA 0x200000ull /* the hypervisor's boot stub (linker.ld) */
#define DRV_IRQ_SLOT 140u
#define ROOT_WINDOW_VA 0x310000000ull
#define INTX_READS 300u
#define IDLE_WINDOW_NS (10 * GK_NS_PER_SEC) /* mode=idle: the root's measurement */

static int failures;
static uint8_t granted[4096] __attribute__((aligned(4096)));
static uint8_t secret[4096] __attribute__((aligned(4096)));

static void check(const char *role, const char *what, bool ok)
{
    failures += !ok;
    gk_printf("iommu-attack: %s: %s: %s\n", role, what, ok ? "ok" : "FAILED");
}

static uint64_t field(const char *line, const char *key)
{
    const char *p = line;
    size_t k = strlen(key);
    while ((p = strstr(p, key)) != NULL) {
        if ((p == line || p[-1] == ' ') && p[k] == '=')
            return strtoull(p + k + 1, NULL, 0);
        p += k;
    }
    gk_panic("iommu-attack: no %s= in \"%s\"", key, line);
}

static bool all_n(const uint8_t *p, uint8_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

static bool all(const uint8_t *p, uint8_t v)
{
    return all_n(p, v, 4096);
}

/* The disk holds "virtio-blk-data\n" repeated (as guestkit_virtio_blk's). */
static bool disk_pattern(const uint8_t *p, unsigned bytes)
{
    static const char pat[] = "virtio-blk-data\n";
    for (unsigned i = 0; i < bytes; i++)
        if (p[i] != (uint8_t)pat[i % 16])
            return false;
    return true;
}

/* --- root -------------------------------------------------------------------- */

static uint64_t mfn_of(const void *va);

static uint64_t mfn_of(const void *va)
{
    return gk_layout_va_to_mfn((uint64_t)(uintptr_t)va);
}

static uint8_t rbuf[4096] __attribute__((aligned(4096)));

/* Reads n sectors (one 4 KiB read at a time, all over the disk) and checks
 * each holds the pattern: the count that did. */
static unsigned read_all(struct gk_virtio_blk *b, unsigned n, uint8_t *to)
{
    unsigned ok = 0;
    for (unsigned i = 0; i < n; i++) {
        memset(to, 0, 4096);
        ok += gk_virtio_blk_read(b, (i * 8u) % 2040u, to, 8) == GK_VIRTIO_OK &&
              disk_pattern(to, 4096);
    }
    return ok;
}

/* The GSI of virtio function p's INTx: every PCI line bound, one request
 * completed with its interrupt asked for, the port that became pending. */
static uint32_t probe_gsi(struct gk_virtio_pci *p, struct gk_virtio_blk *b)
{
    uint32_t ports[8] = {0}, gsi = 0;
    for (uint32_t g = 0; g < 8; g++)
        (void)gk_evtchn_bind_pirq(HV_ROOT_SLOT_IRQ, 16 + g, &ports[g]);
    struct gk_virtio_blk_req_hdr *h = b->hdr_va;
    *h = (struct gk_virtio_blk_req_hdr){.type = GK_VIRTIO_BLK_T_IN, .sector = 0};
    struct gk_vq_buf bufs[3] = {{b->hdr_addr, 16}, {b->data_addr[0], 512}, {b->hdr_addr + 64, 1}};
    (void)gk_vq_enable_cb(&b->q.vq);
    void *tok;
    uint32_t len;
    if (gk_vq_add(&b->q.vq, bufs, 1, 2, h) == GK_VQ_OK) {
        gk_virtio_kick(&p->dev, &b->q);
        (void)gk_virtio_wait_used(&p->dev, &b->q, &tok, &len, 2 * GK_NS_PER_SEC);
    }
    for (int tries = 0; tries < 100 && gsi == 0; tries++) {
        for (uint32_t g = 0; g < 8 && gsi == 0; g++)
            if (ports[g] && gk_evtchn_test_and_clear(ports[g]))
                gsi = 16 + g;
        gk_sleep_ms(10);
    }
    (void)*p->base[GK_VIRTIO_REGION_ISR]; /* acknowledge */
    for (uint32_t g = 0; g < 8; g++)
        if (ports[g])
            (void)gk_evtchn_close(ports[g]);
    return gsi;
}

static struct gk_virtio_pci rpci;
static uint8_t rbuf[4096];
static struct gk_virtio_blk rblk;

/* mode=intx, the root's side, after the driver started: its own reads by
 * the shared line, then closing and re-binding its port while the driver
 * works (a port closed while told counts as its EOI). */
static void intx_root(uint32_t gsi)
{
    check("root", "its INTx line bound",
          gk_virtio_pci_use_intx(&rpci, HV_ROOT_SLOT_IRQ, gsi) == HV_OK);
    memset(&rblk, 0, sizeof rblk);
    check("root", "its virtio-blk init by INTx",
          gk_virtio_blk_init(&rblk, &rpci.dev) == GK_VIRTIO_OK);
    char line[120];
    snprintf(line, sizeof line, "%u reads by the shared INTx line (GSI %u)", INTX_READS, gsi);
    check("root", line, read_all(&rblk, INTX_READS, rbuf) == INTX_READS);
    unsigned rebinds = 0;
    for (unsigned i = 0; i < 50; i++) {
        if (gk_evtchn_close(rpci.intx_port) != HV_OK ||
            gk_evtchn_bind_pirq(HV_ROOT_SLOT_IRQ, gsi, &rpci.intx_port) != HV_OK)
            break;
        rebinds++;
        gk_sleep_ms(2);
    }
    check("root", "its line port closed and re-bound 50 times under the driver's load",
          rebinds == 50);
    /* From here the root keeps its port bound and never EOIs again: a
     * sharer that does not acknowledge; the hypervisor's EOI limit keeps
     * the line going for the driver, which is told so and reads on. */
    gk_printf("iommu-attack: root: %llu line events with its device's ISR clear (the other "
              "device's), %llu wake-ups\n",
              (unsigned long long)rpci.intx_spurious, (unsigned long long)rpci.wakeups);
    static const char stop[] = "root-stops-eoi\n";
    check("root", "tell the driver it no longer acknowledges the line",
          gk_console_write_input(DRV_CON_SLOT, stop, sizeof stop - 1) ==
              (int64_t)(sizeof stop - 1));
}

static int root(const struct hv_start_info *si)
{
    const char *cmd = si->cmdline;
    const char *expect = strstr(cmd, "expect=no-dma")       ? "no-dma"
                         : strstr(cmd, "expect=unconfined") ? "unconfined"
                                                            : "confined";
    if (gk_mm_init(si) != 0)
        gk_panic("iommu-attack: gk_mm_init failed");
    if (si->modules_count < 1)
        gk_panic("iommu-attack: the driver image must be module 1");
    static struct gk_pci_cap_function fns[32];
    size_t n = gk_pci_enumerate_caps(HV_ROOT_SLOT_DEVICE_FIRST, fns, 32);
    const struct gk_pci_cap_function *blk = NULL, *mine = NULL;
    bool intx = strstr(cmd, "mode=intx") != NULL, forge = strstr(cmd, "mode=forge") != NULL;
    for (size_t i = 0; i < n && i < 32 && !blk; i++)
        if (gk_virtio_pci_device_type(&fns[i]) == GK_VIRTIO_ID_BLOCK) {
            if ((intx || forge) && !mine)
                mine = &fns[i]; /* mode=intx: the root keeps the first */
            else
                blk = &fns[i];
        }
    if (!blk)
        gk_panic("iommu-attack: no virtio-blk function");
    uint32_t gsi = 0;
    if (intx) {
        /* Both functions' line, found with the root's own DMA (so bus
         * mastering is turned off again on the driver's before it is given). */
        static struct gk_virtio_pci probe;
        static struct gk_virtio_blk pb;
        uint32_t g[2] = {0, 0};
        const struct gk_pci_cap_function *f[2] = {mine, blk};
        for (int i = 0; i < 2; i++) {
            struct gk_virtio_pci *pp = i == 0 ? &rpci : &probe;
            memset(&pb, 0, sizeof pb);
            if (gk_virtio_pci_open(pp, f[i],
                                   i == 0 ? ROOT_WINDOW_VA : ROOT_WINDOW_VA + WINDOW_BYTES,
                                   WINDOW_BYTES) == HV_OK &&
                gk_virtio_blk_init(&pb, &pp->dev) == GK_VIRTIO_OK)
                g[i] = probe_gsi(pp, &pb);
        }
        uint16_t cmdreg = gk_pci_read16(&probe.cfg, blk->dev.bdf, GK_PCI_OFF_COMMAND);
        gk_pci_write_command(&probe.cfg, blk->dev.bdf,
                             (uint16_t)(cmdreg & ~GK_PCI_COMMAND_BUS_MASTER));
        gk_printf("iommu-attack: root: the two functions interrupt on GSI %u and %u\n", g[0], g[1]);
        check("root", "both functions share one PCI line", g[0] >= 16 && g[0] == g[1]);
        gsi = g[0];
    }

    if (forge) {
        /* The root's own device by MSI-X, set up first: its vector is the
         * machine's first (slot 0: vector 0x50, remapping entry 32). */
        check("root", "its own device by MSI-X",
              mine && gk_virtio_pci_open(&rpci, mine, ROOT_WINDOW_VA, WINDOW_BYTES) == HV_OK &&
                  gk_virtio_pci_use_interrupts(&rpci, 1) == HV_OK);
    }
    static char driver_cmdline[96];
    snprintf(driver_cmdline, sizeof driver_cmdline, "iommu-attack role=driver%s%s%s%s%s%s",
             !strcmp(expect, "unconfined") ? " unconfined" : "",
             strstr(cmd, "polled") ? " polled" : "", strstr(cmd, "mode=idle") ? " mode=idle" : "",
             strstr(cmd, "mode=bench") ? " mode=bench" : "", intx ? " mode=intx" : "",
             strstr(cmd, "mode=faults") ? " mode=faults"
             : forge                    ? " mode=forge"
                                        : "");
    bool idle = strstr(cmd, "mode=idle") != NULL;
    struct gk_build_spec spec = {
        .name = "driver",
        .image = (const void *)(uintptr_t)si->modules[0].va,
        .image_size = si->modules[0].size_bytes,
        .pages = 1024,
        .max_pages = 1040, /* room for the frame it takes and gives back */
        .cmdline = driver_cmdline,
        .mem_slot = HV_ROOT_SLOT_MEMORY,
        .dom_slot = DRV_DOM_SLOT,
        .console_slot = DRV_CON_SLOT,
        .paused = true,
    };
    struct gk_built_domain drv;
    const char *detail = NULL;
    int64_t status = 0;
    const char *why = gk_build_domain(&spec, &drv, &detail, &status);
    if (why)
        gk_panic("iommu-attack: building the driver: %s (%lld)", why, (long long)status);
    int64_t rc = gk_cap_copy(blk->pci_slot, DRV_DOM_SLOT, DRV_PCI_SLOT,
                             HV_CAP_R_PCI_CONFIG_READ | HV_CAP_R_PCI_CONFIG_WRITE |
                                 HV_CAP_R_PCI_DMA | HV_CAP_R_PCI_IRQ,
                             0, 0);
    for (uint32_t b = 0; rc == HV_OK && b < blk->bar_count; b++) {
        const struct gk_pci_cap_bar *bar = &blk->bars[b];
        if (bar->mmio_slot == HV_PCI_NO_SLOT)
            continue;
        uint64_t first = bar->base / 4096,
                 count = (bar->base + bar->size_bytes + 4095) / 4096 - first;
        rc = gk_cap_copy(bar->mmio_slot, DRV_DOM_SLOT, DRV_PCI_SLOT + 1 + b, HV_CAP_R_MMIO_ALL,
                         first, count);
    }
    check("root", "give the driver the virtio-blk function", rc == HV_OK);
    if (intx)
        check("root", "give the driver an IRQ capability for that line only",
              gk_cap_copy(HV_ROOT_SLOT_IRQ, DRV_DOM_SLOT, DRV_IRQ_SLOT, HV_CAP_R_IRQ_BIND, gsi,
                          1) == HV_OK);
    check("root", "give the driver a capability naming the root (grants only)",
          gk_cap_copy(HV_ROOT_SLOT_SELF, DRV_DOM_SLOT, ROOT_SLOT_IN_DRV, HV_CAP_R_DOM_GRANT, 0,
                      0) == HV_OK);
    memset(granted, 'G', sizeof granted);
    memset(secret, 'S', sizeof secret);
    uint32_t ref = 0;
    check("root", "grant the driver a page",
          gk_grant_page(DRV_DOM_SLOT, granted, true, &ref) == HV_OK);
    char line[160];
    int len = snprintf(line, sizeof line, "ref=%u granted=%#llx secret=%#llx gsi=%u\n", ref,
                       (unsigned long long)(mfn_of(granted) * 4096),
                       (unsigned long long)(mfn_of(secret) * 4096), gsi);
    check("root", "tell the driver",
          gk_console_write_input(DRV_CON_SLOT, line, (size_t)len) == len);
    check("root", "start the driver", gk_domain_start(&drv) == HV_OK);
    if (intx)
        intx_root(gsi);

    struct hv_domctl_info info = {0};
    uint64_t deadline = gk_now_ns() + 120 * GK_NS_PER_SEC;
    uint64_t idle_from = 0, idle_to = 0, idle_t0 = 0, idle_t1 = 0;
    while (gk_now_ns() < deadline) {
        if (gk_domain_info(DRV_DOM_SLOT, &info) == HV_OK && info.state == HV_DOMSTATE_SHUTDOWN)
            break;
        if (idle && idle_from == 0) {
            /* The driver says when its 10 s begin, on its console. */
            static char out[2048];
            static size_t have;
            int64_t got = gk_console_read_output(DRV_CON_SLOT, out + have, sizeof out - 1 - have);
            if (got > 0) {
                have += (size_t)got;
                out[have] = 0;
                if (strstr(out, "idle from here") && gk_domain_info(DRV_DOM_SLOT, &info) == HV_OK) {
                    /* Exactly 10 s of its waiting (it waits 12). */
                    idle_from = info.cpu_time_ns;
                    idle_t0 = gk_now_ns();
                    while (gk_now_ns() < idle_t0 + IDLE_WINDOW_NS)
                        gk_sleep_ms(100);
                    idle_t1 = gk_now_ns();
                    if (gk_domain_info(DRV_DOM_SLOT, &info) == HV_OK)
                        idle_to = info.cpu_time_ns;
                }
                if (have > sizeof out / 2) { /* keep the last part only */
                    memmove(out, out + have - 64, 64);
                    have = 64;
                }
            }
        }
        gk_sleep_ms(idle ? 200 : 20);
    }
    if (idle) {
        check("root", "the driver's idle period was seen", idle_t0 != 0 && idle_to != 0);
        gk_printf("iommu-attack: root: figure: the driver's CPU time over %llu ms of waiting "
                  "for its device (%s): %llu us\n",
                  (unsigned long long)((idle_t1 - idle_t0) / GK_NS_PER_MS),
                  strstr(cmd, "polled") ? "polled" : "interrupts",
                  (unsigned long long)((idle_to - idle_from) / 1000));
    }
    check("root", "the driver stopped by itself", info.state == HV_DOMSTATE_SHUTDOWN);
    check("root", "the driver powered off (all its checks passed)",
          info.shutdown_reason == HV_SHUTDOWN_POWEROFF);
    gk_printf("iommu-attack: root: the driver's DMA faults: %llu\n",
              (unsigned long long)info.dma_faults);
    if (idle || intx || strstr(cmd, "mode=bench")) {
        /* figures only */
    } else if (forge) {
        /* The root made no request: a pending port is a forged message.
         * VT-d blocks them (compatibility format with CFI clear, a
         * remapping entry used by another source id); QEMU 7.2 does not,
         * which this reports rather than hides (docs/devices.md). */
        bool got = gk_evtchn_is_pending(rpci.port[0]);
        gk_printf("iommu-attack: root: %s\n",
                  got ? "a forged message REACHED its vector's port (the emulator's gap)"
                      : "no forged message reached its vector's port");
        memset(&rblk, 0, sizeof rblk);
        memset(rbuf, 0, sizeof rbuf);
        check("root", "then its own device reads by interrupt",
              gk_virtio_blk_init(&rblk, &rpci.dev) == GK_VIRTIO_OK &&
                  gk_virtio_blk_read(&rblk, 0, rbuf, 1) == GK_VIRTIO_OK && disk_pattern(rbuf, 512));
    } else if (strstr(cmd, "mode=faults")) {
        check("root", "the page it was not given is untouched", all(secret, 'S'));
        /* IOMMU_FAULT_STOP (hv/core/include/iommu.h): later fault records
         * of the detached function count for nobody. */
        check("root", "the driver's faults stopped at 16, when its function was stopped",
              info.dma_faults == 16);
    } else if (!strcmp(expect, "confined")) {
        check("root", "the page it was not given is untouched", all(secret, 'S'));
        check("root", "the granted page got the DMA made while it was mapped",
              disk_pattern(granted, 512));
        check("root", "and not the one made after it was unmapped",
              all_n(granted + 512, 'G', 3584));
        check("root", "the faults were counted for the driver", info.dma_faults >= 4);
        /* The faulting function stopped, the machine running on: revoking
         * what the root gave takes the DMA right, and bus mastering with it. */
        uint32_t cmdreg = 0;
        check("root", "the faulting function still has bus mastering on",
              gk_pci_cap_config_read(blk->pci_slot, 4, 2, &cmdreg) == HV_OK && (cmdreg & 4u));
        check("root", "revoke the driver's copies of the function",
              gk_cap_revoke(blk->pci_slot) == HV_OK);
        check("root", "the faulting function is stopped (bus mastering off)",
              gk_pci_cap_config_read(blk->pci_slot, 4, 2, &cmdreg) == HV_OK && !(cmdreg & 4u));
    } else if (!strcmp(expect, "unconfined")) {
        /* What the IOMMU prevents: shown, not hidden. */
        bool landed = disk_pattern(secret, 512);
        gk_printf("iommu-attack: root: without an IOMMU the DMA into the page it was not "
                  "given %s\n",
                  landed ? "LANDED (the page was overwritten)" : "did not land");
        check("root", "without an IOMMU the attack lands", landed);
    } else {
        check("root", "no page changed", all(secret, 'S') && all(granted, 'G'));
    }
    gk_domain_destroy(&drv);
    if (failures) {
        gk_printf("iommu-attack: root: FAILED %d checks\n", failures);
        return 1;
    }
    gk_printf("iommu-attack: root: ok\n");
    return 0;
}

/* --- driver ------------------------------------------------------------------ */

static struct gk_pci_cap_function fn;
static struct gk_virtio_pci pci;
static struct gk_virtio_blk blk;
static uint8_t buf[4096] __attribute__((aligned(4096)));

static void dcheck(const char *what, bool ok)
{
    check("driver", what, ok);
}

/* One 512-byte read of `sector` whose data goes where data[0..n) say (the
 * header and status are the driver's own pages). Returns the completion
 * status, or the wait's error (a device that could not DMA is marked broken
 * by QEMU). Resets the device afterwards if it broke. */
static int read_to(uint64_t sector, const struct gk_vq_buf *data, unsigned n)
{
    struct gk_virtio_blk_req_hdr *h = blk.hdr_va;
    *h = (struct gk_virtio_blk_req_hdr){.type = GK_VIRTIO_BLK_T_IN, .sector = sector};
    volatile uint8_t *st = (volatile uint8_t *)blk.hdr_va + 64;
    *st = 0xff;
    struct gk_vq_buf bufs[4] = {{blk.hdr_addr, 16}};
    for (unsigned i = 0; i < n && i < 2; i++)
        bufs[1 + i] = data[i];
    bufs[1 + (n < 2 ? n : 2)] = (struct gk_vq_buf){blk.hdr_addr + 64, 1};
    if (gk_vq_add(&blk.q.vq, bufs, 1, (n < 2 ? n : 2) + 1, h) != GK_VQ_OK)
        return GK_VIRTIO_EINVAL;
    gk_virtio_kick(&pci.dev, &blk.q);
    void *tok;
    uint32_t len;
    int rc = gk_virtio_wait_used(&pci.dev, &blk.q, &tok, &len, 2 * GK_NS_PER_SEC);
    if (rc == GK_VIRTIO_OK && *st != GK_VIRTIO_BLK_S_OK)
        rc = GK_VIRTIO_EIO;
    if (gk_virtio_dev_is_broken(&pci.dev) || rc != GK_VIRTIO_OK) {
        memset(&blk, 0, sizeof blk); /* re-initialised: a reset and new queues */
        if (gk_virtio_blk_init(&blk, &pci.dev) != GK_VIRTIO_OK)
            gk_printf("iommu-attack: driver: the device did not come back after a reset\n");
    }
    return rc;
}

/* The whole sector to machine address `to`. */
static int raw_read(uint64_t sector, uint64_t to)
{
    const struct gk_vq_buf data = {to, 512};
    return read_to(sector, &data, 1);
}

/* A DMA that must not land. The device cannot tell: QEMU completes the
 * request (its write goes nowhere) or fails it; what counts is that the
 * write did not land, which the root checks for its pages, and the fault
 * the IOMMU reports, which the root reads from HV_DOMCTL_INFO. */
static void must_fail(const char *what, uint64_t to)
{
    int rc = raw_read(1, to);
    gk_printf("iommu-attack: driver: %s: the request finished with %d\n", what, rc);
    char line[120];
    /* Nothing else is disturbed: the device still reads into our own page. */
    memset(buf, 0, sizeof buf);
    rc = gk_virtio_blk_read(&blk, 0, buf, 1);
    snprintf(line, sizeof line, "after it, a read into its own page works (%d)", rc);
    dcheck(line, rc == GK_VIRTIO_OK && disk_pattern(buf, 512));
}

/* mode=faults: DMA into the root's page again and again (QEMU marks the
 * device broken at each fault and raw_read resets it) until the hypervisor
 * stops the function after IOMMU_FAULT_STOP (16) faults: bus mastering
 * found off. Then a request does not complete; bus mastering on again (a
 * new attach) and a read into its own page works. */
static void fault_storm(uint64_t secret_pa)
{
    unsigned reqs = 0;
    uint32_t cmd = 4;
    while (reqs < 64 && (cmd & 4u)) {
        raw_read(1, secret_pa);
        reqs++;
        if (gk_pci_cap_config_read(DRV_PCI_SLOT, 4, 2, &cmd) != HV_OK)
            break;
    }
    gk_printf("iommu-attack: driver: bus mastering was on for %u faulting requests\n", reqs);
    dcheck("the hypervisor stopped the function for its faults (bus mastering off)",
           !(cmd & 4u) && reqs < 64);
    dcheck("a request after the stop does not complete",
           raw_read(0, mfn_of(buf) * 4096) != GK_VIRTIO_OK);
    dcheck("bus mastering on again",
           gk_pci_cap_config_write(DRV_PCI_SLOT, 4, 2, (cmd & 0xffffu) | 4u) == HV_OK);
    memset(&blk, 0, sizeof blk);
    memset(buf, 0, sizeof buf);
    dcheck("then a read into its own page works",
           gk_virtio_blk_init(&blk, &pci.dev) == GK_VIRTIO_OK &&
               raw_read(0, mfn_of(buf) * 4096) == GK_VIRTIO_OK && disk_pattern(buf, 512));
}

/* One read of `sector` whose first 4 bytes the device writes to bus address
 * `to` and the other 508 into buf: a DMA write of one chosen dword. */
static int dword_read(uint64_t sector, uint64_t to)
{
    const struct gk_vq_buf data[2] = {{to, 4}, {mfn_of(buf) * 4096, 508}};
    return read_to(sector, data, 2);
}

/* Device interrupts the hypervisor has taken on CPU 0 (the test image's
 * HV_TEST_IRQS; 0 in the other image). */
static uint64_t device_irqs(void)
{
    struct hv_test_irqs t = {0};
    gk_hypercall3(HC_TEST_OP, HV_TEST_IRQS, (uint64_t)(uintptr_t)&t, 0);
    return t.taken[0];
}

/* mode=forge: messages written by DMA into the interrupt window
 * 0xfee00000-0xfeefffff, in each form a device could try (the root's
 * vector and remapping entry are the machine's first: 0x50 and 32). */
static void forge_msis(void)
{
    static const struct {
        const char *what;
        uint32_t addr, data;
    } f[] = {
        {"compatible, the root's vector", 0xfee00000u, 0x50u},
        {"remappable, the root's entry", 0xfee00000u | 32u << 5 | 1u << 4, 0},
        {"remappable, line 0's entry", 0xfee00000u | 1u << 4, 0},
        {"compatible, IOMMU fault vector", 0xfee00000u, 0xe0u},
    };
    static uint8_t sector[512] __attribute__((aligned(512)));
    for (unsigned i = 0; i < sizeof f / sizeof f[0]; i++) {
        memset(sector, 0, sizeof sector);
        memcpy(sector, &f[i].data, 4);
        if (gk_virtio_blk_write(&blk, 8, sector, 1) != GK_VIRTIO_OK)
            dcheck("write the message's data to sector 8", false);
        uint64_t before = device_irqs();
        int rc = dword_read(8, f[i].addr);
        uint64_t took = device_irqs() - before;
        gk_printf("iommu-attack: driver: forged MSI (%s): %#x <- %#x: request %d, %llu device "
                  "interrupts\n",
                  f[i].what, f[i].addr, f[i].data, rc, (unsigned long long)took);
    }
    memset(buf, 0, sizeof buf);
    dcheck("after them, a read into its own page works",
           gk_virtio_blk_read(&blk, 0, buf, 1) == GK_VIRTIO_OK && disk_pattern(buf, 512));
}

static void msi_attacks(void)
{
    /* The MSI-X capability: its control word and the table's place. */
    struct gk_pci_cap_backend be;
    struct gk_pci_cfg cfg;
    if (gk_pci_cap_cfg_init(DRV_PCI_SLOT, &be, &cfg) != HV_OK)
        return;
    int at = gk_pci_find_cap(&cfg, fn.dev.bdf, 0x11, 0);
    dcheck("the function has MSI-X", at >= 0x40);
    if (at < 0x40)
        return;
    uint32_t ctrl = 0;
    gk_pci_cap_config_read(DRV_PCI_SLOT, (uint16_t)(at + 2), 2, &ctrl);
    dcheck("a config write to the MSI-X control word is refused",
           gk_pci_cap_config_write(DRV_PCI_SLOT, (uint16_t)(at + 2), 2, ctrl | 0x8000) == HV_EPERM);
    uint32_t table = 0;
    gk_pci_cap_config_read(DRV_PCI_SLOT, (uint16_t)(at + 4), 4, &table);
    dcheck("a config write to the MSI-X table offset is refused",
           gk_pci_cap_config_write(DRV_PCI_SLOT, (uint16_t)(at + 4), 4, table) == HV_EPERM);
    struct gk_pci_mapping m;
    int64_t rc = gk_pci_map_bar(&fn, table & 7, table & ~7u, 16, MSIX_VA, true, &m);
    dcheck("a writable mapping of the MSI-X table is refused", rc != HV_OK);
    if (rc == HV_OK)
        gk_pci_unmap_bar(&m);

    /* Vectors: more than the table has, more than a function may have,
     * the wrong kind. */
    dcheck("more vectors than the MSI-X table has are refused",
           gk_pci_msi_enable(DRV_PCI_SLOT, HV_PCI_MSIX, fn.msix_count + 1u) == HV_EINVAL);
    dcheck("more vectors than a function may have are refused",
           gk_pci_msi_enable(DRV_PCI_SLOT, HV_PCI_MSIX, HV_PCI_MSI_VECTORS_MAX + 1) == HV_EINVAL);
    dcheck("a second set-up while the vectors exist is refused",
           gk_pci_msi_enable(DRV_PCI_SLOT, HV_PCI_MSIX, 1) == HV_EBUSY);
    /* Binding: a vector it does not have, twice, a slot that is no PCI
     * capability; sending on a vector's port. */
    uint32_t port;
    dcheck("binding a vector beyond those set up is refused",
           gk_evtchn_bind_msi(DRV_PCI_SLOT, pci.vector_count, &port) == HV_EINVAL);
    dcheck("binding a vector bound already is refused",
           gk_evtchn_bind_msi(DRV_PCI_SLOT, 0, &port) == HV_EBUSY);
    dcheck("binding through a slot that is not a PCI capability is refused",
           gk_evtchn_bind_msi(DRV_PCI_SLOT + 1 + 4, 0, &port) == HV_EPERM ||
               gk_evtchn_bind_msi(DRV_PCI_SLOT + 1 + 4, 0, &port) == HV_ENOENT);
    dcheck("binding through the root's domain capability is refused",
           gk_evtchn_bind_msi(ROOT_SLOT_IN_DRV, 0, &port) == HV_EPERM);
    dcheck("sending on a vector's port is refused", gk_evtchn_send(pci.port[0]) == HV_EINVAL);
}

/* Closes and re-binds vector 0's port while requests complete. */
static void unbind_under_load(void)
{
    unsigned ok = 0;
    for (unsigned i = 0; i < 50; i++) {
        struct gk_virtio_blk_req_hdr *h = blk.hdr_va;
        *h = (struct gk_virtio_blk_req_hdr){.type = GK_VIRTIO_BLK_T_IN, .sector = i % 8};
        struct gk_vq_buf bufs[3] = {
            {blk.hdr_addr, 16}, {blk.data_addr[0], 512}, {blk.hdr_addr + 64, 1}};
        if (gk_vq_add(&blk.q.vq, bufs, 1, 2, h) != GK_VQ_OK)
            break;
        gk_virtio_kick(&pci.dev, &blk.q);
        /* The interrupt may be on its way: the port goes away under it. */
        gk_evtchn_close(pci.port[0]);
        uint32_t port;
        if (gk_evtchn_bind_msi(DRV_PCI_SLOT, 0, &port) != HV_OK)
            break;
        pci.port[0] = port;
        void *tok;
        uint32_t len;
        ok += gk_virtio_wait_used(&pci.dev, &blk.q, &tok, &len, GK_NS_PER_SEC) == GK_VIRTIO_OK;
    }
    dcheck("50 requests with the vector's port closed and re-bound under each", ok == 50);
    memset(buf, 0, sizeof buf);
    dcheck("then a read by interrupt works",
           gk_virtio_blk_read(&blk, 0, buf, 1) == GK_VIRTIO_OK && disk_pattern(buf, 512));
}

static uint64_t tsc(void)
{
    return __builtin_ia32_rdtsc();
}

/* The grant map + unmap pair (a granted page the root gave us). */
static uint64_t grant_pairs(uint32_t ref, unsigned n)
{
    uint64_t t0 = tsc();
    for (unsigned i = 0; i < n; i++)
        if (gk_grant_map(ROOT_SLOT_IN_DRV, ref, GRANT_VA, true) != HV_OK ||
            gk_grant_unmap(GRANT_VA) != HV_OK)
            return 0;
    return (tsc() - t0) / n;
}

/* Doorbell to completion seen (TSC), averaged over n one-sector reads. */
static uint64_t completion_ticks(unsigned n)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < n; i++) {
        struct gk_virtio_blk_req_hdr *h = blk.hdr_va;
        *h = (struct gk_virtio_blk_req_hdr){.type = GK_VIRTIO_BLK_T_IN, .sector = i % 64};
        struct gk_vq_buf bufs[3] = {
            {blk.hdr_addr, 16}, {blk.data_addr[0], 512}, {blk.hdr_addr + 64, 1}};
        if (gk_vq_add(&blk.q.vq, bufs, 1, 2, h) != GK_VQ_OK)
            return 0;
        uint64_t t0 = tsc();
        gk_virtio_kick(&pci.dev, &blk.q);
        void *tok;
        uint32_t len;
        if (gk_virtio_wait_used(&pci.dev, &blk.q, &tok, &len, 2 * GK_NS_PER_SEC) != GK_VIRTIO_OK)
            return 0;
        sum += tsc() - t0;
    }
    return sum / n;
}

/* 4 KiB reads per second of guest time. */
static uint64_t reads_per_s(unsigned n)
{
    uint64_t t0 = gk_now_ns();
    for (unsigned i = 0; i < n; i++)
        if (gk_virtio_blk_read(&blk, (i * 8) % 2040, buf, 8) != GK_VIRTIO_OK)
            return 0;
    uint64_t dt = gk_now_ns() - t0;
    return dt ? (uint64_t)n * GK_NS_PER_SEC / dt : 0;
}

/* Interrupt latency: from the device's interrupt to the domain's handler.
 * The driver spins with events enabled, writing the TSC on every round;
 * the port's handler (run from the upcall) reads the last round's value
 * and the TSC: the difference is the path from the last guest instruction
 * before the interrupt took the CPU to the handler's first (the
 * hypervisor's interrupt entry, interrupt remapping, the event channel,
 * the upcall), within one round of the loop. Under -icount: instructions. */
static volatile uint64_t spin_tsc, handler_tsc, handler_spin;

static void latency_handler(uint32_t port, void *arg)
{
    (void)port;
    (void)arg;
    handler_spin = spin_tsc;
    handler_tsc = tsc();
}

#define LATENCY_SAMPLES 200u
static uint64_t latency[LATENCY_SAMPLES];

/* The median of n latencies (the root shares the CPU: a request whose
 * interrupt lands while the root runs waits for the driver's next turn, so
 * the mean says more about the scheduler than the interrupt path), and the
 * minimum in *min_out; 0 if any request failed. */
static uint64_t irq_latency(unsigned n, uint64_t *min_out)
{
    uint32_t port = pci.port[0];
    if (gk_evtchn_bind_handler(port, latency_handler, NULL) != HV_OK)
        return 0;
    (void)gk_evtchn_unmask(port);
    gk_events_enable();
    unsigned got = 0;
    if (n > LATENCY_SAMPLES)
        n = LATENCY_SAMPLES;
    for (unsigned i = 0; i < n; i++) {
        struct gk_virtio_blk_req_hdr *h = blk.hdr_va;
        *h = (struct gk_virtio_blk_req_hdr){.type = GK_VIRTIO_BLK_T_IN, .sector = i % 64};
        struct gk_vq_buf bufs[3] = {
            {blk.hdr_addr, 16}, {blk.data_addr[0], 512}, {blk.hdr_addr + 64, 1}};
        if (gk_vq_add(&blk.q.vq, bufs, 1, 2, h) != GK_VQ_OK)
            break;
        (void)gk_vq_enable_cb(&blk.q.vq);
        handler_tsc = 0;
        uint64_t deadline = gk_now_ns() + 2 * GK_NS_PER_SEC;
        gk_virtio_kick(&pci.dev, &blk.q);
        for (unsigned r = 0; handler_tsc == 0; r++) {
            spin_tsc = tsc();
            __builtin_ia32_pause();
            if ((r & 4095) == 4095 && gk_now_ns() > deadline)
                break;
        }
        void *tok;
        uint32_t len;
        if (gk_virtio_wait_used(&pci.dev, &blk.q, &tok, &len, 2 * GK_NS_PER_SEC) != GK_VIRTIO_OK)
            break;
        if (handler_tsc == 0)
            continue;
        latency[got++] = handler_tsc - handler_spin;
    }
    (void)gk_evtchn_bind_handler(port, NULL, NULL);
    for (unsigned i = 1; i < got; i++) /* insertion sort: 200 at most */
        for (unsigned j = i; j > 0 && latency[j - 1] > latency[j]; j--) {
            uint64_t t = latency[j];
            latency[j] = latency[j - 1];
            latency[j - 1] = t;
        }
    *min_out = got ? latency[0] : 0;
    return got == n ? latency[n / 2] : 0;
}

static void bench(uint32_t ref)
{
    uint64_t before = grant_pairs(ref, 200);
    int64_t rc = gk_virtio_pci_open(&pci, &fn, WINDOW_VA, WINDOW_BYTES);
    if (rc != HV_OK || gk_virtio_blk_init(&blk, &pci.dev) != GK_VIRTIO_OK) {
        dcheck("open the device for the figures", false);
        return;
    }
    uint64_t after = grant_pairs(ref, 200);
    gk_printf("iommu-attack: driver: figure: grant map + unmap pair: %llu TSC ticks without an "
              "IOMMU space, %llu with one (its mappings added to and removed from the IOMMU)\n",
              (unsigned long long)before, (unsigned long long)after);
    uint64_t polled = completion_ticks(200), polled_rate = reads_per_s(500);
    memset(&blk, 0, sizeof blk);
    if (gk_virtio_pci_use_interrupts(&pci, 1) != HV_OK ||
        gk_virtio_blk_init(&blk, &pci.dev) != GK_VIRTIO_OK) {
        dcheck("interrupts for the figures", false);
        return;
    }
    uint64_t irq = completion_ticks(200), irq_rate = reads_per_s(500);
    gk_printf("iommu-attack: driver: figure: virtio-blk doorbell to completion: %llu TSC "
              "ticks polled, %llu woken from gk_block\n",
              (unsigned long long)polled, (unsigned long long)irq);
    gk_printf("iommu-attack: driver: figure: virtio-blk 4 KiB reads: %llu/s polled, %llu/s "
              "by interrupt (guest time)\n",
              (unsigned long long)polled_rate, (unsigned long long)irq_rate);
    uint64_t lmin = 0, lat = irq_latency(LATENCY_SAMPLES, &lmin);
    gk_printf("iommu-attack: driver: figure: interrupt latency, MSI-X to the domain's handler: "
              "%llu TSC ticks median, %llu min, over 200 (0: not measured)\n",
              (unsigned long long)lat, (unsigned long long)lmin);
}

static void idle_wait(const struct hv_start_info *si)
{
    if (gk_virtio_pci_open(&pci, &fn, WINDOW_VA, WINDOW_BYTES) != HV_OK)
        return;
    if (!strstr(si->cmdline, "polled"))
        dcheck("MSI-X vector bound to a port", gk_virtio_pci_use_interrupts(&pci, 1) == HV_OK);
    dcheck("virtio-blk init", gk_virtio_blk_init(&blk, &pci.dev) == GK_VIRTIO_OK);
    gk_printf("iommu-attack: driver: idle from here\n");
    uint64_t deadline = gk_now_ns() + IDLE_WINDOW_NS + 2 * GK_NS_PER_SEC;
    unsigned wakes = 0;
    while (gk_now_ns() < deadline) {
        int rc = gk_virtio_wait_queue(&pci.dev, &blk.q, deadline);
        if (rc != GK_VIRTIO_OK && rc != GK_VIRTIO_ETIMEDOUT)
            break;
        wakes++;
    }
    gk_printf("iommu-attack: driver: waited 12 s for the device (%u returns from the wait)\n",
              wakes);
}

/* mode=intx, the driver's side: its disk by the line it shares with the
 * root's device. */
static void intx_driver(uint32_t gsi)
{
    dcheck("open the device", gk_virtio_pci_open(&pci, &fn, WINDOW_VA, WINDOW_BYTES) == HV_OK);
    dcheck("the function has no MSI-X (INTx only)", fn.msix_count == 0);
    dcheck("binding a line its IRQ capability does not cover is refused",
           gk_evtchn_bind_pirq(DRV_IRQ_SLOT, gsi + 1, &(uint32_t){0}) == HV_EPERM);
    dcheck("its INTx line bound (shared with the root)",
           gk_virtio_pci_use_intx(&pci, DRV_IRQ_SLOT, gsi) == HV_OK);
    dcheck("virtio-blk init by INTx", gk_virtio_blk_init(&blk, &pci.dev) == GK_VIRTIO_OK);
    char line[120];
    snprintf(line, sizeof line, "%u reads by the shared INTx line", INTX_READS * 2);
    dcheck(line, read_all(&blk, INTX_READS * 2, buf) == INTX_READS * 2);
    /* The root stops EOIing its binding of the line (and says so): every
     * interrupt now waits for the hypervisor's limit, and still comes. */
    char said[32];
    size_t n = 0;
    while (n < sizeof said - 1 && (n == 0 || said[n - 1] != '\n')) {
        int c = gk_console_getc_blocking();
        if (c < 0)
            break;
        said[n++] = (char)c;
    }
    said[n] = 0;
    dcheck("told the root no longer acknowledges the line", strstr(said, "root-stops-eoi") != NULL);
    dcheck("20 reads after the root stopped acknowledging the shared line",
           read_all(&blk, 20, buf) == 20);
    gk_printf("iommu-attack: driver: %llu line events with its device's ISR clear (the other "
              "device's), %llu wake-ups\n",
              (unsigned long long)pci.intx_spurious, (unsigned long long)pci.wakeups);
}

static int driver(const struct hv_start_info *si)
{
    if (gk_mm_init(si) != 0)
        gk_panic("iommu-attack: driver: gk_mm_init failed");
    char line[160];
    size_t n = 0;
    while (n < sizeof(line) - 1 && (n == 0 || line[n - 1] != '\n')) {
        int64_t got = gk_console_read(line + n, sizeof(line) - 1 - n);
        if (got <= 0)
            gk_panic("iommu-attack: driver: no instructions on the console");
        n += (size_t)got;
    }
    line[n] = 0;
    uint32_t ref = (uint32_t)field(line, "ref");
    uint64_t granted_pa = field(line, "granted"), secret_pa = field(line, "secret");

    dcheck("its PCI capability is there", gk_pci_cap_describe(DRV_PCI_SLOT, &fn) == HV_OK);
    if (strstr(si->cmdline, "mode=bench")) {
        bench(ref);
        return failures ? 1 : 0;
    }
    if (strstr(si->cmdline, "mode=idle")) {
        idle_wait(si);
        return failures ? 1 : 0;
    }
    if (strstr(si->cmdline, "mode=intx")) {
        intx_driver((uint32_t)field(line, "gsi"));
        return failures ? 1 : 0;
    }
    int64_t rc = gk_virtio_pci_open(&pci, &fn, WINDOW_VA, WINDOW_BYTES);
    if (rc == HV_EPERM) {
        gk_printf("iommu-attack: driver: bus mastering refused (%lld): no DMA\n", (long long)rc);
        return 0;
    }
    dcheck("open the device (bus mastering on)", rc == HV_OK);
    if (rc != HV_OK)
        return 1;
    if (!strstr(si->cmdline, "polled")) {
        rc = gk_virtio_pci_use_interrupts(&pci, 1);
        dcheck("MSI-X vector bound to a port", rc == HV_OK);
    }
    dcheck("virtio-blk init", gk_virtio_blk_init(&blk, &pci.dev) == GK_VIRTIO_OK);

    memset(buf, 0, sizeof buf);
    dcheck("DMA into its own page lands",
           raw_read(0, mfn_of(buf) * 4096) == GK_VIRTIO_OK && disk_pattern(buf, 512));
    if (strstr(si->cmdline, "unconfined")) {
        /* iommu=off-unsafe: one attack, whose result the root reports. */
        int r = raw_read(0, secret_pa);
        gk_printf("iommu-attack: driver: DMA into a page of the root it was not given: %d\n", r);
        return failures ? 1 : 0;
    }
    if (strstr(si->cmdline, "mode=forge")) {
        forge_msis();
        return failures ? 1 : 0;
    }
    if (strstr(si->cmdline, "mode=faults")) {
        fault_storm(secret_pa);
        return failures ? 1 : 0;
    }
    must_fail("DMA into a page of the root it was not given", secret_pa);
    dcheck("map the granted page", gk_grant_map(ROOT_SLOT_IN_DRV, ref, GRANT_VA, true) == HV_OK);
    dcheck("DMA into the granted page while mapped lands", raw_read(0, granted_pa) == GK_VIRTIO_OK);
    dcheck("unmap it", gk_grant_unmap(GRANT_VA) == HV_OK);
    must_fail("DMA into the granted page after unmapping it", granted_pa + 512);
    int64_t m = gk_hc_memory_op(HV_MEMOP_INCREASE, 0);
    dcheck("take a frame", m > 0);
    dcheck("give it back", m > 0 && gk_hc_memory_op(HV_MEMOP_DECREASE, (uint64_t)m) == HV_OK);
    if (m > 0)
        must_fail("DMA into a frame it gave back", (uint64_t)m * 4096);
    must_fail("DMA into the hypervisor's image", HV_IMAGE_PA);
    if (pci.vector_count) {
        msi_attacks();
        unbind_under_load();
    }
    gk_printf("iommu-attack: driver: %llu sleeps, %llu wake-ups\n", (unsigned long long)pci.waits,
              (unsigned long long)pci.wakeups);
    gk_printf("iommu-attack: driver: done, %d failed\n", failures);
    return failures ? 1 : 0;
}

int main(const struct hv_start_info *si)
{
    if (strstr(si->cmdline, "role=driver"))
        return driver(si);
    return root(si);
}
