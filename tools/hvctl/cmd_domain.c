/* hvctl client commands about domains and tokens: list, info, top, log,
 * create, destroy, shutdown, reboot, pause, unpause, token; devices. */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "hvctl/render.h"

/* Requests are large unions (a list reply holds 128 entries): one static. */
static struct proto_msg g_req;

static struct proto_msg *req_new(enum proto_msg_type t)
{
    memset(&g_req, 0, sizeof g_req);
    g_req.type = t;
    return &g_req;
}

static void print_name(FILE *f, struct hvcbor_str s, int width)
{
    char buf[80];
    hvctl_str_printable(buf, sizeof buf, s);
    fprintf(f, "%-*s", width, buf);
}

static const char *state_name(uint64_t s)
{
    const char *n = proto_domain_state_name(s);
    return n ? n : "?";
}

static void size_short(char *out, size_t cap, uint64_t bytes)
{
    if (bytes >= (1ull << 30) && bytes % (1ull << 30) == 0)
        snprintf(out, cap, "%" PRIu64 "G", bytes >> 30);
    else if (bytes >= (1ull << 20))
        snprintf(out, cap, "%" PRIu64 "M", bytes >> 20);
    else
        snprintf(out, cap, "%" PRIu64 "K", bytes >> 10);
}

static bool check_domain_arg(struct cli *c, const char *name, int *rc)
{
    size_t l = strlen(name);
    if (l == 0 || l > MANIFEST_NAME_MAX) {
        *rc = cli_error(c, HVCTL_EXIT_USAGE, "domain name must be 1..%u bytes", MANIFEST_NAME_MAX);
        return false;
    }
    return true;
}

/* ---- list ---- */

/* An uptime as "42.5s", "7m03s" or "5h09m"; "-" when there is none. */
static void uptime_short(char *out, size_t cap, bool has, uint64_t ns)
{
    uint64_t s = ns / 1000000000u;
    if (!has)
        snprintf(out, cap, "-");
    else if (s < 60)
        snprintf(out, cap, "%.1fs", (double)ns / 1e9);
    else if (s < 3600)
        snprintf(out, cap, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
    else
        snprintf(out, cap, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s / 60 % 60);
}

static void print_list(struct cli *c, const struct proto_domain_list_reply *r,
                       const uint64_t *prev_cpu_ns, double interval_s)
{
    fprintf(c->out, "%5s  %-20s %-13s %8s %5s %12s %10s %10s %5s %8s %7s%s\n", "ID", "NAME",
            "STATE", "MEMORY", "VCPUS", "CPU(s)", "EVENTS-IN", "EVENTS-OUT", "BUS", "RESTARTS",
            "UPTIME", prev_cpu_ns ? "   CPU%" : "");
    for (uint32_t i = 0; i < r->domains.count; i++) {
        const struct proto_domain_summary *d = &r->domains.items[i];
        char mem[24];
        size_short(mem, sizeof mem, d->memory_bytes);
        fprintf(c->out, "%5" PRIu64 "  ", d->id);
        print_name(c->out, d->name, 20);
        fprintf(c->out, " %-13s %8s %5" PRIu64 " %12.3f %10" PRIu64, state_name(d->state), mem,
                d->vcpus, (double)d->cpu_time_ns / 1e9, d->event_count);
        if (d->has_events_sent) /* absent (a server that does not count): no column */
            fprintf(c->out, " %10" PRIu64, d->events_sent);
        /* The domain's bus: "never" marks one that never connected it
         * (absent: a server without buses, no column). */
        if (d->has_bus)
            fprintf(c->out, " %5s", cli_bus_state_name(d->bus));
        /* Restarts and the incarnation's uptime (absent: a server that does
         * not supervise, no columns). */
        if (d->has_restarts) {
            char up[24];
            uptime_short(up, sizeof up, d->has_uptime_ns, d->uptime_ns);
            fprintf(c->out, " %8" PRIu64 " %7s", d->restarts, up);
        }
        if (prev_cpu_ns) {
            double pct = prev_cpu_ns[i] == UINT64_MAX || d->cpu_time_ns < prev_cpu_ns[i]
                             ? 0.0
                             : (double)(d->cpu_time_ns - prev_cpu_ns[i]) / 1e7 / interval_s;
            fprintf(c->out, " %6.1f", pct);
        }
        fputc('\n', c->out);
    }
}

static int do_list(struct cli *c, struct cli_session *s, const struct proto_msg **reply)
{
    struct proto_msg *req = req_new(PROTO_MSG_DOMAIN_LIST_REQUEST);
    req->u.domain_list_request.request_id = hvctl_next_id(&s->conn);
    req->u.domain_list_request.token = cli_session_token(s);
    return cli_call(c, s, req, PROTO_MSG_DOMAIN_LIST_REPLY, reply);
}

static int run_list(struct cli *c, const struct cli_args *a)
{
    struct cli_session s;
    int rc = cli_session_open(c, &s);
    if (rc)
        return rc;
    const struct proto_msg *r;
    rc = do_list(c, &s, &r);
    if (!rc) {
        if (c->json)
            cli_print_json(c, &s.conn);
        else
            print_list(c, &r->u.domain_list_reply, NULL, 0);
    }
    hvctl_close(&s.conn);
    return rc;
}

const struct cli_command cli_cmd_list = {.name = "list",
                                         .usage = "[--json]",
                                         .summary = "List the domains the token may see.",
                                         .run = run_list};

/* ---- per-VCPU figures (info, top) ---- */

/* "0-1,3" for a CPU mask; "all" for 0. */
static void mask_text(char *out, size_t cap, uint64_t mask)
{
    if (!mask) {
        snprintf(out, cap, "all");
        return;
    }
    size_t n = 0;
    out[0] = 0;
    for (int b = 0; b < 64 && n < cap; b++) {
        if (!(mask >> b & 1))
            continue;
        int e = b;
        while (e < 63 && (mask >> (e + 1) & 1))
            e++;
        n += (size_t)snprintf(out + n, cap - n, n ? ",%d" : "%d", b);
        if (e > b && n < cap)
            n += (size_t)snprintf(out + n, cap - n, "-%d", e);
        b = e;
    }
}

static const char *vcpu_state_name(uint64_t s)
{
    const char *n = proto_vcpu_state_name(s);
    return n ? n : "?";
}

/* One line per VCPU: state, CPU, affinity, run time, wait time, migrations. */
static void print_vcpus(FILE *f, const char *indent, const struct proto_domain_info_reply *i)
{
    if (!i->has_vcpu_stats)
        return;
    for (uint32_t k = 0; k < i->vcpu_stats.count; k++) {
        const struct proto_vcpu_info *v = &i->vcpu_stats.items[k];
        char cpu[16], mask[200];
        if (v->has_cpu)
            snprintf(cpu, sizeof cpu, "%" PRIu64, v->cpu);
        else
            snprintf(cpu, sizeof cpu, "-");
        mask_text(mask, sizeof mask, v->cpu_mask);
        fprintf(f,
                "%svcpu %-3" PRIu64 " %-9s cpu %-3s pinned %-8s run %10.3f s  wait %8.3f s  "
                "migrations %" PRIu64 "\n",
                indent, v->vcpu, vcpu_state_name(v->state), cpu, mask, (double)v->run_ns / 1e9,
                (double)v->wait_ns / 1e9, v->migrations);
    }
}

/* ---- info ---- */

static int run_host_info(struct cli *c)
{
    struct cli_session s;
    int rc = cli_session_open(c, &s);
    if (rc)
        return rc;
    struct proto_msg *req = req_new(PROTO_MSG_HOST_INFO_REQUEST);
    req->u.host_info_request.request_id = hvctl_next_id(&s.conn);
    req->u.host_info_request.token = cli_session_token(&s);
    const struct proto_msg *r;
    rc = cli_call(c, &s, req, PROTO_MSG_HOST_INFO_REPLY, &r);
    if (!rc && c->json) {
        cli_print_json(c, &s.conn);
    } else if (!rc) {
        const struct proto_host_info_reply *h = &r->u.host_info_reply;
        char m1[32], m2[32];
        manifest_format_size(m1, sizeof m1, h->memory_bytes);
        manifest_format_size(m2, sizeof m2, h->free_memory_bytes);
        uint64_t packages = 0, cores = 0;
        for (uint32_t i = 0; i < h->cpus.count; i++) {
            bool new_pkg = true, new_core = true;
            for (uint32_t j = 0; j < i; j++) {
                const struct proto_host_cpu *a = &h->cpus.items[i], *b = &h->cpus.items[j];
                if (a->package == b->package) {
                    new_pkg = false;
                    if (a->core == b->core)
                        new_core = false;
                }
            }
            packages += new_pkg;
            cores += new_core;
        }
        fprintf(c->out,
                "cpus:        %u (%" PRIu64 " package%s, %" PRIu64 " core%s)\ntsc:         %.3f "
                "MHz\nmemory:      %s\nfree memory: %s\n",
                h->cpus.count, packages, packages == 1 ? "" : "s", cores, cores == 1 ? "" : "s",
                (double)h->tsc_hz / 1e6, m1, m2);
        fprintf(c->out, "%5s %8s %5s %7s %8s\n", "CPU", "PACKAGE", "CORE", "THREAD", "APIC-ID");
        for (uint32_t i = 0; i < h->cpus.count; i++) {
            const struct proto_host_cpu *p = &h->cpus.items[i];
            fprintf(c->out, "%5" PRIu64 " %8" PRIu64 " %5" PRIu64 " %7" PRIu64 " %8" PRIu64 "\n",
                    p->cpu, p->package, p->core, p->thread, p->apic_id);
        }
    }
    hvctl_close(&s.conn);
    return rc;
}

static int run_info(struct cli *c, const struct cli_args *a)
{
    int rc;
    if (cli_flag(c, a, "host")) {
        if (a->pos_count)
            return cli_error(c, HVCTL_EXIT_USAGE, "--host takes no DOMAIN");
        return run_host_info(c);
    }
    if (!a->pos_count)
        return cli_error(c, HVCTL_EXIT_USAGE, "missing argument (usage: hvctl info %s)",
                         c->cmd->usage);
    if (!check_domain_arg(c, a->pos[0], &rc))
        return rc;
    struct cli_session s;
    if ((rc = cli_session_open(c, &s)))
        return rc;
    struct proto_msg *req = req_new(PROTO_MSG_DOMAIN_INFO_REQUEST);
    req->u.domain_info_request.request_id = hvctl_next_id(&s.conn);
    req->u.domain_info_request.token = cli_session_token(&s);
    req->u.domain_info_request.domain = cli_str(a->pos[0]);
    const struct proto_msg *r;
    rc = cli_call(c, &s, req, PROTO_MSG_DOMAIN_INFO_REPLY, &r);
    if (!rc && c->json) {
        cli_print_json(c, &s.conn);
    } else if (!rc) {
        const struct proto_domain_info_reply *i = &r->u.domain_info_reply;
        const struct proto_domain_config *k = &i->config;
        char b1[300], b2[1100], m1[32], m2[32], m3[32];
        fprintf(c->out, "id:          %" PRIu64 "\nname:        ", i->summary.id);
        print_name(c->out, i->summary.name, 0);
        manifest_format_size(m1, sizeof m1, i->summary.memory_bytes);
        fprintf(c->out,
                "\nstate:       %s\nmemory:      %s\nvcpus:       %" PRIu64
                "\ncpu time:    %.3f s\nevents in:   %" PRIu64 " (delivered to it)\n",
                state_name(i->summary.state), m1, i->summary.vcpus,
                (double)i->summary.cpu_time_ns / 1e9, i->summary.event_count);
        if (i->summary.has_events_sent)
            fprintf(c->out, "events out:  %" PRIu64 " (sent by it)\n", i->summary.events_sent);
        if (i->summary.has_dma_faults)
            fprintf(c->out, "dma faults:  %" PRIu64 " (IOMMU faults of its devices)\n",
                    i->summary.dma_faults);
        if (i->summary.has_restarts) {
            char up[24];
            uptime_short(up, sizeof up, i->summary.has_uptime_ns, i->summary.uptime_ns);
            fprintf(c->out, "uptime:      %s\nrestarts:    %" PRIu64 "%s%s%s\n", up,
                    i->summary.restarts, i->summary.has_last_restart ? " (last: " : "",
                    i->summary.has_last_restart ? proto_restart_cause_name(i->summary.last_restart)
                                                : "",
                    i->summary.has_last_restart ? ")" : "");
        }
        if (i->has_max_observed_memory_bytes) {
            manifest_format_size(m1, sizeof m1, i->max_observed_memory_bytes);
            fprintf(c->out, "peak memory: %s\n", m1);
        }
        hvctl_str_printable(b1, sizeof b1, k->kernel);
        hvctl_str_printable(b2, sizeof b2, k->cmdline);
        manifest_format_size(m2, sizeof m2, k->memory_bytes);
        manifest_format_size(m3, sizeof m3, k->max_memory_bytes);
        fprintf(c->out,
                "configured:\n  kernel:      %s\n  cmdline:     %s\n  memory:      %s\n  "
                "max_memory:  %s\n"
                "  vcpus:       %" PRIu64 "\n  weight:      %" PRIu64 "\n  cap:         %" PRIu64
                "\n  gang:        %s\n  on_poweroff: %s\n  on_reboot:   %s\n  on_crash:    %s\n",
                b1, b2, m2, m3, k->vcpus, k->weight, k->cap_percent, k->gang ? "true" : "false",
                proto_stop_policy_name(k->on_poweroff), proto_stop_policy_name(k->on_reboot),
                proto_stop_policy_name(k->on_crash));
        print_vcpus(c->out, "", i);
    }
    hvctl_close(&s.conn);
    return rc;
}

const struct cli_command cli_cmd_info = {
    .name = "info",
    .usage = "DOMAIN [--json]",
    .summary = "Show one domain's state, usage, configuration and VCPUs; --host: the host.",
    .details = "Each VCPU: its state, the CPU it runs or last ran on, the CPUs it is pinned to,\n"
               "the time it ran, the time it waited for a CPU while runnable, and how often\n"
               "it moved to another CPU. hvctl info --host lists the host's CPUs (package,\n"
               "core, thread, APIC id) and memory instead.\n",
    .opts = {{"host", 0, false, NULL, "show the host (CPUs with their topology, memory)"}},
    .min_pos = 0,
    .max_pos = 1,
    .run = run_info};

/* ---- top ---- */

static volatile sig_atomic_t g_stop;
static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* top's per-VCPU lines: domain-info for each listed domain (l is copied
 * first: each reply replaces the connection's message). A domain that went
 * away in between is skipped. */
static int top_vcpus(struct cli *c, struct cli_session *s, const struct proto_domain_list_reply *l)
{
    static char names[128][80];
    uint32_t n = l->domains.count;
    for (uint32_t i = 0; i < n; i++)
        hvctl_str_printable(names[i], sizeof names[i], l->domains.items[i].name);
    if (!c->json)
        fprintf(c->out, "\n%-20s VCPUs\n", "DOMAIN");
    for (uint32_t i = 0; i < n; i++) {
        struct proto_msg *req = req_new(PROTO_MSG_DOMAIN_INFO_REQUEST);
        req->u.domain_info_request.request_id = hvctl_next_id(&s->conn);
        req->u.domain_info_request.token = cli_session_token(s);
        req->u.domain_info_request.domain = cli_str(names[i]);
        const struct proto_msg *r;
        struct hvctl_error e;
        enum hvctl_status st =
            hvctl_call(&s->conn, req, PROTO_MSG_DOMAIN_INFO_REPLY, c->timeout_ms, &r, &e);
        if (st == HVCTL_ERR_SERVER)
            continue;
        if (st != HVCTL_OK)
            return cli_fail(c, st, &e);
        if (c->json) {
            cli_print_json(c, &s->conn);
        } else {
            fprintf(c->out, "%-20s\n", names[i]);
            print_vcpus(c->out, "  ", &r->u.domain_info_reply);
        }
    }
    return 0;
}

static int run_top(struct cli *c, const struct cli_args *a)
{
    uint64_t interval_s = 2, iterations = 0;
    if (cli_opt(c, a, "interval") &&
        !cli_parse_u64(cli_opt(c, a, "interval"), 1, 3600, &interval_s))
        return cli_error(c, HVCTL_EXIT_USAGE, "--interval: expected seconds in 1..3600");
    if (cli_opt(c, a, "iterations") &&
        !cli_parse_u64(cli_opt(c, a, "iterations"), 1, UINT32_MAX, &iterations))
        return cli_error(c, HVCTL_EXIT_USAGE, "--iterations: expected a positive count");
    struct cli_session s;
    int rc = cli_session_open(c, &s);
    if (rc)
        return rc;
    g_stop = 0;
    signal(SIGINT, on_signal);
    /* CPU time of each domain id at the previous refresh (for CPU%). */
    static uint64_t prev_by_id[65536];
    static uint64_t prev[128];
    memset(prev_by_id, 0xff, sizeof prev_by_id);
    bool tty = isatty(fileno(c->out));
    for (uint64_t n = 0; !g_stop && (iterations == 0 || n < iterations); n++) {
        if (n)
            sleep((unsigned)interval_s);
        if (g_stop)
            break;
        const struct proto_msg *r;
        if ((rc = do_list(c, &s, &r)))
            break;
        const struct proto_domain_list_reply *l = &r->u.domain_list_reply;
        if (c->json) {
            cli_print_json(c, &s.conn);
        } else {
            for (uint32_t i = 0; i < l->domains.count; i++)
                prev[i] = prev_by_id[l->domains.items[i].id & 0xffff];
            if (tty)
                fputs("\033[H\033[J", c->out);
            time_t now = time(NULL);
            fprintf(c->out, "hv top: %u domains, every %" PRIu64 " s, %s", l->domains.count,
                    interval_s, ctime(&now));
            print_list(c, l, prev, (double)interval_s);
        }
        for (uint32_t i = 0; i < l->domains.count; i++)
            prev_by_id[l->domains.items[i].id & 0xffff] = l->domains.items[i].cpu_time_ns;
        if ((rc = top_vcpus(c, &s, l)))
            break;
        fflush(c->out);
    }
    signal(SIGINT, SIG_DFL);
    hvctl_close(&s.conn);
    return rc;
}

const struct cli_command cli_cmd_top = {
    .name = "top",
    .usage = "[--interval S] [--iterations N] [--json]",
    .summary = "Refreshing per-domain CPU time, CPU%, memory, events and per-VCPU figures.",
    .details = "Below the domain table, each domain's VCPUs: state, CPU, pinning, run time,\n"
               "wait time (runnable, no CPU) and migrations. Ctrl-C quits.\n",
    .opts = {{"interval", 'i', true, "S", "seconds between refreshes (default 2)"},
             {"iterations", 'n', true, "N", "stop after N refreshes (default: until Ctrl-C)"}},
    .run = run_top};

/* ---- log ---- */

static void print_log_entries(struct cli *c, const struct proto_log_entries *l)
{
    for (uint32_t i = 0; i < l->entries.count; i++) {
        const struct proto_log_entry *e = &l->entries.items[i];
        char actor[80], action[80], target[80], detail[300];
        hvctl_str_printable(actor, sizeof actor, e->actor);
        hvctl_str_printable(action, sizeof action, e->action);
        hvctl_str_printable(target, sizeof target, e->target);
        fprintf(c->out, "%6" PRIu64 " %12.6f %-12s %-14s %-16s %s", e->seq,
                (double)e->time_ns / 1e9, actor, action, target, e->ok ? "ok" : "FAILED");
        if (e->has_error)
            fprintf(c->out, " (%s)",
                    proto_error_code_name(e->error) ? proto_error_code_name(e->error) : "?");
        if (e->has_detail) {
            hvctl_str_printable(detail, sizeof detail, e->detail);
            fprintf(c->out, " %s", detail);
        }
        fputc('\n', c->out);
    }
}

static int run_log(struct cli *c, const struct cli_args *a)
{
    uint64_t since = 0;
    if (cli_opt(c, a, "since") && !cli_parse_u64(cli_opt(c, a, "since"), 0, UINT64_MAX, &since))
        return cli_error(c, HVCTL_EXIT_USAGE, "--since: expected a sequence number");
    bool follow = cli_flag(c, a, "follow");
    struct cli_session s;
    int rc = cli_session_open(c, &s);
    if (rc)
        return rc;
    g_stop = 0;
    if (follow)
        signal(SIGINT, on_signal);
    for (;;) {
        struct proto_msg *req = req_new(PROTO_MSG_LOG_QUERY_REQUEST);
        struct proto_log_query_request *q = &req->u.log_query_request;
        q->request_id = hvctl_next_id(&s.conn);
        q->token = cli_session_token(&s);
        q->since_seq = since;
        q->max_entries = 64;
        q->follow = follow;
        const struct proto_msg *r;
        if ((rc = cli_call(c, &s, req, PROTO_MSG_LOG_ENTRIES, &r)))
            break;
        uint64_t id = q->request_id;
        const struct proto_log_entries *l = &r->u.log_entries;
        if (c->json)
            cli_print_json(c, &s.conn);
        else
            print_log_entries(c, l);
        fflush(c->out);
        if (!follow) {
            if (l->entries.count < 64 || l->next_seq <= since)
                break;
            since = l->next_seq;
            continue;
        }
        /* Follow: further log-entries arrive with the same request id. */
        while (!g_stop) {
            struct hvctl_error e;
            enum hvctl_status st = hvctl_wait_reply(&s.conn, id, 1000, &r, &e);
            if (st == HVCTL_ERR_TIMEOUT)
                continue;
            if (st != HVCTL_OK) {
                rc = cli_fail(c, st, &e);
                break;
            }
            if (r->type != PROTO_MSG_LOG_ENTRIES) {
                rc = cli_error(c, HVCTL_EXIT_CONNECT, "unexpected %s in the log stream",
                               proto_msg_name(r->type));
                break;
            }
            if (c->json)
                cli_print_json(c, &s.conn);
            else
                print_log_entries(c, &r->u.log_entries);
            fflush(c->out);
        }
        break;
    }
    signal(SIGINT, SIG_DFL);
    hvctl_close(&s.conn);
    return rc;
}

const struct cli_command cli_cmd_log = {
    .name = "log",
    .usage = "[-f] [--since SEQ] [--json]",
    .summary = "Show the control domain's log: who asked what, and the result.",
    .opts = {{"follow", 'f', false, NULL, "keep printing new entries (Ctrl-C stops)"},
             {"since", 0, true, "SEQ", "first sequence number (default 0)"}},
    .run = run_log};

/* ---- create ---- */

static int run_create(struct cli *c, const struct cli_args *a)
{
    const char *file = cli_opt(c, a, "file");
    if (!file)
        return cli_error(c, HVCTL_EXIT_USAGE, "-f FILE is required");
    static struct manifest m;
    struct manifest_diags d = {0};
    if (!manifest_load_file(file, &m, &d) || !manifest_check_files(&m, &d)) {
        cli_print_diags(c, &d);
        return HVCTL_EXIT_MANIFEST;
    }
    struct cli_session s;
    int rc = cli_session_open(c, &s);
    if (rc)
        return rc;
    /* Decode, then act: the disks' volumes are checked before anything is sent. */
    if ((rc = cli_check_disks(c, &s.conn, cli_session_token(&s), &m))) {
        hvctl_close(&s.conn);
        return rc;
    }
    if (!cli_flag(c, a, "no-upload") &&
        (rc = cli_upload_kernel(c, &s.conn, cli_session_token(&s), &m, c->json ? NULL : c->err))) {
        hvctl_close(&s.conn);
        return rc;
    }
    struct proto_msg *req = req_new(PROTO_MSG_DOMAIN_CREATE_REQUEST);
    struct proto_domain_create_request *q = &req->u.domain_create_request;
    q->request_id = hvctl_next_id(&s.conn);
    q->token = cli_session_token(&s);
    manifest_to_config(&m, &q->config);
    q->paused = cli_flag(c, a, "paused");
    const struct proto_msg *r;
    rc = cli_call(c, &s, req, PROTO_MSG_DOMAIN_CREATE_REPLY, &r);
    uint64_t new_id = rc ? 0 : r->u.domain_create_reply.id; /* r dies with the connection */
    hvctl_close(&s.conn);
    if (rc)
        return rc;
    if (c->json)
        fprintf(c->out, "{\"name\":\"%s\",\"id\":%" PRIu64 "}\n", m.name, new_id);
    else
        fprintf(c->out, "created %s (id %" PRIu64 ")%s\n", m.name, new_id,
                q->paused ? ", paused" : "");
    if (cli_flag(c, a, "console")) {
        fflush(c->out); /* "created" before the console's own lines */
        return cli_console_attach(c, m.name, false);
    }
    return 0;
}

const struct cli_command cli_cmd_create = {
    .name = "create",
    .usage = "-f FILE [--paused] [--console] [--no-upload]",
    .summary = "Build a domain from a manifest and start it.",
    .details = "The kernel file is uploaded first under its file name (image-upload; skipped\n"
               "when the control domain holds an identical image), then the domain is built\n"
               "from it. --no-upload names a boot module of that name instead.\n",
    .opts = {{"file", 'f', true, "FILE", "the manifest"},
             {"no-upload", 0, false, NULL,
              "do not upload the kernel: use the boot module of that name"},
             {"paused", 0, false, NULL, "build it but do not start it"},
             {"console", 'c', false, NULL, "attach to its console once created"}},
    .run = run_create};

/* ---- destroy, pause, unpause, shutdown, reboot ---- */

static int simple(struct cli *c, const struct cli_args *a, enum proto_msg_type t, const char *done)
{
    int rc;
    if (!check_domain_arg(c, a->pos[0], &rc))
        return rc;
    struct cli_session s;
    if ((rc = cli_session_open(c, &s)))
        return rc;
    struct proto_msg *req = req_new(t);
    uint64_t id = hvctl_next_id(&s.conn);
    struct hvcbor_str tok = cli_session_token(&s), dom = cli_str(a->pos[0]);
    switch (t) {
    case PROTO_MSG_DOMAIN_DESTROY_REQUEST:
        req->u.domain_destroy_request = (struct proto_domain_destroy_request){id, tok, dom};
        break;
    case PROTO_MSG_DOMAIN_PAUSE_REQUEST:
        req->u.domain_pause_request = (struct proto_domain_pause_request){id, tok, dom};
        break;
    default:
        req->u.domain_unpause_request = (struct proto_domain_unpause_request){id, tok, dom};
        break;
    }
    const struct proto_msg *r;
    rc = cli_call(c, &s, req, PROTO_MSG_OK_REPLY, &r);
    hvctl_close(&s.conn);
    if (!rc)
        fprintf(c->out, "%s %s\n", done, a->pos[0]);
    return rc;
}

static int run_restart_or_kill(struct cli *c, const struct cli_args *a, bool crash)
{
    int rc;
    if (!check_domain_arg(c, a->pos[0], &rc))
        return rc;
    struct cli_session s;
    if ((rc = cli_session_open(c, &s)))
        return rc;
    struct proto_msg *req = req_new(PROTO_MSG_DOMAIN_RESTART_REQUEST);
    req->u.domain_restart_request = (struct proto_domain_restart_request){
        hvctl_next_id(&s.conn), cli_session_token(&s), cli_str(a->pos[0]), crash};
    const struct proto_msg *r;
    rc = cli_call(c, &s, req, PROTO_MSG_OK_REPLY, &r);
    hvctl_close(&s.conn);
    if (!rc)
        fprintf(c->out, "%s %s\n", crash ? "killed" : "restarted", a->pos[0]);
    return rc;
}
static int run_restart(struct cli *c, const struct cli_args *a)
{
    return run_restart_or_kill(c, a, false);
}
static int run_kill(struct cli *c, const struct cli_args *a)
{
    return run_restart_or_kill(c, a, true);
}

static int run_destroy(struct cli *c, const struct cli_args *a)
{
    return simple(c, a, PROTO_MSG_DOMAIN_DESTROY_REQUEST, "destroyed");
}
static int run_pause(struct cli *c, const struct cli_args *a)
{
    return simple(c, a, PROTO_MSG_DOMAIN_PAUSE_REQUEST, "paused");
}
static int run_unpause(struct cli *c, const struct cli_args *a)
{
    return simple(c, a, PROTO_MSG_DOMAIN_UNPAUSE_REQUEST, "unpaused");
}

const struct cli_command cli_cmd_destroy = {
    .name = "destroy",
    .usage = "DOMAIN",
    .summary = "Stop a domain at once and free everything it holds.",
    .min_pos = 1,
    .max_pos = 1,
    .run = run_destroy};
const struct cli_command cli_cmd_restart = {
    .name = "restart",
    .usage = "DOMAIN",
    .summary = "Rebuild a domain now from its configuration, with the same devices.",
    .min_pos = 1,
    .max_pos = 1,
    .run = run_restart};
const struct cli_command cli_cmd_kill = {
    .name = "kill",
    .usage = "DOMAIN",
    .summary = "Stop a domain at once as if it crashed: its on_crash policy decides.",
    .min_pos = 1,
    .max_pos = 1,
    .run = run_kill};
const struct cli_command cli_cmd_pause = {.name = "pause",
                                          .usage = "DOMAIN",
                                          .summary = "Stop scheduling a domain, keeping its state.",
                                          .min_pos = 1,
                                          .max_pos = 1,
                                          .run = run_pause};
const struct cli_command cli_cmd_unpause = {.name = "unpause",
                                            .usage = "DOMAIN",
                                            .summary = "Schedule a paused domain again.",
                                            .min_pos = 1,
                                            .max_pos = 1,
                                            .run = run_unpause};

/* ---- sched, vcpu-pin ---- */

static int run_sched(struct cli *c, const struct cli_args *a)
{
    int rc;
    if (!check_domain_arg(c, a->pos[0], &rc))
        return rc;
    struct proto_msg *req = req_new(PROTO_MSG_SCHED_SET_REQUEST);
    struct proto_sched_set_request *q = &req->u.sched_set_request;
    const char *v;
    if ((v = cli_opt(c, a, "weight"))) {
        if (!cli_parse_u64(v, 1, 65535, &q->weight))
            return cli_error(c, HVCTL_EXIT_USAGE, "--weight: expected 1..65535, got \"%s\"", v);
        q->has_weight = true;
    }
    if ((v = cli_opt(c, a, "cap"))) {
        if (!cli_parse_u64(v, 0, 6400, &q->cap_percent))
            return cli_error(c, HVCTL_EXIT_USAGE,
                             "--cap: expected a percentage of one CPU, 0..6400 (0 = none), got "
                             "\"%s\"",
                             v);
        q->has_cap_percent = true;
    }
    if ((v = cli_opt(c, a, "gang"))) {
        if (strcmp(v, "true") && strcmp(v, "false"))
            return cli_error(c, HVCTL_EXIT_USAGE, "--gang: expected true or false, got \"%s\"", v);
        q->has_gang = true;
        q->gang = !strcmp(v, "true");
    }
    if (!q->has_weight && !q->has_cap_percent && !q->has_gang)
        return cli_error(c, HVCTL_EXIT_USAGE, "nothing to change: give --weight, --cap or --gang");
    struct cli_session s;
    /* The request is kept in g_req across the connect (which does not use it). */
    if ((rc = cli_session_open(c, &s)))
        return rc;
    q->request_id = hvctl_next_id(&s.conn);
    q->token = cli_session_token(&s);
    q->domain = cli_str(a->pos[0]);
    const struct proto_msg *r;
    rc = cli_call(c, &s, req, PROTO_MSG_OK_REPLY, &r);
    hvctl_close(&s.conn);
    if (!rc)
        fprintf(c->out, "changed %s\n", a->pos[0]);
    return rc;
}

const struct cli_command cli_cmd_sched = {
    .name = "sched",
    .usage = "DOMAIN [--weight N] [--cap PERCENT] [--gang true|false]",
    .summary = "Change a domain's scheduling parameters live (sched-set).",
    .details = "Weight is its share (1..65535, default 256); cap limits it to PERCENT of one\n"
               "CPU (0 = no cap, at most 100 x its VCPUs); gang runs all its VCPUs together.\n"
               "Gang changes only while the domain is paused. The manifest's weight, cap and\n"
               "gang are applied at create; `hvctl apply` sends the same request.\n",
    .opts = {{"weight", 'w', true, "N", "scheduler weight, 1..65535"},
             {"cap", 0, true, "PERCENT", "CPU cap in percent of one CPU, 0 = none"},
             {"gang", 0, true, "true|false", "co-schedule all its VCPUs"}},
    .min_pos = 1,
    .max_pos = 1,
    .run = run_sched};

/* Parses "all" or a list of CPUs and ranges ("0,2-3") into a mask. */
static bool parse_cpus(const char *s, uint64_t *mask)
{
    if (!strcmp(s, "all")) {
        *mask = 0;
        return true;
    }
    uint64_t m = 0;
    const char *p = s;
    for (;;) {
        char *end;
        if (*p < '0' || *p > '9')
            return false;
        unsigned long a = strtoul(p, &end, 10), b = a;
        p = end;
        if (*p == '-') {
            p++;
            if (*p < '0' || *p > '9')
                return false;
            b = strtoul(p, &end, 10);
            p = end;
        }
        if (a > 63 || b > 63 || b < a)
            return false;
        for (unsigned long i = a; i <= b; i++)
            m |= 1ull << i;
        if (*p == 0)
            break;
        if (*p++ != ',')
            return false;
    }
    *mask = m;
    return true;
}

static int run_vcpu_pin(struct cli *c, const struct cli_args *a)
{
    int rc;
    if (!check_domain_arg(c, a->pos[0], &rc))
        return rc;
    uint64_t vcpu, mask;
    if (!cli_parse_u64(a->pos[1], 0, 63, &vcpu))
        return cli_error(c, HVCTL_EXIT_USAGE, "VCPU: expected 0..63, got \"%s\"", a->pos[1]);
    if (!parse_cpus(a->pos[2], &mask))
        return cli_error(c, HVCTL_EXIT_USAGE,
                         "CPUS: expected \"all\" or CPUs and ranges 0..63 like 0,2-3, got \"%s\"",
                         a->pos[2]);
    struct cli_session s;
    if ((rc = cli_session_open(c, &s)))
        return rc;
    struct proto_msg *req = req_new(PROTO_MSG_VCPU_PIN_REQUEST);
    req->u.vcpu_pin_request = (struct proto_vcpu_pin_request){.request_id = hvctl_next_id(&s.conn),
                                                              .token = cli_session_token(&s),
                                                              .domain = cli_str(a->pos[0]),
                                                              .vcpu = vcpu,
                                                              .cpu_mask = mask};
    const struct proto_msg *r;
    rc = cli_call(c, &s, req, PROTO_MSG_OK_REPLY, &r);
    hvctl_close(&s.conn);
    if (!rc) {
        char text[200];
        mask_text(text, sizeof text, mask);
        fprintf(c->out, "pinned %s VCPU %" PRIu64 " to CPUs %s\n", a->pos[0], vcpu, text);
    }
    return rc;
}

const struct cli_command cli_cmd_vcpu_pin = {
    .name = "vcpu-pin",
    .usage = "DOMAIN VCPU CPUS",
    .summary = "Restrict where one VCPU may run: CPUS is \"all\" or a list like 0,2-3.",
    .details = "The control domain keeps the pin and applies it again when the domain is\n"
               "rebuilt (restart policy). `hvctl info DOMAIN` shows each VCPU's CPU and pins;\n"
               "`hvctl info --host` lists the CPUs.\n",
    .min_pos = 3,
    .max_pos = 3,
    .run = run_vcpu_pin};

/* Polls domain-info until the domain stopped (or vanished). */
static int wait_stopped(struct cli *c, struct cli_session *s, const char *dom, uint64_t timeout_s)
{
    time_t end = time(NULL) + (time_t)timeout_s;
    while (time(NULL) <= end) {
        struct proto_msg *req = req_new(PROTO_MSG_DOMAIN_INFO_REQUEST);
        req->u.domain_info_request = (struct proto_domain_info_request){
            hvctl_next_id(&s->conn), cli_session_token(s), cli_str(dom)};
        const struct proto_msg *r;
        struct hvctl_error e;
        enum hvctl_status st =
            hvctl_call(&s->conn, req, PROTO_MSG_DOMAIN_INFO_REPLY, c->timeout_ms, &r, &e);
        if (st == HVCTL_ERR_SERVER && e.server_code == PROTO_ERROR_CODE_NOT_FOUND)
            return 0; /* destroyed by its policy */
        if (st != HVCTL_OK)
            return cli_fail(c, st, &e);
        uint64_t state = r->u.domain_info_reply.summary.state;
        if (state == PROTO_DOMAIN_STATE_SHUTDOWN || state == PROTO_DOMAIN_STATE_CRASHED ||
            state == PROTO_DOMAIN_STATE_DYING)
            return 0;
        usleep(200 * 1000);
    }
    return cli_error(c, HVCTL_EXIT_TIMEOUT, "%s did not stop within %" PRIu64 " s", dom, timeout_s);
}

static int run_stop(struct cli *c, const struct cli_args *a, enum proto_shutdown_kind kind)
{
    int rc;
    if (!check_domain_arg(c, a->pos[0], &rc))
        return rc;
    uint64_t timeout_s = 0;
    const char *t = cli_opt(c, a, "timeout");
    if (t && !cli_parse_u64(t, 1, 86400, &timeout_s))
        return cli_error(c, HVCTL_EXIT_USAGE, "--timeout: expected seconds in 1..86400");
    struct cli_session s;
    if ((rc = cli_session_open(c, &s)))
        return rc;
    struct proto_msg *req = req_new(PROTO_MSG_DOMAIN_SHUTDOWN_REQUEST);
    struct proto_domain_shutdown_request *q = &req->u.domain_shutdown_request;
    q->request_id = hvctl_next_id(&s.conn);
    q->token = cli_session_token(&s);
    q->domain = cli_str(a->pos[0]);
    q->kind = kind;
    if (timeout_s) {
        q->has_timeout_ns = true;
        q->timeout_ns = timeout_s * 1000000000ull;
    }
    const struct proto_msg *r;
    rc = cli_call(c, &s, req, PROTO_MSG_OK_REPLY, &r);
    if (!rc && kind == PROTO_SHUTDOWN_KIND_POWEROFF && cli_flag(c, a, "wait"))
        rc = wait_stopped(c, &s, a->pos[0], timeout_s ? timeout_s + 5 : 60);
    hvctl_close(&s.conn);
    if (!rc)
        fprintf(c->out, "%s %s\n",
                kind == PROTO_SHUTDOWN_KIND_REBOOT ? "reboot requested for"
                : cli_flag(c, a, "wait")           ? "stopped"
                                                   : "shutdown requested for",
                a->pos[0]);
    return rc;
}

static int run_shutdown(struct cli *c, const struct cli_args *a)
{
    return run_stop(c, a, PROTO_SHUTDOWN_KIND_POWEROFF);
}
static int run_reboot(struct cli *c, const struct cli_args *a)
{
    return run_stop(c, a, PROTO_SHUTDOWN_KIND_REBOOT);
}

const struct cli_command cli_cmd_shutdown = {
    .name = "shutdown",
    .usage = "DOMAIN [--wait] [--timeout S]",
    .summary = "Ask a domain to power off cleanly; its on_poweroff policy applies.",
    .opts = {{"wait", 'w', false, NULL, "return only when it has stopped (exit 5 if it does not)"},
             {"timeout", 't', true, "S",
              "the control domain destroys it if still running after S seconds;"
              " with --wait, wait S+5 s (default 60 s)"}},
    .min_pos = 1,
    .max_pos = 1,
    .run = run_shutdown};
const struct cli_command cli_cmd_reboot = {
    .name = "reboot",
    .usage = "DOMAIN [--timeout S]",
    .summary = "Ask a domain to reboot cleanly; its on_reboot policy applies.",
    .opts = {{"timeout", 't', true, "S", "destroy it if still running after S seconds"}},
    .min_pos = 1,
    .max_pos = 1,
    .run = run_reboot};

/* ---- token ---- */

static int parse_rights(struct cli *c, const char *list, struct proto_token_create_request *q)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        uint64_t v = 0;
        while (proto_right_name(v) && strcmp(proto_right_name(v), w))
            v++;
        if (!proto_right_name(v))
            return cli_error(
                c, HVCTL_EXIT_USAGE,
                "unknown right \"%s\" (rights: info, console, pause, lifecycle, sched, log, token)",
                w);
        if (q->rights.count >= 7)
            return cli_error(c, HVCTL_EXIT_USAGE, "too many rights");
        q->rights.items[q->rights.count++] = (enum proto_right)v;
    }
    if (!q->rights.count)
        return cli_error(c, HVCTL_EXIT_USAGE, "--rights needs at least one right");
    return 0;
}

static int run_token(struct cli *c, const struct cli_args *a)
{
    const char *verb = a->pos[0];
    if (strcmp(verb, "create") && strcmp(verb, "revoke"))
        return cli_error(c, HVCTL_EXIT_USAGE, "expected \"create\" or \"revoke\", got \"%s\"",
                         verb);
    bool create = !strcmp(verb, "create");
    uint64_t token_id = 0;
    static char domains_buf[64 * 66];
    struct proto_msg *req =
        req_new(create ? PROTO_MSG_TOKEN_CREATE_REQUEST : PROTO_MSG_TOKEN_REVOKE_REQUEST);
    if (create) {
        struct proto_token_create_request *q = &req->u.token_create_request;
        const char *doms = cli_opt(c, a, "domains"), *rights = cli_opt(c, a, "rights");
        if (!doms || !rights)
            return cli_error(c, HVCTL_EXIT_USAGE, "token create needs --domains and --rights");
        if (a->pos_count != 1)
            return cli_error(c, HVCTL_EXIT_USAGE, "token create takes no further arguments");
        snprintf(domains_buf, sizeof domains_buf, "%s", doms);
        for (char *save = NULL, *w = strtok_r(domains_buf, ",", &save); w;
             w = strtok_r(NULL, ",", &save)) {
            if (q->domains.count >= 64 || strlen(w) > MANIFEST_NAME_MAX)
                return cli_error(c, HVCTL_EXIT_USAGE, "--domains: at most 64 names of 1..64 bytes");
            q->domains.items[q->domains.count++] = cli_str(w);
        }
        int rc = parse_rights(c, rights, q);
        if (rc)
            return rc;
        if (cli_opt(c, a, "label")) {
            q->has_label = true;
            q->label = cli_str(cli_opt(c, a, "label"));
        }
    } else {
        if (a->pos_count != 2 || !cli_parse_u64(a->pos[1], 0, UINT64_MAX, &token_id))
            return cli_error(c, HVCTL_EXIT_USAGE, "usage: hvctl token revoke TOKEN-ID");
    }
    struct cli_session s;
    int rc = cli_session_open(c, &s);
    if (rc)
        return rc;
    const struct proto_msg *r;
    if (create) {
        req->u.token_create_request.request_id = hvctl_next_id(&s.conn);
        req->u.token_create_request.token = cli_session_token(&s);
        rc = cli_call(c, &s, req, PROTO_MSG_TOKEN_CREATE_REPLY, &r);
        if (!rc) {
            const struct proto_token_create_reply *t = &r->u.token_create_reply;
            struct hvctl_token nt = {.len = t->new_token.len};
            memcpy(nt.bytes, t->new_token.ptr, nt.len);
            const char *outf = cli_opt(c, a, "out");
            char eb[HVCTL_PATH_MAX + 64];
            if (outf) {
                if (!rundir_token_write(outf, &nt, eb, sizeof eb))
                    rc = cli_error(c, HVCTL_EXIT_LOCAL, "%s", eb);
                else
                    fprintf(c->out, "token %" PRIu64 " written to %s (mode 0600)\n", t->token_id,
                            outf);
            } else {
                fprintf(c->out, "token-id %" PRIu64 "\n", t->token_id);
                for (uint32_t i = 0; i < nt.len; i++)
                    fprintf(c->out, "%02x", nt.bytes[i]);
                fputc('\n', c->out);
            }
        }
    } else {
        req->u.token_revoke_request = (struct proto_token_revoke_request){
            hvctl_next_id(&s.conn), cli_session_token(&s), token_id};
        rc = cli_call(c, &s, req, PROTO_MSG_OK_REPLY, &r);
        if (!rc)
            fprintf(c->out, "revoked token %" PRIu64 " and every token minted from it\n", token_id);
    }
    hvctl_close(&s.conn);
    return rc;
}

const struct cli_command cli_cmd_token = {
    .name = "token",
    .usage = "create --domains D1,D2 --rights R1,R2 [--label L] [--out FILE] | revoke TOKEN-ID",
    .summary = "Mint a narrower token, or revoke one (and every token minted from it).",
    .details = "Rights: info, console, pause, lifecycle, sched, log, token. Without --out the new\n"
               "token is printed in hex; save it to a file of mode 0600 and pass --token-file.\n",
    .opts = {{"domains", 'd', true, "D1,D2", "domains the token covers"},
             {"rights", 'r', true, "R1,R2", "rights it grants"},
             {"label", 'l', true, "LABEL", "a name for the log"},
             {"out", 'o', true, "FILE", "write the token to FILE (mode 0600)"}},
    .min_pos = 1,
    .max_pos = 2,
    .run = run_token};

/* ---- devices ---- */

static void rights_text(char *out, size_t cap, uint64_t r)
{
    snprintf(out, cap, "%s%s%s%s", r & 1 ? "config," : "", r & 2 ? "mmio," : "",
             r & 4 ? "irq," : "", r & 8 ? "dma," : "");
    size_t n = strlen(out);
    if (n)
        out[n - 1] = 0;
    else
        snprintf(out, cap, "-");
}

static int run_devices(struct cli *c, const struct cli_args *a)
{
    (void)a;
    struct cli_session s;
    int rc = cli_session_open(c, &s);
    if (rc)
        return rc;
    struct proto_msg *req = req_new(PROTO_MSG_DEVICE_LIST_REQUEST);
    req->u.device_list_request.request_id = hvctl_next_id(&s.conn);
    req->u.device_list_request.token = cli_session_token(&s);
    const struct proto_msg *r;
    rc = cli_call(c, &s, req, PROTO_MSG_DEVICE_LIST_REPLY, &r);
    if (!rc && c->json) {
        cli_print_json(c, &s.conn);
    } else if (!rc) {
        const struct proto_device_list_reply *l = &r->u.device_list_reply;
        if (l->has_iommu) {
            char m[80];
            hvctl_str_printable(m, sizeof m, l->iommu);
            fprintf(c->out, "iommu: %s\n", m);
        }
        fprintf(c->out, "%-8s %-9s %-6s %-20s %-21s %s\n", "ADDRESS", "ID", "CLASS", "HOLDER",
                "RIGHTS", "DMA-FAULTS");
        for (uint32_t i = 0; i < l->functions.count; i++) {
            const struct proto_pci_function *f = &l->functions.items[i];
            char rights[32], faults[24];
            rights_text(rights, sizeof rights, f->has_rights ? f->rights : 0);
            snprintf(faults, sizeof faults, "%" PRIu64, f->has_dma_faults ? f->dma_faults : 0);
            fprintf(c->out,
                    "%02" PRIx64 ":%02" PRIx64 ".%" PRIu64 "  %04" PRIx64 ":%04" PRIx64
                    " %06" PRIx64 " ",
                    f->bdf >> 8, (f->bdf >> 3) & 0x1f, f->bdf & 7, f->vendor, f->device, f->class);
            if (f->has_holder)
                print_name(c->out, f->holder, 20);
            else
                fprintf(c->out, "%-20s", "(control)");
            fprintf(c->out, " %-21s %s\n", rights, f->has_holder ? faults : "-");
        }
    }
    hvctl_close(&s.conn);
    return rc;
}

const struct cli_command cli_cmd_devices = {
    .name = "devices",
    .usage = "[--json]",
    .summary = "List the machine's PCI functions, the domain each is given to and its rights.",
    .details = "A function is given to a domain by its manifest (pci:, docs/manifests.md); the\n"
               "control domain keeps its own capability to every function. DMA-FAULTS counts\n"
               "the IOMMU faults of the holder's devices (docs/devices.md).\n",
    .run = run_devices};
