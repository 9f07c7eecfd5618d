/*
 * virtio-probe: a root domain finds a virtio-PCI modern device among the
 * PCI capabilities the hypervisor gave it (gk_pci_enumerate_caps), parses
 * its virtio capabilities through the HC_PCI_OP backend, maps the common
 * configuration structure through the BAR's MMIO capability, reads the
 * device features, resets the device and reads its status back. Then it
 * checks what a domain without the rights gets: a read-only copy of the
 * PCI capability cannot write, a copy without DMA cannot enable bus
 * mastering, empty and non-PCI slots are refused, a read-only MMIO
 * capability gives no writable mapping (refused by gk_pci_map_bar and, when
 * the struct lies, by the hypervisor), and a BAR no capability covers is
 * not mapped at all.
 *
 * Every check prints a line; a failed one contains "FAILED". Ends with
 * "virtio-probe: ok" and a poweroff when everything held. Run it with a
 * virtio device on the QEMU command line, e.g.
 * -device virtio-rng-pci,disable-legacy=on (test/integration/guestkit.cmake).
 */
#include "gk/gk.h"
#include "gk/mm.h"
#include "gk/pci.h"
#include "gk/virtio.h"

static int failures;

static void expect(const char *what, int64_t got, int64_t want)
{
    if (got != want) {
        gk_printf("virtio-probe: FAILED %s: got %lld (%#llx), want %lld (%#llx)\n", what,
                  (long long)got, (unsigned long long)got, (long long)want,
                  (unsigned long long)want);
        failures++;
    } else {
        gk_printf("virtio-probe: %s -> %lld\n", what, (long long)got);
    }
}

static void expect_true(const char *what, bool ok)
{
    expect(what, ok, 1);
}

/* Scratch virtual addresses for the device mappings (far from the image). */
#define MAP_VA 0x200000000ull
#define MAP_VA2 0x200100000ull
/* Slots for the copies this test makes (the device capabilities are >= 128). */
#define SLOT_PCI_RO 20u
#define SLOT_PCI_NODMA 21u
#define SLOT_MMIO_RO 22u
#define MAX_FUNCTIONS 32u

static struct gk_pci_cap_function fns[MAX_FUNCTIONS];

static void list_functions(size_t n)
{
    for (size_t i = 0; i < n && i < MAX_FUNCTIONS; i++) {
        const struct gk_pci_cap_function *f = &fns[i];
        gk_printf("virtio-probe: slot %u: %02x:%02x.%u %04x:%04x class %02x%02x%02x\n", f->pci_slot,
                  f->dev.bdf.bus, f->dev.bdf.dev, f->dev.bdf.fn, f->dev.vendor_id, f->dev.device_id,
                  f->dev.class_code, f->dev.subclass, f->dev.prog_if);
        for (unsigned b = 0; b < f->bar_count; b++) {
            const struct gk_pci_cap_bar *bar = &f->bars[b];
            if (bar->kind == HV_PCI_BAR_NONE || bar->kind == HV_PCI_BAR_MEM64_HIGH)
                continue;
            gk_printf("virtio-probe:   BAR%u kind %u base %#llx size %#llx mmio slot %d\n", b,
                      bar->kind, (unsigned long long)bar->base, (unsigned long long)bar->size_bytes,
                      (int)bar->mmio_slot);
        }
    }
}

/* Reads the common configuration and resets the device. */
static void probe_common(volatile struct gk_virtio_pci_common_cfg *cc)
{
    cc->device_feature_select = 0;
    uint32_t lo = cc->device_feature;
    cc->device_feature_select = 1;
    uint32_t hi = cc->device_feature;
    uint64_t features = (uint64_t)hi << 32 | lo;
    gk_printf("virtio-probe: device features %#llx, %u queues\n", (unsigned long long)features,
              cc->num_queues);
    expect("VIRTIO_F_VERSION_1 offered", (features >> GK_VIRTIO_F_VERSION_1) & 1, 1);
    expect_true("at least one queue", cc->num_queues >= 1);

    cc->device_status = 0;
    /* The reset is complete when the status reads 0 (virtio 1.2, 4.1.4.3.2). */
    uint8_t status = 0xff;
    for (unsigned i = 0; i < 1000000 && (status = cc->device_status) != 0; i++)
        ;
    gk_printf("virtio-probe: status after reset %u\n", status);
    expect("status after reset", status, 0);
    cc->device_status = GK_VIRTIO_STATUS_ACKNOWLEDGE;
    expect("status ACKNOWLEDGE", cc->device_status, GK_VIRTIO_STATUS_ACKNOWLEDGE);
    cc->device_status = GK_VIRTIO_STATUS_ACKNOWLEDGE | GK_VIRTIO_STATUS_DRIVER;
    expect("status ACKNOWLEDGE|DRIVER", cc->device_status,
           GK_VIRTIO_STATUS_ACKNOWLEDGE | GK_VIRTIO_STATUS_DRIVER);
    cc->device_status = 0;
    for (unsigned i = 0; i < 1000000 && (status = cc->device_status) != 0; i++)
        ;
    expect("status after the second reset", status, 0);
}

/* What a domain with fewer rights gets. */
static void check_refusals(const struct gk_pci_cap_function *f,
                           const struct gk_virtio_pci_caps *caps)
{
    struct gk_pci_cap_backend be;
    struct gk_pci_cfg cfg;
    expect("backend on an empty slot", gk_pci_cap_cfg_init(HV_ROOT_SLOT_FIRST_FREE, &be, &cfg),
           HV_ENOENT);
    expect("backend on the MMIO capability", gk_pci_cap_cfg_init(HV_ROOT_SLOT_MMIO, &be, &cfg),
           HV_EPERM);
    expect("backend on slot 256", gk_pci_cap_cfg_init(HV_CAP_SLOTS, &be, &cfg), HV_EINVAL);
    struct gk_pci_cap_function d;
    expect("describe an empty slot", gk_pci_cap_describe(HV_ROOT_SLOT_FIRST_FREE, &d), HV_ENOENT);

    /* A read-only copy of the PCI capability. */
    expect("copy the PCI capability read-only",
           gk_cap_copy(f->pci_slot, HV_CAP_SLOT_SELF, SLOT_PCI_RO, HV_CAP_R_PCI_CONFIG_READ, 0, 0),
           HV_OK);
    expect("backend on the read-only copy", gk_pci_cap_cfg_init(SLOT_PCI_RO, &be, &cfg), HV_OK);
    expect("vendor through it", gk_pci_read16(&cfg, f->dev.bdf, GK_PCI_OFF_VENDOR),
           GK_VIRTIO_PCI_VENDOR);
    expect("no error so far", be.last_error, HV_OK);
    uint16_t cmd = gk_pci_read16(&cfg, f->dev.bdf, GK_PCI_OFF_COMMAND);
    gk_pci_write_command(&cfg, f->dev.bdf, cmd ^ GK_PCI_COMMAND_IO);
    expect("a write through the read-only copy", be.last_error, HV_EPERM);
    expect("the command register unchanged", gk_pci_read16(&cfg, f->dev.bdf, GK_PCI_OFF_COMMAND),
           cmd);
    uint32_t v = 0;
    expect("a byte write through it", gk_pci_cap_config_write(SLOT_PCI_RO, 0x3c, 1, 0), HV_EPERM);
    expect("a byte read through it", gk_pci_cap_config_read(SLOT_PCI_RO, 0x3c, 1, &v), HV_OK);
    struct gk_virtio_pci_caps caps2;
    be.last_error = HV_OK;
    expect("virtio caps through the read-only copy",
           gk_virtio_pci_find_caps(&cfg, f->dev.bdf, &caps2), HV_OK);
    expect("the same common region",
           caps2.common.offset == caps->common.offset && caps2.common.bar == caps->common.bar, 1);
    struct gk_pci_bdf other = {f->dev.bdf.bus, (uint8_t)((f->dev.bdf.dev + 1) & 31), 0};
    expect("another function through this backend reads as absent",
           gk_pci_read16(&cfg, other, GK_PCI_OFF_VENDOR), 0xffff);
    expect("the backend sees one function", (int64_t)gk_pci_enumerate(&cfg, 0, 0, &d.dev, 1),
           f->dev.bdf.bus == 0 ? 1 : 0);

    /* A copy with the config rights but not DMA. */
    expect("copy it without DMA",
           gk_cap_copy(f->pci_slot, HV_CAP_SLOT_SELF, SLOT_PCI_NODMA,
                       HV_CAP_R_PCI_CONFIG_READ | HV_CAP_R_PCI_CONFIG_WRITE, 0, 0),
           HV_OK);
    expect("backend on it", gk_pci_cap_cfg_init(SLOT_PCI_NODMA, &be, &cfg), HV_OK);
    gk_pci_write_command(&cfg, f->dev.bdf, (uint16_t)(cmd | GK_PCI_COMMAND_BUS_MASTER));
    expect("enable bus mastering without DMA", be.last_error, HV_EPERM);
    be.last_error = HV_OK;
    gk_pci_write_command(&cfg, f->dev.bdf, (uint16_t)(cmd & ~GK_PCI_COMMAND_BUS_MASTER));
    expect("write the command register without it", be.last_error, HV_OK);

    /* The copies are listed, with their rights. */
    size_t all = gk_pci_enumerate_caps(0, fns, MAX_FUNCTIONS);
    const struct gk_pci_cap_function *ro = NULL;
    for (size_t i = 0; i < all && i < MAX_FUNCTIONS; i++)
        if (fns[i].pci_slot == SLOT_PCI_RO)
            ro = &fns[i];
    expect_true("the read-only copy is enumerated", ro != NULL);
    if (ro) {
        expect("with its rights", ro->pci_rights, HV_CAP_R_PCI_CONFIG_READ);
        expect("the same function", ro->dev.device_id, f->dev.device_id);
    }

    /* BAR mapping refusals. */
    struct gk_pci_mapping m;
    const struct gk_virtio_pci_region *r = &caps->common;
    const struct gk_pci_cap_bar *bar = &f->bars[r->bar];
    expect("map BAR 6", gk_pci_map_bar(f, 6, 0, 4096, MAP_VA, false, &m), HV_EINVAL);
    expect("map length 0", gk_pci_map_bar(f, r->bar, 0, 0, MAP_VA, false, &m), HV_EINVAL);
    expect("map at an unaligned address", gk_pci_map_bar(f, r->bar, 0, 8, MAP_VA + 8, false, &m),
           HV_EINVAL);
    expect("map past the BAR's end",
           gk_pci_map_bar(f, r->bar, bar->size_bytes - 8, 16, MAP_VA, false, &m), HV_ERANGE);
    for (unsigned b = 0; b < f->bar_count; b++) {
        if (f->bars[b].kind != HV_PCI_BAR_MEM32 && f->bars[b].kind != HV_PCI_BAR_MEM64) {
            expect("map a BAR that is not memory", gk_pci_map_bar(f, b, 0, 4, MAP_VA, false, &m),
                   HV_EINVAL);
            break;
        }
    }

    /* A read-only MMIO capability: the only one left covering the BAR. */
    expect("copy the BAR's MMIO capability read-only", bar->mmio_slot != HV_PCI_NO_SLOT, 1);
    struct hv_cap_info mi = {0};
    expect("identify it", gk_cap_identify(bar->mmio_slot, &mi), HV_OK);
    expect("copy it read-only",
           gk_cap_copy(bar->mmio_slot, HV_CAP_SLOT_SELF, SLOT_MMIO_RO, HV_CAP_R_MMIO_READ, mi.base,
                       mi.count),
           HV_OK);
    expect("delete slot 5", gk_cap_delete(HV_ROOT_SLOT_MMIO), HV_OK);
    expect("delete the BAR's own capability", gk_cap_delete(bar->mmio_slot), HV_OK);
    struct gk_pci_cap_function now;
    expect("describe the function again", gk_pci_cap_describe(f->pci_slot, &now), HV_OK);
    expect("the BAR is now covered by the read-only copy", now.bars[r->bar].mmio_slot,
           SLOT_MMIO_RO);
    expect("with its rights", now.bars[r->bar].mmio_rights, HV_CAP_R_MMIO_READ);
    expect("map the common config writable",
           gk_pci_map_bar(&now, r->bar, r->offset, r->length, MAP_VA2, true, &m), HV_EPERM);
    struct gk_pci_cap_function liar = now;
    liar.bars[r->bar].mmio_rights = HV_CAP_R_MMIO_ALL;
    expect("...with a struct that claims the write right (the hypervisor refuses)",
           gk_pci_map_bar(&liar, r->bar, r->offset, r->length, MAP_VA2, true, &m), HV_EPERM);
    expect("map it read-only",
           gk_pci_map_bar(&now, r->bar, r->offset, r->length, MAP_VA2, false, &m), HV_OK);
    volatile struct gk_virtio_pci_common_cfg *cc = m.ptr;
    expect("the status reads through it", cc->device_status, 0);
    expect("unmap it", gk_pci_unmap_bar(&m), HV_OK);
    expect("delete the read-only copy", gk_cap_delete(SLOT_MMIO_RO), HV_OK);
    expect("describe the function again", gk_pci_cap_describe(f->pci_slot, &now), HV_OK);
    expect("no capability covers the BAR", now.bars[r->bar].mmio_slot, HV_PCI_NO_SLOT);
    expect("map it", gk_pci_map_bar(&now, r->bar, r->offset, r->length, MAP_VA2, false, &m),
           HV_ERANGE);
    expect("...with the old struct (the hypervisor refuses)",
           gk_pci_map_bar(f, r->bar, r->offset, r->length, MAP_VA2, false, &m), HV_ERANGE);
}

int main(const struct hv_start_info *si)
{
    if (gk_mm_init(si) != 0)
        gk_panic("virtio-probe: gk_mm_init failed");
    size_t n = gk_pci_enumerate_caps(HV_ROOT_SLOT_DEVICE_FIRST, fns, MAX_FUNCTIONS);
    gk_printf("virtio-probe: %u PCI functions\n", (unsigned)n);
    list_functions(n);
    const struct gk_pci_cap_function *found =
        gk_pci_cap_find(fns, n < MAX_FUNCTIONS ? n : MAX_FUNCTIONS, GK_VIRTIO_PCI_VENDOR, 0xffff);
    if (!found) {
        gk_printf("virtio-probe: FAILED no virtio device (vendor 0x1af4)\n");
        return 1;
    }
    /* fns is reused by the refusal checks: keep our own copy. */
    struct gk_pci_cap_function f = *found;
    gk_printf("virtio-probe: virtio device %04x:%04x at %02x:%02x.%u, slot %u\n", f.dev.vendor_id,
              f.dev.device_id, f.dev.bdf.bus, f.dev.bdf.dev, f.dev.bdf.fn, f.pci_slot);
    expect_true("a modern device id (0x1040 + type)",
                f.dev.device_id >= GK_VIRTIO_PCI_DEVICE_MODERN_BASE);

    struct gk_pci_cap_backend be;
    struct gk_pci_cfg cfg;
    expect("config backend", gk_pci_cap_cfg_init(f.pci_slot, &be, &cfg), HV_OK);
    struct gk_virtio_pci_caps caps;
    expect("virtio capabilities", gk_virtio_pci_find_caps(&cfg, f.dev.bdf, &caps), HV_OK);
    expect("no config access failed", be.last_error, HV_OK);
    gk_printf(
        "virtio-probe: common BAR%u+%#x len %#x, notify BAR%u+%#x mult %u, isr %u, device %u\n",
        caps.common.bar, caps.common.offset, caps.common.length, caps.notify.bar,
        caps.notify.offset, caps.notify_off_multiplier, caps.has_isr, caps.has_device);
    if (caps.common.length < sizeof(struct gk_virtio_pci_common_cfg)) {
        gk_printf("virtio-probe: FAILED common config too short\n");
        return 1;
    }

    uint16_t cmd = gk_pci_read16(&cfg, f.dev.bdf, GK_PCI_OFF_COMMAND);
    if (!(cmd & GK_PCI_COMMAND_MEMORY)) {
        gk_pci_write_command(&cfg, f.dev.bdf, (uint16_t)(cmd | GK_PCI_COMMAND_MEMORY));
        expect("enable memory decoding", be.last_error, HV_OK);
    }
    struct gk_pci_mapping m;
    expect("map the common config writable",
           gk_pci_map_bar(&f, caps.common.bar, caps.common.offset,
                          sizeof(struct gk_virtio_pci_common_cfg), MAP_VA, true, &m),
           HV_OK);
    if (failures) {
        gk_printf("virtio-probe: FAILED before the device was touched\n");
        return 1;
    }
    probe_common(m.ptr);
    expect("unmap it", gk_pci_unmap_bar(&m), HV_OK);

    check_refusals(&f, &caps);
    if (failures) {
        gk_printf("virtio-probe: FAILED %d checks\n", failures);
        return 1;
    }
    gk_printf("virtio-probe: ok\n");
    return 0;
}
