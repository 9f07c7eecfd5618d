/*
 * The sockets API of gk/ipstack.h over the stack: handles, binding and
 * ports, blocking calls (a loop of gk_ip_run until the socket is ready, the
 * deadline of GK_SOCK_TIMEOUT_MS passes, or forever), and gk_sock_poll.
 *
 * A handle is index | generation << 12: a handle of a closed socket whose
 * slot was reused is refused (GK_IP_EBADF), never aliased.
 */
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

#define HANDLE_INDEX_BITS 12
#define HANDLE_INDEX_MASK ((1u << HANDLE_INDEX_BITS) - 1)
#define BACKLOG_MAX 128u

static int handle_of(const struct gk_ip *ip, const struct sock *s)
{
    return (int)((uint32_t)sock_index(ip, s) | ((uint32_t)s->gen << HANDLE_INDEX_BITS));
}

static struct sock *get(struct gk_ip *ip, int h)
{
    if (h < 0)
        return NULL;
    uint32_t i = (uint32_t)h & HANDLE_INDEX_MASK;
    uint32_t gen = (uint32_t)h >> HANDLE_INDEX_BITS;
    if (i >= ip->cfg.sockets_max)
        return NULL;
    struct sock *s = &ip->socks[i];
    if (!s->used || s->orphan || s->gen != gen || s->parent >= 0)
        return NULL;
    return s;
}

/* A free slot; if none, the TIME-WAIT connection that ends first is
 * recycled (it holds no buffers, only the slot). */
struct sock *sock_alloc(struct gk_ip *ip, uint8_t type)
{
    struct sock *s = NULL, *tw = NULL;
    for (uint32_t i = 0; i < ip->cfg.sockets_max && s == NULL; i++) {
        struct sock *c = &ip->socks[i];
        if (!c->used)
            s = c;
        else if (c->type == GK_SOCK_STREAM && c->t.state == TCP_TIME_WAIT && c->orphan &&
                 (tw == NULL || c->t.end_at < tw->t.end_at))
            tw = c;
    }
    if (s == NULL && tw != NULL) {
        ip->st.tcp_time_wait_recycled++;
        sock_free(ip, tw);
        s = tw;
    }
    if (s == NULL)
        return NULL;
    uint16_t gen = (uint16_t)((s->gen + 1) & 0x7fff);
    memset(s, 0, sizeof *s);
    s->gen = gen;
    s->used = true;
    s->type = type;
    s->parent = -1;
    return s;
}

void sock_free(struct gk_ip *ip, struct sock *s)
{
    (void)ip;
    free(s->t.snd_buf);
    s->t.snd_buf = NULL;
    s->t.rcv_buf = NULL;
    free(s->uq.buf);
    s->uq.buf = NULL;
    s->used = false;
}

bool sock_port_in_use(struct gk_ip *ip, uint8_t type, uint16_t port)
{
    for (uint32_t i = 0; i < ip->cfg.sockets_max; i++) {
        struct sock *c = &ip->socks[i];
        if (c->used && c->type == type && c->lport == port &&
            (type != GK_SOCK_STREAM || c->t.state != TCP_TIME_WAIT))
            return true;
    }
    return false;
}

/* The socket of `type` on lport that talks to raddr:rport, else the one
 * that takes any peer there (a TCP listener, an unconnected bound UDP
 * socket), else NULL. */
static struct sock *lookup(struct gk_ip *ip, uint8_t type, uint32_t raddr, uint16_t lport,
                           uint16_t rport)
{
    struct sock *any = NULL;
    for (uint32_t i = 0; i < ip->cfg.sockets_max; i++) {
        struct sock *c = &ip->socks[i];
        if (!c->used || c->type != type || c->lport != lport)
            continue;
        bool takes_any, has_peer;
        if (type == GK_SOCK_STREAM) {
            takes_any = c->t.state == TCP_LISTEN;
            has_peer = c->t.state != TCP_CLOSED;
        } else {
            if (c->orphan || !c->bound)
                continue;
            takes_any = !c->connected;
            has_peer = true;
        }
        if (takes_any)
            any = c;
        else if (has_peer && c->raddr == raddr && c->rport == rport)
            return c;
    }
    return any;
}

struct sock *sock_lookup_tcp(struct gk_ip *ip, uint32_t raddr, uint16_t lport, uint16_t rport)
{
    return lookup(ip, GK_SOCK_STREAM, raddr, lport, rport);
}

struct sock *sock_lookup_udp(struct gk_ip *ip, uint32_t raddr, uint16_t lport, uint16_t rport)
{
    return lookup(ip, GK_SOCK_DGRAM, raddr, lport, rport);
}

/* An ephemeral port of cfg.port_lo..hi not used by a socket of this type. */
static int ephemeral(struct gk_ip *ip, uint8_t type, uint16_t *out)
{
    uint32_t span = (uint32_t)ip->cfg.port_hi - ip->cfg.port_lo + 1;
    if (ip->next_port == 0)
        ip->next_port = (uint16_t)(net_random(ip) % span);
    for (uint32_t k = 0; k < span; k++) {
        uint16_t p = (uint16_t)(ip->cfg.port_lo + (ip->next_port + k) % span);
        if (!sock_port_in_use(ip, type, p)) {
            ip->next_port = (uint16_t)((ip->next_port + k + 1) % span);
            *out = p;
            return GK_IP_OK;
        }
    }
    return GK_IP_EADDRNOTAVAIL;
}

/* Waits (through the stack) until ready(s) or the socket's timeout. */
static int wait_for(struct gk_ip *ip, struct sock *s, bool (*ready)(struct gk_ip *, struct sock *))
{
    uint64_t deadline = GK_IP_FOREVER;
    ip->now = ip->drv.now_ns(ip->drv.ctx);
    if (s->timeout_ms)
        deadline = ip->now + (uint64_t)s->timeout_ms * NS_PER_MS;
    for (;;) {
        if (ready(ip, s))
            return GK_IP_OK;
        if (ip->now >= deadline)
            return GK_IP_EAGAIN;
        gk_ip_run(ip, deadline);
        ip->now = ip->drv.now_ns(ip->drv.ctx);
    }
}

static bool is_tcp(const struct sock *s)
{
    return s->type == GK_SOCK_STREAM;
}

int gk_sock_open(struct gk_ip *ip, enum gk_sock_type type)
{
    if (type != GK_SOCK_STREAM && type != GK_SOCK_DGRAM)
        return GK_IP_EINVAL;
    struct sock *s = sock_alloc(ip, (uint8_t)type);
    if (s == NULL)
        return GK_IP_ENOMEM;
    return handle_of(ip, s);
}

int gk_sock_set(struct gk_ip *ip, int h, enum gk_sock_opt opt, uint32_t value)
{
    struct sock *s = get(ip, h);
    if (s == NULL)
        return GK_IP_EBADF;
    switch (opt) {
    case GK_SOCK_NONBLOCK: s->nonblock = value != 0; return GK_IP_OK;
    case GK_SOCK_NODELAY:
        s->nodelay = value != 0;
        if (is_tcp(s) && s->t.snd_buf)
            tcp_output(ip, s);
        return GK_IP_OK;
    case GK_SOCK_TIMEOUT_MS: s->timeout_ms = value; return GK_IP_OK;
    default: return GK_IP_EINVAL;
    }
}

int gk_sock_bind(struct gk_ip *ip, int h, uint16_t port)
{
    struct sock *s = get(ip, h);
    if (s == NULL)
        return GK_IP_EBADF;
    if (s->bound || s->connected)
        return GK_IP_EINVAL;
    if (port == 0) {
        int rc = ephemeral(ip, s->type, &port);
        if (rc != GK_IP_OK)
            return rc;
    } else if (sock_port_in_use(ip, s->type, port)) {
        return GK_IP_EADDRINUSE;
    }
    s->lport = port;
    s->bound = true;
    return GK_IP_OK;
}

int gk_sock_listen(struct gk_ip *ip, int h, unsigned backlog)
{
    struct sock *s = get(ip, h);
    if (s == NULL)
        return GK_IP_EBADF;
    if (!is_tcp(s) || s->connected || (s->t.state != TCP_CLOSED && s->t.state != TCP_LISTEN))
        return GK_IP_EINVAL;
    if (!s->bound) {
        int rc = gk_sock_bind(ip, h, 0);
        if (rc != GK_IP_OK)
            return rc;
    }
    s->backlog = (uint16_t)(backlog == 0 ? 1 : backlog > BACKLOG_MAX ? BACKLOG_MAX : backlog);
    s->listening = true;
    s->t.state = TCP_LISTEN;
    return GK_IP_OK;
}

/* The listener's oldest established child, or NULL. */
static struct sock *acceptable_child(struct gk_ip *ip, struct sock *l)
{
    struct sock *best = NULL;
    int32_t li = sock_index(ip, l);
    for (uint32_t i = 0; i < ip->cfg.sockets_max; i++) {
        struct sock *c = &ip->socks[i];
        if (c->used && c->parent == li && c->parent_gen == l->gen && c->t.accept_order != 0 &&
            (best == NULL || c->t.accept_order < best->t.accept_order))
            best = c;
    }
    return best;
}

static bool accept_ready(struct gk_ip *ip, struct sock *s)
{
    return acceptable_child(ip, s) != NULL;
}

int gk_sock_accept(struct gk_ip *ip, int h, struct gk_sockaddr *peer)
{
    struct sock *s = get(ip, h);
    if (s == NULL)
        return GK_IP_EBADF;
    if (!is_tcp(s) || s->t.state != TCP_LISTEN)
        return GK_IP_EINVAL;
    gk_ip_poll(ip);
    if (!accept_ready(ip, s)) {
        if (s->nonblock)
            return GK_IP_EAGAIN;
        int rc = wait_for(ip, s, accept_ready);
        if (rc != GK_IP_OK)
            return rc;
    }
    struct sock *c = acceptable_child(ip, s);
    c->parent = -1;
    if (s->children)
        s->children--;
    c->timeout_ms = s->timeout_ms;
    if (peer) {
        peer->addr = c->raddr;
        peer->port = c->rport;
    }
    return handle_of(ip, c);
}

static bool connect_ready(struct gk_ip *ip, struct sock *s)
{
    (void)ip;
    return s->t.state != TCP_SYN_SENT && s->t.state != TCP_SYN_RCVD;
}

int gk_sock_connect(struct gk_ip *ip, int h, const struct gk_sockaddr *to)
{
    struct sock *s = get(ip, h);
    if (s == NULL)
        return GK_IP_EBADF;
    if (to == NULL || to->addr == 0 || to->port == 0)
        return GK_IP_EINVAL;
    if (s->listening)
        return GK_IP_EINVAL;
    ip->now = ip->drv.now_ns(ip->drv.ctx);
    if (!s->bound) {
        uint16_t port;
        int rc = ephemeral(ip, s->type, &port);
        if (rc != GK_IP_OK)
            return rc;
        s->lport = port;
        s->bound = true;
    }
    if (!is_tcp(s)) {
        s->raddr = to->addr;
        s->rport = to->port;
        s->connected = true;
        return GK_IP_OK;
    }
    if (s->connected)
        return s->t.state == TCP_SYN_SENT ? GK_IP_EINPROGRESS : GK_IP_EISCONN;
    int rc = tcp_connect(ip, s, to->addr, to->port);
    if (rc != GK_IP_EINPROGRESS || s->nonblock)
        return rc;
    rc = wait_for(ip, s, connect_ready);
    if (rc != GK_IP_OK)
        return rc;
    if (s->t.state == TCP_CLOSED) {
        int e = s->error ? s->error : GK_IP_ECONNREFUSED;
        s->error = 0;
        return e;
    }
    return GK_IP_OK;
}

static bool send_ready(struct gk_ip *ip, struct sock *s)
{
    struct tcb *t = &s->t;
    if (s->error || t->state == TCP_CLOSED || s->shut_wr)
        return true;
    if (t->state == TCP_SYN_SENT || t->state == TCP_SYN_RCVD)
        return false;
    return t->snd_buf != NULL && t->snd_len < ip->cfg.tcp_sndbuf;
}

long gk_sock_send(struct gk_ip *ip, int h, const void *buf, size_t len)
{
    struct sock *s = get(ip, h);
    if (s == NULL)
        return GK_IP_EBADF;
    if (buf == NULL && len != 0)
        return GK_IP_EINVAL;
    ip->now = ip->drv.now_ns(ip->drv.ctx);
    if (!is_tcp(s)) {
        if (!s->connected)
            return GK_IP_ENOTCONN;
        if (s->error) {
            int e = s->error;
            s->error = 0;
            return e;
        }
        return udp_sendto(ip, s, buf, len, s->raddr, s->rport);
    }
    if (!s->connected)
        return GK_IP_ENOTCONN;
    if (len == 0)
        return 0;
    for (;;) {
        long n = tcp_send(ip, s, buf, len);
        if (n != GK_IP_EAGAIN || s->nonblock)
            return n;
        int rc = wait_for(ip, s, send_ready);
        if (rc != GK_IP_OK)
            return rc;
    }
}

static bool recv_ready(struct gk_ip *ip, struct sock *s)
{
    (void)ip;
    if (!is_tcp(s))
        return s->uq.count > 0 || s->error;
    return s->t.rcv_len > 0 || s->t.fin_received || s->error || s->t.state == TCP_CLOSED;
}

long gk_sock_recv(struct gk_ip *ip, int h, void *buf, size_t len)
{
    return gk_sock_recvfrom(ip, h, buf, len, NULL);
}

long gk_sock_sendto(struct gk_ip *ip, int h, const void *buf, size_t len,
                    const struct gk_sockaddr *to)
{
    struct sock *s = get(ip, h);
    if (s == NULL)
        return GK_IP_EBADF;
    if (is_tcp(s))
        return gk_sock_send(ip, h, buf, len);
    if (to == NULL || (buf == NULL && len != 0))
        return GK_IP_EINVAL;
    ip->now = ip->drv.now_ns(ip->drv.ctx);
    if (!s->bound) {
        uint16_t port;
        int rc = ephemeral(ip, s->type, &port);
        if (rc != GK_IP_OK)
            return rc;
        s->lport = port;
        s->bound = true;
    }
    return udp_sendto(ip, s, buf, len, to->addr, to->port);
}

long gk_sock_recvfrom(struct gk_ip *ip, int h, void *buf, size_t len, struct gk_sockaddr *from)
{
    struct sock *s = get(ip, h);
    if (s == NULL)
        return GK_IP_EBADF;
    if (buf == NULL && len != 0)
        return GK_IP_EINVAL;
    gk_ip_poll(ip);
    for (;;) {
        long n;
        if (is_tcp(s)) {
            if (!s->connected)
                return GK_IP_ENOTCONN;
            n = tcp_recv(ip, s, buf, len);
            if (n >= 0 && from) {
                from->addr = s->raddr;
                from->port = s->rport;
            }
        } else {
            n = udp_recvfrom(ip, s, buf, len, from);
        }
        if (n != GK_IP_EAGAIN || s->nonblock)
            return n;
        int rc = wait_for(ip, s, recv_ready);
        if (rc != GK_IP_OK)
            return rc;
    }
}

int gk_sock_shutdown_write(struct gk_ip *ip, int h)
{
    struct sock *s = get(ip, h);
    if (s == NULL)
        return GK_IP_EBADF;
    if (!is_tcp(s) || !s->connected)
        return GK_IP_ENOTCONN;
    ip->now = ip->drv.now_ns(ip->drv.ctx);
    tcp_shutdown_write(ip, s);
    return GK_IP_OK;
}

int gk_sock_close(struct gk_ip *ip, int h)
{
    struct sock *s = get(ip, h);
    if (s == NULL)
        return GK_IP_EBADF;
    ip->now = ip->drv.now_ns(ip->drv.ctx);
    if (!is_tcp(s)) {
        sock_free(ip, s);
        return GK_IP_OK;
    }
    tcp_close(ip, s);
    return GK_IP_OK;
}

int gk_sock_error(struct gk_ip *ip, int h)
{
    struct sock *s = get(ip, h);
    if (s == NULL)
        return GK_IP_EBADF;
    int e = s->error;
    s->error = 0;
    return e;
}

int gk_sock_name(struct gk_ip *ip, int h, struct gk_sockaddr *local, struct gk_sockaddr *peer)
{
    struct sock *s = get(ip, h);
    if (s == NULL)
        return GK_IP_EBADF;
    if (local) {
        local->addr = ip->cfg.addr;
        local->port = s->lport;
    }
    if (peer) {
        peer->addr = s->connected ? s->raddr : 0;
        peer->port = s->connected ? s->rport : 0;
    }
    return GK_IP_OK;
}

long gk_sock_unacked(struct gk_ip *ip, int h)
{
    struct sock *s = get(ip, h);
    if (s == NULL)
        return GK_IP_EBADF;
    if (!is_tcp(s))
        return 0;
    return (long)s->t.snd_len;
}

static uint32_t revents_of(struct gk_ip *ip, struct sock *s)
{
    uint32_t r = 0;
    if (s->error)
        r |= GK_POLLERR;
    if (!is_tcp(s)) {
        if (s->uq.count > 0 || s->error)
            r |= GK_POLLIN;
        return r | GK_POLLOUT;
    }
    struct tcb *t = &s->t;
    if (t->state == TCP_LISTEN)
        return r | (accept_ready(ip, s) ? GK_POLLIN : 0);
    if (t->state == TCP_CLOSED && s->connected)
        r |= GK_POLLHUP | GK_POLLIN | GK_POLLOUT;
    if (t->rcv_len > 0 || t->fin_received)
        r |= GK_POLLIN;
    if ((t->state == TCP_ESTABLISHED || t->state == TCP_CLOSE_WAIT) && !s->shut_wr &&
        t->snd_len < ip->cfg.tcp_sndbuf)
        r |= GK_POLLOUT;
    if (t->state == TCP_TIME_WAIT || (t->fin_received && s->shut_wr && t->snd_len == 0))
        r |= GK_POLLHUP;
    return r;
}

int gk_sock_poll(struct gk_ip *ip, struct gk_pollfd *fds, size_t n, uint64_t deadline_ns)
{
    if (fds == NULL && n != 0)
        return GK_IP_EINVAL;
    gk_ip_poll(ip);
    for (;;) {
        int ready = 0;
        for (size_t i = 0; i < n; i++) {
            struct sock *s = get(ip, fds[i].s);
            uint32_t r = s ? revents_of(ip, s) : GK_POLLERR;
            fds[i].revents = r & (fds[i].events | GK_POLLERR | GK_POLLHUP);
            ready += fds[i].revents != 0;
        }
        ip->now = ip->drv.now_ns(ip->drv.ctx);
        if (ready > 0 || ip->now >= deadline_ns)
            return ready;
        gk_ip_run(ip, deadline_ns);
    }
}
