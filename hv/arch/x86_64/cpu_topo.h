/*
 * Decoding the processor topology from CPUID values (pure, host-tested in
 * test/unit/acpi). The caller executes CPUID on the CPU concerned and hands
 * the register values in; nothing here executes an instruction.
 *
 * An APIC id splits into fields, low to high: SMT thread (smt_bits wide),
 * core (core_bits wide), package (the rest).
 */
#ifndef HV_CPU_TOPO_H
#define HV_CPU_TOPO_H

#include "types.h"

#define CPU_TOPO_LEAF_B_MAX 8u /* sub-leaves of leaf 0xb looked at */

struct cpu_topo_shifts {
    uint8_t smt_bits;
    uint8_t core_bits;
};

/* Registers of one CPUID sub-leaf. */
struct cpu_topo_regs {
    uint32_t eax, ebx, ecx, edx;
};

/*
 * From leaf 0xb sub-leaves 0..n-1 (n <= CPU_TOPO_LEAF_B_MAX): the shifts
 * and this CPU's x2APIC id. Returns false if the leaf is not implemented
 * (sub-leaf 0 reports no processors or no level) or the values are
 * inconsistent (shifts out of order or above 32), so the caller falls back
 * to cpu_topo_from_legacy.
 */
bool cpu_topo_from_leaf_b(const struct cpu_topo_regs *sub, unsigned n, struct cpu_topo_shifts *out,
                          uint32_t *x2apic_id);

/*
 * From leaf 1 (EBX, EDX) and, if have_leaf4, leaf 4 sub-leaf 0 EAX: the
 * shifts. Without HTT (EDX bit 28) the package has one thread.
 */
void cpu_topo_from_legacy(uint32_t leaf1_ebx, uint32_t leaf1_edx, bool have_leaf4,
                          uint32_t leaf4_eax, struct cpu_topo_shifts *out);

/* Splits an APIC id into package, core and thread ids. */
void cpu_topo_split(uint32_t apic_id, struct cpu_topo_shifts s, uint32_t *package, uint32_t *core,
                    uint32_t *thread);

#endif
