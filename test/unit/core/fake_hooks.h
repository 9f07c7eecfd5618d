/*
 * Fake hypervisor for the core unit tests: test domains (a domain object,
 * a capability table, event-channel state and a shared-info page each) and
 * recording fakes of every hook cap.h and evtchn.h declare.
 */
#ifndef TEST_CORE_FAKE_HOOKS_H
#define TEST_CORE_FAKE_HOOKS_H

#include "cap.h"
#include "evtchn.h"

#define FAKE_DOMAINS 6
#define FAKE_LOG_MAX 4096

struct fake_domain {
    struct cap_object obj; /* type HV_CAP_DOMAIN */
    struct cap_table caps;
    struct evtchn_domain ev;
    struct hv_shared_info shared;
    bool dying; /* the lookup hooks return NULL */
};

struct fake_log {
    struct cap_object *unreferenced[FAKE_LOG_MAX];
    uint32_t unreferenced_count;
    struct {
        struct evtchn_domain *d;
        uint32_t vcpu;
    } kicks[FAKE_LOG_MAX];
    uint32_t kick_count;
    uint32_t pirq_unmasked[FAKE_LOG_MAX];
    uint32_t pirq_unmask_count;
    uint32_t pirq_masked[FAKE_LOG_MAX];
    uint32_t pirq_mask_count;
    uint32_t removed_count;               /* cap_hook_removed calls */
    uint32_t removed_cost;                /* what cap_hook_removed reports for an MMIO capability */
    const struct cap_object *removed_obj; /* the last removal's object */
    bool removed_slot_empty;              /* its slot was empty when the hook ran */
    struct {
        uint32_t pirq;
        struct evtchn_domain *d;
        uint32_t vcpu;
    } follows[FAKE_LOG_MAX];
    uint32_t follow_count;
    /* cap_hook_may_remove: an MMIO capability may go at the may_remove_steps-th
     * call that has budget (0: at once); each such call spends the budget. */
    uint32_t may_remove_steps;
    uint32_t may_remove_seen;
};

extern struct fake_domain *fake_doms; /* FAKE_DOMAINS of them */
extern struct fake_log fake_log;
extern struct evtchn_pirq_table fake_pirqs;

/* Allocate and initialise every fake domain (each with vcpu_count VCPUs),
 * clear the log. */
void fake_setup(uint32_t vcpu_count);
void fake_teardown(void);

#endif
