/*
 * guest-kit's TCP/IP stack (docs/net.md, "The stack"): Ethernet, ARP, IPv4
 * with bounded reassembly of fragments, ICMP echo and errors, UDP and TCP,
 * behind a sockets-like API. Plain C over two small interfaces — a driver
 * that sends and receives Ethernet frames and a clock — so the same files
 * run in a domain (over virtio-net or netback's front end, gk/net.h) and in
 * host tests (two stacks over a simulated lossy link).
 *
 * One stack is one interface with one IPv4 address. It is single-threaded:
 * every call on a stack (and its sockets) must come from one thread at a
 * time; nothing here takes a lock.
 *
 * Memory is bounded and chosen at gk_ip_create: a table of sockets_max
 * sockets, per TCP connection a send and a receive buffer of fixed size
 * (allocated when the connection starts, freed when it ends or enters
 * TIME-WAIT), per UDP socket a receive queue of fixed size, reassembly_slots
 * datagrams of at most 64 KiB being reassembled, an ARP cache of
 * arp_entries entries. Nothing a peer sends can make the stack allocate
 * beyond that: a connection request when the listener's backlog is full is
 * dropped, a fragment when every slot is busy is dropped, data beyond the
 * advertised window is dropped.
 *
 * Every frame is hostile: each header is checked against the bytes present
 * (lengths, checksums, option lengths) before anything is read from it; a
 * bad frame is counted in gk_ip_stats and dropped, and changes nothing.
 *
 * TCP: RFC 9293 state machine with RFC 5961 checks of RST and SYN (challenge
 * ACKs), MSS option (no window scaling, timestamps or SACK: windows are at
 * most 65535 bytes), RTO estimation per RFC 6298 (Karn's rule, exponential
 * back-off; the minimum is tcp_rto_min_ms, 200 ms by default, as Linux does,
 * where RFC 6298 recommends 1 s), slow start and congestion avoidance with
 * fast retransmit and NewReno recovery (RFC 5681, 6582), delayed ACKs (every
 * second full segment or after tcp_delack_ms, at once for out-of-order
 * data), zero-window probes, Nagle's algorithm (off with GK_SOCK_NODELAY),
 * receiver silly-window avoidance, FIN in both directions, TIME-WAIT of
 * 2 MSL (an old TIME-WAIT connection is recycled when the socket table is
 * full), out-of-order segments kept in the receive buffer (at most
 * GK_TCP_OOO_RANGES ranges).
 */
#ifndef GK_IPSTACK_H
#define GK_IPSTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Status codes: 0 or a positive count on success, one of these on failure. */
enum gk_ip_status {
    GK_IP_OK = 0,
    GK_IP_EAGAIN = -1,         /* would block (non-blocking), or a deadline passed */
    GK_IP_EINVAL = -2,         /* bad argument or wrong socket state for the call */
    GK_IP_ENOMEM = -3,         /* a bounded table or buffer is full */
    GK_IP_EADDRINUSE = -4,     /* the port is bound already */
    GK_IP_ENOTCONN = -5,       /* not connected */
    GK_IP_ECONNREFUSED = -6,   /* RST to our SYN, or ICMP port/protocol unreachable */
    GK_IP_ECONNRESET = -7,     /* the peer reset the connection */
    GK_IP_ETIMEDOUT = -8,      /* retransmissions exhausted */
    GK_IP_EINPROGRESS = -9,    /* non-blocking connect started */
    GK_IP_EBADF = -10,         /* not a socket (or a closed one) */
    GK_IP_EMSGSIZE = -11,      /* datagram too large */
    GK_IP_EPIPE = -12,         /* sending after shutdown or close */
    GK_IP_EISCONN = -13,       /* connected already */
    GK_IP_EADDRNOTAVAIL = -14, /* no free ephemeral port */
    GK_IP_EHOSTUNREACH = -15,  /* ICMP unreachable (host, net) or ARP failed */
};

/* Host-order IPv4 address from its four parts: GK_IP4(192, 0, 2, 1). */
#define GK_IP4(a, b, c, d)                                                                         \
    (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

#define GK_IP_FOREVER UINT64_MAX
#define GK_TCP_OOO_RANGES 4u
#define GK_IP_MTU_MIN 576u
#define GK_IP_MTU_MAX 1500u

/* The interface below the stack. send: one Ethernet frame (14..1514 bytes,
 * no FCS); 0 if taken, negative if not (the stack counts it and treats the
 * frame as lost: TCP retransmits). recv: one frame into buf without
 * waiting; 0 and *len, or negative if none. wait: sleep until a frame may
 * have arrived or deadline_ns (system time) passed; may return early.
 * now_ns: the clock (monotonic nanoseconds). Every pointer may be NULL
 * except send and now_ns: without recv the owner calls gk_ip_input itself,
 * without wait the stack polls. */
struct gk_ip_driver {
    void *ctx;
    int (*send)(void *ctx, const void *frame, size_t len);
    int (*recv)(void *ctx, void *buf, size_t cap, size_t *len);
    void (*wait)(void *ctx, uint64_t deadline_ns);
    uint64_t (*now_ns)(void *ctx);
};

/* Configuration; gk_ip_config_default fills the defaults. Addresses are in
 * host order (GK_IP4). */
struct gk_ip_config {
    uint8_t mac[6];
    uint32_t addr, netmask, gateway; /* gateway 0: only on-link peers */
    uint16_t mtu;                    /* GK_IP_MTU_MIN..MAX, default 1500 */
    uint16_t port_lo, port_hi;       /* ephemeral ports (an RSIP lease), default 49152..65535 */
    uint32_t sockets_max;            /* default 32, at most 4096 */
    uint32_t tcp_sndbuf, tcp_rcvbuf; /* per connection, 1024..65535, default 32768 */
    uint32_t udp_rcvbuf;             /* queued bytes per UDP socket, default 16384 */
    uint32_t reassembly_slots;       /* datagrams reassembled at once, default 4, at most 64 */
    uint32_t reassembly_timeout_ms;  /* default 15000 */
    uint32_t arp_entries;            /* default 16, at most 256 */
    uint32_t tcp_rto_min_ms;         /* default 200 */
    uint32_t tcp_rto_initial_ms;     /* default 1000 (RFC 6298) */
    uint32_t tcp_delack_ms;          /* default 40 */
    uint32_t tcp_msl_ms;             /* default 30000: TIME-WAIT lasts twice that */
    uint32_t tcp_retries_max;     /* retransmissions of one segment before ETIMEDOUT, default 10 */
    uint32_t tcp_syn_retries_max; /* SYN retransmissions before ETIMEDOUT, default 5 */
    uint32_t icmp_errors_per_s;   /* ICMP errors sent, token bucket rate and burst, default 100 */
    uint64_t seed;                /* initial sequence numbers and port choice */
    /* RSIP (docs/net.md): several domains share this address, each owning
     * some ports. Traffic to our own address is sent out of the interface
     * (the router delivers it to whoever holds the port) instead of looped
     * back, and packets from our own address are accepted. */
    bool rsip;
};

void gk_ip_config_default(struct gk_ip_config *c);

struct gk_ip;

/* A stack over drv; NULL if the configuration is out of range or memory is
 * short. The configuration is copied. */
struct gk_ip *gk_ip_create(const struct gk_ip_config *c, const struct gk_ip_driver *drv);
/* Frees everything; open connections vanish without a word to their peers. */
void gk_ip_destroy(struct gk_ip *ip);

/* One received Ethernet frame (checked, then acted on). */
void gk_ip_input(struct gk_ip *ip, const void *frame, size_t len);
/* Takes what the driver has received (at most 64 frames), runs the timers
 * and sends what is due. Returns the next deadline (system time) at which
 * a timer wants to run, GK_IP_FOREVER if none. */
uint64_t gk_ip_poll(struct gk_ip *ip);
/* gk_ip_poll, then, if nothing arrived, the driver's wait until the earlier
 * of deadline_ns and the next timer. */
void gk_ip_run(struct gk_ip *ip, uint64_t deadline_ns);

/* Addresses and time. */
void gk_ip_set_addr(struct gk_ip *ip, uint32_t addr, uint32_t netmask, uint32_t gateway);
uint32_t gk_ip_addr(const struct gk_ip *ip);
uint64_t gk_ip_now(const struct gk_ip *ip);

struct gk_ip_stats {
    uint64_t rx_frames, tx_frames, tx_dropped; /* tx_dropped: the driver refused */
    uint64_t rx_bad_eth, rx_bad_arp, rx_bad_ip, rx_bad_csum, rx_not_ours, rx_bad_icmp, rx_bad_udp,
        rx_bad_tcp;
    uint64_t arp_requests, arp_replies, arp_failed;
    uint64_t frags_in, reassembled, reassembly_dropped, reassembly_timeouts, frags_out;
    uint64_t icmp_echo_replied, icmp_errors_in, icmp_errors_out, icmp_rate_limited;
    uint64_t udp_in, udp_out, udp_no_port, udp_queue_full;
    uint64_t tcp_in, tcp_out, tcp_retransmits, tcp_fast_retransmits, tcp_timeouts, tcp_rst_in,
        tcp_rst_out, tcp_challenge_acks, tcp_dup_acks, tcp_ooo_segments, tcp_ooo_dropped,
        tcp_out_of_window, tcp_backlog_full, tcp_accepted, tcp_connected, tcp_time_wait_recycled;
};
void gk_ip_get_stats(const struct gk_ip *ip, struct gk_ip_stats *out);

/* ---- Sockets -------------------------------------------------------------- */

enum gk_sock_type { GK_SOCK_STREAM = 1, GK_SOCK_DGRAM = 2 };

struct gk_sockaddr {
    uint32_t addr; /* host order */
    uint16_t port;
};

/* Options (gk_sock_set). */
enum gk_sock_opt {
    GK_SOCK_NONBLOCK = 1,   /* 0/1: calls return GK_IP_EAGAIN instead of waiting */
    GK_SOCK_NODELAY = 2,    /* 0/1: TCP without Nagle's algorithm */
    GK_SOCK_TIMEOUT_MS = 3, /* blocking calls give up with GK_IP_EAGAIN after this; 0 = never */
};

/* A new socket (a small non-negative handle) or a status. */
int gk_sock_open(struct gk_ip *ip, enum gk_sock_type type);
int gk_sock_set(struct gk_ip *ip, int s, enum gk_sock_opt opt, uint32_t value);
/* Binds our address's port (0: an ephemeral one). */
int gk_sock_bind(struct gk_ip *ip, int s, uint16_t port);
int gk_sock_listen(struct gk_ip *ip, int s, unsigned backlog);
/* An established connection from the listener's queue: a new socket, with
 * the peer in *peer (may be NULL). */
int gk_sock_accept(struct gk_ip *ip, int s, struct gk_sockaddr *peer);
/* TCP: starts the handshake (non-blocking: GK_IP_EINPROGRESS; wait for
 * GK_POLLOUT, then gk_sock_error). UDP: sets the default peer and accepts
 * datagrams only from it. */
int gk_sock_connect(struct gk_ip *ip, int s, const struct gk_sockaddr *to);
/* Bytes queued (TCP: at least one, or a status) / datagram sent. */
long gk_sock_send(struct gk_ip *ip, int s, const void *buf, size_t len);
/* Bytes read; 0 at the end of a TCP stream (the peer's FIN). For UDP one
 * datagram, truncated to len. */
long gk_sock_recv(struct gk_ip *ip, int s, void *buf, size_t len);
long gk_sock_sendto(struct gk_ip *ip, int s, const void *buf, size_t len,
                    const struct gk_sockaddr *to);
long gk_sock_recvfrom(struct gk_ip *ip, int s, void *buf, size_t len, struct gk_sockaddr *from);
/* TCP: no more sending (our FIN goes once the queued data is sent). */
int gk_sock_shutdown_write(struct gk_ip *ip, int s);
/* Releases the handle. TCP: an orderly close (FIN after the queued data;
 * the connection lingers in the background until it is done) unless
 * unread data is left, which resets it (RFC 2525). */
int gk_sock_close(struct gk_ip *ip, int s);
/* The pending error of a socket (cleared), 0 if none. */
int gk_sock_error(struct gk_ip *ip, int s);
/* Local and peer address of a socket. */
int gk_sock_name(struct gk_ip *ip, int s, struct gk_sockaddr *local, struct gk_sockaddr *peer);
/* TCP: bytes in the send buffer not yet acknowledged. */
long gk_sock_unacked(struct gk_ip *ip, int s);

/* Waiting on several sockets. */
#define GK_POLLIN 1u  /* data (or the end of the stream), a connection to accept */
#define GK_POLLOUT 2u /* room to send; a connect finished (successfully or not) */
#define GK_POLLERR 4u /* an error is pending (gk_sock_error) */
#define GK_POLLHUP 8u /* the connection is over */
struct gk_pollfd {
    int s;
    uint32_t events, revents;
};
/* Fills revents; returns how many sockets are ready, waiting (through the
 * driver) until one is or deadline_ns passes (0 if none by then). A bad
 * handle sets GK_POLLERR on its entry. */
int gk_sock_poll(struct gk_ip *ip, struct gk_pollfd *fds, size_t n, uint64_t deadline_ns);

/* A name for a status (for messages). */
const char *gk_ip_strerror(int status);

#endif
