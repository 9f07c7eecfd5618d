/* hvctl commands about the domain bus (docs/bus.md): bus, services,
 * suspend, mem-set. */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

static struct proto_msg g_req; /* large: static */

static struct proto_msg *req_new(enum proto_msg_type t)
{
    memset(&g_req, 0, sizeof g_req);
    g_req.type = t;
    return &g_req;
}

static void put_str(FILE *f, struct hvcbor_str s)
{
    char buf[300];
    hvctl_str_printable(buf, sizeof buf, s);
    fputs(buf, f);
}

const char *cli_bus_state_name(uint64_t state)
{
    switch (state) {
    case PROTO_BUS_STATE_NONE: return "-";
    case PROTO_BUS_STATE_WAITING: return "never";
    case PROTO_BUS_STATE_CONNECTED: return "ok";
    case PROTO_BUS_STATE_DISCONNECTED: return "cut";
    case PROTO_BUS_STATE_CLOSED: return "off";
    default: return "?";
    }
}

static bool domain_arg(struct cli *c, const char *name, int *rc)
{
    size_t l = strlen(name);
    if (l == 0 || l > MANIFEST_NAME_MAX) {
        *rc = cli_error(c, HVCTL_EXIT_USAGE, "domain name must be 1..%u bytes", MANIFEST_NAME_MAX);
        return false;
    }
    return true;
}

/* ---- bus ---- */

static void print_bus(FILE *f, const struct proto_bus_info_reply *r)
{
    static const char *const states[] = {"none (the control domain)", "waiting: never connected",
                                         "connected", "disconnected", "closed"};
    fputs("domain:    ", f);
    put_str(f, r->domain);
    fprintf(f, "\nbus:       %s\n", r->state < 5 ? states[r->state] : "?");
    if (r->has_reason) {
        fputs("reason:    ", f);
        put_str(f, r->reason);
        fputc('\n', f);
    }
    fprintf(f,
            "messages:  %" PRIu64 " in, %" PRIu64 " out, %" PRIu64 " refused, held back %" PRIu64
            " times",
            r->msgs_in, r->msgs_out, r->errors, r->throttled);
    if (r->has_queued)
        fprintf(f, ", %" PRIu64 " queued", r->queued);
    fputc('\n', f);
    if (r->has_control_frames)
        fprintf(f,
                "control:   %" PRIu64 " frames, %" PRIu64 " grants live, %" PRIu64 " connections\n",
                r->control_frames, r->control_grants, r->control_conns);
    for (uint32_t i = 0; i < r->pending.count; i++) {
        fprintf(f, "pending:   id %" PRIu64 " ", r->pending.items[i].request_id);
        put_str(f, r->pending.items[i].what);
        fprintf(f, ", %.3f s\n", (double)r->pending.items[i].age_ns / 1e9);
    }
    for (uint32_t i = 0; i < r->offers.count; i++) {
        fputs("offers:    ", f);
        put_str(f, r->offers.items[i]);
        fputc('\n', f);
    }
    for (uint32_t i = 0; i < r->uses.count; i++) {
        fputs("uses:      ", f);
        put_str(f, r->uses.items[i]);
        fputc('\n', f);
    }
    for (uint32_t i = 0; i < r->conns.count; i++) {
        const struct proto_bus_conn_info *c = &r->conns.items[i];
        const char *st = proto_conn_state_name(c->state);
        fprintf(f, "conn %-4" PRIu64 " %s ", c->conn,
                c->kind == PROTO_CONN_KIND_SERVICE ? "service" : "channel");
        put_str(f, c->name);
        fputs(" with ", f);
        put_str(f, c->peer);
        fprintf(f, " (%s, %s, rings %" PRIu64 " B, bulk %" PRIu64 " B)\n",
                c->role == PROTO_CONN_ROLE_OFFER ? "offers the area" : "maps the area",
                st ? st : "?", c->ring_bytes, c->buf_bytes);
    }
}

static int run_bus(struct cli *c, const struct cli_args *a)
{
    int rc;
    if (!domain_arg(c, a->pos[0], &rc))
        return rc;
    struct cli_session s;
    if ((rc = cli_session_open(c, &s)))
        return rc;
    struct proto_msg *req = req_new(PROTO_MSG_BUS_INFO_REQUEST);
    req->u.bus_info_request = (struct proto_bus_info_request){.request_id = hvctl_next_id(&s.conn),
                                                              .token = cli_session_token(&s),
                                                              .domain = cli_str(a->pos[0])};
    const struct proto_msg *r;
    rc = cli_call(c, &s, req, PROTO_MSG_BUS_INFO_REPLY, &r);
    if (!rc) {
        if (c->json)
            cli_print_json(c, &s.conn);
        else
            print_bus(c->out, &r->u.bus_info_reply);
    }
    hvctl_close(&s.conn);
    return rc;
}

const struct cli_command cli_cmd_bus = {
    .name = "bus",
    .usage = "DOMAIN [--json]",
    .summary = "Show a domain's bus: connection, traffic, pending requests, services, channels.",
    .details = "For `control`: the control domain's frames, live grants and connections (what a\n"
               "leak would grow).\n",
    .min_pos = 1,
    .max_pos = 1,
    .run = run_bus};

/* ---- services ---- */

static int run_services(struct cli *c, const struct cli_args *a)
{
    (void)a;
    struct cli_session s;
    int rc = cli_session_open(c, &s);
    if (rc)
        return rc;
    struct proto_msg *req = req_new(PROTO_MSG_SERVICE_LIST_REQUEST);
    req->u.service_list_request = (struct proto_service_list_request){
        .request_id = hvctl_next_id(&s.conn), .token = cli_session_token(&s)};
    const struct proto_msg *r;
    rc = cli_call(c, &s, req, PROTO_MSG_SERVICE_LIST_REPLY, &r);
    if (!rc && c->json) {
        cli_print_json(c, &s.conn);
    } else if (!rc) {
        const struct proto_service_list_reply *l = &r->u.service_list_reply;
        fprintf(c->out, "%-20s %-20s %9s  %s\n", "SERVICE", "PROVIDER", "CONNECTED", "USERS");
        for (uint32_t i = 0; i < l->services.count; i++) {
            const struct proto_service_info *si = &l->services.items[i];
            char n[80], p[80];
            hvctl_str_printable(n, sizeof n, si->name);
            hvctl_str_printable(p, sizeof p, si->provider);
            fprintf(c->out, "%-20s %-20s %9" PRIu64 "  ", n, p[0] ? p : "(none)", si->connected);
            for (uint32_t u = 0; u < si->users.count; u++) {
                if (u)
                    fputc(',', c->out);
                put_str(c->out, si->users.items[u]);
            }
            fputc('\n', c->out);
        }
    }
    hvctl_close(&s.conn);
    return rc;
}

const struct cli_command cli_cmd_services = {
    .name = "services",
    .usage = "[--json]",
    .summary = "List the services domains registered or asked for, with providers and users.",
    .run = run_services};

/* ---- suspend, mem-set ---- */

static int run_suspend(struct cli *c, const struct cli_args *a)
{
    int rc;
    if (!domain_arg(c, a->pos[0], &rc))
        return rc;
    struct cli_session s;
    if ((rc = cli_session_open(c, &s)))
        return rc;
    struct proto_msg *req = req_new(PROTO_MSG_DOMAIN_SUSPEND_REQUEST);
    req->u.domain_suspend_request =
        (struct proto_domain_suspend_request){.request_id = hvctl_next_id(&s.conn),
                                              .token = cli_session_token(&s),
                                              .domain = cli_str(a->pos[0])};
    const struct proto_msg *r;
    rc = cli_call(c, &s, req, PROTO_MSG_OK_REPLY, &r);
    hvctl_close(&s.conn);
    if (!rc)
        fprintf(c->out, "suspended %s (hvctl unpause resumes it)\n", a->pos[0]);
    return rc;
}

const struct cli_command cli_cmd_suspend = {
    .name = "suspend",
    .usage = "DOMAIN",
    .summary = "Ask a domain over its bus to get ready, then pause it.",
    .details = "The domain answers over its bus (guest-kit: gk_bus_on_suspend); it is paused only\n"
               "if it agrees. `hvctl unpause` resumes it and tells it so.\n",
    .min_pos = 1,
    .max_pos = 1,
    .run = run_suspend};

static int run_mem_set(struct cli *c, const struct cli_args *a)
{
    int rc;
    if (!domain_arg(c, a->pos[0], &rc))
        return rc;
    uint64_t bytes = 0;
    if (!cli_parse_size(a->pos[1], &bytes))
        return cli_error(c, HVCTL_EXIT_USAGE,
                         "SIZE: expected bytes or a size with a unit, got "
                         "\"%s\"",
                         a->pos[1]);
    struct cli_session s;
    if ((rc = cli_session_open(c, &s)))
        return rc;
    struct proto_msg *req = req_new(PROTO_MSG_DOMAIN_MEM_TARGET_REQUEST);
    req->u.domain_mem_target_request =
        (struct proto_domain_mem_target_request){.request_id = hvctl_next_id(&s.conn),
                                                 .token = cli_session_token(&s),
                                                 .domain = cli_str(a->pos[0]),
                                                 .target_bytes = bytes};
    const struct proto_msg *r;
    rc = cli_call(c, &s, req, PROTO_MSG_OK_REPLY, &r);
    hvctl_close(&s.conn);
    if (!rc)
        fprintf(c->out, "%s acknowledged a memory target of %" PRIu64 " bytes\n", a->pos[0], bytes);
    return rc;
}

const struct cli_command cli_cmd_mem_set = {
    .name = "mem-set",
    .usage = "DOMAIN SIZE",
    .summary = "Send a domain a memory target over its bus.",
    .details = "The domain acknowledges the target; guest-kit records it and calls the hook of\n"
               "gk_bus_on_memory_target. Unfinished: no balloon driver acts on it yet.\n",
    .min_pos = 2,
    .max_pos = 2,
    .run = run_mem_set};
