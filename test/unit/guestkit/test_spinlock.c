#define _POSIX_C_SOURCE 200809L
/*
 * Host tests of gk/spinlock.h with pthreads: mutual exclusion (a plain,
 * non-atomic read-modify-write of several words under the lock never loses
 * an update or tears), trylock semantics, and that the wait loop really
 * contains `pause` (the object code of gk_spin_lock is inspected); the
 * recursive lock: nesting by one owner, exclusion between owners.
 */
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gk/spinlock.h"

#define THREADS 4
#define ITERATIONS 40000

static struct gk_spinlock lock = GK_SPINLOCK_INIT;
/* Three words that must always be equal when the lock is free. */
static volatile uint64_t words[3];
static volatile int torn;
static unsigned trylock_wins[THREADS];

struct arg {
    unsigned id;
};

static void *worker(void *p)
{
    struct arg *a = p;
    for (unsigned i = 0; i < ITERATIONS; i++) {
        bool via_try = (i % 8) == 0 && gk_spin_trylock(&lock);
        if (via_try)
            trylock_wins[a->id]++;
        else
            gk_spin_lock(&lock);
        uint64_t v = words[0];
        if (words[1] != v || words[2] != v)
            torn = 1;
        words[0] = v + 1;
        if ((i & 63) == 0)
            sched_yield(); /* hold the lock across a reschedule now and then */
        words[1] = v + 1;
        words[2] = v + 1;
        gk_spin_unlock(&lock);
    }
    return NULL;
}

static void test_mutual_exclusion(void **state)
{
    (void)state;
    pthread_t t[THREADS];
    struct arg args[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        args[i].id = i;
        assert_int_equal(pthread_create(&t[i], NULL, worker, &args[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(torn, 0);
    assert_int_equal(words[0], (uint64_t)THREADS * ITERATIONS);
    assert_int_equal(words[1], words[0]);
    assert_false(gk_spin_is_locked(&lock));
    unsigned wins = 0;
    for (unsigned i = 0; i < THREADS; i++)
        wins += trylock_wins[i];
    assert_true(wins > 0);
}

static void *try_from_other_thread(void *p)
{
    return (void *)(uintptr_t)gk_spin_trylock(p);
}

static void test_trylock(void **state)
{
    (void)state;
    struct gk_spinlock l;
    gk_spin_init(&l);
    assert_false(gk_spin_is_locked(&l));
    assert_true(gk_spin_trylock(&l));
    assert_true(gk_spin_is_locked(&l));
    assert_false(gk_spin_trylock(&l)); /* not recursive */
    pthread_t t;
    void *res;
    assert_int_equal(pthread_create(&t, NULL, try_from_other_thread, &l), 0);
    assert_int_equal(pthread_join(t, &res), 0);
    assert_int_equal((uintptr_t)res, 0);
    gk_spin_unlock(&l);
    assert_false(gk_spin_is_locked(&l));
    assert_int_equal(pthread_create(&t, NULL, try_from_other_thread, &l), 0);
    assert_int_equal(pthread_join(t, &res), 0);
    assert_int_equal((uintptr_t)res, 1);
    assert_true(gk_spin_is_locked(&l));
}

/* A lock held by another thread for a while: the waiter gets it only after
 * the release, and sees what the holder wrote before releasing. */
static struct gk_spinlock handoff = GK_SPINLOCK_INIT;
static volatile int handoff_data;

static void *holder(void *p)
{
    (void)p;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    handoff_data = 42;
    gk_spin_unlock(&handoff);
    return NULL;
}

static void test_handoff(void **state)
{
    (void)state;
    gk_spin_lock(&handoff);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, holder, NULL), 0);
    gk_spin_lock(&handoff); /* spins with pause until holder releases */
    assert_int_equal(handoff_data, 42);
    gk_spin_unlock(&handoff);
    assert_int_equal(pthread_join(t, NULL), 0);
}

/* The wait loop must contain pause (F3 90): gk_spin_lock is always inlined,
 * so it is in the first bytes of a function that only takes the lock (the
 * function is about 256 bytes with ASan; the next one in the file has none). */
__attribute__((noinline)) static void lock_for_inspection(struct gk_spinlock *l)
{
    gk_spin_lock(l);
}
__attribute__((noinline)) static void after_inspection(void)
{
    __asm__ volatile("");
}

static void test_pause_in_loop(void **state)
{
    (void)state;
    const unsigned char *code = (const unsigned char *)(uintptr_t)lock_for_inspection;
    int found = 0;
    for (unsigned i = 0; i + 1 < 256 && !found; i++)
        found = code[i] == 0xf3 && code[i + 1] == 0x90;
    assert_true(found);
    struct gk_spinlock l = GK_SPINLOCK_INIT;
    lock_for_inspection(&l);
    assert_true(gk_spin_is_locked(&l));
    after_inspection();
}

/* Recursive locks: each thread takes the lock two or three levels deep and
 * changes the words at every level; nobody else gets in before the last
 * release, and the lock is free at the end. */
static struct gk_rspinlock rlock = GK_RSPINLOCK_INIT;
static volatile uint64_t rwords[2];
static volatile int rtorn;

static void rbump(void)
{
    uint64_t v = rwords[0];
    if (rwords[1] != v)
        rtorn = 1;
    rwords[0] = v + 1;
    rwords[1] = v + 1;
}

static void *rworker(void *p)
{
    uint32_t id = (uint32_t)(uintptr_t)p;
    for (unsigned i = 0; i < ITERATIONS / 4; i++) {
        gk_rspin_lock(&rlock, id);
        rbump();
        gk_rspin_lock(&rlock, id); /* nested: must not wait for itself */
        if (!gk_rspin_held_by(&rlock, id) || rlock.depth != 2)
            rtorn = 1;
        rbump();
        if (i % 3 == 0) {
            gk_rspin_lock(&rlock, id);
            rbump();
            gk_rspin_unlock(&rlock);
        }
        if ((i & 63) == 0)
            sched_yield(); /* hold it across a reschedule now and then */
        gk_rspin_unlock(&rlock);
        rbump(); /* still held after an inner release */
        gk_rspin_unlock(&rlock);
    }
    return NULL;
}

static void test_recursive(void **state)
{
    (void)state;
    pthread_t t[THREADS];
    for (unsigned i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, rworker, (void *)(uintptr_t)i), 0);
    for (unsigned i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(rtorn, 0);
    uint64_t per_thread = 3ull * (ITERATIONS / 4) + (ITERATIONS / 4 + 2) / 3;
    assert_int_equal(rwords[0], THREADS * per_thread);
    assert_false(gk_spin_is_locked(&rlock.lock));
    assert_int_equal(rlock.owner, GK_RSPIN_NOBODY);
    assert_int_equal(rlock.depth, 0);
    /* A holder's lock is not another owner's. */
    gk_rspin_lock(&rlock, 7);
    assert_true(gk_rspin_held_by(&rlock, 7));
    assert_false(gk_rspin_held_by(&rlock, 8));
    assert_false(gk_spin_trylock(&rlock.lock));
    gk_rspin_unlock(&rlock);
    assert_false(gk_spin_is_locked(&rlock.lock));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutual_exclusion), cmocka_unit_test(test_trylock),
        cmocka_unit_test(test_handoff),          cmocka_unit_test(test_pause_in_loop),
        cmocka_unit_test(test_recursive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
