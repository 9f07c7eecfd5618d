/*
 * Volume requests (docs/blkback.md#volumes-from-hvctl): what the control
 * domain relays from `hvctl volume` over blkback's bus (volume-create,
 * -grow, -delete, -list, -info; proto/catalog.cddl), served against the
 * volume table (vtab.c). Plain C over proto's codec: blkback's main.c and
 * the host test (test/unit/blkback/test_volreq.c) compile this same file.
 *
 * Decode, then act: the message is decoded with bounded limits and every
 * field checked (a name of 1..32 valid bytes, a size of at least one byte
 * and at most the disk's) before the table is touched; a refusal changes
 * nothing. The bytes are the control domain's, but they are still input.
 *
 * Not thread-safe: blkback's loop only.
 */
#ifndef BLKBACK_VOLREQ_H
#define BLKBACK_VOLREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/proto_msgs.h"
#include "vtab.h"

#define VOLREQ_MSG_BYTES_MAX 512u /* a request (the largest is < 100 bytes) */

/* Whether a volume is attached to a front end now (a delete is refused). */
typedef bool (*volreq_attached_fn)(void *ctx, const char *name);

/*
 * Serves one encoded request msg[0..len) against t and fills *reply (its
 * request id echoed): volume-info-reply (create, grow, info),
 * volume-list-reply (list), ok-reply (delete) or error-reply with a code
 * and a message (why[] holds the message's bytes; why_cap >= 128):
 * invalid (undecodable, not a volume request, a bad name or size),
 * not-found, conflict (the name exists), no-resources (no room, 63
 * volumes), wrong-state (attached), internal (the disk failed).
 * Returns true if the table changed.
 */
bool volreq_serve(struct vtab *t, const uint8_t *msg, uint32_t len, volreq_attached_fn attached,
                  void *ctx, struct proto_msg *reply, char *why, size_t why_cap);

#endif
