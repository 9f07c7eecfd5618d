/* One domain's bus, the reading and writing rules (see bus_conn.h). */
#include "bus_conn.h"

#include <string.h>

/* Decoding limits for bus messages: the deepest is a volume-list-reply
 * (a list of maps: depth 3) of at most 63 volumes. */
static const struct hvcbor_limits bus_limits = {
    .max_depth = 4, .max_items = 64, .max_string_bytes = 1024};

void bus_conn_init(struct bus_conn *c, uint64_t now_ns)
{
    struct duplex d = c->d;
    memset(c, 0, sizeof *c);
    c->d = d;
    c->state = PROTO_BUS_STATE_WAITING;
    c->tokens = (uint64_t)BUS_CONN_BURST * 1000u;
    c->refill_ns = now_ns;
}

bool bus_conn_type_allowed(enum proto_msg_type t)
{
    switch (t) {
    case PROTO_MSG_BUS_HELLO:
    case PROTO_MSG_BUS_PING:
    case PROTO_MSG_CONFIG_GET_REQUEST:
    case PROTO_MSG_SERVICE_REGISTER_REQUEST:
    case PROTO_MSG_SERVICE_USE_REQUEST:
    case PROTO_MSG_BUS_CLOSE_REQUEST:
    case PROTO_MSG_OK_REPLY:
    case PROTO_MSG_ERROR_REPLY:
    case PROTO_MSG_BUS_CONNECT_REPLY:
    case PROTO_MSG_BUS_MEMORY_TARGET_REPLY:
    case PROTO_MSG_BUS_PONG:
    case PROTO_MSG_VOLUME_INFO_REPLY:
    case PROTO_MSG_VOLUME_LIST_REPLY: return true;
    default: return false;
    }
}

void bus_conn_disconnect(struct bus_conn *c, const char *reason)
{
    if (c->state == PROTO_BUS_STATE_DISCONNECTED || c->state == PROTO_BUS_STATE_CLOSED)
        return;
    c->state = PROTO_BUS_STATE_DISCONNECTED;
    size_t n = strlen(reason);
    if (n >= sizeof c->reason)
        n = sizeof c->reason - 1;
    memcpy(c->reason, reason, n);
    c->reason[n] = 0;
}

static bool live(const struct bus_conn *c)
{
    return c->state == PROTO_BUS_STATE_WAITING || c->state == PROTO_BUS_STATE_CONNECTED;
}

/* Token bucket: refills, then says whether a message may be read. */
static bool rate_ok(struct bus_conn *c, uint64_t now_ns)
{
    if (now_ns > c->refill_ns) {
        uint64_t dt = now_ns - c->refill_ns;
        uint64_t add = dt > 1000000000ull ? (uint64_t)BUS_CONN_BURST * 1000u
                                          : dt * BUS_CONN_RATE / 1000000u; /* thousandths */
        c->tokens += add;
        if (c->tokens > (uint64_t)BUS_CONN_BURST * 1000u)
            c->tokens = (uint64_t)BUS_CONN_BURST * 1000u;
        c->refill_ns = now_ns;
    }
    if (c->tokens >= 1000u) {
        c->holding = false;
        return true;
    }
    if (!c->holding) {
        c->holding = true;
        c->throttled++;
    }
    return false;
}

static uint32_t queue_free(const struct bus_conn *c)
{
    return c->q_count == BUS_CONN_QUEUE_MSGS ? 0 : BUS_CONN_QUEUE_BYTES - c->q_bytes;
}

/* A strike: counted, and BUS_CONN_STRIKES of them disconnect. */
static enum bus_rx strike(struct bus_conn *c, const char **why, const char *reason)
{
    c->errors++;
    *why = reason;
    if (++c->strikes >= BUS_CONN_STRIKES) {
        bus_conn_disconnect(c, "sent too many refused or undecodable messages");
        return BUS_RX_CUT;
    }
    return BUS_RX_REFUSED;
}

enum bus_rx bus_conn_next(struct bus_conn *c, uint64_t now_ns, uint8_t *buf, uint32_t cap,
                          struct proto_msg *out, uint64_t *id, const char **why, bool *notify)
{
    *notify = false;
    *id = 0;
    *why = NULL;
    if (!live(c) || cap < BUS_CONN_MSG_MAX)
        return BUS_RX_NONE;
    /* Its reply must fit: the ring (unknown room) or the queue. */
    if (queue_free(c) < BUS_CONN_REPLY_MAX)
        return BUS_RX_NONE;
    uint32_t len = 0;
    enum ring_status st = duplex_peek(&c->d, &len);
    if (st == RING_EMPTY)
        return BUS_RX_NONE;
    if (st != RING_OK) {
        bus_conn_disconnect(c, "its bus ring broke the protocol");
        return BUS_RX_CUT;
    }
    if (!rate_ok(c, now_ns))
        return BUS_RX_NONE;
    c->tokens -= 1000u;
    if (len > cap) { /* cannot happen: the ring's limit is below cap */
        bus_conn_disconnect(c, "a message longer than its ring allows");
        return BUS_RX_CUT;
    }
    duplex_copy(&c->d, 0, buf, len);
    st = duplex_release(&c->d, notify);
    if (st != RING_OK) {
        bus_conn_disconnect(c, "its bus ring broke the protocol");
        return BUS_RX_CUT;
    }
    c->msgs_in++;
    struct hvcbor_error err;
    if (!proto_msg_decode(buf, len, &bus_limits, out, &err))
        return strike(c, why, "an undecodable message");
    *id = proto_msg_request_id(out);
    if (!bus_conn_type_allowed(out->type))
        return strike(c, why, "a message type a domain may not send on its bus");
    if (!c->hello && out->type != PROTO_MSG_BUS_HELLO)
        return strike(c, why, "a message before bus-hello");
    if (out->type == PROTO_MSG_BUS_HELLO) {
        c->hello = true;
        c->state = PROTO_BUS_STATE_CONNECTED;
    }
    return BUS_RX_MSG;
}

static bool queue_push(struct bus_conn *c, const uint8_t *msg, uint32_t len)
{
    if (c->q_count == BUS_CONN_QUEUE_MSGS || len > BUS_CONN_QUEUE_BYTES - c->q_bytes)
        return false;
    /* Bytes are kept contiguous: compact when the tail would run off. */
    uint32_t end = c->q_bytes_first + c->q_bytes;
    if (end + len > BUS_CONN_QUEUE_BYTES) {
        memmove(c->q, c->q + c->q_bytes_first, c->q_bytes);
        c->q_bytes_first = 0;
        end = c->q_bytes;
    }
    memcpy(c->q + end, msg, len);
    c->q_len[(c->q_first + c->q_count) % BUS_CONN_QUEUE_MSGS] = len;
    c->q_count++;
    c->q_bytes += len;
    return true;
}

bool bus_conn_flush(struct bus_conn *c, uint64_t now_ns, bool *notify)
{
    *notify = false;
    if (!live(c))
        return false;
    while (c->q_count) {
        uint32_t len = c->q_len[c->q_first];
        bool n = false;
        enum ring_status st = duplex_send(&c->d, c->q + c->q_bytes_first, len, &n);
        *notify = *notify || n;
        /* Full: ask the domain to notify us when it frees the room (and
         * try again if it did meanwhile). */
        if (st == RING_FULL && duplex_send_prepare_sleep(&c->d, len))
            break;
        if (st == RING_FULL)
            continue;
        if (st != RING_OK) {
            bus_conn_disconnect(c, "its bus ring broke the protocol");
            return true;
        }
        c->msgs_out++;
        c->q_first = (c->q_first + 1) % BUS_CONN_QUEUE_MSGS;
        c->q_count--;
        c->q_bytes -= len;
        c->q_bytes_first = c->q_count ? c->q_bytes_first + len : 0;
    }
    if (c->q_count == 0) {
        c->stuck_since_ns = 0;
        return false;
    }
    if (c->stuck_since_ns == 0)
        c->stuck_since_ns = now_ns ? now_ns : 1;
    else if (now_ns - c->stuck_since_ns >= BUS_CONN_STUCK_NS) {
        bus_conn_disconnect(c, "it has not read its bus for 5 s");
        return true;
    }
    return false;
}

bool bus_conn_send(struct bus_conn *c, const uint8_t *msg, uint32_t len, uint64_t now_ns,
                   bool *notify)
{
    *notify = false;
    if (!live(c))
        return true; /* nothing is sent to a cut-off domain; not an overflow */
    if (c->q_count == 0) {
        enum ring_status st = duplex_send(&c->d, msg, len, notify);
        if (st == RING_OK) {
            c->msgs_out++;
            return true;
        }
        if (st != RING_FULL) {
            bus_conn_disconnect(c, "its bus ring broke the protocol");
            return true;
        }
    }
    if (!queue_push(c, msg, len))
        return false;
    if (c->stuck_since_ns == 0)
        c->stuck_since_ns = now_ns ? now_ns : 1;
    return true;
}

uint32_t bus_conn_queued(const struct bus_conn *c)
{
    return c->q_count;
}
