/*
 * The domain's end of its bus (gk/bus.h, docs/bus.md): the control
 * domain's duplex area mapped here, its port, requests with replies,
 * and the requests and events the control domain sends.
 *
 * Concurrency. One lock (a spinlock, held with upcalls masked) guards the
 * area, the waiters and the inbox. The port's handler may run while the
 * same VCPU holds the lock (it cannot: upcalls are masked then) or another
 * VCPU does: it only try-locks, and on failure leaves rx_pending set for
 * the holder, which drains before it lets go (bus_unlock). Replies are
 * copied to their waiter's buffer under the lock; a waiter sleeps with
 * upcalls masked after arming the ring, the lost-wake-up-free way.
 *
 * What is done where. Draining (handler or thread): replies to their
 * waiters, bus-shutdown-request answered and handed to event.c at once
 * (its default stops the domain right there, as HV_VIRQ_SHUTDOWN does),
 * anything else copied to the inbox. The inbox is served at safe points
 * (gk_bus_safe_point: outside every handler, not inside a bus call on the
 * same VCPU), where introductions may make hypercalls, map pages and wait.
 *
 * Nothing the control domain writes is trusted further than it must be:
 * the area is validated by duplex.c, messages by the bounded codec, sizes
 * and slots in introductions by conn.c.
 */
#include <string.h>

#include "bus_internal.h"
#include "gk/bus.h"
#include "gk/gk.h"
#include "gk/mm.h"
#include "gk/spinlock.h"
#include "gk/vcpu.h"
#include "hv/duplex.h"
#include "hv/proto_msgs.h"

#define WAITERS 4u
#define REPLY_MAX 1024u
#define INBOX 16u
#define INBOX_MSG_MAX 512u
#define DRAIN_BUDGET 32u
#define CLIENT_NAME "guest-kit 0.2"
#define HELLO_WAIT_NS (2ull * 1000 * 1000 * 1000)

struct waiter {
    bool used, done;
    uint64_t id;
    uint32_t len;
    uint8_t buf[REPLY_MAX];
};

static int64_t bus_status = HV_ENOENT; /* gk_bus_status */

/* Everything else starts zero (in .bss: no bytes in the image). */
static struct {
    bool area_ok; /* mapped, attached and bound */
    struct duplex d;
    uint32_t port, control_slot;
    uint64_t area_va;
    uint32_t pages;
    uint64_t next_id, hello_id;
    struct waiter waiters[WAITERS];
    struct {
        uint32_t len;
        uint8_t buf[INBOX_MSG_MAX];
    } inbox[INBOX];
    uint32_t inbox_first, inbox_count;
    uint64_t sent, received, dropped;
    uint64_t mem_target;
    bool (*on_suspend)(void);
    void (*on_resume)(void);
    void (*on_mem)(uint64_t);
    void (*on_request)(uint64_t type, uint64_t id, const uint8_t *msg, uint32_t len);
} bus;

static struct gk_spinlock lock = GK_SPINLOCK_INIT;
static volatile bool rx_pending;
static GK_PER_VCPU(unsigned, in_bus); /* > 0 inside a bus call or safe point */
static uint8_t rxbuf[DUPLEX_INLINE_MAX];
static uint8_t txbuf[DUPLEX_INLINE_MAX];

static void drain_locked(void);

/* Takes the lock with upcalls masked; returns whether they were enabled. */
static bool bus_lock(void)
{
    bool was = gk_events_disable();
    gk_spin_lock(&lock);
    return was;
}

/* Drains what the handler left for us before letting go (see the top). */
static void bus_unlock(bool was)
{
    for (;;) {
        if (__atomic_exchange_n(&rx_pending, false, __ATOMIC_SEQ_CST))
            drain_locked();
        gk_spin_unlock(&lock);
        if (!__atomic_load_n(&rx_pending, __ATOMIC_SEQ_CST) || !gk_spin_trylock(&lock))
            break;
    }
    gk_events_restore(was);
}

static void notify(bool n)
{
    if (n && bus.area_ok)
        gk_evtchn_send(bus.port);
}

void *gk_bus_area(void)
{
    return bus.area_ok ? (void *)(uintptr_t)bus.area_va : NULL;
}

uint32_t gk_bus_port(void)
{
    return bus.port;
}

int64_t gk_bus_status(void)
{
    return __atomic_load_n(&bus_status, __ATOMIC_SEQ_CST);
}

/* ---- Sending ------------------------------------------------------------------ */

/* Sends with the lock held; waits (releasing nothing: the control domain
 * reads without our help) for room until deadline_ns. */
static int64_t send_locked(const uint8_t *msg, uint32_t len, uint64_t deadline_ns)
{
    if (!bus.area_ok)
        return HV_ENOENT;
    for (;;) {
        bool n = false;
        enum ring_status st = duplex_send(&bus.d, msg, len, &n);
        notify(n);
        if (st == RING_OK) {
            bus.sent++;
            return HV_OK;
        }
        if (st != RING_FULL)
            return st == RING_ETOOBIG ? HV_E2BIG : HV_EINVAL;
        if (deadline_ns != GK_BUS_FOREVER && gk_now_ns() >= deadline_ns)
            return HV_EAGAIN;
        /* The control domain drains every bus each loop: spin politely
         * (blocking here would need the lock dropped). */
        gk_cpu_relax();
        gk_hc_yield();
    }
}

int64_t gk_bus_send_raw(const uint8_t *msg, uint32_t len, uint64_t deadline_ns)
{
    bool was = bus_lock();
    int64_t rc = send_locked(msg, len, deadline_ns);
    bus_unlock(was);
    return rc;
}

/* Encodes m (validated first) into txbuf and sends it; the lock is held. */
#define SEND_MSG(type_fn, m, deadline)                                                             \
    ({                                                                                             \
        struct hvcbor_error e_;                                                                    \
        struct hvcbor_enc enc_;                                                                    \
        size_t n_ = 0;                                                                             \
        int64_t rc_ = HV_EINVAL;                                                                   \
        if (proto_##type_fn##_validate((m), &e_)) {                                                \
            hvcbor_enc_init(&enc_, txbuf, sizeof txbuf);                                           \
            proto_##type_fn##_encode((m), &enc_);                                                  \
            if (hvcbor_enc_finish(&enc_, &n_) == HVCBOR_OK)                                        \
                rc_ = send_locked(txbuf, (uint32_t)n_, (deadline));                                \
        }                                                                                          \
        rc_;                                                                                       \
    })

static uint64_t deadline_default(void)
{
    return gk_now_ns() + GK_BUS_REPLY_TIMEOUT_NS;
}

static struct hvcbor_str cstr_of(const char *s)
{
    return (struct hvcbor_str){(const uint8_t *)s, (uint32_t)strlen(s)};
}

void gk_bus_reply(uint64_t id, uint32_t err, int64_t hv_status, const char *message)
{
    bool was = bus_lock();
    if (err == 0) {
        struct proto_ok_reply r = {.request_id = id};
        SEND_MSG(ok_reply, &r, deadline_default());
    } else {
        struct proto_error_reply r = {.request_id = id,
                                      .code = (enum proto_error_code)err,
                                      .message = cstr_of(message ? message : ""),
                                      .has_hv_status = hv_status != 0,
                                      .hv_status = hv_status};
        SEND_MSG(error_reply, &r, deadline_default());
    }
    bus_unlock(was);
}

/* ---- Receiving ---------------------------------------------------------------- */

/* The type and request id of an encoded message (keys 0 and 2 come first). */
static bool peek_type(const uint8_t *buf, uint32_t len, uint64_t *type, uint64_t *id)
{
    struct hvcbor_dec d;
    uint32_t pairs;
    uint64_t key;
    hvcbor_dec_init(&d, buf, len, NULL);
    if (!hvcbor_dec_map(&d, &pairs) || pairs < 2 || !hvcbor_dec_uint(&d, &key) || key != 0 ||
        !hvcbor_dec_uint(&d, type) || !hvcbor_dec_uint(&d, &key))
        return false;
    /* Only key 1 (an optional member no message has yet) can sort between. */
    if (key == 1 && (!hvcbor_dec_skip(&d) || !hvcbor_dec_uint(&d, &key)))
        return false;
    return key == 2 && hvcbor_dec_uint(&d, id);
}

static struct waiter *waiter_for(uint64_t id)
{
    for (unsigned i = 0; i < WAITERS; i++)
        if (bus.waiters[i].used && !bus.waiters[i].done && bus.waiters[i].id == id)
            return &bus.waiters[i];
    return NULL;
}

static bool is_reply(uint64_t type)
{
    return type == PROTO_MSG_OK_REPLY || type == PROTO_MSG_ERROR_REPLY ||
           type == PROTO_MSG_BUS_HELLO_REPLY || type == PROTO_MSG_BUS_PONG ||
           type == PROTO_MSG_CONFIG_GET_REPLY;
}

/* One message from the control domain (lock held; maybe in the handler). */
static void dispatch(const uint8_t *buf, uint32_t len)
{
    uint64_t type = 0, id = 0;
    if (!peek_type(buf, len, &type, &id)) {
        bus.dropped++;
        return;
    }
    if (is_reply(type)) {
        if (id == bus.hello_id && type == PROTO_MSG_BUS_HELLO_REPLY) {
            __atomic_store_n(&bus_status, HV_OK, __ATOMIC_SEQ_CST);
            return;
        }
        struct waiter *w = waiter_for(id);
        if (!w || len > REPLY_MAX) {
            bus.dropped++; /* nobody waits (timed out), or too large */
            return;
        }
        memcpy(w->buf, buf, len);
        w->len = len;
        w->done = true;
        return;
    }
    if (type == PROTO_MSG_BUS_SHUTDOWN_REQUEST) {
        struct hvcbor_dec d;
        struct proto_bus_shutdown_request q;
        hvcbor_dec_init(&d, buf, len, NULL);
        if (!proto_bus_shutdown_request_decode(&d, &q) || !hvcbor_dec_finish(&d)) {
            bus.dropped++;
            return;
        }
        struct proto_ok_reply r = {.request_id = id};
        SEND_MSG(ok_reply, &r, gk_now_ns() + GK_BUS_REPLY_TIMEOUT_NS);
        gk_shutdown_request(q.kind == PROTO_SHUTDOWN_KIND_REBOOT ? HV_SHUTDOWN_REBOOT
                                                                 : HV_SHUTDOWN_POWEROFF);
        return;
    }
    if (type == PROTO_MSG_BUS_CONNECT_REQUEST || type == PROTO_MSG_BUS_GONE_EVENT ||
        type == PROTO_MSG_BUS_SUSPEND_REQUEST || type == PROTO_MSG_BUS_RESUME_EVENT ||
        type == PROTO_MSG_BUS_MEMORY_TARGET_REQUEST || type == PROTO_MSG_BUS_PING ||
        __atomic_load_n(&bus.on_request, __ATOMIC_SEQ_CST)) {
        if (bus.inbox_count == INBOX || len > INBOX_MSG_MAX) {
            bus.dropped++;
            if (type != PROTO_MSG_BUS_GONE_EVENT && type != PROTO_MSG_BUS_RESUME_EVENT) {
                struct proto_error_reply r = {.request_id = id,
                                              .code = PROTO_ERROR_CODE_BUSY,
                                              .message = cstr_of("the domain's bus inbox is full")};
                SEND_MSG(error_reply, &r, gk_now_ns() + GK_BUS_REPLY_TIMEOUT_NS);
            }
            return;
        }
        uint32_t i = (bus.inbox_first + bus.inbox_count) % INBOX;
        memcpy(bus.inbox[i].buf, buf, len);
        bus.inbox[i].len = len;
        bus.inbox_count++;
        return;
    }
    bus.dropped++; /* not a message the control domain sends a domain */
}

static void drain_locked(void)
{
    if (!bus.area_ok)
        return;
    for (unsigned k = 0; k < DRAIN_BUDGET; k++) {
        uint32_t len = 0;
        bool n = false;
        enum ring_status st = duplex_recv(&bus.d, rxbuf, sizeof rxbuf, &len, &n);
        notify(n);
        /* Empty: arm the ring so the next message notifies us (and read
         * on if one came in meanwhile). */
        if (st == RING_EMPTY && duplex_recv_prepare_sleep(&bus.d))
            return;
        if (st == RING_EMPTY)
            continue;
        if (st != RING_OK) {
            /* The control domain broke the protocol (or sent a message
             * larger than any it sends): the bus is unusable. */
            __atomic_store_n(&bus_status, HV_EINVAL, __ATOMIC_SEQ_CST);
            bus.area_ok = false;
            return;
        }
        bus.received++;
        dispatch(rxbuf, len);
    }
    __atomic_store_n(&rx_pending, true, __ATOMIC_SEQ_CST); /* more: the next unlock goes on */
}

/* The port's handler: drain if the lock is free, else leave it to the holder. */
static void on_event(uint32_t port, void *arg)
{
    (void)port;
    (void)arg;
    __atomic_store_n(&rx_pending, true, __ATOMIC_SEQ_CST);
    if (!gk_spin_trylock(&lock))
        return;
    bus_unlock(false); /* drains; upcalls stay masked (we are in the handler) */
}

/* ---- Requests and their replies ---------------------------------------------- */

static struct waiter *waiter_get(uint64_t *id)
{
    for (unsigned i = 0; i < WAITERS; i++) {
        if (!bus.waiters[i].used) {
            struct waiter *w = &bus.waiters[i];
            w->used = true;
            w->done = false;
            w->len = 0;
            w->id = *id = ++bus.next_id;
            return w;
        }
    }
    return NULL;
}

/* Waits (lock released meanwhile) until w's reply came or deadline_ns;
 * returns with the lock held. */
static bool wait_reply(struct waiter *w, uint64_t deadline_ns)
{
    while (!w->done) {
        drain_locked();
        if (w->done || !bus.area_ok)
            break;
        if (deadline_ns != GK_BUS_FOREVER && gk_now_ns() >= deadline_ns)
            break;
        bool sleep = duplex_recv_prepare_sleep(&bus.d);
        gk_spin_unlock(&lock);
        /* Upcalls are still masked: a notification now stays pending and
         * HC_BLOCK returns at once. */
        if (sleep && !w->done) {
            if (deadline_ns != GK_BUS_FOREVER)
                gk_timer_arm(deadline_ns);
            gk_block();
            gk_events_disable();
        }
        gk_spin_lock(&lock);
    }
    return w->done;
}

/* Sends a request (encoded by the caller into txbuf[0..len) with id) and
 * waits for its reply, decoded into *reply (strings point into *keep, a
 * caller buffer of REPLY_MAX). HV_OK, or HV_EAGAIN (no answer in time),
 * HV_ENOENT (no bus), HV_EBUSY (every waiter slot taken). */
typedef uint32_t (*encode_fn)(uint64_t id, void *arg);

static int64_t call(encode_fn enc, void *arg, uint8_t *keep, uint32_t *keep_len,
                    uint64_t *reply_type)
{
    if (!__atomic_load_n(&bus.area_ok, __ATOMIC_SEQ_CST)) {
        int64_t s = gk_bus_status();
        return s == HV_OK || s == HV_EAGAIN ? HV_EINVAL : s;
    }
    unsigned me = gk_vcpu_id();
    in_bus[me]++;
    bool was = bus_lock();
    uint64_t id;
    struct waiter *w = waiter_get(&id);
    int64_t rc = HV_EBUSY;
    if (w) {
        uint64_t deadline = deadline_default();
        uint32_t len = enc(id, arg);
        rc = len ? send_locked(txbuf, len, deadline) : HV_EINVAL;
        if (rc == HV_OK && !wait_reply(w, deadline))
            rc = bus.area_ok ? HV_EAGAIN : HV_EINVAL;
        if (rc == HV_OK) {
            memcpy(keep, w->buf, w->len);
            *keep_len = w->len;
            uint64_t rid;
            if (!peek_type(keep, w->len, reply_type, &rid))
                rc = HV_EINVAL;
        }
        w->used = false;
    }
    bus_unlock(was);
    in_bus[me]--;
    return rc;
}

/* Decodes an error-reply: its hv_status if any, else a status for its code. */
static int64_t error_status(const uint8_t *buf, uint32_t len, enum proto_error_code *code)
{
    struct hvcbor_dec d;
    struct proto_error_reply r;
    hvcbor_dec_init(&d, buf, len, NULL);
    if (!proto_error_reply_decode(&d, &r) || !hvcbor_dec_finish(&d))
        return HV_EINVAL;
    if (code)
        *code = r.code;
    if (r.has_hv_status && r.hv_status < 0 && r.hv_status >= HV_ENOTSUP)
        return r.hv_status;
    switch (r.code) {
    case PROTO_ERROR_CODE_NOT_FOUND: return HV_ENOENT;
    case PROTO_ERROR_CODE_CONFLICT: return HV_EEXIST;
    case PROTO_ERROR_CODE_REFUSED: return HV_EPERM;
    case PROTO_ERROR_CODE_NO_RESOURCES: return HV_ENOMEM;
    case PROTO_ERROR_CODE_UNSUPPORTED: return HV_ENOTSUP;
    case PROTO_ERROR_CODE_BUSY: return HV_EBUSY;
    case PROTO_ERROR_CODE_TOO_LARGE: return HV_E2BIG;
    default: return HV_EINVAL;
    }
}

static uint32_t finish(struct hvcbor_enc *e)
{
    size_t n = 0;
    return hvcbor_enc_finish(e, &n) == HVCBOR_OK ? (uint32_t)n : 0;
}

/* ---- Start of day ------------------------------------------------------------- */

static uint32_t enc_hello(uint64_t id, void *arg)
{
    (void)arg;
    struct proto_bus_hello m = {
        .request_id = id, .version = PROTO_VERSION, .client = cstr_of(CLIENT_NAME)};
    struct hvcbor_enc e;
    hvcbor_enc_init(&e, txbuf, sizeof txbuf);
    proto_bus_hello_encode(&m, &e);
    return finish(&e);
}

static int64_t map_area(const struct hv_start_bus *b)
{
    if (b->pages < 3 || b->pages > DUPLEX_REFS_MAX + 1 || b->ref == 0 || b->ref >= HV_GRANT_REFS ||
        b->port == 0 || b->port >= HV_EVTCHN_PORTS || b->control_slot >= HV_CAP_SLOTS)
        return HV_EINVAL;
    uint64_t va = gk_vmap_alloc(b->pages);
    if (!va)
        return HV_ENOMEM;
    int64_t rc = gk_grant_map(b->control_slot, b->ref, va, true);
    if (rc != HV_OK) {
        gk_vmap_free(va, b->pages);
        return rc;
    }
    uint32_t ring_bytes, buf_bytes, mapped = 1;
    if (!duplex_read_geometry((const void *)(uintptr_t)va, b->pages, &ring_bytes, &buf_bytes) ||
        duplex_area_pages(ring_bytes, buf_bytes) != b->pages)
        rc = HV_EINVAL;
    for (; rc == HV_OK && mapped < b->pages; mapped++)
        rc = gk_grant_map(b->control_slot, duplex_ref((const void *)(uintptr_t)va, mapped - 1),
                          va + (uint64_t)mapped * 4096u, true);
    if (rc == HV_OK &&
        !duplex_attach(&bus.d, (void *)(uintptr_t)va, ring_bytes, buf_bytes, DUPLEX_ACCEPTOR))
        rc = HV_EINVAL;
    if (rc != HV_OK) {
        while (mapped-- > 0)
            gk_grant_unmap(va + (uint64_t)mapped * 4096u);
        gk_vmap_free(va, b->pages);
        return rc;
    }
    bus.area_va = va;
    bus.pages = b->pages;
    return HV_OK;
}

void gk_bus_start(const struct hv_start_info *si)
{
    if (!(si->flags & HV_SIF_BUS))
        return; /* HV_ENOENT: no bus */
    int64_t rc = gk_mm_init(si);
    if (rc == HV_OK)
        rc = map_area(&si->bus);
    uint32_t port = 0;
    if (rc == HV_OK)
        rc = gk_evtchn_bind_interdomain(si->bus.control_slot, si->bus.port, &port);
    if (rc != HV_OK) {
        __atomic_store_n(&bus_status, rc, __ATOMIC_SEQ_CST);
        return;
    }
    gk_evtchn_test_and_clear(port); /* a new port starts pending */
    bus.port = port;
    bus.control_slot = si->bus.control_slot;
    gk_evtchn_bind_handler(port, on_event, NULL);
    gk_evtchn_unmask(port);
    bool was = bus_lock();
    bus.area_ok = true;
    bus_status = HV_EAGAIN;
    bus.hello_id = ++bus.next_id;
    uint32_t len = enc_hello(bus.hello_id, NULL);
    rc = len ? send_locked(txbuf, len, deadline_default()) : HV_EINVAL;
    if (rc != HV_OK)
        bus_status = rc;
    bus_unlock(was);
    /* Wait (politely, with upcalls as main will find them) for the answer,
     * so that main starts with a connected bus; a control domain slower
     * than HELLO_WAIT_NS leaves HV_EAGAIN, and the answer is taken later. */
    uint64_t deadline = gk_now_ns() + HELLO_WAIT_NS;
    while (gk_bus_status() == HV_EAGAIN && gk_now_ns() < deadline) {
        gk_hc_yield();
        was = bus_lock();
        drain_locked();
        bus_unlock(was);
    }
}

/* ---- Serving the inbox -------------------------------------------------------- */

static bool inbox_take(uint8_t *buf, uint32_t *len)
{
    bool was = bus_lock();
    bool got = bus.inbox_count > 0;
    if (got) {
        memcpy(buf, bus.inbox[bus.inbox_first].buf, bus.inbox[bus.inbox_first].len);
        *len = bus.inbox[bus.inbox_first].len;
        bus.inbox_first = (bus.inbox_first + 1) % INBOX;
        bus.inbox_count--;
    }
    bus_unlock(was);
    return got;
}

static void serve(const uint8_t *buf, uint32_t len)
{
    uint64_t type = 0, id = 0;
    peek_type(buf, len, &type, &id);
    struct hvcbor_dec d;
    hvcbor_dec_init(&d, buf, len, NULL);
    switch (type) {
    case PROTO_MSG_BUS_CONNECT_REQUEST: {
        struct proto_bus_connect_request q;
        if (proto_bus_connect_request_decode(&d, &q) && hvcbor_dec_finish(&d))
            gk_conn_on_connect(&q);
        else
            gk_bus_reply(id, PROTO_ERROR_CODE_INVALID, 0, "undecodable bus-connect-request");
        return;
    }
    case PROTO_MSG_BUS_PING: {
        /* A heartbeat: answered here, at a safe point, so that a domain
         * whose threads never reach one (hung) does not answer. */
        struct proto_bus_ping q;
        if (!proto_bus_ping_decode(&d, &q) || !hvcbor_dec_finish(&d)) {
            gk_bus_reply(id, PROTO_ERROR_CODE_INVALID, 0, "undecodable bus-ping");
            return;
        }
        struct proto_bus_pong r = {.request_id = id, .seq = q.seq};
        bool was = bus_lock();
        SEND_MSG(bus_pong, &r, deadline_default());
        bus_unlock(was);
        return;
    }
    case PROTO_MSG_BUS_GONE_EVENT: {
        struct proto_bus_gone_event q;
        if (proto_bus_gone_event_decode(&d, &q) && hvcbor_dec_finish(&d))
            gk_conn_on_gone(q.conn);
        return;
    }
    case PROTO_MSG_BUS_SUSPEND_REQUEST: {
        bool (*fn)(void) = __atomic_load_n(&bus.on_suspend, __ATOMIC_SEQ_CST);
        if (!fn || fn())
            gk_bus_reply(id, 0, 0, NULL);
        else
            gk_bus_reply(id, PROTO_ERROR_CODE_BUSY, 0, "the domain is not ready to be suspended");
        return;
    }
    case PROTO_MSG_BUS_RESUME_EVENT: {
        void (*fn)(void) = __atomic_load_n(&bus.on_resume, __ATOMIC_SEQ_CST);
        if (fn)
            fn();
        return;
    }
    case PROTO_MSG_BUS_MEMORY_TARGET_REQUEST: {
        struct proto_bus_memory_target_request q;
        if (!proto_bus_memory_target_request_decode(&d, &q) || !hvcbor_dec_finish(&d)) {
            gk_bus_reply(id, PROTO_ERROR_CODE_INVALID, 0, "undecodable memory target");
            return;
        }
        __atomic_store_n(&bus.mem_target, q.target_bytes, __ATOMIC_SEQ_CST);
        void (*fn)(uint64_t) = __atomic_load_n(&bus.on_mem, __ATOMIC_SEQ_CST);
        if (fn)
            fn(q.target_bytes);
        int64_t pages = gk_hc_memory_op(HV_MEMOP_CURRENT, 0);
        struct proto_bus_memory_target_reply r = {
            .request_id = id, .current_bytes = pages > 0 ? (uint64_t)pages * 4096u : 0};
        bool was = bus_lock();
        SEND_MSG(bus_memory_target_reply, &r, deadline_default());
        bus_unlock(was);
        return;
    }
    default: {
        void (*fn)(uint64_t, uint64_t, const uint8_t *, uint32_t) =
            __atomic_load_n(&bus.on_request, __ATOMIC_SEQ_CST);
        if (fn)
            fn(type, id, buf, len);
        return;
    }
    }
}

void gk_bus_safe_point(void)
{
    if (!bus.area_ok)
        return;
    unsigned me = gk_vcpu_id();
    if (in_bus[me])
        return;
    in_bus[me]++;
    bool was = bus_lock();
    drain_locked();
    bus_unlock(was);
    static uint8_t buf[INBOX_MSG_MAX];
    uint32_t len;
    while (inbox_take(buf, &len))
        serve(buf, len);
    gk_conn_reap();
    in_bus[me]--;
}

bool gk_bus_work_pending(void)
{
    if (!bus.area_ok)
        return false;
    bool was = bus_lock();
    drain_locked();
    bool pending = bus.inbox_count > 0 || __atomic_load_n(&rx_pending, __ATOMIC_SEQ_CST);
    bus_unlock(was);
    return pending;
}

void gk_bus_poll(void)
{
    gk_bus_safe_point();
}

void gk_bus_poll_shutdown(void)
{
    if (!bus.area_ok || in_bus[gk_vcpu_id()])
        return;
    bool was = bus_lock();
    drain_locked();
    bus_unlock(was);
}

/* ---- The calls of gk/bus.h ----------------------------------------------------- */

struct key_arg {
    const char *key;
};

static uint32_t enc_config(uint64_t id, void *arg)
{
    struct proto_config_get_request m = {.request_id = id,
                                         .key = cstr_of(((struct key_arg *)arg)->key)};
    struct hvcbor_error err;
    if (!proto_config_get_request_validate(&m, &err))
        return 0;
    struct hvcbor_enc e;
    hvcbor_enc_init(&e, txbuf, sizeof txbuf);
    proto_config_get_request_encode(&m, &e);
    return finish(&e);
}

int gk_config_get(const char *key, char *buf, size_t size)
{
    if (key == NULL || key[0] == 0 || strlen(key) > 64)
        return HV_EINVAL;
    gk_bus_safe_point();
    struct key_arg a = {key};
    uint8_t keep[REPLY_MAX];
    uint32_t len = 0;
    uint64_t type = 0;
    int64_t rc = call(enc_config, &a, keep, &len, &type);
    int result;
    if (rc != HV_OK) {
        result = (int)rc;
    } else if (type == PROTO_MSG_CONFIG_GET_REPLY) {
        struct hvcbor_dec d;
        struct proto_config_get_reply r;
        hvcbor_dec_init(&d, keep, len, NULL);
        if (!proto_config_get_reply_decode(&d, &r) || !hvcbor_dec_finish(&d)) {
            result = HV_EINVAL;
        } else {
            if (size > 0) {
                size_t n = r.value.len < size - 1 ? r.value.len : size - 1;
                memcpy(buf, r.value.ptr, n);
                buf[n] = 0;
            }
            result = 1;
        }
    } else if (type == PROTO_MSG_ERROR_REPLY) {
        enum proto_error_code code = 0;
        int64_t st = error_status(keep, len, &code);
        result = code == PROTO_ERROR_CODE_NOT_FOUND ? 0 : (int)st;
    } else {
        result = HV_EINVAL;
    }
    return result;
}

struct ping_arg {
    uint64_t seq;
};

static uint32_t enc_ping(uint64_t id, void *arg)
{
    struct proto_bus_ping m = {.request_id = id, .seq = ((struct ping_arg *)arg)->seq};
    struct hvcbor_enc e;
    hvcbor_enc_init(&e, txbuf, sizeof txbuf);
    proto_bus_ping_encode(&m, &e);
    return finish(&e);
}

/* call() for a request whose answer carries only success: HV_OK for a reply
 * of type expect, the status of an error-reply, HV_EINVAL for anything else. */
static int64_t call_status(encode_fn enc, void *arg, uint64_t expect)
{
    uint8_t keep[REPLY_MAX];
    uint32_t len = 0;
    uint64_t type = 0;
    int64_t rc = call(enc, arg, keep, &len, &type);
    if (rc != HV_OK)
        return rc;
    if (type == PROTO_MSG_ERROR_REPLY)
        return error_status(keep, len, NULL);
    return type == expect ? HV_OK : HV_EINVAL;
}

int64_t gk_bus_ping(uint64_t seq)
{
    struct ping_arg a = {seq};
    return call_status(enc_ping, &a, PROTO_MSG_BUS_PONG);
}

struct name_arg {
    const char *name;
    bool use;
};

static uint32_t enc_service(uint64_t id, void *arg)
{
    struct name_arg *a = arg;
    struct hvcbor_error err;
    struct hvcbor_enc e;
    hvcbor_enc_init(&e, txbuf, sizeof txbuf);
    if (a->use) {
        struct proto_service_use_request m = {.request_id = id, .name = cstr_of(a->name)};
        if (!proto_service_use_request_validate(&m, &err))
            return 0;
        proto_service_use_request_encode(&m, &e);
    } else {
        struct proto_service_register_request m = {.request_id = id, .name = cstr_of(a->name)};
        if (!proto_service_register_request_validate(&m, &err))
            return 0;
        proto_service_register_request_encode(&m, &e);
    }
    return finish(&e);
}

static int64_t service_call(const char *name, bool use)
{
    if (name == NULL || name[0] == 0 || strlen(name) > 32)
        return HV_EINVAL;
    gk_bus_safe_point();
    struct name_arg a = {name, use};
    return call_status(enc_service, &a, PROTO_MSG_OK_REPLY);
}

int64_t gk_service_register(const char *name)
{
    return service_call(name, false);
}

int64_t gk_service_use(const char *name)
{
    return service_call(name, true);
}

struct close_arg {
    uint64_t conn;
};

static uint32_t enc_close(uint64_t id, void *arg)
{
    struct proto_bus_close_request m = {.request_id = id, .conn = ((struct close_arg *)arg)->conn};
    struct hvcbor_enc e;
    hvcbor_enc_init(&e, txbuf, sizeof txbuf);
    proto_bus_close_request_encode(&m, &e);
    return finish(&e);
}

int64_t gk_bus_close_conn(uint64_t conn)
{
    struct close_arg a = {conn};
    return call_status(enc_close, &a, PROTO_MSG_OK_REPLY);
}

void gk_bus_on_suspend(bool (*fn)(void))
{
    __atomic_store_n(&bus.on_suspend, fn, __ATOMIC_SEQ_CST);
}

void gk_bus_on_resume(void (*fn)(void))
{
    __atomic_store_n(&bus.on_resume, fn, __ATOMIC_SEQ_CST);
}

void gk_bus_on_memory_target(void (*fn)(uint64_t target_bytes))
{
    __atomic_store_n(&bus.on_mem, fn, __ATOMIC_SEQ_CST);
}

void gk_bus_on_request(void (*fn)(uint64_t type, uint64_t id, const uint8_t *msg, uint32_t len))
{
    __atomic_store_n(&bus.on_request, fn, __ATOMIC_SEQ_CST);
}

int64_t gk_bus_send(const void *msg, uint32_t len)
{
    if (len > sizeof txbuf)
        return HV_E2BIG;
    bool was = bus_lock();
    int64_t rc = send_locked(msg, len, deadline_default());
    bus_unlock(was);
    return rc;
}

uint64_t gk_bus_memory_target(void)
{
    return __atomic_load_n(&bus.mem_target, __ATOMIC_SEQ_CST);
}

void gk_bus_get_stats(struct gk_bus_stats *out)
{
    bool was = bus_lock();
    out->sent = bus.sent;
    out->received = bus.received;
    out->dropped = bus.dropped;
    bus_unlock(was);
    out->conns = gk_conn_count();
}
