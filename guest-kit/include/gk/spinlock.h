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

#endif
