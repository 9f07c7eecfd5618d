/*
 * Host tests of guest-kit/src/pci.c over a fake configuration space:
 * enumeration (multi-function rules, bus range, truncated output), BAR
 * decoding and sizing (I/O, 32- and 64-bit memory, unimplemented, malformed;
 * decoding disabled while sizing and everything restored), capability
 * lists (found, corrupt, looping), the virtio-PCI capability parser, and
 * random config-space garbage (always terminates, results in bounds).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gk/pci.h"
#include "hv/abi.h"

struct fake_fn {
    bool present;
    struct gk_pci_bdf bdf;
    uint8_t cfg[256];
    uint32_t bar_mask[6]; /* writable bits of each BAR dword */
    unsigned bar_writes_while_decoding;
};

#define FNS 16
static struct fake_fn fns[FNS];
static unsigned fn_count, reads;

static struct fake_fn *lookup(struct gk_pci_bdf bdf)
{
    for (unsigned i = 0; i < fn_count; i++)
        if (fns[i].present && fns[i].bdf.bus == bdf.bus && fns[i].bdf.dev == bdf.dev &&
            fns[i].bdf.fn == bdf.fn)
            return &fns[i];
    return NULL;
}

static uint32_t fake_read32(void *ctx, struct gk_pci_bdf bdf, uint16_t off)
{
    (void)ctx;
    reads++;
    assert_int_equal(off % 4, 0);
    assert_true(off < 256);
    struct fake_fn *f = lookup(bdf);
    if (!f)
        return 0xffffffffu;
    uint32_t v;
    memcpy(&v, f->cfg + off, 4);
    return v;
}

static void fake_write32(void *ctx, struct gk_pci_bdf bdf, uint16_t off, uint32_t value)
{
    (void)ctx;
    assert_int_equal(off % 4, 0);
    struct fake_fn *f = lookup(bdf);
    assert_non_null(f);
    if (off == GK_PCI_OFF_COMMAND) {
        uint16_t cmd = (uint16_t)value;
        memcpy(f->cfg + 4, &cmd, 2); /* status is W1C: writing 0 keeps it */
        return;
    }
    if (off >= 0x10 && off < 0x28) {
        unsigned i = (off - 0x10u) / 4;
        uint32_t old;
        uint16_t cmd;
        memcpy(&old, f->cfg + off, 4);
        memcpy(&cmd, f->cfg + 4, 2);
        uint32_t below = 0;
        if (i > 0)
            memcpy(&below, f->cfg + off - 4, 4);
        bool upper_half = i > 0 && !(below & 1) && ((below >> 1) & 3) == 2;
        bool io = !upper_half && (old & 1);
        if (cmd & (io ? GK_PCI_COMMAND_IO : GK_PCI_COMMAND_MEMORY))
            f->bar_writes_while_decoding++;
        uint32_t keep = ~f->bar_mask[i];
        uint32_t v = (old & keep) | (value & f->bar_mask[i]);
        memcpy(f->cfg + off, &v, 4);
        return;
    }
    fail_msg("unexpected config write at %#x", off);
}

static const struct gk_pci_cfg cfg = {fake_read32, fake_write32, NULL};

static void put8(struct fake_fn *f, unsigned off, uint8_t v)
{
    f->cfg[off] = v;
}
static void put16(struct fake_fn *f, unsigned off, uint16_t v)
{
    memcpy(f->cfg + off, &v, 2);
}
static void put32(struct fake_fn *f, unsigned off, uint32_t v)
{
    memcpy(f->cfg + off, &v, 4);
}

static struct fake_fn *add_fn(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t vendor,
                              uint16_t device, uint32_t class_rev, uint8_t header)
{
    struct fake_fn *f = &fns[fn_count++];
    memset(f, 0, sizeof(*f));
    f->present = true;
    f->bdf = (struct gk_pci_bdf){bus, dev, fn};
    put16(f, 0, vendor);
    put16(f, 2, device);
    put32(f, 8, class_rev);
    put8(f, 0x0e, header);
    put16(f, 4, GK_PCI_COMMAND_IO | GK_PCI_COMMAND_MEMORY);
    return f;
}

/* A virtio cap: id 9, next, len, type, bar, pad, offset, length. */
static void virtio_cap(struct fake_fn *f, unsigned at, unsigned next, uint8_t len, uint8_t type,
                       uint8_t bar, uint32_t offset, uint32_t length)
{
    put8(f, at, GK_PCI_CAP_ID_VENDOR);
    put8(f, at + 1, (uint8_t)next);
    put8(f, at + 2, len);
    put8(f, at + 3, type);
    put8(f, at + 4, bar);
    put32(f, at + 8, offset);
    put32(f, at + 12, length);
}

static struct fake_fn *net;

/* The standard machine of these tests. */
static int setup(void **state)
{
    (void)state;
    fn_count = 0;
    add_fn(0, 0, 0, 0x8086, 0x29c0, 0x06000002, 0x00); /* host bridge */
    add_fn(0, 2, 0, 0x1234, 0x0001, 0x03000000, 0x80); /* multi-function */
    add_fn(0, 2, 3, 0x1234, 0x0002, 0x04010000, 0x00);
    net = add_fn(0, 3, 0, 0x1af4, 0x1041, 0x02000001, 0x00);
    add_fn(0, 4, 0, 0x1b36, 0x0005, 0xff000000, 0x00); /* single function... */
    add_fn(0, 4, 1, 0x1b36, 0x0006, 0xff000000, 0x00); /* ...so this is not seen */
    add_fn(1, 0, 0, 0x1af4, 0x1000, 0x02000000, 0x00); /* behind a bridge */

    put32(net, 0x2c, 0x11001af4);
    put16(net, 0x3c, 0x010b);     /* pin A, line 11 */
    put32(net, 0x10, 0x0000c001); /* BAR0: I/O, 32 bytes */
    net->bar_mask[0] = 0xffffffe0u;
    put32(net, 0x14, 0xfebd0000); /* BAR1: mem32, 4 KiB */
    net->bar_mask[1] = 0xfffff000u;
    /* BAR2/3 unimplemented (mask 0). BAR4/5: 64-bit prefetchable 16 KiB at 0x1_fe000000. */
    put32(net, 0x20, 0xfe00000c);
    net->bar_mask[4] = 0xffffc000u;
    put32(net, 0x24, 0x00000001);
    net->bar_mask[5] = 0xffffffffu;

    put16(net, 6, GK_PCI_STATUS_CAP_LIST);
    put8(net, 0x34, 0x40);
    put8(net, 0x40, GK_PCI_CAP_ID_MSIX);
    put8(net, 0x41, 0x50);
    virtio_cap(net, 0x50, 0x60, 16, GK_VIRTIO_PCI_CAP_COMMON_CFG, 4, 0x0000, 0x1000);
    virtio_cap(net, 0x60, 0x70, 16, GK_VIRTIO_PCI_CAP_ISR_CFG, 4, 0x1000, 0x1000);
    virtio_cap(net, 0x70, 0x80, 16, GK_VIRTIO_PCI_CAP_DEVICE_CFG, 4, 0x2000, 0x1000);
    virtio_cap(net, 0x80, 0x98, 20, GK_VIRTIO_PCI_CAP_NOTIFY_CFG, 4, 0x3000, 0x1000);
    put32(net, 0x90, 4); /* notify_off_multiplier */
    virtio_cap(net, 0x98, 0x00, 20, GK_VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0);
    return 0;
}

static void test_cf8_address(void **state)
{
    (void)state;
    assert_int_equal(gk_pci_cf8_address((struct gk_pci_bdf){1, 2, 3}, 0x3d), 0x8001133cu);
    assert_int_equal(gk_pci_cf8_address((struct gk_pci_bdf){255, 31, 7}, 0xff), 0x80fffffcu);
    assert_int_equal(gk_pci_cf8_address((struct gk_pci_bdf){0, 0, 0}, 0), 0x80000000u);
}

static void test_sub_dword_reads(void **state)
{
    (void)state;
    struct gk_pci_bdf b = {0, 3, 0};
    assert_int_equal(gk_pci_read16(&cfg, b, 0), 0x1af4);
    assert_int_equal(gk_pci_read16(&cfg, b, 2), 0x1041);
    assert_int_equal(gk_pci_read8(&cfg, b, 0x3d), 0x01);
    assert_int_equal(gk_pci_read8(&cfg, b, 0x0b), 0x02);
    assert_int_equal(gk_pci_read32(&cfg, b, 0x100), 0xffffffffu); /* beyond: no access */
    assert_int_equal(gk_pci_read16(&cfg, (struct gk_pci_bdf){9, 9, 1}, 0), 0xffff);
}

static void test_enumerate(void **state)
{
    (void)state;
    struct gk_pci_device d[8];
    memset(d, 0xa5, sizeof(d));
    size_t n = gk_pci_enumerate(&cfg, 0, 1, d, 8);
    assert_int_equal(n, 6);
    const uint16_t want[6][4] = {{0, 0, 0, 0x29c0}, {0, 2, 0, 0x0001}, {0, 2, 3, 0x0002},
                                 {0, 3, 0, 0x1041}, {0, 4, 0, 0x0005}, {1, 0, 0, 0x1000}};
    for (unsigned i = 0; i < 6; i++) {
        assert_int_equal(d[i].bdf.bus, want[i][0]);
        assert_int_equal(d[i].bdf.dev, want[i][1]);
        assert_int_equal(d[i].bdf.fn, want[i][2]);
        assert_int_equal(d[i].device_id, want[i][3]);
    }
    assert_int_equal(d[1].header_type, 0); /* the multi-function bit is masked */
    assert_int_equal(d[3].vendor_id, 0x1af4);
    assert_int_equal(d[3].class_code, 0x02);
    assert_int_equal(d[3].subclass, 0x00);
    assert_int_equal(d[3].revision, 0x01);
    assert_int_equal(d[3].subsystem_vendor_id, 0x1af4);
    assert_int_equal(d[3].subsystem_id, 0x1100);
    assert_int_equal(d[3].irq_line, 11);
    assert_int_equal(d[3].irq_pin, 1);
    assert_int_equal(d[0].class_code, 0x06);
    assert_int_equal(d[0].revision, 0x02);
    assert_int_equal(d[6].vendor_id, 0xa5a5); /* untouched */

    /* Only bus 0; and a short output array. */
    assert_int_equal(gk_pci_enumerate(&cfg, 0, 0, d, 8), 5);
    memset(d, 0xa5, sizeof(d));
    assert_int_equal(gk_pci_enumerate(&cfg, 0, 1, d, 2), 6);
    assert_int_equal(d[1].device_id, 0x0001);
    assert_int_equal(d[2].vendor_id, 0xa5a5);
    /* Absent function 0 ends the device: 32 probes per empty bus. */
    reads = 0;
    assert_int_equal(gk_pci_enumerate(&cfg, 5, 5, d, 8), 0);
    assert_int_equal(reads, 32);
    /* The whole bus range terminates (uint8_t bound). */
    assert_int_equal(gk_pci_enumerate(&cfg, 0, 255, NULL, 0), 6);
}

static void check_restored(const uint8_t *before)
{
    assert_memory_equal(net->cfg, before, 256);
    assert_int_equal(net->bar_writes_while_decoding, 0);
}

static void test_bars(void **state)
{
    (void)state;
    struct gk_pci_bdf b = {0, 3, 0};
    uint8_t before[256];
    memcpy(before, net->cfg, 256);
    struct gk_pci_bar bar;
    assert_int_equal(gk_pci_read_bar(&cfg, b, 0, &bar), HV_OK);
    assert_true(bar.is_io);
    assert_int_equal(bar.base, 0xc000);
    assert_int_equal(bar.size_bytes, 32);
    assert_int_equal(gk_pci_read_bar(&cfg, b, 1, &bar), HV_OK);
    assert_false(bar.is_io || bar.is_64bit || bar.prefetchable);
    assert_int_equal(bar.base, 0xfebd0000u);
    assert_int_equal(bar.size_bytes, 4096);
    assert_int_equal(gk_pci_read_bar(&cfg, b, 2, &bar), HV_ENOENT);
    assert_int_equal(gk_pci_read_bar(&cfg, b, 4, &bar), HV_OK);
    assert_true(bar.is_64bit && bar.prefetchable && !bar.is_io);
    assert_int_equal(bar.base, 0x1fe000000ull);
    assert_int_equal(bar.size_bytes, 16384);
    assert_int_equal(gk_pci_read_bar(&cfg, b, 5, &bar), HV_ENOENT); /* upper half */
    assert_int_equal(gk_pci_read_bar(&cfg, b, 6, &bar), HV_EINVAL);
    check_restored(before);

    /* A size mask with a hole. */
    net->bar_mask[1] = 0xfff0f000u;
    assert_int_equal(gk_pci_read_bar(&cfg, b, 1, &bar), HV_EINVAL);
    net->bar_mask[1] = 0xfffff000u;
    /* The reserved memory type. */
    put32(net, 0x14, 0xfebd0002);
    assert_int_equal(gk_pci_read_bar(&cfg, b, 1, &bar), HV_ENOTSUP);
    /* A 64-bit BAR in the last slot. */
    put32(net, 0x24, 0x00000004);
    put32(net, 0x20, 0);
    assert_int_equal(gk_pci_read_bar(&cfg, b, 5, &bar), HV_EINVAL);
    /* A multi-function type-0 device is fine; a bridge (type 1) is refused. */
    assert_int_equal(gk_pci_read_bar(&cfg, (struct gk_pci_bdf){0, 2, 0}, 0, &bar), HV_ENOENT);
    put8(lookup((struct gk_pci_bdf){0, 2, 0}), 0x0e, 0x81);
    assert_int_equal(gk_pci_read_bar(&cfg, (struct gk_pci_bdf){0, 2, 0}, 0, &bar), HV_EINVAL);
}

static void test_caps(void **state)
{
    (void)state;
    struct gk_pci_bdf b = {0, 3, 0};
    assert_int_equal(gk_pci_find_cap(&cfg, b, GK_PCI_CAP_ID_MSIX, 0), 0x40);
    assert_int_equal(gk_pci_find_cap(&cfg, b, GK_PCI_CAP_ID_VENDOR, 0), 0x50);
    assert_int_equal(gk_pci_find_cap(&cfg, b, GK_PCI_CAP_ID_VENDOR, 0x50), 0x60);
    assert_int_equal(gk_pci_find_cap(&cfg, b, GK_PCI_CAP_ID_VENDOR, 0x98), HV_ENOENT);
    assert_int_equal(gk_pci_find_cap(&cfg, b, GK_PCI_CAP_ID_MSI, 0), HV_ENOENT);
    assert_int_equal(gk_pci_find_cap(&cfg, (struct gk_pci_bdf){0, 0, 0}, GK_PCI_CAP_ID_MSIX, 0),
                     HV_ENOENT); /* no capability list */

    struct gk_virtio_pci_caps c;
    assert_int_equal(gk_virtio_pci_find_caps(&cfg, b, &c), HV_OK);
    assert_true(c.has_common && c.has_notify && c.has_isr && c.has_device);
    assert_int_equal(c.common.bar, 4);
    assert_int_equal(c.common.offset, 0);
    assert_int_equal(c.common.length, 0x1000);
    assert_int_equal(c.isr.offset, 0x1000);
    assert_int_equal(c.device.offset, 0x2000);
    assert_int_equal(c.notify.offset, 0x3000);
    assert_int_equal(c.notify_off_multiplier, 4);

    /* A second common cap later in the list does not replace the first. */
    virtio_cap(net, 0x98, 0x00, 16, GK_VIRTIO_PCI_CAP_COMMON_CFG, 2, 0x8000, 0x100);
    assert_int_equal(gk_virtio_pci_find_caps(&cfg, b, &c), HV_OK);
    assert_int_equal(c.common.bar, 4);
    /* A legacy-only device: no virtio caps. */
    assert_int_equal(gk_virtio_pci_find_caps(&cfg, (struct gk_pci_bdf){0, 0, 0}, &c), HV_ENOENT);
    assert_false(c.has_common);
}

static void expect_virtio_einval(void)
{
    struct gk_virtio_pci_caps c;
    assert_int_equal(gk_virtio_pci_find_caps(&cfg, (struct gk_pci_bdf){0, 3, 0}, &c), HV_EINVAL);
    setup(NULL);
}

static void test_caps_malformed(void **state)
{
    (void)state;
    struct gk_pci_bdf b = {0, 3, 0};
    put8(net, 0x71, 0x40); /* loop back to the first entry */
    assert_int_equal(gk_pci_find_cap(&cfg, b, GK_PCI_CAP_ID_MSI, 0), HV_EINVAL);
    assert_int_equal(gk_pci_find_cap(&cfg, b, GK_PCI_CAP_ID_VENDOR, 0x60), HV_EINVAL);
    expect_virtio_einval();
    put8(net, 0x71, 0x70); /* points at itself */
    expect_virtio_einval();
    put8(net, 0x34, 0x20); /* into the header */
    assert_int_equal(gk_pci_find_cap(&cfg, b, GK_PCI_CAP_ID_MSIX, 0), HV_EINVAL);
    expect_virtio_einval();
    put8(net, 0x82, 16); /* notify cap too short for its multiplier */
    expect_virtio_einval();
    put8(net, 0x52, 12); /* common cap too short */
    expect_virtio_einval();
    put8(net, 0x54, 6); /* BAR 6 does not exist */
    expect_virtio_einval();
    put32(net, 0x58, 0xfffff000u); /* offset + length wraps */
    put32(net, 0x5c, 0x2000);
    expect_virtio_einval();
    put8(net, 0x99, 0xf8); /* list runs past config space */
    put8(net, 0xf8, GK_PCI_CAP_ID_VENDOR);
    put8(net, 0xfa, 20);
    put8(net, 0xfb, GK_VIRTIO_PCI_CAP_COMMON_CFG);
    put8(net, 0x53, 0x77); /* 0x50 is no longer a common cap: 0xf8 is the first */
    expect_virtio_einval();
    /* Without the capability-list status bit the list is not looked at. */
    put16(net, 6, 0);
    struct gk_virtio_pci_caps c;
    assert_int_equal(gk_virtio_pci_find_caps(&cfg, b, &c), HV_ENOENT);
}

static uint64_t gx = 0x2545f4914f6cdd1dull;

static uint64_t grng(void)
{
    gx ^= gx << 13;
    gx ^= gx >> 7;
    gx ^= gx << 17;
    return gx;
}

/* Random capability lists: plausible ones (random order, types, lengths,
 * BARs, ranges) with a few random bytes overwritten. */
static void test_config_garbage(void **state)
{
    (void)state;
    struct gk_pci_bdf b = {0, 3, 0};
    unsigned ok = 0, einval = 0;
    for (unsigned round = 0; round < 20000; round++) {
        memset(net->cfg + 0x40, 0, 192);
        unsigned k = 1 + (unsigned)(grng() % 8), order[8];
        for (unsigned j = 0; j < 8; j++)
            order[j] = j;
        for (unsigned j = 7; j > 0; j--) {
            unsigned r = (unsigned)(grng() % (j + 1)), t = order[j];
            order[j] = order[r];
            order[r] = t;
        }
        for (unsigned j = 0; j < k; j++) {
            unsigned at = 0x40 + 24 * order[j];
            unsigned next = j + 1 < k ? 0x40 + 24 * order[j + 1] : 0;
            virtio_cap(net, at, next, (uint8_t)(grng() % 8 ? 16 + 4 * (grng() % 2) : grng()),
                       (uint8_t)(1 + grng() % 5), (uint8_t)(grng() % 8 ? grng() % 6 : grng()),
                       (uint32_t)(grng() % 4 ? grng() % 0x10000 : grng()),
                       (uint32_t)(grng() % 4 ? grng() % 0x10000 : grng()));
            if (grng() % 8 == 0)
                put8(net, at, (uint8_t)grng()); /* not a vendor cap */
            put32(net, at + 16, (uint32_t)grng());
        }
        put8(net, 0x34, (uint8_t)(0x40 + 24 * order[0]));
        for (unsigned m = (unsigned)(grng() % 3); m > 0; m--)
            net->cfg[0x34 + grng() % (256 - 0x34)] = (uint8_t)grng();
        put16(net, 6, GK_PCI_STATUS_CAP_LIST);

        struct gk_virtio_pci_caps c;
        reads = 0;
        int rc = gk_virtio_pci_find_caps(&cfg, b, &c);
        assert_true(rc == HV_OK || rc == HV_ENOENT || rc == HV_EINVAL);
        assert_true(reads < 20000); /* bounded work */
        if (rc == HV_OK) {
            ok++;
            assert_true(c.common.bar <= 5 && c.notify.bar <= 5);
            assert_true(c.common.offset + c.common.length >= c.common.offset);
            assert_true(c.notify.offset + c.notify.length >= c.notify.offset);
        }
        einval += rc == HV_EINVAL;
        int at = gk_pci_find_cap(&cfg, b, (uint8_t)grng(), 0);
        assert_true(at == HV_ENOENT || at == HV_EINVAL || (at >= 0x40 && at < 256 && at % 4 == 0));
    }
    print_message("garbage: %u of 20000 lists parsed, %u refused\n", ok, einval);
    assert_true(ok > 1000);     /* the generator makes valid lists... */
    assert_true(einval > 1000); /* ...and malformed ones */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_cf8_address, setup),
        cmocka_unit_test_setup(test_sub_dword_reads, setup),
        cmocka_unit_test_setup(test_enumerate, setup),
        cmocka_unit_test_setup(test_bars, setup),
        cmocka_unit_test_setup(test_caps, setup),
        cmocka_unit_test_setup(test_caps_malformed, setup),
        cmocka_unit_test_setup(test_config_garbage, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
