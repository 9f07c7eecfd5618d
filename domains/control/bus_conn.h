/*
 * One domain's bus as the control domain serves it: the reading and
 * writing rules over its duplex area, with no hypercall (plain C, host-
 * tested by test/unit/control and fuzzed by test/fuzz/bus_conn). bus.c owns
 * the area, the port and the requests; this file decides what may be read,
 * when, and when the domain is cut off (docs/bus.md, "Bad input"):
 *
 *   - budget: a round reads at most BUS_CONN_BUDGET messages of a domain,
 *     and bus.c gives every domain one round per loop, so one domain's flood
 *     delays another by a bounded amount of work;
 *   - rate: a token bucket (BUS_CONN_RATE per second, BUS_CONN_BURST) —
 *     a domain over it is not read (held back, counted in `throttled`)
 *     until tokens come back: its own ring fills and it waits;
 *   - replies: a message is read only when its reply is sure to fit the
 *     outgoing queue (the ring, then BUS_CONN_QUEUE_BYTES of queue); a
 *     domain that does not read its replies therefore stops being read;
 *     when the queue stays stuck for BUS_CONN_STUCK_NS, or an event finds
 *     it full, the domain is disconnected;
 *   - input: a message that does not decode, is too deep or too long, or
 *     is not one a domain may send on the bus (only the types
 *     bus_conn_type_allowed accepts: never a control-protocol request) is a
 *     strike, answered with error-reply; BUS_CONN_STRIKES strikes
 *     disconnect; a broken ring disconnects at once.
 *
 * A disconnected connection reads and writes nothing more; bus.c then
 * takes everything the domain had on the bus down.
 */
#ifndef CONTROL_BUS_CONN_H
#define CONTROL_BUS_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <hv/duplex.h>
#include <hv/proto_msgs.h>

#define BUS_CONN_BUDGET 16u
#define BUS_CONN_RATE 10000u /* messages per second, sustained */
#define BUS_CONN_BURST 1000u
#define BUS_CONN_STRIKES 8u
#define BUS_CONN_QUEUE_BYTES 8192u
#define BUS_CONN_QUEUE_MSGS 32u
#define BUS_CONN_REPLY_MAX 1024u /* room a request's reply is sure to need */
#define BUS_CONN_STUCK_NS (5ull * 1000 * 1000 * 1000)
#define BUS_CONN_MSG_MAX DUPLEX_INLINE_MAX
#define BUS_CONN_REASON_MAX 160u

struct bus_conn {
    struct duplex d;
    enum proto_bus_state state;
    char reason[BUS_CONN_REASON_MAX];
    uint64_t msgs_in, msgs_out, errors, throttled;
    uint32_t strikes;
    bool hello;      /* bus-hello received */
    bool holding;    /* held back now (rate): counted once per episode */
    uint64_t tokens; /* in thousandths of a message */
    uint64_t refill_ns;
    /* Outgoing queue: encoded messages the ring had no room for, FIFO. */
    uint8_t q[BUS_CONN_QUEUE_BYTES];
    uint32_t q_len[BUS_CONN_QUEUE_MSGS];
    uint32_t q_first, q_count, q_bytes_first, q_bytes;
    uint64_t stuck_since_ns; /* 0: not stuck */
};

/* What bus_conn_next found. */
enum bus_rx {
    BUS_RX_NONE = 0,    /* nothing to read now (empty, budget, rate, queue) */
    BUS_RX_MSG = 1,     /* *out holds a message the domain may send */
    BUS_RX_REFUSED = 2, /* a strike: answer error-reply with *why (id *id) */
    BUS_RX_CUT = 3,     /* the connection was just disconnected (reason set) */
};

/* Starts a connection on an attached area (the control domain is the
 * offerer). now_ns starts the token bucket full. */
void bus_conn_init(struct bus_conn *c, uint64_t now_ns);

/* Whether a domain may send this type on its bus. */
bool bus_conn_type_allowed(enum proto_msg_type t);

/* Reads and decodes the next message if the rules above allow. buf (cap
 * >= BUS_CONN_MSG_MAX) keeps the bytes *out's strings point into. On
 * BUS_RX_REFUSED, *id is the message's request id if it could be read (0
 * otherwise) and *why a static reason. *notify: the domain must be woken
 * (room was freed in its ring). */
enum bus_rx bus_conn_next(struct bus_conn *c, uint64_t now_ns, uint8_t *buf, uint32_t cap,
                          struct proto_msg *out, uint64_t *id, const char **why, bool *notify);

/* Sends an encoded message: into the ring if nothing is queued and it fits,
 * else at the end of the queue. false if the queue is full (the caller
 * disconnects: the domain does not read its bus). */
bool bus_conn_send(struct bus_conn *c, const uint8_t *msg, uint32_t len, uint64_t now_ns,
                   bool *notify);

/* Moves queued messages into the ring as room appears; disconnects a
 * connection stuck for BUS_CONN_STUCK_NS. Returns true if it just did. */
bool bus_conn_flush(struct bus_conn *c, uint64_t now_ns, bool *notify);

/* Messages waiting in the queue. */
uint32_t bus_conn_queued(const struct bus_conn *c);

/* Cuts the connection off (idempotent: the first reason stays). */
void bus_conn_disconnect(struct bus_conn *c, const char *reason);

#endif
