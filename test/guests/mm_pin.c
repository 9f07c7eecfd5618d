/*
 * mm test domain, area `pin`: pin/unpin as the wrong type, twice, while in
 * use; decrease of frames in use; new base on frames that are not L4s or
 * whose contents are invalid; an L1 with 512 present entries pinned and
 * unpinned, with one bad entry first (everything unwound).
 */
#include <stdio.h>

#include "mm_check.h"

static uint64_t refs_of(uint64_t mfn)
{
    return HV_FRAME_INFO_REF_COUNT(mmt_info(mfn));
}

/* Writes val into entry idx of frame mfn through a temporary writable
 * mapping at va (whose entry must be empty). */
static void poke(uint64_t va, uint64_t mfn, unsigned idx, uint64_t val)
{
    if (gk_map_frame(va, mfn, GK_PTE_RWDATA) != HV_OK)
        gk_panic("mm: %s: cannot map frame %#llx writable", mmt_area, (unsigned long long)mfn);
    ((volatile uint64_t *)(uintptr_t)va)[idx] = val;
    if (gk_unmap(va) != HV_OK)
        gk_panic("mm: %s: cannot unmap %#llx", mmt_area, (unsigned long long)va);
}

static void pin_writable_and_in_use(uint64_t F, uint64_t l1, uint64_t l2)
{
    static const uint64_t pins[] = {HV_MMUEXT_PIN_L1, HV_MMUEXT_PIN_L2, HV_MMUEXT_PIN_L3,
                                    HV_MMUEXT_PIN_L4};
    static const char *const names[] = {"L1", "L2", "L3", "L4"};
    char what[96];
    for (unsigned i = 0; i < 4; i++) {
        MMT_SNAP(F);
        snprintf(what, sizeof(what), "pin a writably mapped frame as %s", names[i]);
        mmt_refused(what, gk_hc_mmuext_op(pins[i], F), HV_EBUSY);
    }
    MMT_SNAP(F);
    mmt_refused("new base on a writably mapped frame", gk_hc_mmuext_op(HV_MMUEXT_NEW_BASEPTR, F),
                HV_EBUSY);
    for (unsigned i = 1; i < 4; i++) {
        MMT_SNAP(l1, l2);
        snprintf(what, sizeof(what), "pin an L1 in use as %s", names[i]);
        mmt_refused(what, gk_hc_mmuext_op(pins[i], l1), HV_EBUSY);
    }
    MMT_SNAP(l1, l2);
    mmt_refused("new base on an L1", gk_hc_mmuext_op(HV_MMUEXT_NEW_BASEPTR, l1), HV_EBUSY);
    mmt_refused("unpin an unpinned L1", gk_hc_mmuext_op(HV_MMUEXT_UNPIN, l1), HV_EINVAL);
    mmt_expect("pin the L1 in use as L1", gk_hc_mmuext_op(HV_MMUEXT_PIN_L1, l1), HV_OK);
    mmt_expect_info("the pinned L1", l1, HV_FRAME_TYPE_L1, 1, 1, 2, 4);
    mmt_expect("pin it again as L1", gk_hc_mmuext_op(HV_MMUEXT_PIN_L1, l1), HV_EEXIST);
    mmt_expect("pin it as L2 too (already pinned)", gk_hc_mmuext_op(HV_MMUEXT_PIN_L2, l1),
               HV_EEXIST);
    mmt_expect("unpin it while its L2 still uses it", gk_hc_mmuext_op(HV_MMUEXT_UNPIN, l1), HV_OK);
    mmt_expect_info("the unpinned L1 (still validated)", l1, HV_FRAME_TYPE_L1, 0, 1, 1, 3);
    mmt_unchanged("L1 and L2 counts after pin and unpin");
    mmt_refused("unpin it again", gk_hc_mmuext_op(HV_MMUEXT_UNPIN, l1), HV_EINVAL);
}

static void pin_fresh(uint64_t G, uint64_t e1, uint64_t e2f, uint64_t e3f, uint64_t l1, uint64_t l2,
                      uint64_t l3, uint64_t T2)
{
    mmt_expect_info("a fresh frame (mapped read-only in the window)", G, HV_FRAME_TYPE_NONE, 0, 0,
                    0, 2);
    mmt_expect("pin a fresh zeroed frame as L1", gk_hc_mmuext_op(HV_MMUEXT_PIN_L1, G), HV_OK);
    mmt_expect_info("the pinned fresh L1", G, HV_FRAME_TYPE_L1, 1, 1, 1, 3);
    MMT_SNAP(G, l1, l2, l3);
    mmt_snap_entry(e1);
    mmt_snap_entry(e2f);
    mmt_snap_entry(e3f);
    mmt_refused("map a pinned L1 writable", mmt_pte(e1, (G << 12) | GK_PTE_RWDATA), HV_EBUSY);
    mmt_refused("update_va_mapping a pinned L1 writable",
                gk_hc_update_va_mapping(T2, (G << 12) | GK_PTE_RWDATA, HV_UVM_INVLPG), HV_EBUSY);
    mmt_refused("pin the pinned L1 as L2", gk_hc_mmuext_op(HV_MMUEXT_PIN_L2, G), HV_EEXIST);
    mmt_refused("use the L1 as an L2 (L3 entry)", mmt_pte(e3f, (G << 12) | GK_PTE_TABLE), HV_EBUSY);
    mmt_refused("make the L1 our base", gk_hc_mmuext_op(HV_MMUEXT_NEW_BASEPTR, G), HV_EBUSY);
    mmt_refused("decrease a pinned L1", gk_hc_memory_op(HV_MEMOP_DECREASE, G), HV_EBUSY);
    mmt_expect("use it as an L1 as well (L2 entry)", mmt_pte(e2f, (G << 12) | GK_PTE_TABLE), HV_OK);
    mmt_expect_info("pinned and referenced", G, HV_FRAME_TYPE_L1, 1, 1, 2, 4);
    mmt_expect("unpin it", gk_hc_mmuext_op(HV_MMUEXT_UNPIN, G), HV_OK);
    mmt_expect_info("unpinned, still referenced", G, HV_FRAME_TYPE_L1, 0, 1, 1, 3);
    MMT_SNAP(G);
    mmt_refused("decrease an L1 in use", gk_hc_memory_op(HV_MEMOP_DECREASE, G), HV_EBUSY);
    mmt_expect("remove the L2 entry", mmt_pte(e2f, 0), HV_OK);
    gk_hc_mmuext_op(HV_MMUEXT_TLB_FLUSH_LOCAL, 0);
    mmt_expect_info("no longer a table", G, HV_FRAME_TYPE_NONE, 0, 0, 0, 2);
    mmt_expect("map it writable now", mmt_pte(e1, (G << 12) | GK_PTE_RWDATA), HV_OK);
    mmt_expect_info("writable", G, HV_FRAME_TYPE_WRITABLE, 0, 0, 1, 3);
    MMT_SNAP(G);
    mmt_refused("pin it while writable", gk_hc_mmuext_op(HV_MMUEXT_PIN_L1, G), HV_EBUSY);
    mmt_expect("unmap it", gk_unmap(T2), HV_OK);
    mmt_expect_info("back to no type", G, HV_FRAME_TYPE_NONE, 0, 0, 0, 2);
}

static void pin_full_l1(uint64_t G, uint64_t T, uint64_t T2)
{
    uint64_t D = mmt.data_mfn;
    uint64_t ro = (D << 12) | GK_PTE_RO;
    if (gk_map_frame(T2, G, GK_PTE_RWDATA) != HV_OK)
        gk_panic("mm: pin: cannot map the new L1 writable");
    volatile uint64_t *w = (volatile uint64_t *)(uintptr_t)T2;
    for (unsigned i = 0; i < 512; i++)
        w[i] = ro;
    w[300] = ro | GK_PTE_G;
    mmt_expect("unmap the L1 being built", gk_unmap(T2), HV_OK);
    MMT_SNAP(G, D);
    mmt_refused("pin an L1 whose entry 300 is global (entries 0-299 unwound)",
                gk_hc_mmuext_op(HV_MMUEXT_PIN_L1, G), HV_EINVAL);
    poke(T2, G, 300, ro);
    uint64_t d0 = refs_of(D);
    mmt_expect("pin an L1 with 512 present entries", gk_hc_mmuext_op(HV_MMUEXT_PIN_L1, G), HV_OK);
    mmt_expect_info("the full L1", G, HV_FRAME_TYPE_L1, 1, 1, 1, 3);
    mmt_expect("its target gained 512 references", (int64_t)(refs_of(D) - d0), 512);
    uint64_t e2 = gk_pt_entry_maddr(T, 2) + 8; /* the next 2 MiB */
    uint64_t R = (T & ~((1ull << 21) - 1)) + (1ull << 21);
    mmt_true("the next L2 entry is free", gk_pt_read(e2) == 0);
    mmt_expect("hook it into the L2", mmt_pte(e2, (G << 12) | GK_PTE_TABLE), HV_OK);
    mmt_true("page 5 and 511 of it read our data page",
             ((volatile uint64_t *)(uintptr_t)(R + 5 * MMT_PAGE))[0] == mmt.data[0] &&
                 ((volatile uint64_t *)(uintptr_t)(R + 511 * MMT_PAGE))[0] == mmt.data[0]);
    mmt_expect("unhook it", mmt_pte(e2, 0), HV_OK);
    gk_hc_mmuext_op(HV_MMUEXT_TLB_FLUSH_LOCAL, 0);
    mmt_expect("unpin the full L1", gk_hc_mmuext_op(HV_MMUEXT_UNPIN, G), HV_OK);
    mmt_expect("its target lost the 512 references", (int64_t)(refs_of(D) - d0), 0);
    mmt_expect_info("the former L1", G, HV_FRAME_TYPE_NONE, 0, 0, 0, 2);
    MMT_SNAP(G, D);
    mmt_refused("pin the same contents as an L2 (targets are not L1s)",
                gk_hc_mmuext_op(HV_MMUEXT_PIN_L2, G), HV_EBUSY);
}

static void pin_base(void)
{
    uint64_t l4 = mmt.l4;
    MMT_SNAP(l4);
    mmt_refused("pin the base L4 again", gk_hc_mmuext_op(HV_MMUEXT_PIN_L4, l4), HV_EEXIST);
    mmt_refused("pin the base L4 as L3", gk_hc_mmuext_op(HV_MMUEXT_PIN_L3, l4), HV_EEXIST);
    mmt_refused("decrease our base L4", gk_hc_memory_op(HV_MEMOP_DECREASE, l4), HV_EBUSY);
    int64_t before = gk_frame_info(l4);
    mmt_expect("unpin the base L4 (it stays our base)", gk_hc_mmuext_op(HV_MMUEXT_UNPIN, l4),
               HV_OK);
    mmt_expect_info("the unpinned base L4", l4, HV_FRAME_TYPE_L4, 0, 1, 1, 3);
    MMT_SNAP(l4);
    mmt_refused("decrease the unpinned base L4", gk_hc_memory_op(HV_MEMOP_DECREASE, l4), HV_EBUSY);
    mmt_expect("pin it again", gk_hc_mmuext_op(HV_MMUEXT_PIN_L4, l4), HV_OK);
    mmt_true("base L4 counts after unpin and pin as before", gk_frame_info(l4) == before);
    MMT_SNAP(l4);
    mmt_expect("new base = the current base", gk_mm_new_baseptr(l4), HV_OK);
    mmt_unchanged("base L4 counts after switching to itself");
}

static void pin_bad_l4(uint64_t G2, uint64_t l3, uint64_t T2)
{
    /* Entry 3: a valid reference to our L3 (taken, then unwound); entry 5: global. */
    poke(T2, G2, 3, (l3 << 12) | GK_PTE_TABLE);
    poke(T2, G2, 5, (mmt.data_mfn << 12) | GK_PTE_TABLE | GK_PTE_G);
    MMT_SNAP(G2, l3, mmt.l4, mmt.data_mfn);
    mmt_refused("new base on an L4 with a global entry", gk_hc_mmuext_op(HV_MMUEXT_NEW_BASEPTR, G2),
                HV_EINVAL);
    mmt_refused("pin that L4", gk_hc_mmuext_op(HV_MMUEXT_PIN_L4, G2), HV_EINVAL);
    mmt_true("still on the old base", gk_mm_base_mfn() == mmt.l4);
    poke(T2, G2, 5, (mmt.data_mfn << 12) | GK_PTE_TABLE);
    mmt_refused("new base on an L4 whose entry maps a writable frame as an L3",
                gk_hc_mmuext_op(HV_MMUEXT_NEW_BASEPTR, G2), HV_EBUSY);
    poke(T2, G2, 5, 0);
    poke(T2, G2, 3, 0);
}

/* Tables whose own entries would give them a second type: refused while
 * they are being validated, everything unwound. */
static void pin_self(uint64_t T2)
{
    uint64_t H = mmt_fresh_frame();
    poke(T2, H, 7, (H << 12) | GK_PTE_RWDATA);
    MMT_SNAP(H, mmt.l4);
    mmt_refused("pin an L1 that maps itself writable", gk_hc_mmuext_op(HV_MMUEXT_PIN_L1, H),
                HV_EBUSY);
    poke(T2, H, 7, (mmt.l4 << 12) | GK_PTE_RWDATA);
    mmt_refused("pin an L1 that maps our L4 writable", gk_hc_mmuext_op(HV_MMUEXT_PIN_L1, H),
                HV_EBUSY);
    poke(T2, H, 7, (H << 12) | GK_PTE_TABLE);
    mmt_refused("pin an L2 that uses itself as an L1", gk_hc_mmuext_op(HV_MMUEXT_PIN_L2, H),
                HV_EBUSY);
    mmt_refused("new base on an L4 that uses itself as an L3",
                gk_hc_mmuext_op(HV_MMUEXT_NEW_BASEPTR, H), HV_EBUSY);
    poke(T2, H, 7, (H << 12) | GK_PTE_RO);
    mmt_expect("pin an L1 that maps itself read-only (allowed)",
               gk_hc_mmuext_op(HV_MMUEXT_PIN_L1, H), HV_OK);
    mmt_expect_info("the self-mapping L1", H, HV_FRAME_TYPE_L1, 1, 1, 1, 4);
    mmt_expect("unpin it", gk_hc_mmuext_op(HV_MMUEXT_UNPIN, H), HV_OK);
    mmt_unchanged("its counts after pin and unpin");
    poke(T2, H, 7, 0);
    mmt_expect("free it", gk_pt_free_table(H), HV_OK);
}

void mmt_area_pin(void)
{
    mmt_area = "pin";
    const uint64_t T = MMT_VA_PIN, T2 = T + MMT_PAGE;
    uint64_t F = gk_p2m(gk_pfn_alloc());
    mmt_expect("map a fresh frame writable", gk_map_frame(T, F, GK_PTE_RWDATA), HV_OK);
    uint64_t e1 = gk_pt_entry_maddr(T2, 1);
    uint64_t l1 = e1 >> 12, l2 = gk_pt_entry_maddr(T, 2) >> 12, l3 = gk_pt_entry_maddr(T, 3) >> 12;
    uint64_t e2f = (l2 << 12) | ((uint64_t)(gk_pt_index(T, 2) + 1) << 3);
    uint64_t e3f = (l3 << 12) | ((uint64_t)(gk_pt_index(T, 3) + 1) << 3);

    pin_writable_and_in_use(F, l1, l2);
    uint64_t G = mmt_fresh_frame();
    pin_fresh(G, e1, e2f, e3f, l1, l2, l3, T2);
    pin_full_l1(G, T, T2);
    pin_base();
    pin_self(T2);

    /* Frames in use cannot be given back. */
    uint64_t text = gk_layout_va_to_mfn((uint64_t)(uintptr_t)&mmt_area_pin & ~0xfffull);
    const struct {
        const char *what;
        uint64_t mfn;
    } busy[] = {
        {"decrease a writably mapped frame", F},
        {"decrease our data page", mmt.data_mfn},
        {"decrease a read-only mapped text page", text},
        {"decrease an L1", l1},
        {"decrease an L2", l2},
        {"decrease an L3", l3},
        {"decrease the window's L1", gk_mm_window_l1_mfn()},
        {"decrease a frame mapped read-only in the window", G},
    };
    for (unsigned i = 0; i < sizeof(busy) / sizeof(busy[0]); i++) {
        MMT_SNAP(busy[i].mfn);
        mmt_refused(busy[i].what, gk_hc_memory_op(HV_MEMOP_DECREASE, busy[i].mfn), HV_EBUSY);
    }

    uint64_t G2 = mmt_fresh_frame();
    pin_bad_l4(G2, l3, T2);

    mmt_expect("unmap the frame", gk_unmap(T), HV_OK);
    mmt_expect_info("the frame after unmap", F, HV_FRAME_TYPE_NONE, 0, 0, 0, 1);
    mmt_expect("free the fresh frames", gk_pt_free_table(G) | gk_pt_free_table(G2), HV_OK);
}
