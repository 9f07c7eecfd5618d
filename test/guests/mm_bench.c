/*
 * Benchmark domain for the PV-memory figures of issue 3. Run under
 * `-icount shift=0,sleep=off` (scripts/bench.d/mm.sh), where the TSC counts
 * executed instructions exactly, so every figure is an instruction count
 * (guest and hypervisor together). Without icount it still runs (as an
 * integration test) and its numbers are TSC cycles.
 *
 * Figures:
 *   - a 512-request mmu_update batch that fills an empty, pinned L1 with
 *     read-only mappings, per validated entry;
 *   - the same 512 entry-sized stores done directly to a writable page
 *     (by this domain: the hypervisor's own stores would be the same
 *     instructions), per store, and the ratio;
 *   - pinning a freshly built L1 whose 512 entries are present;
 *   - switching the L4 base (average of a round trip);
 *   - a null hypercall (an unknown number: dispatch and return).
 */
#include "gk/gk.h"
#include "gk/mm.h"

#define ENTRIES 512
#define SCRATCH_VA 0x40000000ull /* 1 GiB: unused by the layout */

static uint64_t store_page[ENTRIES] __attribute__((aligned(4096)));
static struct hv_mmu_update reqs[ENTRIES];
static uint64_t targets[ENTRIES];

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return ((uint64_t)hi << 32) | lo;
}

static void check(const char *what, int64_t rc)
{
    if (rc < 0)
        gk_panic("mm_bench: %s failed with %lld", what, (long long)rc);
}

/* A zeroed frame, mapped writable at SCRATCH_VA while `fill` writes it, then
 * unmapped so that it can become a table. Returns its mfn. */
static uint64_t build_frame(void (*fill)(uint64_t *page, void *ctx), void *ctx)
{
    int64_t m = gk_pt_alloc_table();
    check("gk_pt_alloc_table", m);
    check("map scratch", gk_map_frame(SCRATCH_VA, (uint64_t)m, GK_PTE_RWDATA));
    fill((uint64_t *)(uintptr_t)SCRATCH_VA, ctx);
    check("unmap scratch", gk_unmap(SCRATCH_VA));
    return (uint64_t)m;
}

static void fill_l1(uint64_t *page, void *ctx)
{
    (void)ctx;
    for (unsigned i = 0; i < ENTRIES; i++)
        page[i] = (targets[i] << 12) | GK_PTE_RO;
}

static void fill_l4_copy(uint64_t *page, void *ctx)
{
    const uint64_t *cur = ctx;
    for (unsigned i = 0; i < 256; i++)
        page[i] = cur[i];
}

static void report(const char *what, uint64_t total, uint64_t per)
{
    gk_printf("bench: %s: %llu instructions (%llu per operation)\n", what,
              (unsigned long long)total, (unsigned long long)per);
}

int main(const struct hv_start_info *si)
{
    check("gk_mm_init", gk_mm_init(si));
    for (unsigned i = 0; i < ENTRIES; i++) {
        uint64_t pfn = gk_pfn_alloc();
        if (pfn == HV_M2P_INVALID)
            gk_panic("mm_bench: out of free frames");
        targets[i] = gk_p2m(pfn);
    }

    /* 1. A 512-entry validated batch into an empty pinned L1. */
    int64_t l1a = gk_pt_alloc_table();
    check("alloc L1", l1a);
    check("pin empty L1", gk_hc_mmuext_op(HV_MMUEXT_PIN_L1, (uint64_t)l1a));
    for (unsigned i = 0; i < ENTRIES; i++) {
        reqs[i].ptr = ((uint64_t)l1a << 12) + i * 8 + HV_MMU_CMD_PTE;
        reqs[i].val = (targets[i] << 12) | GK_PTE_RO;
    }
    uint64_t done = 0;
    uint64_t t0 = rdtsc();
    int64_t rc = gk_hc_mmu_update(reqs, ENTRIES, &done);
    uint64_t t1 = rdtsc();
    check("batch", rc);
    if (done != ENTRIES)
        gk_panic("mm_bench: batch applied %llu", (unsigned long long)done);
    uint64_t batch = t1 - t0;
    report("mmu_update batch of 512 validated entries", batch, batch / ENTRIES);

    /* 2. The same 512 stores, direct. */
    t0 = rdtsc();
    for (unsigned i = 0; i < ENTRIES; i++)
        ((volatile uint64_t *)store_page)[i] = reqs[i].val;
    t1 = rdtsc();
    uint64_t direct = t1 - t0;
    report("512 direct stores to a writable page", direct, direct / ENTRIES);
    gk_printf("bench: validation cost ratio (validated entry / direct store): %llu.%02llu\n",
              (unsigned long long)(batch / direct),
              (unsigned long long)((batch * 100 / direct) % 100));

    /* 3. Pin a freshly built L1 with 512 present entries. */
    uint64_t l1b = build_frame(fill_l1, NULL);
    t0 = rdtsc();
    rc = gk_hc_mmuext_op(HV_MMUEXT_PIN_L1, l1b);
    t1 = rdtsc();
    check("pin full L1", rc);
    report("pin a fresh L1 with 512 present entries", t1 - t0, t1 - t0);

    /* 4. Switch the L4 base: a copy of the current L4, validated once. */
    uint64_t old_l4 = gk_mm_base_mfn();
    const uint64_t *cur = gk_pt_table_ptr(old_l4);
    if (!cur)
        gk_panic("mm_bench: current L4 not readable");
    uint64_t l4 = build_frame(fill_l4_copy, (void *)(uintptr_t)cur);
    check("pin L4 copy", gk_hc_mmuext_op(HV_MMUEXT_PIN_L4, l4));
    const unsigned rounds = 100;
    t0 = rdtsc();
    for (unsigned i = 0; i < rounds; i++) {
        check("switch to copy", gk_hc_mmuext_op(HV_MMUEXT_NEW_BASEPTR, l4));
        check("switch back", gk_hc_mmuext_op(HV_MMUEXT_NEW_BASEPTR, old_l4));
    }
    t1 = rdtsc();
    report("switch L4 base (100 round trips)", t1 - t0, (t1 - t0) / (2 * rounds));

    /* 5. Null hypercall. */
    t0 = rdtsc();
    for (unsigned i = 0; i < 1000; i++)
        gk_hypercall3(9999, 0, 0, 0);
    t1 = rdtsc();
    report("null hypercall (1000 calls)", t1 - t0, (t1 - t0) / 1000);

    gk_printf("mm_bench: ok\n");
    return 0;
}
