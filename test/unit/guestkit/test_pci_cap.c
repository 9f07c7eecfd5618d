/*
 * Host tests of guest-kit/src/pci_cap.c (PCI functions reached through
 * capabilities) against a fake hypervisor: a capability table for
 * gk_cap_identify, HC_PCI_OP (INFO, CONFIG_READ/WRITE with the rights and
 * shape checks of hv/domctl.h) through a stand-in gk/hypercall.h
 * (fake_hc/), and gk_map_frame/gk_unmap that refuse frames no MMIO
 * capability covers. Covered: enumeration (slot order, truncation, a start
 * slot, non-PCI and undescribable capabilities skipped), the checks on the
 * hypervisor's description, the choice of MMIO slot (hint, stale hint,
 * narrowest cover), the config backend (other functions absent, first
 * error kept, the virtio parser through it) and BAR mapping (page
 * arithmetic, every refusal before a hypercall, all-or-nothing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gk/cap.h"
#include "gk/hypercall.h"
#include "gk/mm.h"
#include "gk/pci.h"
#include "hv/abi.h"

/* ---- The fake hypervisor --------------------------------------------------- */

struct fake_dev {
    struct hv_pci_info_args info;
    uint8_t cfg[256];
};

static struct hv_cap_info table[HV_CAP_SLOTS];
static struct fake_dev devs[4];
static unsigned dev_of_slot[HV_CAP_SLOTS]; /* index into devs for PCI slots */
static unsigned pci_calls, map_calls, unmap_calls;
static int fail_map_at = -1; /* map call number that fails with HV_ENOMEM */
#define MAPPED_MAX 16
static struct {
    uint64_t va, mfn, flags;
} mapped[MAPPED_MAX];
static unsigned mapped_count;

int64_t gk_cap_identify(uint32_t slot, struct hv_cap_info *info)
{
    if (slot >= HV_CAP_SLOTS)
        return HV_EINVAL;
    *info = table[slot];
    return HV_OK;
}

static int64_t pci_slot_check(uint32_t slot, uint32_t right)
{
    if (slot >= HV_CAP_SLOTS)
        return HV_EINVAL;
    if (table[slot].type == HV_CAP_NULL)
        return HV_ENOENT;
    if (table[slot].type != HV_CAP_PCI || (table[slot].rights & right) != right)
        return HV_EPERM;
    return HV_OK;
}

int64_t gk_hc_pci_op(enum hv_pci_cmd cmd, void *args)
{
    pci_calls++;
    if (cmd == HV_PCI_INFO) {
        struct hv_pci_info_args *a = args;
        int64_t rc = pci_slot_check(a->slot, 0);
        if (rc != HV_OK)
            return rc;
        *a = devs[dev_of_slot[a->slot]].info;
        return HV_OK;
    }
    struct hv_pci_config_args *a = args;
    bool write = cmd == HV_PCI_CONFIG_WRITE;
    int64_t rc =
        pci_slot_check(a->slot, write ? HV_CAP_R_PCI_CONFIG_WRITE : HV_CAP_R_PCI_CONFIG_READ);
    if (rc != HV_OK)
        return rc;
    if (a->offset >= 256 || (a->size != 1 && a->size != 2 && a->size != 4) ||
        a->offset % a->size != 0 || a->reserved0 || a->reserved)
        return HV_EINVAL;
    uint8_t *c = devs[dev_of_slot[a->slot]].cfg + a->offset;
    if (write) {
        if (a->offset >= 0x10 && a->offset < 0x28)
            return HV_EPERM; /* BARs */
        memcpy(c, &a->value, a->size);
    } else {
        a->value = 0;
        memcpy(&a->value, c, a->size);
    }
    return HV_OK;
}

/* A frame may be mapped if an MMIO capability with the right covers it. */
int64_t gk_map_frame(uint64_t va, uint64_t mfn, uint64_t flags)
{
    int call = (int)map_calls++;
    if (call == fail_map_at)
        return HV_ENOMEM;
    uint32_t right = (flags & GK_PTE_RW) ? HV_CAP_R_MMIO_WRITE : HV_CAP_R_MMIO_READ;
    bool covered = false, allowed = false;
    for (unsigned s = 0; s < HV_CAP_SLOTS; s++) {
        if (table[s].type == HV_CAP_MMIO && mfn >= table[s].base &&
            mfn - table[s].base < table[s].count) {
            covered = true;
            allowed |= (table[s].rights & right) != 0;
        }
    }
    if (!covered)
        return HV_ERANGE;
    if (!allowed)
        return HV_EPERM;
    assert_true(mapped_count < MAPPED_MAX);
    mapped[mapped_count].va = va;
    mapped[mapped_count].mfn = mfn;
    mapped[mapped_count].flags = flags;
    mapped_count++;
    return HV_OK;
}

int64_t gk_unmap(uint64_t va)
{
    unmap_calls++;
    for (unsigned i = 0; i < mapped_count; i++) {
        if (mapped[i].va == va) {
            mapped[i] = mapped[--mapped_count];
            return HV_OK;
        }
    }
    return HV_ENOENT;
}

/* ---- Fixture ------------------------------------------------------------- */

static void put32(uint8_t *cfg, unsigned off, uint32_t v)
{
    memcpy(cfg + off, &v, 4);
}

static void set_cap(uint32_t slot, uint32_t type, uint32_t rights, uint64_t base, uint64_t count)
{
    table[slot] =
        (struct hv_cap_info){.type = type, .rights = rights, .base = base, .count = count};
}

static void add_pci(uint32_t slot, unsigned dev, uint32_t rights)
{
    set_cap(slot, HV_CAP_PCI, rights, 0, 0);
    dev_of_slot[slot] = dev;
}

static struct hv_pci_bar bar_mem(uint8_t kind, uint64_t base, uint64_t size, uint32_t hint)
{
    return (struct hv_pci_bar){.base = base, .size = size, .kind = kind, .mmio_slot = hint};
}

/*
 * Slot 5: a wide MMIO window (0xc0000..0xfec00). Device 0 (slot 128, VGA-like
 * 00:01.0): BAR0 MEM32 at 0xfd000000 (16 MiB, capability 129), BAR2 I/O.
 * Device 1 (slot 130, virtio 00:03.0): BAR1 MEM32 4 KiB at 0xfebd5000
 * (stale hint 200, covered only by slot 5), BAR4 MEM64 16 KiB at
 * 0xfe000000 (hint 131 covers it; slot 5 too) and BAR5 its upper half;
 * config space with virtio capabilities (common in BAR4 at 0, notify at
 * 0x3000). Slot 140: an event-channel-like capability (not PCI).
 */
static int setup(void **state)
{
    (void)state;
    memset(table, 0, sizeof(table));
    memset(devs, 0, sizeof(devs));
    memset(dev_of_slot, 0, sizeof(dev_of_slot));
    pci_calls = map_calls = unmap_calls = mapped_count = 0;
    fail_map_at = -1;

    set_cap(5, HV_CAP_MMIO, HV_CAP_R_MMIO_ALL, 0xc0000, 0xfec00 - 0xc0000);

    struct hv_pci_info_args *i0 = &devs[0].info;
    *i0 = (struct hv_pci_info_args){.bus = 0,
                                    .dev = 1,
                                    .fn = 0,
                                    .vendor = 0x1234,
                                    .device = 0x1111,
                                    .class_rev = 0x03000002,
                                    .pci_slot = 128,
                                    .bar_count = 6};
    for (unsigned b = 0; b < 6; b++)
        i0->bars[b].mmio_slot = HV_PCI_NO_SLOT;
    i0->bars[0] = bar_mem(HV_PCI_BAR_MEM32, 0xfd000000, 0x1000000, 129);
    i0->bars[2] = (struct hv_pci_bar){
        .base = 0xc040, .size = 0x20, .kind = HV_PCI_BAR_IO, .mmio_slot = HV_PCI_NO_SLOT};
    put32(devs[0].cfg, 0, 0x11111234u);
    add_pci(128, 0, HV_CAP_R_PCI_ALL | HV_CAP_R_GRANT);
    set_cap(129, HV_CAP_MMIO, HV_CAP_R_MMIO_ALL | HV_CAP_R_GRANT, 0xfd000, 0x1000);

    struct hv_pci_info_args *i1 = &devs[1].info;
    *i1 = (struct hv_pci_info_args){.bus = 0,
                                    .dev = 3,
                                    .fn = 0,
                                    .vendor = 0x1af4,
                                    .device = 0x1044,
                                    .class_rev = 0x00ff0001,
                                    .irq_line = 11,
                                    .irq_pin = 1,
                                    .pci_slot = 130,
                                    .bar_count = 6,
                                    .msix_count = 3,
                                    .msi_count = 1};
    for (unsigned b = 0; b < 6; b++)
        i1->bars[b].mmio_slot = HV_PCI_NO_SLOT;
    i1->bars[1] = bar_mem(HV_PCI_BAR_MEM32, 0xfebd5000, 0x1000, 200);
    i1->bars[4] = bar_mem(HV_PCI_BAR_MEM64, 0xfe000000, 0x4000, 131);
    i1->bars[4].flags = HV_PCI_BAR_F_PREFETCH;
    i1->bars[5].kind = HV_PCI_BAR_MEM64_HIGH;
    uint8_t *c = devs[1].cfg;
    put32(c, 0, 0x10441af4u);
    put32(c, 4, 0x00100003u); /* status: capability list; command: I/O, memory */
    c[0x34] = 0x40;
    /* common: vendor cap at 0x40 -> 0x54, type 1, BAR4, offset 0, length 0x1000 */
    c[0x40] = 0x09, c[0x41] = 0x54, c[0x42] = 16, c[0x43] = 1, c[0x44] = 4;
    put32(c, 0x48, 0);
    put32(c, 0x4c, 0x1000);
    /* notify at 0x54 -> end, type 2, BAR4, offset 0x3000, length 0x1000, mult 4 */
    c[0x54] = 0x09, c[0x55] = 0, c[0x56] = 20, c[0x57] = 2, c[0x58] = 4;
    put32(c, 0x5c, 0x3000);
    put32(c, 0x60, 0x1000);
    put32(c, 0x64, 4);
    add_pci(130, 1, HV_CAP_R_PCI_ALL | HV_CAP_R_GRANT);
    set_cap(131, HV_CAP_MMIO, HV_CAP_R_MMIO_ALL | HV_CAP_R_GRANT, 0xfe000, 4);

    set_cap(140, HV_CAP_EVTCHN, 0, 0, 0);
    return 0;
}

/* ---- Enumeration ------------------------------------------------------------ */

static void test_enumerate(void **state)
{
    (void)state;
    struct gk_pci_cap_function f[4];
    assert_int_equal(gk_pci_enumerate_caps(HV_ROOT_SLOT_DEVICE_FIRST, f, 4), 2);
    assert_int_equal(f[0].pci_slot, 128);
    assert_int_equal(f[0].pci_rights, HV_CAP_R_PCI_ALL | HV_CAP_R_GRANT);
    assert_int_equal(f[0].dev.vendor_id, 0x1234);
    assert_int_equal(f[0].dev.class_code, 3);
    assert_int_equal(f[0].dev.revision, 2);
    assert_int_equal(f[0].bar_count, 6);
    assert_int_equal(f[0].bars[0].mmio_slot, 129); /* the hint covers it */
    assert_int_equal(f[0].bars[0].mmio_rights, HV_CAP_R_MMIO_ALL | HV_CAP_R_GRANT);
    assert_int_equal(f[0].bars[2].kind, HV_PCI_BAR_IO);
    assert_int_equal(f[0].bars[2].mmio_slot, HV_PCI_NO_SLOT);
    assert_int_equal(f[0].msix_count, 0);
    assert_int_equal(f[0].msi_count, 0);
    assert_int_equal(f[1].msix_count, 3);
    assert_int_equal(f[1].msi_count, 1);
    assert_int_equal(f[0].bars[1].mmio_slot, HV_PCI_NO_SLOT);

    assert_int_equal(f[1].pci_slot, 130);
    assert_int_equal(f[1].dev.bdf.dev, 3);
    assert_int_equal(f[1].dev.device_id, 0x1044);
    assert_int_equal(f[1].dev.class_code, 0);
    assert_int_equal(f[1].dev.subclass, 0xff);
    assert_int_equal(f[1].dev.irq_line, 11);
    assert_int_equal(f[1].bars[1].mmio_slot, 5); /* stale hint: slot 5 is the only cover */
    assert_int_equal(f[1].bars[4].mmio_slot, 131);
    assert_true(f[1].bars[4].prefetchable);
    assert_int_equal(f[1].bars[5].mmio_slot, HV_PCI_NO_SLOT);

    /* Every slot, a later start, truncation. */
    assert_int_equal(gk_pci_enumerate_caps(0, f, 4), 2);
    assert_int_equal(gk_pci_enumerate_caps(129, f, 4), 1);
    assert_int_equal(f[0].pci_slot, 130);
    memset(f, 0xa5, sizeof(f));
    assert_int_equal(gk_pci_enumerate_caps(0, f, 1), 2);
    assert_int_equal(f[0].pci_slot, 128);
    assert_int_equal(f[1].pci_slot, 0xa5a5a5a5u); /* nothing stored past max_count */
    assert_int_equal(gk_pci_enumerate_caps(0, NULL, 0), 2);
    assert_int_equal(gk_pci_enumerate_caps(HV_CAP_SLOTS, f, 4), 0);

    /* A copy with fewer rights is a function of its own. */
    add_pci(20, 1, HV_CAP_R_PCI_CONFIG_READ);
    assert_int_equal(gk_pci_enumerate_caps(0, f, 4), 3);
    assert_int_equal(f[0].pci_slot, 20);
    assert_int_equal(f[0].pci_rights, HV_CAP_R_PCI_CONFIG_READ);
    assert_int_equal(f[0].dev.device_id, 0x1044);

    assert_non_null(gk_pci_cap_find(f, 3, 0x1234, 0xffff));
    assert_int_equal(gk_pci_cap_find(f, 3, 0x1234, 0xffff)->pci_slot, 128);
    assert_int_equal(gk_pci_cap_find(f, 3, 0x1af4, 0x1044)->pci_slot, 20);
    assert_null(gk_pci_cap_find(f, 3, 0x1af4, 0x1042));
    assert_null(gk_pci_cap_find(f, 0, 0x1234, 0xffff));
}

static void test_mmio_choice(void **state)
{
    (void)state;
    struct gk_pci_cap_function f;
    /* A hint that covers only part of the BAR is not taken: the narrowest
     * full cover is. */
    set_cap(129, HV_CAP_MMIO, HV_CAP_R_MMIO_ALL, 0xfd000, 0xfff);
    set_cap(60, HV_CAP_MMIO, HV_CAP_R_MMIO_READ, 0xfcfff, 0x1002);
    set_cap(61, HV_CAP_MMIO, HV_CAP_R_MMIO_ALL, 0xfc000, 0x3000);
    assert_int_equal(gk_pci_cap_describe(128, &f), HV_OK);
    assert_int_equal(f.bars[0].mmio_slot, 60);
    assert_int_equal(f.bars[0].mmio_rights, HV_CAP_R_MMIO_READ);
    /* A hint naming a non-MMIO capability or slot >= 256 is not taken. */
    devs[0].info.bars[0].mmio_slot = 128;
    assert_int_equal(gk_pci_cap_describe(128, &f), HV_OK);
    assert_int_equal(f.bars[0].mmio_slot, 60);
    devs[0].info.bars[0].mmio_slot = 7777;
    assert_int_equal(gk_pci_cap_describe(128, &f), HV_OK);
    assert_int_equal(f.bars[0].mmio_slot, 60);
    /* Nothing covers it. */
    table[5].type = table[60].type = table[61].type = table[129].type = HV_CAP_NULL;
    assert_int_equal(gk_pci_cap_describe(128, &f), HV_OK);
    assert_int_equal(f.bars[0].mmio_slot, HV_PCI_NO_SLOT);
}

/* Each bad description is refused, and enumeration skips the function. */
static void test_bad_descriptions(void **state)
{
    (void)state;
    struct gk_pci_cap_function f, list[4];
    struct hv_pci_info_args good = devs[1].info;
#define REFUSED(mutate)                                                                            \
    do {                                                                                           \
        devs[1].info = good;                                                                       \
        mutate;                                                                                    \
        assert_int_equal(gk_pci_cap_describe(130, &f), HV_EINVAL);                                 \
        assert_int_equal(gk_pci_enumerate_caps(0, list, 4), 1);                                    \
        assert_int_equal(list[0].pci_slot, 128);                                                   \
    } while (0)
    REFUSED(devs[1].info.dev = 32);
    REFUSED(devs[1].info.fn = 8);
    REFUSED(devs[1].info.bar_count = 7);
    REFUSED(devs[1].info.bar_count = 2);                        /* header type 0 has 6 */
    REFUSED(devs[1].info.header_type = 1);                      /* type 1 has 2 */
    REFUSED(devs[1].info.bars[5].kind = HV_PCI_BAR_NONE);       /* 64-bit without its upper half */
    REFUSED(devs[1].info.bars[0].kind = HV_PCI_BAR_MEM64_HIGH); /* upper half of nothing */
    REFUSED(devs[1].info.bars[2].kind = 5);
    REFUSED(devs[1].info.bars[2].size = 4); /* NONE with a size */
    REFUSED(devs[1].info.bars[1].size = 0); /* memory without a size */
    REFUSED(devs[1].info.bars[1].base = 0xfffff000u; devs[1].info.bars[1].size = 0x2000);
    REFUSED(devs[1].info.bars[4].base = ~0ull - 0xfff); /* wraps */
    REFUSED(devs[1].info.bars[0].kind = HV_PCI_BAR_IO; devs[1].info.bars[0].base = 0xfff0;
            devs[1].info.bars[0].size = 0x20);
    REFUSED(devs[1].info.bars[0].kind = HV_PCI_BAR_IO; devs[1].info.bars[0].base = ~0ull;
            devs[1].info.bars[0].size = 2);
    /* Header type 2 with no BARs is fine. */
    devs[1].info = good;
    devs[1].info.header_type = 2;
    devs[1].info.bar_count = 0;
    assert_int_equal(gk_pci_cap_describe(130, &f), HV_OK);
    assert_int_equal(f.bar_count, 0);
#undef REFUSED
    /* Slot errors are the hypervisor's. */
    assert_int_equal(gk_pci_cap_describe(7, &f), HV_ENOENT);
    assert_int_equal(gk_pci_cap_describe(5, &f), HV_EPERM);
    assert_int_equal(gk_pci_cap_describe(HV_CAP_SLOTS, &f), HV_EINVAL);
}

/* ---- Config backend ------------------------------------------------------------ */

static void test_backend(void **state)
{
    (void)state;
    struct gk_pci_cap_backend be;
    struct gk_pci_cfg cfg;
    assert_int_equal(gk_pci_cap_cfg_init(7, &be, &cfg), HV_ENOENT);
    assert_int_equal(gk_pci_cap_cfg_init(140, &be, &cfg), HV_EPERM);
    assert_int_equal(gk_pci_cap_cfg_init(HV_CAP_SLOTS, &be, &cfg), HV_EINVAL);
    devs[1].info.dev = 40;
    assert_int_equal(gk_pci_cap_cfg_init(130, &be, &cfg), HV_EINVAL);
    devs[1].info.dev = 3;

    assert_int_equal(gk_pci_cap_cfg_init(130, &be, &cfg), HV_OK);
    struct gk_pci_bdf bdf = {0, 3, 0}, other = {0, 4, 0};
    assert_int_equal(gk_pci_read16(&cfg, bdf, GK_PCI_OFF_VENDOR), 0x1af4);
    assert_int_equal(gk_pci_read8(&cfg, bdf, 1), 0x1a);
    unsigned calls = pci_calls;
    assert_int_equal(gk_pci_read32(&cfg, other, 0), 0xffffffffu);
    cfg.write32(cfg.ctx, other, 0x3c, 0x55);
    assert_int_equal(pci_calls, calls); /* no hypercall for another function */
    struct gk_pci_device d[2];
    assert_int_equal(gk_pci_enumerate(&cfg, 0, 0, d, 2), 1);
    assert_int_equal(d[0].device_id, 0x1044);

    struct gk_virtio_pci_caps caps;
    assert_int_equal(gk_virtio_pci_find_caps(&cfg, bdf, &caps), HV_OK);
    assert_int_equal(caps.common.bar, 4);
    assert_int_equal(caps.common.length, 0x1000);
    assert_int_equal(caps.notify.offset, 0x3000);
    assert_int_equal(caps.notify_off_multiplier, 4);
    assert_int_equal(be.last_error, HV_OK);

    /* Writes go through; a refused one is recorded and changes nothing. */
    gk_pci_write_command(&cfg, bdf, 0x0007);
    assert_int_equal(be.last_error, HV_OK);
    assert_int_equal(devs[1].cfg[4], 7);
    cfg.write32(cfg.ctx, bdf, 0x10, 0xffffffffu);
    assert_int_equal(be.last_error, HV_EPERM);
    assert_int_equal(devs[1].cfg[0x10], 0);

    /* Read-only copy: reads work, writes are refused; the first error stays. */
    add_pci(20, 1, HV_CAP_R_PCI_CONFIG_READ);
    assert_int_equal(gk_pci_cap_cfg_init(20, &be, &cfg), HV_OK);
    assert_int_equal(be.last_error, HV_OK);
    gk_pci_write_command(&cfg, bdf, 0x0003);
    assert_int_equal(be.last_error, HV_EPERM);
    assert_int_equal(devs[1].cfg[4], 7);
    /* Write-only copy: reads come back as all ones, error kept from before. */
    table[20].rights = HV_CAP_R_PCI_CONFIG_WRITE;
    be.last_error = HV_OK;
    assert_int_equal(gk_pci_read32(&cfg, bdf, 0), 0xffffffffu);
    assert_int_equal(be.last_error, HV_EPERM);
    table[20].type = HV_CAP_NULL; /* deleted under us */
    assert_int_equal(gk_pci_read32(&cfg, bdf, 0), 0xffffffffu);
    assert_int_equal(be.last_error, HV_EPERM);
    be.last_error = HV_OK;
    assert_int_equal(gk_pci_read32(&cfg, bdf, 0), 0xffffffffu);
    assert_int_equal(be.last_error, HV_ENOENT);
    assert_int_equal(gk_virtio_pci_find_caps(&cfg, bdf, &caps), HV_EINVAL); /* all ones: a loop */

    /* The raw accesses. */
    uint32_t v = 0;
    assert_int_equal(gk_pci_cap_config_read(130, 2, 2, &v), HV_OK);
    assert_int_equal(v, 0x1044);
    v = 0x5a;
    assert_int_equal(gk_pci_cap_config_read(130, 1, 2, &v), HV_EINVAL);
    assert_int_equal(v, 0x5a); /* untouched on failure */
    assert_int_equal(gk_pci_cap_config_write(130, 0x3c, 1, 9), HV_OK);
    assert_int_equal(devs[1].cfg[0x3c], 9);
}

/* ---- BAR mapping -------------------------------------------------------------- */

static void test_map_bar(void **state)
{
    (void)state;
    struct gk_pci_cap_function f;
    struct gk_pci_mapping m;
    assert_int_equal(gk_pci_cap_describe(130, &f), HV_OK);
    const uint64_t va = 0x200000000ull;

    assert_int_equal(gk_pci_map_bar(&f, 4, 0, 56, va, true, &m), HV_OK);
    assert_int_equal(mapped_count, 1);
    assert_int_equal(mapped[0].va, va);
    assert_int_equal(mapped[0].mfn, 0xfe000);
    assert_int_equal(mapped[0].flags, GK_PTE_RWDATA | GK_PTE_PCD | GK_PTE_PWT | GK_PTE_NX);
    assert_ptr_equal(m.ptr, (void *)(uintptr_t)va);
    assert_int_equal(m.page_count, 1);
    assert_int_equal(gk_pci_unmap_bar(&m), HV_OK);
    assert_int_equal(mapped_count, 0);
    assert_int_equal(m.page_count, 0);

    /* A range across a page boundary: two frames, pointer at the offset. */
    assert_int_equal(gk_pci_map_bar(&f, 4, 0x2ffc, 8, va, false, &m), HV_OK);
    assert_int_equal(m.page_count, 2);
    assert_int_equal(mapped[0].mfn, 0xfe002);
    assert_int_equal(mapped[1].mfn, 0xfe003);
    assert_int_equal(mapped[1].va, va + 4096);
    assert_int_equal(mapped[0].flags, GK_PTE_RO | GK_PTE_PCD | GK_PTE_PWT | GK_PTE_NX);
    assert_ptr_equal(m.ptr, (void *)(uintptr_t)(va + 0xffc));
    assert_int_equal(gk_pci_unmap_bar(&m), HV_OK);
    /* The whole BAR, up to its last byte. */
    assert_int_equal(gk_pci_map_bar(&f, 4, 0, 0x4000, va, false, &m), HV_OK);
    assert_int_equal(m.page_count, 4);
    assert_int_equal(gk_pci_unmap_bar(&m), HV_OK);
    assert_int_equal(gk_pci_map_bar(&f, 4, 0x3fff, 1, va, false, &m), HV_OK);
    assert_int_equal(gk_pci_unmap_bar(&m), HV_OK);

    /* Refusals before any hypercall. */
    unsigned calls = map_calls;
    assert_int_equal(gk_pci_map_bar(&f, 6, 0, 8, va, false, &m), HV_EINVAL);
    assert_int_equal(gk_pci_map_bar(&f, 5, 0, 8, va, false, &m), HV_EINVAL); /* upper half */
    assert_int_equal(gk_pci_map_bar(&f, 0, 0, 8, va, false, &m), HV_EINVAL); /* none */
    assert_int_equal(gk_pci_map_bar(&f, 4, 0, 0, va, false, &m), HV_EINVAL);
    assert_int_equal(gk_pci_map_bar(&f, 4, 0, 8, va + 8, false, &m), HV_EINVAL);
    assert_int_equal(gk_pci_map_bar(&f, 4, 0x4000, 1, va, false, &m), HV_ERANGE);
    assert_int_equal(gk_pci_map_bar(&f, 4, 0x3ff8, 9, va, false, &m), HV_ERANGE);
    assert_int_equal(gk_pci_map_bar(&f, 4, 8, ~0ull, va, false, &m), HV_ERANGE);
    assert_int_equal(gk_pci_map_bar(&f, 4, 0, 8, ~0ull & ~0xfffull, false, &m), HV_ERANGE);
    struct gk_pci_cap_function g = f;
    g.bars[4].mmio_rights = HV_CAP_R_MMIO_READ;
    assert_int_equal(gk_pci_map_bar(&g, 4, 0, 8, va, true, &m), HV_EPERM);
    g.bars[4].mmio_slot = HV_PCI_NO_SLOT;
    assert_int_equal(gk_pci_map_bar(&g, 4, 0, 8, va, false, &m), HV_ERANGE);
    g = f;
    g.bar_count = 2;
    assert_int_equal(gk_pci_map_bar(&g, 4, 0, 8, va, false, &m), HV_EINVAL);
    g = f;
    g.bars[4].base = ~0ull - 0x1000;
    assert_int_equal(gk_pci_map_bar(&g, 4, 0, 8, va, false, &m), HV_ERANGE);
    assert_int_equal(map_calls, calls);

    /* All or nothing: the third frame fails, the first two are unmapped. */
    fail_map_at = (int)map_calls + 2;
    assert_int_equal(gk_pci_map_bar(&f, 4, 0, 0x4000, va, false, &m), HV_ENOMEM);
    assert_int_equal(mapped_count, 0);
    fail_map_at = -1;
    /* The hypervisor's refusal when the struct is stale: no capability left. */
    table[131].type = table[5].type = HV_CAP_NULL;
    assert_int_equal(gk_pci_map_bar(&f, 4, 0, 0x2000, va, false, &m), HV_ERANGE);
    assert_int_equal(mapped_count, 0);
    /* ...or a read-only one only. */
    set_cap(90, HV_CAP_MMIO, HV_CAP_R_MMIO_READ, 0xfe000, 4);
    assert_int_equal(gk_pci_map_bar(&f, 4, 0, 0x2000, va, true, &m), HV_EPERM);
    assert_int_equal(gk_pci_cap_describe(130, &g), HV_OK);
    assert_int_equal(g.bars[4].mmio_slot, 90);
    assert_int_equal(gk_pci_map_bar(&g, 4, 0, 0x2000, va, true, &m), HV_EPERM);
    assert_int_equal(gk_pci_map_bar(&g, 4, 0, 0x2000, va, false, &m), HV_OK);
    assert_int_equal(mapped_count, 2);
    /* Unmapping reports the first error and still unmaps the rest. */
    mapped[0] = mapped[1];
    mapped_count = 1;
    assert_int_equal(gk_pci_unmap_bar(&m), HV_ENOENT);
    assert_int_equal(mapped_count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_enumerate, setup),
        cmocka_unit_test_setup(test_mmio_choice, setup),
        cmocka_unit_test_setup(test_bad_descriptions, setup),
        cmocka_unit_test_setup(test_backend, setup),
        cmocka_unit_test_setup(test_map_bar, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
