/*
 * The bus fields of a manifest (docs/bus.md, docs/manifests.md):
 *
 *   config:   a mapping of keys (1..64 bytes, no control characters) to
 *             scalar values, kept as written (at most 512 bytes; 32 keys)
 *   offers:   a list of service names the domain may register (16)
 *   uses:     a list of service names it may use (16)
 *   channels: a list of {name, peer, size}: a channel to domain `peer`,
 *             size a power of two from 32 KiB to 2 MiB (16)
 *
 * Service and channel names: 1..32 bytes of letters, digits, '-', '_', '.',
 * starting with a letter or digit. Every error names its field path and
 * position, like the other fields.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "manifest_tree.h"

static uint32_t err(struct manifest_diags *d, const char *file, const struct mnode *n,
                    const char *path, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static uint32_t err(struct manifest_diags *d, const char *file, const struct mnode *n,
                    const char *path, const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    manifest_diag_add(d, file, n->line, n->column, path, "%s", msg);
    return 1;
}

static bool is_null(const struct mnode *v)
{
    return v->kind == MNODE_SCALAR && v->plain &&
           (!strcmp(v->value, "null") || !strcmp(v->value, "~") || v->len == 0);
}

static bool no_controls(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* A service or channel name (the domain-name rule, at most 32 bytes). */
static bool service_name_ok(const struct mnode *v)
{
    if (v->kind != MNODE_SCALAR || v->len == 0 || v->len > MANIFEST_SERVICE_NAME_MAX ||
        strlen(v->value) != v->len)
        return false;
    for (size_t i = 0; i < v->len; i++) {
        char ch = v->value[i];
        bool alnum =
            (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (!alnum && (i == 0 || (ch != '-' && ch != '_' && ch != '.')))
            return false;
    }
    return true;
}

uint32_t manifest_bus_config(const char *file, const struct mnode *v, struct manifest *m,
                             struct manifest_diags *d)
{
    if (v->kind != MNODE_MAP)
        return err(d, file, v, "config", "expected a mapping of keys to values, got %s",
                   mnode_describe(v));
    uint32_t errors = 0;
    m->config_count = 0;
    for (uint32_t i = 0; i + 1 < v->kid_count; i += 2) {
        const struct mnode *k = v->kids[i], *val = v->kids[i + 1];
        char path[96];
        snprintf(path, sizeof path, "config.%.64s", k->value);
        if (m->config_count == MANIFEST_CONFIG_MAX) {
            errors += err(d, file, k, path, "more than %u keys", MANIFEST_CONFIG_MAX);
            break;
        }
        if (k->len == 0 || k->len > MANIFEST_CONFIG_KEY_MAX || !no_controls(k->value, k->len)) {
            errors += err(d, file, k, path, "a key is 1..%u bytes without control characters",
                          MANIFEST_CONFIG_KEY_MAX);
            continue;
        }
        bool dup = false;
        for (uint32_t j = 0; j < m->config_count && !dup; j++)
            dup = !strcmp(m->config[j].key, k->value);
        if (dup) {
            errors += err(d, file, k, path, "duplicate key");
            continue;
        }
        if (val->kind != MNODE_SCALAR || is_null(val)) {
            errors +=
                err(d, file, val, path, "expected a string value, got %s", mnode_describe(val));
            continue;
        }
        if (strlen(val->value) != val->len || val->len > MANIFEST_CONFIG_VALUE_MAX) {
            errors += err(d, file, val, path, "a value is at most %u bytes, without NUL",
                          MANIFEST_CONFIG_VALUE_MAX);
            continue;
        }
        struct manifest_config_entry *e = &m->config[m->config_count++];
        memcpy(e->key, k->value, k->len + 1);
        memcpy(e->value, val->value, val->len + 1);
    }
    return errors;
}

uint32_t manifest_bus_services(const char *file, const char *key, const struct mnode *v,
                               struct manifest *m, struct manifest_diags *d)
{
    bool offers = !strcmp(key, "offers");
    char(*names)[MANIFEST_SERVICE_NAME_MAX + 1] = offers ? m->offers : m->uses;
    uint32_t *count = offers ? &m->offers_count : &m->uses_count;
    *count = 0;
    if (v->kind != MNODE_SEQ)
        return err(d, file, v, key, "expected a list of service names, got %s", mnode_describe(v));
    uint32_t errors = 0;
    for (uint32_t i = 0; i < v->kid_count; i++) {
        const struct mnode *n = v->kids[i];
        char path[48];
        snprintf(path, sizeof path, "%s[%u]", key, i);
        if (*count == MANIFEST_SERVICES_MAX) {
            errors += err(d, file, n, path, "more than %u services", MANIFEST_SERVICES_MAX);
            break;
        }
        if (!service_name_ok(n)) {
            errors += err(d, file, n, path,
                          "a service name is 1..%u bytes: letters, digits, '-', '_', '.', "
                          "starting with a letter or digit",
                          MANIFEST_SERVICE_NAME_MAX);
            continue;
        }
        bool dup = false;
        for (uint32_t j = 0; j < *count && !dup; j++)
            dup = !strcmp(names[j], n->value);
        if (dup) {
            errors += err(d, file, n, path, "\"%s\" is listed twice", n->value);
            continue;
        }
        memcpy(names[(*count)++], n->value, n->len + 1);
    }
    return errors;
}

/* A size for a channel (the manifest's size syntax: bytes or K/M/G, KiB...). */
static bool channel_size(const struct mnode *v, uint64_t *out)
{
    if (v->kind != MNODE_SCALAR)
        return false;
    const char *p = v->value;
    uint64_t n = 0;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > (UINT64_MAX - 9) / 10)
            return false;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    if (*p == ' ')
        p++;
    static const struct {
        const char *unit;
        unsigned shift;
    } units[] = {{"", 0}, {"B", 0}, {"K", 10}, {"KiB", 10}, {"M", 20}, {"MiB", 20}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(p, units[i].unit) && n <= (UINT64_MAX >> units[i].shift)) {
            *out = n << units[i].shift;
            return true;
        }
    return false;
}

uint32_t manifest_bus_channels(const char *file, const struct mnode *v, struct manifest *m,
                               struct manifest_diags *d)
{
    m->channels_count = 0;
    if (v->kind != MNODE_SEQ)
        return err(d, file, v, "channels", "expected a list of {name, peer, size}, got %s",
                   mnode_describe(v));
    uint32_t errors = 0;
    for (uint32_t i = 0; i < v->kid_count; i++) {
        const struct mnode *c = v->kids[i];
        char path[64];
        snprintf(path, sizeof path, "channels[%u]", i);
        if (m->channels_count == MANIFEST_CHANNELS_MAX) {
            errors += err(d, file, c, path, "more than %u channels", MANIFEST_CHANNELS_MAX);
            break;
        }
        if (c->kind != MNODE_MAP) {
            errors += err(d, file, c, path, "expected a mapping {name, peer, size}, got %s",
                          mnode_describe(c));
            continue;
        }
        struct manifest_channel ch = {0};
        const struct mnode *seen_name = NULL, *seen_peer = NULL, *seen_size = NULL;
        uint32_t before = errors;
        for (uint32_t k = 0; k + 1 < c->kid_count; k += 2) {
            const struct mnode *key = c->kids[k], *val = c->kids[k + 1];
            char fpath[112];
            snprintf(fpath, sizeof fpath, "%s.%.32s", path, key->value);
            if (!strcmp(key->value, "name")) {
                seen_name = key;
                if (!service_name_ok(val))
                    errors += err(d, file, val, fpath,
                                  "a channel name is 1..%u bytes: letters, digits, '-', '_', "
                                  "'.', starting with a letter or digit",
                                  MANIFEST_SERVICE_NAME_MAX);
                else
                    memcpy(ch.name, val->value, val->len + 1);
            } else if (!strcmp(key->value, "peer")) {
                seen_peer = key;
                if (val->kind != MNODE_SCALAR || val->len == 0 || val->len > MANIFEST_NAME_MAX ||
                    strlen(val->value) != val->len || !no_controls(val->value, val->len))
                    errors += err(d, file, val, fpath, "expected the name of a domain");
                else
                    memcpy(ch.peer, val->value, val->len + 1);
            } else if (!strcmp(key->value, "size")) {
                seen_size = key;
                uint64_t sz = 0;
                if (!channel_size(val, &sz) || sz < MANIFEST_CHANNEL_SIZE_MIN ||
                    sz > MANIFEST_CHANNEL_SIZE_MAX || (sz & (sz - 1)) != 0)
                    errors += err(d, file, val, fpath,
                                  "\"%.40s\": the size is a power of two from 32 KiB to 2 MiB "
                                  "(shared memory of both directions)",
                                  val->kind == MNODE_SCALAR ? val->value : "?");
                else
                    ch.size_bytes = sz;
            } else {
                errors += err(d, file, key, fpath, "unknown key (known keys: name, peer, size)");
            }
        }
        if (!seen_name)
            errors += err(d, file, c, path, "name is missing");
        if (!seen_peer)
            errors += err(d, file, c, path, "peer is missing");
        if (!seen_size)
            errors += err(d, file, c, path, "size is missing");
        if (errors != before)
            continue;
        bool dup = false;
        for (uint32_t j = 0; j < m->channels_count && !dup; j++)
            dup = !strcmp(m->channels[j].name, ch.name);
        if (dup) {
            errors += err(d, file, c, path, "channel \"%s\" is declared twice", ch.name);
            continue;
        }
        m->channels[m->channels_count++] = ch;
    }
    return errors;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t fnv_str(uint64_t h, struct hvcbor_str s)
{
    uint32_t len = s.len;
    h = fnv(h, &len, sizeof len);
    return fnv(h, s.ptr, s.len);
}

uint64_t manifest_bus_digest(const struct proto_domain_config *c)
{
    uint64_t h = 0xcbf29ce484222325ull;
    uint32_t n = c->has_config ? c->config.count : 0;
    h = fnv(h, &n, sizeof n);
    for (uint32_t i = 0; i < n; i++)
        h = fnv_str(fnv_str(h, c->config.items[i].key), c->config.items[i].value);
    n = c->has_offers ? c->offers.count : 0;
    h = fnv(h, &n, sizeof n);
    for (uint32_t i = 0; i < n; i++)
        h = fnv_str(h, c->offers.items[i]);
    n = c->has_uses ? c->uses.count : 0;
    h = fnv(h, &n, sizeof n);
    for (uint32_t i = 0; i < n; i++)
        h = fnv_str(h, c->uses.items[i]);
    n = c->has_channels ? c->channels.count : 0;
    h = fnv(h, &n, sizeof n);
    for (uint32_t i = 0; i < n; i++) {
        h = fnv_str(fnv_str(h, c->channels.items[i].name), c->channels.items[i].peer);
        h = fnv(h, &c->channels.items[i].size_bytes, sizeof c->channels.items[i].size_bytes);
    }
    n = c->has_net ? c->net.ports.count : 0; /* the lease (net: {ports}) */
    h = fnv(h, &n, sizeof n);
    for (uint32_t i = 0; i < n; i++) {
        h = fnv(h, &c->net.ports.items[i].lo, sizeof c->net.ports.items[i].lo);
        h = fnv(h, &c->net.ports.items[i].hi, sizeof c->net.ports.items[i].hi);
    }
    n = c->has_net && c->net.has_rules ? c->net.rules.count : 0; /* its rules and classes */
    h = fnv(h, &n, sizeof n);
    for (uint32_t i = 0; i < n; i++)
        h = fnv(h, &c->net.rules.items[i], sizeof c->net.rules.items[i]);
    struct proto_net_class none = {0};
    h = fnv(h, c->has_net && c->net.has_tx ? &c->net.tx : &none, sizeof none);
    h = fnv(h, c->has_net && c->net.has_rx ? &c->net.rx : &none, sizeof none);
    n = c->has_disks ? c->disks.count : 0; /* disks: a change needs a restart */
    h = fnv(h, &n, sizeof n);
    for (uint32_t i = 0; i < n; i++) {
        const struct proto_disk_spec *k = &c->disks.items[i];
        uint64_t v[6] = {k->writable,
                         k->has_size_bytes ? k->size_bytes : 0,
                         k->has_iops_min ? k->iops_min : 0,
                         k->has_iops_max ? k->iops_max : 0,
                         k->has_bps_max ? k->bps_max : 0,
                         k->has_weight ? k->weight : 1};
        h = fnv(fnv_str(h, k->volume), v, sizeof v);
    }
    return h;
}
