/*
 * Capability tables: hostile arguments (exact error, nothing changed),
 * copy/narrowing, delete with re-parenting, exact transitive revocation
 * across domains, bounded revoke of a tree of 1,200 copies, the
 * unreferenced-object hook, and clearing every capability to an object
 * (cap_object_clear: every table, bounded, hostile budget), and which
 * domains a chain of domain capabilities reaches from a root (capability
 * cycles: cap_mark_reachable).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_hooks.h"

/* Objects the tests hand out besides the domains. */
static struct cap_object io_space; /* HV_CAP_IOPORT */
static struct cap_object console0; /* HV_CAP_CONSOLE */

#define D(i) (&fake_doms[i].caps)
#define SLOT_DOM(i) (248u + (uint32_t)(i))
#define SLOT_SCRATCH 254u /* slot of a domain cap to domain i */

static int setup(void **state)
{
    (void)state;
    fake_setup(1);
    cap_object_init(&io_space, HV_CAP_IOPORT);
    cap_object_init(&console0, HV_CAP_CONSOLE);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_teardown();
    return 0;
}

/* Give every domain a full domain cap (GRANT | all) to every domain. */
static void give_domain_caps(void)
{
    for (int i = 0; i < FAKE_DOMAINS; i++)
        for (int j = 0; j < FAKE_DOMAINS; j++)
            assert_int_equal(cap_insert_root(D(i), SLOT_DOM(j), &fake_doms[j].obj,
                                             HV_CAP_R_GRANT | HV_CAP_R_DOM_ALL, 0, 0),
                             HV_OK);
}

static struct hv_cap_copy_args copy_args(uint32_t src, uint32_t dom, uint32_t dst, uint32_t rights,
                                         uint64_t base, uint64_t count)
{
    struct hv_cap_copy_args a = {src, dom, dst, rights, base, count};
    return a;
}

static bool slot_full(struct cap_table *t, uint32_t slot)
{
    return t->slots[slot].obj != NULL;
}

/* ---- Boot insertion and lookup --------------------------------------- */

static void test_insert_root_checks(void **state)
{
    (void)state;
    assert_int_equal(cap_insert_root(D(0), HV_CAP_SLOTS, &io_space, 0, 0, 1), HV_EINVAL);
    assert_int_equal(cap_insert_root(D(0), 0, NULL, 0, 0, 1), HV_EINVAL);
    assert_int_equal(cap_insert_root(D(0), 0, &io_space, 1u << 5, 0, 1), HV_EINVAL);
    assert_int_equal(cap_insert_root(D(0), 0, &io_space, 0, 0, 0), HV_EINVAL);
    assert_int_equal(cap_insert_root(D(0), 0, &io_space, 0, UINT64_MAX, 2), HV_EINVAL);
    assert_int_equal(cap_insert_root(D(0), 0, &console0, 0, 1, 0), HV_EINVAL);
    assert_int_equal(io_space.cap_count, 0);
    assert_false(slot_full(D(0), 0));

    assert_int_equal(cap_insert_root(D(0), 0, &io_space, HV_CAP_R_IO_ACCESS, UINT64_MAX, 1), HV_OK);
    assert_int_equal(cap_insert_root(D(0), 0, &console0, 0, 0, 0), HV_EEXIST);
    assert_int_equal(io_space.cap_count, 1);
    assert_int_equal(console0.cap_count, 0);
}

static void test_lookup(void **state)
{
    struct cap *c = NULL;

    (void)state;
    assert_int_equal(cap_insert_root(D(0), 3, &io_space, HV_CAP_R_IO_ACCESS, 0x3f8, 8), HV_OK);
    assert_int_equal(cap_lookup(D(0), HV_CAP_SLOTS, HV_CAP_IOPORT, 0, &c), HV_EINVAL);
    assert_int_equal(cap_lookup(D(0), 4, HV_CAP_IOPORT, 0, &c), HV_ENOENT);
    assert_int_equal(cap_lookup(D(0), 3, HV_CAP_IRQ, 0, &c), HV_EPERM);
    assert_int_equal(cap_lookup(D(0), 3, HV_CAP_IOPORT, HV_CAP_R_GRANT, &c), HV_EPERM);
    assert_null(c);
    assert_int_equal(cap_lookup(D(0), 3, HV_CAP_IOPORT, HV_CAP_R_IO_ACCESS, &c), HV_OK);
    assert_ptr_equal(c, &D(0)->slots[3]);

    c = NULL;
    assert_int_equal(cap_lookup_range(D(0), 3, HV_CAP_IOPORT, 0, 0x3f8, 0, &c), HV_EINVAL);
    assert_int_equal(cap_lookup_range(D(0), 3, HV_CAP_IOPORT, 0, 0x3f7, 1, &c), HV_EPERM);
    assert_int_equal(cap_lookup_range(D(0), 3, HV_CAP_IOPORT, 0, 0x3fc, 5, &c), HV_EPERM);
    assert_int_equal(cap_lookup_range(D(0), 3, HV_CAP_IOPORT, 0, 0x400, 1, &c), HV_EPERM);
    assert_int_equal(cap_lookup_range(D(0), 3, HV_CAP_DOMAIN, 0, 0x3f8, 1, &c), HV_EINVAL);
    assert_null(c);
    assert_int_equal(cap_lookup_range(D(0), 3, HV_CAP_IOPORT, 0, 0x3fc, 4, &c), HV_OK);
    assert_int_equal(cap_lookup_range(D(0), 3, HV_CAP_IOPORT, 0, 0x3ff, 1, &c), HV_OK);
}

/* ---- Copy: every hostile argument ------------------------------------ */

/* Snapshot of every table and object, to prove that nothing changed. */
struct snapshot {
    struct fake_domain doms[FAKE_DOMAINS];
    struct cap_object io, con;
    uint32_t unref;
};

static struct snapshot *snap_take(void)
{
    struct snapshot *s = malloc(sizeof(*s));
    assert_non_null(s);
    memcpy(s->doms, fake_doms, sizeof(s->doms));
    s->io = io_space;
    s->con = console0;
    s->unref = fake_log.unreferenced_count;
    return s;
}

static void snap_check_free(struct snapshot *s)
{
    assert_memory_equal(s->doms, fake_doms, sizeof(s->doms));
    assert_memory_equal(&s->io, &io_space, sizeof(io_space));
    assert_memory_equal(&s->con, &console0, sizeof(console0));
    assert_int_equal(s->unref, fake_log.unreferenced_count);
    free(s);
}

static void expect_copy_fails(uint32_t table, struct hv_cap_copy_args a, int err)
{
    struct snapshot *s = snap_take();
    assert_int_equal(cap_copy(D(table), &a), err);
    snap_check_free(s);
}

static void test_copy_hostile(void **state)
{
    const uint32_t S = HV_CAP_SLOT_SELF;
    const uint32_t IO = HV_CAP_R_IO_ACCESS, G = HV_CAP_R_GRANT;

    (void)state;
    give_domain_caps();
    assert_int_equal(cap_insert_root(D(0), 0, &io_space, G | IO, 0x100, 0x100), HV_OK);
    assert_int_equal(cap_insert_root(D(0), 1, &io_space, IO, 0x100, 0x100), HV_OK); /* no GRANT */
    assert_int_equal(cap_insert_root(D(0), 2, &console0, G | HV_CAP_R_CON_READ, 0, 0), HV_OK);
    /* Domain 0 holds a domain cap to domain 2 without CAP_INSERT in slot 9;
     * slot 2 (a console cap) has the wrong type for a destination domain. */
    assert_int_equal(cap_insert_root(D(0), 9, &fake_doms[2].obj, G | HV_CAP_R_DOM_EVTCHN, 0, 0),
                     HV_OK);
    assert_int_equal(cap_insert_root(D(1), 7, &io_space, IO, 0, 1), HV_OK); /* occupies D1 slot 7 */

    /* Source. */
    expect_copy_fails(0, copy_args(HV_CAP_SLOTS, S, 10, 0, 0x100, 1), HV_EINVAL);
    expect_copy_fails(0, copy_args(0xffffffffu, S, 10, 0, 0x100, 1), HV_EINVAL);
    expect_copy_fails(0, copy_args(20, S, 10, 0, 0x100, 1), HV_ENOENT);
    expect_copy_fails(0, copy_args(1, S, 10, IO, 0x100, 1), HV_EPERM);
    /* Rights. */
    expect_copy_fails(0, copy_args(0, S, 10, IO | (1u << 7), 0x100, 1), HV_EINVAL);
    expect_copy_fails(0, copy_args(2, S, 10, HV_CAP_R_CON_WRITE, 0, 0), HV_EPERM);
    /* Ranges. */
    expect_copy_fails(0, copy_args(0, S, 10, IO, 0x100, 0), HV_EINVAL);
    expect_copy_fails(0, copy_args(0, S, 10, IO, UINT64_MAX, 2), HV_EINVAL);
    expect_copy_fails(0, copy_args(0, S, 10, IO, 0xff, 1), HV_ERANGE);
    expect_copy_fails(0, copy_args(0, S, 10, IO, 0x1ff, 2), HV_ERANGE);
    expect_copy_fails(0, copy_args(0, S, 10, IO, 0x200, 1), HV_ERANGE);
    expect_copy_fails(0, copy_args(0, S, 10, IO, 0x100, 0x101), HV_ERANGE);
    expect_copy_fails(0, copy_args(2, S, 10, 0, 1, 0), HV_EINVAL);
    expect_copy_fails(0, copy_args(2, S, 10, 0, 0, 1), HV_EINVAL);
    /* Destination domain. */
    expect_copy_fails(0, copy_args(0, HV_CAP_SLOTS, 10, IO, 0x100, 1), HV_EINVAL);
    expect_copy_fails(0, copy_args(0, 30, 10, IO, 0x100, 1), HV_ENOENT);
    expect_copy_fails(0, copy_args(0, 2, 10, IO, 0x100, 1), HV_EPERM); /* not a domain */
    expect_copy_fails(0, copy_args(0, 9, 10, IO, 0x100, 1), HV_EPERM); /* no CAP_INSERT */
    fake_doms[3].dying = true;
    expect_copy_fails(0, copy_args(0, SLOT_DOM(3), 10, IO, 0x100, 1), HV_ENOENT);
    fake_doms[3].dying = false;
    /* Destination slot. */
    expect_copy_fails(0, copy_args(0, S, HV_CAP_SLOTS, IO, 0x100, 1), HV_EINVAL);
    expect_copy_fails(0, copy_args(0, S, 0, IO, 0x100, 1), HV_EEXIST); /* onto itself */
    expect_copy_fails(0, copy_args(0, S, 2, IO, 0x100, 1), HV_EEXIST);
    expect_copy_fails(0, copy_args(0, SLOT_DOM(1), 7, IO, 0x100, 1), HV_EEXIST);

    /* And the same arguments made valid do succeed. */
    struct hv_cap_copy_args ok = copy_args(0, SLOT_DOM(1), 10, IO, 0x1ff, 1);
    assert_int_equal(cap_copy(D(0), &ok), HV_OK);
    assert_true(slot_full(D(1), 10));
    assert_int_equal(cap_child_count(D(0), 0), 1);
}

static void test_copy_narrows(void **state)
{
    struct hv_cap_copy_args a;
    struct hv_cap_info info;
    struct cap *c;

    (void)state;
    give_domain_caps();
    assert_int_equal(
        cap_insert_root(D(0), 0, &io_space, HV_CAP_R_GRANT | HV_CAP_R_IO_ACCESS, 0, 0x10000),
        HV_OK);
    /* Give domain 1 the COM1 ports with GRANT, then it passes 2 ports on
     * to domain 2 without GRANT. */
    a = copy_args(0, SLOT_DOM(1), 5, HV_CAP_R_GRANT | HV_CAP_R_IO_ACCESS, 0x3f8, 8);
    assert_int_equal(cap_copy(D(0), &a), HV_OK);
    a = copy_args(5, SLOT_DOM(2), 6, HV_CAP_R_IO_ACCESS, 0x3fa, 2);
    assert_int_equal(cap_copy(D(1), &a), HV_OK);
    assert_int_equal(io_space.cap_count, 3);

    assert_int_equal(cap_identify(D(2), 6, &info), HV_OK);
    assert_int_equal(info.type, HV_CAP_IOPORT);
    assert_int_equal(info.rights, HV_CAP_R_IO_ACCESS);
    assert_int_equal(info.base, 0x3fa);
    assert_int_equal(info.count, 2);
    assert_int_equal(cap_identify(D(2), 7, &info), HV_OK);
    assert_int_equal(info.type, HV_CAP_NULL);
    assert_int_equal(cap_identify(D(2), HV_CAP_SLOTS, &info), HV_EINVAL);

    /* Domain 2 may use only its two ports, and cannot pass them on. */
    assert_int_equal(cap_lookup_range(D(2), 6, HV_CAP_IOPORT, HV_CAP_R_IO_ACCESS, 0x3f8, 1, &c),
                     HV_EPERM);
    assert_int_equal(cap_lookup_range(D(2), 6, HV_CAP_IOPORT, HV_CAP_R_IO_ACCESS, 0x3fb, 1, &c),
                     HV_OK);
    a = copy_args(6, HV_CAP_SLOT_SELF, 7, HV_CAP_R_IO_ACCESS, 0x3fa, 1);
    assert_int_equal(cap_copy(D(2), &a), HV_EPERM);
    /* Domain 1 cannot widen what it got. */
    a = copy_args(5, HV_CAP_SLOT_SELF, 8, HV_CAP_R_IO_ACCESS, 0x3f0, 16);
    assert_int_equal(cap_copy(D(1), &a), HV_ERANGE);
}

/* ---- Delete ------------------------------------------------------------ */

static void test_delete(void **state)
{
    struct hv_cap_copy_args a;

    (void)state;
    give_domain_caps();
    assert_int_equal(cap_delete(D(0), HV_CAP_SLOTS), HV_EINVAL);
    assert_int_equal(cap_delete(D(0), 0), HV_ENOENT);

    /* A (d0:0) -> B (d1:0) -> C (d2:0), -> D (d3:0). Delete B: C and D stay
     * and are still reached by a revoke of A. */
    assert_int_equal(cap_insert_root(D(0), 0, &console0, HV_CAP_R_GRANT | HV_CAP_R_CON_ALL, 0, 0),
                     HV_OK);
    a = copy_args(0, SLOT_DOM(1), 0, HV_CAP_R_GRANT | HV_CAP_R_CON_READ, 0, 0);
    assert_int_equal(cap_copy(D(0), &a), HV_OK);
    a = copy_args(0, SLOT_DOM(2), 0, HV_CAP_R_GRANT | HV_CAP_R_CON_READ, 0, 0);
    assert_int_equal(cap_copy(D(1), &a), HV_OK);
    a = copy_args(0, SLOT_DOM(3), 0, HV_CAP_R_CON_READ, 0, 0);
    assert_int_equal(cap_copy(D(2), &a), HV_OK);
    assert_int_equal(console0.cap_count, 4);

    assert_int_equal(cap_delete(D(1), 0), HV_OK);
    assert_int_equal(cap_delete(D(1), 0), HV_ENOENT); /* twice */
    assert_false(slot_full(D(1), 0));
    assert_true(slot_full(D(2), 0));
    assert_int_equal(console0.cap_count, 3);
    assert_int_equal(cap_child_count(D(0), 0), 1); /* C re-attached to A */
    assert_int_equal(fake_log.unreferenced_count, 0);

    assert_int_equal(cap_revoke(D(0), 0, 64), HV_OK);
    assert_false(slot_full(D(2), 0));
    assert_false(slot_full(D(3), 0));
    assert_true(slot_full(D(0), 0));
    assert_int_equal(console0.cap_count, 1);
    assert_int_equal(fake_log.unreferenced_count, 0);

    /* Deleting a root with copies: the copies become roots and live on. */
    a = copy_args(0, SLOT_DOM(4), 1, HV_CAP_R_CON_READ, 0, 0);
    assert_int_equal(cap_copy(D(0), &a), HV_OK);
    assert_int_equal(cap_delete(D(0), 0), HV_OK);
    assert_int_equal(fake_log.unreferenced_count, 0);
    assert_true(slot_full(D(4), 1));
    assert_int_equal(cap_delete(D(4), 1), HV_OK);
    assert_int_equal(fake_log.unreferenced_count, 1);
    assert_ptr_equal(fake_log.unreferenced[0], &console0);
    assert_int_equal(console0.cap_count, 0);
}

/* ---- Revoke: exactness ------------------------------------------------- */

#define TREE_MAX 1300

/* A derivation tree built by the test, placed in (domain, slot) pairs. */
struct tree {
    int parent[TREE_MAX]; /* -1 for the root */
    uint32_t dom[TREE_MAX], slot[TREE_MAX];
    bool alive[TREE_MAX];
    int n;
};

/* Build n nodes: node 0 is a root IOPORT cap in d0 slot 0; node i > 0 is
 * copied (by its parent's holder) from node pick(i) into domain i % doms. */
static void tree_build(struct tree *t, int n, int doms, int fanout)
{
    uint32_t next_slot[FAKE_DOMAINS] = {0};

    t->n = n;
    t->parent[0] = -1;
    t->dom[0] = 0;
    t->slot[0] = next_slot[0]++;
    t->alive[0] = true;
    assert_int_equal(
        cap_insert_root(D(0), 0, &io_space, HV_CAP_R_GRANT | HV_CAP_R_IO_ACCESS, 0, 0x10000),
        HV_OK);
    for (int i = 1; i < n; i++) {
        int p = (i - 1) / fanout;
        uint32_t d = (uint32_t)(i % doms);
        struct hv_cap_copy_args a = copy_args(t->slot[p], SLOT_DOM(d), next_slot[d],
                                              HV_CAP_R_GRANT | HV_CAP_R_IO_ACCESS, 0, 0x10000);
        assert_true(next_slot[d] < SLOT_DOM(0));
        assert_int_equal(cap_copy(D(t->dom[p]), &a), HV_OK);
        t->parent[i] = p;
        t->dom[i] = d;
        t->slot[i] = next_slot[d]++;
        t->alive[i] = true;
    }
}

static bool tree_descends(const struct tree *t, int i, int anc)
{
    for (int p = t->parent[i]; p >= 0; p = t->parent[p])
        if (p == anc)
            return true;
    return false;
}

static void tree_check(const struct tree *t)
{
    int alive = 0;
    for (int i = 0; i < t->n; i++) {
        assert_int_equal(slot_full(D(t->dom[i]), t->slot[i]), t->alive[i]);
        alive += t->alive[i];
    }
    assert_int_equal(io_space.cap_count, alive);
}

static void test_revoke_exact(void **state)
{
    struct tree *t = calloc(1, sizeof(*t));

    (void)state;
    assert_non_null(t);
    give_domain_caps();
    tree_build(t, 200, 5, 3);
    tree_check(t);

    /* Delete a few inner nodes (their copies re-attach upward), then revoke
     * node 4: exactly the nodes that descended from 4 at build time go. */
    const int deleted[] = {13, 41, 5};
    for (size_t k = 0; k < ARRAY_SIZE(deleted); k++) {
        int i = deleted[k];
        assert_int_equal(cap_delete(D(t->dom[i]), t->slot[i]), HV_OK);
        t->alive[i] = false;
    }
    tree_check(t);
    assert_int_equal(cap_revoke(D(t->dom[4]), t->slot[4], 1000), HV_OK);
    for (int i = 0; i < t->n; i++)
        if (tree_descends(t, i, 4))
            t->alive[i] = false;
    tree_check(t);
    assert_true(t->alive[4]);
    assert_true(t->alive[3] && t->alive[6] && t->alive[1]);
    assert_int_equal(cap_child_count(D(t->dom[4]), t->slot[4]), 0);

    /* Revoking a leaf, or a node with no copies left, is a no-op success. */
    assert_int_equal(cap_revoke(D(t->dom[4]), t->slot[4], 1), HV_OK);
    tree_check(t);
    /* Domain caps were never touched. */
    for (int i = 0; i < FAKE_DOMAINS; i++)
        assert_int_equal(fake_doms[i].obj.cap_count, FAKE_DOMAINS);
    assert_int_equal(fake_log.unreferenced_count, 0);
    free(t);
}

static void test_revoke_hostile(void **state)
{
    (void)state;
    assert_int_equal(cap_revoke(D(0), HV_CAP_SLOTS, 10), HV_EINVAL);
    assert_int_equal(cap_revoke(D(0), 0, 10), HV_ENOENT);
    assert_int_equal(cap_insert_root(D(0), 0, &console0, HV_CAP_R_GRANT, 0, 0), HV_OK);
    assert_int_equal(cap_revoke(D(0), 0, 0), HV_EINVAL);
    assert_int_equal(cap_revoke(D(0), 0, 1), HV_OK);
    assert_int_equal(console0.cap_count, 1);
}

/*
 * 1,200 copies spread over 5 domains, revoked 64 at a time: each call
 * removes exactly 64, the revoked cap cannot be copied meanwhile, a copy
 * made from a surviving descendant meanwhile is revoked as well, and the
 * root survives with its object still referenced.
 */
static void test_revoke_big_tree_bounded(void **state)
{
    struct tree *t = calloc(1, sizeof(*t));
    const int n = 1201; /* the root + 1,200 copies */
    int calls = 0, remaining = n - 1;
    enum hv_status st;

    (void)state;
    assert_non_null(t);
    give_domain_caps();
    tree_build(t, n, 5, 3);
    tree_check(t);
    assert_int_equal(io_space.cap_count, n);

    do {
        st = cap_revoke(D(0), 0, CAP_REVOKE_BUDGET);
        calls++;
        if (st == HV_EAGAIN) {
            remaining -= (int)CAP_REVOKE_BUDGET;
            assert_int_equal(io_space.cap_count, 1 + remaining);

            /* No new copy of the node being revoked. */
            struct hv_cap_copy_args a =
                copy_args(0, HV_CAP_SLOT_SELF, SLOT_SCRATCH, HV_CAP_R_IO_ACCESS, 0, 1);
            assert_int_equal(cap_copy(D(0), &a), HV_EBUSY);
            assert_false(slot_full(D(0), SLOT_SCRATCH));

            /* A survivor deriving a new copy meanwhile: revoked too. */
            if (calls == 3) {
                int i;
                for (i = t->n - 1; i > 0 && !slot_full(D(t->dom[i]), t->slot[i]); i--)
                    ;
                assert_true(i > 0);
                a = copy_args(t->slot[i], SLOT_DOM(5), 0, HV_CAP_R_IO_ACCESS, (uint64_t)i, 1);
                assert_int_equal(cap_copy(D(t->dom[i]), &a), HV_OK);
                remaining++;
                assert_true(slot_full(D(5), 0));
            }
        } else {
            assert_int_equal(st, HV_OK);
        }
    } while (st == HV_EAGAIN && calls < 100);

    assert_int_equal(st, HV_OK);
    assert_int_equal(calls, (1200 + 1 + CAP_REVOKE_BUDGET - 1) / CAP_REVOKE_BUDGET);
    for (int i = 1; i < n; i++)
        t->alive[i] = false;
    tree_check(t);
    assert_false(slot_full(D(5), 0));
    assert_int_equal(io_space.cap_count, 1);
    assert_int_equal(fake_log.unreferenced_count, 0);

    /* The revoke is over: the root can be copied again. */
    struct hv_cap_copy_args a =
        copy_args(0, HV_CAP_SLOT_SELF, SLOT_SCRATCH, HV_CAP_R_IO_ACCESS, 0, 1);
    assert_int_equal(cap_copy(D(0), &a), HV_OK);
    assert_int_equal(cap_delete(D(0), SLOT_SCRATCH), HV_OK);
    assert_int_equal(cap_delete(D(0), 0), HV_OK);
    assert_int_equal(fake_log.unreferenced_count, 1);
    assert_ptr_equal(fake_log.unreferenced[0], &io_space);
    free(t);
}

/* The holder deletes the cap it was revoking half-way: what is left of its
 * subtree survives, re-attached above it, and stays revocable from there. */
static void test_revoke_then_delete_root(void **state)
{
    struct tree *t = calloc(1, sizeof(*t));

    (void)state;
    assert_non_null(t);
    give_domain_caps();
    tree_build(t, 100, 4, 2);
    /* Node 1 (in d1) has a subtree; revoke it partially. */
    assert_int_equal(cap_revoke(D(t->dom[1]), t->slot[1], 5), HV_EAGAIN);
    assert_int_equal(io_space.cap_count, 100 - 5);
    assert_int_equal(cap_delete(D(t->dom[1]), t->slot[1]), HV_OK);
    assert_int_equal(io_space.cap_count, 100 - 6);
    /* Revoke from the root removes everything else. */
    assert_int_equal(cap_revoke(D(0), 0, 1000), HV_OK);
    assert_int_equal(io_space.cap_count, 1);
    for (int i = 1; i < t->n; i++)
        assert_false(slot_full(D(t->dom[i]), t->slot[i]));
    free(t);
}

/* ---- Random operations against a reference model ---------------------- */

/*
 * A model of the derivation forest, kept by the test: for every slot of
 * every domain, whether it is full and the (domain, slot) it was derived
 * from, updated by the same rules the documentation states (delete
 * re-attaches children to the parent; revoke removes descendants).
 */
struct model {
    bool full[FAKE_DOMAINS][HV_CAP_SLOTS];
    int parent[FAKE_DOMAINS][HV_CAP_SLOTS]; /* dom * HV_CAP_SLOTS + slot, or -1 */
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

#define MODEL_SLOTS 200u /* slots the random test uses (domain caps live above) */

static bool model_descends(const struct model *m, int node, int anc)
{
    for (int p = m->parent[node / HV_CAP_SLOTS][node % HV_CAP_SLOTS]; p >= 0;
         p = m->parent[p / HV_CAP_SLOTS][p % HV_CAP_SLOTS])
        if (p == anc)
            return true;
    return false;
}

static void model_remove(struct model *m, int node)
{
    int up = m->parent[node / HV_CAP_SLOTS][node % HV_CAP_SLOTS];
    for (int d = 0; d < FAKE_DOMAINS; d++)
        for (uint32_t s = 0; s < MODEL_SLOTS; s++)
            if (m->full[d][s] && m->parent[d][s] == node)
                m->parent[d][s] = up;
    m->full[node / HV_CAP_SLOTS][node % HV_CAP_SLOTS] = false;
    m->parent[node / HV_CAP_SLOTS][node % HV_CAP_SLOTS] = -1;
}

static void model_check(const struct model *m, bool deep)
{
    uint32_t n = 0;
    for (int d = 0; d < FAKE_DOMAINS; d++)
        for (uint32_t s = 0; s < MODEL_SLOTS; s++) {
            assert_int_equal(slot_full(D(d), s), m->full[d][s]);
            n += m->full[d][s];
            if (deep && m->full[d][s]) {
                uint32_t kids = 0;
                int me = d * (int)HV_CAP_SLOTS + (int)s;
                for (int d2 = 0; d2 < FAKE_DOMAINS; d2++)
                    for (uint32_t s2 = 0; s2 < MODEL_SLOTS; s2++)
                        kids += m->full[d2][s2] && m->parent[d2][s2] == me;
                assert_int_equal(cap_child_count(D(d), s), kids);
            }
        }
    assert_int_equal(console0.cap_count, n);
}

static void test_random_against_model(void **state)
{
    struct model *m = calloc(1, sizeof(*m));
    int removed_total = 0;

    (void)state;
    assert_non_null(m);
    give_domain_caps();
    for (int d = 0; d < FAKE_DOMAINS; d++)
        for (uint32_t s = 0; s < HV_CAP_SLOTS; s++)
            m->parent[d][s] = -1;

    for (int op = 0; op < 20000; op++) {
        uint32_t d = rng(FAKE_DOMAINS), s = rng(MODEL_SLOTS);
        int node = (int)(d * HV_CAP_SLOTS + s);
        uint32_t what = rng(100);

        if (!m->full[d][s]) {
            /* Empty: fill it from the hypervisor (rarely) or by a copy from
             * a random full slot of a random domain. */
            if (what < 5) {
                assert_int_equal(cap_insert_root(D(d), s, &console0, HV_CAP_R_GRANT, 0, 0), HV_OK);
                m->full[d][s] = true;
                m->parent[d][s] = -1;
                continue;
            }
            uint32_t sd = rng(FAKE_DOMAINS), ss = rng(MODEL_SLOTS);
            struct hv_cap_copy_args a = copy_args(ss, SLOT_DOM(d), s, HV_CAP_R_GRANT, 0, 0);
            enum hv_status st = cap_copy(D(sd), &a);
            if (!m->full[sd][ss]) {
                assert_int_equal(st, HV_ENOENT);
            } else {
                assert_int_equal(st, HV_OK);
                m->full[d][s] = true;
                m->parent[d][s] = (int)(sd * HV_CAP_SLOTS + ss);
            }
        } else if (what < 50) {
            assert_int_equal(cap_delete(D(d), s), HV_OK);
            model_remove(m, node);
            removed_total++;
        } else {
            /* Revoke, possibly partially, then finish it. */
            uint32_t budget = 1 + rng(8);
            int before = 0, after = 0;
            bool was[FAKE_DOMAINS][MODEL_SLOTS];
            for (int d2 = 0; d2 < FAKE_DOMAINS; d2++)
                for (uint32_t s2 = 0; s2 < MODEL_SLOTS; s2++) {
                    was[d2][s2] = m->full[d2][s2];
                    before += m->full[d2][s2];
                }
            enum hv_status st = cap_revoke(D(d), s, budget);
            assert_true(st == HV_OK || st == HV_EAGAIN);
            /* Whatever went must have descended from the revoked node. */
            for (int d2 = 0; d2 < FAKE_DOMAINS; d2++)
                for (uint32_t s2 = 0; s2 < MODEL_SLOTS; s2++)
                    if (was[d2][s2] && !slot_full(D(d2), s2)) {
                        int victim = d2 * (int)HV_CAP_SLOTS + (int)s2;
                        assert_true(model_descends(m, victim, node));
                        model_remove(m, victim);
                    }
            for (int d2 = 0; d2 < FAKE_DOMAINS; d2++)
                for (uint32_t s2 = 0; s2 < MODEL_SLOTS; s2++)
                    after += m->full[d2][s2];
            if (st == HV_EAGAIN) {
                assert_int_equal(before - after, (int)budget);
                assert_int_equal(cap_revoke(D(d), s, 100000), HV_OK);
                for (int d2 = 0; d2 < FAKE_DOMAINS; d2++)
                    for (uint32_t s2 = 0; s2 < MODEL_SLOTS; s2++)
                        if (m->full[d2][s2] &&
                            model_descends(m, d2 * (int)HV_CAP_SLOTS + (int)s2, node))
                            model_remove(m, d2 * (int)HV_CAP_SLOTS + (int)s2);
            }
            removed_total += before - after;
        }
        model_check(m, op % 500 == 0);
    }
    model_check(m, true);
    assert_true(removed_total > 1000); /* the run exercised removal */
    free(m);
}

static void test_table_clear(void **state)
{
    struct hv_cap_copy_args a;

    (void)state;
    give_domain_caps();
    for (uint32_t s = 0; s < 100; s++)
        assert_int_equal(cap_insert_root(D(0), s, &console0, HV_CAP_R_GRANT, 0, 0), HV_OK);
    a = copy_args(0, SLOT_DOM(1), 0, 0, 0, 0);
    assert_int_equal(cap_copy(D(0), &a), HV_OK);
    assert_int_equal(cap_table_clear(D(0), 0), HV_EINVAL);
    assert_int_equal(cap_table_clear(D(0), 50), HV_EAGAIN);
    assert_int_equal(console0.cap_count, 100 + 1 - 50);
    assert_int_equal(cap_table_clear(D(0), 50), HV_EAGAIN); /* 56 left: 50 + 6 domain caps */
    assert_int_equal(cap_table_clear(D(0), 50), HV_OK);
    for (uint32_t s = 0; s < HV_CAP_SLOTS; s++)
        assert_false(slot_full(D(0), s));
    /* The copy in domain 1 outlives the table it came from. */
    assert_true(slot_full(D(1), 0));
    assert_int_equal(console0.cap_count, 1);
    assert_int_equal(fake_log.unreferenced_count, 0);
}

/* ---- Clearing every capability to an object ------------------------- */

/*
 * cap_object_clear removes every capability naming the object, whatever
 * table holds it and however it was derived: several roots, copies of
 * copies in five domains, a root deleted so that its copies were promoted.
 * Capabilities to other objects are untouched and the unreferenced hook
 * runs exactly once, when the last one goes.
 */
static void test_object_clear_every_table(void **state)
{
    struct tree *t = calloc(1, sizeof(*t));
    struct hv_cap_copy_args a;

    (void)state;
    assert_non_null(t);
    give_domain_caps();
    tree_build(t, 300, 5, 3); /* root in d0 slot 0, copies of copies */
    /* A second root in d3 with a copy in d4 and a copy of that copy in d1. */
    assert_int_equal(
        cap_insert_root(D(3), 200, &io_space, HV_CAP_R_GRANT | HV_CAP_R_IO_ACCESS, 0x3f8, 8),
        HV_OK);
    a = copy_args(200, SLOT_DOM(4), 200, HV_CAP_R_GRANT | HV_CAP_R_IO_ACCESS, 0x3f8, 4);
    assert_int_equal(cap_copy(D(3), &a), HV_OK);
    a = copy_args(200, SLOT_DOM(1), 200, HV_CAP_R_IO_ACCESS, 0x3f8, 1);
    assert_int_equal(cap_copy(D(4), &a), HV_OK);
    /* Delete an inner node and the first root: their copies are promoted. */
    assert_int_equal(cap_delete(D(t->dom[2]), t->slot[2]), HV_OK);
    assert_int_equal(cap_delete(D(0), 0), HV_OK);
    /* Capabilities to another object, in the same tables, must survive. */
    assert_int_equal(cap_insert_root(D(2), 201, &console0, HV_CAP_R_GRANT, 0, 0), HV_OK);
    a = copy_args(201, SLOT_DOM(0), 201, 0, 0, 0);
    assert_int_equal(cap_copy(D(2), &a), HV_OK);
    assert_int_equal(io_space.cap_count, 300 - 2 + 3);
    assert_int_equal(fake_log.unreferenced_count, 0);

    assert_int_equal(cap_object_clear(&io_space, 10000), HV_OK);

    for (int d = 0; d < FAKE_DOMAINS; d++)
        for (uint32_t s = 0; s < HV_CAP_SLOTS; s++)
            assert_true(D(d)->slots[s].obj != &io_space);
    assert_int_equal(io_space.cap_count, 0);
    assert_true(io_space.roots.next == &io_space.roots);
    assert_int_equal(fake_log.unreferenced_count, 1);
    assert_ptr_equal(fake_log.unreferenced[0], &io_space);
    assert_true(slot_full(D(2), 201) && slot_full(D(0), 201));
    assert_int_equal(console0.cap_count, 2);
    for (int i = 0; i < FAKE_DOMAINS; i++) {
        assert_int_equal(fake_doms[i].obj.cap_count, FAKE_DOMAINS);
        for (int j = 0; j < FAKE_DOMAINS; j++)
            assert_ptr_equal(D(i)->slots[SLOT_DOM(j)].obj, &fake_doms[j].obj);
    }
    /* The emptied slots are usable again, and clearing again is a no-op. */
    assert_int_equal(cap_insert_root(D(1), 200, &console0, 0, 0, 0), HV_OK);
    assert_int_equal(cap_object_clear(&io_space, 1), HV_OK);
    assert_int_equal(fake_log.unreferenced_count, 1);
    free(t);
}

/*
 * A bounded clear: each HV_EAGAIN call removes exactly `budget`
 * capabilities, the hook does not run before the last one goes, a copy made
 * from a survivor between two calls is removed as well, and the call that
 * removes the last capability returns HV_OK even when it used its whole
 * budget.
 */
static void test_object_clear_bounded(void **state)
{
    struct tree *t = calloc(1, sizeof(*t));
    const int n = 1201;
    int calls = 0;
    uint32_t expect = (uint32_t)n;
    enum hv_status st;

    (void)state;
    assert_non_null(t);
    give_domain_caps();
    tree_build(t, n, 5, 3);
    assert_int_equal(io_space.cap_count, n);
    do {
        st = cap_object_clear(&io_space, CAP_REVOKE_BUDGET);
        calls++;
        if (st != HV_EAGAIN)
            break;
        expect -= CAP_REVOKE_BUDGET;
        assert_int_equal(io_space.cap_count, expect);
        assert_int_equal(fake_log.unreferenced_count, 0);
        if (calls == 5) {
            /* A survivor copies itself into d5 meanwhile. */
            int i;
            for (i = t->n - 1; i > 0 && !slot_full(D(t->dom[i]), t->slot[i]); i--)
                ;
            assert_true(i > 0);
            struct hv_cap_copy_args a =
                copy_args(t->slot[i], SLOT_DOM(5), 7, HV_CAP_R_IO_ACCESS, 0x10, 1);
            assert_int_equal(cap_copy(D(t->dom[i]), &a), HV_OK);
            expect++;
            assert_true(slot_full(D(5), 7));
        }
    } while (calls < 100);
    assert_int_equal(st, HV_OK);
    assert_int_equal(calls, (n + 1 + (int)CAP_REVOKE_BUDGET - 1) / (int)CAP_REVOKE_BUDGET);
    assert_int_equal(io_space.cap_count, 0);
    assert_false(slot_full(D(5), 7));
    for (int i = 0; i < n; i++)
        t->alive[i] = false;
    tree_check(t);
    assert_int_equal(fake_log.unreferenced_count, 1);
    assert_ptr_equal(fake_log.unreferenced[0], &io_space);

    /* Exactly two budgets' worth: the second call empties it and says so. */
    for (uint32_t s = 0; s < 2 * 64; s++)
        assert_int_equal(cap_insert_root(D(s % 5), s / 5, &console0, 0, 0, 0), HV_OK);
    assert_int_equal(cap_object_clear(&console0, 64), HV_EAGAIN);
    assert_int_equal(console0.cap_count, 64);
    assert_int_equal(cap_object_clear(&console0, 64), HV_OK);
    assert_int_equal(console0.cap_count, 0);
    /* One at a time. */
    assert_int_equal(cap_insert_root(D(0), 0, &console0, 0, 0, 0), HV_OK);
    assert_int_equal(cap_insert_root(D(1), 0, &console0, 0, 0, 0), HV_OK);
    assert_int_equal(cap_object_clear(&console0, 1), HV_EAGAIN);
    assert_int_equal(console0.cap_count, 1);
    assert_int_equal(fake_log.unreferenced_count, 2);
    assert_int_equal(cap_object_clear(&console0, 1), HV_OK);
    assert_int_equal(fake_log.unreferenced_count, 3);
    assert_ptr_equal(fake_log.unreferenced[2], &console0);
    free(t);
}

/* Budget 0 is refused with nothing changed; an object nobody names is
 * cleared at once, without running the hook. */
static void test_object_clear_hostile(void **state)
{
    struct snapshot *s;

    (void)state;
    assert_int_equal(cap_object_clear(&console0, 1), HV_OK);
    assert_int_equal(cap_object_clear(&console0, 1000), HV_OK);
    assert_int_equal(fake_log.unreferenced_count, 0);
    assert_int_equal(cap_insert_root(D(0), 5, &console0, HV_CAP_R_GRANT, 0, 0), HV_OK);
    assert_int_equal(cap_insert_root(D(1), 6, &io_space, HV_CAP_R_IO_ACCESS, 0, 1), HV_OK);
    s = snap_take();
    assert_int_equal(cap_object_clear(&console0, 0), HV_EINVAL);
    assert_int_equal(cap_object_clear(&io_space, 0), HV_EINVAL);
    snap_check_free(s);
    /* Clearing one object leaves the other alone. */
    assert_int_equal(cap_object_clear(&console0, 1), HV_OK);
    assert_false(slot_full(D(0), 5));
    assert_true(slot_full(D(1), 6));
    assert_int_equal(io_space.cap_count, 1);
    assert_int_equal(fake_log.unreferenced_count, 1);
    assert_ptr_equal(fake_log.unreferenced[0], &console0);
}

static void test_valid_rights(void **state)
{
    (void)state;
    assert_int_equal(cap_valid_rights(HV_CAP_NULL), 0);
    assert_int_equal(cap_valid_rights(HV_CAP_TYPE_COUNT), 0);
    for (uint32_t ty = HV_CAP_DOMAIN; ty < HV_CAP_TYPE_COUNT; ty++)
        assert_true(cap_valid_rights(ty) & HV_CAP_R_GRANT);
    assert_int_equal(cap_valid_rights(HV_CAP_MMIO),
                     HV_CAP_R_GRANT | HV_CAP_R_MMIO_READ | HV_CAP_R_MMIO_WRITE);
}

/* An expensive removal hook charges its cost to the budget of revoke and clear: such a call removes fewer
 * capabilities and returns HV_EAGAIN sooner. The shared-budget clears
 * spend one budget over several objects. */
static void test_removal_cost_charged(void **state)
{
    (void)state;
    struct cap_object mmio;
    cap_object_init(&mmio, HV_CAP_MMIO);
    fake_log.removed_cost = 9; /* 10 units per MMIO removal */
    assert_int_equal(cap_insert_root(D(0), 0, &mmio, HV_CAP_R_MMIO_ALL | HV_CAP_R_GRANT, 100, 50),
                     HV_OK);
    for (uint32_t i = 1; i <= 40; i++) {
        struct hv_cap_copy_args a = copy_args(0, HV_CAP_SLOT_SELF, i, HV_CAP_R_MMIO_READ, 100, 1);
        assert_int_equal(cap_copy(D(0), &a), HV_OK);
    }
    uint32_t before = fake_log.removed_count;
    assert_int_equal(cap_revoke(D(0), 0, 64), HV_EAGAIN);
    assert_int_equal(fake_log.removed_count - before, 7); /* 7 * 10 >= 64 */
    /* The hook is told the object the removed capability named (its slot
     * is empty by then): pci_dev_cap_removed needs it. */
    assert_ptr_equal(fake_log.removed_obj, &mmio);
    assert_true(fake_log.removed_slot_empty);
    unsigned calls = 1;
    while (cap_revoke(D(0), 0, 64) == HV_EAGAIN)
        calls++;
    assert_int_equal(calls, 5); /* 5 calls with HV_EAGAIN (7 each), the 6th removes 5 */
    assert_int_equal(mmio.cap_count, 1);

    /* A shared budget across objects: 3 console caps and the MMIO cap. */
    for (uint32_t s = 50; s < 53; s++)
        assert_int_equal(cap_insert_root(D(1), s, &console0, 0, 0, 0), HV_OK);
    uint32_t budget = 12;
    assert_int_equal(cap_object_clear_some(&console0, &budget), HV_OK);
    assert_int_equal(budget, 9);
    assert_int_equal(cap_object_clear_some(&mmio, &budget), HV_OK);
    assert_int_equal(budget, 0);
    assert_int_equal(mmio.cap_count, 0);
    budget = 0;
    assert_int_equal(cap_insert_root(D(1), 60, &console0, 0, 0, 0), HV_OK);
    assert_int_equal(cap_object_clear_some(&console0, &budget), HV_EAGAIN);
    assert_int_equal(cap_table_clear_some(D(1), &budget), HV_EAGAIN);
    budget = 1000;
    assert_int_equal(cap_table_clear_some(D(1), &budget), HV_OK);
    assert_int_equal(console0.cap_count, 0);
    fake_log.removed_cost = 0;
}

/* A removal that waits for the hypervisor's work (cap_hook_may_remove: an
 * MMIO capability's mappings swept from its holder's tables in steps):
 * delete and revoke return HV_EAGAIN, a step per call, and remove it once
 * the hook says so; nothing else is removed meanwhile. */
static void test_removal_waits_for_hook(void **state)
{
    (void)state;
    struct cap_object mmio;
    cap_object_init(&mmio, HV_CAP_MMIO);
    fake_log.may_remove_steps = 3;
    assert_int_equal(cap_insert_root(D(0), 0, &mmio, HV_CAP_R_MMIO_ALL | HV_CAP_R_GRANT, 100, 50),
                     HV_OK);
    struct hv_cap_copy_args a = copy_args(0, HV_CAP_SLOT_SELF, 1, HV_CAP_R_MMIO_READ, 100, 10);
    assert_int_equal(cap_copy(D(0), &a), HV_OK);
    assert_int_equal(cap_delete(D(0), 1), HV_EAGAIN);
    assert_int_equal(cap_delete(D(0), 1), HV_EAGAIN);
    assert_true(slot_full(D(0), 1));
    assert_int_equal(mmio.cap_count, 2);
    assert_int_equal(cap_delete(D(0), 1), HV_OK);
    assert_false(slot_full(D(0), 1));
    assert_int_equal(mmio.cap_count, 1);

    /* Revoke of two copies in another table: three calls each, one step a
     * call (the call that removes one has spent its budget on the step). */
    give_domain_caps();
    for (uint32_t s = 1; s <= 2; s++) {
        a = copy_args(0, SLOT_DOM(1), s, HV_CAP_R_MMIO_READ, 100, 10);
        assert_int_equal(cap_copy(D(0), &a), HV_OK);
    }
    unsigned again = 0;
    enum hv_status st;
    while ((st = cap_revoke(D(0), 0, 64)) == HV_EAGAIN)
        again++;
    assert_int_equal(st, HV_OK);
    assert_int_equal(again, 5);
    assert_int_equal(mmio.cap_count, 1);

    /* A capability whose removal has begun cannot be copied. */
    D(0)->slots[0].flags |= CAP_F_DYING;
    a = copy_args(0, HV_CAP_SLOT_SELF, 2, HV_CAP_R_MMIO_READ, 100, 10);
    assert_int_equal(cap_copy(D(0), &a), HV_EBUSY);
    D(0)->slots[0].flags &= (uint16_t)~CAP_F_DYING;

    /* Other types never wait; a table clear waits like the rest. */
    assert_int_equal(cap_insert_root(D(2), 3, &console0, 0, 0, 0), HV_OK);
    assert_int_equal(cap_delete(D(2), 3), HV_OK);
    assert_int_equal(cap_insert_root(D(2), 4, &mmio, HV_CAP_R_MMIO_READ, 100, 1), HV_OK);
    uint32_t budget = 64;
    assert_int_equal(cap_table_clear_some(D(2), &budget), HV_EAGAIN);
    budget = 64;
    assert_int_equal(cap_table_clear_some(D(2), &budget), HV_EAGAIN);
    budget = 64; /* the third step removes it; the step took the budget */
    assert_int_equal(cap_table_clear_some(D(2), &budget), HV_EAGAIN);
    assert_false(slot_full(D(2), 4));
    budget = 64; /* the domain capabilities of give_domain_caps */
    assert_int_equal(cap_table_clear_some(D(2), &budget), HV_OK);
    fake_log.may_remove_steps = 0;
}

/* ---- Reachability through domain capabilities (capability cycles) ---- */

/* Domain i gets a domain capability to domain j in slot 100 + j. */
static void name_dom(int i, int j)
{
    assert_int_equal(
        cap_insert_root(D(i), 100u + (uint32_t)j, &fake_doms[j].obj, HV_CAP_R_DOM_STATE, 0, 0),
        HV_OK);
}

/* Marks from the given roots over every fake domain (in the order given)
 * and returns the set reached, bit i for domain i. */
static unsigned reached_from(const int order[FAKE_DOMAINS], unsigned nroots)
{
    struct cap_object *objs[FAKE_DOMAINS];
    for (int i = 0; i < FAKE_DOMAINS; i++)
        objs[i] = &fake_doms[order[i]].obj;
    cap_mark_reachable(objs, FAKE_DOMAINS, nroots);
    unsigned set = 0;
    for (int i = 0; i < FAKE_DOMAINS; i++)
        if (cap_object_reached(&fake_doms[i].obj))
            set |= 1u << i;
    return set;
}

static void test_reachable_cycles(void **state)
{
    (void)state;
    static const int order[FAKE_DOMAINS] = {0, 1, 2, 3, 4, 5};
    /* 0 (the root) -> 1 -> 4; 1 names itself; 2 <-> 3 and 5 -> {0, 5}:
     * counts above zero, nobody reachable names them. Non-domain
     * capabilities lead nowhere (a console of 2 in the root's table). */
    name_dom(0, 1);
    name_dom(1, 1);
    name_dom(1, 4);
    name_dom(2, 3);
    name_dom(3, 2);
    name_dom(5, 0);
    name_dom(5, 5);
    struct cap_object console2;
    cap_object_init(&console2, HV_CAP_CONSOLE);
    assert_int_equal(cap_insert_root(D(0), 7, &console2, 0, 0, 0), HV_OK);
    assert_int_equal(reached_from(order, 1), 0x13u);
    assert_true(fake_doms[2].obj.cap_count == 1 && fake_doms[5].obj.cap_count == 1);

    /* A domain being destroyed leads nowhere (but is itself named). */
    fake_doms[1].dying = true;
    assert_int_equal(reached_from(order, 1), 0x03u);
    fake_doms[1].dying = false;

    /* The root names 3: the pair comes back; every pass order gives the
     * same answer (a chain against the order needs several passes). */
    name_dom(0, 3);
    assert_int_equal(reached_from(order, 1), 0x1fu);
    static const int reverse[FAKE_DOMAINS] = {0, 5, 4, 3, 2, 1};
    assert_int_equal(reached_from(reverse, 1), 0x1fu);

    /* No root: nothing is reached. Two roots: both and what they name. */
    assert_int_equal(reached_from(order, 0), 0u);
    static const int two[FAKE_DOMAINS] = {0, 5, 1, 2, 3, 4};
    assert_int_equal(reached_from(two, 2), 0x3fu);
}

static void test_reachable_only_given(void **state)
{
    (void)state;
    /* 0 -> 1 -> 2, but 1 is not among the objects: 2 is not reached
     * through it, and 1's marks are left alone. */
    name_dom(0, 1);
    name_dom(1, 2);
    struct cap_object *objs[] = {&fake_doms[0].obj, &fake_doms[2].obj};
    cap_mark_reachable(objs, 2, 1);
    assert_true(cap_object_reached(&fake_doms[0].obj));
    assert_false(cap_object_reached(&fake_doms[2].obj));
    assert_int_equal(fake_doms[1].obj.flags, 0);
    cap_mark_reachable(objs, 0, 0); /* nothing to do */

    /* A long chain in the worst order: 0 -> 5 -> 4 -> 3 -> 2 -> 1 given
     * as 0, 1, 2, 3, 4, 5: one new domain a pass. */
    for (int i = 0; i < FAKE_DOMAINS; i++)
        cap_table_init(D(i));
    for (int i = 0; i < FAKE_DOMAINS; i++)
        cap_object_init(&fake_doms[i].obj, HV_CAP_DOMAIN);
    name_dom(0, 5);
    for (int i = 5; i > 1; i--)
        name_dom(i, i - 1);
    static const int order[FAKE_DOMAINS] = {0, 1, 2, 3, 4, 5};
    assert_int_equal(reached_from(order, 1), 0x3fu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_insert_root_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_narrows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_big_tree_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_then_delete_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_against_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_clear_every_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_clear_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_clear_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_valid_rights, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removal_cost_charged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removal_waits_for_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reachable_cycles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reachable_only_given, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
