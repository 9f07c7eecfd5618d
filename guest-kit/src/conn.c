/*
 * Connections to other domains (gk/bus.h, docs/bus.md): the areas the
 * control domain's introductions ask for, and the message and stream calls
 * on them.
 *
 * An introduction arrives as bus-connect-request at a safe point. The
 * offering side allocates the area's frames from its own pfns, maps them in
 * the arena (vmap.c), formats it, grants every page writable to the peer
 * (named by the capability slot the control domain copied into our table),
 * allocates an unbound port for the peer and answers ref (page 0) and port.
 * The accepting side maps page 0 by that ref, checks the geometry against
 * the request, maps the pages page 0 lists, binds the port and notifies.
 * Either side's failure is answered with error-reply and everything done is
 * undone.
 *
 * What the peer writes: the area is checked by duplex.c; the refs in page 0
 * by gk_grant_map (range) and the hypervisor (whose grant). The offering
 * side keeps its own copy of its refs (the peer can write page 0) and ends
 * exactly those.
 *
 * A connection is used by one thread at a time; the table is guarded by a
 * lock held with upcalls masked. gone is set at a safe point (bus-gone-event)
 * and read by waiters, which also wake for the bus's events.
 */
#include <string.h>

#include "bus_internal.h"
#include "gk/bus.h"
#include "gk/gk.h"
#include "gk/mm.h"
#include "gk/pages.h"
#include "gk/spinlock.h"
#include "hv/duplex.h"
#include "hv/proto_msgs.h"

#define CONNS_MAX 16u
#define PAGE 4096ull

enum conn_state { CONN_FREE = 0, CONN_READY, CONN_CLOSING };

struct gk_conn {
    enum conn_state state;
    bool handed; /* returned by gk_conn_wait */
    bool offer;
    volatile bool gone;
    uint64_t id;
    uint32_t kind;
    char name[33], peer[65];
    uint32_t peer_slot, port;
    uint32_t ring_bytes, buf_bytes, pages;
    uint64_t va;
    uint32_t granted;                   /* offer: refs[0 .. granted) are live */
    uint16_t refs[DUPLEX_REFS_MAX + 1]; /* offer: our refs, page 0 first */
    volatile uint64_t events;
    struct duplex d;
};

static struct gk_conn conns[CONNS_MAX];
static struct gk_spinlock lock = GK_SPINLOCK_INIT;

static void copy_name(char *dst, size_t cap, struct hvcbor_str s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    memcpy(dst, s.ptr, n);
    dst[n] = 0;
}

static bool name_eq(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

static void on_conn_event(uint32_t port, void *arg)
{
    (void)port;
    struct gk_conn *c = arg;
    c->events = c->events + 1;
}

/* ---- Making and tearing down areas ------------------------------------------ */

/* Offer: ends our grants and frees the pages; false while the peer still
 * maps one (HV_EBUSY: gk_conn_reap tries again later). */
static bool offer_teardown(struct gk_conn *c)
{
    while (c->granted > 0) {
        int64_t rc = gk_grant_end(c->refs[c->granted - 1]);
        if (rc == HV_EBUSY)
            return false;
        c->granted--;
    }
    gk_pages_free((void *)(uintptr_t)c->va, c->pages);
    c->va = 0;
    return true;
}

static void accept_teardown(struct gk_conn *c, uint32_t mapped)
{
    for (uint32_t i = 0; i < mapped; i++)
        gk_grant_unmap(c->va + i * PAGE);
    if (c->va)
        gk_vmap_free(c->va, c->pages);
    c->va = 0;
}

static int64_t make_offer(struct gk_conn *c)
{
    void *area = (void *)(uintptr_t)c->va;
    if (!duplex_format(area, c->ring_bytes, c->buf_bytes))
        return HV_EINVAL;
    struct duplex_header *h = area;
    for (uint32_t i = 0; i < c->pages; i++) {
        uint32_t ref = 0;
        int64_t rc =
            gk_grant_set(gk_va_to_mfn(c->va + i * PAGE), c->peer_slot, HV_GRANT_F_WRITE, &ref);
        if (rc != HV_OK)
            return rc;
        c->refs[c->granted++] = (uint16_t)ref;
        if (i > 0)
            h->refs[i - 1] = ref;
    }
    int64_t rc = gk_evtchn_alloc_unbound(c->peer_slot, &c->port);
    if (rc != HV_OK)
        return rc;
    gk_evtchn_bind_handler(c->port, on_conn_event, c);
    gk_evtchn_unmask(c->port);
    if (!duplex_attach(&c->d, area, c->ring_bytes, c->buf_bytes, DUPLEX_OFFERER))
        return HV_EINVAL;
    return HV_OK;
}

static int64_t make_accept(struct gk_conn *c, uint32_t ref, uint32_t port, uint32_t *mapped)
{
    *mapped = 0;
    c->va = gk_vmap_alloc(c->pages);
    if (!c->va)
        return HV_ENOMEM;
    int64_t rc = gk_grant_map(c->peer_slot, ref, c->va, true);
    if (rc != HV_OK)
        return rc;
    *mapped = 1;
    uint32_t rb, bb;
    const void *h = (const void *)(uintptr_t)c->va;
    if (!duplex_read_geometry(h, c->pages, &rb, &bb) || rb != c->ring_bytes || bb != c->buf_bytes)
        return HV_EINVAL;
    for (uint32_t i = 1; i < c->pages; i++) {
        rc = gk_grant_map(c->peer_slot, duplex_ref(h, i - 1), c->va + i * PAGE, true);
        if (rc != HV_OK)
            return rc;
        (*mapped)++;
    }
    if (!duplex_attach(&c->d, (void *)(uintptr_t)c->va, rb, bb, DUPLEX_ACCEPTOR))
        return HV_EINVAL;
    rc = gk_evtchn_bind_interdomain(c->peer_slot, port, &c->port);
    if (rc != HV_OK)
        return rc;
    gk_evtchn_test_and_clear(c->port);
    gk_evtchn_bind_handler(c->port, on_conn_event, c);
    gk_evtchn_unmask(c->port);
    gk_evtchn_send(c->port); /* "connected" */
    return HV_OK;
}

static struct gk_conn *slot_get(void)
{
    bool was = gk_events_disable();
    gk_spin_lock(&lock);
    struct gk_conn *c = NULL;
    for (uint32_t i = 0; i < CONNS_MAX && !c; i++)
        if (conns[i].state == CONN_FREE)
            c = &conns[i];
    if (c) {
        memset(c, 0, sizeof *c);
        c->state = CONN_CLOSING; /* not visible to gk_conn_wait until ready */
    }
    gk_spin_unlock(&lock);
    gk_events_restore(was);
    return c;
}

static void set_state(struct gk_conn *c, enum conn_state st)
{
    bool was = gk_events_disable();
    gk_spin_lock(&lock);
    c->state = st;
    gk_spin_unlock(&lock);
    gk_events_restore(was);
}

/* The answer to an introduction (ref and port for an offer). */
static void answer(uint64_t id, uint64_t conn, bool offer, uint32_t ref, uint32_t port)
{
    struct proto_bus_connect_reply r = {.request_id = id,
                                        .conn = conn,
                                        .has_ref = offer,
                                        .ref = ref,
                                        .has_port = offer,
                                        .port = port};
    uint8_t buf[64];
    struct hvcbor_enc e;
    hvcbor_enc_init(&e, buf, sizeof buf);
    proto_bus_connect_reply_encode(&r, &e);
    size_t n = 0;
    if (hvcbor_enc_finish(&e, &n) == HVCBOR_OK)
        gk_bus_send_raw(buf, (uint32_t)n, gk_now_ns() + GK_BUS_REPLY_TIMEOUT_NS);
}

void gk_conn_on_connect(const struct proto_bus_connect_request *q)
{
    uint32_t pages = duplex_area_pages((uint32_t)q->ring_bytes, (uint32_t)q->buf_bytes);
    bool offer = q->role == PROTO_CONN_ROLE_OFFER;
    if (pages == 0 || q->ring_bytes > UINT32_MAX || q->buf_bytes > UINT32_MAX ||
        q->peer_slot >= HV_CAP_SLOTS || q->name.len > 32 || q->peer.len > 64 ||
        (!offer && (!q->has_ref || !q->has_port))) {
        gk_bus_reply(q->request_id, PROTO_ERROR_CODE_INVALID, HV_EINVAL,
                     "bus-connect-request: bad geometry, slot or missing ref/port");
        return;
    }
    struct gk_conn *c = slot_get();
    if (!c) {
        gk_bus_reply(q->request_id, PROTO_ERROR_CODE_NO_RESOURCES, HV_ENOMEM,
                     "the domain has no free connection slot");
        return;
    }
    c->id = q->conn;
    c->kind = q->kind;
    c->offer = offer;
    copy_name(c->name, sizeof c->name, q->name);
    copy_name(c->peer, sizeof c->peer, q->peer);
    c->peer_slot = (uint32_t)q->peer_slot;
    c->ring_bytes = (uint32_t)q->ring_bytes;
    c->buf_bytes = (uint32_t)q->buf_bytes;
    c->pages = pages;
    uint32_t mapped = 0;
    int64_t rc;
    if (offer) {
        c->va = (uint64_t)(uintptr_t)gk_pages_alloc(pages);
        rc = c->va ? make_offer(c) : HV_ENOMEM;
    } else {
        rc = make_accept(c, (uint32_t)q->ref, (uint32_t)q->port, &mapped);
    }
    if (rc != HV_OK) {
        if (c->port)
            gk_evtchn_close(c->port);
        c->port = 0;
        bool clean = offer ? offer_teardown(c) : (accept_teardown(c, mapped), true);
        set_state(c, clean ? CONN_FREE : CONN_CLOSING);
        c->gone = true;
        c->handed = true; /* never handed out */
        gk_bus_reply(q->request_id,
                     rc == HV_ENOMEM ? PROTO_ERROR_CODE_NO_RESOURCES : PROTO_ERROR_CODE_INVALID, rc,
                     offer ? "could not make the shared area" : "could not map the shared area");
        return;
    }
    set_state(c, CONN_READY);
    answer(q->request_id, q->conn, offer, offer ? c->refs[0] : 0, offer ? c->port : 0);
}

void gk_conn_on_gone(uint64_t conn)
{
    for (uint32_t i = 0; i < CONNS_MAX; i++)
        if (conns[i].state == CONN_READY && conns[i].id == conn)
            conns[i].gone = true;
}

void gk_conn_reap(void)
{
    for (uint32_t i = 0; i < CONNS_MAX; i++) {
        struct gk_conn *c = &conns[i];
        if (c->state != CONN_CLOSING || !c->handed || !c->offer)
            continue;
        if (offer_teardown(c))
            set_state(c, CONN_FREE);
    }
}

uint32_t gk_conn_count(void)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < CONNS_MAX; i++)
        n += conns[i].state != CONN_FREE;
    return n;
}

/* ---- The calls of gk/bus.h ----------------------------------------------------- */

struct gk_conn *gk_conn_wait(const char *name, uint64_t deadline_ns)
{
    if (name == NULL || gk_bus_status() == HV_ENOENT)
        return NULL;
    for (;;) {
        gk_bus_safe_point();
        bool was = gk_events_disable();
        gk_spin_lock(&lock);
        struct gk_conn *found = NULL;
        for (uint32_t i = 0; i < CONNS_MAX && !found; i++)
            if (conns[i].state == CONN_READY && !conns[i].handed && name_eq(conns[i].name, name))
                found = &conns[i];
        if (found)
            found->handed = true;
        gk_spin_unlock(&lock);
        if (found || (deadline_ns != GK_BUS_FOREVER && gk_now_ns() >= deadline_ns)) {
            gk_events_restore(was);
            return found;
        }
        if (!gk_bus_work_pending()) {
            if (deadline_ns != GK_BUS_FOREVER)
                gk_timer_arm(deadline_ns);
            gk_block();
            gk_events_disable();
        }
        gk_events_restore(was);
    }
}

const char *gk_conn_name(const struct gk_conn *c)
{
    return c ? c->name : "";
}

const char *gk_conn_peer(const struct gk_conn *c)
{
    return c ? c->peer : "";
}

uint32_t gk_conn_peer_slot(const struct gk_conn *c)
{
    return c ? c->peer_slot : 0;
}

bool gk_conn_gone(const struct gk_conn *c)
{
    return c == NULL || c->gone || duplex_broken(&c->d) || duplex_peer_closed(&c->d);
}

uint32_t gk_conn_max_msg(const struct gk_conn *c)
{
    return c ? duplex_max_msg(&c->d) : 0;
}

static void notify(struct gk_conn *c, bool n)
{
    if (n)
        gk_evtchn_send(c->port);
}

/* Waits for the peer (prepare_sleep armed by the caller said sleep) or the
 * bus, until deadline_ns; GK_CHAN_ETIMEDOUT once it passed. Upcalls are
 * masked on entry and on return. Work the bus brought (a bus-gone-event for
 * this very connection, an introduction) is served here, at a safe point:
 * skipping the block without serving it (as this did until 2026-12-08) spun
 * until the deadline, and a caller that waits again at once — a network
 * front end between two frames — never served its bus again: its
 * connection's end and the next introduction went unanswered (found by
 * restart_netback). */
static enum gk_chan_status wait_peer(uint64_t deadline_ns)
{
    if (deadline_ns != GK_BUS_FOREVER) {
        if (gk_now_ns() >= deadline_ns)
            return GK_CHAN_ETIMEDOUT;
        gk_timer_arm(deadline_ns);
    }
    if (gk_bus_work_pending()) {
        gk_events_enable();
        gk_bus_safe_point();
    } else {
        gk_block(); /* returns with upcalls on, after its own safe point */
    }
    gk_events_disable();
    return GK_CHAN_OK;
}

static bool usable(const struct gk_conn *c)
{
    return c != NULL && c->state == CONN_READY;
}

enum gk_chan_status gk_conn_sendv(struct gk_conn *c, const struct gk_conn_msg *msgs, uint32_t count,
                                  uint32_t *sent, uint64_t deadline_ns)
{
    uint32_t dummy;
    if (sent == NULL)
        sent = &dummy;
    *sent = 0;
    if (!usable(c) || (msgs == NULL && count != 0))
        return GK_CHAN_EINVAL;
    bool was = gk_events_disable();
    bool pending = false; /* the peer asked to be woken: told at the end or before we wait */
    enum gk_chan_status st = GK_CHAN_OK;
    while (*sent < count) {
        if (c->gone || duplex_peer_closed(&c->d)) {
            st = GK_CHAN_EDISCONNECTED;
            break;
        }
        bool n = false;
        const struct gk_conn_msg *m = &msgs[*sent];
        st = gk_chan_status_of(duplex_send(&c->d, m->data, m->len, &n));
        pending = pending || n;
        if (st == GK_CHAN_OK) {
            (*sent)++;
            continue;
        }
        if (st != GK_CHAN_FULL)
            break;
        /* Full: the peer must drain, so it is told now. */
        notify(c, pending);
        pending = false;
        st = GK_CHAN_OK;
        if (duplex_send_prepare_sleep(&c->d, m->len) && (st = wait_peer(deadline_ns)) != GK_CHAN_OK)
            break;
    }
    notify(c, pending);
    gk_events_restore(was);
    return st;
}

enum gk_chan_status gk_conn_send(struct gk_conn *c, const void *msg, uint32_t len,
                                 uint64_t deadline_ns)
{
    struct gk_conn_msg m = {msg, len};
    return gk_conn_sendv(c, &m, 1, NULL, deadline_ns);
}

enum gk_chan_status gk_conn_peek(struct gk_conn *c, uint32_t *len, const uint8_t **bulk,
                                 uint64_t deadline_ns)
{
    if (!usable(c) || len == NULL)
        return GK_CHAN_EINVAL;
    bool was = gk_events_disable();
    enum gk_chan_status st;
    for (;;) {
        st = gk_chan_status_of(duplex_peek(&c->d, len));
        if (st != GK_CHAN_EMPTY)
            break;
        if (c->gone || duplex_peer_closed(&c->d)) {
            st = GK_CHAN_EDISCONNECTED;
            break;
        }
        if (duplex_recv_prepare_sleep(&c->d) && (st = wait_peer(deadline_ns)) != GK_CHAN_OK)
            break;
    }
    if (bulk)
        *bulk = st == GK_CHAN_OK ? duplex_view(&c->d) : NULL;
    gk_events_restore(was);
    return st;
}

enum gk_chan_status gk_conn_release(struct gk_conn *c)
{
    if (!usable(c))
        return GK_CHAN_EINVAL;
    bool n = false;
    enum gk_chan_status st = gk_chan_status_of(duplex_release(&c->d, &n));
    notify(c, n);
    return st;
}

enum gk_chan_status gk_conn_recv(struct gk_conn *c, void *buf, uint32_t cap, uint32_t *len,
                                 uint64_t deadline_ns)
{
    uint32_t n = 0;
    enum gk_chan_status st = gk_conn_peek(c, &n, NULL, deadline_ns);
    if (len)
        *len = n;
    if (st != GK_CHAN_OK)
        return st;
    if (n > cap)
        return GK_CHAN_ETOOBIG;
    st = gk_chan_status_of(duplex_copy(&c->d, 0, buf, n));
    return st == GK_CHAN_OK ? gk_conn_release(c) : st;
}

enum gk_chan_status gk_conn_write(struct gk_conn *c, const void *buf, uint32_t n,
                                  uint64_t deadline_ns)
{
    if (!usable(c) || (buf == NULL && n != 0))
        return GK_CHAN_EINVAL;
    const uint8_t *p = buf;
    bool was = gk_events_disable();
    enum gk_chan_status st = GK_CHAN_OK;
    while (n > 0) {
        if (c->gone || duplex_peer_closed(&c->d)) {
            st = GK_CHAN_EDISCONNECTED;
            break;
        }
        uint32_t done = 0;
        bool nt = false;
        st = gk_chan_status_of(duplex_write(&c->d, p, n, &done, &nt));
        notify(c, nt);
        p += done;
        n -= done;
        if (st != GK_CHAN_OK && st != GK_CHAN_FULL)
            break;
        st = GK_CHAN_OK;
        if (n > 0 && duplex_send_prepare_sleep(&c->d, 0) &&
            (st = wait_peer(deadline_ns)) != GK_CHAN_OK)
            break;
    }
    gk_events_restore(was);
    return st;
}

enum gk_chan_status gk_conn_read(struct gk_conn *c, void *buf, uint32_t cap, uint32_t *got,
                                 uint64_t deadline_ns)
{
    if (!usable(c) || got == NULL || (buf == NULL && cap != 0))
        return GK_CHAN_EINVAL;
    *got = 0;
    bool was = gk_events_disable();
    enum gk_chan_status st;
    for (;;) {
        bool nt = false;
        st = gk_chan_status_of(duplex_read(&c->d, buf, cap, got, &nt));
        notify(c, nt);
        if (st != GK_CHAN_EMPTY)
            break;
        if (c->gone || duplex_peer_closed(&c->d)) {
            st = GK_CHAN_EDISCONNECTED;
            break;
        }
        if (duplex_recv_prepare_sleep(&c->d) && (st = wait_peer(deadline_ns)) != GK_CHAN_OK)
            break;
    }
    gk_events_restore(was);
    return st;
}

int64_t gk_conn_close(struct gk_conn *c)
{
    if (!usable(c))
        return HV_EINVAL;
    duplex_close(&c->d);
    if (c->port) {
        gk_evtchn_send(c->port);
        gk_evtchn_close(c->port);
        c->port = 0;
    }
    if (!c->gone)
        gk_bus_close_conn(c->id);
    c->gone = true;
    c->handed = true;
    if (!c->offer) {
        accept_teardown(c, c->pages);
        set_state(c, CONN_FREE);
        return HV_OK;
    }
    if (offer_teardown(c)) {
        set_state(c, CONN_FREE);
        return HV_OK;
    }
    set_state(c, CONN_CLOSING); /* the peer still maps a page: gk_conn_reap finishes */
    return HV_OK;
}
