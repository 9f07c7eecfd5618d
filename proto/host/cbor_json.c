/* Schema-less CBOR to JSON through libcbor; see hv/cbor_json.h. Host only. */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <cbor.h>
#include <hv/cbor.h>
#include <hv/cbor_json.h>

#define JSON_MAX_DEPTH 32

static void put_string(FILE *out, const unsigned char *p, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void put_base64url(FILE *out, const unsigned char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    fputc('"', out);
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        fputc(tab[v >> 18], out);
        fputc(tab[(v >> 12) & 63], out);
        fputc(tab[(v >> 6) & 63], out);
        fputc(tab[v & 63], out);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        fputc(tab[v >> 18], out);
        fputc(tab[(v >> 12) & 63], out);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        fputc(tab[v >> 18], out);
        fputc(tab[(v >> 12) & 63], out);
        fputc(tab[(v >> 6) & 63], out);
    }
    fputc('"', out);
}

static void put_item(FILE *out, const cbor_item_t *it, int depth);

/* A map key as a JSON string: strings as themselves, anything else as the
 * JSON text of its value. */
static void put_key(FILE *out, const cbor_item_t *key, int depth)
{
    if (cbor_isa_string(key)) {
        put_string(out, cbor_string_handle(key), cbor_string_length(key));
        return;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem)
        return;
    put_item(mem, key, depth);
    fclose(mem);
    put_string(out, (const unsigned char *)buf, len);
    free(buf);
}

static void put_item(FILE *out, const cbor_item_t *it, int depth)
{
    switch (cbor_typeof(it)) {
    case CBOR_TYPE_UINT: fprintf(out, "%llu", (unsigned long long)cbor_get_int(it)); return;
    case CBOR_TYPE_NEGINT: {
        uint64_t a = cbor_get_int(it); /* value is -1 - a */
        if (a == UINT64_MAX)
            fputs("-18446744073709551616", out);
        else
            fprintf(out, "-%llu", (unsigned long long)a + 1);
        return;
    }
    case CBOR_TYPE_BYTESTRING:
        put_base64url(out, cbor_bytestring_handle(it), cbor_bytestring_length(it));
        return;
    case CBOR_TYPE_STRING: put_string(out, cbor_string_handle(it), cbor_string_length(it)); return;
    case CBOR_TYPE_ARRAY: {
        fputc('[', out);
        cbor_item_t **h = cbor_array_handle(it);
        for (size_t i = 0; i < cbor_array_size(it); i++) {
            if (i)
                fputc(',', out);
            put_item(out, h[i], depth + 1);
        }
        fputc(']', out);
        return;
    }
    case CBOR_TYPE_MAP: {
        fputc('{', out);
        struct cbor_pair *p = cbor_map_handle(it);
        for (size_t i = 0; i < cbor_map_size(it); i++) {
            if (i)
                fputc(',', out);
            put_key(out, p[i].key, depth + 1);
            fputc(':', out);
            put_item(out, p[i].value, depth + 1);
        }
        fputc('}', out);
        return;
    }
    default:
        /* tags, floats, undefined: refused by hvcbor_check before we get here */
        fputs("null", out);
        return;
    }
}

int proto_json_write(FILE *out, const uint8_t *buf, size_t len)
{
    /* Our codec first: it bounds depth, counts and lengths (libcbor bounds
     * nothing but memory and frees recursively) and checks the encoding is
     * the deterministic one every proto message uses. */
    struct hvcbor_limits lim = {
        .max_depth = JSON_MAX_DEPTH, .max_items = 1u << 20, .max_string_bytes = 1u << 24};
    if (hvcbor_check(buf, len, &lim).code != HVCBOR_OK)
        return -1;
    struct cbor_load_result res;
    cbor_item_t *it = cbor_load(buf, len, &res);
    if (!it)
        return -1;
    if (res.error.code != CBOR_ERR_NONE || res.read != len) {
        cbor_decref(&it);
        return -1;
    }
    put_item(out, it, 0);
    cbor_decref(&it);
    return ferror(out) ? -1 : 0;
}

char *proto_json_render(const uint8_t *buf, size_t len)
{
    char *s = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&s, &n);
    if (!mem)
        return NULL;
    int rc = proto_json_write(mem, buf, len);
    if (fclose(mem) != 0 || rc != 0) {
        free(s);
        return NULL;
    }
    return s;
}
