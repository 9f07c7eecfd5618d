/*
 * The network front end (docs/net.md, "The front end"): a domain's
 * network interface through netback, over a connection of the domain bus
 * (gk/bus.h; normally a declared channel "net" to netback in the domain's
 * manifest) speaking hv/netif.h — two rings in pages the domain grants,
 * an event channel, frames as messages. It gives the TCP/IP stack
 * (gk/ipstack.h) its driver: gk_net_driver, and its configuration from
 * netback's: gk_net_ip_config (the external address, netback's MAC, RSIP
 * mode, ephemeral ports inside the domain's lease).
 *
 * Waiting is interrupt-driven: the driver's wait sleeps on the
 * connection's event channel (gk_conn_peek with a deadline) until a frame
 * comes or the stack's next timer.
 *
 * Restarts (docs/restart.md): when netback goes away (it stopped, crashed,
 * hung or was restarted: the bus says the connection is gone) the front end
 * closes the connection and takes the next one of the same name the
 * control domain introduces — netback's new instance, which sends its
 * configuration again. Meanwhile frames sent are lost (counted in
 * tx_failed) and the driver's wait sleeps until the new connection or the
 * stack's deadline: the stack sees a delay, TCP retransmits, connections
 * survive. It waits for the new instance as long as the application keeps
 * calling; gk_net_away_ns says for how long netback has been away, for an
 * application that wants a limit of its own.
 *
 * What netback sends is hostile: a message too short, of an unknown type,
 * a frame of a bad length or a configuration out of range is counted
 * (gk_net_stats) and ignored. One thread at a time per front end.
 */
#ifndef GK_NET_H
#define GK_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "gk/ipstack.h"

struct gk_net_config {
    uint8_t mac[6];
    uint16_t mtu;
    uint32_t addr, netmask, gateway; /* host order */
    uint16_t port_lo, port_hi;
    bool rsip;
};

struct gk_net_stats {
    uint64_t rx_frames, tx_frames, rx_bad, tx_failed, configs;
    uint64_t losses;     /* times the connection to netback was found gone */
    uint64_t reconnects; /* times a new connection was taken after that */
};

struct gk_net;

/* Waits until deadline_ns for the connection `name` and netback's first
 * configuration. NULL if either did not come (or memory is short). */
struct gk_net *gk_net_open(const char *name, uint64_t deadline_ns);
/* The configuration netback gave last. */
const struct gk_net_config *gk_net_config_get(const struct gk_net *n);
/* Fills c with gk_ip_config_default and netback's configuration. */
void gk_net_ip_config(const struct gk_net *n, struct gk_ip_config *c);
/* The stack's driver over the front end. */
struct gk_ip_driver gk_net_driver(struct gk_net *n);
/* Whether netback is away now (the connection is over and no new one was
 * taken yet). */
bool gk_net_gone(const struct gk_net *n);
/* For how long it has been away (0: it is not). */
uint64_t gk_net_away_ns(const struct gk_net *n);
void gk_net_get_stats(const struct gk_net *n, struct gk_net_stats *out);
/* Closes the connection and frees n. */
void gk_net_close(struct gk_net *n);

#endif
