/*
 * ARP (RFC 826) for the stack's one interface: a cache of cfg.arp_entries
 * entries, requests retried every second (three tries, then the waiting
 * packets are dropped and counted), answers to requests for our address,
 * and a small queue of IP packets waiting for their next hop's address
 * (struct arpq: 16 packets, at most 8 per next hop, sent in order).
 *
 * Hostile input: a packet that is short, not Ethernet/IPv4 with 6/4-byte
 * addresses, neither request nor reply, or from a multicast hardware
 * address is counted (rx_bad_arp) and ignored. A sender is added to the
 * cache only when the packet is for our address (RFC 826's merge rule);
 * otherwise only an existing entry is refreshed, so a flood of packets for
 * other addresses cannot churn the cache.
 */
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

#define ARP_LEN 28u
#define ARP_RETRY_NS (1000ull * NS_PER_MS)
#define ARP_TRIES 3u
#define ARP_LIFETIME_NS (300000ull * NS_PER_MS)

bool arp_init(struct gk_ip *ip)
{
    ip->arp = calloc(ip->cfg.arp_entries, sizeof *ip->arp);
    return ip->arp != NULL;
}

void arp_fini(struct gk_ip *ip)
{
    free(ip->arp);
    ip->arp = NULL;
    free(ip->arpq.data);
    ip->arpq.data = NULL;
}

/* Drops (and counts) every packet waiting for nh. */
static void queue_drop(struct gk_ip *ip, uint32_t nh)
{
    struct arpq *q = &ip->arpq;
    for (uint32_t i = 0; i < ARPQ_MAX; i++)
        if (q->len[i] != 0 && q->nh[i] == nh) {
            q->len[i] = 0;
            ip->st.tx_dropped++;
        }
}

/* Queues the packet at ip->tx + ETH_HDR for nh; false if there is no room. */
static bool queue_add(struct gk_ip *ip, uint32_t nh, size_t len)
{
    struct arpq *q = &ip->arpq;
    if (q->data == NULL) {
        q->data = malloc((size_t)ARPQ_MAX * (ETH_FRAME_MAX - ETH_HDR));
        if (q->data == NULL)
            return false;
    }
    uint32_t free_slot = ARPQ_MAX, for_hop = 0;
    for (uint32_t i = 0; i < ARPQ_MAX; i++) {
        if (q->len[i] == 0) {
            if (free_slot == ARPQ_MAX)
                free_slot = i;
        } else if (q->nh[i] == nh) {
            for_hop++;
        }
    }
    if (free_slot == ARPQ_MAX || for_hop >= ARPQ_PER_HOP)
        return false;
    memcpy(q->data + (size_t)free_slot * (ETH_FRAME_MAX - ETH_HDR), ip->tx + ETH_HDR, len);
    q->nh[free_slot] = nh;
    q->len[free_slot] = (uint16_t)len;
    q->order[free_slot] = q->next_order++;
    return true;
}

static struct arp_entry *find(struct gk_ip *ip, uint32_t addr)
{
    for (uint32_t i = 0; i < ip->cfg.arp_entries; i++)
        if (ip->arp[i].state != ARP_FREE && ip->arp[i].ip == addr)
            return &ip->arp[i];
    return NULL;
}

static void entry_clear(struct gk_ip *ip, struct arp_entry *e)
{
    if (e->state == ARP_PENDING)
        queue_drop(ip, e->ip);
    e->state = ARP_FREE;
}

/* A free entry, else the least recently used one (its waiting packets are
 * dropped). */
static struct arp_entry *take(struct gk_ip *ip)
{
    struct arp_entry *victim = NULL;
    for (uint32_t i = 0; i < ip->cfg.arp_entries; i++) {
        struct arp_entry *e = &ip->arp[i];
        if (e->state == ARP_FREE)
            return e;
        if (victim == NULL || e->used_at < victim->used_at)
            victim = e;
    }
    entry_clear(ip, victim);
    return victim;
}

static void send_arp(struct gk_ip *ip, uint16_t op, const uint8_t *tha, uint32_t tpa,
                     const uint8_t *dst_mac)
{
    uint8_t *p = ip->tx + ETH_HDR;
    put16(p, 1);
    put16(p + 2, ETH_TYPE_IPV4);
    p[4] = 6;
    p[5] = 4;
    put16(p + 6, op);
    memcpy(p + 8, ip->cfg.mac, 6);
    put32(p + 14, ip->cfg.addr);
    memcpy(p + 18, tha, 6);
    put32(p + 24, tpa);
    net_send_frame(ip, dst_mac, ETH_TYPE_ARP, ARP_LEN);
}

static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t zero_mac[6] = {0};

static void request(struct gk_ip *ip, struct arp_entry *e)
{
    e->tries++;
    e->expires_at = ip->now + ARP_RETRY_NS;
    ip->st.arp_requests++;
    send_arp(ip, 1, zero_mac, e->ip, bcast);
}

/* The packets waiting for the entry's address go now, oldest first. */
static void flush_pending(struct gk_ip *ip, struct arp_entry *e)
{
    struct arpq *q = &ip->arpq;
    for (;;) {
        uint32_t best = ARPQ_MAX;
        for (uint32_t i = 0; i < ARPQ_MAX; i++)
            if (q->len[i] != 0 && q->nh[i] == e->ip &&
                (best == ARPQ_MAX || (int32_t)(q->order[i] - q->order[best]) < 0))
                best = i;
        if (best == ARPQ_MAX)
            return;
        size_t n = q->len[best];
        q->len[best] = 0;
        memcpy(ip->tx + ETH_HDR, q->data + (size_t)best * (ETH_FRAME_MAX - ETH_HDR), n);
        net_send_frame(ip, e->mac, ETH_TYPE_IPV4, n);
    }
}

void arp_input(struct gk_ip *ip, const uint8_t *p, size_t len)
{
    if (len < ARP_LEN || get16(p) != 1 || get16(p + 2) != ETH_TYPE_IPV4 || p[4] != 6 || p[5] != 4) {
        ip->st.rx_bad_arp++;
        return;
    }
    uint16_t op = get16(p + 6);
    const uint8_t *sha = p + 8;
    uint32_t spa = get32(p + 14);
    uint32_t tpa = get32(p + 24);
    if ((op != 1 && op != 2) || (sha[0] & 1) != 0) {
        ip->st.rx_bad_arp++;
        return;
    }
    bool for_us = ip->cfg.addr != 0 && tpa == ip->cfg.addr;
    /* In RSIP mode the router answers for our own (shared) address: the
     * domains holding its other ports are reached through it. */
    if (spa != 0 && (spa != ip->cfg.addr || ip->cfg.rsip)) {
        struct arp_entry *e = find(ip, spa);
        if (e == NULL && for_us)
            e = take(ip);
        if (e != NULL) {
            e->ip = spa;
            memcpy(e->mac, sha, 6);
            e->state = ARP_READY;
            e->tries = 0;
            e->expires_at = ip->now + ARP_LIFETIME_NS;
            e->used_at = ip->now;
            flush_pending(ip, e);
        }
    }
    if (for_us && op == 1) {
        uint8_t mac[6];
        memcpy(mac, sha, 6); /* sha lives in the frame: copy before building */
        ip->st.arp_replies++;
        send_arp(ip, 2, mac, spa, mac);
    }
}

void arp_output(struct gk_ip *ip, uint32_t nh, size_t len)
{
    if (nh == 0xffffffffu || (ip->cfg.netmask != 0 && nh == (ip->cfg.addr | ~ip->cfg.netmask))) {
        net_send_frame(ip, bcast, ETH_TYPE_IPV4, len);
        return;
    }
    struct arp_entry *e = find(ip, nh);
    if (e != NULL && e->state == ARP_READY && ip->now < e->expires_at) {
        e->used_at = ip->now;
        net_send_frame(ip, e->mac, ETH_TYPE_IPV4, len);
        return;
    }
    if (e == NULL)
        e = take(ip);
    else if (e->state == ARP_READY) /* stale: ask again */
        e->state = ARP_FREE;
    e->used_at = ip->now;
    if (!queue_add(ip, nh, len))
        ip->st.tx_dropped++;
    if (e->state != ARP_PENDING) {
        e->ip = nh;
        e->state = ARP_PENDING;
        e->tries = 0;
        request(ip, e);
    }
}

void arp_timers(struct gk_ip *ip, uint64_t *next)
{
    for (uint32_t i = 0; i < ip->cfg.arp_entries; i++) {
        struct arp_entry *e = &ip->arp[i];
        if (e->state == ARP_PENDING) {
            if (ip->now >= e->expires_at) {
                if (e->tries >= ARP_TRIES) {
                    ip->st.arp_failed++;
                    entry_clear(ip, e);
                    continue;
                }
                request(ip, e);
            }
            if (e->expires_at < *next)
                *next = e->expires_at;
        } else if (e->state == ARP_READY && ip->now >= e->expires_at) {
            entry_clear(ip, e);
        }
    }
}
