/*
 * CPUID topology decoding (see cpu_topo.h). Leaf 0xb: each sub-leaf names a
 * level (ECX[15:8]: 1 = SMT, 2 = core, 0 = no more levels) and the number of
 * APIC-id bits below the next level (EAX[4:0]); EDX is the x2APIC id.
 * Legacy: leaf 1 EBX[23:16] is the number of logical-processor ids per
 * package, leaf 4 EAX[31:26] + 1 the number of core ids per package.
 */
#include "cpu_topo.h"

#define LEVEL_SMT 1u
#define LEVEL_CORE 2u

static uint8_t ceil_log2(uint32_t v)
{
    uint8_t b = 0;
    while (b < 32 && (1ull << b) < v)
        b++;
    return b;
}

bool cpu_topo_from_leaf_b(const struct cpu_topo_regs *sub, unsigned n, struct cpu_topo_shifts *out,
                          uint32_t *x2apic_id)
{
    if (sub == NULL || out == NULL || x2apic_id == NULL || n == 0 || n > CPU_TOPO_LEAF_B_MAX)
        return false;
    if ((sub[0].ebx & 0xffff) == 0 || ((sub[0].ecx >> 8) & 0xff) == 0)
        return false;
    uint32_t smt = 0, pkg = 0;
    bool have_smt = false;
    for (unsigned i = 0; i < n; i++) {
        uint32_t type = (sub[i].ecx >> 8) & 0xff;
        uint32_t shift = sub[i].eax & 0x1f;
        if (type == 0)
            break;
        if (shift < pkg) /* each level must cover the ones below it */
            return false;
        if (type == LEVEL_SMT) {
            if (have_smt || pkg != 0)
                return false; /* SMT must be the first level, once */
            smt = shift;
            have_smt = true;
        }
        pkg = shift; /* core, or any higher level the package contains */
    }
    if (smt > pkg || pkg > 32)
        return false;
    out->smt_bits = (uint8_t)smt;
    out->core_bits = (uint8_t)(pkg - smt);
    *x2apic_id = sub[0].edx;
    return true;
}

void cpu_topo_from_legacy(uint32_t leaf1_ebx, uint32_t leaf1_edx, bool have_leaf4,
                          uint32_t leaf4_eax, struct cpu_topo_shifts *out)
{
    uint32_t logical = (leaf1_edx & (1u << 28)) ? (leaf1_ebx >> 16) & 0xff : 1;
    uint32_t cores = have_leaf4 ? ((leaf4_eax >> 26) & 0x3f) + 1 : 1;
    if (logical == 0)
        logical = 1;
    if (cores > logical)
        cores = logical;
    out->core_bits = ceil_log2(cores);
    uint8_t pkg = ceil_log2(logical);
    out->smt_bits = pkg > out->core_bits ? (uint8_t)(pkg - out->core_bits) : 0;
}

void cpu_topo_split(uint32_t apic_id, struct cpu_topo_shifts s, uint32_t *package, uint32_t *core,
                    uint32_t *thread)
{
    uint32_t smt = s.smt_bits > 32 ? 32 : s.smt_bits;
    uint32_t all = smt + s.core_bits > 32 ? 32 : smt + s.core_bits;
    uint64_t id = apic_id;
    *thread = (uint32_t)(id & ((1ull << smt) - 1));
    *core = (uint32_t)((id >> smt) & ((1ull << (all - smt)) - 1));
    *package = (uint32_t)(id >> all);
}
