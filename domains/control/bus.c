/* The control domain's end of every domain's bus (see bus.h). */
#include "bus.h"

#include <stdio.h>
#include <string.h>

#include "gk/gk.h"
#include "gk/mm.h"
#include "gk/pages.h"
#include "log.h"
#include "netpolicy.h"
#include "netstart.h"
#include "registry.h"
#include "services.h"

#define BUS_PAGES 3u

/* One domain's bus, indexed like the registry. */
struct bus_dom {
    bool set_up;    /* pages, grants, port and the capability exist */
    bool gone_done; /* bus_domain_gone ran for this incarnation */
    uint32_t gen;   /* the registry incarnation it belongs to */
    uint8_t *area;
    uint32_t refs[BUS_PAGES];
    uint32_t granted;
    uint32_t port;
    uint32_t dom_slot; /* the domain's capability in our table */
    struct bus_conn conn;
    struct {
        bool used;
        uint64_t id;
        enum proto_msg_type sent;
        uint64_t sent_ns, deadline_ns;
        enum bus_cont cont;
        uint64_t arg, session;
    } pending[BUS_PENDING_MAX];
    uint64_t next_id, event_seq;
    bool logged_throttle;
};

static struct bus_dom buses[DOM_MAX];
static void (*wake_fn)(void);
static bus_answer_fn answer_fn;
static uint8_t rxbuf[BUS_CONN_MSG_MAX];
static uint8_t txbuf[BUS_CONN_MSG_MAX];
static struct proto_msg in_msg, out_msg; /* large: static */
static uint32_t next_dom;                /* round-robin start */

static struct bus_dom *of(const struct dom *d)
{
    return &buses[d->index];
}

void bus_init(void (*wake)(void), bus_answer_fn answer)
{
    wake_fn = wake;
    answer_fn = answer;
}

static void on_port(uint32_t port, void *arg)
{
    (void)port;
    (void)arg;
    if (wake_fn)
        wake_fn();
}

uint32_t bus_dom_slot(const struct dom *d)
{
    return d->built.dom_slot;
}

/* ---- Setting a bus up and taking it down ----------------------------------- */

static void teardown(struct bus_dom *b)
{
    if (b->port) {
        gk_evtchn_close(b->port);
        b->port = 0;
    }
    while (b->granted > 0) {
        int64_t rc = gk_grant_end(b->refs[b->granted - 1]);
        if (rc != HV_OK) {
            /* Still mapped: cannot happen once the domain is destroyed. Keep
             * the pages (never reused while granted) rather than free them. */
            gk_printf("control: bus: grant %u could not be ended (%lld): its pages are kept\n",
                      b->refs[b->granted - 1], (long long)rc);
            b->area = NULL;
            b->granted = 0;
            break;
        }
        b->granted--;
    }
    if (b->area)
        gk_pages_free(b->area, BUS_PAGES);
    b->area = NULL;
    b->set_up = false;
}

int64_t bus_on_created(void *arg, uint32_t dom_slot, uint32_t domid, struct hv_start_bus *out)
{
    (void)domid;
    struct dom *d = arg;
    struct bus_dom *b = of(d);
    memset(b, 0, sizeof *b);
    b->gen = d->gen;
    b->dom_slot = dom_slot;
    b->area = gk_pages_alloc(BUS_PAGES);
    if (!b->area)
        return HV_ENOMEM;
    if (!duplex_format(b->area, BUS_RING_BYTES, 0)) {
        teardown(b);
        return HV_EINVAL;
    }
    b->set_up = true;
    struct duplex_header *h = (struct duplex_header *)b->area;
    int64_t rc = HV_OK;
    for (uint32_t i = 0; i < BUS_PAGES && rc == HV_OK; i++) {
        uint64_t mfn = gk_va_to_mfn((uint64_t)(uintptr_t)(b->area + i * 4096u));
        rc = gk_grant_set(mfn, dom_slot, HV_GRANT_F_WRITE, &b->refs[i]);
        if (rc == HV_OK) {
            b->granted++;
            if (i > 0)
                h->refs[i - 1] = b->refs[i];
        }
    }
    if (rc == HV_OK)
        rc = gk_evtchn_alloc_unbound(dom_slot, &b->port);
    if (rc == HV_OK) {
        gk_evtchn_bind_handler(b->port, on_port, NULL);
        gk_evtchn_unmask(b->port);
        /* The domain names us by this copy of our own capability: grant and
         * event-channel rights, not copyable. */
        rc = gk_cap_copy(HV_ROOT_SLOT_SELF, dom_slot, BUS_CONTROL_SLOT,
                         HV_CAP_R_DOM_GRANT | HV_CAP_R_DOM_EVTCHN, 0, 0);
    }
    if (rc == HV_OK && !duplex_attach(&b->conn.d, b->area, BUS_RING_BYTES, 0, DUPLEX_OFFERER))
        rc = HV_EINVAL;
    if (rc != HV_OK) {
        teardown(b);
        return rc;
    }
    bus_conn_init(&b->conn, gk_now_ns());
    /* Armed from the start: the domain's bus-hello wakes us. */
    duplex_recv_prepare_sleep(&b->conn.d);
    *out = (struct hv_start_bus){
        .control_slot = BUS_CONTROL_SLOT, .port = b->port, .ref = b->refs[0], .pages = BUS_PAGES};
    return HV_OK;
}

static void fail_pending(struct dom *d, struct bus_dom *b, const char *why)
{
    for (uint32_t i = 0; i < BUS_PENDING_MAX; i++) {
        if (!b->pending[i].used)
            continue;
        b->pending[i].used = false;
        switch (b->pending[i].cont) {
        case BUS_CONT_HVCTL:
        case BUS_CONT_SUSPEND:
        case BUS_CONT_RELAY:
            if (answer_fn)
                answer_fn(b->pending[i].session, b->pending[i].arg, PROTO_ERROR_CODE_WRONG_STATE, 0,
                          why, NULL);
            break;
        case BUS_CONT_CONNECT: services_connect_answer(b->pending[i].arg, d, NULL, why); break;
        case BUS_CONT_HEARTBEAT: registry_heartbeat(d, true); break; /* gone, not hung */
        default: break;
        }
    }
}

void bus_domain_gone(struct dom *d, const char *why)
{
    struct bus_dom *b = of(d);
    if (!b->set_up || b->gen != d->gen || b->gone_done)
        return;
    b->gone_done = true;
    if (b->conn.state != PROTO_BUS_STATE_DISCONNECTED)
        b->conn.state = PROTO_BUS_STATE_CLOSED;
    fail_pending(d, b, why);
    services_domain_gone(d, why);
}

void bus_release(struct dom *d)
{
    struct bus_dom *b = of(d);
    if (b->gen != d->gen)
        return;
    if (!b->gone_done && b->set_up)
        bus_domain_gone(d, "the domain was destroyed");
    if (b->set_up)
        teardown(b);
    memset(b, 0, sizeof *b);
}

enum proto_bus_state bus_state(const struct dom *d)
{
    const struct bus_dom *b = of(d);
    if (!b->set_up || b->gen != d->gen)
        return d->has_domain ? PROTO_BUS_STATE_WAITING : PROTO_BUS_STATE_CLOSED;
    return b->conn.state;
}

/* ---- Sending ---------------------------------------------------------------- */

static void cut(struct dom *d, struct bus_dom *b, const char *why);

/* Encodes and sends m to d; a full queue cuts d off. */
static bool send_msg(struct dom *d, struct bus_dom *b, const struct proto_msg *m)
{
    size_t len = 0;
    struct hvcbor_error err;
    if (!proto_msg_encode(m, txbuf, sizeof txbuf, &len, &err)) {
        gk_printf("control: bus: cannot encode %s for %s (%s)\n", proto_msg_name(m->type), d->name,
                  hvcbor_err_name(err.code));
        return false;
    }
    bool notify = false;
    if (!bus_conn_send(&b->conn, txbuf, (uint32_t)len, gk_now_ns(), &notify)) {
        cut(d, b, "its outgoing queue overflowed: it does not read its bus");
        return false;
    }
    if (notify)
        gk_evtchn_send(b->port);
    return true;
}

static void reply_ok(struct dom *d, struct bus_dom *b, uint64_t id)
{
    out_msg.type = PROTO_MSG_OK_REPLY;
    out_msg.u.ok_reply = (struct proto_ok_reply){.request_id = id};
    send_msg(d, b, &out_msg);
}

static struct hvcbor_str str_of(const char *s)
{
    return (struct hvcbor_str){(const uint8_t *)s, (uint32_t)strlen(s)};
}

static void reply_error(struct dom *d, struct bus_dom *b, uint64_t id, enum proto_error_code code,
                        int64_t hv_status, const char *why)
{
    out_msg.type = PROTO_MSG_ERROR_REPLY;
    out_msg.u.error_reply = (struct proto_error_reply){.request_id = id,
                                                       .code = code,
                                                       .message = str_of(why),
                                                       .has_hv_status = hv_status != 0,
                                                       .hv_status = hv_status};
    send_msg(d, b, &out_msg);
}

void services_reply(struct dom *d, uint64_t id, enum proto_error_code code, int64_t hv_status,
                    const char *why)
{
    struct bus_dom *b = of(d);
    if (code == 0)
        reply_ok(d, b, id);
    else
        reply_error(d, b, id, code, hv_status, why);
}

static bool live(const struct dom *d, const struct bus_dom *b)
{
    return b->set_up && b->gen == d->gen && b->conn.state == PROTO_BUS_STATE_CONNECTED;
}

const char *bus_request(struct dom *d, struct proto_msg *m, enum bus_cont cont, uint64_t arg,
                        uint64_t session)
{
    return bus_request_timeout(d, m, cont, arg, session, BUS_REQUEST_TIMEOUT_NS);
}

/* The reply a relayed request must get (anything else is the domain's
 * error, not passed on). */
static enum proto_msg_type relay_reply_type(enum proto_msg_type sent)
{
    switch (sent) {
    case PROTO_MSG_VOLUME_LIST_REQUEST: return PROTO_MSG_VOLUME_LIST_REPLY;
    case PROTO_MSG_VOLUME_DELETE_REQUEST: return PROTO_MSG_OK_REPLY;
    default: return PROTO_MSG_VOLUME_INFO_REPLY;
    }
}

const char *bus_request_timeout(struct dom *d, struct proto_msg *m, enum bus_cont cont,
                                uint64_t arg, uint64_t session, uint64_t timeout_ns)
{
    struct bus_dom *b = of(d);
    if (!live(d, b))
        return "its bus is not connected";
    uint32_t i = 0;
    while (i < BUS_PENDING_MAX && b->pending[i].used)
        i++;
    if (i == BUS_PENDING_MAX)
        return "it has too many unanswered requests";
    uint64_t id = ++b->next_id;
    switch (m->type) {
    case PROTO_MSG_BUS_SHUTDOWN_REQUEST: m->u.bus_shutdown_request.request_id = id; break;
    case PROTO_MSG_BUS_SUSPEND_REQUEST: m->u.bus_suspend_request.request_id = id; break;
    case PROTO_MSG_BUS_MEMORY_TARGET_REQUEST: m->u.bus_memory_target_request.request_id = id; break;
    case PROTO_MSG_BUS_CONNECT_REQUEST: m->u.bus_connect_request.request_id = id; break;
    case PROTO_MSG_BUS_PING: m->u.bus_ping.request_id = id; break;
    case PROTO_MSG_VOLUME_CREATE_REQUEST: m->u.volume_create_request.request_id = id; break;
    case PROTO_MSG_VOLUME_GROW_REQUEST: m->u.volume_grow_request.request_id = id; break;
    case PROTO_MSG_VOLUME_DELETE_REQUEST: m->u.volume_delete_request.request_id = id; break;
    case PROTO_MSG_VOLUME_LIST_REQUEST: m->u.volume_list_request.request_id = id; break;
    case PROTO_MSG_VOLUME_INFO_REQUEST: m->u.volume_info_request.request_id = id; break;
    default: return "not a request the control domain sends";
    }
    if (!send_msg(d, b, m))
        return "it does not read its bus";
    uint64_t now = gk_now_ns();
    b->pending[i].used = true;
    b->pending[i].id = id;
    b->pending[i].sent = m->type;
    b->pending[i].sent_ns = now;
    b->pending[i].deadline_ns = now + timeout_ns;
    b->pending[i].cont = cont;
    b->pending[i].arg = arg;
    b->pending[i].session = session;
    return NULL;
}

void bus_event(struct dom *d, struct proto_msg *m)
{
    struct bus_dom *b = of(d);
    if (!live(d, b))
        return;
    uint64_t seq = ++b->event_seq;
    if (m->type == PROTO_MSG_BUS_GONE_EVENT)
        m->u.bus_gone_event.request_id = seq;
    else if (m->type == PROTO_MSG_BUS_RESUME_EVENT)
        m->u.bus_resume_event.request_id = seq;
    else if (m->type == PROTO_MSG_BLK_DISKS_EVENT)
        m->u.blk_disks_event.request_id = seq;
    send_msg(d, b, m);
}

bool bus_shutdown(struct dom *d, enum proto_shutdown_kind kind)
{
    out_msg.type = PROTO_MSG_BUS_SHUTDOWN_REQUEST;
    out_msg.u.bus_shutdown_request = (struct proto_bus_shutdown_request){.kind = kind};
    return bus_request(d, &out_msg, BUS_CONT_NONE, 0, 0) == NULL;
}

bool bus_heartbeat(struct dom *d, uint64_t timeout_ns)
{
    out_msg.type = PROTO_MSG_BUS_PING;
    out_msg.u.bus_ping = (struct proto_bus_ping){.seq = of(d)->next_id + 1};
    return bus_request_timeout(d, &out_msg, BUS_CONT_HEARTBEAT, 0, 0, timeout_ns) == NULL;
}

void bus_resumed(struct dom *d)
{
    out_msg.type = PROTO_MSG_BUS_RESUME_EVENT;
    out_msg.u.bus_resume_event = (struct proto_bus_resume_event){0};
    bus_event(d, &out_msg);
}

/* ---- Serving ---------------------------------------------------------------- */

static void cut(struct dom *d, struct bus_dom *b, const char *why)
{
    bus_conn_disconnect(&b->conn, why);
    char detail[BUS_CONN_REASON_MAX + 32];
    snprintf(detail, sizeof detail, "bus disconnected: %s", b->conn.reason);
    gk_printf("control: %s: %s\n", d->name, detail);
    ctl_log_add("control", "bus-disconnect", d->name, false, PROTO_ERROR_CODE_REFUSED, detail);
    if (b->port) {
        /* It can no longer wake us; its pages stay granted (it maps them)
         * until it is destroyed. */
        gk_evtchn_close(b->port);
        b->port = 0;
    }
    fail_pending(d, b, "its bus was disconnected");
    services_domain_gone(d, "its bus was disconnected");
}

static void on_reply(struct dom *d, struct bus_dom *b, struct proto_msg *m)
{
    uint64_t id = proto_msg_request_id(m);
    uint32_t i = 0;
    while (i < BUS_PENDING_MAX && !(b->pending[i].used && b->pending[i].id == id))
        i++;
    if (i == BUS_PENDING_MAX) {
        b->conn.errors++; /* a reply to nothing (or to a request timed out) */
        return;
    }
    b->pending[i].used = false;
    bool ok = m->type != PROTO_MSG_ERROR_REPLY;
    enum proto_error_code code = ok ? 0 : m->u.error_reply.code;
    int64_t hv_status = !ok && m->u.error_reply.has_hv_status ? m->u.error_reply.hv_status : 0;
    const char *why = NULL;
    char msg[160];
    if (!ok) {
        const struct hvcbor_str *s = &m->u.error_reply.message;
        snprintf(msg, sizeof msg, "the domain answered: %.*s", (int)(s->len > 120 ? 120 : s->len),
                 (const char *)s->ptr);
        why = msg;
    }
    switch (b->pending[i].cont) {
    case BUS_CONT_SUSPEND:
        if (ok && gk_domain_pause(d->built.dom_slot) == HV_OK) {
            d->state = PROTO_DOMAIN_STATE_PAUSED;
            d->suspended = true;
        } else if (ok) {
            code = PROTO_ERROR_CODE_INTERNAL;
            why = "the domain agreed but could not be paused";
        }
        /* fall through */
    case BUS_CONT_HVCTL:
        if (answer_fn)
            answer_fn(b->pending[i].session, b->pending[i].arg, code, hv_status, why, NULL);
        break;
    case BUS_CONT_RELAY:
        if (ok && m->type != relay_reply_type(b->pending[i].sent)) {
            code = PROTO_ERROR_CODE_INTERNAL;
            snprintf(msg, sizeof msg, "the domain answered with %s",
                     proto_msg_name(m->type) ? proto_msg_name(m->type) : "?");
            why = msg;
            ctl_log_add("control", proto_msg_name(b->pending[i].sent), d->name, false, code, why);
        }
        if (answer_fn)
            answer_fn(b->pending[i].session, b->pending[i].arg, code, hv_status, why,
                      code == 0 ? m : NULL);
        break;
    case BUS_CONT_CONNECT: services_connect_answer(b->pending[i].arg, d, m, why); break;
    case BUS_CONT_HEARTBEAT:
        if (ok && m->type != PROTO_MSG_BUS_PONG)
            b->conn.errors++; /* answered with something else: not an answer */
        registry_heartbeat(d, ok && m->type == PROTO_MSG_BUS_PONG);
        break;
    case BUS_CONT_NONE:
        if (!ok)
            ctl_log_add("control", proto_msg_name(b->pending[i].sent), d->name, false,
                        PROTO_ERROR_CODE_REFUSED, why);
        break;
    }
}

static bool name_eq(struct hvcbor_str a, struct hvcbor_str b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

static void serve(struct dom *d, struct bus_dom *b, struct proto_msg *m)
{
    uint64_t id = proto_msg_request_id(m);
    switch (m->type) {
    case PROTO_MSG_BUS_HELLO:
        if (m->u.bus_hello.version != PROTO_VERSION) {
            reply_error(d, b, id, PROTO_ERROR_CODE_VERSION_MISMATCH, 0,
                        "the control domain speaks another protocol version");
            return;
        }
        out_msg.type = PROTO_MSG_BUS_HELLO_REPLY;
        out_msg.u.bus_hello_reply = (struct proto_bus_hello_reply){.request_id = id,
                                                                   .version = PROTO_VERSION,
                                                                   .name = str_of(d->name),
                                                                   .id = d->built.domid};
        send_msg(d, b, &out_msg);
        ctl_log_add("control", "bus-connect", d->name, true, 0, NULL);
        services_domain_up(d);
        return;
    case PROTO_MSG_BUS_PING:
        out_msg.type = PROTO_MSG_BUS_PONG;
        out_msg.u.bus_pong = (struct proto_bus_pong){.request_id = id, .seq = m->u.bus_ping.seq};
        send_msg(d, b, &out_msg);
        return;
    case PROTO_MSG_CONFIG_GET_REQUEST: {
        const struct proto_domain_config *c = &d->cfg;
        static char lease[512];
        const char *why = NULL;
        int asked = netstart_lease(d, m->u.config_get_request.key, lease, sizeof lease, &why);
        if (asked == 0) /* netback's other questions: rules and classes */
            asked = netpolicy_answer(d, m->u.config_get_request.key, lease, sizeof lease, &why);
        if (asked < 0) {
            reply_error(d, b, id, PROTO_ERROR_CODE_NOT_FOUND, 0, why);
            return;
        }
        if (asked > 0) {
            out_msg.type = PROTO_MSG_CONFIG_GET_REPLY;
            out_msg.u.config_get_reply = (struct proto_config_get_reply){
                .request_id = id, .value = {(const uint8_t *)lease, (uint32_t)strlen(lease)}};
            send_msg(d, b, &out_msg);
            return;
        }
        for (uint32_t i = 0; c->has_config && i < c->config.count; i++) {
            if (name_eq(c->config.items[i].key, m->u.config_get_request.key)) {
                out_msg.type = PROTO_MSG_CONFIG_GET_REPLY;
                out_msg.u.config_get_reply = (struct proto_config_get_reply){
                    .request_id = id, .value = c->config.items[i].value};
                send_msg(d, b, &out_msg);
                return;
            }
        }
        reply_error(d, b, id, PROTO_ERROR_CODE_NOT_FOUND, 0, "the manifest has no such key");
        return;
    }
    case PROTO_MSG_SERVICE_REGISTER_REQUEST:
        services_register(d, id, m->u.service_register_request.name);
        return;
    case PROTO_MSG_SERVICE_USE_REQUEST: services_use(d, id, m->u.service_use_request.name); return;
    case PROTO_MSG_BUS_CLOSE_REQUEST: services_close(d, id, m->u.bus_close_request.conn); return;
    case PROTO_MSG_OK_REPLY:
    case PROTO_MSG_ERROR_REPLY:
    case PROTO_MSG_BUS_CONNECT_REPLY:
    case PROTO_MSG_BUS_MEMORY_TARGET_REPLY:
    case PROTO_MSG_BUS_PONG:
    case PROTO_MSG_VOLUME_INFO_REPLY:
    case PROTO_MSG_VOLUME_LIST_REPLY: on_reply(d, b, m); return;
    default: return; /* bus_conn_next admits nothing else */
    }
}

static bool live_or_waiting(const struct bus_dom *b)
{
    return b->conn.state == PROTO_BUS_STATE_WAITING || b->conn.state == PROTO_BUS_STATE_CONNECTED;
}

/* One round of d's bus: flush, up to BUS_CONN_BUDGET messages, timeouts. */
static void serve_round(struct dom *d, struct bus_dom *b, uint64_t now)
{
    bool notify = false;
    if (bus_conn_flush(&b->conn, now, &notify)) {
        cut(d, b, b->conn.reason);
        return;
    }
    if (notify)
        gk_evtchn_send(b->port);
    for (uint32_t k = 0; k < BUS_CONN_BUDGET && live_or_waiting(b); k++) {
        uint64_t id = 0;
        const char *why = NULL;
        enum bus_rx rx =
            bus_conn_next(&b->conn, now, rxbuf, sizeof rxbuf, &in_msg, &id, &why, &notify);
        if (notify)
            gk_evtchn_send(b->port);
        /* Nothing there: arm the ring so the domain's next message wakes us
         * (and read on if one came in meanwhile). */
        if (rx == BUS_RX_NONE && live_or_waiting(b) && duplex_recv_prepare_sleep(&b->conn.d))
            break;
        if (rx == BUS_RX_NONE)
            continue;
        if (rx == BUS_RX_CUT) {
            cut(d, b, b->conn.reason);
            return;
        }
        if (rx == BUS_RX_REFUSED) {
            reply_error(d, b, id, PROTO_ERROR_CODE_INVALID, 0, why);
            ctl_log_add("control", "bus-refused", d->name, false, PROTO_ERROR_CODE_INVALID, why);
            continue;
        }
        serve(d, b, &in_msg);
    }
    if (b->conn.holding && !b->logged_throttle) {
        b->logged_throttle = true;
        ctl_log_add("control", "bus-throttled", d->name, false, PROTO_ERROR_CODE_BUSY,
                    "held back: more than 10000 messages per second");
    } else if (!b->conn.holding) {
        b->logged_throttle = false;
    }
    for (uint32_t i = 0; i < BUS_PENDING_MAX; i++) {
        if (!b->pending[i].used || now < b->pending[i].deadline_ns)
            continue;
        b->pending[i].used = false;
        const char *why = "the domain did not answer in time";
        if (b->pending[i].cont == BUS_CONT_HEARTBEAT) {
            registry_heartbeat(d, false); /* logged as a hang by the registry */
            continue;
        }
        ctl_log_add("control", proto_msg_name(b->pending[i].sent), d->name, false,
                    PROTO_ERROR_CODE_BUSY, why);
        switch (b->pending[i].cont) {
        case BUS_CONT_HVCTL:
        case BUS_CONT_SUSPEND:
        case BUS_CONT_RELAY:
            if (answer_fn)
                answer_fn(b->pending[i].session, b->pending[i].arg, PROTO_ERROR_CODE_BUSY, 0, why,
                          NULL);
            break;
        case BUS_CONT_CONNECT: services_connect_answer(b->pending[i].arg, d, NULL, why); break;
        default: break;
        }
    }
}

void bus_poll(void)
{
    uint64_t now = gk_now_ns();
    for (uint32_t k = 0; k < DOM_MAX; k++) {
        uint32_t i = (next_dom + k) % DOM_MAX;
        struct dom *d = registry_at(i);
        if (!d || !d->has_domain)
            continue;
        struct bus_dom *b = &buses[i];
        if (!b->set_up || b->gen != d->gen || b->gone_done)
            continue;
        if (b->conn.state == PROTO_BUS_STATE_WAITING || b->conn.state == PROTO_BUS_STATE_CONNECTED)
            serve_round(d, b, now);
    }
    next_dom = (next_dom + 1) % DOM_MAX;
}

/* ---- hvctl bus ---------------------------------------------------------------- */

/* Grants the control domain has made and not ended (a scan of its table). */
static uint64_t grants_live(void)
{
    uint64_t n = 0;
    for (uint32_t ref = 1; ref < HV_GRANT_REFS; ref++)
        if (gk_grant_status(ref, NULL, NULL, NULL) == HV_OK)
            n++;
    return n;
}

void bus_info(const struct dom *d, struct proto_bus_info_reply *r)
{
    uint64_t id = r->request_id;
    memset(r, 0, sizeof *r);
    r->request_id = id;
    if (!d) {
        r->domain = str_of(CONTROL_NAME);
        r->state = PROTO_BUS_STATE_NONE;
        int64_t pages = gk_hc_memory_op(HV_MEMOP_CURRENT, 0);
        r->has_control_frames = true;
        r->control_frames = pages > 0 ? (uint64_t)pages : 0;
        r->has_control_grants = true;
        r->control_grants = grants_live();
        r->has_control_conns = true;
        r->control_conns = services_conn_count();
        for (uint32_t i = 0; i < DOM_MAX; i++) {
            struct dom *x = registry_at(i);
            if (x && buses[i].set_up && buses[i].gen == x->gen) {
                r->msgs_in += buses[i].conn.msgs_in;
                r->msgs_out += buses[i].conn.msgs_out;
                r->errors += buses[i].conn.errors;
                r->throttled += buses[i].conn.throttled;
            }
        }
        return;
    }
    const struct bus_dom *b = of(d);
    r->domain = str_of(d->name);
    r->state = bus_state(d);
    if (!b->set_up || b->gen != d->gen)
        return;
    r->msgs_in = b->conn.msgs_in;
    r->msgs_out = b->conn.msgs_out;
    r->errors = b->conn.errors;
    r->throttled = b->conn.throttled;
    r->has_queued = true;
    r->queued = bus_conn_queued(&b->conn);
    if (b->conn.reason[0]) {
        r->has_reason = true;
        r->reason = str_of(b->conn.reason);
    }
    uint64_t now = gk_now_ns();
    for (uint32_t i = 0; i < BUS_PENDING_MAX && r->pending.count < 16; i++) {
        if (!b->pending[i].used)
            continue;
        r->pending.items[r->pending.count++] =
            (struct proto_bus_pending_info){.request_id = b->pending[i].id,
                                            .what = str_of(proto_msg_name(b->pending[i].sent)),
                                            .age_ns = now - b->pending[i].sent_ns};
    }
    services_dom_info(d, r);
}
