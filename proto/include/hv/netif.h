/*
 * The network interface protocol between a domain's front end (gk/net.h)
 * and netback (docs/net.md, "The front end"): messages over a connection
 * of the domain bus (docs/bus.md), normally a declared channel named "net"
 * from the domain to netback. Every message starts with struct netif_hdr:
 *
 *   NETIF_MSG_CONFIG  netback -> domain, first, and again whenever it
 *                     changes: the MAC, the external address, netmask,
 *                     gateway, MTU and the ports the domain leases (the
 *                     first range; its stack takes ephemeral ports there)
 *   NETIF_MSG_FRAME   both ways: one Ethernet frame (14..1514 bytes, no
 *                     FCS) after the header
 *
 * Both sides are hostile to each other: a message shorter than its
 * header or than its type's size, an unknown type, a frame of a bad length
 * or a configuration out of range is counted and ignored. Multi-byte
 * fields are little-endian (both sides are x86_64 domains).
 */
#ifndef HV_NETIF_H
#define HV_NETIF_H

#include <stddef.h>
#include <stdint.h>

#define NETIF_MSG_CONFIG 1u
#define NETIF_MSG_FRAME 2u
#define NETIF_FRAME_MIN 14u
#define NETIF_FRAME_MAX 1514u
#define NETIF_F_RSIP 1u /* the address is shared: RSIP mode (docs/net.md) */

struct netif_hdr {
    uint16_t type;
    uint16_t reserved; /* 0 */
};

struct netif_config {
    struct netif_hdr hdr;
    uint8_t mac[6];
    uint16_t mtu;  /* 576..1500 */
    uint32_t addr; /* host order (GK_IP4) */
    uint32_t netmask;
    uint32_t gateway; /* 0: none */
    uint16_t port_lo, port_hi;
    uint32_t flags; /* NETIF_F_* */
};

#define NETIF_MSG_MAX (sizeof(struct netif_hdr) + NETIF_FRAME_MAX)

_Static_assert(sizeof(struct netif_hdr) == 4, "netif: header");
_Static_assert(sizeof(struct netif_config) == 32, "netif: config");
_Static_assert(offsetof(struct netif_config, addr) == 12, "netif: config.addr");
_Static_assert(offsetof(struct netif_config, flags) == 28, "netif: config.flags");

#endif
