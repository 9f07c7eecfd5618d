/*
 * Manifest loading: libyaml events -> a small tree (manifest_tree.h), then
 * manifest_fields.c interprets it. Also directory loading and the
 * cross-manifest check (duplicate domain names).
 */
#include "hvctl/manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "manifest_tree.h"

void manifest_diag_add(struct manifest_diags *d, const char *file, uint32_t line, uint32_t column,
                       const char *path, const char *fmt, ...)
{
    if (d->count >= MANIFEST_DIAGS_MAX) {
        d->dropped++;
        return;
    }
    struct manifest_diag *g = &d->items[d->count++];
    g->line = line;
    g->column = column;
    snprintf(g->path, sizeof g->path, "%s", path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->message, sizeof g->message, fmt, ap);
    va_end(ap);
    char text[sizeof g->text];
    snprintf(text, sizeof text, "%s:%u:%u: %s: %s", file, line, column, g->path, g->message);
    memcpy(g->text, text, sizeof text);
}

const char *mnode_describe(const struct mnode *n)
{
    if (n->kind == MNODE_MAP)
        return "a mapping";
    if (n->kind == MNODE_SEQ)
        return "a list";
    if (n->plain && (n->len == 0 || !strcmp(n->value, "~") || !strcmp(n->value, "null") ||
                     !strcmp(n->value, "Null") || !strcmp(n->value, "NULL")))
        return "null";
    return "a string";
}

/* The tree builder's state. */
struct builder {
    yaml_parser_t parser;
    const char *file;
    struct manifest_diags *d;
    uint32_t nodes;
    bool failed;
    struct mnode **all; /* every node, for freeing */
    uint32_t all_cap;
};

static void node_free_all(struct builder *b)
{
    for (uint32_t i = 0; i < b->nodes; i++) {
        free(b->all[i]->value);
        free(b->all[i]->kids);
        free(b->all[i]);
    }
    free(b->all);
}

static void parser_error(struct builder *b)
{
    const yaml_parser_t *p = &b->parser;
    const char *what = p->problem ? p->problem : "malformed YAML";
    uint32_t line = (uint32_t)p->problem_mark.line + 1, col = (uint32_t)p->problem_mark.column + 1;
    if (p->context)
        manifest_diag_add(b->d, b->file, line, col, "(yaml)", "%s %s (line %u)", what, p->context,
                          (unsigned)p->context_mark.line + 1);
    else
        manifest_diag_add(b->d, b->file, line, col, "(yaml)", "%s", what);
    b->failed = true;
}

static bool next_event(struct builder *b, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&b->parser, ev)) {
        parser_error(b);
        return false;
    }
    return true;
}

static struct mnode *node_new(struct builder *b, enum mnode_kind kind, const yaml_mark_t *mark)
{
    if (b->nodes >= MNODE_MAX_NODES) {
        manifest_diag_add(b->d, b->file, (uint32_t)mark->line + 1, (uint32_t)mark->column + 1,
                          "(yaml)", "more than %u YAML nodes: not a manifest", MNODE_MAX_NODES);
        b->failed = true;
        return NULL;
    }
    if (b->nodes == b->all_cap) {
        uint32_t cap = b->all_cap ? b->all_cap * 2 : 64;
        struct mnode **all = realloc(b->all, cap * sizeof *all);
        if (!all)
            abort();
        b->all = all;
        b->all_cap = cap;
    }
    struct mnode *n = calloc(1, sizeof *n);
    if (!n)
        abort();
    n->kind = kind;
    n->line = (uint32_t)mark->line + 1;
    n->column = (uint32_t)mark->column + 1;
    b->all[b->nodes++] = n;
    return n;
}

static void kid_add(struct mnode *parent, struct mnode *kid)
{
    struct mnode **k = realloc(parent->kids, (parent->kid_count + 1) * sizeof *k);
    if (!k)
        abort();
    parent->kids = k;
    parent->kids[parent->kid_count++] = kid;
}

/* Refuses YAML features a manifest has no use for; they only hide mistakes. */
static bool check_plain_event(struct builder *b, const yaml_event_t *ev, const yaml_char_t *anchor,
                              const yaml_char_t *tag, bool implicit_tag)
{
    uint32_t line = (uint32_t)ev->start_mark.line + 1, col = (uint32_t)ev->start_mark.column + 1;
    if (anchor) {
        manifest_diag_add(b->d, b->file, line, col, "(yaml)",
                          "anchors (&%s) are not allowed in manifests", (const char *)anchor);
        b->failed = true;
        return false;
    }
    if (tag && !implicit_tag) {
        manifest_diag_add(b->d, b->file, line, col, "(yaml)",
                          "tags (%s) are not allowed in manifests", (const char *)tag);
        b->failed = true;
        return false;
    }
    return true;
}

/* Builds the node that starts with ev (already parsed). NULL on error. */
static struct mnode *build(struct builder *b, yaml_event_t *ev, uint32_t depth)
{
    if (depth > MNODE_MAX_DEPTH) {
        manifest_diag_add(b->d, b->file, (uint32_t)ev->start_mark.line + 1,
                          (uint32_t)ev->start_mark.column + 1, "(yaml)",
                          "nested deeper than %u levels", MNODE_MAX_DEPTH);
        b->failed = true;
        return NULL;
    }
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        manifest_diag_add(b->d, b->file, (uint32_t)ev->start_mark.line + 1,
                          (uint32_t)ev->start_mark.column + 1, "(yaml)",
                          "aliases (*%s) are not allowed in manifests",
                          (const char *)ev->data.alias.anchor);
        b->failed = true;
        return NULL;
    case YAML_SCALAR_EVENT: {
        if (!check_plain_event(b, ev, ev->data.scalar.anchor, ev->data.scalar.tag,
                               ev->data.scalar.plain_implicit || ev->data.scalar.quoted_implicit))
            return NULL;
        struct mnode *n = node_new(b, MNODE_SCALAR, &ev->start_mark);
        if (!n)
            return NULL;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->len = ev->data.scalar.length;
        n->value = malloc(n->len + 1);
        if (!n->value)
            abort();
        memcpy(n->value, ev->data.scalar.value, n->len);
        n->value[n->len] = '\0';
        return n;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool map = ev->type == YAML_MAPPING_START_EVENT;
        const yaml_char_t *anchor =
            map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
        const yaml_char_t *tag = map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
        int implicit = map ? ev->data.mapping_start.implicit : ev->data.sequence_start.implicit;
        if (!check_plain_event(b, ev, anchor, tag, implicit))
            return NULL;
        struct mnode *n = node_new(b, map ? MNODE_MAP : MNODE_SEQ, &ev->start_mark);
        if (!n)
            return NULL;
        for (;;) {
            yaml_event_t kid_ev;
            if (!next_event(b, &kid_ev))
                return NULL;
            if (kid_ev.type == YAML_MAPPING_END_EVENT || kid_ev.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&kid_ev);
                return n;
            }
            struct mnode *kid = build(b, &kid_ev, depth + 1);
            yaml_event_delete(&kid_ev);
            if (!kid)
                return NULL;
            if (map && n->kid_count % 2 == 0 && kid->kind != MNODE_SCALAR) {
                manifest_diag_add(b->d, b->file, kid->line, kid->column, "(yaml)",
                                  "a mapping key must be a plain name, not %s",
                                  mnode_describe(kid));
                b->failed = true;
                return NULL;
            }
            kid_add(n, kid);
        }
    }
    default:
        manifest_diag_add(b->d, b->file, (uint32_t)ev->start_mark.line + 1,
                          (uint32_t)ev->start_mark.column + 1, "(yaml)", "unexpected YAML event %d",
                          (int)ev->type);
        b->failed = true;
        return NULL;
    }
}

/* Parses the single document of text into a tree; NULL root with diags on error,
 * NULL root without diags never happens. */
static struct mnode *parse_document(struct builder *b, const char *text, size_t len)
{
    if (!yaml_parser_initialize(&b->parser))
        abort();
    yaml_parser_set_input_string(&b->parser, (const unsigned char *)text, len);
    struct mnode *root = NULL;
    yaml_event_t ev;
    int docs = 0;
    while (!b->failed) {
        if (!next_event(b, &ev))
            break;
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_DOCUMENT_START_EVENT) {
            if (++docs > 1) {
                manifest_diag_add(b->d, b->file, (uint32_t)ev.start_mark.line + 1,
                                  (uint32_t)ev.start_mark.column + 1, "(document)",
                                  "a manifest file holds exactly one YAML document (one domain)");
                b->failed = true;
            }
        } else if (t != YAML_STREAM_START_EVENT && t != YAML_DOCUMENT_END_EVENT) {
            root = build(b, &ev, 0);
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&b->parser);
    if (b->failed)
        return NULL;
    if (!root) {
        manifest_diag_add(b->d, b->file, 1, 1, "(document)",
                          "empty manifest: expected a mapping with name and kernel");
        return NULL;
    }
    return root;
}

static int diag_cmp(const void *a, const void *b)
{
    const struct manifest_diag *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->column < y->column ? -1 : x->column > y->column;
}

bool manifest_parse(const char *file, const char *text, size_t len, struct manifest *out,
                    struct manifest_diags *diags)
{
    uint32_t before = diags->count + diags->dropped, first = diags->count;
    struct builder b = {.file = file, .d = diags};
    if (memchr(text, '\0', len)) {
        const char *z = memchr(text, '\0', len);
        uint32_t line = 1, col = 1;
        for (const char *p = text; p < z; p++) {
            if (*p == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        manifest_diag_add(diags, file, line, col, "(yaml)",
                          "NUL byte in the file: not a text manifest");
        return false;
    }
    struct mnode *root = parse_document(&b, text, len);
    bool ok = false;
    if (root) {
        memset(out, 0, sizeof *out);
        snprintf(out->file, sizeof out->file, "%s", file);
        ok = manifest_fields_apply(file, root, out, diags);
    }
    node_free_all(&b);
    /* Report in file order (cross-field checks run last). */
    qsort(diags->items + first, diags->count - first, sizeof diags->items[0], diag_cmp);
    return ok && diags->count + diags->dropped == before;
}

bool manifest_load_file(const char *path, struct manifest *out, struct manifest_diags *diags)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        manifest_diag_add(diags, path, 0, 0, "(file)", "cannot open: %s", strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        manifest_diag_add(diags, path, 0, 0, "(file)", "not a regular file");
        return false;
    }
    if (st.st_size > (off_t)MANIFEST_FILE_MAX_BYTES) {
        close(fd);
        manifest_diag_add(diags, path, 0, 0, "(file)",
                          "%lld bytes: larger than the %u-byte limit for a manifest",
                          (long long)st.st_size, MANIFEST_FILE_MAX_BYTES);
        return false;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf)
        abort();
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    bool ok = manifest_parse(path, buf, got, out, diags);
    free(buf);
    return ok;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_manifest_name(const char *n)
{
    size_t l = strlen(n);
    if (n[0] == '.')
        return false;
    return (l > 5 && !strcmp(n + l - 5, ".yaml")) || (l > 4 && !strcmp(n + l - 4, ".yml"));
}

bool manifest_load_path(const char *path, struct manifest_set *set, struct manifest_diags *diags)
{
    memset(set, 0, sizeof *set);
    struct stat st;
    if (stat(path, &st) != 0) {
        manifest_diag_add(diags, path, 0, 0, "(file)", "cannot open: %s", strerror(errno));
        return false;
    }
    char **names = NULL;
    uint32_t name_count = 0;
    if (S_ISDIR(st.st_mode)) {
        DIR *dir = opendir(path);
        if (!dir) {
            manifest_diag_add(diags, path, 0, 0, "(file)", "cannot read directory: %s",
                              strerror(errno));
            return false;
        }
        struct dirent *de;
        while ((de = readdir(dir))) {
            if (!is_manifest_name(de->d_name))
                continue;
            char **nn = realloc(names, (name_count + 1) * sizeof *nn);
            if (!nn)
                abort();
            names = nn;
            size_t need = strlen(path) + strlen(de->d_name) + 2;
            names[name_count] = malloc(need);
            if (!names[name_count])
                abort();
            snprintf(names[name_count], need, "%s/%s", path, de->d_name);
            name_count++;
        }
        closedir(dir);
        if (name_count == 0) {
            manifest_diag_add(diags, path, 0, 0, "(file)",
                              "no *.yaml or *.yml manifests in this directory");
            return false;
        }
        qsort(names, name_count, sizeof *names, name_cmp);
    } else {
        names = malloc(sizeof *names);
        if (!names || !(names[0] = strdup(path)))
            abort();
        name_count = 1;
    }
    set->items = calloc(name_count, sizeof *set->items);
    if (!set->items)
        abort();
    bool ok = true;
    for (uint32_t i = 0; i < name_count; i++) {
        struct manifest *m = &set->items[set->count];
        if (!manifest_load_file(names[i], m, diags)) {
            ok = false;
            continue;
        }
        for (uint32_t j = 0; j < set->count; j++) {
            const struct manifest *o = &set->items[j];
            if (!strcmp(o->name, m->name)) {
                manifest_diag_add(diags, m->file, m->name_line, m->name_column, "name",
                                  "domain name \"%s\" is already used by %s:%u:%u", m->name,
                                  o->file, o->name_line, o->name_column);
                ok = false;
            }
        }
        set->count++;
    }
    for (uint32_t i = 0; i < name_count; i++)
        free(names[i]);
    free(names);
    if (!ok)
        manifest_set_free(set);
    return ok;
}

void manifest_set_free(struct manifest_set *set)
{
    free(set->items);
    set->items = NULL;
    set->count = 0;
}
