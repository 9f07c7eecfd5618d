/*
 * Host tests of the split virtqueue (guest-kit/src/virtqueue.c) against a
 * simulated device written from the virtio 1.2 specification (2.7): the
 * device walks and checks every chain the driver publishes, echoes the
 * readable bytes into the writable buffers, completes chains out of order,
 * and follows the notification rules (EVENT_IDX or the flags). Device
 * addresses are host pointers.
 *
 * - random runs with and without EVENT_IDX where the device only works after
 *   a kick and the driver only harvests after an interrupt (or the re-check
 *   after arming): every chain must come back exactly once with the echoed
 *   data, so a lost notification in either direction hangs and fails;
 * - hostile devices: each impossible used-ring value breaks the queue, and
 *   random garbage in the used ring never crashes (ASan) nor returns a token
 *   twice; detach gives every token back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gk/virtqueue.h"

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

/* ------------------------------------------------------------------------ */
/* The queue memory and the simulated device. */

struct qmem {
    uint16_t size;
    struct gk_vq_desc *desc;
    struct gk_vq_avail *avail;
    struct gk_vq_used *used;
    struct gk_vq_slot *slots;
};

static void qmem_alloc(struct qmem *m, uint16_t size)
{
    m->size = size;
    m->desc = aligned_alloc(16, (gk_vq_desc_bytes(size) + 15) & ~(size_t)15);
    m->avail = aligned_alloc(16, (gk_vq_avail_bytes(size) + 15) & ~(size_t)15);
    m->used = aligned_alloc(16, (gk_vq_used_bytes(size) + 15) & ~(size_t)15);
    m->slots = calloc(size, sizeof(*m->slots));
}

static void qmem_free(struct qmem *m)
{
    free(m->desc);
    free(m->avail);
    free(m->used);
    free(m->slots);
}

#define DEV_PENDING_MAX 32768

struct device {
    struct qmem *m;
    bool event_idx;
    bool active;                       /* working; otherwise waits for a kick */
    uint16_t last_avail;               /* next avail entry to take */
    uint16_t used_idx;                 /* private copy of used->idx */
    uint16_t signalled;                /* used_idx at the last interrupt decision */
    uint16_t pending[DEV_PENDING_MAX]; /* heads taken, not yet used */
    uint32_t pending_len[DEV_PENDING_MAX];
    unsigned pending_count;
    unsigned kicks, interrupts;
};

static uint16_t *dev_avail_event(struct device *d)
{
    return (uint16_t *)(void *)&d->m->used->ring[d->m->size];
}

static uint16_t dev_used_event(struct device *d)
{
    return d->m->avail->ring[d->m->size];
}

/* Checks a chain the way a careful device would, and echoes its readable
 * bytes into its writable ones. Returns the number of bytes written. */
static uint32_t dev_process_chain(struct device *d, uint16_t head)
{
    struct qmem *m = d->m;
    unsigned char data[1 << 16];
    size_t data_len = 0, written = 0;
    bool in_writable = false;
    uint16_t i = head;
    for (unsigned n = 0;; n++) {
        assert_true(n < m->size);
        assert_true(i < m->size);
        struct gk_vq_desc *ds = &m->desc[i];
        assert_true(ds->len > 0);
        assert_false(ds->flags & GK_VQ_DESC_F_INDIRECT);
        if (ds->flags & GK_VQ_DESC_F_WRITE) {
            in_writable = true;
            size_t n_copy = data_len - written < ds->len ? data_len - written : ds->len;
            memcpy((void *)(uintptr_t)ds->addr, data + written, n_copy);
            written += n_copy;
        } else {
            assert_false(in_writable); /* readable buffers come first */
            assert_true(data_len + ds->len <= sizeof(data));
            memcpy(data + data_len, (void *)(uintptr_t)ds->addr, ds->len);
            data_len += ds->len;
        }
        if (!(ds->flags & GK_VQ_DESC_F_NEXT))
            break;
        i = ds->next;
    }
    return (uint32_t)written;
}

static void dev_interrupt_decision(struct device *d, bool *irq)
{
    uint16_t old = d->signalled;
    d->signalled = d->used_idx;
    bool fire = d->event_idx ? need_event(dev_used_event(d), d->used_idx, old)
                             : !(d->m->avail->flags & GK_VQ_AVAIL_F_NO_INTERRUPT);
    if (fire && old != d->used_idx) {
        d->interrupts++;
        *irq = true;
    }
}

/* One device step: take an available chain (if active), or complete a
 * random pending one, or go idle (arming notifications, then re-checking). */
static bool dev_step(struct device *d, bool *irq)
{
    struct qmem *m = d->m;
    uint16_t avail_idx = __atomic_load_n(&m->avail->idx, __ATOMIC_ACQUIRE);
    bool can_take = d->active && avail_idx != d->last_avail;
    /* Seen everything available: arm notifications, then look once more
     * (also while chains taken earlier are still being worked on). */
    if (d->active && !can_take && rng() % 2) {
        if (d->event_idx)
            __atomic_store_n(dev_avail_event(d), d->last_avail, __ATOMIC_RELAXED);
        else
            m->used->flags = 0;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (__atomic_load_n(&m->avail->idx, __ATOMIC_ACQUIRE) == d->last_avail)
            d->active = false;
        return true;
    }
    if (d->pending_count && (!can_take || rng() % 2)) {
        unsigned k = (unsigned)(rng() % d->pending_count);
        uint16_t head = d->pending[k];
        uint32_t len = d->pending_len[k];
        d->pending[k] = d->pending[d->pending_count - 1];
        d->pending_len[k] = d->pending_len[d->pending_count - 1];
        d->pending_count--;
        m->used->ring[d->used_idx & (m->size - 1)] = (struct gk_vq_used_elem){head, len};
        d->used_idx++;
        __atomic_store_n(&m->used->idx, d->used_idx, __ATOMIC_RELEASE);
        dev_interrupt_decision(d, irq);
        return true;
    }
    if (can_take) {
        assert_true((uint16_t)(avail_idx - d->last_avail) <= m->size);
        uint16_t head = m->avail->ring[d->last_avail & (m->size - 1)];
        d->last_avail++;
        assert_true(d->pending_count < DEV_PENDING_MAX);
        d->pending[d->pending_count] = head;
        d->pending_len[d->pending_count++] = dev_process_chain(d, head);
        return true;
    }
    if (d->active) {
        /* Nothing to take: ask for a kick, then look once more. */
        if (d->event_idx)
            __atomic_store_n(dev_avail_event(d), d->last_avail, __ATOMIC_RELAXED);
        else
            m->used->flags = 0;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (__atomic_load_n(&m->avail->idx, __ATOMIC_ACQUIRE) == d->last_avail)
            d->active = false;
        return true;
    }
    return false;
}

static void dev_kick(struct device *d)
{
    d->kicks++;
    d->active = true;
    if (!d->event_idx)
        d->m->used->flags = GK_VQ_USED_F_NO_NOTIFY; /* busy: no kicks needed */
}

/* ------------------------------------------------------------------------ */

struct req {
    unsigned char out[3][64];
    unsigned char in[3][64];
    unsigned out_count, in_count;
    uint32_t out_len[3], in_len[3];
    bool in_flight, done;
};

static void random_run(uint16_t size, bool event_idx, unsigned chains)
{
    struct qmem m;
    struct gk_virtqueue vq;
    qmem_alloc(&m, size);
    assert_int_equal(gk_vq_init(&vq, size, m.desc, m.avail, m.used, m.slots, event_idx), GK_VQ_OK);
    struct device *d = calloc(1, sizeof(*d));
    d->m = &m;
    d->event_idx = event_idx;
    struct req *reqs = calloc(chains, sizeof(*reqs));
    unsigned added = 0, harvested = 0, full = 0;
    bool polling = false, irq = false, arming = false;
    unsigned unadded_kick = 0;

    for (unsigned step = 0; harvested < chains; step++) {
        assert_true(step < chains * 200u); /* a lost notification ends here */
        unsigned what = (unsigned)(rng() % 4);
        if (what == 0 && added < chains) {
            /* Driver: add a batch, then decide once whether to kick. */
            unsigned batch = 1 + (unsigned)(rng() % 4);
            for (unsigned b = 0; b < batch && added < chains; b++) {
                struct req *r = &reqs[added];
                r->out_count = (unsigned)(rng() % 3) + 1;
                r->in_count = (unsigned)(rng() % 3) + (r->out_count == 0);
                struct gk_vq_buf bufs[6];
                unsigned n = 0;
                for (unsigned i = 0; i < r->out_count; i++) {
                    r->out_len[i] = 1 + (uint32_t)(rng() % 64);
                    for (unsigned j = 0; j < r->out_len[i]; j++)
                        r->out[i][j] = (unsigned char)rng();
                    bufs[n++] = (struct gk_vq_buf){(uintptr_t)r->out[i], r->out_len[i]};
                }
                for (unsigned i = 0; i < r->in_count; i++) {
                    r->in_len[i] = 1 + (uint32_t)(rng() % 64);
                    bufs[n++] = (struct gk_vq_buf){(uintptr_t)r->in[i], r->in_len[i]};
                }
                unsigned free_before = gk_vq_free_count(&vq);
                int rc = gk_vq_add(&vq, bufs, r->out_count, r->in_count, r);
                if (rc == GK_VQ_EFULL) {
                    assert_true(free_before < n);
                    assert_int_equal(gk_vq_free_count(&vq), free_before);
                    full++;
                    break;
                }
                assert_int_equal(rc, GK_VQ_OK);
                assert_int_equal(gk_vq_free_count(&vq), free_before - n);
                r->in_flight = true;
                added++;
                unadded_kick++;
            }
            if (rng() % 3 == 0 || added == chains) {
                if (gk_vq_kick_needed(&vq))
                    dev_kick(d);
                unadded_kick = 0;
            }
        } else if (what == 1) {
            dev_step(d, &irq);
        } else if (what == 2 && (polling || irq)) {
            /* Driver: interrupt handler / poll loop. */
            if (irq) {
                irq = false;
                polling = true;
                gk_vq_disable_cb(&vq);
            }
            if (arming) {
                /* The device may have used chains since the ring looked
                 * empty, while interrupts were off: the re-check sees them. */
                arming = false;
                if (!gk_vq_enable_cb(&vq))
                    polling = false;
                else
                    gk_vq_disable_cb(&vq);
                continue;
            }
            void *token;
            uint32_t len;
            int rc = gk_vq_get_used(&vq, &token, &len);
            if (rc == GK_VQ_EEMPTY) {
                arming = true; /* next step: arm and re-check */
                continue;
            }
            assert_int_equal(rc, GK_VQ_OK);
            struct req *r = token;
            assert_true(r >= reqs && r < reqs + chains);
            assert_true(r->in_flight);
            r->in_flight = false;
            r->done = true;
            harvested++;
            /* The device echoed the readable bytes into the writable ones. */
            unsigned char sent[192], got[192];
            size_t sent_len = 0, cap = 0;
            for (unsigned i = 0; i < r->out_count; i++) {
                memcpy(sent + sent_len, r->out[i], r->out_len[i]);
                sent_len += r->out_len[i];
            }
            for (unsigned i = 0; i < r->in_count; i++) {
                memcpy(got + cap, r->in[i], r->in_len[i]);
                cap += r->in_len[i];
            }
            size_t expect = sent_len < cap ? sent_len : cap;
            assert_int_equal(len, expect);
            assert_memory_equal(sent, got, expect);
        } else if (what == 3 && added == chains && unadded_kick) {
            if (gk_vq_kick_needed(&vq))
                dev_kick(d);
            unadded_kick = 0;
        }
    }
    for (unsigned i = 0; i < chains; i++)
        assert_true(reqs[i].done);
    assert_int_equal(gk_vq_free_count(&vq), size);
    assert_false(gk_vq_is_broken(&vq));
    /* Suppression works: far fewer notifications than chains. */
    assert_true(d->kicks < chains);
    assert_true(d->interrupts < chains);
    print_message("size %u event_idx %d: %u chains, %u kicks, %u interrupts, %u full\n", size,
                  event_idx, chains, d->kicks, d->interrupts, full);
    free(reqs);
    free(d);
    qmem_free(&m);
}

static void test_random_event_idx(void **state)
{
    (void)state;
    random_run(8, true, 3000);
    random_run(256, true, 20000); /* wraps the 16-bit indexes */
    random_run(32768, true, 70000);
}

static void test_random_flags(void **state)
{
    (void)state;
    random_run(8, false, 3000);
    random_run(16, false, 3000);
    random_run(256, false, 20000);
}

/* ------------------------------------------------------------------------ */
/* Hostile devices. */

struct small {
    struct qmem m;
    struct gk_virtqueue vq;
    unsigned char buf[8][32];
    int tokens[8];
};

static void small_setup(struct small *s)
{
    qmem_alloc(&s->m, 8);
    assert_int_equal(gk_vq_init(&s->vq, 8, s->m.desc, s->m.avail, s->m.used, s->m.slots, true),
                     GK_VQ_OK);
    /* Three chains: heads 0 (2 descs), 2 (2 descs), 4 (1 desc). */
    struct gk_vq_buf b2[2] = {{(uintptr_t)s->buf[0], 32}, {(uintptr_t)s->buf[1], 16}};
    assert_int_equal(gk_vq_add(&s->vq, b2, 1, 1, &s->tokens[0]), GK_VQ_OK);
    b2[0].addr = (uintptr_t)s->buf[2];
    b2[1].addr = (uintptr_t)s->buf[3];
    assert_int_equal(gk_vq_add(&s->vq, b2, 1, 1, &s->tokens[1]), GK_VQ_OK);
    struct gk_vq_buf b1 = {(uintptr_t)s->buf[4], 8};
    assert_int_equal(gk_vq_add(&s->vq, &b1, 0, 1, &s->tokens[2]), GK_VQ_OK);
    assert_int_equal(s->m.avail->idx, 3);
    assert_int_equal(s->m.avail->ring[0], 0);
    assert_int_equal(s->m.avail->ring[1], 2);
    assert_int_equal(s->m.avail->ring[2], 4);
    assert_int_equal(gk_vq_free_count(&s->vq), 3);
}

static void device_uses(struct small *s, uint32_t id, uint32_t len)
{
    uint16_t idx = s->m.used->idx;
    s->m.used->ring[idx & 7] = (struct gk_vq_used_elem){id, len};
    s->m.used->idx = (uint16_t)(idx + 1);
}

static void expect_broken(struct small *s)
{
    unsigned free_before = gk_vq_free_count(&s->vq);
    void *token = NULL;
    assert_int_equal(gk_vq_get_used(&s->vq, &token, NULL), GK_VQ_EBROKEN);
    assert_null(token);
    assert_true(gk_vq_is_broken(&s->vq));
    assert_int_equal(gk_vq_free_count(&s->vq), free_before);
    /* Broken for good: nothing more goes to or comes from the device. */
    assert_int_equal(gk_vq_get_used(&s->vq, &token, NULL), GK_VQ_EBROKEN);
    struct gk_vq_buf b = {(uintptr_t)s->buf[7], 8};
    assert_int_equal(gk_vq_add(&s->vq, &b, 1, 0, &s->tokens[7]), GK_VQ_EBROKEN);
    assert_false(gk_vq_kick_needed(&s->vq));
    assert_true(gk_vq_enable_cb(&s->vq));
    /* Detach gives back exactly the chains still in flight, then resets. */
    unsigned seen = 0;
    while (gk_vq_detach(&s->vq, &token) == GK_VQ_OK) {
        int *t = token;
        assert_true(t >= s->tokens && t < s->tokens + 3);
        assert_false(seen & (1u << (t - s->tokens)));
        seen |= 1u << (t - s->tokens);
    }
    assert_int_equal(gk_vq_free_count(&s->vq), 8);
    assert_false(gk_vq_is_broken(&s->vq));
    assert_int_equal(s->m.avail->idx, 0);
    qmem_free(&s->m);
}

static void test_used_idx_runs_ahead(void **state)
{
    (void)state;
    struct small s;
    small_setup(&s);
    s.m.used->idx = 4; /* 4 used, only 3 in flight */
    expect_broken(&s);
}

static void test_used_id_out_of_range(void **state)
{
    (void)state;
    struct small s;
    small_setup(&s);
    device_uses(&s, 8, 0);
    expect_broken(&s);
    small_setup(&s);
    device_uses(&s, 0xffffffffu, 0);
    expect_broken(&s);
}

static void test_used_id_not_a_head(void **state)
{
    (void)state;
    struct small s;
    small_setup(&s);
    device_uses(&s, 1, 0); /* second descriptor of chain 0 */
    expect_broken(&s);
    small_setup(&s);
    device_uses(&s, 6, 0); /* a free descriptor */
    expect_broken(&s);
}

static void test_used_twice(void **state)
{
    (void)state;
    struct small s;
    small_setup(&s);
    device_uses(&s, 2, 16);
    device_uses(&s, 2, 16);
    void *token;
    uint32_t len;
    assert_int_equal(gk_vq_get_used(&s.vq, &token, &len), GK_VQ_OK);
    assert_ptr_equal(token, &s.tokens[1]);
    assert_int_equal(len, 16);
    assert_int_equal(gk_vq_free_count(&s.vq), 5);
    expect_broken(&s);
}

static void test_used_len_too_big(void **state)
{
    (void)state;
    struct small s;
    small_setup(&s);
    device_uses(&s, 4, 9); /* chain 4 has 8 writable bytes */
    expect_broken(&s);
    small_setup(&s);
    device_uses(&s, 0, 17); /* chain 0: 16 writable (the 32 are readable) */
    expect_broken(&s);
    small_setup(&s);
    device_uses(&s, 4, 8); /* exactly the writable size is fine */
    assert_int_equal(gk_vq_get_used(&s.vq, NULL, NULL), GK_VQ_OK);
    qmem_free(&s.m);
}

/* A device that writes random garbage into the used ring: the driver never
 * crashes, never returns a token twice or one not in flight, and detach
 * returns every token exactly once in total. */
static void test_used_garbage(void **state)
{
    (void)state;
    int tokens[16] = {0};
    static unsigned char buf[16][16];
    for (unsigned round = 0; round < 2000; round++) {
        struct qmem m;
        struct gk_virtqueue vq;
        qmem_alloc(&m, 16);
        assert_int_equal(gk_vq_init(&vq, 16, m.desc, m.avail, m.used, m.slots, round & 1),
                         GK_VQ_OK);
        unsigned count = 0;
        for (unsigned i = 0; i < 16; i++) {
            struct gk_vq_buf b[2] = {{(uintptr_t)buf[i], 8}, {(uintptr_t)buf[i] + 8, 8}};
            unsigned n = 1 + (unsigned)(rng() % 2);
            if (gk_vq_add(&vq, b, n - 1, 1, &tokens[i]) != GK_VQ_OK)
                break;
            count++;
        }
        unsigned returned = 0;
        for (unsigned k = 0; k < 40; k++) {
            unsigned what = (unsigned)(rng() % 4);
            if (what == 0)
                m.used->idx = (uint16_t)rng();
            else if (what == 1)
                m.used->idx = (uint16_t)(m.used->idx + rng() % 3);
            uint32_t r = (uint32_t)rng();
            m.used->ring[rng() % 16] = (struct gk_vq_used_elem){
                r % 4 ? r % 20 : r, (uint32_t)(rng() % 4 ? rng() % 12 : rng())};
            void *token;
            int rc = gk_vq_get_used(&vq, &token, NULL);
            assert_true(rc == GK_VQ_OK || rc == GK_VQ_EEMPTY || rc == GK_VQ_EBROKEN);
            if (rc == GK_VQ_OK) {
                int *t = token;
                assert_true(t >= tokens && t < tokens + count);
                assert_true(*t != 0x7777);
                *t = 0x7777;
                returned++;
            }
            assert_true(gk_vq_free_count(&vq) <= 16);
        }
        void *token;
        while (gk_vq_detach(&vq, &token) == GK_VQ_OK) {
            int *t = token;
            assert_true(t >= tokens && t < tokens + count);
            assert_true(*t != 0x7777);
            *t = 0x7777;
            returned++;
        }
        assert_int_equal(returned, count);
        for (unsigned i = 0; i < count; i++)
            tokens[i] = 0;
        assert_int_equal(gk_vq_free_count(&vq), 16);
        qmem_free(&m);
    }
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct qmem m;
    struct gk_virtqueue vq;
    qmem_alloc(&m, 8);
    assert_int_equal(gk_vq_init(&vq, 0, m.desc, m.avail, m.used, m.slots, false), GK_VQ_EINVAL);
    assert_int_equal(gk_vq_init(&vq, 6, m.desc, m.avail, m.used, m.slots, false), GK_VQ_EINVAL);
    assert_int_equal(
        gk_vq_init(&vq, 8, (void *)((char *)m.desc + 8), m.avail, m.used, m.slots, false),
        GK_VQ_EINVAL);
    assert_int_equal(gk_vq_init(&vq, 8, m.desc, m.avail, m.used, NULL, false), GK_VQ_EINVAL);
    assert_int_equal(gk_vq_init(&vq, 8, m.desc, m.avail, m.used, m.slots, false), GK_VQ_OK);
    int token;
    struct gk_vq_buf b[9];
    for (unsigned i = 0; i < 9; i++)
        b[i] = (struct gk_vq_buf){0x1000u * (i + 1), 8};
    assert_int_equal(gk_vq_add(&vq, b, 0, 0, &token), GK_VQ_EINVAL);
    assert_int_equal(gk_vq_add(&vq, b, 1, 0, NULL), GK_VQ_EINVAL);
    assert_int_equal(gk_vq_add(&vq, b, 5, 4, &token), GK_VQ_EINVAL); /* longer than the queue */
    b[1].len = 0;
    assert_int_equal(gk_vq_add(&vq, b, 2, 0, &token), GK_VQ_EINVAL);
    b[1] = (struct gk_vq_buf){UINT64_MAX - 4, 8}; /* wraps */
    assert_int_equal(gk_vq_add(&vq, b, 2, 0, &token), GK_VQ_EINVAL);
    b[1] = (struct gk_vq_buf){0x2000, 8};
    assert_int_equal(gk_vq_free_count(&vq), 8);
    assert_int_equal(m.avail->idx, 0);
    assert_int_equal(gk_vq_add(&vq, b, 6, 0, &token), GK_VQ_OK);
    assert_int_equal(gk_vq_add(&vq, b, 3, 0, &token), GK_VQ_EFULL);
    assert_int_equal(gk_vq_add(&vq, b, 1, 1, &token), GK_VQ_OK);
    assert_int_equal(gk_vq_free_count(&vq), 0);
    assert_int_equal(gk_vq_get_used(&vq, NULL, NULL), GK_VQ_EEMPTY);
    /* The chain in the table: flags, order and links as the driver made them. */
    assert_int_equal(m.desc[0].flags, GK_VQ_DESC_F_NEXT);
    assert_int_equal(m.desc[5].flags, 0);
    assert_int_equal(m.desc[6].flags, GK_VQ_DESC_F_NEXT);
    assert_int_equal(m.desc[7].flags, GK_VQ_DESC_F_WRITE);
    assert_int_equal(m.desc[6].next, 7);
    assert_int_equal(m.desc[2].addr, 0x3000);
    qmem_free(&m);
}

static void test_kick_decision(void **state)
{
    (void)state;
    struct qmem m;
    struct gk_virtqueue vq;
    int token;
    struct gk_vq_buf b = {0x1000, 8};
    qmem_alloc(&m, 8);
    /* Without EVENT_IDX: the device's NO_NOTIFY flag decides. */
    assert_int_equal(gk_vq_init(&vq, 8, m.desc, m.avail, m.used, m.slots, false), GK_VQ_OK);
    assert_false(gk_vq_kick_needed(&vq)); /* nothing added */
    gk_vq_add(&vq, &b, 1, 0, &token);
    assert_true(gk_vq_kick_needed(&vq));
    assert_false(gk_vq_kick_needed(&vq));
    m.used->flags = GK_VQ_USED_F_NO_NOTIFY;
    gk_vq_add(&vq, &b, 1, 0, &token);
    assert_false(gk_vq_kick_needed(&vq));
    /* The driver's interrupt flag. */
    gk_vq_disable_cb(&vq);
    assert_int_equal(m.avail->flags, GK_VQ_AVAIL_F_NO_INTERRUPT);
    assert_false(gk_vq_enable_cb(&vq));
    assert_int_equal(m.avail->flags, 0);
    m.used->ring[0] = (struct gk_vq_used_elem){0, 0};
    m.used->idx = 1;
    assert_true(gk_vq_enable_cb(&vq)); /* the re-check sees the pending entry */

    /* With EVENT_IDX: kick iff the new entries cross avail_event. */
    uint16_t *avail_event = (uint16_t *)(void *)&m.used->ring[8];
    uint16_t *used_event = &m.avail->ring[8];
    assert_int_equal(gk_vq_init(&vq, 8, m.desc, m.avail, m.used, m.slots, true), GK_VQ_OK);
    *avail_event = 0; /* device wants to hear about entry 0 */
    gk_vq_add(&vq, &b, 1, 0, &token);
    assert_true(gk_vq_kick_needed(&vq));
    gk_vq_add(&vq, &b, 1, 0, &token); /* entry 1; device still asks for 0 */
    assert_false(gk_vq_kick_needed(&vq));
    *avail_event = 3; /* wants entry 3: adding 2 is not enough, 3 is */
    gk_vq_add(&vq, &b, 1, 0, &token);
    assert_false(gk_vq_kick_needed(&vq));
    gk_vq_add(&vq, &b, 1, 0, &token);
    assert_true(gk_vq_kick_needed(&vq));
    gk_vq_disable_cb(&vq);
    assert_int_equal(*used_event, 0x8000);
    assert_false(gk_vq_enable_cb(&vq));
    assert_int_equal(*used_event, 0);
    m.used->ring[0] = (struct gk_vq_used_elem){0, 0};
    m.used->idx = 1;
    assert_int_equal(gk_vq_get_used(&vq, NULL, NULL), GK_VQ_OK);
    assert_int_equal(*used_event, 1); /* next interrupt wanted after entry 1 */
    qmem_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),       cmocka_unit_test(test_kick_decision),
        cmocka_unit_test(test_random_event_idx),    cmocka_unit_test(test_random_flags),
        cmocka_unit_test(test_used_idx_runs_ahead), cmocka_unit_test(test_used_id_out_of_range),
        cmocka_unit_test(test_used_id_not_a_head),  cmocka_unit_test(test_used_twice),
        cmocka_unit_test(test_used_len_too_big),    cmocka_unit_test(test_used_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
