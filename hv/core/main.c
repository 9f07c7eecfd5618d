/*
 * hv_main: the boot CPU's path from the 64-bit entry to the root domain.
 * Order matters: the log first (so every later failure is reported), then
 * the boot information, the CPU tables, the hypervisor's page tables, the
 * frame allocator, time, and finally the root domain.
 */
#include <string.h>

#include "arch.h"
#include "arch_hooks.h"
#include "domain.h"
#include "schedule.h"
#include "dom_build.h"
#include "log.h"
#include "mb2.h"
#include "mm_hv.h"
#include "pci.h"
#include "pmm.h"
#include "test_op.h"

extern uint8_t _phys_start[], _phys_end[];

/* The boot page tables map only the first GiB; the boot information must be
 * readable there. */
#define BOOT_MAPPED_LIMIT (1ull << 30)

static struct mb2_info boot_info;
static struct pmm frame_pool;

static const char *mem_type_name(uint32_t t)
{
    switch (t) {
    case MEM_AVAILABLE: return "available";
    case MEM_RESERVED: return "reserved";
    case MEM_ACPI_RECLAIMABLE: return "ACPI reclaimable";
    case MEM_NVS: return "ACPI NVS";
    case MEM_BADRAM: return "bad RAM";
    }
    return "unknown";
}

static void set_log_level(void)
{
    char lvl[16];
    if (!cmdline_get("loglvl", lvl, sizeof(lvl)))
        return;
    if (!strcmp(lvl, "error"))
        log_set_level(LOG_ERR);
    else if (!strcmp(lvl, "warn"))
        log_set_level(LOG_WARN);
    else if (!strcmp(lvl, "info"))
        log_set_level(LOG_INFO);
    else if (!strcmp(lvl, "debug"))
        log_set_level(LOG_DEBUG);
    else
        log_warn("unknown loglvl=%s (error, warn, info, debug)", lvl);
}

/* Memory the frame allocator must never hand out: the first MiB and the
 * hypervisor's image, then (from RESERVED_BUSY on) what the boot path still
 * reads: the boot information and the modules. */
#define RESERVED_BUSY 2
static struct mem_range reserved[MB2_MODULES_MAX + 3];
static size_t reserved_count;

static void frames_init(const struct mb2_info *mbi, paddr_t mbi_phys)
{
    size_t n = 0;
    reserved[n++] = (struct mem_range){0, 1ull << 20}; /* real-mode area, firmware */
    reserved[n++] =
        (struct mem_range){(paddr_t)(uintptr_t)_phys_start, (paddr_t)(uintptr_t)_phys_end};
    reserved[n++] = (struct mem_range){mbi_phys, mbi_phys + mbi->total_size_bytes};
    for (size_t i = 0; i < mbi->modules_count; i++)
        reserved[n++] = (struct mem_range){mbi->modules[i].start, mbi->modules[i].end};
    reserved_count = n;

    paddr_t bitmap_paddr;
    size_t bitmap_bytes;
    if (!pmm_plan(mbi->mmap, mbi->mmap_count, reserved, n, arch_directmap_limit(), &bitmap_paddr,
                  &bitmap_bytes))
        panic("boot: no usable memory for the frame allocator");
    if (!pmm_init(&frame_pool, mbi->mmap, mbi->mmap_count, reserved, n, arch_directmap_limit(),
                  bitmap_paddr, arch_frame_va(paddr_to_mfn(bitmap_paddr)), bitmap_bytes))
        panic("boot: frame allocator initialisation failed");
    log_info("memory: %llu frames usable (%llu MiB), %llu free after boot reservations",
             (unsigned long long)pmm_total_count(&frame_pool),
             (unsigned long long)(pmm_total_count(&frame_pool) >> 8),
             (unsigned long long)pmm_free_count(&frame_pool));
}

static mfn_t boot_frame_alloc(void *ctx)
{
    return pmm_alloc(ctx);
}

/* Starts the other CPUs (their stacks come from the frame allocator). */
static void smp_init(const struct mb2_info *mbi)
{
    struct arch_smp_boot b = {
        .acpi_rsdp = mbi->acpi_rsdp,
        .acpi_rsdp_size_bytes = mbi->acpi_rsdp_size_bytes,
        .mmap = mbi->mmap,
        .mmap_count = mbi->mmap_count,
        .busy = &reserved[RESERVED_BUSY],
        .busy_count = reserved_count - RESERVED_BUSY,
        .alloc = boot_frame_alloc,
        .alloc_ctx = &frame_pool,
    };
    arch_smp_init(&b);
}

/* The IOMMU (docs/devices.md): on unless the command line says
 * `iommu=off-unsafe`, which leaves DMA unconfined for every domain given
 * the DMA right (and says so loudly). */
static void iommu_init(const struct mb2_info *mbi)
{
    char v[16];
    bool off_unsafe = cmdline_get("iommu", v, sizeof(v)) && !strcmp(v, "off-unsafe");
    enum arch_iommu found = ARCH_IOMMU_NONE;
    if (!off_unsafe)
        found = arch_iommu_init(mbi->acpi_rsdp, mbi->acpi_rsdp_size_bytes);
    pci_dev_boot(found, off_unsafe);
}

void hv_main(uint32_t magic, uint32_t mbi_phys)
{
    arch_serial_init();
    log_info("hv: x86_64 paravirtualising hypervisor, guest ABI v%u", HV_ABI_VERSION);

    size_t err_off = 0;
    size_t avail = (size_t)(BOOT_MAPPED_LIMIT - mbi_phys);
    enum mb2_error e = mb2_parse(magic, (const uint8_t *)arch_frame_va(mfn(0)) + mbi_phys, avail,
                                 &boot_info, &err_off);
    if (e != MB2_OK) {
        log_err("boot: bad Multiboot2 information at %#x: %s (byte %zu)", mbi_phys, mb2_strerror(e),
                err_off);
        arch_machine_exit(HV_EXIT_BOOT_ERROR);
    }
    cmdline_set(boot_info.cmdline);
    set_log_level();
    log_info("boot: loader \"%s\", command line \"%s\"", boot_info.bootloader_name,
             cmdline_get_all());

    paddr_t top = 0;
    for (size_t i = 0; i < boot_info.mmap_count; i++) {
        const struct mem_map_entry *m = &boot_info.mmap[i];
        log_info("memory map: %016llx-%016llx %s", (unsigned long long)m->base,
                 (unsigned long long)(m->base + m->length - 1), mem_type_name(m->type));
        if (m->type == MEM_AVAILABLE && m->base + m->length > top && m->base + m->length > m->base)
            top = m->base + m->length;
    }
    for (size_t i = 0; i < boot_info.modules_count; i++)
        log_info("module %zu: %#llx-%#llx (%llu bytes) \"%s\"", i,
                 (unsigned long long)boot_info.modules[i].start,
                 (unsigned long long)boot_info.modules[i].end,
                 (unsigned long long)(boot_info.modules[i].end - boot_info.modules[i].start),
                 boot_info.modules[i].cmdline);

    arch_cpu_init();
    arch_paging_init(top);
    frames_init(&boot_info, mbi_phys);
    mm_hv_init(&frame_pool, ALIGN_UP(top, PAGE_SIZE) >> PAGE_SHIFT);
    arch_time_init();
    arch_irq_init();
    smp_init(&boot_info);
#ifdef HV_TEST_IMAGE
    test_boot(&frame_pool);
#else
    char test[32];
    if (cmdline_get("test", test, sizeof(test)))
        log_warn("test=%s: boot self-tests are in the test image (hv-test.elf) only", test);
#endif
    iommu_init(&boot_info);
    schedule_init(); /* knows the CPUs and their topology now */

    domain_build_root(&boot_info, &frame_pool);
}
