/*
 * guest-kit spinlocks: test-and-test-and-set locks that execute `pause`
 * while they wait, for data shared between the VCPUs of one domain (or, over
 * a shared page, between domains).
 *
 * - A waiter spins on a plain load (no bus-locked traffic) with `pause` in
 *   the loop, and only then retries the atomic exchange.
 * - gk_spin_lock has acquire semantics, gk_spin_unlock release semantics:
 *   everything written before an unlock is visible after the next lock.
 * - Not fair (no FIFO order) and not recursive. The holder must not block or
 *   yield for long: a VCPU preempted while holding a lock makes the others
 *   spin (the hypervisor does not yet know about guest locks).
 * - Not safe against event handlers by itself: a lock that an event handler
 *   also takes must be taken with the VCPU's upcalls masked
 *   (gk_events_disable / gk_events_restore, gk/event.h), or the handler may
 *   spin forever on a lock its own VCPU holds.
 *
 * Header-only, freestanding, also compiled on the host (tests use pthreads).
 * gk_spin_lock and gk_cpu_relax are always inlined, so the wait loop with
 * its `pause` is in the caller's code at every optimisation level.
 */
#ifndef GK_SPINLOCK_H
#define GK_SPINLOCK_H

#include <stdbool.h>
#include <stdint.h>

struct gk_spinlock {
    uint32_t locked; /* 0 free, 1 held; touched only through __atomic builtins */
};

#define GK_SPINLOCK_INIT                                                                           \
    {                                                                                              \
        0                                                                                          \
    }

/* Tells the CPU this is a spin-wait loop: saves power, frees the sibling
 * hyperthread, and avoids the memory-order mis-speculation at loop exit. */
__attribute__((always_inline)) static inline void gk_cpu_relax(void)
{
    __asm__ volatile("pause" ::: "memory");
}

static inline void gk_spin_init(struct gk_spinlock *lock)
{
    __atomic_store_n(&lock->locked, 0, __ATOMIC_RELAXED);
}

/* Takes the lock if it is free; true on success. Never waits. */
static inline bool gk_spin_trylock(struct gk_spinlock *lock)
{
    return __atomic_load_n(&lock->locked, __ATOMIC_RELAXED) == 0 &&
           __atomic_exchange_n(&lock->locked, 1, __ATOMIC_ACQUIRE) == 0;
}

/* Waits (with pause) until the lock is taken by the caller. */
__attribute__((always_inline)) static inline void gk_spin_lock(struct gk_spinlock *lock)
{
    while (__atomic_exchange_n(&lock->locked, 1, __ATOMIC_ACQUIRE) != 0) {
        while (__atomic_load_n(&lock->locked, __ATOMIC_RELAXED) != 0)
            gk_cpu_relax();
    }
}

/* Releases a lock the caller holds. */
static inline void gk_spin_unlock(struct gk_spinlock *lock)
{
    __atomic_store_n(&lock->locked, 0, __ATOMIC_RELEASE);
}

/* A snapshot, for assertions only ("the caller holds the lock"). */
static inline bool gk_spin_is_locked(struct gk_spinlock *lock)
{
    return __atomic_load_n(&lock->locked, __ATOMIC_RELAXED) != 0;
}

/* ---- Recursive locks ------------------------------------------------------
 *
 * A lock its holder may take again (guest-kit's memory manager calls its
 * own public functions). The caller names itself by a small owner id (in a
 * domain, gk_vcpu_id(); host tests use a thread index); ids are < 0xffffffff.
 * The holder takes it `depth` times and must release it as often. Same
 * rules otherwise as gk_spinlock (pause while waiting, not fair, mask events
 * if a handler also takes it). */
#define GK_RSPIN_NOBODY 0xffffffffu

struct gk_rspinlock {
    struct gk_spinlock lock;
    uint32_t owner; /* GK_RSPIN_NOBODY when free; written only by the holder */
    uint32_t depth; /* times the owner holds it */
};

#define GK_RSPINLOCK_INIT                                                                          \
    {                                                                                              \
        GK_SPINLOCK_INIT, GK_RSPIN_NOBODY, 0                                                       \
    }

/* Takes the lock for owner (again, if owner already holds it). */
__attribute__((always_inline)) static inline void gk_rspin_lock(struct gk_rspinlock *r,
                                                                uint32_t owner)
{
    /* Only the holder stores its own id, so reading our id here means we
     * hold it; any other value (a stale or changing one) means we do not. */
    if (__atomic_load_n(&r->owner, __ATOMIC_RELAXED) == owner) {
        r->depth++;
        return;
    }
    gk_spin_lock(&r->lock);
    __atomic_store_n(&r->owner, owner, __ATOMIC_RELAXED);
    r->depth = 1;
}

/* Releases one level; the last release frees the lock. */
static inline void gk_rspin_unlock(struct gk_rspinlock *r)
{
    if (--r->depth == 0) {
        __atomic_store_n(&r->owner, GK_RSPIN_NOBODY, __ATOMIC_RELAXED);
        gk_spin_unlock(&r->lock);
    }
}

/* Whether owner holds the lock (for assertions). */
static inline bool gk_rspin_held_by(struct gk_rspinlock *r, uint32_t owner)
{
    return __atomic_load_n(&r->owner, __ATOMIC_RELAXED) == owner;
}

#endif
