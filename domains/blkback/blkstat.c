/* Latency histograms (see blkstat.h). */
#include "blkstat.h"

static unsigned msb(uint64_t v)
{
    return 63u - (unsigned)__builtin_clzll(v);
}

uint32_t blkstat_bucket(uint64_t v)
{
    if (v < BLKSTAT_SUB)
        return (uint32_t)v;
    unsigned e = msb(v); /* >= 3 */
    uint32_t b = (e - 2u) * BLKSTAT_SUB + (uint32_t)((v >> (e - 3u)) & (BLKSTAT_SUB - 1u));
    return b < BLKSTAT_BUCKETS ? b : BLKSTAT_BUCKETS - 1u;
}

uint64_t blkstat_bucket_low(uint32_t b)
{
    if (b < BLKSTAT_SUB)
        return b;
    unsigned e = b / BLKSTAT_SUB + 2u;
    return (uint64_t)(BLKSTAT_SUB + b % BLKSTAT_SUB) << (e - 3u);
}

uint64_t blkstat_bucket_high(uint32_t b)
{
    if (b < BLKSTAT_SUB)
        return b;
    if (b >= BLKSTAT_BUCKETS - 1u)
        return UINT64_MAX;
    unsigned e = b / BLKSTAT_SUB + 2u;
    return blkstat_bucket_low(b) + (1ull << (e - 3u)) - 1u;
}

void blkstat_hist_add(struct blkstat_hist *h, uint64_t v)
{
    uint32_t *c = &h->bucket[blkstat_bucket(v)];
    if (*c != UINT32_MAX) {
        (*c)++;
        h->count++;
    }
}

uint64_t blkstat_hist_quantile(const struct blkstat_hist *h, uint32_t per_mille)
{
    if (h->count == 0)
        return 0;
    if (per_mille > 1000)
        per_mille = 1000;
    /* The rank (1-based) of the sample: ceil(count * per_mille / 1000). */
    uint64_t rank = (h->count * per_mille + 999u) / 1000u;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (uint32_t b = 0; b < BLKSTAT_BUCKETS; b++) {
        seen += h->bucket[b];
        if (seen >= rank)
            return blkstat_bucket_high(b);
    }
    return blkstat_bucket_high(BLKSTAT_BUCKETS - 1u);
}

void blkstat_hist_merge(struct blkstat_hist *a, const struct blkstat_hist *b)
{
    for (uint32_t i = 0; i < BLKSTAT_BUCKETS; i++) {
        uint64_t s = (uint64_t)a->bucket[i] + b->bucket[i];
        uint32_t n = s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
        a->count += n - a->bucket[i];
        a->bucket[i] = n;
    }
}
