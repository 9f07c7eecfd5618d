/*
 * A domain's console (hv/core/console.c, the line buffer in domain.c): the
 * output ring others read with a console capability, the input ring its
 * holder writes, and whole lines copied to the hypervisor's log.
 */
#ifndef HV_CONSOLE_H
#define HV_CONSOLE_H

#include "types.h"
#include "hv/domctl.h"

struct domain;

/* A console ring (hv/core/console.c): bytes [tail, head) are unread. */
struct console_ring {
    uint64_t head;    /* bytes ever written */
    uint64_t tail;    /* bytes ever read (or dropped) */
    uint64_t dropped; /* bytes lost to a full ring */
    char buf[HV_CONSOLE_RING_SIZE];
};

/* The console part of a domain (zeroed with it by domain_reset). */
struct domain_console {
    struct console_ring out; /* what it wrote (HC_CONSOLE_WRITE) */
    struct console_ring in;  /* what its console holder typed */
    uint64_t watcher_uid;    /* gets HV_VIRQ_CONSOLE on output, 0: none */
    /* Output is collected per line so that lines of different domains never
     * interleave in the log. */
    char line[160];
    size_t line_len;
};

/* Appends guest output to d's output ring and tells its watcher. */
void console_output(struct domain *d, const char *buf, size_t n);
/* Appends guest console bytes to the domain's line buffer, flushing whole lines. */
void domain_console_write(struct domain *d, const char *buf, size_t n);

#endif
