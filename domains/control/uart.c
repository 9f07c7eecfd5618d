/*
 * COM2 driver (see uart.h). Every register access is one HC_IOPORT_OP on a
 * capability covering only the UART's eight ports.
 */
#include "uart.h"

#include "gk/gk.h"

/* Register offsets and bits of the 16550. */
#define REG_RBR_THR 0u /* DLL with DLAB */
#define REG_IER 1u     /* DLM with DLAB */
#define REG_IIR_FCR 2u
#define REG_LCR 3u
#define REG_MCR 4u
#define REG_LSR 5u
#define REG_MSR 6u
#define LSR_DR 0x01u
#define LSR_OE 0x02u
#define LSR_THRE 0x20u
#define IER_RDA 0x01u
#define FIFO_BYTES 16u

static uint32_t io_cap;
static uint16_t io_base;
static uint32_t irq_port;
static void (*irq_cb)(void);
static struct uart_stats stats;
static uint8_t early_byte;
static bool have_early;

static int64_t reg_io(uint32_t reg, bool write, uint32_t *value)
{
    struct hv_ioport_args a = {
        .slot = io_cap, .port = (uint16_t)(io_base + reg), .size = 1, .write = write ? 1 : 0};
    if (write)
        a.value = *value & 0xffu;
    int64_t rc = gk_hc_ioport_op(&a);
    if (!write)
        *value = rc == HV_OK ? a.value & 0xffu : 0;
    return rc;
}

static uint32_t reg_in(uint32_t reg)
{
    uint32_t v = 0;
    reg_io(reg, false, &v);
    return v;
}

static int64_t reg_out(uint32_t reg, uint32_t v)
{
    return reg_io(reg, true, &v);
}

static void on_event(uint32_t port, void *arg)
{
    (void)port;
    (void)arg;
    stats.irqs++;
    if (irq_cb)
        irq_cb();
}

const char *uart_init(uint16_t base, uint32_t gsi, uint32_t io_slot, uint32_t irq_slot,
                      void (*on_irq)(void), bool *irq_ok)
{
    *irq_ok = false;
    if (gk_cap_copy(HV_ROOT_SLOT_IOPORT, HV_CAP_SLOT_SELF, io_slot, HV_CAP_R_IO_ACCESS, base, 8) !=
        HV_OK)
        return "could not narrow the IOPORT capability to the UART's ports";
    io_cap = io_slot;
    io_base = base;
    /* 115200 baud (divisor 1), 8 data bits, no parity, 1 stop bit. */
    if (reg_out(REG_IER, 0) != HV_OK)
        return "the UART's ports are refused";
    /* A byte the host sent before we got here waits in the (FIFO-less)
     * receiver, the rest in the host's socket: keep it, because switching
     * the FIFOs on below clears the receiver. So the first hello of
     * `hvctl up` is answered, not dropped as garbage. */
    if (reg_in(REG_LSR) & LSR_DR) {
        early_byte = (uint8_t)reg_in(REG_RBR_THR);
        have_early = true;
    }
    reg_out(REG_LCR, 0x80);
    reg_out(REG_RBR_THR, 1);
    reg_out(REG_IER, 0);
    reg_out(REG_LCR, 0x03);
    /* FIFOs on, receive trigger at 14 bytes: QEMU offers the socket only
     * (trigger - held) bytes at a time, so a 1-byte trigger would move one
     * byte per main-loop round. Fewer bytes than the trigger raise the
     * interrupt after the FIFO timeout (4 characters). */
    reg_out(REG_IIR_FCR, 0xc7);
    reg_out(REG_MCR, 0x0b); /* DTR, RTS, OUT2 (the interrupt gate) */
    reg_in(REG_IIR_FCR);
    reg_in(REG_MSR);

    irq_cb = on_irq;
    if (gk_cap_copy(HV_ROOT_SLOT_IRQ, HV_CAP_SLOT_SELF, irq_slot, HV_CAP_R_IRQ_BIND, gsi, 1) !=
        HV_OK)
        return NULL; /* polled mode only */
    struct hv_evtchn_bind_pirq bq = {.irq_slot = irq_slot, .irq = gsi};
    if (gk_hc_evtchn_op(HV_EVTCHN_BIND_PIRQ, &bq) != HV_OK)
        return NULL;
    irq_port = bq.port;
    gk_evtchn_bind_handler(irq_port, on_event, NULL);
    gk_evtchn_unmask(irq_port);
    reg_out(REG_IER, IER_RDA);
    *irq_ok = true;
    return NULL;
}

size_t uart_read(uint8_t *buf, size_t cap)
{
    size_t n = 0;
    if (have_early && cap > 0) {
        buf[n++] = early_byte;
        have_early = false;
    }
    while (n < cap) {
        uint32_t lsr = reg_in(REG_LSR);
        if (lsr & LSR_OE)
            stats.overruns++;
        if (!(lsr & LSR_DR))
            break;
        buf[n++] = (uint8_t)reg_in(REG_RBR_THR);
    }
    stats.rx_bytes += n;
    return n;
}

void uart_irq_done(void)
{
    if (!irq_port)
        return;
    reg_in(REG_IIR_FCR);
    struct hv_evtchn_port_args pa = {.port = irq_port};
    gk_hc_evtchn_op(HV_EVTCHN_EOI, &pa);
}

bool uart_write(const uint8_t *buf, size_t len, uint64_t stall_ns)
{
    size_t off = 0;
    while (off < len) {
        uint64_t t0 = 0;
        while (!(reg_in(REG_LSR) & LSR_THRE)) {
            uint64_t now = gk_now_ns();
            if (!t0)
                t0 = now;
            else if (now - t0 > stall_ns) {
                stats.tx_stalls++;
                return false;
            }
            gk_hc_yield();
        }
        /* The transmitter is empty: the FIFO takes 16 bytes. */
        for (unsigned i = 0; i < FIFO_BYTES && off < len; i++, off++)
            reg_out(REG_RBR_THR, buf[off]);
    }
    stats.tx_bytes += len;
    return true;
}

void uart_get_stats(struct uart_stats *out)
{
    *out = stats;
}
