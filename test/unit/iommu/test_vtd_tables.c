/*
 * Tests for the VT-d tables (hv/arch/x86_64/vtd_tables.c): second-level
 * page tables against a software model under random map/unmap sequences,
 * the bounds (widths, frame numbers, domain ids), running out of table
 * frames half-way through a walk, context and root entries bit for bit,
 * and the interrupt-remapping formats against values worked out from the
 * VT-d specification by hand.
 *
 * Table frames come from aligned_alloc; their "machine address" is the
 * pointer itself (user-space pointers fit in 52 bits). The hooks count
 * live frames (every frame must be given back by destroy) and can be told
 * to fail after N more allocations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vtd_tables.h"

static int live_frames;
static int alloc_budget = -1; /* -1: unlimited */
static unsigned long flushes;

void *vtd_hook_table_alloc(uint64_t *maddr)
{
    if (alloc_budget == 0)
        return NULL;
    if (alloc_budget > 0)
        alloc_budget--;
    void *p = aligned_alloc(4096, 4096);
    assert_non_null(p);
    memset(p, 0, 4096);
    live_frames++;
    *maddr = (uint64_t)(uintptr_t)p;
    assert_int_equal(*maddr & 0xfff, 0);
    return p;
}

void vtd_hook_table_free(uint64_t maddr)
{
    live_frames--;
    free((void *)(uintptr_t)maddr);
}

uint64_t *vtd_hook_table_va(uint64_t maddr)
{
    return (uint64_t *)(uintptr_t)maddr;
}

void vtd_hook_flush_entry(const void *p)
{
    assert_int_equal((uintptr_t)p & 7, 0);
    flushes++;
}

static int setup(void **state)
{
    (void)state;
    live_frames = 0;
    alloc_budget = -1;
    flushes = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(live_frames, 0);
    return 0;
}

/* ---- Second-level tables ----------------------------------------------- */

static void test_init_bounds(void **state)
{
    (void)state;
    struct vtd_space s;
    assert_int_equal(vtd_space_init(&s, 1, 2), HV_EINVAL);
    assert_int_equal(vtd_space_init(&s, 1, 5), HV_EINVAL);
    assert_int_equal(vtd_space_init(&s, 0, 3), HV_EINVAL);
    alloc_budget = 0;
    assert_int_equal(vtd_space_init(&s, 1, 3), HV_ENOMEM);
    alloc_budget = -1;
    assert_int_equal(vtd_space_init(&s, 7, 3), HV_OK);
    assert_int_equal(s.did, 7);
    assert_int_equal(s.table_count, 1);
    assert_int_equal(live_frames, 1);
    vtd_space_destroy(&s);
}

static void test_map_lookup_unmap(void **state)
{
    (void)state;
    for (unsigned levels = 3; levels <= 4; levels++) {
        struct vtd_space s;
        assert_int_equal(vtd_space_init(&s, 1, levels), HV_OK);
        uint64_t m;
        bool w;
        assert_false(vtd_space_lookup(&s, 0x1234, &m, &w));
        assert_int_equal(vtd_space_map(&s, 0x1234, 0x1234, true), HV_OK);
        assert_int_equal(vtd_space_map(&s, 0x1235, 0x9999, false), HV_OK);
        assert_int_equal(s.mapped_count, 2);
        assert_int_equal(s.table_count, levels); /* one table per level */
        assert_true(vtd_space_lookup(&s, 0x1234, &m, &w));
        assert_int_equal(m, 0x1234);
        assert_true(w);
        assert_true(vtd_space_lookup(&s, 0x1235, &m, &w));
        assert_int_equal(m, 0x9999);
        assert_false(w);
        /* Replacing an entry changes rights, not the count. */
        assert_int_equal(vtd_space_map(&s, 0x1235, 0x9999, true), HV_OK);
        assert_int_equal(s.mapped_count, 2);
        assert_true(vtd_space_lookup(&s, 0x1235, NULL, &w));
        assert_true(w);
        assert_true(vtd_space_unmap(&s, 0x1234));
        assert_false(vtd_space_unmap(&s, 0x1234)); /* nothing to invalidate twice */
        assert_false(vtd_space_lookup(&s, 0x1234, NULL, NULL));
        assert_false(vtd_space_unmap(&s, 0x7654321)); /* tables missing on the way */
        assert_int_equal(s.mapped_count, 1);
        vtd_space_destroy(&s);
        assert_int_equal(live_frames, 0);
    }
}

static void test_leaf_bits(void **state)
{
    (void)state;
    struct vtd_space s;
    assert_int_equal(vtd_space_init(&s, 1, 3), HV_OK);
    assert_int_equal(vtd_space_map(&s, 0, 0xabcde, false), HV_OK);
    assert_int_equal(vtd_space_map(&s, 1, 0xabcdf, true), HV_OK);
    /* Walk by hand: top[0] -> L2[0] -> L1[0], L1[1]. */
    uint64_t *top = vtd_hook_table_va(s.top);
    assert_int_equal(top[0] & 3, 3); /* non-leaf: read and write */
    uint64_t *l2 = vtd_hook_table_va(top[0] & VTD_PTE_ADDR);
    assert_int_equal(l2[0] & 3, 3);
    uint64_t *l1 = vtd_hook_table_va(l2[0] & VTD_PTE_ADDR);
    assert_int_equal(l1[0], 0xabcde000ull | VTD_PTE_R);
    assert_int_equal(l1[1], 0xabcdf000ull | VTD_PTE_R | VTD_PTE_W);
    for (unsigned i = 2; i < VTD_ENTRIES; i++)
        assert_int_equal(l1[i], 0);
    assert_true(flushes >= 4);
    vtd_space_destroy(&s);
}

static void test_ranges(void **state)
{
    (void)state;
    struct vtd_space s;
    assert_int_equal(vtd_space_init(&s, 1, 3), HV_OK);
    const uint64_t top3 = (1ull << 27) - 1; /* 39-bit space: frames below 2^27 */
    assert_int_equal(vtd_space_map(&s, top3, 1, true), HV_OK);
    assert_int_equal(vtd_space_map(&s, top3 + 1, 1, true), HV_ERANGE);
    assert_int_equal(vtd_space_map(&s, ~0ull, 1, true), HV_ERANGE);
    assert_int_equal(vtd_space_map(&s, 5, 1ull << 40, true), HV_ERANGE);
    assert_int_equal(vtd_space_map(&s, 5, (1ull << 40) - 1, true), HV_OK);
    assert_false(vtd_space_unmap(&s, top3 + 1));
    assert_false(vtd_space_lookup(&s, top3 + 1, NULL, NULL));
    assert_int_equal(s.mapped_count, 2);
    vtd_space_destroy(&s);
    assert_int_equal(vtd_space_init(&s, 1, 4), HV_OK);
    assert_int_equal(vtd_space_map(&s, (1ull << 36) - 1, 1, true), HV_OK);
    assert_int_equal(vtd_space_map(&s, 1ull << 36, 1, true), HV_ERANGE);
    vtd_space_destroy(&s);
}

static void test_out_of_frames_mid_walk(void **state)
{
    (void)state;
    /* A 4-level walk needs 3 tables below the top: fail at each in turn.
     * The tables made before the failure stay (empty) until destroy. */
    for (int budget = 0; budget < 3; budget++) {
        struct vtd_space s;
        assert_int_equal(vtd_space_init(&s, 1, 4), HV_OK);
        alloc_budget = budget;
        assert_int_equal(vtd_space_map(&s, 0x123456, 0x42, true), HV_ENOMEM);
        assert_false(vtd_space_lookup(&s, 0x123456, NULL, NULL));
        assert_int_equal(s.mapped_count, 0);
        assert_int_equal(s.table_count, 1 + budget);
        assert_int_equal(live_frames, 1 + budget);
        alloc_budget = -1;
        assert_int_equal(vtd_space_map(&s, 0x123456, 0x42, true), HV_OK);
        assert_int_equal(s.table_count, 4);
        assert_int_equal(live_frames, 4);
        vtd_space_destroy(&s);
        assert_int_equal(live_frames, 0);
    }
}

/* Random sequences against a model: half the frames clustered (shared
 * tables), half scattered over the upper half of the space (a table chain
 * each). i -> odd * i mod 2^k is a bijection, so every frame is distinct. */
#define MODEL_FRAMES 4096u
static void test_random_against_model(void **state)
{
    (void)state;
    static int64_t model[MODEL_FRAMES]; /* -1 unmapped, else mfn << 1 | writable */
    static uint64_t bfn_of[MODEL_FRAMES];
    srand(12345);
    for (unsigned levels = 3; levels <= 4; levels++) {
        struct vtd_space s;
        assert_int_equal(vtd_space_init(&s, 9, levels), HV_OK);
        uint64_t half = (levels == 3 ? (1ull << 27) : (1ull << 36)) / 2;
        for (unsigned i = 0; i < MODEL_FRAMES; i++) {
            model[i] = -1;
            bfn_of[i] =
                i < MODEL_FRAMES / 2 ? 0x1000 + i : half + ((uint64_t)i * 0x9e3779b1ull) % half;
        }
        uint64_t mapped = 0;
        for (unsigned step = 1; step <= 40000; step++) {
            unsigned i = (unsigned)rand() % MODEL_FRAMES;
            if (rand() % 3 == 0) {
                bool was = vtd_space_unmap(&s, bfn_of[i]);
                assert_int_equal(was, model[i] >= 0);
                mapped -= was;
                model[i] = -1;
            } else {
                uint64_t mfn = (uint64_t)rand() % (1ull << 30);
                bool w = rand() & 1;
                assert_int_equal(vtd_space_map(&s, bfn_of[i], mfn, w), HV_OK);
                mapped += model[i] < 0;
                model[i] = (int64_t)(mfn << 1 | w);
            }
            if (step % 5000 != 0)
                continue;
            for (unsigned k = 0; k < MODEL_FRAMES; k++) {
                uint64_t m;
                bool w;
                bool present = vtd_space_lookup(&s, bfn_of[k], &m, &w);
                assert_int_equal(present, model[k] >= 0);
                if (present) {
                    assert_int_equal(m, (uint64_t)model[k] >> 1);
                    assert_int_equal(w, model[k] & 1);
                }
            }
            assert_int_equal(s.mapped_count, mapped);
        }
        assert_int_equal((uint32_t)live_frames, s.table_count);
        vtd_space_destroy(&s);
        assert_int_equal(live_frames, 0);
    }
}

/* ---- Root and context entries ------------------------------------------ */

static void test_context_entries(void **state)
{
    (void)state;
    struct vtd_root r;
    struct vtd_space a, b;
    assert_int_equal(vtd_root_init(&r), HV_OK);
    assert_int_equal(vtd_space_init(&a, 3, 3), HV_OK);
    assert_int_equal(vtd_space_init(&b, 0x1234, 4), HV_OK);
    uint16_t did;
    uint64_t top;
    assert_false(vtd_context_get(&r, 0x0018, &did, &top));
    assert_false(vtd_context_clear(&r, 0x0018, &did));
    assert_int_equal(r.context_tables, 0);

    assert_int_equal(vtd_context_set(&r, 0x0018, &a), HV_OK); /* 00:03.0 */
    assert_int_equal(vtd_context_set(&r, 0x0020, &a), HV_OK); /* 00:04.0 */
    assert_int_equal(vtd_context_set(&r, 0x0300, &b), HV_OK); /* 03:00.0 */
    assert_int_equal(r.context_tables, 2);
    assert_true(vtd_context_get(&r, 0x0018, &did, &top));
    assert_int_equal(did, 3);
    assert_int_equal(top, a.top);
    assert_true(vtd_context_get(&r, 0x0300, &did, &top));
    assert_int_equal(did, 0x1234);
    assert_int_equal(top, b.top);
    assert_false(vtd_context_get(&r, 0x0019, NULL, NULL)); /* 00:03.1 */

    /* Bit for bit. */
    uint64_t *root = vtd_hook_table_va(r.maddr);
    assert_int_equal(root[0] & 1, 1);
    assert_int_equal(root[1], 0);
    assert_int_equal(root[2] & 1, 0); /* bus 1 */
    uint64_t *ctx0 = vtd_hook_table_va(root[0] & VTD_PTE_ADDR);
    assert_int_equal(ctx0[2 * 0x18], a.top | 1); /* present, FPD 0, TT 0 */
    assert_int_equal(ctx0[2 * 0x18 + 1], 3u << 8 | 1);
    uint64_t *ctx3 = vtd_hook_table_va(root[6] & VTD_PTE_ADDR);
    assert_int_equal(ctx3[0], b.top | 1);
    assert_int_equal(ctx3[1], 0x1234u << 8 | 2);

    /* Moving 00:03.0 to b, then clearing it. */
    assert_int_equal(vtd_context_set(&r, 0x0018, &b), HV_OK);
    assert_true(vtd_context_get(&r, 0x0018, &did, NULL));
    assert_int_equal(did, 0x1234);
    assert_true(vtd_context_clear(&r, 0x0018, &did));
    assert_int_equal(did, 0x1234);
    assert_int_equal(ctx0[2 * 0x18], 0);
    assert_int_equal(ctx0[2 * 0x18 + 1], 0);
    assert_false(vtd_context_clear(&r, 0x0018, &did));
    assert_true(vtd_context_get(&r, 0x0020, &did, NULL)); /* its neighbour stays */

    alloc_budget = 0; /* bus 5 needs a context table */
    assert_int_equal(vtd_context_set(&r, 0x0500, &a), HV_ENOMEM);
    alloc_budget = -1;
    assert_false(vtd_context_get(&r, 0x0500, NULL, NULL));

    vtd_space_destroy(&a);
    vtd_space_destroy(&b);
    /* The root's frames: the test gives them back itself. */
    vtd_hook_table_free(root[0] & VTD_PTE_ADDR);
    vtd_hook_table_free(root[6] & VTD_PTE_ADDR);
    vtd_hook_table_free(r.maddr);
}

/* ---- Interrupt remapping formats --------------------------------------- */

static void test_irte_and_messages(void **state)
{
    (void)state;
    struct vtd_irte e = vtd_irte_make(0x51, 3, false, true, 0x0018);
    /* lo: P, edge, fixed, physical, vector 0x51 in 23:16, APIC id 3 in 47:40 */
    assert_int_equal(e.lo, 0x0000030000510001ull);
    /* hi: SVT 01 (bits 19:18), SQ 00, SID 0x0018 */
    assert_int_equal(e.hi, 0x0000000000040018ull);
    assert_true(vtd_irte_present(e));
    assert_int_equal(vtd_irte_vector(e), 0x51);
    assert_int_equal(vtd_irte_apic_id(e), 3);
    e = vtd_irte_make(0x30, 0, true, false, 0xff00);
    assert_int_equal(e.lo, 0x0000000000300011ull); /* TM bit 4 */
    assert_int_equal(e.hi, 0);

    uint32_t addr, data;
    vtd_msi_remappable(1, &addr, &data);
    assert_int_equal(addr, 0xfee00030u); /* handle 1 << 5 | format bit 4 */
    assert_int_equal(data, 0);
    vtd_msi_remappable(0x8001, &addr, &data);
    assert_int_equal(addr, 0xfee00034u); /* handle[15] in bit 2 */
    vtd_msi_remappable(0x7fff, &addr, &data);
    assert_int_equal(addr, 0xfeeffff0u); /* bits 19:5 all ones */

    /* RTE: handle 5, vector 0x40, level, masked. */
    assert_int_equal(vtd_ioapic_rte_remappable(5, 0x40, true, true),
                     (5ull << 49) | (1ull << 48) | (1ull << 16) | (1ull << 15) | 0x40);
    assert_int_equal(vtd_ioapic_rte_remappable(0x8000, 0x31, false, false),
                     (1ull << 48) | (1ull << 11) | 0x31);

    vtd_msi_compat(0x52, 1, &addr, &data);
    assert_int_equal(addr, 0xfee01000u);
    assert_int_equal(data, 0x52);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_init_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_lookup_unmap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leaf_bits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_frames_mid_walk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_against_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_irte_and_messages, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
