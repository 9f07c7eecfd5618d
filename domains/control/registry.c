/* The domains registry: build, control, supervise (see registry.h). */
#include "registry.h"

#include "devices.h"
#include "disks.h"
#include "netstart.h"

#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "hvlib/status.h"
#include "consoles.h"
#include "gk/gk.h"
#include "log.h"
#include "restart.h"
#include "services.h"

#define MEM_MIN_BYTES (1ull << 20)

static struct dom doms[DOM_MAX];
static void (*state_cb)(void);
static uint32_t gen_counter; /* incarnations, never reused (struct dom.gen) */

static void on_dom_state(uint32_t port, void *arg)
{
    (void)port;
    (void)arg;
    if (state_cb)
        state_cb();
}

void registry_init(void (*on_state_event)(void))
{
    state_cb = on_state_event;
    uint32_t port = 0;
    if (gk_evtchn_bind_virq(HV_VIRQ_DOM_STATE, 0, &port) == HV_OK) {
        gk_evtchn_bind_handler(port, on_dom_state, NULL);
        gk_evtchn_unmask(port);
    } else {
        gk_printf("control: HV_VIRQ_DOM_STATE could not be bound: polling domain states\n");
    }
}

static bool name_eq(const char *a, struct hvcbor_str b)
{
    return strlen(a) == b.len && memcmp(a, b.ptr, b.len) == 0;
}

struct dom *registry_find(struct hvcbor_str name)
{
    for (uint32_t i = 0; i < DOM_MAX; i++)
        if (doms[i].used && name_eq(doms[i].name, name))
            return &doms[i];
    return NULL;
}

struct dom *registry_at(uint32_t i)
{
    return i < DOM_MAX && doms[i].used ? &doms[i] : NULL;
}

static void copy_str(char *dst, size_t cap, struct hvcbor_str s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    memcpy(dst, s.ptr, n);
    dst[n] = 0;
}

static struct hvcbor_str str_of(const char *s)
{
    return (struct hvcbor_str){(const uint8_t *)s, (uint32_t)strlen(s)};
}

/* Copies *s into d->store (at *used) and points it there. */
static bool keep(struct dom *d, uint32_t *used, struct hvcbor_str *s)
{
    if (s->len > DOM_STORE_BYTES - *used)
        return false;
    memcpy(d->store + *used, s->ptr, s->len);
    s->ptr = (const uint8_t *)d->store + *used;
    *used += s->len;
    return true;
}

/* Makes d->cfg's config, offers, uses, channels and disks point into d->store. */
static bool keep_lists(struct dom *d)
{
    uint32_t used = 0;
    struct proto_domain_config *c = &d->cfg;
    for (uint32_t i = 0; c->has_config && i < c->config.count; i++)
        if (!keep(d, &used, &c->config.items[i].key) || !keep(d, &used, &c->config.items[i].value))
            return false;
    for (uint32_t i = 0; c->has_offers && i < c->offers.count; i++)
        if (!keep(d, &used, &c->offers.items[i]))
            return false;
    for (uint32_t i = 0; c->has_uses && i < c->uses.count; i++)
        if (!keep(d, &used, &c->uses.items[i]))
            return false;
    for (uint32_t i = 0; c->has_channels && i < c->channels.count; i++)
        if (!keep(d, &used, &c->channels.items[i].name) ||
            !keep(d, &used, &c->channels.items[i].peer))
            return false;
    for (uint32_t i = 0; c->has_disks && i < c->disks.count; i++)
        if (!keep(d, &used, &c->disks.items[i].volume))
            return false;
    return true;
}

static bool printable(struct hvcbor_str s)
{
    for (uint32_t i = 0; i < s.len; i++)
        if (s.ptr[i] < 0x20 || s.ptr[i] == 0x7f)
            return false;
    return s.len > 0;
}

static bool str_same(struct hvcbor_str a, struct hvcbor_str b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* The bus parts of a configuration: names without control characters, keys
 * and channel names unique, channel sizes valid, no channel to itself. */
static const char *check_bus_config(const struct proto_domain_config *c)
{
    for (uint32_t i = 0; c->has_config && i < c->config.count; i++) {
        if (!printable(c->config.items[i].key))
            return "a config key is empty or has a control character";
        for (uint32_t j = 0; j < i; j++)
            if (str_same(c->config.items[i].key, c->config.items[j].key))
                return "a config key appears twice";
    }
    for (uint32_t i = 0; c->has_offers && i < c->offers.count; i++)
        if (!printable(c->offers.items[i]))
            return "a service name in offers has a control character";
    for (uint32_t i = 0; c->has_uses && i < c->uses.count; i++)
        if (!printable(c->uses.items[i]))
            return "a service name in uses has a control character";
    for (uint32_t i = 0; c->has_channels && i < c->channels.count; i++) {
        const struct proto_channel_spec *ch = &c->channels.items[i];
        uint32_t ring, buf;
        if (!printable(ch->name) || !printable(ch->peer))
            return "a channel's name or peer has a control character";
        if (str_same(ch->peer, c->name))
            return "a channel's peer is the domain itself";
        if (!channel_geometry(ch->size_bytes, &ring, &buf))
            return "a channel's size must be a power of two from 32 KiB to 2 MiB";
        for (uint32_t j = 0; j < i; j++)
            if (str_same(ch->name, c->channels.items[j].name))
                return "a channel name appears twice";
    }
    return NULL;
}

/* The name of a status the hypervisor answered ("HV_EBUSY"). */
static const char *status_name(int64_t st)
{
    const char *n = hv_status_name(st);
    return n ? n : "an unknown hypervisor status";
}

/* Maps a refusal of SCHED_SET / VCPU_PIN to an error code and a reason. */
static const char *sched_refusal(int64_t st, struct ctl_error *err)
{
    err->hv_status = st;
    switch (st) {
    case HV_EBUSY:
        err->code = PROTO_ERROR_CODE_WRONG_STATE;
        return "gang can change only while the domain's VCPUs are not runnable (pause it first)";
    case HV_E2BIG:
        err->code = PROTO_ERROR_CODE_INVALID;
        return "gang needs a distinct CPU for every VCPU of the domain";
    case HV_EINVAL:
        err->code = PROTO_ERROR_CODE_INVALID;
        return "the hypervisor refused the value (cap is at most 100 x CPUs; a pin mask must "
               "name a CPU of the machine)";
    default: err->code = PROTO_ERROR_CODE_INTERNAL; return "the hypervisor refused it";
    }
}

/* Gives the built (paused) domain d its configured weight, cap and gang and
 * its VCPU pins. NULL, or a reason in detail and *err. */
static const char *apply_sched(struct dom *d, char *detail, uint32_t detail_cap,
                               struct ctl_error *err)
{
    struct hv_domctl_sched sp = {.dom_slot = d->built.dom_slot,
                                 .weight = (uint32_t)d->cfg.weight,
                                 .cap_pct = (uint32_t)d->cfg.cap_percent,
                                 .gang = d->cfg.gang ? 1u : 0u};
    int64_t st = gk_hc_domain_op(HV_DOMCTL_SCHED_SET, &sp);
    if (st != HV_OK) {
        snprintf(detail, detail_cap, "weight %u, cap %u%%, gang %s: %s", sp.weight, sp.cap_pct,
                 sp.gang ? "true" : "false", sched_refusal(st, err));
        return detail;
    }
    for (uint32_t v = 0; v < d->cfg.vcpus && v < DOM_VCPUS_MAX; v++) {
        if (!d->pin_mask[v])
            continue;
        struct hv_domctl_vcpu_pin pin = {
            .dom_slot = d->built.dom_slot, .vcpu = v, .cpu_mask = d->pin_mask[v]};
        if ((st = gk_hc_domain_op(HV_DOMCTL_VCPU_PIN, &pin)) != HV_OK) {
            snprintf(detail, detail_cap, "pinning VCPU %u: %s", v, sched_refusal(st, err));
            return detail;
        }
    }
    return NULL;
}

/* Builds (paused) the hypervisor domain of d from its kept configuration,
 * watches its console and starts it unless paused. */
static const char *build(struct dom *d, bool paused, char *detail, uint32_t detail_cap,
                         struct ctl_error *err)
{
    char hvname[HV_DOMAIN_NAME_MAX];
    size_t n = 0;
    for (; d->name[n] && n < sizeof hvname - 1; n++)
        hvname[n] = d->name[n] >= 0x20 && d->name[n] < 0x7f ? d->name[n] : '_';
    hvname[n] = 0;
    struct gk_build_spec spec = {
        .name = hvname,
        .image = d->image->bytes,
        .image_size = (size_t)d->image->size_bytes,
        .pages = (d->cfg.memory_bytes + 4095) / 4096,
        .max_pages = (d->cfg.max_memory_bytes + 4095) / 4096,
        .vcpus = (uint32_t)d->cfg.vcpus,
        .cmdline = d->cmdline,
        .mem_slot = HV_ROOT_SLOT_MEMORY,
        .dom_slot = DOM_SLOT_BASE + 2 * d->index,
        .console_slot = DOM_SLOT_BASE + 2 * d->index + 1,
        .paused = true,
        .on_created = bus_on_created, /* the domain's bus (bus.c) */
        .on_created_arg = d,
    };
    d->gen = ++gen_counter;
    /* Slots of an earlier incarnation must be empty. */
    gk_cap_delete(spec.dom_slot);
    gk_cap_delete(spec.console_slot);
    const char *why_detail = NULL;
    int64_t st = 0;
    const char *why = gk_build_domain(&spec, &d->built, &why_detail, &st);
    if (why) {
        bus_release(d); /* what bus_on_created made, if it ran */
        snprintf(detail, detail_cap, "building it failed: %s%s%s%s%s", why, why_detail ? ": " : "",
                 why_detail ? why_detail : "", st ? " -> " : "", st ? status_name(st) : "");
        err->hv_status = st;
        if (st == HV_ENOMEM || (st == 0 && strstr(why, "memory")))
            err->code = PROTO_ERROR_CODE_NO_RESOURCES;
        else if (st == 0)
            err->code = PROTO_ERROR_CODE_INVALID;
        else
            err->code = PROTO_ERROR_CODE_INTERNAL;
        return detail;
    }
    d->has_domain = true;
    const char *dev_why = devices_give(d, detail, detail_cap);
    if (dev_why) {
        gk_domain_destroy(&d->built);
        bus_release(d);
        gk_cap_delete(d->built.dom_slot);
        gk_cap_delete(d->built.console_slot);
        d->has_domain = false;
        err->code = PROTO_ERROR_CODE_INTERNAL;
        return dev_why;
    }
    d->never_started = true;
    d->built_ns = gk_now_ns();
    d->restart_at_ns = 0;
    d->hung = false;
    d->hb_sent_ns = 0;
    d->stop_handled = false;
    d->shutting_down = false;
    d->shutdown_asked = false;
    d->shutdown_deadline_ns = 0;
    d->suspended = false;
    d->state = PROTO_DOMAIN_STATE_PAUSED;
    /* Scheduling parameters and pins before VCPU 0 first runs: gang can
     * only be set while no VCPU of the domain is runnable. */
    const char *sched_why = apply_sched(d, detail, detail_cap, err);
    if (sched_why) {
        devices_release(d);
        gk_domain_destroy(&d->built);
        bus_release(d);
        gk_cap_delete(d->built.dom_slot);
        gk_cap_delete(d->built.console_slot);
        d->has_domain = false;
        return sched_why;
    }
    con_watch(d);
    if (!paused) {
        int64_t rc = gk_domain_start(&d->built);
        if (rc != HV_OK) {
            devices_release(d);
            gk_domain_destroy(&d->built);
            bus_release(d);
            gk_cap_delete(d->built.dom_slot);
            gk_cap_delete(d->built.console_slot);
            d->has_domain = false;
            snprintf(detail, detail_cap, "starting it failed (%s)", status_name(rc));
            err->code = PROTO_ERROR_CODE_INTERNAL;
            err->hv_status = rc;
            return detail;
        }
        d->never_started = false;
        d->state = PROTO_DOMAIN_STATE_RUNNING;
    }
    return NULL;
}

const char *registry_create(const struct proto_domain_config *cfg, bool paused, struct dom **out,
                            char *detail, uint32_t detail_cap, struct ctl_error *err)
{
    err->code = PROTO_ERROR_CODE_INVALID;
    for (uint32_t i = 0; i < cfg->name.len; i++)
        if (cfg->name.ptr[i] < 0x20 || cfg->name.ptr[i] == 0x7f)
            return "the name has a control character";
    for (uint32_t i = 0; i < cfg->kernel.len; i++)
        if (cfg->kernel.ptr[i] < 0x20 || cfg->kernel.ptr[i] == 0x7f)
            return "the kernel name has a control character";
    if (cfg->cmdline.len && memchr(cfg->cmdline.ptr, 0, cfg->cmdline.len))
        return "the command line has a NUL byte";
    if (name_eq(CONTROL_NAME, cfg->name) || registry_find(cfg->name)) {
        err->code = PROTO_ERROR_CODE_CONFLICT;
        return "a domain of that name exists";
    }
    if (cfg->memory_bytes < MEM_MIN_BYTES || cfg->memory_bytes / 4096 > GK_BUILD_PAGES_MAX)
        return "memory-bytes must be 1 MiB .. 1 GiB";
    if (cfg->max_memory_bytes < cfg->memory_bytes)
        return "max-memory-bytes is below memory-bytes";
    if (cfg->max_memory_bytes / 4096 > GK_BUILD_PAGES_MAX)
        return "max-memory-bytes is above 1 GiB";
    /* The domain is created with this many VCPUs allowed; VCPU 0 runs its
     * entry and the guest starts the others itself (guest-kit's
     * gk_vcpu_start: HV_DOMCTL_VCPU_START on its own HV_CAP_SLOT_SELF,
     * which carries every right, so it needs nothing more from us). */
    if (cfg->vcpus < 1 || cfg->vcpus > HV_DOMAIN_VCPUS_MAX)
        return "vcpus must be 1 .. 8";
    const char *bad = check_bus_config(cfg);
    if (!bad)
        bad = restart_policy_check(cfg);
    if (bad)
        return bad;
    struct image *im = image_find(cfg->kernel);
    if (!im) {
        err->code = PROTO_ERROR_CODE_NOT_FOUND;
        return "no boot module or uploaded image has that kernel name";
    }
    if (devices_check(cfg, NULL, detail, detail_cap, &err->code))
        return detail;
    if (netstart_check_lease(cfg, detail, detail_cap, &err->code))
        return detail;
    if (disks_check(cfg, NULL, detail, detail_cap, &err->code))
        return detail;
    struct dom *d = NULL;
    for (uint32_t i = 0; i < DOM_MAX && !d; i++)
        if (!doms[i].used)
            d = &doms[i];
    if (!d) {
        err->code = PROTO_ERROR_CODE_NO_RESOURCES;
        return "the registry is full (32 domains)";
    }
    uint32_t index = (uint32_t)(d - doms);
    memset(d, 0, sizeof *d);
    d->index = index;
    copy_str(d->name, sizeof d->name, cfg->name);
    copy_str(d->kernel, sizeof d->kernel, cfg->kernel);
    copy_str(d->cmdline, sizeof d->cmdline, cfg->cmdline);
    d->cfg = *cfg;
    d->cfg.name = str_of(d->name);
    d->cfg.kernel = str_of(d->kernel);
    d->cfg.cmdline = str_of(d->cmdline);
    if (!keep_lists(d)) {
        memset(d, 0, sizeof *d);
        return "its config, services and channels are too long together";
    }
    d->image = im;
    const char *why = build(d, paused, detail, detail_cap, err);
    if (why) {
        memset(d, 0, sizeof *d);
        return why;
    }
    image_ref(im);
    d->used = true;
    *out = d;
    return NULL;
}

/* Destroys the hypervisor domain (keeping the entry). keep_devices: its
 * PCI functions stay its own for the next incarnation (a restart). */
static void kill_domain(struct dom *d, bool keep_devices)
{
    if (!d->has_domain)
        return;
    con_pump(d);
    if (keep_devices)
        devices_keep(d);
    else
        devices_release(d);
    bus_domain_gone(d, "it was destroyed");
    int64_t rc = gk_domain_destroy(&d->built);
    if (rc != HV_OK)
        gk_printf("control: destroying %s failed (%lld)\n", d->name, (long long)rc);
    bus_release(d);
    gk_cap_delete(d->built.dom_slot);
    gk_cap_delete(d->built.console_slot);
    d->has_domain = false;
}

static void forget(struct dom *d, const char *why)
{
    con_domain_gone(d, why);
    kill_domain(d, false);
    devices_release(d); /* also what a restarting or left-stopped entry kept */
    image_unref(d->image);
    memset(d, 0, sizeof *d);
}

const char *registry_destroy(struct dom *d, struct ctl_error *err)
{
    (void)err;
    forget(d, "the domain was destroyed");
    return NULL;
}

const char *registry_pause(struct dom *d, struct ctl_error *err)
{
    err->code = PROTO_ERROR_CODE_WRONG_STATE;
    if (!d->has_domain || d->never_started || d->state != PROTO_DOMAIN_STATE_RUNNING)
        return d->state == PROTO_DOMAIN_STATE_PAUSED ? "it is paused already" : "it is not running";
    int64_t rc = gk_domain_pause(d->built.dom_slot);
    if (rc != HV_OK) {
        err->hv_status = rc;
        return "the hypervisor refused to pause it";
    }
    d->state = PROTO_DOMAIN_STATE_PAUSED;
    return NULL;
}

const char *registry_unpause(struct dom *d, struct ctl_error *err)
{
    err->code = PROTO_ERROR_CODE_WRONG_STATE;
    if (!d->has_domain || d->state != PROTO_DOMAIN_STATE_PAUSED)
        return "it is not paused";
    int64_t rc =
        d->never_started ? gk_domain_start(&d->built) : gk_domain_unpause(d->built.dom_slot);
    if (rc != HV_OK) {
        err->hv_status = rc;
        return "the hypervisor refused to unpause it";
    }
    d->never_started = false;
    d->state = PROTO_DOMAIN_STATE_RUNNING;
    if (d->suspended) {
        d->suspended = false;
        bus_resumed(d);
    }
    return NULL;
}

const char *registry_shutdown(struct dom *d, enum proto_shutdown_kind kind, bool has_timeout,
                              uint64_t timeout_ns, const char **note, struct ctl_error *err)
{
    err->code = PROTO_ERROR_CODE_WRONG_STATE;
    *note = NULL;
    if (!d->has_domain ||
        (d->state != PROTO_DOMAIN_STATE_RUNNING && d->state != PROTO_DOMAIN_STATE_PAUSED &&
         d->state != PROTO_DOMAIN_STATE_SHUTTING_DOWN))
        return "it is not running";
    /* Ask the guest (HV_VIRQ_SHUTDOWN; guest-kit answers with HC_SHUTDOWN
     * and the reason). The hypervisor refuses (HV_EBUSY) unless it is
     * RUNNING and not paused: a paused domain cannot answer and is only
     * stopped by force at the timeout. */
    struct hv_domctl_shutdown_request rq = {
        .dom_slot = d->built.dom_slot,
        .reason = kind == PROTO_SHUTDOWN_KIND_REBOOT ? HV_SHUTDOWN_REBOOT : HV_SHUTDOWN_POWEROFF};
    int64_t st = HV_EBUSY;
    bool over_bus = false;
    if (!d->never_started && d->state != PROTO_DOMAIN_STATE_PAUSED) {
        /* Over its bus when it has one (answered with a reply); else the
         * hypervisor's request (HV_VIRQ_SHUTDOWN). */
        over_bus = bus_shutdown(d, kind);
        st = over_bus ? HV_OK : gk_hc_domain_op(HV_DOMCTL_SHUTDOWN_REQUEST, &rq);
    }
    d->shutdown_asked = st == HV_OK;
    if (st == HV_OK && over_bus)
        *note = has_timeout ? "asked the guest over its bus; forced at the timeout if it has not "
                              "stopped"
                            : "asked the guest over its bus; waits for it to stop";
    else if (st == HV_OK)
        *note = has_timeout ? "asked the guest; forced at the timeout if it has not stopped"
                            : "asked the guest; waits for it to stop";
    else
        *note = has_timeout ? "it cannot be asked (paused, or not running): stopped by force at "
                              "the timeout"
                            : "it cannot be asked (paused, or not running): waits for it to stop";
    d->shutting_down = true;
    d->shutdown_kind = kind;
    d->state = PROTO_DOMAIN_STATE_SHUTTING_DOWN;
    d->shutdown_deadline_ns = 0;
    if (has_timeout) {
        uint64_t now = gk_now_ns();
        d->shutdown_deadline_ns = timeout_ns > UINT64_MAX - now ? UINT64_MAX : now + timeout_ns;
        if (d->shutdown_deadline_ns == 0)
            d->shutdown_deadline_ns = 1;
    }
    return NULL;
}

static enum proto_stop_policy policy_for(const struct dom *d, uint32_t reason)
{
    if (reason == HV_SHUTDOWN_CRASH)
        return d->cfg.on_crash;
    if (reason == HV_SHUTDOWN_REBOOT)
        return d->cfg.on_reboot;
    return d->cfg.on_poweroff;
}

static const char *reason_name(uint32_t reason)
{
    return reason == HV_SHUTDOWN_CRASH    ? "crash"
           : reason == HV_SHUTDOWN_REBOOT ? "reboot"
                                          : "poweroff";
}

static enum proto_restart_cause cause_of(uint32_t reason)
{
    return reason == HV_SHUTDOWN_CRASH    ? PROTO_RESTART_CAUSE_CRASH
           : reason == HV_SHUTDOWN_REBOOT ? PROTO_RESTART_CAUSE_REBOOT
                                          : PROTO_RESTART_CAUSE_EXIT;
}

/* Builds d's next incarnation (its back-off is over, or there was none)
 * and logs the restart with its cause; a failed build leaves it stopped. */
static void rebuild(struct dom *d)
{
    char why[256];
    struct ctl_error e = {PROTO_ERROR_CODE_INTERNAL, 0};
    const char *err = build(d, false, why, sizeof why, &e);
    d->restarts++;
    d->has_last_cause = true;
    d->last_cause = d->pending_cause;
    ctl_log_add("control", "domain-restart", d->name, err == NULL, e.code,
                err ? err : d->restart_note);
    if (err) {
        gk_printf("control: %s: rebuilding it failed (%s): left stopped\n", d->name, err);
        d->state = PROTO_DOMAIN_STATE_CRASHED;
        d->stop_handled = true;
        d->left_stopped = true;
    }
}

/* d is to be rebuilt (cause, detail for the log): destroys its instance at
 * once (its functions kept for it, checked and reset), then rebuilds it
 * now or after its back-off delay, or leaves it stopped at its limit. */
static void restart(struct dom *d, enum proto_restart_cause cause, const char *detail)
{
    struct restart_policy p;
    restart_policy_of(&d->cfg, &p);
    uint64_t now = gk_now_ns(), delay = 0, ran = now - d->built_ns;
    uint32_t before = d->quick;
    bool again = restart_next(&p, d->built_ns, now, &d->quick, &delay);
    kill_domain(d, true);
    char dev[160];
    bool reset_ok = devices_reset(d, dev, sizeof dev);
    d->stop_handled = true;
    if (!again || !reset_ok) {
        char msg[300];
        if (!reset_ok)
            snprintf(msg, sizeof msg, "%s: its device could not be made safe (%s): left stopped",
                     detail, dev);
        else
            snprintf(msg, sizeof msg,
                     "%s: %u restarts in a row, each within %llu ms of its start (this one ran "
                     "%llu ms): left stopped; hvctl restart %s starts it again",
                     detail, before, (unsigned long long)(p.stable_ns / GK_NS_PER_MS),
                     (unsigned long long)(ran / GK_NS_PER_MS), d->name);
        gk_printf("control: %s: %s\n", d->name, msg);
        ctl_log_add("control", "domain-stopped", d->name, false, PROTO_ERROR_CODE_BUSY, msg);
        d->left_stopped = true;
        d->state = cause == PROTO_RESTART_CAUSE_EXIT || cause == PROTO_RESTART_CAUSE_REBOOT
                       ? PROTO_DOMAIN_STATE_SHUTDOWN
                       : PROTO_DOMAIN_STATE_CRASHED;
        return;
    }
    char wait[40] = ", no back-off";
    if (delay)
        snprintf(wait, sizeof wait, ", after %llu ms back-off",
                 (unsigned long long)(delay / GK_NS_PER_MS));
    snprintf(d->restart_note, sizeof d->restart_note, "%s; ran %llu ms; restart %u in a row%s%s%s",
             detail, (unsigned long long)(ran / GK_NS_PER_MS), d->quick, wait, dev[0] ? "; " : "",
             dev);
    d->pending_cause = cause;
    d->state = PROTO_DOMAIN_STATE_RESTARTING;
    d->restart_at_ns = now + delay;
    if (delay == 0)
        rebuild(d);
}

/* Applies d's policy for a stop with reason; forced says the control
 * domain stopped it (shutdown timeout). May forget d. */
static void apply_policy(struct dom *d, uint32_t reason, bool forced)
{
    enum proto_stop_policy p = policy_for(d, reason);
    char detail[160];
    snprintf(detail, sizeof detail, "%s%s: policy %s",
             forced              ? "forced at the shutdown timeout: "
             : d->shutdown_asked ? "stopped as asked: "
                                 : "",
             reason_name(reason), proto_stop_policy_name(p));
    d->shutdown_asked = false;
    if (p == PROTO_STOP_POLICY_RESTART) {
        restart(d, cause_of(reason), detail);
        return;
    }
    ctl_log_add("control", "domain-stopped", d->name, true, 0, detail);
    if (p == PROTO_STOP_POLICY_DESTROY)
        forget(d, "the domain stopped and its policy destroyed it");
}

const char *registry_restart(struct dom *d, bool crash, struct ctl_error *err)
{
    err->code = PROTO_ERROR_CODE_WRONG_STATE;
    if (crash && !d->has_domain)
        return "it has no instance to kill";
    if (crash) {
        /* As a crash the hypervisor reported: the on-crash policy decides. */
        bus_domain_gone(d, "it was killed (hvctl kill)");
        d->shutting_down = false;
        d->state = PROTO_DOMAIN_STATE_CRASHED;
        enum proto_stop_policy p = d->cfg.on_crash;
        if (p == PROTO_STOP_POLICY_RESTART) {
            restart(d, PROTO_RESTART_CAUSE_KILLED, "killed (hvctl kill): policy restart");
            return NULL;
        }
        d->stop_handled = true;
        ctl_log_add("control", "domain-stopped", d->name, true, 0,
                    p == PROTO_STOP_POLICY_DESTROY ? "killed (hvctl kill): policy destroy"
                                                   : "killed (hvctl kill): policy preserve");
        if (p == PROTO_STOP_POLICY_DESTROY)
            forget(d, "it was killed and its policy destroyed it");
        else
            gk_domain_pause(d->built.dom_slot); /* kept, stopped, for inspection */
        return NULL;
    }
    /* Asked for: at once, whatever the count of restarts in a row was. */
    if (d->has_domain)
        bus_domain_gone(d, "it is being restarted (hvctl restart)");
    kill_domain(d, true);
    char dev[160];
    if (!devices_reset(d, dev, sizeof dev)) {
        d->state = PROTO_DOMAIN_STATE_CRASHED;
        d->stop_handled = true;
        d->left_stopped = true;
        err->code = PROTO_ERROR_CODE_INTERNAL;
        snprintf(d->restart_note, sizeof d->restart_note, "its device could not be made safe: %s",
                 dev);
        return d->restart_note;
    }
    d->quick = 0;
    d->left_stopped = false;
    d->pending_cause = PROTO_RESTART_CAUSE_REQUESTED;
    snprintf(d->restart_note, sizeof d->restart_note, "requested (hvctl restart)%s%s",
             dev[0] ? "; " : "", dev);
    rebuild(d);
    if (!d->has_domain) {
        err->code = PROTO_ERROR_CODE_INTERNAL;
        return "rebuilding it failed (see the log)";
    }
    return NULL;
}

void registry_heartbeat(struct dom *d, bool answered)
{
    d->hb_sent_ns = 0;
    if (!answered && d->has_domain && d->state == PROTO_DOMAIN_STATE_RUNNING && !d->suspended)
        d->hung = true; /* acted on by registry_poll, outside the bus's loop */
}

/* Sends d a heartbeat when one is due (manifest restart.heartbeat): while
 * it runs (not paused, suspended or stopping) and its bus is connected,
 * one bus-ping at a time, a quarter of the heartbeat apart. */
static void heartbeat(struct dom *d, uint64_t now)
{
    struct restart_policy p;
    restart_policy_of(&d->cfg, &p);
    if (p.heartbeat_ns == 0 || d->hb_sent_ns != 0 || d->state != PROTO_DOMAIN_STATE_RUNNING ||
        d->suspended || now < d->hb_next_ns)
        return;
    if (bus_heartbeat(d, p.heartbeat_ns)) {
        d->hb_sent_ns = now;
        d->hb_next_ns = now + p.heartbeat_ns / 4;
    }
}

void registry_poll(void)
{
    uint64_t now = gk_now_ns();
    for (uint32_t i = 0; i < DOM_MAX; i++) {
        struct dom *d = &doms[i];
        if (d->used && !d->has_domain && d->state == PROTO_DOMAIN_STATE_RESTARTING &&
            now >= d->restart_at_ns)
            rebuild(d);
        if (!d->used || !d->has_domain)
            continue;
        if (d->hung) {
            struct restart_policy p;
            restart_policy_of(&d->cfg, &p);
            char detail[120];
            snprintf(detail, sizeof detail, "hang: no answer to its heartbeat within %llu ms",
                     (unsigned long long)(p.heartbeat_ns / GK_NS_PER_MS));
            gk_printf("control: %s: %s: restarting it\n", d->name, detail);
            bus_domain_gone(d, "it hung (missed its heartbeat)");
            d->state = PROTO_DOMAIN_STATE_CRASHED;
            restart(d, PROTO_RESTART_CAUSE_HANG, detail);
            continue;
        }
        con_pump(d);
        struct hv_domctl_info info;
        if (gk_domain_info(d->built.dom_slot, &info) != HV_OK)
            continue;
        d->memory_bytes = info.pages * 4096;
        if (d->memory_bytes > d->max_memory_seen)
            d->max_memory_seen = d->memory_bytes;
        d->cpu_time_ns = info.cpu_time_ns;
        d->events_sent = info.events_sent;
        d->events_delivered = info.events_delivered;
        d->dma_faults = info.dma_faults;
        if (info.state == HV_DOMSTATE_SHUTDOWN) {
            if (d->stop_handled)
                continue;
            d->stop_handled = true;
            bus_domain_gone(d, info.shutdown_reason == HV_SHUTDOWN_CRASH    ? "it crashed"
                               : info.shutdown_reason == HV_SHUTDOWN_REBOOT ? "it rebooted"
                                                                            : "it powered off");
            d->state = info.shutdown_reason == HV_SHUTDOWN_CRASH ? PROTO_DOMAIN_STATE_CRASHED
                                                                 : PROTO_DOMAIN_STATE_SHUTDOWN;
            d->shutting_down = false;
            apply_policy(d, info.shutdown_reason, false);
            continue;
        }
        if (d->shutting_down) {
            if (d->shutdown_deadline_ns && now >= d->shutdown_deadline_ns) {
                bus_domain_gone(d, "it was stopped at its shutdown timeout");
                d->shutting_down = false;
                d->state = PROTO_DOMAIN_STATE_SHUTDOWN;
                d->stop_handled = true;
                uint32_t reason = d->shutdown_kind == PROTO_SHUTDOWN_KIND_REBOOT
                                      ? HV_SHUTDOWN_REBOOT
                                      : HV_SHUTDOWN_POWEROFF;
                if (policy_for(d, reason) == PROTO_STOP_POLICY_PRESERVE)
                    gk_domain_pause(d->built.dom_slot); /* stopped, kept for inspection */
                apply_policy(d, reason, true);
            }
            continue;
        }
        if (d->stop_handled)
            continue; /* stopped by force and preserved (paused): stays shut down */
        if (info.state == HV_DOMSTATE_RUNNING) {
            d->state = PROTO_DOMAIN_STATE_RUNNING;
            heartbeat(d, now);
        } else if (info.state == HV_DOMSTATE_PAUSED || info.state == HV_DOMSTATE_BUILDING)
            d->state = PROTO_DOMAIN_STATE_PAUSED;
    }
}

void registry_summary(const struct dom *d, struct proto_domain_summary *out)
{
    *out = (struct proto_domain_summary){
        .id = d->has_domain ? d->built.domid : 0,
        .name = str_of(d->name),
        .state = d->state,
        .memory_bytes = d->has_domain ? d->memory_bytes : 0,
        .vcpus = d->cfg.vcpus,
        .cpu_time_ns = d->cpu_time_ns,
        .event_count = d->events_delivered,
        .has_events_sent = d->has_domain,
        .events_sent = d->events_sent,
        .has_dma_faults = d->has_domain,
        .dma_faults = d->dma_faults,
        .has_bus = true,
        .bus = bus_state(d),
        .has_restarts = true,
        .restarts = d->restarts,
        .has_last_restart = d->has_last_cause,
        .last_restart = d->last_cause,
        .has_uptime_ns = d->has_domain,
        .uptime_ns = d->has_domain ? gk_now_ns() - d->built_ns : 0,
    };
}

/* The control domain's online VCPUs: HV_DOMCTL_INFO.vcpus is its maximum. */
static uint32_t self_online_vcpus(uint32_t max)
{
    uint32_t online = 0;
    for (uint32_t v = 0; v < max && v < DOM_VCPUS_MAX; v++) {
        struct hv_domctl_vcpu_info vi = {.dom_slot = HV_CAP_SLOT_SELF, .vcpu = v};
        if (gk_hc_domain_op(HV_DOMCTL_VCPU_INFO, &vi) == HV_OK && vi.state != HV_VCPU_OFFLINE)
            online++;
    }
    return online ? online : 1;
}

void registry_self_summary(struct proto_domain_summary *out)
{
    struct hv_domctl_info info = {0};
    gk_domain_info(HV_CAP_SLOT_SELF, &info);
    *out = (struct proto_domain_summary){
        .id = info.domid,
        .name = str_of(CONTROL_NAME),
        .state = PROTO_DOMAIN_STATE_RUNNING,
        .memory_bytes = info.pages * 4096,
        .vcpus = self_online_vcpus(info.vcpus),
        .cpu_time_ns = info.cpu_time_ns,
        .event_count = info.events_delivered,
        .has_events_sent = true,
        .events_sent = info.events_sent,
        .has_dma_faults = true,
        .dma_faults = info.dma_faults,
        .has_bus = true,
        .bus = PROTO_BUS_STATE_NONE,
    };
}

const char *registry_sched_set(struct dom *d, const struct proto_sched_set_request *q,
                               struct ctl_error *err)
{
    err->code = PROTO_ERROR_CODE_WRONG_STATE;
    if (!d->has_domain)
        return "it has no running incarnation";
    if (q->has_cap_percent && q->cap_percent > 100 * d->cfg.vcpus) {
        err->code = PROTO_ERROR_CODE_INVALID;
        return "cap is at most 100 x its VCPUs";
    }
    struct hv_domctl_sched sp = {.dom_slot = d->built.dom_slot};
    if (gk_hc_domain_op(HV_DOMCTL_SCHED_GET, &sp) != HV_OK) {
        err->code = PROTO_ERROR_CODE_INTERNAL;
        return "the hypervisor did not report its scheduling parameters";
    }
    sp.dom_slot = d->built.dom_slot;
    /* The hypervisor refuses a gang change while a VCPU is runnable; a
     * running domain whose VCPU happens to be blocked would pass, so the
     * rule users see is the deterministic one: paused (or not started). */
    if (q->has_gang && (sp.gang != 0) != q->gang && d->state != PROTO_DOMAIN_STATE_PAUSED)
        return "gang can change only while the domain is paused (pause it first)";
    if (q->has_weight)
        sp.weight = (uint32_t)q->weight;
    if (q->has_cap_percent)
        sp.cap_pct = (uint32_t)q->cap_percent;
    if (q->has_gang)
        sp.gang = q->gang ? 1u : 0u;
    int64_t st = gk_hc_domain_op(HV_DOMCTL_SCHED_SET, &sp);
    if (st != HV_OK)
        return sched_refusal(st, err);
    d->cfg.weight = sp.weight;
    d->cfg.cap_percent = sp.cap_pct;
    d->cfg.gang = sp.gang != 0;
    return NULL;
}

const char *registry_vcpu_pin(struct dom *d, uint64_t vcpu, uint64_t mask, struct ctl_error *err)
{
    err->code = PROTO_ERROR_CODE_INVALID;
    if (vcpu >= d->cfg.vcpus || vcpu >= DOM_VCPUS_MAX)
        return "no such VCPU";
    if (d->has_domain) {
        struct hv_domctl_vcpu_pin pin = {
            .dom_slot = d->built.dom_slot, .vcpu = (uint32_t)vcpu, .cpu_mask = mask};
        int64_t st = gk_hc_domain_op(HV_DOMCTL_VCPU_PIN, &pin);
        if (st != HV_OK)
            return sched_refusal(st, err);
    }
    d->pin_mask[vcpu] = mask;
    return NULL;
}

bool registry_sched_get(const struct dom *d, struct proto_domain_config *cfg)
{
    if (d && !d->has_domain)
        return false;
    struct hv_domctl_sched sp = {.dom_slot = d ? d->built.dom_slot : HV_CAP_SLOT_SELF};
    if (gk_hc_domain_op(HV_DOMCTL_SCHED_GET, &sp) != HV_OK || sp.weight < 1 || sp.weight > 65535 ||
        sp.cap_pct > 6400)
        return false;
    cfg->weight = sp.weight;
    cfg->cap_percent = sp.cap_pct;
    cfg->gang = sp.gang != 0;
    return true;
}

uint32_t registry_vcpu_stats(const struct dom *d, struct proto_domain_info_reply *r)
{
    r->has_vcpu_stats = false;
    r->vcpu_stats.count = 0;
    uint32_t slot, count;
    if (d) {
        if (!d->has_domain)
            return 0;
        slot = d->built.dom_slot;
        count = (uint32_t)d->cfg.vcpus;
    } else {
        struct hv_domctl_info self = {0};
        gk_domain_info(HV_CAP_SLOT_SELF, &self);
        slot = HV_CAP_SLOT_SELF;
        count = self.vcpus; /* the maximum: offline ones are left out */
    }
    uint32_t online = 0;
    for (uint32_t v = 0; v < count && v < DOM_VCPUS_MAX; v++) {
        struct hv_domctl_vcpu_info vi = {.dom_slot = slot, .vcpu = v};
        if (gk_hc_domain_op(HV_DOMCTL_VCPU_INFO, &vi) != HV_OK || vi.state > HV_VCPU_RUNNING)
            continue;
        if (vi.state != HV_VCPU_OFFLINE)
            online++;
        else if (!d)
            continue;
        struct proto_vcpu_info *o = &r->vcpu_stats.items[r->vcpu_stats.count++];
        *o = (struct proto_vcpu_info){.vcpu = v,
                                      .state = (enum proto_vcpu_state)vi.state,
                                      .run_ns = vi.run_ns,
                                      .wait_ns = vi.wait_ns,
                                      .migrations = vi.migrations,
                                      .cpu_mask = vi.cpu_mask,
                                      .has_cpu = vi.cpu <= 65535,
                                      .cpu = vi.cpu <= 65535 ? vi.cpu : 0};
    }
    r->has_vcpu_stats = true;
    return online;
}

const char *registry_host_info(struct proto_host_info_reply *r)
{
    static struct hv_host_info hi; /* 1 KiB: not on the stack */
    memset(&hi, 0, sizeof hi);
    hi.slot = HV_ROOT_SLOT_MEMORY;
    if (gk_hc_domain_op(HV_DOMCTL_HOST_INFO, &hi) != HV_OK)
        return "the hypervisor did not report the host";
    r->cpus.count = 0;
    for (uint32_t i = 0; i < hi.cpus && i < HV_HOST_CPUS_MAX; i++)
        r->cpus.items[r->cpus.count++] = (struct proto_host_cpu){.cpu = i,
                                                                 .package = hi.cpu[i].package_id,
                                                                 .core = hi.cpu[i].core_id,
                                                                 .thread = hi.cpu[i].thread_id,
                                                                 .apic_id = hi.cpu[i].apic_id};
    r->tsc_hz = hi.tsc_hz;
    r->memory_bytes = hi.frames_total * 4096;
    r->free_memory_bytes = hi.frames_free * 4096;
    return NULL;
}
