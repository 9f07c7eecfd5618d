/*
 * TLB shootdown on SMP (issue 8): a race test and the cost of a shootdown.
 * The root domain, command line test=<name>:
 *
 *   race      - VCPU 0 (the writer, pinned to CPU 0) demotes a page-table
 *               page to a writable frame while VCPU 1 (the reader, pinned to
 *               CPU 2) keeps reading through it. The L1 table T maps itself
 *               read-only at R; the reader reads T's last entry through R
 *               (its TLB caches R -> T). The writer clears the L2 entry to T
 *               (T loses its L1 type), maps T writable elsewhere (the
 *               hypervisor must now shoot down every CPU that may still
 *               translate through T) and writes a marker into T's last
 *               entry. With the shootdown the reader's next read of R
 *               faults (its handler notes it); without it (hv command line
 *               `test_no_shootdown`) the reader's stale TLB entry shows the
 *               marker: "smp: race: VIOLATION ...". QEMU's TCG keeps a
 *               CPU's softmmu TLB entries until that CPU flushes, so the
 *               stale entry is really used.
 *   promote   - the other direction: a frame still writable in another
 *               CPU's TLB is pinned as an L1 (test_promote below).
 *   flushcost - figure: HV_MMUEXT_TLB_FLUSH_VCPUS with only itself, with 1
 *               and with 3 other VCPUs running on other CPUs; the cost of a
 *               shootdown is the difference (mean of 200 calls). Meant for
 *               -icount shift=0,sleep=off (TSC = instructions).
 */
#include "gk/gk.h"
#include "gk/mm.h"
#include "gk/spinlock.h"
#include "gk/time.h"
#include "gk/trap.h"
#include "gk/vcpu.h"

#include <string.h>

#define STACK_BYTES 16384u
#define RACE_VA 0x60000000ull    /* 2 MiB region whose L1 is T */
#define WRITE_VA 0x60400000ull   /* another region: T mapped writable here */
#define PROMOTE_VA 0x60800000ull /* promote: a frame mapped writable here, read-only at +4096 */
#define MARKER 0x5a5a0000deadbeefull
#define FAULTED 0xfa17fa17fa17fa17ull

static uint8_t stacks[GK_VCPU_MAX][STACK_BYTES] __attribute__((aligned(16)));
static int failures;

static void check(const char *what, bool ok)
{
    if (!ok)
        failures++;
    gk_printf("smp: %s%s\n", ok ? "" : "FAILED ", what);
}

static uint64_t rdtsc(void)
{
    return __builtin_ia32_rdtsc();
}

static int64_t vcpu_info(unsigned vcpu, struct hv_domctl_vcpu_info *out)
{
    memset(out, 0, sizeof(*out));
    out->dom_slot = HV_ROOT_SLOT_SELF;
    out->vcpu = vcpu;
    return gk_hc_domain_op(HV_DOMCTL_VCPU_INFO, out);
}

static int64_t pin(unsigned vcpu, uint64_t mask)
{
    struct hv_domctl_vcpu_pin p = {.dom_slot = HV_ROOT_SLOT_SELF, .vcpu = vcpu, .cpu_mask = mask};
    return gk_hc_domain_op(HV_DOMCTL_VCPU_PIN, &p);
}

/* One load that may fault: the #PF handler resumes at race_read_fault,
 * which returns FAULTED. */
uint64_t race_read(const volatile uint64_t *p);
void race_read_fault(void);
/* One store that may fault: returns 0, or FAULTED through race_write_fault. */
uint64_t race_write(volatile uint64_t *p, uint64_t v);
void race_write_fault(void);
__asm__(".text\n"
        ".globl race_write\n"
        "race_write:\n"
        "    movq %rsi, (%rdi)\n"
        "    xorl %eax, %eax\n"
        "    ret\n"
        ".globl race_write_fault\n"
        "race_write_fault:\n"
        "    movabsq $0xfa17fa17fa17fa17, %rax\n"
        "    ret\n");
__asm__(".text\n"
        ".globl race_read\n"
        "race_read:\n"
        "    movq (%rdi), %rax\n"
        "    ret\n"
        ".globl race_read_fault\n"
        "race_read_fault:\n"
        "    movabsq $0xfa17fa17fa17fa17, %rax\n"
        "    ret\n");

static volatile uint64_t pf_seen, pf_other;

static void on_pf(struct hv_bounce_frame *f)
{
    uint64_t addr = gk_trap_fault_addr();
    if (f->rip == (uint64_t)(uintptr_t)race_read && (addr & ~0x1fffffull) == RACE_VA) {
        pf_seen++;
        f->rip = (uint64_t)(uintptr_t)race_read_fault;
        return;
    }
    if (f->rip == (uint64_t)(uintptr_t)race_write && (addr & ~0x1fffffull) == PROMOTE_VA) {
        pf_seen++;
        f->rip = (uint64_t)(uintptr_t)race_write_fault;
        return;
    }
    pf_other++;
    gk_panic("smp: race: FAILED unexpected page fault at %#llx, rip %#llx",
             (unsigned long long)addr, (unsigned long long)f->rip);
}

/* --- race ------------------------------------------------------------------------ */

static volatile uint64_t reader_go, reader_stop, reads, last_value, saw_marker, saw_fault;
static volatile uint64_t reads_at_marker;

static void reader(void *arg)
{
    (void)arg;
    const volatile uint64_t *p = (const volatile uint64_t *)(uintptr_t)(RACE_VA + 511 * 8);
    while (!reader_go)
        gk_cpu_relax();
    while (!reader_stop) {
        uint64_t v = race_read(p);
        last_value = v;
        if (v == MARKER && !saw_marker)
            saw_marker = reads + 1;
        if (v == FAULTED && !saw_fault)
            saw_fault = reads + 1;
        reads++;
        if (saw_fault)
            break; /* the translation is gone: nothing more to read */
        gk_cpu_relax();
    }
    while (!reader_stop) /* stay on the CPU until the writer has looked */
        gk_cpu_relax();
}

static void test_race(void)
{
    check("race: pin VCPU 0 (writer) to CPU 0", pin(0, 1u << 0) == HV_OK);
    check("race: pin VCPU 1 (reader) to CPU 2", pin(1, 1u << 2) == HV_OK);
    check("race: #PF handler", gk_trap_set(14, on_pf) == HV_OK);

    /* T: the L1 of RACE_VA's region, created by mapping a data page at
     * RACE_VA + 4096; WRITE_VA's region gets its L1 now too, so that the
     * demotion below creates no table. */
    uint64_t d_pfn = gk_pfn_alloc(), w_pfn = gk_pfn_alloc();
    gk_assert(d_pfn != HV_M2P_INVALID && w_pfn != HV_M2P_INVALID);
    check("race: map a data page (creates T)",
          gk_map_frame(RACE_VA + 4096, gk_p2m(d_pfn), GK_PTE_RWDATA) == HV_OK);
    check("race: map a page at the writable region (creates its L1)",
          gk_map_frame(WRITE_VA + 4096, gk_p2m(w_pfn), GK_PTE_RWDATA) == HV_OK);
    uint64_t l2e = gk_pt_entry_maddr(RACE_VA, 2), l1e = gk_pt_entry_maddr(RACE_VA, 1);
    gk_assert(l2e != 0 && l1e != 0);
    uint64_t t_mfn = gk_pte_mfn(gk_pt_read(l2e));
    check("race: T maps itself read-only at RACE_VA",
          gk_pt_write(l1e, (t_mfn << 12) | GK_PTE_RO) == HV_OK);
    const volatile uint64_t *self = (const volatile uint64_t *)(uintptr_t)RACE_VA;
    check("race: T's entry 1 (the data page) is readable through RACE_VA",
          gk_pte_mfn(self[1]) == gk_p2m(d_pfn));
    check("race: T's entry 511 is empty", self[511] == 0);
    gk_printf("smp: race: T is mfn %#llx (frame info %#llx)\n", (unsigned long long)t_mfn,
              (unsigned long long)gk_frame_info(t_mfn));

    check("race: start the reader on VCPU 1",
          gk_vcpu_start(1, reader, NULL, stacks[1], STACK_BYTES) == HV_OK);
    reader_go = 1;
    uint64_t t0 = gk_now_ns();
    while (reads < 100000 && gk_now_ns() - t0 < 5 * GK_NS_PER_SEC)
        gk_cpu_relax();
    struct hv_domctl_vcpu_info before, after;
    vcpu_info(1, &before);
    gk_printf("smp: race: the reader did %llu reads through T on CPU %u (%s), value %#llx\n",
              (unsigned long long)reads, before.cpu,
              before.state == HV_VCPU_RUNNING ? "running" : "not running",
              (unsigned long long)last_value);
    check("race: the reader reads through T on CPU 2", reads >= 100000 && before.cpu == 2 &&
                                                           before.state == HV_VCPU_RUNNING &&
                                                           last_value == 0 && !saw_fault);

    /* Demote T: out of the L2 (its L1 type goes), then writable. */
    check("race: clear the L2 entry to T", gk_pt_write(l2e, 0) == HV_OK);
    uint64_t reads_cleared = reads, fault_cleared = saw_fault;
    int64_t info = gk_frame_info(t_mfn);
    check("race: T is no longer a page table", info >= 0 && (info & 0xff) != HV_FRAME_TYPE_L1);
    uint64_t w_l1e = gk_pt_entry_maddr(WRITE_VA, 1);
    check("race: map T writable", gk_pt_write(w_l1e, (t_mfn << 12) | GK_PTE_RWDATA) == HV_OK);
    info = gk_frame_info(t_mfn);
    check("race: T is a writable frame now", info >= 0 && (info & 0xff) == HV_FRAME_TYPE_WRITABLE);
    volatile uint64_t *w = (volatile uint64_t *)(uintptr_t)WRITE_VA;
    uint64_t reads_writable = reads, fault_writable = saw_fault;
    reads_at_marker = reads;
    w[511] = MARKER;
    uint64_t t1 = gk_now_ns();
    while (!saw_fault && reads < reads_at_marker + 100000 && gk_now_ns() - t1 < 5 * GK_NS_PER_SEC)
        gk_cpu_relax();
    vcpu_info(1, &after);
    reader_stop = 1;
    gk_printf("smp: race: after the demotion: %llu more reads, fault at read %llu, marker at "
              "read %llu; reader on CPU %u, migrations %llu -> %llu\n",
              (unsigned long long)(reads - reads_at_marker), (unsigned long long)saw_fault,
              (unsigned long long)saw_marker, after.cpu, (unsigned long long)before.migrations,
              (unsigned long long)after.migrations);
    gk_printf("smp: race: reads when the L2 entry was cleared: %llu (%s), when T became "
              "writable: %llu (%s)\n",
              (unsigned long long)reads_cleared, fault_cleared ? "faulted" : "no fault yet",
              (unsigned long long)reads_writable, fault_writable ? "faulted" : "no fault yet");
    check("race: the reader stayed on CPU 2",
          after.cpu == 2 && after.migrations == before.migrations);
    if (saw_marker)
        gk_printf("smp: race: VIOLATION: the reader on another CPU saw the marker written into "
                  "the demoted page table through its stale translation\n");
    else if (saw_fault)
        gk_printf("smp: race: the reader faulted on the old translation after the demotion "
                  "(the shootdown reached its CPU)\n");
    check("race: the reader faulted and never saw the marker", saw_fault && !saw_marker);
    check("race: no other page fault", pf_other == 0);
}

/* --- promote ---------------------------------------------------------------------
 *
 * The other direction, the classic escape: the writer maps a fresh frame F
 * writable at PROMOTE_VA (and read-only at PROMOTE_VA + 4096); the writer
 * (VCPU 1 on CPU 2) keeps storing non-present entries into F's entry 5
 * through PROMOTE_VA. The writer unmaps PROMOTE_VA (invalidating only its
 * own TLB) and pins F as an L1: before F becomes a page table, every CPU
 * that may still hold a writable translation of it must be flushed. With
 * the shootdown the writer's next store faults; without it the stores go on
 * into a validated L1 (a guest that stores present entries there maps any
 * frame it likes): "VIOLATION". */
static volatile uint64_t w_go, w_stop, w_stores, w_fault;

static void writer_vcpu(void *arg)
{
    (void)arg;
    volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)(PROMOTE_VA + 5 * 8);
    while (!w_go)
        gk_cpu_relax();
    for (uint64_t k = 1; !w_stop; k++) {
        if (race_write(p, (k & 0xfffff) << 12) == FAULTED) { /* never present */
            w_fault = w_stores + 1;
            break;
        }
        w_stores++;
        gk_cpu_relax();
    }
    while (!w_stop) /* stay on the CPU until VCPU 0 has looked */
        gk_cpu_relax();
}

static void test_promote(void)
{
    check("promote: pin VCPU 0 to CPU 0", pin(0, 1u << 0) == HV_OK);
    check("promote: pin VCPU 1 (the storer) to CPU 2", pin(1, 1u << 2) == HV_OK);
    check("promote: #PF handler", gk_trap_set(14, on_pf) == HV_OK);
    uint64_t f_pfn = gk_pfn_alloc();
    gk_assert(f_pfn != HV_M2P_INVALID);
    uint64_t f_mfn = gk_p2m(f_pfn);
    check("promote: map F writable", gk_map_frame(PROMOTE_VA, f_mfn, GK_PTE_RWDATA) == HV_OK);
    check("promote: map F read-only next to it",
          gk_map_frame(PROMOTE_VA + 4096, f_mfn, GK_PTE_RO) == HV_OK);
    const volatile uint64_t *ro = (const volatile uint64_t *)(uintptr_t)(PROMOTE_VA + 4096);
    check("promote: start the storer on VCPU 1",
          gk_vcpu_start(1, writer_vcpu, NULL, stacks[1], STACK_BYTES) == HV_OK);
    w_go = 1;
    uint64_t t0 = gk_now_ns();
    while (w_stores < 100000 && gk_now_ns() - t0 < 5 * GK_NS_PER_SEC)
        gk_cpu_relax();
    struct hv_domctl_vcpu_info before, after;
    vcpu_info(1, &before);
    check("promote: the storer stores into F through PROMOTE_VA on CPU 2",
          w_stores >= 100000 && before.cpu == 2 && before.state == HV_VCPU_RUNNING && ro[5] != 0 &&
              !w_fault);
    check("promote: unmap F's writable mapping (this CPU's TLB only)",
          gk_hc_update_va_mapping(PROMOTE_VA, 0, HV_UVM_INVLPG) == HV_OK);
    uint64_t stores_unmapped = w_stores;
    int64_t rc = gk_hc_mmuext_op(HV_MMUEXT_PIN_L1, f_mfn);
    uint64_t stores_pinned = w_stores, v0 = ro[5];
    int64_t info = gk_frame_info(f_mfn);
    check("promote: pin F as an L1", rc == HV_OK && info >= 0 && (info & 0xff) == HV_FRAME_TYPE_L1);
    uint64_t t1 = gk_now_ns();
    while (!w_fault && w_stores < stores_pinned + 100000 && gk_now_ns() - t1 < 5 * GK_NS_PER_SEC)
        gk_cpu_relax();
    uint64_t v1 = ro[5];
    vcpu_info(1, &after);
    w_stop = 1;
    gk_printf("smp: promote: stores when unmapped %llu, when pinned %llu, since %llu; fault at "
              "store %llu\n",
              (unsigned long long)stores_unmapped, (unsigned long long)stores_pinned,
              (unsigned long long)(w_stores - stores_pinned), (unsigned long long)w_fault);
    gk_printf("smp: promote: entry 5 of the L1 %#llx -> %#llx; storer on CPU %u, migrations "
              "%llu -> %llu\n",
              (unsigned long long)v0, (unsigned long long)v1, after.cpu,
              (unsigned long long)before.migrations, (unsigned long long)after.migrations);
    check("promote: the storer stayed on CPU 2",
          after.cpu == 2 && after.migrations == before.migrations);
    bool changed = v1 != v0 || w_stores > stores_pinned + 1;
    if (changed)
        gk_printf("smp: promote: VIOLATION: the storer on another CPU wrote into a validated "
                  "L1 table through its stale writable translation\n");
    else if (w_fault)
        gk_printf("smp: promote: the storer faulted once F became a page table (the shootdown "
                  "reached its CPU)\n");
    check("promote: the storer faulted and the L1 did not change after the pin",
          w_fault && !changed);
    check("promote: no other page fault", pf_other == 0);
}

/* --- flushcost --------------------------------------------------------------------- */

static volatile uint64_t spinners_started, spinners_stop;

static void spinner(void *arg)
{
    (void)arg;
    __atomic_fetch_add(&spinners_started, 1, __ATOMIC_SEQ_CST);
    while (!spinners_stop)
        gk_cpu_relax();
}

static uint64_t flush_mean(uint64_t mask)
{
    enum { WARM = 10, N = 200 };
    for (unsigned i = 0; i < WARM; i++)
        gk_hc_mmuext_op(HV_MMUEXT_TLB_FLUSH_VCPUS, mask);
    uint64_t t0 = rdtsc();
    for (unsigned i = 0; i < N; i++)
        if (gk_hc_mmuext_op(HV_MMUEXT_TLB_FLUSH_VCPUS, mask) != HV_OK)
            gk_panic("smp: FAILED TLB_FLUSH_VCPUS %#llx", (unsigned long long)mask);
    return (rdtsc() - t0) / N;
}

static void figure_flushcost(void)
{
    for (unsigned i = 0; i < 4; i++)
        if (pin(i, 1u << i) != HV_OK)
            gk_panic("smp: FAILED pin VCPU %u to CPU %u", i, i);
    for (unsigned i = 1; i < 4; i++)
        if (gk_vcpu_start(i, spinner, NULL, stacks[i], STACK_BYTES) != HV_OK)
            gk_panic("smp: FAILED start VCPU %u", i);
    while (spinners_started < 3)
        gk_cpu_relax();
    uint64_t self = flush_mean(0x1), one = flush_mean(0x3), three = flush_mean(0xf);
    bool all_running = true;
    for (unsigned i = 1; i < 4; i++) {
        struct hv_domctl_vcpu_info vi;
        vcpu_info(i, &vi);
        all_running = all_running && vi.state == HV_VCPU_RUNNING && vi.cpu == i;
    }
    spinners_stop = 1;
    check("flushcost: the other VCPUs ran on their own CPUs throughout", all_running);
    check("flushcost: a shootdown costs more than a local flush", one > self && three > one);
    gk_printf("smp: flushcost: TLB_FLUSH_VCPUS mean TSC ticks: self only %llu, +1 other %llu, "
              "+3 others %llu\n",
              (unsigned long long)self, (unsigned long long)one, (unsigned long long)three);
    gk_printf("smp: figure: TLB shootdown (HV_MMUEXT_TLB_FLUSH_VCPUS minus the local-only call): "
              "to 1 other CPU %llu instructions, to 3 other CPUs %llu instructions\n",
              (unsigned long long)(one > self ? one - self : 0),
              (unsigned long long)(three > self ? three - self : 0));
}

int main(const struct hv_start_info *si)
{
    char test[16] = "";
    gk_cmdline_get("test", test, sizeof(test));
    if (gk_mm_init(si) != 0)
        gk_panic("smp: gk_mm_init failed");
    if (gk_events_init() != HV_OK)
        gk_panic("smp: gk_events_init failed");
    gk_printf("smp: %s: TSC %llu Hz\n", test, (unsigned long long)si->tsc_hz);
    if (strcmp(test, "race") == 0)
        test_race();
    else if (strcmp(test, "promote") == 0)
        test_promote();
    else if (strcmp(test, "flushcost") == 0)
        figure_flushcost();
    else
        gk_panic("smp: FAILED unknown test \"%s\"", test);
    if (failures)
        gk_panic("smp: %s: %d checks FAILED", test, failures);
    gk_printf("smp: %s: ok\n", test);
    gk_shutdown(HV_SHUTDOWN_POWEROFF);
}
