/*
 * gk_vformat, the streaming printf engine, and snprintf/vsnprintf on top of
 * it. See gk_format.h for what is (and deliberately is not) supported.
 */
#include "gk_libc_internal.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Flags of one conversion specification. */
enum {
    GK_F_MINUS = 1 << 0, /* left-justify */
    GK_F_ZERO = 1 << 1,  /* pad numbers with zeros */
    GK_F_PLUS = 1 << 2,  /* always print a sign */
    GK_F_SPACE = 1 << 3, /* a space where a '+' would go */
    GK_F_HASH = 1 << 4,  /* alternate form: 0x for hex, leading 0 for octal */
};

enum gk_len { GK_LEN_NONE, GK_LEN_HH, GK_LEN_H, GK_LEN_L, GK_LEN_LL, GK_LEN_Z, GK_LEN_J, GK_LEN_T };

/* One parsed conversion specification. precision < 0 means "none". */
struct gk_spec {
    unsigned flags;
    int width;
    int precision;
    enum gk_len len;
};

/* The output side: the user's callback plus the running count. */
struct gk_out {
    gk_emit_fn emit;
    void *ctx;
    size_t count;
};

static void gk_put(struct gk_out *out, char c)
{
    out->emit(out->ctx, c);
    out->count++;
}

static void gk_put_n(struct gk_out *out, char c, size_t n)
{
    while (n--)
        gk_put(out, c);
}

static void gk_put_str(struct gk_out *out, const char *s, size_t n)
{
    while (n--)
        gk_put(out, *s++);
}

/* Emits len bytes of s padded to the spec's width (spaces only). */
static void gk_put_padded(struct gk_out *out, const struct gk_spec *sp, const char *s, size_t len)
{
    size_t pad = (sp->width > 0 && (size_t)sp->width > len) ? (size_t)sp->width - len : 0;

    if (!(sp->flags & GK_F_MINUS))
        gk_put_n(out, ' ', pad);
    gk_put_str(out, s, len);
    if (sp->flags & GK_F_MINUS)
        gk_put_n(out, ' ', pad);
}

/*
 * Emits an integer: sign (or '+'/' '), prefix, zeros from the precision or the
 * 0 flag, digits, padding, laid out exactly as C99 7.19.6.1 says.
 */
static void gk_put_int(struct gk_out *out, const struct gk_spec *sp, uintmax_t mag, bool negative,
                       bool is_signed, unsigned base, bool upper)
{
    static const char lower_digits[] = "0123456789abcdef";
    static const char upper_digits[] = "0123456789ABCDEF";
    const char *digits = upper ? upper_digits : lower_digits;
    char buf[3 * sizeof(uintmax_t)]; /* 22 octal digits for 64 bits fit */
    size_t ndigits = 0;
    char sign = 0;
    const char *prefix = "";
    size_t prefix_len = 0, zeros = 0, body, pad = 0;

    /* Digits, least significant first. A zero precision prints no digit for 0. */
    if (!(mag == 0 && sp->precision == 0)) {
        do {
            buf[ndigits++] = digits[mag % base];
            mag /= base;
        } while (mag);
    }
    if (negative)
        sign = '-';
    else if (is_signed && (sp->flags & GK_F_PLUS))
        sign = '+';
    else if (is_signed && (sp->flags & GK_F_SPACE))
        sign = ' ';

    if (sp->flags & GK_F_HASH) {
        if (base == 16 && ndigits > 0 && !(ndigits == 1 && buf[0] == '0')) {
            prefix = upper ? "0X" : "0x";
            prefix_len = 2;
        } else if (base == 8) {
            /* The first digit must be 0: raise the precision if needed. */
            if (ndigits == 0 || buf[ndigits - 1] != '0') {
                if (sp->precision < 0 || (size_t)sp->precision <= ndigits)
                    zeros = 1;
            }
        }
    }
    if (sp->precision >= 0 && (size_t)sp->precision > ndigits + zeros)
        zeros = (size_t)sp->precision - ndigits;

    body = (sign ? 1u : 0u) + prefix_len + zeros + ndigits;
    if (sp->width > 0 && (size_t)sp->width > body)
        pad = (size_t)sp->width - body;
    /* The 0 flag is ignored with '-' or with an explicit precision. */
    if ((sp->flags & GK_F_ZERO) && !(sp->flags & GK_F_MINUS) && sp->precision < 0) {
        zeros += pad;
        pad = 0;
    }

    if (!(sp->flags & GK_F_MINUS))
        gk_put_n(out, ' ', pad);
    if (sign)
        gk_put(out, sign);
    gk_put_str(out, prefix, prefix_len);
    gk_put_n(out, '0', zeros);
    while (ndigits)
        gk_put(out, buf[--ndigits]);
    if (sp->flags & GK_F_MINUS)
        gk_put_n(out, ' ', pad);
}

/* Reads a signed argument of the spec's length and widens it. */
static intmax_t gk_arg_signed(enum gk_len len, va_list *ap)
{
    switch (len) {
    case GK_LEN_HH: return (signed char)va_arg(*ap, int);
    case GK_LEN_H: return (short)va_arg(*ap, int);
    case GK_LEN_L: return va_arg(*ap, long);
    case GK_LEN_LL: return va_arg(*ap, long long);
    case GK_LEN_Z: return va_arg(*ap, ptrdiff_t); /* the signed type of size_t's width */
    case GK_LEN_J: return va_arg(*ap, intmax_t);
    case GK_LEN_T: return va_arg(*ap, ptrdiff_t);
    case GK_LEN_NONE: break;
    }
    return va_arg(*ap, int);
}

/* Reads an unsigned argument of the spec's length and widens it. */
static uintmax_t gk_arg_unsigned(enum gk_len len, va_list *ap)
{
    switch (len) {
    case GK_LEN_HH: return (unsigned char)va_arg(*ap, unsigned int);
    case GK_LEN_H: return (unsigned short)va_arg(*ap, unsigned int);
    case GK_LEN_L: return va_arg(*ap, unsigned long);
    case GK_LEN_LL: return va_arg(*ap, unsigned long long);
    case GK_LEN_Z: return va_arg(*ap, size_t);
    case GK_LEN_J: return va_arg(*ap, uintmax_t);
    case GK_LEN_T: return (uintmax_t)(uintptr_t)va_arg(*ap, ptrdiff_t);
    case GK_LEN_NONE: break;
    }
    return va_arg(*ap, unsigned int);
}

/* Parses a decimal number, saturating at INT_MAX. */
static int gk_parse_num(const char **p)
{
    int v = 0;

    while (**p >= '0' && **p <= '9') {
        int d = **p - '0';
        v = (v > (INT_MAX - d) / 10) ? INT_MAX : v * 10 + d;
        (*p)++;
    }
    return v;
}

/*
 * Parses the specification after a '%' (*pp points just past it) and
 * converts one argument. On an unsupported or malformed conversion, copies
 * the specification verbatim and consumes no argument: the '*' arguments it
 * may already have read are then lost, which only matters for formats that
 * are broken anyway. Leaves *pp after the specification.
 */
static void gk_convert(struct gk_out *out, const char **pp, va_list *ap)
{
    const char *start = *pp - 1; /* the '%' */
    const char *p = *pp;
    struct gk_spec sp = {0, 0, -1, GK_LEN_NONE};

    for (;; p++) {
        if (*p == '-')
            sp.flags |= GK_F_MINUS;
        else if (*p == '0')
            sp.flags |= GK_F_ZERO;
        else if (*p == '+')
            sp.flags |= GK_F_PLUS;
        else if (*p == ' ')
            sp.flags |= GK_F_SPACE;
        else if (*p == '#')
            sp.flags |= GK_F_HASH;
        else
            break;
    }
    if (*p == '*') {
        int w = va_arg(*ap, int);
        p++;
        if (w < 0) {
            sp.flags |= GK_F_MINUS;
            w = (w == INT_MIN) ? INT_MAX : -w;
        }
        sp.width = w;
    } else {
        sp.width = gk_parse_num(&p);
    }
    if (*p == '.') {
        p++;
        if (*p == '*') {
            int prec = va_arg(*ap, int);
            p++;
            sp.precision = prec < 0 ? -1 : prec; /* negative: as if omitted */
        } else {
            sp.precision = gk_parse_num(&p);
        }
    }
    switch (*p) {
    case 'h':
        p++;
        if (*p == 'h') {
            sp.len = GK_LEN_HH;
            p++;
        } else
            sp.len = GK_LEN_H;
        break;
    case 'l':
        p++;
        if (*p == 'l') {
            sp.len = GK_LEN_LL;
            p++;
        } else
            sp.len = GK_LEN_L;
        break;
    case 'z':
        sp.len = GK_LEN_Z;
        p++;
        break;
    case 'j':
        sp.len = GK_LEN_J;
        p++;
        break;
    case 't':
        sp.len = GK_LEN_T;
        p++;
        break;
    default: break;
    }

    switch (*p) {
    case 'd':
    case 'i': {
        intmax_t v = gk_arg_signed(sp.len, ap);
        uintmax_t mag = v < 0 ? (uintmax_t)0 - (uintmax_t)v : (uintmax_t)v;
        gk_put_int(out, &sp, mag, v < 0, true, 10, false);
        break;
    }
    case 'u': gk_put_int(out, &sp, gk_arg_unsigned(sp.len, ap), false, false, 10, false); break;
    case 'x': gk_put_int(out, &sp, gk_arg_unsigned(sp.len, ap), false, false, 16, false); break;
    case 'X': gk_put_int(out, &sp, gk_arg_unsigned(sp.len, ap), false, false, 16, true); break;
    case 'o': gk_put_int(out, &sp, gk_arg_unsigned(sp.len, ap), false, false, 8, false); break;
    case 'c': {
        char c;
        if (sp.len != GK_LEN_NONE)
            goto verbatim; /* %lc: wide characters unsupported */
        c = (char)(unsigned char)va_arg(*ap, int);
        gk_put_padded(out, &sp, &c, 1);
        break;
    }
    case 's': {
        const char *s;
        size_t n;
        if (sp.len != GK_LEN_NONE)
            goto verbatim; /* %ls: wide strings unsupported */
        s = va_arg(*ap, const char *);
        if (s == NULL) /* like glibc: "(null)", or nothing if the precision cuts it */
            s = (sp.precision < 0 || sp.precision >= 6) ? "(null)" : "";
        /* Never read past the precision: the string need not be terminated. */
        n = sp.precision < 0 ? strlen(s) : strnlen(s, (size_t)sp.precision);
        gk_put_padded(out, &sp, s, n);
        break;
    }
    case 'p': {
        void *ptr;
        if (sp.len != GK_LEN_NONE)
            goto verbatim;
        ptr = va_arg(*ap, void *);
        if (ptr == NULL) {
            gk_put_padded(out, &sp, "(nil)", 5); /* glibc ignores the precision here */
        } else {
            sp.flags |= GK_F_HASH; /* glibc: %p is %#lx, and honours + and space */
            gk_put_int(out, &sp, (uintptr_t)ptr, false, true, 16, false);
        }
        break;
    }
    case '%':
        gk_put(out, '%'); /* glibc ignores flags and width on %% */
        break;
    case '\0':
        /* A format ending inside a specification: print what there was. */
        gk_put_str(out, start, (size_t)(p - start));
        *pp = p;
        return;
    default:
    verbatim:
        gk_put_str(out, start, (size_t)(p + 1 - start));
        break;
    }
    *pp = p + 1;
}

int gk_vformat(gk_emit_fn emit, void *ctx, const char *fmt, va_list ap)
{
    struct gk_out out = {emit, ctx, 0};
    va_list args;
    const char *p = fmt;

    /* Work on a copy so that the conversion helpers can take its address. */
    va_copy(args, ap);
    while (*p) {
        if (*p != '%') {
            gk_put(&out, *p++);
            continue;
        }
        p++;
        gk_convert(&out, &p, &args);
    }
    va_end(args);
    return out.count > (size_t)INT_MAX ? -1 : (int)out.count;
}

int gk_format(gk_emit_fn emit, void *ctx, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = gk_vformat(emit, ctx, fmt, ap);
    va_end(ap);
    return n;
}

/* The destination of vsnprintf: a bounded buffer and the bytes produced. */
struct gk_sn_buf {
    char *buf;
    size_t size;
    size_t pos;
};

static void gk_sn_emit(void *ctx, char c)
{
    struct gk_sn_buf *b = ctx;

    if (b->size > 0 && b->pos < b->size - 1)
        b->buf[b->pos] = c;
    b->pos++;
}

int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt, va_list ap)
{
    struct gk_sn_buf b = {buf, size, 0};
    int n = gk_vformat(gk_sn_emit, &b, fmt, ap);

    if (size > 0)
        b.buf[b.pos < size - 1 ? b.pos : size - 1] = '\0';
    return n;
}

int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
