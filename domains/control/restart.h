/*
 * The restart policy (docs/restart.md): when a supervised domain stops and
 * is to be rebuilt, how long to wait first, and when to give up. Plain C,
 * host-tested (control_host_test); registry.c acts on its answers.
 *
 * A restart within stable_ns of the incarnation's start is a quick one. A
 * series of restarts in a row counts from the first restart after an
 * incarnation that ran at least stable_ns (or the first ever): the first is
 * at once, the second after backoff_ns, each next one after twice the
 * delay before it, at most backoff_max_ns; the restart that would be number
 * limit + 1 of a series is not made: the domain is left stopped.
 */
#ifndef CONTROL_RESTART_H
#define CONTROL_RESTART_H

#include <stdbool.h>
#include <stdint.h>

#include <hv/proto_msgs.h>

#define RESTART_DEFAULT_BACKOFF_NS (250ull * 1000 * 1000)
#define RESTART_DEFAULT_BACKOFF_MAX_NS (8ull * 1000 * 1000 * 1000)
#define RESTART_DEFAULT_LIMIT 5u
#define RESTART_DEFAULT_STABLE_NS (5ull * 1000 * 1000 * 1000)
/* A heartbeat below this is refused (the control domain's loop polls every
 * 20 ms and a busy TCG machine stalls for hundreds of ms). */
#define RESTART_HEARTBEAT_MIN_NS (100ull * 1000 * 1000)

struct restart_policy {
    uint64_t heartbeat_ns; /* 0: not watched */
    uint64_t backoff_ns, backoff_max_ns, stable_ns;
    uint32_t limit;
};

/* The policy of cfg: its restart-spec, or the defaults (no heartbeat). */
void restart_policy_of(const struct proto_domain_config *cfg, struct restart_policy *p);

/* Whether cfg's restart-spec is acceptable: NULL, or why not. */
const char *restart_policy_check(const struct proto_domain_config *cfg);

/* A restart is due at now for an incarnation built at built_ns; *in_row is
 * the count of the series so far (0 before any). true with *delay_ns (and
 * *in_row counting this one), or false: the limit is reached (*in_row
 * unchanged). */
bool restart_next(const struct restart_policy *p, uint64_t built_ns, uint64_t now_ns,
                  uint32_t *in_row, uint64_t *delay_ns);

#endif
