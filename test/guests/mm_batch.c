/*
 * mm test domain, area `batch`: HC_MMU_UPDATE batches with a bad request in
 * the middle (the ones before it applied, the count right, the rest not),
 * hostile request and count pointers, sizes beyond HV_MMU_UPDATE_MAX, and a
 * valid batch of exactly HV_MMU_UPDATE_MAX requests (preempted and
 * continued by the hypervisor), also with a bad request at index 3000.
 */
#include <stdio.h>
#include <string.h>

#include "mm_check.h"

static struct hv_mmu_update big[HV_MMU_UPDATE_MAX + 1];

static volatile uint64_t *page_at_batch(uint64_t va)
{
    return (volatile uint64_t *)(uintptr_t)va;
}

static uint64_t refs_of(uint64_t mfn)
{
    return HV_FRAME_INFO_REF_COUNT(mmt_info(mfn));
}

/* Machine address of entry i of the L1 `l1`. */
static uint64_t ent(uint64_t l1, unsigned i)
{
    return (l1 << 12) | ((uint64_t)i << 3);
}

static void batch_middle(uint64_t l1, uint64_t F2)
{
    uint64_t ro = (F2 << 12) | GK_PTE_RO;
    struct hv_mmu_update reqs[4] = {
        {ent(l1, 10), ro},
        {ent(l1, 11), ro},
        {ent(l1, 12), ro | GK_PTE_G},
        {ent(l1, 13), ro},
    };
    uint64_t r0 = refs_of(F2);
    uint64_t done = 99;
    mmt_expect("batch of 4 with a global entry at index 2", gk_hc_mmu_update(reqs, 4, &done),
               HV_EINVAL);
    mmt_expect("done", (int64_t)done, 2);
    mmt_true("requests 0 and 1 applied, 2 and 3 not",
             gk_pt_read(ent(l1, 10)) == ro && gk_pt_read(ent(l1, 11)) == ro &&
                 gk_pt_read(ent(l1, 12)) == 0 && gk_pt_read(ent(l1, 13)) == 0);
    mmt_expect("target gained exactly 2 references", (int64_t)(refs_of(F2) - r0), 2);
    mmt_true("the applied mappings read the target",
             ((volatile uint64_t *)(uintptr_t)(MMT_VA_BATCH + 11 * MMT_PAGE))[0] == 0xf2f2);
    struct hv_mmu_update undo[2] = {{ent(l1, 10), 0}, {ent(l1, 11), 0}};
    mmt_expect("undo them", gk_hc_mmu_update(undo, 2, &done), HV_OK);
    mmt_expect("done", (int64_t)done, 2);
    gk_hc_mmuext_op(HV_MMUEXT_TLB_FLUSH_LOCAL, 0);
    mmt_expect("target references back", (int64_t)(refs_of(F2) - r0), 0);

    MMT_SNAP(F2, l1);
    mmt_snap_entry(ent(l1, 10));
    reqs[0].val = ro | GK_PTE_PS;
    done = 99;
    mmt_refused("batch whose first request is bad", gk_hc_mmu_update(reqs, 4, &done), HV_EINVAL);
    mmt_expect("done", (int64_t)done, 0);
    reqs[0].val = ro;

    uint64_t dpfn = gk_m2p(mmt.data_mfn);
    struct hv_mmu_update mixed[3] = {
        {(mmt.data_mfn << 12) | HV_MMU_CMD_M2P, dpfn},
        {ent(l1, 10), ro},
        {ent(l1, 10), 0},
    };
    mmt_expect("mixed batch (M2P, map, unmap)", gk_hc_mmu_update(mixed, 3, &done), HV_OK);
    mmt_expect("done", (int64_t)done, 3);
    mmt_unchanged("mixed batch left the counts as they were");
}

static void batch_pointers(uint64_t l1, uint64_t F2)
{
    uint64_t ro = (F2 << 12) | GK_PTE_RO;
    struct hv_mmu_update req = {ent(l1, 10), ro};
    const struct {
        const char *what;
        uint64_t va;
    } bad_done[] = {
        {"done in the hypervisor image", 0xffffffff80200000ull},
        {"done in the direct map", 0xffff800000000000ull},
        {"done in the read-only M2P", HV_M2P_VA},
        {"done unmapped", 0x7ffffff00000ull},
        {"done in our read-only text", (uint64_t)(uintptr_t)&mmt_area_batch},
        {"done in our read-only L4", mmt.si->pt_base_va + 8},
        {"done in the window's read-only L1", gk_mm_window_va() + 16},
        {"done non-canonical", 0x8000000000000000ull},
        {"done wrapping around", ~7ull},
        {"done crossing the guest limit", HV_GUEST_VA_LIMIT - 4},
    };
    char what[96];
    for (unsigned i = 0; i < sizeof(bad_done) / sizeof(bad_done[0]); i++) {
        MMT_SNAP(F2, l1);
        mmt_snap_entry(ent(l1, 10));
        snprintf(what, sizeof(what), "valid request, %s", bad_done[i].what);
        mmt_refused(what, gk_hc_mmu_update_raw((uint64_t)(uintptr_t)&req, 1, bad_done[i].va, 0),
                    HV_EFAULT);
    }
    const struct {
        const char *what;
        uint64_t va;
    } bad_reqs[] = {
        {"requests in the hypervisor image", 0xffffffff80200000ull},
        {"requests in the direct map", 0xffff800000000000ull},
        {"requests at NULL", 0},
        {"requests unmapped", 0x7ffffff00000ull},
        {"requests non-canonical", 0x8000000000000000ull},
        {"requests wrapping around", ~15ull},
        {"requests crossing the guest limit", HV_GUEST_VA_LIMIT - 8},
    };
    for (unsigned i = 0; i < sizeof(bad_reqs) / sizeof(bad_reqs[0]); i++) {
        uint64_t done = 99;
        MMT_SNAP(F2, l1);
        mmt_snap_entry(ent(l1, 10));
        snprintf(what, sizeof(what), "%s", bad_reqs[i].what);
        mmt_refused(what, gk_hc_mmu_update_raw(bad_reqs[i].va, 1, (uint64_t)(uintptr_t)&done, 0),
                    HV_EFAULT);
        mmt_expect("done", (int64_t)done, 0);
    }

    uint64_t done = 99;
    MMT_SNAP(F2, l1);
    mmt_expect("valid request, done NULL", gk_hc_mmu_update(&req, 1, NULL), HV_OK);
    mmt_true("it was applied", gk_pt_read(ent(l1, 10)) == ro);
    req.val = 0;
    mmt_expect("undo it, done NULL", gk_hc_mmu_update(&req, 1, NULL), HV_OK);
    mmt_unchanged("counts after map and unmap with done NULL");
    uint8_t odd[16] = {0};
    mmt_expect("undo again, done misaligned",
               gk_hc_mmu_update(&req, 1, (uint64_t *)(void *)(odd + 3)), HV_OK);
    memcpy(&done, odd + 3, 8);
    mmt_expect("misaligned done", (int64_t)done, 1);
}

/* Requests whose array runs off the end of the mapped page at T into the
 * unmapped page after it: EFAULT, and done matches what was applied. */
static void batch_straddle(uint64_t T, uint64_t l1, uint64_t F2, unsigned in_page, unsigned count,
                           unsigned first_entry)
{
    uint64_t ro = (F2 << 12) | GK_PTE_RO;
    struct hv_mmu_update *reqs =
        (struct hv_mmu_update *)(uintptr_t)(T + MMT_PAGE - in_page * sizeof(*reqs));
    for (unsigned i = 0; i < in_page; i++)
        reqs[i] = (struct hv_mmu_update){ent(l1, first_entry + i), ro};
    uint64_t r0 = refs_of(F2);
    uint64_t done = 99;
    char what[96];
    snprintf(what, sizeof(what), "%u requests, the last %u in an unmapped page", count,
             count - in_page);
    mmt_expect(what, gk_hc_mmu_update(reqs, count, &done), HV_EFAULT);
    unsigned applied = 0, prefix = 1;
    for (unsigned i = 0; i < in_page; i++) {
        int on = gk_pt_read(ent(l1, first_entry + i)) == ro;
        applied += (unsigned)on;
        if (on && i > 0 && gk_pt_read(ent(l1, first_entry + i - 1)) != ro)
            prefix = 0;
    }
    gk_printf("mm: batch: done %llu, applied %u\n", (unsigned long long)done, applied);
    mmt_true("done equals the requests applied, a prefix", done == applied && prefix);
    mmt_expect("target references match", (int64_t)(refs_of(F2) - r0), (int64_t)applied);
    for (unsigned i = 0; i < in_page; i++)
        if (gk_pt_read(ent(l1, first_entry + i)))
            mmt_pte(ent(l1, first_entry + i), 0);
    gk_hc_mmuext_op(HV_MMUEXT_TLB_FLUSH_LOCAL, 0);
    mmt_expect("target references back", (int64_t)(refs_of(F2) - r0), 0);
}

static void batch_sizes(uint64_t l1, uint64_t F2)
{
    uint64_t ro = (F2 << 12) | GK_PTE_RO;
    struct hv_mmu_update req = {ent(l1, 10), ro};
    const struct {
        const char *what;
        uint64_t count;
    } sizes[] = {
        {"count HV_MMU_UPDATE_MAX + 1", HV_MMU_UPDATE_MAX + 1},
        {"count 2^32 + 1", (1ull << 32) + 1},
        {"count 2^32", 1ull << 32},
        {"count 2^63", 1ull << 63},
        {"count 2^64 - 1", ~0ull},
    };
    char what[96];
    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        MMT_SNAP(F2, l1);
        mmt_snap_entry(ent(l1, 10));
        snprintf(what, sizeof(what), "%s", sizes[i].what);
        uint64_t done = 99;
        mmt_refused(what, gk_hc_mmu_update(&req, sizes[i].count, &done), HV_E2BIG);
    }
    uint64_t done = 99;
    MMT_SNAP(F2, l1);
    mmt_snap_entry(ent(l1, 10));
    mmt_refused("count 0", gk_hc_mmu_update(&req, 0, &done), HV_OK);
    mmt_expect("done", (int64_t)done, 0);
    /* The fourth argument is the hypervisor's running count; callers pass
     * 0. A hostile value must not apply anything. */
    int64_t rc =
        gk_hc_mmu_update_raw((uint64_t)(uintptr_t)&req, 1, (uint64_t)(uintptr_t)&done, ~0ull);
    gk_printf("mm: batch: running count 2^64-1 -> %lld\n", (long long)rc);
    mmt_true("running count 2^64-1 refused", rc < 0);
    mmt_unchanged("running count 2^64-1");
}

static void batch_max(uint64_t T, uint64_t F2)
{
    uint64_t R = T + (1ull << 21); /* its own L1 */
    mmt_expect("map the target at the start of a new 2 MiB region", gk_map_frame(R, F2, GK_PTE_RO),
               HV_OK);
    uint64_t l1b = gk_pt_entry_maddr(R, 1) >> 12;
    uint64_t ro = (F2 << 12) | GK_PTE_RO;
    for (unsigned i = 0; i < HV_MMU_UPDATE_MAX; i++)
        big[i] = (struct hv_mmu_update){ent(l1b, i % 512), ro | ((uint64_t)(i / 512) << 9)};
    uint64_t r0 = refs_of(F2);
    MMT_SNAP(l1b);
    uint64_t done = 0;
    mmt_expect("valid batch of HV_MMU_UPDATE_MAX requests",
               gk_hc_mmu_update(big, HV_MMU_UPDATE_MAX, &done), HV_OK);
    mmt_expect("done", (int64_t)done, HV_MMU_UPDATE_MAX);
    unsigned ok = 0;
    for (unsigned j = 0; j < 512; j++)
        ok += gk_pt_read(ent(l1b, j)) == (ro | (7ull << 9));
    mmt_expect("entries holding the last round", ok, 512);
    mmt_expect("target gained 511 references", (int64_t)(refs_of(F2) - r0), 511);
    mmt_unchanged("the L1's own counts");
    mmt_true("pages 1 and 511 read the target",
             ((volatile uint64_t *)(uintptr_t)(R + MMT_PAGE))[0] == 0xf2f2 &&
                 ((volatile uint64_t *)(uintptr_t)(R + 511 * MMT_PAGE))[0] == 0xf2f2);

    big[3000].val |= GK_PTE_G;
    done = 0;
    mmt_expect("batch of HV_MMU_UPDATE_MAX with a bad request at 3000",
               gk_hc_mmu_update(big, HV_MMU_UPDATE_MAX, &done), HV_EINVAL);
    mmt_expect("done", (int64_t)done, 3000);
    ok = 0;
    for (unsigned j = 0; j < 512; j++) {
        uint64_t round = j < 3000 - 2560 ? 5 : 4;
        ok += gk_pt_read(ent(l1b, j)) == (ro | (round << 9));
    }
    mmt_expect("entries holding the last applied round", ok, 512);
    mmt_expect("target references unchanged", (int64_t)(refs_of(F2) - r0), 511);
    big[3000].val &= ~GK_PTE_G;

    MMT_SNAP(F2, l1b);
    mmt_snap_entry(ent(l1b, 0));
    big[HV_MMU_UPDATE_MAX] = big[0];
    mmt_refused("valid requests, count HV_MMU_UPDATE_MAX + 1",
                gk_hc_mmu_update(big, HV_MMU_UPDATE_MAX + 1, &done), HV_E2BIG);

    for (unsigned j = 0; j < 512; j++)
        big[j] = (struct hv_mmu_update){ent(l1b, j), 0};
    mmt_expect("clear the 512 entries", gk_hc_mmu_update(big, 512, &done), HV_OK);
    mmt_expect("done", (int64_t)done, 512);
    gk_hc_mmuext_op(HV_MMUEXT_TLB_FLUSH_LOCAL, 0);
    mmt_expect("target references back", (int64_t)(refs_of(F2) - r0), -1);
}

/*
 * The done pointer lies in a page the batch itself unmaps and turns into an
 * L1 (the writable mapping is hot in the TLB). The hypervisor writes the
 * running count (fourth argument, 4 = US only: a non-present entry) there
 * before any change, and the final count 4 + 3 = 7 = P|RW|US after the
 * batch: written through the stale translation, entry 3 of the new L1 would
 * map machine frame 0 writable behind validation's back. The type change
 * must have flushed the TLB, so the final write faults instead.
 */
static void batch_done_in_new_table(uint64_t T, uint64_t l1)
{
    const uint64_t Pva = T + 5 * MMT_PAGE, Rva = T + 6 * MMT_PAGE, R2 = T + (2ull << 21);
    uint64_t P = gk_p2m(gk_pfn_alloc());
    mmt_expect("map a page writable", gk_map_frame(Pva, P, GK_PTE_RWDATA), HV_OK);
    page_at_batch(Pva)[3] = 0; /* the translation is now in the TLB */
    uint64_t e2 = gk_pt_entry_maddr(R2, 2);
    mmt_true("a free L2 entry for it", e2 && gk_pt_read(e2) == 0);
    uint64_t dpfn = gk_m2p(mmt.data_mfn);
    struct hv_mmu_update reqs[3] = {
        {ent(l1, 5), 0},
        {e2, (P << 12) | GK_PTE_TABLE},
        {(mmt.data_mfn << 12) | HV_MMU_CMD_M2P, dpfn},
    };
    int64_t rc = gk_hc_mmu_update_raw((uint64_t)(uintptr_t)reqs, 3, Pva + 3 * 8, 4);
    gk_printf("mm: batch: done inside the page the batch makes an L1 -> %lld\n", (long long)rc);
    /* HV_EFAULT although every request was applied: the ABI's "status of
     * request *done" cannot hold when the batch revokes its own done page. */
    mmt_true("status HV_OK or HV_EFAULT, all three applied",
             (rc == HV_OK || rc == HV_EFAULT) && gk_pt_read(ent(l1, 5)) == 0 &&
                 gk_pt_read(e2) == ((P << 12) | GK_PTE_TABLE));
    mmt_expect_info("the new L1", P, HV_FRAME_TYPE_L1, 0, 1, 1, 2);
    mmt_expect("map the new L1 read-only", gk_map_frame(Rva, P, GK_PTE_RO), HV_OK);
    uint64_t e3 = page_at_batch(Rva)[3];
    gk_printf("mm: batch: entry 3 of the new L1 is %#llx\n", (unsigned long long)e3);
    mmt_true("it holds the count written before the batch (4), not the final one (7)", e3 == 4);
    mmt_expect("unmap it", gk_unmap(Rva), HV_OK);
    if (e3 != 7) {
        mmt_expect("unhook the new L1", mmt_pte(e2, 0), HV_OK);
        gk_hc_mmuext_op(HV_MMUEXT_TLB_FLUSH_LOCAL, 0);
        mmt_expect_info("the former L1", P, HV_FRAME_TYPE_NONE, 0, 0, 0, 1);
    }
}

void mmt_area_batch(void)
{
    mmt_area = "batch";
    const uint64_t T = MMT_VA_BATCH;
    uint64_t F = gk_p2m(gk_pfn_alloc()), F2 = gk_p2m(gk_pfn_alloc());
    mmt_expect("map a fresh frame writable", gk_map_frame(T, F, GK_PTE_RWDATA), HV_OK);
    mmt_expect("map the target writable", gk_map_frame(T + 3 * MMT_PAGE, F2, GK_PTE_RWDATA), HV_OK);
    ((volatile uint64_t *)(uintptr_t)(T + 3 * MMT_PAGE))[0] = 0xf2f2;
    uint64_t l1 = gk_pt_entry_maddr(T, 1) >> 12;

    batch_middle(l1, F2);
    batch_pointers(l1, F2);
    mmt_true("the page after the request page is unmapped", gk_pt_read(ent(l1, 1)) == 0);
    batch_straddle(T, l1, F2, 2, 3, 20);
    batch_straddle(T, l1, F2, 36, 40, 100);
    batch_sizes(l1, F2);
    batch_max(T, F2);
    batch_done_in_new_table(T, l1);

    mmt_expect("unmap", gk_unmap(T) | gk_unmap(T + 3 * MMT_PAGE), HV_OK);
    mmt_expect_info("the frame after unmap", F, HV_FRAME_TYPE_NONE, 0, 0, 0, 1);
    mmt_expect_info("the target after unmap", F2, HV_FRAME_TYPE_NONE, 0, 0, 0, 1);
}
