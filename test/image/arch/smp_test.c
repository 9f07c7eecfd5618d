/*
 * The test image's SMP self-test, `test=ipi` on the command line
 * (hv-test.elf only; the core's test/image/core/test_boot.c calls it right
 * after arch_smp_init, while the application processors idle): every AP
 * takes a directed IPI, a broadcast IPI and a TLB flush request; a remote
 * TLB flush is shown to be needed and sufficient; and the flush's cost is
 * measured (docs/smp.md). Failures are logged ("FAILED"), the tests in
 * test/integration/smp.cmake look for them.
 *
 * Arch layer code outside hv/arch/x86_64 because the product has none of
 * it; it uses the arch's private percpu.h and x86.h like smp.c does.
 * Every wait loop executes `pause` (arch_cpu_relax) and is bounded by one
 * second of system time.
 */
#include "arch.h"
#include "log.h"
#include "percpu.h"
#include "x86.h"

#define WAIT_NS 1000000000ull

/* test=ipi: every AP must take a directed IPI, a broadcast IPI and a TLB
 * flush request. */
static void ipi_self_test(void)
{
    unsigned n = arch_cpu_count();
    uint64_t before[ARCH_MAX_CPUS];
    bool ok[ARCH_MAX_CPUS];
    uint64_t limit = WAIT_NS;

    for (unsigned c = 1; c < n; c++) {
        ok[c] = false;
        before[c] = __atomic_load_n(&percpu_area[c].ipi_count, __ATOMIC_ACQUIRE);
        if (!arch_send_ipi(c, ARCH_IPI_VECTOR))
            continue;
        for (uint64_t s = arch_now_ns(); arch_now_ns() - s <= limit; arch_cpu_relax()) {
            if (__atomic_load_n(&percpu_area[c].ipi_count, __ATOMIC_ACQUIRE) > before[c]) {
                ok[c] = true;
                break;
            }
        }
    }
    for (unsigned c = 1; c < n; c++)
        before[c] = __atomic_load_n(&percpu_area[c].ipi_count, __ATOMIC_ACQUIRE);
    bool bcast = arch_send_ipi_all_but_self(ARCH_IPI_VECTOR);
    for (unsigned c = 1; c < n; c++) {
        bool got = false;
        for (uint64_t s = arch_now_ns(); bcast && arch_now_ns() - s <= limit; arch_cpu_relax()) {
            if (__atomic_load_n(&percpu_area[c].ipi_count, __ATOMIC_ACQUIRE) > before[c]) {
                got = true;
                break;
            }
        }
        ok[c] = ok[c] && got;
    }
    uint64_t all = n == 64 ? ~0ull : (1ull << n) - 1;
    uint64_t missed = arch_tlb_flush_cpus(all);
    unsigned answered = 0;
    for (unsigned c = 1; c < n; c++) {
        if (missed & (1ull << c))
            ok[c] = false;
        answered += ok[c];
        if (!ok[c])
            log_err("smp: ipi self-test: CPU %u did not answer", c);
    }
    log_info("smp: ipi self-test: %u CPUs answered", answered);
    if (answered != n - 1)
        log_err("smp: ipi self-test FAILED: %u of %u application processors answered", answered,
                n - 1);
}

/* Per CPU: an address its next generic IPI reads (0: none), cleared once
 * read, and what it read there. */
static struct {
    uint64_t va;
    uint64_t val;
} probe[ARCH_MAX_CPUS];

void arch_smp_test_ipi(void)
{
    unsigned c = arch_cpu_id();
    uint64_t va = __atomic_load_n(&probe[c].va, __ATOMIC_ACQUIRE);
    if (va != 0) { /* read through this CPU's own translation */
        probe[c].val = *(volatile const uint64_t *)(uintptr_t)va;
        __atomic_store_n(&probe[c].va, 0, __ATOMIC_RELEASE);
    }
}

/* Has every AP in [1, n) read va (through the generic IPI); their values
 * in val[]. Returns the number that answered. */
static unsigned probe_all(unsigned n, uint64_t va, uint64_t *val)
{
    unsigned answered = 0;
    uint64_t limit = WAIT_NS;
    for (unsigned c = 1; c < n; c++) {
        val[c] = 0;
        __atomic_store_n(&probe[c].va, va, __ATOMIC_RELEASE);
        if (!arch_send_ipi(c, ARCH_IPI_VECTOR))
            continue;
        for (uint64_t s = arch_now_ns(); arch_now_ns() - s <= limit; arch_cpu_relax()) {
            if (__atomic_load_n(&probe[c].va, __ATOMIC_ACQUIRE) == 0) {
                val[c] = probe[c].val;
                answered++;
                break;
            }
        }
        __atomic_store_n(&probe[c].va, 0, __ATOMIC_RELEASE);
    }
    return answered;
}

/*
 * test=ipi, second part: every AP reads a page through a translation, the
 * boot CPU points that translation at another frame (flushing only its own
 * TLB), the APs read again (a stale TLB entry still shows the old frame),
 * then arch_tlb_flush_cpus and a third read must show the new frame on
 * every AP. Costs two frames and one page-table page, never returned.
 */
static void tlb_self_test(unsigned n, arch_frame_alloc_fn frame_alloc, void *frame_alloc_ctx)
{
    const uint64_t old_val = 0x01d01d01d01d01d0ull, new_val = 0x0e110e110e110e11ull;
    const uint64_t va = SMP_STACKS_VA + ARCH_MAX_CPUS * SMP_WINDOW_BYTES; /* after the windows */
    mfn_t a = frame_alloc(frame_alloc_ctx), b = frame_alloc(frame_alloc_ctx);
    if (mfn_x(a) == mfn_x(INVALID_MFN) || mfn_x(b) == mfn_x(INVALID_MFN) ||
        !arch_hv_map(va, a, ARCH_MAP_W, frame_alloc, frame_alloc_ctx)) {
        log_err("smp: tlb self-test FAILED: no memory");
        return;
    }
    *(volatile uint64_t *)arch_frame_va(a) = old_val;
    *(volatile uint64_t *)arch_frame_va(b) = new_val;
    uint64_t val[ARCH_MAX_CPUS];
    unsigned before_ok = 0, stale = 0, after_ok = 0;
    probe_all(n, va, val);
    for (unsigned c = 1; c < n; c++)
        before_ok += val[c] == old_val;

    arch_hv_map(va, b, ARCH_MAP_W, frame_alloc,
                frame_alloc_ctx); /* same table: only the PTE changes */
    invlpg((const void *)(uintptr_t)va);
    probe_all(n, va, val);
    for (unsigned c = 1; c < n; c++)
        stale += val[c] == old_val;

    uint64_t aps = (n == 64 ? ~0ull : (1ull << n) - 1) & ~1ull;
    uint64_t missed = arch_tlb_flush_cpus(aps);
    probe_all(n, va, val);
    for (unsigned c = 1; c < n; c++)
        after_ok += val[c] == new_val && !(missed & (1ull << c));
    log_info("smp: tlb self-test: %u of %u CPUs read the first frame, %u still read it after "
             "the remap, %u read the new frame after the flush",
             before_ok, n - 1, stale, after_ok);
    if (before_ok != n - 1 || after_ok != n - 1)
        log_err("smp: tlb self-test FAILED");
}

/* Mean cost of arch_tlb_flush_cpus(mask) over `reps` calls, in ns of
 * system time (under -icount shift=0 one ns is one instruction). */
static uint64_t flush_cost_ns(uint64_t mask, unsigned reps)
{
    uint64_t t0 = arch_now_ns();
    for (unsigned i = 0; i < reps; i++)
        if (arch_tlb_flush_cpus(mask) != 0)
            return 0;
    return (arch_now_ns() - t0) / reps;
}

/* test=ipi, third part: figures for the shootdown (docs/smp.md). */
static void flush_figures(unsigned n)
{
    if (n < 2)
        return;
    uint64_t one = flush_cost_ns(1ull << 1, 100);
    uint64_t three = n >= 4 ? flush_cost_ns(0xeull, 100) : 0;
    log_info("smp: tlb flush cost (mean of 100, ns of system time): to 1 other CPU %llu, to 3 "
             "other CPUs %llu",
             (unsigned long long)one, (unsigned long long)three);
}

void arch_smp_self_test(arch_frame_alloc_fn alloc, void *alloc_ctx)
{
    ipi_self_test();
    tlb_self_test(arch_cpu_count(), alloc, alloc_ctx);
    flush_figures(arch_cpu_count());
}
