/*
 * Two domains exchange messages through a granted page and an event
 * channel (issue 4's two-domain test). One image, two roles:
 *
 *   root (boot module 0): builds module 1 as "peer" with guest-kit's
 *   builder, copies it a domain capability naming the root (event channel
 *   and grant rights only), grants it two pages, allocates an unbound port
 *   for it, and tells it the refs and port through its console input. Then
 *   it streams `count` 16-byte messages {seq, value} through a ring in the
 *   first granted page; the peer checks every sequence number and returns
 *   {count, sum} on a second ring in the same page. Then it measures event
 *   round trips, checks that a mapped grant cannot be ended, tells the peer
 *   to finish, and ends the grants once the peer has unmapped them.
 *
 *   peer: maps the ring page, binds the port, consumes, answers, measures
 *   grant map + unmap pairs on the second page, echoes events, and on "done"
 *   unmaps and powers off.
 *
 * Ends with "pingpong: ok" from the root. Figures under -icount are
 * instruction counts (the TSC counts instructions).
 */
#include "gk/builder.h"
#include "gk/gk.h"
#include "gk/mm.h"
#include "hv/ring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEER_DOM_SLOT 20u
#define PEER_CON_SLOT 21u
#define ROOT_SLOT_IN_PEER 0u
#define HALF 2048u
#define ROUND_TRIPS 1000u
#define MAP_PAIRS 100u
#define PEER_RING_VA 0x40000000ull
#define PEER_PAGE2_VA 0x40001000ull

struct msg {
    uint64_t seq;
    uint64_t value;
};

static uint8_t ring_page[4096] __attribute__((aligned(4096)));
static uint8_t page2[4096] __attribute__((aligned(4096)));
static int failures;

static void check(const char *what, bool ok)
{
    if (!ok)
        failures++;
    gk_printf("pingpong: %s%s\n", ok ? "" : "FAILED ", what);
}

static uint64_t rdtsc(void)
{
    return __builtin_ia32_rdtsc();
}

static volatile uint64_t events_seen;

static void count_event(uint32_t port, void *arg)
{
    (void)port;
    (void)arg;
    events_seen++;
}

/* Waits until the port is pending (polling, no handler bound). Events are
 * masked around the check so that an upcall cannot take the event between
 * the check and HC_BLOCK (which unmasks and re-checks atomically). */
static void wait_port(uint32_t port)
{
    bool was = gk_events_disable();
    while (!gk_evtchn_test_and_clear(port)) {
        gk_block();
        gk_events_disable();
    }
    gk_events_restore(was);
}

static uint64_t value_of(uint64_t seq)
{
    return seq * 0x9e3779b97f4a7c15ull ^ (seq >> 7);
}

/* --- root ------------------------------------------------------------------ */

static int root(const struct hv_start_info *si, uint64_t count)
{
    if (si->modules_count < 1)
        gk_panic("pingpong: the peer image must be module 1");
    gk_assert(ring_format(ring_page, HALF) && ring_format(ring_page + HALF, HALF));

    struct gk_build_spec spec = {
        .name = "peer",
        .image = (const void *)(uintptr_t)si->modules[0].va,
        .image_size = si->modules[0].size_bytes,
        .pages = 512,
        .cmdline = "peer role=peer",
        .mem_slot = HV_ROOT_SLOT_MEMORY,
        .dom_slot = PEER_DOM_SLOT,
        .console_slot = PEER_CON_SLOT,
        .paused = true,
    };
    struct gk_built_domain peer;
    const char *detail = NULL;
    int64_t status = 0;
    const char *why = gk_build_domain(&spec, &peer, &detail, &status);
    if (why)
        gk_panic("pingpong: building the peer: %s%s%s (%lld)", why, detail ? ": " : "",
                 detail ? detail : "", (long long)status);

    /* The peer's only capability: a domain cap naming us, able to bind
     * event channels and use our grants, nothing else. */
    int64_t rc = gk_cap_copy(HV_ROOT_SLOT_SELF, PEER_DOM_SLOT, ROOT_SLOT_IN_PEER,
                             HV_CAP_R_DOM_EVTCHN | HV_CAP_R_DOM_GRANT, 0, 0);
    check("copy a narrowed capability to myself into the peer's table", rc == HV_OK);
    uint32_t ref1 = 0, ref2 = 0, port = 0;
    check("grant the ring page", gk_grant_page(PEER_DOM_SLOT, ring_page, true, &ref1) == HV_OK);
    check("grant a second page", gk_grant_page(PEER_DOM_SLOT, page2, true, &ref2) == HV_OK);
    check("allocate a port for the peer", gk_evtchn_alloc_unbound(PEER_DOM_SLOT, &port) == HV_OK);
    char line[96];
    int n = snprintf(line, sizeof(line), "ref=%u ref2=%u port=%u count=%llu\n", ref1, ref2, port,
                     (unsigned long long)count);
    check("tell the peer through its console input",
          gk_console_write_input(PEER_CON_SLOT, line, (size_t)n) == n);
    check("start the peer", gk_domain_start(&peer) == HV_OK);

    wait_port(port); /* the peer has mapped the page and bound its end */
    uint32_t flags = 0, maps = 0;
    uint64_t mfn = 0;
    rc = gk_grant_status(ref1, &flags, &maps, &mfn);
    check("the ring grant is in use", rc == HV_OK && (flags & HV_GRANT_F_IN_USE) && maps == 1);
    check("a mapped grant cannot be ended", gk_grant_end(ref1) == HV_EBUSY);

    struct ring tx, rx;
    gk_assert(ring_attach_producer(&tx, ring_page, HALF));
    gk_assert(ring_attach_consumer(&rx, ring_page + HALF, HALF));
    uint64_t t0 = rdtsc(), notifies = 0, sum = 0;
    for (uint64_t seq = 0; seq < count;) {
        struct msg m = {.seq = seq, .value = value_of(seq)};
        bool notify = false;
        enum ring_status st = ring_write(&tx, &m, sizeof(m), &notify);
        if (notify) {
            gk_evtchn_send(port);
            notifies++;
        }
        if (st == RING_OK) {
            sum += m.value;
            seq++;
            continue;
        }
        if (st != RING_FULL)
            gk_panic("pingpong: ring write failed (%d)", st);
        if (ring_producer_prepare_sleep(&tx, sizeof(m)))
            wait_port(port);
    }
    /* The answer: {count, sum} on the second ring. */
    struct msg answer;
    uint32_t len = 0;
    for (;;) {
        bool notify = false;
        enum ring_status st = ring_read(&rx, &answer, sizeof(answer), &len, &notify);
        if (st == RING_OK)
            break;
        if (st != RING_EMPTY)
            gk_panic("pingpong: answer ring failed (%d)", st);
        if (ring_consumer_prepare_sleep(&rx))
            wait_port(port);
    }
    uint64_t t1 = rdtsc();
    gk_printf("pingpong: %llu messages sent, %llu notifications, peer saw %llu, sum %s\n",
              (unsigned long long)count, (unsigned long long)notifies,
              (unsigned long long)answer.seq, answer.value == sum ? "matches" : "DIFFERS");
    check("the peer received every message, in order, intact",
          len == sizeof(answer) && answer.seq == count && answer.value == sum);
    gk_printf("pingpong: figure: stream of %llu messages: %llu TSC ticks (%llu per message)\n",
              (unsigned long long)count, (unsigned long long)(t1 - t0),
              (unsigned long long)((t1 - t0) / (count ? count : 1)));

    /* Round trips: send, the peer's handler sends back, our handler counts.
     * First wait for the peer's "echoing" record on the second ring. */
    for (;;) {
        bool nt = false;
        enum ring_status st = ring_read(&rx, &answer, sizeof(answer), &len, &nt);
        if (st == RING_OK)
            break;
        if (st != RING_EMPTY)
            gk_panic("pingpong: answer ring failed (%d)", st);
        if (ring_consumer_prepare_sleep(&rx))
            wait_port(port);
    }
    gk_evtchn_test_and_clear(port);
    gk_evtchn_bind_handler(port, count_event, NULL);
    uint64_t r0 = rdtsc();
    for (uint32_t i = 0; i < ROUND_TRIPS; i++) {
        uint64_t want = events_seen + 1;
        gk_evtchn_send(port);
        bool was = gk_events_disable();
        while (events_seen < want) {
            gk_block(); /* the handler runs on the way out, then we re-check */
            gk_events_disable();
        }
        gk_events_restore(was);
    }
    uint64_t r1 = rdtsc();
    gk_printf("pingpong: figure: event-channel round trip to another domain and back "
              "(handler to handler): %llu TSC ticks\n",
              (unsigned long long)((r1 - r0) / ROUND_TRIPS));

    /* Ask the peer to shut down (HV_DOMCTL_SHUTDOWN_REQUEST -> its
     * HV_VIRQ_SHUTDOWN -> guest-kit's default handler -> HC_SHUTDOWN). */
    struct hv_domctl_shutdown_request req = {.dom_slot = PEER_DOM_SLOT,
                                             .reason = HV_SHUTDOWN_REBOOT};
    check("ask the peer to reboot", gk_hc_domain_op(HV_DOMCTL_SHUTDOWN_REQUEST, &req) == HV_OK);
    struct hv_domctl_info info;
    for (int i = 0; i < 1000; i++) {
        if (gk_domain_info(PEER_DOM_SLOT, &info) == HV_OK && info.state == HV_DOMSTATE_SHUTDOWN)
            break;
        gk_hc_yield();
    }
    check("the peer shut down for the reason asked",
          info.state == HV_DOMSTATE_SHUTDOWN && info.shutdown_reason == HV_SHUTDOWN_REBOOT &&
              info.shutdown_request == HV_SHUTDOWN_REBOOT + 1);
    check("asking a SHUTDOWN domain again is refused",
          gk_hc_domain_op(HV_DOMCTL_SHUTDOWN_REQUEST, &req) == HV_EBUSY);
    /* A shut-down domain keeps its memory and mappings: still in use. */
    rc = gk_grant_status(ref1, &flags, &maps, &mfn);
    check("the stopped peer still maps the ring", rc == HV_OK && (flags & HV_GRANT_F_IN_USE));
    check("so the grant cannot end yet", gk_grant_end(ref1) == HV_EBUSY);
    /* As holder of its console capability, read what the peer wrote. */
    static char out[HV_CONSOLE_RING_SIZE + 1];
    int64_t got = gk_console_read_output(PEER_CON_SLOT, out, sizeof(out) - 1);
    out[got > 0 ? got : 0] = 0;
    check("the peer's console output is readable by the holder",
          got > 0 && strstr(out, "grant map + unmap pair") != NULL);
    check("destroy the peer", gk_domain_destroy(&peer) == HV_OK);
    /* Destroying the grantee dropped its mappings (and flushed its TLBs). */
    rc = gk_grant_status(ref1, &flags, &maps, &mfn);
    check("the ring grant is no longer in use", rc == HV_OK && !(flags & HV_GRANT_F_IN_USE));
    check("end the ring grant", gk_grant_end(ref1) == HV_OK);
    check("end the second grant", gk_grant_end(ref2) == HV_OK);
    if (failures)
        gk_panic("pingpong: %d checks FAILED", failures);
    gk_printf("pingpong: ok\n");
    return 0;
}

/* --- peer ------------------------------------------------------------------- */

static uint32_t peer_port;

static void echo(uint32_t port, void *arg)
{
    (void)arg;
    gk_evtchn_send(port);
}

static uint64_t field(const char *line, const char *key)
{
    const char *p = line;
    size_t k = strlen(key);
    while ((p = strstr(p, key)) != NULL) {
        if ((p == line || p[-1] == ' ') && p[k] == '=')
            return strtoull(p + k + 1, NULL, 10);
        p += k;
    }
    gk_panic("pingpong: peer: no %s= in \"%s\"", key, line);
}

static int peer(void)
{
    char line[128];
    size_t n = 0;
    while (n < sizeof(line) - 1 && (n == 0 || line[n - 1] != '\n')) {
        int64_t got = gk_console_read(line + n, sizeof(line) - 1 - n);
        if (got <= 0)
            gk_panic("pingpong: peer: no instructions on the console");
        n += (size_t)got;
    }
    line[n] = 0;
    uint32_t ref1 = (uint32_t)field(line, "ref"), ref2 = (uint32_t)field(line, "ref2");
    uint32_t rport = (uint32_t)field(line, "port");
    uint64_t count = field(line, "count");

    if (gk_grant_map(ROOT_SLOT_IN_PEER, ref1, PEER_RING_VA, true) != HV_OK)
        gk_panic("pingpong: peer: cannot map the ring grant");
    if (gk_evtchn_bind_interdomain(ROOT_SLOT_IN_PEER, rport, &peer_port) != HV_OK)
        gk_panic("pingpong: peer: cannot bind the port");
    gk_evtchn_test_and_clear(peer_port);
    /* What we were not given is refused. */
    struct hv_domctl_create c = {
        .mem_slot = 0, .dom_slot = 1, .console_slot = 2, .vcpus = 1, .max_pages = 4, .name = "x"};
    int64_t rc = gk_hc_domain_op(HV_DOMCTL_CREATE, &c);
    gk_printf("pingpong: peer: create a domain through the root's domain cap -> %lld\n",
              (long long)rc);
    if (rc != HV_EPERM)
        gk_panic("pingpong: peer: FAILED create was not refused");
    rc = gk_domain_pause(ROOT_SLOT_IN_PEER);
    gk_printf("pingpong: peer: pause the root -> %lld\n", (long long)rc);
    if (rc != HV_EPERM)
        gk_panic("pingpong: peer: FAILED pause was not refused");
    gk_evtchn_send(peer_port); /* ready */

    uint8_t *page = (uint8_t *)(uintptr_t)PEER_RING_VA;
    struct ring rx, tx;
    if (!ring_attach_consumer(&rx, page, HALF) || !ring_attach_producer(&tx, page + HALF, HALF))
        gk_panic("pingpong: peer: bad ring");
    uint64_t expect = 0, sum = 0, bad = 0;
    while (expect < count) {
        struct msg m;
        uint32_t len;
        bool notify = false;
        enum ring_status st = ring_read(&rx, &m, sizeof(m), &len, &notify);
        if (notify)
            gk_evtchn_send(peer_port);
        if (st == RING_OK) {
            if (len != sizeof(m) || m.seq != expect || m.value != value_of(m.seq))
                bad++;
            sum += m.value;
            expect++;
            continue;
        }
        if (st != RING_EMPTY)
            gk_panic("pingpong: peer: ring failed (%d)", st);
        if (ring_consumer_prepare_sleep(&rx))
            wait_port(peer_port);
    }
    struct msg answer = {.seq = bad ? 0 : expect, .value = sum};
    bool notify = false;
    if (ring_write(&tx, &answer, sizeof(answer), &notify) != RING_OK)
        gk_panic("pingpong: peer: cannot answer");
    gk_evtchn_send(peer_port);

    /* Grant map + unmap pairs on the second page. */
    uint64_t t0 = __builtin_ia32_rdtsc();
    for (uint32_t i = 0; i < MAP_PAIRS; i++) {
        if (gk_grant_map(ROOT_SLOT_IN_PEER, ref2, PEER_PAGE2_VA, true) != HV_OK ||
            gk_grant_unmap(PEER_PAGE2_VA) != HV_OK)
            gk_panic("pingpong: peer: grant map/unmap %u failed", i);
    }
    uint64_t t1 = __builtin_ia32_rdtsc();
    gk_printf("pingpong: peer: figure: grant map + unmap pair: %llu TSC ticks\n",
              (unsigned long long)((t1 - t0) / MAP_PAIRS));

    /* Echo events until the root asks us to shut down (guest-kit's default
     * HV_VIRQ_SHUTDOWN handler ends the domain); tell the root we echo. */
    gk_evtchn_bind_handler(peer_port, echo, NULL);
    struct msg echoing = {.seq = 1};
    if (ring_write(&tx, &echoing, sizeof(echoing), &notify) != RING_OK)
        gk_panic("pingpong: peer: cannot say it echoes");
    gk_evtchn_send(peer_port);
    for (;;)
        gk_block(); /* handlers run on the way out */
}

int main(const struct hv_start_info *si)
{
    char role[16] = "root", count_s[24] = "1000000";
    gk_cmdline_get("role", role, sizeof(role));
    gk_cmdline_get("count", count_s, sizeof(count_s));
    if (gk_mm_init(si) != 0)
        gk_panic("pingpong: gk_mm_init failed");
    if (gk_events_init() != HV_OK)
        gk_panic("pingpong: gk_events_init failed");
    if (strcmp(role, "peer") == 0)
        return peer();
    return root(si, strtoull(count_s, NULL, 10));
}
