/*
 * The broker (docs/hvctl.md, "The broker"): holds the one connection to QEMU's
 * COM2 socket and serves any number of hvctl clients on the run directory's
 * control socket. `hvctl up` forks it (process name hvctl-mux, pid in
 * RUN_DIR/mux.pid, log in RUN_DIR/mux.log); `hvctl down` stops it. Routing is
 * in mux_route.c; this file is the sockets and the event loop.
 */
#ifndef HVCTL_MUX_H
#define HVCTL_MUX_H

#include <stdint.h>
#include <stdio.h>

#include "mux_admit.h" /* MUX_MAX_CLIENTS and who may hold a connection */

#define MUX_CLIENT_MAX_PAYLOAD (33u * 1024u) /* the control domain's limit (control.md) */
#define MUX_CLIENT_OUT_MAX (1u << 20)        /* a client that lets this much pile up is closed */
#define MUX_CLIENT_GARBAGE_MAX (1u << 20)    /* a client that sends this much garbage is closed */
/* Bytes after this much silence may start a new frame: a partial frame
 * before them is then dropped (frame_reader_mark_pause). */
#define MUX_PAUSE_MS 500u
#define MUX_ACCEPT_BATCH 16u     /* connections taken per round of the loop */
#define MUX_IDLE_FLUSH_MS 10000u /* a hang-catcher: a partial frame idle this long is dropped */

struct mux_opts {
    const char *qemu_sock;   /* QEMU's COM2 (QEMU listens) */
    const char *listen_sock; /* where hvctl clients connect */
    long qemu_pid;           /* give up waiting for the socket if it exits (0: unknown) */
    uint32_t wait_ms;        /* for QEMU's socket and the hello-reply; 0: no limit */
    FILE *log;
    /* Tests: the broker's clock in ms, moved only by the test (virtual time,
     * so that no deadline falls because the host is slow); NULL: the
     * system's monotonic clock. */
    const volatile uint64_t *clock_ms;
};

/* Runs the broker until SIGTERM/SIGINT or QEMU closes COM2; 0 then, else 1
 * (QEMU's socket or the hello-reply did not come within wait_ms). Removes
 * listen_sock on the way out. */
int hvctl_mux_run(const struct mux_opts *o);

#endif
