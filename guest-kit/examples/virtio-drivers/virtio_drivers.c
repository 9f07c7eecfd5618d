/*
 * virtio-drivers: the root domain drives QEMU's virtio devices with
 * guest-kit's drivers (gk/virtio_blk.h, gk/virtio_net.h,
 * gk/virtio_console.h over gk/virtio_pci.h). Completion is interrupt-driven
 * (MSI-X vectors bound to event channels, the VCPU asleep in gk_block
 * meanwhile) when the hypervisor sets the vectors up, else polled; "polled"
 * on the command line keeps every device polled, "interrupts" makes a
 * device that cannot have them a failure. What it finds decides what it
 * tests:
 *
 * - virtio-blk: the capacity, every sector of the disk against the pattern
 *   the test wrote ("virtio-blk-data" + '\n' repeated), a read past the end
 *   refused, a sector written and read back (and flushed if offered), the
 *   sequential read rate (measured, KiB/s of guest time).
 * - two virtio-net devices on one QEMU hub: frames of many lengths each way,
 *   every one must arrive intact, in order, at the other device only.
 * - virtio-console: a line written to port 0 (the test reads the chardev's
 *   file); with "console_read=N" on the command line, N bytes read from it
 *   (a newline is printed as '|').
 *
 * Every check prints a line; a failed one contains "FAILED". Ends with
 * "virtio-drivers: ok" and a poweroff.
 */
#include <stdlib.h>
#include <string.h>

#include "gk/gk.h"
#include "gk/mm.h"
#include "gk/spinlock.h"
#include "gk/time.h"
#include "gk/virtio_blk.h"
#include "gk/virtio_console.h"
#include "gk/virtio_net.h"
#include "gk/virtio_pci.h"

#define MAX_FUNCTIONS 32u
#define MAX_DEVS 4u
#define WINDOW_VA 0x300000000ull
#define WINDOW_BYTES 0x1000000ull /* 16 MiB of virtual space per device */
/* How long to wait for a frame or console input before calling it lost: a
 * hang-catcher (guest time is host time without -icount; a busy host slows
 * QEMU's devices), the waits end as soon as the bytes are there. */
#define TIMEOUT_NS 30000000000ull

static int failures;
static bool want_polled, need_interrupts;
static struct gk_pci_cap_function fns[MAX_FUNCTIONS];
static struct gk_virtio_pci pcis[MAX_DEVS];
static unsigned pci_count;

static void check(const char *what, bool ok)
{
    if (!ok)
        failures++;
    gk_printf("virtio-drivers: %s: %s\n", what, ok ? "ok" : "FAILED");
}

static void check_rc(const char *what, int rc, int want)
{
    if (rc != want) {
        failures++;
        gk_printf("virtio-drivers: %s: FAILED (%d, want %d)\n", what, rc, want);
    } else {
        gk_printf("virtio-drivers: %s: ok\n", what);
    }
}

static struct gk_virtio_pci *open_dev(const struct gk_pci_cap_function *f)
{
    if (pci_count >= MAX_DEVS)
        return NULL;
    struct gk_virtio_pci *p = &pcis[pci_count];
    int64_t rc = gk_virtio_pci_open(p, f, WINDOW_VA + pci_count * WINDOW_BYTES, WINDOW_BYTES);
    if (rc != HV_OK) {
        gk_printf("virtio-drivers: FAILED open %04x:%04x: %lld\n", f->dev.vendor_id,
                  f->dev.device_id, (long long)rc);
        failures++;
        return NULL;
    }
    pci_count++;
    if (want_polled)
        return p;
    rc = gk_virtio_pci_use_interrupts(p, 2);
    if (rc == HV_OK) {
        gk_printf("virtio-drivers: %02x:%02x.%u: interrupts: MSI-X, %u vectors, ports %u..%u\n",
                  f->dev.bdf.bus, f->dev.bdf.dev, f->dev.bdf.fn, p->vector_count, p->port[0],
                  p->port[p->vector_count - 1]);
    } else {
        gk_printf("virtio-drivers: %02x:%02x.%u: %sinterrupts unavailable (%lld): polled\n",
                  f->dev.bdf.bus, f->dev.bdf.dev, f->dev.bdf.fn, need_interrupts ? "FAILED " : "",
                  (long long)rc);
        failures += need_interrupts;
    }
    return p;
}

static const char *mode(const struct gk_virtio_pci *p)
{
    return p->vector_count ? "interrupts" : "polled";
}

/* ---- block --------------------------------------------------------------- */

static const char PATTERN[] = "virtio-blk-data\n"; /* 16 bytes */
static uint8_t blk_buf[64 * 1024];
static struct gk_virtio_blk blk;

static bool pattern_ok(const uint8_t *b, size_t len, uint64_t byte_offset)
{
    for (size_t i = 0; i < len; i++)
        if (b[i] != (uint8_t)PATTERN[(byte_offset + i) % 16])
            return false;
    return true;
}

static void test_blk(struct gk_virtio_pci *p)
{
    check_rc("blk: init", gk_virtio_blk_init(&blk, &p->dev), GK_VIRTIO_OK);
    if (p->dev.broken)
        return;
    uint64_t cap = blk.capacity_sectors;
    gk_printf("virtio-blk: capacity %llu sectors, queue %u, flush %u, read-only %u\n",
              (unsigned long long)cap, blk.q.size, blk.has_flush, blk.read_only);
    check("blk: capacity is 2048 sectors", cap == 2048);
    uint64_t chunk = sizeof(blk_buf) / GK_VIRTIO_BLK_SECTOR_BYTES;
    bool all = true;
    for (uint64_t s = 0; s < cap && all; s += chunk) {
        uint32_t n = (uint32_t)(cap - s < chunk ? cap - s : chunk);
        int rc = gk_virtio_blk_read(&blk, s, blk_buf, n);
        all = rc == GK_VIRTIO_OK &&
              pattern_ok(blk_buf, (size_t)n * GK_VIRTIO_BLK_SECTOR_BYTES, s * 512);
    }
    check("blk: every sector holds the pattern", all);
    /* The rate: the whole disk read 8 times in 64 KiB calls (two requests
     * of 32 KiB each), after the pass above warmed QEMU's side. */
    uint64_t t0 = gk_now_ns(), kib = 0;
    for (unsigned pass = 0; pass < 8 && all; pass++)
        for (uint64_t s = 0; s < cap && all; s += chunk) {
            uint32_t n = (uint32_t)(cap - s < chunk ? cap - s : chunk);
            all = gk_virtio_blk_read(&blk, s, blk_buf, n) == GK_VIRTIO_OK;
            kib += n / 2;
        }
    uint64_t t1 = gk_now_ns();
    check("blk: 8 more passes read", all);
    if (all && t1 > t0)
        gk_printf("virtio-blk: measured sequential read %llu KiB in %llu us: %llu KiB/s "
                  "(TCG, 32 KiB per request, %s)\n",
                  (unsigned long long)kib, (unsigned long long)((t1 - t0) / 1000),
                  (unsigned long long)(kib * 1000000000ull / (t1 - t0)), mode(p));
    check_rc("blk: a read past the end is refused", gk_virtio_blk_read(&blk, cap - 1, blk_buf, 2),
             GK_VIRTIO_ERANGE);
    check_rc("blk: a read at sector 2^64-1 is refused", gk_virtio_blk_read(&blk, ~0ull, blk_buf, 1),
             GK_VIRTIO_ERANGE);

    /* Write sectors 5..6 with a new pattern, read back, check the neighbours. */
    static uint8_t w[1024], r[2048];
    for (unsigned i = 0; i < sizeof(w); i++)
        w[i] = (uint8_t)(i * 7 + 3);
    check_rc("blk: write sectors 5-6", gk_virtio_blk_write(&blk, 5, w, 2), GK_VIRTIO_OK);
    if (blk.has_flush)
        check_rc("blk: flush", gk_virtio_blk_flush(&blk), GK_VIRTIO_OK);
    check_rc("blk: read sectors 4-7", gk_virtio_blk_read(&blk, 4, r, 4), GK_VIRTIO_OK);
    static uint8_t rr[2048];
    memcpy(rr, r, sizeof(rr));
    check("blk: sectors 5-6 read back as written", memcmp(rr + 512, w, sizeof(w)) == 0);
    check("blk: sectors 4 and 7 unchanged",
          pattern_ok(rr, 512, 4 * 512) && pattern_ok(rr + 1536, 512, 7 * 512));
    check("blk: device not broken", !p->dev.broken);
}

/* ---- network ------------------------------------------------------------- */

static struct gk_virtio_net nets[2];
static uint8_t frame[GK_VIRTIO_NET_FRAME_MAX], got[GK_VIRTIO_NET_FRAME_MAX];

static size_t make_frame(const uint8_t *dst, const uint8_t *src, unsigned seq, size_t len)
{
    memcpy(frame, dst, 6);
    memcpy(frame + 6, src, 6);
    frame[12] = 0x88; /* local experimental ethertype 0x88b5 */
    frame[13] = 0xb5;
    for (size_t i = 14; i < len; i++)
        frame[i] = (uint8_t)(seq * 31 + i);
    frame[14] = (uint8_t)seq;
    frame[15] = (uint8_t)(seq >> 8);
    return len;
}

/* Sends `count` frames from a to b, each received and compared before the
 * next; checks nothing comes back to a. */
static bool net_stream(struct gk_virtio_net *a, struct gk_virtio_net *b, unsigned count)
{
    for (unsigned seq = 0; seq < count; seq++) {
        size_t len = 60 + (seq * 97) % (GK_VIRTIO_NET_FRAME_MAX - 59);
        if (seq == 0)
            len = GK_VIRTIO_NET_FRAME_MAX;
        make_frame(b->mac, a->mac, seq, len);
        int rc;
        uint64_t start = gk_now_ns();
        while ((rc = gk_virtio_net_send(a, frame, len)) == GK_VIRTIO_EAGAIN &&
               gk_now_ns() - start < TIMEOUT_NS)
            gk_cpu_relax();
        if (rc != GK_VIRTIO_OK) {
            gk_printf("virtio-net: FAILED send %u: %d\n", seq, rc);
            return false;
        }
        size_t n = 0;
        rc = gk_virtio_net_recv_wait(b, got, sizeof(got), &n, TIMEOUT_NS);
        if (rc != GK_VIRTIO_OK) {
            gk_printf("virtio-net: FAILED receive %u (len %u): %d\n", seq, (unsigned)len, rc);
            return false;
        }
        if (n != len || memcmp(got, frame, len) != 0) {
            gk_printf("virtio-net: FAILED frame %u: %u bytes, sent %u, %s\n", seq, (unsigned)n,
                      (unsigned)len, n == len ? "contents differ" : "length differs");
            return false;
        }
        if (gk_virtio_net_recv(a, got, sizeof(got), &n) != GK_VIRTIO_EAGAIN) {
            gk_printf("virtio-net: FAILED the sender received a frame\n");
            return false;
        }
    }
    return true;
}

static void test_net(struct gk_virtio_pci *pa, struct gk_virtio_pci *pb)
{
    check_rc("net0: init", gk_virtio_net_init(&nets[0], &pa->dev), GK_VIRTIO_OK);
    check_rc("net1: init", gk_virtio_net_init(&nets[1], &pb->dev), GK_VIRTIO_OK);
    if (pa->dev.broken || pb->dev.broken)
        return;
    for (unsigned i = 0; i < 2; i++)
        gk_printf("virtio-net: net%u mac %02x:%02x:%02x:%02x:%02x:%02x, rx %u tx %u buffers\n", i,
                  nets[i].mac[0], nets[i].mac[1], nets[i].mac[2], nets[i].mac[3], nets[i].mac[4],
                  nets[i].mac[5], nets[i].rx_count, nets[i].tx_count);
    check("net: both have a MAC, and they differ",
          nets[0].has_mac && nets[1].has_mac && memcmp(nets[0].mac, nets[1].mac, 6) != 0);
    check_rc("net: a frame too long is refused",
             gk_virtio_net_send(&nets[0], frame, GK_VIRTIO_NET_FRAME_MAX + 1), GK_VIRTIO_ERANGE);
    check_rc("net: a frame too short is refused", gk_virtio_net_send(&nets[0], frame, 13),
             GK_VIRTIO_ERANGE);
    check("net: 100 frames net0 -> net1 arrive intact", net_stream(&nets[0], &nets[1], 100));
    check("net: 100 frames net1 -> net0 arrive intact", net_stream(&nets[1], &nets[0], 100));
    /* A burst: 16 frames queued before any is received. */
    unsigned sent = 0;
    for (unsigned seq = 0; seq < 16; seq++) {
        make_frame(nets[1].mac, nets[0].mac, 1000 + seq, 200 + seq);
        uint64_t start = gk_now_ns();
        int rc;
        while ((rc = gk_virtio_net_send(&nets[0], frame, 200 + seq)) == GK_VIRTIO_EAGAIN &&
               gk_now_ns() - start < TIMEOUT_NS)
            gk_cpu_relax();
        sent += rc == GK_VIRTIO_OK;
    }
    unsigned received = 0;
    bool in_order = true;
    uint64_t start = gk_now_ns();
    while (received < sent && gk_now_ns() - start < TIMEOUT_NS) {
        size_t n;
        if (gk_virtio_net_recv_wait(&nets[1], got, sizeof(got), &n, TIMEOUT_NS) != GK_VIRTIO_OK)
            continue;
        make_frame(nets[1].mac, nets[0].mac, 1000 + received, 200 + received);
        in_order &= n == 200 + received && memcmp(got, frame, n) == 0;
        received++;
    }
    gk_printf("virtio-net: burst: %u sent, %u received\n", sent, received);
    check("net: a burst of 16 frames arrives intact and in order",
          sent == 16 && received == 16 && in_order);
    check("net: devices not broken", !pa->dev.broken && !pb->dev.broken);
}

/* ---- console ------------------------------------------------------------- */

static struct gk_virtio_console con;

static void test_console(struct gk_virtio_pci *p, unsigned read_bytes)
{
    check_rc("console: init", gk_virtio_console_init(&con, &p->dev), GK_VIRTIO_OK);
    if (p->dev.broken)
        return;
    static const char line[] = "virtio-console: hello from the root domain\n";
    check_rc("console: write a line", gk_virtio_console_write(&con, line, sizeof(line) - 1),
             GK_VIRTIO_OK);
    static char big[6000];
    for (unsigned i = 0; i < sizeof(big) - 1; i++)
        big[i] = (char)('a' + i % 26);
    big[sizeof(big) - 1] = '\n';
    check_rc("console: write 6000 bytes (two chunks)",
             gk_virtio_console_write(&con, big, sizeof(big)), GK_VIRTIO_OK);
    check_rc("console: write the last line",
             gk_virtio_console_write(&con, "virtio-console: end\n", 20), GK_VIRTIO_OK);
    if (read_bytes) {
        static char in[256];
        size_t have = 0;
        uint64_t start = gk_now_ns();
        while (have < read_bytes && have < sizeof(in) - 1 && gk_now_ns() - start < TIMEOUT_NS) {
            size_t n = 0;
            int rc =
                gk_virtio_console_read_wait(&con, in + have, sizeof(in) - 1 - have, &n, TIMEOUT_NS);
            if (rc == GK_VIRTIO_OK)
                have += n;
            else if (rc != GK_VIRTIO_EAGAIN)
                break;
        }
        in[have] = 0;
        for (size_t i = 0; i < have; i++)
            if (in[i] == '\n')
                in[i] = '|'; /* keep it on one log line */
        gk_printf("virtio-console: read %u bytes: \"%s\"\n", (unsigned)have, in);
        check("console: read the expected number of bytes", have == read_bytes);
    }
    check("console: device not broken", !p->dev.broken);
}

static unsigned arg_uint(const char *cmdline, const char *key)
{
    const char *s = strstr(cmdline, key);
    if (!s)
        return 0;
    return (unsigned)strtoul(s + strlen(key), NULL, 10);
}

int main(const struct hv_start_info *si)
{
    if (gk_mm_init(si) != 0)
        gk_panic("virtio-drivers: gk_mm_init failed");
    want_polled = strstr(si->cmdline, "polled") != NULL;
    need_interrupts = strstr(si->cmdline, "interrupts") != NULL;
    size_t n = gk_pci_enumerate_caps(HV_ROOT_SLOT_DEVICE_FIRST, fns, MAX_FUNCTIONS);
    if (n > MAX_FUNCTIONS)
        n = MAX_FUNCTIONS;
    struct gk_virtio_pci *blkdev = NULL, *net[2] = {NULL, NULL}, *condev = NULL;
    unsigned net_count = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned type = gk_virtio_pci_device_type(&fns[i]);
        if (type == GK_VIRTIO_ID_BLOCK && !blkdev)
            blkdev = open_dev(&fns[i]);
        else if (type == GK_VIRTIO_ID_NET && net_count < 2)
            net[net_count++] = open_dev(&fns[i]);
        else if (type == GK_VIRTIO_ID_CONSOLE && !condev)
            condev = open_dev(&fns[i]);
    }
    gk_printf("virtio-drivers: %u PCI functions; blk %u, net %u, console %u\n", (unsigned)n,
              blkdev != NULL, net_count, condev != NULL);
    if (blkdev)
        test_blk(blkdev);
    if (net_count == 2 && net[0] && net[1])
        test_net(net[0], net[1]);
    if (condev)
        test_console(condev, arg_uint(si->cmdline, "console_read="));
    if (!blkdev && net_count < 2 && !condev)
        check("a device to test", false);
    for (unsigned i = 0; i < pci_count; i++) {
        if (pcis[i].dev.broken)
            gk_printf("virtio-drivers: device %u broken: %s\n", i, pcis[i].dev.broken_why);
        gk_printf("virtio-drivers: device %u: %s, %llu sleeps, %llu wake-ups\n", i, mode(&pcis[i]),
                  (unsigned long long)pcis[i].waits, (unsigned long long)pcis[i].wakeups);
    }
    if (failures) {
        gk_printf("virtio-drivers: FAILED %d checks\n", failures);
        return 1;
    }
    gk_printf("virtio-drivers: ok\n");
    return 0;
}
