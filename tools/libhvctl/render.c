/* Generic CBOR -> JSON through libcbor, with the catalog's names (render.h;
 * proto_msg_schema, generated from proto/catalog.cddl). */
#include "hvctl/render.h"

#include <cbor.h>
#include <hv/proto_msgs.h>
#include <inttypes.h>
#include <string.h>

void render_json_string(FILE *out, const uint8_t *s, size_t len)
{
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        uint8_t ch = s[i];
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", out);
        else if (ch == '\t')
            fputs("\\t", out);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

/* The schema of the message item is (key 0's value), or NULL. */
static const struct proto_schema *message_schema(const cbor_item_t *item)
{
    if (!cbor_isa_map(item))
        return NULL;
    struct cbor_pair *p = cbor_map_handle(item);
    for (size_t i = 0; i < cbor_map_size(item); i++)
        if (cbor_isa_uint(p[i].key) && cbor_get_int(p[i].key) == 0 && cbor_isa_uint(p[i].value))
            return proto_msg_schema(cbor_get_int(p[i].value));
    return NULL;
}

static const struct proto_schema_field *field_of(const struct proto_schema *s,
                                                 const cbor_item_t *key)
{
    return s && cbor_isa_uint(key) ? proto_schema_field(s, cbor_get_int(key)) : NULL;
}

typedef const char *(*enum_fn)(uint64_t v);

static void emit(FILE *out, const cbor_item_t *it, const struct proto_schema *schema, enum_fn en,
                 bool top);

static void emit_key(FILE *out, const cbor_item_t *key, const struct proto_schema_field *f)
{
    if (f) {
        render_json_string(out, (const uint8_t *)f->name, strlen(f->name));
    } else if (cbor_isa_uint(key)) {
        fprintf(out, "\"%" PRIu64 "\"", cbor_get_int(key));
    } else if (cbor_isa_string(key) && cbor_string_is_definite(key)) {
        render_json_string(out, cbor_string_handle(key), cbor_string_length(key));
    } else {
        /* JSON keys are strings: render any other key as its JSON text, quoted. */
        fputs("\"(key)\"", out);
    }
}

static void emit(FILE *out, const cbor_item_t *it, const struct proto_schema *schema, enum_fn en,
                 bool top)
{
    switch (cbor_typeof(it)) {
    case CBOR_TYPE_UINT: {
        uint64_t v = cbor_get_int(it);
        const char *name = en ? en(v) : NULL;
        if (name)
            render_json_string(out, (const uint8_t *)name, strlen(name));
        else
            fprintf(out, "%" PRIu64, v);
        break;
    }
    case CBOR_TYPE_NEGINT:
        if (cbor_get_int(it) == UINT64_MAX)
            fputs("-18446744073709551616", out);
        else if (cbor_get_int(it) >= (uint64_t)INT64_MAX)
            fprintf(out, "-%" PRIu64, cbor_get_int(it) + 1);
        else
            fprintf(out, "%" PRId64, -1 - (int64_t)cbor_get_int(it));
        break;
    case CBOR_TYPE_BYTESTRING:
        fputc('"', out);
        if (cbor_bytestring_is_definite(it))
            for (size_t i = 0; i < cbor_bytestring_length(it); i++)
                fprintf(out, "%02x", cbor_bytestring_handle(it)[i]);
        fputc('"', out);
        break;
    case CBOR_TYPE_STRING:
        if (cbor_string_is_definite(it))
            render_json_string(out, cbor_string_handle(it), cbor_string_length(it));
        else
            fputs("\"\"", out);
        break;
    case CBOR_TYPE_ARRAY: {
        fputc('[', out);
        for (size_t i = 0; i < cbor_array_size(it); i++) {
            if (i)
                fputc(',', out);
            emit(out, cbor_array_handle(it)[i], schema, en, false);
        }
        fputc(']', out);
        break;
    }
    case CBOR_TYPE_MAP: {
        const struct proto_schema *s = top ? message_schema(it) : schema;
        fputc('{', out);
        struct cbor_pair *p = cbor_map_handle(it);
        for (size_t i = 0; i < cbor_map_size(it); i++) {
            const struct proto_schema_field *f = field_of(s, p[i].key);
            if (i)
                fputc(',', out);
            emit_key(out, p[i].key, f);
            fputc(':', out);
            if (top && f && f->key == 0 && cbor_isa_uint(p[i].value) &&
                proto_msg_name((uint32_t)cbor_get_int(p[i].value)))
                render_json_string(
                    out, (const uint8_t *)proto_msg_name((uint32_t)cbor_get_int(p[i].value)),
                    strlen(proto_msg_name((uint32_t)cbor_get_int(p[i].value))));
            else
                emit(out, p[i].value, f ? f->sub : NULL, f ? f->enum_name : NULL, false);
        }
        fputc('}', out);
        break;
    }
    case CBOR_TYPE_TAG: emit(out, cbor_tag_item(it), schema, en, false); break;
    case CBOR_TYPE_FLOAT_CTRL:
        if (cbor_is_null(it))
            fputs("null", out);
        else if (cbor_is_bool(it))
            fputs(cbor_get_bool(it) ? "true" : "false", out);
        else if (cbor_float_ctrl_is_ctrl(it))
            fputs("null", out);
        else
            fprintf(out, "%.17g", cbor_float_get_float(it));
        break;
    }
}

bool render_json(FILE *out, const uint8_t *cbor, size_t len, char *errbuf, size_t errcap)
{
    struct cbor_load_result res;
    cbor_item_t *item = cbor_load(cbor, len, &res);
    if (!item || res.error.code != CBOR_ERR_NONE) {
        snprintf(errbuf, errcap, "not a CBOR item (libcbor error %d at byte %zu)",
                 (int)res.error.code, res.error.position);
        if (item)
            cbor_decref(&item);
        return false;
    }
    if (res.read != len) {
        snprintf(errbuf, errcap, "%zu bytes after the CBOR item", len - res.read);
        cbor_decref(&item);
        return false;
    }
    emit(out, item, NULL, NULL, true);
    fputc('\n', out);
    cbor_decref(&item);
    return true;
}
