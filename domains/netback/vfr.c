/* The VFR's forwarding decision (vfr.h). */
#include "vfr.h"

#include <string.h>

static void copy_mac(uint8_t *dst, const uint8_t *src)
{
    for (int i = 0; i < 6; i++)
        dst[i] = src[i];
}

static bool mac_eq(const uint8_t *a, const uint8_t *b)
{
    for (int i = 0; i < 6; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

void vfr_init(struct vfr *v, uint32_t ext_addr, const uint8_t mac[6])
{
    memset(v, 0, sizeof *v); /* not a zeroed local: larger than a domain's stack */
    v->ext_addr = ext_addr;
    copy_mac(v->mac, mac);
    vfr_lease_init(&v->leases);
}

struct vfr_dom *vfr_dom_get(struct vfr *v, uint16_t id)
{
    for (uint32_t i = 0; i < VFR_DOMS_MAX; i++)
        if (v->doms[i].used && v->doms[i].id == id)
            return &v->doms[i];
    return NULL;
}

bool vfr_dom_add(struct vfr *v, uint16_t id)
{
    if (id == VFR_DOM_NONE || vfr_dom_get(v, id) != NULL)
        return false;
    for (uint32_t i = 0; i < VFR_DOMS_MAX; i++)
        if (!v->doms[i].used) {
            struct vfr_dom zero = {0};
            v->doms[i] = zero;
            v->doms[i].used = true;
            v->doms[i].id = id;
            return true;
        }
    return false;
}

bool vfr_dom_remove(struct vfr *v, uint16_t id)
{
    struct vfr_dom *d = vfr_dom_get(v, id);
    if (d == NULL)
        return false;
    vfr_lease_set(&v->leases, id, NULL, 0, NULL);
    for (uint32_t i = 0; i < VFR_FRAGS_MAX; i++)
        if (v->frags[i].used && (v->frags[i].from == id || v->frags[i].to == id))
            v->frags[i].used = false;
    d->used = false;
    return true;
}

const char *vfr_drop_name(enum vfr_drop d)
{
    static const char *const names[VFR_DROP_COUNT] = {
        "none",       "parse",      "not-ours", "no-lease", "denied", "spoof-mac",
        "spoof-addr", "spoof-port", "fragment", "protocol", "arp",
    };
    return (unsigned)d < VFR_DROP_COUNT ? names[d] : "unknown";
}

/* ---- Fragments ---------------------------------------------------------------- */

static struct vfr_frag *frag_find(struct vfr *v, const struct vfr_pkt *p, uint64_t now)
{
    for (uint32_t i = 0; i < VFR_FRAGS_MAX; i++) {
        struct vfr_frag *f = &v->frags[i];
        if (f->used && now >= f->expires_ns)
            f->used = false;
        if (f->used && f->src == p->src && f->dst == p->dst && f->ip_id == p->ip_id &&
            f->proto == p->proto)
            return f;
    }
    return NULL;
}

/* Remembers where the datagram of first fragment p goes (from, to): a free
 * or expired entry, else the one that expires first. */
static void frag_note(struct vfr *v, const struct vfr_pkt *p, uint16_t from, uint16_t to,
                      uint64_t now)
{
    struct vfr_frag *f = frag_find(v, p, now);
    if (f == NULL) {
        for (uint32_t i = 0; i < VFR_FRAGS_MAX; i++) {
            struct vfr_frag *c = &v->frags[i];
            if (!c->used) {
                f = c;
                break;
            }
            if (f == NULL || c->expires_ns < f->expires_ns)
                f = c;
        }
    }
    f->used = true;
    f->src = p->src;
    f->dst = p->dst;
    f->ip_id = p->ip_id;
    f->proto = p->proto;
    f->from = from;
    f->to = to;
    f->expires_ns = now + VFR_FRAG_LIFETIME_NS;
}

/* ---- Replies netback builds ---------------------------------------------------- */

static size_t arp_reply(const struct vfr *v, const struct vfr_pkt *p, uint8_t *r)
{
    copy_mac(r, p->arp_sha);
    copy_mac(r + 6, v->mac);
    vfr_put16(r + 12, VFR_ETH_ARP);
    uint8_t *a = r + VFR_ETH_HDR;
    vfr_put16(a, 1);
    vfr_put16(a + 2, VFR_ETH_IPV4);
    a[4] = 6;
    a[5] = 4;
    vfr_put16(a + 6, 2);
    copy_mac(a + 8, v->mac);
    vfr_put32(a + 14, v->ext_addr);
    copy_mac(a + 18, p->arp_sha);
    vfr_put32(a + 24, p->arp_spa);
    for (size_t i = VFR_ETH_HDR + 28; i < 60; i++)
        r[i] = 0;
    return 60;
}

/* An echo reply to an unfragmented echo request p (frame f). */
static size_t echo_reply(const struct vfr *v, const uint8_t *f, const struct vfr_pkt *p, uint8_t *r)
{
    size_t len = VFR_ETH_HDR + p->ip_len;
    for (size_t i = 0; i < len; i++)
        r[i] = f[i];
    copy_mac(r, p->src_mac);
    copy_mac(r + 6, v->mac);
    uint8_t *ip = r + VFR_ETH_HDR;
    size_t ihl = p->l4_off - VFR_ETH_HDR;
    ip[0] = 0x45; /* options are not echoed */
    if (ihl != 20) {
        for (size_t i = 0; i < p->ip_len - ihl; i++)
            ip[20 + i] = f[p->l4_off + i];
        len -= ihl - 20;
    }
    size_t tot = len - VFR_ETH_HDR;
    vfr_put16(ip + 2, (uint16_t)tot);
    vfr_put16(ip + 6, 0);
    ip[8] = 64;
    vfr_put32(ip + 12, v->ext_addr);
    vfr_put32(ip + 16, p->src);
    vfr_put16(ip + 10, 0);
    vfr_put16(ip + 10, vfr_csum(ip, 20));
    uint8_t *m = ip + 20;
    m[0] = 0;
    vfr_put16(m + 2, 0);
    vfr_put16(m + 2, vfr_csum(m, tot - 20));
    return len;
}

/* ---- Decisions -------------------------------------------------------------------- */

static void drop(struct vfr *v, struct vfr_dom *d, struct vfr_verdict *o, enum vfr_drop why)
{
    o->to = VFR_TO_DROP;
    o->drop = (uint8_t)why;
    v->drops[why]++;
    if (d)
        d->c.drops[why]++;
}

/* Where a packet to the external address goes (wire or domain alike):
 * the holder of its port, then the holder's inbound rules. */
static void deliver_in(struct vfr *v, uint16_t from, const struct vfr_pkt *p, size_t len,
                       uint64_t now, struct vfr_verdict *o)
{
    uint16_t owner = VFR_DOM_NONE, port = 0;
    if (p->frag_offset != 0) {
        struct vfr_frag *f = frag_find(v, p, now);
        if (f == NULL || f->from != from || f->to == VFR_DOM_NONE) {
            drop(v, NULL, o, VFR_DROP_FRAGMENT);
            return;
        }
        owner = f->to;
    } else if (p->proto == VFR_PROTO_TCP || p->proto == VFR_PROTO_UDP) {
        port = p->dport;
        owner = vfr_lease_owner(&v->leases, p->proto, port);
    } else if (p->proto == VFR_PROTO_ICMP && p->icmp_type == 0) {
        port = p->dport;
        owner = vfr_lease_owner(&v->leases, VFR_PROTO_UDP, port);
    } else if (p->proto == VFR_PROTO_ICMP && p->icmp_error) {
        /* About a datagram the holder sent: from our address, its port. */
        if (p->inner.src != v->ext_addr) {
            drop(v, NULL, o, VFR_DROP_NOT_OURS);
            return;
        }
        uint8_t lp = p->inner.proto == VFR_PROTO_ICMP ? VFR_PROTO_UDP : p->inner.proto;
        port = p->inner.sport;
        owner = vfr_lease_owner(&v->leases, lp, port);
    } else {
        drop(v, NULL, o, VFR_DROP_PROTO);
        return;
    }
    struct vfr_dom *d = owner == VFR_DOM_NONE ? NULL : vfr_dom_get(v, owner);
    if (d == NULL) {
        drop(v, NULL, o, VFR_DROP_NO_LEASE);
        return;
    }
    if (p->frag_offset == 0 && p->more_frags)
        frag_note(v, p, from, owner, now);
    o->dom = owner;
    o->rule = vfr_rules_match(&d->rules, VFR_IN, p->proto, port, p->src, (uint32_t)len);
    if (o->rule != VFR_RULE_NONE && d->rules.r[o->rule].action == VFR_DENY) {
        drop(v, d, o, VFR_DROP_DENIED);
        return;
    }
    o->to = VFR_TO_DOMAIN;
    d->c.rx_packets++;
    d->c.rx_bytes += len;
}

static void verdict_start(struct vfr_verdict *o)
{
    struct vfr_verdict zero = {0};
    *o = zero;
    o->rule = VFR_RULE_NONE;
    o->dom = VFR_DOM_NONE;
}

void vfr_from_wire(struct vfr *v, const uint8_t *frame, size_t len, uint64_t now_ns, uint8_t *reply,
                   struct vfr_verdict *o)
{
    verdict_start(o);
    enum vfr_pkt_status st = vfr_pkt_parse(frame, len, &o->pkt);
    const struct vfr_pkt *p = &o->pkt;
    if (st != VFR_PKT_OK) {
        o->parse = (uint8_t)st;
        drop(v, NULL, o, VFR_DROP_PARSE);
        return;
    }
    if (p->kind == VFR_KIND_ARP) {
        if (p->arp_tpa != v->ext_addr || (p->arp_sha[0] & 1) != 0) {
            drop(v, NULL, o, VFR_DROP_ARP);
        } else if (p->arp_op == 1) {
            o->reply_len = arp_reply(v, p, reply);
            o->to = VFR_TO_REPLY;
            v->arp_answered++;
        } else {
            o->to = VFR_TO_ALL_DOMAINS;
        }
        return;
    }
    if (p->dst != v->ext_addr) {
        drop(v, NULL, o, VFR_DROP_NOT_OURS);
        return;
    }
    if (p->proto == VFR_PROTO_ICMP && p->icmp_type == 8 && p->frag_offset == 0 && !p->more_frags) {
        o->reply_len = echo_reply(v, frame, p, reply);
        o->to = VFR_TO_REPLY;
        v->echo_answered++;
        return;
    }
    deliver_in(v, VFR_DOM_NONE, p, len, now_ns, o);
}

void vfr_from_domain(struct vfr *v, uint16_t dom, const uint8_t *frame, size_t len, uint64_t now_ns,
                     uint8_t *reply, struct vfr_verdict *o)
{
    verdict_start(o);
    struct vfr_dom *d = vfr_dom_get(v, dom);
    enum vfr_pkt_status st = vfr_pkt_parse(frame, len, &o->pkt);
    const struct vfr_pkt *p = &o->pkt;
    if (st != VFR_PKT_OK) {
        o->parse = (uint8_t)st;
        drop(v, d, o, VFR_DROP_PARSE);
        return;
    }
    if (d == NULL) {
        drop(v, NULL, o, VFR_DROP_NO_LEASE);
        return;
    }
    if (!mac_eq(p->src_mac, v->mac)) {
        drop(v, d, o, VFR_DROP_SPOOF_MAC);
        return;
    }
    if (p->kind == VFR_KIND_ARP) {
        if (p->arp_op != 1) {
            drop(v, d, o, VFR_DROP_ARP);
        } else if (p->arp_spa != v->ext_addr || !mac_eq(p->arp_sha, v->mac)) {
            drop(v, d, o, VFR_DROP_SPOOF_ADDR);
        } else if (p->arp_tpa == v->ext_addr) {
            o->reply_len = arp_reply(v, p, reply);
            o->to = VFR_TO_REPLY;
            v->arp_answered++;
        } else {
            o->to = VFR_TO_WIRE;
        }
        return;
    }
    if (p->src != v->ext_addr) {
        drop(v, d, o, VFR_DROP_SPOOF_ADDR);
        return;
    }
    uint16_t port = 0;
    if (p->frag_offset != 0) {
        struct vfr_frag *f = frag_find(v, p, now_ns);
        if (f == NULL || f->from != dom) {
            drop(v, d, o, f == NULL ? VFR_DROP_FRAGMENT : VFR_DROP_SPOOF_PORT);
            return;
        }
    } else {
        bool held;
        if (p->proto == VFR_PROTO_TCP || p->proto == VFR_PROTO_UDP) {
            port = p->sport;
            held = vfr_lease_held(&v->leases, dom, p->proto, port);
        } else if (p->proto == VFR_PROTO_ICMP && (p->icmp_type == 0 || p->icmp_type == 8)) {
            port = p->sport;
            held = vfr_lease_held(&v->leases, dom, VFR_PROTO_UDP, port);
        } else if (p->proto == VFR_PROTO_ICMP && p->icmp_error) {
            /* About a datagram it received: to our address, its port. */
            uint8_t lp = p->inner.proto == VFR_PROTO_ICMP ? VFR_PROTO_UDP : p->inner.proto;
            port = p->inner.dport;
            held = p->inner.dst == v->ext_addr && vfr_lease_held(&v->leases, dom, lp, port);
        } else {
            drop(v, d, o, VFR_DROP_PROTO);
            return;
        }
        if (!held) {
            drop(v, d, o, VFR_DROP_SPOOF_PORT);
            return;
        }
        if (p->more_frags && p->dst != v->ext_addr)
            frag_note(v, p, dom, VFR_DOM_NONE, now_ns); /* to a domain: deliver_in notes it */
    }
    o->rule = vfr_rules_match(&d->rules, VFR_OUT, p->proto, port, p->dst, (uint32_t)len);
    if (o->rule != VFR_RULE_NONE && d->rules.r[o->rule].action == VFR_DENY) {
        drop(v, d, o, VFR_DROP_DENIED);
        return;
    }
    d->c.tx_packets++;
    d->c.tx_bytes += len;
    if (p->dst == v->ext_addr) { /* to another domain on this machine */
        o->rule = VFR_RULE_NONE;
        deliver_in(v, dom, p, len, now_ns, o);
        return;
    }
    o->to = VFR_TO_WIRE;
}
