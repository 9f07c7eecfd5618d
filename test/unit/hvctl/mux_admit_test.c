/*
 * The broker's admission policy (tools/hvctl/mux_admit.c): unauthenticated
 * connections cannot take the slots authenticated clients need, a peer's
 * flood never keeps another peer out, the deadline, and who is a peer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "mux_admit.h"

static struct mux_slot g_s[MUX_MAX_CLIENTS];

static struct mux_peer pid(uint32_t p)
{
    return mux_peer_of(p, 1000, 1000);
}

/* Takes a connection the way mux.c does; returns the slot or -1. */
static int connect_from(struct mux_peer p, uint64_t now, enum mux_admit_verdict *v)
{
    struct mux_admit_result a = mux_admit(g_s, MUX_MAX_CLIENTS, p);
    if (v)
        *v = a.verdict;
    if (a.verdict == MUX_REFUSE_PEER || a.verdict == MUX_REFUSE_FULL)
        return -1;
    if (a.verdict == MUX_ADMIT_EVICT) {
        assert_true(g_s[a.evict].used);
        assert_false(g_s[a.evict].auth);
        g_s[a.evict].used = false;
    }
    for (uint32_t i = 0; i < MUX_MAX_CLIENTS; i++)
        if (!g_s[i].used) {
            g_s[i] = (struct mux_slot){.used = true, .peer = p, .since_ms = now};
            return (int)i;
        }
    fail_msg("admitted without a free slot");
    return -1;
}

static uint32_t count(bool auth, const struct mux_peer *p)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < MUX_MAX_CLIENTS; i++)
        if (g_s[i].used && g_s[i].auth == auth && (!p || mux_peer_same(g_s[i].peer, *p)))
            n++;
    return n;
}

static int setup(void **state)
{
    (void)state;
    memset(g_s, 0, sizeof g_s);
    return 0;
}

static void test_peer_identity(void **state)
{
    (void)state;
    /* The broker's own user and root: one peer per process. */
    assert_false(mux_peer_of(10, 1000, 1000).by_uid);
    assert_int_equal(mux_peer_of(10, 1000, 1000).key, 10);
    assert_false(mux_peer_of(11, 0, 1000).by_uid);
    assert_false(mux_peer_same(mux_peer_of(10, 1000, 1000), mux_peer_of(11, 1000, 1000)));
    /* Anyone else: one peer per user, whatever the process. */
    assert_true(mux_peer_of(12, 2000, 1000).by_uid);
    assert_true(mux_peer_same(mux_peer_of(12, 2000, 1000), mux_peer_of(13, 2000, 1000)));
    assert_false(mux_peer_same(mux_peer_of(12, 2000, 1000), mux_peer_of(2000, 1000, 1000)));
}

/* One process opening 2,000 connections holds MUX_PEER_UNAUTH_MAX; the
 * administrator's next connection gets in. */
static void test_one_flooder(void **state)
{
    (void)state;
    struct mux_peer bad = pid(666), admin = pid(1);
    uint32_t refused = 0;
    for (int i = 0; i < 2000; i++) {
        enum mux_admit_verdict v;
        if (connect_from(bad, (uint64_t)i, &v) < 0) {
            assert_int_equal(v, MUX_REFUSE_PEER);
            refused++;
        }
    }
    assert_int_equal(refused, 2000 - MUX_PEER_UNAUTH_MAX);
    assert_int_equal(count(false, &bad), MUX_PEER_UNAUTH_MAX);
    enum mux_admit_verdict v;
    assert_true(connect_from(admin, 5000, &v) >= 0);
    assert_int_equal(v, MUX_ADMIT);
}

/* Many processes (and another user's many processes) fill the
 * unauthenticated share; a newcomer still gets in, by closing the oldest
 * connection of the peer that holds the most; authenticated clients are
 * never closed and always keep their share of the slots. */
static void test_many_flooders(void **state)
{
    (void)state;
    /* 20 authenticated clients (consoles, log -f) first. */
    for (uint32_t i = 0; i < 20; i++) {
        int k = connect_from(pid(100 + i), 0, NULL);
        assert_true(k >= 0);
        g_s[k].auth = true;
    }
    /* Another user with 50 processes: one peer, at most 8. */
    for (uint32_t i = 0; i < 50; i++)
        connect_from(mux_peer_of(3000 + i, 2000, 1000), 1, NULL);
    struct mux_peer other = mux_peer_of(1, 2000, 1000);
    assert_int_equal(count(false, &other), MUX_PEER_UNAUTH_MAX);
    /* 64 processes of our own user with 8 each. */
    uint64_t t = 10;
    for (uint32_t p = 0; p < 64; p++)
        for (uint32_t k = 0; k < 8; k++)
            connect_from(pid(5000 + p), t++, NULL);
    assert_int_equal(count(false, NULL), MUX_UNAUTH_MAX);
    assert_int_equal(count(true, NULL), 20);
    /* The administrator's hvctl list gets in, and is not the next victim
     * while others hold more. */
    struct mux_peer admin = pid(1);
    enum mux_admit_verdict v;
    int a = connect_from(admin, t++, &v);
    assert_true(a >= 0);
    assert_int_equal(v, MUX_ADMIT_EVICT);
    for (uint32_t k = 0; k < 8; k++)
        connect_from(pid(9000), t++, NULL);
    assert_true(g_s[a].used && mux_peer_same(g_s[a].peer, admin));
    /* Once it is authenticated it stays, and the unauthenticated share
     * never grows past MUX_UNAUTH_MAX. */
    g_s[a].auth = true;
    for (uint32_t p = 0; p < 200; p++)
        connect_from(pid(20000 + p), t++, NULL);
    assert_true(g_s[a].used && g_s[a].auth);
    assert_int_equal(count(true, NULL), 21);
    assert_int_equal(count(false, NULL), MUX_UNAUTH_MAX);
}

/* All slots held by authenticated clients: a newcomer is refused (nobody
 * authenticated is ever closed for it); authenticated clients can use every
 * slot the unauthenticated share does not hold. */
static void test_full_of_authenticated(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < MUX_MAX_CLIENTS; i++) {
        int k = connect_from(pid(100 + i), 0, NULL);
        assert_true(k >= 0);
        g_s[k].auth = true;
    }
    enum mux_admit_verdict v;
    assert_int_equal(connect_from(pid(1), 1, &v), -1);
    assert_int_equal(v, MUX_REFUSE_FULL);
    /* One leaves: the next one gets its slot. */
    g_s[7].used = false;
    assert_int_equal(connect_from(pid(1), 2, &v), 7);
    assert_int_equal(v, MUX_ADMIT);
    /* Full again, with one unauthenticated: the next one replaces it. */
    assert_int_equal(connect_from(pid(2), 3, &v), 7);
    assert_int_equal(v, MUX_ADMIT_EVICT);
}

static void test_deadline(void **state)
{
    (void)state;
    struct mux_slot s = {.used = true, .peer = pid(1), .since_ms = 1000};
    assert_false(mux_deadline_due(&s, 1000 + MUX_AUTH_DEADLINE_MS - 1, false));
    assert_true(mux_deadline_due(&s, 1000 + MUX_AUTH_DEADLINE_MS, false));
    /* Waiting for the control domain's answer: not its fault. */
    assert_false(mux_deadline_due(&s, 1000 + 10 * MUX_AUTH_DEADLINE_MS, true));
    s.auth = true;
    assert_false(mux_deadline_due(&s, UINT64_MAX, false));
    s.auth = false;
    s.used = false;
    assert_false(mux_deadline_due(&s, UINT64_MAX, false));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_peer_identity, setup),
        cmocka_unit_test_setup(test_one_flooder, setup),
        cmocka_unit_test_setup(test_many_flooders, setup),
        cmocka_unit_test_setup(test_full_of_authenticated, setup),
        cmocka_unit_test_setup(test_deadline, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
