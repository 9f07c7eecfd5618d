/*
 * Domain life cycle: the domain table, console output, shutdown, and the
 * fate of a domain that faults. When the root domain stops, the machine
 * stops with an exit status that says why (docs/abi.md, "Exit status");
 * any other domain stops (state SHUTDOWN, its watchers get
 * HV_VIRQ_DOM_STATE) and is destroyed by a holder of its capability, or
 * at once when nobody holds one.
 */
#include <stdio.h>
#include <string.h>

#include "arch.h"
#include "domain.h"
#include "schedule.h"
#include "dom_teardown.h"
#include "objects.h"
#include "console.h"
#include "log.h"
#include "mm_hv.h"

static struct domain domain_table[DOMAIN_MAX];
static uint32_t next_domid;

_Static_assert(DOMAIN_MAX *VCPU_MAX <= ARCH_VCPUS_MAX, "an arch_vcpu for every VCPU");

void domain_reset(struct domain *d)
{
    domid_t id = d->id;
    unsigned slot = (unsigned)(d - domain_table);
    memset(d, 0, sizeof(*d));
    d->id = id;
    d->state = DOMAIN_BUILDING;
    for (unsigned v = 0; v < VCPU_MAX; v++)
        d->vcpus[v].arch = arch_vcpu(slot * VCPU_MAX + v);
}

struct domain *domain_alloc(void)
{
    if (next_domid >= DOMID_HV)
        return NULL; /* ids are never reused */
    for (unsigned i = 0; i < DOMAIN_MAX; i++) {
        struct domain *d = &domain_table[i];
        if (d->state != DOMAIN_FREE)
            continue;
        d->id = (domid_t)next_domid++;
        domain_reset(d);
        return d;
    }
    return NULL;
}

struct domain *domain_by_id(domid_t id)
{
    for (unsigned i = 0; i < DOMAIN_MAX; i++) {
        struct domain *d = &domain_table[i];
        if (d->state != DOMAIN_FREE && d->id == id)
            return d;
    }
    return NULL;
}

struct domain *domain_at(unsigned i)
{
    return i < DOMAIN_MAX && domain_table[i].state != DOMAIN_FREE ? &domain_table[i] : NULL;
}

static const char *reason_name(enum hv_shutdown_reason r)
{
    switch (r) {
    case HV_SHUTDOWN_POWEROFF: return "poweroff";
    case HV_SHUTDOWN_CRASH: return "crash";
    case HV_SHUTDOWN_REBOOT: return "reboot";
    }
    return "?";
}

/* Writes the buffered line; with `newline_seen` an empty line is written too. */
static void console_flush(struct domain *d, bool newline_seen)
{
    if (d->con.line_len == 0 && !newline_seen)
        return;
    char prefix[16];
    int n = snprintf(prefix, sizeof(prefix), "[d%u] ", d->id);
    log_write(prefix, (size_t)n);
    log_write(d->con.line, d->con.line_len);
    log_write("\n", 1);
    d->con.line_len = 0;
}

void domain_console_write(struct domain *d, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = buf[i];
        if (c == '\n') {
            console_flush(d, true);
            continue;
        }
        if (c == '\r')
            continue;
        /* Keep the log readable: control characters become '?'. */
        if ((unsigned char)c < 0x20 && c != '\t')
            c = '?';
        d->con.line[d->con.line_len++] = c;
        if (d->con.line_len == sizeof(d->con.line))
            console_flush(d, false);
    }
}

void domain_shutdown(struct domain *d, enum hv_shutdown_reason reason)
{
    if (d->state != DOMAIN_RUNNING && d->state != DOMAIN_BUILDING)
        return;
    console_flush(d, false);
    log_info("d%u (%s): shut down: %s", d->id, d->name, reason_name(reason));
    if (d->is_root) {
        enum hv_exit_code code = HV_EXIT_POWEROFF;
        if (reason == HV_SHUTDOWN_CRASH)
            code = HV_EXIT_ROOT_CRASH;
        else if (reason == HV_SHUTDOWN_REBOOT)
            code = HV_EXIT_REBOOT;
        log_info("root domain ended (%s): stopping the machine, exit code %#x", reason_name(reason),
                 code);
        arch_machine_exit(code);
    }
    /* Its VCPUs leave the CPU; its memory stays until a holder of its
     * capability destroys it (at once if nobody holds one). */
    d->state = DOMAIN_SHUTDOWN;
    d->shutdown_reason = reason;
    domain_vcpus_stop(d);
    domain_notify_state(d);
    if (d->obj.cap_count == 0)
        domain_destroy_later(d);
}

void domain_kill(struct domain *d, const struct cpu_regs *regs, const char *why)
{
    console_flush(d, false);
    log_err("d%u (%s): killed: %s", d->id, d->name, why);
    arch_dump_regs(regs);
    domain_shutdown(d, HV_SHUTDOWN_CRASH);
}
