/*
 * IPv4 (RFC 791, 1122) for the stack: input checks, delivery to ICMP, UDP
 * and TCP, output with next-hop choice and fragmentation, and reassembly of
 * fragments in at most cfg.reassembly_slots datagrams at once.
 *
 * Input rules (each failure counted and the packet dropped):
 *   - version 4, header length 20..60 and within the frame, total length
 *     within the frame and not shorter than the header (Ethernet padding
 *     after it is ignored), header checksum;
 *   - the reserved flag clear; the source not 0, not multicast or
 *     broadcast, not our own address (except in RSIP mode, where other
 *     domains share it);
 *   - the destination our address, or a broadcast (then UDP only).
 *
 * Reassembly (RFC 815 holes kept as a bitmap of 8-byte units): a datagram
 * is keyed by source, destination, protocol and id; its payload buffer
 * (64 KiB and a bitmap) is allocated for the first fragment and freed when
 * the datagram completes or times out (reassembly_timeout_ms; an ICMP time
 * exceeded goes back if the first fragment had come). A fragment is
 * dropped — with its whole datagram — when it would end past 65535 bytes,
 * a non-final fragment is not a multiple of 8 bytes, two final fragments
 * disagree, data lies past the final length, or it partly overlaps what is
 * there (an exact duplicate is ignored); when every slot is busy the new
 * datagram is dropped (counted: reassembly_dropped). Options of fragmented
 * datagrams are not kept.
 */
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

bool ipv4_init(struct gk_ip *ip)
{
    if (ip->cfg.reassembly_slots) {
        ip->reasm = calloc(ip->cfg.reassembly_slots, sizeof *ip->reasm);
        if (ip->reasm == NULL)
            return false;
    }
    return true;
}

void ipv4_fini(struct gk_ip *ip)
{
    if (ip->reasm)
        for (uint32_t i = 0; i < ip->cfg.reassembly_slots; i++)
            free(ip->reasm[i].data);
    free(ip->reasm);
    ip->reasm = NULL;
    free(ip->loop);
    ip->loop = NULL;
}

static bool is_bcast(const struct gk_ip *ip, uint32_t a)
{
    return a == 0xffffffffu || (ip->cfg.netmask != 0 && ip->cfg.netmask != 0xffffffffu &&
                                a == (ip->cfg.addr | ~ip->cfg.netmask));
}

static void deliver(struct gk_ip *ip, uint8_t proto, uint32_t src, uint32_t dst, bool bcast,
                    const uint8_t *quote, size_t quote_len, const uint8_t *p, size_t len)
{
    switch (proto) {
    case IP_PROTO_ICMP:
        if (!bcast)
            icmp_input(ip, src, dst, p, len);
        break;
    case IP_PROTO_UDP: udp_input(ip, src, dst, bcast, quote, quote_len, p, len); break;
    case IP_PROTO_TCP:
        if (!bcast)
            tcp_input(ip, src, dst, p, len);
        break;
    default:
        ip->st.rx_bad_ip++;
        if (!bcast)
            icmp_send_error(ip, 3, 2, quote, quote_len); /* protocol unreachable */
        break;
    }
}

static void slot_free(struct reasm_slot *r)
{
    free(r->data);
    r->data = NULL;
    r->used = false;
}

static bool bit_get(const uint8_t *bm, uint32_t i)
{
    return (bm[i >> 3] >> (i & 7)) & 1;
}

static void reassemble(struct gk_ip *ip, const uint8_t *p, size_t ihl, size_t tot, bool bcast)
{
    ip->st.frags_in++;
    uint32_t src = get32(p + 12), dst = get32(p + 16);
    uint16_t id = get16(p + 4);
    uint8_t proto = p[9];
    uint16_t fo = get16(p + 6);
    bool mf = (fo & 0x2000) != 0;
    uint32_t off = (uint32_t)(fo & 0x1fff) * 8;
    uint32_t plen = (uint32_t)(tot - ihl);
    struct reasm_slot *r = NULL, *free_slot = NULL;
    for (uint32_t i = 0; i < ip->cfg.reassembly_slots; i++) {
        struct reasm_slot *s = &ip->reasm[i];
        if (s->used && s->src == src && s->dst == dst && s->id == id && s->proto == proto)
            r = s;
        else if (!s->used && free_slot == NULL)
            free_slot = s;
    }
    /* Checks that need no slot. */
    if ((mf && (plen == 0 || plen % 8 != 0)) || off + plen + IP_HDR > IP_MAX) {
        ip->st.reassembly_dropped++;
        if (r)
            slot_free(r);
        return;
    }
    if (r == NULL) {
        if (free_slot == NULL) {
            ip->st.reassembly_dropped++;
            return;
        }
        r = free_slot;
        r->data = calloc(1, REASM_BYTES);
        if (r->data == NULL) {
            ip->st.reassembly_dropped++;
            return;
        }
        r->used = true;
        r->src = src;
        r->dst = dst;
        r->id = id;
        r->proto = proto;
        r->total = 0;
        r->have = 0;
        r->hdr_len = 0;
        r->deadline = ip->now + (uint64_t)ip->cfg.reassembly_timeout_ms * NS_PER_MS;
    }
    uint8_t *bm = r->data + IP_MAX;
    uint32_t end = off + plen;
    bool bad = false;
    if (!mf) {
        if (r->total != 0 && r->total != end)
            bad = true;
        /* No data may lie past the end. */
        for (uint32_t u = (end + 7) / 8; !bad && u < REASM_UNITS; u++)
            if (bit_get(bm, u))
                bad = true;
    } else if (r->total != 0 && end > r->total) {
        bad = true;
    }
    uint32_t u0 = off / 8, u1 = (end + 7) / 8, set = 0;
    for (uint32_t u = u0; u < u1; u++)
        set += bit_get(bm, u);
    if (!bad && set == u1 - u0 && plen > 0) {
        return; /* an exact duplicate: nothing new */
    }
    if (bad || set != 0) {
        ip->st.reassembly_dropped++;
        slot_free(r);
        return;
    }
    memcpy(r->data + off, p + ihl, plen);
    for (uint32_t u = u0; u < u1; u++)
        bm[u >> 3] = (uint8_t)(bm[u >> 3] | (1u << (u & 7)));
    r->have += plen;
    if (!mf)
        r->total = end;
    if (off == 0) {
        size_t n = ihl + 8 <= tot ? 8 : tot - ihl;
        memcpy(r->hdr, p, IP_HDR);
        r->hdr[0] = 0x45; /* options dropped: the quoted header is 20 bytes */
        memcpy(r->hdr + IP_HDR, p + ihl, n);
        r->hdr_len = (uint16_t)(IP_HDR + n);
    }
    if (r->total == 0 || r->have != r->total)
        return;
    ip->st.reassembled++;
    /* Deliver from the slot, then free it (delivery may send, but never
     * touches reassembly). */
    uint8_t quote[IP_HDR + 8];
    size_t ql = r->hdr_len;
    memcpy(quote, r->hdr, ql);
    put16(quote + 2, (uint16_t)(IP_HDR + r->total));
    put16(quote + 6, 0);
    uint8_t *data = r->data;
    uint32_t total = r->total;
    r->data = NULL;
    r->used = false;
    deliver(ip, proto, src, dst, bcast, quote, ql, data, total);
    free(data);
}

void ipv4_input(struct gk_ip *ip, const uint8_t *p, size_t len)
{
    if (len < IP_HDR || (p[0] >> 4) != 4) {
        ip->st.rx_bad_ip++;
        return;
    }
    size_t ihl = (size_t)(p[0] & 15) * 4;
    size_t tot = get16(p + 2);
    if (ihl < IP_HDR || ihl > len || tot < ihl || tot > len) {
        ip->st.rx_bad_ip++;
        return;
    }
    if (net_fold(net_sum(0, p, ihl)) != 0) {
        ip->st.rx_bad_csum++;
        return;
    }
    uint16_t fo = get16(p + 6);
    uint32_t src = get32(p + 12), dst = get32(p + 16);
    if ((fo & 0x8000) != 0 || src == 0 || (src >> 28) >= 14 || is_bcast(ip, src) ||
        (src == ip->cfg.addr && !ip->cfg.rsip)) {
        ip->st.rx_bad_ip++;
        return;
    }
    bool bcast = is_bcast(ip, dst);
    if (!bcast && (ip->cfg.addr == 0 || dst != ip->cfg.addr)) {
        ip->st.rx_not_ours++;
        return;
    }
    if ((fo & 0x3fff) != 0) {
        if (ip->cfg.reassembly_slots == 0) {
            ip->st.reassembly_dropped++;
            return;
        }
        reassemble(ip, p, ihl, tot, bcast);
        return;
    }
    deliver(ip, p[9], src, dst, bcast, p, tot, p + ihl, tot - ihl);
}

void ipv4_timers(struct gk_ip *ip, uint64_t *next)
{
    for (uint32_t i = 0; i < ip->cfg.reassembly_slots; i++) {
        struct reasm_slot *r = &ip->reasm[i];
        if (!r->used)
            continue;
        if (ip->now >= r->deadline) {
            ip->st.reassembly_timeouts++;
            uint8_t quote[IP_HDR + 8];
            size_t ql = r->hdr_len;
            memcpy(quote, r->hdr, ql);
            slot_free(r);
            if (ql) /* time exceeded in reassembly (RFC 792), about the first fragment */
                icmp_send_error(ip, 11, 1, quote, ql);
            continue;
        }
        if (r->deadline < *next)
            *next = r->deadline;
    }
    if (ip->loop_count)
        *next = ip->now;
}

static void fill_header(struct gk_ip *ip, uint8_t *h, uint32_t dst, uint8_t proto, size_t total,
                        uint16_t id, uint16_t frag)
{
    h[0] = 0x45;
    h[1] = 0;
    put16(h + 2, (uint16_t)total);
    put16(h + 4, id);
    put16(h + 6, frag);
    h[8] = IP_DEFAULT_TTL;
    h[9] = proto;
    put16(h + 10, 0);
    put32(h + 12, ip->cfg.addr);
    put32(h + 16, dst);
    put16(h + 10, net_fold(net_sum(0, h, IP_HDR)));
}

static void loopback(struct gk_ip *ip, size_t len)
{
    if (ip->loop == NULL) {
        ip->loop = malloc(LOOP_MAX * LOOP_SLOT);
        if (ip->loop == NULL) {
            ip->st.tx_dropped++;
            return;
        }
    }
    if (ip->loop_count == LOOP_MAX) {
        ip->st.tx_dropped++;
        return;
    }
    uint8_t *slot = ip->loop + ((ip->loop_head + ip->loop_count) % LOOP_MAX) * LOOP_SLOT;
    put16(slot, (uint16_t)len);
    memcpy(slot + 2, ip->tx + ETH_HDR, len);
    ip->loop_count++;
    ip->st.tx_frames++;
}

void ipv4_loopback_run(struct gk_ip *ip)
{
    uint8_t pkt[GK_IP_MTU_MAX];
    /* Only the packets queued now: what they cause waits for the next run. */
    for (uint32_t n = ip->loop_count; n > 0 && ip->loop_count > 0; n--) {
        uint8_t *slot = ip->loop + ip->loop_head * LOOP_SLOT;
        size_t len = get16(slot);
        memcpy(pkt, slot + 2, len);
        ip->loop_head = (ip->loop_head + 1) % LOOP_MAX;
        ip->loop_count--;
        ip->st.rx_frames++;
        ipv4_input(ip, pkt, len);
    }
}

static void route(struct gk_ip *ip, uint32_t dst, size_t len)
{
    if (dst == ip->cfg.addr && !ip->cfg.rsip) {
        loopback(ip, len);
        return;
    }
    uint32_t nh = dst;
    if (!is_bcast(ip, dst) && ip->cfg.gateway != 0 && ((dst ^ ip->cfg.addr) & ip->cfg.netmask) != 0)
        nh = ip->cfg.gateway;
    arp_output(ip, nh, len);
}

int ipv4_output(struct gk_ip *ip, uint32_t dst, uint8_t proto, size_t len, bool df)
{
    if (IP_HDR + len > ip->cfg.mtu)
        return GK_IP_EMSGSIZE;
    fill_header(ip, ip->tx + ETH_HDR, dst, proto, IP_HDR + len, ip->ip_id++, df ? 0x4000 : 0);
    route(ip, dst, IP_HDR + len);
    return GK_IP_OK;
}

int ipv4_output_frags(struct gk_ip *ip, uint32_t dst, uint8_t proto, const uint8_t *hdr,
                      size_t hdr_len, const uint8_t *data, size_t data_len)
{
    size_t total = hdr_len + data_len;
    if (IP_HDR + total > IP_MAX)
        return GK_IP_EMSGSIZE;
    size_t chunk = ((size_t)ip->cfg.mtu - IP_HDR) & ~(size_t)7;
    uint16_t id = ip->ip_id++;
    for (size_t off = 0; off < total; off += chunk) {
        size_t n = total - off < chunk ? total - off : chunk;
        uint8_t *pl = ip->tx + ETH_HDR + IP_HDR;
        /* Bytes [off, off + n) of hdr followed by data. */
        for (size_t i = 0; i < n;) {
            size_t at = off + i;
            if (at < hdr_len) {
                size_t k = hdr_len - at < n - i ? hdr_len - at : n - i;
                memcpy(pl + i, hdr + at, k);
                i += k;
            } else {
                memcpy(pl + i, data + (at - hdr_len), n - i);
                i = n;
            }
        }
        bool more = off + n < total;
        uint16_t frag = (uint16_t)((more ? 0x2000 : 0) | (off / 8));
        fill_header(ip, ip->tx + ETH_HDR, dst, proto, IP_HDR + n, id, frag);
        if (more || off > 0)
            ip->st.frags_out++;
        route(ip, dst, IP_HDR + n);
    }
    return GK_IP_OK;
}
