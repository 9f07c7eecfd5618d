/* Start of day, shutdown, panic and command-line access for domains. */
#include <string.h>

#include <assert.h>

#include "bus_internal.h"
#include "gk/gk.h"

const struct hv_start_info *gk_start_info;

__attribute__((noreturn)) void gk_start(const struct hv_start_info *si);

void gk_shutdown(enum hv_shutdown_reason reason)
{
    gk_console_flush();
    gk_hc_shutdown(reason);
    for (;;) /* only reached if the hypervisor refused the reason */
        gk_hc_shutdown(HV_SHUTDOWN_CRASH);
}

void gk_poweroff(void)
{
    gk_shutdown(HV_SHUTDOWN_POWEROFF);
}

void gk_panic(const char *fmt, ...)
{
    va_list ap;
    gk_console_flush();
    gk_puts("panic: ");
    va_start(ap, fmt);
    gk_vprintf(fmt, ap);
    va_end(ap);
    gk_puts("\n");
    gk_shutdown(HV_SHUTDOWN_CRASH);
}

void abort(void)
{
    gk_panic("abort() called");
}

void libc_assert_fail(const char *expr, const char *file, int line)
{
    gk_panic("assertion failed: %s (%s:%d)", expr, file, line);
}

int gk_cmdline_get(const char *key, char *buf, size_t size)
{
    const char *p = gk_start_info->cmdline;
    size_t key_len = strlen(key);

    /* The first word names the domain (like argv[0]) and is not an option. */
    while (*p == ' ')
        p++;
    while (*p && *p != ' ')
        p++;

    while (*p) {
        while (*p == ' ')
            p++;
        const char *word = p;
        while (*p && *p != ' ')
            p++;
        size_t len = (size_t)(p - word);
        if (len >= key_len && !strncmp(word, key, key_len) &&
            (len == key_len || word[key_len] == '=')) {
            const char *v = len == key_len ? word + len : word + key_len + 1;
            size_t vlen = (size_t)(p - v);
            if (size == 0)
                return 1;
            if (vlen >= size)
                vlen = size - 1;
            memcpy(buf, v, vlen);
            buf[vlen] = '\0';
            return 1;
        }
    }
    return 0;
}

void gk_start(const struct hv_start_info *si)
{
    gk_start_info = si;
    if (si->magic != HV_START_INFO_MAGIC || si->abi_version != HV_ABI_VERSION)
        gk_panic("bad start info (magic %#llx, ABI %u)", (unsigned long long)si->magic,
                 si->abi_version);
    /* Before main: a shutdown request is answered from the first moment
     * upcalls are on (gk/event.h). */
    gk_shutdown_watch();
    /* A domain the control domain built connects its bus (docs/bus.md). */
    gk_bus_start(si);
    int rc = main(si);
    /* main returned 0 after a request (a hook that cleaned up and returned
     * from main): stop with the reason asked for, e.g. reboot. */
    enum hv_shutdown_reason asked = HV_SHUTDOWN_POWEROFF;
    if (rc == 0 && gk_shutdown_pending(&asked))
        gk_shutdown(asked);
    gk_shutdown(rc == 0 ? HV_SHUTDOWN_POWEROFF : HV_SHUTDOWN_CRASH);
}
