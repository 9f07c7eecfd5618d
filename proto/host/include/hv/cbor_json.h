/*
 * Host only (links libcbor): render any proto message (any deterministic
 * CBOR item that hvcbor_check accepts) as JSON without knowing its schema,
 * for `hvctl --json` and logs. Mapping (RFC 8949 section 6.1): integers ->
 * numbers, text -> strings (escaped), byte strings -> base64url strings
 * without padding, arrays -> arrays, maps -> objects whose keys are the JSON
 * text of the CBOR key when it is not a string ("0", "-1", "true"),
 * false/true/null -> themselves.
 */
#ifndef HV_CBOR_JSON_H
#define HV_CBOR_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Writes the JSON for the single CBOR item in buf[0..len) to out. Returns 0,
 * or -1 if buf is not exactly one item hvcbor_check accepts with depth <= 32
 * (nothing written then) or writing failed. */
int proto_json_write(FILE *out, const uint8_t *buf, size_t len);
/* The same into a malloc'd NUL-terminated string (caller frees), or NULL. */
char *proto_json_render(const uint8_t *buf, size_t len);

#endif
