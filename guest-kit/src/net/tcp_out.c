/*
 * TCP output: building segments from the send buffer, the send decision
 * (window, congestion window, Nagle, sender silly-window avoidance), the
 * receive window we advertise (receiver silly-window avoidance), SYN and
 * SYN-ACK, pure ACKs, window probes and RSTs.
 */
#include <string.h>

#include "net_internal.h"

#define OPT_MSS 2u

/* The window to advertise, moving the right edge only by at least
 * min(buffer / 2, MSS) at a time and never back (RFC 1122 4.2.3.3,
 * RFC 9293 3.8.6.2.2). */
uint32_t tcp_rcv_window(const struct sock *s)
{
    const struct tcb *t = &s->t;
    return SEQ_GT(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
}

static uint16_t advertise(struct gk_ip *ip, struct sock *s)
{
    struct tcb *t = &s->t;
    if (t->rcv_buf == NULL)
        return 0;
    uint32_t cap = ip->cfg.tcp_rcvbuf;
    uint32_t edge = t->rcv_nxt + (cap - t->rcv_len);
    uint32_t step = cap / 2 < t->mss ? cap / 2 : t->mss;
    if (SEQ_GT(edge, t->rcv_adv) && (edge - t->rcv_adv >= step || t->rcv_len == 0))
        t->rcv_adv = edge;
    uint32_t w = tcp_rcv_window(s);
    return (uint16_t)(w > 65535 ? 65535 : w);
}

/* Sends one segment: seq, flags, data_len bytes of the send buffer from
 * sequence number seq (must be inside it), the MSS option on SYNs. Returns
 * false if the driver refused the frame. */
static bool send_segment(struct gk_ip *ip, struct sock *s, uint32_t seq, uint8_t flags,
                         uint32_t data_len)
{
    struct tcb *t = &s->t;
    uint8_t *h = ip->tx + ETH_HDR + IP_HDR;
    uint32_t hl = TCP_HDR + ((flags & TCP_SYN) ? 4u : 0u);
    put16(h, s->lport);
    put16(h + 2, s->rport);
    put32(h + 4, seq);
    put32(h + 8, (flags & TCP_ACK) ? t->rcv_nxt : 0);
    h[12] = (uint8_t)((hl / 4) << 4);
    h[13] = flags;
    put16(h + 14, advertise(ip, s));
    put16(h + 16, 0);
    put16(h + 18, 0);
    if (flags & TCP_SYN) {
        h[20] = OPT_MSS;
        h[21] = 4;
        put16(h + 22, (uint16_t)(ip->cfg.mtu - IP_HDR - TCP_HDR));
    }
    if (data_len) {
        uint32_t cap = ip->cfg.tcp_sndbuf;
        uint32_t off = seq - t->snd_buf_seq;
        uint32_t at = (t->snd_head + off) % cap;
        uint32_t first = cap - at < data_len ? cap - at : data_len;
        memcpy(h + hl, t->snd_buf + at, first);
        memcpy(h + hl + first, t->snd_buf, data_len - first);
    }
    uint32_t len = hl + data_len;
    uint32_t sum = net_pseudo(ip->cfg.addr, s->raddr, IP_PROTO_TCP, len);
    put16(h + 16, net_fold(net_sum(sum, h, len)));
    uint64_t dropped = ip->st.tx_dropped;
    ipv4_output(ip, s->raddr, IP_PROTO_TCP, len, true);
    if (ip->st.tx_dropped != dropped)
        return false;
    ip->st.tcp_out++;
    if (flags & TCP_ACK) {
        t->delack_at = 0;
        t->segs_unacked = 0;
        t->ack_now = false;
    }
    return true;
}

void tcp_send_syn(struct gk_ip *ip, struct sock *s)
{
    struct tcb *t = &s->t;
    uint8_t flags = TCP_SYN | (t->state == TCP_SYN_RCVD ? TCP_ACK : 0);
    if (!t->timing && t->retries == 0) {
        t->timing = true;
        t->rtt_seq = t->iss;
        t->rtt_start = ip->now;
    }
    send_segment(ip, s, t->iss, flags, 0);
    t->snd_nxt = t->iss + 1;
    if (SEQ_GT(t->snd_nxt, t->snd_max))
        t->snd_max = t->snd_nxt;
    t->rexmit_at = ip->now + tcp_rto_backoff(ip, s);
}

void tcp_send_ack(struct gk_ip *ip, struct sock *s)
{
    struct tcb *t = &s->t;
    if (!send_segment(ip, s, t->snd_nxt, TCP_ACK, 0))
        t->output_blocked = true, t->ack_now = true;
}

void tcp_send_rst(struct gk_ip *ip, struct sock *s)
{
    ip->st.tcp_rst_out++;
    send_segment(ip, s, s->t.snd_nxt, TCP_RST | TCP_ACK, 0);
}

void tcp_send_probe(struct gk_ip *ip, struct sock *s)
{
    struct tcb *t = &s->t;
    if (send_segment(ip, s, t->snd_nxt, TCP_ACK, 1) && SEQ_GT(t->snd_nxt + 1, t->snd_max))
        t->snd_max = t->snd_nxt + 1;
}

/* The segment starting at seq again (fast retransmit, NewReno partial ACK). */
void tcp_retransmit_first(struct gk_ip *ip, struct sock *s)
{
    struct tcb *t = &s->t;
    uint32_t seq = t->snd_una;
    uint32_t off = seq - t->snd_buf_seq;
    uint32_t avail = off < t->snd_len ? t->snd_len - off : 0;
    if (SEQ_LT(seq, t->snd_buf_seq)) /* the SYN itself is unacknowledged */
        return;
    uint32_t n = avail < t->mss ? avail : t->mss;
    uint32_t fin_seq = t->snd_buf_seq + t->snd_len;
    uint8_t flags = TCP_ACK;
    if (t->fin_queued && seq + n == fin_seq && SEQ_GT(t->snd_max, fin_seq))
        flags |= TCP_FIN;
    if (n == 0 && !(flags & TCP_FIN))
        return;
    if (n)
        flags |= TCP_PSH;
    t->timing = false;
    ip->st.tcp_retransmits++;
    if (!send_segment(ip, s, seq, flags, n))
        t->output_blocked = true;
}

void tcp_output(struct gk_ip *ip, struct sock *s)
{
    struct tcb *t = &s->t;
    switch (t->state) {
    case TCP_ESTABLISHED:
    case TCP_CLOSE_WAIT:
    case TCP_FIN_WAIT_1:
    case TCP_FIN_WAIT_2:
    case TCP_CLOSING:
    case TCP_LAST_ACK: break;
    case TCP_TIME_WAIT:
        if (t->ack_now)
            send_segment(ip, s, t->snd_nxt, TCP_ACK, 0);
        return;
    default: return;
    }
    bool sent_any = false;
    uint32_t fin_seq = t->snd_buf_seq + t->snd_len;
    for (int guard = 0; guard < 256; guard++) {
        uint32_t off = t->snd_nxt - t->snd_buf_seq;
        if (SEQ_LT(t->snd_nxt, t->snd_buf_seq))
            off = 0;
        uint32_t unsent = off < t->snd_len ? t->snd_len - off : 0;
        uint32_t win = t->snd_wnd < t->cwnd ? t->snd_wnd : t->cwnd;
        uint32_t flight = t->snd_nxt - t->snd_una;
        uint32_t usable = win > flight ? win - flight : 0;
        uint32_t n = unsent < t->mss ? unsent : t->mss;
        if (n > usable)
            n = usable;
        bool fin = t->fin_queued && off + n == t->snd_len && SEQ_LEQ(t->snd_nxt + n, fin_seq) &&
                   t->snd_nxt + n == fin_seq;
        bool rexmit = SEQ_LT(t->snd_nxt, t->snd_max);
        bool go;
        if (n == 0)
            go = fin;
        else if (n == t->mss || rexmit || fin)
            go = true;
        else if (n == unsent) /* the tail: Nagle unless nodelay */
            go = s->nodelay || flight == 0;
        else /* window-limited: a good part of the largest window seen, or
              * nothing in flight (no ACK would come to start it later: the
              * override of RFC 1122 4.2.3.4, without its timer) */
            go = (t->snd_wnd_max > 0 && n >= t->snd_wnd_max / 2) || flight == 0;
        if (!go)
            break;
        uint8_t flags = TCP_ACK | (fin ? TCP_FIN : 0) | (n && off + n == t->snd_len ? TCP_PSH : 0);
        if (!send_segment(ip, s, t->snd_nxt, flags, n)) {
            t->output_blocked = true;
            break;
        }
        sent_any = true;
        if (n && !t->timing && t->snd_nxt == t->snd_max) {
            t->timing = true;
            t->rtt_seq = t->snd_nxt;
            t->rtt_start = ip->now;
        }
        t->snd_nxt += n + (fin ? 1u : 0u);
        if (SEQ_GT(t->snd_nxt, t->snd_max))
            t->snd_max = t->snd_nxt;
        if (t->rexmit_at == 0)
            t->rexmit_at = ip->now + tcp_rto_backoff(ip, s);
        t->persist_at = 0;
        if (fin)
            break;
    }
    if (!sent_any && (t->ack_now))
        tcp_send_ack(ip, s);
    /* A closed window with data waiting and nothing in flight: probe it. */
    uint32_t off = t->snd_nxt - t->snd_buf_seq;
    if (t->snd_wnd == 0 && off < t->snd_len && t->snd_una == t->snd_max && t->rexmit_at == 0 &&
        t->persist_at == 0)
        t->persist_at = ip->now + t->rto;
}

/* A RST answering a segment that belongs to no connection (RFC 9293 3.10.7.1). */
void tcp_send_rst_for(struct gk_ip *ip, uint32_t src, uint32_t dst, const uint8_t *seg,
                      size_t seg_len, size_t data_len)
{
    (void)seg_len;
    uint8_t flags = seg[13];
    if (flags & TCP_RST)
        return;
    uint8_t *h = ip->tx + ETH_HDR + IP_HDR;
    uint32_t seq, ack = 0;
    uint8_t out;
    if (flags & TCP_ACK) {
        seq = get32(seg + 8);
        out = TCP_RST;
    } else {
        seq = 0;
        ack = get32(seg + 4) + (uint32_t)data_len + ((flags & TCP_SYN) ? 1u : 0u) +
              ((flags & TCP_FIN) ? 1u : 0u);
        out = TCP_RST | TCP_ACK;
    }
    put16(h, get16(seg + 2));
    put16(h + 2, get16(seg));
    put32(h + 4, seq);
    put32(h + 8, ack);
    h[12] = (TCP_HDR / 4) << 4;
    h[13] = out;
    put16(h + 14, 0);
    put16(h + 16, 0);
    put16(h + 18, 0);
    put16(h + 16, net_fold(net_sum(net_pseudo(dst, src, IP_PROTO_TCP, TCP_HDR), h, TCP_HDR)));
    ip->st.tcp_rst_out++;
    ipv4_output(ip, src, IP_PROTO_TCP, TCP_HDR, true);
}
