/*
 * System time, wall clock, the one-shot timer and sleeping (see gk/time.h).
 *
 * The time record and the wall clock follow the version protocol of
 * hv/shared_info.h: the hypervisor makes version odd while it updates; a
 * reader copies the record between two reads of an even, unchanged
 * version. The retry loops are bounded so that a corrupt (stuck odd)
 * version cannot hang the domain: after READ_TRIES the last copy is used.
 */
#include "gk/time.h"

#include "gk/event.h"
#include "gk/gk.h"
#include "gk/vcpu.h"

#define READ_TRIES 100000u

/* Per VCPU: HV_VIRQ_TIMER's port (0 until bound), and whether it is bound
 * (by us, or HV_EEXIST: by the domain's own code). */
static GK_PER_VCPU(uint32_t, timer_port);
static GK_PER_VCPU(bool, timer_bound);

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return ((uint64_t)hi << 32) | lo;
}

uint64_t gk_now_ns(void)
{
    const volatile struct hv_vcpu_time_info *src = &gk_shared_info()->vcpu_info[0].time;
    struct hv_vcpu_time_info t = {0};
    uint64_t tsc = 0;
    for (unsigned i = 0; i < READ_TRIES; i++) {
        uint32_t v1 = __atomic_load_n(&src->version, __ATOMIC_ACQUIRE);
        t.tsc_timestamp = src->tsc_timestamp;
        t.system_time_ns = src->system_time_ns;
        t.tsc_to_system_mul = src->tsc_to_system_mul;
        t.tsc_shift = src->tsc_shift;
        tsc = rdtsc();
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        uint32_t v2 = __atomic_load_n(&src->version, __ATOMIC_ACQUIRE);
        if (v1 == v2 && !(v1 & 1u))
            break;
        __asm__ volatile("pause");
    }
    return gk_time_from_record(&t, tsc);
}

void gk_wallclock(uint64_t *sec, uint32_t *nsec)
{
    const volatile struct hv_shared_info *sh = gk_shared_info();
    uint64_t wc_sec = 0;
    uint32_t wc_nsec = 0;
    for (unsigned i = 0; i < READ_TRIES; i++) {
        uint32_t v1 = __atomic_load_n(&sh->wc_version, __ATOMIC_ACQUIRE);
        wc_sec = sh->wc_sec;
        wc_nsec = sh->wc_nsec;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        uint32_t v2 = __atomic_load_n(&sh->wc_version, __ATOMIC_ACQUIRE);
        if (v1 == v2 && !(v1 & 1u))
            break;
        __asm__ volatile("pause");
    }
    /* wc_nsec may be >= 10^9 if corrupt: the division absorbs it. */
    uint64_t ns = gk_now_ns();
    uint64_t total_ns = (uint64_t)wc_nsec + ns % GK_NS_PER_SEC;
    *sec = wc_sec + ns / GK_NS_PER_SEC + total_ns / GK_NS_PER_SEC;
    *nsec = (uint32_t)(total_ns % GK_NS_PER_SEC);
}

int64_t gk_timer_set(uint64_t deadline_ns)
{
    return gk_hc_set_timer(deadline_ns);
}

/* The timer VIRQ's handler: nothing to do, its pending bit is cleared by
 * the dispatcher; the sleeper re-reads the clock. */
static void timer_fired(uint32_t port, void *arg)
{
    (void)port;
    (void)arg;
}

/* Binds HV_VIRQ_TIMER on the calling VCPU once. HV_EEXIST (bound by the
 * domain's own code) is fine: the firing timer wakes HC_BLOCK either way. */
static void timer_bind(void)
{
    unsigned id = gk_vcpu_id();
    if (timer_bound[id])
        return;
    int64_t rc = gk_events_init();
    if (rc != HV_OK)
        gk_panic("gk_sleep: events: %lld", (long long)rc);
    rc = gk_evtchn_bind_virq(HV_VIRQ_TIMER, id, &timer_port[id]);
    if (rc == HV_OK) {
        gk_evtchn_bind_handler(timer_port[id], timer_fired, NULL);
        gk_evtchn_unmask(timer_port[id]);
    } else if (rc != HV_EEXIST) {
        gk_panic("gk_sleep: binding HV_VIRQ_TIMER: %lld", (long long)rc);
    }
    timer_bound[id] = true;
}

int64_t gk_timer_arm(uint64_t deadline_ns)
{
    timer_bind();
    return gk_timer_set(deadline_ns);
}

int64_t gk_sleep_until(uint64_t deadline_ns)
{
    timer_bind();
    bool was = gk_events_disable();
    while (gk_now_ns() < deadline_ns) {
        int64_t rc = gk_timer_set(deadline_ns);
        if (rc != HV_OK) {
            gk_events_restore(was);
            return rc;
        }
        /* Checked with upcalls masked, then HC_BLOCK: a timer that fires
         * after the check still wakes the block (hv/domctl.h). */
        gk_block();
        gk_events_disable();
    }
    gk_events_restore(was);
    return HV_OK;
}

int64_t gk_sleep_ns(uint64_t ns)
{
    uint64_t now = gk_now_ns();
    uint64_t deadline = ns > UINT64_MAX - now ? UINT64_MAX : now + ns;
    return gk_sleep_until(deadline);
}

int64_t gk_sleep_ms(uint64_t ms)
{
    uint64_t ns = ms > UINT64_MAX / GK_NS_PER_MS ? UINT64_MAX : ms * GK_NS_PER_MS;
    return gk_sleep_ns(ns);
}
