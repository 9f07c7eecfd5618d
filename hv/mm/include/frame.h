/*
 * The frame table: one struct frame per machine frame, recording who owns it,
 * what it is used as (its type) and how many references keep it alive.
 *
 * This header is the storage and the general-reference half of the memory
 * manager. Type references and page-table validation live in pt.h; the
 * hypercall logic in mm_ops.h; what the hypervisor must provide in
 * mm_hooks.h. docs/mm.md explains the whole design; the invariants are
 * listed at the top of hv/mm/frame.c.
 *
 * Not thread-safe: the caller holds the hypervisor lock (hv_lock) for
 * every call. Same source for the hypervisor and the host unit tests.
 */
#ifndef HV_FRAME_H
#define HV_FRAME_H

#include "types.h"
#include <hv/abi.h>

/*
 * What a frame is used as. A frame changes type only while its type count
 * is zero (and then type is FRAME_TYPE_NONE, see frame.c). L1..L4 are the
 * four x86_64 page-table levels; their numeric values equal the level.
 */
enum frame_type {
    FRAME_TYPE_NONE = 0, /* no type reference: plain memory */
    FRAME_TYPE_L1 = 1,   /* page table, level 1 (maps 4 KiB pages) */
    FRAME_TYPE_L2 = 2,
    FRAME_TYPE_L3 = 3,
    FRAME_TYPE_L4 = 4,       /* PML4 */
    FRAME_TYPE_WRITABLE = 5, /* mapped writable by at least one PTE */
    FRAME_TYPE_COUNT
};

/* struct frame.flags */
#define FRAME_F_ALLOCATED (1u << 0)     /* owner holds its allocation reference */
#define FRAME_F_VALIDATED (1u << 1)     /* page table whose entries are all checked */
#define FRAME_F_PARTIAL (1u << 2)       /* validation in progress (continuation) */
#define FRAME_F_CHILD_PARTIAL (1u << 3) /* entry partial_index's target is PARTIAL */
#define FRAME_F_PINNED (1u << 4)        /* the owner holds a pin reference */
#define FRAME_F_DEVAL (1u << 5)         /* devalidation in progress (continuation) */

/*
 * One machine frame. All counts are exact (see the invariants in frame.c):
 *   ref_count  = allocation reference + one per type reference + one per
 *                read-only PTE mapping + pins + base pointers + a validation
 *                in progress on this frame;
 *   type_count = type references (writable PTEs, PTEs of the level above,
 *                pins, base pointers, a validation in progress).
 * partial_index is the continuation point of a validation in progress
 * (PARTIAL) or of a devalidation in progress (DEVAL): in both, entries
 * [0, partial_index) hold their references; a validation advances it, a
 * devalidation releases entries from the top down. CHILD_PARTIAL marks the
 * entry whose target is itself PARTIAL (entry partial_index, holding its
 * validation reference) or DEVAL (entry partial_index - 1, holding its last
 * type reference).
 */
struct frame {
    uint32_t ref_count;
    uint32_t type_count;
    uint32_t tlbflush_timestamp; /* flush clock when it last lost a type / was freed */
    domid_t owner;               /* DOMID_INVALID if free, DOMID_HV for the hypervisor's */
    uint16_t partial_index;      /* 0..512, meaningful only with PARTIAL or DEVAL */
    uint8_t type;                /* enum frame_type */
    uint8_t flags;               /* FRAME_F_* */
    uint8_t last_type;           /* type before the type count last dropped to 0 */
    uint8_t reserved;
};

_Static_assert(sizeof(struct frame) == 20, "struct frame stays small");

/* Value of an M2P entry that maps to no pseudophysical frame. */
#define MM_M2P_INVALID (~0ull)
/* M2P values a guest may store are below this (40-bit pfns) or MM_M2P_INVALID. */
#define MM_PFN_LIMIT (1ull << 40)

/*
 * Installs the frame table. `frames` has frames_count entries and `m2p`
 * frames_count uint64_t (the machine-to-pseudophysical table, indexed by
 * mfn, which the hypervisor maps read-only into guests). Every frame starts
 * free (owner DOMID_INVALID, counts 0) and every M2P entry MM_M2P_INVALID.
 * Called once at boot (and by each host test). Returns false if an argument
 * is NULL or frames_count is 0 or does not fit a 40-bit mfn.
 */
bool frame_table_init(struct frame *frames, uint64_t *m2p, uint64_t frames_count);

/* Number of frames in the table. */
uint64_t frame_table_count(void);

/* The frame of m, or NULL if m is outside the table. Never fails otherwise. */
struct frame *frame_get(mfn_t m);

/* The mfn of a frame returned by frame_get. */
mfn_t frame_mfn(const struct frame *f);

/*
 * Gives free frame m to domain `owner` (a guest domid or DOMID_HV) with its
 * allocation reference (ref_count 1), type NONE, M2P entry invalid.
 * Called by the allocator / domain builder, never with guest input unchecked.
 * HV_ERANGE: m outside the table; HV_EINVAL: owner is DOMID_INVALID;
 * HV_EBUSY: m is not free. Nothing changes on error.
 */
int frame_assign(mfn_t m, domid_t owner);

/*
 * Takes frame m back from `owner`: drops its allocation reference and makes it
 * free, recording the flush clock in tlbflush_timestamp (whoever hands the
 * frame out again must flush TLBs that may be older, then scrub it).
 * Refused unless the frame is owned by `owner`, allocated, and only the
 * allocation reference remains (no mapping, pin, type or base pointer):
 * HV_ERANGE, HV_EPERM (not the owner), HV_EBUSY (still in use).
 */
int frame_release(mfn_t m, domid_t owner);

/*
 * Moves frame m from domain `from` to domain `to` (a domain builder giving
 * a filled frame to the domain it builds). Same conditions as
 * frame_release (only the allocation reference left: no mapping, pin,
 * type or base pointer); the M2P entry becomes invalid and the flush clock
 * is recorded: the caller must flush TLBs that may still translate it
 * before `to` can use it. HV_ERANGE, HV_EINVAL (to is not a guest or is
 * from), HV_EPERM (not from's), HV_EBUSY (in use).
 */
int frame_transfer(mfn_t m, domid_t from, domid_t to);

/*
 * General references. frame_ref_get fails (false, nothing changed) if the
 * count would overflow; frame_ref_put requires a held reference (an
 * internal invariant: breaking it stops the hypervisor: BUG_ON).
 */
bool frame_ref_get(struct frame *f);
void frame_ref_put(struct frame *f);

/* The M2P entry of m (MM_M2P_INVALID when m is outside the table). */
uint64_t frame_m2p_get(mfn_t m);
/* Sets the M2P entry of m; the caller has checked m and value. */
void frame_m2p_set(mfn_t m, uint64_t value);

/* The current flush-clock value recorded when a frame loses a type. */
void frame_stamp(struct frame *f);

#endif /* HV_FRAME_H */
