/*
 * echo: two domains talk over a gk_channel (gk/channel.h). One image, two
 * roles, like test/guests/pingpong.c:
 *
 *   root (boot module 0): builds its own image (module 1) as "peer" with
 *   the builder (gk/builder.h), copies it a capability naming the root
 *   (event channels and grants only), offers it a channel (a granted page,
 *   a port) and tells it the ref and port through its console input. Then
 *   it sends `count` messages of every length from 0 to the largest, with
 *   contents derived from their sequence number, and checks that every
 *   reply is the same message; a message one byte too long is refused
 *   (GK_CHAN_ETOOBIG). Then it asks the peer to corrupt the ring the other
 *   way (an impossible producer index): the root's next receive must say
 *   GK_CHAN_EDISCONNECTED, as must every call after it, without a crash.
 *   The peer powers off; the root ends the grant and destroys it.
 *
 *   peer: reads "ref=.. port=..", checks that impossible or wrong refs,
 *   ports and addresses are refused, connects, echoes every message until
 *   "corrupt", then breaks the ring, notifies, closes its end and powers off.
 *
 * Command line: count=<round trips> (default 1000). Ends with "echo: ok".
 */
#include "gk/builder.h"
#include "gk/channel.h"
#include "gk/gk.h"
#include "gk/mm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEER_DOM_SLOT 20u
#define PEER_CON_SLOT 21u
#define ROOT_SLOT_IN_PEER 0u
#define PEER_PAGE_VA 0x40000000ull
#define CORRUPT_CMD "corrupt"

static uint8_t chan_page[GK_CHANNEL_PAGE_BYTES] __attribute__((aligned(4096)));
static uint8_t out[GK_CHANNEL_PAGE_BYTES], in[GK_CHANNEL_PAGE_BYTES];

static void check(bool ok, const char *what)
{
    if (!ok)
        gk_panic("echo: FAILED %s", what);
    gk_printf("echo: %s: ok\n", what);
}

/* Message seq: length seq % (max + 1), bytes from a simple generator. */
static uint32_t fill(uint64_t seq, uint32_t max)
{
    uint32_t len = (uint32_t)(seq % (max + 1u));
    uint64_t x = seq * 0x9e3779b97f4a7c15ull + 1;
    for (uint32_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out[i] = (uint8_t)x;
    }
    return len;
}

static int root(const struct hv_start_info *si, uint64_t count)
{
    if (si->modules_count < 1)
        gk_panic("echo: the peer image (this image again) must be module 1");
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
        gk_panic("echo: building the peer: %s%s%s (%lld)", why, detail ? ": " : "",
                 detail ? detail : "", (long long)status);
    check(gk_cap_copy(HV_ROOT_SLOT_SELF, PEER_DOM_SLOT, ROOT_SLOT_IN_PEER,
                      HV_CAP_R_DOM_EVTCHN | HV_CAP_R_DOM_GRANT, 0, 0) == HV_OK,
          "give the peer a capability naming us");

    struct gk_channel ch;
    uint32_t ref = 0, port = 0;
    check(gk_channel_offer(&ch, PEER_DOM_SLOT, chan_page, &ref, &port) == HV_OK, "offer a channel");
    char line[64];
    int n = snprintf(line, sizeof(line), "ref=%u port=%u\n", ref, port);
    check(gk_console_write_input(PEER_CON_SLOT, line, (size_t)n) == n,
          "tell the peer ref and port");
    check(gk_domain_start(&peer) == HV_OK, "start the peer");
    check(gk_channel_accept(&ch) == HV_OK, "the peer connected");

    uint32_t max = gk_channel_max_msg(&ch);
    check(max == 1016, "largest message is 1016 bytes");
    check(gk_channel_try_send(&ch, out, max + 1) == GK_CHAN_ETOOBIG,
          "a message too long is refused");
    uint64_t bytes = 0;
    for (uint64_t seq = 0; seq < count; seq++) {
        uint32_t len = fill(seq, max), got = 0;
        enum gk_chan_status st = gk_channel_send(&ch, out, len);
        if (st != GK_CHAN_OK)
            gk_panic("echo: FAILED send %llu (%d)", (unsigned long long)seq, st);
        st = gk_channel_recv(&ch, in, sizeof(in), &got);
        if (st != GK_CHAN_OK)
            gk_panic("echo: FAILED receive %llu (%d)", (unsigned long long)seq, st);
        if (got != len || memcmp(in, out, len) != 0)
            gk_panic("echo: FAILED reply %llu: %u bytes, wanted %u, %s", (unsigned long long)seq,
                     got, len, got == len ? "contents differ" : "length differs");
        bytes += len;
    }
    gk_printf("echo: %llu replies checked (%llu bytes each way), %llu notifications sent, "
              "%llu received\n",
              (unsigned long long)count, (unsigned long long)bytes, (unsigned long long)ch.notifies,
              (unsigned long long)ch.events);
    check(count > 0, "every reply was the message sent");

    /* Deadlines: the peer waits for us, so nothing comes: a receive with a
     * 20 ms deadline times out, neither early nor much later; then a reply
     * that comes in time is received before its deadline. */
    uint64_t t0 = gk_now_ns();
    uint32_t none = 0;
    enum gk_chan_status tst =
        gk_channel_recv_until(&ch, in, sizeof(in), &none, t0 + 20 * GK_NS_PER_MS);
    uint64_t waited = gk_now_ns() - t0;
    gk_printf("echo: receive with a 20 ms deadline -> %d after %llu us\n", tst,
              (unsigned long long)(waited / GK_NS_PER_US));
    check(tst == GK_CHAN_ETIMEDOUT && none == 0 && waited >= 20 * GK_NS_PER_MS &&
              waited < 70 * GK_NS_PER_MS,
          "a receive with a deadline times out at the deadline");
    uint32_t one = fill(count, max), back = 0;
    check(gk_channel_send_until(&ch, out, one, gk_now_ns() + GK_NS_PER_SEC) == GK_CHAN_OK &&
              gk_channel_recv_until(&ch, in, sizeof(in), &back, gk_now_ns() + GK_NS_PER_SEC) ==
                  GK_CHAN_OK &&
              back == one && memcmp(in, out, one) == 0,
          "a reply within the deadline is received");

    /* Bad input: the peer corrupts the ring it writes to us. */
    check(gk_channel_send(&ch, CORRUPT_CMD, sizeof(CORRUPT_CMD)) == GK_CHAN_OK,
          "ask the peer to corrupt its ring");
    uint32_t got = 0;
    enum gk_chan_status st = gk_channel_recv(&ch, in, sizeof(in), &got);
    gk_printf("echo: receive from a corrupt ring -> %d\n", st);
    check(st == GK_CHAN_EDISCONNECTED && gk_channel_disconnected(&ch),
          "a corrupt ring disconnects the channel");
    check(gk_channel_send(&ch, out, 8) == GK_CHAN_EDISCONNECTED &&
              gk_channel_try_recv(&ch, in, sizeof(in), &got) == GK_CHAN_EDISCONNECTED,
          "a disconnected channel stays disconnected");

    struct hv_domctl_info info = {0};
    for (int i = 0; i < 100000; i++) {
        if (gk_domain_info(PEER_DOM_SLOT, &info) == HV_OK && info.state == HV_DOMSTATE_SHUTDOWN)
            break;
        gk_hc_yield();
    }
    check(info.state == HV_DOMSTATE_SHUTDOWN && info.shutdown_reason == HV_SHUTDOWN_POWEROFF,
          "the peer powered off");
    check(gk_channel_close(&ch) == HV_OK, "close our end (grant ended)");
    check(gk_domain_destroy(&peer) == HV_OK, "destroy the peer");
    gk_printf("echo: ok\n");
    return 0;
}

/* ---- peer ------------------------------------------------------------------ */

static uint32_t field(const char *line, const char *key)
{
    const char *p = strstr(line, key);
    size_t k = strlen(key);
    if (!p || p[k] != '=')
        gk_panic("echo: peer: no %s= in \"%s\"", key, line);
    return (uint32_t)strtoul(p + k + 1, NULL, 10);
}

static int peer(void)
{
    char line[64];
    size_t n = 0;
    while (n < sizeof(line) - 1) {
        int c = gk_console_getc_blocking();
        if (c < 0)
            gk_panic("echo: peer: console input failed (%d)", c);
        if (c == '\n')
            break;
        line[n++] = (char)c;
    }
    line[n] = 0;
    uint32_t ref = field(line, "ref"), port = field(line, "port");
    /* What we are told is checked: impossible values are refused before
     * any hypercall, a wrong ref by the hypervisor, and either way nothing
     * stays mapped (the real connect below maps the same va). */
    struct gk_channel ch;
    int64_t bad[4] = {
        gk_channel_connect(&ch, ROOT_SLOT_IN_PEER, 0, port, PEER_PAGE_VA),
        gk_channel_connect(&ch, ROOT_SLOT_IN_PEER, ref, HV_EVTCHN_PORTS + 5, PEER_PAGE_VA),
        gk_channel_connect(&ch, ROOT_SLOT_IN_PEER, ref + 100, port, PEER_PAGE_VA),
        gk_channel_connect(&ch, ROOT_SLOT_IN_PEER, ref, port, PEER_PAGE_VA + 8),
    };
    gk_printf("echo: peer: bad connects -> %lld %lld %lld %lld\n", (long long)bad[0],
              (long long)bad[1], (long long)bad[2], (long long)bad[3]);
    if (bad[0] != HV_EINVAL || bad[1] != HV_EINVAL || bad[2] == HV_OK || bad[3] != HV_EINVAL)
        gk_panic("echo: peer: FAILED a bad ref, port or va was not refused");
    int64_t rc = gk_channel_connect(&ch, ROOT_SLOT_IN_PEER, ref, port, PEER_PAGE_VA);
    if (rc != HV_OK)
        gk_panic("echo: peer: connect failed (%lld)", (long long)rc);
    uint64_t echoed = 0;
    for (;;) {
        uint32_t len = 0;
        enum gk_chan_status st = gk_channel_recv(&ch, in, sizeof(in), &len);
        if (st != GK_CHAN_OK)
            gk_panic("echo: peer: receive failed (%d)", st);
        if (len == sizeof(CORRUPT_CMD) && memcmp(in, CORRUPT_CMD, len) == 0)
            break;
        st = gk_channel_send(&ch, in, len);
        if (st != GK_CHAN_OK)
            gk_panic("echo: peer: send failed (%d)", st);
        echoed++;
    }
    /* The ring we produce starts at offset 2048 of the page: an impossible
     * producer index (not a multiple of 8, far ahead of the consumer). */
    volatile struct ring_shared *r =
        (volatile struct ring_shared *)(uintptr_t)(PEER_PAGE_VA + GK_CHANNEL_RING_BYTES);
    r->prod = r->prod + 0x10003u;
    gk_evtchn_send(ch.port);
    rc = gk_channel_close(&ch);
    gk_printf("echo: peer: echoed %llu messages, corrupted the ring, closed (%lld)\n",
              (unsigned long long)echoed, (long long)rc);
    return rc == HV_OK ? 0 : 1;
}

int main(const struct hv_start_info *si)
{
    char role[16] = "root", count_s[24] = "1000";
    gk_cmdline_get("role", role, sizeof(role));
    gk_cmdline_get("count", count_s, sizeof(count_s));
    if (gk_mm_init(si) != 0)
        gk_panic("echo: gk_mm_init failed");
    if (gk_events_init() != HV_OK)
        gk_panic("echo: gk_events_init failed");
    if (strcmp(role, "peer") == 0)
        return peer();
    return root(si, strtoull(count_s, NULL, 10));
}
