/*
 * The panic path: message, registers, backtrace, then the machine ends with
 * HV_EXIT_PANIC. A panic inside a panic only halts.
 */
#include "arch.h"
#include "log.h"

static int panicking;

static __noreturn void panic_common(const struct cpu_regs *regs, const char *fmt, va_list ap)
{
    arch_irqs_off();
    if (panicking++) {
        log_write("(hv) nested panic: halting\n", 27);
        arch_halt_forever();
    }
    log_vprintf(LOG_ERR, fmt, ap);
    log_err("PANIC: the hypervisor stopped");
    if (regs)
        arch_dump_regs(regs);
    arch_backtrace((uint64_t)(uintptr_t)__builtin_frame_address(0));
    arch_machine_exit(HV_EXIT_PANIC);
}

void panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    panic_common(NULL, fmt, ap);
}

void panic_regs(const struct cpu_regs *regs, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    panic_common(regs, fmt, ap);
}
