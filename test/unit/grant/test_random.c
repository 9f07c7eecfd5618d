/*
 * Random sequences of grant, page-table and frame operations by four
 * domains, hostile arguments included. After every step the independent
 * audit recomputes every frame's reference and type counts, every grant's
 * map count and every domain's held-mapping count from the page tables and
 * grants (rules F*, G1..G5); every refused step must have changed nothing
 * (snapshot). The sequence ends by destroying every domain, granters first,
 * and checks that every frame comes back to its allocation reference.
 * GRANT_SEED=n in the environment replays another sequence.
 */
#include "grant_fake.h"

#include <stdio.h>
#include <stdlib.h>

#define STEPS 3000u
#define L1_SLOTS 16u

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64*: deterministic for a seed on every host */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static uint32_t rndn(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

static int setup(void **state)
{
    (void)state;
    fake_setup(12);
    for (unsigned i = 0; i < FAKE_DOMS; i++)
        fake_build_aspace(i);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_teardown();
    return 0;
}

/* A frame: mostly the caller's or a neighbour's data frames, sometimes any. */
static uint64_t pick_frame(unsigned self)
{
    switch (rndn(4)) {
    case 0: return rndn((uint32_t)fm->frames_count + 2);
    case 1: return dom_frame(rndn(FAKE_DOMS), ASPACE_FIRST_DATA + rndn(8));
    default: return dom_frame(self, ASPACE_FIRST_DATA + rndn(8));
    }
}

static uint32_t pick_slot(void)
{
    uint32_t r = rndn(20);
    if (r < 16)
        return r % FAKE_DOMS;
    const uint32_t odd[] = {SLOT_NORIGHT, SLOT_CONSOLE, SLOT_EMPTY, HV_CAP_SLOT_SELF};
    return odd[r - 16];
}

static uint32_t pick_ref(void)
{
    return rndn(10) == 0 ? rndn(GRANT_REFS + 2) : rndn(12);
}

/* Mostly a live grant to domain d (its granter's slot in d's table and its
 * ref, *m its frame), sometimes anything. */
static void pick_grant_for(unsigned d, uint32_t *slot, uint32_t *ref, uint64_t *m)
{
    uint32_t cand_slot[64], cand_ref[64];
    uint64_t cand_m[64];
    unsigned n = 0;
    for (unsigned g = 0; g < FAKE_DOMS; g++)
        for (unsigned r = 1; r < 16 && n < 64; r++) {
            struct grant_entry *e = &D(g)->gt.entries[r];
            if (e->state == GRANT_ACTIVE && e->grantee_uid == D(d)->gt.uid) {
                cand_slot[n] = g;
                cand_ref[n] = r;
                cand_m[n] = e->mfn;
                n++;
            }
        }
    if (n == 0 || rndn(4) == 0) {
        *slot = pick_slot();
        *ref = pick_ref();
        *m = pick_frame(d);
        return;
    }
    unsigned i = rndn(n);
    *slot = cand_slot[i];
    *ref = cand_ref[i];
    *m = cand_m[i];
}

struct stats {
    unsigned ok[16], refused[16];
};

/* One random operation by domain d; returns its status. *validates is set
 * for operations that may validate (and unwind) a table. */
static int step(unsigned op, unsigned d, bool *validates)
{
    struct fake_dom *fd = D(d);
    *validates = false;
    switch (op) {
    case 0: {
        struct hv_grant_set_args a = {.mfn = pick_frame(d),
                                      .grantee_slot = pick_slot(),
                                      .flags = rndn(8) == 0 ? 2u : rndn(2)};
        return grant_set(&fd->gt, &fd->caps, &a);
    }
    case 1: {
        struct hv_grant_ref_args a = {.ref = pick_ref()};
        struct grant_entry *e = a.ref < GRANT_REFS ? &fd->gt.entries[a.ref] : NULL;
        bool mapped = e && e->state == GRANT_ACTIVE && e->map_count != 0;
        int rc = grant_end(&fd->gt, &a);
        if (mapped)
            assert_int_equal(rc, HV_EBUSY); /* never while in use */
        return rc;
    }
    case 2: {
        struct hv_grant_status_args a = {.ref = pick_ref()};
        int rc = grant_status(&fd->gt, &a);
        if (rc == HV_OK) {
            struct grant_entry *e = &fd->gt.entries[a.ref];
            assert_int_equal(a.map_count, e->map_count);
            assert_int_equal((a.flags & HV_GRANT_F_IN_USE) != 0, e->map_count != 0);
            assert_false(e->flags & GRANT_E_FLUSH_PENDING); /* flushed before "unused" */
        }
        return rc;
    }
    case 3:
    case 4: {
        uint32_t slot, ref;
        uint64_t m;
        pick_grant_for(d, &slot, &ref, &m);
        uint64_t val = rndn(4) == 0 ? 0 : leaf(rndn(2) ? m : pick_frame(d), rndn(2));
        return map_pte(d, rndn(L1_SLOTS), val);
    }
    case 5: {
        uint32_t slot, ref;
        uint64_t m;
        pick_grant_for(d, &slot, &ref, &m);
        struct hv_grant_map_args a = {.va = (uint64_t)rndn(L1_SLOTS) << PAGE_SHIFT,
                                      .granter_slot = slot,
                                      .ref = ref,
                                      .flags = rndn(2)};
        return grant_map(&fd->gt, &fd->mm, &fd->caps, &a);
    }
    case 6: {
        struct hv_grant_map_args a = {.va = (uint64_t)rndn(L1_SLOTS) << PAGE_SHIFT};
        return grant_unmap(&fd->gt, &fd->mm, &a);
    }
    case 7: {
        struct hv_grant_copy_args a = {.len = 1 + rndn(rndn(2) ? 64 : PAGE_SIZE)};
        struct hv_grant_copy_seg *sides[2] = {&a.src, &a.dst};
        for (unsigned s = 0; s < 2; s++) {
            uint32_t slot, ref;
            uint64_t m;
            pick_grant_for(d, &slot, &ref, &m);
            if (rndn(2))
                *sides[s] = (struct hv_grant_copy_seg){
                    .domain_slot = slot, .ref = ref, .seg_flags = HV_GRANT_SEG_REF};
            else
                *sides[s] = (struct hv_grant_copy_seg){.mfn = pick_frame(d)};
            sides[s]->offset = (uint16_t)(rndn(2) ? rndn(64) : rndn(PAGE_SIZE));
        }
        return grant_copy(&fd->gt, &fd->caps, &a);
    }
    case 8: *validates = true; return mm_pin(&fd->mm, mfn(pick_frame(d)), 1);
    case 9: return mm_unpin(&fd->mm, mfn(pick_frame(d)));
    case 10: {
        uint64_t m = pick_frame(d);
        int rc = frame_release(mfn(m), fd->id);
        if (rc == HV_OK)
            assert_int_equal(frame_assign(mfn(m), fd->id), HV_OK); /* keep the pool */
        return rc;
    }
    default: {
        uint32_t slot, ref;
        uint64_t m;
        pick_grant_for(d, &slot, &ref, &m);
        struct hv_grant_query_args a = {.granter_slot = slot, .ref = ref};
        return grant_query(&fd->gt, &fd->caps, &a);
    }
    }
}

static void test_random_sequence(void **state)
{
    (void)state;
    const char *env = getenv("GRANT_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : 0x6772616e74ull;
    rng_state = seed ? seed : 1;
    struct stats st = {0};
    for (unsigned i = 0; i < STEPS; i++) {
        unsigned op = rndn(12), d = rndn(FAKE_DOMS);
        bool validates;
        struct snap s;
        snap_take(&s);
        int rc = step(op, d, &validates);
        if (rc == HV_OK) {
            st.ok[op]++;
            free(s.frames);
            free(s.mem);
            free(s.gts);
        } else {
            st.refused[op]++;
            fm->snap_ignore_flush_pending = validates;
            snap_check_same(&s);
            fm->snap_ignore_flush_pending = false;
        }
        audit();
    }
    /* The sequence must have exercised the interesting outcomes. */
    unsigned mapped_grants = 0;
    for (unsigned d = 0; d < FAKE_DOMS; d++)
        mapped_grants += D(d)->gt.maps_held;
    printf("seed %#llx: set %u/%u end %u/%u status %u/%u map %u/%u gmap %u/%u gunmap %u/%u "
           "copy %u/%u pin %u/%u; %u grant mappings held at the end\n",
           (unsigned long long)seed, st.ok[0], st.refused[0], st.ok[1], st.refused[1], st.ok[2],
           st.refused[2], st.ok[3] + st.ok[4], st.refused[3] + st.refused[4], st.ok[5],
           st.refused[5], st.ok[6], st.refused[6], st.ok[7], st.refused[7], st.ok[8], st.refused[8],
           mapped_grants);
    for (unsigned op = 0; op < 12; op++)
        assert_true(st.refused[op] > 0);
    for (unsigned op = 0; op < 9; op++)
        assert_true(st.ok[op] > 0);

    /* Destroy every domain, granters before their grantees. */
    uint32_t orphans = 0;
    for (unsigned d = 0; d < FAKE_DOMS; d++) {
        D(d)->dying = true;
        mm_teardown_all(&D(d)->mm);
        orphans += grant_table_teardown(&D(d)->gt);
        audit();
    }
    for (unsigned d = 0; d < FAKE_DOMS; d++)
        assert_int_equal(grant_table_reap(&D(d)->gt), 0);
    printf("teardown: %u grants were orphaned, %u idle notifications\n", orphans,
           fm->orphan_idle_calls);
    audit();
    for (uint64_t m = 1; m < fm->frames_count - FAKE_FREE_FRAMES; m++) {
        assert_int_equal(F(m)->ref_count, 1);
        assert_int_equal(F(m)->type_count, 0);
        assert_int_equal(frame_release(mfn(m), F(m)->owner), HV_OK);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_random_sequence, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
