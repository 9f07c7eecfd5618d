/*
 * A simulated Ethernet link between stacks (gk/ipstack.h) in one process,
 * in virtual time: frames are delayed (a fixed delay plus random jitter,
 * which reorders them), lost, duplicated or corrupted with the
 * probabilities set, all from a seeded generator so every run is the same.
 * A tap sees (and may drop or rewrite) every frame sent.
 *
 * The stacks' drivers are sim_driver(): send puts a frame on the link
 * towards every other end (a hub), recv takes the next one due, now_ns is
 * the virtual clock, wait advances the simulation (the other ends are
 * polled and their `app` hooks run) up to the deadline.
 */
#ifndef SIM_LINK_H
#define SIM_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gk/ipstack.h"

#define SIM_ENDS_MAX 4
#define SIM_QUEUE_MAX 4096

struct sim;

struct sim_frame {
    uint64_t at;
    uint64_t seq; /* frames due at the same instant arrive in the order sent */
    uint32_t len;
    uint8_t data[2048]; /* injected frames may be oversized (hostile tests) */
};

struct sim_end {
    struct sim *sim;
    int id;
    struct gk_ip *ip;
    struct sim_frame *q; /* frames on their way to this end */
    size_t qn;
    uint64_t rx, tx;
    /* Called whenever the simulation steps (sockets of this end's
     * application, non-blocking). */
    void (*app)(struct sim_end *e, void *arg);
    void *app_arg;
};

struct sim {
    uint64_t now;
    uint64_t rng;
    uint32_t loss_ppm, dup_ppm, corrupt_ppm;
    uint64_t delay_ns, jitter_ns;
    int ends;
    struct sim_end end[SIM_ENDS_MAX];
    uint64_t lost, duplicated, corrupted;
    uint64_t frame_seq;
    /* The tap: sees each frame sent by end `from`; returns false to drop it
     * (it may change the bytes and *len). */
    bool (*tap)(struct sim *s, int from, uint8_t *frame, uint32_t *len, void *arg);
    void *tap_arg;
    /* Set while stepping, so a blocking call's wait does not recurse. */
    bool stepping;
};

void sim_init(struct sim *s, uint64_t seed);
void sim_fini(struct sim *s);
/* A stack on a new end; cfg's mac and addr are the caller's. */
struct gk_ip *sim_add(struct sim *s, const struct gk_ip_config *cfg);
struct gk_ip_driver sim_driver(struct sim_end *e);
/* Puts a raw frame on the link to end `to` (for hostile input), due now. */
void sim_inject(struct sim *s, int to, const void *frame, size_t len);
/* One step: poll every stack, run the apps, advance the clock to the next
 * event (at most max_step_ns). Returns false if nothing is pending at all. */
bool sim_step(struct sim *s, uint64_t max_step_ns);
/* Steps until done(arg) or the virtual time limit; returns done(arg). */
bool sim_run(struct sim *s, bool (*done)(void *arg), void *arg, uint64_t limit_ns);
/* Steps for a span of virtual time. */
void sim_advance(struct sim *s, uint64_t span_ns);
uint64_t sim_random(struct sim *s);

/* Frame builders for hostile tests: an Ethernet + IPv4 header around a
 * payload (checksums filled), returning the frame length. */
size_t sim_build_ip(uint8_t *out, const uint8_t dst_mac[6], const uint8_t src_mac[6], uint32_t src,
                    uint32_t dst, uint8_t proto, uint16_t id, uint16_t frag, const void *payload,
                    size_t len);
/* A TCP segment with a correct checksum into out (header 20 bytes + data). */
size_t sim_build_tcp(uint8_t *out, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                     uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd, const void *data,
                     size_t len);
uint16_t sim_csum(const void *p, size_t len, uint32_t sum);

#endif
