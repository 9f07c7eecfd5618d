/*
 * Manifests: YAML files describing one domain each (docs/manifests.md).
 *
 * Parsing is strict and total: every mistake is reported as
 *   FILE:LINE:COLUMN: FIELD.PATH: MESSAGE
 * (line and column 1-based, pointing at the offending key or value), the
 * parse continues past field errors so one run shows them all, and a manifest
 * with any error is never handed out. The YAML is read with libyaml's event
 * parser; anchors, aliases, tags and multi-document files are refused.
 *
 * Host-only. Not thread-safe only in the sense that each call owns its outputs.
 */
#ifndef HVCTL_MANIFEST_H
#define HVCTL_MANIFEST_H

#include <hv/proto_msgs.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hvctl/rundir.h"

#define MANIFEST_NAME_MAX 64u
#define MANIFEST_CMDLINE_MAX 1024u
#define MANIFEST_IMAGE_NAME_MAX 255u       /* catalog bound on domain-config.kernel */
#define MANIFEST_FILE_MAX_BYTES (1u << 20) /* larger files are refused unread */
#define MANIFEST_MEMORY_MIN_BYTES (1ull << 20)
#define MANIFEST_MEMORY_MAX_BYTES (1ull << 40)
#define MANIFEST_PAGE_BYTES 4096u
#define MANIFEST_VCPUS_MAX 64u
#define MANIFEST_DEFAULT_WEIGHT 256u
#define MANIFEST_DIAGS_MAX 64u
#define MANIFEST_PCI_MAX 8u /* catalog bound on domain-config.pci */

/* Rights of a PCI function given to a domain (catalog pci-assign.rights). */
#define MANIFEST_PCI_CONFIG 1u
#define MANIFEST_PCI_MMIO 2u
#define MANIFEST_PCI_IRQ 4u
#define MANIFEST_PCI_DMA 8u
#define MANIFEST_PCI_ALL 15u

/* One entry of `pci:`: a function by address, or by vendor:device and index. */
struct manifest_pci {
    bool by_address;
    uint16_t bdf;            /* by_address: bus << 8 | device << 3 | function */
    uint16_t vendor, device; /* else */
    uint8_t index;           /* else: the index-th such function in bus order */
    uint8_t rights;          /* MANIFEST_PCI_* */
};

/* The bus fields (docs/bus.md); the catalog's bounds. */
#define MANIFEST_CONFIG_MAX 32u
#define MANIFEST_CONFIG_KEY_MAX 64u
#define MANIFEST_CONFIG_VALUE_MAX 512u
#define MANIFEST_SERVICES_MAX 16u
#define MANIFEST_SERVICE_NAME_MAX 32u
#define MANIFEST_CHANNELS_MAX 16u
#define MANIFEST_NET_PORTS_MAX 16u /* net: {ports: [...]}: ports and ranges */
#define MANIFEST_NET_RULES_MAX 8u  /* net: {rules: [...]} */
#define MANIFEST_CHANNEL_SIZE_MIN (32ull << 10)
#define MANIFEST_CHANNEL_SIZE_MAX (2ull << 20)

/* One value of `config:`. */
struct manifest_config_entry {
    char key[MANIFEST_CONFIG_KEY_MAX + 1];
    char value[MANIFEST_CONFIG_VALUE_MAX + 1];
};

/* One port or range of `net: {ports: [...]}`. */
struct manifest_port_range {
    uint16_t lo, hi;
};

/* One entry of `disks:` (docs/blkback.md#disks-in-manifests). */
#define MANIFEST_DISKS_MAX 4u /* catalog bound on domain-config.disks */
#define MANIFEST_VOLUME_NAME_MAX 32u
#define MANIFEST_DISK_IOPS_MAX 10000000u
#define MANIFEST_DISK_BPS_MAX (1ull << 40)
struct manifest_disk {
    char volume[MANIFEST_VOLUME_NAME_MAX + 1];
    bool writable;       /* mode: rw (default) or ro */
    uint64_t size_bytes; /* size: the least the domain needs (0: any) */
    uint32_t iops_min, iops_max, weight;
    uint64_t bps_max;
    uint32_t line, column; /* of the entry, for messages */
};

/* One entry of `channels:`. */
struct manifest_channel {
    char name[MANIFEST_SERVICE_NAME_MAX + 1];
    char peer[MANIFEST_NAME_MAX + 1];
    uint64_t size_bytes;
};

/* One domain, as the manifest says (defaults filled in). */
/* restart: (manifest_restart.c; docs/restart.md). The defaults are the
 * control domain's (domains/control/restart.h). */
#define MANIFEST_RESTART_BACKOFF_NS (250ull * 1000 * 1000)
#define MANIFEST_RESTART_BACKOFF_MAX_NS (8ull * 1000 * 1000 * 1000)
#define MANIFEST_RESTART_LIMIT 5u
#define MANIFEST_RESTART_STABLE_NS (5ull * 1000 * 1000 * 1000)
struct manifest_restart {
    uint64_t heartbeat_ns; /* 0: not watched */
    uint64_t backoff_ns, backoff_max_ns, stable_ns;
    uint32_t limit;
};

struct manifest {
    char file[HVCTL_PATH_MAX];       /* where it came from, as given */
    uint32_t name_line, name_column; /* position of the name value */
    char name[MANIFEST_NAME_MAX + 1];
    char kernel[HVCTL_PATH_MAX];         /* host path as written */
    char kernel_path[HVCTL_PATH_MAX];    /* resolved against the manifest's directory */
    uint32_t kernel_line, kernel_column; /* position of the kernel value */
    char cmdline[MANIFEST_CMDLINE_MAX + 1];
    uint64_t memory_bytes;
    uint64_t max_memory_bytes;          /* defaults to memory_bytes */
    uint32_t vcpus;                     /* default 1 */
    uint32_t weight;                    /* default 256 */
    uint32_t cap_percent;               /* default 0 = no cap */
    bool gang;                          /* default false */
    enum proto_stop_policy on_poweroff; /* default destroy */
    enum proto_stop_policy on_reboot;   /* default restart */
    enum proto_stop_policy on_crash;    /* default destroy */
    bool has_restart;                   /* restart: was present */
    struct manifest_restart restart;    /* its values, the defaults filled in */
    bool has_net;                       /* net: was present (manifest_net.c) */
    uint32_t net_ports_count;           /* net: {ports: [...]}: the leased ports */
    struct manifest_port_range net_ports[MANIFEST_NET_PORTS_MAX];
    uint32_t net_rules_count; /* net: {rules: [...]}: firewall rules, in order */
    struct proto_net_rule net_rules[MANIFEST_NET_RULES_MAX];
    bool has_net_tx, has_net_rx; /* net: {tx: {...}, rx: {...}}: traffic classes */
    struct proto_net_class net_tx, net_rx;
    uint32_t disks_count; /* disks: volumes of blkback it may attach */
    struct manifest_disk disks[MANIFEST_DISKS_MAX];
    uint32_t pci_count; /* PCI functions it is given */
    struct manifest_pci pci[MANIFEST_PCI_MAX];
    /* The bus (manifest_bus.c): config values, services offered and used,
     * declared channels. */
    uint32_t config_count, offers_count, uses_count, channels_count;
    struct manifest_config_entry config[MANIFEST_CONFIG_MAX];
    char offers[MANIFEST_SERVICES_MAX][MANIFEST_SERVICE_NAME_MAX + 1];
    char uses[MANIFEST_SERVICES_MAX][MANIFEST_SERVICE_NAME_MAX + 1];
    struct manifest_channel channels[MANIFEST_CHANNELS_MAX];
};

/* One error, with its parts kept apart for tests and its full text. */
struct manifest_diag {
    uint32_t line, column;
    char path[96];
    char message[320];
    char text[HVCTL_PATH_MAX + 448]; /* "file:line:column: path: message" */
};

/* The errors of one run; excess errors are counted, not stored. */
struct manifest_diags {
    uint32_t count;
    uint32_t dropped;
    struct manifest_diag items[MANIFEST_DIAGS_MAX];
};

/* A set of manifests (a file or a directory). */
struct manifest_set {
    uint32_t count;
    struct manifest *items; /* heap; manifest_set_free */
};

/* Parses one manifest from memory. file is used in messages and to resolve
 * a relative kernel path. Returns false (with at least one diag) on error. */
bool manifest_parse(const char *file, const char *text, size_t len, struct manifest *out,
                    struct manifest_diags *diags);

/* Reads and parses one file. */
bool manifest_load_file(const char *path, struct manifest *out, struct manifest_diags *diags);

/* Loads a file, or every *.yaml / *.yml directly in a directory (sorted by
 * name), and refuses two manifests naming the same domain. On false, set is
 * empty and diags says why; an empty directory is an error too. */
bool manifest_load_path(const char *path, struct manifest_set *set, struct manifest_diags *diags);
void manifest_set_free(struct manifest_set *set);

/* Adds a formatted diag (used by the parser; exposed for hvctl's own checks). */
void manifest_diag_add(struct manifest_diags *d, const char *file, uint32_t line, uint32_t column,
                       const char *path, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Checks what only the host can check before use: the kernel file exists and
 * is readable. Separate from parsing so `validate` works on another machine. */
bool manifest_check_files(const struct manifest *m, struct manifest_diags *diags);

/* The catalog's domain-config for m. Strings point into m (keep it alive).
 * The kernel becomes the image name: the basename of the host path (the
 * control domain knows images by boot-module name; see docs/manifests.md). */
void manifest_to_config(const struct manifest *m, struct proto_domain_config *out);

/* Encodes a domain-create-request for m into buf; false if it does not fit
 * or the catalog's validation refuses it (err set). */
bool manifest_encode_create(const struct manifest *m, uint64_t request_id, const uint8_t *token,
                            uint32_t token_len, bool paused, uint8_t *buf, size_t cap,
                            size_t *len_out, struct hvcbor_error *err);

/* A digest of the bus fields of a domain-config (config, offers, uses,
 * channels), its lease (net) and its disks, for comparing a manifest with a running domain: equal
 * configurations give equal digests. */
uint64_t manifest_bus_digest(const struct proto_domain_config *c);

/* Formats a byte count with the largest exact binary unit ("512 MiB"). */
void manifest_format_size(char *out, size_t cap, uint64_t bytes);

#endif
