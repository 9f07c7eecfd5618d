/*
 * A domain's core objects (hv/core/objects.c): its capability table, event
 * channels and grant table wired in; the root's boot capabilities; lookups
 * by uid; the physical interrupt table; deferred work and state notices.
 */
#ifndef HV_OBJECTS_H
#define HV_OBJECTS_H

#include "domain.h"

/* Gives d (its shared page set up) a fresh uid, an empty capability table,
 * event channels and grant table, and its capability objects. */
void domain_objects_init(struct domain *d);
/* Closes every port of d (at most 1,023, each O(1)). */
void domain_ports_teardown(struct domain *d);
/* Removes capabilities naming d's objects, then d's own, charging *budget
 * (cap_object_clear_some): true when none is left. d->td_index says where
 * it is. Its grants are handled after the memory (dom_teardown.c). */
bool domain_caps_teardown(struct domain *d, uint32_t *budget);
/* The root's boot capabilities (proto/include/hv/domctl.h, enum hv_root_slot). */
void domain_root_caps(struct domain *root);
/* A domain that takes part in new operations (not being torn down):
 * BUILDING, RUNNING or SHUTDOWN. */
bool domain_live(const struct domain *d);
/* The domain with this uid (live: not FREE, DEAD or ZOMBIE), or NULL. */
struct domain *domain_by_uid(uint64_t uid);
/* The machine's physical interrupt sources and who they go to; the domain
 * whose event-channel state ed is. */
struct evtchn_pirq_table *domain_pirq_table(void);
/* Level lines waiting for EOIs: the nearest time one's limit passes (0:
 * none), and releasing those whose limit passed (evtchn_pirq_expire). */
uint64_t domain_pirq_deadline(void);
void domain_pirq_expire(uint64_t now_ns);
struct domain *domain_of_evtchn(struct evtchn_domain *ed);
/* Destroys domains whose last capability went or that only capability
 * cycles name (cap_mark_reachable) and reaps zombies; called on
 * the way out of every hypercall (never from inside a capability or mm
 * operation). */
void domain_deferred_work(void);
/* Raises HV_VIRQ_DOM_STATE in every domain holding a capability to d with
 * HV_CAP_R_DOM_STATE. */
void domain_notify_state(struct domain *d);

#endif
