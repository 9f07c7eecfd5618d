/*
 * The broker's admission policy (docs/hvctl.md, "Who may hold a connection"):
 * which new connection the broker accepts, which unauthenticated one it gives
 * up for it, and when an unauthenticated one has had its time. No I/O here:
 * mux.c asks these functions; test/unit/hvctl/mux_admit_test.c drives them.
 *
 * A connection is unauthenticated until the control domain has answered one
 * of its requests with anything but an error-reply (every forwarded request
 * carries a token the control domain checks first; hello is answered by the
 * broker and proves nothing). Unauthenticated connections
 *   - are at most MUX_UNAUTH_MAX together, so MUX_MAX_CLIENTS - MUX_UNAUTH_MAX
 *     slots are always left to authenticated clients (consoles, log -f);
 *   - are at most MUX_PEER_UNAUTH_MAX per peer: per process (SO_PEERCRED pid)
 *     for the broker's own user and root, per user (uid) for anyone else the
 *     socket's mode lets in;
 *   - may have one request in flight (mux.c answers `busy` beyond);
 *   - are closed MUX_AUTH_DEADLINE_MS after they connected unless a request
 *     of theirs is still waiting for the control domain's answer.
 * When the unauthenticated connections fill their share, a newcomer is still
 * let in: the oldest unauthenticated connection of the peer that holds the
 * most of them is closed for it. So a flood from one peer never keeps another
 * peer out, and one from many processes only churns among themselves.
 */
#ifndef HVCTL_MUX_ADMIT_H
#define HVCTL_MUX_ADMIT_H

#include <stdbool.h>
#include <stdint.h>

#define MUX_MAX_CLIENTS 128u       /* connections at once, all kinds */
#define MUX_UNAUTH_MAX 32u         /* of which unauthenticated, all peers */
#define MUX_PEER_UNAUTH_MAX 8u     /* unauthenticated, per peer */
#define MUX_AUTH_DEADLINE_MS 3000u /* to send a request that the control domain accepts */

/* Who is at the other end: a process of a trusted user, or another user. */
struct mux_peer {
    bool by_uid; /* key is a uid (another user), else a pid */
    uint32_t key;
};

/* The broker's own uid and root are keyed by process, others by user. */
struct mux_peer mux_peer_of(uint32_t pid, uint32_t uid, uint32_t self_uid);
bool mux_peer_same(struct mux_peer a, struct mux_peer b);

/* One connection slot as the policy sees it. */
struct mux_slot {
    bool used, auth;
    struct mux_peer peer;
    uint64_t since_ms; /* when it was accepted */
};

enum mux_admit_verdict {
    MUX_ADMIT,       /* take it into a free slot */
    MUX_ADMIT_EVICT, /* close slots[evict] (unauthenticated) and take it */
    MUX_REFUSE_PEER, /* its peer holds MUX_PEER_UNAUTH_MAX unauthenticated already */
    MUX_REFUSE_FULL, /* every slot is held by an authenticated client */
};

struct mux_admit_result {
    enum mux_admit_verdict verdict;
    uint32_t evict;
};

/* What to do with a new connection from peer, given the n slots. */
struct mux_admit_result mux_admit(const struct mux_slot *slots, uint32_t n, struct mux_peer peer);

/* True if an unauthenticated slot has had its time (and nothing of its is
 * waiting for the control domain). */
bool mux_deadline_due(const struct mux_slot *s, uint64_t now_ms, bool request_in_flight);

#endif
