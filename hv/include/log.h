/*
 * The hypervisor's log on COM1, with levels, and the panic path.
 * Levels: 0 error, 1 warning, 2 info (default), 3 debug; set with the
 * command-line option loglvl=error|warn|info|debug.
 */
#ifndef HV_LOG_H
#define HV_LOG_H

#include "types.h"
#include <stdarg.h>

enum log_level { LOG_ERR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_set_level(enum log_level lvl);
void log_printf(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vprintf(enum log_level lvl, const char *fmt, va_list ap);
/* Writes raw bytes to the log (used for guest console output). */
void log_write(const char *buf, size_t n);

#define log_err(...) log_printf(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_printf(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_printf(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_printf(LOG_DEBUG, __VA_ARGS__)

/*
 * The hypervisor stops in one of two spellings, never on anything a guest, a
 * driver domain or the control socket can cause:
 *  - BUG_ON(cond): an internal invariant is broken; the condition, file and
 *    line are the report. Always on.
 *  - panic(fmt, ...): a deliberate stop that needs words or values: boot
 *    cannot go on (no memory, a timer or IOMMU that does not answer), or a
 *    broken invariant whose report needs numbers (a frame, a domain).
 * There is no debug-only assert: no invariant check here is expensive; the
 * expensive audit of the whole state is the test image's (HC_TEST_OP).
 * panic prints the message, the registers (if known) and a backtrace, then
 * ends the machine with HV_EXIT_PANIC. Host tests link test/unit/hv_panic.c.
 */
__noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
struct cpu_regs;
__noreturn void panic_regs(const struct cpu_regs *regs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define BUG_ON(cond)                                                                               \
    do {                                                                                           \
        if (unlikely(cond))                                                                        \
            panic("BUG_ON(%s) at %s:%d", #cond, __FILE__, __LINE__);                               \
    } while (0)

/* The hypervisor command line (set once at boot). */
void cmdline_set(const char *cmdline);
const char *cmdline_get_all(void);
bool cmdline_flag(const char *key);
/* Copies the value of key=value into buf (NUL-terminated); false if absent. */
bool cmdline_get(const char *key, char *buf, size_t size);
/* Parses key=<number>[K|M|G]; returns def if absent or malformed. */
uint64_t cmdline_get_u64(const char *key, uint64_t def);

#endif /* HV_LOG_H */
