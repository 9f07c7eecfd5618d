/*
 * UDP (RFC 768): datagrams to and from bound sockets, each socket's receive
 * queue bounded by cfg.udp_rcvbuf bytes (a datagram that does not fit is
 * dropped and counted), ICMP port unreachable for a datagram no socket
 * wants (not for broadcasts), datagrams larger than the MTU sent as IP
 * fragments.
 *
 * Hostile input: shorter than the header, a length field outside
 * 8..the IP payload, or a bad checksum (a zero checksum means none, as RFC
 * 768 allows) is counted (rx_bad_udp / rx_bad_csum) and dropped. Bytes
 * after the UDP length are ignored.
 */
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

#define UDP_REC_HDR 8u /* addr, port, length */
#define UDP_MAX_DATA (IP_MAX - IP_HDR - UDP_HDR)

static void ring_put(struct udp_queue *q, uint32_t cap, const uint8_t *src, uint32_t n)
{
    uint32_t at = (q->head + q->len) % cap;
    uint32_t first = cap - at < n ? cap - at : n;
    memcpy(q->buf + at, src, first);
    memcpy(q->buf, src + first, n - first);
    q->len += n;
}

static void ring_get(struct udp_queue *q, uint32_t cap, uint8_t *dst, uint32_t n)
{
    uint32_t first = cap - q->head < n ? cap - q->head : n;
    if (dst) {
        memcpy(dst, q->buf + q->head, first);
        memcpy(dst + first, q->buf, n - first);
    }
    q->head = (q->head + n) % cap;
    q->len -= n;
}

void udp_input(struct gk_ip *ip, uint32_t src, uint32_t dst, bool bcast, const uint8_t *quote,
               size_t quote_len, const uint8_t *p, size_t len)
{
    if (len < UDP_HDR) {
        ip->st.rx_bad_udp++;
        return;
    }
    size_t ulen = get16(p + 4);
    if (ulen < UDP_HDR || ulen > len) {
        ip->st.rx_bad_udp++;
        return;
    }
    if (get16(p + 6) != 0 &&
        net_fold(net_sum(net_pseudo(src, dst, IP_PROTO_UDP, (uint32_t)ulen), p, ulen)) != 0) {
        ip->st.rx_bad_csum++;
        return;
    }
    ip->st.udp_in++;
    uint16_t sport = get16(p), dport = get16(p + 2);
    struct sock *s = sock_lookup_udp(ip, src, dport, sport);
    if (s == NULL) {
        ip->st.udp_no_port++;
        if (!bcast)
            icmp_send_error(ip, 3, 3, quote, quote_len);
        return;
    }
    uint32_t n = (uint32_t)(ulen - UDP_HDR);
    uint32_t cap = ip->cfg.udp_rcvbuf;
    if (s->uq.buf == NULL) {
        s->uq.buf = malloc(cap);
        if (s->uq.buf == NULL) {
            ip->st.udp_queue_full++;
            return;
        }
    }
    if (cap - s->uq.len < UDP_REC_HDR + n) {
        ip->st.udp_queue_full++;
        return;
    }
    uint8_t h[UDP_REC_HDR];
    put32(h, src);
    put16(h + 4, sport);
    put16(h + 6, (uint16_t)n);
    ring_put(&s->uq, cap, h, UDP_REC_HDR);
    ring_put(&s->uq, cap, p + UDP_HDR, n);
    s->uq.count++;
}

void udp_icmp_error(struct gk_ip *ip, uint32_t dst, uint16_t sport, uint16_t dport, int err)
{
    for (uint32_t i = 0; i < ip->cfg.sockets_max; i++) {
        struct sock *s = &ip->socks[i];
        if (s->used && s->type == GK_SOCK_DGRAM && s->lport == sport && s->connected &&
            s->raddr == dst && s->rport == dport)
            s->error = err;
    }
}

long udp_sendto(struct gk_ip *ip, struct sock *s, const void *buf, size_t len, uint32_t dst,
                uint16_t dport)
{
    if (len > UDP_MAX_DATA)
        return GK_IP_EMSGSIZE;
    if (dport == 0 || dst == 0)
        return GK_IP_EINVAL;
    uint8_t h[UDP_HDR];
    put16(h, s->lport);
    put16(h + 2, dport);
    put16(h + 4, (uint16_t)(UDP_HDR + len));
    put16(h + 6, 0);
    uint32_t sum = net_pseudo(ip->cfg.addr, dst, IP_PROTO_UDP, (uint32_t)(UDP_HDR + len));
    sum = net_sum(sum, h, UDP_HDR);
    sum = net_sum(sum, buf, len);
    uint16_t c = net_fold(sum);
    put16(h + 6, c == 0 ? 0xffff : c);
    ip->st.udp_out++;
    if (IP_HDR + UDP_HDR + len <= ip->cfg.mtu) {
        uint8_t *pl = ip->tx + ETH_HDR + IP_HDR;
        memcpy(pl, h, UDP_HDR);
        memcpy(pl + UDP_HDR, buf, len);
        int rc = ipv4_output(ip, dst, IP_PROTO_UDP, UDP_HDR + len, false);
        return rc < 0 ? rc : (long)len;
    }
    int rc = ipv4_output_frags(ip, dst, IP_PROTO_UDP, h, UDP_HDR, buf, len);
    return rc < 0 ? rc : (long)len;
}

long udp_recvfrom(struct gk_ip *ip, struct sock *s, void *buf, size_t len, struct gk_sockaddr *from)
{
    if (s->error) {
        int e = s->error;
        s->error = 0;
        return e;
    }
    if (s->uq.count == 0)
        return GK_IP_EAGAIN;
    uint32_t cap = ip->cfg.udp_rcvbuf;
    uint8_t h[UDP_REC_HDR];
    ring_get(&s->uq, cap, h, UDP_REC_HDR);
    uint32_t n = get16(h + 6);
    uint32_t take = n < len ? n : (uint32_t)len;
    ring_get(&s->uq, cap, buf, take);
    ring_get(&s->uq, cap, NULL, n - take);
    s->uq.count--;
    if (from) {
        from->addr = get32(h);
        from->port = get16(h + 4);
    }
    return (long)take;
}
