/*
 * Domain life cycle for the foundation: console output, shutdown and the
 * fate of a domain that faults. When the root domain stops, the machine
 * stops with an exit status that says why (docs/abi.md, "Exit status").
 */
#include <stdio.h>

#include "arch.h"
#include "domain.h"
#include "log.h"
#include "regs.h"

struct domain *current_domain;

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
    if (d->console_len == 0 && !newline_seen)
        return;
    char prefix[16];
    int n = snprintf(prefix, sizeof(prefix), "[d%u] ", d->id);
    log_write(prefix, (size_t)n);
    log_write(d->console_line, d->console_len);
    log_write("\n", 1);
    d->console_len = 0;
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
        d->console_line[d->console_len++] = c;
        if (d->console_len == sizeof(d->console_line))
            console_flush(d, false);
    }
}

void domain_shutdown(struct domain *d, enum hv_shutdown_reason reason)
{
    console_flush(d, false);
    d->state = DOMAIN_DEAD;
    log_info("d%u (%s): shut down: %s", d->id, d->name, reason_name(reason));
    if (!d->is_root)
        panic("only the root domain exists in this build");

    enum hv_exit_code code = HV_EXIT_POWEROFF;
    if (reason == HV_SHUTDOWN_CRASH)
        code = HV_EXIT_ROOT_CRASH;
    else if (reason == HV_SHUTDOWN_REBOOT)
        code = HV_EXIT_REBOOT;
    log_info("root domain ended (%s): stopping the machine, exit code %#x", reason_name(reason),
             code);
    arch_machine_exit(code);
}

void domain_fault(const struct cpu_regs *regs, unsigned vector, uint64_t cr2)
{
    struct domain *d = current_domain;
    BUG_ON(!d);
    console_flush(d, false);
    if (vector == 14)
        log_err("d%u (%s): killed: %s at rip %#llx, address %#llx, error code %#llx", d->id,
                d->name, arch_exception_name(vector), (unsigned long long)regs->rip,
                (unsigned long long)cr2, (unsigned long long)regs->error_code);
    else
        log_err("d%u (%s): killed: %s at rip %#llx, error code %#llx", d->id, d->name,
                arch_exception_name(vector), (unsigned long long)regs->rip,
                (unsigned long long)regs->error_code);
    arch_dump_regs(regs);
    domain_shutdown(d, HV_SHUTDOWN_CRASH);
}
