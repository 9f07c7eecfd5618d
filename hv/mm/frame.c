/*
 * The frame table: owner, type, counts and flags of every machine frame,
 * and the machine-to-pseudophysical (M2P) table.
 *
 * Invariants (checked by test/unit/mm/mm_audit.c after every step of the
 * random-sequence test; "reference" always means a counted one):
 *
 *  F1  A free frame (owner DOMID_INVALID) has ref_count 0, type_count 0,
 *      type NONE and no flags. A frame with ref_count 0 is free.
 *  F2  An allocated frame (FRAME_F_ALLOCATED) holds exactly one reference
 *      for its owner: ref_count >= 1.
 *  F3  Every type reference comes with a general reference:
 *      ref_count >= type_count + (ALLOCATED ? 1 : 0).
 *  F4  type_count == 0  <=>  type == NONE. A frame changes type only while
 *      its type count is zero, so a page table (L1..L4) is never WRITABLE:
 *      no writable PTE anywhere maps a page-table frame.
 *  F5  VALIDATED and PARTIAL are only set on L1..L4 frames, never together.
 *      A VALIDATED Ln frame holds, for each present entry (slots < 256 only
 *      for an L4), the references pt_entry_get took; a PARTIAL one holds
 *      them for entries [0, partial_index), plus the validation reference of
 *      entry partial_index's target if FRAME_F_CHILD_PARTIAL.
 *  F6  type_count of every frame = writable L1 entries (if WRITABLE) or
 *      entries of validated/partial L(n+1) tables pointing at it (if Ln),
 *      + pins + base pointers + validation references held on it.
 *  F7  PINNED is only set on a VALIDATED frame and accounts for one type
 *      reference (and its general reference), owned by the frame's owner.
 *  F8  Page-table frames (L1..L4) referenced from a table are owned by the
 *      table's owner; a guest never maps a free or DOMID_HV frame.
 *  F9  A frame whose type count drops to zero, or that is freed, records
 *      the flush clock in tlbflush_timestamp.
 *
 * Not thread-safe: callers hold the hypervisor lock.
 */
#include "frame.h"
#include "log.h"
#include "mm_hooks.h"

static struct frame *frame_table;
static uint64_t *m2p_table;
static uint64_t frames_total;

bool frame_table_init(struct frame *frames, uint64_t *m2p, uint64_t frames_count)
{
    if (frames == NULL || m2p == NULL || frames_count == 0 || frames_count > (1ull << 40))
        return false;
    for (uint64_t i = 0; i < frames_count; i++) {
        frames[i] = (struct frame){.owner = DOMID_INVALID, .type = FRAME_TYPE_NONE};
        m2p[i] = MM_M2P_INVALID;
    }
    frame_table = frames;
    m2p_table = m2p;
    frames_total = frames_count;
    return true;
}

uint64_t frame_table_count(void)
{
    return frames_total;
}

struct frame *frame_get(mfn_t m)
{
    if (mfn_x(m) >= frames_total)
        return NULL;
    return &frame_table[mfn_x(m)];
}

mfn_t frame_mfn(const struct frame *f)
{
    return mfn((uint64_t)(f - frame_table));
}

void frame_stamp(struct frame *f)
{
    f->tlbflush_timestamp = mm_flush_clock_now();
}

int frame_assign(mfn_t m, domid_t owner)
{
    struct frame *f = frame_get(m);

    if (f == NULL)
        return HV_ERANGE;
    if (owner == DOMID_INVALID)
        return HV_EINVAL;
    if (f->owner != DOMID_INVALID)
        return HV_EBUSY;
    BUG_ON(f->ref_count != 0 || f->type_count != 0 || f->flags != 0);
    f->owner = owner;
    f->ref_count = 1;
    f->flags = FRAME_F_ALLOCATED;
    f->type = FRAME_TYPE_NONE;
    m2p_table[mfn_x(m)] = MM_M2P_INVALID;
    mm_dma_frame(owner, m, true, true);
    return HV_OK;
}

int frame_release(mfn_t m, domid_t owner)
{
    struct frame *f = frame_get(m);

    if (f == NULL)
        return HV_ERANGE;
    if (f->owner != owner || owner == DOMID_INVALID || !(f->flags & FRAME_F_ALLOCATED))
        return HV_EPERM;
    if (f->ref_count != 1 || f->type_count != 0)
        return HV_EBUSY;
    BUG_ON(f->flags != FRAME_F_ALLOCATED);
    mm_dma_frame(owner, m, false, false); /* out of its devices' reach first */
    f->ref_count = 0;
    f->flags = 0;
    f->owner = DOMID_INVALID;
    f->type = FRAME_TYPE_NONE;
    m2p_table[mfn_x(m)] = MM_M2P_INVALID;
    frame_stamp(f);
    return HV_OK;
}

int frame_transfer(mfn_t m, domid_t from, domid_t to)
{
    struct frame *f = frame_get(m);

    if (f == NULL)
        return HV_ERANGE;
    if (to == DOMID_INVALID || to == DOMID_HV || to == from)
        return HV_EINVAL;
    if (f->owner != from || from == DOMID_INVALID || !(f->flags & FRAME_F_ALLOCATED))
        return HV_EPERM;
    if (f->ref_count != 1 || f->type_count != 0)
        return HV_EBUSY;
    BUG_ON(f->flags != FRAME_F_ALLOCATED);
    mm_dma_frame(from, m, false, false);
    f->owner = to;
    f->type = FRAME_TYPE_NONE;
    m2p_table[mfn_x(m)] = MM_M2P_INVALID;
    frame_stamp(f); /* the old owner's TLBs may still translate it */
    mm_dma_frame(to, m, true, true);
    return HV_OK;
}

bool frame_ref_get(struct frame *f)
{
    if (f->ref_count == UINT32_MAX)
        return false;
    f->ref_count++;
    return true;
}

void frame_ref_put(struct frame *f)
{
    /* The allocation reference is only dropped by frame_release, so a put
     * never frees a frame: it can only reach zero through a bug. */
    BUG_ON(f->ref_count <= ((f->flags & FRAME_F_ALLOCATED) ? 1u : 0u));
    f->ref_count--;
}

uint64_t frame_m2p_get(mfn_t m)
{
    if (mfn_x(m) >= frames_total)
        return MM_M2P_INVALID;
    return m2p_table[mfn_x(m)];
}

void frame_m2p_set(mfn_t m, uint64_t value)
{
    BUG_ON(mfn_x(m) >= frames_total);
    m2p_table[mfn_x(m)] = value;
}
