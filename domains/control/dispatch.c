/* Request dispatch (see dispatch.h). */
#include "dispatch.h"
#include "devices.h"
#include "disks.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "consoles.h"
#include "gk/gk.h"
#include "images.h"
#include "log.h"
#include "registry.h"
#include "services.h"
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

/* Sends an error-reply; hv_status (0: none) is the hypervisor's refusal. */
static void send_error_hv(uint64_t id, enum proto_error_code code, int64_t hv_status,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void send_error_hv(uint64_t id, enum proto_error_code code, int64_t hv_status,
                          const char *fmt, ...)
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
    rep.u.error_reply = (struct proto_error_reply){.request_id = id,
                                                   .code = code,
                                                   .message = str_of(msgbuf),
                                                   .has_hv_status = hv_status != 0,
                                                   .hv_status = hv_status};
    transport_send(&rep);
}

#define send_error(id, code, ...) send_error_hv(id, code, 0, __VA_ARGS__)

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

/* Answers and logs a failure (with the hypervisor's status, if it refused). */
static void fail(uint64_t id, const struct token *t, const char *action, const char *target,
                 struct ctl_error e, const char *why)
{
    send_error_hv(id, e.code, e.hv_status, "%s %s: %s", action, target, why);
    ctl_log_add(t ? t->label : "?", action, target, false, e.code, why);
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

/* The right over target is checked (decode). */
static void domain_info(uint64_t id, const struct token *t, const char *target,
                        struct hvcbor_str name)
{
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

static void done(uint64_t id, const struct token *t, const char *action, const char *target,
                 const char *why, struct ctl_error e, const char *detail)
{
    if (why) {
        fail(id, t, action, target, e, why);
        return;
    }
    send_ok(id);
    ctl_log_add(t->label, action, target, true, 0, detail);
}

/* The right to read the log is checked (decode). */
static void log_query(uint64_t id, const struct proto_log_query_request *q)
{
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

/* --- decode, then invoke ------------------------------------------------------
 *
 * Every request type has a route. Decoding a frame (dispatch_frame) does
 * everything the routes have in common and changes nothing: the catalog
 * decode, the name checks, the token and its right over the target, the
 * target domain. Only then does the route's invoke act and answer.
 */

/* One request after decoding: what its invoke may rely on. */
struct request {
    uint64_t id;
    const struct proto_msg *m;
    const char *action;
    const struct token *t; /* the caller's token (NULL on routes without one) */
    struct dom *d;         /* the target (routes with TARGET_DOMAIN) */
    char target[DOM_KERNEL_MAX + 1];
};

enum target_kind {
    TARGET_NONE,     /* nothing named */
    TARGET_NAME,     /* a name (string at .name) the right is checked over */
    TARGET_DOMAIN,   /* as TARGET_NAME, and an existing domain other than the control domain */
    TARGET_TOKEN_ID, /* a token id (uint64_t at .name), for the log */
};

#define RIGHT(r) ((r) + 1u) /* struct route.right: 0 is "no right checked" */
#define MSG_OFF(member) offsetof(struct proto_msg, u.member)

struct route {
    const char *action; /* in answers and the log */
    size_t token;       /* offset of the caller's token; 0: the request carries its own
                           authority (a stream or upload id) or needs none */
    size_t name;        /* offset of the target (see target) */
    enum target_kind target;
    const char *name_field; /* the target's field, for the control-character check */
    unsigned right;         /* RIGHT(r): the token must grant r (over the target if named) */
    bool right_unscoped;    /* check the right over no domain even though a name is given */
    /* Further names to check; returns the offending field or NULL. */
    const char *(*check_names)(const struct proto_msg *m);
    void (*invoke)(struct request *r);
};

static const struct hvcbor_str *str_at(const struct proto_msg *m, size_t off)
{
    return (const struct hvcbor_str *)(const void *)((const char *)m + off);
}

static const char *create_names(const struct proto_msg *m)
{
    const struct proto_domain_config *c = &m->u.domain_create_request.config;
    if (bad_name(c->kernel))
        return "config.kernel";
    for (uint32_t i = 0; i < c->cmdline.len; i++)
        if (c->cmdline.ptr[i] == 0)
            return "config.cmdline";
    return NULL;
}

static const char *token_create_names(const struct proto_msg *m)
{
    const struct proto_token_create_request *q = &m->u.token_create_request;
    for (uint32_t i = 0; i < q->domains.count; i++)
        if (bad_name(q->domains.items[i]))
            return "domains";
    return q->has_label && bad_name(q->label) ? "label" : NULL;
}

/* Answers r with code and why (prefixed with the action and target), and logs it. */
static void req_fail(const struct request *r, enum proto_error_code code, const char *why)
{
    fail(r->id, r->t, r->action, r->target, (struct ctl_error){code, 0}, why);
}

/* --- the invokes, one per request type ------------------------------------- */

static void do_hello(struct request *r)
{
    new_session();
    if (r->m->u.hello.version != PROTO_VERSION) {
        send_error(r->id, PROTO_ERROR_CODE_VERSION_MISMATCH,
                   "this control domain speaks protocol version %u, not %llu", PROTO_VERSION,
                   (unsigned long long)r->m->u.hello.version);
        return;
    }
    rep.type = PROTO_MSG_HELLO_REPLY;
    rep.u.hello_reply = (struct proto_hello_reply){
        .request_id = r->id, .version = PROTO_VERSION, .server = str_of(CONTROL_SERVER_NAME)};
    transport_send(&rep);
}

static void do_list(struct request *r)
{
    list_domains(r->id, r->t);
}

static void do_info(struct request *r)
{
    domain_info(r->id, r->t, r->target, r->m->u.domain_info_request.domain);
}

static void do_create(struct request *r)
{
    const struct proto_domain_create_request *q = &r->m->u.domain_create_request;
    static char detail[256];
    struct ctl_error err = {PROTO_ERROR_CODE_INTERNAL, 0};
    struct dom *d;
    const char *why = registry_create(&q->config, q->paused, &d, detail, sizeof detail, &err);
    if (why) {
        fail(r->id, r->t, r->action, r->target, err, why);
        return;
    }
    rep.type = PROTO_MSG_DOMAIN_CREATE_REPLY;
    rep.u.domain_create_reply = (struct proto_domain_create_reply){r->id, d->built.domid};
    transport_send(&rep);
    snprintf(detail, sizeof detail, "id %u, kernel %s, %llu MiB%s", d->built.domid, d->kernel,
             (unsigned long long)(d->cfg.memory_bytes >> 20), q->paused ? ", paused" : "");
    ctl_log_add(r->t->label, r->action, r->target, true, 0, detail);
}

static void do_destroy(struct request *r)
{
    struct ctl_error err = {PROTO_ERROR_CODE_INTERNAL, 0};
    const char *why = registry_destroy(r->d, &err);
    done(r->id, r->t, r->action, r->target, why, err, NULL);
}

static void do_restart(struct request *r)
{
    struct ctl_error err = {PROTO_ERROR_CODE_INTERNAL, 0};
    bool crash = r->m->u.domain_restart_request.crash;
    const char *why = registry_restart(r->d, crash, &err);
    done(r->id, r->t, r->action, r->target, why, err,
         crash ? "handled as a crash (its on-crash policy)" : "rebuilt from its configuration");
}

static void do_shutdown(struct request *r)
{
    const struct proto_domain_shutdown_request *q = &r->m->u.domain_shutdown_request;
    struct ctl_error err = {PROTO_ERROR_CODE_INTERNAL, 0};
    const char *note = NULL;
    const char *why =
        registry_shutdown(r->d, q->kind, q->has_timeout_ns, q->timeout_ns, &note, &err);
    done(r->id, r->t, r->action, r->target, why, err, note);
}

static void do_pause(struct request *r)
{
    struct ctl_error err = {PROTO_ERROR_CODE_INTERNAL, 0};
    const char *why = registry_pause(r->d, &err);
    done(r->id, r->t, r->action, r->target, why, err, NULL);
}

static void do_unpause(struct request *r)
{
    struct ctl_error err = {PROTO_ERROR_CODE_INTERNAL, 0};
    const char *why = registry_unpause(r->d, &err);
    done(r->id, r->t, r->action, r->target, why, err, NULL);
}

static void do_sched_set(struct request *r)
{
    struct ctl_error err = {PROTO_ERROR_CODE_INTERNAL, 0};
    const char *why = registry_sched_set(r->d, &r->m->u.sched_set_request, &err);
    char detail[96];
    snprintf(detail, sizeof detail, "weight %llu, cap %llu%%, gang %s",
             (unsigned long long)r->d->cfg.weight, (unsigned long long)r->d->cfg.cap_percent,
             r->d->cfg.gang ? "true" : "false");
    done(r->id, r->t, r->action, r->target, why, err, detail);
}

static void do_vcpu_pin(struct request *r)
{
    const struct proto_vcpu_pin_request *q = &r->m->u.vcpu_pin_request;
    struct ctl_error err = {PROTO_ERROR_CODE_INTERNAL, 0};
    const char *why = registry_vcpu_pin(r->d, q->vcpu, q->cpu_mask, &err);
    char detail[64];
    snprintf(detail, sizeof detail, "VCPU %llu to CPUs 0x%llx", (unsigned long long)q->vcpu,
             (unsigned long long)q->cpu_mask);
    done(r->id, r->t, r->action, r->target, why, err, detail);
}

static void do_host_info(struct request *r)
{
    rep.type = PROTO_MSG_HOST_INFO_REPLY;
    memset(&rep.u.host_info_reply, 0, sizeof rep.u.host_info_reply);
    rep.u.host_info_reply.request_id = r->id;
    const char *why = registry_host_info(&rep.u.host_info_reply);
    if (why) {
        req_fail(r, PROTO_ERROR_CODE_INTERNAL, why);
        return;
    }
    transport_send(&rep);
    ctl_log_add(r->t->label, r->action, "", true, 0, NULL);
}

static void do_device_list(struct request *r)
{
    rep.type = PROTO_MSG_DEVICE_LIST_REPLY;
    memset(&rep.u.device_list_reply, 0, sizeof rep.u.device_list_reply);
    rep.u.device_list_reply.request_id = r->id;
    devices_list(&rep.u.device_list_reply);
    transport_send(&rep);
    ctl_log_add(r->t->label, r->action, "", true, 0, NULL);
}

static void do_console_attach(struct request *r)
{
    const struct proto_console_attach_request *q = &r->m->u.console_attach_request;
    enum proto_error_code code = PROTO_ERROR_CODE_INTERNAL;
    const char *why = con_attach(r->d, r->id, q->force, &code);
    if (why)
        req_fail(r, code, why);
    else
        ctl_log_add(r->t->label, r->action, r->target, true, 0, q->force ? "forced" : NULL);
}

/* Input on an attached stream: the stream id is the authority (it was
 * handed out to a token holder in this session). Errors are not answered:
 * console-data has no reply. */
static void do_console_data(struct request *r)
{
    enum proto_error_code code = PROTO_ERROR_CODE_INTERNAL;
    con_input(r->m->u.console_data.stream, r->m->u.console_data.data, &code);
}

static void do_console_detach(struct request *r)
{
    uint64_t stream = r->m->u.console_detach.stream;
    enum proto_error_code code = PROTO_ERROR_CODE_INTERNAL;
    snprintf(r->target, sizeof r->target, "stream %llu", (unsigned long long)stream);
    const char *why = con_detach(stream, &code);
    if (why) {
        send_error(r->id, code, "no attached console stream %llu", (unsigned long long)stream);
        ctl_log_add("?", r->action, r->target, false, code, why);
    } else {
        send_ok(r->id);
        ctl_log_add("stream", r->action, r->target, true, 0, NULL);
    }
}

static void do_log_query(struct request *r)
{
    log_query(r->id, &r->m->u.log_query_request);
}

static void do_token_create(struct request *r)
{
    enum proto_error_code code = PROTO_ERROR_CODE_INTERNAL;
    const struct token *nt;
    const char *why = token_mint(r->t, &r->m->u.token_create_request, &nt, &code);
    if (why) {
        req_fail(r, code, why);
        return;
    }
    rep.type = PROTO_MSG_TOKEN_CREATE_REPLY;
    rep.u.token_create_reply = (struct proto_token_create_reply){
        .request_id = r->id, .token_id = nt->id, .new_token = {nt->secret, nt->secret_len}};
    transport_send(&rep);
    snprintf(r->target, sizeof r->target, "token %llu (%s)", (unsigned long long)nt->id, nt->label);
    ctl_log_add(r->t->label, r->action, r->target, true, 0, NULL);
}

static void do_token_revoke(struct request *r)
{
    enum proto_error_code code = PROTO_ERROR_CODE_INTERNAL;
    char label[TOKEN_NAME_MAX + 1];
    strlcpy(label, r->t->label, sizeof label); /* r->t may be revoked below */
    uint32_t count = 0;
    const char *why = token_revoke(r->t, r->m->u.token_revoke_request.token_id, &count, &code);
    if (why) {
        req_fail(r, code, why);
        return;
    }
    send_ok(r->id);
    char detail[64];
    snprintf(detail, sizeof detail, "%u tokens revoked", count);
    ctl_log_add(label, r->action, r->target, true, 0, detail);
}

static void do_image_upload(struct request *r)
{
    const struct proto_image_upload_request *q = &r->m->u.image_upload_request;
    if (image_find_identical(q)) {
        /* Nothing to send: create can name it as it is. */
        rep.type = PROTO_MSG_IMAGE_UPLOAD_REPLY;
        rep.u.image_upload_reply = (struct proto_image_upload_reply){
            .request_id = r->id, .upload = 0, .has_present = true, .present = true};
        transport_send(&rep);
        ctl_log_add(r->t->label, r->action, r->target, true, 0,
                    "an identical image is held already");
        return;
    }
    enum proto_error_code code = PROTO_ERROR_CODE_INTERNAL;
    uint64_t up = 0;
    const char *why = image_upload_start(q, session, &up, &code);
    if (why) {
        req_fail(r, code, why);
        return;
    }
    rep.type = PROTO_MSG_IMAGE_UPLOAD_REPLY;
    rep.u.image_upload_reply = (struct proto_image_upload_reply){.request_id = r->id, .upload = up};
    transport_send(&rep);
    char detail[64];
    snprintf(detail, sizeof detail, "%llu bytes announced", (unsigned long long)q->size_bytes);
    ctl_log_add(r->t->label, r->action, r->target, true, 0, detail);
}

/* The upload id, valid only in the session that started it, is the
 * authority for its chunks. */
static void do_image_chunk(struct request *r)
{
    enum proto_error_code code = PROTO_ERROR_CODE_INTERNAL;
    bool finished = false;
    const char *name = "";
    const char *why =
        image_upload_chunk(&r->m->u.image_upload_chunk, session, &finished, &name, &code);
    if (why) {
        send_error(r->id, code, "image-upload-chunk: %s", why);
        if (code == PROTO_ERROR_CODE_INVALID)
            ctl_log_add("?", r->action, name, false, code, why);
        return;
    }
    send_ok(r->id);
    if (finished)
        ctl_log_add("upload", "image-upload-complete", name, true, 0, NULL);
}

/* --- the bus (docs/bus.md) ---------------------------------------------------- */

void dispatch_answer_later(uint64_t sess, uint64_t id, enum proto_error_code code,
                           int64_t hv_status, const char *why, struct proto_msg *relay)
{
    if (sess != session)
        return; /* the client that asked is gone */
    if (code == 0 && relay) {
        switch (relay->type) {
        case PROTO_MSG_VOLUME_INFO_REPLY: relay->u.volume_info_reply.request_id = id; break;
        case PROTO_MSG_VOLUME_LIST_REPLY: relay->u.volume_list_reply.request_id = id; break;
        default:
            relay->u.ok_reply.request_id = id;
            relay->type = PROTO_MSG_OK_REPLY;
            break;
        }
        transport_send(relay);
        return;
    }
    if (code == 0) {
        send_ok(id);
        return;
    }
    snprintf(msgbuf, sizeof msgbuf, "%s", why ? why : "the domain refused");
    size_t n = strlen(msgbuf);
    while (n > 0 && !hvcbor_utf8_valid((const uint8_t *)msgbuf, n))
        msgbuf[--n] = 0;
    rep.type = PROTO_MSG_ERROR_REPLY;
    rep.u.error_reply = (struct proto_error_reply){.request_id = id,
                                                   .code = code,
                                                   .message = str_of(msgbuf),
                                                   .has_hv_status = hv_status != 0,
                                                   .hv_status = hv_status};
    transport_send(&rep);
}

/* hvctl bus DOMAIN (the control domain: its totals). */
static void do_bus_info(struct request *r)
{
    struct dom *d = registry_find(r->m->u.bus_info_request.domain);
    if (!d && strcmp(r->target, CONTROL_NAME) != 0) {
        req_fail(r, PROTO_ERROR_CODE_NOT_FOUND, "no such domain");
        return;
    }
    rep.type = PROTO_MSG_BUS_INFO_REPLY;
    rep.u.bus_info_reply.request_id = r->id;
    bus_info(d, &rep.u.bus_info_reply);
    transport_send(&rep);
}

static void do_service_list(struct request *r)
{
    rep.type = PROTO_MSG_SERVICE_LIST_REPLY;
    rep.u.service_list_reply.request_id = r->id;
    services_list(&rep.u.service_list_reply);
    transport_send(&rep);
}

/* A request answered later, when the domain answers its bus request
 * (dispatch_answer_later). */
static void later(struct request *r, struct proto_msg *m, enum bus_cont cont)
{
    if (!r->d->has_domain || r->d->state != PROTO_DOMAIN_STATE_RUNNING) {
        req_fail(r, PROTO_ERROR_CODE_WRONG_STATE, "it is not running");
        return;
    }
    const char *why = bus_request(r->d, m, cont, r->id, session);
    if (why) {
        req_fail(r, PROTO_ERROR_CODE_WRONG_STATE, why);
        return;
    }
    ctl_log_add(r->t->label, r->action, r->target, true, 0, "asked over its bus");
}

static void do_suspend(struct request *r)
{
    static struct proto_msg m;
    m.type = PROTO_MSG_BUS_SUSPEND_REQUEST;
    m.u.bus_suspend_request = (struct proto_bus_suspend_request){0};
    later(r, &m, BUS_CONT_SUSPEND);
}

static void do_mem_target(struct request *r)
{
    const struct proto_domain_mem_target_request *q = &r->m->u.domain_mem_target_request;
    if (q->target_bytes < (1ull << 20) || q->target_bytes > r->d->cfg.max_memory_bytes) {
        req_fail(r, PROTO_ERROR_CODE_INVALID,
                 "the target must be at least 1 MiB and at most its max-memory");
        return;
    }
    static struct proto_msg m;
    m.type = PROTO_MSG_BUS_MEMORY_TARGET_REQUEST;
    m.u.bus_memory_target_request =
        (struct proto_bus_memory_target_request){.target_bytes = q->target_bytes};
    later(r, &m, BUS_CONT_HVCTL);
}

/* hvctl volume: relayed to the domain that provides blk (blkback), token
 * removed, and its answer relayed back (docs/blkback.md). The token must
 * grant info (list, info) or lifecycle (create, grow, delete) over that
 * domain. Creating or
 * growing zeroes the new space first, which may take a while: the request
 * waits up to VOLUME_TIMEOUT_NS for blkback. */
#define VOLUME_TIMEOUT_NS (120ull * 1000 * 1000 * 1000)
static void do_volume(struct request *r)
{
    struct dom *p = services_provider("blk");
    if (!p) {
        req_fail(r, PROTO_ERROR_CODE_WRONG_STATE,
                 "no domain provides the service blk (the machine has no disk, or blkback "
                 "is not running)");
        return;
    }
    /* Volumes are the disk domain's: the token needs its right over it. */
    bool reads =
        r->m->type == PROTO_MSG_VOLUME_LIST_REQUEST || r->m->type == PROTO_MSG_VOLUME_INFO_REQUEST;
    if (refuse(r->id, r->t, reads ? PROTO_RIGHT_INFO : PROTO_RIGHT_LIFECYCLE, r->action, p->name))
        return;
    const struct dom *user = r->m->type == PROTO_MSG_VOLUME_DELETE_REQUEST
                                 ? disks_user_of(r->m->u.volume_delete_request.name)
                                 : NULL;
    if (user) {
        char why[160];
        snprintf(why, sizeof why,
                 "the volume is attached to domain %s (its manifest's disks:): destroy it first",
                 user->name);
        req_fail(r, PROTO_ERROR_CODE_WRONG_STATE, why);
        return;
    }
    static struct proto_msg m;
    m = *r->m;
    switch (m.type) {
    case PROTO_MSG_VOLUME_CREATE_REQUEST: m.u.volume_create_request.token.len = 0; break;
    case PROTO_MSG_VOLUME_GROW_REQUEST: m.u.volume_grow_request.token.len = 0; break;
    case PROTO_MSG_VOLUME_DELETE_REQUEST: m.u.volume_delete_request.token.len = 0; break;
    case PROTO_MSG_VOLUME_LIST_REQUEST: m.u.volume_list_request.token.len = 0; break;
    default: m.u.volume_info_request.token.len = 0; break;
    }
    const char *why = bus_request_timeout(p, &m, BUS_CONT_RELAY, r->id, session, VOLUME_TIMEOUT_NS);
    if (why) {
        req_fail(r, PROTO_ERROR_CODE_WRONG_STATE, why);
        return;
    }
    ctl_log_add(r->t->label, r->action, r->target, true, 0, "asked blkback over its bus");
}

#define VOLUME_ROUTE(type, member, act, rt)                                                        \
    [type] = {.action = act,                                                                       \
              .token = MSG_OFF(member.token),                                                      \
              .name = MSG_OFF(member.name),                                                        \
              .target = TARGET_NAME,                                                               \
              .name_field = "name",                                                                \
              .right = RIGHT(rt),                                                                  \
              .right_unscoped = true,                                                              \
              .invoke = do_volume}

/* Every request type the server answers, keyed by message type. A type with
 * no route (a reply sent to the server) is refused as invalid. */
static const struct route routes[] = {
    [PROTO_MSG_HELLO] = {.action = "hello", .invoke = do_hello},
    [PROTO_MSG_DOMAIN_LIST_REQUEST] = {.action = "domain-list",
                                       .token = MSG_OFF(domain_list_request.token),
                                       .invoke = do_list},
    [PROTO_MSG_DOMAIN_INFO_REQUEST] = {.action = "domain-info",
                                       .token = MSG_OFF(domain_info_request.token),
                                       .name = MSG_OFF(domain_info_request.domain),
                                       .target = TARGET_NAME,
                                       .name_field = "domain",
                                       .right = RIGHT(PROTO_RIGHT_INFO),
                                       .invoke = do_info},
    [PROTO_MSG_DOMAIN_CREATE_REQUEST] = {.action = "domain-create",
                                         .token = MSG_OFF(domain_create_request.token),
                                         .name = MSG_OFF(domain_create_request.config.name),
                                         .target = TARGET_NAME,
                                         .name_field = "config.name",
                                         .right = RIGHT(PROTO_RIGHT_LIFECYCLE),
                                         .check_names = create_names,
                                         .invoke = do_create},
    [PROTO_MSG_DOMAIN_DESTROY_REQUEST] = {.action = "domain-destroy",
                                          .token = MSG_OFF(domain_destroy_request.token),
                                          .name = MSG_OFF(domain_destroy_request.domain),
                                          .target = TARGET_DOMAIN,
                                          .name_field = "domain",
                                          .right = RIGHT(PROTO_RIGHT_LIFECYCLE),
                                          .invoke = do_destroy},
    [PROTO_MSG_DOMAIN_RESTART_REQUEST] = {.action = "domain-restart-request",
                                          .token = MSG_OFF(domain_restart_request.token),
                                          .name = MSG_OFF(domain_restart_request.domain),
                                          .target = TARGET_DOMAIN,
                                          .name_field = "domain",
                                          .right = RIGHT(PROTO_RIGHT_LIFECYCLE),
                                          .invoke = do_restart},
    [PROTO_MSG_DOMAIN_SHUTDOWN_REQUEST] = {.action = "domain-shutdown",
                                           .token = MSG_OFF(domain_shutdown_request.token),
                                           .name = MSG_OFF(domain_shutdown_request.domain),
                                           .target = TARGET_DOMAIN,
                                           .name_field = "domain",
                                           .right = RIGHT(PROTO_RIGHT_LIFECYCLE),
                                           .invoke = do_shutdown},
    [PROTO_MSG_DOMAIN_PAUSE_REQUEST] = {.action = "domain-pause",
                                        .token = MSG_OFF(domain_pause_request.token),
                                        .name = MSG_OFF(domain_pause_request.domain),
                                        .target = TARGET_DOMAIN,
                                        .name_field = "domain",
                                        .right = RIGHT(PROTO_RIGHT_PAUSE),
                                        .invoke = do_pause},
    [PROTO_MSG_DOMAIN_UNPAUSE_REQUEST] = {.action = "domain-unpause",
                                          .token = MSG_OFF(domain_unpause_request.token),
                                          .name = MSG_OFF(domain_unpause_request.domain),
                                          .target = TARGET_DOMAIN,
                                          .name_field = "domain",
                                          .right = RIGHT(PROTO_RIGHT_PAUSE),
                                          .invoke = do_unpause},
    [PROTO_MSG_SCHED_SET_REQUEST] = {.action = "sched-set",
                                     .token = MSG_OFF(sched_set_request.token),
                                     .name = MSG_OFF(sched_set_request.domain),
                                     .target = TARGET_DOMAIN,
                                     .name_field = "domain",
                                     .right = RIGHT(PROTO_RIGHT_SCHED),
                                     .invoke = do_sched_set},
    [PROTO_MSG_VCPU_PIN_REQUEST] = {.action = "vcpu-pin",
                                    .token = MSG_OFF(vcpu_pin_request.token),
                                    .name = MSG_OFF(vcpu_pin_request.domain),
                                    .target = TARGET_DOMAIN,
                                    .name_field = "domain",
                                    .right = RIGHT(PROTO_RIGHT_SCHED),
                                    .invoke = do_vcpu_pin},
    [PROTO_MSG_HOST_INFO_REQUEST] = {.action = "host-info",
                                     .token = MSG_OFF(host_info_request.token),
                                     .right = RIGHT(PROTO_RIGHT_INFO),
                                     .invoke = do_host_info},
    [PROTO_MSG_DEVICE_LIST_REQUEST] = {.action = "device-list",
                                       .token = MSG_OFF(device_list_request.token),
                                       .right = RIGHT(PROTO_RIGHT_INFO),
                                       .invoke = do_device_list},
    [PROTO_MSG_CONSOLE_ATTACH_REQUEST] = {.action = "console-attach",
                                          .token = MSG_OFF(console_attach_request.token),
                                          .name = MSG_OFF(console_attach_request.domain),
                                          .target = TARGET_DOMAIN,
                                          .name_field = "domain",
                                          .right = RIGHT(PROTO_RIGHT_CONSOLE),
                                          .invoke = do_console_attach},
    [PROTO_MSG_CONSOLE_DATA] = {.action = "console-data", .invoke = do_console_data},
    [PROTO_MSG_CONSOLE_DETACH] = {.action = "console-detach", .invoke = do_console_detach},
    [PROTO_MSG_LOG_QUERY_REQUEST] = {.action = "log-query",
                                     .token = MSG_OFF(log_query_request.token),
                                     .right = RIGHT(PROTO_RIGHT_LOG),
                                     .invoke = do_log_query},
    [PROTO_MSG_TOKEN_CREATE_REQUEST] = {.action = "token-create",
                                        .token = MSG_OFF(token_create_request.token),
                                        .check_names = token_create_names,
                                        .invoke = do_token_create},
    [PROTO_MSG_TOKEN_REVOKE_REQUEST] = {.action = "token-revoke",
                                        .token = MSG_OFF(token_revoke_request.token),
                                        .name = MSG_OFF(token_revoke_request.token_id),
                                        .target = TARGET_TOKEN_ID,
                                        .invoke = do_token_revoke},
    [PROTO_MSG_IMAGE_UPLOAD_REQUEST] = {.action = "image-upload",
                                        .token = MSG_OFF(image_upload_request.token),
                                        .name = MSG_OFF(image_upload_request.name),
                                        .target = TARGET_NAME,
                                        .name_field = "name",
                                        .right = RIGHT(PROTO_RIGHT_LIFECYCLE),
                                        .right_unscoped = true,
                                        .invoke = do_image_upload},
    [PROTO_MSG_IMAGE_UPLOAD_CHUNK] = {.action = "image-upload-chunk", .invoke = do_image_chunk},
    [PROTO_MSG_BUS_INFO_REQUEST] = {.action = "bus-info",
                                    .token = MSG_OFF(bus_info_request.token),
                                    .name = MSG_OFF(bus_info_request.domain),
                                    .target = TARGET_NAME,
                                    .name_field = "domain",
                                    .right = RIGHT(PROTO_RIGHT_INFO),
                                    .invoke = do_bus_info},
    [PROTO_MSG_SERVICE_LIST_REQUEST] = {.action = "service-list",
                                        .token = MSG_OFF(service_list_request.token),
                                        .right = RIGHT(PROTO_RIGHT_INFO),
                                        .invoke = do_service_list},
    [PROTO_MSG_DOMAIN_SUSPEND_REQUEST] = {.action = "domain-suspend",
                                          .token = MSG_OFF(domain_suspend_request.token),
                                          .name = MSG_OFF(domain_suspend_request.domain),
                                          .target = TARGET_DOMAIN,
                                          .name_field = "domain",
                                          .right = RIGHT(PROTO_RIGHT_PAUSE),
                                          .invoke = do_suspend},
    [PROTO_MSG_DOMAIN_MEM_TARGET_REQUEST] = {.action = "domain-mem-target",
                                             .token = MSG_OFF(domain_mem_target_request.token),
                                             .name = MSG_OFF(domain_mem_target_request.domain),
                                             .target = TARGET_DOMAIN,
                                             .name_field = "domain",
                                             .right = RIGHT(PROTO_RIGHT_LIFECYCLE),
                                             .invoke = do_mem_target},
    VOLUME_ROUTE(PROTO_MSG_VOLUME_CREATE_REQUEST, volume_create_request, "volume-create",
                 PROTO_RIGHT_LIFECYCLE),
    VOLUME_ROUTE(PROTO_MSG_VOLUME_GROW_REQUEST, volume_grow_request, "volume-grow",
                 PROTO_RIGHT_LIFECYCLE),
    VOLUME_ROUTE(PROTO_MSG_VOLUME_DELETE_REQUEST, volume_delete_request, "volume-delete",
                 PROTO_RIGHT_LIFECYCLE),
    VOLUME_ROUTE(PROTO_MSG_VOLUME_INFO_REQUEST, volume_info_request, "volume-info",
                 PROTO_RIGHT_INFO),
    [PROTO_MSG_VOLUME_LIST_REQUEST] = {.action = "volume-list",
                                       .token = MSG_OFF(volume_list_request.token),
                                       .right = RIGHT(PROTO_RIGHT_INFO),
                                       .invoke = do_volume},
};

/* The decode step for a message of a routed type: names, token, right,
 * target. Answers and logs a refusal itself; true if r may be invoked. */
static bool decode(const struct route *rt, struct request *r)
{
    const struct proto_msg *m = r->m;
    const char *field = NULL;
    if (rt->target != TARGET_NONE && rt->target != TARGET_TOKEN_ID &&
        bad_name(*str_at(m, rt->name)))
        field = rt->name_field;
    if (!field && rt->check_names)
        field = rt->check_names(m);
    if (field) {
        send_error(r->id, PROTO_ERROR_CODE_INVALID, "%s: %s has a control character",
                   proto_msg_name(m->type), field);
        ctl_log_add("?", proto_msg_name(m->type), "", false, PROTO_ERROR_CODE_INVALID,
                    "a name with a control character");
        return false;
    }
    if (rt->target == TARGET_TOKEN_ID) {
        uint64_t tid;
        memcpy(&tid, (const char *)m + rt->name, sizeof tid);
        snprintf(r->target, sizeof r->target, "token %llu", (unsigned long long)tid);
    } else if (rt->target != TARGET_NONE) {
        cstr(r->target, DOM_NAME_MAX + 1, *str_at(m, rt->name));
    }
    if (rt->token == 0)
        return true;
    if (!(r->t = auth(r->id, rt->action, *str_at(m, rt->token), r->target)))
        return false;
    bool scoped = rt->target != TARGET_NONE && rt->target != TARGET_TOKEN_ID && !rt->right_unscoped;
    if (rt->right && refuse(r->id, r->t, (enum proto_right)(rt->right - 1), rt->action,
                            scoped ? r->target : NULL))
        return false;
    if (rt->target != TARGET_DOMAIN)
        return true;
    r->d = registry_find(*str_at(m, rt->name));
    if (!r->d) {
        bool self = strcmp(r->target, CONTROL_NAME) == 0;
        req_fail(r, self ? PROTO_ERROR_CODE_REFUSED : PROTO_ERROR_CODE_NOT_FOUND,
                 self ? "the control domain cannot be acted on" : "no such domain");
        return false;
    }
    return true;
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
    static struct request r;
    r = (struct request){.id = proto_msg_request_id(&req), .m = &req};
    const struct route *rt =
        (size_t)req.type < sizeof routes / sizeof routes[0] ? &routes[req.type] : NULL;
    if (!rt || !rt->invoke) {
        send_error(r.id, PROTO_ERROR_CODE_INVALID, "%s is not a request",
                   proto_msg_name(req.type) ? proto_msg_name(req.type) : "?");
        return;
    }
    r.action = rt->action;
    if (decode(rt, &r))
        rt->invoke(&r);
}
