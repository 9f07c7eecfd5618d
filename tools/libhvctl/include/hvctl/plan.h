/*
 * Declarative reconciliation for `hvctl diff` and `hvctl apply`: compares the
 * manifests (what is wanted) with the domains the control domain reports
 * (what is), and lists what to do. Pure: no I/O except plan_print, so it is
 * tested without a server.
 *
 * Live changes are the scheduler parameters (weight, cap, gang: one
 * sched-set-request). Everything else (kernel, cmdline, memory, max_memory,
 * vcpus, stop policies, the bus fields: config, offers, uses, channels) needs
 * the domain to be recreated: the plan reports it
 * and apply does not do it (no silent restarts).
 */
#ifndef HVCTL_PLAN_H
#define HVCTL_PLAN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hvctl/manifest.h"

/* A domain as the control domain describes it (strings copied). */
struct plan_domain {
    uint64_t id;
    char name[MANIFEST_NAME_MAX + 1];
    char kernel[MANIFEST_IMAGE_NAME_MAX + 1];
    char cmdline[MANIFEST_CMDLINE_MAX + 1];
    uint64_t memory_bytes, max_memory_bytes;
    uint32_t vcpus, weight, cap_percent;
    bool gang;
    enum proto_stop_policy on_poweroff, on_reboot, on_crash;
    uint32_t pci_count; /* the PCI functions it was given, as configured */
    struct proto_pci_assign pci[MANIFEST_PCI_MAX];
    uint64_t bus_digest; /* manifest_bus_digest of its config */
};

/* Fills d from a domain-info-reply's summary id and config. */
void plan_domain_from_config(struct plan_domain *d, uint64_t id,
                             const struct proto_domain_config *c);

enum plan_kind {
    PLAN_UNCHANGED = 0,
    PLAN_CREATE = 1,  /* in a manifest, not running */
    PLAN_CHANGE = 2,  /* only live-changeable fields differ */
    PLAN_RESTART = 3, /* fields that need a recreate differ (maybe live ones too) */
    PLAN_DESTROY = 4, /* running, in no manifest, and --prune */
};

#define PLAN_MAX_CHANGES 12u

struct plan_change {
    const char *field; /* manifest key */
    bool live;
    char from[80], to[80];
};

struct plan_item {
    enum plan_kind kind;
    char name[MANIFEST_NAME_MAX + 1];
    const struct manifest *want;    /* NULL for DESTROY */
    const struct plan_domain *have; /* NULL for CREATE */
    uint32_t change_count;
    struct plan_change changes[PLAN_MAX_CHANGES];
};

struct plan {
    uint32_t count;
    struct plan_item *items; /* heap: plan_free */
};

/* Domain id 0 (the control domain) is never pruned. */
#define PLAN_PROTECTED_DOMAIN_ID 0u

/* Computes the plan: manifests in set order, then prunes in have order. */
void plan_compute(const struct manifest_set *want, const struct plan_domain *have,
                  uint32_t have_count, bool prune, struct plan *out);
void plan_free(struct plan *p);
/* True if applying p would change anything (RESTART items count). */
bool plan_has_differences(const struct plan *p);
/* Human-readable plan, one line per domain plus one per changed field. */
void plan_print(FILE *out, const struct plan *p);

#endif
