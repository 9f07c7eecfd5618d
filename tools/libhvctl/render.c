/* Generic CBOR -> JSON through libcbor, with catalog names (render.h). */
#include "hvctl/render.h"

#include <cbor.h>
#include <hv/proto_msgs.h>
#include <inttypes.h>
#include <string.h>

enum jenum { J_NONE, J_STATE, J_ERROR, J_POLICY, J_RIGHT, J_SHUTDOWN, J_VCPU_STATE };

struct jschema;
/* One member: its catalog name, the schema of a nested map (or of the
 * elements of an array), and the enumeration its integer belongs to. */
struct jfield {
    uint64_t key;
    const char *name;
    const struct jschema *sub;
    enum jenum en;
};
struct jschema {
    const struct jfield *fields;
    size_t count;
};
#define SCHEMA(n, ...)                                                                             \
    static const struct jfield n##_f[] = {__VA_ARGS__};                                            \
    static const struct jschema n = {n##_f, sizeof n##_f / sizeof n##_f[0]}

SCHEMA(S_SUMMARY, {0, "id", 0, 0}, {2, "name", 0, 0}, {4, "state", 0, J_STATE},
       {6, "memory-bytes", 0, 0}, {8, "vcpus", 0, 0}, {10, "cpu-time-ns", 0, 0},
       {12, "event-count", 0, 0}, {13, "events-sent", 0, 0}, {15, "dma-faults", 0, 0});
SCHEMA(S_PCI_ASSIGN, {1, "bdf", 0, 0}, {3, "vendor", 0, 0}, {5, "device", 0, 0}, {7, "index", 0, 0},
       {8, "rights", 0, 0});
SCHEMA(S_PCI_FUNCTION, {0, "bdf", 0, 0}, {2, "vendor", 0, 0}, {4, "device", 0, 0},
       {6, "class", 0, 0}, {7, "holder", 0, 0}, {9, "rights", 0, 0}, {11, "dma-faults", 0, 0});
SCHEMA(S_CONFIG, {0, "name", 0, 0}, {2, "kernel", 0, 0}, {4, "cmdline", 0, 0},
       {6, "memory-bytes", 0, 0}, {8, "max-memory-bytes", 0, 0}, {10, "vcpus", 0, 0},
       {12, "weight", 0, 0}, {14, "cap-percent", 0, 0}, {16, "gang", 0, 0},
       {18, "on-poweroff", 0, J_POLICY}, {20, "on-reboot", 0, J_POLICY},
       {22, "on-crash", 0, J_POLICY}, {23, "pci", &S_PCI_ASSIGN, 0});
SCHEMA(S_VCPU_INFO, {0, "vcpu", 0, 0}, {2, "state", 0, J_VCPU_STATE}, {4, "run-ns", 0, 0},
       {6, "wait-ns", 0, 0}, {8, "migrations", 0, 0}, {10, "cpu-mask", 0, 0}, {11, "cpu", 0, 0});
SCHEMA(S_HOST_CPU, {0, "cpu", 0, 0}, {2, "package", 0, 0}, {4, "core", 0, 0}, {6, "thread", 0, 0},
       {8, "apic-id", 0, 0});
SCHEMA(S_LOG_ENTRY, {0, "seq", 0, 0}, {2, "time-ns", 0, 0}, {4, "actor", 0, 0}, {6, "action", 0, 0},
       {8, "target", 0, 0}, {10, "ok", 0, 0}, {11, "error", 0, J_ERROR}, {13, "detail", 0, 0});

#define MSG_HEAD                                                                                   \
    {0, "type", 0, 0},                                                                             \
    {                                                                                              \
        2, "request-id", 0, 0                                                                      \
    }
SCHEMA(M_HELLO_REPLY, MSG_HEAD, {4, "version", 0, 0}, {6, "server", 0, 0});
SCHEMA(M_ERROR, MSG_HEAD, {4, "code", 0, J_ERROR}, {6, "message", 0, 0});
SCHEMA(M_OK, MSG_HEAD);
SCHEMA(M_LIST, MSG_HEAD, {4, "domains", &S_SUMMARY, 0});
SCHEMA(M_INFO, MSG_HEAD, {4, "summary", &S_SUMMARY, 0}, {6, "config", &S_CONFIG, 0},
       {7, "max-observed-memory-bytes", 0, 0}, {9, "vcpu-stats", &S_VCPU_INFO, 0});
SCHEMA(M_HOST_INFO, MSG_HEAD, {4, "cpus", &S_HOST_CPU, 0}, {6, "tsc-hz", 0, 0},
       {8, "memory-bytes", 0, 0}, {10, "free-memory-bytes", 0, 0});
SCHEMA(M_DEVICE_LIST, MSG_HEAD, {4, "functions", &S_PCI_FUNCTION, 0}, {5, "iommu", 0, 0});
SCHEMA(M_UPLOAD_REPLY, MSG_HEAD, {4, "upload", 0, 0}, {5, "present", 0, 0});
SCHEMA(M_CREATE_REQ, MSG_HEAD, {4, "token", 0, 0}, {6, "config", &S_CONFIG, 0},
       {8, "paused", 0, 0});
SCHEMA(M_CREATE_REPLY, MSG_HEAD, {4, "id", 0, 0});
SCHEMA(M_LOG, MSG_HEAD, {4, "entries", &S_LOG_ENTRY, 0}, {6, "next-seq", 0, 0});
SCHEMA(M_TOKEN_REPLY, MSG_HEAD, {4, "token-id", 0, 0}, {6, "new-token", 0, 0});
SCHEMA(M_ATTACH_REPLY, MSG_HEAD, {4, "stream", 0, 0}, {6, "history-bytes", 0, 0});

static const struct {
    uint64_t type;
    const struct jschema *schema;
} MSG_SCHEMAS[] = {
    {PROTO_MSG_HELLO_REPLY, &M_HELLO_REPLY},
    {PROTO_MSG_ERROR_REPLY, &M_ERROR},
    {PROTO_MSG_OK_REPLY, &M_OK},
    {PROTO_MSG_DOMAIN_LIST_REPLY, &M_LIST},
    {PROTO_MSG_DOMAIN_INFO_REPLY, &M_INFO},
    {PROTO_MSG_DOMAIN_CREATE_REQUEST, &M_CREATE_REQ},
    {PROTO_MSG_DOMAIN_CREATE_REPLY, &M_CREATE_REPLY},
    {PROTO_MSG_LOG_ENTRIES, &M_LOG},
    {PROTO_MSG_TOKEN_CREATE_REPLY, &M_TOKEN_REPLY},
    {PROTO_MSG_CONSOLE_ATTACH_REPLY, &M_ATTACH_REPLY},
    {PROTO_MSG_HOST_INFO_REPLY, &M_HOST_INFO},
    {PROTO_MSG_IMAGE_UPLOAD_REPLY, &M_UPLOAD_REPLY},
    {PROTO_MSG_DEVICE_LIST_REPLY, &M_DEVICE_LIST},
};

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

static const char *enum_name(enum jenum en, uint64_t v)
{
    switch (en) {
    case J_STATE: return proto_domain_state_name(v);
    case J_ERROR: return proto_error_code_name(v);
    case J_POLICY: return proto_stop_policy_name(v);
    case J_RIGHT: return proto_right_name(v);
    case J_SHUTDOWN: return proto_shutdown_kind_name(v);
    case J_VCPU_STATE: return proto_vcpu_state_name(v);
    case J_NONE: break;
    }
    return NULL;
}

static const struct jfield *field_of(const struct jschema *s, const cbor_item_t *key)
{
    if (!s || !cbor_isa_uint(key))
        return NULL;
    uint64_t k = cbor_get_int(key);
    for (size_t i = 0; i < s->count; i++)
        if (s->fields[i].key == k)
            return &s->fields[i];
    return NULL;
}

static const struct jschema *message_schema(const cbor_item_t *item)
{
    if (!cbor_isa_map(item))
        return NULL;
    struct cbor_pair *p = cbor_map_handle(item);
    for (size_t i = 0; i < cbor_map_size(item); i++) {
        if (cbor_isa_uint(p[i].key) && cbor_get_int(p[i].key) == 0 && cbor_isa_uint(p[i].value)) {
            uint64_t t = cbor_get_int(p[i].value);
            for (size_t j = 0; j < sizeof MSG_SCHEMAS / sizeof MSG_SCHEMAS[0]; j++)
                if (MSG_SCHEMAS[j].type == t)
                    return MSG_SCHEMAS[j].schema;
        }
    }
    return NULL;
}

static void emit(FILE *out, const cbor_item_t *it, const struct jschema *schema, enum jenum en,
                 bool top);

static void emit_key(FILE *out, const cbor_item_t *key, const struct jfield *f)
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

static void emit(FILE *out, const cbor_item_t *it, const struct jschema *schema, enum jenum en,
                 bool top)
{
    switch (cbor_typeof(it)) {
    case CBOR_TYPE_UINT: {
        uint64_t v = cbor_get_int(it);
        const char *name = enum_name(en, v);
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
        const struct jschema *s = top ? message_schema(it) : schema;
        fputc('{', out);
        struct cbor_pair *p = cbor_map_handle(it);
        for (size_t i = 0; i < cbor_map_size(it); i++) {
            const struct jfield *f = field_of(s, p[i].key);
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
                emit(out, p[i].value, f ? f->sub : NULL, f ? f->en : J_NONE, false);
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
    emit(out, item, NULL, J_NONE, true);
    fputc('\n', out);
    cbor_decref(&item);
    return true;
}
