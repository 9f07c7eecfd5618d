/*
 * A self-checking tour of guest-kit's core-object API, run as the root
 * domain: capabilities, domain info, event channels (loopback inter-domain
 * channel, IPI, masks, upcall masking, polling, close), the timer, sleeping,
 * grants' local checks and the console rings (including a getc that waits
 * for input a timer handler writes). Every check prints one line
 * ("events: NAME: ok" or "... FAILED ..."); "events: ok" comes last only if
 * all of them held. Command line: none.
 */
#include <string.h>

#include "gk/gk.h"
#include "gk/mm.h"

static unsigned checks, failures;

static void check(const char *name, bool ok, long long got)
{
    checks++;
    if (ok) {
        gk_printf("events: %s: ok\n", name);
    } else {
        failures++;
        gk_printf("events: %s: FAILED (got %lld)\n", name, got);
    }
}

#define CHECK_RC(name, expr, want)                                                                 \
    do {                                                                                           \
        long long rc_ = (long long)(expr);                                                         \
        check(name, rc_ == (long long)(want), rc_);                                                \
    } while (0)

static unsigned hits[HV_EVTCHN_PORTS];

static void count(uint32_t port, void *arg)
{
    (void)arg;
    hits[port]++;
}

static void feed_input(uint32_t port, void *arg)
{
    (void)port;
    (void)arg;
    gk_console_write_input(HV_ROOT_SLOT_CONSOLE, "z", 1);
}

static void caps(const struct hv_start_info *si)
{
    struct hv_cap_info info;
    CHECK_RC("identify self slot", gk_cap_identify(HV_ROOT_SLOT_SELF, &info), HV_OK);
    check("self slot is a domain with every right",
          info.type == HV_CAP_DOMAIN && (info.rights & HV_CAP_R_DOM_ALL) == HV_CAP_R_DOM_ALL,
          info.type);
    CHECK_RC("identify console slot", gk_cap_identify(HV_ROOT_SLOT_CONSOLE, &info), HV_OK);
    check("console slot is a console", info.type == HV_CAP_CONSOLE, info.type);
    CHECK_RC("identify an empty slot", gk_cap_identify(200, &info), HV_OK);
    check("empty slot is null", info.type == HV_CAP_NULL, info.type);
    CHECK_RC("identify slot 256", gk_cap_identify(HV_CAP_SLOTS, &info), HV_EINVAL);

    uint32_t r = HV_CAP_R_DOM_EVTCHN | HV_CAP_R_DOM_STATE;
    CHECK_RC("copy self to slot 10", gk_cap_copy(0, HV_CAP_SLOT_SELF, 10, r, 0, 0), HV_OK);
    gk_cap_identify(10, &info);
    check("copy has the rights asked", info.type == HV_CAP_DOMAIN && info.rights == r, info.rights);
    CHECK_RC("copy without the grant right", gk_cap_copy(10, HV_CAP_SLOT_SELF, 11, r, 0, 0),
             HV_EPERM);
    CHECK_RC("copy into an occupied slot",
             gk_cap_copy(0, HV_CAP_SLOT_SELF, HV_ROOT_SLOT_CONSOLE, r, 0, 0), HV_EEXIST);
    CHECK_RC("revoke self slot", gk_cap_revoke(0), HV_OK);
    gk_cap_identify(10, &info);
    check("revoke removed the copy", info.type == HV_CAP_NULL, info.type);
    gk_cap_identify(0, &info);
    check("revoke kept the slot", info.type == HV_CAP_DOMAIN, info.type);
    CHECK_RC("copy again", gk_cap_copy(0, HV_CAP_SLOT_SELF, 10, r, 0, 0), HV_OK);
    CHECK_RC("delete it", gk_cap_delete(10), HV_OK);
    gk_cap_identify(10, &info);
    check("delete emptied the slot", info.type == HV_CAP_NULL, info.type);

    struct hv_domctl_info di;
    CHECK_RC("domain info of self", gk_domain_info(HV_CAP_SLOT_SELF, &di), HV_OK);
    check("domain info: running", di.state == HV_DOMSTATE_RUNNING, di.state);
    /* The root domain may start up to HV_DOMAIN_VCPUS_MAX (it reports its
     * maximum); other domains report what they were created with. */
    check("domain info: vcpus", di.vcpus >= 1 && di.vcpus <= HV_DOMAIN_VCPUS_MAX, di.vcpus);
    check("domain info: our id", di.domid == si->domid, di.domid);
    check("domain info: pages", di.pages > 0 && di.max_pages >= di.pages, (long long)di.pages);
    CHECK_RC("domain info of an empty slot", gk_domain_info(200, &di), HV_ENOENT);
    CHECK_RC("pause an empty slot", gk_domain_pause(200), HV_ENOENT);
}

static void channels(void)
{
    uint32_t a = 0, b = 0, ipi = 0, tport = 0, tport2 = 0;

    /* Bind with upcalls masked, so the handler is in place before the
     * pending bit that binding sets is looked at. */
    gk_events_disable();
    CHECK_RC("alloc unbound (self)", gk_evtchn_alloc_unbound(HV_CAP_SLOT_SELF, &a), HV_OK);
    CHECK_RC("bind interdomain (self)", gk_evtchn_bind_interdomain(HV_CAP_SLOT_SELF, a, &b), HV_OK);
    check("two distinct ports",
          a != 0 && b != 0 && a != b && a < HV_EVTCHN_PORTS && b < HV_EVTCHN_PORTS, b);
    if (!a || !b || a >= HV_EVTCHN_PORTS || b >= HV_EVTCHN_PORTS) {
        gk_events_enable();
        return;
    }
    gk_evtchn_bind_handler(a, count, NULL);
    gk_evtchn_bind_handler(b, count, NULL);
    gk_evtchn_unmask(a);
    gk_evtchn_unmask(b);
    gk_events_enable();
    check("new interdomain port was pending", hits[b] == 1, hits[b]);

    CHECK_RC("send a -> b", gk_evtchn_send(a), HV_OK);
    check("b's handler ran once", hits[b] == 2 && hits[a] == 0, hits[b]);
    CHECK_RC("send b -> a", gk_evtchn_send(b), HV_OK);
    check("a's handler ran once", hits[a] == 1, hits[a]);

    /* Masked port: pending, no upcall; unmask re-raises it. */
    gk_evtchn_mask(b);
    CHECK_RC("send to a masked port", gk_evtchn_send(a), HV_OK);
    check("masked: not delivered, pending", hits[b] == 2 && gk_evtchn_is_pending(b), hits[b]);
    CHECK_RC("unmask", gk_evtchn_unmask(b), HV_OK);
    check("unmask delivered it", hits[b] == 3 && !gk_evtchn_is_pending(b), hits[b]);

    /* Upcalls masked: delivered by gk_events_enable. */
    bool was = gk_events_disable();
    check("events were enabled", was, was);
    gk_evtchn_send(a);
    check("disabled: not delivered", hits[b] == 3, hits[b]);
    check("disabled: upcall pending", gk_shared_info()->vcpu_info[0].upcall_pending == 1,
          gk_shared_info()->vcpu_info[0].upcall_pending);
    gk_events_enable();
    check("enable delivered it", hits[b] == 4, hits[b]);

    /* Polling a port without a handler. */
    CHECK_RC("bind ipi", gk_evtchn_bind_ipi(0, &ipi), HV_OK);
    gk_evtchn_unmask(ipi);
    CHECK_RC("send ipi", gk_evtchn_send(ipi), HV_OK);
    check("handler-less port stays pending", gk_evtchn_test_and_clear(ipi), 0);
    check("test_and_clear cleared it", !gk_evtchn_test_and_clear(ipi), 1);
    /* gk_block returns at once when an event is pending. */
    gk_events_disable();
    gk_evtchn_send(a);
    uint64_t before = gk_events_upcall_count();
    gk_block();
    check("block with an event pending returned and ran it",
          hits[b] == 5 && gk_events_upcall_count() > before, hits[b]);

    /* The timer, without gk_sleep: arm, block until its handler ran. */
    gk_events_disable();
    CHECK_RC("bind timer virq", gk_evtchn_bind_virq(HV_VIRQ_TIMER, 0, &tport), HV_OK);
    CHECK_RC("bind timer virq twice", gk_evtchn_bind_virq(HV_VIRQ_TIMER, 0, &tport2), HV_EEXIST);
    gk_evtchn_bind_handler(tport, count, NULL);
    gk_evtchn_unmask(tport);
    uint64_t deadline = gk_now_ns() + 2 * GK_NS_PER_MS;
    CHECK_RC("set timer", gk_timer_set(deadline), HV_OK);
    for (unsigned i = 0; i < 1000 && !hits[tport]; i++) {
        gk_block();
        gk_events_disable();
    }
    gk_events_enable();
    check("timer fired, not early", hits[tport] == 1 && gk_now_ns() >= deadline, hits[tport]);
    /* A getc that has to wait: the timer's handler feeds the input ring
     * (through our console capability) 2 ms from now. */
    gk_evtchn_bind_handler(tport, feed_input, NULL);
    deadline = gk_now_ns() + 2 * GK_NS_PER_MS;
    gk_timer_set(deadline);
    int c = gk_console_getc_blocking();
    check("getc waited for input fed by a timer handler", c == 'z' && gk_now_ns() >= deadline, c);
    CHECK_RC("close timer port", gk_evtchn_close(tport), HV_OK);
    CHECK_RC("bad virq", gk_evtchn_bind_virq(HV_VIRQ_COUNT, 0, &tport2), HV_EINVAL);

    /* gk_sleep_ms is not cut short by another event: b is pending when it
     * blocks (HC_BLOCK returns at once, b's handler runs, it blocks again). */
    gk_events_disable();
    gk_evtchn_send(a);
    uint64_t t0 = gk_now_ns();
    CHECK_RC("sleep with another event pending", gk_sleep_ms(3), HV_OK);
    uint64_t slept = gk_now_ns() - t0;
    check("slept the whole time", slept >= 3 * GK_NS_PER_MS, (long long)slept);
    check("the other event was handled meanwhile", hits[b] == 6, hits[b]);
    /* It restores the caller's state: masked here. */
    check("sleep restored events masked", gk_shared_info()->vcpu_info[0].upcall_mask == 1,
          gk_shared_info()->vcpu_info[0].upcall_mask);
    gk_events_enable();

    /* Close: the peer goes back to unbound; sends are harmless. */
    CHECK_RC("close b", gk_evtchn_close(b), HV_OK);
    CHECK_RC("send on the now-unbound a", gk_evtchn_send(a), HV_OK);
    CHECK_RC("close a", gk_evtchn_close(a), HV_OK);
    CHECK_RC("close a twice", gk_evtchn_close(a), HV_ENOENT);
    CHECK_RC("send on port 0", gk_evtchn_send(0), HV_EINVAL);
    CHECK_RC("close ipi", gk_evtchn_close(ipi), HV_OK);
    check("handlers ran only for delivered events", hits[a] == 1 && hits[b] == 6, hits[a]);
}

static uint8_t page[4096] __attribute__((aligned(4096)));

static void grants(void)
{
    page[0] = 1; /* in .bss: make sure it is there */
    uint64_t mfn = gk_va_to_mfn((uint64_t)(uintptr_t)page);
    check("va_to_mfn matches the p2m",
          mfn != HV_M2P_INVALID && mfn == gk_layout_va_to_mfn((uint64_t)(uintptr_t)page),
          (long long)mfn);
    uint32_t ref = 0;
    CHECK_RC("grant an unaligned page", gk_grant_page(0, page + 8, false, &ref), HV_EINVAL);
    CHECK_RC("grant to ourselves (SELF)", gk_grant_page(HV_CAP_SLOT_SELF, page, false, &ref),
             HV_EINVAL);
    CHECK_RC("grant to ourselves (slot 0)", gk_grant_page(0, page, true, &ref), HV_EINVAL);
    CHECK_RC("end ref 0", gk_grant_end(0), HV_EINVAL);
    CHECK_RC("end a grant never made", gk_grant_end(5), HV_ENOENT);
    CHECK_RC("status of a grant never made", gk_grant_status(5, NULL, NULL, NULL), HV_ENOENT);
    CHECK_RC("unmap what is not a grant", gk_grant_unmap((uint64_t)(uintptr_t)page), HV_EINVAL);
}

static void console(void)
{
    char buf[256];
    CHECK_RC("no console input yet", gk_console_read(buf, sizeof(buf)), 0);
    CHECK_RC("write our own input", gk_console_write_input(HV_ROOT_SLOT_CONSOLE, "hv!", 3), 3);
    check("getc 1", gk_console_getc_blocking() == 'h', 0);
    check("getc 2", gk_console_getc_blocking() == 'v', 0);
    int64_t n = gk_console_read(buf, sizeof(buf));
    check("read the rest", n == 1 && buf[0] == '!', n);
    CHECK_RC("input ring empty again", gk_console_read(buf, sizeof(buf)), 0);

    /* Our own output ring, through our console capability. */
    while (gk_console_read_output(HV_ROOT_SLOT_CONSOLE, buf, sizeof(buf)) > 0)
        ;
    gk_printf("events: console marker 42\n");
    n = gk_console_read_output(HV_ROOT_SLOT_CONSOLE, buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    check("own output read back", n > 0 && strstr(buf, "console marker 42") != NULL, n);
    CHECK_RC("watch our own console", gk_console_watch(HV_ROOT_SLOT_CONSOLE), HV_OK);
    /* Watching our own console: our next output line raises HV_VIRQ_CONSOLE,
     * whose handler (console.c) runs on the way back from the write. */
    uint64_t calls = gk_events_handler_calls();
    gk_printf("events: a line for the watcher\n");
    check("output raised HV_VIRQ_CONSOLE", gk_events_handler_calls() > calls,
          (long long)(gk_events_handler_calls() - calls));
    CHECK_RC("read output of an empty slot", gk_console_read_output(200, buf, 8), HV_ENOENT);
}

int main(const struct hv_start_info *si)
{
    CHECK_RC("mm init", gk_mm_init(si), HV_OK);
    CHECK_RC("events init", gk_events_init(), HV_OK);
    caps(si);
    channels();
    grants();
    console();
    gk_printf("events: %u checks, %u failed\n", checks, failures);
    if (failures)
        return 1;
    gk_printf("events: ok\n");
    return 0;
}
