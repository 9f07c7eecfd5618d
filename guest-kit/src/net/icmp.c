/*
 * ICMP (RFC 792, 1122 3.2.2): echo requests answered; errors sent about
 * datagrams we cannot deliver (protocol and port unreachable, time
 * exceeded in reassembly), rate-limited by a token bucket of
 * cfg.icmp_errors_per_s; errors received (destination unreachable, time
 * exceeded, parameter problem) handed to the TCP connection or UDP socket
 * the quoted header names.
 *
 * Hostile input: a message shorter than its header or with a bad checksum,
 * an error quoting less than an IP header and 8 bytes, a header that is
 * not IPv4, or a datagram that was not ours (its source not our address)
 * is counted (rx_bad_icmp) and ignored. TCP checks the quoted sequence
 * number against its window (tcp.c).
 */
#include <string.h>

#include "net_internal.h"

static bool take_token(struct gk_ip *ip)
{
    uint64_t rate = ip->cfg.icmp_errors_per_s;
    if (rate == 0)
        return false;
    uint64_t cap = rate * 1000;
    if (ip->now > ip->icmp_refill_at) {
        uint64_t ms = (ip->now - ip->icmp_refill_at) / NS_PER_MS;
        if (ms > 0) {
            uint64_t add = ms * rate; /* tokens * 1000 per ms = rate per s */
            ip->icmp_tokens = ip->icmp_tokens + add > cap ? cap : ip->icmp_tokens + add;
            ip->icmp_refill_at += ms * NS_PER_MS;
        }
    }
    if (ip->icmp_tokens < 1000)
        return false;
    ip->icmp_tokens -= 1000;
    return true;
}

void icmp_send_error(struct gk_ip *ip, uint8_t type, uint8_t code, const uint8_t *pkt,
                     size_t pkt_len)
{
    if (pkt_len < IP_HDR)
        return;
    size_t ihl = (size_t)(pkt[0] & 15) * 4;
    if (ihl < IP_HDR || ihl > pkt_len)
        return;
    uint32_t src = get32(pkt + 12);
    /* Never about a fragment after the first, to a source that is not a
     * host, or about an ICMP error. */
    if ((get16(pkt + 6) & 0x1fff) != 0 || src == 0 || (src >> 28) >= 14 || src == 0xffffffffu)
        return;
    if (pkt[9] == IP_PROTO_ICMP && (pkt_len < ihl + 1 || (pkt[ihl] != 0 && pkt[ihl] != 8)))
        return;
    if (!take_token(ip)) {
        ip->st.icmp_rate_limited++;
        return;
    }
    size_t q = ihl + 8 < pkt_len ? ihl + 8 : pkt_len;
    uint8_t *m = ip->tx + ETH_HDR + IP_HDR;
    m[0] = type;
    m[1] = code;
    put16(m + 2, 0);
    put32(m + 4, 0);
    memcpy(m + ICMP_HDR, pkt, q);
    put16(m + 2, net_fold(net_sum(0, m, ICMP_HDR + q)));
    ip->st.icmp_errors_out++;
    ipv4_output(ip, src, IP_PROTO_ICMP, ICMP_HDR + q, false);
}

static void error_in(struct gk_ip *ip, const uint8_t *p, size_t len)
{
    uint8_t type = p[0], code = p[1];
    const uint8_t *q = p + ICMP_HDR;
    size_t ql = len - ICMP_HDR;
    if (ql < IP_HDR + 8 || (q[0] >> 4) != 4) {
        ip->st.rx_bad_icmp++;
        return;
    }
    size_t ihl = (size_t)(q[0] & 15) * 4;
    if (ihl < IP_HDR || ihl + 8 > ql || get32(q + 12) != ip->cfg.addr) {
        ip->st.rx_bad_icmp++;
        return;
    }
    ip->st.icmp_errors_in++;
    uint32_t dst = get32(q + 16);
    const uint8_t *t = q + ihl;
    uint16_t sport = get16(t), dport = get16(t + 2);
    if (q[9] == IP_PROTO_TCP) {
        tcp_icmp_error(ip, dst, sport, dport, get32(t + 4), type, code, get16(p + 6));
    } else if (q[9] == IP_PROTO_UDP && type == 3) {
        int err = (code == 2 || code == 3) ? GK_IP_ECONNREFUSED : GK_IP_EHOSTUNREACH;
        if (code != 4) /* fragmentation needed: the sender fragments UDP itself */
            udp_icmp_error(ip, dst, sport, dport, err);
    }
}

void icmp_input(struct gk_ip *ip, uint32_t src, uint32_t dst, const uint8_t *p, size_t len)
{
    (void)dst;
    if (len < ICMP_HDR || net_fold(net_sum(0, p, len)) != 0) {
        ip->st.rx_bad_icmp++;
        return;
    }
    switch (p[0]) {
    case 8: { /* echo request: the same identifier, sequence and data back */
        if (len > IP_MAX - IP_HDR)
            return;
        uint8_t *m = ip->tx + ETH_HDR + IP_HDR;
        ip->st.icmp_echo_replied++;
        if (IP_HDR + len <= ip->cfg.mtu) {
            memcpy(m, p, len);
            m[0] = 0;
            put16(m + 2, 0);
            put16(m + 2, net_fold(net_sum(0, m, len)));
            ipv4_output(ip, src, IP_PROTO_ICMP, len, false);
        } else {
            uint8_t h[ICMP_HDR];
            memcpy(h, p, ICMP_HDR);
            h[0] = 0;
            put16(h + 2, 0);
            uint32_t s = net_sum(0, h, ICMP_HDR);
            /* The data's sum: the header is 8 bytes, so the alignment holds. */
            s = net_sum(s, p + ICMP_HDR, len - ICMP_HDR);
            put16(h + 2, net_fold(s));
            ipv4_output_frags(ip, src, IP_PROTO_ICMP, h, ICMP_HDR, p + ICMP_HDR, len - ICMP_HDR);
        }
        break;
    }
    case 3:
    case 11:
    case 12: error_in(ip, p, len); break;
    default: break; /* echo replies, source quench, others: nothing to do */
    }
}
