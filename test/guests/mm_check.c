/* Check and snapshot helpers of the mm test domain (see mm_check.h). */
#include "mm_check.h"

struct mmt_ctx mmt;
const char *mmt_area = "mm";

static int failures;

#define SNAP_MAX 8
static struct {
    unsigned frames_n, entries_n;
    uint64_t mfn[SNAP_MAX];
    int64_t info[SNAP_MAX];
    uint64_t maddr[SNAP_MAX];
    uint64_t val[SNAP_MAX];
} snap;

int mmt_failures(void)
{
    return failures;
}

void mmt_expect(const char *what, int64_t got, int64_t want)
{
    if (got != want) {
        gk_printf("mm: %s: FAILED %s: got %lld, want %lld\n", mmt_area, what, (long long)got,
                  (long long)want);
        failures++;
    } else {
        gk_printf("mm: %s: %s -> %lld\n", mmt_area, what, (long long)got);
    }
}

void mmt_true(const char *what, int cond)
{
    if (!cond) {
        gk_printf("mm: %s: FAILED %s\n", mmt_area, what);
        failures++;
    } else {
        gk_printf("mm: %s: %s: yes\n", mmt_area, what);
    }
}

void mmt_snap_frames(const uint64_t *mfns, unsigned n)
{
    if (n > SNAP_MAX)
        gk_panic("mmt_snap_frames: %u frames", n);
    snap.frames_n = n;
    snap.entries_n = 0;
    for (unsigned i = 0; i < n; i++) {
        snap.mfn[i] = mfns[i];
        snap.info[i] = gk_frame_info(mfns[i]);
    }
}

void mmt_snap_entry(uint64_t maddr)
{
    if (snap.entries_n == SNAP_MAX)
        gk_panic("mmt_snap_entry: too many entries");
    snap.maddr[snap.entries_n] = maddr;
    snap.val[snap.entries_n] = gk_pt_read(maddr);
    snap.entries_n++;
}

void mmt_unchanged(const char *what)
{
    for (unsigned i = 0; i < snap.frames_n; i++) {
        int64_t now = gk_frame_info(snap.mfn[i]);
        if (now != snap.info[i]) {
            gk_printf("mm: %s: FAILED %s: frame %#llx changed: info %#llx -> %#llx\n", mmt_area,
                      what, (unsigned long long)snap.mfn[i], (unsigned long long)snap.info[i],
                      (unsigned long long)now);
            failures++;
        }
    }
    for (unsigned i = 0; i < snap.entries_n; i++) {
        uint64_t now = gk_pt_read(snap.maddr[i]);
        if (now != snap.val[i]) {
            gk_printf("mm: %s: FAILED %s: entry at %#llx changed: %#llx -> %#llx\n", mmt_area, what,
                      (unsigned long long)snap.maddr[i], (unsigned long long)snap.val[i],
                      (unsigned long long)now);
            failures++;
        }
    }
}

void mmt_refused(const char *what, int64_t got, int64_t want)
{
    mmt_expect(what, got, want);
    mmt_unchanged(what);
}

uint64_t mmt_info(uint64_t mfn)
{
    int64_t info = gk_frame_info(mfn);
    if (info < 0) {
        gk_printf("mm: %s: FAILED frame_info(%#llx) -> %lld\n", mmt_area, (unsigned long long)mfn,
                  (long long)info);
        failures++;
        return 0;
    }
    return (uint64_t)info;
}

void mmt_expect_info(const char *what, uint64_t mfn, unsigned type, unsigned pinned,
                     unsigned validated, uint32_t type_count, uint32_t ref_count)
{
    uint64_t x = mmt_info(mfn);
    if (HV_FRAME_INFO_TYPE(x) != type || HV_FRAME_INFO_PINNED(x) != pinned ||
        HV_FRAME_INFO_VALIDATED(x) != validated || HV_FRAME_INFO_TYPE_COUNT(x) != type_count ||
        HV_FRAME_INFO_REF_COUNT(x) != ref_count) {
        gk_printf("mm: %s: FAILED %s: frame %#llx: type %u pinned %u validated %u types %u "
                  "refs %u, want %u %u %u %u %u\n",
                  mmt_area, what, (unsigned long long)mfn, HV_FRAME_INFO_TYPE(x),
                  HV_FRAME_INFO_PINNED(x), HV_FRAME_INFO_VALIDATED(x),
                  (unsigned)HV_FRAME_INFO_TYPE_COUNT(x), (unsigned)HV_FRAME_INFO_REF_COUNT(x), type,
                  pinned, validated, (unsigned)type_count, (unsigned)ref_count);
        failures++;
    } else {
        gk_printf("mm: %s: %s: type %u pinned %u validated %u types %u refs %u\n", mmt_area, what,
                  type, pinned, validated, (unsigned)type_count, (unsigned)ref_count);
    }
}

int64_t mmt_pte(uint64_t maddr, uint64_t val)
{
    return gk_pt_write(maddr, val);
}

uint64_t mmt_fresh_frame(void)
{
    int64_t m = gk_pt_alloc_table();
    if (m < 0)
        gk_panic("mm: %s: no fresh frame (%lld)", mmt_area, (long long)m);
    return (uint64_t)m;
}
