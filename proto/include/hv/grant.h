/*
 * The guest-visible grant ABI: how a domain lets one other domain map or
 * copy one of its frames. docs/grants.md describes the same ABI in prose,
 * with the exact error of every case.
 *
 * Grant tables are NOT shared with the guest (unlike Xen's v1 tables): each
 * domain's table lives in hypervisor memory and changes only through the
 * grant hypercall, so the hypervisor never reads an entry the guest could
 * change under it. A grant is named by its reference (ref), an index into
 * the granter's table that the hypervisor chooses when the grant is made.
 *
 * A grantee maps a granted frame with an ordinary validated page-table
 * update (mmu_update, update_va_mapping) naming the frame's machine frame
 * number, or with HV_GRANT_MAP, which looks the frame up by ref and makes
 * the same update; it copies to or from it with HV_GRANT_COPY.
 *
 * Domains are named by slots of the caller's capability table (a domain
 * capability with HV_GRANT_DOM_RIGHT), following docs/capabilities.md; the
 * hypervisor stores the grantee's never-reused 64-bit uid.
 *
 * The hypercall is HC_GRANT_OP(enum hv_grant_cmd cmd, void *args); output
 * fields are written back to the struct by the dispatcher.
 *
 * Freestanding: no libc. Layouts are pinned by _Static_assert below.
 */
#ifndef HV_GRANT_H
#define HV_GRANT_H

#include <stddef.h>
#include <stdint.h>

#include "caps.h"

/* Entries per domain's grant table. Ref 0 is never used ("no grant"). */
#define HV_GRANT_REFS 1024u
#define HV_GRANT_REF_NONE 0u

/* The domain-capability right that lets a domain name another in a grant call. */
#define HV_GRANT_DOM_RIGHT HV_CAP_R_DOM_GRANT

/* Sub-commands of the grant hypercall. */
enum hv_grant_cmd {
    HV_GRANT_SET = 1,    /* struct hv_grant_set_args: granter makes a grant */
    HV_GRANT_END = 2,    /* struct hv_grant_ref_args: granter ends an unused grant */
    HV_GRANT_STATUS = 3, /* struct hv_grant_status_args: granter asks if in use */
    HV_GRANT_QUERY = 4,  /* struct hv_grant_query_args: grantee looks a grant up */
    HV_GRANT_COPY = 5,   /* struct hv_grant_copy_args: copy to/from granted frames */
    HV_GRANT_MAP = 6,    /* struct hv_grant_map_args: grantee maps by ref */
    HV_GRANT_UNMAP = 7,  /* struct hv_grant_map_args: grantee unmaps (va only) */
};

/* Grant flags (hv_grant_set_args.flags, hv_grant_status_args.flags). */
#define HV_GRANT_F_WRITE (1u << 0)  /* the grantee may write (map RW, copy into) */
#define HV_GRANT_F_IN_USE (1u << 1) /* status only: mapped (or its unmap not yet flushed) */
#define HV_GRANT_SET_FLAGS HV_GRANT_F_WRITE

/*
 * HV_GRANT_SET: grant frame `mfn` (owned by the caller) to the domain named
 * by the domain capability in `grantee_slot`, read-only or (HV_GRANT_F_WRITE)
 * read-write. On success `ref` receives the new grant's reference.
 * While the grant exists the frame stays the caller's, alive, and never
 * becomes a page table; releasing it (memory_op decrease) is refused.
 */
struct hv_grant_set_args {
    uint64_t mfn;
    uint32_t grantee_slot;
    uint32_t flags;    /* HV_GRANT_F_WRITE or 0 */
    uint32_t ref;      /* out */
    uint32_t reserved; /* must be 0 */
};

/* HV_GRANT_END: the granter ends grant `ref` (HV_EBUSY while in use). */
struct hv_grant_ref_args {
    uint32_t ref;
    uint32_t reserved; /* must be 0 */
};

/*
 * HV_GRANT_STATUS: the granter reads grant `ref`. HV_GRANT_F_IN_USE is clear
 * only when no mapping remains and every TLB that may have held one has been
 * flushed: then HV_GRANT_END will succeed.
 */
struct hv_grant_status_args {
    uint32_t ref;
    uint32_t flags;     /* out: HV_GRANT_F_WRITE | HV_GRANT_F_IN_USE */
    uint32_t map_count; /* out: page-table entries of the grantee mapping it */
    uint32_t reserved;  /* must be 0 */
    uint64_t mfn;       /* out */
};

/*
 * HV_GRANT_QUERY: the grantee looks up grant `ref` of the domain named by
 * `granter_slot` and learns its frame and flags (to map it itself).
 */
struct hv_grant_query_args {
    uint32_t granter_slot;
    uint32_t ref;
    uint64_t mfn;      /* out */
    uint32_t flags;    /* out: HV_GRANT_F_WRITE */
    uint32_t reserved; /* must be 0 */
};

/*
 * One side of a copy: either a grant (HV_GRANT_SEG_REF: `ref` of the domain
 * named by `domain_slot`, `mfn` must be 0) or a frame the caller owns
 * (`mfn`; `domain_slot` and `ref` must be 0). `offset` is the byte offset in
 * the frame.
 */
struct hv_grant_copy_seg {
    uint64_t mfn;
    uint32_t domain_slot;
    uint32_t ref;
    uint16_t offset;
    uint16_t seg_flags; /* HV_GRANT_SEG_REF or 0 */
    uint32_t reserved;  /* must be 0 */
};
#define HV_GRANT_SEG_REF (1u << 0)

/*
 * HV_GRANT_COPY: copies `len` bytes (1..4096) from src to dst; neither side
 * may cross the end of its frame. A granted destination needs
 * HV_GRANT_F_WRITE; an own destination must not be a page table.
 */
struct hv_grant_copy_args {
    struct hv_grant_copy_seg src;
    struct hv_grant_copy_seg dst;
    uint32_t len;
    uint32_t reserved; /* must be 0 */
};

/*
 * HV_GRANT_MAP: map grant `ref` of the domain named by `granter_slot` at the
 * page-aligned guest address `va` of the caller's current address space
 * (there must be an L1 table on the path), read-write if flags has
 * HV_GRANT_MAP_WRITE. Replaces whatever entry was there, like
 * update_va_mapping, and invalidates va on this CPU.
 * HV_GRANT_UNMAP: clears the entry at `va`, which must map a granted frame
 * (granter_slot, ref, flags must be 0).
 */
struct hv_grant_map_args {
    uint64_t va;
    uint32_t granter_slot;
    uint32_t ref;
    uint32_t flags;    /* HV_GRANT_MAP_WRITE or 0 */
    uint32_t reserved; /* must be 0 */
};
#define HV_GRANT_MAP_WRITE (1u << 0)

_Static_assert(sizeof(struct hv_grant_set_args) == 24, "grant set args layout");
_Static_assert(offsetof(struct hv_grant_set_args, ref) == 16, "grant set args layout");
_Static_assert(sizeof(struct hv_grant_ref_args) == 8, "grant ref args layout");
_Static_assert(sizeof(struct hv_grant_status_args) == 24, "grant status args layout");
_Static_assert(offsetof(struct hv_grant_status_args, mfn) == 16, "grant status args layout");
_Static_assert(sizeof(struct hv_grant_query_args) == 24, "grant query args layout");
_Static_assert(offsetof(struct hv_grant_query_args, mfn) == 8, "grant query args layout");
_Static_assert(sizeof(struct hv_grant_copy_seg) == 24, "grant copy segment layout");
_Static_assert(offsetof(struct hv_grant_copy_seg, offset) == 16, "grant copy segment layout");
_Static_assert(sizeof(struct hv_grant_copy_args) == 56, "grant copy args layout");
_Static_assert(offsetof(struct hv_grant_copy_args, len) == 48, "grant copy args layout");
_Static_assert(sizeof(struct hv_grant_map_args) == 24, "grant map args layout");
_Static_assert(offsetof(struct hv_grant_map_args, flags) == 16, "grant map args layout");

#endif /* HV_GRANT_H */
