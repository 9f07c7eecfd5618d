/*
 * Timer ticks: prints the wall clock, then sleeps 10 ms five times with
 * gk_sleep_ms and checks that no wake-up comes before its deadline (and
 * that time moves forward). Prints "ticks done" and powers off; any failed
 * check prints a line with "FAILED" and crashes the domain.
 *
 * Command line: ticks=N (default 5), period_ms=M (default 10).
 */
#include <stdlib.h>

#include "gk/gk.h"

/* Civil date of a day count since 1970-01-01 (Howard Hinnant's algorithm). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    uint64_t doe = (uint64_t)(z - era * 146097);
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    uint64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static uint64_t option(const char *key, uint64_t def, uint64_t max)
{
    char buf[24];
    if (!gk_cmdline_get(key, buf, sizeof(buf)))
        return def;
    unsigned long long v = strtoull(buf, NULL, 10);
    return v == 0 || v > max ? def : v;
}

int main(const struct hv_start_info *si)
{
    (void)si;
    uint64_t ticks = option("ticks", 5, 1000);
    uint64_t period_ms = option("period_ms", 10, 10000);

    int64_t rc = gk_events_init();
    if (rc != HV_OK)
        gk_panic("ticks: FAILED: gk_events_init: %lld", (long long)rc);

    uint64_t sec;
    uint32_t nsec;
    gk_wallclock(&sec, &nsec);
    int64_t y;
    unsigned mo, d;
    civil_from_days((int64_t)(sec / 86400), &y, &mo, &d);
    uint64_t sod = sec % 86400;
    gk_printf("ticks: wall clock %04lld-%02u-%02u %02llu:%02llu:%02llu.%03u UTC (%llu s)\n",
              (long long)y, mo, d, (unsigned long long)(sod / 3600),
              (unsigned long long)(sod / 60 % 60), (unsigned long long)(sod % 60), nsec / 1000000u,
              (unsigned long long)sec);

    uint64_t start = gk_now_ns();
    gk_printf("ticks: system time %llu ns, %llu ticks of %llu ms\n", (unsigned long long)start,
              (unsigned long long)ticks, (unsigned long long)period_ms);
    uint64_t prev = start;
    for (uint64_t i = 1; i <= ticks; i++) {
        uint64_t before = gk_now_ns();
        uint64_t deadline = before + period_ms * GK_NS_PER_MS;
        rc = gk_sleep_ms(period_ms);
        uint64_t now = gk_now_ns();
        if (rc != HV_OK)
            gk_panic("ticks: FAILED: gk_sleep_ms: %lld", (long long)rc);
        if (now < deadline)
            gk_panic("ticks: FAILED: tick %llu woke %llu ns before its deadline",
                     (unsigned long long)i, (unsigned long long)(deadline - now));
        if (now < prev)
            gk_panic("ticks: FAILED: time went backwards (%llu after %llu)",
                     (unsigned long long)now, (unsigned long long)prev);
        prev = now;
        gk_printf("ticks: tick %llu at +%llu us (%llu us after its deadline)\n",
                  (unsigned long long)i, (unsigned long long)((now - start) / 1000),
                  (unsigned long long)((now - deadline) / 1000));
    }
    gk_printf("ticks: %llu upcalls, %llu handler calls\n",
              (unsigned long long)gk_events_upcall_count(),
              (unsigned long long)gk_events_handler_calls());
    if (gk_events_handler_calls() == 0)
        gk_panic("ticks: FAILED: no timer event was ever handled");
    gk_printf("ticks done\n");
    return 0;
}
