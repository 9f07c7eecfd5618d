/*
 * The domains registry: every domain the control domain built, with its
 * desired configuration (kept to rebuild it), its capabilities, the state
 * last read from the hypervisor, its stop policies and its console.
 *
 * Domain states come from HV_DOMCTL_INFO, read whenever HV_VIRQ_DOM_STATE
 * arrives (the control domain holds each domain's capability with
 * HV_CAP_R_DOM_STATE) and on the periodic poll. A domain that stopped
 * (SHUTDOWN with a reason) gets its policy applied once: destroy, restart
 * (rebuilt from the kept image and configuration) or preserve.
 *
 * Restarts (docs/restart.md): a restart destroys the instance at once (its
 * devices are taken back, reset and kept for it; its DMA is detached by the
 * hypervisor), then builds a new one from the kept configuration, at once
 * or after the back-off delay of restart.c (state restarting meanwhile).
 * Causes: a crash, a stop whose policy is restart, a missed heartbeat (a
 * bus-ping the domain did not answer within restart.heartbeat), hvctl
 * restart and hvctl kill. After restart.limit quick restarts in a row it is
 * left stopped (no instance, state crashed or shutdown), loudly: a console
 * line and a failed domain-stopped log entry; hvctl restart brings it back.
 */
#ifndef CONTROL_REGISTRY_H
#define CONTROL_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include <hv/proto_msgs.h>

#include "gk/builder.h"
#include "images.h"

#define DOM_MAX 32u
#define DOM_NAME_MAX 64u
#define DOM_KERNEL_MAX 255u
#define DOM_CMDLINE_MAX 1024u
#define DOM_SLOT_BASE 32u /* dom i: domain cap in 32 + 2i, console cap in 33 + 2i */
#define CON_HISTORY_BYTES 32768u
#define CONTROL_NAME "control"
#define DOM_VCPUS_MAX 64u
/* Room for the strings of a configuration's config, offers, uses and
 * channels (at most 32 x (64 + 512) + 32 x 32 + 16 x (32 + 64) bytes). */
#define DOM_STORE_BYTES (24u * 1024u)

/* Why a request failed: the protocol's error code and, when the hypervisor
 * refused, its status (enum hv_status, sent to the client as the
 * error-reply's hv-status; 0 when the hypervisor was not the one). */
struct ctl_error {
    enum proto_error_code code;
    int64_t hv_status;
};

struct dom {
    bool used;
    uint32_t index;
    char name[DOM_NAME_MAX + 1];
    char kernel[DOM_KERNEL_MAX + 1];
    char cmdline[DOM_CMDLINE_MAX + 1];
    struct proto_domain_config cfg; /* strings point into the arrays above and store */
    char store[DOM_STORE_BYTES];    /* config values, service and channel names */
    uint32_t gen;                   /* incarnation: bumped by every build */
    struct image *image;
    struct gk_built_domain built; /* valid while has_domain */
    bool has_domain;              /* a hypervisor domain exists for it */
    bool never_started;           /* built paused, VCPU 0 not started yet */
    enum proto_domain_state state;
    bool stop_handled;
    bool shutting_down;
    bool shutdown_asked; /* HV_DOMCTL_SHUTDOWN_REQUEST accepted for this stop */
    enum proto_shutdown_kind shutdown_kind;
    bool suspended;                /* paused by hvctl suspend: unpause sends bus-resume-event */
    uint64_t shutdown_deadline_ns; /* 0: none */
    uint64_t restarts;             /* times the control domain rebuilt it */
    bool has_last_cause;           /* last_cause is valid */
    enum proto_restart_cause last_cause; /* why it was rebuilt last */
    uint64_t built_ns;                   /* when this incarnation was built */
    uint32_t quick;                      /* quick restarts in a row (restart.c) */
    uint64_t restart_at_ns;              /* state restarting: rebuild at this time */
    enum proto_restart_cause pending_cause;
    bool left_stopped;      /* the restart limit stopped it: nothing restarts it but hvctl */
    bool hung;              /* its heartbeat was missed: restarted by the next registry_poll */
    uint64_t hb_sent_ns;    /* a heartbeat (bus-ping) is out since then (0: none) */
    uint64_t hb_next_ns;    /* the next one is due then */
    char restart_note[320]; /* the log detail of the restart being made */
    uint64_t memory_bytes, max_memory_seen, cpu_time_ns;
    uint64_t events_sent, events_delivered; /* HV_DOMCTL_INFO, this incarnation */
    uint64_t dma_faults;                    /* HV_DOMCTL_INFO, this incarnation */
    uint64_t pin_mask[DOM_VCPUS_MAX];       /* vcpu-pin masks (0: all CPUs), kept across restarts */
    /* console (consoles.c) */
    uint8_t history[CON_HISTORY_BYTES];
    uint64_t history_total; /* bytes ever written to history */
    bool attached;
    uint64_t stream, attach_request_id;
};

/* Sets the registry up; binds HV_VIRQ_DOM_STATE. */
void registry_init(void (*on_state_event)(void));

/* A used entry by name, or NULL. */
struct dom *registry_find(struct hvcbor_str name);
/* Entry i (0 .. DOM_MAX-1) if used, else NULL. */
struct dom *registry_at(uint32_t i);

/* Builds and (unless paused) starts a domain from a validated config.
 * NULL with *out on success, else a reason (detail filled) and *err. */
const char *registry_create(const struct proto_domain_config *cfg, bool paused, struct dom **out,
                            char *detail, uint32_t detail_cap, struct ctl_error *err);
/* Destroys the domain and forgets the entry. */
const char *registry_destroy(struct dom *d, struct ctl_error *err);
const char *registry_pause(struct dom *d, struct ctl_error *err);
const char *registry_unpause(struct dom *d, struct ctl_error *err);
/* Asks the guest to stop (HV_DOMCTL_SHUTDOWN_REQUEST with poweroff or
 * reboot, unless it is paused) and marks it shutting down; with a timeout
 * it is stopped by force (and its policy for that kind applied) if it has
 * not stopped by then. *note says which (for the log). */
const char *registry_shutdown(struct dom *d, enum proto_shutdown_kind kind, bool has_timeout,
                              uint64_t timeout_ns, const char **note, struct ctl_error *err);

/* Scheduling (HV_DOMCTL_SCHED_SET): the members q has, the others kept.
 * Gang changes only while no VCPU of it is runnable (paused, or created
 * paused and not started yet): wrong-state otherwise. d->cfg follows. */
const char *registry_sched_set(struct dom *d, const struct proto_sched_set_request *q,
                               struct ctl_error *err);
/* Pins VCPU vcpu of d to the CPUs of mask (0: all); kept across restarts. */
const char *registry_vcpu_pin(struct dom *d, uint64_t vcpu, uint64_t mask, struct ctl_error *err);
/* The hypervisor's weight, cap and gang of d into cfg (d NULL: the control
 * domain itself); false (cfg unchanged) if it cannot say. */
bool registry_sched_get(const struct dom *d, struct proto_domain_config *cfg);
/* Per-VCPU figures (HV_DOMCTL_VCPU_INFO) of d (NULL: the control domain);
 * returns how many VCPUs are online (state not offline). */
uint32_t registry_vcpu_stats(const struct dom *d, struct proto_domain_info_reply *r);
/* The host's CPUs and memory (HV_DOMCTL_HOST_INFO). NULL or a reason. */
const char *registry_host_info(struct proto_host_info_reply *r);

/* Reads every domain's state, applies stop policies and shutdown
 * deadlines, sends heartbeats, rebuilds domains whose back-off is over.
 * Cheap enough for every loop iteration. */
void registry_poll(void);

/* hvctl restart (crash false: rebuilt at once, the restart limit's count
 * cleared) and hvctl kill (crash true: handled as a crash: on-crash policy,
 * back-off, limit). NULL, or why not (*err). */
const char *registry_restart(struct dom *d, bool crash, struct ctl_error *err);

/* The bus-pong to d's heartbeat came (bus.c); or it did not in time. */
void registry_heartbeat(struct dom *d, bool answered);

/* Fills a summary of d (strings point into d). */
void registry_summary(const struct dom *d, struct proto_domain_summary *out);
/* The control domain's own summary (domain 0, "control"). */
void registry_self_summary(struct proto_domain_summary *out);

#endif
