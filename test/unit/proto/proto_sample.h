/*
 * Host-test support for the message catalog: a deterministic random source,
 * random valid messages (generated per message by proto/gen/gen.py into
 * proto_sample.c) and their libcbor trees, built independently of the
 * in-system encoder so the two can be compared.
 */
#ifndef PROTO_SAMPLE_H
#define PROTO_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cbor.h>
#include <hv/proto_msgs.h>

/* xorshift64* with an arena for the bytes of sampled strings. */
struct ptest_rng {
    uint64_t s;
    uint8_t *arena;
    size_t cap, used;
};

void ptest_rng_init(struct ptest_rng *r, uint64_t seed, uint8_t *arena, size_t cap);
uint64_t ptest_next(struct ptest_rng *r);
/* A value in [lo, hi], biased towards the CBOR length boundaries. */
uint64_t ptest_uint(struct ptest_rng *r, uint64_t lo, uint64_t hi);
int64_t ptest_int(struct ptest_rng *r);
/* An element count in [lo, hi], usually small, sometimes hi. */
uint64_t ptest_count(struct ptest_rng *r, uint64_t lo, uint64_t hi);
/* A string of length in [lo, hi] from the arena; valid UTF-8 (with
 * multi-byte characters) when text is true. */
struct hvcbor_str ptest_str(struct ptest_rng *r, uint32_t lo, uint32_t hi, bool text);

/* libcbor builders in deterministic (shortest) form. */
cbor_item_t *ptest_lc_uint(uint64_t v);
cbor_item_t *ptest_lc_int(int64_t v);
void ptest_lc_add(cbor_item_t *map, uint64_t key, cbor_item_t *value);
/* Structural equality of two libcbor trees (types, widths ignored, values,
 * order of array elements and map pairs). */
bool ptest_lc_equal(const cbor_item_t *a, const cbor_item_t *b);

/* Generated. */
void proto_msg_sample(struct proto_msg *m, uint32_t type, struct ptest_rng *r);
cbor_item_t *proto_msg_to_libcbor(const struct proto_msg *m);

#endif
