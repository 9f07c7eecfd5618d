/* The broker's admission policy (see mux_admit.h). */
#include "mux_admit.h"

struct mux_peer mux_peer_of(uint32_t pid, uint32_t uid, uint32_t self_uid)
{
    if (uid == self_uid || uid == 0)
        return (struct mux_peer){.by_uid = false, .key = pid};
    return (struct mux_peer){.by_uid = true, .key = uid};
}

bool mux_peer_same(struct mux_peer a, struct mux_peer b)
{
    return a.by_uid == b.by_uid && a.key == b.key;
}

static uint32_t unauth_of(const struct mux_slot *slots, uint32_t n, struct mux_peer p)
{
    uint32_t c = 0;
    for (uint32_t i = 0; i < n; i++)
        if (slots[i].used && !slots[i].auth && mux_peer_same(slots[i].peer, p))
            c++;
    return c;
}

struct mux_admit_result mux_admit(const struct mux_slot *slots, uint32_t n, struct mux_peer peer)
{
    uint32_t used = 0, unauth = 0;
    for (uint32_t i = 0; i < n; i++) {
        used += slots[i].used;
        unauth += slots[i].used && !slots[i].auth;
    }
    if (unauth_of(slots, n, peer) >= MUX_PEER_UNAUTH_MAX)
        return (struct mux_admit_result){MUX_REFUSE_PEER, 0};
    if (used < n && unauth < MUX_UNAUTH_MAX)
        return (struct mux_admit_result){MUX_ADMIT, 0};
    if (unauth == 0)
        return (struct mux_admit_result){MUX_REFUSE_FULL, 0};
    /* The oldest unauthenticated connection of the peer holding the most. */
    uint32_t victim = n, most = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!slots[i].used || slots[i].auth)
            continue;
        uint32_t c = unauth_of(slots, n, slots[i].peer);
        if (victim == n || c > most || (c == most && slots[i].since_ms < slots[victim].since_ms)) {
            victim = i;
            most = c;
        }
    }
    return (struct mux_admit_result){MUX_ADMIT_EVICT, victim};
}

bool mux_deadline_due(const struct mux_slot *s, uint64_t now_ms, bool request_in_flight)
{
    return s->used && !s->auth && !request_in_flight &&
           now_ms >= s->since_ms + MUX_AUTH_DEADLINE_MS;
}
