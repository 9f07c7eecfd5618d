/*
 * A small key-value store on a disk of blkback (gk/blk.h, docs/blkback.md):
 * an append-only log of records on the first disk its manifest gives it,
 * replayed at start, so what it stored survives a reboot of the machine.
 *
 *   disks:
 *     - {volume: kv, mode: rw}
 *   config:
 *     put: "colour=blue,size=7"   # stored (appended, then one flush)
 *     get: "colour,size"          # printed after the puts
 *
 * The log: one record per 512-byte sector from sector 0, each with a
 * magic, a CRC-32C, a sequence number (1, 2, 3, ...), a key (1..64 bytes)
 * and a value (0..400 bytes). Replay reads the volume in 64 KiB pieces
 * (eight asynchronous reads in flight) and stops at the first sector that
 * is not the next record: a volume is zeros when created, and a record
 * torn or never written ends the log. The newest record of a key wins.
 *
 * Durability: the puts of one start are written asynchronously (up to 64
 * in flight, in any order), then flushed; "kvstore: stored" is printed
 * only after the flush returned, so from then on they survive a crash of
 * blkback or of the machine. A crash before it may keep a prefix of them
 * (replay stops at the first hole).
 *
 * Prints "kvstore: replayed N records, K keys", "kvstore: stored N",
 * "kvstore: get KEY = VALUE" (or "kvstore: get KEY: absent"), then
 * "kvstore: done" and powers off.
 */
#include <stdio.h>
#include <string.h>

#include "gk/blk.h"
#include "gk/bus.h"
#include "gk/gk.h"
#include "gk/time.h"
#include "hv/frame.h"

#define SEC 1000000000ull
#define KEY_MAX 64u
#define VALUE_MAX 400u
#define KEYS_MAX 256u
#define CHUNK 128u /* sectors per replay read (64 KiB) */
#define AHEAD 8u   /* replay reads in flight */
#define PUTS_MAX 64u

struct record {
    char magic[4]; /* "KVR1" */
    uint32_t crc;  /* CRC-32C of the sector with this field zero */
    uint64_t seq;  /* 1, 2, 3, ... */
    uint16_t key_len, value_len;
    char key[KEY_MAX];
    char value[VALUE_MAX];
    uint8_t pad[512 - 4 - 4 - 8 - 2 - 2 - KEY_MAX - VALUE_MAX];
};
_Static_assert(sizeof(struct record) == 512, "one record per sector");

static struct {
    char key[KEY_MAX + 1];
    char value[VALUE_MAX + 1];
} table[KEYS_MAX];
static uint32_t key_count;
static uint64_t next_seq = 1, next_sector;
static uint8_t chunks[AHEAD][CHUNK * 512];
static struct record puts[PUTS_MAX];
static char cfg[600];

static uint32_t rec_crc(const struct record *r)
{
    struct record c = *r;
    c.crc = 0;
    return frame_crc32c(0, &c, sizeof c);
}

static void set(const char *key, size_t key_len, const char *value, size_t value_len)
{
    uint32_t i = 0;
    while (i < key_count && (strlen(table[i].key) != key_len || memcmp(table[i].key, key, key_len)))
        i++;
    if (i == key_count) {
        if (key_count == KEYS_MAX)
            return; /* the table is full: the record stays in the log */
        key_count++;
        memcpy(table[i].key, key, key_len);
        table[i].key[key_len] = 0;
    }
    memcpy(table[i].value, value, value_len);
    table[i].value[value_len] = 0;
}

/* Takes the records of one chunk; false at the end of the log. */
static bool take(const uint8_t *chunk, uint32_t sectors)
{
    for (uint32_t s = 0; s < sectors; s++) {
        struct record r;
        memcpy(&r, chunk + (size_t)s * 512, sizeof r);
        if (memcmp(r.magic, "KVR1", 4) != 0 || r.crc != rec_crc(&r) || r.seq != next_seq ||
            r.key_len == 0 || r.key_len > KEY_MAX || r.value_len > VALUE_MAX)
            return false;
        set(r.key, r.key_len, r.value, r.value_len);
        next_seq++;
        next_sector++;
    }
    return true;
}

/* Reads the log from the start, AHEAD chunks in flight, in order. */
static int replay(struct gk_blk *b, uint64_t sectors)
{
    uint64_t submitted = 0, taken = 0; /* chunks */
    uint64_t chunk_count = (sectors + CHUNK - 1) / CHUNK;
    bool end = false;
    int done_mask = 0, status[AHEAD] = {0};
    while (!end && taken < chunk_count) {
        while (submitted < chunk_count && submitted - taken < AHEAD) {
            uint64_t first = submitted * CHUNK;
            uint32_t n = (uint32_t)(sectors - first < CHUNK ? sectors - first : CHUNK);
            int rc =
                gk_blk_submit(b, 0, GK_BLK_READ, first, n, chunks[submitted % AHEAD], submitted);
            if (rc == GK_BLK_EAGAIN)
                break;
            if (rc != GK_BLK_OK)
                return rc;
            submitted++;
        }
        uint64_t cookie;
        int st;
        if (gk_blk_poll(b, &cookie, &st) != GK_BLK_OK) {
            int rc = gk_blk_wait(b, gk_now_ns() + 60 * SEC);
            if (rc != GK_BLK_OK)
                return rc;
            continue;
        }
        done_mask |= 1 << (cookie % AHEAD);
        status[cookie % AHEAD] = st;
        /* Take the finished chunks in order. */
        while (taken < submitted && (done_mask & (1 << (taken % AHEAD)))) {
            uint32_t slot = (uint32_t)(taken % AHEAD);
            if (status[slot] != GK_BLK_OK)
                return status[slot];
            done_mask &= ~(1 << slot);
            uint64_t first = taken * CHUNK;
            uint32_t n = (uint32_t)(sectors - first < CHUNK ? sectors - first : CHUNK);
            if (!end && !take(chunks[slot], n))
                end = true;
            taken++;
        }
    }
    /* Drain reads still in flight past the end. */
    while (gk_blk_inflight(b) > 0) {
        uint64_t cookie;
        int st;
        if (gk_blk_poll(b, &cookie, &st) != GK_BLK_OK &&
            gk_blk_wait(b, gk_now_ns() + 60 * SEC) != GK_BLK_OK)
            return GK_BLK_ETIMEDOUT;
    }
    return GK_BLK_OK;
}

/* Appends "k=v,k=v" as records, all in flight, then flushes. */
static int store(struct gk_blk *b, uint64_t sectors, const char *list, uint32_t *stored)
{
    uint32_t n = 0;
    for (const char *p = list; *p && n < PUTS_MAX;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t kl = eq ? (size_t)(eq - p) : 0, vl = eq ? len - kl - 1 : 0;
        if (eq && kl >= 1 && kl <= KEY_MAX && vl <= VALUE_MAX) {
            if (next_sector + n >= sectors)
                return GK_BLK_ERANGE; /* the log is full */
            struct record *r = &puts[n];
            memset(r, 0, sizeof *r);
            memcpy(r->magic, "KVR1", 4);
            r->seq = next_seq + n;
            r->key_len = (uint16_t)kl;
            r->value_len = (uint16_t)vl;
            memcpy(r->key, p, kl);
            memcpy(r->value, eq + 1, vl);
            r->crc = rec_crc(r);
            int rc;
            while ((rc = gk_blk_submit(b, 0, GK_BLK_WRITE, next_sector + n, 1, r, n)) ==
                   GK_BLK_EAGAIN)
                if ((rc = gk_blk_wait(b, gk_now_ns() + 60 * SEC)) != GK_BLK_OK)
                    return rc;
            if (rc != GK_BLK_OK)
                return rc;
            n++;
        }
        p = end ? end + 1 : p + len;
    }
    while (gk_blk_inflight(b) > 0) {
        uint64_t cookie;
        int st;
        if (gk_blk_poll(b, &cookie, &st) == GK_BLK_OK) {
            if (st != GK_BLK_OK)
                return st;
        } else if (gk_blk_wait(b, gk_now_ns() + 60 * SEC) != GK_BLK_OK) {
            return GK_BLK_ETIMEDOUT;
        }
    }
    int rc = gk_blk_flush(b, 0); /* only now are they durable */
    if (rc != GK_BLK_OK)
        return rc;
    for (uint32_t i = 0; i < n; i++)
        set(puts[i].key, puts[i].key_len, puts[i].value, puts[i].value_len);
    next_seq += n;
    next_sector += n;
    *stored = n;
    return GK_BLK_OK;
}

static int finish(int rc, const char *what)
{
    if (rc != GK_BLK_OK)
        gk_printf("kvstore: FAILED %s (%d)\n", what, rc);
    gk_printf("kvstore: done\n");
    gk_poweroff();
}

int main(const struct hv_start_info *si)
{
    (void)si;
    struct gk_blk *b = gk_blk_open(gk_now_ns() + 30 * SEC);
    if (!b || gk_blk_disk_count(b) == 0)
        return finish(GK_BLK_ENODEV, "no disk (manifest disks:)");
    int rc = gk_blk_attach(b, 0, gk_now_ns() + 30 * SEC);
    if (rc != GK_BLK_OK) {
        gk_printf("kvstore: attach: %s\n", gk_blk_why(b));
        return finish(rc, "attach");
    }
    const struct gk_blk_disk *d = gk_blk_disk(b, 0);
    if ((rc = replay(b, d->sectors)) != GK_BLK_OK)
        return finish(rc, "replay");
    gk_printf("kvstore: volume %s: replayed %llu records, %u keys\n", d->volume,
              (unsigned long long)(next_seq - 1), key_count);
    if (gk_config_get("put", cfg, sizeof cfg) == 1) {
        uint32_t n = 0;
        if ((rc = store(b, d->sectors, cfg, &n)) != GK_BLK_OK)
            return finish(rc, "store");
        gk_printf("kvstore: stored %u (flushed)\n", n);
    }
    if (gk_config_get("get", cfg, sizeof cfg) == 1) {
        for (char *p = cfg; *p;) {
            char *end = strchr(p, ',');
            if (end)
                *end = 0;
            uint32_t i = 0;
            while (i < key_count && strcmp(table[i].key, p) != 0)
                i++;
            if (i < key_count)
                gk_printf("kvstore: get %s = %s\n", p, table[i].value);
            else
                gk_printf("kvstore: get %s: absent\n", p);
            p = end ? end + 1 : p + strlen(p);
        }
    }
    return finish(GK_BLK_OK, "");
}
