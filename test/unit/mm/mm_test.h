/*
 * Shared helpers of the memory-manager unit tests: a fake machine (frame
 * table, M2P and frame contents over malloc'ed memory), recorded hook calls,
 * snapshots for "a refused call changes nothing", and an independent audit
 * of the frame-table invariants (mm_audit.c).
 */
#ifndef MM_TEST_H
#define MM_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "frame.h"
#include "mm_hooks.h"
#include "mm_ops.h"
#include "pt.h"

/* Domains used by the tests. */
#define DOM_A ((domid_t)1)
#define DOM_B ((domid_t)2)

/* The fake machine. */
struct fake {
    uint64_t frames_count;
    struct frame *frames;
    uint64_t *m2p;
    uint64_t *mem; /* frames_count * 512 entries */
    uint64_t l4_template[PT_HV_L4_COUNT];
    long maps_outstanding; /* mm_frame_map minus mm_frame_unmap */
    unsigned flush_calls;
    unsigned invlpg_calls;
    uint64_t last_invlpg_va;
    uint32_t clock; /* advanced by every flush */
    unsigned load_base_calls;
    domid_t running_dom; /* mm_load_base returns true for this one */
    mfn_t last_loaded_base;
    /* mm_may_map_foreign answers true for the pairs listed here. */
    struct {
        domid_t dom;
        uint64_t mfn;
        bool writable_ok;
    } foreign[8];
    unsigned foreign_count;
    /* mm_dma_frame's view: the domain whose devices reach each frame
     * (DOMID_INVALID: none), and breaches of the ordering rule seen. */
    domid_t *dma_dom;
    unsigned dma_calls, dma_order_breaches;
};
extern struct fake fake;

/* Sets up a fresh machine of frames_count frames (frame 0 and 1 are owned
 * by the hypervisor; the template points at frame 1) with the given
 * MAXPHYADDR and validation budget. */
void fake_setup(uint64_t frames_count, unsigned maxphyaddr_bits, uint32_t budget);
void fake_teardown(void);

/* The contents of frame m (test writes = the guest's writes through its
 * writable mappings, or the domain builder's). */
uint64_t *fake_frame(uint64_t m);
/* A present user entry pointing at m with extra flags. */
uint64_t pte(uint64_t m, uint64_t flags);
/* Lets dom map m (another domain's) read-only, or also writable. */
void fake_allow_foreign(domid_t dom, uint64_t m, bool writable_ok);
/* Assigns frames [first, first+count) to dom. */
void give(domid_t dom, uint64_t first, uint64_t count);

/* Snapshot of every frame's counts, type and flags, the M2P and contents. */
struct snap {
    struct frame *frames;
    uint64_t *m2p;
    uint64_t *mem;
};
void snap_take(struct snap *s);
/* Asserts nothing changed since s (except TLB time stamps), frees s. */
void snap_check_same(struct snap *s);
/* Frees s without checking. */
void snap_drop(struct snap *s);

/*
 * Independent audit of invariants F1..F9 (hv/mm/frame.c): recomputes every
 * frame's ref_count and type_count from the tables, pins, the bases and
 * pending continuations of doms[0..n) and fails the test on any mismatch.
 */
void mm_audit(struct mm_domain *const *doms, unsigned n);

/* mm_domain_teardown / mm_cont_abort called until done (each call does a
 * bounded step; fails the test after 100,000 steps). */
void mm_teardown_all(struct mm_domain *d);
void mm_abort_all(struct mm_domain *d);

/* One-request mmu_update; returns its status. */
int upd(struct mm_domain *d, uint64_t ptr, uint64_t val);
/* Machine address of entry i of table m. */
uint64_t eaddr(uint64_t m, unsigned i);

/* Shorthand for a frame's state in assertions. */
static inline const struct frame *F(uint64_t m)
{
    return frame_get(mfn(m));
}

/* Asserts that `call` returns `want` and changed nothing at all (a snapshot
 * of every frame before and after), then audits the counts. Uses the test
 * file's `doms` array of its two domains. */
#define REFUSED(want, call)                                                                        \
    do {                                                                                           \
        struct snap s_;                                                                            \
        snap_take(&s_);                                                                            \
        assert_int_equal((call), (want));                                                          \
        snap_check_same(&s_);                                                                      \
        mm_audit(doms, 2);                                                                         \
    } while (0)

/* A cmocka group teardown: the final audit of the two domains, then the fake
 * machine goes away. */
int mm_test_teardown(struct mm_domain *const *doms, unsigned n);

#endif
