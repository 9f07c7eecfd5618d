/*
 * Multiprocessor services of the architecture (hv/arch/x86_64/smp.c):
 * CPU identity and topology, IPIs and the synchronous remote TLB flush.
 * Included by arch.h; nothing here names an x86 register.
 *
 * CPU numbers are dense: 0 is the boot CPU, 1..arch_cpu_count()-1 the
 * application processors that came up, in MADT order. A CPU that did not
 * come up has no number.
 */
#ifndef HV_ARCH_SMP_H
#define HV_ARCH_SMP_H

#include "memmap.h"
#include "types.h"

/* The fixed vector of the generic IPI; its handler calls smp_ipi_handler(). */
#define ARCH_IPI_VECTOR 0xf0u

/* Where one CPU sits: ids as the CPU's APIC id encodes them (CPUID leaf 0xb,
 * or leaves 1 and 4). core_id is unique within the package, thread_id within
 * the core; ids need not be dense. */
struct arch_cpu_topo {
    uint32_t apic_id; /* xAPIC id (the IPI destination) */
    uint16_t package_id;
    uint16_t core_id;
    uint16_t thread_id;
};

/* What the boot path tells the SMP start-up (all of it read during the call only). */
struct arch_smp_boot {
    const void *acpi_rsdp; /* the boot loader's copy of the ACPI RSDP, NULL: none */
    size_t acpi_rsdp_size_bytes;
    const struct mem_map_entry *mmap; /* the memory map */
    size_t mmap_count;
    const struct mem_range *busy; /* memory that must survive (modules, boot information) */
    size_t busy_count;
    arch_frame_alloc_fn alloc; /* frames for the per-CPU stacks (arch.h) */
    void *alloc_ctx;
};

/*
 * Boot CPU only, once, after arch_time_init and before any domain exists:
 * reads the ACPI MADT (RSDP from b, else the BIOS areas; a bad table is
 * logged and ignored: one CPU), starts every
 * enabled AP (INIT-SIPI-SIPI; one that does not come up within a second is
 * logged and left out) and logs the topology. `nosmp` on the command line
 * leaves the APs stopped, `maxcpus=N` starts at most N CPUs in all (MADT
 * order). APs idle (interrupts on, hlt) waiting for IPIs.
 */
void arch_smp_init(const struct arch_smp_boot *b);
/*
 * The test image only (test/image/arch/smp_test.c; hv.elf has no such
 * function): the `test=ipi` self-test, run by the boot CPU right after
 * arch_smp_init (IPIs, TLB flushes, their cost; failures logged).
 */
void arch_smp_self_test(arch_frame_alloc_fn alloc, void *alloc_ctx);
/* The test image only: the self-test's part of every generic IPI (the
 * core's smp_ipi_handler calls it): an AP reads what the test asked. */
void arch_smp_test_ipi(void);

/* This CPU's number; valid on any CPU once it is set up (arch_cpu_init). */
unsigned arch_cpu_id(void);
/* CPUs online (1 before arch_smp_init and with `nosmp`). */
unsigned arch_cpu_count(void);
/* Topology of CPU `cpu`, or NULL if cpu >= arch_cpu_count(). */
const struct arch_cpu_topo *arch_cpu_topology(unsigned cpu);

/* Sends `vector` (32..255) to CPU `cpu` (not necessarily another CPU).
 * Returns false if the CPU or the vector is invalid or the local APIC did
 * not accept the request within the timeout. Any CPU, any context. */
bool arch_send_ipi(unsigned cpu, unsigned vector);
/* Sends `vector` to every other CPU (the xAPIC all-excluding-self
 * shorthand). Returns false as arch_send_ipi does. */
bool arch_send_ipi_all_but_self(unsigned vector);

/*
 * Flushes the whole TLB (global entries included) of every online CPU in
 * `cpu_mask` (bit i = CPU i; the caller's own bit flushes locally) and
 * waits until each has acknowledged a flush that began after this call.
 * Callable with interrupts off, by several CPUs at once (a waiting CPU
 * serves requests addressed to itself). Returns the mask of CPUs that did
 * not acknowledge within one second (0 = all done); the caller decides
 * whether that is fatal. Requests to offline CPUs are ignored.
 */
uint64_t arch_tlb_flush_cpus(uint64_t cpu_mask);

/*
 * Hook run by every remote-flush service on its CPU, before the flush: the
 * page-table base this CPU must run on (0: leave CR3 as it is). The core
 * defines it (hv/core/schedule.c) and uses it to move the CPUs running a domain to the domain's new base
 * before the old base's reference is dropped (arch_tlb_flush_cpus waits).
 */
paddr_t smp_flush_base(void);

/* Serves the remote TLB-flush requests addressed to this CPU; for a CPU
 * that spins with interrupts off (the hypervisor lock) while another may
 * wait for its flush. */
void arch_smp_poll(void);

/*
 * Hook run on the receiving CPU for every ARCH_IPI_VECTOR interrupt, after
 * the EOI, with interrupts off, on that CPU's hypervisor stack; the core
 * defines it (hv/core/schedule.c). When the interrupt came from ring 3 the
 * arch code then calls schedule_exit(), as for the timer.
 */
void smp_ipi_handler(void);

/*
 * What an AP does once it is online (its tables, local APIC and topology
 * set up, interrupts off, on its own hypervisor stack at depth one call);
 * must not return; the core defines it (hv/core/schedule.c: wait for the
 * boot CPU, then run the scheduler). Runs on each AP
 * while the boot CPU is still starting the next one: it must not assume
 * that arch_cpu_count() is final.
 */
__noreturn void smp_ap_run(void);

#endif
