/*
 * Internal to libhvctl: the small YAML tree the manifest parser builds from
 * libyaml events (manifest.c) and interprets field by field
 * (manifest_fields.c). Positions are 1-based.
 */
#ifndef HVCTL_MANIFEST_TREE_H
#define HVCTL_MANIFEST_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hvctl/manifest.h"

enum mnode_kind { MNODE_SCALAR, MNODE_MAP, MNODE_SEQ };

/* A node. For a map, kids holds key, value, key, value... */
struct mnode {
    enum mnode_kind kind;
    uint32_t line, column;
    bool plain;  /* scalar written without quotes or block style */
    char *value; /* scalar text, NUL-terminated (may contain NULs: see len) */
    size_t len;
    struct mnode **kids;
    uint32_t kid_count;
};

#define MNODE_MAX_DEPTH 8u
#define MNODE_MAX_NODES 4096u

/* Interprets a parsed document into m; reports into d. file labels diags. */
bool manifest_fields_apply(const char *file, const struct mnode *root, struct manifest *m,
                           struct manifest_diags *d);

/* The bus fields (manifest_bus.c): each reports its own errors, returning
 * how many it found. */
/* The net field (manifest_net.c). */
uint32_t manifest_net(const char *file, const struct mnode *v, struct manifest *m,
                      struct manifest_diags *d);
/* The restart field (manifest_restart.c). */
uint32_t manifest_restart(const char *file, const struct mnode *v, struct manifest *m,
                          struct manifest_diags *d);
uint32_t manifest_bus_config(const char *file, const struct mnode *v, struct manifest *m,
                             struct manifest_diags *d);
uint32_t manifest_bus_services(const char *file, const char *key, const struct mnode *v,
                               struct manifest *m, struct manifest_diags *d);
uint32_t manifest_bus_channels(const char *file, const struct mnode *v, struct manifest *m,
                               struct manifest_diags *d);

/* What a node is, for messages: "a mapping", "a list", "null", "a string"... */
const char *mnode_describe(const struct mnode *n);

#endif
