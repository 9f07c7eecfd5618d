/*
 * Console multiplexing. Every domain's output is read from its console
 * ring (HV_CONSOLE_READ through the console capability, woken by
 * HV_VIRQ_CONSOLE) into a history of the last CON_HISTORY_BYTES bytes,
 * from the domain's first byte on. One client at a time is attached to a
 * domain's console (the writer); an attach replays the history, then
 * streams new output as console-data; console-data from the client goes to
 * the domain's input ring. A forced attach detaches the current one
 * (console-detach with a reason). Streams end with the connection: a new
 * hello ends them all (con_session_end).
 */
#ifndef CONTROL_CONSOLES_H
#define CONTROL_CONSOLES_H

#include <stdbool.h>
#include <stdint.h>

#include <hv/proto_msgs.h>

#include "registry.h"

/* HV_CONSOLE_WATCH on a freshly built domain. */
void con_watch(struct dom *d);

/* Moves d's pending output into its history and to its attached stream. */
void con_pump(struct dom *d);

/* Attaches; NULL on success (the reply and the replay are sent), else a
 * reason and *code. */
const char *con_attach(struct dom *d, uint64_t request_id, bool force, enum proto_error_code *code);

/* console-data from the client: input for the domain of that stream.
 * NULL, or a reason and *code (unknown stream). */
const char *con_input(uint64_t stream, struct hvcbor_str data, enum proto_error_code *code);

/* console-detach from the client. */
const char *con_detach(uint64_t stream, enum proto_error_code *code);

/* The domain is going away: its stream (if any) gets console-detach. */
void con_domain_gone(struct dom *d, const char *reason);

/* A new connection: every stream of the old one ends (no message: nobody
 * is there to read it). */
void con_session_end(void);

/* Bytes of input refused because a domain's input ring was full. */
uint64_t con_input_dropped(void);

#endif
