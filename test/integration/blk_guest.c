/*
 * A front end of blkback for the QEMU tests (test/integration/blkback_test.py,
 * label blkback), one role per command line `role=`:
 *
 *   rw       opens gk/blk.h, prints its disks ("blk: disk NAME rw|ro"),
 *            attaches each; on its first writable disk: a synchronous write
 *            and read-back of 300 sectors (two requests, the second crossing
 *            no boundary or one), then `rounds=` rounds of 64 asynchronous
 *            4 KiB writes in flight (each page a pattern of its sector and
 *            seed=), a flush, 64 asynchronous reads in flight checked
 *            against the pattern, the most in flight seen printed; on a
 *            read-only disk a write is refused (EROFS, by the front end) and
 *            a read works. Prints "blk: rw: ok" or "blk: rw: FAILED ...".
 *   verify   reads the first `sectors=` sectors of its first disk and
 *            checks the pattern of seed= (what rw wrote): "blk: verify: ok".
 *   hostile  speaks the protocol by hand (gk/bus.h) on disks data (rw) and
 *            shared (ro): nine bad requests (a ref never granted, a read into
 *            a page granted read-only, pages not fitting the count, past the
 *            end, wrapping, a write to the read-only disk, a handle never
 *            attached, a flush with a count, a read of 0 sectors), each
 *            followed by a good read, printing blkback's answer to each
 *            ("blk: hostile: CASE -> STATUS"); five garbage messages, then
 *            a good read; then waves of 32 requests it never reads the
 *            replies of, until blkback stops reading it; then it reads the
 *            replies, and blkback, reading on, finds more than 64 of its
 *            requests in flight and cuts it ("blk: hostile: cut").
 *
 *   bench    on its first disk: sequential and random writes and reads of
 *            4 KiB and 64 KiB requests, mib= MiB each (default 8), depth=
 *            in flight (default 32), printing "blk: figure: ..." lines
 *            (KiB/s and IOPS by the domain's clock, TSC ticks per request;
 *            scripts/bench.d/blk.sh).
 *
 * Each role ends with "blk: ROLE: done".
 */
#include <stdio.h>
#include <string.h>

#include "gk/blk.h"
#include "gk/bus.h"
#include "gk/gk.h"
#include "gk/grant.h"
#include "gk/pages.h"
#include "gk/time.h"
#include "hv/proto_msgs.h"

#define SEC 1000000000ull
#define BATCH 64u

static char role[32], mode[32];
static uint8_t big[300 * 512], chk[300 * 512];
static uint8_t pages[BATCH][4096];

static uint64_t arg_u64(const char *key, uint64_t dflt)
{
    char b[32];
    if (gk_cmdline_get(key, b, sizeof b) <= 0)
        return dflt;
    uint64_t v = 0;
    for (const char *p = b; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (uint64_t)(*p - '0');
    return v;
}

/* The pattern of one sector: its number and the seed in every 8 bytes. */
static void pattern(uint8_t *buf, uint64_t sector, uint32_t count, uint64_t seed)
{
    for (uint32_t s = 0; s < count; s++)
        for (uint32_t i = 0; i < 512; i += 8) {
            uint64_t v = ((sector + s) * 0x9e3779b97f4a7c15ull) ^ seed ^ i;
            memcpy(buf + (size_t)s * 512 + i, &v, 8);
        }
}

static int fail(const char *what, int rc)
{
    gk_printf("blk: %s: FAILED %s (%d)\n", role, what, rc);
    gk_printf("blk: %s: done\n", role);
    return 1;
}

/* 64 asynchronous requests of 8 sectors from sector `base`, all in flight
 * before the first is taken; *most: the most in flight seen. */
static int batch(struct gk_blk *b, uint32_t d, enum gk_blk_op op, uint64_t base, uint64_t seed,
                 uint32_t *most)
{
    for (uint32_t i = 0; i < BATCH; i++) {
        if (op == GK_BLK_WRITE)
            pattern(pages[i], base + i * 8u, 8, seed);
        else
            memset(pages[i], 0, sizeof pages[i]);
        int rc = gk_blk_submit(b, d, op, base + i * 8u, 8, pages[i], i);
        if (rc != GK_BLK_OK)
            return rc;
        if (gk_blk_inflight(b) > *most)
            *most = gk_blk_inflight(b);
    }
    uint64_t seen = 0;
    for (uint32_t n = 0; n < BATCH;) {
        uint64_t cookie;
        int st;
        if (gk_blk_poll(b, &cookie, &st) == GK_BLK_OK) {
            if (st != GK_BLK_OK)
                return st;
            if (cookie >= BATCH || (seen & (1ull << cookie)))
                return GK_BLK_EINVAL;
            seen |= 1ull << cookie;
            n++;
            continue;
        }
        int rc = gk_blk_wait(b, gk_now_ns() + 60 * SEC);
        if (rc != GK_BLK_OK)
            return rc;
    }
    if (op == GK_BLK_READ)
        for (uint32_t i = 0; i < BATCH; i++) {
            pattern(chk, base + i * 8u, 8, seed);
            if (memcmp(chk, pages[i], 4096) != 0)
                return GK_BLK_EIO;
        }
    return GK_BLK_OK;
}

static int run_rw(void)
{
    struct gk_blk *b = gk_blk_open(gk_now_ns() + 30 * SEC);
    if (!b)
        return fail("gk_blk_open", 0);
    uint64_t seed = arg_u64("seed", 1);
    uint32_t rounds = (uint32_t)arg_u64("rounds", 4);
    int rw = -1;
    for (uint32_t i = 0; i < gk_blk_disk_count(b); i++) {
        const struct gk_blk_disk *d = gk_blk_disk(b, i);
        int rc = gk_blk_attach(b, i, gk_now_ns() + 30 * SEC);
        gk_printf("blk: disk %s %s: %s%s (%llu sectors)\n", d->volume, d->writable ? "rw" : "ro",
                  rc == GK_BLK_OK ? "attached" : "refused: ", rc == GK_BLK_OK ? "" : gk_blk_why(b),
                  (unsigned long long)d->sectors);
        if (rc != GK_BLK_OK)
            continue;
        if (d->writable && rw < 0)
            rw = (int)i;
        if (!d->writable) {
            int w = gk_blk_write(b, i, 0, big, 1);
            int r = gk_blk_read(b, i, 0, chk, 8);
            gk_printf("blk: ro disk %s: write %d, read %d\n", d->volume, w, r);
            if (w != GK_BLK_EROFS || r != GK_BLK_OK)
                return fail("the read-only disk", w);
        }
    }
    if (rw >= 0) {
        uint32_t d = (uint32_t)rw;
        pattern(big, 1000, 300, seed);
        int rc = gk_blk_write(b, d, 1000, big, 300);
        if (rc != GK_BLK_OK)
            return fail("sync write", rc);
        rc = gk_blk_flush(b, d);
        if (rc != GK_BLK_OK)
            return fail("flush", rc);
        memset(chk, 0, sizeof chk);
        rc = gk_blk_read(b, d, 1000, chk, 300);
        if (rc != GK_BLK_OK || memcmp(big, chk, sizeof big) != 0)
            return fail("sync read-back", rc);
        const struct gk_blk_disk *dk = gk_blk_disk(b, d);
        rc = gk_blk_read(b, d, dk->sectors - 1, chk, 2);
        if (rc != GK_BLK_ERANGE)
            return fail("a read past the end not refused", rc);
        uint32_t most = 0;
        uint64_t t0 = gk_now_ns();
        for (uint32_t r = 0; r < rounds; r++) {
            uint64_t base = 4096 + (uint64_t)(r % 16) * BATCH * 8u; /* within 8 MiB */
            if ((rc = batch(b, d, GK_BLK_WRITE, base, seed, &most)) != GK_BLK_OK)
                return fail("async writes", rc);
            if ((rc = gk_blk_flush(b, d)) != GK_BLK_OK)
                return fail("flush", rc);
            if ((rc = batch(b, d, GK_BLK_READ, base, seed, &most)) != GK_BLK_OK)
                return fail("async reads", rc);
        }
        uint64_t ns = gk_now_ns() - t0;
        gk_printf("blk: async: %u rounds of 64 writes + 64 reads (4 KiB), %llu in flight at "
                  "most, %llu us\n",
                  rounds, (unsigned long long)most, (unsigned long long)(ns / 1000));
        if (most < 32)
            return fail("fewer than 32 requests in flight", (int)most);
    }
    struct gk_blk_stats st;
    gk_blk_get_stats(b, &st);
    gk_printf("blk: stats: %llu submitted, %llu completed, %llu errors, %llu bad, %llu late\n",
              (unsigned long long)st.submitted, (unsigned long long)st.completed,
              (unsigned long long)st.errors, (unsigned long long)st.bad,
              (unsigned long long)st.late);
    gk_printf("blk: rw: ok\n");
    gk_printf("blk: rw: done\n");
    for (;;)
        gk_sleep_ns(SEC);
}

static int run_verify(void)
{
    struct gk_blk *b = gk_blk_open(gk_now_ns() + 30 * SEC);
    if (!b || gk_blk_disk_count(b) == 0)
        return fail("gk_blk_open", 0);
    int rc = gk_blk_attach(b, 0, gk_now_ns() + 30 * SEC);
    if (rc != GK_BLK_OK)
        return fail(gk_blk_why(b), rc);
    uint64_t seed = arg_u64("seed", 1);
    rc = gk_blk_read(b, 0, 1000, chk, 300);
    pattern(big, 1000, 300, seed);
    if (rc != GK_BLK_OK || memcmp(big, chk, sizeof big) != 0)
        return fail("the pattern", rc);
    gk_printf("blk: verify: ok\n");
    gk_printf("blk: verify: done\n");
    for (;;)
        gk_sleep_ns(SEC);
}

/* ---- bench: throughput through blkback ----------------------------------------- */

static uint8_t bench_bufs[32][64 * 1024];

/* One pass: `bytes` of requests of `size` bytes, `depth` in flight,
 * sequential or at random places (a xorshift of seed), read or write. */
static int bench_pass(struct gk_blk *b, const char *what, enum gk_blk_op op, uint32_t size,
                      bool random, uint64_t bytes, uint32_t depth, uint64_t disk_sectors)
{
    uint32_t count = size / 512;
    uint64_t reqs = bytes / size, slots = disk_sectors / count, x = 0x9e3779b97f4a7c15ull;
    uint64_t sent = 0, done = 0, t0 = gk_now_ns(), c0 = __builtin_ia32_rdtsc();
    while (done < reqs) {
        while (sent < reqs && sent - done < depth) {
            uint64_t slot = sent % slots;
            if (random) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                slot = x % slots;
            }
            int rc = gk_blk_submit(b, 0, op, slot * count, count, bench_bufs[sent % depth], sent);
            if (rc == GK_BLK_EAGAIN)
                break;
            if (rc != GK_BLK_OK)
                return rc;
            sent++;
        }
        uint64_t cookie;
        int st;
        if (gk_blk_poll(b, &cookie, &st) == GK_BLK_OK) {
            if (st != GK_BLK_OK)
                return st;
            done++;
        } else {
            int rc = gk_blk_wait(b, gk_now_ns() + 120 * SEC);
            if (rc != GK_BLK_OK)
                return rc;
        }
    }
    uint64_t ns = gk_now_ns() - t0, ticks = __builtin_ia32_rdtsc() - c0;
    if (ns == 0)
        ns = 1;
    gk_printf("blk: figure: %s %u KiB, %u in flight: %llu MiB in %llu ms: %llu KiB/s, %llu IOPS, "
              "%llu TSC ticks per request\n",
              what, size / 1024, depth, (unsigned long long)(bytes >> 20),
              (unsigned long long)(ns / 1000000),
              (unsigned long long)(bytes * 1000000000ull / ns / 1024),
              (unsigned long long)(reqs * 1000000000ull / ns), (unsigned long long)(ticks / reqs));
    return GK_BLK_OK;
}

static int run_bench(void)
{
    struct gk_blk *b = gk_blk_open(gk_now_ns() + 30 * SEC);
    if (!b || gk_blk_disk_count(b) == 0 || gk_blk_attach(b, 0, gk_now_ns() + 30 * SEC) != GK_BLK_OK)
        return fail("no disk to measure", 0);
    uint64_t mib = arg_u64("mib", 8), depth = arg_u64("depth", 32);
    uint64_t sectors = gk_blk_disk(b, 0)->sectors;
    if (depth < 1 || depth > 32)
        depth = 32;
    static const struct {
        const char *what;
        enum gk_blk_op op;
        uint32_t size;
        bool random;
    } passes[] = {
        {"seq-write", GK_BLK_WRITE, 4096, false},  {"seq-read", GK_BLK_READ, 4096, false},
        {"rand-write", GK_BLK_WRITE, 4096, true},  {"rand-read", GK_BLK_READ, 4096, true},
        {"seq-write", GK_BLK_WRITE, 65536, false}, {"seq-read", GK_BLK_READ, 65536, false},
        {"rand-write", GK_BLK_WRITE, 65536, true}, {"rand-read", GK_BLK_READ, 65536, true},
    };
    for (uint32_t i = 0; i < sizeof passes / sizeof passes[0]; i++) {
        int rc = bench_pass(b, passes[i].what, passes[i].op, passes[i].size, passes[i].random,
                            mib << 20, (uint32_t)depth, sectors);
        if (rc != GK_BLK_OK)
            return fail(passes[i].what, rc);
    }
    gk_printf("blk: bench: done\n");
    for (;;)
        gk_sleep_ns(SEC);
}

/* ---- hostile: a front end that speaks the protocol by hand ------------------- */

static struct gk_conn *hc;
static struct proto_msg hm, hr;
static uint8_t hbuf[1024];
static uint64_t next_id = 100;

static int hsend(uint64_t deadline)
{
    size_t n = 0;
    struct hvcbor_error e;
    if (!proto_msg_encode(&hm, hbuf, sizeof hbuf, &n, &e))
        return -100;
    return gk_conn_send(hc, hbuf, (uint32_t)n, deadline);
}

/* The next message from blkback, decoded into hr; false at the deadline
 * or when the connection is gone. */
static bool hrecv(uint64_t deadline)
{
    static const struct hvcbor_limits lim = {4, 64, 128};
    uint32_t len = 0;
    if (gk_conn_recv(hc, hbuf, sizeof hbuf, &len, deadline) != GK_CHAN_OK)
        return false;
    struct hvcbor_error e;
    return proto_msg_decode(hbuf, len, &lim, &hr, &e);
}

static int64_t attach(const char *volume, bool writable, uint64_t *sectors)
{
    hm.type = PROTO_MSG_BLK_ATTACH_REQUEST;
    hm.u.blk_attach_request = (struct proto_blk_attach_request){
        next_id++, {(const uint8_t *)volume, (uint32_t)strlen(volume)}, writable};
    if (hsend(gk_now_ns() + 10 * SEC) != GK_CHAN_OK || !hrecv(gk_now_ns() + 30 * SEC) ||
        hr.type != PROTO_MSG_BLK_ATTACH_REPLY)
        return -1;
    *sectors = hr.u.blk_attach_reply.sectors;
    return (int64_t)hr.u.blk_attach_reply.handle;
}

/* Sends one blk-request (refs[0..page_count)), returns the status blkback
 * answered (or -1). */
static int request(uint64_t handle, enum proto_blk_op op, uint64_t sector, uint64_t count,
                   const uint32_t *refs, uint32_t page_count)
{
    hm.type = PROTO_MSG_BLK_REQUEST;
    struct proto_blk_request *r = &hm.u.blk_request;
    memset(r, 0, sizeof *r);
    r->request_id = next_id++;
    r->handle = handle;
    r->op = op;
    r->sector = sector;
    r->count = count;
    r->pages.count = page_count;
    for (uint32_t i = 0; i < page_count; i++)
        r->pages.items[i] = refs[i];
    uint64_t id = r->request_id;
    if (hsend(gk_now_ns() + 10 * SEC) != GK_CHAN_OK)
        return -1;
    while (hrecv(gk_now_ns() + 30 * SEC))
        if (hr.type == PROTO_MSG_BLK_REPLY && hr.u.blk_reply.request_id == id)
            return (int)hr.u.blk_reply.status;
    return -1;
}

static int run_hostile(void)
{
    if (gk_service_use("blk") != HV_OK || !(hc = gk_conn_wait("blk", gk_now_ns() + 30 * SEC)))
        return fail("no connection to blkback", 0);
    if (!hrecv(gk_now_ns() + 30 * SEC) || hr.type != PROTO_MSG_BLK_DISKS_EVENT)
        return fail("no disks list first", 0);
    uint64_t sectors = 0, ro_sectors = 0;
    int64_t h = attach("data", true, &sectors);
    int64_t h_ro = attach("shared", false, &ro_sectors);
    if (h < 0 || h_ro < 0)
        return fail("attach", 0);
    uint8_t *pg = gk_pages_alloc(9);
    uint32_t w[8], ro;
    for (uint32_t i = 0; i < 8; i++)
        if (!pg || gk_grant_page(gk_conn_peer_slot(hc), pg + i * 4096, true, &w[i]) != HV_OK)
            return fail("granting pages", 0);
    if (gk_grant_page(gk_conn_peer_slot(hc), pg + 8 * 4096, false, &ro) != HV_OK)
        return fail("granting a page read-only", 0);
    uint32_t nowhere[1] = {w[7] + 1000}, rop[1] = {ro};
    /* Each bad request, then a good one (a strike, then one taken away). */
    static const char *const names[] = {
        "ungranted-ref", "read-into-read-only-grant", "pages-not-fitting-count", "past-the-end",
        "wrapping",      "write-to-read-only",        "no-such-handle",          "flush-with-count",
        "count-0"};
    for (uint32_t i = 0; i < 9; i++) {
        int st = -1;
        switch (i) {
        case 0: st = request((uint64_t)h, PROTO_BLK_OP_READ, 0, 8, nowhere, 1); break;
        case 1: st = request((uint64_t)h, PROTO_BLK_OP_READ, 0, 8, rop, 1); break;
        case 2: st = request((uint64_t)h, PROTO_BLK_OP_READ, 0, 8, w, 2); break;
        case 3: st = request((uint64_t)h, PROTO_BLK_OP_READ, sectors, 8, w, 1); break;
        case 4: st = request((uint64_t)h, PROTO_BLK_OP_READ, UINT64_MAX - 3, 8, w, 1); break;
        case 5: st = request((uint64_t)h_ro, PROTO_BLK_OP_WRITE, 0, 8, w, 1); break;
        case 6: st = request(9, PROTO_BLK_OP_READ, 0, 8, w, 1); break;
        case 7: st = request((uint64_t)h, PROTO_BLK_OP_FLUSH, 0, 8, w, 0); break;
        default: st = request((uint64_t)h, PROTO_BLK_OP_READ, 0, 0, w, 0); break;
        }
        gk_printf("blk: hostile: %s -> %s\n", names[i],
                  st >= 0 ? proto_blk_status_name((uint64_t)st) : "no answer");
        int good = request((uint64_t)h, PROTO_BLK_OP_READ, 8 * i, 64, w, 8);
        if (good != PROTO_BLK_STATUS_OK)
            return fail("a good read after a bad one", good);
    }
    gk_printf("blk: hostile: still served after 9 refusals\n");

    /* A little garbage: refused (strikes), not enough to be cut. */
    static const uint8_t junk[] = {0xff, 0xfe, 0x00, 0x42, 0x13};
    for (uint32_t i = 0; i < 5; i++)
        gk_conn_send(hc, junk, sizeof junk, gk_now_ns() + 2 * SEC);
    int again = request((uint64_t)h, PROTO_BLK_OP_READ, 0, 8, w, 1);
    gk_printf("blk: hostile: after 5 garbage messages: %s\n",
              again >= 0 ? proto_blk_status_name((uint64_t)again) : "no answer");
    for (uint32_t i = 0; i < 8; i++) /* strikes taken away again */
        request((uint64_t)h, PROTO_BLK_OP_READ, 0, 8, w, 1);

    /* Requests without ever reading a reply: 32 at a time (a pause after
     * each wave for them to finish), until blkback's replies fill the ring
     * and it stops reading us (our sends wait, then time out). Reading the
     * replies then lets it read on, and it finds more than 64 requests in
     * flight of ours (we never knew which had ended): busy, strikes, cut. */
    uint32_t sent = 0;
    bool stopped = false;
    for (uint32_t wave = 0; wave < 200 && !stopped; wave++) {
        for (uint32_t i = 0; i < 32; i++) {
            hm.type = PROTO_MSG_BLK_REQUEST;
            struct proto_blk_request *r = &hm.u.blk_request;
            memset(r, 0, sizeof *r);
            r->request_id = next_id++;
            r->handle = (uint64_t)h;
            r->op = PROTO_BLK_OP_READ;
            r->sector = 0;
            r->count = 8;
            r->pages.count = 1;
            r->pages.items[0] = w[i % 8];
            if (hsend(gk_now_ns() + 2 * SEC) != GK_CHAN_OK) {
                stopped = true;
                break;
            }
            sent++;
        }
        gk_sleep_ns(SEC / 5);
    }
    gk_printf("blk: hostile: blkback %s reading us after %u unread requests\n",
              stopped ? "stopped" : "did not stop", sent);
    uint32_t got = 0, ok = 0;
    while (hrecv(gk_now_ns() + 10 * SEC))
        if (hr.type == PROTO_MSG_BLK_REPLY) {
            got++;
            ok += hr.u.blk_reply.status == PROTO_BLK_STATUS_OK;
        }
    gk_printf("blk: hostile: then read %u replies (%u ok)\n", got, ok);
    uint64_t deadline = gk_now_ns() + 30 * SEC;
    while (!gk_conn_gone(hc) && gk_now_ns() < deadline) {
        uint32_t len;
        if (gk_conn_peek(hc, &len, NULL, deadline) == GK_CHAN_OK)
            gk_conn_release(hc);
    }
    gk_printf("blk: hostile: %s\n", gk_conn_gone(hc) ? "cut" : "not cut");
    gk_conn_close(hc);
    gk_printf("blk: hostile: done\n");
    for (;;)
        gk_sleep_ns(SEC);
}

int main(const struct hv_start_info *si)
{
    (void)si;
    gk_cmdline_get("role", role, sizeof role);
    gk_cmdline_get("mode", mode, sizeof mode);
    if (!strcmp(role, "rw"))
        return run_rw();
    if (!strcmp(role, "verify"))
        return run_verify();
    if (!strcmp(role, "hostile"))
        return run_hostile();
    if (!strcmp(role, "bench"))
        return run_bench();
    gk_printf("blk: unknown role \"%s\"\n", role);
    return 1;
}
