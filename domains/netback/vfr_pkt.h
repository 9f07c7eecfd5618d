/*
 * netback's packet parser: what the VFR needs to know about one Ethernet
 * frame, read without trusting a byte of it. Plain C11, no allocation: the
 * same file runs in netback, in the host tests (test/unit/netback) and in
 * the fuzz target (test/fuzz/vfr_pkt).
 *
 * Every length is checked against the bytes present before it is used. A
 * frame that is not Ethernet II carrying ARP or IPv4, or whose headers are
 * inconsistent, gets a reason (enum vfr_pkt_status) and nothing else is
 * filled in reliably. The IPv4 header checksum is checked (netback forwards
 * headers unchanged, so it must not route on a corrupt one); TCP, UDP and
 * ICMP checksums are the end hosts' business and are not.
 *
 * Ports: TCP and UDP source and destination; ICMP echo and echo reply use
 * the identifier as both ports (RFC 3022 treats it as the port, and so does
 * the lease of the domain that pings); an ICMP error carries the quoted
 * datagram's protocol, addresses and ports in `inner` (which must be TCP,
 * UDP or an ICMP echo, with at least 8 bytes quoted). A non-first fragment
 * has no ports (`frag_offset` != 0): the VFR finds its destination from the
 * first fragment (vfr.c).
 */
#ifndef NETBACK_VFR_PKT_H
#define NETBACK_VFR_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VFR_ETH_HDR 14u
#define VFR_ETH_MAX 1514u
#define VFR_ETH_ARP 0x0806u
#define VFR_ETH_IPV4 0x0800u
#define VFR_PROTO_ICMP 1u
#define VFR_PROTO_TCP 6u
#define VFR_PROTO_UDP 17u

enum vfr_pkt_status {
    VFR_PKT_OK = 0,
    VFR_PKT_SHORT,     /* shorter than a header it claims */
    VFR_PKT_TOO_LONG,  /* longer than an Ethernet frame */
    VFR_PKT_ETHERTYPE, /* neither ARP nor IPv4 */
    VFR_PKT_BAD_ARP,   /* not Ethernet/IPv4 ARP, bad opcode */
    VFR_PKT_BAD_IP,    /* version, header or total length, reserved flag */
    VFR_PKT_IP_CSUM,   /* IPv4 header checksum */
    VFR_PKT_BAD_L4,    /* TCP data offset, UDP length, an ICMP error's quote */
    VFR_PKT_STATUS_COUNT
};

enum vfr_pkt_kind { VFR_KIND_ARP = 1, VFR_KIND_IPV4 = 2 };

/* The part of an ICMP error's quoted datagram that names its flow. */
struct vfr_flow_ref {
    uint8_t proto;
    uint32_t src, dst;
    uint16_t sport, dport;
};

struct vfr_pkt {
    uint8_t kind;
    uint8_t dst_mac[6], src_mac[6];
    /* ARP */
    uint16_t arp_op;
    uint8_t arp_sha[6];
    uint32_t arp_spa, arp_tpa;
    /* IPv4 (addresses in host order) */
    uint8_t proto, ttl;
    uint32_t src, dst;
    uint16_t ip_id, ip_len; /* total length (frame padding excluded) */
    uint16_t frag_offset;   /* in bytes */
    bool more_frags;
    /* TCP, UDP, ICMP echo (id as both ports); 0 if none */
    bool has_ports;
    uint16_t sport, dport;
    uint8_t tcp_flags;
    uint8_t icmp_type, icmp_code;
    /* ICMP errors (destination unreachable, time exceeded, parameter problem) */
    bool icmp_error;
    struct vfr_flow_ref inner;
    size_t l4_off; /* offset of the TCP/UDP/ICMP header in the frame */
};

/* Parses frame[0..len). VFR_PKT_OK, or why not. */
enum vfr_pkt_status vfr_pkt_parse(const uint8_t *frame, size_t len, struct vfr_pkt *out);

/* A short name of a status, for logs. */
const char *vfr_pkt_status_name(enum vfr_pkt_status st);

/* The Internet checksum (RFC 1071) of p[0..len): the ones' complement of
 * the ones' complement sum of its 16-bit words (an odd last byte padded). */
uint16_t vfr_csum(const uint8_t *p, size_t len);

/* Network-order helpers shared by netback's files. */
static inline uint16_t vfr_get16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t vfr_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void vfr_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void vfr_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
