/*
 * A driver domain for the device tests (test/integration/iommu.cmake and
 * control_test.py's `devices`): a domain given PCI functions by its
 * manifest (`pci:`). It reports what it holds, one line per capability:
 *
 *   iommu-driver: pci 00:03.0 1af4:1042 slot 128 rights 0x7 msix 2 msi 1
 *   iommu-driver:   bar 4 slot 133 rights 0x3
 *
 * then, for each check asked for on the command line, prints its result
 * ("ok" or "FAILED") and ends with "iommu-driver: done" and a poweroff.
 * Checks:
 *   report          nothing more
 *   config-write    a config write of the interrupt line (needs config)
 *   no-copy         copying its PCI capability is refused (no GRANT right)
 */
#include <string.h>

#include "gk/cap.h"
#include "gk/gk.h"
#include "gk/pci.h"

#define MAX_FUNCS 8u

static struct gk_pci_cap_function fns[MAX_FUNCS];
static int failures;

static void result(const char *what, bool ok)
{
    failures += !ok;
    gk_printf("iommu-driver: %s: %s\n", what, ok ? "ok" : "FAILED");
}

int main(const struct hv_start_info *si)
{
    const char *cmd = si->cmdline;
    size_t n = gk_pci_enumerate_caps(HV_ROOT_SLOT_DEVICE_FIRST, fns, MAX_FUNCS);
    if (n > MAX_FUNCS)
        n = MAX_FUNCS;
    gk_printf("iommu-driver: %u PCI functions\n", (unsigned)n);
    for (size_t i = 0; i < n; i++) {
        const struct gk_pci_cap_function *f = &fns[i];
        gk_printf("iommu-driver: pci %02x:%02x.%u %04x:%04x slot %u rights %#x msix %u msi %u\n",
                  f->dev.bdf.bus, f->dev.bdf.dev, f->dev.bdf.fn, f->dev.vendor_id, f->dev.device_id,
                  f->pci_slot, f->pci_rights, f->msix_count, f->msi_count);
        for (uint32_t b = 0; b < f->bar_count; b++)
            if (f->bars[b].mmio_slot != HV_PCI_NO_SLOT)
                gk_printf("iommu-driver:   bar %u slot %u rights %#x\n", b, f->bars[b].mmio_slot,
                          f->bars[b].mmio_rights);
    }
    if (n && strstr(cmd, "config-write")) {
        uint32_t v = 0;
        int64_t rc = gk_pci_cap_config_read(fns[0].pci_slot, 0x3c, 1, &v);
        int64_t wc = gk_pci_cap_config_write(fns[0].pci_slot, 0x3c, 1, v);
        result("config read and write", rc == HV_OK && wc == HV_OK);
    }
    if (n && strstr(cmd, "no-copy"))
        result("copying the PCI capability is refused",
               gk_cap_copy(fns[0].pci_slot, HV_CAP_SLOT_SELF, 200, 0, 0, 0) == HV_EPERM);
    gk_printf("iommu-driver: done, %d failed\n", failures);
    return failures ? 1 : 0;
}
