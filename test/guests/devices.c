/*
 * Root-domain test of devices as capabilities (docs/devices.md): the PCI
 * capabilities the root gets at boot, HV_PCI_INFO, configuration access
 * through HC_PCI_OP with every refusal and its exact status, and MMIO
 * mapping of device frames through ordinary L1 entries (rule R3a of
 * hv/mm/pt.c): read-only and writable mappings of the standard VGA's BARs,
 * a writable mapping through a read-only copy, frames outside every MMIO
 * capability, the local APIC and I/O APIC pages, and a device frame as a
 * page table. Every check prints a line; a failed one contains "FAILED".
 * Ends with "devices: ok" and a poweroff when everything held.
 *
 * Expects QEMU's q35 with its standard VGA (1234:1111), which hvtest.py's
 * "-display none" keeps.
 */
#include "gk/gk.h"
#include "gk/mm.h"

static int failures;

static void expect(const char *what, int64_t got, int64_t want)
{
    if (got != want) {
        gk_printf("devices: FAILED %s: got %lld (%#llx), want %lld (%#llx)\n", what, (long long)got,
                  (unsigned long long)got, (long long)want, (unsigned long long)want);
        failures++;
    } else {
        gk_printf("devices: %s -> %lld\n", what, (long long)got);
    }
}

static void expect_true(const char *what, bool ok)
{
    expect(what, ok, 1);
}

/* --- helpers ---------------------------------------------------------------- */

static int64_t cap_copy(uint32_t src, uint32_t dst, uint32_t rights, uint64_t base, uint64_t count)
{
    struct hv_cap_copy_args a = {.src_slot = src,
                                 .dst_domain_slot = HV_CAP_SLOT_SELF,
                                 .dst_slot = dst,
                                 .rights = rights,
                                 .base = base,
                                 .count = count};
    return gk_hc_cap_op(HV_CAP_COPY, &a);
}

static int64_t cap_delete(uint32_t slot)
{
    struct hv_cap_slot_args a = {.slot = slot};
    return gk_hc_cap_op(HV_CAP_DELETE, &a);
}

static struct hv_cap_info cap_info(uint32_t slot)
{
    struct hv_cap_identify_args a = {.slot = slot};
    if (gk_hc_cap_op(HV_CAP_IDENTIFY, &a) != HV_OK)
        a.info.type = 0xdead;
    return a.info;
}

static int64_t pci_info(uint32_t slot, struct hv_pci_info_args *out)
{
    struct hv_pci_info_args a = {.slot = slot};
    int64_t rc = gk_hc_pci_op(HV_PCI_INFO, &a);
    *out = a;
    return rc;
}

static int64_t cfg_read(uint32_t slot, uint32_t offset, uint32_t size, uint32_t *value)
{
    struct hv_pci_config_args a = {.slot = slot, .offset = (uint16_t)offset, .size = (uint8_t)size};
    int64_t rc = gk_hc_pci_op(HV_PCI_CONFIG_READ, &a);
    if (value)
        *value = a.value;
    return rc;
}

static int64_t cfg_write(uint32_t slot, uint32_t offset, uint32_t size, uint32_t value)
{
    struct hv_pci_config_args a = {
        .slot = slot, .offset = (uint16_t)offset, .size = (uint8_t)size, .value = value};
    return gk_hc_pci_op(HV_PCI_CONFIG_WRITE, &a);
}

/* Scratch virtual addresses for device mappings (far from the image). */
#define MAP_VA 0x200000000ull
#define PTE_IO (GK_PTE_PCD | GK_PTE_PWT | GK_PTE_NX)
#define PCI_MASTER_BIT 4u /* command register: bus master enable */

/* Slots this test uses for copies (the device capabilities are >= 128). */
#define SLOT_PCI_RO 20u
#define SLOT_PCI_WO 21u
#define SLOT_PCI_NODMA 22u
#define SLOT_MMIO_RO 23u

/* --- the checks ----------------------------------------------------------------- */

static uint32_t pci_slots[64];
static unsigned pci_count;
static uint32_t host_slot = HV_PCI_NO_SLOT, isa_slot = HV_PCI_NO_SLOT;

/* Every PCI capability of the boot table, each described and read. */
static void check_enumeration(uint32_t *vga_slot)
{
    unsigned mmio_caps = 0, other = 0;
    for (uint32_t s = HV_ROOT_SLOT_DEVICE_FIRST; s < HV_CAP_SLOTS; s++) {
        struct hv_cap_info i = cap_info(s);
        if (i.type == HV_CAP_PCI && pci_count < 64) {
            pci_slots[pci_count++] = s;
            if (i.rights != (HV_CAP_R_PCI_ALL | HV_CAP_R_GRANT))
                expect("a PCI capability has every right", i.rights,
                       HV_CAP_R_PCI_ALL | HV_CAP_R_GRANT);
        } else if (i.type == HV_CAP_MMIO) {
            mmio_caps++;
        } else if (i.type != HV_CAP_NULL) {
            other++;
        }
    }
    /* q35: host bridge, VGA, e1000e, ISA bridge, SATA, SMBus. */
    expect("PCI capabilities from slot 128", pci_count, 6);
    expect("no other types among them", other, 0);
    expect_true("memory BARs have MMIO capabilities", mmio_caps >= 4);
    expect("slot 8 is still free", cap_info(HV_ROOT_SLOT_FIRST_FREE).type, HV_CAP_NULL);
    struct hv_cap_info mm = cap_info(HV_ROOT_SLOT_MMIO);
    expect("slot 5 starts at 3 GiB", (int64_t)mm.base, 0xc0000);
    expect("slot 5 ends below the I/O APIC", (int64_t)(mm.base + mm.count), 0xfec00);

    *vga_slot = HV_PCI_NO_SLOT;
    bool host_bridge = false, sata = false;
    for (unsigned k = 0; k < pci_count; k++) {
        struct hv_pci_info_args in;
        int64_t rc = pci_info(pci_slots[k], &in);
        expect("PCI info", rc, HV_OK);
        gk_printf("devices: slot %u: %02x:%02x.%u %04x:%04x class %06x irq %u/%u bars %u\n",
                  pci_slots[k], in.bus, in.dev, in.fn, in.vendor, in.device, in.class_rev >> 8,
                  in.irq_line, in.irq_pin, in.bar_count);
        expect("info names its own slot", in.pci_slot, pci_slots[k]);
        uint32_t vd = 0, v16 = 0;
        expect("config read dword 0", cfg_read(pci_slots[k], 0, 4, &vd), HV_OK);
        expect("vendor/device as in info", vd, (uint32_t)in.device << 16 | in.vendor);
        expect("config read vendor (16 bits)", cfg_read(pci_slots[k], 0, 2, &v16), HV_OK);
        expect("vendor id", v16, in.vendor);
        for (unsigned b = 0; b < in.bar_count && b < 6; b++) {
            const struct hv_pci_bar *bar = &in.bars[b];
            if (bar->kind != HV_PCI_BAR_MEM32 && bar->kind != HV_PCI_BAR_MEM64)
                continue;
            struct hv_cap_info mi = cap_info(bar->mmio_slot);
            bool ok = mi.type == HV_CAP_MMIO && mi.base == bar->base >> 12 &&
                      mi.count == (bar->size + 4095) >> 12 &&
                      mi.rights == (HV_CAP_R_MMIO_ALL | HV_CAP_R_GRANT);
            expect_true("a memory BAR's MMIO capability covers exactly its frames", ok);
        }
        if (in.class_rev >> 16 == 0x0600) {
            host_bridge = true;
            host_slot = pci_slots[k];
        }
        if (in.class_rev >> 16 == 0x0601)
            isa_slot = pci_slots[k];
        if (in.class_rev >> 8 == 0x010601)
            sata = in.bars[5].kind == HV_PCI_BAR_MEM32 && in.bars[5].size == 0x1000;
        if (in.vendor == 0x1234 && in.device == 0x1111)
            *vga_slot = pci_slots[k];
    }
    expect_true("a host bridge", host_bridge);
    expect_true("the AHCI controller's BAR5 is 4 KiB of memory", sata);
    expect_true("the standard VGA", *vga_slot != HV_PCI_NO_SLOT);
}

static void check_info_refusals(void)
{
    struct hv_pci_info_args in;
    expect("info: slot 256", pci_info(HV_CAP_SLOTS, &in), HV_EINVAL);
    expect("info: an empty slot", pci_info(HV_ROOT_SLOT_FIRST_FREE, &in), HV_ENOENT);
    expect("info: a domain capability", pci_info(HV_ROOT_SLOT_SELF, &in), HV_EPERM);
    expect("info: the MMIO capability", pci_info(HV_ROOT_SLOT_MMIO, &in), HV_EPERM);
    struct hv_pci_info_args bad = {.slot = pci_slots[0], .reserved = 1};
    expect("info: reserved set", gk_hc_pci_op(HV_PCI_INFO, &bad), HV_EINVAL);
    expect("info: a bad pointer", gk_hc_pci_op(HV_PCI_INFO, (void *)0x10), HV_EFAULT);
    expect("unknown PCI command", gk_hc_pci_op((enum hv_pci_cmd)5, &bad), HV_EINVAL);
}

static void check_config(uint32_t vga)
{
    uint32_t v = 0;
    /* Shape. */
    expect("read offset 256", cfg_read(vga, 256, 1, &v), HV_EINVAL);
    expect("read size 3", cfg_read(vga, 0, 3, &v), HV_EINVAL);
    expect("read size 8", cfg_read(vga, 0, 8, &v), HV_EINVAL);
    expect("read misaligned (2 bytes at 1)", cfg_read(vga, 1, 2, &v), HV_EINVAL);
    expect("read misaligned (4 bytes at 2)", cfg_read(vga, 2, 4, &v), HV_EINVAL);
    struct hv_pci_config_args r = {.slot = vga, .offset = 0, .size = 4, .reserved = 1};
    expect("read with reserved set", gk_hc_pci_op(HV_PCI_CONFIG_READ, &r), HV_EINVAL);
    r.reserved = 0;
    r.reserved0 = 1;
    expect("read with reserved0 set", gk_hc_pci_op(HV_PCI_CONFIG_READ, &r), HV_EINVAL);
    expect("read through a bad pointer", gk_hc_pci_op(HV_PCI_CONFIG_READ, (void *)0x10), HV_EFAULT);
    /* Slots. */
    expect("read through slot 256", cfg_read(HV_CAP_SLOTS, 0, 4, &v), HV_EINVAL);
    expect("read through an empty slot", cfg_read(HV_ROOT_SLOT_FIRST_FREE, 0, 4, &v), HV_ENOENT);
    expect("read through the console capability", cfg_read(HV_ROOT_SLOT_CONSOLE, 0, 4, &v),
           HV_EPERM);
    expect("read through the I/O-port capability", cfg_read(HV_ROOT_SLOT_IOPORT, 0, 4, &v),
           HV_EPERM);
    expect("write through the MMIO capability", cfg_write(HV_ROOT_SLOT_MMIO, 0x3c, 1, 0), HV_EPERM);

    /* Header type and a byte read. */
    expect("read the header type byte", cfg_read(vga, 0x0e, 1, &v), HV_OK);
    expect("VGA header type 0", v & 0x7f, 0);

    /* Rights through copies. */
    expect("copy VGA read-only", cap_copy(vga, SLOT_PCI_RO, HV_CAP_R_PCI_CONFIG_READ, 0, 0), HV_OK);
    expect("copy VGA write-only", cap_copy(vga, SLOT_PCI_WO, HV_CAP_R_PCI_CONFIG_WRITE, 0, 0),
           HV_OK);
    expect(
        "copy VGA read/write without DMA",
        cap_copy(vga, SLOT_PCI_NODMA, HV_CAP_R_PCI_CONFIG_READ | HV_CAP_R_PCI_CONFIG_WRITE, 0, 0),
        HV_OK);
    expect("copy VGA with a base", cap_copy(vga, 24, HV_CAP_R_PCI_ALL, 1, 1), HV_EINVAL);
    expect("read through the write-only copy", cfg_read(SLOT_PCI_WO, 0, 4, &v), HV_EPERM);
    expect("read through the read-only copy", cfg_read(SLOT_PCI_RO, 0, 4, &v), HV_OK);
    expect("the same vendor", v & 0xffff, 0x1234);
    expect("write through the read-only copy", cfg_write(SLOT_PCI_RO, 0x3c, 1, 5), HV_EPERM);

    /* A harmless register: the interrupt line byte, written and restored. */
    uint32_t line = 0, got = 0;
    expect("read the interrupt line", cfg_read(vga, 0x3c, 1, &line), HV_OK);
    expect("write the interrupt line (write-only copy)", cfg_write(SLOT_PCI_WO, 0x3c, 1, 0x5a),
           HV_OK);
    expect("read it back", cfg_read(vga, 0x3c, 1, &got), HV_OK);
    expect("the value written", got, 0x5a);
    expect("restore it", cfg_write(vga, 0x3c, 1, line), HV_OK);

    /* Address registers: refused whatever the rights; nothing changes. */
    uint32_t bar0 = 0, bar_after = 0;
    expect("read BAR0", cfg_read(vga, 0x10, 4, &bar0), HV_OK);
    expect("write BAR0", cfg_write(vga, 0x10, 4, 0xffffffffu), HV_EPERM);
    expect("write BAR0's top byte", cfg_write(vga, 0x13, 1, 0), HV_EPERM);
    expect("write BAR5", cfg_write(vga, 0x24, 4, 0), HV_EPERM);
    expect("write the expansion ROM base", cfg_write(vga, 0x30, 4, 0xfffff800u), HV_EPERM);
    expect("write the cardbus pointer (0x28, allowed)", cfg_write(vga, 0x28, 1, 0), HV_OK);
    expect("read BAR0 again", cfg_read(vga, 0x10, 4, &bar_after), HV_OK);
    expect("BAR0 unchanged", bar_after, bar0);

    /* Bus mastering needs the DMA right. */
    uint32_t cmd = 0;
    expect("read the command register", cfg_read(vga, 4, 2, &cmd), HV_OK);
    expect_true("memory decoding is on", (cmd & 2) != 0);
    expect("enable bus mastering without DMA",
           cfg_write(SLOT_PCI_NODMA, 4, 2, cmd | PCI_MASTER_BIT), HV_EPERM);
    expect("...as a byte", cfg_write(SLOT_PCI_NODMA, 4, 1, (cmd | PCI_MASTER_BIT) & 0xff),
           HV_EPERM);
    expect("...as a dword", cfg_write(SLOT_PCI_NODMA, 4, 4, cmd | PCI_MASTER_BIT), HV_EPERM);
    expect("read the command register again", cfg_read(vga, 4, 2, &got), HV_OK);
    expect("unchanged", got, cmd);
    expect("write it without the bit, no DMA right",
           cfg_write(SLOT_PCI_NODMA, 4, 2, cmd & ~PCI_MASTER_BIT), HV_OK);
    expect("enable bus mastering with DMA", cfg_write(vga, 4, 2, cmd | PCI_MASTER_BIT), HV_OK);
    expect("read it", cfg_read(vga, 4, 2, &got), HV_OK);
    expect("bus mastering on", got & PCI_MASTER_BIT, PCI_MASTER_BIT);
    expect("restore the command register", cfg_write(vga, 4, 2, cmd), HV_OK);
    expect("read it", cfg_read(vga, 4, 2, &got), HV_OK);
    expect("restored", got, cmd);
}

/* Chipset registers of the host and ISA bridges: readable, never written
 * (the value written back is the one read, so a broken check changes
 * nothing either). */
static void check_chipset(void)
{
    uint32_t v = 0;
    expect_true("an ISA bridge", isa_slot != HV_PCI_NO_SLOT);
    expect("read the host bridge's 0x60 (PCIEXBAR)", cfg_read(host_slot, 0x60, 4, &v), HV_OK);
    expect("write it back", cfg_write(host_slot, 0x60, 4, v), HV_EPERM);
    expect("read the host bridge's 0x90 (PAM0)", cfg_read(host_slot, 0x90, 1, &v), HV_OK);
    expect("write it back", cfg_write(host_slot, 0x90, 1, v), HV_EPERM);
    expect("read the ISA bridge's 0x40 (PMBASE)", cfg_read(isa_slot, 0x40, 4, &v), HV_OK);
    expect("write it back", cfg_write(isa_slot, 0x40, 4, v), HV_EPERM);
    expect("read the ISA bridge's 0xfc", cfg_read(isa_slot, 0xfc, 4, &v), HV_OK);
    expect("write it back", cfg_write(isa_slot, 0xfc, 4, v), HV_EPERM);
    expect("read the host bridge's interrupt line", cfg_read(host_slot, 0x3c, 1, &v), HV_OK);
    expect("write it back (not a chipset register)", cfg_write(host_slot, 0x3c, 1, v), HV_OK);
}

static uint64_t vga_bar(uint32_t vga, unsigned b, uint32_t *mmio_slot)
{
    struct hv_pci_info_args in;
    if (pci_info(vga, &in) != HV_OK)
        return 0;
    *mmio_slot = in.bars[b].mmio_slot;
    return in.bars[b].base;
}

static void check_mmio(uint32_t vga)
{
    uint32_t fb_slot = HV_PCI_NO_SLOT, regs_slot = HV_PCI_NO_SLOT;
    uint64_t fb = vga_bar(vga, 0, &fb_slot);
    uint64_t regs = vga_bar(vga, 2, &regs_slot);
    expect_true("VGA BAR0 (framebuffer) has an MMIO capability", fb_slot != HV_PCI_NO_SLOT);
    expect_true("VGA BAR2 (registers) has an MMIO capability", regs_slot != HV_PCI_NO_SLOT);
    uint64_t fb_mfn = fb >> 12, regs_mfn = regs >> 12;
    uint64_t va = MAP_VA;

    /* Read-only mapping of the register BAR: the Bochs display ID. */
    expect("map the VGA register frame read-only", gk_map_frame(va, regs_mfn, GK_PTE_RO | PTE_IO),
           HV_OK);
    uint16_t id = *(volatile uint16_t *)(uintptr_t)(va + 0x500);
    gk_printf("devices: Bochs display ID %#x\n", id);
    expect("the display ID reads 0xb0cX", id & 0xfff0, 0xb0c0);
    expect("unmap it", gk_unmap(va), HV_OK);

    /* Writable mapping of the framebuffer: a pattern goes in and comes back. */
    expect("map a framebuffer frame writable", gk_map_frame(va, fb_mfn + 1, GK_PTE_RWDATA | PTE_IO),
           HV_OK);
    volatile uint32_t *p = (volatile uint32_t *)(uintptr_t)va;
    p[0] = 0x12345678u;
    p[1023] = 0x9abcdef0u;
    expect("framebuffer word 0", p[0], 0x12345678u);
    expect("framebuffer word 1023", p[1023], 0x9abcdef0u);
    expect("unmap it", gk_unmap(va), HV_OK);
    expect("map it again read-only", gk_map_frame(va, fb_mfn + 1, GK_PTE_RO | PTE_IO), HV_OK);
    expect("the pattern is in the device", p[0], 0x12345678u);
    expect("unmap it", gk_unmap(va), HV_OK);

    /* A device frame is never a page table. */
    expect("pin a framebuffer frame as an L1", gk_hc_mmuext_op(HV_MMUEXT_PIN_L1, fb_mfn),
           HV_ERANGE);
    /* Frames outside every MMIO capability, and the hypervisor's. */
    expect("map the local APIC page", gk_map_frame(va, 0xfee00, GK_PTE_RO | PTE_IO), HV_ERANGE);
    expect("map the I/O APIC page", gk_map_frame(va, 0xfec00, GK_PTE_RO | PTE_IO), HV_ERANGE);
    expect("map the frame below slot 5", gk_map_frame(va, 0xbffff, GK_PTE_RO | PTE_IO), HV_ERANGE);
    expect("map the frame at 4 GiB", gk_map_frame(va, 0x100000, GK_PTE_RO | PTE_IO), HV_ERANGE);
    expect("map the frame at 64 GiB", gk_map_frame(va, 0x1000000, GK_PTE_RWDATA | PTE_IO),
           HV_ERANGE);
    /* Slot 5 alone covers an empty part of the hole. */
    expect("map frame 0xc0000 (slot 5)", gk_map_frame(va, 0xc0000, GK_PTE_RO | PTE_IO), HV_OK);
    expect("unmap it", gk_unmap(va), HV_OK);

    /* Through a read-only copy only: slot 5 and the BAR capability go. */
    struct hv_cap_info ri = cap_info(regs_slot);
    expect("copy the register BAR's capability read-only",
           cap_copy(regs_slot, SLOT_MMIO_RO, HV_CAP_R_MMIO_READ, ri.base, ri.count), HV_OK);
    expect("copy with more frames than the BAR",
           cap_copy(regs_slot, 24, HV_CAP_R_MMIO_READ, ri.base, ri.count + 1), HV_ERANGE);
    expect("delete slot 5", cap_delete(HV_ROOT_SLOT_MMIO), HV_OK);
    expect("delete the BAR capability", cap_delete(regs_slot), HV_OK);
    expect("the copy stays", cap_info(SLOT_MMIO_RO).type, HV_CAP_MMIO);
    expect("map the register frame writable through the read-only copy",
           gk_map_frame(va, regs_mfn, GK_PTE_RWDATA | PTE_IO), HV_EPERM);
    expect("map it read-only", gk_map_frame(va, regs_mfn, GK_PTE_RO | PTE_IO), HV_OK);
    expect("the display ID again", *(volatile uint16_t *)(uintptr_t)(va + 0x500) & 0xfff0, 0xb0c0);
    expect("unmap it", gk_unmap(va), HV_OK);
    expect("frame 0xc0000 now has no capability", gk_map_frame(va, 0xc0000, GK_PTE_RO | PTE_IO),
           HV_ERANGE);
    expect("delete the read-only copy", cap_delete(SLOT_MMIO_RO), HV_OK);
    expect("the register frame has no capability left",
           gk_map_frame(va, regs_mfn, GK_PTE_RO | PTE_IO), HV_ERANGE);
    /* The framebuffer's own capability still works. */
    expect("map a framebuffer frame read-only", gk_map_frame(va, fb_mfn, GK_PTE_RO | PTE_IO),
           HV_OK);
    expect("unmap it", gk_unmap(va), HV_OK);

    /* The same rule through HC_UPDATE_VA_MAPPING (the L1 of va exists now). */
    uint64_t pte_fb = fb_mfn << 12 | GK_PTE_RWDATA | PTE_IO;
    expect("update_va_mapping: a framebuffer frame writable",
           gk_hc_update_va_mapping(va, pte_fb, HV_UVM_INVLPG), HV_OK);
    volatile uint32_t *q = (volatile uint32_t *)(uintptr_t)va;
    q[7] = 0x5a5aa5a5u;
    expect("the word written through it", q[7], 0x5a5aa5a5u);
    expect("update_va_mapping: replace it by the local APIC page",
           gk_hc_update_va_mapping(va, 0xfee00ull << 12 | GK_PTE_RO | PTE_IO, HV_UVM_INVLPG),
           HV_ERANGE);
    expect("the framebuffer mapping stays", q[7], 0x5a5aa5a5u);
    expect("update_va_mapping: the register frame (no capability left)",
           gk_hc_update_va_mapping(va, regs_mfn << 12 | GK_PTE_RO | PTE_IO, HV_UVM_INVLPG),
           HV_ERANGE);
    expect("update_va_mapping: unmap", gk_hc_update_va_mapping(va, 0, HV_UVM_INVLPG), HV_OK);

    /* Revocation takes effect at once for device memory: a mapping made
     * through a copy disappears when the copy is revoked away. */
    struct hv_cap_info fi = cap_info(fb_slot);
    expect("copy the framebuffer capability (with grant)",
           cap_copy(fb_slot, SLOT_MMIO_RO, HV_CAP_R_MMIO_ALL | HV_CAP_R_GRANT, fi.base, fi.count),
           HV_OK);
    expect("and a copy of the copy",
           cap_copy(SLOT_MMIO_RO, 24, HV_CAP_R_MMIO_READ, fi.base, fi.count), HV_OK);
    expect("delete the original (only the copies cover the framebuffer now)", cap_delete(fb_slot),
           HV_OK);
    expect("map a framebuffer frame through the copies",
           gk_map_frame(va, fb_mfn, GK_PTE_RO | PTE_IO), HV_OK);
    uint64_t maddr = gk_pt_entry_maddr(va, 1);
    expect_true("the L1 entry is present", (gk_pt_read(maddr) & 1) != 0);
    struct hv_cap_slot_args del = {.slot = SLOT_MMIO_RO};
    expect("delete the first copy", gk_hc_cap_op(HV_CAP_DELETE, &del), HV_OK);
    expect_true("the copy of the copy still covers it: entry present",
                (gk_pt_read(maddr) & 1) != 0);
    del.slot = 24;
    expect("delete the last covering capability", gk_hc_cap_op(HV_CAP_DELETE, &del), HV_OK);
    expect("the mapping went with it", gk_pt_read(maddr) & 1, 0);
}

int main(const struct hv_start_info *si)
{
    if (gk_mm_init(si) != 0)
        gk_panic("devices: gk_mm_init failed");
    uint32_t vga;
    check_enumeration(&vga);
    if (pci_count > 0)
        check_info_refusals();
    if (vga != HV_PCI_NO_SLOT) {
        check_config(vga);
        check_mmio(vga);
    }
    if (host_slot != HV_PCI_NO_SLOT)
        check_chipset();
    if (failures)
        gk_panic("devices: %d checks FAILED", failures);
    gk_printf("devices: ok\n");
    return 0;
}
