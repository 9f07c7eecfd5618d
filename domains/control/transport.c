/* COM2 transport: UART bytes <-> frames <-> messages (see transport.h). */
#include "transport.h"

#include <hv/frame.h>

#include "gk/gk.h"
#include "uart.h"

#define SLOT_UART_IO 10u
#define SLOT_UART_IRQ 11u

static uint8_t rx_buf[FRAME_OVERHEAD_BYTES + TRANSPORT_MAX_PAYLOAD];
static uint8_t enc_buf[FRAME_MAX_PAYLOAD];
static uint8_t tx_buf[FRAME_OVERHEAD_BYTES + FRAME_MAX_PAYLOAD];
static struct frame_reader reader;
static transport_frame_fn frame_cb;
static uint64_t last_rx_ns;
static bool irq_ok;
static struct transport_stats stats;

volatile bool transport_irq_pending;

static void on_irq(void)
{
    transport_irq_pending = true;
}

const char *transport_init(transport_frame_fn on_frame)
{
    frame_cb = on_frame;
    if (!frame_reader_init(&reader, rx_buf, sizeof rx_buf, TRANSPORT_MAX_PAYLOAD))
        return "frame reader refused its buffer";
    const char *why =
        uart_init(UART_COM2_BASE, UART_COM2_GSI, SLOT_UART_IO, SLOT_UART_IRQ, on_irq, &irq_ok);
    if (why)
        return why;
    if (!irq_ok)
        gk_printf("control: COM2's interrupt could not be bound: polling only\n");
    return NULL;
}

static const char *drop_name(enum frame_drop_reason r)
{
    switch (r) {
    case FRAME_DROP_GARBAGE: return "garbage";
    case FRAME_DROP_BAD_HEADER: return "bad header";
    case FRAME_DROP_OVERSIZED: return "oversized";
    case FRAME_DROP_BAD_CRC: return "bad checksum";
    case FRAME_DROP_TRUNCATED: return "truncated";
    default: return "?";
    }
}

static void drain_events(void)
{
    struct frame_event ev;
    for (frame_reader_next(&reader, &ev); ev.kind != FRAME_EV_NONE;
         frame_reader_next(&reader, &ev)) {
        if (ev.kind == FRAME_EV_DROPPED) {
            stats.dropped_bytes += ev.dropped_bytes;
            stats.drop_events++;
            stats.last_drop_reason = ev.reason;
            gk_printf("control: COM2: dropped %llu bytes (%s)\n",
                      (unsigned long long)ev.dropped_bytes, drop_name(ev.reason));
            continue;
        }
        stats.frames++;
        frame_cb(ev.payload, ev.payload_len);
    }
}

bool transport_poll(void)
{
    static uint8_t chunk[256];
    bool any = false, irq = transport_irq_pending;
    transport_irq_pending = false;
    uint64_t now = gk_now_ns();
    for (;;) {
        size_t n = uart_read(chunk, sizeof chunk);
        if (n == 0)
            break;
        /* Bytes after a pause that begin a new frame cut a partial frame
         * short (its writer went away); any other bytes continue it. */
        if (!any && now - last_rx_ns > TRANSPORT_PAUSE_NS)
            frame_reader_mark_pause(&reader);
        any = true;
        size_t taken = 0;
        while (taken < n) {
            taken += frame_reader_push(&reader, chunk + taken, n - taken);
            drain_events();
        }
    }
    if (irq)
        uart_irq_done();
    now = gk_now_ns();
    if (any)
        last_rx_ns = now;
    else if (reader.len > reader.start && now - last_rx_ns > TRANSPORT_IDLE_FLUSH_NS) {
        if (frame_reader_flush_partial(&reader))
            drain_events();
        last_rx_ns = now;
    }
    return any;
}

bool transport_send(const struct proto_msg *m)
{
    struct hvcbor_error err;
    size_t len = 0;
    if (!proto_msg_encode(m, enc_buf, sizeof enc_buf, &len, &err)) {
        stats.send_failures++;
        gk_printf("control: BUG: cannot encode %s: %s at offset %u key %u\n",
                  proto_msg_name(m->type) ? proto_msg_name(m->type) : "?",
                  hvcbor_err_name(err.code), err.offset, err.key);
        return false;
    }
    size_t flen = frame_encode(tx_buf, sizeof tx_buf, enc_buf, len);
    if (flen == 0 || !uart_write(tx_buf, flen, TRANSPORT_TX_STALL_NS)) {
        stats.send_failures++;
        return false;
    }
    stats.sent++;
    return true;
}

void transport_get_stats(struct transport_stats *out)
{
    *out = stats;
}
