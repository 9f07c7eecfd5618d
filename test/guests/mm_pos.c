/*
 * mm test domain, positive areas:
 *   pos    map a fresh frame, write and read it (also through a second,
 *          read-only mapping), replace mappings with update_va_mapping and
 *          invalidate them, unmap; counts return exactly.
 *   space  a whole new address space: a copy of our L4 (junk in the
 *          hypervisor's slots, which it must replace) plus a private L3/L2/L1
 *          chain, validated recursively by HV_MMUEXT_NEW_BASEPTR; switch to it
 *          and back, twice; everything devalidated afterwards.
 *   mem    reservations: increase to the maximum (HV_ENOMEM beyond), frames
 *          scrubbed, in-use frames refused, decrease back, counts exact; the
 *          balloon pattern (give a pfn's frame back, get another for it).
 */
#include "mm_check.h"

#define MEM_MAX_EXTRA 8192u

static volatile uint64_t *page_at(uint64_t va)
{
    return (volatile uint64_t *)(uintptr_t)va;
}

void mmt_area_positive(void)
{
    mmt_area = "pos";
    const uint64_t V = MMT_VA_POS;
    uint64_t px = gk_pfn_alloc(), py = gk_pfn_alloc();
    uint64_t X = gk_p2m(px), Y = gk_p2m(py);
    mmt_expect("map a fresh frame writable", gk_map_frame(V, X, GK_PTE_RWDATA), HV_OK);
    for (unsigned i = 0; i < 512; i++)
        page_at(V)[i] = i * 0x0101010101010101ull ^ X;
    unsigned ok = 0;
    for (unsigned i = 0; i < 512; i++)
        ok += page_at(V)[i] == (i * 0x0101010101010101ull ^ X);
    mmt_expect("words read back", ok, 512);
    mmt_expect("map it again read-only", gk_map_frame(V + MMT_PAGE, X, GK_PTE_RO), HV_OK);
    ok = 0;
    for (unsigned i = 0; i < 512; i++)
        ok += page_at(V + MMT_PAGE)[i] == (i * 0x0101010101010101ull ^ X);
    mmt_expect("words read through the read-only mapping", ok, 512);
    mmt_expect_info("frame mapped writable and read-only", X, HV_FRAME_TYPE_WRITABLE, 0, 0, 1, 3);

    mmt_expect("update_va_mapping: map a second frame writable",
               gk_hc_update_va_mapping(V + 2 * MMT_PAGE, (Y << 12) | GK_PTE_RWDATA, HV_UVM_INVLPG),
               HV_OK);
    page_at(V + 2 * MMT_PAGE)[0] = 0xabcull;
    mmt_expect("update_va_mapping: replace the first mapping by the second frame, invlpg",
               gk_hc_update_va_mapping(V, (Y << 12) | GK_PTE_RO, HV_UVM_INVLPG), HV_OK);
    mmt_true("the address now reads the second frame", page_at(V)[0] == 0xabcull);
    mmt_expect_info("first frame lost its writable mapping", X, HV_FRAME_TYPE_NONE, 0, 0, 0, 2);
    mmt_expect("update_va_mapping: back to the first frame writable, flush",
               gk_hc_update_va_mapping(V, (X << 12) | GK_PTE_RWDATA, HV_UVM_FLUSH), HV_OK);
    mmt_true("the address reads the first frame again",
             page_at(V)[1] == (0x0101010101010101ull ^ X));
    page_at(V)[2] = 0x77;
    mmt_true("a write shows through the read-only mapping", page_at(V + MMT_PAGE)[2] == 0x77);
    mmt_expect("local TLB flush", gk_hc_mmuext_op(HV_MMUEXT_TLB_FLUSH_LOCAL, 0), HV_OK);
    mmt_expect("invlpg", gk_hc_mmuext_op(HV_MMUEXT_INVLPG_LOCAL, V), HV_OK);
    mmt_expect("unmap all three", gk_unmap(V) | gk_unmap(V + MMT_PAGE) | gk_unmap(V + 2 * MMT_PAGE),
               HV_OK);
    mmt_expect("unmap again", gk_unmap(V), HV_ENOENT);
    mmt_expect_info("first frame after unmap", X, HV_FRAME_TYPE_NONE, 0, 0, 0, 1);
    mmt_expect_info("second frame after unmap", Y, HV_FRAME_TYPE_NONE, 0, 0, 0, 1);

    /* Page 0: docs/abi.md gives a domain [0x1000, limit); entries are updated
     * by machine address, so whether VA 0 can be mapped is only observed. */
    mmt_expect("map page 0x1000 (creating the L1 of the first 2 MiB)",
               gk_map_frame(0x1000, X, GK_PTE_RO), HV_OK);
    uint64_t e0 = gk_pt_entry_maddr(0, 1);
    int64_t rc0 = e0 ? mmt_pte(e0, (X << 12) | GK_PTE_RO) : HV_ENOENT;
    gk_printf("mm: pos: observed: mapping virtual page 0 -> %lld%s\n", (long long)rc0,
              rc0 == HV_OK ? " (allowed)" : "");
    if (rc0 == HV_OK)
        mmt_expect("unmap page 0", gk_unmap(0), HV_OK);
    mmt_expect("unmap page 0x1000", gk_unmap(0x1000), HV_OK);
    mmt_expect_info("first frame after unmap", X, HV_FRAME_TYPE_NONE, 0, 0, 0, 1);
    gk_pfn_free(px);
    gk_pfn_free(py);
}

/* Writes val into entry idx of frame mfn through a temporary writable mapping. */
static void poke(uint64_t mfn, unsigned idx, uint64_t val)
{
    const uint64_t W = MMT_VA_POS + 16 * MMT_PAGE;
    if (gk_map_frame(W, mfn, GK_PTE_RWDATA) != HV_OK)
        gk_panic("mm: %s: cannot map frame %#llx writable", mmt_area, (unsigned long long)mfn);
    page_at(W)[idx] = val;
    if (gk_unmap(W) != HV_OK)
        gk_panic("mm: %s: cannot unmap the poke page", mmt_area);
}

static int hv_slots_equal(uint64_t a, uint64_t b)
{
    const uint64_t *ta = gk_pt_table_ptr(a), *tb = gk_pt_table_ptr(b);
    if (!ta || !tb)
        return 0;
    for (unsigned i = GK_PT_HV_L4_FIRST; i < GK_PT_ENTRIES; i++)
        if (((const volatile uint64_t *)ta)[i] != ((const volatile uint64_t *)tb)[i])
            return 0;
    return 1;
}

static int hv_slots_zero(uint64_t a)
{
    const uint64_t *ta = gk_pt_table_ptr(a);
    if (!ta)
        return 0;
    for (unsigned i = GK_PT_HV_L4_FIRST; i < GK_PT_ENTRIES; i++)
        if (((const volatile uint64_t *)ta)[i])
            return 0;
    return 1;
}

/* Fills all 512 entries of frame mfn with val through a temporary mapping. */
static void fill(uint64_t mfn, uint64_t val)
{
    const uint64_t W = MMT_VA_POS + 16 * MMT_PAGE;
    if (gk_map_frame(W, mfn, GK_PTE_RWDATA) != HV_OK)
        gk_panic("mm: %s: cannot map frame %#llx writable", mmt_area, (unsigned long long)mfn);
    for (unsigned i = 0; i < GK_PT_ENTRIES; i++)
        page_at(W)[i] = val;
    if (gk_unmap(W) != HV_OK)
        gk_panic("mm: %s: cannot unmap the fill page", mmt_area);
}

void mmt_area_space(void)
{
    mmt_area = "space";
    const uint64_t S = MMT_VA_SPACE, S2 = S + (1ull << 21);
    uint64_t old = gk_mm_base_mfn();
    mmt_true("our L4 has nothing at the private slot", gk_pt_entry_maddr(S, 3) == 0);
    uint64_t N = mmt_fresh_frame(), l3 = mmt_fresh_frame(), l2 = mmt_fresh_frame(),
             l1 = mmt_fresh_frame(), l1b = mmt_fresh_frame();
    uint64_t pd = gk_pfn_alloc(), D = gk_p2m(pd);
    uint64_t ro = (D << 12) | GK_PTE_RO;
    poke(D, 0, 0x5acefull);
    /* Two full L1s: 1024 entries to validate, more than one budget (the
     * hypervisor preempts and continues the call). */
    fill(l1, ro);
    fill(l1b, ro);
    poke(l1b, 511, ro | GK_PTE_G); /* the very last entry validated is bad */
    poke(l2, 0, (l1 << 12) | GK_PTE_TABLE);
    poke(l2, 1, (l1b << 12) | GK_PTE_TABLE);
    poke(l3, 0, (l2 << 12) | GK_PTE_TABLE);

    const uint64_t W = MMT_VA_POS + 16 * MMT_PAGE;
    const volatile uint64_t *cur = (const volatile uint64_t *)gk_pt_table_ptr(old);
    if (!cur || gk_map_frame(W, N, GK_PTE_RWDATA) != HV_OK)
        gk_panic("mm: space: cannot build the new L4");
    for (unsigned i = 0; i < GK_PT_HV_L4_FIRST; i++)
        page_at(W)[i] = cur[i];
    page_at(W)[gk_pt_index(S, 4)] = (l3 << 12) | GK_PTE_TABLE;
    /* Junk where the hypervisor's slots go: a user mapping of our data. */
    for (unsigned i = GK_PT_HV_L4_FIRST; i < GK_PT_ENTRIES; i++)
        page_at(W)[i] = (mmt.data_mfn << 12) | GK_PTE_RWDATA;
    gk_unmap(W);

    uint64_t old_info = mmt_info(old);
    MMT_SNAP(N, l3, l2, l1, l1b, D, old);
    mmt_refused("new base on an L4 whose 1024th private leaf is global (all unwound)",
                gk_mm_new_baseptr(N), HV_EINVAL);
    mmt_refused("pin it as an L4", gk_hc_mmuext_op(HV_MMUEXT_PIN_L4, N), HV_EINVAL);
    mmt_true("still on the old base", gk_mm_base_mfn() == old);
    poke(l1b, 511, ro);

    mmt_expect("switch to the new L4 (validating 1024 private leaves on the way)",
               gk_mm_new_baseptr(N), HV_OK);
    mmt_true("running on the new base, reading the private mappings",
             page_at(S)[0] == 0x5acefull && page_at(S + 511 * MMT_PAGE)[0] == 0x5acefull &&
                 page_at(S2 + 511 * MMT_PAGE)[0] == 0x5acefull);
    mmt_true("the hypervisor replaced the junk in slots 256-511 with its own",
             hv_slots_equal(N, old));
    mmt_expect_info("the new L4", N, HV_FRAME_TYPE_L4, 0, 1, 1, 3);
    mmt_expect_info("the old L4 (still pinned)", old, HV_FRAME_TYPE_L4, 1, 1, 1, 3);
    mmt_expect_info("the private L3", l3, HV_FRAME_TYPE_L3, 0, 1, 1, 3);
    mmt_expect_info("the private L2", l2, HV_FRAME_TYPE_L2, 0, 1, 1, 3);
    mmt_expect_info("the private L1s", l1, HV_FRAME_TYPE_L1, 0, 1, 1, 3);
    mmt_expect_info("the second private L1", l1b, HV_FRAME_TYPE_L1, 0, 1, 1, 3);
    mmt_expect_info("the private page (1024 mappings)", D, HV_FRAME_TYPE_NONE, 0, 0, 0, 1025);
    mmt_expect("replace a private mapping", gk_hc_update_va_mapping(S + MMT_PAGE, 0, HV_UVM_INVLPG),
               HV_OK);
    mmt_expect("map it again with gk_map_frame", gk_map_frame(S + MMT_PAGE, D, GK_PTE_RO), HV_OK);
    mmt_true("it reads the private page", page_at(S + MMT_PAGE)[0] == 0x5acefull);
    MMT_SNAP(N);
    mmt_refused("decrease the current base", gk_hc_memory_op(HV_MEMOP_DECREASE, N), HV_EBUSY);
    mmt_refused("unpin the (unpinned) current base", gk_hc_mmuext_op(HV_MMUEXT_UNPIN, N),
                HV_EINVAL);

    mmt_expect("switch back to the old L4", gk_mm_new_baseptr(old), HV_OK);
    mmt_true("the private region is gone", gk_pt_entry_maddr(S, 3) == 0);
    mmt_true("old L4 counts as before", mmt_info(old) == old_info);
    mmt_expect_info("the new L4, devalidated", N, HV_FRAME_TYPE_NONE, 0, 0, 0, 2);
    mmt_true("its hypervisor slots were zeroed", hv_slots_zero(N));
    mmt_expect_info("the private L3, devalidated", l3, HV_FRAME_TYPE_NONE, 0, 0, 0, 2);
    mmt_expect_info("the private L2, devalidated", l2, HV_FRAME_TYPE_NONE, 0, 0, 0, 2);
    mmt_expect_info("the private L1, devalidated", l1, HV_FRAME_TYPE_NONE, 0, 0, 0, 2);
    mmt_expect_info("the second private L1, devalidated", l1b, HV_FRAME_TYPE_NONE, 0, 0, 0, 2);
    mmt_expect_info("the private page", D, HV_FRAME_TYPE_NONE, 0, 0, 0, 1);

    MMT_SNAP(N, l3, l2, l1, l1b, D, old);
    mmt_expect("switch to the new L4 again", gk_mm_new_baseptr(N), HV_OK);
    mmt_true("reading the private mapping again", page_at(S2)[0] == 0x5acefull);
    mmt_expect("and back", gk_mm_new_baseptr(old), HV_OK);
    mmt_unchanged("all counts after the second round trip");

    /* The same tree hooked into our current L4 by one mmu_update request:
     * its validation is preempted and continued inside the request. */
    uint64_t e4 = (old << 12) | ((uint64_t)gk_pt_index(S, 4) << 3);
    struct hv_mmu_update hook = {e4, (l3 << 12) | GK_PTE_TABLE};
    uint64_t done = 99;
    poke(l1b, 511, ro | GK_PTE_PS);
    MMT_SNAP(l3, l2, l1, l1b, D, old);
    mmt_snap_entry(e4);
    mmt_refused("hook the tree into our L4 with one request, last leaf bad",
                gk_hc_mmu_update(&hook, 1, &done), HV_EINVAL);
    mmt_expect("done", (int64_t)done, 0);
    poke(l1b, 511, ro);
    mmt_expect("hook the tree into our L4 with one request (1024 leaves)",
               gk_hc_mmu_update(&hook, 1, &done), HV_OK);
    mmt_expect("done", (int64_t)done, 1);
    mmt_true("our own space reads the private mappings",
             page_at(S + 7 * MMT_PAGE)[0] == 0x5acefull &&
                 page_at(S2 + 511 * MMT_PAGE)[0] == 0x5acefull);
    mmt_expect_info("the private page (1024 mappings)", D, HV_FRAME_TYPE_NONE, 0, 0, 0, 1025);
    mmt_expect("unhook it", mmt_pte(e4, 0), HV_OK);
    gk_hc_mmuext_op(HV_MMUEXT_TLB_FLUSH_LOCAL, 0);
    mmt_unchanged("all counts after hooking and unhooking the tree");

    mmt_expect("free the tables",
               gk_pt_free_table(N) | gk_pt_free_table(l3) | gk_pt_free_table(l2) |
                   gk_pt_free_table(l1) | gk_pt_free_table(l1b),
               HV_OK);
    gk_pfn_free(pd);
}

static uint64_t grown[MEM_MAX_EXTRA];

void mmt_area_mem(void)
{
    mmt_area = "mem";
    const uint64_t V = MMT_VA_MEM;
    int64_t cur0 = gk_hc_memory_op(HV_MEMOP_CURRENT, 0);
    int64_t max = gk_hc_memory_op(HV_MEMOP_MAXIMUM, 0);
    gk_printf("mm: mem: current %lld, maximum %lld\n", (long long)cur0, (long long)max);
    mmt_true("maximum >= current > 0", max >= cur0 && cur0 > 0);
    if (max - cur0 > (int64_t)MEM_MAX_EXTRA || max < cur0 || cur0 <= 0) {
        mmt_true("maximum within what the test can exhaust", 0);
        return;
    }
    uint64_t n = (uint64_t)(max - cur0), bad_info = 0, bad_m2p = 0;
    for (uint64_t i = 0; i < n; i++) {
        int64_t m = gk_hc_memory_op(HV_MEMOP_INCREASE, 0);
        if (m <= 0) {
            gk_printf("mm: mem: FAILED increase %llu of %llu -> %lld\n", (unsigned long long)i,
                      (unsigned long long)n, (long long)m);
            mmt_true("increase up to the maximum", 0);
            n = i;
            break;
        }
        grown[i] = (uint64_t)m;
        uint64_t x = mmt_info((uint64_t)m);
        bad_info += HV_FRAME_INFO_TYPE(x) != HV_FRAME_TYPE_NONE || HV_FRAME_INFO_PINNED(x) ||
                    HV_FRAME_INFO_TYPE_COUNT(x) || HV_FRAME_INFO_REF_COUNT(x) != 1;
        bad_m2p += gk_m2p((uint64_t)m) != HV_M2P_INVALID;
    }
    gk_printf("mm: mem: increased by %llu frames\n", (unsigned long long)n);
    mmt_expect("new frames with unexpected state", (int64_t)bad_info, 0);
    mmt_expect("new frames with an M2P entry", (int64_t)bad_m2p, 0);
    mmt_expect("increase beyond the maximum", gk_hc_memory_op(HV_MEMOP_INCREASE, 0), HV_ENOMEM);
    mmt_expect("and again", gk_hc_memory_op(HV_MEMOP_INCREASE, 0), HV_ENOMEM);
    mmt_expect("current = maximum", gk_hc_memory_op(HV_MEMOP_CURRENT, 0), max);
    if (n < 2)
        return;

    uint64_t g0 = grown[0], pfn0 = mmt.si->pages_count;
    mmt_expect("set the M2P entry of a new frame", gk_pt_write((g0 << 12) | HV_MMU_CMD_M2P, pfn0),
               HV_OK);
    mmt_true("M2P reads it", gk_m2p(g0) == pfn0);
    mmt_expect("map a new frame writable", gk_map_frame(V, g0, GK_PTE_RWDATA), HV_OK);
    unsigned zero = 0;
    for (unsigned i = 0; i < 512; i++)
        zero += page_at(V)[i] == 0;
    mmt_expect("zero words in the new frame", zero, 512);
    for (unsigned i = 0; i < 512; i++)
        page_at(V)[i] = 0xd1d1d1d1d1d1d1d1ull;
    MMT_SNAP(g0);
    mmt_refused("decrease a mapped frame", gk_hc_memory_op(HV_MEMOP_DECREASE, g0), HV_EBUSY);
    mmt_expect("unmap it", gk_unmap(V), HV_OK);
    mmt_expect("pin another new frame as an L1", gk_hc_mmuext_op(HV_MMUEXT_PIN_L1, grown[1]),
               HV_OK);
    MMT_SNAP(grown[1]);
    mmt_refused("decrease a pinned frame", gk_hc_memory_op(HV_MEMOP_DECREASE, grown[1]), HV_EBUSY);
    mmt_expect("unpin it", gk_hc_mmuext_op(HV_MMUEXT_UNPIN, grown[1]), HV_OK);

    uint64_t bad_dec = 0;
    for (uint64_t i = 0; i < n; i++)
        bad_dec += gk_hc_memory_op(HV_MEMOP_DECREASE, grown[i]) != HV_OK;
    mmt_expect("decreases that failed", (int64_t)bad_dec, 0);
    mmt_expect("current back to the start", gk_hc_memory_op(HV_MEMOP_CURRENT, 0), cur0);
    mmt_expect("frame_info of a given-back frame", gk_frame_info(g0), HV_EPERM);
    mmt_true("its M2P entry is invalid again", gk_m2p(g0) == HV_M2P_INVALID);
    mmt_expect("decrease it twice", gk_hc_memory_op(HV_MEMOP_DECREASE, g0), HV_EPERM);
    mmt_expect("map it", gk_map_frame(V, g0, GK_PTE_RO), HV_EPERM);

    int64_t m = gk_hc_memory_op(HV_MEMOP_INCREASE, 0);
    mmt_true("increase once more", m > 0);
    if (m > 0) {
        gk_printf("mm: mem: got %s frame back\n", (uint64_t)m == g0 ? "the dirtied" : "another");
        mmt_expect("map it read-only", gk_map_frame(V, (uint64_t)m, GK_PTE_RO), HV_OK);
        zero = 0;
        for (unsigned i = 0; i < 512; i++)
            zero += page_at(V)[i] == 0;
        mmt_expect("zero words (frames are scrubbed)", zero, 512);
        mmt_expect("unmap it", gk_unmap(V), HV_OK);
        mmt_expect("give it back", gk_hc_memory_op(HV_MEMOP_DECREASE, (uint64_t)m), HV_OK);
    }

    /* Balloon: give the frame of one of our pfns back, then refill the pfn. */
    uint64_t pfn = gk_pfn_alloc(), orig = gk_p2m(pfn);
    mmt_expect("give back an unused initial frame", gk_hc_memory_op(HV_MEMOP_DECREASE, orig),
               HV_OK);
    mmt_expect("current one below the start", gk_hc_memory_op(HV_MEMOP_CURRENT, 0), cur0 - 1);
    m = gk_hc_memory_op(HV_MEMOP_INCREASE, 0);
    mmt_true("get a frame for the pfn", m > 0);
    if (m > 0) {
        gk_p2m_set(pfn, (uint64_t)m);
        mmt_expect("set its M2P entry", gk_pt_write(((uint64_t)m << 12) | HV_MMU_CMD_M2P, pfn),
                   HV_OK);
        mmt_true("M2P and p2m agree", gk_m2p(gk_p2m(pfn)) == pfn);
        mmt_expect("map the refilled pfn", gk_map_frame(V, (uint64_t)m, GK_PTE_RWDATA), HV_OK);
        page_at(V)[0] = 1;
        mmt_expect("unmap it", gk_unmap(V), HV_OK);
    }
    gk_pfn_free(pfn);
    mmt_expect("current back to the start", gk_hc_memory_op(HV_MEMOP_CURRENT, 0), cur0);
}
