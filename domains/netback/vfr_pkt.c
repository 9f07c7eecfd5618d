/* netback's packet parser (vfr_pkt.h). */
#include "vfr_pkt.h"

static bool ip_header_ok(const uint8_t *h, size_t ihl)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < ihl; i += 2)
        sum += (uint32_t)h[i] << 8 | h[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum == 0xffff;
}

static enum vfr_pkt_status parse_arp(const uint8_t *p, size_t len, struct vfr_pkt *o)
{
    if (len < 28)
        return VFR_PKT_SHORT;
    if (vfr_get16(p) != 1 || vfr_get16(p + 2) != VFR_ETH_IPV4 || p[4] != 6 || p[5] != 4)
        return VFR_PKT_BAD_ARP;
    o->arp_op = vfr_get16(p + 6);
    if (o->arp_op != 1 && o->arp_op != 2)
        return VFR_PKT_BAD_ARP;
    for (int i = 0; i < 6; i++)
        o->arp_sha[i] = p[8 + i];
    o->arp_spa = vfr_get32(p + 14);
    o->arp_tpa = vfr_get32(p + 24);
    o->kind = VFR_KIND_ARP;
    return VFR_PKT_OK;
}

static bool is_echo(uint8_t type)
{
    return type == 0 || type == 8;
}

static bool is_error(uint8_t type)
{
    return type == 3 || type == 11 || type == 12;
}

/* The quoted datagram of an ICMP error: its IPv4 header and 8 bytes. */
static enum vfr_pkt_status parse_quote(const uint8_t *q, size_t len, struct vfr_flow_ref *r)
{
    if (len < 20 || (q[0] >> 4) != 4)
        return VFR_PKT_BAD_L4;
    size_t ihl = (size_t)(q[0] & 15) * 4;
    if (ihl < 20 || ihl + 8 > len)
        return VFR_PKT_BAD_L4;
    r->proto = q[9];
    r->src = vfr_get32(q + 12);
    r->dst = vfr_get32(q + 16);
    const uint8_t *t = q + ihl;
    if (r->proto == VFR_PROTO_TCP || r->proto == VFR_PROTO_UDP) {
        r->sport = vfr_get16(t);
        r->dport = vfr_get16(t + 2);
    } else if (r->proto == VFR_PROTO_ICMP && is_echo(t[0])) {
        r->sport = r->dport = vfr_get16(t + 4);
    } else {
        return VFR_PKT_BAD_L4;
    }
    return VFR_PKT_OK;
}

static enum vfr_pkt_status parse_l4(const uint8_t *frame, size_t off, size_t len, struct vfr_pkt *o)
{
    const uint8_t *t = frame + off;
    o->l4_off = off;
    switch (o->proto) {
    case VFR_PROTO_TCP:
        if (len < 20)
            return VFR_PKT_SHORT;
        if ((size_t)(t[12] >> 4) * 4 < 20 || (size_t)(t[12] >> 4) * 4 > len)
            return VFR_PKT_BAD_L4;
        o->sport = vfr_get16(t);
        o->dport = vfr_get16(t + 2);
        o->tcp_flags = t[13];
        o->has_ports = true;
        return VFR_PKT_OK;
    case VFR_PROTO_UDP:
        if (len < 8)
            return VFR_PKT_SHORT;
        if (vfr_get16(t + 4) < 8 || vfr_get16(t + 4) > len)
            return VFR_PKT_BAD_L4;
        o->sport = vfr_get16(t);
        o->dport = vfr_get16(t + 2);
        o->has_ports = true;
        return VFR_PKT_OK;
    case VFR_PROTO_ICMP:
        if (len < 8)
            return VFR_PKT_SHORT;
        o->icmp_type = t[0];
        o->icmp_code = t[1];
        if (is_echo(t[0])) {
            o->sport = o->dport = vfr_get16(t + 4);
            o->has_ports = true;
        } else if (is_error(t[0])) {
            o->icmp_error = true;
            return parse_quote(t + 8, len - 8, &o->inner);
        }
        return VFR_PKT_OK;
    default: return VFR_PKT_OK; /* another protocol: no ports (the VFR decides) */
    }
}

enum vfr_pkt_status vfr_pkt_parse(const uint8_t *frame, size_t len, struct vfr_pkt *o)
{
    struct vfr_pkt zero = {0};
    *o = zero;
    if (len < VFR_ETH_HDR)
        return VFR_PKT_SHORT;
    if (len > VFR_ETH_MAX)
        return VFR_PKT_TOO_LONG;
    for (int i = 0; i < 6; i++) {
        o->dst_mac[i] = frame[i];
        o->src_mac[i] = frame[6 + i];
    }
    uint16_t type = vfr_get16(frame + 12);
    const uint8_t *p = frame + VFR_ETH_HDR;
    size_t n = len - VFR_ETH_HDR;
    if (type == VFR_ETH_ARP)
        return parse_arp(p, n, o);
    if (type != VFR_ETH_IPV4)
        return VFR_PKT_ETHERTYPE;
    if (n < 20)
        return VFR_PKT_SHORT;
    if ((p[0] >> 4) != 4)
        return VFR_PKT_BAD_IP;
    size_t ihl = (size_t)(p[0] & 15) * 4;
    size_t tot = vfr_get16(p + 2);
    if (ihl < 20 || ihl > n || tot < ihl || tot > n)
        return VFR_PKT_BAD_IP;
    if (!ip_header_ok(p, ihl))
        return VFR_PKT_IP_CSUM;
    uint16_t fo = vfr_get16(p + 6);
    if (fo & 0x8000)
        return VFR_PKT_BAD_IP;
    o->kind = VFR_KIND_IPV4;
    o->ttl = p[8];
    o->proto = p[9];
    o->src = vfr_get32(p + 12);
    o->dst = vfr_get32(p + 16);
    o->ip_id = vfr_get16(p + 4);
    o->ip_len = (uint16_t)tot;
    o->frag_offset = (uint16_t)((fo & 0x1fff) * 8);
    o->more_frags = (fo & 0x2000) != 0;
    if (o->frag_offset != 0)
        return VFR_PKT_OK; /* no transport header here */
    return parse_l4(frame, VFR_ETH_HDR + ihl, tot - ihl, o);
}

const char *vfr_pkt_status_name(enum vfr_pkt_status st)
{
    static const char *const names[VFR_PKT_STATUS_COUNT] = {
        "ok", "short", "too-long", "ethertype", "bad-arp", "bad-ip", "ip-checksum", "bad-l4",
    };
    return (unsigned)st < VFR_PKT_STATUS_COUNT ? names[st] : "unknown";
}

uint16_t vfr_csum(const uint8_t *p, size_t len)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t)p[i] << 8 | p[i + 1];
    if (len & 1)
        s += (uint32_t)p[len - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}
