/*
 * Shared helpers of the mm test domain (mm_attack.c and the mm_*.c files
 * it is built from): exact-status checks, snapshots of frame state
 * (HV_MEMOP_FRAME_INFO) and of page-table entries that a refused call must
 * leave unchanged, and the facts every test area starts from.
 */
#ifndef MM_CHECK_H
#define MM_CHECK_H

#include "gk/gk.h"
#include "gk/mm.h"

/* Guest VAs the test areas map things at (each in its own L4 slot, so the
 * tables under them are created by the test). */
#define MMT_VA_PT 0x100000000000ull    /* L4 slot 32 */
#define MMT_VA_PIN 0x108000000000ull   /* L4 slot 33 */
#define MMT_VA_BATCH 0x110000000000ull /* L4 slot 34 */
#define MMT_VA_POS 0x118000000000ull   /* L4 slot 35 */
#define MMT_VA_SPACE 0x120000000000ull /* L4 slot 36: only in the new address space */
#define MMT_VA_MEM 0x128000000000ull   /* L4 slot 37 */
#define MMT_PAGE 4096ull

/* Frames of the hypervisor image (linked at 2 MiB, about 2.5 MiB long). */
#define MMT_HV_IMAGE_FIRST_MFN 0x200ull
#define MMT_HV_IMAGE_LAST_MFN 0x47full

/* What every area starts from (filled in by mm_attack.c's main). */
struct mmt_ctx {
    const struct hv_start_info *si;
    uint64_t l4;       /* the initial base (an L4 pinned by the builder) */
    uint64_t data_mfn; /* a writable page of our image (.data) */
    volatile uint64_t *data;
    unsigned maxphyaddr; /* from cpuid 0x80000008 */
};
extern struct mmt_ctx mmt;

/* The area being tested (prefix of every line). */
extern const char *mmt_area;

/* got == want, one line either way; a mismatch counts as a failure. */
void mmt_expect(const char *what, int64_t got, int64_t want);
/* A condition that must hold. */
void mmt_true(const char *what, int cond);
/* Failures so far. */
int mmt_failures(void);

/* Records HV_MEMOP_FRAME_INFO of each frame (replacing the last snapshot)
 * and clears the recorded entries. */
void mmt_snap_frames(const uint64_t *mfns, unsigned n);
#define MMT_SNAP(...)                                                                              \
    mmt_snap_frames((const uint64_t[]){__VA_ARGS__},                                               \
                    (unsigned)(sizeof((const uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t)))
/* Adds the page-table entry at machine address maddr to the snapshot. */
void mmt_snap_entry(uint64_t maddr);
/* Checks the status of a refused call and that the snapshot is unchanged. */
void mmt_refused(const char *what, int64_t got, int64_t want);
/* Checks that the snapshot is unchanged (after a sequence that must undo
 * itself exactly). */
void mmt_unchanged(const char *what);

/* FRAME_INFO of mfn, which must succeed (a failure is counted). */
uint64_t mmt_info(uint64_t mfn);
/* Checks type, pinned, validated, type count and reference count of mfn. */
void mmt_expect_info(const char *what, uint64_t mfn, unsigned type, unsigned pinned,
                     unsigned validated, uint32_t type_count, uint32_t ref_count);

/* One PTE request through HC_MMU_UPDATE. */
int64_t mmt_pte(uint64_t maddr, uint64_t val);
/* A fresh frame of ours (from the pfn allocator), zeroed by us through the
 * table window's scratch (gk_pt_alloc_table), mapped read-only there. */
uint64_t mmt_fresh_frame(void);

/* The areas (each returns after its checks; failures are counted). */
void mmt_area_pt(void);
void mmt_area_pin(void);
void mmt_area_batch(void);
void mmt_area_positive(void);
void mmt_area_space(void);
void mmt_area_mem(void);

#endif
