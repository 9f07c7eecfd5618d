/*
 * The shared-info page: one page per domain, mapped writable into the
 * domain and into the hypervisor. It carries the event-channel pending and
 * mask bitmaps, per-VCPU upcall state and the time the guest reads without
 * a hypercall.
 *
 * The guest may write anything here at any time, so the hypervisor treats
 * every value it reads back as hostile: it only ever sets or clears bits
 * with atomic operations and never trusts a value for anything but "is this
 * bit set".
 *
 * Event delivery is two-level (see docs/evtchn.md):
 *   port p pending  -> bit p of evtchn_pending
 *   unless bit p of evtchn_mask is set:
 *     bit p / 64 of the notified VCPU's pending_sel
 *     then that VCPU's upcall_pending = 1 (and the VCPU is kicked).
 * The upcall is delivered only while upcall_mask is 0; the hypervisor sets
 * upcall_mask to 1 on upcall entry and the guest clears it when done.
 *
 * Freestanding: no libc. Layout pinned by _Static_assert below.
 */
#ifndef HV_SHARED_INFO_H
#define HV_SHARED_INFO_H

#include <stddef.h>
#include <stdint.h>

#define HV_EVTCHN_PORTS 1024u /* ports per domain; port 0 is never used */
#define HV_EVTCHN_WORDS (HV_EVTCHN_PORTS / 64u)
#define HV_SHARED_INFO_VCPUS 32u /* VCPUs per domain with a vcpu_info slot */

/*
 * Per-VCPU time (placeholder layout for the time work, item 5 of issue 4):
 *   system_time_ns(now) = system_time_ns +
 *       (((tsc_now - tsc_timestamp) << tsc_shift) * tsc_to_system_mul) >> 32
 * (a negative tsc_shift shifts right). version is odd while the hypervisor
 * updates the record; a reader retries until it sees the same even version
 * before and after reading.
 */
struct hv_vcpu_time_info {
    uint32_t version;
    uint32_t reserved0;
    uint64_t tsc_timestamp;     /* TSC at the last update */
    uint64_t system_time_ns;    /* monotonic ns since boot at tsc_timestamp */
    uint32_t tsc_to_system_mul; /* 32.32 fixed-point multiplier */
    int8_t tsc_shift;
    uint8_t reserved1[3];
};

struct hv_vcpu_info {
    uint8_t upcall_pending; /* set by the hypervisor, cleared by the guest */
    uint8_t upcall_mask;    /* 1: no upcall; set by the hypervisor on entry */
    uint8_t reserved0[6];
    uint64_t pending_sel; /* bit w: word w of evtchn_pending may have work */
    uint64_t fault_addr;  /* page-fault address of the last reflected #PF */
    uint64_t reserved1;
    struct hv_vcpu_time_info time;
};

struct hv_shared_info {
    struct hv_vcpu_info vcpu_info[HV_SHARED_INFO_VCPUS];
    uint64_t evtchn_pending[HV_EVTCHN_WORDS];
    uint64_t evtchn_mask[HV_EVTCHN_WORDS];
    /* Wall clock at system time 0 (same version protocol as time_info). */
    uint32_t wc_version;
    uint32_t reserved0;
    uint64_t wc_sec;
    uint32_t wc_nsec;
    uint32_t reserved1;
    uint8_t reserved2[4096 - 2328];
};

_Static_assert(sizeof(struct hv_vcpu_time_info) == 32, "time info layout");
_Static_assert(offsetof(struct hv_vcpu_info, pending_sel) == 8, "vcpu info layout");
_Static_assert(offsetof(struct hv_vcpu_info, fault_addr) == 16, "vcpu info layout");
_Static_assert(offsetof(struct hv_vcpu_info, time) == 32, "vcpu info layout");
_Static_assert(sizeof(struct hv_vcpu_info) == 64, "vcpu info layout");
_Static_assert(offsetof(struct hv_shared_info, evtchn_pending) == 2048, "shared info layout");
_Static_assert(offsetof(struct hv_shared_info, evtchn_mask) == 2176, "shared info layout");
_Static_assert(offsetof(struct hv_shared_info, wc_version) == 2304, "shared info layout");
_Static_assert(offsetof(struct hv_shared_info, wc_sec) == 2312, "shared info layout");
_Static_assert(offsetof(struct hv_shared_info, wc_nsec) == 2320, "shared info layout");
_Static_assert(sizeof(struct hv_shared_info) == 4096, "shared info is one page");
_Static_assert(HV_EVTCHN_PORTS % 64 == 0 && HV_EVTCHN_WORDS <= 64,
               "pending_sel has one bit per pending word");

#endif /* HV_SHARED_INFO_H */
