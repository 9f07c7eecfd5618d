/*
 * PCI enumeration and the configuration-access rule (hv/core/pci.c) over a
 * fake configuration space: present functions only (multifunction bit
 * honoured), the 64-function cap, BAR sizing of every kind with every
 * register restored and decoding off while a BAR holds all ones (not on a
 * host bridge), malformed BARs, a bounded scan, and the exact status of
 * every configuration access the rule refuses or allows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pci.h"

/* ---- The fake configuration space ---------------------------------------- */

#define FAKE_MAX 80u

struct fake_fn {
    pci_bdf_t bdf;
    uint32_t cfg[64];       /* dwords */
    uint32_t bar_mask[6];   /* writable bits of each BAR register (0: none) */
    uint32_t bar_ro[6];     /* read-only low bits (type, prefetch) */
    bool bar_ones_seen[6];  /* a BAR held all ones at some point */
    bool decode_on_at_ones; /* decoding was on while a BAR held all ones */
};

static struct fake_fn fns[FAKE_MAX];
static unsigned fn_count;
static unsigned long reads, writes;

/* The hooks of pci.c are these. */
static struct fake_fn *find(pci_bdf_t bdf)
{
    for (unsigned i = 0; i < fn_count; i++)
        if (fns[i].bdf == bdf)
            return &fns[i];
    return NULL;
}

uint32_t pci_hook_read32(pci_bdf_t bdf, uint32_t offset)
{
    assert_true(offset < 256 && offset % 4 == 0);
    reads++;
    struct fake_fn *f = find(bdf);
    return f ? f->cfg[offset / 4] : 0xffffffffu;
}

void pci_hook_write32(pci_bdf_t bdf, uint32_t offset, uint32_t value)
{
    assert_true(offset < 256 && offset % 4 == 0);
    writes++;
    struct fake_fn *f = find(bdf);
    assert_non_null(f); /* nothing is ever written to an absent function */
    unsigned r = offset / 4;
    if (r >= 4 && r < 10) {
        unsigned b = r - 4;
        f->cfg[r] = (value & f->bar_mask[b]) | f->bar_ro[b];
        if (value == 0xffffffffu) {
            f->bar_ones_seen[b] = true;
            if (f->cfg[1] & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY))
                f->decode_on_at_ones = true;
        }
        return;
    }
    if (r == 1) {
        /* Command: read/write; status: write 1 to clear. */
        uint32_t status = f->cfg[1] & 0xffff0000u & ~(value & 0xffff0000u);
        f->cfg[1] = status | (value & 0xffffu);
        return;
    }
    f->cfg[r] = value;
}

/* cap.c's hooks (no capability is deleted here). */
bool cap_hook_may_remove(struct cap *c, uint32_t *budget)
{
    (void)c;
    (void)budget;
    fail_msg("no capability is deleted in these tests");
    return true;
}

uint32_t cap_hook_removed(const struct cap *slot, const struct cap_object *obj, uint16_t type,
                          uint64_t base, uint64_t count)
{
    (void)obj;
    (void)slot;
    (void)type;
    (void)base;
    (void)count;
    fail_msg("no capability is deleted in these tests");
    return 0;
}

void cap_object_unreferenced(struct cap_object *obj)
{
    (void)obj;
    fail_msg("no capability is deleted in these tests");
}

struct cap_table *cap_domain_table(struct cap_object *domain_obj)
{
    (void)domain_obj;
    return NULL;
}

static struct fake_fn *add_fn(unsigned bus, unsigned dev, unsigned fn, uint16_t vendor,
                              uint16_t device, uint32_t class_rev, uint8_t header)
{
    assert_true(fn_count < FAKE_MAX);
    struct fake_fn *f = &fns[fn_count++];
    memset(f, 0, sizeof(*f));
    f->bdf = pci_bdf(bus, dev, fn);
    f->cfg[0] = (uint32_t)device << 16 | vendor;
    f->cfg[1] = 0x00100007u; /* status | command: I/O, memory, master on */
    f->cfg[2] = class_rev;
    f->cfg[3] = (uint32_t)header << 16;
    f->cfg[15] = 0x0000010bu; /* pin INTA, line 11 */
    return f;
}

/* A memory BAR of size bytes (a power of two) at base; 64-bit takes b, b+1. */
static void mem_bar(struct fake_fn *f, unsigned b, uint64_t base, uint64_t size, bool is64,
                    bool prefetch)
{
    uint64_t mask = ~(size - 1);
    uint32_t ro = (is64 ? 4u : 0u) | (prefetch ? 8u : 0u);
    f->bar_ro[b] = ro;
    f->bar_mask[b] = (uint32_t)mask & 0xfffffff0u;
    f->cfg[4 + b] = ((uint32_t)base & 0xfffffff0u) | ro;
    if (is64) {
        f->bar_mask[b + 1] = (uint32_t)(mask >> 32);
        f->cfg[4 + b + 1] = (uint32_t)(base >> 32);
    }
}

static void io_bar(struct fake_fn *f, unsigned b, uint32_t port, uint32_t size)
{
    f->bar_ro[b] = 1;
    f->bar_mask[b] = ~(size - 1) & 0xfffcu; /* upper 16 bits hardwired to 0 */
    f->cfg[4 + b] = port | 1;
}

static struct pci_scan scan;

static int reset(void **state)
{
    (void)state;
    fn_count = 0;
    reads = writes = 0;
    memset(&scan, 0xa5, sizeof(scan));
    return 0;
}

/* ---- Enumeration ----------------------------------------------------------- */

static void test_empty(void **state)
{
    (void)state;
    pci_enumerate(&scan);
    assert_int_equal(scan.count, 0);
    assert_int_equal(scan.dropped, 0);
    /* Every device's function 0 vendor register once, nothing else. */
    assert_int_equal(reads, 256 * 32);
    assert_int_equal(writes, 0);
}

static void test_multifunction(void **state)
{
    (void)state;
    /* 00:1f: multifunction, functions 0, 2, 3. */
    add_fn(0, 0x1f, 0, 0x8086, 0x2918, 0x06010002, 0x80);
    add_fn(0, 0x1f, 2, 0x8086, 0x2922, 0x01060102, 0x00);
    add_fn(0, 0x1f, 3, 0x8086, 0x2930, 0x0c050002, 0x00);
    /* 00:02: single-function; a function 1 answering is an alias: skipped. */
    add_fn(0, 2, 0, 0x1234, 0x1111, 0x03000002, 0x00);
    add_fn(0, 2, 1, 0x1234, 0x1111, 0x03000002, 0x00);
    /* A device on bus 255 and one with vendor 0 (absent). */
    add_fn(255, 31, 0, 0x1af4, 0x1000, 0x02000000, 0x00);
    add_fn(3, 0, 0, 0x0000, 0x0000, 0, 0);
    pci_enumerate(&scan);
    assert_int_equal(scan.count, 5);
    assert_int_equal(scan.funcs[0].bdf, pci_bdf(0, 2, 0));
    assert_int_equal(scan.funcs[1].bdf, pci_bdf(0, 0x1f, 0));
    assert_int_equal(scan.funcs[2].bdf, pci_bdf(0, 0x1f, 2));
    assert_int_equal(scan.funcs[3].bdf, pci_bdf(0, 0x1f, 3));
    assert_int_equal(scan.funcs[4].bdf, pci_bdf(255, 31, 0));
    const struct pci_func *f = &scan.funcs[2];
    assert_int_equal(f->vendor, 0x8086);
    assert_int_equal(f->device, 0x2922);
    assert_int_equal(f->class_rev, 0x01060102);
    assert_int_equal(f->header_type, 0);
    assert_int_equal(f->irq_line, 11);
    assert_int_equal(f->irq_pin, 1);
    assert_int_equal(f->bar_count, 6);
    assert_int_equal(scan.funcs[1].header_type, 0); /* multifunction bit stripped */
    assert_int_equal(f->pci_obj.type, HV_CAP_PCI);
    assert_int_equal(f->mmio_obj.type, HV_CAP_MMIO);
    assert_int_equal(f->pci_obj.cap_count, 0);
    assert_int_equal(f->root_pci_slot, HV_PCI_NO_SLOT);
    for (unsigned b = 0; b < PCI_BARS_MAX; b++) {
        assert_int_equal(f->bars[b].kind, HV_PCI_BAR_NONE);
        assert_int_equal(f->root_mmio_slot[b], HV_PCI_NO_SLOT);
    }
    assert_ptr_equal(pci_func_of_obj(&scan, &scan.funcs[4].pci_obj), &scan.funcs[4]);
    assert_ptr_equal(pci_func_of_obj(&scan, &scan.funcs[4].mmio_obj), &scan.funcs[4]);
    struct cap_object other;
    cap_object_init(&other, HV_CAP_PCI);
    assert_null(pci_func_of_obj(&scan, &other));
    assert_null(pci_func_of_obj(&scan, NULL));
}

static void test_cap_of_64(void **state)
{
    (void)state;
    for (unsigned i = 0; i < 70; i++)
        add_fn(i / 32, i % 32, 0, 0x1b36, (uint16_t)i, 0x05000000, 0);
    pci_enumerate(&scan);
    assert_int_equal(scan.count, PCI_FUNCS_MAX);
    assert_int_equal(scan.dropped, 70 - PCI_FUNCS_MAX);
    assert_int_equal(scan.funcs[63].device, 63);
}

static void test_bars(void **state)
{
    (void)state;
    struct fake_fn *f = add_fn(0, 3, 0, 0x8086, 0x10d3, 0x02000000, 0);
    mem_bar(f, 0, 0xfebc0000u, 0x20000, false, false);
    io_bar(f, 1, 0xc080, 0x20);
    mem_bar(f, 2, 0x800000000ull, 0x4000, true, true); /* BARs 2-3 */
    /* BAR 4 unimplemented (reads 0 after all ones), BAR 5 a 32-bit one. */
    mem_bar(f, 5, 0xfebf1000u, 0x1000, false, true);
    uint32_t before[64];
    memcpy(before, f->cfg, sizeof(before));

    pci_enumerate(&scan);
    assert_int_equal(scan.count, 1);
    const struct pci_func *p = &scan.funcs[0];
    assert_int_equal(p->bars[0].kind, HV_PCI_BAR_MEM32);
    assert_int_equal(p->bars[0].base, 0xfebc0000u);
    assert_int_equal(p->bars[0].size, 0x20000);
    assert_int_equal(p->bars[0].flags, 0);
    assert_int_equal(p->bars[1].kind, HV_PCI_BAR_IO);
    assert_int_equal(p->bars[1].base, 0xc080);
    assert_int_equal(p->bars[1].size, 0x20);
    assert_int_equal(p->bars[2].kind, HV_PCI_BAR_MEM64);
    assert_int_equal(p->bars[2].base, 0x800000000ull);
    assert_int_equal(p->bars[2].size, 0x4000);
    assert_int_equal(p->bars[2].flags, HV_PCI_BAR_F_PREFETCH);
    assert_int_equal(p->bars[3].kind, HV_PCI_BAR_MEM64_HIGH);
    assert_int_equal(p->bars[4].kind, HV_PCI_BAR_NONE);
    assert_int_equal(p->bars[4].size, 0);
    assert_int_equal(p->bars[5].kind, HV_PCI_BAR_MEM32);
    assert_int_equal(p->bars[5].size, 0x1000);
    assert_int_equal(p->bars[5].flags, HV_PCI_BAR_F_PREFETCH);
    /* Every BAR was sized, with decoding off, and everything restored. */
    for (unsigned b = 0; b < 6; b++)
        assert_true(f->bar_ones_seen[b]);
    assert_false(f->decode_on_at_ones);
    assert_memory_equal(before, f->cfg, sizeof(before));

    struct hv_pci_info_args info;
    memset(&info, 0xee, sizeof(info));
    info.slot = 7;
    info.reserved = 0;
    scan.funcs[0].root_pci_slot = 128;
    scan.funcs[0].root_mmio_slot[2] = 130;
    pci_func_info(&scan.funcs[0], &info);
    assert_int_equal(info.slot, 7); /* inputs untouched */
    assert_int_equal(info.bus, 0);
    assert_int_equal(info.dev, 3);
    assert_int_equal(info.fn, 0);
    assert_int_equal(info.vendor, 0x8086);
    assert_int_equal(info.device, 0x10d3);
    assert_int_equal(info.class_rev, 0x02000000);
    assert_int_equal(info.irq_line, 11);
    assert_int_equal(info.irq_pin, 1);
    assert_int_equal(info.reserved2, 0);
    assert_int_equal(info.pci_slot, 128);
    assert_int_equal(info.bar_count, 6);
    assert_int_equal(info.bars[2].base, 0x800000000ull);
    assert_int_equal(info.bars[2].mmio_slot, 130);
    assert_int_equal(info.bars[0].mmio_slot, HV_PCI_NO_SLOT);
    assert_int_equal(info.bars[1].reserved, 0);
}

static void test_bar_edge_cases(void **state)
{
    (void)state;
    /* A 64-bit BAR in the last register is malformed: ignored. */
    struct fake_fn *f = add_fn(0, 1, 0, 0x1234, 1, 0x03000000, 0);
    mem_bar(f, 5, 0xfd000000u, 0x1000000, false, false);
    f->bar_ro[5] |= 4;
    f->cfg[9] |= 4;
    /* A host bridge: decoding is never turned off, its BARs still sized. */
    struct fake_fn *h = add_fn(0, 0, 0, 0x8086, 0x29c0, 0x06000002, 0);
    mem_bar(h, 0, 0xe0000000u, 0x100000, false, false);
    /* A PCI-PCI bridge: two BAR registers; one 64-bit BAR of 4 GiB. */
    struct fake_fn *b = add_fn(0, 4, 0, 0x1b36, 0x000c, 0x06040000, 1);
    mem_bar(b, 0, 0x1000000000ull, 0x100000000ull, true, true);
    b->cfg[6] = 0x00010100; /* bus numbers: never probed as a BAR */
    /* Header type 2 (CardBus): no BARs probed. */
    struct fake_fn *c = add_fn(0, 5, 0, 0x104c, 0xac50, 0x06070000, 2);
    /* Decoding off already: left off. */
    struct fake_fn *d = add_fn(0, 6, 0, 0x1234, 2, 0x01000000, 0);
    d->cfg[1] = 0;
    io_bar(d, 0, 0x1000, 0x100);

    pci_enumerate(&scan);
    assert_int_equal(scan.count, 5);
    const struct pci_func *hf = &scan.funcs[0], *ff = &scan.funcs[1], *bf = &scan.funcs[2],
                          *cf = &scan.funcs[3], *df = &scan.funcs[4];
    assert_int_equal(hf->bdf, pci_bdf(0, 0, 0));
    assert_true(h->decode_on_at_ones); /* the one exception */
    assert_int_equal(hf->bars[0].size, 0x100000);
    assert_int_equal(h->cfg[1], 0x00100007u);

    for (unsigned i = 0; i < 6; i++)
        assert_int_equal(ff->bars[i].kind, HV_PCI_BAR_NONE);
    assert_false(f->decode_on_at_ones);
    assert_int_equal(f->cfg[1], 0x00100007u);

    assert_int_equal(bf->bar_count, 2);
    assert_int_equal(bf->header_type, 1);
    assert_int_equal(bf->bars[0].kind, HV_PCI_BAR_MEM64);
    assert_int_equal(bf->bars[0].size, 0x100000000ull);
    assert_int_equal(bf->bars[0].base, 0x1000000000ull);
    assert_int_equal(b->cfg[6], 0x00010100);
    assert_false(b->bar_ones_seen[2]);

    assert_int_equal(cf->bar_count, 0);
    assert_false(c->bar_ones_seen[0]);

    assert_int_equal(df->bars[0].kind, HV_PCI_BAR_IO);
    assert_int_equal(df->bars[0].size, 0x100);
    assert_int_equal(d->cfg[1], 0);
}

/* ---- The configuration-access rule ------------------------------------------ */

static void test_config_rule(void **state)
{
    (void)state;
    struct pci_func f0 = {.header_type = 0}, f1 = {.header_type = 1};
    const uint32_t all = HV_CAP_R_PCI_ALL,
                   rw = HV_CAP_R_PCI_CONFIG_READ | HV_CAP_R_PCI_CONFIG_WRITE;
    const uint32_t ro = HV_CAP_R_PCI_CONFIG_READ, wo = HV_CAP_R_PCI_CONFIG_WRITE;

    /* Shape: offset, size, alignment (checked before the rights). */
    assert_int_equal(pci_config_check(&f0, all, 256, 1, false, 0), HV_EINVAL);
    assert_int_equal(pci_config_check(&f0, all, 0xffffffffu, 4, false, 0), HV_EINVAL);
    assert_int_equal(pci_config_check(&f0, all, 0, 3, false, 0), HV_EINVAL);
    assert_int_equal(pci_config_check(&f0, all, 0, 0, false, 0), HV_EINVAL);
    assert_int_equal(pci_config_check(&f0, all, 0, 8, false, 0), HV_EINVAL);
    assert_int_equal(pci_config_check(&f0, all, 2, 4, false, 0), HV_EINVAL);
    assert_int_equal(pci_config_check(&f0, all, 1, 2, false, 0), HV_EINVAL);
    assert_int_equal(pci_config_check(&f0, 0, 1, 2, true, 0), HV_EINVAL);
    assert_int_equal(pci_config_check(&f0, all, 255, 1, false, 0), HV_OK);
    assert_int_equal(pci_config_check(&f0, all, 252, 4, false, 0), HV_OK);
    assert_int_equal(pci_config_check(&f0, all, 254, 2, true, 0), HV_OK);

    /* Rights. */
    assert_int_equal(pci_config_check(&f0, wo, 0, 4, false, 0), HV_EPERM);
    assert_int_equal(pci_config_check(&f0, ro, 0x40, 4, true, 0), HV_EPERM);
    assert_int_equal(pci_config_check(&f0, 0, 0, 4, false, 0), HV_EPERM);
    assert_int_equal(pci_config_check(&f0, ro, 0x10, 4, false, 0), HV_OK); /* BARs readable */
    assert_int_equal(pci_config_check(&f0, wo, 0x40, 4, true, 0), HV_OK);

    /* Address registers, type 0: 0x10-0x27 and 0x30-0x33, every size. */
    for (uint32_t off = 0x0c; off < 0x40; off++)
        for (uint32_t size = 1; size <= 4; size *= 2) {
            if (off % size)
                continue;
            bool hits =
                (off + size - 1 >= 0x10 && off <= 0x27) || (off + size - 1 >= 0x30 && off <= 0x33);
            assert_int_equal(pci_config_check(&f0, all, off, size, true, 0),
                             hits ? HV_EPERM : HV_OK);
            bool hits1 = off + size - 1 >= 0x10 && off <= 0x3b;
            assert_int_equal(pci_config_check(&f1, all, off, size, true, 0),
                             hits1 ? HV_EPERM : HV_OK);
        }

    /* Bus master: bit 2 of offset 4, sizes 1, 2, 4 start there. */
    for (uint32_t size = 1; size <= 4; size *= 2) {
        assert_int_equal(pci_config_check(&f0, rw, 4, size, true, PCI_COMMAND_MASTER), HV_EPERM);
        assert_int_equal(pci_config_check(&f0, rw, 4, size, true, 0x3), HV_OK);
        assert_int_equal(pci_config_check(&f0, all, 4, size, true, 0x7), HV_OK);
    }
    assert_int_equal(pci_config_check(&f0, rw, 4, 4, true, 0xfffffffbu), HV_OK);
    /* The status register (0x06) and the byte at 0x05 are not the bit. */
    assert_int_equal(pci_config_check(&f0, rw, 6, 2, true, 0xffff), HV_OK);
    assert_int_equal(pci_config_check(&f0, rw, 5, 1, true, 0xff), HV_OK);
    /* Chipset registers of host and ISA bridges: nothing at 0x40 and up. */
    struct pci_func hb = {.header_type = 0, .class_rev = 0x06000002},
                    isa = {.header_type = 0, .class_rev = 0x06010002},
                    pcib = {.header_type = 1, .class_rev = 0x06040000};
    for (uint32_t size = 1; size <= 4; size *= 2) {
        assert_int_equal(pci_config_check(&hb, all, 0x40, size, true, 0), HV_EPERM);
        assert_int_equal(pci_config_check(&isa, all, 0xfc, size, true, 0), HV_EPERM);
        assert_int_equal(pci_config_check(&hb, all, 0x3c, size, true, 0), HV_OK);
        assert_int_equal(pci_config_check(&isa, all, 0x3c, size, true, 0), HV_OK);
        assert_int_equal(pci_config_check(&pcib, all, 0x40, size, true, 0), HV_OK);
        assert_int_equal(pci_config_check(&f0, all, 0x40, size, true, 0), HV_OK);
        assert_int_equal(pci_config_check(&hb, all, 0x40, size, false, 0), HV_OK);
    }
    assert_int_equal(pci_config_check(&isa, all, 0xa0, 4, true, 0), HV_EPERM);

    /* Reads of the command register need no DMA right. */
    assert_int_equal(pci_config_check(&f0, ro, 4, 2, false, PCI_COMMAND_MASTER), HV_OK);
}

/* ---- MSI and MSI-X capabilities --------------------------------------------- */

/* Puts byte v at configuration offset off of f. */
static void cfg_put8(struct fake_fn *f, uint32_t off, uint8_t v)
{
    f->cfg[off / 4] = (f->cfg[off / 4] & ~(0xffu << 8 * (off % 4))) | (uint32_t)v << 8 * (off % 4);
}

static void cfg_put16(struct fake_fn *f, uint32_t off, uint16_t v)
{
    cfg_put8(f, off, (uint8_t)v);
    cfg_put8(f, off + 1, (uint8_t)(v >> 8));
}

static void test_msi_capabilities(void **state)
{
    (void)state;
    /* 00:03.0: MSI (64-bit, per-vector masking) at 0x40, a vendor
     * capability at 0x58, MSI-X (size 4, table in BAR1 at 0, PBA at 0x800)
     * at 0x70. */
    struct fake_fn *f = add_fn(0, 3, 0, 0x1af4, 0x1041, 0x02000001, 0);
    cfg_put8(f, PCI_CFG_CAP_PTR, 0x42); /* low bits ignored */
    cfg_put8(f, 0x40, PCI_CAP_ID_MSI);
    cfg_put8(f, 0x41, 0x58);
    cfg_put16(f, 0x42, 1u << 7 | 1u << 8);
    cfg_put8(f, 0x58, 0x09);
    cfg_put8(f, 0x59, 0x70);
    cfg_put8(f, 0x70, PCI_CAP_ID_MSIX);
    cfg_put8(f, 0x71, 0);
    cfg_put16(f, 0x72, 3);
    f->cfg[0x74 / 4] = 0x00000001u;
    f->cfg[0x78 / 4] = 0x00000801u;
    /* 00:04.0: MSI only (32-bit, no masking); a capability list that loops
     * back to itself after a second MSI capability, which is ignored. */
    struct fake_fn *g = add_fn(0, 4, 0, 0x8086, 0x10d3, 0x02000000, 0);
    cfg_put8(g, PCI_CFG_CAP_PTR, 0x50);
    cfg_put8(g, 0x50, PCI_CAP_ID_MSI);
    cfg_put8(g, 0x51, 0x60);
    cfg_put8(g, 0x60, PCI_CAP_ID_MSI);
    cfg_put16(g, 0x62, 1u << 7);
    cfg_put8(g, 0x61, 0x50);
    /* 00:05.0: list bit clear (the pointer is not followed); 00:06.0: a
     * pointer into the header (below 0x40) ends the walk. */
    struct fake_fn *h = add_fn(0, 5, 0, 0x8086, 0x1, 0x02000000, 0);
    h->cfg[1] &= ~PCI_STATUS_CAP_LIST;
    cfg_put8(h, PCI_CFG_CAP_PTR, 0x40);
    cfg_put8(h, 0x40, PCI_CAP_ID_MSIX);
    struct fake_fn *k = add_fn(0, 6, 0, 0x8086, 0x2, 0x02000000, 0);
    cfg_put8(k, PCI_CFG_CAP_PTR, 0x3c);

    pci_enumerate(&scan);
    assert_int_equal(scan.count, 4);
    const struct pci_func *a = &scan.funcs[0], *b = &scan.funcs[1];
    assert_int_equal(a->msi_off, 0x40);
    assert_true(a->msi_64bit);
    assert_int_equal(a->msi_bytes, 24);
    assert_int_equal(a->msix_off, 0x70);
    assert_int_equal(a->msix_count, 4);
    assert_int_equal(a->msix_table_bir, 1);
    assert_int_equal(a->msix_table_off, 0);
    assert_int_equal(a->msix_pba_bir, 1);
    assert_int_equal(a->msix_pba_off, 0x800);
    assert_int_equal(b->msi_off, 0x50);
    assert_false(b->msi_64bit);
    assert_int_equal(b->msi_bytes, 10);
    assert_int_equal(b->msix_off, 0);
    assert_int_equal(scan.funcs[2].msix_off, 0);
    assert_int_equal(scan.funcs[3].msi_off, 0);

    struct hv_pci_info_args info;
    memset(&info, 0xa5, sizeof(info));
    pci_func_info(a, &info);
    assert_int_equal(info.msix_count, 4);
    assert_int_equal(info.msi_count, 1);
    assert_int_equal(info.reserved3, 0);
    assert_int_equal(info.reserved4, 0);
    pci_func_info(&scan.funcs[2], &info);
    assert_int_equal(info.msix_count, 0);
    assert_int_equal(info.msi_count, 0);

    /* Writes into either structure are the hypervisor's alone: every byte
     * of MSI (0x40-0x57) and MSI-X (0x70-0x7b), every size; reads are fine,
     * and so are the bytes around them. */
    const uint32_t all = HV_CAP_R_PCI_ALL;
    for (uint32_t off = 0x3c; off < 0x80; off++)
        for (uint32_t size = 1; size <= 4; size *= 2) {
            if (off % size)
                continue;
            bool hits =
                (off + size - 1 >= 0x40 && off <= 0x57) || (off + size - 1 >= 0x70 && off <= 0x7b);
            assert_int_equal(pci_config_check(a, all, off, size, true, 0), hits ? HV_EPERM : HV_OK);
            assert_int_equal(pci_config_check(a, all, off, size, false, 0), HV_OK);
        }
    assert_int_equal(pci_config_check(b, all, 0x58, 4, true, 0), HV_EPERM); /* 0x50-0x59 */
    assert_int_equal(pci_config_check(b, all, 0x5a, 2, true, 0), HV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_msi_capabilities, reset),
        cmocka_unit_test_setup(test_empty, reset),
        cmocka_unit_test_setup(test_multifunction, reset),
        cmocka_unit_test_setup(test_cap_of_64, reset),
        cmocka_unit_test_setup(test_bars, reset),
        cmocka_unit_test_setup(test_bar_edge_cases, reset),
        cmocka_unit_test_setup(test_config_rule, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
