/*
 * Tests for the CPUID topology decoder (hv/arch/x86_64/cpu_topo.c), with
 * the register values QEMU and real CPUs report.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cpu_topo.h"

static struct cpu_topo_regs level(uint32_t shift, uint32_t count, uint32_t type, uint32_t idx,
                                  uint32_t x2apic)
{
    return (struct cpu_topo_regs){shift, count, (type << 8) | idx, x2apic};
}

static void split(uint32_t id, struct cpu_topo_shifts s, uint32_t want_pkg, uint32_t want_core,
                  uint32_t want_thread)
{
    uint32_t p, c, t;
    cpu_topo_split(id, s, &p, &c, &t);
    assert_int_equal(p, want_pkg);
    assert_int_equal(c, want_core);
    assert_int_equal(t, want_thread);
}

/* -smp 8,sockets=2,cores=2,threads=2: SMT 1 bit, core 1 bit. */
static void test_leaf_b_two_packages(void **state)
{
    (void)state;
    struct cpu_topo_regs sub[CPU_TOPO_LEAF_B_MAX];
    memset(sub, 0, sizeof(sub));
    sub[0] = level(1, 2, 1, 0, 5);
    sub[1] = level(2, 4, 2, 1, 5);
    sub[2] = level(0, 0, 0, 2, 5);
    struct cpu_topo_shifts s;
    uint32_t id = 0;
    assert_true(cpu_topo_from_leaf_b(sub, CPU_TOPO_LEAF_B_MAX, &s, &id));
    assert_int_equal(s.smt_bits, 1);
    assert_int_equal(s.core_bits, 1);
    assert_int_equal(id, 5);
    split(5, s, 1, 0, 1);
    split(6, s, 1, 1, 0);
    split(3, s, 0, 1, 1);
}

/* No SMT level (1 thread per core), 6 cores: shift 3 at the core level. */
static void test_leaf_b_no_smt(void **state)
{
    (void)state;
    struct cpu_topo_regs sub[2] = {level(3, 6, 2, 0, 13), level(0, 0, 0, 1, 13)};
    struct cpu_topo_shifts s;
    uint32_t id;
    assert_true(cpu_topo_from_leaf_b(sub, 2, &s, &id));
    assert_int_equal(s.smt_bits, 0);
    assert_int_equal(s.core_bits, 3);
    split(13, s, 1, 5, 0);
}

static void test_leaf_b_refused(void **state)
{
    (void)state;
    struct cpu_topo_shifts s;
    uint32_t id;
    struct cpu_topo_regs none[1] = {level(0, 0, 0, 0, 0)};
    assert_false(cpu_topo_from_leaf_b(none, 1, &s, &id)); /* not implemented */
    struct cpu_topo_regs down[2] = {level(4, 2, 1, 0, 0), level(2, 4, 2, 1, 0)};
    assert_false(cpu_topo_from_leaf_b(down, 2, &s, &id)); /* core level below SMT */
    struct cpu_topo_regs smt_late[2] = {level(2, 4, 2, 0, 0), level(3, 8, 1, 1, 0)};
    assert_false(cpu_topo_from_leaf_b(smt_late, 2, &s, &id)); /* SMT above core */
    assert_false(cpu_topo_from_leaf_b(down, 0, &s, &id));
    assert_false(cpu_topo_from_leaf_b(down, CPU_TOPO_LEAF_B_MAX + 1, &s, &id));
    assert_false(cpu_topo_from_leaf_b(NULL, 1, &s, &id));
}

static void test_legacy(void **state)
{
    (void)state;
    struct cpu_topo_shifts s;
    /* HTT, 4 logical ids per package, leaf 4: 2 cores -> 1 SMT bit, 1 core bit. */
    cpu_topo_from_legacy(4u << 16, 1u << 28, true, 1u << 26, &s);
    assert_int_equal(s.smt_bits, 1);
    assert_int_equal(s.core_bits, 1);
    split(7, s, 1, 1, 1);
    /* No HTT: one thread, one core per package, whatever EBX says. */
    cpu_topo_from_legacy(16u << 16, 0, true, 7u << 26, &s);
    assert_int_equal(s.smt_bits, 0);
    assert_int_equal(s.core_bits, 0);
    split(3, s, 3, 0, 0);
    /* HTT without leaf 4: all logical ids are threads of one core. */
    cpu_topo_from_legacy(2u << 16, 1u << 28, false, 0, &s);
    assert_int_equal(s.smt_bits, 1);
    assert_int_equal(s.core_bits, 0);
    /* Absurd values: more cores than logical ids, zero logical ids. */
    cpu_topo_from_legacy(2u << 16, 1u << 28, true, 63u << 26, &s);
    assert_int_equal(s.smt_bits, 0);
    assert_int_equal(s.core_bits, 1);
    cpu_topo_from_legacy(0, 1u << 28, true, 0, &s);
    assert_int_equal(s.smt_bits, 0);
    assert_int_equal(s.core_bits, 0);
}

static void test_split_extremes(void **state)
{
    (void)state;
    split(0xffffffffu, (struct cpu_topo_shifts){32, 0}, 0, 0, 0xffffffffu);
    split(0xffffffffu, (struct cpu_topo_shifts){0, 32}, 0, 0xffffffffu, 0);
    split(0xffffffffu, (struct cpu_topo_shifts){200, 200}, 0, 0, 0xffffffffu);
    split(0x12345678u, (struct cpu_topo_shifts){4, 8}, 0x12345, 0x67, 0x8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaf_b_two_packages), cmocka_unit_test(test_leaf_b_no_smt),
        cmocka_unit_test(test_leaf_b_refused),      cmocka_unit_test(test_legacy),
        cmocka_unit_test(test_split_extremes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
