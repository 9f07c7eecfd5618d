/*
 * The volume table (domains/blkback/vtab.c) on an in-memory disk with a
 * volatile write cache: writes land in the cache, a flush makes them
 * durable, and a crash keeps any subset of the sectors written since the
 * last flush (none, all, torn prefixes, random subsets). The crash test
 * stops the disk before each of its writes and flushes in turn, for every
 * step of a scenario, and checks that the table read back is exactly the
 * one before or the one after the step, the one after if the step had
 * returned, and that new space never shows old data. Then every field a
 * lying disk could get wrong, each rejected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hv/frame.h"
#include "vtab.h"

#define SECTOR VT_SECTOR_BYTES
#define DISK_SECTORS 4096u /* 2 MiB: 1 MiB of table area, 1 MiB of data */
#define UNIT 64u           /* 32 KiB units in most tests: 32 of them */
#define LOG_MAX 8192u

struct logged {
    uint64_t sector;
    uint8_t data[SECTOR];
};

/* The disk: `view` is what reads see (durable + cache), `durable` what a
 * crash keeps for sure, `log` the sector writes since the last flush. */
struct mdisk {
    uint64_t sectors;
    uint8_t *view, *durable;
    struct logged *log;
    uint32_t log_count;
    long ops_left; /* writes and flushes until the power goes; -1: never */
    uint32_t ops;
    bool fail_reads;
};

static int md_read(void *ctx, uint64_t sector, void *buf, uint32_t count)
{
    struct mdisk *m = ctx;
    assert_true(count >= 1 && count <= VT_COPY_SECTORS);
    if (m->fail_reads || sector > m->sectors || count > m->sectors - sector)
        return -1;
    memcpy(buf, m->view + sector * SECTOR, (size_t)count * SECTOR);
    return 0;
}

static bool md_power(struct mdisk *m)
{
    m->ops++;
    if (m->ops_left == 0)
        return false;
    if (m->ops_left > 0)
        m->ops_left--;
    return true;
}

static int md_write(void *ctx, uint64_t sector, const void *buf, uint32_t count)
{
    struct mdisk *m = ctx;
    assert_true(count >= 1 && count <= VT_COPY_SECTORS);
    if (!md_power(m))
        return -1;
    if (sector > m->sectors || count > m->sectors - sector)
        return -1;
    for (uint32_t i = 0; i < count; i++) {
        assert_true(m->log_count < LOG_MAX);
        struct logged *l = &m->log[m->log_count++];
        l->sector = sector + i;
        memcpy(l->data, (const uint8_t *)buf + (size_t)i * SECTOR, SECTOR);
    }
    memcpy(m->view + sector * SECTOR, buf, (size_t)count * SECTOR);
    return 0;
}

static int md_flush(void *ctx)
{
    struct mdisk *m = ctx;
    if (!md_power(m))
        return -1;
    memcpy(m->durable, m->view, m->sectors * SECTOR);
    m->log_count = 0;
    return 0;
}

static void md_init(struct mdisk *m, uint64_t sectors)
{
    memset(m, 0, sizeof *m);
    m->sectors = sectors;
    m->view = calloc(sectors, SECTOR);
    m->durable = calloc(sectors, SECTOR);
    m->log = calloc(LOG_MAX, sizeof *m->log);
    m->ops_left = -1;
    assert_non_null(m->view);
    assert_non_null(m->durable);
    assert_non_null(m->log);
}

static void md_free(struct mdisk *m)
{
    free(m->view);
    free(m->durable);
    free(m->log);
}

/* Makes m a copy of src's durable state after everything was flushed. */
static void md_clone_flushed(struct mdisk *m, const struct mdisk *src)
{
    assert_int_equal(src->log_count, 0);
    memcpy(m->view, src->view, src->sectors * SECTOR);
    memcpy(m->durable, src->view, src->sectors * SECTOR);
    m->log_count = 0;
    m->ops_left = -1;
    m->ops = 0;
}

enum crash_kind { CRASH_NONE, CRASH_ALL, CRASH_PREFIX_HALF, CRASH_RANDOM, CRASH_ODD };

/* What the disk holds after a crash of the given kind: the durable image
 * plus some of the sector writes of the log. */
static void md_crash(struct mdisk *out, const struct mdisk *m, enum crash_kind kind, uint32_t seed)
{
    memcpy(out->durable, m->durable, m->sectors * SECTOR);
    uint64_t rng = 0x9e3779b97f4a7c15ull ^ seed;
    for (uint32_t i = 0; i < m->log_count; i++) {
        bool keep = false;
        switch (kind) {
        case CRASH_NONE: break;
        case CRASH_ALL: keep = true; break;
        case CRASH_PREFIX_HALF: keep = i < m->log_count / 2; break;
        case CRASH_RANDOM:
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            keep = rng & 1;
            break;
        case CRASH_ODD: keep = i & 1; break;
        }
        if (keep)
            memcpy(out->durable + m->log[i].sector * SECTOR, m->log[i].data, SECTOR);
    }
    memcpy(out->view, out->durable, m->sectors * SECTOR);
    out->log_count = 0;
    out->ops_left = -1;
    out->ops = 0;
}

static struct vt_disk disk_of(struct mdisk *m)
{
    return (struct vt_disk){m, m->sectors, md_read, md_write, md_flush};
}

/* A table's content, order-independent, to compare two of them. */
struct snap {
    uint32_t count, next_id;
    struct vt_volume vol[VT_VOLUMES_MAX]; /* by id; zero-filled */
};

static int by_id(const void *a, const void *b)
{
    const struct vt_volume *x = a, *y = b;
    if (!x->name[0] || !y->name[0])
        return (int)!x->name[0] - (int)!y->name[0];
    return x->id < y->id ? -1 : x->id > y->id;
}

static void snap_of(struct snap *s, const struct vtab *t)
{
    memset(s, 0, sizeof *s);
    s->count = t->count;
    s->next_id = t->next_id;
    uint32_t n = 0;
    for (uint32_t i = 0; i < VT_VOLUMES_MAX; i++)
        if (t->vol[i].name[0]) {
            struct vt_volume *v = &s->vol[n++];
            memset(v, 0, sizeof *v);
            strcpy(v->name, t->vol[i].name);
            v->sectors = t->vol[i].sectors;
            v->id = t->vol[i].id;
            v->extent_count = t->vol[i].extent_count;
            memcpy(v->extent, t->vol[i].extent, sizeof v->extent[0] * v->extent_count);
        }
    qsort(s->vol, n, sizeof s->vol[0], by_id);
}

static bool snap_equal(const struct snap *a, const struct snap *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

static struct vtab t, t2;
static struct mdisk disk, work, crashed;
static struct vt_disk vd, vwork, vcrashed;

static int setup(void **state)
{
    (void)state;
    md_init(&disk, DISK_SECTORS);
    md_init(&work, DISK_SECTORS);
    md_init(&crashed, DISK_SECTORS);
    vd = disk_of(&disk);
    vwork = disk_of(&work);
    vcrashed = disk_of(&crashed);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    md_free(&disk);
    md_free(&work);
    md_free(&crashed);
    return 0;
}

/* Fills the data area with a non-zero pattern: what deleted volumes held. */
static void dirty_data(struct mdisk *m)
{
    memset(m->view + VT_DATA_START_DEFAULT * SECTOR, 0xa5,
           (m->sectors - VT_DATA_START_DEFAULT) * SECTOR);
    memcpy(m->durable, m->view, m->sectors * SECTOR);
    m->log_count = 0;
}

static bool volume_reads_zero(const struct mdisk *m, const struct vt_volume *v)
{
    for (uint32_t k = 0; k < v->extent_count; k++) {
        const uint8_t *p = m->view + v->extent[k].start * SECTOR;
        for (uint64_t i = 0; i < v->extent[k].sectors * SECTOR; i++)
            if (p[i])
                return false;
    }
    return true;
}

static void test_names(void **state)
{
    (void)state;
    assert_null(vt_name_check("data"));
    assert_null(vt_name_check("a"));
    assert_null(vt_name_check("9.log_x-1"));
    assert_null(vt_name_check("abcdefghijklmnopqrstuvwxyz012345")); /* 32 */
    assert_non_null(vt_name_check(""));
    assert_non_null(vt_name_check("abcdefghijklmnopqrstuvwxyz0123456")); /* 33 */
    assert_non_null(vt_name_check("-a"));
    assert_non_null(vt_name_check(".a"));
    assert_non_null(vt_name_check("a/b"));
    assert_non_null(vt_name_check("a b"));
    assert_non_null(vt_name_check("\xc3\xa9"));
    assert_string_equal(vt_strerror(VT_ENOENT), "no such volume");
    assert_string_equal(vt_strerror(12345), "unknown error");
}

/* Blank disk, format, create/grow/delete, reopen sees the same. */
static void test_basic(void **state)
{
    (void)state;
    md_clone_flushed(&work, &disk); /* all zeros */
    assert_int_equal(vt_open(&t, &vwork), VT_EBLANK);
    assert_int_equal(vt_format(&t, &vwork, 3), VT_EINVAL);
    assert_int_equal(vt_format(&t, &vwork, 4), VT_EINVAL);
    assert_int_equal(vt_format(&t, &vwork, UNIT), VT_OK);
    assert_int_equal(t.count, 0);
    assert_int_equal(vt_free_sectors(&t), DISK_SECTORS - VT_DATA_START_DEFAULT);
    assert_int_equal(vt_open(&t2, &vwork), VT_OK);
    assert_int_equal(t2.seq, 1);

    assert_int_equal(vt_create(&t, "data", 1), VT_OK); /* rounded up to one unit */
    const struct vt_volume *v = vt_find(&t, "data");
    assert_non_null(v);
    assert_int_equal(v->sectors, UNIT);
    assert_int_equal(v->extent_count, 1);
    assert_int_equal(v->extent[0].start, VT_DATA_START_DEFAULT);
    assert_int_equal(v->id, 1);
    assert_int_equal(vt_create(&t, "data", 1), VT_EEXIST);
    assert_int_equal(vt_create(&t, "bad name", 1), VT_EINVAL);
    assert_int_equal(vt_create(&t, "zero", 0), VT_EINVAL);
    assert_int_equal(vt_create(&t, "huge", (uint64_t)DISK_SECTORS * SECTOR), VT_ENOSPC);
    assert_int_equal(vt_create(&t, "huge", UINT64_MAX), VT_ENOSPC);
    assert_int_equal(vt_create(&t, "log", 3 * UNIT * SECTOR), VT_OK);
    assert_int_equal(vt_grow(&t, "data", 2 * UNIT * SECTOR),
                     VT_OK); /* "log" follows: a second extent */
    v = vt_find(&t, "data");
    assert_int_equal(v->sectors, 2 * UNIT);
    assert_int_equal(v->extent_count, 2);
    assert_int_equal(v->extent[1].start, VT_DATA_START_DEFAULT + 4 * UNIT);
    assert_int_equal(vt_grow(&t, "data", 3 * UNIT * SECTOR), VT_OK); /* in place: still two */
    v = vt_find(&t, "data");
    assert_int_equal(v->extent_count, 2);
    assert_int_equal(v->extent[1].sectors, 2 * UNIT);
    uint64_t seq = t.seq;
    assert_int_equal(vt_grow(&t, "data", 3 * UNIT * SECTOR), VT_OK); /* the same: nothing written */
    assert_int_equal(t.seq, seq);
    assert_int_equal(vt_grow(&t, "data", UNIT * SECTOR), VT_EINVAL);
    assert_int_equal(vt_grow(&t, "nope", UNIT * SECTOR), VT_ENOENT);
    assert_int_equal(vt_grow(&t, "data", 0), VT_EINVAL);
    assert_int_equal(vt_delete(&t, "nope"), VT_ENOENT);
    assert_int_equal(vt_delete(&t, ""), VT_EINVAL);
    assert_int_equal(vt_free_sectors(&t), DISK_SECTORS - VT_DATA_START_DEFAULT - 6 * UNIT);

    struct snap a, b;
    snap_of(&a, &t);
    assert_int_equal(vt_open(&t2, &vwork), VT_OK);
    snap_of(&b, &t2);
    assert_true(snap_equal(&a, &b));

    assert_int_equal(vt_delete(&t, "log"), VT_OK);
    assert_null(vt_find(&t, "log"));
    assert_int_equal(vt_create(&t, "log", UNIT * SECTOR), VT_OK);
    assert_int_equal(vt_find(&t, "log")->id, 3); /* ids are never reused */
    snap_of(&a, &t);
    assert_int_equal(vt_open(&t2, &vwork), VT_OK);
    snap_of(&b, &t2);
    assert_true(snap_equal(&a, &b));
}

/* vt_map across extents, and its refusals. */
static void test_map(void **state)
{
    (void)state;
    struct vt_volume v = {.name = "v", .sectors = 30, .id = 1, .extent_count = 3};
    v.extent[0] = (struct vt_extent){1000, 10};
    v.extent[1] = (struct vt_extent){5000, 15};
    v.extent[2] = (struct vt_extent){2000, 5};
    uint64_t ds, run;
    assert_true(vt_map(&v, 0, 30, &ds, &run));
    assert_int_equal(ds, 1000);
    assert_int_equal(run, 10);
    assert_true(vt_map(&v, 9, 2, &ds, &run));
    assert_int_equal(ds, 1009);
    assert_int_equal(run, 1);
    assert_true(vt_map(&v, 10, 4, &ds, &run));
    assert_int_equal(ds, 5000);
    assert_int_equal(run, 4);
    assert_true(vt_map(&v, 29, 1, &ds, &run));
    assert_int_equal(ds, 2004);
    assert_int_equal(run, 1);
    assert_false(vt_map(&v, 30, 1, &ds, &run));
    assert_false(vt_map(&v, 29, 2, &ds, &run));
    assert_false(vt_map(&v, 0, 0, &ds, &run));
    assert_false(vt_map(&v, UINT64_MAX, 2, &ds, &run));
    assert_false(vt_map(&v, 1, UINT64_MAX, &ds, &run));
}

/* Limits: 63 volumes, 12 extents, no space. */
static void test_limits(void **state)
{
    (void)state;
    md_clone_flushed(&work, &disk);
    assert_int_equal(vt_format(&t, &vwork, 8), VT_OK); /* 256 units of 4 KiB */
    char name[16];
    for (unsigned i = 0; i < VT_VOLUMES_MAX - 1; i++) {
        snprintf(name, sizeof name, "v%u", i);
        assert_int_equal(vt_create(&t, name, 4096), VT_OK);
    }
    assert_int_equal(vt_create(&t, "tail", vt_free_sectors(&t) * SECTOR), VT_OK);
    assert_int_equal(vt_find(&t, "tail")->extent_count, 1);
    assert_int_equal(vt_free_sectors(&t), 0);
    assert_int_equal(vt_create(&t, "one-more", 4096), VT_EFULL);
    /* Every other small volume deleted: 30 holes of one unit. Growing v1
     * takes the room after it first, then holes; beyond 12 extents it is
     * refused and nothing changes. */
    for (unsigned i = 2; i < VT_VOLUMES_MAX - 1; i += 2) {
        snprintf(name, sizeof name, "v%u", i);
        assert_int_equal(vt_delete(&t, name), VT_OK);
    }
    assert_int_equal(vt_free_sectors(&t), 30 * 8);
    struct snap before, after;
    snap_of(&before, &t);
    uint64_t seq = t.seq;
    uint32_t ops = work.ops;
    assert_int_equal(vt_grow(&t, "v1", 14 * 4096), VT_ENOSPC);
    assert_int_equal(t.seq, seq);
    assert_int_equal(work.ops, ops); /* nothing written */
    snap_of(&after, &t);
    assert_true(snap_equal(&before, &after));
    assert_int_equal(vt_grow(&t, "v1", 13 * 4096), VT_OK); /* the hole after it plus 11 */
    assert_int_equal(vt_find(&t, "v1")->extent_count, 12);
    assert_int_equal(vt_find(&t, "v1")->extent[0].sectors, 16);
    /* 18 holes left. */
    assert_int_equal(vt_create(&t, "rest", 18 * 4096 + 1), VT_ENOSPC);
    assert_int_equal(vt_create(&t, "more", 12 * 4096), VT_OK);
    assert_int_equal(vt_create(&t, "more2", 7 * 4096), VT_ENOSPC);
    assert_int_equal(vt_create(&t, "more3", 6 * 4096), VT_OK);
    assert_int_equal(vt_free_sectors(&t), 0);
    assert_int_equal(vt_open(&t2, &vwork), VT_OK);
    snap_of(&before, &t);
    snap_of(&after, &t2);
    assert_true(snap_equal(&before, &after));
}

/* One step of the crash scenario. */
typedef int (*step_fn)(struct vtab *tab);
static int s_create_a(struct vtab *tab)
{
    return vt_create(tab, "a", 2 * UNIT * SECTOR);
}
static int s_create_b(struct vtab *tab)
{
    return vt_create(tab, "b", UNIT * SECTOR);
}
static int s_grow_a(struct vtab *tab) /* in place is taken by b: a new extent */
{
    return vt_grow(tab, "a", 4 * UNIT * SECTOR);
}
static int s_delete_b(struct vtab *tab)
{
    return vt_delete(tab, "b");
}
static int s_create_c(struct vtab *tab) /* reuses b's space, which held data */
{
    return vt_create(tab, "c", 3 * UNIT * SECTOR);
}
static int s_grow_c(struct vtab *tab)
{
    return vt_grow(tab, "c", 5 * UNIT * SECTOR);
}
static int s_delete_a(struct vtab *tab)
{
    return vt_delete(tab, "a");
}

/*
 * For each step: from the state before it (all flushed), run it with the
 * power going before its first, second, ... disk operation (a write or a
 * flush) and after its last; for each such point, crash in every way; the
 * table read back is the old one or the new one (the new one if the step
 * returned VT_OK), and a volume the step gave new space reads zeros in it.
 * Between steps, the volumes' data areas are filled with a pattern.
 */
static void test_crash_between_any_two_writes(void **state)
{
    (void)state;
    static const step_fn steps[] = {s_create_a, s_create_b, s_grow_a,  s_delete_b,
                                    s_create_c, s_grow_c,   s_delete_a};
    static const enum crash_kind kinds[] = {CRASH_NONE, CRASH_ALL, CRASH_PREFIX_HALF, CRASH_ODD,
                                            CRASH_RANDOM};
    md_clone_flushed(&work, &disk);
    dirty_data(&work);
    assert_int_equal(vt_format(&t, &vwork, UNIT), VT_OK);
    md_clone_flushed(&disk, &work); /* disk: the state before the step */
    uint32_t points = 0, old_seen = 0, new_seen = 0;
    for (unsigned st = 0; st < sizeof steps / sizeof steps[0]; st++) {
        struct snap old_s, new_s;
        assert_int_equal(vt_open(&t, &vd), VT_OK);
        snap_of(&old_s, &t);
        /* A clean run: how many operations, and the state after. */
        md_clone_flushed(&work, &disk);
        assert_int_equal(vt_open(&t, &vwork), VT_OK);
        work.ops = 0;
        assert_int_equal(steps[st](&t), VT_OK);
        uint32_t n = work.ops;
        assert_true(n >= 2); /* at least the table write and its flush */
        snap_of(&new_s, &t);
        assert_false(snap_equal(&old_s, &new_s));

        for (uint32_t k = 0; k <= n; k++) {
            md_clone_flushed(&work, &disk);
            assert_int_equal(vt_open(&t, &vwork), VT_OK);
            work.ops_left = k;
            int rc = steps[st](&t);
            assert_true(k == n ? rc == VT_OK : rc == VT_EIO);
            for (unsigned ki = 0; ki < sizeof kinds / sizeof kinds[0]; ki++)
                for (uint32_t seed = 0; seed < (kinds[ki] == CRASH_RANDOM ? 6u : 1u); seed++) {
                    md_crash(&crashed, &work, kinds[ki], seed * 7919u + k);
                    assert_int_equal(vt_open(&t2, &vcrashed), VT_OK);
                    struct snap got;
                    snap_of(&got, &t2);
                    points++;
                    if (snap_equal(&got, &old_s)) {
                        assert_true(rc != VT_OK);
                        old_seen++;
                        continue;
                    }
                    if (!snap_equal(&got, &new_s))
                        fail_msg("step %u, power off before op %u of %u, crash kind %u: "
                                 "neither the old table nor the new one",
                                 st, k, n, kinds[ki]);
                    new_seen++;
                    /* A volume created or grown shows no old data anywhere. */
                    for (uint32_t i = 0; i < VT_VOLUMES_MAX; i++) {
                        const struct vt_volume *v = &t2.vol[i];
                        if (!v->name[0])
                            continue;
                        const struct vt_volume *o = NULL;
                        for (uint32_t j = 0; j < VT_VOLUMES_MAX; j++)
                            if (old_s.vol[j].name[0] && old_s.vol[j].id == v->id)
                                o = &old_s.vol[j];
                        if (!o)
                            assert_true(volume_reads_zero(&crashed, v));
                        else
                            for (uint32_t x = 0; x < v->extent_count; x++) {
                                /* what an extent has beyond the old one's */
                                const struct vt_extent *e = &v->extent[x];
                                uint64_t had = x < o->extent_count ? o->extent[x].sectors : 0;
                                struct vt_volume part = {.extent_count = 1};
                                part.extent[0] =
                                    (struct vt_extent){e->start + had, e->sectors - had};
                                assert_true(volume_reads_zero(&crashed, &part));
                            }
                    }
                }
        }
        /* On to the next step from the state after this one, with the
         * volumes' data overwritten (what a front end would do). */
        md_clone_flushed(&work, &disk);
        assert_int_equal(vt_open(&t, &vwork), VT_OK);
        assert_int_equal(steps[st](&t), VT_OK);
        for (uint32_t i = 0; i < VT_VOLUMES_MAX; i++)
            for (uint32_t x = 0; x < t.vol[i].extent_count; x++)
                memset(work.view + t.vol[i].extent[x].start * SECTOR, 0x5a,
                       t.vol[i].extent[x].sectors * SECTOR);
        assert_int_equal(md_flush(&work), 0);
        md_clone_flushed(&disk, &work);
    }
    /* Both outcomes were reached (the test can tell them apart). */
    assert_true(old_seen > 0);
    assert_true(new_seen > 0);
    if (getenv("VTAB_VERBOSE"))
        printf("crash points %u: old table %u, new table %u\n", points, old_seen, new_seen);
}

/* After a crash that tore the newer copy, the next change goes to the torn
 * copy, not over the good one. */
static void test_commit_after_torn_copy(void **state)
{
    (void)state;
    md_clone_flushed(&work, &disk);
    memset(work.view, 0, work.sectors * SECTOR);
    memset(work.durable, 0, work.sectors * SECTOR);
    assert_int_equal(vt_format(&t, &vwork, UNIT), VT_OK);
    assert_int_equal(vt_create(&t, "a", UNIT * SECTOR), VT_OK); /* copy B, seq 2 */
    assert_true(t.current_b);
    work.ops_left = 3; /* the zeroing writes and their flush go, the table write does not */
    assert_int_equal(vt_create(&t, "b", UNIT * SECTOR), VT_EIO);
    /* Tear copy A by hand: half of the new one. */
    uint8_t copy[VT_COPY_BYTES];
    memcpy(copy, work.view + VT_COPY_B_SECTOR * SECTOR, VT_COPY_BYTES);
    copy[16] = 3; /* seq 3 */
    memset(copy + VT_COPY_BYTES / 2, 0x77, VT_COPY_BYTES / 2);
    memcpy(work.view + VT_COPY_A_SECTOR * SECTOR, copy, VT_COPY_BYTES);
    work.ops_left = -1;
    assert_int_equal(vt_open(&t, &vwork), VT_OK);
    assert_int_equal(t.seq, 2);
    assert_true(t.current_b);
    assert_int_equal(vt_create(&t, "b", UNIT * SECTOR), VT_OK);
    assert_false(t.current_b); /* written over the torn A */
    assert_int_equal(vt_open(&t2, &vwork), VT_OK);
    assert_int_equal(t2.seq, 3);
    assert_non_null(vt_find(&t2, "a"));
    assert_non_null(vt_find(&t2, "b"));
}

/* Read errors, a disk too small, garbage. */
static void test_open_errors(void **state)
{
    (void)state;
    md_clone_flushed(&work, &disk);
    memset(work.view, 0, work.sectors * SECTOR);
    work.fail_reads = true;
    assert_int_equal(vt_open(&t, &vwork), VT_EIO);
    work.fail_reads = false;
    struct vt_disk tiny = vwork;
    tiny.sectors = VT_COPY_B_SECTOR + VT_COPY_SECTORS - 1;
    assert_int_equal(vt_open(&t, &tiny), VT_EDAMAGED);
    tiny.sectors = VT_DATA_START_DEFAULT + UNIT - 1;
    assert_int_equal(vt_format(&t, &tiny, UNIT), VT_ESMALL);
    work.view[VT_COPY_B_SECTOR * SECTOR + 100] = 1; /* not blank, not a table */
    assert_int_equal(vt_open(&t, &vwork), VT_EDAMAGED);
    /* A write error while formatting. */
    work.ops_left = 1;
    assert_int_equal(vt_format(&t, &vwork, UNIT), VT_EIO);
    work.ops_left = -1;
}

/* Formatting over a table (a newer one in either copy) leaves an empty
 * table, not the old one. */
static void test_format_over_table(void **state)
{
    (void)state;
    md_clone_flushed(&work, &disk);
    memset(work.view, 0, work.sectors * SECTOR);
    assert_int_equal(vt_format(&t, &vwork, UNIT), VT_OK);
    assert_int_equal(vt_create(&t, "a", UNIT * SECTOR), VT_OK); /* B, seq 2 */
    assert_int_equal(vt_create(&t, "b", UNIT * SECTOR), VT_OK); /* A, seq 3 */
    assert_int_equal(vt_delete(&t, "a"), VT_OK);                /* B, seq 4 */
    assert_int_equal(t.seq, 4);
    assert_true(t.current_b);
    assert_int_equal(vt_format(&t, &vwork, UNIT), VT_OK);
    assert_int_equal(vt_open(&t2, &vwork), VT_OK);
    assert_int_equal(t2.count, 0);
    assert_int_equal(t2.seq, 1);
}

/* ---- a lying disk: every field of a copy ---- */

static uint8_t good[VT_COPY_BYTES];

static void put32le(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64le(uint8_t *p, uint64_t v)
{
    put32le(p, (uint32_t)v);
    put32le(p + 4, (uint32_t)(v >> 32));
}
static void recrc(uint8_t *c)
{
    put32le(c + 12, 0);
    put32le(c + 12, frame_crc32c(0, c, VT_COPY_BYTES));
}
static uint8_t *entry(uint8_t *c, unsigned i)
{
    return c + VT_HEADER_BYTES + i * VT_ENTRY_BYTES;
}

typedef void (*corrupt_fn)(uint8_t *c);
static void c_magic(uint8_t *c)
{
    c[0] = 'X';
}
static void c_version(uint8_t *c)
{
    put32le(c + 8, 2);
}
static void c_seq0(uint8_t *c)
{
    put64le(c + 16, 0);
}
static void c_count_high(uint8_t *c)
{
    put32le(c + 24, 3);
}
static void c_count_huge(uint8_t *c)
{
    put32le(c + 24, 0xffffffffu);
}
static void c_reserved(uint8_t *c)
{
    c[200] = 1;
}
static void c_unit_odd(uint8_t *c)
{
    put32le(c + 40, UNIT + 1);
}
static void c_unit_small(uint8_t *c)
{
    put32le(c + 40, 4);
}
static void c_unit_huge(uint8_t *c)
{
    put32le(c + 40, 1u << 22);
}
static void c_data_start_table(uint8_t *c)
{
    put64le(c + 32, UNIT); /* inside the table copies */
}
static void c_data_start_unaligned(uint8_t *c)
{
    put64le(c + 32, VT_DATA_START_DEFAULT + 1);
}
static void c_data_start_beyond(uint8_t *c)
{
    put64le(c + 32, (uint64_t)1 << 40);
}
static void c_name_bad(uint8_t *c)
{
    entry(c, 0)[0] = '/';
}
static void c_name_after_nul(uint8_t *c)
{
    entry(c, 0)[20] = 'x';
}
static void c_name_empty(uint8_t *c)
{
    memset(entry(c, 0), 0, 32);
}
static void c_flags(uint8_t *c)
{
    entry(c, 0)[44] = 1;
}
static void c_pad(uint8_t *c)
{
    entry(c, 0)[60] = 1;
}
static void c_id0(uint8_t *c)
{
    put32le(entry(c, 0) + 40, 0);
}
static void c_id_next(uint8_t *c)
{
    put32le(entry(c, 0) + 40, 3); /* next_id is 3 */
}
static void c_id_dup(uint8_t *c)
{
    put32le(entry(c, 1) + 40, 1);
}
static void c_name_dup(uint8_t *c)
{
    memcpy(entry(c, 1), entry(c, 0), 32);
}
static void c_extents0(uint8_t *c)
{
    put32le(entry(c, 0) + 48, 0);
}
static void c_extents_many(uint8_t *c)
{
    put32le(entry(c, 0) + 48, VT_EXTENTS_MAX + 1);
}
static void c_extent_unused_set(uint8_t *c)
{
    put64le(entry(c, 0) + 64 + 16 * 5, 1);
}
static void c_extent_len0(uint8_t *c)
{
    put64le(entry(c, 0) + 64 + 8, 0);
    put64le(entry(c, 0) + 32, 0);
}
static void c_extent_unaligned(uint8_t *c)
{
    put64le(entry(c, 0) + 64, VT_DATA_START_DEFAULT + 8);
}
static void c_extent_in_table(uint8_t *c)
{
    put64le(entry(c, 0) + 64, 0);
}
static void c_extent_beyond(uint8_t *c)
{
    put64le(entry(c, 0) + 64, DISK_SECTORS);
}
static void c_extent_wrap(uint8_t *c)
{
    /* start + length wraps around 2^64 back into the disk */
    put64le(entry(c, 0) + 64 + 8, (uint64_t)0 - VT_DATA_START_DEFAULT);
    put64le(entry(c, 0) + 32, (uint64_t)0 - VT_DATA_START_DEFAULT);
}
static void c_size_mismatch(uint8_t *c)
{
    put64le(entry(c, 0) + 32, 3 * UNIT);
}
static void c_overlap_other(uint8_t *c)
{
    put64le(entry(c, 1) + 64, VT_DATA_START_DEFAULT + UNIT); /* inside a's 2 units */
}
static void c_overlap_self(uint8_t *c)
{
    uint8_t *e = entry(c, 0);
    put32le(e + 48, 2);
    put64le(e + 64 + 16, VT_DATA_START_DEFAULT + UNIT);
    put64le(e + 64 + 24, UNIT);
    put64le(e + 32, 3 * UNIT);
}

static void test_lying_disk(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        corrupt_fn fn;
        bool keep_crc;
    } cases[] = {
        {"checksum", c_magic, true}, /* any change without a new checksum */
        {"magic", c_magic, false},
        {"version", c_version, false},
        {"sequence 0", c_seq0, false},
        {"count above the entries", c_count_high, false},
        {"count huge", c_count_huge, false},
        {"reserved header bytes", c_reserved, false},
        {"unit not a power of two", c_unit_odd, false},
        {"unit too small", c_unit_small, false},
        {"unit too large", c_unit_huge, false},
        {"data inside the table", c_data_start_table, false},
        {"data start unaligned", c_data_start_unaligned, false},
        {"data start beyond the disk", c_data_start_beyond, false},
        {"bad name", c_name_bad, false},
        {"garbage after a name", c_name_after_nul, false},
        {"empty name, rest set", c_name_empty, false},
        {"flags", c_flags, false},
        {"entry padding", c_pad, false},
        {"id 0", c_id0, false},
        {"id not below next_id", c_id_next, false},
        {"duplicate id", c_id_dup, false},
        {"duplicate name", c_name_dup, false},
        {"no extents", c_extents0, false},
        {"13 extents", c_extents_many, false},
        {"unused extent set", c_extent_unused_set, false},
        {"extent of length 0", c_extent_len0, false},
        {"extent unaligned", c_extent_unaligned, false},
        {"extent over the table", c_extent_in_table, false},
        {"extent beyond the disk", c_extent_beyond, false},
        {"extent wraps", c_extent_wrap, false},
        {"size is not the extents' sum", c_size_mismatch, false},
        {"extents of two volumes overlap", c_overlap_other, false},
        {"extents of one volume overlap", c_overlap_self, false},
    };
    /* A good table in copy A (seq 3: a, b) and the same in B one sequence
     * up, each case corrupting B: open must fall back to A. */
    md_clone_flushed(&work, &disk);
    memset(work.view, 0, work.sectors * SECTOR);
    assert_int_equal(vt_format(&t, &vwork, UNIT), VT_OK);
    assert_int_equal(vt_create(&t, "a", 2 * UNIT * SECTOR), VT_OK);
    assert_int_equal(vt_create(&t, "b", UNIT * SECTOR), VT_OK);
    assert_false(t.current_b);
    assert_int_equal(t.seq, 3);
    memcpy(good, work.view + VT_COPY_A_SECTOR * SECTOR, VT_COPY_BYTES);
    put64le(good + 16, 4);
    recrc(good);
    /* The uncorrupted copy B wins. */
    memcpy(work.view + VT_COPY_B_SECTOR * SECTOR, good, VT_COPY_BYTES);
    assert_int_equal(vt_open(&t, &vwork), VT_OK);
    assert_int_equal(t.seq, 4);
    assert_true(t.current_b);
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t c[VT_COPY_BYTES];
        memcpy(c, good, sizeof c);
        cases[i].fn(c);
        if (!cases[i].keep_crc)
            recrc(c);
        memcpy(work.view + VT_COPY_B_SECTOR * SECTOR, c, VT_COPY_BYTES);
        int rc = vt_open(&t, &vwork);
        if (rc != VT_OK || t.seq != 3 || t.current_b)
            fail_msg("%s: copy B believed (rc %d, seq %llu)", cases[i].name, rc,
                     (unsigned long long)t.seq);
        assert_int_equal(t.count, 2);
        /* The same corruption in both copies: damaged. */
        uint8_t a[VT_COPY_BYTES];
        memcpy(a, work.view + VT_COPY_A_SECTOR * SECTOR, sizeof a);
        memcpy(work.view + VT_COPY_A_SECTOR * SECTOR, c, VT_COPY_BYTES);
        assert_int_equal(vt_open(&t, &vwork), VT_EDAMAGED);
        memcpy(work.view + VT_COPY_A_SECTOR * SECTOR, a, sizeof a);
    }
    /* A disk that claims to be enormous: no overflow, extents near the top
     * of the usable range are accepted and the rest is ignored. */
    struct vt_disk big = vwork;
    big.sectors = UINT64_MAX;
    uint8_t c[VT_COPY_BYTES];
    memcpy(c, good, sizeof c);
    put64le(entry(c, 1) + 64, VT_DISK_SECTORS_MAX - UNIT);
    recrc(c);
    memcpy(work.view + VT_COPY_B_SECTOR * SECTOR, c, VT_COPY_BYTES);
    assert_int_equal(vt_open(&t, &big), VT_OK);
    assert_int_equal(t.seq, 4);
    put64le(entry(c, 1) + 64, VT_DISK_SECTORS_MAX);
    recrc(c);
    memcpy(work.view + VT_COPY_B_SECTOR * SECTOR, c, VT_COPY_BYTES);
    assert_int_equal(vt_open(&t, &big), VT_OK);
    assert_int_equal(t.seq, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_crash_between_any_two_writes),
        cmocka_unit_test(test_commit_after_torn_copy),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_format_over_table),
        cmocka_unit_test(test_lying_disk),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
