/* The broker's routing table (see mux_route.h). */
#include "mux_route.h"

#include <stdio.h>
#include <string.h>

void mux_set_request_id(struct proto_msg *m, uint64_t id)
{
#define SET(T, f)                                                                                  \
    case T: m->u.f.request_id = id; return;
    switch (m->type) {
        SET(PROTO_MSG_HELLO, hello)
        SET(PROTO_MSG_HELLO_REPLY, hello_reply)
        SET(PROTO_MSG_ERROR_REPLY, error_reply)
        SET(PROTO_MSG_OK_REPLY, ok_reply)
        SET(PROTO_MSG_DOMAIN_LIST_REQUEST, domain_list_request)
        SET(PROTO_MSG_DOMAIN_LIST_REPLY, domain_list_reply)
        SET(PROTO_MSG_DOMAIN_INFO_REQUEST, domain_info_request)
        SET(PROTO_MSG_DOMAIN_INFO_REPLY, domain_info_reply)
        SET(PROTO_MSG_DOMAIN_CREATE_REQUEST, domain_create_request)
        SET(PROTO_MSG_DOMAIN_CREATE_REPLY, domain_create_reply)
        SET(PROTO_MSG_DOMAIN_DESTROY_REQUEST, domain_destroy_request)
        SET(PROTO_MSG_DOMAIN_SHUTDOWN_REQUEST, domain_shutdown_request)
        SET(PROTO_MSG_DOMAIN_PAUSE_REQUEST, domain_pause_request)
        SET(PROTO_MSG_DOMAIN_UNPAUSE_REQUEST, domain_unpause_request)
        SET(PROTO_MSG_SCHED_SET_REQUEST, sched_set_request)
        SET(PROTO_MSG_VCPU_PIN_REQUEST, vcpu_pin_request)
        SET(PROTO_MSG_HOST_INFO_REQUEST, host_info_request)
        SET(PROTO_MSG_HOST_INFO_REPLY, host_info_reply)
        SET(PROTO_MSG_CONSOLE_ATTACH_REQUEST, console_attach_request)
        SET(PROTO_MSG_CONSOLE_ATTACH_REPLY, console_attach_reply)
        SET(PROTO_MSG_CONSOLE_DATA, console_data)
        SET(PROTO_MSG_CONSOLE_DETACH, console_detach)
        SET(PROTO_MSG_LOG_QUERY_REQUEST, log_query_request)
        SET(PROTO_MSG_LOG_ENTRIES, log_entries)
        SET(PROTO_MSG_TOKEN_CREATE_REQUEST, token_create_request)
        SET(PROTO_MSG_TOKEN_CREATE_REPLY, token_create_reply)
        SET(PROTO_MSG_TOKEN_REVOKE_REQUEST, token_revoke_request)
        SET(PROTO_MSG_IMAGE_UPLOAD_REQUEST, image_upload_request)
        SET(PROTO_MSG_IMAGE_UPLOAD_REPLY, image_upload_reply)
        SET(PROTO_MSG_IMAGE_UPLOAD_CHUNK, image_upload_chunk)
        SET(PROTO_MSG_DEVICE_LIST_REQUEST, device_list_request)
        SET(PROTO_MSG_DEVICE_LIST_REPLY, device_list_reply)
        SET(PROTO_MSG_BUS_HELLO, bus_hello)
        SET(PROTO_MSG_BUS_HELLO_REPLY, bus_hello_reply)
        SET(PROTO_MSG_BUS_PING, bus_ping)
        SET(PROTO_MSG_BUS_PONG, bus_pong)
        SET(PROTO_MSG_CONFIG_GET_REQUEST, config_get_request)
        SET(PROTO_MSG_CONFIG_GET_REPLY, config_get_reply)
        SET(PROTO_MSG_SERVICE_REGISTER_REQUEST, service_register_request)
        SET(PROTO_MSG_SERVICE_USE_REQUEST, service_use_request)
        SET(PROTO_MSG_BUS_CLOSE_REQUEST, bus_close_request)
        SET(PROTO_MSG_BUS_CONNECT_REQUEST, bus_connect_request)
        SET(PROTO_MSG_BUS_CONNECT_REPLY, bus_connect_reply)
        SET(PROTO_MSG_BUS_GONE_EVENT, bus_gone_event)
        SET(PROTO_MSG_BUS_SHUTDOWN_REQUEST, bus_shutdown_request)
        SET(PROTO_MSG_BUS_SUSPEND_REQUEST, bus_suspend_request)
        SET(PROTO_MSG_BUS_RESUME_EVENT, bus_resume_event)
        SET(PROTO_MSG_BUS_MEMORY_TARGET_REQUEST, bus_memory_target_request)
        SET(PROTO_MSG_BUS_MEMORY_TARGET_REPLY, bus_memory_target_reply)
        SET(PROTO_MSG_BUS_INFO_REQUEST, bus_info_request)
        SET(PROTO_MSG_BUS_INFO_REPLY, bus_info_reply)
        SET(PROTO_MSG_SERVICE_LIST_REQUEST, service_list_request)
        SET(PROTO_MSG_SERVICE_LIST_REPLY, service_list_reply)
        SET(PROTO_MSG_DOMAIN_SUSPEND_REQUEST, domain_suspend_request)
        SET(PROTO_MSG_DOMAIN_MEM_TARGET_REQUEST, domain_mem_target_request)
        SET(PROTO_MSG_BLK_ATTACH_REQUEST, blk_attach_request)
        SET(PROTO_MSG_BLK_ATTACH_REPLY, blk_attach_reply)
        SET(PROTO_MSG_BLK_REQUEST, blk_request)
        SET(PROTO_MSG_BLK_REPLY, blk_reply)
        SET(PROTO_MSG_BLK_DETACH_REQUEST, blk_detach_request)
        SET(PROTO_MSG_BLK_DISKS_EVENT, blk_disks_event)
        SET(PROTO_MSG_VOLUME_CREATE_REQUEST, volume_create_request)
        SET(PROTO_MSG_VOLUME_GROW_REQUEST, volume_grow_request)
        SET(PROTO_MSG_VOLUME_DELETE_REQUEST, volume_delete_request)
        SET(PROTO_MSG_VOLUME_LIST_REQUEST, volume_list_request)
        SET(PROTO_MSG_VOLUME_LIST_REPLY, volume_list_reply)
        SET(PROTO_MSG_VOLUME_INFO_REQUEST, volume_info_request)
        SET(PROTO_MSG_VOLUME_INFO_REPLY, volume_info_reply)
        SET(PROTO_MSG_DOMAIN_RESTART_REQUEST, domain_restart_request)
    }
#undef SET
}

void mux_router_init(struct mux_router *r, const struct mux_ops *ops, void *ctx,
                     const char *server_name, uint64_t server_version, uint64_t first_wire_id)
{
    memset(r, 0, sizeof *r);
    r->ops = *ops;
    r->ctx = ctx;
    r->next_wire_id = first_wire_id ? first_wire_id : 1;
    r->server_version = server_version;
    snprintf(r->server_name, sizeof r->server_name, "%s", server_name ? server_name : "");
}

uint32_t mux_entries_used(const struct mux_router *r, uint32_t client)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < MUX_MAX_ENTRIES; i++)
        if (r->entries[i].kind != MUX_FREE &&
            (client == UINT32_MAX || r->entries[i].client == client))
            n++;
    return n;
}

static struct hvcbor_str cstr(const char *s)
{
    return (struct hvcbor_str){(const uint8_t *)s, (uint32_t)strlen(s)};
}

static void local_error(struct mux_router *r, uint32_t client, uint64_t id,
                        enum proto_error_code code, const char *text)
{
    struct proto_msg *e = &r->scratch;
    memset(e, 0, sizeof *e);
    e->type = PROTO_MSG_ERROR_REPLY;
    e->u.error_reply =
        (struct proto_error_reply){.request_id = id, .code = code, .message = cstr(text)};
    r->stats.local_answers++;
    r->ops.to_client(r->ctx, client, e);
}

static struct mux_entry *find_wire(struct mux_router *r, uint64_t wire_id)
{
    for (uint32_t i = 0; i < MUX_MAX_ENTRIES; i++)
        if (r->entries[i].kind != MUX_FREE && r->entries[i].wire_id == wire_id)
            return &r->entries[i];
    return NULL;
}

static struct mux_entry *find_stream(struct mux_router *r, uint32_t client, uint64_t stream)
{
    for (uint32_t i = 0; i < MUX_MAX_ENTRIES; i++) {
        struct mux_entry *e = &r->entries[i];
        if (e->kind == MUX_STREAM && e->client == client && e->stream == stream)
            return e;
    }
    return NULL;
}

/* A new entry for client, or NULL (the client got an error-reply). */
static struct mux_entry *new_entry(struct mux_router *r, uint32_t client, uint64_t orig_id,
                                   enum mux_kind kind)
{
    if (client != MUX_NO_CLIENT && mux_entries_used(r, client) >= MUX_MAX_PER_CLIENT) {
        local_error(r, client, orig_id, PROTO_ERROR_CODE_BUSY,
                    "hvctl broker: too many requests in flight on this connection");
        return NULL;
    }
    for (uint32_t i = 0; i < MUX_MAX_ENTRIES; i++) {
        struct mux_entry *e = &r->entries[i];
        if (e->kind == MUX_FREE) {
            *e = (struct mux_entry){
                .kind = kind, .client = client, .orig_id = orig_id, .wire_id = r->next_wire_id++};
            return e;
        }
    }
    if (client != MUX_NO_CLIENT)
        local_error(r, client, orig_id, PROTO_ERROR_CODE_BUSY,
                    "hvctl broker: too many requests in flight");
    return NULL;
}

static void forward(struct mux_router *r, const struct proto_msg *m, uint64_t wire_id)
{
    struct proto_msg *w = &r->scratch;
    if (w != m)
        memcpy(w, m, sizeof *w);
    mux_set_request_id(w, wire_id);
    r->stats.forwarded++;
    r->ops.to_wire(r->ctx, w);
}

static bool is_request(enum proto_msg_type t)
{
    switch (t) {
    case PROTO_MSG_HELLO:
    case PROTO_MSG_DOMAIN_LIST_REQUEST:
    case PROTO_MSG_DOMAIN_INFO_REQUEST:
    case PROTO_MSG_DOMAIN_CREATE_REQUEST:
    case PROTO_MSG_DOMAIN_DESTROY_REQUEST:
    case PROTO_MSG_DOMAIN_RESTART_REQUEST:
    case PROTO_MSG_DOMAIN_SHUTDOWN_REQUEST:
    case PROTO_MSG_DOMAIN_PAUSE_REQUEST:
    case PROTO_MSG_DOMAIN_UNPAUSE_REQUEST:
    case PROTO_MSG_SCHED_SET_REQUEST:
    case PROTO_MSG_VCPU_PIN_REQUEST:
    case PROTO_MSG_HOST_INFO_REQUEST:
    case PROTO_MSG_DEVICE_LIST_REQUEST:
    case PROTO_MSG_CONSOLE_ATTACH_REQUEST:
    case PROTO_MSG_CONSOLE_DATA:
    case PROTO_MSG_CONSOLE_DETACH:
    case PROTO_MSG_LOG_QUERY_REQUEST:
    case PROTO_MSG_TOKEN_CREATE_REQUEST:
    case PROTO_MSG_TOKEN_REVOKE_REQUEST:
    case PROTO_MSG_IMAGE_UPLOAD_REQUEST:
    case PROTO_MSG_IMAGE_UPLOAD_CHUNK:
    case PROTO_MSG_BUS_INFO_REQUEST:
    case PROTO_MSG_SERVICE_LIST_REQUEST:
    case PROTO_MSG_DOMAIN_SUSPEND_REQUEST:
    case PROTO_MSG_DOMAIN_MEM_TARGET_REQUEST:
    case PROTO_MSG_VOLUME_CREATE_REQUEST:
    case PROTO_MSG_VOLUME_GROW_REQUEST:
    case PROTO_MSG_VOLUME_DELETE_REQUEST:
    case PROTO_MSG_VOLUME_LIST_REQUEST:
    case PROTO_MSG_VOLUME_INFO_REQUEST: return true;
    /* The bus's own messages (bus-hello, ...) travel between domains,
     * never from a host client. */
    default: return false;
    }
}

static struct mux_follower *new_follower(struct mux_router *r)
{
    for (uint32_t i = 0; i < MUX_MAX_FOLLOWERS; i++)
        if (!r->followers[i].used)
            return &r->followers[i];
    return NULL;
}

static bool owns_upload(const struct mux_router *r, uint32_t client, uint64_t upload)
{
    for (uint32_t i = 0; i < MUX_MAX_UPLOADS; i++)
        if (r->uploads[i].used && r->uploads[i].client == client && r->uploads[i].upload == upload)
            return true;
    return false;
}

void mux_client_msg(struct mux_router *r, uint32_t client, const struct proto_msg *m)
{
    uint64_t id = proto_msg_request_id(m);
    char text[160];
    struct mux_entry *e;
    if (!is_request(m->type)) {
        snprintf(text, sizeof text, "%s is not a request",
                 proto_msg_name(m->type) ? proto_msg_name(m->type) : "?");
        local_error(r, client, id, PROTO_ERROR_CODE_INVALID, text);
        return;
    }
    switch (m->type) {
    case PROTO_MSG_HELLO: {
        /* Never forwarded: it would end every other client's streams. */
        if (m->u.hello.version != r->server_version) {
            snprintf(text, sizeof text,
                     "this control domain speaks protocol version %llu, not %llu",
                     (unsigned long long)r->server_version, (unsigned long long)m->u.hello.version);
            local_error(r, client, id, PROTO_ERROR_CODE_VERSION_MISMATCH, text);
            return;
        }
        struct proto_msg *h = &r->scratch;
        memset(h, 0, sizeof *h);
        h->type = PROTO_MSG_HELLO_REPLY;
        h->u.hello_reply = (struct proto_hello_reply){
            .request_id = id, .version = r->server_version, .server = cstr(r->server_name)};
        r->stats.local_answers++;
        r->ops.to_client(r->ctx, client, h);
        return;
    }
    case PROTO_MSG_CONSOLE_DATA:
        /* Only on the client's own stream; console-data has no reply, so
         * input for another stream is dropped, as the control domain does. */
        if ((e = find_stream(r, client, m->u.console_data.stream)) && !e->detach_pending)
            forward(r, m, e->wire_id);
        else
            r->stats.dropped_replies++;
        return;
    case PROTO_MSG_CONSOLE_DETACH:
        if (!(e = find_stream(r, client, m->u.console_detach.stream)) || e->detach_pending) {
            snprintf(text, sizeof text, "no attached console stream %llu",
                     (unsigned long long)m->u.console_detach.stream);
            local_error(r, client, id, PROTO_ERROR_CODE_NOT_FOUND, text);
            return;
        }
        /* The ok-reply comes back with the attach's wire id; the client
         * gets its own detach's id (which the protocol says is the
         * attach's). */
        e->detach_pending = true;
        e->orig_id = id;
        forward(r, m, e->wire_id);
        return;
    case PROTO_MSG_IMAGE_UPLOAD_CHUNK:
        if (!owns_upload(r, client, m->u.image_upload_chunk.upload)) {
            snprintf(text, sizeof text, "image-upload-chunk: no upload %llu on this connection",
                     (unsigned long long)m->u.image_upload_chunk.upload);
            local_error(r, client, id, PROTO_ERROR_CODE_NOT_FOUND, text);
            return;
        }
        if ((e = new_entry(r, client, id, MUX_REQ)))
            forward(r, m, e->wire_id);
        return;
    case PROTO_MSG_CONSOLE_ATTACH_REQUEST:
        if ((e = new_entry(r, client, id, MUX_ATTACH)))
            forward(r, m, e->wire_id);
        return;
    case PROTO_MSG_IMAGE_UPLOAD_REQUEST:
        if ((e = new_entry(r, client, id, MUX_UPLOAD)))
            forward(r, m, e->wire_id);
        return;
    case PROTO_MSG_LOG_QUERY_REQUEST: {
        if (!m->u.log_query_request.follow) {
            if ((e = new_entry(r, client, id, MUX_REQ)))
                forward(r, m, e->wire_id);
            return;
        }
        struct mux_follower *f = new_follower(r);
        if (!f) {
            local_error(r, client, id, PROTO_ERROR_CODE_BUSY,
                        "hvctl broker: too many log followers");
            return;
        }
        if (!(e = new_entry(r, client, id, MUX_LOGQ)))
            return;
        const struct proto_log_query_request *q = &m->u.log_query_request;
        *f = (struct mux_follower){.used = true,
                                   .poll_in_flight = true,
                                   .client = client,
                                   .orig_id = id,
                                   .max_entries = q->max_entries,
                                   .token_len = q->token.len};
        memcpy(f->token, q->token.ptr, q->token.len); /* the catalog bounds it at 64 */
        e->follower = (uint32_t)(f - r->followers);
        struct proto_msg *w = &r->scratch;
        memcpy(w, m, sizeof *w);
        w->u.log_query_request.follow = false;
        forward(r, w, e->wire_id);
        return;
    }
    default:
        if ((e = new_entry(r, client, id, MUX_REQ)))
            forward(r, m, e->wire_id);
        return;
    }
}

static void deliver(struct mux_router *r, struct mux_entry *e, const struct proto_msg *m,
                    uint64_t id)
{
    if (e->client == MUX_NO_CLIENT) {
        r->stats.dropped_replies++;
        return;
    }
    struct proto_msg *w = &r->scratch;
    if (w != m)
        memcpy(w, m, sizeof *w);
    mux_set_request_id(w, id);
    r->stats.routed++;
    r->ops.to_client(r->ctx, e->client, w);
}

static void send_detach(struct mux_router *r, struct mux_entry *e)
{
    struct proto_msg *d = &r->scratch;
    memset(d, 0, sizeof *d);
    d->type = PROTO_MSG_CONSOLE_DETACH;
    d->u.console_detach =
        (struct proto_console_detach){.request_id = e->wire_id, .stream = e->stream};
    e->detach_pending = true;
    r->stats.detaches_on_close++;
    r->stats.forwarded++;
    r->ops.to_wire(r->ctx, d);
}

void mux_server_msg(struct mux_router *r, const struct proto_msg *m)
{
    struct mux_entry *e = find_wire(r, proto_msg_request_id(m));
    if (!e) {
        /* An answer to nobody (id 0: the control domain could not decode
         * what it got; or a stream already ended). */
        r->stats.dropped_replies++;
        return;
    }
    bool is_error = m->type == PROTO_MSG_ERROR_REPLY;
    /* An answer to a request of the client's own (not a poll of the
     * broker's, not stream data): its token was accepted. */
    if (!is_error && e->client != MUX_NO_CLIENT && r->ops.authenticated &&
        (e->kind == MUX_REQ || e->kind == MUX_ATTACH || e->kind == MUX_LOGQ ||
         e->kind == MUX_UPLOAD))
        r->ops.authenticated(r->ctx, e->client);
    switch (e->kind) {
    case MUX_ATTACH:
        if (m->type == PROTO_MSG_CONSOLE_ATTACH_REPLY) {
            e->kind = MUX_STREAM;
            e->stream = m->u.console_attach_reply.stream;
            if (e->client == MUX_NO_CLIENT) {
                send_detach(r, e); /* attached for a client that is gone */
                return;
            }
            deliver(r, e, m, e->orig_id);
            return;
        }
        deliver(r, e, m, e->orig_id);
        e->kind = MUX_FREE;
        return;
    case MUX_STREAM:
        if (m->type == PROTO_MSG_CONSOLE_DATA) {
            if (!e->detach_pending || e->client != MUX_NO_CLIENT)
                deliver(r, e, m, e->orig_id);
            return;
        }
        if (m->type == PROTO_MSG_CONSOLE_DETACH) {
            /* The control domain ended it (takeover, domain destroyed). A
             * detach of ours still in flight gets its answer (not-found)
             * with this wire id: keep the entry for it. */
            deliver(r, e, m, e->orig_id);
            if (!e->detach_pending)
                e->kind = MUX_FREE;
            return;
        }
        /* ok-reply / error-reply: the answer to a console-detach. */
        deliver(r, e, m, e->orig_id);
        e->kind = MUX_FREE;
        return;
    case MUX_LOGQ: {
        struct mux_follower *f = &r->followers[e->follower];
        deliver(r, e, m, e->orig_id);
        if (m->type == PROTO_MSG_LOG_ENTRIES && e->client != MUX_NO_CLIENT && f->used) {
            f->next_seq = m->u.log_entries.next_seq;
            f->poll_in_flight = false;
        } else if (f->used && f->client == e->client) {
            f->used = false;
        }
        e->kind = MUX_FREE;
        return;
    }
    case MUX_POLL: {
        struct mux_follower *f = &r->followers[e->follower];
        bool live = e->client != MUX_NO_CLIENT && f->used && f->client == e->client;
        if (live && m->type == PROTO_MSG_LOG_ENTRIES) {
            if (m->u.log_entries.entries.count > 0)
                deliver(r, e, m, f->orig_id);
            f->next_seq = m->u.log_entries.next_seq;
            f->poll_in_flight = false;
        } else if (live) {
            /* The token was revoked, say: the follower hears why and ends. */
            deliver(r, e, m, f->orig_id);
            f->used = false;
        } else {
            r->stats.dropped_replies++;
        }
        e->kind = MUX_FREE;
        return;
    }
    case MUX_UPLOAD:
        if (m->type == PROTO_MSG_IMAGE_UPLOAD_REPLY && e->client != MUX_NO_CLIENT &&
            m->u.image_upload_reply.upload != 0) {
            /* Remember the id for this client; the oldest record is reused
             * when the table is full (its chunks are then refused). */
            uint32_t slot = 0;
            for (uint32_t i = 0; i < MUX_MAX_UPLOADS; i++)
                if (!r->uploads[i].used) {
                    slot = i;
                    break;
                }
            r->uploads[slot] = (struct mux_upload){
                .used = true, .client = e->client, .upload = m->u.image_upload_reply.upload};
        }
        deliver(r, e, m, e->orig_id);
        e->kind = MUX_FREE;
        return;
    case MUX_REQ:
    default:
        deliver(r, e, m, e->orig_id);
        e->kind = MUX_FREE;
        return;
    }
}

void mux_client_gone(struct mux_router *r, uint32_t client)
{
    if (client == MUX_NO_CLIENT)
        return;
    for (uint32_t i = 0; i < MUX_MAX_ENTRIES; i++) {
        struct mux_entry *e = &r->entries[i];
        if (e->kind == MUX_FREE || e->client != client)
            continue;
        e->client = MUX_NO_CLIENT;
        /* An attached console is detached as `hvctl console` would on
         * Ctrl-]; its ok-reply is then dropped. An attach still waiting
         * for its reply is detached when the reply comes. */
        if (e->kind == MUX_STREAM && !e->detach_pending)
            send_detach(r, e);
    }
    for (uint32_t i = 0; i < MUX_MAX_FOLLOWERS; i++)
        if (r->followers[i].used && r->followers[i].client == client)
            r->followers[i].used = false;
    for (uint32_t i = 0; i < MUX_MAX_UPLOADS; i++)
        if (r->uploads[i].used && r->uploads[i].client == client)
            r->uploads[i].used = false;
}

void mux_tick(struct mux_router *r, uint64_t now_ms)
{
    for (uint32_t i = 0; i < MUX_MAX_FOLLOWERS; i++) {
        struct mux_follower *f = &r->followers[i];
        if (!f->used || f->poll_in_flight || now_ms < f->last_poll_ms + MUX_FOLLOW_POLL_MS)
            continue;
        struct mux_entry *e = new_entry(r, MUX_NO_CLIENT, f->orig_id, MUX_POLL);
        if (!e)
            return; /* table full: try again next tick */
        e->client = f->client;
        e->follower = i;
        f->poll_in_flight = true;
        f->last_poll_ms = now_ms;
        struct proto_msg *q = &r->scratch;
        memset(q, 0, sizeof *q);
        q->type = PROTO_MSG_LOG_QUERY_REQUEST;
        q->u.log_query_request = (struct proto_log_query_request){.request_id = e->wire_id,
                                                                  .token = {f->token, f->token_len},
                                                                  .since_seq = f->next_seq,
                                                                  .max_entries = f->max_entries,
                                                                  .follow = false};
        r->stats.forwarded++;
        r->ops.to_wire(r->ctx, q);
    }
}
