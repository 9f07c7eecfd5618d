/*
 * Manifest fields: interprets the YAML tree (manifest_tree.h) into a struct
 * manifest, one table entry per key. Every refusal names the field path and
 * the position of the offending key or value (docs/manifests.md).
 */
#include <errno.h>
#include <ctype.h>
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

static void f_config(struct fctx *c, const struct mnode *v)
{
    c->errors += manifest_bus_config(c->file, v, c->m, c->d);
}

static void f_offers(struct fctx *c, const struct mnode *v)
{
    c->errors += manifest_bus_services(c->file, "offers", v, c->m, c->d);
}

static void f_uses(struct fctx *c, const struct mnode *v)
{
    c->errors += manifest_bus_services(c->file, "uses", v, c->m, c->d);
}

static void f_channels(struct fctx *c, const struct mnode *v)
{
    c->errors += manifest_bus_channels(c->file, v, c->m, c->d);
}

static void f_restart(struct fctx *c, const struct mnode *v)
{
    c->errors += manifest_restart(c->file, v, c->m, c->d);
}

static void f_net(struct fctx *c, const struct mnode *v)
{
    c->errors += manifest_net(c->file, v, c->m, c->d);
}

/* A volume name as blkback takes it: 1..32 letters, digits, '-', '_', '.',
 * starting with a letter or digit (domains/blkback/vtab.h). */
static bool volume_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > MANIFEST_VOLUME_NAME_MAX || !isalnum((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

/* One entry of disks: {volume, mode, size, iops_min, iops_max, bps_max,
 * weight}. */
static void disk_entry(struct fctx *c, const struct mnode *v, uint32_t i)
{
    char path[48], b[64];
    snprintf(path, sizeof path, "disks[%u]", i);
    if (v->kind != MNODE_MAP) {
        ERR(c, v, path, "expected a mapping {volume: NAME, mode: rw|ro}, got %s",
            describe_value(v, b, sizeof b));
        return;
    }
    struct manifest_disk dk = {.writable = true, .weight = 1, .line = v->line, .column = v->column};
    bool have_volume = false;
    uint32_t before = c->errors;
    for (uint32_t k = 0; k + 1 < v->kid_count; k += 2) {
        const struct mnode *key = v->kids[k], *val = v->kids[k + 1];
        char fp[64];
        snprintf(fp, sizeof fp, "%s.%s", path, key->value);
        uint64_t x = 0;
        if (!strcmp(key->value, "volume")) {
            if (get_string(c, fp, val, 1, MANIFEST_VOLUME_NAME_MAX, dk.volume, sizeof dk.volume)) {
                if (!volume_name_ok(dk.volume))
                    ERR(c, val, fp,
                        "a volume name is 1..32 letters, digits, '-', '_' or '.', starting "
                        "with a letter or digit");
                have_volume = true;
            }
        } else if (!strcmp(key->value, "mode")) {
            if (val->kind == MNODE_SCALAR && !strcmp(val->value, "rw"))
                dk.writable = true;
            else if (val->kind == MNODE_SCALAR && !strcmp(val->value, "ro"))
                dk.writable = false;
            else
                ERR(c, val, fp, "expected rw or ro, got %s", describe_value(val, b, sizeof b));
        } else if (!strcmp(key->value, "size")) {
            if (get_size(c, fp, val, &dk.size_bytes) && dk.size_bytes == 0)
                ERR(c, val, fp, "a size of 0 says nothing: leave it out");
        } else if (!strcmp(key->value, "iops_min")) {
            if (get_uint(c, fp, val, 0, MANIFEST_DISK_IOPS_MAX, &x))
                dk.iops_min = (uint32_t)x;
        } else if (!strcmp(key->value, "iops_max")) {
            if (get_uint(c, fp, val, 0, MANIFEST_DISK_IOPS_MAX, &x))
                dk.iops_max = (uint32_t)x;
        } else if (!strcmp(key->value, "bps_max")) {
            (void)get_size(c, fp, val, &dk.bps_max);
            if (dk.bps_max > MANIFEST_DISK_BPS_MAX)
                ERR(c, val, fp, "above the limit of 1 TiB per second");
        } else if (!strcmp(key->value, "weight")) {
            if (get_uint(c, fp, val, 1, 1000, &x))
                dk.weight = (uint32_t)x;
        } else {
            ERR(c, key, fp,
                "unknown key (known keys: volume, mode, size, iops_min, iops_max, bps_max, "
                "weight)");
        }
    }
    if (!have_volume && c->errors == before)
        ERR(c, v, path, "volume: is required");
    if (dk.iops_min && dk.iops_max && dk.iops_min > dk.iops_max)
        ERR(c, v, path, "iops_min (%u) is above iops_max (%u)", dk.iops_min, dk.iops_max);
    for (uint32_t j = 0; have_volume && j < c->m->disks_count; j++)
        if (!strcmp(c->m->disks[j].volume, dk.volume))
            ERR(c, v, path, "volume %s is listed twice", dk.volume);
    if (c->errors == before)
        c->m->disks[c->m->disks_count++] = dk;
}

/* disks: the volumes of blkback the domain may attach (docs/blkback.md). */
static void f_disks(struct fctx *c, const struct mnode *v)
{
    char b[64];
    if (v->kind != MNODE_SEQ) {
        ERR(c, v, "disks", "expected a list of {volume: NAME, mode: rw|ro}, got %s",
            describe_value(v, b, sizeof b));
        return;
    }
    if (v->kid_count > MANIFEST_DISKS_MAX) {
        ERR(c, v, "disks", "%u disks: at most %u", v->kid_count, MANIFEST_DISKS_MAX);
        return;
    }
    for (uint32_t i = 0; i < v->kid_count; i++)
        disk_entry(c, v->kids[i], i);
}

/* "hh:hh.h" (bus:device.function, hex) or "hhhh:hhhh" (vendor:device). */
static bool parse_hex(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        unsigned d = ch >= '0' && ch <= '9'   ? (unsigned)(ch - '0')
                     : ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10)
                     : ch >= 'A' && ch <= 'F' ? (unsigned)(ch - 'A' + 10)
                                              : 16u;
        if (d == 16)
            return false;
        v = v * 16 + d;
    }
    *out = v;
    return true;
}

static void pci_rights(struct fctx *c, const char *path, const struct mnode *v, uint8_t *out)
{
    static const char *const names[] = {"config", "mmio", "irq", "dma"};
    char b[64];
    if (v->kind != MNODE_SEQ || v->kid_count == 0) {
        ERR(c, v, path, "expected a non-empty list of config, mmio, irq, dma; got %s",
            describe_value(v, b, sizeof b));
        return;
    }
    uint8_t r = 0;
    for (uint32_t i = 0; i < v->kid_count; i++) {
        const struct mnode *k = v->kids[i];
        unsigned bit = 4;
        for (unsigned j = 0; j < 4 && k->kind == MNODE_SCALAR; j++)
            if (!strcmp(k->value, names[j]))
                bit = j;
        if (bit == 4) {
            ERR(c, k, path, "unknown right %s (config, mmio, irq or dma)",
                describe_value(k, b, sizeof b));
            return;
        }
        if (r & (1u << bit)) {
            ERR(c, k, path, "%s is listed twice", names[bit]);
            return;
        }
        r = (uint8_t)(r | (1u << bit));
    }
    *out = r;
}

/* pci: a list of functions the domain is given (docs/manifests.md). */
static void f_pci(struct fctx *c, const struct mnode *v)
{
    char b[64], path[48];
    if (v->kind != MNODE_SEQ) {
        ERR(c, v, "pci", "expected a list, got %s", describe_value(v, b, sizeof b));
        return;
    }
    if (v->kid_count > MANIFEST_PCI_MAX) {
        ERR(c, v, "pci", "%u functions is more than %u", v->kid_count, MANIFEST_PCI_MAX);
        return;
    }
    for (uint32_t i = 0; i < v->kid_count; i++) {
        const struct mnode *e = v->kids[i];
        snprintf(path, sizeof path, "pci[%u]", i);
        if (e->kind != MNODE_MAP) {
            ERR(c, e, path, "expected a mapping, got %s", describe_value(e, b, sizeof b));
            continue;
        }
        struct manifest_pci p = {.rights = MANIFEST_PCI_ALL};
        const struct mnode *addr = NULL, *id = NULL, *index = NULL;
        bool ok = true;
        for (uint32_t k = 0; k + 1 < e->kid_count; k += 2) {
            const struct mnode *key = e->kids[k], *val = e->kids[k + 1];
            char kpath[64];
            snprintf(kpath, sizeof kpath, "%s.%s", path, key->value);
            if (!strcmp(key->value, "address")) {
                addr = val;
            } else if (!strcmp(key->value, "id")) {
                id = val;
            } else if (!strcmp(key->value, "index")) {
                index = val;
            } else if (!strcmp(key->value, "rights")) {
                uint32_t before = c->errors;
                pci_rights(c, kpath, val, &p.rights);
                ok = ok && c->errors == before;
            } else {
                ERR(c, key, kpath, "unknown key (known keys: address, id, index, rights)");
                ok = false;
            }
        }
        if (!addr == !id) {
            ERR(c, e, path, "give exactly one of address (\"00:03.0\") or id (\"1af4:1042\")");
            continue;
        }
        if (addr && index) {
            ERR(c, index, path, "index goes with id, not with address");
            continue;
        }
        char s[16], fpath[64];
        unsigned x, y, z;
        snprintf(fpath, sizeof fpath, "%s.%s", path, addr ? "address" : "id");
        if (addr) {
            if (!get_string(c, fpath, addr, 7, 7, s, sizeof s))
                continue;
            if (s[2] != ':' || s[5] != '.' || !parse_hex(s, 2, &x) || !parse_hex(s + 3, 2, &y) ||
                !parse_hex(s + 6, 1, &z) || y > 31 || z > 7) {
                ERR(c, addr, fpath,
                    "expected bus:device.function like \"00:03.0\" (hex; device "
                    "up to 1f, function up to 7), got \"%s\"",
                    s);
                continue;
            }
            p.by_address = true;
            p.bdf = (uint16_t)(x << 8 | y << 3 | z);
        } else {
            if (!get_string(c, fpath, id, 9, 9, s, sizeof s))
                continue;
            if (s[4] != ':' || !parse_hex(s, 4, &x) || !parse_hex(s + 5, 4, &y)) {
                ERR(c, id, fpath, "expected vendor:device like \"1af4:1042\" (hex), got \"%s\"", s);
                continue;
            }
            p.vendor = (uint16_t)x;
            p.device = (uint16_t)y;
            uint64_t n = 0;
            char ipath[48];
            snprintf(ipath, sizeof ipath, "pci[%u].index", i);
            if (index && !get_uint(c, ipath, index, 0, 255, &n))
                continue;
            p.index = (uint8_t)n;
        }
        for (uint32_t j = 0; j < c->m->pci_count && ok; j++) {
            const struct manifest_pci *q = &c->m->pci[j];
            if (q->by_address == p.by_address && q->bdf == p.bdf && q->vendor == p.vendor &&
                q->device == p.device && q->index == p.index) {
                ERR(c, e, path, "the same function as pci[%u]", j);
                ok = false;
            }
        }
        if (ok)
            c->m->pci[c->m->pci_count++] = p;
    }
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
    {"restart", false, f_restart},
    {"net", false, f_net},
    {"disks", false, f_disks},
    {"pci", false, f_pci},
    {"config", false, f_config},
    {"offers", false, f_offers},
    {"uses", false, f_uses},
    {"channels", false, f_channels},
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
    m->restart = (struct manifest_restart){.backoff_ns = MANIFEST_RESTART_BACKOFF_NS,
                                           .backoff_max_ns = MANIFEST_RESTART_BACKOFF_MAX_NS,
                                           .limit = MANIFEST_RESTART_LIMIT,
                                           .stable_ns = MANIFEST_RESTART_STABLE_NS};
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
                "on_poweroff, on_reboot, on_crash, restart, net, disks, pci, config, offers, "
                "uses, channels)");
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
    for (uint32_t i = 0; i < m->channels_count; i++)
        if (!strcmp(m->channels[i].peer, m->name)) {
            char path[32];
            snprintf(path, sizeof path, "channels[%u].peer", i);
            ERR(&c, root, path, "\"%s\" is the domain itself", m->name);
        }
    return c.errors == 0;
}
