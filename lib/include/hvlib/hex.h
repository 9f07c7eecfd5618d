/*
 * Hex digits to bytes, for the admin token (the control domain reads it from
 * fw_cfg, hvctl from the run directory's token file): one parser of that
 * hostile input for both.
 */
#ifndef HVLIB_HEX_H
#define HVLIB_HEX_H

#include <stddef.h>
#include <stdint.h>

#define HV_HEX_BAD_LENGTH SIZE_MAX

/*
 * Decodes hex[0, len) (either case; trailing '\n' and '\r' ignored) into
 * out[0, cap). Returns the byte count (> 0), or 0 when the input is empty,
 * odd, longer than 2 * cap digits (*bad = HV_HEX_BAD_LENGTH) or has a
 * character that is no hex digit (*bad = its offset). bad may be NULL.
 * Reads nothing outside hex[0, len); out is undefined on failure.
 */
size_t hv_hex_decode(const char *hex, size_t len, uint8_t *out, size_t cap, size_t *bad);

#endif /* HVLIB_HEX_H */
