/* Request dispatch (see dispatch.h). */
#include "dispatch.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "consoles.h"
#include "gk/gk.h"
#include "images.h"
#include "log.h"
#include "registry.h"
#include "tokens.h"
#include "transport.h"

static struct proto_msg req, rep; /* large: static */
static char msgbuf[512];
static uint64_t session = 1;

/* A log query with follow: new entries go to it as they come. */
static struct {
    bool active;
    uint64_t request_id, next_seq;
    uint32_t max;
} follow;

static struct hvcbor_str str_of(const char *s)
{
    return (struct hvcbor_str){(const uint8_t *)s, (uint32_t)strlen(s)};
}

/* NUL-terminated copy of a decoded string for logs (truncated, cleaned by
 * the log itself). */
static const char *cstr(char *buf, size_t cap, struct hvcbor_str s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    memcpy(buf, s.ptr, n);
    buf[n] = 0;
    return buf;
}

static void send_error(uint64_t id, enum proto_error_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void send_error(uint64_t id, enum proto_error_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msgbuf, sizeof msgbuf, fmt, ap);
    va_end(ap);
    /* Keep the message valid UTF-8 if vsnprintf cut a character. */
    size_t n = strlen(msgbuf);
    while (n > 0 && !hvcbor_utf8_valid((const uint8_t *)msgbuf, n))
        msgbuf[--n] = 0;
    rep.type = PROTO_MSG_ERROR_REPLY;
    rep.u.error_reply =
        (struct proto_error_reply){.request_id = id, .code = code, .message = str_of(msgbuf)};
    transport_send(&rep);
}

static void send_ok(uint64_t id)
{
    rep.type = PROTO_MSG_OK_REPLY;
    rep.u.ok_reply.request_id = id;
    transport_send(&rep);
}

/* The token of a request, or NULL after refusing and logging it. */
static const struct token *auth(uint64_t id, const char *action, struct hvcbor_str tok,
                                const char *target)
{
    const struct token *t = token_find(tok);
    if (!t) {
        send_error(id, PROTO_ERROR_CODE_REFUSED, "%s: unknown or revoked token", action);
        ctl_log_add("?", action, target, false, PROTO_ERROR_CODE_REFUSED,
                    "unknown or revoked token");
    }
    return t;
}

/* Refuses and logs a request outside t's rights; true if refused. */
static bool refuse(uint64_t id, const struct token *t, enum proto_right r, const char *action,
                   const char *target)
{
    bool ok = token_allows(t, r, target && *target ? target : NULL);
    if (ok)
        return false;
    send_error(id, PROTO_ERROR_CODE_REFUSED, "%s: the token \"%s\" does not grant %s%s%s", action,
               t->label, proto_right_name(r), target && *target ? " over " : "",
               target && *target ? target : "");
    ctl_log_add(t->label, action, target, false, PROTO_ERROR_CODE_REFUSED,
                "outside the token's rights");
    return true;
}

/* Answers and logs a failure. */
static void fail(uint64_t id, const struct token *t, const char *action, const char *target,
                 enum proto_error_code code, const char *why)
{
    send_error(id, code, "%s %s: %s", action, target, why);
    ctl_log_add(t ? t->label : "?", action, target, false, code, why);
}

static void list_domains(uint64_t id, const struct token *t)
{
    rep.type = PROTO_MSG_DOMAIN_LIST_REPLY;
    struct proto_domain_list_reply *r = &rep.u.domain_list_reply;
    r->request_id = id;
    r->domains.count = 0;
    if (token_allows(t, PROTO_RIGHT_INFO, CONTROL_NAME))
        registry_self_summary(&r->domains.items[r->domains.count++]);
    /* Domain-id order (a selection over at most DOM_MAX entries); an entry
     * whose rebuild failed has no domain (id 0) and comes last. */
    uint64_t last = 0;
    for (;;) {
        const struct dom *best = NULL;
        uint64_t best_key = 0;
        for (uint32_t i = 0; i < DOM_MAX; i++) {
            const struct dom *d = registry_at(i);
            if (!d || !token_allows(t, PROTO_RIGHT_INFO, d->name))
                continue;
            uint64_t key = d->has_domain ? d->built.domid : (1ull << 32) + i;
            if (key > last && (!best || key < best_key)) {
                best = d;
                best_key = key;
            }
        }
        if (!best)
            break;
        last = best_key;
        registry_summary(best, &r->domains.items[r->domains.count++]);
    }
    transport_send(&rep);
    char detail[32];
    snprintf(detail, sizeof detail, "%u domains", r->domains.count);
    ctl_log_add(t->label, "domain-list", "", true, 0, detail);
}

static void domain_info(uint64_t id, const struct token *t, struct hvcbor_str name)
{
    char target[DOM_NAME_MAX + 1];
    cstr(target, sizeof target, name);
    if (refuse(id, t, PROTO_RIGHT_INFO, "domain-info", target))
        return;
    struct dom *d = registry_find(name);
    if (!d) {
        if (strcmp(target, CONTROL_NAME) == 0) {
            /* The control domain itself: its own summary, a synthetic config. */
            rep.type = PROTO_MSG_DOMAIN_INFO_REPLY;
            struct proto_domain_info_reply *r = &rep.u.domain_info_reply;
            memset(r, 0, sizeof *r);
            r->request_id = id;
            registry_self_summary(&r->summary);
            /* max-memory-bytes: the control domain's quota, its own frames
             * plus all the memory it has not given to domains. */
            struct hv_domctl_info self = {0};
            gk_domain_info(HV_CAP_SLOT_SELF, &self);
            r->config = (struct proto_domain_config){.name = str_of(CONTROL_NAME),
                                                     .kernel = str_of(CONTROL_NAME),
                                                     .cmdline = str_of(gk_start_info->cmdline),
                                                     .memory_bytes = r->summary.memory_bytes,
                                                     .max_memory_bytes = self.max_pages * 4096,
                                                     .vcpus = r->summary.vcpus,
                                                     .weight = 256,
                                                     .cap_percent = 0,
                                                     .gang = false,
                                                     .on_poweroff = PROTO_STOP_POLICY_PRESERVE,
                                                     .on_reboot = PROTO_STOP_POLICY_PRESERVE,
                                                     .on_crash = PROTO_STOP_POLICY_PRESERVE};
            registry_sched_get(NULL, &r->config);
            registry_vcpu_stats(NULL, r);
            transport_send(&rep);
            return;
        }
        send_error(id, PROTO_ERROR_CODE_NOT_FOUND, "no domain named \"%s\"", target);
        ctl_log_add(t->label, "domain-info", target, false, PROTO_ERROR_CODE_NOT_FOUND,
                    "no such domain");
        return;
    }
    rep.type = PROTO_MSG_DOMAIN_INFO_REPLY;
    struct proto_domain_info_reply *r = &rep.u.domain_info_reply;
    memset(r, 0, sizeof *r);
    r->request_id = id;
    registry_summary(d, &r->summary);
    r->config = d->cfg;
    r->has_max_observed_memory_bytes = true;
    r->max_observed_memory_bytes = d->max_memory_seen;
    /* What the hypervisor applies (equal to the configuration unless a
     * change failed half-way, which SCHED_SET does not do). */
    registry_sched_get(d, &r->config);
    registry_vcpu_stats(d, r);
    transport_send(&rep);
    ctl_log_add(t->label, "domain-info", target, true, 0, NULL);
}

/* The common shape of destroy / pause / unpause / shutdown. */
static struct dom *target_dom(uint64_t id, const struct token *t, const char *action,
                              enum proto_right r, struct hvcbor_str name, char *target, size_t cap)
{
    cstr(target, cap, name);
    if (refuse(id, t, r, action, target))
        return NULL;
    struct dom *d = registry_find(name);
    if (!d) {
        fail(id, t, action, target,
             strcmp(target, CONTROL_NAME) == 0 ? PROTO_ERROR_CODE_REFUSED
                                               : PROTO_ERROR_CODE_NOT_FOUND,
             strcmp(target, CONTROL_NAME) == 0 ? "the control domain cannot be acted on"
                                               : "no such domain");
        return NULL;
    }
    return d;
}

static void done(uint64_t id, const struct token *t, const char *action, const char *target,
                 const char *why, enum proto_error_code code, const char *detail)
{
    if (why) {
        fail(id, t, action, target, code, why);
        return;
    }
    send_ok(id);
    ctl_log_add(t->label, action, target, true, 0, detail);
}

static void log_query(uint64_t id, const struct token *t, const struct proto_log_query_request *q)
{
    if (refuse(id, t, PROTO_RIGHT_LOG, "log-query", NULL))
        return;
    rep.type = PROTO_MSG_LOG_ENTRIES;
    rep.u.log_entries.request_id = id;
    ctl_log_query(q->since_seq, (uint32_t)q->max_entries, &rep.u.log_entries);
    transport_send(&rep);
    follow.active = q->follow;
    if (q->follow) {
        follow.request_id = id;
        follow.next_seq = rep.u.log_entries.next_seq;
        follow.max = (uint32_t)q->max_entries;
    }
}

void dispatch_poll(void)
{
    if (!follow.active || follow.next_seq >= ctl_log_next_seq())
        return;
    rep.type = PROTO_MSG_LOG_ENTRIES;
    rep.u.log_entries.request_id = follow.request_id;
    ctl_log_query(follow.next_seq, follow.max, &rep.u.log_entries);
    follow.next_seq = rep.u.log_entries.next_seq;
    transport_send(&rep);
}

static void new_session(void)
{
    session++;
    follow.active = false;
    con_session_end();
}

/* Names (domains, kernels, images) are used as C strings and shown in
 * logs: a control character (NUL included) would let two names look the
 * same or cut one short. */
static bool bad_name(struct hvcbor_str s)
{
    for (uint32_t i = 0; i < s.len; i++)
        if (s.ptr[i] < 0x20 || s.ptr[i] == 0x7f)
            return true;
    return false;
}

/* The names a request carries; NULL if they are all acceptable. */
static const char *bad_names(const struct proto_msg *m)
{
    switch (m->type) {
    case PROTO_MSG_DOMAIN_INFO_REQUEST:
        return bad_name(m->u.domain_info_request.domain) ? "domain" : NULL;
    case PROTO_MSG_DOMAIN_DESTROY_REQUEST:
        return bad_name(m->u.domain_destroy_request.domain) ? "domain" : NULL;
    case PROTO_MSG_DOMAIN_SHUTDOWN_REQUEST:
        return bad_name(m->u.domain_shutdown_request.domain) ? "domain" : NULL;
    case PROTO_MSG_DOMAIN_PAUSE_REQUEST:
        return bad_name(m->u.domain_pause_request.domain) ? "domain" : NULL;
    case PROTO_MSG_DOMAIN_UNPAUSE_REQUEST:
        return bad_name(m->u.domain_unpause_request.domain) ? "domain" : NULL;
    case PROTO_MSG_SCHED_SET_REQUEST:
        return bad_name(m->u.sched_set_request.domain) ? "domain" : NULL;
    case PROTO_MSG_VCPU_PIN_REQUEST:
        return bad_name(m->u.vcpu_pin_request.domain) ? "domain" : NULL;
    case PROTO_MSG_CONSOLE_ATTACH_REQUEST:
        return bad_name(m->u.console_attach_request.domain) ? "domain" : NULL;
    case PROTO_MSG_IMAGE_UPLOAD_REQUEST:
        return bad_name(m->u.image_upload_request.name) ? "name" : NULL;
    case PROTO_MSG_DOMAIN_CREATE_REQUEST: {
        const struct proto_domain_config *c = &m->u.domain_create_request.config;
        if (bad_name(c->name))
            return "config.name";
        if (bad_name(c->kernel))
            return "config.kernel";
        for (uint32_t i = 0; i < c->cmdline.len; i++)
            if (c->cmdline.ptr[i] == 0)
                return "config.cmdline";
        return NULL;
    }
    case PROTO_MSG_TOKEN_CREATE_REQUEST:
        for (uint32_t i = 0; i < m->u.token_create_request.domains.count; i++)
            if (bad_name(m->u.token_create_request.domains.items[i]))
                return "domains";
        return m->u.token_create_request.has_label && bad_name(m->u.token_create_request.label)
                   ? "label"
                   : NULL;
    default: return NULL;
    }
}

void dispatch_frame(const uint8_t *payload, uint32_t len)
{
    struct hvcbor_error err;
    if (!proto_msg_decode(payload, len, NULL, &req, &err)) {
        const char *kn = err.key == HVCBOR_NO_KEY ? "" : " key ";
        char key[16] = "";
        if (err.key != HVCBOR_NO_KEY)
            snprintf(key, sizeof key, "%u", err.key);
        send_error(0, PROTO_ERROR_CODE_INVALID, "undecodable message: %s at byte %u%s%s",
                   hvcbor_err_name(err.code), err.offset, kn, key);
        ctl_log_add("?", "invalid-message", "", false, PROTO_ERROR_CODE_INVALID,
                    hvcbor_err_name(err.code));
        return;
    }
    uint64_t id = proto_msg_request_id(&req);
    const char *field = bad_names(&req);
    if (field) {
        send_error(id, PROTO_ERROR_CODE_INVALID, "%s: %s has a control character",
                   proto_msg_name(req.type), field);
        ctl_log_add("?", proto_msg_name(req.type), "", false, PROTO_ERROR_CODE_INVALID,
                    "a name with a control character");
        return;
    }
    const struct token *t;
    char target[DOM_KERNEL_MAX + 1] = "";
    enum proto_error_code code = PROTO_ERROR_CODE_INTERNAL;
    const char *why;
    struct dom *d;
    switch (req.type) {
    case PROTO_MSG_HELLO:
        new_session();
        if (req.u.hello.version != PROTO_VERSION) {
            send_error(id, PROTO_ERROR_CODE_VERSION_MISMATCH,
                       "this control domain speaks protocol version %u, not %llu", PROTO_VERSION,
                       (unsigned long long)req.u.hello.version);
            return;
        }
        rep.type = PROTO_MSG_HELLO_REPLY;
        rep.u.hello_reply = (struct proto_hello_reply){
            .request_id = id, .version = PROTO_VERSION, .server = str_of(CONTROL_SERVER_NAME)};
        transport_send(&rep);
        return;
    case PROTO_MSG_DOMAIN_LIST_REQUEST:
        if ((t = auth(id, "domain-list", req.u.domain_list_request.token, "")))
            list_domains(id, t);
        return;
    case PROTO_MSG_DOMAIN_INFO_REQUEST:
        if ((t = auth(id, "domain-info", req.u.domain_info_request.token, "")))
            domain_info(id, t, req.u.domain_info_request.domain);
        return;
    case PROTO_MSG_DOMAIN_CREATE_REQUEST: {
        const struct proto_domain_create_request *q = &req.u.domain_create_request;
        cstr(target, DOM_NAME_MAX + 1, q->config.name);
        if (!(t = auth(id, "domain-create", q->token, target)) ||
            refuse(id, t, PROTO_RIGHT_LIFECYCLE, "domain-create", target))
            return;
        static char detail[256];
        why = registry_create(&q->config, q->paused, &d, detail, sizeof detail, &code);
        if (why) {
            fail(id, t, "domain-create", target, code, why);
            return;
        }
        rep.type = PROTO_MSG_DOMAIN_CREATE_REPLY;
        rep.u.domain_create_reply = (struct proto_domain_create_reply){id, d->built.domid};
        transport_send(&rep);
        snprintf(detail, sizeof detail, "id %u, kernel %s, %llu MiB%s", d->built.domid, d->kernel,
                 (unsigned long long)(d->cfg.memory_bytes >> 20), q->paused ? ", paused" : "");
        ctl_log_add(t->label, "domain-create", target, true, 0, detail);
        return;
    }
    case PROTO_MSG_DOMAIN_DESTROY_REQUEST: {
        const struct proto_domain_destroy_request *q = &req.u.domain_destroy_request;
        if (!(t = auth(id, "domain-destroy", q->token, "")) ||
            !(d = target_dom(id, t, "domain-destroy", PROTO_RIGHT_LIFECYCLE, q->domain, target,
                             DOM_NAME_MAX + 1)))
            return;
        why = registry_destroy(d, &code);
        done(id, t, "domain-destroy", target, why, code, NULL);
        return;
    }
    case PROTO_MSG_DOMAIN_SHUTDOWN_REQUEST: {
        const struct proto_domain_shutdown_request *q = &req.u.domain_shutdown_request;
        if (!(t = auth(id, "domain-shutdown", q->token, "")) ||
            !(d = target_dom(id, t, "domain-shutdown", PROTO_RIGHT_LIFECYCLE, q->domain, target,
                             DOM_NAME_MAX + 1)))
            return;
        const char *note = NULL;
        why = registry_shutdown(d, q->kind, q->has_timeout_ns, q->timeout_ns, &note, &code);
        done(id, t, "domain-shutdown", target, why, code, note);
        return;
    }
    case PROTO_MSG_DOMAIN_PAUSE_REQUEST: {
        const struct proto_domain_pause_request *q = &req.u.domain_pause_request;
        if (!(t = auth(id, "domain-pause", q->token, "")) ||
            !(d = target_dom(id, t, "domain-pause", PROTO_RIGHT_PAUSE, q->domain, target,
                             DOM_NAME_MAX + 1)))
            return;
        why = registry_pause(d, &code);
        done(id, t, "domain-pause", target, why, code, NULL);
        return;
    }
    case PROTO_MSG_DOMAIN_UNPAUSE_REQUEST: {
        const struct proto_domain_unpause_request *q = &req.u.domain_unpause_request;
        if (!(t = auth(id, "domain-unpause", q->token, "")) ||
            !(d = target_dom(id, t, "domain-unpause", PROTO_RIGHT_PAUSE, q->domain, target,
                             DOM_NAME_MAX + 1)))
            return;
        why = registry_unpause(d, &code);
        done(id, t, "domain-unpause", target, why, code, NULL);
        return;
    }
    case PROTO_MSG_SCHED_SET_REQUEST: {
        const struct proto_sched_set_request *q = &req.u.sched_set_request;
        if (!(t = auth(id, "sched-set", q->token, "")) ||
            !(d = target_dom(id, t, "sched-set", PROTO_RIGHT_SCHED, q->domain, target,
                             DOM_NAME_MAX + 1)))
            return;
        why = registry_sched_set(d, q, &code);
        char detail[96];
        snprintf(detail, sizeof detail, "weight %llu, cap %llu%%, gang %s",
                 (unsigned long long)d->cfg.weight, (unsigned long long)d->cfg.cap_percent,
                 d->cfg.gang ? "true" : "false");
        done(id, t, "sched-set", target, why, code, detail);
        return;
    }
    case PROTO_MSG_VCPU_PIN_REQUEST: {
        const struct proto_vcpu_pin_request *q = &req.u.vcpu_pin_request;
        if (!(t = auth(id, "vcpu-pin", q->token, "")) ||
            !(d = target_dom(id, t, "vcpu-pin", PROTO_RIGHT_SCHED, q->domain, target,
                             DOM_NAME_MAX + 1)))
            return;
        why = registry_vcpu_pin(d, q->vcpu, q->cpu_mask, &code);
        char detail[64];
        snprintf(detail, sizeof detail, "VCPU %llu to CPUs 0x%llx", (unsigned long long)q->vcpu,
                 (unsigned long long)q->cpu_mask);
        done(id, t, "vcpu-pin", target, why, code, detail);
        return;
    }
    case PROTO_MSG_HOST_INFO_REQUEST:
        if (!(t = auth(id, "host-info", req.u.host_info_request.token, "")) ||
            refuse(id, t, PROTO_RIGHT_INFO, "host-info", NULL))
            return;
        rep.type = PROTO_MSG_HOST_INFO_REPLY;
        memset(&rep.u.host_info_reply, 0, sizeof rep.u.host_info_reply);
        rep.u.host_info_reply.request_id = id;
        if ((why = registry_host_info(&rep.u.host_info_reply))) {
            fail(id, t, "host-info", "", PROTO_ERROR_CODE_INTERNAL, why);
            return;
        }
        transport_send(&rep);
        ctl_log_add(t->label, "host-info", "", true, 0, NULL);
        return;
    case PROTO_MSG_CONSOLE_ATTACH_REQUEST: {
        const struct proto_console_attach_request *q = &req.u.console_attach_request;
        if (!(t = auth(id, "console-attach", q->token, "")) ||
            !(d = target_dom(id, t, "console-attach", PROTO_RIGHT_CONSOLE, q->domain, target,
                             DOM_NAME_MAX + 1)))
            return;
        why = con_attach(d, id, q->force, &code);
        if (why)
            fail(id, t, "console-attach", target, code, why);
        else
            ctl_log_add(t->label, "console-attach", target, true, 0, q->force ? "forced" : NULL);
        return;
    }
    case PROTO_MSG_CONSOLE_DATA:
        /* Input on an attached stream: the stream id is the authority (it
         * was handed out to a token holder in this session). Errors are
         * not answered: console-data has no reply. */
        con_input(req.u.console_data.stream, req.u.console_data.data, &code);
        return;
    case PROTO_MSG_CONSOLE_DETACH:
        snprintf(target, sizeof target, "stream %llu",
                 (unsigned long long)req.u.console_detach.stream);
        if ((why = con_detach(req.u.console_detach.stream, &code))) {
            send_error(id, code, "no attached console stream %llu",
                       (unsigned long long)req.u.console_detach.stream);
            ctl_log_add("?", "console-detach", target, false, code, why);
        } else {
            send_ok(id);
            ctl_log_add("stream", "console-detach", target, true, 0, NULL);
        }
        return;
    case PROTO_MSG_LOG_QUERY_REQUEST:
        if ((t = auth(id, "log-query", req.u.log_query_request.token, "")))
            log_query(id, t, &req.u.log_query_request);
        return;
    case PROTO_MSG_TOKEN_CREATE_REQUEST: {
        const struct proto_token_create_request *q = &req.u.token_create_request;
        if (!(t = auth(id, "token-create", q->token, "")))
            return;
        const struct token *nt;
        why = token_mint(t, q, &nt, &code);
        if (why) {
            fail(id, t, "token-create", "", code, why);
            return;
        }
        rep.type = PROTO_MSG_TOKEN_CREATE_REPLY;
        rep.u.token_create_reply = (struct proto_token_create_reply){
            .request_id = id, .token_id = nt->id, .new_token = {nt->secret, nt->secret_len}};
        transport_send(&rep);
        snprintf(target, sizeof target, "token %llu (%s)", (unsigned long long)nt->id, nt->label);
        ctl_log_add(t->label, "token-create", target, true, 0, NULL);
        return;
    }
    case PROTO_MSG_TOKEN_REVOKE_REQUEST: {
        const struct proto_token_revoke_request *q = &req.u.token_revoke_request;
        snprintf(target, sizeof target, "token %llu", (unsigned long long)q->token_id);
        if (!(t = auth(id, "token-revoke", q->token, target)))
            return;
        char label[TOKEN_NAME_MAX + 1];
        strlcpy(label, t->label, sizeof label); /* t may be revoked below */
        uint32_t count = 0;
        why = token_revoke(t, q->token_id, &count, &code);
        if (why) {
            fail(id, t, "token-revoke", target, code, why);
            return;
        }
        send_ok(id);
        char detail[64];
        snprintf(detail, sizeof detail, "%u tokens revoked", count);
        ctl_log_add(label, "token-revoke", target, true, 0, detail);
        return;
    }
    case PROTO_MSG_IMAGE_UPLOAD_REQUEST: {
        const struct proto_image_upload_request *q = &req.u.image_upload_request;
        cstr(target, DOM_NAME_MAX + 1, q->name);
        if (!(t = auth(id, "image-upload", q->token, target)) ||
            refuse(id, t, PROTO_RIGHT_LIFECYCLE, "image-upload", NULL))
            return;
        if (image_find_identical(q)) {
            /* Nothing to send: create can name it as it is. */
            rep.type = PROTO_MSG_IMAGE_UPLOAD_REPLY;
            rep.u.image_upload_reply = (struct proto_image_upload_reply){
                .request_id = id, .upload = 0, .has_present = true, .present = true};
            transport_send(&rep);
            ctl_log_add(t->label, "image-upload", target, true, 0,
                        "an identical image is held already");
            return;
        }
        uint64_t up = 0;
        why = image_upload_start(q, session, &up, &code);
        if (why) {
            fail(id, t, "image-upload", target, code, why);
            return;
        }
        rep.type = PROTO_MSG_IMAGE_UPLOAD_REPLY;
        rep.u.image_upload_reply =
            (struct proto_image_upload_reply){.request_id = id, .upload = up};
        transport_send(&rep);
        char detail[64];
        snprintf(detail, sizeof detail, "%llu bytes announced", (unsigned long long)q->size_bytes);
        ctl_log_add(t->label, "image-upload", target, true, 0, detail);
        return;
    }
    case PROTO_MSG_IMAGE_UPLOAD_CHUNK: {
        /* The upload id, valid only in the session that started it, is
         * the authority for its chunks. */
        bool finished = false;
        const char *name = "";
        why = image_upload_chunk(&req.u.image_upload_chunk, session, &finished, &name, &code);
        if (why) {
            send_error(id, code, "image-upload-chunk: %s", why);
            if (code == PROTO_ERROR_CODE_INVALID)
                ctl_log_add("?", "image-upload-chunk", name, false, code, why);
            return;
        }
        send_ok(id);
        if (finished)
            ctl_log_add("upload", "image-upload-complete", name, true, 0, NULL);
        return;
    }
    default:
        /* A reply type sent to the server. */
        send_error(id, PROTO_ERROR_CODE_INVALID, "%s is not a request",
                   proto_msg_name(req.type) ? proto_msg_name(req.type) : "?");
        return;
    }
}
