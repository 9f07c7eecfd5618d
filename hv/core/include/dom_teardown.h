/*
 * Destroying a domain in bounded steps (hv/core/dom_teardown.c): ports,
 * capabilities, page tables, grants, frames, in that order; the destroyer
 * pays a step per hypercall entry, deferred work the rest; zombies reaped.
 */
#ifndef HV_DOM_TEARDOWN_H
#define HV_DOM_TEARDOWN_H

#include "domain.h"

struct pmm;

/* One bounded step of releasing every object, frame and reference d
 * holds (d must not be running): true when it is done, false when more
 * steps are needed. Afterwards frames stay only if grantees still map them
 * (d must then stay a zombie until grant_table_reap ends those grants). */
bool domain_teardown_step(struct domain *d, struct pmm *pmm);
/* The same to completion, for boot-time callers only (the root's failed
 * build, the domain_cycle self-test): unbounded, no guest waits on it. */
bool domain_destroy(struct domain *d, struct pmm *pmm);
/* Kills d (it must not be the current domain): stops its VCPUs, marks it
 * DEAD and starts its teardown; steps are taken by its destroyer's next
 * hypercalls (domain_owed_work) and by deferred work. When done its quota
 * goes back to its creator and its slot is freed (or it stays a zombie
 * while grantees map its frames). */
void domain_destroy_dead(struct domain *d);
/* Destroys d at the next safe point (domain_deferred_work). */
void domain_destroy_later(struct domain *d);
/* Makes the next domain_deferred_work look for work (teardown steps). */
void domain_deferred_kick(void);
/* One bounded step for zombie d: ends what grants it can, frees frames;
 * frees the slot when nothing is left. */
void domain_reap(struct domain *d);
/* Called by hypercall_entry before it runs a call of d: if d destroyed a
 * domain whose teardown is not finished, takes one step of it and returns
 * true if the call must restart (the teardown is not finished yet); the
 * destroyer pays for what it destroyed, a bounded step per entry. */
bool domain_owed_work(struct domain *d);
/* One step of deferred teardown work (one domain, one bounded step);
 * true if work remains. */
bool domain_teardown_deferred_step(void);

#endif
