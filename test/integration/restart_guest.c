/*
 * A guest for the restart tests (test/integration/restart_test.py): it
 * serves its bus while it sleeps (so it answers the control domain's
 * heartbeats), prints "restart_guest: up", and after hang_ms=N (command
 * line; default: never) prints "restart_guest: hanging" and spins without
 * ever reaching a safe point again — a hung domain, which the control
 * domain finds by its missed heartbeat (manifest restart.heartbeat) and
 * restarts (docs/restart.md).
 */
#include <stdlib.h>

#include "gk/bus.h"
#include "gk/gk.h"
#include "gk/time.h"

int main(const struct hv_start_info *si)
{
    (void)si;
    char v[24] = {0};
    uint64_t hang_ms = gk_cmdline_get("hang_ms", v, sizeof v) > 0 ? strtoull(v, NULL, 10) : 0;
    gk_printf("restart_guest: up, bus %lld\n", (long long)gk_bus_status());
    uint64_t until = hang_ms ? gk_now_ns() + hang_ms * GK_NS_PER_MS : UINT64_MAX;
    while (gk_now_ns() < until)
        gk_sleep_ms(20); /* every wake-up is a safe point: heartbeats are answered */
    gk_printf("restart_guest: hanging\n");
    for (;;)
        __asm__ volatile("pause"); /* no safe point: heartbeats go unanswered */
}
