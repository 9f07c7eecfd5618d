/*
 * The logic of the memory-management hypercalls: batched PTE updates, M2P
 * updates, pin/unpin, new base pointer, local flush and invlpg, and the
 * "update the entry that maps this virtual address" convenience.
 *
 * These functions work on hypervisor memory only: the hypercall entry code
 * copies (and checks) guest arguments first, then calls them. Every value a
 * guest chose is still treated as hostile here: an error status comes back
 * and nothing changes. Status codes are enum hv_status (proto/include/hv/abi.h).
 *
 * Long operations (validating a big tree, devalidating one, unwinding a
 * failed validation) return HV_EAGAIN with their progress saved in struct
 * mm_domain; the same call made again continues it, and the call's result
 * comes when the work is done. While one is pending, every other pin,
 * new_baseptr and mmu_update of the domain is refused with HV_EBUSY, and so
 * is an unpin that would start a devalidation of its own (mm_cont_abort
 * cancels the pending one). No call does more than a budget of work
 * (pt_validate_budget() entries validated plus as many released).
 *
 * Not thread-safe: the caller holds the hypervisor lock.
 */
#ifndef HV_MM_OPS_H
#define HV_MM_OPS_H

#include "pt.h"
#include <hv/abi.h>

/* A preempted operation of a domain (see above). */
enum mm_cont_op {
    MM_CONT_NONE = 0,
    MM_CONT_PIN,      /* pin of `top` as `type` */
    MM_CONT_BASEPTR,  /* new_baseptr to `top` */
    MM_CONT_UPDATE,   /* mmu_update entry {ptr, val} (new target `top`) */
    MM_CONT_UNPIN,    /* unpin of `top` */
    MM_CONT_TEARDOWN, /* mm_domain_teardown */
};

/* What a pending operation is doing. */
enum mm_cont_phase {
    MM_PHASE_VALIDATE = 0, /* `top` is PARTIAL: validating it */
    MM_PHASE_DEVAL = 1,    /* `dv` is DEVAL: releasing it, then `status` is the result */
};

struct mm_cont {
    uint8_t op;    /* enum mm_cont_op */
    uint8_t type;  /* enum frame_type being validated on top */
    uint8_t phase; /* enum mm_cont_phase */
    int16_t status;
    mfn_t top; /* VALIDATE: holds a PARTIAL validation reference owned by this record */
    mfn_t dv;  /* DEVAL: holds the DEVAL frame's last type reference */
    uint64_t ptr;
    uint64_t val;
};

/* The memory-management state of one domain; embedded in the domain. */
struct mm_domain {
    domid_t id;
    mfn_t base; /* its current L4 (holds an L4 type reference) or INVALID_MFN */
    struct mm_cont cont;
    uint64_t teardown_next; /* mm_domain_teardown: next frame to look at for pins */
};

/*
 * One request of a mmu_update batch (the guest's layout: two uint64_t).
 * ptr = machine address of the target | command in bits 0..1.
 *   MM_UPDATE_CMD_PTE: ptr is the 8-byte-aligned machine address of an entry
 *     of a validated L1..L4 table the caller owns; val is the new entry.
 *   MM_UPDATE_CMD_M2P: ptr is the page-aligned machine address of a frame
 *     the caller owns; val its pfn (< MM_PFN_LIMIT) or MM_M2P_INVALID.
 * TO MOVE: the lead puts this layout into proto/include/hv/abi.h.
 */
struct mm_update_req {
    uint64_t ptr;
    uint64_t val;
};
_Static_assert(sizeof(struct mm_update_req) == 16, "mmu_update request layout");

#define MM_UPDATE_CMD_PTE 0u
#define MM_UPDATE_CMD_M2P 1u
#define MM_UPDATE_CMD_MASK 3ull

/* mm_update_va_mapping flags: at most one. */
#define MM_UVM_INVLPG 1u /* invalidate va on this CPU after the update */
#define MM_UVM_FLUSH 2u  /* flush this CPU's TLB after the update */

/* Sets up d for domain `id`: no base, no pending operation. */
void mm_domain_init(struct mm_domain *d, domid_t id);

/*
 * Applies reqs[0..count) in order, stopping at the first that fails or is
 * preempted. *done_count = requests applied. Returns HV_OK when all are
 * done, else the status of request *done_count (which changed nothing;
 * HV_EAGAIN: its validation or the release of what it replaced is under
 * way, or the batch did a budget's worth of work (pt_work) before it:
 * pass the same request, and those after it, again). The caller bounds
 * count per call (and makes the hypercall restartable).
 */
int mm_mmu_update(struct mm_domain *d, const struct mm_update_req *reqs, uint32_t count,
                  uint32_t *done_count);

/*
 * Pins frame m as a level-`level` table (1..4): validates it if needed and
 * holds a type reference until mm_unpin. HV_ERANGE (no such frame),
 * HV_EPERM (not the caller's), HV_EINVAL (bad level), HV_EEXIST (already
 * pinned), HV_EBUSY (in use as another type / being validated / another
 * operation pending), any validation error, or HV_EAGAIN (call again).
 */
int mm_pin(struct mm_domain *d, mfn_t m, unsigned level);

/*
 * Drops the pin of m. HV_ERANGE, HV_EPERM, HV_EINVAL (not pinned). The
 * table stays validated while other references (entries, a base) remain.
 */
int mm_unpin(struct mm_domain *d, mfn_t m);

/*
 * Makes L4 frame m the domain's base (validating it if needed), then
 * drops the old base's reference. Errors as mm_pin.
 */
int mm_new_baseptr(struct mm_domain *d, mfn_t m);

/* Flushes this CPU's TLB for the caller. Always HV_OK. */
int mm_flush_local(struct mm_domain *d);

/* Invalidates guest address va on this CPU. HV_EINVAL unless va is a
 * page-aligned guest address (below HV_GUEST_VA_LIMIT). */
int mm_invlpg(struct mm_domain *d, uint64_t va);

/*
 * Replaces the L1 entry that maps va in the domain's current base with val
 * (validated as any mmu_update), then applies `flags`. HV_EINVAL: va not a
 * page-aligned guest address, or bad flags; HV_ENOENT: no base, or no L1
 * table on the path to va; otherwise as a mmu_update PTE request.
 */
int mm_update_va_mapping(struct mm_domain *d, uint64_t va, uint64_t val, unsigned flags);

/*
 * Cancels the domain's pending operation, if any, releasing what it took, a
 * budget of work per call: HV_EAGAIN until done, then HV_OK (nothing
 * pending). The cancelled call, made again, starts afresh.
 */
int mm_cont_abort(struct mm_domain *d);

/*
 * Releases every reference the domain's memory state holds: the pending
 * operation, its base, its pins. Bounded: each call releases at most a
 * budget of entries and looks at most MM_TEARDOWN_SCAN frames for pins,
 * and returns HV_EAGAIN until it is done (HV_OK). Afterwards every frame it
 * owns has only its allocation reference, unless another domain maps it.
 * The domain must make no other call meanwhile.
 */
#define MM_TEARDOWN_SCAN 2048u
int mm_domain_teardown(struct mm_domain *d);

#endif /* HV_MM_OPS_H */
