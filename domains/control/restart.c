/* The restart policy (see restart.h). */
#include "restart.h"

void restart_policy_of(const struct proto_domain_config *cfg, struct restart_policy *p)
{
    if (cfg->has_restart) {
        *p = (struct restart_policy){.heartbeat_ns = cfg->restart.heartbeat_ns,
                                     .backoff_ns = cfg->restart.backoff_ns,
                                     .backoff_max_ns = cfg->restart.backoff_max_ns,
                                     .stable_ns = cfg->restart.stable_ns,
                                     .limit = (uint32_t)cfg->restart.limit};
        return;
    }
    *p = (struct restart_policy){.heartbeat_ns = 0,
                                 .backoff_ns = RESTART_DEFAULT_BACKOFF_NS,
                                 .backoff_max_ns = RESTART_DEFAULT_BACKOFF_MAX_NS,
                                 .stable_ns = RESTART_DEFAULT_STABLE_NS,
                                 .limit = RESTART_DEFAULT_LIMIT};
}

const char *restart_policy_check(const struct proto_domain_config *cfg)
{
    if (!cfg->has_restart)
        return NULL;
    const struct proto_restart_spec *r = &cfg->restart;
    const uint64_t hour = 3600ull * 1000 * 1000 * 1000;
    if (r->heartbeat_ns != 0 &&
        (r->heartbeat_ns < RESTART_HEARTBEAT_MIN_NS || r->heartbeat_ns > hour))
        return "restart.heartbeat must be 0 (none) or 100 ms .. 1 h";
    if (r->backoff_ns > hour || r->backoff_max_ns > hour || r->stable_ns > hour)
        return "restart.backoff, backoff_max and stable must be at most 1 h";
    if (r->backoff_max_ns < r->backoff_ns)
        return "restart.backoff_max is below restart.backoff";
    if (r->limit < 1 || r->limit > 100)
        return "restart.limit must be 1 .. 100";
    return NULL;
}

bool restart_next(const struct restart_policy *p, uint64_t built_ns, uint64_t now_ns,
                  uint32_t *in_row, uint64_t *delay_ns)
{
    bool quick = now_ns >= built_ns && now_ns - built_ns < p->stable_ns;
    uint32_t n = quick ? *in_row : 0;
    if (n >= p->limit)
        return false;
    uint64_t delay = 0;
    if (n >= 1) {
        delay = p->backoff_ns;
        for (uint32_t i = 1; i < n && delay < p->backoff_max_ns; i++)
            delay *= 2;
        if (delay > p->backoff_max_ns)
            delay = p->backoff_max_ns;
    }
    *in_row = n + 1;
    *delay_ns = delay;
    return true;
}
