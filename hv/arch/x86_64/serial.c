/* COM1 (0x3f8), 115200 8N1, polled: the hypervisor's log. */
#include "arch.h"
#include "x86.h"

#define COM1 0x3f8

void arch_serial_init(void)
{
    outb(COM1 + 1, 0x00); /* no interrupts */
    outb(COM1 + 3, 0x80); /* DLAB */
    outb(COM1 + 0, 0x01); /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1 */
    outb(COM1 + 2, 0xc7); /* FIFO on, cleared */
    outb(COM1 + 4, 0x03); /* DTR, RTS */
}

void arch_serial_putc(char c)
{
    /* Bounded wait for the transmitter: a missing UART must not hang us. */
    for (unsigned i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
        cpu_relax();
    outb(COM1, (uint8_t)c);
}
