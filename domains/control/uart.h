/*
 * The COM2 16550 UART, driven through an IOPORT capability and its ISA
 * interrupt delivered as an event channel (HV_EVTCHN_BIND_PIRQ). 8N1,
 * 115200 baud, FIFOs on, receive-data interrupt at 14 bytes or the FIFO timeout.
 *
 * Called by the transport only; one VCPU, not reentrant.
 */
#ifndef CONTROL_UART_H
#define CONTROL_UART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UART_COM2_BASE 0x2f8u
#define UART_COM2_GSI 3u

/*
 * Copies narrowed capabilities (the 8 ports at base, the one IRQ line gsi)
 * from the root's boot slots into io_slot and irq_slot, programs the UART
 * and binds its interrupt to a port whose handler calls on_irq. Returns NULL
 * or a static reason; the UART is then usable in polled mode even if the
 * interrupt could not be bound (*irq_ok false).
 */
const char *uart_init(uint16_t base, uint32_t gsi, uint32_t io_slot, uint32_t irq_slot,
                      void (*on_irq)(void), bool *irq_ok);

/* Moves up to cap received bytes into buf; never waits. */
size_t uart_read(uint8_t *buf, size_t cap);

/* After an interrupt: acknowledges it at the UART (IIR) and at the
 * hypervisor (HV_EVTCHN_EOI), which unmasks the line. Call after draining
 * the receiver, so a level still asserted means new data. */
void uart_irq_done(void);

/*
 * Sends len bytes, 16 at a time whenever the transmitter is empty. Returns
 * false if the transmitter stayed busy (the host is not reading) longer
 * than stall_ns at some point; the rest of the bytes are dropped then.
 */
bool uart_write(const uint8_t *buf, size_t len, uint64_t stall_ns);

/* Counters for the log and tests. */
struct uart_stats {
    uint64_t rx_bytes, tx_bytes, irqs, overruns, tx_stalls;
};
void uart_get_stats(struct uart_stats *out);

#endif
