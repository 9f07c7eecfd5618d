/*
 * Host benchmark of proto/ (run by scripts/bench.d/proto.sh; not a test).
 *  1. Encode+decode of a representative control message (a domain-info
 *     reply) with the in-system codec vs libcbor, same message, same run.
 *  2. Ring throughput for 64-byte and 4 KiB messages (one thread writing
 *     and reading in batches, and two threads) vs plain memcpy of the same
 *     bytes.
 * usage: proto_bench [SECONDS_PER_FIGURE]   (default 1.0)
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <hv/ring.h>
#include "proto_sample.h"

static double seconds_per_figure = 1.0;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static volatile uint64_t sink;

/* ---- libcbor decode of a domain-info-reply into the same struct ---- */

static uint64_t lc_u(const cbor_item_t *it)
{
    return cbor_get_int(it);
}

static struct hvcbor_str lc_s(const cbor_item_t *it)
{
    if (cbor_isa_string(it))
        return (struct hvcbor_str){cbor_string_handle(it), (uint32_t)cbor_string_length(it)};
    return (struct hvcbor_str){cbor_bytestring_handle(it), (uint32_t)cbor_bytestring_length(it)};
}

/* Every field the catalog gives a domain-info-reply (a field the decoder
 * skipped would leave the struct unequal to the message: the check below
 * aborts, so a field added to the catalog must be added here too). */
static void lc_summary(const cbor_item_t *m, struct proto_domain_summary *s)
{
    struct cbor_pair *p = cbor_map_handle(m);
    for (size_t i = 0; i < cbor_map_size(m); i++) {
        const cbor_item_t *v = p[i].value;
        switch (lc_u(p[i].key)) {
        case 0: s->id = lc_u(v); break;
        case 2: s->name = lc_s(v); break;
        case 4: s->state = (enum proto_domain_state)lc_u(v); break;
        case 6: s->memory_bytes = lc_u(v); break;
        case 8: s->vcpus = lc_u(v); break;
        case 10: s->cpu_time_ns = lc_u(v); break;
        case 12: s->event_count = lc_u(v); break;
        case 13:
            s->has_events_sent = true;
            s->events_sent = lc_u(v);
            break;
        default: abort();
        }
    }
}

static void lc_vcpu(const cbor_item_t *m, struct proto_vcpu_info *c)
{
    struct cbor_pair *p = cbor_map_handle(m);
    for (size_t i = 0; i < cbor_map_size(m); i++) {
        const cbor_item_t *v = p[i].value;
        switch (lc_u(p[i].key)) {
        case 0: c->vcpu = lc_u(v); break;
        case 2: c->state = (enum proto_vcpu_state)lc_u(v); break;
        case 4: c->run_ns = lc_u(v); break;
        case 6: c->wait_ns = lc_u(v); break;
        case 8: c->migrations = lc_u(v); break;
        case 10: c->cpu_mask = lc_u(v); break;
        case 11:
            c->has_cpu = true;
            c->cpu = lc_u(v);
            break;
        default: abort();
        }
    }
}

static void lc_config(const cbor_item_t *m, struct proto_domain_config *c)
{
    struct cbor_pair *p = cbor_map_handle(m);
    for (size_t i = 0; i < cbor_map_size(m); i++) {
        const cbor_item_t *v = p[i].value;
        switch (lc_u(p[i].key)) {
        case 0: c->name = lc_s(v); break;
        case 2: c->kernel = lc_s(v); break;
        case 4: c->cmdline = lc_s(v); break;
        case 6: c->memory_bytes = lc_u(v); break;
        case 8: c->max_memory_bytes = lc_u(v); break;
        case 10: c->vcpus = lc_u(v); break;
        case 12: c->weight = lc_u(v); break;
        case 14: c->cap_percent = lc_u(v); break;
        case 16: c->gang = cbor_get_bool(v); break;
        case 18: c->on_poweroff = (enum proto_stop_policy)lc_u(v); break;
        case 20: c->on_reboot = (enum proto_stop_policy)lc_u(v); break;
        case 22: c->on_crash = (enum proto_stop_policy)lc_u(v); break;
        default: abort();
        }
    }
}

/* Decodes with libcbor into out; returns the tree (strings point into it). */
static cbor_item_t *lc_decode(const uint8_t *buf, size_t len, struct proto_domain_info_reply *out)
{
    struct cbor_load_result res;
    cbor_item_t *m = cbor_load(buf, len, &res);
    if (!m || res.error.code != CBOR_ERR_NONE || !cbor_isa_map(m))
        abort();
    /* As the in-system decoder does: absent optional fields are zero. */
    memset(out, 0, sizeof *out);
    struct cbor_pair *p = cbor_map_handle(m);
    for (size_t i = 0; i < cbor_map_size(m); i++) {
        const cbor_item_t *v = p[i].value;
        switch (lc_u(p[i].key)) {
        case 0: break; /* type */
        case 2: out->request_id = lc_u(v); break;
        case 4: lc_summary(v, &out->summary); break;
        case 6: lc_config(v, &out->config); break;
        case 7:
            out->has_max_observed_memory_bytes = true;
            out->max_observed_memory_bytes = lc_u(v);
            break;
        case 9:
            out->has_vcpu_stats = true;
            out->vcpu_stats.count = (uint32_t)cbor_array_size(v);
            if (out->vcpu_stats.count > 64)
                abort();
            for (uint32_t k = 0; k < out->vcpu_stats.count; k++)
                lc_vcpu(cbor_array_handle(v)[k], &out->vcpu_stats.items[k]);
            break;
        default: abort();
        }
    }
    return m;
}

static void bench_codec(void)
{
    static uint8_t buf[4096];
    static struct proto_msg msg, back;
    struct hvcbor_error err;
    size_t len = 0;
    /* A representative reply, as the control domain sends one for a running
     * 2-VCPU domain: every field set, realistic values. */
    memset(&msg, 0, sizeof msg);
    msg.type = PROTO_MSG_DOMAIN_INFO_REPLY;
    struct proto_domain_info_reply *m = &msg.u.domain_info_reply;
#define S(x) ((struct hvcbor_str){(const uint8_t *)(x), (uint32_t)strlen(x)})
    m->request_id = 4242;
    m->summary = (struct proto_domain_summary){.id = 7,
                                               .name = S("web1"),
                                               .state = PROTO_DOMAIN_STATE_RUNNING,
                                               .memory_bytes = 256ull << 20,
                                               .vcpus = 2,
                                               .cpu_time_ns = 123456789012ull,
                                               .event_count = 987654,
                                               .has_events_sent = true,
                                               .events_sent = 4321};
    m->config = (struct proto_domain_config){.name = S("web1"),
                                             .kernel = S("guests/web.elf"),
                                             .cmdline = S("console=hvc0 root=/dev/xvda1 quiet"),
                                             .memory_bytes = 256ull << 20,
                                             .max_memory_bytes = 1ull << 30,
                                             .vcpus = 2,
                                             .weight = 256,
                                             .cap_percent = 0,
                                             .gang = false,
                                             .on_poweroff = PROTO_STOP_POLICY_DESTROY,
                                             .on_reboot = PROTO_STOP_POLICY_RESTART,
                                             .on_crash = PROTO_STOP_POLICY_PRESERVE};
    m->has_max_observed_memory_bytes = true;
    m->max_observed_memory_bytes = 300ull << 20;
    m->has_vcpu_stats = true;
    m->vcpu_stats.count = 2;
    for (uint32_t k = 0; k < 2; k++)
        m->vcpu_stats.items[k] = (struct proto_vcpu_info){.vcpu = k,
                                                          .state = PROTO_VCPU_STATE_RUNNING,
                                                          .run_ns = 61000000000ull + k,
                                                          .wait_ns = 1200000ull * (k + 1),
                                                          .migrations = 3 + k,
                                                          .cpu_mask = 0,
                                                          .has_cpu = true,
                                                          .cpu = k};
    if (!proto_msg_encode(&msg, buf, sizeof(buf), &len, &err))
        abort();

    /* in-system codec: encode + decode */
    uint64_t iters = 0;
    double t0 = now(), t1;
    do {
        for (int k = 0; k < 1000; k++) {
            size_t n;
            proto_msg_encode(&msg, buf, sizeof(buf), &n, &err);
            if (!proto_msg_decode(buf, n, NULL, &back, &err))
                abort();
            sink += back.u.domain_info_reply.summary.cpu_time_ns;
        }
        iters += 1000;
        t1 = now();
    } while (t1 - t0 < seconds_per_figure);
    if (!proto_msg_equal(&msg, &back))
        abort();
    double ours = (double)iters / (t1 - t0);

    /* libcbor: build the tree, serialize, load, walk into the struct */
    uint8_t lbuf[4096];
    struct proto_domain_info_reply lback;
    iters = 0;
    t0 = now();
    do {
        for (int k = 0; k < 1000; k++) {
            cbor_item_t *tree = proto_msg_to_libcbor(&msg);
            size_t n = cbor_serialize(tree, lbuf, sizeof(lbuf));
            cbor_decref(&tree);
            if (n == 0)
                abort();
            cbor_item_t *dec = lc_decode(lbuf, n, &lback);
            sink += lback.summary.cpu_time_ns;
            if (k == 0 && iters == 0) {
                if (n != len || memcmp(lbuf, buf, n) != 0 ||
                    !proto_domain_info_reply_equal(&lback, m))
                    abort();
            }
            cbor_decref(&dec);
        }
        iters += 1000;
        t1 = now();
    } while (t1 - t0 < seconds_per_figure);
    double theirs = (double)iters / (t1 - t0);
    printf("codec: domain-info-reply (%zu bytes) encode+decode: in-system %.0f msg/s (%.0f ns), "
           "libcbor %.0f msg/s (%.0f ns), ratio in-system/libcbor = %.1fx\n",
           len, ours, 1e9 / ours, theirs, 1e9 / theirs, ours / theirs);
}

/* ---- rings ---- */

#define RING_DATA (64 * 1024)
static uint8_t *shared;
static struct ring rp, rc;
static uint64_t two_count;
static uint32_t two_size;

static void ring_setup(void)
{
    size_t bytes = RING_HEADER_BYTES + RING_DATA;
    if (!ring_format(shared, bytes) || !ring_attach_producer(&rp, shared, bytes) ||
        !ring_attach_consumer(&rc, shared, bytes))
        abort();
}

static void *two_consumer(void *arg)
{
    uint8_t *buf = malloc(two_size);
    for (uint64_t i = 0; i < two_count;) {
        uint32_t n;
        bool notify;
        enum ring_status st = ring_read(&rc, buf, two_size, &n, &notify);
        if (st == RING_OK) {
            i++;
            continue;
        }
        if (st != RING_EMPTY)
            abort();
        sched_yield();
    }
    sink += buf[0];
    free(buf);
    return arg;
}

static void bench_ring(uint32_t size)
{
    uint8_t *msg = malloc(size), *out = malloc(size), *dst = malloc(RING_DATA);
    memset(msg, 0x5a, size);
    bool notify;
    uint32_t n;
    /* one thread: fill the ring, drain it */
    ring_setup();
    uint64_t msgs = 0;
    double t0 = now(), t1;
    do {
        for (int round = 0; round < 64; round++) {
            uint32_t w = 0;
            while (ring_write(&rp, msg, size, &notify) == RING_OK)
                w++;
            for (uint32_t k = 0; k < w; k++) {
                if (ring_read(&rc, out, size, &n, &notify) != RING_OK)
                    abort();
            }
            msgs += w;
        }
        t1 = now();
    } while (t1 - t0 < seconds_per_figure);
    double ring1 = (double)msgs * size / (t1 - t0);

    /* memcpy of the same bytes: in and out of a ring-sized buffer */
    uint64_t copies = 0;
    uint32_t per = RING_DATA / size;
    t0 = now();
    do {
        for (int round = 0; round < 64; round++) {
            for (uint32_t k = 0; k < per; k++)
                memcpy(dst + (size_t)k * size, msg, size);
            for (uint32_t k = 0; k < per; k++)
                memcpy(out, dst + (size_t)k * size, size);
            sink += out[size - 1];
            copies += per;
        }
        t1 = now();
    } while (t1 - t0 < seconds_per_figure);
    double mc = (double)copies * size / (t1 - t0);

    /* two threads, the consumer polling */
    ring_setup();
    two_size = size;
    two_count = (uint64_t)(ring1 * seconds_per_figure / size / 2) + 1000;
    pthread_t ct;
    t0 = now();
    pthread_create(&ct, NULL, two_consumer, NULL);
    for (uint64_t i = 0; i < two_count;) {
        enum ring_status st = ring_write(&rp, msg, size, &notify);
        if (st == RING_OK)
            i++;
        else if (st == RING_FULL)
            sched_yield();
        else
            abort();
    }
    pthread_join(ct, NULL);
    t1 = now();
    double ring2 = (double)two_count * size / (t1 - t0);

    printf("ring: %4u-byte messages: one thread %.2f GB/s (%.1f M msg/s), two threads %.2f GB/s "
           "(%.1f M msg/s); memcpy in+out %.2f GB/s; ratio ring(1 thread)/memcpy = %.2f\n",
           size, ring1 / 1e9, ring1 / size / 1e6, ring2 / 1e9, ring2 / size / 1e6, mc / 1e9,
           ring1 / mc);
    free(msg);
    free(out);
    free(dst);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        seconds_per_figure = atof(argv[1]);
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    size_t bytes = RING_HEADER_BYTES + RING_DATA;
    shared = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
    if (!shared)
        abort();
    bench_codec();
    bench_ring(64);
    bench_ring(4096);
    return 0;
}
