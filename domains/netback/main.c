/*
 * netback, the network driver domain (docs/net.md, "netback the domain").
 *
 * The control domain starts it at boot when the machine has a virtio-net
 * function, from its manifest domains/netback/netback.yaml (the boot module
 * netback.driver; rebuilt from it when it dies): its `pci:` is that function alone
 * (config, mmio, irq, dma), its `offers:` the service "net", its `config:`
 * the external address ("address": "192.0.2.10/24") and optionally the
 * gateway ("gateway"). It brings the NIC up with guest-kit's driver (MSI-X
 * when the hypervisor gives it, else polled), registers the service "net",
 * and routes frames between the NIC and the front ends (gk/net.h) through
 * the router (router.c: the VFR's decisions, flows, log records, the
 * transmit scheduler).
 *
 * A front end is a connection named "net" — the service, or a channel a
 * domain declares to netback. When one comes, netback asks the control
 * domain for the peer's lease (config-get of "net-lease:NAME", answered
 * from NAME's manifest `net: {ports: [...]}` and only to the domain that
 * offers "net"); a peer without a lease, one whose lease conflicts, or one
 * beyond FRONTS_MAX is refused (its connection closed, a console line).
 * Then it sends the peer its configuration (NETIF_MSG_CONFIG: netback's
 * MAC, the external address, the first leased range, RSIP).
 *
 * Front ends are hostile: a message that is not a frame of 14..1514 bytes
 * is counted per reason and skipped (nbcfg.c); at most FRONT_BUDGET
 * messages of one front end per round; a frame to a front end whose ring is
 * full is dropped and counted (TCP retransmits).
 *
 * Waiting: when a round did nothing, netback arms the NIC's receive
 * interrupt and every front end's ring, and blocks until an event or the
 * router's next deadline (1 ms when polled).
 *
 * Console: "netback: nic MAC, interrupts|polled", "netback: ready ADDR",
 * "netback: front NAME joined (domain I, ports P)", "... refused: WHY",
 * "netback: front NAME left", each log record ("netback: log ..."), and a
 * line of drop counts whenever they changed (at most once a second).
 *
 * It also asks for the peer's traffic classes ("net-class:NAME") and
 * firewall rules ("net-rules:NAME", domains/control/netpolicy.h), both
 * from the manifest's `net:`; absent ones mean unlimited and no rules; ones
 * that do not parse or are invalid refuse the front end.
 *
 * Not done yet (issue 16): the log records go to the console, not to the
 * control domain; hvctl net; changing rules and classes of a running domain
 * (hvctl apply); leases kept across a restart are the control domain's (it
 * answers again).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gk/bus.h"
#include "gk/event.h"
#include "gk/gk.h"
#include "gk/mm.h"
#include "gk/time.h"
#include "gk/virtio_net.h"
#include "gk/virtio_pci.h"
#include "hv/netif.h"
#include "nbcfg.h"
#include "router.h"

#define MAX_FUNCTIONS 8u
#define WINDOW_VA 0x300000000ull
#define WINDOW_BYTES 0x1000000ull
#define VIRTIO_PCI_TRANSITIONAL_NET 0x1000u
#define FRONTS_MAX 16u
#define FRONT_BUDGET 64u
#define NIC_BUDGET 64u
#define LEASES_MAX 32u
#define POLL_NS 1000000ull /* polled NIC: look every 1 ms */
#define DROPS_EVERY_NS 1000000000ull
#define LOG_RATE 100u /* records per second to the console, burst LOG_BURST */
#define LOG_BURST 50u

static struct gk_pci_cap_function fns[MAX_FUNCTIONS];
static struct gk_virtio_pci pci;
static struct gk_virtio_net nic;
static struct nb_router rt;
static bool nic_irq;

struct front {
    struct gk_conn *c;
    uint16_t dom;
    char name[33];
    uint64_t rx, tx, tx_full, bad[NB_MSG_STATUS_COUNT];
};
static struct front fronts[FRONTS_MAX];
static uint8_t msg[NETIF_MSG_MAX];
static uint8_t txmsg[NETIF_MSG_MAX];
static uint32_t ext_addr, ext_mask, ext_gw;
static uint64_t wire_tx_full;

static bool is_net(const struct gk_pci_cap_function *f)
{
    return gk_virtio_pci_device_type(f) == GK_VIRTIO_ID_NET ||
           (f->dev.vendor_id == GK_VIRTIO_PCI_VENDOR &&
            f->dev.device_id == VIRTIO_PCI_TRANSITIONAL_NET);
}

static void out_wire(void *ctx, const uint8_t *f, size_t len)
{
    (void)ctx;
    for (int i = 0; i < 1000; i++) {
        if (gk_virtio_net_send(&nic, f, len) != GK_VIRTIO_EAGAIN)
            return;
        __asm__ volatile("pause");
    }
    wire_tx_full++;
}

static void out_domain(void *ctx, uint16_t dom, const uint8_t *f, size_t len)
{
    (void)ctx;
    if (dom == 0 || dom > FRONTS_MAX || fronts[dom - 1].c == NULL || len > NETIF_FRAME_MAX)
        return;
    struct front *fr = &fronts[dom - 1];
    struct netif_hdr h = {NETIF_MSG_FRAME, 0};
    memcpy(txmsg, &h, sizeof h);
    memcpy(txmsg + sizeof h, f, len);
    if (gk_conn_send(fr->c, txmsg, (uint32_t)(sizeof h + len), 0) == GK_CHAN_OK)
        fr->tx++;
    else
        fr->tx_full++; /* its ring is full: dropped */
}

static void ip_str(char *out, size_t cap, uint32_t a)
{
    snprintf(out, cap, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

static const char *front_name(uint16_t dom)
{
    return dom >= 1 && dom <= FRONTS_MAX && fronts[dom - 1].c ? fronts[dom - 1].name : "-";
}

/* The log records, to the console for now (rate-limited by the log). */
static void print_log(void)
{
    static const char *const types[] = {"?",        "lease-granted", "lease-released", "flow-start",
                                        "flow-end", "denied",        "spoof",          "lost"};
    struct vfr_log_rec r;
    while (vfr_log_take(&rt.log, &r)) {
        const char *t = r.type < sizeof types / sizeof types[0] ? types[r.type] : "?";
        const char *p = r.proto == VFR_PROTO_TCP    ? "tcp"
                        : r.proto == VFR_PROTO_UDP  ? "udp"
                        : r.proto == VFR_PROTO_ICMP ? "icmp"
                                                    : "?";
        char src[16], dst[16];
        ip_str(src, sizeof src, r.src);
        ip_str(dst, sizeof dst, r.dst);
        switch (r.type) {
        case VFR_LOG_LEASE_GRANTED:
        case VFR_LOG_LEASE_RELEASED:
            gk_printf("netback: log %llu %s %s %s %u-%u\n", (unsigned long long)r.seq, t,
                      front_name(r.dom), p, r.lo, r.hi);
            break;
        case VFR_LOG_LOST:
            gk_printf("netback: log %llu lost %llu\n", (unsigned long long)r.seq,
                      (unsigned long long)r.count);
            break;
        case VFR_LOG_FLOW_START:
            gk_printf("netback: log %llu flow-start %s %s port %u peer %s:%u\n",
                      (unsigned long long)r.seq, front_name(r.dom), p, r.sport, dst, r.dport);
            break;
        case VFR_LOG_FLOW_END: /* the domain's port, the peer */
            gk_printf("netback: log %llu flow-end %s %s port %u peer %s:%u in %llu/%llu out "
                      "%llu/%llu (packets/bytes) %llu ms\n",
                      (unsigned long long)r.seq, front_name(r.dom), p, r.sport, dst, r.dport,
                      (unsigned long long)r.pkts_in, (unsigned long long)r.bytes_in,
                      (unsigned long long)r.pkts_out, (unsigned long long)r.bytes_out,
                      (unsigned long long)(r.duration_ns / 1000000u));
            break;
        default:
            gk_printf("netback: log %llu %s %s %s %s:%u %s:%u%s%s\n", (unsigned long long)r.seq, t,
                      front_name(r.dom), p, src, r.sport, dst, r.dport,
                      r.type == VFR_LOG_SPOOF ? " " : "",
                      r.type == VFR_LOG_SPOOF ? vfr_drop_name((enum vfr_drop)r.reason) : "");
        }
    }
}

/* A line of drop counts when they changed, at most once per DROPS_EVERY_NS. */
static void print_drops(uint64_t now)
{
    static uint64_t shown[VFR_DROP_COUNT], next_ns;
    if (now < next_ns || memcmp(shown, rt.vfr.drops, sizeof shown) == 0)
        return;
    next_ns = now + DROPS_EVERY_NS;
    memcpy(shown, rt.vfr.drops, sizeof shown);
    char line[400];
    size_t n = 0;
    for (unsigned i = 1; i < VFR_DROP_COUNT && n < sizeof line; i++)
        if (shown[i])
            n += (size_t)snprintf(line + n, sizeof line - n, " %s %llu",
                                  vfr_drop_name((enum vfr_drop)i), (unsigned long long)shown[i]);
    gk_printf("netback: dropped:%s\n", line);
}

static void refuse(struct gk_conn *c, const char *peer, const char *why)
{
    gk_printf("netback: front %s refused: %s\n", peer, why);
    gk_conn_close(c);
}

static void join(struct gk_conn *c, uint64_t now)
{
    const char *peer = gk_conn_peer(c);
    if (peer == NULL)
        peer = "?";
    struct front *fr = NULL;
    for (unsigned i = 0; i < FRONTS_MAX && !fr; i++)
        if (fronts[i].c == NULL)
            fr = &fronts[i];
    if (!fr) {
        refuse(c, peer, "every front-end slot is taken");
        return;
    }
    uint16_t dom = (uint16_t)(fr - fronts + 1);
    char key[80], val[512];
    snprintf(key, sizeof key, "net-lease:%s", peer);
    int got = gk_config_get(key, val, sizeof val);
    static struct vfr_lease l[LEASES_MAX];
    uint32_t n = got == 1 ? nb_parse_ports(val, dom, l, LEASES_MAX) : 0;
    if (n == 0) {
        refuse(c, peer,
               got == 1 ? "its lease does not parse"
                        : "it has no lease (its manifest has no net: {ports: [...]})");
        return;
    }
    /* Its classes and rules (absent: unlimited, no rules). */
    struct nsched_class tx, rx;
    memset(&tx, 0, sizeof tx);
    tx.weight = 1;
    rx = tx;
    static char policy[512];
    snprintf(key, sizeof key, "net-class:%s", peer);
    got = gk_config_get(key, policy, sizeof policy);
    if (got < 0 || (got == 1 && !nb_parse_classes(policy, &tx, &rx))) {
        refuse(c, peer,
               got < 0 ? "the control domain did not answer for its classes"
                       : "its classes (net: {tx:, rx:}) do not parse");
        return;
    }
    static struct vfr_rule rules[VFR_RULES_MAX];
    int32_t nrules = 0;
    snprintf(key, sizeof key, "net-rules:%s", peer);
    got = gk_config_get(key, policy, sizeof policy);
    if (got < 0 || (got == 1 && (nrules = nb_parse_rules(policy, rules, VFR_RULES_MAX)) < 0)) {
        refuse(c, peer,
               got < 0 ? "the control domain did not answer for its rules"
                       : "its rules (net: {rules: [...]}) do not parse");
        return;
    }
    if (!nb_router_add_domain(&rt, dom, &tx, &rx, now)) {
        refuse(c, peer, "the router has no room or memory for it, or its classes are invalid");
        return;
    }
    if (nb_router_set_rules(&rt, dom, rules, (uint32_t)nrules) != VFR_RULE_NONE) {
        nb_router_remove_domain(&rt, dom, now);
        refuse(c, peer, "a rule is invalid (a prefix with host bits, or a port range 0-N)");
        return;
    }
    struct vfr_lease conflict;
    if (nb_router_set_leases(&rt, dom, l, n, &conflict, now) != VFR_LEASE_OK) {
        char why[96];
        snprintf(why, sizeof why, "its lease overlaps %s's %u-%u", front_name(conflict.dom),
                 conflict.lo, conflict.hi);
        nb_router_remove_domain(&rt, dom, now);
        refuse(c, peer, why);
        return;
    }
    memset(fr, 0, sizeof *fr);
    fr->c = c;
    fr->dom = dom;
    snprintf(fr->name, sizeof fr->name, "%s", peer);
    struct netif_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.hdr.type = NETIF_MSG_CONFIG;
    memcpy(cfg.mac, nic.mac, 6);
    cfg.mtu = 1500;
    cfg.addr = ext_addr;
    cfg.netmask = ext_mask;
    cfg.gateway = ext_gw;
    cfg.port_lo = l[0].lo;
    cfg.port_hi = l[0].hi;
    cfg.flags = NETIF_F_RSIP;
    gk_conn_send(c, &cfg, sizeof cfg, gk_now_ns() + 1000000000ull);
    gk_printf("netback: front %s joined (domain %u, ports %s, rules %d, rx %llu B/s, tx %llu "
              "B/s)\n",
              fr->name, dom, val, (int)nrules, (unsigned long long)rx.rate_bps,
              (unsigned long long)tx.rate_bps);
}

static void leave(struct front *fr, uint64_t now)
{
    gk_printf("netback: front %s left (frames in %llu out %llu, dropped: ring full %llu, bad "
              "%llu)\n",
              fr->name, (unsigned long long)fr->rx, (unsigned long long)fr->tx,
              (unsigned long long)fr->tx_full,
              (unsigned long long)(fr->bad[NB_MSG_SHORT] + fr->bad[NB_MSG_TYPE] +
                                   fr->bad[NB_MSG_RESERVED] + fr->bad[NB_MSG_LENGTH]));
    nb_router_remove_domain(&rt, fr->dom, now);
    print_log(); /* its flow ends and lease releases, while its name is known */
    gk_conn_close(fr->c);
    fr->c = NULL;
}

/* Up to FRONT_BUDGET messages of one front end; whether there were any. */
static bool serve_front(struct front *fr, uint64_t now)
{
    bool busy = false;
    for (unsigned k = 0; k < FRONT_BUDGET; k++) {
        uint32_t got = 0;
        enum gk_chan_status st = gk_conn_recv(fr->c, msg, sizeof msg, &got, 0);
        if (st == GK_CHAN_ETOOBIG) { /* longer than any frame message: skipped */
            fr->bad[NB_MSG_LENGTH]++;
            gk_conn_release(fr->c);
            busy = true;
            continue;
        }
        if (st != GK_CHAN_OK)
            break;
        busy = true;
        const uint8_t *f;
        size_t flen;
        enum nb_msg_status ms = nb_front_msg(msg, got, &f, &flen);
        if (ms != NB_MSG_FRAME) {
            fr->bad[ms]++;
            continue;
        }
        fr->rx++;
        nb_router_from_domain(&rt, fr->dom, f, flen, now);
    }
    return busy;
}

/* Blocks until an event (the NIC, a front end, the bus) or deadline. */
static void idle_wait(uint64_t deadline)
{
    gk_bus_poll(); /* what the bus brought is served before sleeping */
    bool was = gk_events_disable();
    bool work = false;
    for (uint32_t v = 0; nic_irq && v < pci.vector_count; v++)
        if (gk_evtchn_test_and_clear(pci.port[v]))
            work = true;
    if (!work && nic_irq)
        work = gk_vq_enable_cb(&nic.rxq.vq);
    if (!work && gk_now_ns() < deadline) {
        gk_timer_arm(deadline);
        gk_block();
        gk_events_disable();
    }
    gk_events_restore(was);
}

int main(const struct hv_start_info *si)
{
    if (gk_mm_init(si) != 0)
        gk_panic("netback: gk_mm_init failed");
    char val[64];
    unsigned plen = 0;
    if (gk_config_get("address", val, sizeof val) != 1 || !nb_parse_addr(val, &ext_addr, &plen) ||
        ext_addr == 0) {
        gk_printf("netback: FAILED no valid config address (A.B.C.D/LEN)\n");
        return 1;
    }
    ext_mask = nb_prefix_mask(plen);
    if (gk_config_get("gateway", val, sizeof val) == 1 && !nb_parse_addr(val, &ext_gw, NULL)) {
        gk_printf("netback: FAILED bad config gateway \"%s\"\n", val);
        return 1;
    }
    size_t n = gk_pci_enumerate_caps(HV_ROOT_SLOT_DEVICE_FIRST, fns, MAX_FUNCTIONS);
    if (n > MAX_FUNCTIONS)
        n = MAX_FUNCTIONS;
    const struct gk_pci_cap_function *f = NULL;
    for (size_t i = 0; i < n && !f; i++)
        if (is_net(&fns[i]))
            f = &fns[i];
    if (!f) {
        gk_printf("netback: FAILED no virtio-net function given (manifest pci:)\n");
        return 1;
    }
    if (gk_virtio_pci_open(&pci, f, WINDOW_VA, WINDOW_BYTES) != HV_OK) {
        gk_printf("netback: FAILED opening the virtio-net function\n");
        return 1;
    }
    nic_irq = gk_virtio_pci_use_interrupts(&pci, 2) == HV_OK;
    if (gk_virtio_net_init(&nic, &pci.dev) != GK_VIRTIO_OK || !nic.has_mac) {
        gk_printf("netback: FAILED virtio-net init\n");
        return 1;
    }
    gk_printf("netback: nic %02x:%02x:%02x:%02x:%02x:%02x, %s\n", nic.mac[0], nic.mac[1],
              nic.mac[2], nic.mac[3], nic.mac[4], nic.mac[5], nic_irq ? "interrupts" : "polled");
    struct nb_out out = {NULL, out_wire, out_domain};
    nb_router_init(&rt, ext_addr, nic.mac, &out, LOG_RATE, LOG_BURST, gk_now_ns());
    int64_t reg = gk_service_register("net");
    if (reg != HV_OK)
        gk_printf("netback: registering the service net failed (%lld); declared channels only\n",
                  (long long)reg);
    ip_str(val, sizeof val, ext_addr);
    gk_printf("netback: ready %s/%u\n", val, plen);
    static uint8_t frame[GK_VIRTIO_NET_FRAME_MAX];
    for (;;) {
        uint64_t now = gk_now_ns();
        struct gk_conn *c;
        while ((c = gk_conn_wait("net", 0)) != NULL)
            join(c, now);
        bool busy = false;
        size_t len;
        for (unsigned k = 0;
             k < NIC_BUDGET && gk_virtio_net_recv(&nic, frame, sizeof frame, &len) == GK_VIRTIO_OK;
             k++) {
            nb_router_from_wire(&rt, frame, len, now);
            busy = true;
        }
        for (unsigned i = 0; i < FRONTS_MAX; i++) {
            struct front *fr = &fronts[i];
            if (fr->c == NULL)
                continue;
            if (serve_front(fr, now))
                busy = true;
            else if (gk_conn_gone(fr->c))
                leave(fr, now);
        }
        uint64_t next = nb_router_poll(&rt, gk_now_ns(), 256);
        print_log();
        print_drops(gk_now_ns());
        if (busy)
            continue;
        uint64_t deadline = gk_now_ns() + (nic_irq ? 1000000000ull : POLL_NS);
        if (next < deadline)
            deadline = next;
        idle_wait(deadline);
    }
}
