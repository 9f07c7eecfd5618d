/*
 * Host tests of guest-kit's stack below TCP (guest-kit/src/net): Ethernet,
 * ARP, IPv4 with fragmentation and bounded reassembly, ICMP echo and
 * errors, UDP — between two stacks on the simulated link, and against raw
 * frames the test builds (hostile ones included): every bad frame is
 * counted, changes nothing, and the stack works normally afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "net_fixture.h"

static struct sim sim;
static struct cap cap;

/* Two stacks: end 0 = A (192.0.2.1), end 1 = B (192.0.2.2). */
static struct gk_ip *a, *b;

static int setup2(void **state)
{
    (void)state;
    struct gk_ip_config c;
    sim_init(&sim, 7);
    cap_attach(&sim, &cap);
    cfg_for(&c, 1);
    a = sim_add(&sim, &c);
    cfg_for(&c, 2);
    b = sim_add(&sim, &c);
    assert_non_null(a);
    assert_non_null(b);
    return 0;
}

/* One stack (end 0 = B, 192.0.2.2) and the raw peer played by the test. */
static int setup1(void **state)
{
    (void)state;
    struct gk_ip_config c;
    sim_init(&sim, 11);
    cap_attach(&sim, &cap);
    cfg_for(&c, 2);
    b = sim_add(&sim, &c);
    a = NULL;
    assert_non_null(b);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sim_fini(&sim);
    cap_free(&cap);
    return 0;
}

static uint8_t mac_b[6];

static int count_frames(int from, uint16_t type, uint8_t proto)
{
    int n = 0;
    for (int i = 0; i < cap.n; i++)
        if (cap.f[i].from == from && fr_type(&cap.f[i]) == type &&
            (proto == 0 || fr_proto(&cap.f[i]) == proto))
            n++;
    return n;
}

/* ---- ARP ---------------------------------------------------------------- */

static void test_arp_resolves_then_caches(void **state)
{
    (void)state;
    int sa = sock_nb(a, GK_SOCK_DGRAM);
    int sb = sock_nb(b, GK_SOCK_DGRAM);
    assert_int_equal(gk_sock_bind(b, sb, 7), 0);
    struct gk_sockaddr to = {NET_B, 7}, from;
    assert_int_equal(gk_sock_sendto(a, sa, "hello", 5, &to), 5);
    /* The first frame is A's ARP request, broadcast, asking for B. */
    assert_true(cap.n >= 1);
    assert_int_equal(fr_type(&cap.f[0]), ETH_TYPE_ARP);
    assert_memory_equal(cap.f[0].d, MAC_BCAST, 6);
    assert_int_equal(get16(cap.f[0].d + ETH_HDR + 6), 1);
    assert_int_equal(get32(cap.f[0].d + ETH_HDR + 24), NET_B);
    char buf[16];
    long n = -1;
    RUN_UNTIL(&sim, (n = gk_sock_recvfrom(b, sb, buf, sizeof buf, &from)) != GK_IP_EAGAIN, SEC);
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(from.addr, NET_A);
    struct gk_ip_stats st;
    gk_ip_get_stats(b, &st);
    assert_int_equal(st.arp_replies, 1);
    /* The answer taught both sides: no further ARP either way. */
    assert_int_equal(gk_sock_sendto(a, sa, "again", 5, &to), 5);
    assert_int_equal(gk_sock_sendto(b, sb, "back", 4, &from), 4);
    sim_advance(&sim, 100 * MS);
    assert_int_equal(count_frames(0, ETH_TYPE_ARP, 0), 1);
    assert_int_equal(count_frames(1, ETH_TYPE_ARP, 0), 1);
    gk_ip_get_stats(a, &st);
    assert_int_equal(st.arp_requests, 1);
    assert_int_equal(gk_sock_recvfrom(a, sa, buf, sizeof buf, NULL), 4);
}

static void test_arp_gives_up_after_three_tries(void **state)
{
    (void)state;
    int s = sock_nb(a, GK_SOCK_DGRAM);
    struct gk_sockaddr to = {GK_IP4(192, 0, 2, 77), 9};
    assert_int_equal(gk_sock_sendto(a, s, "x", 1, &to), 1);
    uint64_t t0 = sim.now;
    sim_advance(&sim, 5 * SEC);
    struct gk_ip_stats st;
    gk_ip_get_stats(a, &st);
    assert_int_equal(st.arp_requests, 3);
    assert_int_equal(st.arp_failed, 1);
    assert_int_equal(st.tx_dropped, 1);
    /* Requests a second apart. */
    int k = 0;
    uint64_t at[3] = {0};
    for (int i = 0; i < cap.n && k < 3; i++)
        if (cap.f[i].from == 0 && fr_type(&cap.f[i]) == ETH_TYPE_ARP)
            at[k++] = cap.f[i].at;
    assert_int_equal(k, 3);
    assert_true(at[0] == t0);
    assert_true(at[1] - at[0] >= SEC && at[1] - at[0] < SEC + 20 * MS);
    assert_true(at[2] - at[1] >= SEC && at[2] - at[1] < SEC + 20 * MS);
}

static void test_arp_hostile_and_no_churn(void **state)
{
    (void)state;
    uint8_t f[64];
    static const uint8_t zero[6] = {0};
    mac_of(mac_b, 2);
    /* B learns the peer from a request for B. */
    peer_announce(&sim, 0, NET_B);
    sim_advance(&sim, 10 * MS);
    struct gk_ip_stats st0, st;
    gk_ip_get_stats(b, &st0);
    assert_int_equal(st0.arp_replies, 1);
    /* Bad ARP packets: short, wrong hardware type, wrong lengths, bad
     * opcode, multicast sender. */
    size_t n = build_arp(f, 1, MAC_PEER, NET_PEER, zero, NET_B, MAC_BCAST);
    sim_inject(&sim, 0, f, ETH_HDR + 27);
    f[ETH_HDR + 1] = 6;
    sim_inject(&sim, 0, f, n);
    n = build_arp(f, 1, MAC_PEER, NET_PEER, zero, NET_B, MAC_BCAST);
    f[ETH_HDR + 4] = 8;
    sim_inject(&sim, 0, f, n);
    n = build_arp(f, 3, MAC_PEER, NET_PEER, zero, NET_B, MAC_BCAST);
    sim_inject(&sim, 0, f, n);
    static const uint8_t mcast[6] = {1, 0, 0x5e, 0, 0, 1};
    n = build_arp(f, 1, mcast, GK_IP4(192, 0, 2, 50), zero, NET_B, MAC_BCAST);
    sim_inject(&sim, 0, f, n);
    /* A flood of requests for other addresses from 500 senders: none may
     * enter the cache or evict the peer. */
    for (int i = 0; i < 500; i++) {
        uint8_t m[6] = {2, 1, 0, 0, (uint8_t)(i >> 8), (uint8_t)i};
        n = build_arp(f, 1, m, GK_IP4(192, 0, 2, 100) + (uint32_t)(i % 100), zero,
                      GK_IP4(192, 0, 2, 200), MAC_BCAST);
        sim_inject(&sim, 0, f, n);
        if (i % 50 == 49)
            sim_advance(&sim, MS);
    }
    sim_advance(&sim, 10 * MS);
    gk_ip_get_stats(b, &st);
    assert_int_equal(st.rx_bad_arp - st0.rx_bad_arp, 5);
    assert_int_equal(st.arp_replies, 1); /* none of those asked for B */
    /* B still knows the peer: sending to it needs no request. */
    int s = sock_nb(b, GK_SOCK_DGRAM);
    struct gk_sockaddr to = {NET_PEER, 5000};
    int before = cap.n;
    assert_int_equal(gk_sock_sendto(b, s, "hi", 2, &to), 2);
    assert_int_equal(cap.n, before + 1);
    assert_int_equal(fr_type(&cap.f[before]), ETH_TYPE_IPV4);
    assert_memory_equal(cap.f[before].d, MAC_PEER, 6);
}

/* ---- UDP ---------------------------------------------------------------- */

static void test_udp_echo_and_connected_filter(void **state)
{
    (void)state;
    int sa = sock_nb(a, GK_SOCK_DGRAM);
    int sb = sock_nb(b, GK_SOCK_DGRAM);
    assert_int_equal(gk_sock_bind(b, sb, 7), 0);
    assert_int_equal(gk_sock_bind(b, sock_nb(b, GK_SOCK_DGRAM), 7), GK_IP_EADDRINUSE);
    struct gk_sockaddr to = {NET_B, 7}, from, local;
    assert_int_equal(gk_sock_connect(a, sa, &to), 0);
    assert_int_equal(gk_sock_name(a, sa, &local, NULL), 0);
    assert_true(local.port >= 49152);
    uint8_t msg[1000], got[1000];
    for (int i = 0; i < 20; i++) {
        for (size_t k = 0; k < sizeof msg; k++)
            msg[k] = (uint8_t)(k * 7 + (size_t)i);
        assert_int_equal(gk_sock_send(a, sa, msg, (size_t)(50 * i + 1)), 50 * i + 1);
        long n = GK_IP_EAGAIN;
        RUN_UNTIL(&sim, (n = gk_sock_recvfrom(b, sb, got, sizeof got, &from)) != GK_IP_EAGAIN, SEC);
        assert_int_equal(n, 50 * i + 1);
        assert_memory_equal(got, msg, (size_t)n);
        assert_int_equal(from.addr, NET_A);
        assert_int_equal(from.port, local.port);
        assert_int_equal(gk_sock_sendto(b, sb, got, (size_t)n, &from), n);
        RUN_UNTIL(&sim, (n = gk_sock_recv(a, sa, got, sizeof got)) != GK_IP_EAGAIN, SEC);
        assert_int_equal(n, 50 * i + 1);
        assert_memory_equal(got, msg, (size_t)n);
    }
    /* A connected socket takes datagrams only from its peer. */
    int other = sock_nb(b, GK_SOCK_DGRAM);
    assert_int_equal(gk_sock_bind(b, other, 8), 0);
    struct gk_sockaddr to8 = {NET_A, local.port};
    assert_int_equal(gk_sock_sendto(b, other, "no", 2, &to8), 2);
    sim_advance(&sim, 50 * MS);
    assert_int_equal(gk_sock_recv(a, sa, got, sizeof got), GK_IP_EAGAIN);
    /* A short buffer truncates the datagram (the rest is dropped). */
    assert_int_equal(gk_sock_sendto(b, sb, "0123456789", 10, &to8), 10);
    sim_advance(&sim, 50 * MS);
    assert_int_equal(gk_sock_recv(a, sa, got, 4), 4);
    assert_memory_equal(got, "0123", 4);
    assert_int_equal(gk_sock_recv(a, sa, got, sizeof got), GK_IP_EAGAIN);
}

static void test_udp_large_datagrams_fragmented_and_reordered(void **state)
{
    (void)state;
    sim.jitter_ns = 3 * MS; /* fragments overtake one another */
    int sa = sock_nb(a, GK_SOCK_DGRAM);
    int sb = sock_nb(b, GK_SOCK_DGRAM);
    assert_int_equal(gk_sock_bind(b, sb, 9000), 0);
    struct gk_sockaddr to = {NET_B, 9000};
    static uint8_t msg[65507], got[65507];
    for (size_t k = 0; k < sizeof msg; k++)
        msg[k] = (uint8_t)(k * 13 + (k >> 8));
    /* Bigger than the receive queue (16 KiB by default): refused, counted. */
    const size_t sizes[] = {1473, 3000, 8000, 12000, 65507};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(gk_sock_sendto(a, sa, msg, sizes[i], &to), (long)sizes[i]);
        long n = GK_IP_EAGAIN;
        RUN_UNTIL(&sim, (n = gk_sock_recv(b, sb, got, sizeof got)) != GK_IP_EAGAIN, SEC / 2);
        if (sizes[i] + 8 > 16384) {
            assert_int_equal(n, GK_IP_EAGAIN);
            continue;
        }
        assert_int_equal(n, (long)sizes[i]);
        assert_memory_equal(got, msg, sizes[i]);
    }
    struct gk_ip_stats st;
    gk_ip_get_stats(b, &st);
    assert_int_equal(st.reassembled, 5);
    assert_int_equal(st.udp_queue_full, 1);
    assert_int_equal(st.reassembly_dropped, 0);
    gk_ip_get_stats(a, &st);
    assert_int_equal(st.frags_out, 2 + 3 + 6 + 9 + 45);
    assert_int_equal(gk_sock_sendto(a, sa, msg, sizeof msg + 1, &to), GK_IP_EMSGSIZE);
}

static void test_udp_port_unreachable_and_queue_bound(void **state)
{
    (void)state;
    int sa = sock_nb(a, GK_SOCK_DGRAM);
    struct gk_sockaddr to = {NET_B, 4444};
    assert_int_equal(gk_sock_connect(a, sa, &to), 0);
    assert_int_equal(gk_sock_send(a, sa, "x", 1), 1);
    long n = GK_IP_EAGAIN;
    char buf[64];
    RUN_UNTIL(&sim, (n = gk_sock_recv(a, sa, buf, sizeof buf)) != GK_IP_EAGAIN, SEC);
    assert_int_equal(n, GK_IP_ECONNREFUSED);
    struct gk_ip_stats st;
    gk_ip_get_stats(b, &st);
    assert_int_equal(st.udp_no_port, 1);
    assert_int_equal(st.icmp_errors_out, 1);
    /* A socket that never reads holds at most udp_rcvbuf bytes. */
    int sb = sock_nb(b, GK_SOCK_DGRAM);
    assert_int_equal(gk_sock_bind(b, sb, 4444), 0);
    uint8_t d[1000] = {0};
    for (int i = 0; i < 100; i++) {
        assert_int_equal(gk_sock_send(a, sa, d, sizeof d), 1000);
        sim_advance(&sim, MS);
    }
    sim_advance(&sim, 10 * MS);
    gk_ip_get_stats(b, &st);
    struct sock *s = &b->socks[sb & 0xfff];
    assert_true(s->uq.len <= b->cfg.udp_rcvbuf);
    assert_int_equal(s->uq.count, 16384 / 1008);
    assert_int_equal(st.udp_queue_full, 100 - 16384 / 1008);
}

/* ---- ICMP --------------------------------------------------------------- */

static void test_icmp_echo_small_and_fragmented(void **state)
{
    (void)state;
    mac_of(mac_b, 2);
    peer_announce(&sim, 0, NET_B);
    sim_advance(&sim, MS);
    uint8_t m[1600], data[1400];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i ^ 0x5a);
    size_t n = build_echo(m, 8, 0x1234, 1, data, 56);
    int before = cap.n;
    peer_send_ip(&sim, 0, mac_b, NET_B, IP_PROTO_ICMP, 100, 0, m, n);
    sim_advance(&sim, MS);
    assert_int_equal(cap.n, before + 1);
    const struct cap_frame *r = &cap.f[before];
    assert_int_equal(fr_proto(r), IP_PROTO_ICMP);
    assert_memory_equal(r->d, MAC_PEER, 6);
    assert_int_equal(get32(fr_ip(r) + 16), NET_PEER);
    const uint8_t *icmp = fr_l4(r);
    assert_int_equal(icmp[0], 0);
    assert_int_equal(get16(icmp + 4), 0x1234);
    assert_int_equal(get16(icmp + 6), 1);
    assert_memory_equal(icmp + 8, data, 56);
    assert_int_equal(sim_csum(icmp, 64, 0), 0);
    assert_int_equal(sim_csum(fr_ip(r), 20, 0), 0);

    /* A 4,008-byte echo in three fragments, the last first: reassembled,
     * answered in fragments of its own that put the data back together. */
    static uint8_t big[4008], back[4008];
    for (size_t i = 0; i < 4000; i++)
        big[8 + i] = (uint8_t)(i * 31);
    size_t bn = build_echo(big, 8, 7, 2, big + 8, 4000);
    before = cap.n;
    peer_send_ip(&sim, 0, mac_b, NET_B, IP_PROTO_ICMP, 101, 370, big + 2960, bn - 2960);
    peer_send_ip(&sim, 0, mac_b, NET_B, IP_PROTO_ICMP, 101, 0x2000 | 0, big, 1480);
    sim_advance(&sim, MS);
    assert_int_equal(cap.n, before); /* incomplete: the middle is missing */
    peer_send_ip(&sim, 0, mac_b, NET_B, IP_PROTO_ICMP, 101, 0x2000 | 185, big + 1480, 1480);
    sim_advance(&sim, MS);
    assert_int_equal(cap.n, before + 3);
    size_t got = 0;
    uint16_t id = get16(fr_ip(&cap.f[before]) + 4);
    for (int i = before; i < cap.n; i++) {
        const uint8_t *h = fr_ip(&cap.f[i]);
        assert_int_equal(get16(h + 4), id);
        size_t off = (size_t)(get16(h + 6) & 0x1fff) * 8, len = get16(h + 2) - 20u;
        assert_true(off + len <= sizeof back);
        memcpy(back + off, h + 20, len);
        got += len;
    }
    assert_int_equal(got, bn);
    assert_int_equal(back[0], 0);
    assert_memory_equal(back + 4, big + 4, bn - 4);
    assert_int_equal(sim_csum(back, bn, 0), 0);
}

static void test_icmp_errors_rate_limited_and_protocol_unreachable(void **state)
{
    (void)state;
    mac_of(mac_b, 2);
    peer_announce(&sim, 0, NET_B);
    sim_advance(&sim, MS);
    uint8_t u[64];
    /* 300 datagrams to a closed port in 30 ms: at most the burst (100) of
     * port unreachables, the rest counted. */
    for (int i = 0; i < 300; i++) {
        size_t n = build_udp(u, NET_PEER, NET_B, 1000, 2000, "q", 1);
        peer_send_ip(&sim, 0, mac_b, NET_B, IP_PROTO_UDP, (uint16_t)i, 0, u, n);
        if (i % 10 == 9)
            sim_advance(&sim, MS);
    }
    sim_advance(&sim, MS);
    struct gk_ip_stats st;
    gk_ip_get_stats(b, &st);
    assert_true(st.icmp_errors_out >= 100 && st.icmp_errors_out <= 104);
    assert_int_equal(st.icmp_errors_out + st.icmp_rate_limited, 300);
    int unreach = count_frames(0, ETH_TYPE_IPV4, IP_PROTO_ICMP);
    assert_int_equal(unreach, (int)st.icmp_errors_out);
    /* After a second the bucket is full again; an unknown protocol draws a
     * protocol unreachable quoting the header and 8 bytes. */
    sim_advance(&sim, SEC);
    int before = cap.n;
    uint8_t junk[40];
    memset(junk, 0xab, sizeof junk);
    peer_send_ip(&sim, 0, mac_b, NET_B, 200, 77, 0, junk, sizeof junk);
    sim_advance(&sim, MS);
    assert_int_equal(cap.n, before + 1);
    const uint8_t *icmp = fr_l4(&cap.f[before]);
    assert_int_equal(icmp[0], 3);
    assert_int_equal(icmp[1], 2);
    assert_int_equal(get16(fr_ip(&cap.f[before]) + 2), 20 + 8 + 28);
    assert_int_equal(icmp[8 + 9], 200);
    assert_memory_equal(icmp + 8 + 20, junk, 8);
    /* Never an error about an ICMP error, nor about a broadcast. */
    before = cap.n;
    uint8_t e[36];
    memset(e, 0, sizeof e);
    e[0] = 3;
    e[1] = 3;
    put16(e + 2, sim_csum(e, sizeof e, 0));
    size_t n = build_udp(u, NET_PEER, GK_IP4(192, 0, 2, 255), 1, 2, "b", 1);
    peer_send_ip(&sim, 0, MAC_BCAST, GK_IP4(192, 0, 2, 255), IP_PROTO_UDP, 5, 0, u, n);
    sim_advance(&sim, MS);
    assert_int_equal(cap.n, before);
}

/* ---- IPv4 reassembly, hostile ----------------------------------------- */

/* Sends fragment [off, off+len) of a UDP datagram with id from the peer. */
static void frag(uint16_t id, const uint8_t *dgram, size_t off, size_t len, bool more)
{
    peer_send_ip(&sim, 0, mac_b, NET_B, IP_PROTO_UDP, id,
                 (uint16_t)((more ? 0x2000 : 0) | (off / 8)), dgram + off, len);
}

static void test_reassembly_hostile_fragments(void **state)
{
    (void)state;
    mac_of(mac_b, 2);
    peer_announce(&sim, 0, NET_B);
    int s = sock_nb(b, GK_SOCK_DGRAM);
    assert_int_equal(gk_sock_bind(b, s, 53), 0);
    static uint8_t d[3008], got[4000];
    uint8_t pay[3000];
    for (size_t i = 0; i < sizeof pay; i++)
        pay[i] = (uint8_t)(i * 3);
    size_t n = build_udp(d, NET_PEER, NET_B, 99, 53, pay, sizeof pay);
    struct gk_ip_stats st0, st;
    sim_advance(&sim, MS);
    gk_ip_get_stats(b, &st0);

    /* 1. Overlap: a fragment that partly covers another drops the datagram. */
    frag(1, d, 0, 1480, true);
    frag(1, d, 1472, 1480, true);
    /* 2. A non-final fragment not a multiple of 8 bytes. */
    frag(2, d, 0, 1476, true);
    /* 3. A fragment ending past 65,535 bytes. */
    peer_send_ip(&sim, 0, mac_b, NET_B, IP_PROTO_UDP, 3, 0x2000 | 8189, d, 64);
    /* 4. Two final fragments that disagree. */
    frag(4, d, 1480, 1480, false);
    frag(4, d, 1480, 800, false);
    /* 5. Data past the final length. */
    frag(5, d, 1480, 1000, false);
    frag(5, d, 2480, 16, true);
    sim_advance(&sim, MS);
    gk_ip_get_stats(b, &st);
    assert_int_equal(st.reassembly_dropped - st0.reassembly_dropped, 5);
    assert_int_equal(st.reassembled, 0);
    assert_int_equal(gk_sock_recv(b, s, got, sizeof got), GK_IP_EAGAIN);
    for (uint32_t i = 0; i < b->cfg.reassembly_slots; i++)
        assert_false(b->reasm[i].used); /* every bad datagram's slot was freed */

    /* 6. Exact duplicates are harmless; the datagram completes. */
    frag(6, d, 1480, 1480, true);
    frag(6, d, 1480, 1480, true);
    frag(6, d, 2960, n - 2960, false);
    frag(6, d, 0, 1480, true);
    frag(6, d, 2960, n - 2960, false); /* after completion: a new datagram, times out */
    sim_advance(&sim, MS);
    assert_int_equal(gk_sock_recv(b, s, got, sizeof got), 3000);
    assert_memory_equal(got, pay, 3000);

    /* 7. More datagrams at once than slots (4): the fifth is dropped; the
     * others complete. The leftover of 6 holds one slot until it times out. */
    for (uint16_t id = 10; id < 15; id++)
        frag(id, d, 0, 1480, true);
    sim_advance(&sim, MS);
    gk_ip_get_stats(b, &st0);
    for (uint16_t id = 10; id < 15; id++) {
        frag(id, d, 1480, 1480, true);
        frag(id, d, 2960, n - 2960, false);
    }
    sim_advance(&sim, MS);
    gk_ip_get_stats(b, &st);
    assert_int_equal(st.reassembled, 1 + 3);
    int got_n = 0;
    while (gk_sock_recv(b, s, got, sizeof got) == 3000)
        got_n++;
    assert_int_equal(got_n, 3);

    /* 8. Timeout: a slot held by an incomplete datagram is freed after
     * 15 s, with an ICMP time exceeded when its first fragment had come. */
    frag(20, d, 0, 1480, true);
    int before = cap.n;
    sim_advance(&sim, 16 * SEC);
    gk_ip_get_stats(b, &st);
    assert_true(st.reassembly_timeouts >= 2);
    for (uint32_t i = 0; i < b->cfg.reassembly_slots; i++)
        assert_false(b->reasm[i].used);
    bool time_exceeded = false;
    for (int i = before; i < cap.n; i++)
        if (fr_proto(&cap.f[i]) == IP_PROTO_ICMP && fr_l4(&cap.f[i])[0] == 11 &&
            fr_l4(&cap.f[i])[1] == 1 && get16(fr_l4(&cap.f[i]) + 8 + 4) == 20)
            time_exceeded = true;
    assert_true(time_exceeded);

    /* 9. A flood of 20,000 first fragments of distinct datagrams: never
     * more than the slots in use; the stack still reassembles afterwards. */
    for (int i = 0; i < 20000; i++) {
        frag((uint16_t)(1000 + i), d, 0, 1480, true);
        if (i % 100 == 99) {
            sim_advance(&sim, MS);
            unsigned used = 0;
            for (uint32_t k = 0; k < b->cfg.reassembly_slots; k++)
                used += b->reasm[k].used;
            assert_true(used <= b->cfg.reassembly_slots);
        }
    }
    sim_advance(&sim, 16 * SEC);
    frag(30, d, 2960, n - 2960, false);
    frag(30, d, 0, 1480, true);
    frag(30, d, 1480, 1480, true);
    sim_advance(&sim, MS);
    assert_int_equal(gk_sock_recv(b, s, got, sizeof got), 3000);
    assert_memory_equal(got, pay, 3000);
}

/* ---- IPv4 and Ethernet headers, hostile ---------------------------------- */

static void test_bad_headers_counted_and_ignored(void **state)
{
    (void)state;
    mac_of(mac_b, 2);
    peer_announce(&sim, 0, NET_B);
    int s = sock_nb(b, GK_SOCK_DGRAM);
    assert_int_equal(gk_sock_bind(b, s, 53), 0);
    sim_advance(&sim, MS);
    uint8_t u[64], f[128];
    size_t un = build_udp(u, NET_PEER, NET_B, 99, 53, "ok", 2);
    size_t good = sim_build_ip(f, mac_b, MAC_PEER, NET_PEER, NET_B, IP_PROTO_UDP, 1, 0, u, un);
    struct gk_ip_stats st0, st;
    gk_ip_get_stats(b, &st0);
    uint8_t x[128];
#define BAD(mutate, len)                                                                           \
    do {                                                                                           \
        memcpy(x, f, good);                                                                        \
        mutate;                                                                                    \
        sim_inject(&sim, 0, x, (len));                                                             \
    } while (0)
#define REFILL_CSUM() (put16(x + 24, 0), put16(x + 24, sim_csum(x + 14, 20, 0)))
    BAD((void)0, 10);                               /* shorter than Ethernet */
    BAD(put16(x + 12, 0x86dd), good);               /* not IPv4 or ARP */
    BAD(x[5] = 0x33, good);                         /* another unicast MAC */
    BAD((void)0, 14 + 19);                          /* short IP header */
    BAD((x[14] = 0x65, REFILL_CSUM()), good);       /* version 6 */
    BAD((x[14] = 0x44, REFILL_CSUM()), good);       /* IHL 4 */
    BAD((x[14] = 0x4f, REFILL_CSUM()), good);       /* IHL past the packet */
    BAD((put16(x + 16, 200), REFILL_CSUM()), good); /* total length past the frame */
    BAD((put16(x + 16, 19), REFILL_CSUM()), good);  /* total shorter than header */
    BAD(x[24] ^= 1, good);                          /* header checksum */
    BAD((x[20] = 0x80, REFILL_CSUM()), good);       /* reserved flag */
    BAD((put32(x + 26, 0), REFILL_CSUM()), good);   /* source 0 */
    BAD((put32(x + 26, GK_IP4(224, 0, 0, 1)), REFILL_CSUM()), good);   /* multicast source */
    BAD((put32(x + 26, GK_IP4(192, 0, 2, 255)), REFILL_CSUM()), good); /* broadcast source */
    BAD((put32(x + 26, NET_B), REFILL_CSUM()), good);                  /* our own address */
    BAD((put32(x + 30, GK_IP4(192, 0, 2, 3)), REFILL_CSUM()), good);   /* not for us */
    BAD(x[14 + 20 + 8] ^= 1, good);                                    /* UDP checksum */
    BAD((put16(x + 14 + 20 + 4, 7)), good);                            /* UDP length < 8 */
    BAD((put16(x + 14 + 20 + 4, 40)), good); /* UDP length past the packet */
    BAD((void)0, 14 + 20 + 4);               /* shorter than UDP's header */
    static uint8_t huge[1600];
    memcpy(huge, f, good);
    gk_ip_input(b, huge, sizeof huge); /* longer than any Ethernet frame */
    sim_advance(&sim, MS);
    gk_ip_get_stats(b, &st);
    uint64_t counted = (st.rx_bad_eth - st0.rx_bad_eth) + (st.rx_bad_ip - st0.rx_bad_ip) +
                       (st.rx_bad_csum - st0.rx_bad_csum) + (st.rx_not_ours - st0.rx_not_ours) +
                       (st.rx_bad_udp - st0.rx_bad_udp);
    assert_int_equal(counted, 21);
    assert_int_equal(st.udp_in, st0.udp_in);
    assert_int_equal(st.icmp_errors_out, st0.icmp_errors_out);
    char got[16];
    assert_int_equal(gk_sock_recv(b, s, got, sizeof got), GK_IP_EAGAIN);
    /* Ethernet padding after the IP packet is ignored; the good frame works. */
    memcpy(x, f, good);
    memset(x + good, 0xee, 20);
    sim_inject(&sim, 0, x, good + 20);
    sim_advance(&sim, MS);
    assert_int_equal(gk_sock_recv(b, s, got, sizeof got), 2);
    assert_memory_equal(got, "ok", 2);
}

/* Random frames and random mutations of good ones: under ASan and UBSan,
 * nothing but counters may change, and the stack works afterwards. */
static void test_random_frames(void **state)
{
    (void)state;
    mac_of(mac_b, 2);
    peer_announce(&sim, 0, NET_B);
    int s = sock_nb(b, GK_SOCK_DGRAM);
    assert_int_equal(gk_sock_bind(b, s, 53), 0);
    int l = sock_nb(b, GK_SOCK_STREAM);
    assert_int_equal(gk_sock_bind(b, l, 80), 0);
    assert_int_equal(gk_sock_listen(b, l, 4), 0);
    sim_advance(&sim, MS);
    uint8_t seeds[4][1600];
    size_t seed_len[4];
    uint8_t p[1600];
    size_t n = build_udp(p, NET_PEER, NET_B, 99, 53, "data", 4);
    seed_len[0] =
        sim_build_ip(seeds[0], mac_b, MAC_PEER, NET_PEER, NET_B, IP_PROTO_UDP, 1, 0, p, n);
    n = sim_build_tcp(p, NET_PEER, NET_B, 4000, 80, 1000, 0, TCP_SYN, 1000, NULL, 0);
    seed_len[1] =
        sim_build_ip(seeds[1], mac_b, MAC_PEER, NET_PEER, NET_B, IP_PROTO_TCP, 2, 0, p, n);
    n = build_echo(p, 8, 1, 1, "ping", 4);
    seed_len[2] =
        sim_build_ip(seeds[2], mac_b, MAC_PEER, NET_PEER, NET_B, IP_PROTO_ICMP, 3, 0x2000, p, 8);
    static const uint8_t zero[6] = {0};
    seed_len[3] = build_arp(seeds[3], 1, MAC_PEER, NET_PEER, zero, NET_B, MAC_BCAST);
    for (int i = 0; i < 200000; i++) {
        uint64_t r = sim_random(&sim);
        int k = (int)(r % 4);
        size_t len = seed_len[k];
        uint8_t f[1600];
        memcpy(f, seeds[k], len);
        int flips = 1 + (int)((r >> 8) % 4);
        for (int j = 0; j < flips; j++) {
            uint64_t q = sim_random(&sim);
            size_t at = 12 + q % (len - 12);
            f[at] = (q >> 32) & 1 ? (uint8_t)(q >> 40) : (uint8_t)(f[at] ^ (1u << ((q >> 40) & 7)));
        }
        if ((r >> 16) % 8 == 0)
            len = 14 + (r >> 24) % (len - 13);
        if ((r >> 20) % 16 == 0) {
            len = 14 + (r >> 28) % 1500;
            for (size_t j = 14; j < len; j++)
                f[j] = (uint8_t)sim_random(&sim);
        }
        sim_inject(&sim, 0, f, len);
        if (i % 64 == 63)
            sim_advance(&sim, MS);
    }
    sim_advance(&sim, 20 * SEC);
    /* Still sane: bounded tables, a UDP datagram gets through. */
    assert_true(socks_used(b) <= b->cfg.sockets_max);
    while (gk_sock_recv(b, s, p, sizeof p) >= 0)
        ;
    sim_inject(&sim, 0, seeds[0], seed_len[0]);
    sim_advance(&sim, MS);
    long got = gk_sock_recv(b, s, p, sizeof p);
    assert_int_equal(got, 4);
    assert_memory_equal(p, "data", 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_arp_resolves_then_caches, setup2, teardown),
        cmocka_unit_test_setup_teardown(test_arp_gives_up_after_three_tries, setup2, teardown),
        cmocka_unit_test_setup_teardown(test_arp_hostile_and_no_churn, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_udp_echo_and_connected_filter, setup2, teardown),
        cmocka_unit_test_setup_teardown(test_udp_large_datagrams_fragmented_and_reordered, setup2,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_udp_port_unreachable_and_queue_bound, setup2,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_icmp_echo_small_and_fragmented, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_icmp_errors_rate_limited_and_protocol_unreachable,
                                        setup1, teardown),
        cmocka_unit_test_setup_teardown(test_reassembly_hostile_fragments, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_bad_headers_counted_and_ignored, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_random_frames, setup1, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
