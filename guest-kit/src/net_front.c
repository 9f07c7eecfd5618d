/* The network front end (gk/net.h) over a bus connection (gk/bus.h). A
 * connection that is gone (netback stopped, crashed or was restarted) is
 * closed and the next one of the same name, which the control domain
 * introduces when netback's new instance comes up, is taken instead: the
 * stack above sees lost frames in between, never an error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gk/bus.h"
#include "gk/heap.h"
#include "gk/net.h"
#include "gk/time.h"
#include "hv/netif.h"

struct gk_net {
    struct gk_conn *c; /* NULL while netback is away */
    char name[33];
    uint64_t away_ns; /* when the connection was found gone (0: not away) */
    struct gk_net_config cfg;
    bool have_cfg;
    struct gk_net_stats st;
    uint8_t msg[NETIF_MSG_MAX];
};

/* A configuration message, checked; false if it is out of range. */
static bool take_config(struct gk_net *n, const uint8_t *m, uint32_t len);

/* Whether there is a connection to use: the one there is, or — it went
 * away — the next one introduced (without waiting). */
static bool connected(struct gk_net *n)
{
    if (n->c && !gk_conn_gone(n->c))
        return true;
    if (n->c) {
        gk_conn_close(n->c); /* what was received before is lost with it */
        n->c = NULL;
        n->away_ns = gk_now_ns();
        if (n->away_ns == 0)
            n->away_ns = 1;
        n->st.losses++;
    }
    n->c = gk_conn_wait(n->name, 0);
    if (n->c == NULL)
        return false;
    n->away_ns = 0;
    n->st.reconnects++;
    return true;
}

static bool take_config(struct gk_net *n, const uint8_t *m, uint32_t len)
{
    struct netif_config c;
    if (len < sizeof c)
        return false;
    memcpy(&c, m, sizeof c);
    if (c.mtu < GK_IP_MTU_MIN || c.mtu > GK_IP_MTU_MAX || c.addr == 0 || c.port_lo == 0 ||
        c.port_lo > c.port_hi || (c.mac[0] & 1) != 0 || (c.flags & ~NETIF_F_RSIP) != 0)
        return false;
    memcpy(n->cfg.mac, c.mac, 6);
    n->cfg.mtu = c.mtu;
    n->cfg.addr = c.addr;
    n->cfg.netmask = c.netmask;
    n->cfg.gateway = c.gateway;
    n->cfg.port_lo = c.port_lo;
    n->cfg.port_hi = c.port_hi;
    n->cfg.rsip = (c.flags & NETIF_F_RSIP) != 0;
    n->have_cfg = true;
    n->st.configs++;
    return true;
}

/* Reads messages without waiting until a frame is found (copied to buf,
 * *len) or none is left. Configuration messages are applied on the way. */
static bool next_frame(struct gk_net *n, uint8_t *buf, size_t cap, size_t *len)
{
    if (!connected(n))
        return false;
    for (;;) {
        uint32_t got = 0;
        enum gk_chan_status st = gk_conn_recv(n->c, n->msg, sizeof n->msg, &got, 0);
        if (st == GK_CHAN_ETOOBIG) { /* longer than any message of ours: skip it */
            n->st.rx_bad++;
            if (gk_conn_release(n->c) != GK_CHAN_OK)
                return false;
            continue;
        }
        if (st != GK_CHAN_OK)
            return false;
        struct netif_hdr h;
        if (got < sizeof h) {
            n->st.rx_bad++;
            continue;
        }
        memcpy(&h, n->msg, sizeof h);
        if (h.type == NETIF_MSG_CONFIG) {
            if (!take_config(n, n->msg, got))
                n->st.rx_bad++;
            continue;
        }
        uint32_t flen = got - (uint32_t)sizeof h;
        if (h.type != NETIF_MSG_FRAME || flen < NETIF_FRAME_MIN || flen > NETIF_FRAME_MAX ||
            flen > cap) {
            n->st.rx_bad++;
            continue;
        }
        memcpy(buf, n->msg + sizeof h, flen);
        *len = flen;
        n->st.rx_frames++;
        return true;
    }
}

struct gk_net *gk_net_open(const char *name, uint64_t deadline_ns)
{
    struct gk_conn *c = gk_conn_wait(name, deadline_ns);
    if (c == NULL)
        return NULL;
    struct gk_net *n = calloc(1, sizeof *n);
    if (n == NULL) {
        gk_conn_close(c);
        return NULL;
    }
    n->c = c;
    snprintf(n->name, sizeof n->name, "%s", name);
    /* The configuration comes first; frames before it are dropped. */
    while (!n->have_cfg) {
        uint32_t len;
        const uint8_t *bulk;
        if (gk_conn_peek(c, &len, &bulk, deadline_ns) != GK_CHAN_OK) {
            gk_net_close(n);
            return NULL;
        }
        uint8_t scratch[NETIF_FRAME_MAX];
        size_t flen;
        if (next_frame(n, scratch, sizeof scratch, &flen)) { /* a frame before it: dropped */
            n->st.rx_frames--;
            n->st.rx_bad++;
        }
    }
    return n;
}

const struct gk_net_config *gk_net_config_get(const struct gk_net *n)
{
    return &n->cfg;
}

void gk_net_ip_config(const struct gk_net *n, struct gk_ip_config *c)
{
    gk_ip_config_default(c);
    memcpy(c->mac, n->cfg.mac, 6);
    c->mtu = n->cfg.mtu;
    c->addr = n->cfg.addr;
    c->netmask = n->cfg.netmask;
    c->gateway = n->cfg.gateway;
    c->port_lo = n->cfg.port_lo;
    c->port_hi = n->cfg.port_hi;
    c->rsip = n->cfg.rsip;
}

static int drv_send(void *ctx, const void *frame, size_t len)
{
    struct gk_net *n = ctx;
    if (len < NETIF_FRAME_MIN || len > NETIF_FRAME_MAX) {
        n->st.tx_failed++;
        return -1;
    }
    struct netif_hdr h = {NETIF_MSG_FRAME, 0};
    uint8_t m[NETIF_MSG_MAX];
    memcpy(m, &h, sizeof h);
    memcpy(m + sizeof h, frame, len);
    /* Without waiting: a full ring, or netback away, is a lost frame (TCP
     * retransmits). */
    if (!connected(n) || gk_conn_send(n->c, m, (uint32_t)(sizeof h + len), 0) != GK_CHAN_OK) {
        n->st.tx_failed++;
        return -1;
    }
    n->st.tx_frames++;
    return 0;
}

static int drv_recv(void *ctx, void *buf, size_t cap, size_t *len)
{
    struct gk_net *n = ctx;
    return next_frame(n, buf, cap, len) ? 0 : -1;
}

static void drv_wait(void *ctx, uint64_t deadline_ns)
{
    struct gk_net *n = ctx;
    uint32_t len;
    const uint8_t *bulk;
    if (connected(n)) {
        (void)gk_conn_peek(n->c, &len, &bulk, deadline_ns); /* sleeps on the event channel */
        return;
    }
    /* netback is away: sleep until its new instance is introduced (taken
     * by the next call) or the stack's deadline. */
    struct gk_conn *c = gk_conn_wait(n->name, deadline_ns);
    if (c != NULL) {
        n->c = c;
        n->away_ns = 0;
        n->st.reconnects++;
    }
}

static uint64_t drv_now(void *ctx)
{
    (void)ctx;
    return gk_now_ns();
}

struct gk_ip_driver gk_net_driver(struct gk_net *n)
{
    struct gk_ip_driver d = {n, drv_send, drv_recv, drv_wait, drv_now};
    return d;
}

bool gk_net_gone(const struct gk_net *n)
{
    return n->c == NULL || gk_conn_gone(n->c);
}

uint64_t gk_net_away_ns(const struct gk_net *n)
{
    if (n->c != NULL && !gk_conn_gone(n->c))
        return 0;
    return n->away_ns ? gk_now_ns() - n->away_ns : 0;
}

void gk_net_get_stats(const struct gk_net *n, struct gk_net_stats *out)
{
    *out = n->st;
}

void gk_net_close(struct gk_net *n)
{
    if (n == NULL)
        return;
    if (n->c)
        gk_conn_close(n->c);
    free(n);
}
