/* Recording fakes of the hypervisor hooks; see fake_hooks.h. */
#include "fake_hooks.h"

#include <stdlib.h>
#include <string.h>

struct fake_domain *fake_doms;
struct fake_log fake_log;
struct evtchn_pirq_table fake_pirqs;

void fake_setup(uint32_t vcpu_count)
{
    fake_doms = calloc(FAKE_DOMAINS, sizeof(*fake_doms));
    if (fake_doms == NULL)
        abort();
    memset(&fake_log, 0, sizeof(fake_log));
    evtchn_pirq_table_init(&fake_pirqs);
    for (int i = 0; i < FAKE_DOMAINS; i++) {
        struct fake_domain *fd = &fake_doms[i];
        cap_object_init(&fd->obj, HV_CAP_DOMAIN);
        cap_table_init(&fd->caps);
        if (evtchn_domain_init(&fd->ev, 100u + (uint64_t)i, &fd->shared, &fd->caps, &fake_pirqs,
                               vcpu_count) != HV_OK)
            abort();
    }
}

void fake_teardown(void)
{
    free(fake_doms);
    fake_doms = NULL;
}

static struct fake_domain *fake_from_obj(struct cap_object *o)
{
    for (int i = 0; i < FAKE_DOMAINS; i++)
        if (&fake_doms[i].obj == o)
            return fake_doms[i].dying ? NULL : &fake_doms[i];
    abort(); /* the code under test passed a non-domain object */
}

bool cap_hook_may_remove(struct cap *c, uint32_t *budget)
{
    if (c->type != HV_CAP_MMIO || fake_log.may_remove_steps == 0)
        return true;
    if (*budget == 0)
        return false;
    *budget = 0;
    if (++fake_log.may_remove_seen < fake_log.may_remove_steps)
        return false;
    fake_log.may_remove_seen = 0;
    return true;
}

uint32_t cap_hook_removed(const struct cap *slot, const struct cap_object *obj, uint16_t type,
                          uint64_t base, uint64_t count)
{
    (void)base;
    (void)count;
    fake_log.removed_count++;
    fake_log.removed_obj = obj;
    fake_log.removed_slot_empty = slot->obj == NULL;
    return type == HV_CAP_MMIO ? fake_log.removed_cost : 0;
}

void cap_object_unreferenced(struct cap_object *obj)
{
    if (fake_log.unreferenced_count < FAKE_LOG_MAX)
        fake_log.unreferenced[fake_log.unreferenced_count] = obj;
    fake_log.unreferenced_count++;
}

struct cap_table *cap_domain_table(struct cap_object *domain_obj)
{
    struct fake_domain *fd = fake_from_obj(domain_obj);
    return fd != NULL ? &fd->caps : NULL;
}

struct evtchn_domain *evtchn_domain_of(struct cap_object *domain_obj)
{
    struct fake_domain *fd = fake_from_obj(domain_obj);
    return fd != NULL ? &fd->ev : NULL;
}

void evtchn_kick_vcpu(struct evtchn_domain *d, uint32_t vcpu)
{
    if (fake_log.kick_count < FAKE_LOG_MAX) {
        fake_log.kicks[fake_log.kick_count].d = d;
        fake_log.kicks[fake_log.kick_count].vcpu = vcpu;
    }
    fake_log.kick_count++;
}

void evtchn_pirq_unmask(uint32_t irq)
{
    if (fake_log.pirq_unmask_count < FAKE_LOG_MAX)
        fake_log.pirq_unmasked[fake_log.pirq_unmask_count] = irq;
    fake_log.pirq_unmask_count++;
}

void evtchn_pirq_follow(uint32_t pirq, struct evtchn_domain *d, uint32_t vcpu)
{
    if (fake_log.follow_count < FAKE_LOG_MAX) {
        fake_log.follows[fake_log.follow_count].pirq = pirq;
        fake_log.follows[fake_log.follow_count].d = d;
        fake_log.follows[fake_log.follow_count].vcpu = vcpu;
    }
    fake_log.follow_count++;
}

/* The fake machine's lines: below 36 edges, from 36 level (shareable). */
bool evtchn_pirq_shareable(uint32_t irq)
{
    return irq >= 36;
}

void evtchn_pirq_mask(uint32_t irq)
{
    if (fake_log.pirq_mask_count < FAKE_LOG_MAX)
        fake_log.pirq_masked[fake_log.pirq_mask_count] = irq;
    fake_log.pirq_mask_count++;
}
