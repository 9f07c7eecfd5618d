/* Pure parsing helpers behind the cmdline_* functions declared in log.h. */
#ifndef HV_CMDLINE_H
#define HV_CMDLINE_H

#include "types.h"

/* Finds the word `key` or `key=value` in cmdline. On success points *val at
 * the value (empty for a bare key) and sets its length. */
bool cmdline_find(const char *cmdline, const char *key, const char **val, size_t *val_len);
/* Parses a decimal number with an optional K/M/G suffix, or 0x-prefixed hex.
 * Refuses empty strings, junk and overflow. */
bool cmdline_parse_size(const char *s, size_t len, uint64_t *out);

#endif
