/*
 * Host tests of netback's record log and flow table (domains/netback/
 * vfr_log.c): sequence numbers without gaps, the rate limit and the full
 * ring with their LOST records (every record either kept or counted as
 * lost), lease records exempt from the rate, flow start and end records
 * with counts and durations, TCP flows ended by RST or FINs both ways, idle
 * expiry (30 s, TCP 300 s), a full table evicting the least recently
 * active flow, a domain's flows ended when it leaves, and a flood of
 * 100,000 new flows that neither grows the log nor loses count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vfr_log.h"

#define SEC 1000000000ull

static struct vfr_log lg;
static struct vfr_flows ft;

static int setup(void **state)
{
    (void)state;
    vfr_log_init(&lg, 0, 0, 0);
    vfr_flows_init(&ft);
    return 0;
}

static struct vfr_log_rec rec(uint8_t type)
{
    struct vfr_log_rec r = {0};
    r.type = type;
    r.rule = -1;
    return r;
}

/* Drains the log: checks sequence numbers continue from *seq; returns the
 * records that are not LOST and adds LOST counts to *lost. */
static uint64_t drain(uint64_t *seq, uint64_t *lost, uint8_t count_type, uint64_t *of_type)
{
    struct vfr_log_rec r;
    uint64_t n = 0;
    while (vfr_log_take(&lg, &r)) {
        assert_int_equal(r.seq, *seq);
        (*seq)++;
        if (r.type == VFR_LOG_LOST) {
            assert_true(r.count > 0);
            *lost += r.count;
        } else {
            n++;
            if (of_type && r.type == count_type)
                (*of_type)++;
        }
    }
    return n;
}

static void test_log_rate_and_lost_records(void **state)
{
    (void)state;
    vfr_log_init(&lg, 100, 10, 0);
    struct vfr_log_rec r = rec(VFR_LOG_DENIED);
    int kept = 0;
    for (int i = 0; i < 1000; i++)
        kept += vfr_log_put(&lg, &r, 5);
    assert_int_equal(kept, 10);
    assert_int_equal(lg.lost_rate, 990);
    /* Lease records pass the rate. */
    struct vfr_log_rec lease = rec(VFR_LOG_LEASE_GRANTED);
    lease.lo = 8080;
    lease.hi = 8080;
    assert_true(vfr_log_put(&lg, &lease, 5));
    uint64_t seq = 0;
    struct vfr_log_rec got;
    for (int i = 0; i < 10; i++) {
        assert_true(vfr_log_take(&lg, &got));
        assert_int_equal(got.type, VFR_LOG_DENIED);
        assert_int_equal(got.at_ns, 5);
        assert_int_equal(got.seq, seq++);
    }
    /* The lease record says first how much was lost before it. */
    assert_true(vfr_log_take(&lg, &got));
    assert_int_equal(got.type, VFR_LOG_LOST);
    assert_int_equal(got.count, 990);
    assert_true(vfr_log_take(&lg, &got));
    assert_int_equal(got.type, VFR_LOG_LEASE_GRANTED);
    assert_int_equal(got.lo, 8080);
    assert_false(vfr_log_take(&lg, &got));
    /* A second later, 100 more tokens (the burst caps at 10). */
    kept = 0;
    for (int i = 0; i < 50; i++)
        kept += vfr_log_put(&lg, &r, 5 + SEC);
    assert_int_equal(kept, 10);
    kept = 0;
    for (int i = 0; i < 50; i++)
        kept += vfr_log_put(&lg, &r, 5 + SEC + SEC / 20); /* 50 ms: 5 tokens */
    assert_int_equal(kept, 5);
}

static void test_log_full_ring(void **state)
{
    (void)state;
    struct vfr_log_rec lease = rec(VFR_LOG_LEASE_RELEASED);
    int kept = 0;
    for (int i = 0; i < 600; i++)
        kept += vfr_log_put(&lg, &lease, (uint64_t)i);
    assert_int_equal(kept, VFR_LOG_RING);
    assert_int_equal(lg.lost_full, 600 - VFR_LOG_RING);
    uint64_t seq = 0, lost = 0;
    struct vfr_log_rec got;
    for (int i = 0; i < 100; i++)
        assert_true(vfr_log_take(&lg, &got));
    seq = 100;
    assert_true(vfr_log_put(&lg, &lease, 1000));
    uint64_t n = drain(&seq, &lost, 0, NULL);
    assert_int_equal(n, VFR_LOG_RING - 100 + 1);
    assert_int_equal(lost, 600 - VFR_LOG_RING);
}

static struct vfr_flow_key key(uint8_t proto, uint16_t dom, uint16_t lport, uint32_t peer,
                               uint16_t pport)
{
    struct vfr_flow_key k = {proto, dom, lport, peer, pport};
    return k;
}

static void test_flows_start_end_counts(void **state)
{
    (void)state;
    struct vfr_flow_key k = key(6, 1, 8080, 0xc6336407u, 40000);
    vfr_flows_note(&ft, &lg, &k, true, 60, 0x02, 1 * SEC);
    vfr_flows_note(&ft, &lg, &k, false, 60, 0x12, 1 * SEC + 1000);
    for (int i = 0; i < 10; i++)
        vfr_flows_note(&ft, &lg, &k, false, 1500, 0x10, 2 * SEC);
    vfr_flows_note(&ft, &lg, &k, false, 52, 0x11, 3 * SEC); /* FIN out */
    assert_int_equal(ft.count, 1);
    vfr_flows_note(&ft, &lg, &k, true, 52, 0x11, 4 * SEC); /* FIN in: over */
    assert_int_equal(ft.count, 0);
    struct vfr_log_rec r;
    assert_true(vfr_log_take(&lg, &r));
    assert_int_equal(r.type, VFR_LOG_FLOW_START);
    assert_int_equal(r.dom, 1);
    assert_int_equal(r.sport, 8080);
    assert_int_equal(r.dst, 0xc6336407u);
    assert_int_equal(r.dport, 40000);
    assert_true(vfr_log_take(&lg, &r));
    assert_int_equal(r.type, VFR_LOG_FLOW_END);
    assert_int_equal(r.pkts_in, 2);
    assert_int_equal(r.pkts_out, 12);
    assert_int_equal(r.bytes_in, 112);
    assert_int_equal(r.bytes_out, 60 + 15000 + 52);
    assert_int_equal(r.duration_ns, 3 * SEC);
    assert_false(vfr_log_take(&lg, &r));
    /* A RST ends a flow at once. */
    vfr_flows_note(&ft, &lg, &k, true, 60, 0x02, 5 * SEC);
    vfr_flows_note(&ft, &lg, &k, false, 40, 0x14, 5 * SEC);
    assert_int_equal(ft.count, 0);
    assert_int_equal(ft.started, 2);
    assert_int_equal(ft.ended, 2);
}

static void test_flows_idle_expiry(void **state)
{
    (void)state;
    struct vfr_flow_key u = key(17, 1, 20000, 1, 53), t = key(6, 1, 20001, 1, 80);
    vfr_flows_note(&ft, &lg, &t, false, 60, 0x02, 0);
    vfr_flows_note(&ft, &lg, &u, false, 60, 0, 0);
    assert_int_equal(vfr_flows_expire(&ft, &lg, 29 * SEC, 100), 0);
    assert_int_equal(vfr_flows_expire(&ft, &lg, 30 * SEC, 100), 1); /* UDP */
    assert_int_equal(ft.count, 1);
    assert_int_equal(vfr_flows_expire(&ft, &lg, 299 * SEC, 100), 0);
    assert_int_equal(vfr_flows_expire(&ft, &lg, 300 * SEC, 100), 1); /* TCP */
    assert_int_equal(ft.count, 0);
    /* The budget bounds one call's work. */
    for (uint16_t i = 0; i < 50; i++) {
        struct vfr_flow_key k = key(17, 2, (uint16_t)(1000 + i), 7, 7);
        vfr_flows_note(&ft, &lg, &k, true, 10, 0, 400 * SEC);
    }
    assert_int_equal(vfr_flows_expire(&ft, &lg, 500 * SEC, 20), 20);
    assert_int_equal(ft.count, 30);
    vfr_flows_end_dom(&ft, &lg, 2, 500 * SEC);
    assert_int_equal(ft.count, 0);
}

static void test_flows_table_full_evicts_least_recent(void **state)
{
    (void)state;
    struct vfr_flow_key keep = key(17, 1, 1, 1, 1);
    for (uint32_t i = 0; i < VFR_FLOWS_MAX + 100; i++) {
        struct vfr_flow_key k = key(17, 3, (uint16_t)(i % 60000 + 2), i, 9);
        vfr_flows_note(&ft, &lg, &k, true, 10, 0, (uint64_t)i);
        vfr_flows_note(&ft, &lg, &keep, true, 10, 0, (uint64_t)i); /* stays the most recent */
    }
    assert_int_equal(ft.count, VFR_FLOWS_MAX);
    assert_int_equal(ft.evicted, 101);
    /* keep survived with all its packets. */
    bool found = false;
    for (uint32_t i = 0; i < VFR_FLOWS_MAX; i++)
        if (ft.f[i].used && ft.f[i].k.dom == 1) {
            found = true;
            assert_int_equal(ft.f[i].pkts_in, VFR_FLOWS_MAX + 100);
        }
    assert_true(found);
}

static void test_flood_is_bounded_and_counted(void **state)
{
    (void)state;
    vfr_log_init(&lg, 1000, 100, 0);
    uint64_t seq = 0, lost = 0, records = 0, starts = 0;
    /* 100,000 new flows in 10 s, drained every 10 ms. */
    for (uint32_t i = 0; i < 100000; i++) {
        struct vfr_flow_key k = key(17, 4, (uint16_t)(i % 50000 + 1), i, 53);
        uint64_t now = (uint64_t)i * 100000;
        vfr_flows_note(&ft, &lg, &k, true, 100, 0, now);
        assert_true(lg.len <= VFR_LOG_RING);
        assert_true(ft.count <= VFR_FLOWS_MAX);
        if (i % 100 == 99)
            records += drain(&seq, &lost, VFR_LOG_FLOW_START, &starts);
    }
    records += drain(&seq, &lost, VFR_LOG_FLOW_START, &starts);
    /* Every record was kept or counted; the rate held (1000/s, burst 100). */
    assert_int_equal(records + lost + lg.lost_pending, ft.started + ft.ended);
    assert_true(records <= 100 + 1000 * 10 + 1);
    assert_true(starts > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_log_rate_and_lost_records, setup),
        cmocka_unit_test_setup(test_log_full_ring, setup),
        cmocka_unit_test_setup(test_flows_start_end_counts, setup),
        cmocka_unit_test_setup(test_flows_idle_expiry, setup),
        cmocka_unit_test_setup(test_flows_table_full_evicts_least_recent, setup),
        cmocka_unit_test_setup(test_flood_is_bounded_and_counted, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
