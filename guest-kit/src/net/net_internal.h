/*
 * Internals of guest-kit's TCP/IP stack (gk/ipstack.h), shared by its files:
 *
 *   stack.c    creation, configuration, the frame dispatcher, polling, timers
 *   arp.c      the ARP cache, requests and replies, frames awaiting resolution
 *   ipv4.c     IPv4 input and output, fragmentation, bounded reassembly
 *   icmp.c     echo replies, errors sent (rate-limited) and received
 *   udp.c      UDP sockets: datagrams in and out, the receive queues
 *   tcp_in.c   TCP segment arrival (RFC 9293 3.10.7 with RFC 5961)
 *   tcp_out.c  TCP output: segments, window, Nagle, retransmission, RST
 *   tcp.c      TCP connections: creation, timers, RTO, closing, TIME-WAIT
 *   socket.c   the sockets API and gk_sock_poll
 *
 * Not thread-safe (the whole stack is used by one thread at a time).
 * Every multi-byte field on the wire is read and written through get16/
 * put16/get32/put32 (network order, unaligned).
 */
#ifndef GK_NET_INTERNAL_H
#define GK_NET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gk/heap.h" /* malloc & co. in a domain (<stdlib.h> on the host) */
#include "gk/ipstack.h"

#define ETH_HDR 14u
#define ETH_FRAME_MAX 1514u
#define ETH_TYPE_IPV4 0x0800u
#define ETH_TYPE_ARP 0x0806u
#define IP_HDR 20u
#define IP_MAX 65535u
#define IP_PROTO_ICMP 1u
#define IP_PROTO_TCP 6u
#define IP_PROTO_UDP 17u
#define IP_DEFAULT_TTL 64u
#define UDP_HDR 8u
#define TCP_HDR 20u
#define ICMP_HDR 8u

#define TCP_FIN 0x01u
#define TCP_SYN 0x02u
#define TCP_RST 0x04u
#define TCP_PSH 0x08u
#define TCP_ACK 0x10u
#define TCP_URG 0x20u

#define NS_PER_MS 1000000ull

static inline uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Sequence-number comparisons modulo 2^32 (RFC 9293 3.4). */
#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b) SEQ_LT(b, a)
#define SEQ_GEQ(a, b) SEQ_LEQ(b, a)

/* ---- Checksums (stack.c) ---------------------------------------------------- */

/* The ones'-complement sum of len bytes added to sum (not folded). */
uint32_t net_sum(uint32_t sum, const uint8_t *p, size_t len);
/* Folds and complements. */
uint16_t net_fold(uint32_t sum);
/* The pseudo-header sum for TCP/UDP over IPv4. */
uint32_t net_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint32_t len);

/* ---- ARP ---------------------------------------------------------------------- */

enum arp_state { ARP_FREE = 0, ARP_PENDING, ARP_READY };

struct arp_entry {
    uint8_t state, tries;
    uint8_t mac[6];
    uint32_t ip;
    uint64_t expires_at; /* READY: forget after; PENDING: next request */
    uint64_t used_at;
};

/* IP packets waiting for their next hop's address: ARPQ_MAX of them for the
 * whole stack, at most ARPQ_PER_HOP per next hop, sent in order once it
 * answers, dropped (counted in tx_dropped) when it does not. */
#define ARPQ_MAX 16u
#define ARPQ_PER_HOP 8u
struct arpq {
    uint8_t *data; /* ARPQ_MAX packets of ETH_FRAME_MAX - ETH_HDR bytes */
    uint32_t nh[ARPQ_MAX];
    uint16_t len[ARPQ_MAX];   /* 0: free */
    uint32_t order[ARPQ_MAX]; /* FIFO order among the waiting packets */
    uint32_t next_order;
};

/* ---- Reassembly ------------------------------------------------------------- */

struct reasm_slot {
    bool used;
    uint8_t proto;
    uint16_t id;
    uint32_t src, dst;
    uint32_t total; /* payload length once the last fragment came, else 0 */
    uint32_t have;  /* payload bytes present */
    uint64_t deadline;
    uint8_t *data;           /* IP_MAX bytes of payload, then the bitmap of 8-byte units */
    uint8_t hdr[IP_HDR + 8]; /* the first fragment's header and 8 bytes, for ICMP */
    uint16_t hdr_len;
};
#define REASM_UNITS (IP_MAX / 8u + 1u)
#define REASM_BYTES (IP_MAX + REASM_UNITS / 8u + 1u)

/* ---- Sockets and TCP -------------------------------------------------------- */

enum tcp_state {
    TCP_CLOSED = 0,
    TCP_LISTEN,
    TCP_SYN_SENT,
    TCP_SYN_RCVD,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT_1,
    TCP_FIN_WAIT_2,
    TCP_CLOSE_WAIT,
    TCP_CLOSING,
    TCP_LAST_ACK,
    TCP_TIME_WAIT,
};

struct seq_range {
    uint32_t start, end; /* [start, end) */
};

struct tcb {
    uint8_t state;
    uint32_t iss, irs;
    /* Send side. The send buffer holds the bytes from snd_buf_seq on
     * (unacknowledged, then unsent); snd_head indexes its ring. */
    uint32_t snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2, snd_wnd_max;
    uint32_t snd_buf_seq, snd_head, snd_len;
    bool fin_queued; /* no more data from the user: FIN after the buffer */
    /* Receive side. The receive ring holds rcv_len in-order bytes from
     * rcv_head; out-of-order ranges beyond rcv_nxt sit at their offsets. */
    uint32_t rcv_nxt, rcv_adv;
    uint32_t rcv_head, rcv_len;
    struct seq_range ooo[GK_TCP_OOO_RANGES];
    uint8_t ooo_count;
    bool fin_received, ooo_fin;
    uint32_t ooo_fin_seq;
    uint16_t mss;
    /* Congestion control (RFC 5681, 6582). */
    uint32_t cwnd, ssthresh, recover;
    uint8_t dupacks;
    bool in_recovery;
    /* RTT and RTO (RFC 6298), in ns. */
    uint64_t srtt, rttvar, rto;
    bool rtt_valid, timing;
    uint32_t rtt_seq;
    uint64_t rtt_start;
    /* Timers: 0 = not armed. */
    uint64_t rexmit_at, persist_at, delack_at, end_at; /* end_at: TIME-WAIT or orphan limit */
    uint8_t retries, persist_shift;
    uint8_t segs_unacked; /* full segments received since our last ACK */
    bool ack_now, output_blocked;
    uint64_t accept_order;
    uint8_t *snd_buf, *rcv_buf; /* one allocation: snd then rcv */
};

struct udp_queue {
    uint8_t *buf;
    uint32_t head, len; /* records: addr(4) port(2) len(2) data */
    uint32_t count;
};

struct sock {
    bool used;
    bool orphan; /* the user closed the handle; TCP finishes in the background */
    bool nonblock, nodelay, bound, connected, listening, shut_wr;
    uint8_t type;
    uint16_t gen;
    uint32_t timeout_ms;
    uint16_t lport, rport;
    uint32_t raddr;
    int error;      /* reported by the next call (gk_sock_error) */
    int soft_error; /* TCP: an ICMP error, reported if the connection times out */
    /* Listener: children (SYN-RCVD or established, not accepted yet) name it. */
    uint16_t backlog, children;
    int32_t parent; /* index of the listener, -1 if none */
    uint16_t parent_gen;
    struct udp_queue uq;
    struct tcb t;
};

/* ---- The stack -------------------------------------------------------------- */

struct gk_ip {
    struct gk_ip_config cfg;
    struct gk_ip_driver drv;
    uint64_t now;
    struct gk_ip_stats st;
    uint16_t ip_id;
    uint64_t rng;
    uint16_t next_port;
    uint64_t accept_counter;
    /* ICMP error token bucket (tokens scaled by 1000). */
    uint64_t icmp_tokens, icmp_refill_at;
    struct arp_entry *arp;
    struct arpq arpq;
    struct reasm_slot *reasm;
    struct sock *socks;
    uint8_t tx[ETH_FRAME_MAX]; /* the frame being built */
    uint8_t rx[ETH_FRAME_MAX]; /* driver recv buffer */
    bool tx_refused;           /* the driver refused a frame during this poll */
    uint8_t *loop;             /* LOOP_MAX packets of up to the MTU, each after a 2-byte length */
    uint32_t loop_head, loop_count;
};
#define LOOP_MAX 16u
#define LOOP_SLOT (2u + GK_IP_MTU_MAX)

uint64_t net_random(struct gk_ip *ip);
void net_send_frame(struct gk_ip *ip, const uint8_t *dst_mac, uint16_t type, size_t payload_len);

/* arp.c */
bool arp_init(struct gk_ip *ip);
void arp_fini(struct gk_ip *ip);
void arp_input(struct gk_ip *ip, const uint8_t *p, size_t len);
/* Sends the IP packet at ip->tx + ETH_HDR (len bytes) to next hop nh:
 * now if its address is known, else after resolution (struct arpq). */
void arp_output(struct gk_ip *ip, uint32_t nh, size_t len);
void arp_timers(struct gk_ip *ip, uint64_t *next);

/* ipv4.c */
bool ipv4_init(struct gk_ip *ip);
void ipv4_fini(struct gk_ip *ip);
void ipv4_input(struct gk_ip *ip, const uint8_t *p, size_t len);
/* Builds the IP header in front of the payload already at ip->tx +
 * ETH_HDR + IP_HDR (len bytes) and sends it (fragmented if df is false and
 * it does not fit the MTU; refused with GK_IP_EMSGSIZE if df). */
int ipv4_output(struct gk_ip *ip, uint32_t dst, uint8_t proto, size_t len, bool df);
/* A transport datagram of two pieces (header, data) that may be larger than
 * the MTU: sent in fragments. */
int ipv4_output_frags(struct gk_ip *ip, uint32_t dst, uint8_t proto, const uint8_t *hdr,
                      size_t hdr_len, const uint8_t *data, size_t data_len);
void ipv4_timers(struct gk_ip *ip, uint64_t *next);
/* Packets we sent to our own address (not in RSIP mode) wait here and are
 * taken in by gk_ip_poll, so that a conversation with ourselves never
 * recurses. */
void ipv4_loopback_run(struct gk_ip *ip);

/* icmp.c */
void icmp_input(struct gk_ip *ip, uint32_t src, uint32_t dst, const uint8_t *p, size_t len);
/* An ICMP error about the IP packet pkt (its header and the bytes after). */
void icmp_send_error(struct gk_ip *ip, uint8_t type, uint8_t code, const uint8_t *pkt,
                     size_t pkt_len);

/* udp.c */
/* quote: the IP header and at least the first 8 bytes after it (for an ICMP
 * error about this datagram). */
void udp_input(struct gk_ip *ip, uint32_t src, uint32_t dst, bool bcast, const uint8_t *quote,
               size_t quote_len, const uint8_t *p, size_t len);
void udp_icmp_error(struct gk_ip *ip, uint32_t dst, uint16_t sport, uint16_t dport, int err);
long udp_sendto(struct gk_ip *ip, struct sock *s, const void *buf, size_t len, uint32_t dst,
                uint16_t dport);
long udp_recvfrom(struct gk_ip *ip, struct sock *s, void *buf, size_t len,
                  struct gk_sockaddr *from);

/* tcp*.c */
void tcp_input(struct gk_ip *ip, uint32_t src, uint32_t dst, const uint8_t *p, size_t len);
void tcp_icmp_error(struct gk_ip *ip, uint32_t dst, uint16_t sport, uint16_t dport, uint32_t seq,
                    uint8_t type, uint8_t code, uint16_t mtu);
void tcp_timers(struct gk_ip *ip, uint64_t *next);
void tcp_output(struct gk_ip *ip, struct sock *s);
void tcp_send_ack(struct gk_ip *ip, struct sock *s);
void tcp_send_syn(struct gk_ip *ip, struct sock *s);
void tcp_send_rst_for(struct gk_ip *ip, uint32_t src, uint32_t dst, const uint8_t *seg,
                      size_t seg_len, size_t data_len);
void tcp_send_rst(struct gk_ip *ip, struct sock *s);
void tcp_send_probe(struct gk_ip *ip, struct sock *s);
void tcp_retransmit_first(struct gk_ip *ip, struct sock *s);
bool tcp_conn_alloc(struct gk_ip *ip, struct sock *s);
void tcp_conn_init_send(struct gk_ip *ip, struct sock *s);
void tcp_set_state(struct gk_ip *ip, struct sock *s, enum tcp_state st);
/* Ends a connection: the socket's error becomes err (0: none); an orphan
 * is freed, else the handle stays valid with the state CLOSED. */
void tcp_drop(struct gk_ip *ip, struct sock *s, int err);
void tcp_rtt_sample(struct gk_ip *ip, struct sock *s, uint64_t rtt);
uint32_t tcp_rcv_window(const struct sock *s);
uint64_t tcp_rto_backoff(const struct gk_ip *ip, const struct sock *s);
int tcp_connect(struct gk_ip *ip, struct sock *s, uint32_t addr, uint16_t port);
long tcp_send(struct gk_ip *ip, struct sock *s, const void *buf, size_t len);
long tcp_recv(struct gk_ip *ip, struct sock *s, void *buf, size_t len);
void tcp_close(struct gk_ip *ip, struct sock *s);
void tcp_shutdown_write(struct gk_ip *ip, struct sock *s);
uint32_t tcp_initial_seq(struct gk_ip *ip, uint32_t raddr, uint16_t lport, uint16_t rport);

/* socket.c */
struct sock *sock_lookup_tcp(struct gk_ip *ip, uint32_t raddr, uint16_t lport, uint16_t rport);
struct sock *sock_lookup_udp(struct gk_ip *ip, uint32_t raddr, uint16_t lport, uint16_t rport);
struct sock *sock_alloc(struct gk_ip *ip, uint8_t type);
void sock_free(struct gk_ip *ip, struct sock *s);
bool sock_port_in_use(struct gk_ip *ip, uint8_t type, uint16_t port);
static inline int32_t sock_index(const struct gk_ip *ip, const struct sock *s)
{
    return (int32_t)(s - ip->socks);
}

#endif
