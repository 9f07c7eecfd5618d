/*
 * Channels: two proto rings in one granted page plus an event channel
 * (see gk/channel.h for the protocol, the layout and the trust model).
 *
 * Only the functions of gk/event.h and gk/grant.h are called here (no
 * inline hypercall), so the host test links this file against fakes of
 * them and runs both ends in one process (test/unit/guestkit).
 *
 * Blocking follows hv/ring.h: with upcalls masked, arm our event index
 * and re-check the ring (ring_*_prepare_sleep); block only if there is
 * still nothing to do. A notification sent after the re-check makes our
 * port pending, which sets upcall_pending, so HC_BLOCK returns at once.
 */
#include "gk/channel.h"

#include "gk/event.h"
#include "gk/grant.h"
#include "gk/time.h"
#include "hv/grant.h"

#define PAGE GK_CHANNEL_PAGE_BYTES

/* The port's handler: count, then the application's callback. */
static void chan_event(uint32_t port, void *arg)
{
    (void)port;
    struct gk_channel *ch = arg;
    ch->events = ch->events + 1;
    if (ch->on_event)
        ch->on_event(ch, ch->on_event_arg);
}

static void clear(struct gk_channel *ch)
{
    *ch = (struct gk_channel){0};
}

/* Binds our handler to the port and unmasks it. */
static int64_t listen_port(struct gk_channel *ch)
{
    int64_t rc = gk_evtchn_bind_handler(ch->port, chan_event, ch);
    if (rc == HV_OK)
        rc = gk_evtchn_unmask(ch->port);
    return rc;
}

int64_t gk_channel_offer(struct gk_channel *ch, uint32_t peer_slot, void *page, uint32_t *ref,
                         uint32_t *port)
{
    if (ch == NULL || page == NULL || ((uintptr_t)page & (PAGE - 1)) != 0 || ref == NULL ||
        port == NULL)
        return HV_EINVAL;
    clear(ch);
    uint8_t *p = page;
    if (!ring_format(p, GK_CHANNEL_RING_BYTES) ||
        !ring_format(p + GK_CHANNEL_RING_BYTES, GK_CHANNEL_RING_BYTES) ||
        !ring_attach_producer(&ch->tx, p, GK_CHANNEL_RING_BYTES) ||
        !ring_attach_consumer(&ch->rx, p + GK_CHANNEL_RING_BYTES, GK_CHANNEL_RING_BYTES))
        return HV_EINVAL; /* cannot happen with these constants */
    ch->page = p;
    ch->server = true;
    ch->peer_slot = peer_slot;
    int64_t rc = gk_grant_page(peer_slot, page, true, &ch->ref);
    if (rc != HV_OK) {
        clear(ch);
        return rc;
    }
    rc = gk_evtchn_alloc_unbound(peer_slot, &ch->port);
    if (rc != HV_OK) {
        gk_grant_end(ch->ref);
        clear(ch);
        return rc;
    }
    rc = listen_port(ch);
    if (rc != HV_OK) {
        gk_evtchn_close(ch->port);
        gk_grant_end(ch->ref);
        clear(ch);
        return rc;
    }
    ch->set_up = true;
    *ref = ch->ref;
    *port = ch->port;
    return HV_OK;
}

bool gk_channel_poll_accept(struct gk_channel *ch)
{
    if (ch == NULL || !ch->set_up || !ch->server)
        return false;
    if (!ch->accepted && ch->events > 0)
        ch->accepted = true;
    return ch->accepted;
}

int64_t gk_channel_accept(struct gk_channel *ch)
{
    if (ch == NULL || !ch->set_up || !ch->server)
        return HV_EINVAL;
    bool was = gk_events_disable();
    while (!gk_channel_poll_accept(ch)) {
        gk_block();
        gk_events_disable();
    }
    gk_events_restore(was);
    return HV_OK;
}

int64_t gk_channel_connect(struct gk_channel *ch, uint32_t server_slot, uint32_t ref, uint32_t port,
                           uint64_t va)
{
    if (ch == NULL)
        return HV_EINVAL;
    clear(ch);
    /* What the server told us is checked before it is used. */
    if (ref == HV_GRANT_REF_NONE || ref >= HV_GRANT_REFS || port == 0 || port >= HV_EVTCHN_PORTS ||
        va == 0 || (va & (PAGE - 1)) != 0 || va >= HV_GUEST_VA_LIMIT)
        return HV_EINVAL;
    int64_t rc = gk_grant_map(server_slot, ref, va, true);
    if (rc != HV_OK)
        return rc;
    uint8_t *p = (uint8_t *)(uintptr_t)va;
    ch->page = p;
    ch->mapped = true;
    ch->peer_slot = server_slot;
    ch->ref = ref;
    rc = gk_evtchn_bind_interdomain(server_slot, port, &ch->port);
    if (rc != HV_OK) {
        gk_grant_unmap(va);
        clear(ch);
        return rc;
    }
    gk_evtchn_test_and_clear(ch->port); /* a new port starts pending */
    rc = listen_port(ch);
    if (rc != HV_OK) {
        gk_evtchn_close(ch->port);
        gk_grant_unmap(va);
        clear(ch);
        return rc;
    }
    /* The server formatted the rings; its indices are validated on every
     * use, and a misaligned starting index is refused here already. */
    if (!ring_attach_consumer(&ch->rx, p, GK_CHANNEL_RING_BYTES) ||
        !ring_attach_producer(&ch->tx, p + GK_CHANNEL_RING_BYTES, GK_CHANNEL_RING_BYTES) ||
        (ch->rx.local & 7u) != 0 || (ch->tx.local & 7u) != 0)
        ch->disconnected = true;
    ch->set_up = true;
    rc = gk_evtchn_send(ch->port); /* "connected" */
    if (rc != HV_OK) {
        gk_evtchn_close(ch->port);
        gk_grant_unmap(va);
        clear(ch);
        return rc;
    }
    ch->notifies++;
    return HV_OK;
}

/* Sends a notification. A server whose client has not bound yet has no
 * one to notify: a refused send is then fine (the client reads the ring
 * after it binds). */
static enum gk_chan_status notify_peer(struct gk_channel *ch)
{
    int64_t rc = gk_evtchn_send(ch->port);
    if (rc == HV_OK) {
        ch->notifies++;
        return GK_CHAN_OK;
    }
    if (ch->server && !gk_channel_poll_accept(ch))
        return GK_CHAN_OK;
    ch->last_error = rc;
    return GK_CHAN_ENOTIFY;
}

enum gk_chan_status gk_chan_status_of(enum ring_status st)
{
    switch (st) {
    case RING_OK: return GK_CHAN_OK;
    case RING_EMPTY: return GK_CHAN_EMPTY;
    case RING_FULL: return GK_CHAN_FULL;
    case RING_ETOOBIG: return GK_CHAN_ETOOBIG;
    case RING_EINVAL: return GK_CHAN_EINVAL;
    case RING_ECORRUPT:
    default: return GK_CHAN_EDISCONNECTED;
    }
}

static enum gk_chan_status from_ring(struct gk_channel *ch, enum ring_status st)
{
    enum gk_chan_status r = gk_chan_status_of(st);
    if (r == GK_CHAN_EDISCONNECTED)
        ch->disconnected = true;
    return r;
}

static bool usable(const struct gk_channel *ch)
{
    return ch != NULL && ch->set_up && !ch->disconnected;
}

enum gk_chan_status gk_channel_try_send(struct gk_channel *ch, const void *msg, uint32_t len)
{
    if (!usable(ch))
        return ch == NULL ? GK_CHAN_EINVAL : GK_CHAN_EDISCONNECTED;
    bool notify = false;
    enum gk_chan_status st = from_ring(ch, ring_write(&ch->tx, msg, len, &notify));
    if (st == GK_CHAN_OK && notify)
        return notify_peer(ch);
    return st;
}

/* Before blocking with a deadline: GK_CHAN_OK to go ahead and block (the
 * timer armed unless there is no deadline), GK_CHAN_ETIMEDOUT once it has
 * passed, GK_CHAN_ENOTIFY if the timer could not be armed. */
static enum gk_chan_status before_block(struct gk_channel *ch, uint64_t deadline_ns)
{
    if (deadline_ns == GK_CHANNEL_FOREVER)
        return GK_CHAN_OK;
    if (gk_now_ns() >= deadline_ns)
        return GK_CHAN_ETIMEDOUT;
    int64_t rc = gk_timer_arm(deadline_ns);
    if (rc != HV_OK) {
        ch->last_error = rc;
        return GK_CHAN_ENOTIFY;
    }
    return GK_CHAN_OK;
}

enum gk_chan_status gk_channel_send_until(struct gk_channel *ch, const void *msg, uint32_t len,
                                          uint64_t deadline_ns)
{
    bool was = gk_events_disable();
    enum gk_chan_status st;
    for (;;) {
        st = gk_channel_try_send(ch, msg, len);
        if (st != GK_CHAN_FULL)
            break;
        if (ring_producer_prepare_sleep(&ch->tx, len)) {
            st = before_block(ch, deadline_ns);
            if (st != GK_CHAN_OK)
                break;
            gk_block();
            gk_events_disable();
        }
    }
    gk_events_restore(was);
    return st;
}

enum gk_chan_status gk_channel_send(struct gk_channel *ch, const void *msg, uint32_t len)
{
    return gk_channel_send_until(ch, msg, len, GK_CHANNEL_FOREVER);
}

enum gk_chan_status gk_channel_try_recv(struct gk_channel *ch, void *buf, uint32_t cap,
                                        uint32_t *len)
{
    uint32_t dummy;
    if (len == NULL)
        len = &dummy;
    *len = 0;
    if (!usable(ch))
        return ch == NULL ? GK_CHAN_EINVAL : GK_CHAN_EDISCONNECTED;
    bool notify = false;
    enum gk_chan_status st = from_ring(ch, ring_read(&ch->rx, buf, cap, len, &notify));
    if (st == GK_CHAN_OK && notify)
        return notify_peer(ch);
    return st;
}

enum gk_chan_status gk_channel_recv_until(struct gk_channel *ch, void *buf, uint32_t cap,
                                          uint32_t *len, uint64_t deadline_ns)
{
    bool was = gk_events_disable();
    enum gk_chan_status st;
    for (;;) {
        st = gk_channel_try_recv(ch, buf, cap, len);
        if (st != GK_CHAN_EMPTY)
            break;
        if (ring_consumer_prepare_sleep(&ch->rx)) {
            st = before_block(ch, deadline_ns);
            if (st != GK_CHAN_OK)
                break;
            gk_block();
            gk_events_disable();
        }
    }
    gk_events_restore(was);
    return st;
}

enum gk_chan_status gk_channel_recv(struct gk_channel *ch, void *buf, uint32_t cap, uint32_t *len)
{
    return gk_channel_recv_until(ch, buf, cap, len, GK_CHANNEL_FOREVER);
}

uint32_t gk_channel_max_msg(const struct gk_channel *ch)
{
    return ch != NULL && ch->set_up ? ring_max_payload(&ch->tx) : 0;
}

bool gk_channel_disconnected(const struct gk_channel *ch)
{
    return !usable(ch);
}

int64_t gk_channel_last_error(const struct gk_channel *ch)
{
    return ch != NULL ? ch->last_error : HV_EINVAL;
}

void gk_channel_set_event_fn(struct gk_channel *ch, gk_channel_event_fn fn, void *arg)
{
    bool was = gk_events_disable();
    ch->on_event = fn;
    ch->on_event_arg = fn ? arg : NULL;
    gk_events_restore(was);
}

int64_t gk_channel_close(struct gk_channel *ch)
{
    if (ch == NULL)
        return HV_EINVAL;
    ch->disconnected = true;
    if (ch->port != 0) {
        int64_t rc = gk_evtchn_close(ch->port);
        if (rc != HV_OK)
            return rc;
        ch->port = 0;
    }
    if (ch->mapped) {
        int64_t rc = gk_grant_unmap((uint64_t)(uintptr_t)ch->page);
        if (rc != HV_OK)
            return rc;
        ch->mapped = false;
    }
    if (ch->server && ch->ref != HV_GRANT_REF_NONE) {
        int64_t rc = gk_grant_end(ch->ref);
        if (rc != HV_OK)
            return rc; /* HV_EBUSY while the client maps it: call again */
        ch->ref = HV_GRANT_REF_NONE;
    }
    ch->set_up = false;
    return HV_OK;
}
