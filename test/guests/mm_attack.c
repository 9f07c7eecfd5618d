/*
 * The adversarial memory-management test domain (issue 3, item 7). It runs
 * as the root domain and attacks the PV-memory hypercalls, checking the
 * exact status of every refused call and, with HV_MEMOP_FRAME_INFO and the
 * page-table entries involved, that the refusal changed nothing; then it
 * checks the positive paths in the same domain.
 *
 * `test=AREA` on the command line selects one area (default: all):
 *   pt     mapping own tables writable, hypervisor and free frames, the
 *          hypervisor's L4 slots, forbidden bits, out-of-range and
 *          misaligned frames and entry addresses, linear tables, bad
 *          update_va_mapping / mmuext / memory_op arguments   (this file)
 *   pin    pin/unpin/decrease/new-base attacks, a full L1 pin  (mm_pin.c)
 *   batch  batches: bad entry in the middle, hostile pointers, sizes,
 *          a max-size batch                                    (mm_batch.c)
 *   pos    map/write/unmap, update_va_mapping, TLB             (mm_pos.c)
 *   space  a whole new address space, switched to and back     (mm_pos.c)
 *   mem    reservations up to the maximum and back             (mm_pos.c)
 *   write_m2p, write_table: write to the read-only M2P or to a page table
 *          through the window's read-only mapping: the domain must be killed.
 * Prints one line per check and "mm_attack: ok" only if every check held;
 * otherwise a summary, and the domain crashes.
 */
#include <stdio.h>
#include <string.h>

#include "mm_check.h"

/* A writable page of the image whose frame the tests use as "our data". */
static uint64_t data_page[512] __attribute__((aligned(4096))) = {0x600d};

static unsigned cpuid_maxphyaddr(void)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000000u), "c"(0));
    if (a < 0x80000008u)
        return 36;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000008u), "c"(0));
    return a & 0xff;
}

static void area_hv_frames(uint64_t e1, uint64_t l1, uint64_t e2f, uint64_t T2)
{
    uint64_t l4 = mmt.l4;
    const struct {
        const char *what;
        uint64_t mfn;
    } hv[] = {
        {"hypervisor image, first frame", MMT_HV_IMAGE_FIRST_MFN},
        {"hypervisor image, frame 0x300", 0x300},
        {"hypervisor image, last frame", MMT_HV_IMAGE_LAST_MFN},
        {"hypervisor L3 of slot 256 (direct map)", gk_pte_mfn(gk_pt_read((l4 << 12) | 256 * 8))},
        {"hypervisor L3 of slot 257 (M2P)", gk_pte_mfn(gk_pt_read((l4 << 12) | 257 * 8))},
        {"hypervisor L3 of slot 511 (image)", gk_pte_mfn(gk_pt_read((l4 << 12) | 511 * 8))},
        {"frame 0 (firmware)", 0},
    };
    char what[128];
    for (unsigned i = 0; i < sizeof(hv) / sizeof(hv[0]); i++) {
        uint64_t m = hv[i].mfn;
        gk_printf("mm: pt: %s is mfn %#llx\n", hv[i].what, (unsigned long long)m);
        if (gk_frame_info(m) >= 0) { /* the image shrank below the guess: ours now */
            gk_printf("mm: pt: mfn %#llx is ours: skipped\n", (unsigned long long)m);
            continue;
        }
        MMT_SNAP(l1, l4);
        mmt_snap_entry(e1);
        mmt_snap_entry(e2f);
        snprintf(what, sizeof(what), "map %s read-only", hv[i].what);
        mmt_refused(what, mmt_pte(e1, (m << 12) | GK_PTE_RO), HV_EPERM);
        snprintf(what, sizeof(what), "map %s writable", hv[i].what);
        mmt_refused(what, mmt_pte(e1, (m << 12) | GK_PTE_RWDATA), HV_EPERM);
        snprintf(what, sizeof(what), "update_va_mapping to %s", hv[i].what);
        mmt_refused(what, gk_hc_update_va_mapping(T2, (m << 12) | GK_PTE_RO, HV_UVM_INVLPG),
                    HV_EPERM);
        snprintf(what, sizeof(what), "%s as an L1 table", hv[i].what);
        mmt_refused(what, mmt_pte(e2f, (m << 12) | GK_PTE_TABLE), HV_EPERM);
        snprintf(what, sizeof(what), "entry address in %s", hv[i].what);
        mmt_refused(what, mmt_pte((m << 12) | 8, 0), HV_EPERM);
        snprintf(what, sizeof(what), "pin %s", hv[i].what);
        mmt_refused(what, gk_hc_mmuext_op(HV_MMUEXT_PIN_L1, m), HV_EPERM);
        snprintf(what, sizeof(what), "frame_info of %s", hv[i].what);
        mmt_refused(what, gk_frame_info(m), HV_EPERM);
        snprintf(what, sizeof(what), "decrease %s", hv[i].what);
        mmt_refused(what, gk_hc_memory_op(HV_MEMOP_DECREASE, m), HV_EPERM);
    }
}

static void area_free_frame(uint64_t e1, uint64_t l1, uint64_t e2f)
{
    int64_t cur = gk_hc_memory_op(HV_MEMOP_CURRENT, 0);
    int64_t m = gk_hc_memory_op(HV_MEMOP_INCREASE, 0);
    mmt_true("increase gives a frame", m > 0);
    if (m <= 0)
        return;
    mmt_expect("decrease it again", gk_hc_memory_op(HV_MEMOP_DECREASE, (uint64_t)m), HV_OK);
    uint64_t f = (uint64_t)m;
    MMT_SNAP(l1);
    mmt_snap_entry(e1);
    mmt_snap_entry(e2f);
    mmt_refused("map a free frame read-only", mmt_pte(e1, (f << 12) | GK_PTE_RO), HV_EPERM);
    mmt_refused("map a free frame writable", mmt_pte(e1, (f << 12) | GK_PTE_RWDATA), HV_EPERM);
    mmt_refused("a free frame as an L1 table", mmt_pte(e2f, (f << 12) | GK_PTE_TABLE), HV_EPERM);
    mmt_refused("pin a free frame", gk_hc_mmuext_op(HV_MMUEXT_PIN_L1, f), HV_EPERM);
    mmt_refused("new base on a free frame", gk_hc_mmuext_op(HV_MMUEXT_NEW_BASEPTR, f), HV_EPERM);
    mmt_refused("frame_info of a free frame", gk_frame_info(f), HV_EPERM);
    mmt_refused("decrease a free frame", gk_hc_memory_op(HV_MEMOP_DECREASE, f), HV_EPERM);
    mmt_refused("M2P update of a free frame",
                mmt_pte((f << 12) | HV_MMU_CMD_M2P, 5) /* a PTE write of cmd M2P */, HV_EPERM);
    mmt_true("free frame's M2P entry is invalid", gk_m2p(f) == HV_M2P_INVALID);
    mmt_expect("current count back", gk_hc_memory_op(HV_MEMOP_CURRENT, 0), cur);
}

/* With `victim` on the command line the hypervisor has built a second domain
 * (never started, hv `test_victim`): its frames have valid M2P entries but
 * frame_info refuses them. Mapping, typing or taking them must all fail. */
static void area_foreign(uint64_t e1, uint64_t l1, uint64_t e2f)
{
    uint64_t f = HV_M2P_INVALID;
    for (uint64_t m = 0; m < gk_start_info->m2p_entries; m++) {
        if (gk_m2p(m) != HV_M2P_INVALID && gk_frame_info(m) == HV_EPERM) {
            f = m;
            break;
        }
    }
    mmt_true("found a frame of another domain", f != HV_M2P_INVALID);
    if (f == HV_M2P_INVALID)
        return;
    gk_printf("mm_attack: another domain's frame: mfn %#llx (its pfn %llu)\n",
              (unsigned long long)f, (unsigned long long)gk_m2p(f));
    MMT_SNAP(l1);
    mmt_snap_entry(e1);
    mmt_snap_entry(e2f);
    mmt_refused("map another domain's frame read-only", mmt_pte(e1, (f << 12) | GK_PTE_RO),
                HV_EPERM);
    mmt_refused("map another domain's frame writable", mmt_pte(e1, (f << 12) | GK_PTE_RWDATA),
                HV_EPERM);
    mmt_refused("another domain's frame as an L1 table", mmt_pte(e2f, (f << 12) | GK_PTE_TABLE),
                HV_EPERM);
    mmt_refused("pin another domain's frame", gk_hc_mmuext_op(HV_MMUEXT_PIN_L1, f), HV_EPERM);
    mmt_refused("new base on another domain's frame", gk_hc_mmuext_op(HV_MMUEXT_NEW_BASEPTR, f),
                HV_EPERM);
    mmt_refused("decrease another domain's frame", gk_hc_memory_op(HV_MEMOP_DECREASE, f), HV_EPERM);
    mmt_refused("M2P update of another domain's frame", mmt_pte((f << 12) | HV_MMU_CMD_M2P, 5),
                HV_EPERM);
    mmt_refused("update_va_mapping to another domain's frame",
                gk_hc_update_va_mapping(MMT_VA_PT, (f << 12) | GK_PTE_RO, 0), HV_EPERM);
}

static void area_hv_slots(uint64_t F, uint64_t l3)
{
    static const unsigned slots[] = {256, 257, 258, 300, 511};
    char what[96];
    for (unsigned i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
        uint64_t ptr = (mmt.l4 << 12) | ((uint64_t)slots[i] << 3);
        uint64_t cur = gk_pt_read(ptr);
        MMT_SNAP(mmt.l4, F, l3);
        mmt_snap_entry(ptr);
        snprintf(what, sizeof(what), "clear hypervisor L4 slot %u", slots[i]);
        mmt_refused(what, mmt_pte(ptr, 0), HV_EPERM);
        snprintf(what, sizeof(what), "rewrite hypervisor L4 slot %u unchanged", slots[i]);
        mmt_refused(what, mmt_pte(ptr, cur), HV_EPERM);
        snprintf(what, sizeof(what), "point hypervisor L4 slot %u at our L3", slots[i]);
        mmt_refused(what, mmt_pte(ptr, (l3 << 12) | GK_PTE_TABLE), HV_EPERM);
        snprintf(what, sizeof(what), "point hypervisor L4 slot %u at our data", slots[i]);
        mmt_refused(what, mmt_pte(ptr, (F << 12) | GK_PTE_RWDATA), HV_EPERM);
    }
}

static void area_bits(uint64_t F, uint64_t e1, uint64_t e2f, uint64_t e3f, uint64_t e4f,
                      uint64_t l1, uint64_t l2, uint64_t l3)
{
    uint64_t nt = mmt_fresh_frame();
    const struct {
        const char *what;
        uint64_t ptr, val;
    } bad[] = {
        {"2 MiB superpage (L2 PS)", e2f, (F << 12) | GK_PTE_P | GK_PTE_RW | GK_PTE_US | GK_PTE_PS},
        {"1 GiB superpage (L3 PS)", e3f, (F << 12) | GK_PTE_P | GK_PTE_RW | GK_PTE_US | GK_PTE_PS},
        {"L4 PS", e4f, (nt << 12) | GK_PTE_TABLE | GK_PTE_PS},
        {"L1 PAT bit", e1, (F << 12) | GK_PTE_RO | GK_PTE_PS},
        {"L1 global", e1, (F << 12) | GK_PTE_RO | GK_PTE_G},
        {"L2 global", e2f, (nt << 12) | GK_PTE_TABLE | GK_PTE_G},
        {"L3 global", e3f, (nt << 12) | GK_PTE_TABLE | GK_PTE_G},
        {"L4 global", e4f, (nt << 12) | GK_PTE_TABLE | GK_PTE_G},
        {"L1 US=0 read-only", e1, (F << 12) | GK_PTE_P | GK_PTE_NX},
        {"L1 US=0 writable", e1, (F << 12) | GK_PTE_P | GK_PTE_RW},
        {"L2 US=0", e2f, (nt << 12) | GK_PTE_P | GK_PTE_RW},
        {"L3 US=0", e3f, (nt << 12) | GK_PTE_P | GK_PTE_RW},
        {"L4 US=0", e4f, (nt << 12) | GK_PTE_P | GK_PTE_RW},
        {"L1 address bit at MAXPHYADDR", e1,
         mmt.maxphyaddr < 52 ? (F << 12) | GK_PTE_RO | (1ull << mmt.maxphyaddr) : 0},
        {"L1 address bit 51", e1, mmt.maxphyaddr < 52 ? (F << 12) | GK_PTE_RO | (1ull << 51) : 0},
        {"L2 address bit at MAXPHYADDR", e2f,
         mmt.maxphyaddr < 52 ? (nt << 12) | GK_PTE_TABLE | (1ull << mmt.maxphyaddr) : 0},
    };
    char what[96];
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (bad[i].val == 0) {
            gk_printf("mm: pt: %s: skipped (MAXPHYADDR is 52)\n", bad[i].what);
            continue;
        }
        MMT_SNAP(F, nt, l1, l2, l3, mmt.l4);
        mmt_snap_entry(bad[i].ptr);
        snprintf(what, sizeof(what), "%s", bad[i].what);
        mmt_refused(what, mmt_pte(bad[i].ptr, bad[i].val), HV_EINVAL);
    }
    MMT_SNAP(F, nt, l1);
    mmt_refused("update_va_mapping with the global bit",
                gk_hc_update_va_mapping(MMT_VA_PT + MMT_PAGE, (F << 12) | GK_PTE_RO | GK_PTE_G, 0),
                HV_EINVAL);

    /* Accepted: non-present entries hold anything; bits 9-11, 52-62, A, D, PWT, PCD. */
    MMT_SNAP(F, l1);
    mmt_expect("non-present entry with every other bit set", mmt_pte(e1, 0xfffffffffffffffeull),
               HV_OK);
    mmt_true("it reads back", gk_pt_read(e1) == 0xfffffffffffffffeull);
    mmt_unchanged("non-present entry takes no reference");
    mmt_expect("clear it", mmt_pte(e1, 0), HV_OK);
    mmt_expect("entry with available bits 9-11 and 52-62, A, D, PWT, PCD",
               mmt_pte(e1, (F << 12) | GK_PTE_RO | GK_PTE_AVAIL_LOW | GK_PTE_AVAIL_HIGH | GK_PTE_A |
                               GK_PTE_D | GK_PTE_PWT | GK_PTE_PCD),
               HV_OK);
    mmt_expect("clear it", mmt_pte(e1, 0), HV_OK);
    gk_hc_mmuext_op(HV_MMUEXT_INVLPG_LOCAL, MMT_VA_PT + MMT_PAGE);
    mmt_unchanged("counts after map and unmap");
    mmt_expect("free the fresh frame", gk_pt_free_table(nt), HV_OK);
}

static void area_ranges(uint64_t F, uint64_t e1, uint64_t e2f, uint64_t l1, uint64_t freed)
{
    uint64_t n = mmt.si->m2p_entries;
    uint64_t top = mmt.maxphyaddr < 52 ? (1ull << (mmt.maxphyaddr - 12)) - 1 : (1ull << 40) - 1;
    uint64_t nt = mmt.data_mfn;
    MMT_SNAP(F, l1, mmt.data_mfn);
    mmt_snap_entry(e1);
    mmt_snap_entry(e2f);
    mmt_refused("map mfn m2p_entries (outside the frame table)", mmt_pte(e1, (n << 12) | GK_PTE_RO),
                HV_ERANGE);
    mmt_refused("map the highest mfn below MAXPHYADDR", mmt_pte(e1, (top << 12) | GK_PTE_RO),
                HV_ERANGE);
    mmt_refused("L1 table outside the frame table", mmt_pte(e2f, (n << 12) | GK_PTE_TABLE),
                HV_ERANGE);
    mmt_refused("entry address outside the frame table", mmt_pte(n << 12, 0), HV_ERANGE);
    mmt_refused("entry address 0xfffffffffffff000", mmt_pte(0xfffffffffffff000ull, 0), HV_ERANGE);
    mmt_refused("entry address misaligned (+4)", mmt_pte(e1 | 4, 0), HV_EINVAL);
    mmt_refused("entry address with command 2", mmt_pte(e1 | 2, 0), HV_EINVAL);
    mmt_refused("entry address with command 3", mmt_pte(e1 | 3, 0), HV_EINVAL);
    mmt_refused("entry address in our data (not a table)", mmt_pte(nt << 12, 0), HV_EINVAL);
    mmt_refused("entry address in a writable-typed frame", mmt_pte((F << 12) | 16, 0), HV_EINVAL);
    mmt_refused("entry address in a free frame", mmt_pte((freed << 12) | 16, 0), HV_EPERM);
    uint64_t dpfn = gk_m2p(mmt.data_mfn);
    mmt_refused("M2P update with misaligned address",
                mmt_pte((nt << 12) | 8 | HV_MMU_CMD_M2P, dpfn), HV_EINVAL);
    mmt_refused("M2P update with pfn 2^40", mmt_pte((nt << 12) | HV_MMU_CMD_M2P, 1ull << 40),
                HV_ERANGE);
    mmt_refused("M2P update of a hypervisor frame",
                mmt_pte((MMT_HV_IMAGE_FIRST_MFN << 12) | HV_MMU_CMD_M2P, 1), HV_EPERM);
    mmt_refused("M2P update outside the frame table", mmt_pte((n << 12) | HV_MMU_CMD_M2P, 1),
                HV_ERANGE);
    mmt_refused("pin outside the frame table", gk_hc_mmuext_op(HV_MMUEXT_PIN_L1, n), HV_ERANGE);
    mmt_refused("pin mfn 2^64-1", gk_hc_mmuext_op(HV_MMUEXT_PIN_L2, ~0ull), HV_ERANGE);
    mmt_refused("unpin outside the frame table", gk_hc_mmuext_op(HV_MMUEXT_UNPIN, n), HV_ERANGE);
    mmt_refused("new base outside the frame table", gk_hc_mmuext_op(HV_MMUEXT_NEW_BASEPTR, n),
                HV_ERANGE);
    mmt_refused("frame_info outside the frame table", gk_frame_info(n), HV_ERANGE);
    mmt_refused("decrease outside the frame table", gk_hc_memory_op(HV_MEMOP_DECREASE, n),
                HV_ERANGE);
    mmt_refused("decrease mfn 2^64-1", gk_hc_memory_op(HV_MEMOP_DECREASE, ~0ull), HV_ERANGE);
    mmt_expect("M2P update of our data to its own pfn", mmt_pte((nt << 12) | HV_MMU_CMD_M2P, dpfn),
               HV_OK);
    mmt_true("M2P entry of our data unchanged", gk_m2p(mmt.data_mfn) == dpfn);
    mmt_expect("M2P update to pfn 2^40-1", mmt_pte((nt << 12) | HV_MMU_CMD_M2P, (1ull << 40) - 1),
               HV_OK);
    mmt_true("M2P reads 2^40-1", gk_m2p(mmt.data_mfn) == (1ull << 40) - 1);
    mmt_expect("M2P update back", mmt_pte((nt << 12) | HV_MMU_CMD_M2P, dpfn), HV_OK);
    mmt_true("M2P entry restored", gk_m2p(mmt.data_mfn) == dpfn);
}

static void area_linear(uint64_t e1, uint64_t e2f, uint64_t e3f, uint64_t e4f, uint64_t l1,
                        uint64_t l2, uint64_t l3)
{
    const struct {
        const char *what;
        uint64_t ptr, target;
    } lin[] = {
        {"L4 entry pointing at the L4 itself", e4f, mmt.l4},
        {"L4 entry pointing at an L2", e4f, l2},
        {"L3 entry pointing at the L3 itself", e3f, l3},
        {"L3 entry pointing at an L1", e3f, l1},
        {"L3 entry pointing at the L4", e3f, mmt.l4},
        {"L2 entry pointing at the L2 itself", e2f, l2},
        {"L2 entry pointing at an L3", e2f, l3},
    };
    char what[96];
    for (unsigned i = 0; i < sizeof(lin) / sizeof(lin[0]); i++) {
        MMT_SNAP(mmt.l4, l3, l2, l1);
        mmt_snap_entry(lin[i].ptr);
        snprintf(what, sizeof(what), "%s", lin[i].what);
        mmt_refused(what, mmt_pte(lin[i].ptr, (lin[i].target << 12) | GK_PTE_TABLE), HV_EBUSY);
    }
    MMT_SNAP(l1);
    mmt_expect("L1 mapping itself read-only (allowed)", mmt_pte(e1, (l1 << 12) | GK_PTE_RO), HV_OK);
    uint64_t idx = (e1 & 0xfff) / 8;
    mmt_true("reads its own entry through it",
             ((volatile uint64_t *)(uintptr_t)(MMT_VA_PT + MMT_PAGE))[idx] == gk_pt_read(e1));
    mmt_expect("unmap it", gk_unmap(MMT_VA_PT + MMT_PAGE), HV_OK);
    mmt_unchanged("L1 counts after self-map and unmap");
}

static void area_args(uint64_t F, uint64_t l1)
{
    uint64_t T2 = MMT_VA_PT + MMT_PAGE;
    uint64_t noL1 = 0x7f8000000000ull; /* L4 slot 255: never mapped here */
    MMT_SNAP(F, l1);
    mmt_refused("update_va_mapping misaligned va",
                gk_hc_update_va_mapping(T2 + 8, (F << 12) | GK_PTE_RO, 0), HV_EINVAL);
    mmt_refused("update_va_mapping va at the guest limit",
                gk_hc_update_va_mapping(HV_GUEST_VA_LIMIT, (F << 12) | GK_PTE_RO, 0), HV_EINVAL);
    mmt_refused("update_va_mapping va in the hypervisor",
                gk_hc_update_va_mapping(0xffffffff80200000ull, (F << 12) | GK_PTE_RO, 0),
                HV_EINVAL);
    mmt_refused("update_va_mapping flags 3", gk_hc_update_va_mapping(T2, (F << 12) | GK_PTE_RO, 3),
                HV_EINVAL);
    mmt_refused("update_va_mapping flags 2^32 + 1",
                gk_hc_update_va_mapping(T2, (F << 12) | GK_PTE_RO, (1ull << 32) | 1), HV_EINVAL);
    mmt_true("no L1 maps 0x7f8000000000", gk_pt_entry_maddr(noL1, 1) == 0);
    mmt_refused("update_va_mapping where no L1 exists",
                gk_hc_update_va_mapping(noL1, (F << 12) | GK_PTE_RO, 0), HV_ENOENT);
    mmt_refused("mmuext command 0", gk_hc_mmuext_op(0, mmt.l4), HV_EINVAL);
    mmt_refused("mmuext command 9", gk_hc_mmuext_op(9, mmt.l4), HV_EINVAL);
    mmt_refused("mmuext command 2^64-1", gk_hc_mmuext_op(~0ull, mmt.l4), HV_EINVAL);
    mmt_refused("invlpg misaligned", gk_hc_mmuext_op(HV_MMUEXT_INVLPG_LOCAL, T2 + 1), HV_EINVAL);
    mmt_refused("invlpg at the guest limit",
                gk_hc_mmuext_op(HV_MMUEXT_INVLPG_LOCAL, HV_GUEST_VA_LIMIT), HV_EINVAL);
    mmt_refused("invlpg in the hypervisor",
                gk_hc_mmuext_op(HV_MMUEXT_INVLPG_LOCAL, 0xffffffff80200000ull), HV_EINVAL);
    mmt_refused("invlpg of a guest page", gk_hc_mmuext_op(HV_MMUEXT_INVLPG_LOCAL, T2), HV_OK);
    mmt_refused("local TLB flush", gk_hc_mmuext_op(HV_MMUEXT_TLB_FLUSH_LOCAL, 0), HV_OK);
    mmt_refused("memory_op command 0", gk_hc_memory_op(0, 0), HV_EINVAL);
    mmt_refused("memory_op command 6", gk_hc_memory_op(6, 0), HV_EINVAL);
    mmt_refused("memory_op command 2^64-1", gk_hc_memory_op(~0ull, 0), HV_EINVAL);
}

void mmt_area_pt(void)
{
    mmt_area = "pt";
    const uint64_t T = MMT_VA_PT, T2 = T + MMT_PAGE;
    uint64_t F = gk_p2m(gk_pfn_alloc());
    mmt_expect("map a fresh frame writable (creating L3, L2, L1)",
               gk_map_frame(T, F, GK_PTE_RWDATA), HV_OK);
    uint64_t e1 = gk_pt_entry_maddr(T2, 1);
    uint64_t l1 = e1 >> 12, l2 = gk_pt_entry_maddr(T, 2) >> 12, l3 = gk_pt_entry_maddr(T, 3) >> 12;
    uint64_t e2f = (l2 << 12) | ((uint64_t)(gk_pt_index(T, 2) + 1) << 3);
    uint64_t e3f = (l3 << 12) | ((uint64_t)(gk_pt_index(T, 3) + 1) << 3);
    uint64_t e4f = (mmt.l4 << 12) | ((uint64_t)(gk_pt_index(T, 4) + 8) << 3);
    mmt_true("its tables are reachable and the spare entries empty",
             e1 && l2 && l3 && !gk_pt_read(e1) && !gk_pt_read(e2f) && !gk_pt_read(e3f) &&
                 !gk_pt_read(e4f));
    mmt_expect_info("the mapped frame", F, HV_FRAME_TYPE_WRITABLE, 0, 0, 1, 2);
    mmt_expect_info("its new L1", l1, HV_FRAME_TYPE_L1, 0, 1, 1, 3);
    uint64_t layout_l1 = gk_pt_entry_maddr(gk_mm_layout_base(), 1) >> 12;

    const struct {
        const char *what;
        uint64_t mfn;
    } own[] = {
        {"map own L4 writable", mmt.l4},
        {"map own L3 writable", l3},
        {"map own L2 writable", l2},
        {"map own L1 writable (in itself)", l1},
        {"map the window's L1 writable", gk_mm_window_l1_mfn()},
        {"map the layout's L1 writable", layout_l1},
    };
    for (unsigned i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
        MMT_SNAP(own[i].mfn, l1);
        mmt_snap_entry(e1);
        mmt_refused(own[i].what, mmt_pte(e1, (own[i].mfn << 12) | GK_PTE_RWDATA), HV_EBUSY);
    }
    MMT_SNAP(mmt.l4, l1);
    mmt_snap_entry(e1);
    mmt_refused("update_va_mapping own L4 writable",
                gk_hc_update_va_mapping(T2, (mmt.l4 << 12) | GK_PTE_RWDATA, HV_UVM_INVLPG),
                HV_EBUSY);
    mmt_expect("map own L4 read-only (allowed)", mmt_pte(e1, (mmt.l4 << 12) | GK_PTE_RO), HV_OK);
    mmt_true("reads the L4 through it",
             ((volatile uint64_t *)(uintptr_t)T2)[256] == gk_pt_read((mmt.l4 << 12) | 256 * 8));
    mmt_expect("unmap it", gk_unmap(T2), HV_OK);
    mmt_unchanged("L4 counts after a read-only map and unmap");

    area_hv_frames(e1, l1, e2f, T2);
    int64_t freed = gk_hc_memory_op(HV_MEMOP_INCREASE, 0);
    if (freed > 0)
        gk_hc_memory_op(HV_MEMOP_DECREASE, (uint64_t)freed);
    area_free_frame(e1, l1, e2f);
    char victim[4];
    if (gk_cmdline_get("victim", victim, sizeof(victim)))
        area_foreign(e1, l1, e2f);
    area_hv_slots(F, l3);
    area_bits(F, e1, e2f, e3f, e4f, l1, l2, l3);
    area_ranges(F, e1, e2f, l1, freed > 0 ? (uint64_t)freed : MMT_HV_IMAGE_FIRST_MFN);
    area_linear(e1, e2f, e3f, e4f, l1, l2, l3);
    area_args(F, l1);

    mmt_expect("unmap the frame", gk_unmap(T), HV_OK);
    mmt_expect_info("the frame after unmap", F, HV_FRAME_TYPE_NONE, 0, 0, 0, 1);
    mmt_expect_info("its L1 after unmap", l1, HV_FRAME_TYPE_L1, 0, 1, 1, 3);
}

static int run_area(const char *which, const char *name, void (*fn)(void))
{
    if (strcmp(which, "all") && strcmp(which, name))
        return 0;
    int before = mmt_failures();
    fn();
    gk_printf("mm_attack: area %s: %s\n", name,
              mmt_failures() == before ? "all checks held" : "FAILED");
    return 1;
}

int main(const struct hv_start_info *si)
{
    char which[16] = "all";
    gk_cmdline_get("test", which, sizeof(which));
    mmt.si = si;
    mmt.maxphyaddr = cpuid_maxphyaddr();
    mmt_area = "init";
    int rc = gk_mm_init(si);
    mmt_expect("gk_mm_init", rc, HV_OK);
    if (rc != HV_OK)
        gk_panic("mm_attack: cannot set up guest-kit mm (%d)", rc);
    mmt.l4 = gk_mm_base_mfn();
    mmt.data = data_page;
    mmt.data_mfn = gk_layout_va_to_mfn((uint64_t)(uintptr_t)data_page);
    gk_printf("mm: init: %llu pages, first free pfn %llu, L4 mfn %#llx, window %#llx, "
              "m2p_entries %llu, MAXPHYADDR %u\n",
              (unsigned long long)si->pages_count, (unsigned long long)si->first_free_pfn,
              (unsigned long long)mmt.l4, (unsigned long long)gk_mm_window_va(),
              (unsigned long long)si->m2p_entries, mmt.maxphyaddr);
    uint64_t bad = 0;
    for (uint64_t pfn = 0; pfn < si->pages_count; pfn++)
        bad += gk_m2p(gk_p2m(pfn)) != pfn;
    mmt_expect("M2P entries of the initial frames that disagree with the p2m", (int64_t)bad, 0);
    mmt_expect("current reservation = pages_count", gk_hc_memory_op(HV_MEMOP_CURRENT, 0),
               (int64_t)si->pages_count);
    mmt_expect_info("the initial L4 (pinned by the builder, our base)", mmt.l4, HV_FRAME_TYPE_L4, 1,
                    1, 2, 4);

    /* Writes that must kill the domain (read-only M2P, a table in the window). */
    uint64_t target = !strcmp(which, "write_m2p")     ? HV_M2P_VA
                      : !strcmp(which, "write_table") ? gk_mm_window_va() + 8
                                                      : 0;
    if (target) {
        gk_printf("mm_attack: about to write %#llx\n", (unsigned long long)target);
        gk_console_flush();
        *(volatile uint64_t *)(uintptr_t)target = 0x7;
        gk_printf("mm_attack: FAILED the write to %#llx did not fault\n",
                  (unsigned long long)target);
        return 1;
    }

    int ran = 0;
    ran += run_area(which, "pt", mmt_area_pt);
    ran += run_area(which, "pin", mmt_area_pin);
    ran += run_area(which, "batch", mmt_area_batch);
    ran += run_area(which, "pos", mmt_area_positive);
    ran += run_area(which, "space", mmt_area_space);
    ran += run_area(which, "mem", mmt_area_mem);
    if (!ran)
        gk_panic("mm_attack: unknown test=%s", which);
    if (mmt_failures()) {
        gk_printf("mm_attack: %d checks FAILED (test=%s)\n", mmt_failures(), which);
        gk_console_flush();
        return 1;
    }
    gk_printf("mm_attack: ok (test=%s)\n", which);
    return 0;
}
