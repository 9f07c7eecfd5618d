/*
 * The hypervisor's own address space, built once at boot from a static pool
 * of frames (so it needs no allocator yet):
 *   slot 256  direct map of physical memory [0, max(top of RAM, 4 GiB)),
 *             supervisor, non-executable; the top 32 MiB below 4 GiB (local
 *             APIC, I/O APIC, firmware) uncached.
 *   slot 511  the image at HV_IMAGE_VBASE + physical address, text
 *             read-only+executable, rodata read-only, data+bss writable.
 * Every guest L4 shares slots 256..511 with this one (arch_guest_l4_init).
 * Also here: guest page-table construction helpers, guest-memory copies and
 * the first entry into a guest.
 */
#include "arch.h"
#include "log.h"
#include "percpu.h"
#include "regs.h"
#include "x86.h"

extern uint8_t _text_start[], _text_end[], _rodata_start[], _rodata_end[], _data_start[],
    _data_end[];
extern uint64_t hv_pte_nx;
extern size_t arch_copy_guest_raw(void *dst, const void *src, size_t n);

#define POOL_FRAMES 96
static uint64_t pt_pool[POOL_FRAMES][512] __attribute__((aligned(4096)));
static unsigned pt_pool_used;
static uint64_t *hv_l4;
static paddr_t directmap_limit = 1ull << 30; /* the boot tables map the first GiB */

static uint64_t *pool_alloc(void)
{
    if (pt_pool_used == POOL_FRAMES)
        panic("paging: static page-table pool exhausted");
    return pt_pool[pt_pool_used++];
}

static paddr_t image_virt_to_phys(const void *v)
{
    return (paddr_t)((uintptr_t)v - HV_IMAGE_VBASE);
}

static paddr_t table_phys(const uint64_t *t)
{
    uintptr_t v = (uintptr_t)t;
    return v >= HV_IMAGE_VBASE ? image_virt_to_phys(t) : virt_to_phys_direct(t);
}

static uint64_t *table_virt(uint64_t entry)
{
    return phys_to_virt(entry & HV_PTE_ADDR_MASK);
}

static void map_image_range(uint64_t *l4, const uint8_t *start, const uint8_t *end, uint64_t flags)
{
    for (uint64_t va = (uint64_t)(uintptr_t)start; va < (uint64_t)(uintptr_t)end; va += PAGE_SIZE) {
        uint64_t *t = l4;
        for (int level = 3; level >= 1; level--) {
            unsigned idx = (va >> (12 + 9 * level)) & 511;
            if (!(t[idx] & HV_PTE_P)) {
                uint64_t *n = pool_alloc();
                t[idx] = table_phys(n) | HV_PTE_P | HV_PTE_RW;
            }
            t = table_virt(t[idx]);
        }
        t[(va >> 12) & 511] =
            image_virt_to_phys((void *)(uintptr_t)va) | HV_PTE_P | HV_PTE_G | flags;
    }
}

void arch_paging_init(paddr_t max_paddr)
{
    uint32_t a, b, c, d;
    cpuid(0x80000001, 0, &a, &b, &c, &d);
    bool gb_pages = (d >> 26) & 1;

    if (max_paddr < (4ull << 30))
        max_paddr = 4ull << 30;
    if (max_paddr > HV_DIRECTMAP_SIZE)
        max_paddr = HV_DIRECTMAP_SIZE;
    max_paddr = ALIGN_UP(max_paddr, 1ull << 30);

    hv_l4 = pool_alloc();
    uint64_t *dm_l3 = pool_alloc();
    hv_l4[256] = table_phys(dm_l3) | HV_PTE_P | HV_PTE_RW;
    for (uint64_t gib = 0; gib < (max_paddr >> 30); gib++) {
        uint64_t base = gib << 30;
        if (gib >= 4 && gb_pages) {
            dm_l3[gib] = base | HV_PTE_P | HV_PTE_RW | HV_PTE_PS | HV_PTE_G | hv_pte_nx;
            continue;
        }
        if (gib >= 4 && pt_pool_used >= POOL_FRAMES - 8) {
            log_warn("paging: direct map stops at %llu GiB (no 1 GiB pages, pool full)",
                     (unsigned long long)gib);
            max_paddr = base;
            break;
        }
        uint64_t *pd = pool_alloc();
        dm_l3[gib] = table_phys(pd) | HV_PTE_P | HV_PTE_RW;
        for (unsigned i = 0; i < 512; i++) {
            uint64_t pa = base + ((uint64_t)i << 21);
            uint64_t attr =
                (pa >= 0xfe000000ull && pa < (4ull << 30)) ? (HV_PTE_PCD | HV_PTE_PWT) : 0;
            pd[i] = pa | HV_PTE_P | HV_PTE_RW | HV_PTE_PS | HV_PTE_G | hv_pte_nx | attr;
        }
    }

    map_image_range(hv_l4, _text_start, _text_end, 0);
    map_image_range(hv_l4, _rodata_start, _rodata_end, hv_pte_nx);
    map_image_range(hv_l4, _data_start, _data_end, HV_PTE_RW | hv_pte_nx);

    write_cr3(table_phys(hv_l4));
    directmap_limit = max_paddr;
    log_info("paging: direct map of %llu GiB (%s pages), image %llu KiB, %u table frames",
             (unsigned long long)(max_paddr >> 30), gb_pages ? "1 GiB" : "2 MiB",
             (unsigned long long)((uintptr_t)(_data_end - _text_start) >> 10), pt_pool_used);
}

paddr_t arch_directmap_limit(void)
{
    return directmap_limit;
}

paddr_t arch_hv_l4(void)
{
    return table_phys(hv_l4);
}

void *arch_frame_va(mfn_t m)
{
    return phys_to_virt(mfn_to_paddr(m));
}

static uint64_t *guest_walk(mfn_t l4, uint64_t va, arch_frame_alloc_fn alloc, void *ctx)
{
    uint64_t *t = arch_frame_va(l4);
    for (int level = 3; level >= 1; level--) {
        unsigned idx = (va >> (12 + 9 * level)) & 511;
        if (!(t[idx] & HV_PTE_P)) {
            if (!alloc)
                return NULL;
            mfn_t n = alloc(ctx);
            if (mfn_x(n) == mfn_x(INVALID_MFN))
                return NULL;
            t[idx] = mfn_to_paddr(n) | HV_PTE_P | HV_PTE_RW | HV_PTE_US;
        }
        t = table_virt(t[idx]);
    }
    return &t[(va >> 12) & 511];
}

bool arch_guest_map(mfn_t l4, uint64_t va, mfn_t m, unsigned flags, arch_frame_alloc_fn alloc,
                    void *ctx)
{
    if (va >= HV_GUEST_VA_LIMIT)
        return false;
    uint64_t *pte = guest_walk(l4, va, alloc, ctx);
    if (!pte)
        return false;
    *pte = mfn_to_paddr(m) | HV_PTE_P | HV_PTE_US | ((flags & ARCH_MAP_W) ? HV_PTE_RW : 0) |
           ((flags & ARCH_MAP_X) ? 0 : hv_pte_nx);
    return true;
}

bool arch_hv_map(uint64_t va, mfn_t m, unsigned flags, arch_frame_alloc_fn alloc, void *ctx)
{
    if (va < HV_DIRECTMAP_BASE + HV_DIRECTMAP_SIZE || va >= HV_IMAGE_VBASE)
        return false; /* only the slots between the direct map and the image */
    uint64_t user = (flags & ARCH_MAP_USER) ? HV_PTE_US : 0;
    uint64_t *t = hv_l4;
    for (int level = 3; level >= 1; level--) {
        unsigned idx = (va >> (12 + 9 * level)) & 511;
        if (!(t[idx] & HV_PTE_P)) {
            mfn_t n = alloc(ctx);
            if (mfn_x(n) == mfn_x(INVALID_MFN))
                return false;
            __builtin_memset(arch_frame_va(n), 0, PAGE_SIZE);
            t[idx] = mfn_to_paddr(n) | HV_PTE_P | HV_PTE_RW | user;
        }
        t = table_virt(t[idx]);
    }
    t[(va >> 12) & 511] = mfn_to_paddr(m) | HV_PTE_P | hv_pte_nx | user |
                          ((flags & ARCH_MAP_W) ? HV_PTE_RW : 0) |
                          ((flags & ARCH_MAP_USER) ? 0 : HV_PTE_G);
    return true;
}

const uint64_t *arch_hv_l4_slots(void)
{
    return &hv_l4[256];
}

unsigned arch_maxphyaddr_bits(void)
{
    uint32_t a, b, c, d;
    cpuid(0x80000000, 0, &a, &b, &c, &d);
    if (a < 0x80000008)
        return 36;
    cpuid(0x80000008, 0, &a, &b, &c, &d);
    return a & 0xff;
}

void arch_tlb_flush_local(void)
{
    write_cr3(read_cr3());
}

void arch_tlb_invlpg(uint64_t va)
{
    invlpg((const void *)(uintptr_t)va);
}

void arch_load_base(mfn_t l4)
{
    write_cr3(mfn_to_paddr(l4));
}

static bool guest_range_ok(uint64_t va, size_t n)
{
    return va < HV_GUEST_VA_LIMIT && n <= HV_GUEST_VA_LIMIT - va;
}

int arch_copy_from_guest(void *dst, gva_t src, size_t n)
{
    if (n == 0)
        return HV_OK;
    if (!guest_range_ok(gva_x(src), n))
        return HV_EFAULT;
    return arch_copy_guest_raw(dst, (const void *)(uintptr_t)gva_x(src), n) ? HV_EFAULT : HV_OK;
}

int arch_copy_to_guest(gva_t dst, const void *src, size_t n)
{
    if (n == 0)
        return HV_OK;
    if (!guest_range_ok(gva_x(dst), n))
        return HV_EFAULT;
    return arch_copy_guest_raw((void *)(uintptr_t)gva_x(dst), src, n) ? HV_EFAULT : HV_OK;
}

void arch_machine_exit(enum hv_exit_code code)
{
    irq_disable();
    if (cmdline_flag("debug_exit"))
        outb(0xf4, (uint8_t)code);
    if (code == HV_EXIT_REBOOT) {
        log_info("resetting the machine");
        outb(0xcf9, 0x02);
        outb(0xcf9, 0x06);
    }
    arch_halt_forever();
}

void arch_halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}
