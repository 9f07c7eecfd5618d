/*
 * netserve: guest-kit's TCP/IP stack (gk/ipstack.h) serving on a virtio-net
 * device it drives itself (gk/virtio_net.h), as the root domain — the
 * baseline the issue-16 front end through netback will be compared with:
 *
 *   UDP port 7   echo
 *   TCP port 7   echo (until the peer closes)
 *   TCP port 80  HTTP/1.1: GET / (a page), GET /big/N (N bytes of the
 *                pattern byte(i) = (i * 7 + (i >> 8)) mod 256), GET /quit
 *                (answers, then powers the machine off); one request per
 *                connection ("Connection: close").
 *
 * The command line: ip=A.B.C.D (default 192.0.2.2), mask=A.B.C.D
 * (255.255.255.0), gw=A.B.C.D (none), polled (no interrupts even if the
 * device has MSI-X). It prints "netserve: ready" once it listens, a line
 * per HTTP request, and its statistics at the end. Run by the QEMU test
 * netback_tap_direct (test/integration/net.cmake) against Linux's curl and
 * socat through a tap device in a network namespace the test creates.
 *
 * Given no virtio-net function (a domain the control domain builds), it is
 * a front end behind netback instead (gk/net.h): it waits up to 30 s for
 * its connection "net" (a channel to netback its manifest declares) and
 * takes netback's configuration — the external address, RSIP, its lease —
 * and ip=, mask=, gw= and polled do not apply. Its manifest must lease the
 * ports it serves: examples/manifests/net/web.yaml (test netback_http).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gk/gk.h"
#include "gk/heap.h"
#include "gk/ipstack.h"
#include "gk/mm.h"
#include "gk/net.h"
#include "gk/time.h"
#include "gk/virtio_net.h"
#include "gk/virtio_pci.h"

#define MAX_FUNCTIONS 32u
#define WINDOW_VA 0x300000000ull
#define WINDOW_BYTES 0x1000000ull
#define CONNS_MAX 24u
#define REQ_MAX 2048u
#define BIG_MAX (1ull << 30)

static struct gk_pci_cap_function fns[MAX_FUNCTIONS];
static struct gk_virtio_pci pci;
static struct gk_virtio_net net;

/* ---- The driver under the stack: virtio-net, one frame of lookahead ------ */

static uint8_t ahead[GK_VIRTIO_NET_FRAME_MAX];
static size_t ahead_len;
static bool have_ahead;

static int drv_send(void *ctx, const void *frame, size_t len)
{
    (void)ctx;
    for (int i = 0; i < 1000; i++) {
        int rc = gk_virtio_net_send(&net, frame, len);
        if (rc != GK_VIRTIO_EAGAIN)
            return rc == GK_VIRTIO_OK ? 0 : -1;
        __asm__ volatile("pause");
    }
    return -1; /* every transmit buffer still in flight: the stack counts a loss */
}

static int drv_recv(void *ctx, void *buf, size_t cap, size_t *len)
{
    (void)ctx;
    if (have_ahead) {
        if (ahead_len > cap)
            return -1;
        memcpy(buf, ahead, ahead_len);
        *len = ahead_len;
        have_ahead = false;
        return 0;
    }
    return gk_virtio_net_recv(&net, buf, cap, len) == GK_VIRTIO_OK ? 0 : -1;
}

static uint64_t drv_now(void *ctx)
{
    (void)ctx;
    return gk_now_ns();
}

static void drv_wait(void *ctx, uint64_t deadline)
{
    (void)ctx;
    if (have_ahead)
        return;
    uint64_t now = gk_now_ns();
    if (deadline <= now)
        return;
    uint64_t t = deadline - now;
    if (t > 100000000ull)
        t = 100000000ull; /* look around every 100 ms at most */
    if (gk_virtio_net_recv_wait(&net, ahead, sizeof ahead, &ahead_len, t) == GK_VIRTIO_OK)
        have_ahead = true;
}

/* ---- The servers ----------------------------------------------------------- */

enum conn_kind { CONN_FREE = 0, CONN_ECHO, CONN_HTTP };

struct conn {
    uint8_t kind;
    int s;
    bool responding;
    char req[REQ_MAX];
    size_t req_len;
    /* the response: a header, then `body_len` bytes of a page or the pattern */
    char head[256];
    size_t head_len, head_sent;
    const char *page;
    uint64_t body_len, body_sent;
    bool quit_after;
    /* echo: bytes read, not yet sent back */
    uint8_t pend[4096];
    size_t pend_len;
};

static struct gk_ip *ip;
static struct conn conns[CONNS_MAX];
static bool quitting;
static uint64_t http_requests, echo_bytes, udp_echoes;

static const char PAGE[] = "<html><body><h1>hv netserve</h1>"
                           "<p>guest-kit's TCP/IP stack on virtio-net.</p></body></html>\n";

static uint8_t pattern_byte(uint64_t i)
{
    return (uint8_t)(i * 7 + (i >> 8));
}

static void conn_close(struct conn *c)
{
    gk_sock_close(ip, c->s);
    c->kind = CONN_FREE;
}

static void respond(struct conn *c, int code, const char *reason, const char *page,
                    uint64_t body_len)
{
    c->head_len = (size_t)snprintf(c->head, sizeof c->head,
                                   "HTTP/1.1 %d %s\r\nContent-Length: %llu\r\n"
                                   "Content-Type: %s\r\nConnection: close\r\n\r\n",
                                   code, reason, (unsigned long long)body_len,
                                   page ? "text/html" : "application/octet-stream");
    c->head_sent = 0;
    c->page = page;
    c->body_len = body_len;
    c->body_sent = 0;
    c->responding = true;
}

static void http_request(struct conn *c)
{
    http_requests++;
    char *eol = strstr(c->req, "\r\n");
    if (eol)
        *eol = 0;
    gk_printf("netserve: http: %s\n", c->req);
    if (strncmp(c->req, "GET ", 4) != 0) {
        respond(c, 405, "Method Not Allowed", "only GET\n", 9);
        return;
    }
    const char *path = c->req + 4;
    if (strncmp(path, "/ ", 2) == 0) {
        respond(c, 200, "OK", PAGE, sizeof PAGE - 1);
    } else if (strncmp(path, "/big/", 5) == 0) {
        char *end;
        uint64_t n = strtoull(path + 5, &end, 10);
        if (end == path + 5 || *end != ' ' || n > BIG_MAX)
            respond(c, 400, "Bad Request", "bad size\n", 9);
        else
            respond(c, 200, "OK", NULL, n);
    } else if (strncmp(path, "/quit ", 6) == 0) {
        respond(c, 200, "OK", "bye\n", 4);
        c->quit_after = true;
    } else {
        respond(c, 404, "Not Found", "not found\n", 10);
    }
}

static void http_step(struct conn *c)
{
    if (!c->responding) {
        long n = gk_sock_recv(ip, c->s, c->req + c->req_len, REQ_MAX - 1 - c->req_len);
        if (n > 0) {
            c->req_len += (size_t)n;
            c->req[c->req_len] = 0;
            if (strstr(c->req, "\r\n\r\n"))
                http_request(c);
            else if (c->req_len == REQ_MAX - 1)
                respond(c, 431, "Request Header Fields Too Large", "too large\n", 10);
        } else if (n != GK_IP_EAGAIN) {
            conn_close(c);
            return;
        }
        if (!c->responding)
            return;
    }
    while (c->head_sent < c->head_len) {
        long n = gk_sock_send(ip, c->s, c->head + c->head_sent, c->head_len - c->head_sent);
        if (n <= 0)
            goto blocked;
        c->head_sent += (size_t)n;
    }
    while (c->body_sent < c->body_len) {
        static uint8_t chunk[8192];
        size_t want = c->body_len - c->body_sent < sizeof chunk
                          ? (size_t)(c->body_len - c->body_sent)
                          : sizeof chunk;
        const void *src = chunk;
        if (c->page) {
            src = c->page + c->body_sent;
        } else {
            for (size_t i = 0; i < want; i++)
                chunk[i] = pattern_byte(c->body_sent + i);
        }
        long n = gk_sock_send(ip, c->s, src, want);
        if (n <= 0)
            goto blocked;
        c->body_sent += (uint64_t)n;
    }
    if (c->quit_after)
        quitting = true;
    conn_close(c); /* FIN after the queued data */
    return;
blocked:
    if (gk_sock_error(ip, c->s) != 0)
        conn_close(c);
}

static void echo_step(struct conn *c)
{
    for (;;) {
        if (c->pend_len) {
            long n = gk_sock_send(ip, c->s, c->pend, c->pend_len);
            if (n == GK_IP_EAGAIN)
                return;
            if (n < 0) {
                conn_close(c);
                return;
            }
            memmove(c->pend, c->pend + n, c->pend_len - (size_t)n);
            c->pend_len -= (size_t)n;
            echo_bytes += (uint64_t)n;
            if (c->pend_len)
                return;
        }
        long n = gk_sock_recv(ip, c->s, c->pend, sizeof c->pend);
        if (n > 0) {
            c->pend_len = (size_t)n;
            continue;
        }
        if (n != GK_IP_EAGAIN)
            conn_close(c); /* 0: the peer closed; we close too once all went back */
        return;
    }
}

static void accept_all(int listener, uint8_t kind)
{
    for (;;) {
        int s = gk_sock_accept(ip, listener, NULL);
        if (s < 0)
            return;
        struct conn *c = NULL;
        for (unsigned i = 0; i < CONNS_MAX && !c; i++)
            if (conns[i].kind == CONN_FREE)
                c = &conns[i];
        if (!c) {
            gk_sock_close(ip, s);
            continue;
        }
        memset(c, 0, sizeof *c);
        c->kind = kind;
        c->s = s;
        gk_sock_set(ip, s, GK_SOCK_NONBLOCK, 1);
    }
}

static uint32_t arg_addr(const char *cmdline, const char *key, uint32_t dflt)
{
    const char *s = strstr(cmdline, key);
    if (!s)
        return dflt;
    s += strlen(key);
    uint32_t a = 0;
    for (int i = 0; i < 4; i++) {
        char *end;
        unsigned long part = strtoul(s, &end, 10);
        if (end == s || part > 255 || (i < 3 && *end != '.'))
            return dflt;
        a = a << 8 | (uint32_t)part;
        s = end + 1;
    }
    return a;
}

static int listen_on(int type, uint16_t port)
{
    int s = gk_sock_open(ip, type);
    if (s < 0 || gk_sock_bind(ip, s, port) != 0 ||
        (type == GK_SOCK_STREAM && gk_sock_listen(ip, s, 16) != 0))
        gk_panic("netserve: cannot listen on port %u", port);
    gk_sock_set(ip, s, GK_SOCK_NONBLOCK, 1);
    return s;
}

static int serve(struct gk_ip_config *c, const struct gk_ip_driver *d, const char *how);

/* Behind netback: the front end (gk/net.h) is the stack's driver. */
static int front_end(void)
{
    struct gk_net *n = gk_net_open("net", gk_now_ns() + 30ull * GK_NS_PER_SEC);
    if (!n)
        gk_panic("netserve: no virtio-net device, and no connection \"net\" to netback within 30 s "
                 "(or netback refused it)");
    struct gk_ip_config c;
    gk_net_ip_config(n, &c);
    const struct gk_net_config *nc = gk_net_config_get(n);
    gk_printf("netserve: behind netback, ephemeral ports %u-%u\n", nc->port_lo, nc->port_hi);
    struct gk_ip_driver d = gk_net_driver(n);
    return serve(&c, &d, "behind netback");
}

int main(const struct hv_start_info *si)
{
    if (gk_mm_init(si) != 0)
        gk_panic("netserve: gk_mm_init failed");
    /* Each TCP connection takes 128 KiB of buffers (below): the heap grows
     * from the domain's own frames beyond the 256 KiB static arena. */
    if (!gk_heap_global_grow_from_frames(GK_HEAP_FRAMES_VA_DEFAULT, 8u << 20))
        gk_panic("netserve: the heap cannot grow");
    size_t n = gk_pci_enumerate_caps(HV_ROOT_SLOT_DEVICE_FIRST, fns, MAX_FUNCTIONS);
    if (n > MAX_FUNCTIONS)
        n = MAX_FUNCTIONS;
    const struct gk_pci_cap_function *f = NULL;
    for (size_t i = 0; i < n && !f; i++)
        if (gk_virtio_pci_device_type(&fns[i]) == GK_VIRTIO_ID_NET)
            f = &fns[i];
    if (!f)
        return front_end();
    if (gk_virtio_pci_open(&pci, f, WINDOW_VA, WINDOW_BYTES) != HV_OK)
        gk_panic("netserve: cannot open the virtio-net device");
    bool polled = strstr(si->cmdline, "polled") != NULL;
    if (!polled && gk_virtio_pci_use_interrupts(&pci, 2) != HV_OK)
        polled = true;
    if (gk_virtio_net_init(&net, &pci.dev) != GK_VIRTIO_OK || !net.has_mac)
        gk_panic("netserve: virtio-net init failed");

    struct gk_ip_config c;
    gk_ip_config_default(&c);
    memcpy(c.mac, net.mac, 6);
    c.addr = arg_addr(si->cmdline, "ip=", GK_IP4(192, 0, 2, 2));
    c.netmask = arg_addr(si->cmdline, "mask=", GK_IP4(255, 255, 255, 0));
    c.gateway = arg_addr(si->cmdline, "gw=", 0);
    struct gk_ip_driver d = {NULL, drv_send, drv_recv, drv_wait, drv_now};
    return serve(&c, &d, polled ? "polled" : "interrupts");
}

static int serve(struct gk_ip_config *c, const struct gk_ip_driver *d, const char *how)
{
    c->sockets_max = 64;
    c->tcp_sndbuf = 65535;
    c->tcp_rcvbuf = 65535;
    c->seed = gk_now_ns();
    ip = gk_ip_create(c, d);
    if (!ip)
        gk_panic("netserve: gk_ip_create failed");
    int http = listen_on(GK_SOCK_STREAM, 80);
    int echo = listen_on(GK_SOCK_STREAM, 7);
    int udp = listen_on(GK_SOCK_DGRAM, 7);
    gk_printf("netserve: %u.%u.%u.%u on %02x:%02x:%02x:%02x:%02x:%02x, %s\n", c->addr >> 24,
              (c->addr >> 16) & 255, (c->addr >> 8) & 255, c->addr & 255, c->mac[0], c->mac[1],
              c->mac[2], c->mac[3], c->mac[4], c->mac[5], how);
    gk_printf("netserve: ready\n");

    static uint8_t dgram[65536];
    uint64_t quit_at = 0;
    for (;;) {
        gk_ip_run(ip, gk_now_ns() + 50000000ull);
        accept_all(http, CONN_HTTP);
        accept_all(echo, CONN_ECHO);
        struct gk_sockaddr from;
        long got;
        while ((got = gk_sock_recvfrom(ip, udp, dgram, sizeof dgram, &from)) >= 0) {
            gk_sock_sendto(ip, udp, dgram, (size_t)got, &from);
            udp_echoes++;
        }
        for (unsigned i = 0; i < CONNS_MAX; i++) {
            if (conns[i].kind == CONN_HTTP)
                http_step(&conns[i]);
            else if (conns[i].kind == CONN_ECHO)
                echo_step(&conns[i]);
        }
        if (quitting && quit_at == 0)
            quit_at = gk_now_ns() + 500000000ull; /* let the last FIN and ACKs go */
        if (quit_at && gk_now_ns() >= quit_at)
            break;
    }
    struct gk_ip_stats st;
    gk_ip_get_stats(ip, &st);
    gk_printf("netserve: %llu http requests, %llu echoed bytes, %llu udp echoes\n",
              (unsigned long long)http_requests, (unsigned long long)echo_bytes,
              (unsigned long long)udp_echoes);
    gk_printf("netserve: stats rx %llu tx %llu tx_dropped %llu bad_csum %llu retransmits %llu "
              "fast %llu timeouts %llu ooo %llu rst_in %llu rst_out %llu\n",
              (unsigned long long)st.rx_frames, (unsigned long long)st.tx_frames,
              (unsigned long long)st.tx_dropped, (unsigned long long)st.rx_bad_csum,
              (unsigned long long)st.tcp_retransmits, (unsigned long long)st.tcp_fast_retransmits,
              (unsigned long long)st.tcp_timeouts, (unsigned long long)st.tcp_ooo_segments,
              (unsigned long long)st.tcp_rst_in, (unsigned long long)st.tcp_rst_out);
    gk_printf(
        "netserve: stats arp requests %llu replies %llu bad_arp %llu bad_eth %llu not_ours %llu "
        "bad_ip %llu\n",
        (unsigned long long)st.arp_requests, (unsigned long long)st.arp_replies,
        (unsigned long long)st.rx_bad_arp, (unsigned long long)st.rx_bad_eth,
        (unsigned long long)st.rx_not_ours, (unsigned long long)st.rx_bad_ip);
    gk_printf("netserve: done\n");
    gk_poweroff();
}
