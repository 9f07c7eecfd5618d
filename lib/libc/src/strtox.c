/*
 * String to integer conversion (see stdlib.h). One parser finds the sign,
 * the base, the digits and the magnitude (saturated); each public function
 * then applies the limits of its own type, exactly as C specifies.
 */
#include "libc_internal.h"

#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* What the common parser found in one string. */
struct strto_parse {
    enum libc_strto_status status; /* OK (digits found), NO_DIGITS or BAD_BASE */
    bool negative;
    bool overflow;          /* the magnitude does not fit in unsigned long long */
    unsigned long long mag; /* saturated at ULLONG_MAX when overflow */
    const char *end;        /* past the last digit, or nptr when there are none */
};

/* The value of digit c, or 36 (never a valid digit) if c is not one. */
static unsigned digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return (unsigned)(c - '0');
    if (c >= 'a' && c <= 'z')
        return (unsigned)(c - 'a') + 10;
    if (c >= 'A' && c <= 'Z')
        return (unsigned)(c - 'A') + 10;
    return 36;
}

static struct strto_parse strto_parse(const char *nptr, int base)
{
    struct strto_parse r = {LIBC_STRTO_NO_DIGITS, false, false, 0, nptr};
    const char *s = nptr;
    const char *digits;
    unsigned long long limit;
    unsigned ubase, last_digit;

    if (base < 0 || base == 1 || base > 36) {
        r.status = LIBC_STRTO_BAD_BASE;
        return r;
    }
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '-' || *s == '+')
        r.negative = (*s++ == '-');
    /* "0x" counts as a prefix only when a hex digit follows; otherwise the
   * number is the "0" and parsing stops at the 'x', as in C. */
    if ((base == 0 || base == 16) && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
        digit_value(s[2]) < 16) {
        s += 2;
        base = 16;
    } else if (base == 0) {
        base = (s[0] == '0') ? 8 : 10;
    }
    ubase = (unsigned)base;
    limit = ULLONG_MAX / ubase;
    last_digit = (unsigned)(ULLONG_MAX % ubase);

    for (digits = s;; s++) {
        unsigned d = digit_value(*s);
        if (d >= ubase)
            break;
        if (r.overflow || r.mag > limit || (r.mag == limit && d > last_digit)) {
            r.overflow = true;
            r.mag = ULLONG_MAX;
        } else {
            r.mag = r.mag * ubase + d;
        }
    }
    if (s == digits) { /* no digits: nothing was converted */
        r.negative = false;
        return r;
    }
    r.status = LIBC_STRTO_OK;
    r.end = s;
    return r;
}

static void set_end(char **endptr, const char *end)
{
    if (endptr)
        *endptr = (char *)(uintptr_t)end;
}

/* C's unsigned result: clamp to max on overflow, else negate if '-'. */
static unsigned long long to_unsigned(const struct strto_parse *r, unsigned long long max)
{
    if (r->overflow || r->mag > max)
        return max;
    return r->negative ? (0 - r->mag) & max : r->mag;
}

/* C's signed result: clamp to [-max-1, max]; returned as the bit pattern of
 * a long long, which the caller narrows (it is in range by then). */
static long long to_signed(const struct strto_parse *r, unsigned long long max)
{
    if (r->negative) {
        if (r->overflow || r->mag > max + 1)
            return -(long long)max - 1;
        return r->mag == max + 1 ? -(long long)max - 1 : -(long long)r->mag;
    }
    if (r->overflow || r->mag > max)
        return (long long)max;
    return (long long)r->mag;
}

unsigned long long strtoull(const char *restrict nptr, char **restrict endptr, int base)
{
    struct strto_parse r = strto_parse(nptr, base);

    set_end(endptr, r.end);
    return r.status == LIBC_STRTO_OK ? to_unsigned(&r, ULLONG_MAX) : 0;
}

unsigned long strtoul(const char *restrict nptr, char **restrict endptr, int base)
{
    struct strto_parse r = strto_parse(nptr, base);

    set_end(endptr, r.end);
    return r.status == LIBC_STRTO_OK ? (unsigned long)to_unsigned(&r, ULONG_MAX) : 0;
}

long long strtoll(const char *restrict nptr, char **restrict endptr, int base)
{
    struct strto_parse r = strto_parse(nptr, base);

    set_end(endptr, r.end);
    return r.status == LIBC_STRTO_OK ? to_signed(&r, LLONG_MAX) : 0;
}

long strtol(const char *restrict nptr, char **restrict endptr, int base)
{
    struct strto_parse r = strto_parse(nptr, base);

    set_end(endptr, r.end);
    return r.status == LIBC_STRTO_OK ? (long)to_signed(&r, LONG_MAX) : 0;
}

enum libc_strto_status libc_strtoull_checked(const char *nptr, char **endptr, int base,
                                             unsigned long long *value)
{
    struct strto_parse r = strto_parse(nptr, base);

    set_end(endptr, r.end);
    *value = 0;
    if (r.status != LIBC_STRTO_OK)
        return r.status;
    if (r.negative && r.mag != 0)
        return LIBC_STRTO_OUT_OF_RANGE;
    *value = r.mag;
    return r.overflow ? LIBC_STRTO_OUT_OF_RANGE : LIBC_STRTO_OK;
}

enum libc_strto_status libc_strtoll_checked(const char *nptr, char **endptr, int base,
                                            long long *value)
{
    struct strto_parse r = strto_parse(nptr, base);
    unsigned long long max = LLONG_MAX;

    set_end(endptr, r.end);
    *value = 0;
    if (r.status != LIBC_STRTO_OK)
        return r.status;
    *value = to_signed(&r, max);
    if (r.overflow || r.mag > (r.negative ? max + 1 : max))
        return LIBC_STRTO_OUT_OF_RANGE;
    return LIBC_STRTO_OK;
}
