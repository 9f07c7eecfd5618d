/*
 * Manifest fields: interprets the YAML tree (manifest_tree.h) into a struct
 * manifest, one table entry per key. Every refusal names the field path and
 * the position of the offending key or value (docs/manifests.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_tree.h"

/* Interpretation state for one document. */
struct fctx {
    const char *file;
    struct manifest *m;
    struct manifest_diags *d;
    uint32_t errors;
    const struct mnode *memory, *max_memory, *cap; /* values, for cross-field checks */
    bool have_vcpus;
};

#define ERR(c, n, path, ...)                                                                       \
    do {                                                                                           \
        manifest_diag_add((c)->d, (c)->file, (n)->line, (n)->column, (path), __VA_ARGS__);         \
        (c)->errors++;                                                                             \
    } while (0)

static bool is_null(const struct mnode *v)
{
    return v->kind == MNODE_SCALAR && !strcmp(mnode_describe(v), "null");
}

static bool looks_bool(const struct mnode *v)
{
    static const char *const words[] = {"true", "True", "TRUE", "false", "False", "FALSE",
                                        "yes",  "Yes",  "YES",  "no",    "No",    "NO",
                                        "on",   "On",   "ON",   "off",   "Off",   "OFF"};
    if (v->kind != MNODE_SCALAR || !v->plain)
        return false;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (!strcmp(v->value, words[i]))
            return true;
    return false;
}

static const char *describe_value(const struct mnode *v, char *buf, size_t cap)
{
    if (v->kind != MNODE_SCALAR || is_null(v))
        return mnode_describe(v);
    snprintf(buf, cap, "%s\"%.40s%s\"", v->plain ? "" : "the string ", v->value,
             v->len > 40 ? "..." : "");
    return buf;
}

/* A string of 0..max bytes (no NUL). Plain scalars that YAML reads as null or
 * a boolean are refused: `name: yes` is almost certainly a mistake. */
static bool get_string(struct fctx *c, const char *path, const struct mnode *v, size_t min,
                       size_t max, char *out, size_t cap)
{
    char b[64];
    if (v->kind != MNODE_SCALAR || is_null(v) || looks_bool(v)) {
        ERR(c, v, path, "expected a string, got %s", describe_value(v, b, sizeof b));
        return false;
    }
    if (strlen(v->value) != v->len) {
        ERR(c, v, path, "the string contains a NUL character");
        return false;
    }
    if (v->len < min || v->len > max || v->len >= cap) {
        ERR(c, v, path, "%zu bytes is out of range %zu..%zu bytes", v->len, min, max);
        return false;
    }
    memcpy(out, v->value, v->len + 1);
    return true;
}

/* Parses an optionally signed decimal; false if v is not an integer scalar. */
static bool parse_int(const struct mnode *v, bool *negative, uint64_t *mag, bool *overflow)
{
    if (v->kind != MNODE_SCALAR || !v->plain)
        return false;
    const char *p = v->value;
    *negative = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    if (!*p)
        return false;
    *mag = 0;
    *overflow = false;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned digit = (unsigned)(*p - '0');
        if (*mag > (UINT64_MAX - digit) / 10)
            *overflow = true;
        else
            *mag = *mag * 10 + digit;
    }
    return true;
}

static bool get_uint(struct fctx *c, const char *path, const struct mnode *v, uint64_t min,
                     uint64_t max, uint64_t *out)
{
    bool neg, ovf;
    uint64_t mag;
    char b[64];
    if (!parse_int(v, &neg, &mag, &ovf)) {
        if (v->kind == MNODE_SCALAR && !v->plain &&
            parse_int(
                &(struct mnode){
                    .kind = MNODE_SCALAR, .plain = true, .value = v->value, .len = v->len},
                &neg, &mag, &ovf))
            ERR(c, v, path, "expected an integer, got %s (remove the quotes)",
                describe_value(v, b, sizeof b));
        else
            ERR(c, v, path, "expected an integer, got %s", describe_value(v, b, sizeof b));
        return false;
    }
    if (neg && mag != 0) {
        ERR(c, v, path, "%s is out of range %" PRIu64 "..%" PRIu64, v->value, min, max);
        return false;
    }
    if (ovf || mag < min || mag > max) {
        ERR(c, v, path, "%s is out of range %" PRIu64 "..%" PRIu64, v->value, min, max);
        return false;
    }
    *out = mag;
    return true;
}

static bool get_bool(struct fctx *c, const char *path, const struct mnode *v, bool *out)
{
    char b[64];
    if (v->kind == MNODE_SCALAR && v->plain) {
        const char *s = v->value;
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
            *out = true;
            return true;
        }
        if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
            *out = false;
            return true;
        }
    }
    ERR(c, v, path, "expected true or false, got %s", describe_value(v, b, sizeof b));
    return false;
}

static const char SIZE_HELP[] = "bytes, or a whole number with a unit: K, M, G, KiB, MiB, GiB";

/* A size: an integer (bytes) or "<digits>[ ]<unit>" with binary units. */
static bool get_size(struct fctx *c, const char *path, const struct mnode *v, uint64_t *out)
{
    char b[64];
    if (v->kind != MNODE_SCALAR || is_null(v) || looks_bool(v)) {
        ERR(c, v, path, "expected a size (%s), got %s", SIZE_HELP, describe_value(v, b, sizeof b));
        return false;
    }
    const char *p = v->value;
    if (*p == '-') {
        ERR(c, v, path, "%s: a size cannot be negative", v->value);
        return false;
    }
    uint64_t n = 0;
    bool ovf = false, any = false;
    for (; *p >= '0' && *p <= '9'; p++) {
        any = true;
        unsigned digit = (unsigned)(*p - '0');
        if (n > (UINT64_MAX - digit) / 10)
            ovf = true;
        else
            n = n * 10 + digit;
    }
    if (!any) {
        ERR(c, v, path, "expected a size (%s), got %s", SIZE_HELP, describe_value(v, b, sizeof b));
        return false;
    }
    if (*p == '.') {
        ERR(c, v, path, "\"%s\": fractional sizes are not supported (use a smaller unit)",
            v->value);
        return false;
    }
    if (*p == ' ')
        p++;
    static const struct {
        const char *unit;
        unsigned shift;
    } units[] = {{"", 0},   {"B", 0},    {"K", 10}, {"KiB", 10},
                 {"M", 20}, {"MiB", 20}, {"G", 30}, {"GiB", 30}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(p, units[i].unit))
            continue;
        if (*units[i].unit == '\0' && p != v->value + strlen(v->value))
            break;
        if (ovf || n > (UINT64_MAX >> units[i].shift)) {
            ERR(c, v, path, "\"%s\" does not fit in 64 bits", v->value);
            return false;
        }
        *out = n << units[i].shift;
        return true;
    }
    ERR(c, v, path, "unknown unit \"%s\" in \"%s\" (use K, M, G, KiB, MiB, GiB, or plain bytes)", p,
        v->value);
    return false;
}

static bool get_policy(struct fctx *c, const char *path, const struct mnode *v,
                       enum proto_stop_policy *out)
{
    char b[64];
    if (v->kind == MNODE_SCALAR && !is_null(v)) {
        for (uint64_t i = 0; proto_stop_policy_name(i); i++) {
            if (!strcmp(v->value, proto_stop_policy_name(i))) {
                *out = (enum proto_stop_policy)i;
                return true;
            }
        }
        ERR(c, v, path, "\"%.64s\" is not one of destroy, restart, preserve", v->value);
        return false;
    }
    ERR(c, v, path, "expected one of destroy, restart, preserve, got %s",
        describe_value(v, b, sizeof b));
    return false;
}

static bool name_valid(const char *s)
{
    for (size_t i = 0; s[i]; i++) {
        char ch = s[i];
        bool alnum =
            (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (!alnum && (i == 0 || (ch != '-' && ch != '_' && ch != '.')))
            return false;
    }
    return true;
}

/* ---- one function per key ---- */

static void f_name(struct fctx *c, const struct mnode *v)
{
    if (!get_string(c, "name", v, 1, MANIFEST_NAME_MAX, c->m->name, sizeof c->m->name))
        return;
    if (!name_valid(c->m->name)) {
        ERR(c, v, "name",
            "\"%s\" is not a valid domain name (letters, digits, '-', '_', '.'; starting with a "
            "letter or digit)",
            c->m->name);
        return;
    }
    c->m->name_line = v->line;
    c->m->name_column = v->column;
}

static void f_kernel(struct fctx *c, const struct mnode *v)
{
    struct manifest *m = c->m;
    if (!get_string(c, "kernel", v, 1, HVCTL_PATH_MAX - 1, m->kernel, sizeof m->kernel))
        return;
    m->kernel_line = v->line;
    m->kernel_column = v->column;
    const char *slash = strrchr(m->kernel, '/');
    const char *base = slash ? slash + 1 : m->kernel;
    if (!*base) {
        ERR(c, v, "kernel", "\"%s\" names a directory, not an ELF file", m->kernel);
        return;
    }
    if (strlen(base) > MANIFEST_IMAGE_NAME_MAX) {
        ERR(c, v, "kernel", "the file name is longer than %u bytes", MANIFEST_IMAGE_NAME_MAX);
        return;
    }
    if (m->kernel[0] == '/') {
        snprintf(m->kernel_path, sizeof m->kernel_path, "%s", m->kernel);
    } else {
        char dir[HVCTL_PATH_MAX];
        snprintf(dir, sizeof dir, "%s", c->file);
        int n = snprintf(m->kernel_path, sizeof m->kernel_path, "%s/%s", dirname(dir), m->kernel);
        if (n < 0 || (size_t)n >= sizeof m->kernel_path)
            ERR(c, v, "kernel", "the resolved path is too long");
    }
}

static void f_cmdline(struct fctx *c, const struct mnode *v)
{
    get_string(c, "cmdline", v, 0, MANIFEST_CMDLINE_MAX, c->m->cmdline, sizeof c->m->cmdline);
}

static void f_memory(struct fctx *c, const struct mnode *v)
{
    c->memory = v;
}

static void f_max_memory(struct fctx *c, const struct mnode *v)
{
    c->max_memory = v;
}

static void f_vcpus(struct fctx *c, const struct mnode *v)
{
    uint64_t x;
    if (get_uint(c, "vcpus", v, 1, MANIFEST_VCPUS_MAX, &x))
        c->m->vcpus = (uint32_t)x;
    else
        c->have_vcpus = false;
}

static void f_weight(struct fctx *c, const struct mnode *v)
{
    uint64_t x;
    if (get_uint(c, "weight", v, 1, 65535, &x))
        c->m->weight = (uint32_t)x;
}

static void f_cap(struct fctx *c, const struct mnode *v)
{
    c->cap = v;
}

static void f_gang(struct fctx *c, const struct mnode *v)
{
    get_bool(c, "gang", v, &c->m->gang);
}

static void f_on_poweroff(struct fctx *c, const struct mnode *v)
{
    get_policy(c, "on_poweroff", v, &c->m->on_poweroff);
}

static void f_on_reboot(struct fctx *c, const struct mnode *v)
{
    get_policy(c, "on_reboot", v, &c->m->on_reboot);
}

static void f_on_crash(struct fctx *c, const struct mnode *v)
{
    get_policy(c, "on_crash", v, &c->m->on_crash);
}

/* net and disk: placeholders until the driver-domain work defines them. A
 * list of mappings is accepted and not interpreted (docs/manifests.md). */
static void placeholder(struct fctx *c, const char *key, const struct mnode *v, bool *flag)
{
    char b[64];
    if (v->kind != MNODE_SEQ) {
        ERR(c, v, key, "expected a list, got %s", describe_value(v, b, sizeof b));
        return;
    }
    for (uint32_t i = 0; i < v->kid_count; i++) {
        if (v->kids[i]->kind != MNODE_MAP) {
            char path[32];
            snprintf(path, sizeof path, "%s[%u]", key, i);
            ERR(c, v->kids[i], path, "expected a mapping, got %s",
                describe_value(v->kids[i], b, sizeof b));
        }
    }
    *flag = true;
}

static void f_net(struct fctx *c, const struct mnode *v)
{
    placeholder(c, "net", v, &c->m->has_net);
}

static void f_disk(struct fctx *c, const struct mnode *v)
{
    placeholder(c, "disk", v, &c->m->has_disk);
}

static const struct {
    const char *key;
    bool required;
    void (*apply)(struct fctx *c, const struct mnode *v);
} FIELDS[] = {
    {"name", true, f_name},
    {"kernel", true, f_kernel},
    {"cmdline", false, f_cmdline},
    {"memory", true, f_memory},
    {"max_memory", false, f_max_memory},
    {"vcpus", false, f_vcpus},
    {"weight", false, f_weight},
    {"cap", false, f_cap},
    {"gang", false, f_gang},
    {"on_poweroff", false, f_on_poweroff},
    {"on_reboot", false, f_on_reboot},
    {"on_crash", false, f_on_crash},
    {"net", false, f_net},
    {"disk", false, f_disk},
};
#define FIELD_COUNT (sizeof FIELDS / sizeof FIELDS[0])

static void cross_checks(struct fctx *c)
{
    struct manifest *m = c->m;
    char a[32], b[32];
    if (c->memory && get_size(c, "memory", c->memory, &m->memory_bytes)) {
        if (m->memory_bytes < MANIFEST_MEMORY_MIN_BYTES ||
            m->memory_bytes > MANIFEST_MEMORY_MAX_BYTES) {
            manifest_format_size(a, sizeof a, m->memory_bytes);
            ERR(c, c->memory, "memory", "%s is out of range 1 MiB..1024 GiB", a);
            c->memory = NULL;
        } else if (m->memory_bytes % MANIFEST_PAGE_BYTES) {
            ERR(c, c->memory, "memory", "%" PRIu64 " bytes is not a multiple of 4 KiB",
                m->memory_bytes);
            c->memory = NULL;
        }
    } else {
        c->memory = NULL;
    }
    m->max_memory_bytes = m->memory_bytes;
    if (c->max_memory && get_size(c, "max_memory", c->max_memory, &m->max_memory_bytes)) {
        if (m->max_memory_bytes > MANIFEST_MEMORY_MAX_BYTES) {
            manifest_format_size(a, sizeof a, m->max_memory_bytes);
            ERR(c, c->max_memory, "max_memory", "%s is above the 1024 GiB limit", a);
        } else if (m->max_memory_bytes % MANIFEST_PAGE_BYTES) {
            ERR(c, c->max_memory, "max_memory", "%" PRIu64 " bytes is not a multiple of 4 KiB",
                m->max_memory_bytes);
        } else if (c->memory && m->max_memory_bytes < m->memory_bytes) {
            manifest_format_size(a, sizeof a, m->max_memory_bytes);
            manifest_format_size(b, sizeof b, m->memory_bytes);
            ERR(c, c->max_memory, "max_memory", "%s is below memory (%s)", a, b);
        }
    }
    if (c->cap) {
        uint64_t x;
        if (c->have_vcpus && get_uint(c, "cap", c->cap, 0, 100ull * m->vcpus, &x))
            m->cap_percent = (uint32_t)x;
        else if (!c->have_vcpus)
            (void)0; /* vcpus itself is wrong: reported already; the cap bound is unknown */
    }
}

bool manifest_fields_apply(const char *file, const struct mnode *root, struct manifest *m,
                           struct manifest_diags *d)
{
    struct fctx c = {.file = file, .m = m, .d = d, .have_vcpus = true};
    char b[64];
    if (root->kind != MNODE_MAP) {
        ERR(&c, root, "(document)", "expected a mapping of manifest keys at the top level, got %s",
            describe_value(root, b, sizeof b));
        return false;
    }
    m->vcpus = 1;
    m->weight = MANIFEST_DEFAULT_WEIGHT;
    m->on_poweroff = PROTO_STOP_POLICY_DESTROY;
    m->on_reboot = PROTO_STOP_POLICY_RESTART;
    m->on_crash = PROTO_STOP_POLICY_DESTROY;
    const struct mnode *seen[FIELD_COUNT] = {0};
    for (uint32_t i = 0; i + 1 < root->kid_count; i += 2) {
        const struct mnode *k = root->kids[i], *v = root->kids[i + 1];
        size_t f = 0;
        while (f < FIELD_COUNT && strcmp(k->value, FIELDS[f].key))
            f++;
        if (f == FIELD_COUNT) {
            ERR(&c, k, k->value,
                "unknown key (known keys: name, kernel, cmdline, memory, max_memory, vcpus, "
                "weight, cap, gang, "
                "on_poweroff, on_reboot, on_crash, net, disk)");
            continue;
        }
        if (seen[f]) {
            ERR(&c, k, FIELDS[f].key, "duplicate key (first at line %u, column %u)", seen[f]->line,
                seen[f]->column);
            continue;
        }
        seen[f] = k;
        FIELDS[f].apply(&c, v);
    }
    for (size_t f = 0; f < FIELD_COUNT; f++)
        if (FIELDS[f].required && !seen[f])
            ERR(&c, root, FIELDS[f].key, "required key is missing");
    /* vcpus may have been given after cap; the bound needs its final value. */
    cross_checks(&c);
    return c.errors == 0;
}
