/*
 * The hypercall logic: mmu_update batches (with a bad entry in the middle),
 * request decoding, M2P updates, pin/unpin, new_baseptr, flush decisions,
 * update_va_mapping, frame assign/release/transfer and domain teardown.
 * Frames: 0,1 hypervisor; 2..31 DOM_A; 32..47 DOM_B; 48..63 free.
 */
#include "mm_test.h"

static struct mm_domain da, db;
static struct mm_domain *const doms[] = {&da, &db};

static int setup(void **state)
{
    (void)state;
    fake_setup(64, 52, 4096);
    give(DOM_A, 2, 30);
    give(DOM_B, 32, 16);
    mm_domain_init(&da, DOM_A);
    mm_domain_init(&db, DOM_B);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return mm_test_teardown(doms, 2);
}

/* A batch stops at its first bad request: the ones before it took effect,
 * the count says how many, the bad one and those after it changed nothing. */
static void test_batch_bad_entry_in_middle(void **state)
{
    (void)state;
    assert_int_equal(mm_pin(&da, mfn(5), 1), HV_OK);
    const struct mm_update_req reqs[] = {
        {eaddr(5, 0), pte(20, HV_PTE_RW)},
        {eaddr(5, 1), pte(21, 0)},
        {(22ull << PAGE_SHIFT) | MM_UPDATE_CMD_M2P, 7},
        {eaddr(5, 2), pte(22, HV_PTE_G)}, /* bad */
        {eaddr(5, 3), pte(23, HV_PTE_RW)},
        {(23ull << PAGE_SHIFT) | MM_UPDATE_CMD_M2P, 8},
    };
    uint32_t done = 99;
    assert_int_equal(mm_mmu_update(&da, reqs, ARRAY_SIZE(reqs), &done), HV_EINVAL);
    assert_int_equal(done, 3);
    assert_int_equal(fake_frame(5)[0], pte(20, HV_PTE_RW));
    assert_int_equal(fake_frame(5)[1], pte(21, 0));
    assert_int_equal(fake_frame(5)[2], 0);
    assert_int_equal(fake_frame(5)[3], 0);
    assert_int_equal(frame_m2p_get(mfn(22)), 7);
    assert_int_equal(frame_m2p_get(mfn(23)), MM_M2P_INVALID);
    assert_int_equal(F(20)->type, FRAME_TYPE_WRITABLE);
    assert_int_equal(F(21)->ref_count, 2);
    assert_int_equal(F(22)->ref_count, 1);
    assert_int_equal(F(23)->ref_count, 1);
    mm_audit(doms, 2);
    /* The rest of the batch, resubmitted from the bad one fixed. */
    struct mm_update_req rest[3] = {reqs[3], reqs[4], reqs[5]};
    rest[0].val = pte(22, 0);
    assert_int_equal(mm_mmu_update(&da, rest, 3, &done), HV_OK);
    assert_int_equal(done, 3);
    assert_int_equal(frame_m2p_get(mfn(23)), 8);
    /* An empty batch does nothing. */
    REFUSED(HV_OK, mm_mmu_update(&da, rest, 0, &done));
    assert_int_equal(done, 0);
}

/* Every malformed request pointer is refused with its own status. */
static void test_update_request_decoding(void **state)
{
    (void)state;
    assert_int_equal(mm_pin(&da, mfn(5), 1), HV_OK);
    assert_int_equal(mm_pin(&db, mfn(40), 1), HV_OK);
    REFUSED(HV_EINVAL, upd(&da, eaddr(5, 1) | 4, 0)); /* misaligned */
    REFUSED(HV_EINVAL, upd(&da, eaddr(5, 1) | 2, 0)); /* unknown command */
    REFUSED(HV_EINVAL, upd(&da, eaddr(5, 1) | 3, 0)); /* unknown command */
    REFUSED(HV_EINVAL, upd(&da, eaddr(20, 0), 0));    /* not a table */
    REFUSED(HV_EPERM, upd(&da, eaddr(40, 0), 0));     /* another's table */
    REFUSED(HV_EPERM, upd(&da, eaddr(1, 0), 0));      /* the hypervisor's */
    REFUSED(HV_ERANGE, upd(&da, eaddr(64, 0), 0));    /* no such frame */
    REFUSED(HV_ERANGE, upd(&da, ~7ull, 0));           /* no such frame */
    /* M2P requests. */
    REFUSED(HV_EINVAL, upd(&da, (20ull << PAGE_SHIFT) | 8 | MM_UPDATE_CMD_M2P, 1));
    REFUSED(HV_EPERM, upd(&da, (40ull << PAGE_SHIFT) | MM_UPDATE_CMD_M2P, 1));
    REFUSED(HV_ERANGE, upd(&da, (64ull << PAGE_SHIFT) | MM_UPDATE_CMD_M2P, 1));
    REFUSED(HV_ERANGE, upd(&da, (20ull << PAGE_SHIFT) | MM_UPDATE_CMD_M2P, MM_PFN_LIMIT));
    assert_int_equal(upd(&da, (20ull << PAGE_SHIFT) | MM_UPDATE_CMD_M2P, MM_PFN_LIMIT - 1), HV_OK);
    assert_int_equal(frame_m2p_get(mfn(20)), MM_PFN_LIMIT - 1);
    assert_int_equal(upd(&da, (20ull << PAGE_SHIFT) | MM_UPDATE_CMD_M2P, MM_M2P_INVALID), HV_OK);
    assert_int_equal(frame_m2p_get(mfn(20)), MM_M2P_INVALID);
}

/* Replacing an entry takes the new references before dropping the old. */
static void test_update_moves_references(void **state)
{
    (void)state;
    assert_int_equal(mm_pin(&da, mfn(5), 1), HV_OK);
    assert_int_equal(upd(&da, eaddr(5, 0), pte(20, HV_PTE_RW)), HV_OK);
    assert_int_equal(upd(&da, eaddr(5, 0), pte(20, HV_PTE_RW | HV_PTE_A)), HV_OK);
    assert_int_equal(F(20)->type_count, 1);
    assert_int_equal(upd(&da, eaddr(5, 0), pte(21, HV_PTE_RW)), HV_OK);
    assert_int_equal(F(20)->type, FRAME_TYPE_NONE);
    assert_int_equal(F(20)->ref_count, 1);
    assert_int_equal(F(21)->type, FRAME_TYPE_WRITABLE);
    assert_int_equal(upd(&da, eaddr(5, 0), pte(21, 0)), HV_OK);
    assert_int_equal(F(21)->type, FRAME_TYPE_NONE);
    assert_int_equal(F(21)->ref_count, 2);
    /* An L2 entry validates a fresh L1 and its mappings; removing it
     * devalidates that L1 and releases them. */
    assert_int_equal(mm_pin(&da, mfn(4), 2), HV_OK);
    fake_frame(6)[0] = pte(22, HV_PTE_RW);
    fake_frame(6)[1] = pte(23, 0);
    assert_int_equal(upd(&da, eaddr(4, 0), pte(6, HV_PTE_RW)), HV_OK);
    assert_true(F(6)->flags & FRAME_F_VALIDATED);
    assert_int_equal(F(22)->type, FRAME_TYPE_WRITABLE);
    assert_int_equal(F(23)->ref_count, 2);
    mm_audit(doms, 2);
    assert_int_equal(upd(&da, eaddr(4, 0), 0), HV_OK);
    assert_int_equal(F(6)->type, FRAME_TYPE_NONE);
    assert_int_equal(F(6)->ref_count, 1);
    assert_int_equal(F(22)->type, FRAME_TYPE_NONE);
    assert_int_equal(F(22)->ref_count, 1);
    assert_int_equal(F(23)->ref_count, 1);
    /* A bad L1 behind a new L2 entry: refused, nothing left behind. */
    fake_frame(6)[200] = pte(40, 0);
    REFUSED(HV_EPERM, upd(&da, eaddr(4, 0), pte(6, HV_PTE_RW)));
}

static void test_pin_unpin(void **state)
{
    (void)state;
    REFUSED(HV_EINVAL, mm_pin(&da, mfn(5), 0));
    REFUSED(HV_EINVAL, mm_pin(&da, mfn(5), 5));
    REFUSED(HV_ERANGE, mm_pin(&da, mfn(64), 1));
    REFUSED(HV_EPERM, mm_pin(&da, mfn(40), 1));
    REFUSED(HV_EPERM, mm_pin(&da, mfn(0), 1));
    REFUSED(HV_EPERM, mm_pin(&da, mfn(55), 1)); /* free */
    assert_int_equal(mm_pin(&da, mfn(5), 1), HV_OK);
    assert_true(F(5)->flags & FRAME_F_PINNED);
    assert_int_equal(F(5)->type_count, 1);
    assert_int_equal(F(5)->ref_count, 2);
    REFUSED(HV_EEXIST, mm_pin(&da, mfn(5), 1)); /* double pin */
    REFUSED(HV_EEXIST, mm_pin(&da, mfn(5), 2)); /* pinned as another type */
    fake_frame(4)[0] = pte(5, HV_PTE_RW);
    assert_int_equal(mm_pin(&da, mfn(4), 2), HV_OK); /* uses L1 5 */
    REFUSED(HV_EEXIST, mm_pin(&da, mfn(4), 2));
    REFUSED(HV_EEXIST, mm_pin(&da, mfn(4), 3)); /* pinned: whatever the type */
    REFUSED(HV_EPERM, mm_unpin(&db, mfn(5)));
    REFUSED(HV_ERANGE, mm_unpin(&da, mfn(64)));
    REFUSED(HV_EINVAL, mm_unpin(&da, mfn(7)));
    /* Unpinning a table still in use keeps it validated. */
    assert_int_equal(mm_unpin(&da, mfn(5)), HV_OK);
    assert_int_equal(F(5)->type, FRAME_TYPE_L1);
    assert_int_equal(F(5)->type_count, 1);
    assert_true(F(5)->flags & FRAME_F_VALIDATED);
    REFUSED(HV_EINVAL, mm_unpin(&da, mfn(5))); /* not pinned any more */
    REFUSED(HV_EBUSY, mm_pin(&da, mfn(5), 2)); /* an L1 in use, as an L2 */
    assert_int_equal(mm_unpin(&da, mfn(4)), HV_OK);
    assert_int_equal(F(5)->type, FRAME_TYPE_NONE);
    assert_int_equal(F(5)->ref_count, 1);
}

static void test_new_baseptr(void **state)
{
    (void)state;
    fake.running_dom = DOM_A;
    fake_frame(2)[0] = pte(3, HV_PTE_RW);
    REFUSED(HV_ERANGE, mm_new_baseptr(&da, mfn(64)));
    REFUSED(HV_EPERM, mm_new_baseptr(&da, mfn(40)));
    assert_int_equal(mm_new_baseptr(&da, mfn(2)), HV_OK);
    assert_int_equal(mfn_x(da.base), 2);
    assert_int_equal(fake.load_base_calls, 1);
    assert_int_equal(mfn_x(fake.last_loaded_base), 2);
    assert_int_equal(F(2)->type, FRAME_TYPE_L4);
    assert_int_equal(F(3)->type, FRAME_TYPE_L3);
    /* The same base again: no change in counts. */
    assert_int_equal(mm_new_baseptr(&da, mfn(2)), HV_OK);
    assert_int_equal(F(2)->type_count, 1);
    /* A table of another level: refused. */
    REFUSED(HV_EBUSY, mm_new_baseptr(&da, mfn(3)));
    /* Switching drops the old base, which devalidates (not pinned). */
    assert_int_equal(mm_new_baseptr(&da, mfn(9)), HV_OK);
    assert_int_equal(F(2)->type, FRAME_TYPE_NONE);
    assert_int_equal(F(3)->type, FRAME_TYPE_NONE);
    assert_int_equal(F(2)->ref_count, 1);
    /* A pinned old base stays validated. */
    assert_int_equal(mm_pin(&da, mfn(9), 4), HV_OK);
    assert_int_equal(mm_new_baseptr(&da, mfn(2)), HV_OK);
    assert_int_equal(F(9)->type_count, 1);
    assert_true(F(9)->flags & FRAME_F_VALIDATED);
    /* Domain B is not running: load_base returns false. */
    assert_int_equal(mm_new_baseptr(&db, mfn(33)), HV_OK);
    assert_int_equal(mfn_x(db.base), 33);
}

/* Which TLB hooks run, and when. */
static void test_flush_decisions(void **state)
{
    (void)state;
    unsigned flushes = fake.flush_calls;
    assert_int_equal(mm_flush_local(&da), HV_OK);
    assert_int_equal(fake.flush_calls, flushes + 1);
    assert_int_equal(mm_invlpg(&da, 0x400000), HV_OK);
    assert_int_equal(fake.invlpg_calls, 1);
    assert_int_equal(fake.last_invlpg_va, 0x400000);
    assert_int_equal(mm_invlpg(&da, HV_GUEST_VA_LIMIT), HV_EINVAL);
    assert_int_equal(mm_invlpg(&da, 0x400010), HV_EINVAL);
    assert_int_equal(mm_invlpg(&da, ~0xfffull), HV_EINVAL);
    assert_int_equal(fake.invlpg_calls, 1);

    /* A frame that was writable becomes an L1: its stale writable
     * translations must go first, so exactly one local flush. */
    assert_int_equal(mm_pin(&da, mfn(5), 1), HV_OK);
    assert_int_equal(upd(&da, eaddr(5, 0), pte(20, HV_PTE_RW)), HV_OK);
    assert_int_equal(upd(&da, eaddr(5, 0), 0), HV_OK);
    flushes = fake.flush_calls;
    assert_int_equal(mm_pin(&da, mfn(20), 1), HV_OK);
    assert_int_equal(fake.flush_calls, flushes + 1);
    /* Re-taking the same type it last had needs no flush. */
    assert_int_equal(mm_unpin(&da, mfn(20)), HV_OK);
    assert_int_equal(mm_pin(&da, mfn(20), 1), HV_OK);
    assert_int_equal(fake.flush_calls, flushes + 1);
    /* A writable mapping of a frame that was writable before, after a
     * flush: none either. */
    assert_int_equal(upd(&da, eaddr(5, 1), pte(21, HV_PTE_RW)), HV_OK);
    assert_int_equal(upd(&da, eaddr(5, 1), 0), HV_OK);
    assert_int_equal(mm_flush_local(&da), HV_OK);
    flushes = fake.flush_calls;
    assert_int_equal(upd(&da, eaddr(5, 1), pte(21, HV_PTE_RW)), HV_OK);
    /* And a frame whose stamp predates the last flush changes type
     * without one. */
    assert_int_equal(upd(&da, eaddr(5, 2), pte(22, HV_PTE_RW)), HV_OK);
    assert_int_equal(upd(&da, eaddr(5, 2), 0), HV_OK);
    assert_int_equal(mm_flush_local(&da), HV_OK);
    flushes = fake.flush_calls;
    assert_int_equal(mm_pin(&da, mfn(22), 2), HV_OK);
    assert_int_equal(fake.flush_calls, flushes);
    /* A CR3 load counts as a flush. */
    fake.running_dom = DOM_A;
    assert_int_equal(upd(&da, eaddr(5, 3), pte(23, HV_PTE_RW)), HV_OK);
    assert_int_equal(upd(&da, eaddr(5, 3), 0), HV_OK);
    assert_int_equal(mm_new_baseptr(&da, mfn(2)), HV_OK);
    flushes = fake.flush_calls;
    assert_int_equal(mm_pin(&da, mfn(23), 1), HV_OK);
    assert_int_equal(fake.flush_calls, flushes);
}

static void test_update_va_mapping(void **state)
{
    (void)state;
    const uint64_t va = 0x0000123456789000ull;
    const unsigned i4 = (va >> 39) & 511, i3 = (va >> 30) & 511, i2 = (va >> 21) & 511,
                   i1 = (va >> 12) & 511;
    REFUSED(HV_ENOENT, mm_update_va_mapping(&da, va, 0, 0)); /* no base */
    fake_frame(2)[i4] = pte(3, HV_PTE_RW);
    fake_frame(3)[i3] = pte(4, HV_PTE_RW);
    assert_int_equal(mm_new_baseptr(&da, mfn(2)), HV_OK);
    REFUSED(HV_ENOENT, mm_update_va_mapping(&da, va, pte(20, HV_PTE_RW), 0)); /* no L1 */
    assert_int_equal(upd(&da, eaddr(4, i2), pte(5, HV_PTE_RW)), HV_OK);
    REFUSED(HV_EINVAL, mm_update_va_mapping(&da, va + 8, pte(20, HV_PTE_RW), 0));
    REFUSED(HV_EINVAL, mm_update_va_mapping(&da, HV_GUEST_VA_LIMIT, pte(20, HV_PTE_RW), 0));
    REFUSED(HV_EINVAL, mm_update_va_mapping(&da, va, pte(20, HV_PTE_RW), 3));
    REFUSED(HV_EBUSY, mm_update_va_mapping(&da, va, pte(5, HV_PTE_RW), MM_UVM_INVLPG));
    REFUSED(HV_EPERM, mm_update_va_mapping(&da, va, pte(40, 0), MM_UVM_INVLPG));
    assert_int_equal(fake.invlpg_calls, 0);
    assert_int_equal(mm_update_va_mapping(&da, va, pte(20, HV_PTE_RW), MM_UVM_INVLPG), HV_OK);
    assert_int_equal(fake_frame(5)[i1], pte(20, HV_PTE_RW));
    assert_int_equal(F(20)->type, FRAME_TYPE_WRITABLE);
    assert_int_equal(fake.invlpg_calls, 1);
    assert_int_equal(fake.last_invlpg_va, va);
    unsigned flushes = fake.flush_calls;
    assert_int_equal(mm_update_va_mapping(&da, va, 0, MM_UVM_FLUSH), HV_OK);
    assert_int_equal(fake.flush_calls, flushes + 1);
    assert_int_equal(F(20)->type, FRAME_TYPE_NONE);
}

static void test_frame_assign_release(void **state)
{
    (void)state;
    REFUSED(HV_ERANGE, frame_assign(mfn(64), DOM_A));
    REFUSED(HV_EBUSY, frame_assign(mfn(20), DOM_B));
    REFUSED(HV_EINVAL, frame_assign(mfn(50), DOMID_INVALID));
    assert_int_equal(mm_pin(&da, mfn(5), 1), HV_OK);
    assert_int_equal(upd(&da, eaddr(5, 0), pte(20, 0)), HV_OK);
    REFUSED(HV_EBUSY, frame_release(mfn(20), DOM_A)); /* mapped */
    REFUSED(HV_EBUSY, frame_release(mfn(5), DOM_A));  /* pinned table */
    REFUSED(HV_EPERM, frame_release(mfn(21), DOM_B)); /* not the owner */
    REFUSED(HV_EPERM, frame_release(mfn(50), DOM_B)); /* free */
    REFUSED(HV_ERANGE, frame_release(mfn(64), DOM_A));
    assert_int_equal(upd(&da, eaddr(5, 0), 0), HV_OK);
    fake.clock = 41;
    assert_int_equal(upd(&da, (20ull << PAGE_SHIFT) | MM_UPDATE_CMD_M2P, 3), HV_OK);
    assert_int_equal(frame_release(mfn(20), DOM_A), HV_OK);
    assert_int_equal(F(20)->owner, DOMID_INVALID);
    assert_int_equal(F(20)->ref_count, 0);
    assert_int_equal(F(20)->tlbflush_timestamp, 41);
    assert_int_equal(frame_m2p_get(mfn(20)), MM_M2P_INVALID);
    REFUSED(HV_EPERM, frame_release(mfn(20), DOM_A));     /* double free */
    REFUSED(HV_EPERM, upd(&da, eaddr(5, 0), pte(20, 0))); /* now unmappable */
    assert_int_equal(frame_assign(mfn(20), DOM_B), HV_OK);
    assert_int_equal(F(20)->owner, DOM_B);
}

/*
 * frame_transfer (a domain builder gives a frame to the domain it builds):
 * every refusal changes nothing; a transfer moves ownership and nothing
 * else, forgets the pseudophysical number and stamps the flush clock
 * (the old owner's TLBs may still translate the frame).
 */
static void test_frame_transfer(void **state)
{
    const domid_t dom_c = 3;

    (void)state;
    REFUSED(HV_ERANGE, frame_transfer(mfn(64), DOM_A, DOM_B));
    REFUSED(HV_ERANGE, frame_transfer(mfn(UINT64_MAX >> 12), DOM_A, DOM_B));
    REFUSED(HV_EINVAL, frame_transfer(mfn(20), DOM_A, DOM_A));
    REFUSED(HV_EINVAL, frame_transfer(mfn(20), DOM_A, DOMID_INVALID));
    REFUSED(HV_EINVAL, frame_transfer(mfn(20), DOM_A, DOMID_HV));
    REFUSED(HV_EPERM, frame_transfer(mfn(33), DOM_A, dom_c)); /* DOM_B's */
    REFUSED(HV_EPERM, frame_transfer(mfn(20), DOM_B, dom_c)); /* DOM_A's */
    REFUSED(HV_EPERM, frame_transfer(mfn(50), DOM_A, DOM_B)); /* free */
    REFUSED(HV_EPERM, frame_transfer(mfn(50), DOMID_INVALID, DOM_B));
    REFUSED(HV_EPERM, frame_transfer(mfn(1), DOM_A, DOM_B)); /* the hypervisor's */

    /* In use: mapped read-only (an extra reference, no type), mapped
     * writable (typed), a pinned table, a reference held by someone else
     * (as a grant mapping holds one). */
    assert_int_equal(mm_pin(&da, mfn(5), 1), HV_OK);
    assert_int_equal(upd(&da, eaddr(5, 0), pte(20, HV_PTE_RW)), HV_OK);
    assert_int_equal(upd(&da, eaddr(5, 1), pte(21, 0)), HV_OK);
    assert_int_equal(F(21)->ref_count, 2);
    assert_int_equal(F(21)->type_count, 0);
    REFUSED(HV_EBUSY, frame_transfer(mfn(21), DOM_A, DOM_B));
    assert_int_equal(F(20)->type, FRAME_TYPE_WRITABLE);
    REFUSED(HV_EBUSY, frame_transfer(mfn(20), DOM_A, DOM_B));
    REFUSED(HV_EBUSY, frame_transfer(mfn(5), DOM_A, DOM_B));
    /* (The audit cannot account for this reference: checked by hand.) */
    assert_true(frame_ref_get(frame_get(mfn(22))));
    assert_int_equal(frame_transfer(mfn(22), DOM_A, DOM_B), HV_EBUSY);
    assert_int_equal(F(22)->owner, DOM_A);
    assert_int_equal(F(22)->ref_count, 2);
    assert_int_equal(F(22)->flags, FRAME_F_ALLOCATED);
    frame_ref_put(frame_get(mfn(22)));
    mm_audit(doms, 2);
    /* Refusal order: ownership is checked before use, range before all. */
    REFUSED(HV_EPERM, frame_transfer(mfn(20), DOM_B, dom_c));
    REFUSED(HV_EINVAL, frame_transfer(mfn(20), DOM_A, DOM_A));

    /* Success: unmapped, untyped, only the allocation reference. */
    assert_int_equal(upd(&da, eaddr(5, 0), 0), HV_OK);
    assert_int_equal(upd(&da, (20ull << PAGE_SHIFT) | MM_UPDATE_CMD_M2P, 9), HV_OK);
    assert_int_equal(frame_m2p_get(mfn(20)), 9);
    assert_int_equal(F(20)->type, FRAME_TYPE_NONE);
    unsigned flushes = fake.flush_calls;
    fake.clock = 77;
    assert_int_equal(frame_transfer(mfn(20), DOM_A, DOM_B), HV_OK);
    assert_int_equal(F(20)->owner, DOM_B);
    assert_int_equal(F(20)->ref_count, 1);
    assert_int_equal(F(20)->type_count, 0);
    assert_int_equal(F(20)->type, FRAME_TYPE_NONE);
    assert_int_equal(F(20)->flags, FRAME_F_ALLOCATED);
    assert_int_equal(F(20)->tlbflush_timestamp, 77);
    assert_int_equal(frame_m2p_get(mfn(20)), MM_M2P_INVALID);
    assert_int_equal(fake.flush_calls, flushes); /* stamps, does not flush */
    unsigned owned_a = 0, owned_b = 0;
    for (uint64_t m = 0; m < 64; m++) {
        owned_a += F(m)->owner == DOM_A;
        owned_b += F(m)->owner == DOM_B;
    }
    assert_int_equal(owned_a, 30 - 1);
    assert_int_equal(owned_b, 16 + 1);
    mm_audit(doms, 2);

    /* The new owner uses it; the old one no longer can. */
    REFUSED(HV_EPERM, frame_transfer(mfn(20), DOM_A, DOM_B));
    REFUSED(HV_EPERM, frame_release(mfn(20), DOM_A));
    REFUSED(HV_EPERM, upd(&da, eaddr(5, 0), pte(20, 0)));
    assert_int_equal(frame_transfer(mfn(20), DOM_B, dom_c), HV_OK);
    assert_int_equal(F(20)->owner, dom_c);
    assert_int_equal(frame_release(mfn(20), dom_c), HV_OK);
    assert_int_equal(F(20)->owner, DOMID_INVALID);
    assert_int_equal(upd(&da, eaddr(5, 1), 0), HV_OK);
}

/* Teardown releases everything; then every frame can be freed and the
 * free count returns exactly to where it started. */
static void test_domain_teardown(void **state)
{
    (void)state;
    for (unsigned i = 0; i < 8; i++)
        fake_frame(6)[i] = pte(20 + i, i % 2 ? HV_PTE_RW : 0);
    fake_frame(4)[0] = pte(6, HV_PTE_RW);
    fake_frame(3)[0] = pte(4, HV_PTE_RW);
    fake_frame(2)[0] = pte(3, HV_PTE_RW);
    assert_int_equal(mm_pin(&da, mfn(6), 1), HV_OK);
    assert_int_equal(mm_new_baseptr(&da, mfn(2)), HV_OK);
    assert_int_equal(mm_pin(&da, mfn(2), 4), HV_OK);
    fake_frame(9)[1] = pte(10, 0);
    assert_int_equal(mm_pin(&da, mfn(9), 2), HV_OK);
    mm_audit(doms, 2);
    mm_teardown_all(&da);
    mm_audit(doms, 2);
    assert_int_equal(mfn_x(da.base), mfn_x(INVALID_MFN));
    for (uint64_t m = 2; m < 32; m++) {
        assert_int_equal(F(m)->ref_count, 1);
        assert_int_equal(F(m)->type_count, 0);
        assert_int_equal(frame_release(mfn(m), DOM_A), HV_OK);
    }
    for (uint64_t m = 2; m < 32; m++)
        assert_int_equal(F(m)->owner, DOMID_INVALID);
}

/* Boot-time configuration is checked too. */
static void test_init_refuses_bad_configuration(void **state)
{
    (void)state;
    struct pt_config cfg = {
        .maxphyaddr_bits = 31, .hv_l4_template = fake.l4_template, .validate_budget_entries = 512};
    assert_false(pt_init(&cfg));
    cfg.maxphyaddr_bits = 53;
    assert_false(pt_init(&cfg));
    cfg.maxphyaddr_bits = 46;
    cfg.validate_budget_entries = 7;
    assert_false(pt_init(&cfg));
    cfg.validate_budget_entries = 512;
    cfg.hv_l4_template = NULL;
    assert_false(pt_init(&cfg));
    assert_false(pt_init(NULL));
    assert_false(frame_table_init(NULL, fake.m2p, 64));
    assert_false(frame_table_init(fake.frames, NULL, 64));
    assert_false(frame_table_init(fake.frames, fake.m2p, 0));
    /* The refused calls kept the old configuration: MAXPHYADDR 52. */
    assert_int_equal(frame_table_count(), 64);
    assert_int_equal(mm_pin(&da, mfn(5), 1), HV_OK);
    assert_int_equal(upd(&da, eaddr(5, 0), pte(20, 0) | (1ull << 50)), HV_ERANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batch_bad_entry_in_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_request_decoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_moves_references, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pin_unpin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_baseptr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_decisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_va_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frame_assign_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frame_transfer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_teardown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_refuses_bad_configuration, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
