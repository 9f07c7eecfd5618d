/*
 * JSON rendering of protocol messages for `hvctl ... --json`.
 *
 * The CBOR bytes of a reply are decoded generically with libcbor (an
 * implementation independent of proto's own codec) and written as JSON. Map
 * keys of known catalog structures are given their catalog names
 * ("memory-bytes"), enumeration values their names ("running"); anything the
 * table does not know is still rendered, with integer keys as strings. Byte
 * strings become lowercase hex, text is escaped per RFC 8259.
 */
#ifndef HVCTL_RENDER_H
#define HVCTL_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Writes one JSON document (and a newline). false if the bytes are not one
 * well-formed CBOR item (then nothing is written and errbuf says why). */
bool render_json(FILE *out, const uint8_t *cbor, size_t len, char *errbuf, size_t errcap);

/* Writes s as a JSON string literal (quotes included). */
void render_json_string(FILE *out, const uint8_t *s, size_t len);

#endif
