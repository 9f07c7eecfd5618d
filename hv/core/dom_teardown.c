/*
 * Destroying a domain in bounded steps (issue 12 section 3): however many
 * capabilities, ports, grants, page tables and frames a guest built, no
 * single step of its teardown does more than a fixed amount of work.
 *
 * A destroyed domain is DEAD while its teardown runs, stage by stage
 * (domain_teardown_step):
 *   PORTS   close its ports (at most 1,023, each O(1));
 *   CAPS    remove every capability naming its objects (the domain, its
 *           console, VCPUs, endpoints), in every table, then its own
 *           (TD_CAP_BUDGET removals a step, cap_object_clear_some);
 *   MM      drop its base, its pending operation and its pins, devalidating
 *           in budgeted steps (mm_domain_teardown);
 *   SHARED  drop the hypervisor's reference on its shared-info frame;
 *   GRANTS  end its grants (at most HV_GRANT_REFS; mapped ones are orphaned);
 *   FRAMES  give its frames back, a step looking at up to TD_FRAME_BUDGET
 *           frames of the frame table or giving back a fifth of that.
 * Then its slot is free, or it is a ZOMBIE while grantees still map its
 * frames (domain_reap, in steps too).
 *
 * Who takes the steps: the domain that destroyed it (HV_DOMCTL_DESTROY, or
 * deleting its last capability), at the start of each of its hypercalls,
 * which restart until the teardown is finished (domain_owed_work): so the
 * destroyer pays, and sees a finished teardown after its next call. Every
 * other teardown (a domain that shut down with nobody holding it, a
 * destroyer that stopped) is advanced by deferred work, one step each time
 * a CPU passes the exit of a hypercall or idles.
 */
#include "arch.h"
#include "domain.h"
#include "schedule.h"
#include "dom_teardown.h"
#include "objects.h"
#include "frame.h"
#include "log.h"
#include "mm_hv.h"
#include "pmm.h"
#include "pt.h"

/* Capability removals per step (the holder is DEAD: no MMIO sweep). */
#define TD_CAP_BUDGET CAP_REVOKE_BUDGET
/* Frames stage: work per step, in units: looking at a frame costs 1,
 * giving one back TD_RELEASE_COST (frame table, pool). */
#define TD_FRAME_BUDGET 2048u
#define TD_RELEASE_COST 5u

enum td_stage {
    TD_PORTS = 0,
    TD_CAPS,
    TD_MM,
    TD_SHARED,
    TD_GRANTS,
    TD_FRAMES,
    TD_DONE,
};

/* Frees the frames of d from d->td_cursor on, TD_FRAME_BUDGET units at
 * most: true when the whole table was looked at. With tolerate_busy, frames
 * still in use (mapped through orphaned grants) are skipped instead of a
 * panic. */
static bool release_frames_step(struct domain *d, struct pmm *pmm, bool tolerate_busy)
{
    uint64_t count = mm_hv_frames_count();
    /* No CPU runs d here (destroyed only then): this flushes nothing and
     * states the rule every path that frees a domain's frames follows. */
    domain_frames_freed(d);
    for (uint32_t spent = 0; d->td_cursor < count && d->pages_count; spent++) {
        if (spent >= TD_FRAME_BUDGET)
            return false;
        mfn_t m = mfn(d->td_cursor++);
        if (frame_get(m)->owner != d->id)
            continue;
        spent += TD_RELEASE_COST - 1;
        int rc = frame_release(m, d->id);
        if (rc == HV_EBUSY && tolerate_busy)
            continue;
        if (rc != HV_OK)
            panic("domain teardown: frame %#llx of d%u still in use (%d)",
                  (unsigned long long)mfn_x(m), d->id, rc);
        if (!pmm_free(pmm, m))
            panic("domain teardown: frame %#llx was not allocated", (unsigned long long)mfn_x(m));
        d->pages_count--;
    }
    return true;
}

bool domain_teardown_step(struct domain *d, struct pmm *pmm)
{
    /* Order: ports and capabilities (they may point at the shared page and
     * at other domains), then the page tables (dropping every grant
     * mapping d holds as grantee), then its grants as granter, then the
     * frames. */
    switch (d->td_stage) {
    case TD_PORTS:
        domain_ports_teardown(d);
        d->td_stage = TD_CAPS;
        d->td_index = 0;
        return false;
    case TD_CAPS: {
        uint32_t budget = TD_CAP_BUDGET;
        if (!domain_caps_teardown(d, &budget))
            return false;
        d->td_stage = TD_MM;
        return false;
    }
    case TD_MM:
        if (mm_domain_teardown(&d->mm) == HV_EAGAIN)
            return false;
        d->td_stage = TD_SHARED;
        /* the next two stages are O(1) and O(HV_GRANT_REFS) */
        __attribute__((fallthrough));
    case TD_SHARED:
        if (d->shared) {
            pt_type_put(d->shared_info_mfn);
            d->shared = NULL;
        }
        d->td_stage = TD_GRANTS;
        __attribute__((fallthrough));
    case TD_GRANTS:
        d->td_orphans = d->uid != 0 ? grant_table_teardown(&d->gt) : 0;
        d->td_stage = TD_FRAMES;
        d->td_cursor = 0;
        return false;
    case TD_FRAMES:
        if (!release_frames_step(d, pmm, d->td_orphans != 0))
            return false;
        BUG_ON(d->td_orphans == 0 && d->pages_count != 0);
        d->l4 = INVALID_MFN;
        d->td_stage = TD_DONE;
        return true;
    default: return true;
    }
}

bool domain_destroy(struct domain *d, struct pmm *pmm)
{
    d->td_stage = TD_PORTS;
    while (!domain_teardown_step(d, pmm))
        ;
    return d->pages_count == 0;
}

/* The DEAD domain with this uid, or NULL. */
static struct domain *dead_by_uid(uint64_t uid)
{
    for (unsigned i = 0; i < DOMAIN_MAX; i++) {
        struct domain *d = domain_at(i);
        if (d && uid != 0 && d->uid == uid && d->state == DOMAIN_DEAD)
            return d;
    }
    return NULL;
}

/* One step of d's teardown; when it is finished, d becomes FREE or a
 * ZOMBIE. True while d stays DEAD. */
static bool teardown_continue(struct domain *d)
{
    if (!domain_teardown_step(d, mm_hv_pool()))
        return true;
    if (d->pages_count == 0) {
        log_debug("d%u (%s): destroyed", d->id, d->name);
        d->state = DOMAIN_FREE;
    } else {
        log_info("d%u (%s): destroyed; %llu frames stay until grantees unmap them", d->id, d->name,
                 (unsigned long long)d->pages_count);
        d->td_cursor = 0; /* domain_reap looks at the whole table again */
        d->state = DOMAIN_ZOMBIE;
    }
    return false;
}

void domain_destroy_dead(struct domain *d)
{
    BUG_ON(d->state == DOMAIN_FREE || d->state == DOMAIN_ZOMBIE);
    if (d->state == DOMAIN_DEAD && d->td_started)
        return; /* under way */
    d->state = DOMAIN_DEAD;
    domain_vcpus_stop(d);
    if (d->vcpu_count != 0) {
        /* A VCPU is still on a CPU (this one or another): it is retired
         * once that CPU has left it; the destruction is retried then. */
        domain_destroy_later(d);
        return;
    }
    struct domain *creator = domain_by_uid(d->creator_uid);
    if (creator)
        creator->max_pages += d->quota_pages; /* the quota goes back */
    log_debug("d%u (%s): teardown of %llu frames begins", d->id, d->name,
              (unsigned long long)d->pages_count);
    d->td_started = true;
    d->td_stage = TD_PORTS;
    domain_deferred_kick(); /* deferred work takes steps too */
    (void)teardown_continue(d);
}

void domain_reap(struct domain *d)
{
    BUG_ON(d->state != DOMAIN_ZOMBIE);
    if (grant_table_reap(&d->gt) != 0)
        return;
    if (!release_frames_step(d, mm_hv_pool(), false))
        return;
    log_debug("d%u (%s): zombie reaped", d->id, d->name);
    d->state = DOMAIN_FREE;
}

bool domain_owed_work(struct domain *d)
{
    if (d->owed_teardown_uid == 0)
        return false;
    struct domain *t = dead_by_uid(d->owed_teardown_uid);
    if (t && !t->td_started) {
        if (t->vcpu_count != 0)
            return true; /* still on another CPU: wait until it leaves */
        domain_destroy_dead(t);
    }
    if (t && t->state == DOMAIN_DEAD && teardown_continue(t))
        return true;
    d->owed_teardown_uid = 0;
    return false;
}

/* Whether the domain on this CPU pays for d's teardown: its next hypercall
 * takes the next step (domain_owed_work), so this CPU's deferred work need
 * not (one step per stretch of work). Any other CPU's deferred work does,
 * so a destroyer that makes no hypercall stalls nothing. */
static bool owed_by_current(const struct domain *d)
{
    const struct domain *c = current_domain;
    return c && c != d && c->owed_teardown_uid == d->uid;
}

bool domain_teardown_deferred_step(void)
{
    static unsigned next;
    bool more = false, stepped = false;
    /* The scan starts where the last one stepped and looks at every slot
     * once: `next` moves when this one steps, the scan must not (it did,
     * and skipped the slots after the one stepped: when that domain
     * finished in the step, nothing was left to say more work waited, and
     * the others stayed DEAD with their frames; the hypercall fuzzer found
     * it, harden_reap). */
    const unsigned start = next;
    for (unsigned k = 0; k < DOMAIN_MAX; k++) {
        unsigned i = (start + k) % DOMAIN_MAX;
        struct domain *d = domain_at(i);
        if (!d || !((d->state == DOMAIN_DEAD && d->td_started) || d->state == DOMAIN_ZOMBIE))
            continue;
        if (d->state == DOMAIN_DEAD && owed_by_current(d)) {
            more = true; /* its destroyer takes the steps */
            continue;
        }
        if (stepped) {
            more = true;
            break;
        }
        stepped = true;
        next = i + 1;
        if (d->state == DOMAIN_DEAD)
            more |= teardown_continue(d);
        else {
            domain_reap(d);
            more |= d->state == DOMAIN_ZOMBIE;
        }
    }
    return more;
}
