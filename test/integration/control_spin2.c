/*
 * A multi-VCPU guest for the control-domain tests: VCPU 0 starts every
 * other VCPU the domain was created with (gk_vcpu_count(), at most 8) with
 * guest-kit's gk_vcpu_start; each VCPU then loops, sleeping `period_ms`
 * (default 20) between rounds, for `rounds` rounds (default: for ever), and
 * counts its rounds. VCPU 0 prints "spin2: N VCPUs running" once every
 * secondary has done a round, and a line with every VCPU's rounds each
 * second. A shutdown request (hvctl shutdown/reboot) stops it through
 * guest-kit's default handler, whichever VCPU takes it.
 */
#include <stdlib.h>

#include "gk/gk.h"
#include "gk/vcpu.h"

#define STACK_BYTES 16384u

static uint8_t stacks[GK_VCPU_MAX][STACK_BYTES] __attribute__((aligned(16)));
static GK_PER_VCPU(volatile uint64_t, rounds_done);
static uint64_t period_ms = 20, rounds_max;

static void spin(void)
{
    unsigned id = gk_vcpu_id();
    for (uint64_t i = 0; rounds_max == 0 || i < rounds_max; i++) {
        gk_sleep_ms(period_ms);
        rounds_done[id]++;
    }
}

static void worker(void *arg)
{
    (void)arg;
    if (gk_events_init_vcpu() != HV_OK)
        gk_panic("spin2: events on VCPU %u failed", gk_vcpu_id());
    spin();
}

int main(const struct hv_start_info *si)
{
    (void)si;
    char buf[24];
    if (gk_cmdline_get("period_ms", buf, sizeof buf))
        period_ms = strtoull(buf, NULL, 10);
    if (gk_cmdline_get("rounds", buf, sizeof buf))
        rounds_max = strtoull(buf, NULL, 10);
    if (gk_events_init() != HV_OK)
        gk_panic("spin2: gk_events_init failed");
    unsigned n = gk_vcpu_count();
    if (n > GK_VCPU_MAX)
        n = GK_VCPU_MAX;
    gk_printf("spin2: %u VCPUs allowed\n", n);
    for (unsigned id = 1; id < n; id++) {
        int64_t rc = gk_vcpu_start(id, worker, NULL, stacks[id], STACK_BYTES);
        if (rc != HV_OK)
            gk_panic("spin2: starting VCPU %u failed (%lld)", id, (long long)rc);
    }
    /* Wait (sleeping) until every secondary has done a round. */
    for (unsigned id = 1; id < n; id++)
        while (rounds_done[id] == 0)
            gk_sleep_ms(period_ms);
    gk_printf("spin2: %u VCPUs running\n", n);
    uint64_t next = gk_now_ns() + GK_NS_PER_SEC;
    for (uint64_t i = 0; rounds_max == 0 || i < rounds_max; i++) {
        gk_sleep_ms(period_ms);
        rounds_done[0]++;
        if (gk_now_ns() >= next) {
            next += GK_NS_PER_SEC;
            gk_printf("spin2: rounds");
            for (unsigned id = 0; id < n; id++)
                gk_printf(" %llu", (unsigned long long)rounds_done[id]);
            gk_printf("\n");
        }
    }
    for (unsigned id = 1; id < n; id++)
        gk_vcpu_join(id);
    gk_printf("spin2: done\n");
    return 0;
}
