/* Services, declared channels and introductions (see services.h). */
#include "services.h"

#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "disks.h"
#include "gk/gk.h"
#include "log.h"
#include "registry.h"

#define NAME_MAX_BYTES 32u
/* Our own slots for the intermediate capabilities: the registry uses
 * 32..95, devices start at 128 (HV_ROOT_SLOT_DEVICE_FIRST): a slot is taken
 * only if HV_CAP_IDENTIFY says it is empty. */
#define CTL_SLOT_FIRST 96u
#define PEER_SLOTS (HV_CAP_SLOTS - BUS_PEER_SLOT_FIRST)
#define RIGHTS_PEER (HV_CAP_R_DOM_GRANT | HV_CAP_R_DOM_EVTCHN)

struct ref {
    uint32_t index, gen; /* a registry entry and its incarnation */
};

static struct {
    bool used;
    char name[NAME_MAX_BYTES + 1];
    struct ref provider;
} services[SERVICES_MAX];

static struct {
    bool used;
    char name[NAME_MAX_BYTES + 1];
    struct ref user;
} uses[SERVICE_USES_MAX];

static struct conn {
    bool used;
    uint64_t id;
    enum proto_conn_kind kind;
    char name[NAME_MAX_BYTES + 1];
    struct ref o, a; /* offering and accepting sides */
    enum proto_conn_state state;
    uint32_t ring_bytes, buf_bytes;
    uint32_t ctl_of_a, ctl_of_o; /* our intermediate copies (0: none) */
    uint32_t in_o, in_a;         /* the peer slots in O's and A's tables */
    uint32_t ref, port;
    bool told_o, told_a; /* a bus-connect-request went to that side */
} conns[CONNS_MAX];

static uint64_t next_conn = 1;
static bool ctl_slot_ours[HV_CAP_SLOTS];
static struct {
    uint32_t gen;
    uint64_t used; /* bit i: peer slot BUS_PEER_SLOT_FIRST + i */
} peer_slots[DOM_MAX];
static struct proto_msg msg; /* large: static */

_Static_assert(PEER_SLOTS <= 64, "peer slots fit a bitmap");

/* ---- Helpers ------------------------------------------------------------------ */

static struct ref ref_of(const struct dom *d)
{
    return (struct ref){d->index, d->gen};
}

/* The domain a ref names if it is still that incarnation and built. */
static struct dom *dom_of(struct ref r)
{
    struct dom *d = registry_at(r.index);
    return d && d->gen == r.gen && d->has_domain ? d : NULL;
}

static bool same(struct ref a, const struct dom *d)
{
    return d && a.index == d->index && a.gen == d->gen;
}

static void copy_name(char *dst, struct hvcbor_str s)
{
    uint32_t n = s.len < NAME_MAX_BYTES ? s.len : NAME_MAX_BYTES;
    memcpy(dst, s.ptr, n);
    dst[n] = 0;
}

static bool str_eq(struct hvcbor_str a, const char *b)
{
    return a.len == strlen(b) && memcmp(a.ptr, b, a.len) == 0;
}

static struct hvcbor_str str_of(const char *s)
{
    return (struct hvcbor_str){(const uint8_t *)s, (uint32_t)strlen(s)};
}

static bool listed(const struct dom *d, bool offers, struct hvcbor_str name)
{
    const struct proto_domain_config *c = &d->cfg;
    bool has = offers ? c->has_offers : c->has_uses;
    uint32_t n = offers ? c->offers.count : c->uses.count;
    for (uint32_t i = 0; has && i < n; i++) {
        struct hvcbor_str s = offers ? c->offers.items[i] : c->uses.items[i];
        if (s.len == name.len && memcmp(s.ptr, name.ptr, s.len) == 0)
            return true;
    }
    return !offers && disks_uses(d, name); /* disks: implies uses: [blk] */
}

static bool bus_up(const struct dom *d)
{
    return d && bus_state(d) == PROTO_BUS_STATE_CONNECTED;
}

bool channel_geometry(uint64_t size_bytes, uint32_t *ring_bytes, uint32_t *buf_bytes)
{
    if (size_bytes < CHANNEL_SIZE_MIN || size_bytes > CHANNEL_SIZE_MAX ||
        (size_bytes & (size_bytes - 1)) != 0)
        return false;
    uint32_t quarter = (uint32_t)(size_bytes / 4);
    *ring_bytes = quarter > DUPLEX_RING_MAX ? DUPLEX_RING_MAX : quarter;
    *buf_bytes = quarter > DUPLEX_BUF_MAX ? DUPLEX_BUF_MAX : quarter;
    return duplex_area_pages(*ring_bytes, *buf_bytes) != 0;
}

/* ---- Capability slots --------------------------------------------------------- */

static uint32_t ctl_slot_alloc(void)
{
    for (uint32_t s = CTL_SLOT_FIRST; s < HV_CAP_SLOTS; s++) {
        if (ctl_slot_ours[s])
            continue;
        struct hv_cap_info info;
        if (gk_cap_identify(s, &info) == HV_OK && info.type == HV_CAP_NULL) {
            ctl_slot_ours[s] = true;
            return s;
        }
    }
    return 0;
}

/* Revokes what was copied from our slot s, then empties it. */
static void ctl_slot_free(uint32_t s)
{
    if (s == 0)
        return;
    gk_cap_revoke(s);
    gk_cap_delete(s);
    ctl_slot_ours[s] = false;
}

/* Copies our intermediate slot `from` into a free peer slot of d's table;
 * the slot, or 0 (with *st the last status). */
static uint32_t peer_slot_give(struct dom *d, uint32_t from, int64_t *st)
{
    if (peer_slots[d->index].gen != d->gen) {
        peer_slots[d->index].gen = d->gen;
        peer_slots[d->index].used = 0;
    }
    *st = HV_ENOMEM;
    for (uint32_t i = 0; i < PEER_SLOTS; i++) {
        if (peer_slots[d->index].used >> i & 1)
            continue;
        uint32_t slot = BUS_PEER_SLOT_FIRST + i;
        *st = gk_cap_copy(from, bus_dom_slot(d), slot, RIGHTS_PEER, 0, 0);
        peer_slots[d->index].used |= 1ull << i; /* occupied either way (EEXIST: by it) */
        if (*st == HV_OK)
            return slot;
        if (*st != HV_EEXIST)
            return 0;
    }
    return 0;
}

static void peer_slot_forget(struct ref r, uint32_t slot)
{
    if (slot >= BUS_PEER_SLOT_FIRST && peer_slots[r.index].gen == r.gen)
        peer_slots[r.index].used &= ~(1ull << (slot - BUS_PEER_SLOT_FIRST));
}

/* ---- Connections -------------------------------------------------------------- */

static struct conn *conn_find(uint64_t id)
{
    for (uint32_t i = 0; i < CONNS_MAX; i++)
        if (conns[i].used && conns[i].id == id)
            return &conns[i];
    return NULL;
}

static void log_conn(const struct conn *c, const char *action, bool ok, const char *why)
{
    char detail[200];
    struct dom *o = dom_of(c->o), *a = dom_of(c->a);
    snprintf(detail, sizeof detail, "%s \"%s\" (conn %llu): %s offers, %s accepts%s%s",
             c->kind == PROTO_CONN_KIND_SERVICE ? "service" : "channel", c->name,
             (unsigned long long)c->id, o ? o->name : "?", a ? a->name : "?", why ? ": " : "",
             why ? why : "");
    ctl_log_add("control", action, o ? o->name : "", ok, ok ? 0 : PROTO_ERROR_CODE_BUSY, detail);
}

/* Ends c: tells each side that knows of it (but `skip`) it is gone,
 * revokes the capabilities handed out and frees the slots. */
static void conn_end(struct conn *c, const char *why, const struct dom *skip)
{
    struct dom *o = dom_of(c->o), *a = dom_of(c->a);
    msg.type = PROTO_MSG_BUS_GONE_EVENT;
    if (o && c->told_o && !same(c->o, skip)) {
        msg.u.bus_gone_event = (struct proto_bus_gone_event){.conn = c->id, .reason = str_of(why)};
        bus_event(o, &msg);
    }
    if (a && c->told_a && !same(c->a, skip)) {
        msg.type = PROTO_MSG_BUS_GONE_EVENT;
        msg.u.bus_gone_event = (struct proto_bus_gone_event){.conn = c->id, .reason = str_of(why)};
        bus_event(a, &msg);
    }
    ctl_slot_free(c->ctl_of_a);
    ctl_slot_free(c->ctl_of_o);
    peer_slot_forget(c->o, c->in_o);
    peer_slot_forget(c->a, c->in_a);
    log_conn(c, "connection-gone", true, why);
    memset(c, 0, sizeof *c);
}

static bool conn_exists(enum proto_conn_kind kind, const char *name, struct ref o, struct ref a)
{
    for (uint32_t i = 0; i < CONNS_MAX; i++) {
        const struct conn *c = &conns[i];
        if (c->used && c->kind == kind && strcmp(c->name, name) == 0 && c->o.index == o.index &&
            c->o.gen == o.gen && c->a.index == a.index && c->a.gen == a.gen)
            return true;
    }
    return false;
}

static void send_connect(struct conn *c, struct dom *to, bool offer)
{
    struct dom *peer = dom_of(offer ? c->a : c->o);
    msg.type = PROTO_MSG_BUS_CONNECT_REQUEST;
    msg.u.bus_connect_request = (struct proto_bus_connect_request){
        .conn = c->id,
        .kind = c->kind,
        .name = str_of(c->name),
        .peer = str_of(peer ? peer->name : "?"),
        .peer_slot = offer ? c->in_o : c->in_a,
        .role = offer ? PROTO_CONN_ROLE_OFFER : PROTO_CONN_ROLE_ACCEPT,
        .ring_bytes = c->ring_bytes,
        .buf_bytes = c->buf_bytes,
        .has_ref = !offer,
        .ref = offer ? 0 : c->ref,
        .has_port = !offer,
        .port = offer ? 0 : c->port,
    };
    const char *why = bus_request(to, &msg, BUS_CONT_CONNECT, c->id, 0);
    if (why) {
        conn_end(c, why, NULL);
        return;
    }
    if (offer)
        c->told_o = true;
    else
        c->told_a = true;
}

/* Introduces o (offering) and a (accepting). */
static void introduce(enum proto_conn_kind kind, const char *name, struct dom *o, struct dom *a,
                      uint32_t ring_bytes, uint32_t buf_bytes)
{
    if (conn_exists(kind, name, ref_of(o), ref_of(a)))
        return;
    struct conn *c = NULL;
    for (uint32_t i = 0; i < CONNS_MAX && !c; i++)
        if (!conns[i].used)
            c = &conns[i];
    if (!c) {
        ctl_log_add("control", "introduce", o->name, false, PROTO_ERROR_CODE_NO_RESOURCES,
                    "too many connections");
        return;
    }
    *c = (struct conn){.used = true,
                       .id = next_conn++,
                       .kind = kind,
                       .o = ref_of(o),
                       .a = ref_of(a),
                       .state = PROTO_CONN_STATE_OFFERING,
                       .ring_bytes = ring_bytes,
                       .buf_bytes = buf_bytes};
    strncpy(c->name, name, NAME_MAX_BYTES);
    int64_t st = HV_ENOMEM;
    const char *why = NULL;
    if (!(c->ctl_of_a = ctl_slot_alloc()) || !(c->ctl_of_o = ctl_slot_alloc()))
        why = "the control domain has no free capability slot";
    else if ((st = gk_cap_copy(bus_dom_slot(a), HV_CAP_SLOT_SELF, c->ctl_of_a,
                               RIGHTS_PEER | HV_CAP_R_GRANT, 0, 0)) != HV_OK ||
             (st = gk_cap_copy(bus_dom_slot(o), HV_CAP_SLOT_SELF, c->ctl_of_o,
                               RIGHTS_PEER | HV_CAP_R_GRANT, 0, 0)) != HV_OK)
        why = "copying a domain capability failed";
    else if (!(c->in_o = peer_slot_give(o, c->ctl_of_a, &st)) ||
             !(c->in_a = peer_slot_give(a, c->ctl_of_o, &st)))
        why = "a domain has no free peer slot";
    if (why) {
        char detail[128];
        snprintf(detail, sizeof detail, "%s (%lld)", why, (long long)st);
        conn_end(c, detail, NULL);
        return;
    }
    log_conn(c, "introduce", true, NULL);
    send_connect(c, o, true);
}

void services_connect_answer(uint64_t id, struct dom *from, const struct proto_msg *reply,
                             const char *why)
{
    struct conn *c = conn_find(id);
    if (!c)
        return;
    bool ok = reply && reply->type != PROTO_MSG_ERROR_REPLY;
    if (!ok) {
        char detail[200];
        snprintf(detail, sizeof detail, "%s could not %s: %s", from->name,
                 c->state == PROTO_CONN_STATE_OFFERING ? "make the area" : "map the area",
                 why ? why : "refused");
        conn_end(c, detail, NULL);
        return;
    }
    if (c->state == PROTO_CONN_STATE_OFFERING && same(c->o, from)) {
        const struct proto_bus_connect_reply *r = &reply->u.bus_connect_reply;
        struct dom *a = dom_of(c->a);
        if (reply->type != PROTO_MSG_BUS_CONNECT_REPLY || r->conn != c->id || !r->has_ref ||
            !r->has_port || r->ref == 0 || r->ref >= HV_GRANT_REFS || r->port == 0 ||
            r->port >= HV_EVTCHN_PORTS) {
            conn_end(c, "the offering side answered without a valid ref and port", NULL);
            return;
        }
        if (!a) {
            conn_end(c, "the accepting side went away", NULL);
            return;
        }
        c->ref = (uint32_t)r->ref;
        c->port = (uint32_t)r->port;
        c->state = PROTO_CONN_STATE_ACCEPTING;
        send_connect(c, a, false);
        return;
    }
    if (c->state == PROTO_CONN_STATE_ACCEPTING && same(c->a, from)) {
        c->state = PROTO_CONN_STATE_CONNECTED;
        log_conn(c, "connected", true, NULL);
        return;
    }
    conn_end(c, "an answer out of turn", NULL);
}

/* ---- Requests from domains ---------------------------------------------------- */

static uint32_t service_find(const char *name)
{
    for (uint32_t i = 0; i < SERVICES_MAX; i++)
        if (services[i].used && strcmp(services[i].name, name) == 0)
            return i;
    return SERVICES_MAX;
}

struct dom *services_provider(const char *name)
{
    uint32_t s = service_find(name);
    struct dom *p = s < SERVICES_MAX ? dom_of(services[s].provider) : NULL;
    return p && bus_up(p) ? p : NULL;
}

/* Introduces the provider of `name` (if any, connected) to user u. */
static void introduce_service(const char *name, struct dom *u)
{
    uint32_t s = service_find(name);
    struct dom *p = s < SERVICES_MAX ? dom_of(services[s].provider) : NULL;
    if (p && p != u && bus_up(p) && bus_up(u)) {
        if (strcmp(name, "blk") == 0)
            disks_tell(p, u); /* before the introduction: what u may attach */
        introduce(PROTO_CONN_KIND_SERVICE, name, u, p, SERVICE_RING_BYTES, SERVICE_BUF_BYTES);
    }
}

void services_register(struct dom *d, uint64_t id, struct hvcbor_str name)
{
    char n[NAME_MAX_BYTES + 1];
    copy_name(n, name);
    if (!listed(d, true, name)) {
        services_reply(d, id, PROTO_ERROR_CODE_REFUSED, HV_EPERM,
                       "the manifest's offers does not list this service");
        ctl_log_add("control", "service-register", d->name, false, PROTO_ERROR_CODE_REFUSED, n);
        return;
    }
    uint32_t s = service_find(n);
    if (s < SERVICES_MAX && dom_of(services[s].provider) && !same(services[s].provider, d)) {
        services_reply(d, id, PROTO_ERROR_CODE_CONFLICT, HV_EEXIST,
                       "another domain provides this service");
        ctl_log_add("control", "service-register", d->name, false, PROTO_ERROR_CODE_CONFLICT, n);
        return;
    }
    if (s == SERVICES_MAX)
        for (s = 0; s < SERVICES_MAX && services[s].used; s++)
            ;
    if (s == SERVICES_MAX) {
        services_reply(d, id, PROTO_ERROR_CODE_NO_RESOURCES, HV_ENOMEM, "too many services");
        return;
    }
    services[s].used = true;
    memcpy(services[s].name, n, sizeof services[s].name);
    services[s].provider = ref_of(d);
    services_reply(d, id, 0, 0, NULL);
    ctl_log_add("control", "service-register", d->name, true, 0, n);
    for (uint32_t i = 0; i < SERVICE_USES_MAX; i++) {
        struct dom *u = uses[i].used ? dom_of(uses[i].user) : NULL;
        if (u && strcmp(uses[i].name, n) == 0)
            introduce_service(n, u);
    }
}

void services_use(struct dom *d, uint64_t id, struct hvcbor_str name)
{
    char n[NAME_MAX_BYTES + 1];
    copy_name(n, name);
    if (!listed(d, false, name)) {
        services_reply(d, id, PROTO_ERROR_CODE_REFUSED, HV_EPERM,
                       "the manifest's uses does not list this service");
        ctl_log_add("control", "service-use", d->name, false, PROTO_ERROR_CODE_REFUSED, n);
        return;
    }
    uint32_t free_i = SERVICE_USES_MAX, i;
    for (i = 0; i < SERVICE_USES_MAX; i++) {
        if (uses[i].used && same(uses[i].user, d) && strcmp(uses[i].name, n) == 0)
            break;
        if ((!uses[i].used || !dom_of(uses[i].user)) && free_i == SERVICE_USES_MAX)
            free_i = i;
    }
    if (i == SERVICE_USES_MAX) {
        if (free_i == SERVICE_USES_MAX) {
            services_reply(d, id, PROTO_ERROR_CODE_NO_RESOURCES, HV_ENOMEM, "too many uses");
            return;
        }
        uses[free_i].used = true;
        memcpy(uses[free_i].name, n, sizeof uses[free_i].name);
        uses[free_i].user = ref_of(d);
    }
    services_reply(d, id, 0, 0, NULL);
    ctl_log_add("control", "service-use", d->name, true, 0, n);
    introduce_service(n, d);
}

void services_close(struct dom *d, uint64_t id, uint64_t conn)
{
    struct conn *c = conn_find(conn);
    if (!c || !(same(c->o, d) || same(c->a, d))) {
        services_reply(d, id, PROTO_ERROR_CODE_NOT_FOUND, HV_ENOENT, "no such connection of yours");
        return;
    }
    services_reply(d, id, 0, 0, NULL);
    conn_end(c, "the peer closed it", d);
}

/* Channels a's manifest declares towards b (b may be any domain). */
static void introduce_channels_of(struct dom *a, struct dom *only_peer)
{
    const struct proto_domain_config *c = &a->cfg;
    for (uint32_t i = 0; c->has_channels && i < c->channels.count; i++) {
        const struct proto_channel_spec *ch = &c->channels.items[i];
        struct dom *peer = registry_find(ch->peer);
        if (!peer || peer == a || (only_peer && peer != only_peer) || !bus_up(peer))
            continue;
        uint32_t ring, buf;
        if (!channel_geometry(ch->size_bytes, &ring, &buf))
            continue; /* refused at create */
        char n[NAME_MAX_BYTES + 1];
        copy_name(n, ch->name);
        introduce(PROTO_CONN_KIND_CHANNEL, n, a, peer, ring, buf);
    }
}

void services_domain_up(struct dom *d)
{
    introduce_channels_of(d, NULL);
    for (uint32_t i = 0; i < DOM_MAX; i++) {
        struct dom *x = registry_at(i);
        if (x && x != d && x->has_domain && bus_up(x))
            introduce_channels_of(x, d);
    }
}

void services_domain_gone(struct dom *d, const char *why)
{
    char detail[160];
    snprintf(detail, sizeof detail, "%s went away (%s)", d->name, why);
    for (uint32_t i = 0; i < CONNS_MAX; i++)
        if (conns[i].used && (same(conns[i].o, d) || same(conns[i].a, d)))
            conn_end(&conns[i], detail, d);
    for (uint32_t i = 0; i < SERVICES_MAX; i++)
        if (services[i].used && same(services[i].provider, d)) {
            ctl_log_add("control", "service-gone", d->name, true, 0, services[i].name);
            services[i].used = false;
        }
    for (uint32_t i = 0; i < SERVICE_USES_MAX; i++)
        if (uses[i].used && same(uses[i].user, d))
            uses[i].used = false;
}

/* ---- hvctl ---------------------------------------------------------------------- */

uint64_t services_conn_count(void)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < CONNS_MAX; i++)
        n += conns[i].used;
    return n;
}

void services_dom_info(const struct dom *d, struct proto_bus_info_reply *r)
{
    for (uint32_t i = 0; i < SERVICES_MAX && r->offers.count < 16; i++)
        if (services[i].used && same(services[i].provider, d))
            r->offers.items[r->offers.count++] = str_of(services[i].name);
    for (uint32_t i = 0; i < SERVICE_USES_MAX && r->uses.count < 16; i++)
        if (uses[i].used && same(uses[i].user, d))
            r->uses.items[r->uses.count++] = str_of(uses[i].name);
    for (uint32_t i = 0; i < CONNS_MAX && r->conns.count < 32; i++) {
        const struct conn *c = &conns[i];
        bool is_o = c->used && same(c->o, d), is_a = c->used && same(c->a, d);
        if (!is_o && !is_a)
            continue;
        struct dom *peer = dom_of(is_o ? c->a : c->o);
        r->conns.items[r->conns.count++] = (struct proto_bus_conn_info){
            .conn = c->id,
            .kind = c->kind,
            .name = str_of(c->name),
            .peer = str_of(peer ? peer->name : "?"),
            .role = is_o ? PROTO_CONN_ROLE_OFFER : PROTO_CONN_ROLE_ACCEPT,
            .state = c->state,
            .ring_bytes = c->ring_bytes,
            .buf_bytes = c->buf_bytes};
    }
}

void services_list(struct proto_service_list_reply *r)
{
    r->services.count = 0;
    /* Every registered service, then every name only asked for. */
    for (int pass = 0; pass < 2; pass++) {
        uint32_t n = pass == 0 ? SERVICES_MAX : SERVICE_USES_MAX;
        for (uint32_t i = 0; i < n && r->services.count < 64; i++) {
            const char *name = pass == 0
                                   ? (services[i].used ? services[i].name : NULL)
                                   : (uses[i].used && dom_of(uses[i].user) ? uses[i].name : NULL);
            if (!name)
                continue;
            bool seen = false;
            for (uint32_t k = 0; k < r->services.count && !seen; k++)
                seen = str_eq(r->services.items[k].name, name);
            if (seen)
                continue;
            struct proto_service_info *si = &r->services.items[r->services.count++];
            memset(si, 0, sizeof *si);
            si->name = str_of(name);
            uint32_t s = service_find(name);
            struct dom *p = s < SERVICES_MAX ? dom_of(services[s].provider) : NULL;
            si->provider = str_of(p ? p->name : "");
            for (uint32_t u = 0; u < SERVICE_USES_MAX && si->users.count < 32; u++) {
                struct dom *ud = uses[u].used ? dom_of(uses[u].user) : NULL;
                if (ud && strcmp(uses[u].name, name) == 0)
                    si->users.items[si->users.count++] = str_of(ud->name);
            }
            for (uint32_t k = 0; k < CONNS_MAX; k++)
                if (conns[k].used && conns[k].kind == PROTO_CONN_KIND_SERVICE &&
                    conns[k].state == PROTO_CONN_STATE_CONNECTED &&
                    strcmp(conns[k].name, name) == 0)
                    si->connected++;
        }
    }
}
