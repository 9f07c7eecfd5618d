/*
 * The fake machine of the grant unit tests: a real frame table, real
 * page-table validation (hv/mm/pt.c, mm_ops.c, with the grant hooks) and
 * real capabilities (hv/core/cap.c) over malloc'ed memory; four fake
 * domains, each with a capability table, a grant table and memory state;
 * recording fakes of every hook; snapshots ("a refused call changes
 * nothing") and an independent audit of the reference rules F1..F9 and G1..G5.
 */
#ifndef TEST_GRANT_FAKE_H
#define TEST_GRANT_FAKE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cap.h"
#include "frame.h"
#include "grant.h"
#include "mm_hooks.h"
#include "mm_ops.h"
#include "pt.h"

#define FAKE_DOMS 4
#define FAKE_FREE_FRAMES 4 /* free frames at the end of the table */

/*
 * Capability slots every fake domain d holds: slot j < FAKE_DOMS names
 * domain j with every right (slot d names d itself); SLOT_NORIGHT names
 * domain (d+1)%4 without HV_GRANT_DOM_RIGHT; SLOT_CONSOLE is a console
 * capability; SLOT_EMPTY is empty.
 */
#define SLOT_NORIGHT 8u
#define SLOT_CONSOLE 9u
#define SLOT_EMPTY 20u

/* Frames of domain d's address space (built by fake_build_aspace). */
#define ASPACE_L4 0u
#define ASPACE_L3 1u
#define ASPACE_L2 2u
#define ASPACE_L1 3u
#define ASPACE_FIRST_DATA 4u /* first frame index free for data */

struct fake_dom {
    domid_t id;
    struct cap_object obj;
    struct cap_table caps;
    struct grant_table gt;
    struct mm_domain mm;
    bool dying; /* mm_cap_grant_table says HV_ENOENT, cap_domain_table NULL */
    bool gone;  /* grant_hook_table_of_domid returns NULL too */
};

struct fake_machine {
    uint64_t frames_count;
    uint64_t frames_per_dom;
    struct frame *frames;
    uint64_t *m2p;
    uint64_t *mem;
    uint64_t l4_template[PT_HV_L4_COUNT];
    struct cap_object console_obj;
    struct fake_dom doms[FAKE_DOMS];
    /* recorded hook calls */
    long maps_outstanding;
    uint32_t clock;
    unsigned tlb_local_flushes;
    unsigned invlpgs;
    unsigned grant_flushes;
    domid_t last_grant_flush;
    unsigned orphan_idle_calls;
    struct grant_table *last_orphan_idle;
    /* snap_check_same ignores (and clears) GRANT_E_FLUSH_PENDING: for a
     * refused validation, which counts and uncounts the entries it had
     * checked and so leaves a (harmless, conservative) flush pending. */
    bool snap_ignore_flush_pending;
    /* mm_dma_frame for frames a domain does not own (grants): which are in
     * its devices' reach now. */
    struct {
        domid_t dom;
        uint64_t mfn;
        bool writable;
    } dma[64];
    unsigned dma_count;
};

/* Whether dom's devices may reach foreign frame m (and write it). */
bool fake_dma_reach(domid_t dom, uint64_t m, bool *writable);

extern struct fake_machine *fm;

/* A fresh machine: frame 0 is the hypervisor's, domain i (id i+1, uid
 * 1000+i) owns frames [dom_frame(i, 0), dom_frame(i, frames_per_dom)),
 * then FAKE_FREE_FRAMES free frames. */
void fake_setup(uint64_t frames_per_dom);
void fake_teardown(void);
/* mm_domain_teardown called until done (each call is a bounded step). */
void mm_teardown_all(struct mm_domain *d);

static inline struct fake_dom *D(unsigned i)
{
    return &fm->doms[i];
}
uint64_t dom_frame(unsigned i, uint64_t k);
uint64_t *frame_mem(uint64_t m);
struct frame *F(uint64_t m);

/* Builds domain i's L4 -> L3 -> L2 -> L1 (its frames 0..3, mapping va
 * 0..2 MiB) and makes the L4 its base. */
void fake_build_aspace(unsigned i);
/* The machine address of the L1 entry of page index idx of domain i. */
uint64_t l1_entry_ptr(unsigned i, unsigned idx);
/* Writes entry val into domain i's L1 slot idx through mm_mmu_update. */
int map_pte(unsigned i, unsigned idx, uint64_t val);
/* A present user leaf entry for frame m (RW if rw). */
uint64_t leaf(uint64_t m, bool rw);

/* Grant helpers (the hypercall arguments built for the tests). */
int do_set(unsigned granter, unsigned grantee_slot, uint64_t m, uint32_t flags, uint32_t *ref);
int do_end(unsigned granter, uint32_t ref);
int do_status(unsigned granter, uint32_t ref, struct hv_grant_status_args *out);

struct snap {
    struct frame *frames;
    uint64_t *mem;
    struct grant_table *gts;
    unsigned grant_flushes;
};
void snap_take(struct snap *s);
/* Asserts no frame (but its TLB stamp and last type), no frame byte, no grant table and
 * no recorded grant flush changed since s; frees s. */
void snap_check_same(struct snap *s);

/* Independent audit: recomputes every frame's counts, every grant's
 * map_count and every table's maps_held from the page tables and grants. */
void audit(void);

#endif
