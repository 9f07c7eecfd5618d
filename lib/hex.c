/* Hex digits to bytes (see hvlib/hex.h). */
#include "hvlib/hex.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t hv_hex_decode(const char *hex, size_t len, uint8_t *out, size_t cap, size_t *bad)
{
    size_t dummy;
    if (!bad)
        bad = &dummy;
    *bad = HV_HEX_BAD_LENGTH;
    while (len > 0 && (hex[len - 1] == '\n' || hex[len - 1] == '\r'))
        len--;
    if (len == 0 || len % 2 != 0 || len / 2 > cap)
        return 0;
    for (size_t i = 0; i < len; i += 2) {
        int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);
        if (hi < 0 || lo < 0) {
            *bad = hi < 0 ? i : i + 1;
            return 0;
        }
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return len / 2;
}
