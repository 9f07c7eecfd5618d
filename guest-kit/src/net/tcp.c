/*
 * TCP connections (gk/ipstack.h): buffers, initial sequence numbers,
 * states, the RTO (RFC 6298), the timers (retransmission, persist, delayed
 * ACK, TIME-WAIT and orphan limits) and the user calls connect, send,
 * recv, shutdown and close. Segment arrival is tcp_in.c, segment output
 * tcp_out.c.
 *
 * Memory per connection: one allocation of tcp_sndbuf + tcp_rcvbuf bytes,
 * made when the connection starts (connect, or a SYN a listener accepts
 * into its backlog) and freed when it is closed or enters TIME-WAIT (a
 * TIME-WAIT connection keeps only its socket slot).
 *
 * Orphans (handles the user closed while the connection still has work:
 * sending data and FIN, waiting for the peer's FIN) end at the latest
 * ORPHAN_LIMIT after the close, with a RST if they were not done.
 */
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

#define RTO_MAX_NS (60000ull * NS_PER_MS)
#define ORPHAN_LIMIT_NS (60000ull * NS_PER_MS)
#define CLOCK_GRANULARITY_NS (1ull * NS_PER_MS)

/* RFC 6528: a keyed hash of the connection plus a clock ticking every 4 us. */
uint32_t tcp_initial_seq(struct gk_ip *ip, uint32_t raddr, uint16_t lport, uint16_t rport)
{
    uint64_t h = ip->cfg.seed ^ 0xcbf29ce484222325ull;
    uint64_t parts[3] = {raddr, ((uint64_t)lport << 16) | rport, ip->cfg.addr};
    for (int i = 0; i < 3; i++) {
        h ^= parts[i];
        h *= 0x100000001b3ull;
        h ^= h >> 29;
    }
    return (uint32_t)(h ^ (h >> 32)) + (uint32_t)(ip->now / 4000);
}

bool tcp_conn_alloc(struct gk_ip *ip, struct sock *s)
{
    struct tcb *t = &s->t;
    memset(t, 0, sizeof *t);
    t->snd_buf = malloc((size_t)ip->cfg.tcp_sndbuf + ip->cfg.tcp_rcvbuf);
    if (t->snd_buf == NULL)
        return false;
    t->rcv_buf = t->snd_buf + ip->cfg.tcp_sndbuf;
    t->mss = 536;
    t->rto = (uint64_t)ip->cfg.tcp_rto_initial_ms * NS_PER_MS;
    t->ssthresh = 65535;
    return true;
}

static void free_buffers(struct sock *s)
{
    free(s->t.snd_buf);
    s->t.snd_buf = NULL;
    s->t.rcv_buf = NULL;
    s->t.rcv_len = 0;
    s->t.snd_len = 0;
}

/* The connection needs its buffers no more: they go, unless received data
 * the user has not read yet is in them (then tcp_recv frees them once it
 * is read, or gk_sock_close does). */
static void release_buffers(struct sock *s)
{
    if (s->t.rcv_len == 0 || s->orphan || s->parent >= 0)
        free_buffers(s);
}

/* Sequence numbers for a connection that sends its SYN now. */
void tcp_conn_init_send(struct gk_ip *ip, struct sock *s)
{
    struct tcb *t = &s->t;
    t->iss = tcp_initial_seq(ip, s->raddr, s->lport, s->rport);
    t->snd_una = t->snd_nxt = t->snd_max = t->iss;
    t->snd_buf_seq = t->iss + 1;
    t->recover = t->iss;
    uint32_t mss = (uint32_t)ip->cfg.mtu - IP_HDR - TCP_HDR;
    t->cwnd = (mss > 2190 ? 2 : mss > 1095 ? 3 : 4) * mss; /* RFC 5681 IW */
}

static void cancel_timers(struct tcb *t)
{
    t->rexmit_at = t->persist_at = t->delack_at = 0;
}

void tcp_set_state(struct gk_ip *ip, struct sock *s, enum tcp_state st)
{
    s->t.state = (uint8_t)st;
    if (st == TCP_TIME_WAIT) {
        cancel_timers(&s->t);
        release_buffers(s);
        s->t.snd_len = 0;
        s->t.end_at = ip->now + 2ull * ip->cfg.tcp_msl_ms * NS_PER_MS;
    } else if (st == TCP_FIN_WAIT_2 && s->orphan) {
        s->t.end_at = ip->now + ORPHAN_LIMIT_NS;
    }
}

static struct sock *parent_of(struct gk_ip *ip, struct sock *s)
{
    if (s->parent < 0)
        return NULL;
    struct sock *l = &ip->socks[s->parent];
    if (!l->used || l->gen != s->parent_gen)
        return NULL;
    return l;
}

void tcp_drop(struct gk_ip *ip, struct sock *s, int err)
{
    cancel_timers(&s->t);
    if (err) /* reset or timed out: what was not read is lost (as in Linux) */
        free_buffers(s);
    else
        release_buffers(s);
    s->t.state = TCP_CLOSED;
    s->t.end_at = 0;
    struct sock *l = parent_of(ip, s);
    if (s->parent >= 0) { /* never accepted: nobody holds a handle */
        if (l && l->children)
            l->children--;
        sock_free(ip, s);
        return;
    }
    if (s->orphan) {
        sock_free(ip, s);
        return;
    }
    if (err)
        s->error = err;
}

/* RFC 6298 2.2-2.4, with the RTO floor cfg.tcp_rto_min_ms. */
void tcp_rtt_sample(struct gk_ip *ip, struct sock *s, uint64_t r)
{
    struct tcb *t = &s->t;
    if (!t->rtt_valid) {
        t->srtt = r;
        t->rttvar = r / 2;
        t->rtt_valid = true;
    } else {
        uint64_t d = t->srtt > r ? t->srtt - r : r - t->srtt;
        t->rttvar = (3 * t->rttvar + d) / 4; /* beta 1/4 */
        t->srtt = (7 * t->srtt + r) / 8;     /* alpha 1/8 */
    }
    uint64_t k = 4 * t->rttvar;
    uint64_t rto = t->srtt + (k > CLOCK_GRANULARITY_NS ? k : CLOCK_GRANULARITY_NS);
    uint64_t lo = (uint64_t)ip->cfg.tcp_rto_min_ms * NS_PER_MS;
    t->rto = rto < lo ? lo : rto > RTO_MAX_NS ? RTO_MAX_NS : rto;
}

/* The RTO doubled for each retransmission so far (RFC 6298 5.5), at most 60 s. */
uint64_t tcp_rto_backoff(const struct gk_ip *ip, const struct sock *s)
{
    (void)ip;
    uint64_t rto = s->t.rto;
    for (uint8_t i = 0; i < s->t.retries && rto < RTO_MAX_NS; i++)
        rto *= 2;
    return rto > RTO_MAX_NS ? RTO_MAX_NS : rto;
}

static void rexmit_timeout(struct gk_ip *ip, struct sock *s)
{
    struct tcb *t = &s->t;
    bool syn = t->state == TCP_SYN_SENT || t->state == TCP_SYN_RCVD;
    uint32_t limit = syn ? ip->cfg.tcp_syn_retries_max : ip->cfg.tcp_retries_max;
    if (t->retries >= limit) {
        ip->st.tcp_timeouts++;
        if (!syn)
            tcp_send_rst(ip, s);
        tcp_drop(ip, s, s->soft_error ? s->soft_error : GK_IP_ETIMEDOUT);
        return;
    }
    t->retries++;
    ip->st.tcp_retransmits++;
    t->timing = false; /* Karn: no sample from a retransmitted segment */
    if (syn) {
        tcp_send_syn(ip, s);
        return;
    }
    uint32_t flight = t->snd_max - t->snd_una;
    uint32_t half = flight / 2;
    t->ssthresh = half > 2u * t->mss ? half : 2u * t->mss;
    t->cwnd = t->mss; /* the loss window (RFC 5681 3.1) */
    t->in_recovery = false;
    t->dupacks = 0;
    t->recover = t->snd_max;
    t->snd_nxt = t->snd_una; /* go back: resend from the first unacknowledged byte */
    t->rexmit_at = 0;
    tcp_output(ip, s);
    if (t->rexmit_at == 0 && t->snd_una != t->snd_max)
        t->rexmit_at = ip->now + tcp_rto_backoff(ip, s);
}

static void persist_timeout(struct gk_ip *ip, struct sock *s)
{
    struct tcb *t = &s->t;
    t->persist_at = 0;
    uint32_t off = t->snd_nxt - t->snd_buf_seq;
    if (t->snd_wnd != 0 || off >= t->snd_len) {
        tcp_output(ip, s);
        return;
    }
    /* A one-byte probe beyond the closed window; snd_nxt stays (the byte
     * is sent again normally once the window opens). */
    tcp_send_probe(ip, s);
    if (t->persist_shift < 10)
        t->persist_shift++;
    uint64_t d = t->rto << t->persist_shift;
    t->persist_at = ip->now + (d > RTO_MAX_NS ? RTO_MAX_NS : d);
}

static void min_deadline(uint64_t *next, uint64_t at)
{
    if (at != 0 && at < *next)
        *next = at;
}

static void conn_timers(struct gk_ip *ip, struct sock *s, uint64_t *next)
{
    struct tcb *t = &s->t;
    uint64_t now = ip->now;
    if (t->end_at != 0 && now >= t->end_at) {
        if (t->state != TCP_TIME_WAIT) {
            ip->st.tcp_timeouts++;
            tcp_send_rst(ip, s);
        }
        tcp_drop(ip, s, 0);
        return;
    }
    if (t->rexmit_at != 0 && now >= t->rexmit_at) {
        rexmit_timeout(ip, s);
        if (!s->used || t->state == TCP_CLOSED)
            return;
    }
    if (t->persist_at != 0 && now >= t->persist_at)
        persist_timeout(ip, s);
    if (t->delack_at != 0 && now >= t->delack_at) {
        t->delack_at = 0;
        tcp_send_ack(ip, s);
    }
    if (t->output_blocked) { /* the driver refused a frame: try again */
        t->output_blocked = false;
        tcp_output(ip, s);
        if (t->output_blocked)
            *next = now + NS_PER_MS;
    }
    min_deadline(next, t->end_at);
    min_deadline(next, t->rexmit_at);
    min_deadline(next, t->persist_at);
    min_deadline(next, t->delack_at);
}

void tcp_timers(struct gk_ip *ip, uint64_t *next)
{
    for (uint32_t i = 0; i < ip->cfg.sockets_max; i++) {
        struct sock *s = &ip->socks[i];
        if (s->used && s->type == GK_SOCK_STREAM && s->t.state != TCP_CLOSED &&
            s->t.state != TCP_LISTEN)
            conn_timers(ip, s, next);
    }
}

/* ---- User calls ------------------------------------------------------------- */

int tcp_connect(struct gk_ip *ip, struct sock *s, uint32_t addr, uint16_t port)
{
    if (sock_lookup_tcp(ip, addr, s->lport, port) != NULL &&
        sock_lookup_tcp(ip, addr, s->lport, port)->t.state != TCP_LISTEN)
        return GK_IP_EADDRINUSE;
    if (!tcp_conn_alloc(ip, s))
        return GK_IP_ENOMEM;
    s->raddr = addr;
    s->rport = port;
    s->connected = true;
    s->t.mss = (uint16_t)(ip->cfg.mtu - IP_HDR - TCP_HDR);
    tcp_conn_init_send(ip, s);
    s->t.state = TCP_SYN_SENT;
    tcp_send_syn(ip, s);
    return GK_IP_EINPROGRESS;
}

long tcp_send(struct gk_ip *ip, struct sock *s, const void *buf, size_t len)
{
    struct tcb *t = &s->t;
    if (s->error) {
        int e = s->error;
        s->error = 0;
        return e;
    }
    if (s->shut_wr || t->fin_queued)
        return GK_IP_EPIPE;
    if (t->state == TCP_SYN_SENT || t->state == TCP_SYN_RCVD)
        return GK_IP_EAGAIN;
    if (t->state != TCP_ESTABLISHED && t->state != TCP_CLOSE_WAIT)
        return t->state == TCP_CLOSED ? GK_IP_ENOTCONN : GK_IP_EPIPE;
    uint32_t cap = ip->cfg.tcp_sndbuf;
    uint32_t room = cap - t->snd_len;
    if (room == 0)
        return GK_IP_EAGAIN;
    uint32_t n = len < room ? (uint32_t)len : room;
    uint32_t at = (t->snd_head + t->snd_len) % cap;
    uint32_t first = cap - at < n ? cap - at : n;
    memcpy(t->snd_buf + at, buf, first);
    memcpy(t->snd_buf, (const uint8_t *)buf + first, n - first);
    t->snd_len += n;
    tcp_output(ip, s);
    return (long)n;
}

long tcp_recv(struct gk_ip *ip, struct sock *s, void *buf, size_t len)
{
    struct tcb *t = &s->t;
    if (t->rcv_len > 0 && t->rcv_buf != NULL) {
        uint32_t cap = ip->cfg.tcp_rcvbuf;
        uint32_t n = len < t->rcv_len ? (uint32_t)len : t->rcv_len;
        uint32_t first = cap - t->rcv_head < n ? cap - t->rcv_head : n;
        memcpy(buf, t->rcv_buf + t->rcv_head, first);
        memcpy((uint8_t *)buf + first, t->rcv_buf, n - first);
        t->rcv_head = (t->rcv_head + n) % cap;
        t->rcv_len -= n;
        if (t->rcv_len == 0 && (t->state == TCP_TIME_WAIT || t->state == TCP_CLOSED)) {
            free_buffers(s); /* kept only for this data (release_buffers) */
            return (long)n;
        }
        /* A window update when the window opened by two segments or half
         * the buffer since we last advertised (RFC 1122 4.2.3.3). */
        uint32_t edge = t->rcv_nxt + (cap - t->rcv_len);
        uint32_t grow = SEQ_GT(edge, t->rcv_adv) ? edge - t->rcv_adv : 0;
        if (t->state != TCP_CLOSED && t->state != TCP_TIME_WAIT &&
            (grow >= 2u * t->mss || grow >= cap / 2))
            tcp_send_ack(ip, s);
        return (long)n;
    }
    if (s->error) {
        int e = s->error;
        s->error = 0;
        return e;
    }
    if (t->fin_received)
        return 0;
    if (t->state == TCP_CLOSED)
        return GK_IP_ENOTCONN;
    return GK_IP_EAGAIN;
}

void tcp_shutdown_write(struct gk_ip *ip, struct sock *s)
{
    struct tcb *t = &s->t;
    s->shut_wr = true;
    if (t->state == TCP_ESTABLISHED)
        tcp_set_state(ip, s, TCP_FIN_WAIT_1);
    else if (t->state == TCP_CLOSE_WAIT)
        tcp_set_state(ip, s, TCP_LAST_ACK);
    else
        return;
    t->fin_queued = true;
    tcp_output(ip, s);
}

void tcp_close(struct gk_ip *ip, struct sock *s)
{
    struct tcb *t = &s->t;
    switch (t->state) {
    case TCP_LISTEN:
        for (uint32_t i = 0; i < ip->cfg.sockets_max; i++) {
            struct sock *c = &ip->socks[i];
            if (c->used && c->parent == sock_index(ip, s) && c->parent_gen == s->gen) {
                tcp_send_rst(ip, c);
                tcp_drop(ip, c, 0);
            }
        }
        sock_free(ip, s);
        return;
    case TCP_CLOSED: sock_free(ip, s); return;
    case TCP_SYN_SENT:
    case TCP_SYN_RCVD:
        if (t->state == TCP_SYN_RCVD)
            tcp_send_rst(ip, s);
        s->orphan = true;
        tcp_drop(ip, s, 0);
        return;
    default: break;
    }
    s->orphan = true;
    if (t->state == TCP_TIME_WAIT) {
        free_buffers(s); /* unread data kept for the user, who gave up on it */
        return;
    }
    if (t->rcv_len > 0) {
        /* Unread data: the peer must learn it was not read (RFC 2525 2.17). */
        tcp_send_rst(ip, s);
        tcp_drop(ip, s, 0);
        return;
    }
    if (t->state == TCP_ESTABLISHED || t->state == TCP_CLOSE_WAIT)
        tcp_shutdown_write(ip, s);
    if (t->state != TCP_TIME_WAIT && (t->end_at == 0 || t->end_at > ip->now + ORPHAN_LIMIT_NS))
        t->end_at = ip->now + ORPHAN_LIMIT_NS;
}
