/*
 * libFuzzer target: the control domain's end of a domain's bus
 * (domains/control/bus_conn.c: the ring reader, the bounded decoder, the
 * type check, strikes, rate, queue) facing a hostile domain. The input is
 * a script of steps: the domain writes records (any bytes, any tag) into
 * its ring, pokes any word of the shared header, reads (or not) what it is
 * sent; the control domain reads with a moving clock, sends replies and
 * flushes its queue. Properties: no access outside the area (ASan sees an
 * exactly-sized allocation) or the caller's buffers; every message handed
 * out is a type a domain may send; once cut, nothing more is read or sent;
 * the queue stays within its bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bus_conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define AREA_BYTES (3u * 4096u)

static struct bus_conn c;
static struct duplex dom;
static struct proto_msg out;
static uint8_t buf[BUS_CONN_MSG_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *area = aligned_alloc(4096, AREA_BYTES);
    memset(area, 0, AREA_BYTES);
    if (!duplex_format(area, 4096, 0) || !duplex_attach(&c.d, area, 4096, 0, DUPLEX_OFFERER) ||
        !duplex_attach(&dom, area, 4096, 0, DUPLEX_ACCEPTOR))
        abort();
    uint64_t now = 1;
    bus_conn_init(&c, now);
    bool cut = false;
    size_t i = 0;
    while (i + 2 <= size) {
        uint8_t op = data[i++] % 7, arg = data[i++];
        bool notify = false;
        switch (op) {
        case 0: { /* the domain writes a record of arg bytes (tag from the next byte) */
            uint32_t len = arg;
            if (i + len + 1 > size)
                len = size > i + 1 ? (uint32_t)(size - i - 1) : 0;
            uint32_t tag = i < size ? data[i++] % 3 : 0;
            ring_write_tag(&dom.tx, data + i, len, tag, &notify);
            i += len;
            break;
        }
        case 1: { /* the domain pokes a 32-bit word of the header page */
            if (i + 4 > size)
                return free(area), 0;
            uint32_t v;
            memcpy(&v, data + i, 4);
            i += 4;
            uint32_t off = (uint32_t)(arg % (320 / 4)) * 4;
            memcpy(area + off, &v, 4);
            break;
        }
        case 2: { /* the control domain reads, the clock moves arg ms */
            now += (uint64_t)arg * 1000000u;
            uint64_t id;
            const char *why;
            enum bus_rx rx = bus_conn_next(&c, now, buf, sizeof buf, &out, &id, &why, &notify);
            if (rx == BUS_RX_MSG && (cut || !bus_conn_type_allowed(out.type)))
                abort();
            if (rx == BUS_RX_REFUSED && (why == NULL || cut))
                abort();
            if (rx == BUS_RX_CUT) {
                if (c.state != PROTO_BUS_STATE_DISCONNECTED || c.reason[0] == 0)
                    abort();
                cut = true;
            }
            break;
        }
        case 3: { /* the control domain sends an arg-byte reply */
            uint8_t reply[256];
            memset(reply, arg, sizeof reply);
            uint64_t before = c.msgs_out;
            bool ok = bus_conn_send(&c, reply, arg, now, &notify);
            if (cut && (c.msgs_out != before || !ok))
                abort();
            break;
        }
        case 4: /* the control domain flushes; arg s pass */
            now += (uint64_t)arg * 1000000000u;
            if (bus_conn_flush(&c, now, &notify))
                cut = true;
            break;
        case 5: { /* the domain reads what it was sent */
            uint8_t in[BUS_CONN_MSG_MAX];
            uint32_t len;
            for (uint8_t k = 0; k < arg % 8; k++)
                duplex_recv(&dom, in, sizeof in, &len, &notify);
            break;
        }
        case 6: /* a strike from the caller's side: nothing */
            if (c.state == PROTO_BUS_STATE_DISCONNECTED)
                cut = true;
            break;
        }
        if (c.q_count > BUS_CONN_QUEUE_MSGS || c.q_bytes > BUS_CONN_QUEUE_BYTES)
            abort();
        if (c.state == PROTO_BUS_STATE_DISCONNECTED)
            cut = true;
    }
    free(area);
    return 0;
}
