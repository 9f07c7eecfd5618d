/* hvctl validate, diff, apply, compile: manifests and reconciliation. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hvctl/plan.h"

static struct proto_msg g_req;

static int load(struct cli *c, const struct cli_args *a, struct manifest_set *set)
{
    const char *path = cli_opt(c, a, "file");
    if (!path)
        return cli_error(c, HVCTL_EXIT_USAGE, "-f FILE|DIR is required");
    static struct manifest_diags d;
    memset(&d, 0, sizeof d);
    if (!manifest_load_path(path, set, &d)) {
        cli_print_diags(c, &d);
        return HVCTL_EXIT_MANIFEST;
    }
    return 0;
}

static int run_validate(struct cli *c, const struct cli_args *a)
{
    struct manifest_set set;
    int rc = load(c, a, &set);
    if (rc)
        return rc;
    if (cli_flag(c, a, "check-files")) {
        static struct manifest_diags d;
        memset(&d, 0, sizeof d);
        for (uint32_t i = 0; i < set.count; i++)
            manifest_check_files(&set.items[i], &d);
        if (d.count) {
            cli_print_diags(c, &d);
            manifest_set_free(&set);
            return HVCTL_EXIT_MANIFEST;
        }
    }
    for (uint32_t i = 0; i < set.count; i++) {
        const struct manifest *m = &set.items[i];
        char mem[32];
        manifest_format_size(mem, sizeof mem, m->memory_bytes);
        fprintf(c->out, "%s: ok: %s (%s, %u vcpus)\n", m->file, m->name, mem, m->vcpus);
    }
    manifest_set_free(&set);
    return 0;
}

const struct cli_command cli_cmd_validate = {
    .name = "validate",
    .usage = "-f FILE|DIR [--check-files]",
    .summary = "Check manifests offline: every error as FILE:LINE:COLUMN: FIELD: MESSAGE.",
    .details = "A directory means every *.yaml and *.yml file in it; domain names must be unique\n"
               "across them. Exit 4 if any manifest is invalid.\n",
    .opts = {{"file", 'f', true, "FILE|DIR", "manifest file or directory"},
             {"check-files", 0, false, NULL, "also check that each kernel file is readable"}},
    .run = run_validate};

/* ---- diff / apply ---- */

struct state {
    struct hvctl_conn conn;
    struct hvctl_token tok;
    struct plan_domain *have;
    uint32_t have_count;
};

/* Releases what fetch_state and the manifests hold. */
static void state_release(struct state *s, struct manifest_set *set)
{
    if (s->conn.reader_buf)
        hvctl_close(&s->conn);
    free(s->have);
    manifest_set_free(set);
}

/* Reads what is: the list, then info for every domain a manifest names. */
static int fetch_state(struct cli *c, const struct manifest_set *set, struct state *s)
{
    int rc = cli_connect(c, &s->conn);
    if (rc || (rc = cli_token(c, &s->tok)))
        return rc;
    struct hvcbor_str tok = {s->tok.bytes, s->tok.len};
    memset(&g_req, 0, sizeof g_req);
    g_req.type = PROTO_MSG_DOMAIN_LIST_REQUEST;
    g_req.u.domain_list_request = (struct proto_domain_list_request){hvctl_next_id(&s->conn), tok};
    const struct proto_msg *r;
    struct hvctl_error e;
    enum hvctl_status st =
        hvctl_call(&s->conn, &g_req, PROTO_MSG_DOMAIN_LIST_REPLY, c->timeout_ms, &r, &e);
    if (st != HVCTL_OK)
        return cli_fail(c, st, &e);
    uint32_t n = r->u.domain_list_reply.domains.count;
    s->have = calloc(n + 1, sizeof *s->have);
    if (!s->have)
        abort();
    for (uint32_t i = 0; i < n; i++) {
        const struct proto_domain_summary *d = &r->u.domain_list_reply.domains.items[i];
        s->have[i].id = d->id;
        hvctl_str_printable(s->have[i].name, sizeof s->have[i].name, d->name);
    }
    s->have_count = n;
    for (uint32_t i = 0; i < n; i++) {
        bool named = false;
        for (uint32_t j = 0; j < set->count && !named; j++)
            named = !strcmp(set->items[j].name, s->have[i].name);
        if (!named)
            continue;
        memset(&g_req, 0, sizeof g_req);
        g_req.type = PROTO_MSG_DOMAIN_INFO_REQUEST;
        g_req.u.domain_info_request = (struct proto_domain_info_request){
            hvctl_next_id(&s->conn), tok, cli_str(s->have[i].name)};
        st = hvctl_call(&s->conn, &g_req, PROTO_MSG_DOMAIN_INFO_REPLY, c->timeout_ms, &r, &e);
        if (st != HVCTL_OK)
            return cli_fail(c, st, &e);
        plan_domain_from_config(&s->have[i], s->have[i].id, &r->u.domain_info_reply.config);
    }
    return 0;
}

static int run_diff(struct cli *c, const struct cli_args *a)
{
    struct manifest_set set;
    int rc = load(c, a, &set);
    if (rc)
        return rc;
    struct state s = {0};
    rc = fetch_state(c, &set, &s);
    if (!rc) {
        struct plan p;
        plan_compute(&set, s.have, s.have_count, cli_flag(c, a, "prune"), &p);
        plan_print(c->out, &p);
        rc = plan_has_differences(&p) ? HVCTL_EXIT_DIFF : 0;
        plan_free(&p);
    }
    state_release(&s, &set);
    return rc;
}

const struct cli_command cli_cmd_diff = {
    .name = "diff",
    .usage = "-f FILE|DIR [--prune]",
    .summary = "Compare manifests with the running system (exit 0: in sync, 7: differences).",
    .details = "Lines: '+' create, '~' change live (weight, cap, gang), '!' needs a restart,\n"
               "'-' destroy (with --prune), '=' unchanged.\n",
    .opts = {{"file", 'f', true, "FILE|DIR", "manifest file or directory"},
             {"prune", 0, false, NULL, "also list domains no manifest names (except domain 0)"}},
    .run = run_diff};

static int apply_item(struct cli *c, struct state *s, const struct plan_item *it)
{
    struct hvcbor_str tok = {s->tok.bytes, s->tok.len};
    /* The kernel first: create builds from the uploaded image. */
    if (it->kind == PLAN_CREATE) {
        int rc = cli_upload_kernel(c, &s->conn, tok, it->want, c->out);
        if (rc)
            return rc;
    }
    memset(&g_req, 0, sizeof g_req);
    enum proto_msg_type expect = PROTO_MSG_OK_REPLY;
    switch (it->kind) {
    case PLAN_CREATE:
        g_req.type = PROTO_MSG_DOMAIN_CREATE_REQUEST;
        g_req.u.domain_create_request.request_id = hvctl_next_id(&s->conn);
        g_req.u.domain_create_request.token = tok;
        manifest_to_config(it->want, &g_req.u.domain_create_request.config);
        expect = PROTO_MSG_DOMAIN_CREATE_REPLY;
        break;
    case PLAN_CHANGE: {
        g_req.type = PROTO_MSG_SCHED_SET_REQUEST;
        struct proto_sched_set_request *q = &g_req.u.sched_set_request;
        q->request_id = hvctl_next_id(&s->conn);
        q->token = tok;
        q->domain = cli_str(it->name);
        for (uint32_t i = 0; i < it->change_count; i++) {
            const char *f = it->changes[i].field;
            if (!strcmp(f, "weight")) {
                q->has_weight = true;
                q->weight = it->want->weight;
            } else if (!strcmp(f, "cap")) {
                q->has_cap_percent = true;
                q->cap_percent = it->want->cap_percent;
            } else if (!strcmp(f, "gang")) {
                q->has_gang = true;
                q->gang = it->want->gang;
            }
        }
        break;
    }
    case PLAN_DESTROY:
        g_req.type = PROTO_MSG_DOMAIN_DESTROY_REQUEST;
        g_req.u.domain_destroy_request =
            (struct proto_domain_destroy_request){hvctl_next_id(&s->conn), tok, cli_str(it->name)};
        break;
    default: return 0;
    }
    const struct proto_msg *r;
    struct hvctl_error e;
    enum hvctl_status st = hvctl_call(&s->conn, &g_req, expect, c->timeout_ms, &r, &e);
    if (st == HVCTL_ERR_SERVER)
        return cli_error(c, HVCTL_EXIT_SERVER, "%s: the control domain refused: %s", it->name,
                         e.message);
    if (st != HVCTL_OK)
        return cli_error(c, cli_exit_for(st), "%s: %s", it->name, e.message);
    if (it->kind == PLAN_CREATE)
        fprintf(c->out, "created %s (id %" PRIu64 ")\n", it->name, r->u.domain_create_reply.id);
    else if (it->kind == PLAN_CHANGE)
        fprintf(c->out, "changed %s\n", it->name);
    else
        fprintf(c->out, "destroyed %s\n", it->name);
    return 0;
}

static int run_apply(struct cli *c, const struct cli_args *a)
{
    struct manifest_set set;
    int rc = load(c, a, &set);
    if (rc)
        return rc;
    struct state s = {0};
    struct plan p = {0};
    rc = fetch_state(c, &set, &s);
    if (rc)
        goto out;
    plan_compute(&set, s.have, s.have_count, cli_flag(c, a, "prune"), &p);
    plan_print(c->out, &p);
    if (cli_flag(c, a, "dry-run"))
        goto out;
    /* Decode, then act: every kernel to create must exist before anything is done. */
    static struct manifest_diags d;
    memset(&d, 0, sizeof d);
    for (uint32_t i = 0; i < p.count; i++)
        if (p.items[i].kind == PLAN_CREATE)
            manifest_check_files(p.items[i].want, &d);
    if (d.count) {
        cli_print_diags(c, &d);
        rc = HVCTL_EXIT_MANIFEST;
        goto out;
    }
    /* And every volume a new domain's disks: name exists and is large enough. */
    for (uint32_t i = 0; i < p.count && !rc; i++)
        if (p.items[i].kind == PLAN_CREATE)
            rc = cli_check_disks(c, &s.conn, (struct hvcbor_str){s.tok.bytes, s.tok.len},
                                 p.items[i].want);
    if (rc)
        goto out;
    uint32_t restarts = 0;
    for (uint32_t i = 0; i < p.count && !rc; i++) {
        if (p.items[i].kind == PLAN_RESTART)
            restarts++;
        rc = apply_item(c, &s, &p.items[i]);
    }
    if (!rc && restarts)
        fprintf(c->out, "%u domain%s not changed: the differences need a restart (marked '!')\n",
                restarts, restarts == 1 ? "" : "s");
    if (!rc && !plan_has_differences(&p))
        fprintf(c->out, "nothing to do\n");
out:
    plan_free(&p);
    state_release(&s, &set);
    return rc;
}

const struct cli_command cli_cmd_apply = {
    .name = "apply",
    .usage = "-f FILE|DIR [--dry-run] [--prune]",
    .summary = "Make the system match the manifests: create, change live, report restarts.",
    .details = "Creates missing domains, applies weight/cap/gang live, reports (does not do)\n"
               "changes that need a restart, and with --prune destroys domains no manifest\n"
               "names (never domain 0). Stops at the first refused request.\n",
    .opts = {{"file", 'f', true, "FILE|DIR", "manifest file or directory"},
             {"dry-run", 'n', false, NULL, "print the plan, change nothing"},
             {"prune", 0, false, NULL, "destroy domains no manifest names"}},
    .run = run_apply};

/* ---- compile ---- */

static int run_compile(struct cli *c, const struct cli_args *a)
{
    const char *outp = cli_opt(c, a, "output");
    if (!outp)
        return cli_error(c, HVCTL_EXIT_USAGE, "-o OUTPUT is required");
    struct manifest_set set;
    int rc = load(c, a, &set);
    if (rc)
        return rc;
    int fd = open(outp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        manifest_set_free(&set);
        return cli_error(c, HVCTL_EXIT_LOCAL, "cannot create %s: %s", outp, strerror(errno));
    }
    static uint8_t payload[FRAME_MAX_PAYLOAD], frame[FRAME_MAX_PAYLOAD + FRAME_OVERHEAD_BYTES];
    for (uint32_t i = 0; i < set.count && !rc; i++) {
        size_t len;
        struct hvcbor_error e;
        if (!manifest_encode_create(&set.items[i], i + 1, NULL, 0, cli_flag(c, a, "paused"),
                                    payload, sizeof payload, &len, &e)) {
            rc = cli_error(c, HVCTL_EXIT_MANIFEST, "%s: the catalog refuses it: %s",
                           set.items[i].file, hvcbor_err_name(e.code));
            break;
        }
        size_t flen = frame_encode(frame, sizeof frame, payload, len);
        if (write(fd, frame, flen) != (ssize_t)flen)
            rc = cli_error(c, HVCTL_EXIT_LOCAL, "write %s: %s", outp, strerror(errno));
    }
    close(fd);
    if (!rc)
        fprintf(c->out, "%s: %u domain-create-request message%s\n", outp, set.count,
                set.count == 1 ? "" : "s");
    manifest_set_free(&set);
    return rc;
}

const struct cli_command cli_cmd_compile = {
    .name = "compile",
    .usage = "-f FILE|DIR -o OUTPUT [--paused]",
    .summary =
        "Compile manifests to framed CBOR domain-create-request messages (boot configuration).",
    .details = "One HVF1 frame per manifest, request ids 1..N, empty token. PROVISIONAL: the\n"
               "catalog has no boot-configuration message yet (docs/manifests.md).\n",
    .opts = {{"file", 'f', true, "FILE|DIR", "manifest file or directory"},
             {"output", 'o', true, "OUTPUT", "file to write"},
             {"paused", 0, false, NULL, "mark the domains to be left paused"}},
    .run = run_compile};
