/*
 * A guest for the domain-bus tests (test/integration/bus_test.py), one role
 * per command line `role=`:
 *
 *   config    prints its bus status, the config values named by keys=a,b,c
 *             ("bus: config KEY=VALUE" or "bus: config KEY absent"), a ping,
 *             then serves requests while it sleeps: memory targets and
 *             suspends are printed (hooks), shutdown ends it. With
 *             pings=N it then measures N round trips ("bus: figure: ...").
 *   provider  registers service=NAME and answers every connection: each
 *             message "x" is answered "NAME:x" (prints each connection).
 *   user      uses service=NAME, sends count=N messages on each connection it
 *             is given and checks the answers; with rounds=R it does that for
 *             R connections (the provider restarting in between).
 *   chansend  sends, over the declared channel "bench", 64 B, 4 KiB and 64 KiB
 *             messages (bytes=N of each size, default 16 MiB; batch=B of them
 *             per gk_conn_sendv, default 1: each with gk_conn_send); chanrecv
 *             receives them and prints the throughput of each size against
 *             memcpy of the same bytes in the same domain (figures, in TSC
 *             ticks: instructions under -icount).
 *   hostile   misbehaves on its bus, mode=: flood (pings, never reads the
 *             answers), fast (pings as fast as the rate allows, reading the
 *             answers), garbage (undecodable messages), control (a
 *             control-protocol request), corrupt (an impossible ring
 *             index), badservice (registers a service it may not offer),
 *             baduse (uses one it may not use), crash (half a message, then
 *             a fault).
 *
 *   fakeblk   registers the service blk as blkback does, and answers the
 *             volume requests the control domain relays wrongly, in turn: a
 *             volume-list-reply whatever was asked, then an error-reply
 *             (conflict, "fakeblk says no"), then a good volume-list-reply
 *             of one volume "fake" (blkback_test.py relay: only a reply of
 *             the expected type reaches hvctl).
 *
 * Each role prints "bus: ROLE: done" when it has nothing more to do.
 */
#include <stdio.h>
#include <string.h>

#include "../../guest-kit/src/bus_internal.h"
#include "gk/bus.h"
#include "gk/gk.h"
#include "hv/duplex.h"
#include "hv/proto_msgs.h"

static char role[16], name[40];

static uint64_t arg_u64(const char *key, uint64_t dflt)
{
    char v[32];
    if (!gk_cmdline_get(key, v, sizeof v))
        return dflt;
    uint64_t x = 0;
    for (const char *p = v; *p >= '0' && *p <= '9'; p++)
        x = x * 10 + (uint64_t)(*p - '0');
    return x;
}

static uint64_t rdtsc(void)
{
    return __builtin_ia32_rdtsc();
}

/* ---- config ---------------------------------------------------------------- */

static void on_mem(uint64_t target)
{
    gk_printf("bus: memory target %llu bytes\n", (unsigned long long)target);
}

static bool on_suspend(void)
{
    char v[8] = "";
    gk_cmdline_get("suspend", v, sizeof v);
    bool ok = strcmp(v, "refuse") != 0;
    gk_printf("bus: suspend asked: %s\n", ok ? "ready" : "refusing");
    return ok;
}

static void on_resume(void)
{
    gk_printf("bus: resumed\n");
}

static int run_config(void)
{
    gk_printf("bus: status %lld\n", (long long)gk_bus_status());
    char keys[256] = "";
    gk_cmdline_get("keys", keys, sizeof keys);
    for (char *k = keys; *k;) {
        char *end = strchr(k, ',');
        if (end)
            *end = 0;
        char val[600];
        int r = gk_config_get(k, val, sizeof val);
        if (r == 1)
            gk_printf("bus: config %s=%s\n", k, val);
        else if (r == 0)
            gk_printf("bus: config %s absent\n", k);
        else
            gk_printf("bus: config %s error %d\n", k, r);
        if (!end)
            break;
        k = end + 1;
    }
    gk_printf("bus: ping %lld\n", (long long)gk_bus_ping(7));
    gk_bus_on_memory_target(on_mem);
    gk_bus_on_suspend(on_suspend);
    gk_bus_on_resume(on_resume);
    uint64_t pings = arg_u64("pings", 0);
    if (pings) {
        /* Round trips: the domain's request, the control domain's answer
         * (under -icount the TSC counts instructions). */
        uint64_t t0 = rdtsc();
        uint64_t fails = 0;
        for (uint64_t i = 0; i < pings; i++)
            fails += gk_bus_ping(i) != HV_OK;
        uint64_t dt = rdtsc() - t0;
        gk_printf("bus: figure: bus round trip (bus-ping/bus-pong) %llu TSC ticks over %llu, "
                  "%llu failed\n",
                  (unsigned long long)(dt / pings), (unsigned long long)pings,
                  (unsigned long long)fails);
    }
    gk_printf("bus: config: done\n");
    for (;;)
        gk_sleep_ms(100); /* every wake-up is a safe point */
    return 0;
}

/* ---- provider and user ---------------------------------------------------- */

static int run_provider(void)
{
    int64_t rc = gk_service_register(name);
    gk_printf("bus: provider: register %s: %lld\n", name, (long long)rc);
    if (rc != HV_OK)
        return 1;
    gk_printf("bus: provider: done\n");
    for (;;) {
        struct gk_conn *c = gk_conn_wait(name, GK_BUS_FOREVER);
        if (!c)
            continue;
        gk_printf("bus: provider: connection from %s\n", gk_conn_peer(c));
        static uint8_t in[4096], out[4200];
        uint64_t served = 0;
        for (;;) {
            uint32_t len = 0;
            enum gk_chan_status st = gk_conn_recv(c, in, sizeof in, &len, GK_BUS_FOREVER);
            if (st != GK_CHAN_OK)
                break;
            size_t n = strlen(name);
            memcpy(out, name, n);
            out[n] = ':';
            memcpy(out + n + 1, in, len);
            if (gk_conn_send(c, out, (uint32_t)(n + 1 + len), GK_BUS_FOREVER) != GK_CHAN_OK)
                break;
            served++;
        }
        gk_printf("bus: provider: %s went away after %llu messages\n", gk_conn_peer(c),
                  (unsigned long long)served);
        gk_conn_close(c);
    }
    return 0;
}

static int run_user(void)
{
    int64_t rc = gk_service_use(name);
    gk_printf("bus: user: use %s: %lld\n", name, (long long)rc);
    if (rc != HV_OK) {
        gk_printf("bus: user: done\n");
        for (;;)
            gk_sleep_ms(100);
    }
    uint64_t count = arg_u64("count", 100), rounds = arg_u64("rounds", 1);
    for (uint64_t round = 0; round < rounds; round++) {
        struct gk_conn *c = gk_conn_wait(name, gk_now_ns() + 60ull * GK_NS_PER_SEC);
        if (!c) {
            gk_printf("bus: user: FAILED: no connection to %s in round %llu\n", name,
                      (unsigned long long)round);
            return 1;
        }
        gk_printf("bus: user: round %llu: connected to %s (provider %s)\n",
                  (unsigned long long)round, gk_conn_name(c), gk_conn_peer(c));
        uint64_t ok = 0;
        for (uint64_t i = 0; i < count; i++) {
            char msg[64], want[128], got[200];
            int n = snprintf(msg, sizeof msg, "message %llu", (unsigned long long)i);
            int wn = snprintf(want, sizeof want, "%s:%s", name, msg);
            uint32_t len = 0;
            if (gk_conn_send(c, msg, (uint32_t)n, gk_now_ns() + 10ull * GK_NS_PER_SEC) !=
                    GK_CHAN_OK ||
                gk_conn_recv(c, got, sizeof got, &len, gk_now_ns() + 10ull * GK_NS_PER_SEC) !=
                    GK_CHAN_OK)
                break;
            if (len == (uint32_t)wn && memcmp(got, want, len) == 0)
                ok++;
        }
        gk_printf("bus: user: round %llu: %llu of %llu answers right\n", (unsigned long long)round,
                  (unsigned long long)ok, (unsigned long long)count);
        if (round + 1 < rounds) {
            /* Wait for the provider to go away (it is restarted by the test). */
            while (!gk_conn_gone(c))
                gk_sleep_ms(20);
            gk_printf("bus: user: round %llu: the provider went away\n", (unsigned long long)round);
        }
        gk_conn_close(c);
    }
    gk_printf("bus: user: done\n");
    for (;;)
        gk_sleep_ms(100);
}

/* ---- channel throughput ------------------------------------------------------ */

static const uint32_t bench_sizes[] = {64, 4096, 65536};
static uint8_t bench_src[65536], bench_dst[65536], bench_mid[256 * 1024];

static uint64_t bench_count(uint32_t size)
{
    uint64_t bytes = arg_u64("bytes", 16ull << 20);
    if (size == 64)
        bytes /= 8; /* per-message costs dominate: fewer of them */
    return bytes / size;
}

static int run_chansend(void)
{
    struct gk_conn *c = gk_conn_wait("bench", gk_now_ns() + 60ull * GK_NS_PER_SEC);
    if (!c) {
        gk_printf("bus: chansend: no channel\n");
        return 1;
    }
    for (uint32_t i = 0; i < sizeof bench_src; i++)
        bench_src[i] = (uint8_t)(i * 13 + 1);
    /* batch=N: gk_conn_sendv of N messages per call (the peer is woken
     * once per call); batch=1: gk_conn_send of each. */
    uint64_t batch = arg_u64("batch", 1);
    static struct gk_conn_msg msgs[64];
    if (batch < 1 || batch > 64)
        batch = 1;
    for (unsigned k = 0; k < 3; k++) {
        uint32_t size = bench_sizes[k];
        for (uint64_t i = 0; i < batch; i++)
            msgs[i] = (struct gk_conn_msg){bench_src, size};
        for (uint64_t i = 0, n = bench_count(size); i < n;) {
            uint32_t want = n - i < batch ? (uint32_t)(n - i) : (uint32_t)batch, sent = 0;
            if (gk_conn_sendv(c, msgs, want, &sent, GK_BUS_FOREVER) != GK_CHAN_OK) {
                gk_printf("bus: chansend: send failed\n");
                return 1;
            }
            i += sent;
        }
    }
    gk_printf("bus: chansend: done\n");
    for (;;)
        gk_sleep_ms(100);
    return 0;
}

/* bytes/tick as "N.NN bytes per 1000 ticks": integer arithmetic only. */
static void print_rate(const char *what, uint32_t size, uint64_t bytes, uint64_t ticks,
                       uint64_t base_bytes, uint64_t base_ticks)
{
    uint64_t milli = ticks ? bytes * 1000u / ticks : 0;
    uint64_t ratio = ticks && base_bytes
                         ? (bytes * 1000u / ticks) * 1000u / (base_bytes * 1000u / base_ticks)
                         : 0;
    gk_printf("bus: figure: %s %u-byte messages: %llu bytes in %llu TSC ticks (%llu.%03llu bytes "
              "per tick), %llu.%03llu x memcpy in+out\n",
              what, size, (unsigned long long)bytes, (unsigned long long)ticks,
              (unsigned long long)(milli / 1000), (unsigned long long)(milli % 1000),
              (unsigned long long)(ratio / 1000), (unsigned long long)(ratio % 1000));
}

static int run_chanrecv(void)
{
    struct gk_conn *c = gk_conn_wait("bench", gk_now_ns() + 60ull * GK_NS_PER_SEC);
    if (!c) {
        gk_printf("bus: chanrecv: no channel\n");
        return 1;
    }
    gk_printf("bus: chanrecv: connected to %s, messages up to %u bytes\n", gk_conn_peer(c),
              gk_conn_max_msg(c));
    for (unsigned k = 0; k < 3; k++) {
        uint32_t size = bench_sizes[k];
        uint64_t n = bench_count(size), t0 = 0, bad = 0;
        for (uint64_t i = 0; i < n; i++) {
            uint32_t len = 0;
            if (gk_conn_recv(c, bench_dst, sizeof bench_dst, &len, GK_BUS_FOREVER) != GK_CHAN_OK) {
                gk_printf("bus: chanrecv: receive failed\n");
                return 1;
            }
            if (i == 0)
                t0 = rdtsc(); /* from the first message: the sender is running */
            bad += len != size || bench_dst[size - 1] != (uint8_t)((size - 1) * 13 + 1);
        }
        uint64_t chan_ticks = rdtsc() - t0;
        uint64_t chan_bytes = (n - 1) * size;
        /* memcpy of the same bytes in this domain: in and out of a buffer of
         * the ring's size (what a ring transfer does), and once. */
        uint32_t per = (uint32_t)(sizeof bench_mid / size);
        uint64_t t1 = rdtsc();
        for (uint64_t i = 0; i < n - 1;) {
            uint32_t m = n - 1 - i < per ? (uint32_t)(n - 1 - i) : per;
            for (uint32_t j = 0; j < m; j++)
                memcpy(bench_mid + (size_t)j * size, bench_src, size);
            for (uint32_t j = 0; j < m; j++)
                memcpy(bench_dst, bench_mid + (size_t)j * size, size);
            i += m;
        }
        uint64_t inout_ticks = rdtsc() - t1;
        t1 = rdtsc();
        for (uint64_t i = 0; i < n - 1; i++)
            memcpy(bench_dst, bench_src, size);
        uint64_t once_ticks = rdtsc() - t1;
        print_rate("channel", size, chan_bytes, chan_ticks, chan_bytes, inout_ticks);
        uint64_t once_ratio = once_ticks ? (chan_bytes * 1000u / chan_ticks) * 1000u /
                                               (chan_bytes * 1000u / once_ticks)
                                         : 0;
        gk_printf("bus: figure: channel %u-byte messages: memcpy once %llu TSC ticks, in+out "
                  "%llu; channel %llu.%03llu x memcpy once; %llu wrong\n",
                  size, (unsigned long long)once_ticks, (unsigned long long)inout_ticks,
                  (unsigned long long)(once_ratio / 1000), (unsigned long long)(once_ratio % 1000),
                  (unsigned long long)bad);
    }
    gk_printf("bus: chanrecv: done\n");
    for (;;)
        gk_sleep_ms(100);
    return 0;
}

/* ---- hostile ---------------------------------------------------------------- */

static struct proto_msg m; /* large: never on the stack */

static uint32_t encode_ping(uint8_t *buf, uint32_t cap, uint64_t id)
{
    m.type = PROTO_MSG_BUS_PING;
    m.u.bus_ping = (struct proto_bus_ping){.request_id = id, .seq = id};
    size_t n = 0;
    struct hvcbor_error e;
    return proto_msg_encode(&m, buf, cap, &n, &e) ? (uint32_t)n : 0;
}

/* Writes a record straight into our ring to the control domain. */
static void raw_record(struct duplex *d, const void *bytes, uint32_t len)
{
    bool n = false;
    ring_write(&d->tx, bytes, len, &n);
    gk_evtchn_send(gk_bus_port());
}

static int run_hostile(void)
{
    char mode[16] = "";
    gk_cmdline_get("mode", mode, sizeof mode);
    gk_printf("bus: hostile: mode %s, bus status %lld\n", mode, (long long)gk_bus_status());
    void *area = gk_bus_area();
    if (!area) {
        gk_printf("bus: hostile: no bus\n");
        return 1;
    }
    /* Our own view of the area (guest-kit's keeps working beside it for the
     * modes that use its calls). */
    static struct duplex d;
    duplex_attach(&d, area, 4096, 0, DUPLEX_ACCEPTOR);
    static uint8_t buf[4096];
    if (!strcmp(mode, "flood")) {
        /* Pings, never reading the pongs: upcalls stay masked, so guest-kit
         * never drains them either. */
        gk_events_disable();
        uint64_t sent = 0;
        for (uint64_t i = 1; i < 100000; i++) {
            uint32_t n = encode_ping(buf, sizeof buf, i);
            bool notify = false;
            enum ring_status st = ring_write(&d.tx, buf, n, &notify);
            if (st == RING_OK) {
                sent++;
                gk_evtchn_send(gk_bus_port());
            } else {
                gk_hc_yield();
            }
            if (i % 5000 == 0)
                gk_printf("bus: hostile: flood: %llu pings written\n", (unsigned long long)sent);
        }
        gk_printf("bus: hostile: flood: done\n");
        for (;;)
            gk_hc_yield();
    }
    if (!strcmp(mode, "fast")) {
        /* Pings as fast as the ring takes them, reading the pongs ourselves
         * (upcalls masked: guest-kit does not): a flood that does read. */
        gk_events_disable();
        uint64_t sent = 0, got = 0, t0 = gk_now_ns();
        while (gk_now_ns() - t0 < 3ull * GK_NS_PER_SEC) {
            uint32_t n = encode_ping(buf, sizeof buf, sent + 1);
            bool notify = false;
            if (ring_write(&d.tx, buf, n, &notify) == RING_OK) {
                sent++;
                if (notify)
                    gk_evtchn_send(gk_bus_port());
            }
            uint32_t len;
            while (ring_read(&d.rx, buf, sizeof buf, &len, &notify) == RING_OK)
                got++;
            if (notify)
                gk_evtchn_send(gk_bus_port());
        }
        gk_printf("bus: hostile: fast: %llu pings sent, %llu answered in 3 s\n",
                  (unsigned long long)sent, (unsigned long long)got);
    } else if (!strcmp(mode, "garbage")) {
        for (uint32_t i = 0; i < 20; i++) {
            for (uint32_t k = 0; k < 64; k++)
                buf[k] = (uint8_t)(i * 31 + k * 7 + 0xa5);
            raw_record(&d, buf, 64);
            gk_sleep_ms(20);
        }
    } else if (!strcmp(mode, "control")) {
        for (uint32_t i = 0; i < 10; i++) {
            m.type = PROTO_MSG_DOMAIN_DESTROY_REQUEST;
            m.u.domain_destroy_request = (struct proto_domain_destroy_request){
                .request_id = 100 + i, .domain = {(const uint8_t *)"victim", 6}};
            size_t n = 0;
            struct hvcbor_error e;
            if (proto_msg_encode(&m, buf, sizeof buf, &n, &e))
                raw_record(&d, buf, (uint32_t)n);
            gk_sleep_ms(50);
        }
    } else if (!strcmp(mode, "corrupt")) {
        struct duplex_header *h = area;
        h->ring[1].prod = 0x7ffffff8u; /* far beyond anything published */
        gk_evtchn_send(gk_bus_port());
    } else if (!strcmp(mode, "badservice")) {
        gk_printf("bus: hostile: register notmine: %lld\n",
                  (long long)gk_service_register("notmine"));
    } else if (!strcmp(mode, "baduse")) {
        gk_printf("bus: hostile: use notmine: %lld\n", (long long)gk_service_use("notmine"));
    } else if (!strcmp(mode, "crash")) {
        /* A record header promising 2000 bytes, half of them written, the
         * index never published: then a fault. */
        struct duplex_header *h = area;
        uint8_t *data = (uint8_t *)area + 4096 + 4096 + (h->ring[1].prod & 4095u);
        uint32_t hdr[2] = {2000, 0};
        memcpy(data, hdr, 8);
        memset(data + 8, 0x5a,
               1000 < 4096u - (h->ring[1].prod & 4095u) - 8
                   ? 1000
                   : 4096u - (h->ring[1].prod & 4095u) - 8);
        gk_printf("bus: hostile: crash: half a message written, now faulting\n");
        __asm__ volatile("ud2");
    }
    gk_printf("bus: hostile: done\n");
    for (;;)
        gk_sleep_ms(100);
}

/* ---- fakeblk ------------------------------------------------------------- */

static void fakeblk_request(uint64_t type, uint64_t id, const uint8_t *msg, uint32_t len)
{
    static uint32_t n;
    static struct proto_msg r;
    static uint8_t out[1024];
    (void)msg;
    (void)len;
    memset(&r, 0, sizeof r);
    switch (n++ % 3) {
    case 0:
    case 2:
        r.type = PROTO_MSG_VOLUME_LIST_REPLY;
        r.u.volume_list_reply.request_id = id;
        r.u.volume_list_reply.volumes.count = 1;
        r.u.volume_list_reply.volumes.items[0] =
            (struct proto_volume_info){{(const uint8_t *)"fake", 4}, 1u << 20, 1, 1};
        r.u.volume_list_reply.disk_bytes = 2u << 20;
        r.u.volume_list_reply.table_seq = 7;
        break;
    default:
        r.type = PROTO_MSG_ERROR_REPLY;
        r.u.error_reply =
            (struct proto_error_reply){.request_id = id,
                                       .code = PROTO_ERROR_CODE_CONFLICT,
                                       .message = {(const uint8_t *)"fakeblk says no", 15}};
        break;
    }
    size_t k = 0;
    struct hvcbor_error e;
    if (proto_msg_encode(&r, out, sizeof out, &k, &e))
        gk_bus_send(out, (uint32_t)k);
    gk_printf("bus: fakeblk: answered request type %llu\n", (unsigned long long)type);
}

static int run_fakeblk(void)
{
    gk_bus_on_request(fakeblk_request);
    int64_t rc = gk_service_register("blk");
    gk_printf("bus: fakeblk: register blk: %lld\n", (long long)rc);
    gk_printf("bus: fakeblk: done\n");
    for (;;)
        gk_sleep_ms(100); /* every wake-up is a safe point */
    return 0;
}

int main(const struct hv_start_info *si)
{
    (void)si;
    gk_cmdline_get("role", role, sizeof role);
    gk_cmdline_get("service", name, sizeof name);
    if (!name[0])
        memcpy(name, "kv", 3);
    if (!strcmp(role, "config"))
        return run_config();
    if (!strcmp(role, "provider"))
        return run_provider();
    if (!strcmp(role, "user"))
        return run_user();
    if (!strcmp(role, "hostile"))
        return run_hostile();
    if (!strcmp(role, "chansend"))
        return run_chansend();
    if (!strcmp(role, "chanrecv"))
        return run_chanrecv();
    if (!strcmp(role, "fakeblk"))
        return run_fakeblk();
    gk_printf("bus: unknown role \"%s\"\n", role);
    return 1;
}
