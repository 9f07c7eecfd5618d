/*
 * Latency histograms for blkback's accounting (per volume, per domain):
 * log-linear buckets, 8 per power of two, so a quantile is exact to 12.5%.
 * Values are nanoseconds (or any unsigned quantity); values below 8 have a
 * bucket each; values of 2^48 (3.3 days in ns) and more share the last one. No allocation,
 * no floating point; plain C shared by blkback and the host tests.
 */
#ifndef BLKBACK_BLKSTAT_H
#define BLKBACK_BLKSTAT_H

#include <stdint.h>

#define BLKSTAT_SUB 8u
#define BLKSTAT_BUCKETS 368u /* 8 exact values, then 8 per power of two from 2^3 to 2^47 */

struct blkstat_hist {
    uint64_t count;
    uint32_t bucket[BLKSTAT_BUCKETS]; /* saturate at UINT32_MAX */
};

/* The bucket of v, and the range [low, high] of values it holds. */
uint32_t blkstat_bucket(uint64_t v);
uint64_t blkstat_bucket_low(uint32_t b);
uint64_t blkstat_bucket_high(uint32_t b);

void blkstat_hist_add(struct blkstat_hist *h, uint64_t v);

/* The value below which per_mille / 1000 of the samples lie: the upper end
 * of the bucket that holds the sample of that rank (0 when empty). */
uint64_t blkstat_hist_quantile(const struct blkstat_hist *h, uint32_t per_mille);

/* Adds b's samples to a. */
void blkstat_hist_merge(struct blkstat_hist *a, const struct blkstat_hist *b);

#endif
