/*
 * Writes the seed corpora of the fuzz targets (test/fuzz/<target>/corpus):
 * one valid encoding of every catalog message (msg_decode, cbor_check),
 * framed streams with garbage (deframe) and ring images with records
 * (ring_read). Run by hand after the catalog changes:
 *   BUILD/test/fuzz/msg_decode/proto_fuzz_seedgen test/fuzz
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hv/frame.h>
#include <hv/ring.h>
#include "proto_sample.h"

static void write_file(const char *dir, const char *target, const char *name, const void *p,
                       size_t n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s/corpus/%s", dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static uint8_t arena[1 << 20], enc[1 << 18], stream[1 << 16];
static struct proto_msg msg;

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s TEST_FUZZ_DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    size_t slen = 0;
    for (uint32_t t = 0; t < PROTO_MSG_TYPES_COUNT; t++) {
        struct ptest_rng r;
        struct hvcbor_error err;
        size_t n;
        ptest_rng_init(&r, t + 1, arena, sizeof(arena));
        /* keep seeds small: resample until under 2 KiB */
        do {
            r.used = 0;
            proto_msg_sample(&msg, proto_msg_types[t], &r);
            if (!proto_msg_encode(&msg, enc, sizeof(enc), &n, &err))
                return 1;
        } while (n > 2048);
        char name[64];
        snprintf(name, sizeof(name), "%s.cbor", proto_msg_name(proto_msg_types[t]));
        write_file(dir, "msg_decode", name, enc, n);
        write_file(dir, "cbor_check", name, enc, n);
        if (slen + n + 64 < sizeof(stream) && n <= 512) {
            memcpy(stream + slen, "garbage", 7);
            slen += 7;
            slen += frame_encode(stream + slen, sizeof(stream) - slen, enc, n);
        }
    }
    write_file(dir, "deframe", "frames-with-garbage", stream, slen > 4096 ? 4096 : slen);
    uint8_t one[64];
    size_t n1 = frame_encode(one + 1, sizeof(one) - 1, "hello", 5);
    one[0] = 7;
    write_file(dir, "deframe", "one-frame", one, n1 + 1);

    /* ring images: records of several sizes, one wrapping the end */
    static uint8_t shared[RING_HEADER_BYTES + 512];
    struct ring p, c;
    ring_format(shared, sizeof(shared));
    ring_attach_producer(&p, shared, sizeof(shared));
    ring_attach_consumer(&c, shared, sizeof(shared));
    uint8_t m[300], out[600];
    bool notify;
    uint32_t len;
    for (int i = 0; i < 5; i++) {
        memset(m, 'a' + i, sizeof(m));
        ring_write(&p, m, (uint32_t)(40 + 50 * i), &notify);
        if (i < 3)
            ring_read(&c, out, sizeof(out), &len, &notify);
    }
    write_file(dir, "ring_read", "records-wrapped", shared, sizeof(shared));
    ring_format(shared, sizeof(shared));
    ring_attach_producer(&p, shared, sizeof(shared));
    ring_write(&p, "x", 1, &notify);
    write_file(dir, "ring_read", "one-record", shared, sizeof(shared));

    /* bus_conn scripts (test/fuzz/bus_conn/bus_conn.c): the domain writes
     * bus-hello, a ping, a config request and a control-protocol request,
     * the control domain reads each, answers, and flushes. */
    static struct proto_msg bm;
    static uint8_t script[4096];
    size_t sl = 0;
    for (int k = 0; k < 4; k++) {
        memset(&bm, 0, sizeof bm);
        switch (k) {
        case 0:
            bm.type = PROTO_MSG_BUS_HELLO;
            bm.u.bus_hello.request_id = 1;
            bm.u.bus_hello.version = PROTO_VERSION;
            break;
        case 1:
            bm.type = PROTO_MSG_BUS_PING;
            bm.u.bus_ping.request_id = 2;
            break;
        case 2:
            bm.type = PROTO_MSG_CONFIG_GET_REQUEST;
            bm.u.config_get_request.request_id = 3;
            bm.u.config_get_request.key = (struct hvcbor_str){(const uint8_t *)"port", 4};
            break;
        default:
            bm.type = PROTO_MSG_DOMAIN_LIST_REQUEST;
            bm.u.domain_list_request.request_id = 4;
            break;
        }
        struct hvcbor_error err;
        size_t n;
        if (!proto_msg_encode(&bm, enc, 255, &n, &err))
            return 1;
        script[sl++] = 0; /* write a record */
        script[sl++] = (uint8_t)n;
        script[sl++] = 0; /* tag */
        memcpy(script + sl, enc, n);
        sl += n;
        script[sl++] = 2; /* read */
        script[sl++] = 1;
        script[sl++] = 3; /* answer */
        script[sl++] = 20;
        script[sl++] = 4; /* flush */
        script[sl++] = 0;
        script[sl++] = 5; /* the domain reads */
        script[sl++] = 3;
    }
    write_file(dir, "bus_conn", "hello-ping-config-control", script, sl);

    /* blkback_req scripts (test/fuzz/blkback_req/blkback_req.c): attach a
     * writable volume of 1000 sectors, read 8 sectors, write 256 at the
     * end, flush, complete two, detach. */
    sl = 0;
    script[sl++] = 2; /* attach: arg 125 -> 1000 sectors, writable */
    script[sl++] = 125;
    for (int k = 0; k < 4; k++) {
        memset(&bm, 0, sizeof bm);
        if (k < 3) {
            struct proto_blk_request *r = &bm.u.blk_request;
            bm.type = PROTO_MSG_BLK_REQUEST;
            r->request_id = (uint64_t)k + 1;
            r->op = k == 0 ? PROTO_BLK_OP_READ : k == 1 ? PROTO_BLK_OP_WRITE : PROTO_BLK_OP_FLUSH;
            r->sector = k == 0 ? 0 : k == 1 ? 1000 - 256 : 0;
            r->count = k == 0 ? 8 : k == 1 ? 256 : 0;
            r->pages.count = k == 0 ? 1 : k == 1 ? 32 : 0;
            for (uint32_t p = 0; p < r->pages.count; p++)
                r->pages.items[p] = 1000 + p;
        } else {
            bm.type = PROTO_MSG_BLK_DETACH_REQUEST;
            bm.u.blk_detach_request.request_id = 4;
        }
        struct hvcbor_error err;
        size_t n;
        if (!proto_msg_encode(&bm, enc, 255, &n, &err))
            return 1;
        script[sl++] = 0; /* a message */
        script[sl++] = (uint8_t)n;
        memcpy(script + sl, enc, n);
        sl += n;
        if (k == 1) {
            script[sl++] = 1; /* the oldest ends */
            script[sl++] = 0;
        }
    }
    write_file(dir, "blkback_req", "attach-read-write-flush-detach", script, sl);
    return 0;
}
