/*
 * Device interrupts follow the VCPU their port is bound to (issue 14;
 * test/integration/iommu.cmake, iommu_smp_follow). The root, on a 2-CPU
 * machine under -icount, drives QEMU's two virtio-blk functions A and B by
 * MSI-X (guest-kit's driver: each wait blocks the VCPU until the vector's
 * port is pending) and reads, with the test image's HV_TEST_IRQS, how many
 * device interrupts each CPU took during each step (N = 40 reads each; the
 * CPU of the reading VCPU must take at least N / 2, the other none):
 *
 *   1. "pinned": VCPU 0 pinned to CPU 0 reads A: every interrupt on CPU 0;
 *   2. "migrated": VCPU 0 pinned to CPU 1 (the scheduler moves it; A's
 *      vector was aimed at CPU 0 when it was bound) reads A: every one on
 *      CPU 1;
 *   3. "rebound": A's port moved to VCPU 1, pinned to CPU 0, which reads A
 *      while VCPU 0 waits: every one on CPU 0;
 *   4. "spread": VCPU 1 on CPU 0 reads A while VCPU 0 on CPU 1 reads B (B's
 *      port bound on VCPU 0 in step 1, on CPU 0): each CPU takes at least N.
 *
 * Each step prints "iommu-smp: STEP: CPU 0 took X, CPU 1 took Y: ok|FAILED".
 * Ends with "iommu-smp: ok" (and a poweroff) or "iommu-smp: FAILED".
 */
#include <string.h>

#include "gk/event.h"
#include "gk/gk.h"
#include "gk/hypercall.h"
#include "gk/mm.h"
#include "gk/vcpu.h"
#include "gk/virtio_blk.h"
#include "gk/virtio_pci.h"
#include "hv/test_op.h"

#define READS 40u
#define WINDOW_VA 0x300000000ull
#define WINDOW_BYTES 0x1000000ull

static int failures;
static struct gk_pci_cap_function fns[32];
static struct gk_virtio_pci pci[2];
static struct gk_virtio_blk blk[2];
static uint8_t buf[2][4096];
static uint8_t stack1[16384] __attribute__((aligned(16)));
static volatile int read_failures;

static void irqs(uint64_t out[2])
{
    struct hv_test_irqs t;
    memset(&t, 0, sizeof t);
    if (gk_hypercall3(HC_TEST_OP, HV_TEST_IRQS, (uint64_t)(uintptr_t)&t, 0) != HV_OK)
        gk_panic("iommu-smp: FAILED HV_TEST_IRQS (not the test image?)");
    out[0] = t.taken[0];
    out[1] = t.taken[1];
}

static int64_t pin(unsigned vcpu, uint64_t mask)
{
    struct hv_domctl_vcpu_pin p = {.dom_slot = HV_CAP_SLOT_SELF, .vcpu = vcpu, .cpu_mask = mask};
    return gk_hc_domain_op(HV_DOMCTL_VCPU_PIN, &p);
}

/* Yields until the calling VCPU `vcpu` runs on `cpu` (the pin moves it). */
static bool on_cpu(unsigned vcpu, unsigned cpu)
{
    for (unsigned i = 0; i < 1000; i++) {
        struct hv_domctl_vcpu_info vi = {.dom_slot = HV_CAP_SLOT_SELF, .vcpu = vcpu};
        if (gk_hc_domain_op(HV_DOMCTL_VCPU_INFO, &vi) == HV_OK && vi.cpu == cpu)
            return true;
        gk_hc_yield();
    }
    return false;
}

/* N one-sector reads of device i, each waited for by interrupt. */
static void reads(void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    for (unsigned n = 0; n < READS; n++)
        if (gk_virtio_blk_read(&blk[i], n, buf[i], 1) != GK_VIRTIO_OK ||
            memcmp(buf[i], "virtio-blk-data\n", 16) != 0)
            __atomic_add_fetch(&read_failures, 1, __ATOMIC_RELAXED);
}

/* The step's interrupts per CPU since `before`: on CPU `want` at least
 * READS / 2 and none on the other (want 2: at least READS / 2 on each). A
 * read whose completion is there before the driver would sleep raises no
 * interrupt (the driver arms it only to wait), so not every read counts. */
static void judge(const char *step, const uint64_t before[2], unsigned want)
{
    uint64_t now[2];
    irqs(now);
    uint64_t d0 = now[0] - before[0], d1 = now[1] - before[1];
    bool ok = read_failures == 0 && (want == 0   ? d0 >= READS / 2 && d1 == 0
                                     : want == 1 ? d1 >= READS / 2 && d0 == 0
                                                 : d0 >= READS / 2 && d1 >= READS / 2);
    failures += !ok;
    gk_printf("iommu-smp: %s: CPU 0 took %llu, CPU 1 took %llu device interrupts: %s\n", step,
              (unsigned long long)d0, (unsigned long long)d1, ok ? "ok" : "FAILED");
}

static void vcpu1_reads(void *arg)
{
    gk_events_init_vcpu();
    reads(arg);
}

int main(const struct hv_start_info *si)
{
    if (gk_mm_init(si) != 0)
        gk_panic("iommu-smp: gk_mm_init failed");
    size_t n = gk_pci_enumerate_caps(HV_ROOT_SLOT_DEVICE_FIRST, fns, 32);
    unsigned found = 0;
    for (size_t i = 0; i < n && i < 32 && found < 2; i++) {
        if (gk_virtio_pci_device_type(&fns[i]) != GK_VIRTIO_ID_BLOCK)
            continue;
        struct gk_virtio_pci *p = &pci[found];
        if (gk_virtio_pci_open(p, &fns[i], WINDOW_VA + found * WINDOW_BYTES, WINDOW_BYTES) !=
                HV_OK ||
            gk_virtio_pci_use_interrupts(p, 1) != HV_OK ||
            gk_virtio_blk_init(&blk[found], &p->dev) != GK_VIRTIO_OK)
            gk_panic("iommu-smp: FAILED opening virtio-blk %u by MSI-X", found);
        found++;
    }
    if (found < 2)
        gk_panic("iommu-smp: FAILED: two virtio-blk functions wanted, %u found", found);
    gk_printf("iommu-smp: A and B by MSI-X, ports %u and %u on VCPU 0\n", pci[0].port[0],
              pci[1].port[0]);
    uint64_t before[2];

    if (pin(0, 1) != HV_OK || !on_cpu(0, 0))
        gk_panic("iommu-smp: FAILED pinning VCPU 0 to CPU 0");
    irqs(before);
    reads((void *)0);
    judge("pinned (VCPU 0 on CPU 0 reads A)", before, 0);

    if (pin(0, 2) != HV_OK || !on_cpu(0, 1))
        gk_panic("iommu-smp: FAILED pinning VCPU 0 to CPU 1");
    irqs(before);
    reads((void *)0);
    judge("migrated (VCPU 0 moved to CPU 1 reads A)", before, 1);

    if (pin(1, 1) != HV_OK || gk_evtchn_bind_vcpu(pci[0].port[0], 1) != HV_OK)
        gk_panic("iommu-smp: FAILED moving A's port to VCPU 1");
    irqs(before);
    if (gk_vcpu_start(1, vcpu1_reads, (void *)0, stack1, sizeof stack1) != HV_OK)
        gk_panic("iommu-smp: FAILED starting VCPU 1");
    gk_vcpu_join(1);
    judge("rebound (A's port on VCPU 1, on CPU 0, which reads A)", before, 0);

    irqs(before);
    if (gk_vcpu_start(1, vcpu1_reads, (void *)0, stack1, sizeof stack1) != HV_OK)
        gk_panic("iommu-smp: FAILED starting VCPU 1 again");
    reads((void *)1);
    gk_vcpu_join(1);
    judge("spread (VCPU 1 on CPU 0 reads A, VCPU 0 on CPU 1 reads B)", before, 2);

    gk_printf("iommu-smp: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
