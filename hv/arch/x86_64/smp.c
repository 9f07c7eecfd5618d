/*
 * Multiprocessor bring-up and inter-processor interrupts.
 *
 * Boot (arch_smp_init, boot CPU): the MADT (acpi.c) lists the enabled local
 * APICs; each AP gets a struct percpu (percpu_area[i]) and, mapped from
 * frames of the frame allocator in PML4 slot 260 with unmapped guard pages
 * between them, a hypervisor stack and three IST stacks. The APs are started
 * one at a time with INIT-SIPI-SIPI through the trampoline (trampoline.S)
 * copied to a free page below 1 MiB (the first MiB is never given to the
 * frame allocator: main.c reserves it), and each runs smp_ap_main(): same
 * CPU tables and features as the boot CPU, its local APIC on, its topology
 * read from CPUID, then online and idle (sti; hlt) waiting for IPIs.
 *
 * Every wait loop here executes `pause` and has a TSC timeout: under
 * `-icount` QEMU runs all CPUs on one thread, and `pause` is what lets the
 * other CPUs run.
 *
 * IPIs: ARCH_IPI_VECTOR (0xf0) calls the core's smp_ipi_handler();
 * APIC_FLUSH_VECTOR (0xf1) serves TLB-flush requests (arch_tlb_flush_cpus).
 */
#include <string.h>

#include "acpi.h"
#include "apic.h"
#include "arch.h"
#include "cpu_topo.h"
#include "log.h"
#include "percpu.h"
#include "x86.h"

#define WIN_STACK 0x1000u
#define WIN_IST_DF 0x6000u
#define WIN_IST_NMI 0x9000u
#define WIN_IST_MCE 0xc000u
_Static_assert(HV_STACK_SIZE == 0x4000 && HV_IST_STACK_SIZE == 0x2000, "window layout");
_Static_assert(ACPI_MAX_CPUS == ARCH_MAX_CPUS, "one CPU limit");

#define CPU_STARTING 0u
#define CPU_ONLINE 1u
#define CPU_REFUSED 2u /* lacks a feature the boot CPU uses; parked */

#define ICR_FIXED 0x0u
#define ICR_INIT 0x500u
#define ICR_STARTUP 0x600u
#define ICR_PENDING (1u << 12)
#define ICR_ASSERT (1u << 14)
#define ICR_LEVEL (1u << 15)
#define ICR_ALL_BUT_SELF (3u << 18)

#define WAIT_TIMEOUT_MS 1000u

/* trampoline.S */
extern const uint8_t smp_tramp_start[], smp_tramp_end[], smp_tramp_gdt_desc[], smp_tramp_far32[],
    smp_tramp_far64[], smp_tramp_cr3[], smp_tramp_efer[];
extern uint64_t smp_ap_boot_cr3, smp_ap_boot_rsp, smp_ap_boot_percpu;
extern uint32_t smp_ap_boot_apic_id;
__noreturn void smp_ap_main(struct percpu *pc);

static unsigned cpus_online = 1;
static struct arch_cpu_topo topo[ARCH_MAX_CPUS];
static struct acpi_madt madt;
static bool window_mapped[ARCH_MAX_CPUS];

/* The trampoline's page tables: slot 0 identity-maps the first 2 MiB, slots
 * 256..511 are the hypervisor's. Must be below 4 GiB (the image is). */
static uint64_t tramp_l4[512] __attribute__((aligned(4096)));
static uint64_t tramp_l3[512] __attribute__((aligned(4096)));
static uint64_t tramp_l2[512] __attribute__((aligned(4096)));

/* --- helpers ---------------------------------------------------------------- */

static uint64_t ms_to_tsc(uint64_t ms)
{
    uint64_t hz = arch_tsc_hz();
    return hz ? hz / 1000 * ms : ms * 1000000ull; /* before calibration: assume 1 GHz */
}

static void delay_us(uint64_t us)
{
    uint64_t hz = arch_tsc_hz() ? arch_tsc_hz() : 1000000000ull;
    uint64_t end = rdtsc() + hz / 1000000 * us;
    while ((int64_t)(rdtsc() - end) < 0)
        cpu_relax();
}

static uint64_t irq_save(void)
{
    uint64_t f;
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(f)::"memory");
    return f;
}

static void irq_restore(uint64_t f)
{
    if (f & RFLAGS_IF)
        irq_enable();
}

static paddr_t image_phys(const void *v)
{
    return (paddr_t)((uintptr_t)v - HV_IMAGE_VBASE);
}

static void flush_all_local(void)
{
    paddr_t base = smp_flush_base(); /* the core moved this CPU's domain to a new base */
    if (base != 0 && base != (read_cr3() & HV_PTE_ADDR_MASK))
        write_cr3(base);
    uint64_t cr4 = read_cr4();
    if (cr4 & CR4_PGE) { /* toggling PGE flushes global entries too */
        write_cr4(cr4 & ~CR4_PGE);
        write_cr4(cr4);
    } else {
        write_cr3(read_cr3());
    }
}

/* --- local APIC ICR ---------------------------------------------------------------- */

static bool icr_wait_idle(void)
{
    uint64_t start = rdtsc(), limit = ms_to_tsc(WAIT_TIMEOUT_MS);
    while (apic_read(APIC_REG_ICR_LO) & ICR_PENDING) {
        if (rdtsc() - start > limit)
            return false;
        cpu_relax();
    }
    return true;
}

/* Writes the ICR (high half first: the low write sends), interrupts off so
 * that no handler on this CPU interleaves its own ICR write. */
static bool icr_send(uint32_t dest_apic_id, uint32_t lo)
{
    uint64_t f = irq_save();
    bool ok = icr_wait_idle();
    if (ok) {
        apic_write(APIC_REG_ICR_HI, dest_apic_id << 24);
        apic_write(APIC_REG_ICR_LO, lo);
        ok = icr_wait_idle();
    }
    irq_restore(f);
    return ok;
}

bool arch_send_ipi(unsigned cpu, unsigned vector)
{
    if (cpu >= cpus_online || vector < 32 || vector > 255)
        return false;
    return icr_send(percpu_area[cpu].apic_id, ICR_FIXED | ICR_ASSERT | vector);
}

bool arch_send_ipi_all_but_self(unsigned vector)
{
    if (vector < 32 || vector > 255)
        return false;
    if (cpus_online == 1)
        return true;
    return icr_send(0, ICR_FIXED | ICR_ASSERT | ICR_ALL_BUT_SELF | vector);
}

/* --- IPI handlers (called from trap_entry) ------------------------------------- */

void smp_ipi_interrupt(void)
{
    __atomic_fetch_add(&this_percpu()->ipi_count, 1, __ATOMIC_RELEASE);
    apic_eoi();
    smp_ipi_handler();
}

/* flush_done only grows (a request served by the wait loop and one served
 * by the interrupt may finish in either order). */
static void flush_done_raise(struct percpu *pc, uint64_t r)
{
    uint64_t cur = __atomic_load_n(&pc->flush_done, __ATOMIC_RELAXED);
    while (cur < r && !__atomic_compare_exchange_n(&pc->flush_done, &cur, r, false,
                                                   __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        ;
}

/* Serves this CPU's pending flush requests, if any. */
static void flush_serve(struct percpu *pc)
{
    uint64_t r = __atomic_load_n(&pc->flush_req, __ATOMIC_ACQUIRE);
    if (r == __atomic_load_n(&pc->flush_done, __ATOMIC_ACQUIRE))
        return;
    flush_all_local();
    flush_done_raise(pc, r);
}

void arch_smp_poll(void)
{
    flush_serve(this_percpu());
}

void smp_flush_interrupt(void)
{
    flush_serve(this_percpu());
    apic_eoi();
}

uint64_t arch_tlb_flush_cpus(uint64_t cpu_mask)
{
    struct percpu *self = this_percpu();
    uint64_t want[ARCH_MAX_CPUS];
    uint64_t pending = 0, failed = 0;
    if (cpus_online < 64)
        cpu_mask &= (1ull << cpus_online) - 1;

    for (unsigned c = 0; c < cpus_online; c++) {
        if (!(cpu_mask & (1ull << c)))
            continue;
        if (c == self->cpu_id) {
            flush_all_local();
            continue;
        }
        struct percpu *pc = &percpu_area[c];
        want[c] = __atomic_add_fetch(&pc->flush_req, 1, __ATOMIC_ACQ_REL);
        if (icr_send(pc->apic_id, ICR_FIXED | ICR_ASSERT | APIC_FLUSH_VECTOR))
            pending |= 1ull << c;
        else
            failed |= 1ull << c;
    }

    uint64_t start = rdtsc(), limit = ms_to_tsc(WAIT_TIMEOUT_MS);
    while (pending) {
        for (unsigned c = 0; c < cpus_online; c++) {
            if ((pending & (1ull << c)) &&
                __atomic_load_n(&percpu_area[c].flush_done, __ATOMIC_ACQUIRE) >= want[c])
                pending &= ~(1ull << c);
        }
        if (!pending)
            break;
        flush_serve(self); /* another CPU may be waiting for us, with interrupts off */
        if (rdtsc() - start > limit)
            break;
        cpu_relax();
    }
    failed |= pending;
    if (failed)
        log_err("smp: TLB flush not acknowledged by CPUs %#llx", (unsigned long long)failed);
    return failed;
}

/* --- identity and topology -------------------------------------------------- */

unsigned arch_cpu_count(void)
{
    return cpus_online;
}

const struct arch_cpu_topo *arch_cpu_topology(unsigned cpu)
{
    return cpu < cpus_online ? &topo[cpu] : NULL;
}

/* Reads this CPU's place in the machine from CPUID; runs on that CPU. */
static void topology_read(struct percpu *pc)
{
    uint32_t a, b, c, d;
    cpuid(0, 0, &a, &b, &c, &d);
    uint32_t max_leaf = a;
    struct cpu_topo_shifts sh = {0, 0};
    uint32_t id = pc->apic_id;
    bool done = false;
    if (max_leaf >= 0xb) {
        struct cpu_topo_regs sub[CPU_TOPO_LEAF_B_MAX];
        for (unsigned i = 0; i < CPU_TOPO_LEAF_B_MAX; i++)
            cpuid(0xb, i, &sub[i].eax, &sub[i].ebx, &sub[i].ecx, &sub[i].edx);
        done = cpu_topo_from_leaf_b(sub, CPU_TOPO_LEAF_B_MAX, &sh, &id);
    }
    if (!done) {
        uint32_t l4 = 0, x, y, z;
        if (max_leaf >= 4)
            cpuid(4, 0, &l4, &x, &y, &z);
        cpuid(1, 0, &a, &b, &c, &d);
        cpu_topo_from_legacy(b, d, max_leaf >= 4 && (l4 & 0x1f) != 0, l4, &sh);
        id = pc->apic_id;
    }
    uint32_t pkg, core, thread;
    cpu_topo_split(id, sh, &pkg, &core, &thread);
    pc->x2apic_id = id;
    pc->package_id = (uint16_t)pkg;
    pc->core_id = (uint16_t)core;
    pc->thread_id = (uint16_t)thread;
}

/* --- AP side ------------------------------------------------------------------------ */

void smp_ap_main(struct percpu *pc)
{
    uint64_t win = SMP_STACKS_VA + pc->cpu_id * SMP_WINDOW_BYTES;
    const uint64_t ist_top[3] = {win + WIN_IST_DF + HV_IST_STACK_SIZE,
                                 win + WIN_IST_NMI + HV_IST_STACK_SIZE,
                                 win + WIN_IST_MCE + HV_IST_STACK_SIZE};
    if (!cpu_init_ap(pc, ist_top)) {
        __atomic_store_n(&pc->online, CPU_REFUSED, __ATOMIC_RELEASE);
        arch_halt_forever();
    }
    apic_init_ap();
    topology_read(pc);
    __atomic_store_n(&pc->online, CPU_ONLINE, __ATOMIC_RELEASE);
    smp_ap_run();
    panic("smp: smp_ap_run returned on CPU %u", pc->cpu_id);
}

/* --- boot CPU side ------------------------------------------------------------------ */

/* Where the per-CPU stacks come from. */
static arch_frame_alloc_fn frame_alloc;
static void *frame_alloc_ctx;

/* Maps the stack and IST pages of CPU i's window (once). */
static bool window_map(unsigned i)
{
    if (window_mapped[i])
        return true;
    if (frame_alloc == NULL)
        return false;
    uint64_t win = SMP_STACKS_VA + (uint64_t)i * SMP_WINDOW_BYTES;
    static const struct {
        uint32_t off, bytes;
    } parts[] = {{WIN_STACK, HV_STACK_SIZE},
                 {WIN_IST_DF, HV_IST_STACK_SIZE},
                 {WIN_IST_NMI, HV_IST_STACK_SIZE},
                 {WIN_IST_MCE, HV_IST_STACK_SIZE}};
    for (size_t p = 0; p < ARRAY_SIZE(parts); p++) {
        for (uint32_t o = 0; o < parts[p].bytes; o += PAGE_SIZE) {
            mfn_t m = frame_alloc(frame_alloc_ctx);
            if (mfn_x(m) == mfn_x(INVALID_MFN) ||
                !arch_hv_map(win + parts[p].off + o, m, ARCH_MAP_W, frame_alloc, frame_alloc_ctx))
                return false; /* frames already mapped stay mapped (boot only) */
        }
    }
    window_mapped[i] = true;
    return true;
}

static bool range_overlaps(paddr_t a0, paddr_t a1, paddr_t b0, paddr_t b1)
{
    return a0 < b1 && b0 < a1;
}

/*
 * A page in [0x8000, 0x9f000) for the trampoline: available RAM in the
 * memory map, clear of the memory the boot path says is in use (boot
 * modules, the boot information: module command lines point into it).
 */
static paddr_t tramp_page_pick(const struct arch_smp_boot *b)
{
    for (paddr_t t = 0x8000; t < 0x9f000; t += PAGE_SIZE) {
        paddr_t end = t + PAGE_SIZE;
        bool in_ram = false, clash = false;
        for (size_t i = 0; i < b->mmap_count; i++) {
            const struct mem_map_entry *m = &b->mmap[i];
            if (m->type == MEM_AVAILABLE && m->base <= t && m->base + m->length >= end &&
                m->base + m->length > m->base)
                in_ram = true;
        }
        for (size_t i = 0; i < b->busy_count; i++)
            clash = clash || range_overlaps(t, end, b->busy[i].base, b->busy[i].end);
        if (in_ram && !clash)
            return t;
    }
    return 0;
}

static void patch32(uint8_t *tramp, const uint8_t *field, uint32_t v)
{
    memcpy(tramp + (field - smp_tramp_start), &v, 4);
}

/* Copies and patches the trampoline at t and builds its page tables. */
static void tramp_install(paddr_t t)
{
    size_t len = (size_t)(smp_tramp_end - smp_tramp_start);
    uint8_t *dst = phys_to_virt(t);
    memcpy(dst, smp_tramp_start, len);
    /* The GDT base and far-jump offsets were assembled relative to the start. */
    uint32_t v;
    memcpy(&v, smp_tramp_gdt_desc + 2, 4);
    patch32(dst, smp_tramp_gdt_desc + 2, (uint32_t)t + v);
    memcpy(&v, smp_tramp_far32, 4);
    patch32(dst, smp_tramp_far32, (uint32_t)t + v);
    memcpy(&v, smp_tramp_far64, 4);
    patch32(dst, smp_tramp_far64, (uint32_t)t + v);
    patch32(dst, smp_tramp_cr3, (uint32_t)image_phys(tramp_l4));
    patch32(dst, smp_tramp_efer, (uint32_t)((rdmsr(MSR_EFER) & (EFER_NXE | EFER_SCE)) | EFER_LME));

    memset(tramp_l4, 0, sizeof(tramp_l4));
    tramp_l2[0] = 0 | HV_PTE_P | HV_PTE_RW | HV_PTE_PS;
    tramp_l3[0] = image_phys(tramp_l2) | HV_PTE_P | HV_PTE_RW;
    tramp_l4[0] = image_phys(tramp_l3) | HV_PTE_P | HV_PTE_RW;
    memcpy(&tramp_l4[256], arch_hv_l4_slots(), 256 * sizeof(uint64_t));
}

/* Starts the AP with `apic_id` as CPU number `idx`; true once it is online. */
static bool ap_start(unsigned idx, uint32_t apic_id, paddr_t tramp)
{
    struct percpu *pc = &percpu_area[idx];
    if (!window_map(idx)) {
        log_warn("smp: no memory for the stacks of CPU %u", idx);
        return false;
    }
    memset(pc, 0, sizeof(*pc));
    pc->cpu_id = idx;
    pc->apic_id = apic_id;
    pc->kstack_top = SMP_STACKS_VA + idx * SMP_WINDOW_BYTES + WIN_STACK + HV_STACK_SIZE;

    smp_ap_boot_cr3 = arch_hv_l4();
    smp_ap_boot_rsp = pc->kstack_top;
    smp_ap_boot_percpu = (uint64_t)(uintptr_t)pc;
    __atomic_store_n(&smp_ap_boot_apic_id, apic_id, __ATOMIC_RELEASE);

    bool sent = icr_send(apic_id, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
    delay_us(10000);
    for (int sipi = 0; sent && sipi < 2; sipi++) {
        if (__atomic_load_n(&pc->online, __ATOMIC_ACQUIRE) != CPU_STARTING)
            break;
        sent = icr_send(apic_id, ICR_STARTUP | ICR_ASSERT | (uint32_t)(tramp >> 12));
        delay_us(200);
    }
    uint64_t start = rdtsc(), limit = ms_to_tsc(WAIT_TIMEOUT_MS);
    uint32_t st = CPU_STARTING;
    while (sent && (st = __atomic_load_n(&pc->online, __ATOMIC_ACQUIRE)) == CPU_STARTING &&
           rdtsc() - start <= limit)
        cpu_relax();
    if (st == CPU_ONLINE)
        return true;

    /* Give up on it: no later arrival may take the slot, and INIT parks it. */
    __atomic_store_n(&smp_ap_boot_apic_id, 0xffffffffu, __ATOMIC_RELEASE);
    icr_send(apic_id, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
    log_warn("smp: CPU with APIC id %u %s; left out", apic_id,
             !sent               ? "could not be sent the start-up IPIs"
             : st == CPU_REFUSED ? "lacks a feature the boot CPU uses"
                                 : "did not come up within 1 s");
    return false;
}

static void madt_read(const struct arch_smp_boot *b, uint32_t bsp_apic_id)
{
    struct acpi_phys mem = {phys_to_virt(0), arch_directmap_limit()};
    const uint8_t *rsdp = b->acpi_rsdp;
    size_t rsdp_size = b->acpi_rsdp_size_bytes;
    const char *from = "Multiboot2";
    uint64_t pa;
    if (rsdp == NULL) {
        from = "BIOS area";
        if (!acpi_rsdp_find(&mem, &pa)) {
            log_warn("acpi: no RSDP; assuming one CPU and the I/O APIC at %#x",
                     ACPI_DEFAULT_IOAPIC_PADDR);
            acpi_madt_default(&madt, bsp_apic_id);
            return;
        }
        rsdp = mem.base + pa;
        rsdp_size = mem.size_bytes - pa > 4096 ? 4096 : (size_t)(mem.size_bytes - pa);
    }
    uint64_t where = 0;
    enum acpi_error e = acpi_parse(&mem, rsdp, rsdp_size, &madt, &where);
    if (e != ACPI_OK) {
        log_warn("acpi: %s (at %#llx); tables ignored: one CPU, I/O APIC at %#x", acpi_strerror(e),
                 (unsigned long long)where, ACPI_DEFAULT_IOAPIC_PADDR);
        acpi_madt_default(&madt, bsp_apic_id);
        return;
    }
    bool bsp_listed = false;
    for (uint32_t i = 0; i < madt.cpu_count; i++)
        bsp_listed = bsp_listed || madt.cpu_apic_id[i] == bsp_apic_id;
    if (!bsp_listed) {
        log_warn("acpi: the MADT does not list the boot CPU (APIC id %u); tables ignored",
                 bsp_apic_id);
        acpi_madt_default(&madt, bsp_apic_id);
        return;
    }
    log_info("acpi: RSDP from %s, MADT via %s: %u CPUs enabled, %u disabled, %u dropped, "
             "%u unaddressable; local APIC at %#llx",
             from, madt.from_xsdt ? "XSDT" : "RSDT", madt.cpu_count, madt.cpus_disabled,
             madt.cpus_dropped, madt.cpus_unaddressable, (unsigned long long)madt.lapic_paddr);
    for (uint32_t i = 0; i < madt.ioapic_count; i++)
        log_info("acpi: I/O APIC id %u at %#x, GSI base %u", madt.ioapic[i].id,
                 madt.ioapic[i].paddr, madt.ioapic[i].gsi_base);
    for (uint32_t i = 0; i < madt.override_count; i++)
        log_info("acpi: override: bus %u IRQ %u -> GSI %u, flags %#x", madt.override[i].bus,
                 madt.override[i].source, madt.override[i].gsi, madt.override[i].flags);
}

static void topology_log(void)
{
    unsigned packages = 0, cores = 0, threads_per_core = 0;
    for (unsigned i = 0; i < cpus_online; i++) {
        const struct percpu *pc = &percpu_area[i];
        topo[i] = (struct arch_cpu_topo){.apic_id = pc->apic_id,
                                         .package_id = pc->package_id,
                                         .core_id = pc->core_id,
                                         .thread_id = pc->thread_id};
        log_info("smp: cpu %u: apic id %u, package %u, core %u, thread %u", i, pc->apic_id,
                 pc->package_id, pc->core_id, pc->thread_id);
    }
    for (unsigned i = 0; i < cpus_online; i++) {
        bool new_pkg = true, new_core = true;
        unsigned siblings = 0;
        for (unsigned j = 0; j < cpus_online; j++) {
            bool same_pkg = topo[j].package_id == topo[i].package_id;
            bool same_core = same_pkg && topo[j].core_id == topo[i].core_id;
            if (j < i && same_pkg)
                new_pkg = false;
            if (j < i && same_core)
                new_core = false;
            siblings += same_core;
        }
        packages += new_pkg;
        cores += new_core;
        if (siblings > threads_per_core)
            threads_per_core = siblings;
    }
    log_info("smp: %u CPU%s online (%u package%s, %u core%s, %u thread%s per core)", cpus_online,
             cpus_online == 1 ? "" : "s", packages, packages == 1 ? "" : "s", cores,
             cores == 1 ? "" : "s", threads_per_core, threads_per_core == 1 ? "" : "s");
}

void arch_smp_init(const struct arch_smp_boot *b)
{
    frame_alloc = b->alloc;
    frame_alloc_ctx = b->alloc_ctx;
    struct percpu *bsp = &percpu_area[0];
    bsp->apic_id = apic_read(APIC_REG_ID) >> 24;
    topology_read(bsp);
    bsp->online = CPU_ONLINE;

    madt_read(b, bsp->apic_id);
    if (madt.cpus_dropped)
        log_warn("smp: %u enabled CPUs left out (duplicates, or more than %u)", madt.cpus_dropped,
                 ARCH_MAX_CPUS);

    uint64_t max_cpus = cmdline_get_u64("maxcpus", ARCH_MAX_CPUS);
    if (max_cpus < 1 || max_cpus > ARCH_MAX_CPUS) {
        log_warn("smp: maxcpus=%llu out of range 1..%u; ignored", (unsigned long long)max_cpus,
                 ARCH_MAX_CPUS);
        max_cpus = ARCH_MAX_CPUS;
    }
    if (madt.cpu_count > 1 && cmdline_flag("nosmp")) {
        log_info("smp: nosmp: the %u other CPUs stay stopped", madt.cpu_count - 1);
    } else if (madt.cpu_count > max_cpus) {
        log_info("smp: maxcpus=%llu: %u of the %u CPUs stay stopped", (unsigned long long)max_cpus,
                 madt.cpu_count - (unsigned)max_cpus, madt.cpu_count);
    }
    if (madt.cpu_count > 1 && max_cpus > 1 && !cmdline_flag("nosmp")) {
        paddr_t tramp = tramp_page_pick(b);
        if (tramp == 0) {
            log_warn("smp: no free page below 640 KiB for the start-up code; one CPU");
        } else {
            tramp_install(tramp);
            for (uint32_t i = 0; i < madt.cpu_count && cpus_online < max_cpus; i++) {
                if (madt.cpu_apic_id[i] == bsp->apic_id)
                    continue;
                if (ap_start(cpus_online, madt.cpu_apic_id[i], tramp))
                    cpus_online++;
            }
        }
    }
    topology_log();
}
