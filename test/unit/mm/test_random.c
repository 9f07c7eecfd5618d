/*
 * Refcount conservation under a fixed-seed random sequence of operations
 * (map/unmap via mmu_update, guest writes to its untyped frames, pin,
 * unpin, new_baseptr, M2P updates, update_va_mapping, continuations and
 * aborts) across two domains. After every step the independent audit
 * (mm_audit) recomputes every count from the tables and checks the
 * invariants, in particular that no frame is both a page table and
 * writably mapped; every refused call must leave everything unchanged.
 * Frames: 0,1 hypervisor; 2..41 DOM_A; 42..81 DOM_B; 82..95 free.
 */
#include "mm_test.h"

#include <stdio.h>

#define FRAMES 96u
#define STEPS 4000u

static struct mm_domain da, db;
static struct mm_domain *const doms[] = {&da, &db};
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static unsigned pick(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static uint64_t own_frame(const struct mm_domain *d)
{
    return (d->id == DOM_A ? 2 : 42) + pick(40);
}

static uint64_t any_target(const struct mm_domain *d)
{
    unsigned r = pick(100);
    if (r < 88)
        return own_frame(d);
    if (r < 92)
        return (d->id == DOM_A ? 42 : 2) + pick(40);
    if (r < 94)
        return pick(2);
    if (r < 97)
        return 82 + pick(14);
    return FRAMES + pick(1000);
}

static uint64_t random_entry(const struct mm_domain *d)
{
    unsigned r = pick(100);
    if (r < 25)
        return 0;
    if (r < 28)
        return rnd() & ~HV_PTE_P;
    uint64_t e = pte(any_target(d), pick(2) ? HV_PTE_RW : 0);
    if (pick(100) < 3) {
        static const uint64_t bad[] = {HV_PTE_G, HV_PTE_PS, HV_PTE_US, 1ull << 47};
        e ^= bad[pick(4)];
    }
    if (pick(100) < 10)
        e |= HV_PTE_A | HV_PTE_NX;
    return e;
}

/* A validated table of d, or a random own frame. */
static uint64_t some_table(const struct mm_domain *d)
{
    for (unsigned tries = 0; tries < 40; tries++) {
        uint64_t m = own_frame(d);
        if (frame_get(mfn(m))->flags & FRAME_F_VALIDATED)
            return m;
    }
    return own_frame(d);
}

struct stats {
    unsigned ok[8], refused[8], again;
    unsigned deep_steps; /* steps after which a validated L4 maps a validated L3 */
};

static bool deep_tree_exists(void)
{
    for (uint64_t m = 2; m < 82; m++) {
        const struct frame *f = frame_get(mfn(m));
        if (f->type != FRAME_TYPE_L4 || !(f->flags & FRAME_F_VALIDATED))
            continue;
        for (unsigned i = 0; i < PT_HV_L4_FIRST; i++)
            if (fake_frame(m)[i] & HV_PTE_P)
                return true;
    }
    return false;
}

enum { OP_UPDATE, OP_PIN, OP_UNPIN, OP_BASE, OP_M2P, OP_UVM, OP_SCRIBBLE, OP_OTHER };

/* The last operation that returned HV_EAGAIN, per domain, to resume. */
struct pending {
    int op;
    uint64_t a, b;
};

static int run_op(struct mm_domain *d, int op, uint64_t a, uint64_t b)
{
    switch (op) {
    case OP_UPDATE: return upd(d, a, b);
    case OP_PIN: return mm_pin(d, mfn(a), (unsigned)b);
    case OP_UNPIN: return mm_unpin(d, mfn(a));
    case OP_BASE: return mm_new_baseptr(d, mfn(a));
    case OP_M2P: return upd(d, (a << PAGE_SHIFT) | MM_UPDATE_CMD_M2P, b);
    case OP_UVM: return mm_update_va_mapping(d, a, b, pick(3));
    default: fail();
    }
    return HV_EINVAL;
}

static void test_random_sequences_conserve_counts(void **state)
{
    (void)state;
    fake_setup(FRAMES, 46, 200);
    give(DOM_A, 2, 40);
    give(DOM_B, 42, 40);
    mm_domain_init(&da, DOM_A);
    mm_domain_init(&db, DOM_B);
    fake_allow_foreign(DOM_A, 45, true);
    fake_allow_foreign(DOM_B, 3, false);
    struct stats st = {0};
    struct pending pend[2] = {{-1, 0, 0}, {-1, 0, 0}};

    for (unsigned step = 0; step < STEPS; step++) {
        unsigned di = pick(2);
        struct mm_domain *d = doms[di];
        unsigned r = pick(100);
        int op;
        uint64_t a = 0, b = 0;
        if (d->cont.op != MM_CONT_NONE && r < 60) {
            if (pick(8) == 0) {
                while (mm_cont_abort(d) == HV_EAGAIN)
                    mm_audit(doms, 2); /* every step leaves exact counts */
                pend[di].op = -1;
                mm_audit(doms, 2);
                continue;
            }
            op = pend[di].op;
            a = pend[di].a;
            b = pend[di].b;
        } else if (r < 40) {
            op = OP_UPDATE;
            uint64_t t = some_table(d);
            a = eaddr(t, pick(8) == 0 ? pick(512) : pick(16));
            b = random_entry(d);
        } else if (r < 55) {
            op = OP_SCRIBBLE;
        } else if (r < 68) {
            op = OP_PIN;
            a = pick(10) ? own_frame(d) : any_target(d);
            b = 1 + pick(4);
        } else if (r < 78) {
            op = OP_UNPIN;
            a = pick(10) ? own_frame(d) : any_target(d);
        } else if (r < 86) {
            op = OP_BASE;
            a = pick(10) ? own_frame(d) : any_target(d);
        } else if (r < 90) {
            op = OP_M2P;
            a = any_target(d);
            b = pick(10) ? pick(1000) : rnd();
        } else {
            op = OP_UVM;
            a = (uint64_t)pick(16) << 12;
            b = random_entry(d);
        }
        if (op == OP_SCRIBBLE) {
            /* The guest writes one of its frames that is not a table
             * (through a writable mapping it could make). */
            uint64_t m = own_frame(d);
            const struct frame *f = frame_get(mfn(m));
            if (f->type == FRAME_TYPE_NONE || f->type == FRAME_TYPE_WRITABLE) {
                fake_frame(m)[pick(8) == 0 ? pick(512) : pick(16)] = random_entry(d);
                st.ok[op]++;
            }
            mm_audit(doms, 2);
            continue;
        }
        bool fresh = d->cont.op == MM_CONT_NONE;
        struct snap s;
        if (fresh)
            snap_take(&s);
        int rc = run_op(d, op, a, b);
        if (rc == HV_EAGAIN) {
            st.again++;
            pend[di] = (struct pending){op, a, b};
            if (fresh)
                snap_drop(&s);
        } else {
            if (rc == HV_OK)
                st.ok[op]++;
            else
                st.refused[op]++;
            if (d->cont.op == MM_CONT_NONE)
                pend[di].op = -1;
            if (fresh && rc != HV_OK)
                snap_check_same(&s);
            else if (fresh)
                snap_drop(&s);
        }
        mm_audit(doms, 2);
        st.deep_steps += deep_tree_exists();
    }
    printf("random: ok update %u pin %u unpin %u base %u m2p %u uvm %u scribble %u; "
           "refused update %u pin %u unpin %u base %u; again %u; deep %u\n",
           st.ok[OP_UPDATE], st.ok[OP_PIN], st.ok[OP_UNPIN], st.ok[OP_BASE], st.ok[OP_M2P],
           st.ok[OP_UVM], st.ok[OP_SCRIBBLE], st.refused[OP_UPDATE], st.refused[OP_PIN],
           st.refused[OP_UNPIN], st.refused[OP_BASE], st.again, st.deep_steps);
    /* The sequence really exercised the rules (not only refusals). */
    assert_true(st.ok[OP_UPDATE] > 200);
    assert_true(st.ok[OP_PIN] > 50);
    assert_true(st.ok[OP_UNPIN] > 20);
    assert_true(st.ok[OP_BASE] > 20);
    assert_true(st.again > 20);
    assert_true(st.deep_steps > 100);
    assert_true(st.refused[OP_UPDATE] > 100);
    assert_true(st.refused[OP_PIN] > 50);

    /* Destroying both domains returns every frame to its allocation
     * reference, and releasing them all empties the table. */
    mm_teardown_all(&da);
    mm_audit(doms, 2);
    mm_teardown_all(&db);
    mm_audit(doms, 2);
    for (uint64_t m = 2; m < 82; m++) {
        const struct frame *f = frame_get(mfn(m));
        assert_int_equal(f->type_count, 0);
        assert_int_equal(f->ref_count, 1);
        assert_int_equal(frame_release(mfn(m), f->owner), HV_OK);
    }
    for (uint64_t m = 2; m < FRAMES; m++)
        assert_int_equal(frame_get(mfn(m))->owner, DOMID_INVALID);
    fake_teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_sequences_conserve_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
