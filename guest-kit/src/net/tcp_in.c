/*
 * TCP segment arrival (RFC 9293 3.10.7), with RFC 5961's defences: a RST
 * resets only when its sequence number is exactly the next expected one
 * (anywhere else in the window it draws a challenge ACK), a SYN on a
 * synchronized connection draws a challenge ACK, an ACK for data never sent
 * is answered and ignored. Also: the MSS option, the send window update
 * rule (SND.WL1/WL2), RTT samples (Karn), congestion control (slow start,
 * congestion avoidance, fast retransmit after three duplicate ACKs, NewReno
 * recovery), in-order and out-of-order data in the receive buffer, FIN.
 *
 * Hostile input, each counted and dropped before any state changes: a
 * segment shorter than its header, a data offset below 5 words or past
 * the segment, a bad checksum, an option whose length is 0, 1 or runs past
 * the header, an MSS option whose length is not 4.
 */
#include <string.h>

#include "net_internal.h"

struct seg {
    uint32_t src;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t wnd;
    uint16_t mss; /* 0: no option */
    const uint8_t *data;
    uint32_t len; /* data bytes */
    const uint8_t *raw;
    size_t raw_len;
};

static bool parse(struct gk_ip *ip, uint32_t src, uint32_t dst, const uint8_t *p, size_t len,
                  struct seg *g)
{
    if (len < TCP_HDR) {
        ip->st.rx_bad_tcp++;
        return false;
    }
    size_t off = (size_t)(p[12] >> 4) * 4;
    if (off < TCP_HDR || off > len) {
        ip->st.rx_bad_tcp++;
        return false;
    }
    if (net_fold(net_sum(net_pseudo(src, dst, IP_PROTO_TCP, (uint32_t)len), p, len)) != 0) {
        ip->st.rx_bad_csum++;
        return false;
    }
    g->src = src;
    g->sport = get16(p);
    g->dport = get16(p + 2);
    g->seq = get32(p + 4);
    g->ack = get32(p + 8);
    g->flags = p[13];
    g->wnd = get16(p + 14);
    g->mss = 0;
    for (size_t i = TCP_HDR; i < off;) {
        uint8_t kind = p[i];
        if (kind == 0)
            break;
        if (kind == 1) {
            i++;
            continue;
        }
        if (i + 1 >= off || p[i + 1] < 2 || i + p[i + 1] > off) {
            ip->st.rx_bad_tcp++;
            return false;
        }
        if (kind == 2) {
            if (p[i + 1] != 4) {
                ip->st.rx_bad_tcp++;
                return false;
            }
            g->mss = get16(p + i + 2);
        }
        i += p[i + 1];
    }
    g->data = p + off;
    g->len = (uint32_t)(len - off);
    g->raw = p;
    g->raw_len = len;
    if (g->sport == 0 || g->dport == 0) {
        ip->st.rx_bad_tcp++;
        return false;
    }
    return true;
}

static uint16_t effective_mss(const struct gk_ip *ip, uint16_t opt)
{
    uint32_t ours = (uint32_t)ip->cfg.mtu - IP_HDR - TCP_HDR;
    uint32_t theirs = opt ? opt : 536; /* RFC 9293 3.7.1: 536 without the option */
    uint32_t m = theirs < ours ? theirs : ours;
    return (uint16_t)(m < 64 ? 64 : m);
}

static void challenge_ack(struct gk_ip *ip, struct sock *s)
{
    ip->st.tcp_challenge_acks++;
    tcp_send_ack(ip, s);
}

/* LISTEN (RFC 9293 3.10.7.2). */
static void listen_input(struct gk_ip *ip, struct sock *l, const struct seg *g)
{
    if (g->flags & TCP_RST)
        return;
    if (g->flags & TCP_ACK) {
        tcp_send_rst_for(ip, g->src, ip->cfg.addr, g->raw, g->raw_len, g->len);
        return;
    }
    if (!(g->flags & TCP_SYN) || (g->flags & TCP_FIN))
        return;
    if (l->children >= l->backlog) {
        ip->st.tcp_backlog_full++;
        return;
    }
    struct sock *c = sock_alloc(ip, GK_SOCK_STREAM);
    if (c == NULL) {
        ip->st.tcp_backlog_full++;
        return;
    }
    if (!tcp_conn_alloc(ip, c)) {
        sock_free(ip, c);
        ip->st.tcp_backlog_full++;
        return;
    }
    c->lport = l->lport;
    c->raddr = g->src;
    c->rport = g->sport;
    c->connected = true;
    c->nodelay = l->nodelay;
    c->parent = sock_index(ip, l);
    c->parent_gen = l->gen;
    l->children++;
    struct tcb *t = &c->t;
    t->irs = g->seq;
    t->rcv_nxt = g->seq + 1;
    t->rcv_adv = t->rcv_nxt;
    t->mss = effective_mss(ip, g->mss);
    tcp_conn_init_send(ip, c);
    t->snd_wnd = g->wnd;
    t->snd_wnd_max = g->wnd;
    t->snd_wl1 = g->seq;
    t->snd_wl2 = t->iss;
    t->state = TCP_SYN_RCVD;
    tcp_send_syn(ip, c);
}

/* The ACK of our SYN came (SYN-SENT or SYN-RCVD): the send side starts,
 * ESTABLISHED. */
static void establish(struct gk_ip *ip, struct sock *s, const struct seg *g)
{
    struct tcb *t = &s->t;
    if (t->timing && SEQ_GT(g->ack, t->rtt_seq)) {
        tcp_rtt_sample(ip, s, ip->now - t->rtt_start);
        t->timing = false;
    }
    t->snd_una = g->ack;
    if (SEQ_LT(t->snd_nxt, t->snd_una))
        t->snd_nxt = t->snd_una;
    t->snd_wnd = g->wnd;
    if (g->wnd > t->snd_wnd_max)
        t->snd_wnd_max = g->wnd;
    t->snd_wl1 = g->seq;
    t->snd_wl2 = g->ack;
    t->rexmit_at = 0;
    t->retries = 0;
    t->state = TCP_ESTABLISHED;
}

/* SYN-SENT (RFC 9293 3.10.7.3). */
static void syn_sent_input(struct gk_ip *ip, struct sock *s, const struct seg *g)
{
    struct tcb *t = &s->t;
    bool ack_ok = false;
    if (g->flags & TCP_ACK) {
        if (SEQ_LEQ(g->ack, t->iss) || SEQ_GT(g->ack, t->snd_max)) {
            tcp_send_rst_for(ip, g->src, ip->cfg.addr, g->raw, g->raw_len, g->len);
            return;
        }
        ack_ok = true;
    }
    if (g->flags & TCP_RST) {
        if (ack_ok) {
            ip->st.tcp_rst_in++;
            tcp_drop(ip, s, GK_IP_ECONNREFUSED);
        }
        return;
    }
    if (!(g->flags & TCP_SYN))
        return;
    t->irs = g->seq;
    t->rcv_nxt = g->seq + 1;
    t->rcv_adv = t->rcv_nxt;
    t->mss = effective_mss(ip, g->mss);
    uint32_t iw = (t->mss > 2190 ? 2u : t->mss > 1095 ? 3u : 4u) * t->mss;
    t->cwnd = iw;
    if (ack_ok) {
        establish(ip, s, g);
        ip->st.tcp_connected++;
        t->ack_now = true;
        tcp_output(ip, s);
        return;
    }
    /* Simultaneous open. */
    t->state = TCP_SYN_RCVD;
    t->retries = 0;
    tcp_send_syn(ip, s);
}

/* Whether the segment is in the receive window (RFC 9293 3.10.7.4, first). */
static bool acceptable(const struct gk_ip *ip, const struct sock *s, const struct seg *g)
{
    const struct tcb *t = &s->t;
    uint32_t wnd = t->rcv_buf ? ip->cfg.tcp_rcvbuf - t->rcv_len : 0;
    uint32_t seg_len = g->len + ((g->flags & TCP_SYN) ? 1u : 0u) + ((g->flags & TCP_FIN) ? 1u : 0u);
    bool start_in = SEQ_LEQ(t->rcv_nxt, g->seq) && SEQ_LT(g->seq, t->rcv_nxt + wnd);
    /* A segment without data at the window's right edge is taken for its
     * ACK, as Linux does (RFC 9293 3.10.7.4 would drop it): a peer that
     * filled our window with data that was then lost sends its ACKs from
     * there, and dropping them deadlocked both sides whenever our
     * application waited for our own data to be acknowledged before
     * reading more (an echo server across a netback restart; found by
     * restart_netback, test_tcp's test_ack_at_right_edge). */
    if (seg_len == 0)
        return wnd == 0 ? g->seq == t->rcv_nxt
                        : SEQ_LEQ(t->rcv_nxt, g->seq) && SEQ_LEQ(g->seq, t->rcv_nxt + wnd);
    if (wnd == 0)
        return false;
    uint32_t last = g->seq + seg_len - 1;
    return start_in || (SEQ_LEQ(t->rcv_nxt, last) && SEQ_LT(last, t->rcv_nxt + wnd));
}

static void fin_acked(struct gk_ip *ip, struct sock *s)
{
    struct tcb *t = &s->t;
    switch (t->state) {
    case TCP_FIN_WAIT_1: tcp_set_state(ip, s, TCP_FIN_WAIT_2); break;
    case TCP_CLOSING: tcp_set_state(ip, s, TCP_TIME_WAIT); break;
    case TCP_LAST_ACK: tcp_drop(ip, s, 0); break;
    default: break;
    }
}

/* The ACK field of an acceptable segment on a synchronized connection.
 * Returns false if the segment must be dropped (or the connection ended). */
static bool ack_input(struct gk_ip *ip, struct sock *s, const struct seg *g)
{
    struct tcb *t = &s->t;
    if (SEQ_GT(g->ack, t->snd_max)) {
        tcp_send_ack(ip, s); /* an ACK of something not sent */
        return false;
    }
    if (SEQ_LT(g->ack, t->snd_una))
        return true; /* old: ignore the ACK, keep the data */
    uint32_t acked = g->ack - t->snd_una;
    bool window_changed = g->wnd != t->snd_wnd;
    if (SEQ_LT(t->snd_wl1, g->seq) || (t->snd_wl1 == g->seq && SEQ_LEQ(t->snd_wl2, g->ack))) {
        t->snd_wnd = g->wnd;
        if (g->wnd > t->snd_wnd_max)
            t->snd_wnd_max = g->wnd;
        t->snd_wl1 = g->seq;
        t->snd_wl2 = g->ack;
    }
    uint32_t flight = t->snd_max - t->snd_una;
    if (acked == 0) {
        /* RFC 5681 2: a duplicate ACK carries no data, no window change and
         * arrives while data is outstanding. */
        bool dup =
            g->len == 0 && !(g->flags & (TCP_SYN | TCP_FIN)) && !window_changed && flight > 0;
        if (!dup)
            return true;
        ip->st.tcp_dup_acks++;
        if (t->in_recovery) {
            t->cwnd += t->mss;
            tcp_output(ip, s);
        } else if (++t->dupacks == 3 && SEQ_GT(t->snd_una, t->recover - 1) && flight > 0) {
            uint32_t half = flight / 2;
            t->ssthresh = half > 2u * t->mss ? half : 2u * t->mss;
            t->recover = t->snd_max;
            t->in_recovery = true;
            ip->st.tcp_fast_retransmits++;
            tcp_retransmit_first(ip, s);
            t->cwnd = t->ssthresh + 3u * t->mss;
            t->rexmit_at = ip->now + tcp_rto_backoff(ip, s);
        }
        return true;
    }
    /* New data acknowledged. */
    if (t->timing && SEQ_GT(g->ack, t->rtt_seq)) {
        tcp_rtt_sample(ip, s, ip->now - t->rtt_start);
        t->timing = false;
    }
    uint32_t fin_seq = t->snd_buf_seq + t->snd_len;
    bool our_fin_acked = t->fin_queued && SEQ_GT(g->ack, fin_seq);
    if (SEQ_GT(g->ack, t->snd_buf_seq) && t->snd_buf != NULL) {
        uint32_t n = g->ack - t->snd_buf_seq;
        if (n > t->snd_len)
            n = t->snd_len;
        t->snd_head = (t->snd_head + n) % ip->cfg.tcp_sndbuf;
        t->snd_len -= n;
        t->snd_buf_seq += n;
    }
    t->snd_una = g->ack;
    if (SEQ_LT(t->snd_nxt, t->snd_una))
        t->snd_nxt = t->snd_una;
    t->retries = 0;
    t->persist_shift = 0;
    t->rexmit_at = t->snd_una == t->snd_max ? 0 : ip->now + t->rto;
    if (t->in_recovery) {
        if (SEQ_GEQ(g->ack, t->recover)) { /* full ACK: recovery over (RFC 6582 3.2 3) */
            uint32_t f = t->snd_max - t->snd_una;
            t->cwnd = t->ssthresh < f + t->mss ? t->ssthresh : f + t->mss;
            t->in_recovery = false;
            t->dupacks = 0;
        } else { /* partial ACK: the next hole, deflated window */
            tcp_retransmit_first(ip, s);
            t->cwnd = (t->cwnd > acked ? t->cwnd - acked : 0) + t->mss;
        }
    } else {
        t->dupacks = 0;
        if (t->cwnd < t->ssthresh)
            t->cwnd += acked < t->mss ? acked : t->mss;
        else
            t->cwnd += (uint32_t)((uint64_t)t->mss * t->mss / t->cwnd) + 1;
        if (t->cwnd > 4u * 65535u)
            t->cwnd = 4u * 65535u;
    }
    if (our_fin_acked) {
        fin_acked(ip, s);
        if (!s->used || t->state == TCP_CLOSED)
            return false;
    }
    return true;
}

static void add_ooo(struct gk_ip *ip, struct tcb *t, uint32_t start, uint32_t end)
{
    /* Merge with every range it touches, then insert in order. */
    for (uint8_t i = 0; i < t->ooo_count;) {
        struct seq_range *r = &t->ooo[i];
        if (SEQ_LEQ(start, r->end) && SEQ_LEQ(r->start, end)) {
            if (SEQ_LT(r->start, start))
                start = r->start;
            if (SEQ_GT(r->end, end))
                end = r->end;
            memmove(r, r + 1, (size_t)(t->ooo_count - i - 1) * sizeof *r);
            t->ooo_count--;
            continue;
        }
        i++;
    }
    if (t->ooo_count == GK_TCP_OOO_RANGES) {
        ip->st.tcp_ooo_dropped++;
        return;
    }
    uint8_t at = 0;
    while (at < t->ooo_count && SEQ_LT(t->ooo[at].start, start))
        at++;
    memmove(&t->ooo[at + 1], &t->ooo[at], (size_t)(t->ooo_count - at) * sizeof t->ooo[0]);
    t->ooo[at].start = start;
    t->ooo[at].end = end;
    t->ooo_count++;
}

static void copy_in(struct gk_ip *ip, struct tcb *t, uint32_t rel, const uint8_t *d, uint32_t n)
{
    uint32_t cap = ip->cfg.tcp_rcvbuf;
    uint32_t at = (t->rcv_head + t->rcv_len + rel) % cap;
    uint32_t first = cap - at < n ? cap - at : n;
    memcpy(t->rcv_buf + at, d, first);
    memcpy(t->rcv_buf, d + first, n - first);
}

static void fin_input(struct gk_ip *ip, struct sock *s)
{
    struct tcb *t = &s->t;
    t->rcv_nxt++;
    t->fin_received = true;
    t->ack_now = true;
    switch (t->state) {
    case TCP_SYN_RCVD:
    case TCP_ESTABLISHED: tcp_set_state(ip, s, TCP_CLOSE_WAIT); break;
    case TCP_FIN_WAIT_1: /* our FIN not acknowledged yet (else FIN-WAIT-2) */
        tcp_set_state(ip, s, TCP_CLOSING);
        break;
    case TCP_FIN_WAIT_2: tcp_set_state(ip, s, TCP_TIME_WAIT); break;
    default: break;
    }
}

/* Data and FIN of an acceptable segment (ESTABLISHED, FIN-WAIT-1/2). */
static void data_input(struct gk_ip *ip, struct sock *s, const struct seg *g)
{
    struct tcb *t = &s->t;
    const uint8_t *d = g->data;
    uint32_t n = g->len, seq = g->seq;
    bool fin = (g->flags & TCP_FIN) != 0;
    if (SEQ_LT(seq, t->rcv_nxt)) { /* we have the front already */
        uint32_t skip = t->rcv_nxt - seq;
        if (skip >= n + (fin ? 1u : 0u))
            return; /* nothing new (acceptable() let through only a probe) */
        d += skip;  /* skip <= n: at most the data is old, the FIN is new */
        n -= skip;
        seq += skip;
    }
    uint32_t room = ip->cfg.tcp_rcvbuf - t->rcv_len;
    uint32_t rel = seq - t->rcv_nxt;
    if (rel >= room) {
        n = 0;
        fin = false;
    } else if (rel + n > room) {
        n = room - rel;
        fin = false; /* the FIN lies past the window */
    }
    if (n == 0 && !fin)
        return;
    if (rel == 0) {
        copy_in(ip, t, 0, d, n);
        t->rcv_len += n;
        t->rcv_nxt += n;
        bool filled = false;
        while (t->ooo_count > 0 && SEQ_LEQ(t->ooo[0].start, t->rcv_nxt)) {
            if (SEQ_GT(t->ooo[0].end, t->rcv_nxt)) {
                uint32_t more = t->ooo[0].end - t->rcv_nxt;
                t->rcv_len += more;
                t->rcv_nxt += more;
            }
            memmove(&t->ooo[0], &t->ooo[1], (size_t)(t->ooo_count - 1) * sizeof t->ooo[0]);
            t->ooo_count--;
            filled = true;
        }
        if (t->ooo_fin && t->ooo_fin_seq == t->rcv_nxt) {
            fin = true;
            t->ooo_fin = false;
        }
        if (fin) {
            fin_input(ip, s);
        } else if (filled) {
            t->ack_now = true;
        } else if (n) {
            /* An ACK for every second segment, else after the delay. */
            if (++t->segs_unacked >= 2)
                t->ack_now = true;
            else if (t->delack_at == 0)
                t->delack_at = ip->now + (uint64_t)ip->cfg.tcp_delack_ms * NS_PER_MS;
        }
        return;
    }
    /* Out of order: kept at its place, acknowledged at once (a duplicate
     * ACK that tells the sender about the hole). */
    ip->st.tcp_ooo_segments++;
    if (n) {
        copy_in(ip, t, rel, d, n);
        add_ooo(ip, t, seq, seq + n);
    }
    if (fin) {
        t->ooo_fin = true;
        t->ooo_fin_seq = seq + n;
    }
    t->ack_now = true;
}

static void synced_input(struct gk_ip *ip, struct sock *s, const struct seg *g)
{
    struct tcb *t = &s->t;
    if (t->state == TCP_SYN_RCVD && (g->flags & TCP_SYN) && !(g->flags & TCP_ACK) &&
        g->seq == t->irs) {
        tcp_send_syn(ip, s); /* our SYN-ACK was lost: again */
        return;
    }
    if (!acceptable(ip, s, g)) {
        ip->st.tcp_out_of_window++;
        if (!(g->flags & TCP_RST)) {
            if (t->state == TCP_TIME_WAIT && (g->flags & TCP_FIN))
                t->end_at = ip->now + 2ull * ip->cfg.tcp_msl_ms * NS_PER_MS;
            t->ack_now = true;
            if (t->state == TCP_TIME_WAIT)
                tcp_output(ip, s);
            else
                tcp_send_ack(ip, s);
        }
        return;
    }
    if (g->flags & TCP_RST) {
        if (g->seq != t->rcv_nxt) {
            challenge_ack(ip, s);
            return;
        }
        ip->st.tcp_rst_in++;
        int err = GK_IP_ECONNRESET;
        if (t->state == TCP_CLOSING || t->state == TCP_LAST_ACK || t->state == TCP_TIME_WAIT)
            err = 0;
        if (t->state == TCP_SYN_RCVD && s->parent < 0)
            err = GK_IP_ECONNREFUSED; /* simultaneous open refused */
        tcp_drop(ip, s, err);
        return;
    }
    if (g->flags & TCP_SYN) {
        challenge_ack(ip, s);
        return;
    }
    if (!(g->flags & TCP_ACK))
        return;
    if (t->state == TCP_SYN_RCVD) {
        if (!SEQ_LT(t->snd_una, g->ack) || SEQ_GT(g->ack, t->snd_max)) {
            tcp_send_rst_for(ip, g->src, ip->cfg.addr, g->raw, g->raw_len, g->len);
            return;
        }
        establish(ip, s, g);
        t->accept_order = ++ip->accept_counter;
        if (s->parent >= 0)
            ip->st.tcp_accepted++;
        else
            ip->st.tcp_connected++;
    } else if (!ack_input(ip, s, g)) {
        return;
    }
    switch (t->state) {
    case TCP_ESTABLISHED:
    case TCP_FIN_WAIT_1:
    case TCP_FIN_WAIT_2: data_input(ip, s, g); break;
    default: break; /* after the peer's FIN: data and FIN again are ignored */
    }
    if (s->used && t->state != TCP_CLOSED)
        tcp_output(ip, s);
}

void tcp_input(struct gk_ip *ip, uint32_t src, uint32_t dst, const uint8_t *p, size_t len)
{
    struct seg g;
    if (!parse(ip, src, dst, p, len, &g))
        return;
    ip->st.tcp_in++;
    struct sock *s = sock_lookup_tcp(ip, src, g.dport, g.sport);
    if (s != NULL && s->t.state == TCP_TIME_WAIT && (g.flags & (TCP_SYN | TCP_ACK)) == TCP_SYN &&
        SEQ_GT(g.seq, s->t.rcv_nxt)) {
        /* A new incarnation of a connection in TIME-WAIT (RFC 9293 3.6.1):
         * end the old one and let the listener have the SYN. */
        tcp_drop(ip, s, 0);
        s = sock_lookup_tcp(ip, src, g.dport, g.sport);
    }
    if (s == NULL || s->t.state == TCP_CLOSED) {
        tcp_send_rst_for(ip, src, dst, p, len, g.len);
        return;
    }
    switch (s->t.state) {
    case TCP_LISTEN: listen_input(ip, s, &g); break;
    case TCP_SYN_SENT: syn_sent_input(ip, s, &g); break;
    default: synced_input(ip, s, &g); break;
    }
}

void tcp_icmp_error(struct gk_ip *ip, uint32_t dst, uint16_t sport, uint16_t dport, uint32_t seq,
                    uint8_t type, uint8_t code, uint16_t mtu)
{
    struct sock *s = sock_lookup_tcp(ip, dst, sport, dport);
    if (s == NULL || s->t.state == TCP_LISTEN || s->t.state == TCP_CLOSED)
        return;
    struct tcb *t = &s->t;
    /* RFC 5927 4.1: only about data in flight. */
    if (SEQ_LT(seq, t->snd_una) || SEQ_GEQ(seq, t->snd_max)) {
        ip->st.rx_bad_icmp++;
        return;
    }
    if (type == 3 && code == 4) { /* fragmentation needed: a smaller MSS */
        if (mtu >= 68 + IP_HDR + TCP_HDR - 20 && mtu < ip->cfg.mtu) {
            uint32_t m = (uint32_t)mtu - IP_HDR - TCP_HDR;
            if (m < t->mss) {
                t->mss = (uint16_t)(m < 64 ? 64 : m);
                t->snd_nxt = t->snd_una;
                tcp_output(ip, s);
            }
        }
        return;
    }
    int err = GK_IP_EHOSTUNREACH;
    if (type == 3 && (code == 2 || code == 3))
        err = GK_IP_ECONNREFUSED;
    if (type != 3)
        err = GK_IP_EHOSTUNREACH;
    if (t->state == TCP_SYN_SENT && type == 3 && (code == 2 || code == 3)) {
        tcp_drop(ip, s, err); /* a hard error while connecting */
        return;
    }
    s->soft_error = err; /* reported if the connection times out (RFC 1122 4.2.3.9) */
}
