/*
 * The stack object (gk/ipstack.h): configuration, creation, the Ethernet
 * dispatcher, polling and timers, checksums. See net_internal.h for the map
 * of the other files.
 */
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

void gk_ip_config_default(struct gk_ip_config *c)
{
    memset(c, 0, sizeof *c);
    c->mtu = 1500;
    c->port_lo = 49152;
    c->port_hi = 65535;
    c->sockets_max = 32;
    c->tcp_sndbuf = 32768;
    c->tcp_rcvbuf = 32768;
    c->udp_rcvbuf = 16384;
    c->reassembly_slots = 4;
    c->reassembly_timeout_ms = 15000;
    c->arp_entries = 16;
    c->tcp_rto_min_ms = 200;
    c->tcp_rto_initial_ms = 1000;
    c->tcp_delack_ms = 40;
    c->tcp_msl_ms = 30000;
    c->tcp_retries_max = 10;
    c->tcp_syn_retries_max = 5;
    c->icmp_errors_per_s = 100;
    c->seed = 0x6e657462616b6b21ull;
}

static bool config_ok(const struct gk_ip_config *c)
{
    return c->mtu >= GK_IP_MTU_MIN && c->mtu <= GK_IP_MTU_MAX && c->port_lo != 0 &&
           c->port_lo <= c->port_hi && c->sockets_max >= 1 && c->sockets_max <= 4096 &&
           c->tcp_sndbuf >= 1024 && c->tcp_sndbuf <= 65535 && c->tcp_rcvbuf >= 1024 &&
           c->tcp_rcvbuf <= 65535 && c->udp_rcvbuf >= 256 && c->udp_rcvbuf <= (1u << 20) &&
           c->reassembly_slots <= 64 && c->arp_entries >= 1 && c->arp_entries <= 256 &&
           c->tcp_rto_min_ms >= 1 && c->tcp_rto_initial_ms >= c->tcp_rto_min_ms &&
           c->tcp_retries_max >= 1 && c->tcp_retries_max <= 30 && c->tcp_syn_retries_max >= 1 &&
           c->tcp_syn_retries_max <= 30;
}

struct gk_ip *gk_ip_create(const struct gk_ip_config *c, const struct gk_ip_driver *drv)
{
    if (c == NULL || drv == NULL || drv->send == NULL || drv->now_ns == NULL || !config_ok(c))
        return NULL;
    struct gk_ip *ip = calloc(1, sizeof *ip);
    if (ip == NULL)
        return NULL;
    ip->cfg = *c;
    ip->drv = *drv;
    ip->now = drv->now_ns(drv->ctx);
    ip->rng = c->seed ^ 0x9e3779b97f4a7c15ull ^ ip->now;
    ip->ip_id = (uint16_t)net_random(ip);
    ip->next_port = 0;
    ip->icmp_tokens = (uint64_t)c->icmp_errors_per_s * 1000;
    ip->icmp_refill_at = ip->now;
    ip->socks = calloc(c->sockets_max, sizeof *ip->socks);
    if (ip->socks == NULL || !arp_init(ip) || !ipv4_init(ip)) {
        gk_ip_destroy(ip);
        return NULL;
    }
    return ip;
}

void gk_ip_destroy(struct gk_ip *ip)
{
    if (ip == NULL)
        return;
    if (ip->socks)
        for (uint32_t i = 0; i < ip->cfg.sockets_max; i++)
            if (ip->socks[i].used)
                sock_free(ip, &ip->socks[i]);
    free(ip->socks);
    arp_fini(ip);
    ipv4_fini(ip);
    free(ip);
}

void gk_ip_set_addr(struct gk_ip *ip, uint32_t addr, uint32_t netmask, uint32_t gateway)
{
    ip->cfg.addr = addr;
    ip->cfg.netmask = netmask;
    ip->cfg.gateway = gateway;
}

uint32_t gk_ip_addr(const struct gk_ip *ip)
{
    return ip->cfg.addr;
}

uint64_t gk_ip_now(const struct gk_ip *ip)
{
    return ip->now;
}

void gk_ip_get_stats(const struct gk_ip *ip, struct gk_ip_stats *out)
{
    *out = ip->st;
}

/* xorshift64* over the seeded state: not cryptographic; sequence numbers
 * also mix in the connection's addresses and the clock (tcp.c). */
uint64_t net_random(struct gk_ip *ip)
{
    uint64_t x = ip->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    ip->rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

uint32_t net_sum(uint32_t sum, const uint8_t *p, size_t len)
{
    uint64_t s = sum;
    while (len >= 2) {
        s += (uint32_t)p[0] << 8 | p[1];
        p += 2;
        len -= 2;
    }
    if (len)
        s += (uint32_t)p[0] << 8;
    while (s >> 32)
        s = (s & 0xffffffffu) + (s >> 32);
    return (uint32_t)s;
}

uint16_t net_fold(uint32_t sum)
{
    uint64_t s = sum;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

uint32_t net_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint32_t len)
{
    uint64_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
    while (s >> 32)
        s = (s & 0xffffffffu) + (s >> 32);
    return (uint32_t)s;
}

/* Sends the frame in ip->tx: fills the Ethernet header in front of the
 * payload_len bytes already at ip->tx + ETH_HDR. */
void net_send_frame(struct gk_ip *ip, const uint8_t *dst_mac, uint16_t type, size_t payload_len)
{
    uint8_t *f = ip->tx;
    memcpy(f, dst_mac, 6);
    memcpy(f + 6, ip->cfg.mac, 6);
    put16(f + 12, type);
    size_t len = ETH_HDR + payload_len;
    if (len < 60) { /* the minimum Ethernet frame without FCS */
        memset(f + len, 0, 60 - len);
        len = 60;
    }
    if (ip->drv.send(ip->drv.ctx, f, len) == 0) {
        ip->st.tx_frames++;
    } else {
        ip->st.tx_dropped++;
        ip->tx_refused = true;
    }
}

void gk_ip_input(struct gk_ip *ip, const void *frame, size_t len)
{
    const uint8_t *f = frame;
    ip->now = ip->drv.now_ns(ip->drv.ctx);
    ip->st.rx_frames++;
    if (f == NULL || len < ETH_HDR || len > ETH_FRAME_MAX + 4) {
        ip->st.rx_bad_eth++;
        return;
    }
    /* Ours, broadcast, or (for ARP) anything: a frame for another unicast
     * address is not ours. */
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    if (memcmp(f, ip->cfg.mac, 6) != 0 && memcmp(f, bcast, 6) != 0) {
        ip->st.rx_not_ours++;
        return;
    }
    uint16_t type = get16(f + 12);
    if (type == ETH_TYPE_IPV4)
        ipv4_input(ip, f + ETH_HDR, len - ETH_HDR);
    else if (type == ETH_TYPE_ARP)
        arp_input(ip, f + ETH_HDR, len - ETH_HDR);
    else
        ip->st.rx_bad_eth++;
}

static void timers(struct gk_ip *ip, uint64_t *next)
{
    arp_timers(ip, next);
    ipv4_timers(ip, next);
    tcp_timers(ip, next);
}

uint64_t gk_ip_poll(struct gk_ip *ip)
{
    ip->now = ip->drv.now_ns(ip->drv.ctx);
    ip->tx_refused = false;
    if (ip->drv.recv) {
        for (int i = 0; i < 64; i++) {
            size_t len = 0;
            if (ip->drv.recv(ip->drv.ctx, ip->rx, sizeof ip->rx, &len) != 0)
                break;
            gk_ip_input(ip, ip->rx, len);
        }
    }
    if (ip->loop_count)
        ipv4_loopback_run(ip);
    ip->now = ip->drv.now_ns(ip->drv.ctx);
    uint64_t next = GK_IP_FOREVER;
    timers(ip, &next);
    return next;
}

void gk_ip_run(struct gk_ip *ip, uint64_t deadline_ns)
{
    uint64_t rx_before = ip->st.rx_frames;
    uint64_t next = gk_ip_poll(ip);
    if (ip->st.rx_frames != rx_before)
        return; /* something came: let the caller look before sleeping */
    uint64_t until = next < deadline_ns ? next : deadline_ns;
    if (until <= ip->now)
        return;
    if (ip->drv.wait)
        ip->drv.wait(ip->drv.ctx, until);
}

const char *gk_ip_strerror(int status)
{
    switch (status) {
    case GK_IP_OK: return "ok";
    case GK_IP_EAGAIN: return "would block";
    case GK_IP_EINVAL: return "invalid argument";
    case GK_IP_ENOMEM: return "out of memory";
    case GK_IP_EADDRINUSE: return "address in use";
    case GK_IP_ENOTCONN: return "not connected";
    case GK_IP_ECONNREFUSED: return "connection refused";
    case GK_IP_ECONNRESET: return "connection reset";
    case GK_IP_ETIMEDOUT: return "timed out";
    case GK_IP_EINPROGRESS: return "in progress";
    case GK_IP_EBADF: return "bad socket";
    case GK_IP_EMSGSIZE: return "message too long";
    case GK_IP_EPIPE: return "broken pipe";
    case GK_IP_EISCONN: return "already connected";
    case GK_IP_EADDRNOTAVAIL: return "no free port";
    case GK_IP_EHOSTUNREACH: return "host unreachable";
    default: return status >= 0 ? "ok" : "unknown error";
    }
}
