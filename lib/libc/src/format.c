/*
 * libc_vformat, the streaming printf engine, and snprintf/vsnprintf on top of
 * it. See libc_format.h for what is (and deliberately is not) supported.
 */
#include "libc_internal.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Flags of one conversion specification. */
enum {
    F_MINUS = 1 << 0, /* left-justify */
    F_ZERO = 1 << 1,  /* pad numbers with zeros */
    F_PLUS = 1 << 2,  /* always print a sign */
    F_SPACE = 1 << 3, /* a space where a '+' would go */
    F_HASH = 1 << 4,  /* alternate form: 0x for hex, leading 0 for octal */
};

enum length_mod { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_Z, LEN_J, LEN_T };

/* One parsed conversion specification. precision < 0 means "none". */
struct conv_spec {
    unsigned flags;
    int width;
    int precision;
    enum length_mod len;
};

/* The output side: the user's callback plus the running count. */
struct sink {
    libc_emit_fn emit;
    void *ctx;
    size_t count;
};

static void put(struct sink *out, char c)
{
    out->emit(out->ctx, c);
    out->count++;
}

static void put_n(struct sink *out, char c, size_t n)
{
    while (n--)
        put(out, c);
}

static void put_str(struct sink *out, const char *s, size_t n)
{
    while (n--)
        put(out, *s++);
}

/* Emits len bytes of s padded to the spec's width (spaces only). */
static void put_padded(struct sink *out, const struct conv_spec *sp, const char *s, size_t len)
{
    size_t pad = (sp->width > 0 && (size_t)sp->width > len) ? (size_t)sp->width - len : 0;

    if (!(sp->flags & F_MINUS))
        put_n(out, ' ', pad);
    put_str(out, s, len);
    if (sp->flags & F_MINUS)
        put_n(out, ' ', pad);
}

/*
 * Emits an integer: sign (or '+'/' '), prefix, zeros from the precision or the
 * 0 flag, digits, padding, laid out exactly as C99 7.19.6.1 says.
 */
static void put_int(struct sink *out, const struct conv_spec *sp, uintmax_t mag, bool negative,
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
    else if (is_signed && (sp->flags & F_PLUS))
        sign = '+';
    else if (is_signed && (sp->flags & F_SPACE))
        sign = ' ';

    if (sp->flags & F_HASH) {
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
    if ((sp->flags & F_ZERO) && !(sp->flags & F_MINUS) && sp->precision < 0) {
        zeros += pad;
        pad = 0;
    }

    if (!(sp->flags & F_MINUS))
        put_n(out, ' ', pad);
    if (sign)
        put(out, sign);
    put_str(out, prefix, prefix_len);
    put_n(out, '0', zeros);
    while (ndigits)
        put(out, buf[--ndigits]);
    if (sp->flags & F_MINUS)
        put_n(out, ' ', pad);
}

/* Reads a signed argument of the spec's length and widens it. */
static intmax_t arg_signed(enum length_mod len, va_list *ap)
{
    switch (len) {
    case LEN_HH: return (signed char)va_arg(*ap, int);
    case LEN_H: return (short)va_arg(*ap, int);
    case LEN_L: return va_arg(*ap, long);
    case LEN_LL: return va_arg(*ap, long long);
    case LEN_Z: return va_arg(*ap, ptrdiff_t); /* the signed type of size_t's width */
    case LEN_J: return va_arg(*ap, intmax_t);
    case LEN_T: return va_arg(*ap, ptrdiff_t);
    case LEN_NONE: break;
    }
    return va_arg(*ap, int);
}

/* Reads an unsigned argument of the spec's length and widens it. */
static uintmax_t arg_unsigned(enum length_mod len, va_list *ap)
{
    switch (len) {
    case LEN_HH: return (unsigned char)va_arg(*ap, unsigned int);
    case LEN_H: return (unsigned short)va_arg(*ap, unsigned int);
    case LEN_L: return va_arg(*ap, unsigned long);
    case LEN_LL: return va_arg(*ap, unsigned long long);
    case LEN_Z: return va_arg(*ap, size_t);
    case LEN_J: return va_arg(*ap, uintmax_t);
    case LEN_T: return (uintmax_t)(uintptr_t)va_arg(*ap, ptrdiff_t);
    case LEN_NONE: break;
    }
    return va_arg(*ap, unsigned int);
}

/* Parses a decimal number, saturating at INT_MAX. */
static int parse_num(const char **p)
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
static void convert(struct sink *out, const char **pp, va_list *ap)
{
    const char *start = *pp - 1; /* the '%' */
    const char *p = *pp;
    struct conv_spec sp = {0, 0, -1, LEN_NONE};

    for (;; p++) {
        if (*p == '-')
            sp.flags |= F_MINUS;
        else if (*p == '0')
            sp.flags |= F_ZERO;
        else if (*p == '+')
            sp.flags |= F_PLUS;
        else if (*p == ' ')
            sp.flags |= F_SPACE;
        else if (*p == '#')
            sp.flags |= F_HASH;
        else
            break;
    }
    if (*p == '*') {
        int w = va_arg(*ap, int);
        p++;
        if (w < 0) {
            sp.flags |= F_MINUS;
            w = (w == INT_MIN) ? INT_MAX : -w;
        }
        sp.width = w;
    } else {
        sp.width = parse_num(&p);
    }
    if (*p == '.') {
        p++;
        if (*p == '*') {
            int prec = va_arg(*ap, int);
            p++;
            sp.precision = prec < 0 ? -1 : prec; /* negative: as if omitted */
        } else {
            sp.precision = parse_num(&p);
        }
    }
    switch (*p) {
    case 'h':
        p++;
        if (*p == 'h') {
            sp.len = LEN_HH;
            p++;
        } else
            sp.len = LEN_H;
        break;
    case 'l':
        p++;
        if (*p == 'l') {
            sp.len = LEN_LL;
            p++;
        } else
            sp.len = LEN_L;
        break;
    case 'z':
        sp.len = LEN_Z;
        p++;
        break;
    case 'j':
        sp.len = LEN_J;
        p++;
        break;
    case 't':
        sp.len = LEN_T;
        p++;
        break;
    default: break;
    }

    switch (*p) {
    case 'd':
    case 'i': {
        intmax_t v = arg_signed(sp.len, ap);
        uintmax_t mag = v < 0 ? (uintmax_t)0 - (uintmax_t)v : (uintmax_t)v;
        put_int(out, &sp, mag, v < 0, true, 10, false);
        break;
    }
    case 'u': put_int(out, &sp, arg_unsigned(sp.len, ap), false, false, 10, false); break;
    case 'x': put_int(out, &sp, arg_unsigned(sp.len, ap), false, false, 16, false); break;
    case 'X': put_int(out, &sp, arg_unsigned(sp.len, ap), false, false, 16, true); break;
    case 'o': put_int(out, &sp, arg_unsigned(sp.len, ap), false, false, 8, false); break;
    case 'c': {
        char c;
        if (sp.len != LEN_NONE)
            goto verbatim; /* %lc: wide characters unsupported */
        c = (char)(unsigned char)va_arg(*ap, int);
        put_padded(out, &sp, &c, 1);
        break;
    }
    case 's': {
        const char *s;
        size_t n;
        if (sp.len != LEN_NONE)
            goto verbatim; /* %ls: wide strings unsupported */
        s = va_arg(*ap, const char *);
        if (s == NULL) /* like glibc: "(null)", or nothing if the precision cuts it */
            s = (sp.precision < 0 || sp.precision >= 6) ? "(null)" : "";
        /* Never read past the precision: the string need not be terminated. */
        n = sp.precision < 0 ? strlen(s) : strnlen(s, (size_t)sp.precision);
        put_padded(out, &sp, s, n);
        break;
    }
    case 'p': {
        void *ptr;
        if (sp.len != LEN_NONE)
            goto verbatim;
        ptr = va_arg(*ap, void *);
        if (ptr == NULL) {
            put_padded(out, &sp, "(nil)", 5); /* glibc ignores the precision here */
        } else {
            sp.flags |= F_HASH; /* glibc: %p is %#lx, and honours + and space */
            put_int(out, &sp, (uintptr_t)ptr, false, true, 16, false);
        }
        break;
    }
    case '%':
        put(out, '%'); /* glibc ignores flags and width on %% */
        break;
    case '\0':
        /* A format ending inside a specification: print what there was. */
        put_str(out, start, (size_t)(p - start));
        *pp = p;
        return;
    default:
    verbatim:
        put_str(out, start, (size_t)(p + 1 - start));
        break;
    }
    *pp = p + 1;
}

int libc_vformat(libc_emit_fn emit, void *ctx, const char *fmt, va_list ap)
{
    struct sink out = {emit, ctx, 0};
    va_list args;
    const char *p = fmt;

    /* Work on a copy so that the conversion helpers can take its address. */
    va_copy(args, ap);
    while (*p) {
        if (*p != '%') {
            put(&out, *p++);
            continue;
        }
        p++;
        convert(&out, &p, &args);
    }
    va_end(args);
    return out.count > (size_t)INT_MAX ? -1 : (int)out.count;
}

int libc_format(libc_emit_fn emit, void *ctx, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = libc_vformat(emit, ctx, fmt, ap);
    va_end(ap);
    return n;
}

/* The destination of vsnprintf: a bounded buffer and the bytes produced. */
struct sn_buf {
    char *buf;
    size_t size;
    size_t pos;
};

static void sn_emit(void *ctx, char c)
{
    struct sn_buf *b = ctx;

    if (b->size > 0 && b->pos < b->size - 1)
        b->buf[b->pos] = c;
    b->pos++;
}

int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt, va_list ap)
{
    struct sn_buf b = {buf, size, 0};
    int n = libc_vformat(sn_emit, &b, fmt, ap);

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
