/*
 * Console rings (hv/domctl.h, HC_CONSOLE_OP). Output (gk_printf, ...) is
 * declared in gk/gk.h; this header adds this domain's console input and the
 * holder side: reading another domain's output and writing its input
 * through a console capability (HV_CAP_CONSOLE).
 *
 * Counts are bytes moved (>= 0) or a negative enum hv_status. At most
 * HV_CONSOLE_RING_SIZE bytes move per call.
 */
#ifndef GK_CONSOLE_H
#define GK_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "hv/domctl.h"

/* HV_CONSOLE_READ_INPUT: up to len bytes of our own input; never blocks
 * (0: nothing there). */
int64_t gk_console_read(char *buf, size_t len);

/* The next input byte (0..255), waiting for it (HC_BLOCK, woken by
 * HV_VIRQ_CONSOLE, bound on VCPU 0 on first use); a negative status if the
 * read fails. Not from an event handler. */
int gk_console_getc_blocking(void);

/* HV_CONSOLE_READ: up to len bytes of the output of the domain whose
 * console capability (HV_CAP_R_CON_READ) is in con_slot. */
int64_t gk_console_read_output(uint32_t con_slot, char *buf, size_t len);

/* HV_CONSOLE_WRITE: append up to len bytes to that domain's input
 * (HV_CAP_R_CON_WRITE); returns the count taken (short when full). */
int64_t gk_console_write_input(uint32_t con_slot, const char *buf, size_t len);

/* HV_CONSOLE_WATCH: HV_VIRQ_CONSOLE is raised for us whenever that domain
 * writes output. Binds the VIRQ (as gk_console_virq_port) first. */
int64_t gk_console_watch(uint32_t con_slot);

/* The port of HV_VIRQ_CONSOLE on VCPU 0, bound on first call (with a
 * handler that only consumes the event). 0 if the domain's own code bound
 * the VIRQ already (HV_EEXIST: HC_BLOCK is woken by that binding); a
 * negative status on another failure. */
int64_t gk_console_virq_port(void);

#endif
