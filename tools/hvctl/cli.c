/* hvctl: global options, dispatch, help, and helpers shared by the commands. */
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "hvctl/render.h"
#include "hvlib/status.h"

static const struct cli_command *const COMMANDS[] = {
    &cli_cmd_up,      &cli_cmd_down,    &cli_cmd_status,   &cli_cmd_list,     &cli_cmd_info,
    &cli_cmd_top,     &cli_cmd_log,     &cli_cmd_create,   &cli_cmd_destroy,  &cli_cmd_shutdown,
    &cli_cmd_reboot,  &cli_cmd_pause,   &cli_cmd_unpause,  &cli_cmd_sched,    &cli_cmd_vcpu_pin,
    &cli_cmd_console, &cli_cmd_token,   &cli_cmd_validate, &cli_cmd_diff,     &cli_cmd_apply,
    &cli_cmd_compile, &cli_cmd_devices, &cli_cmd_bus,      &cli_cmd_services, &cli_cmd_suspend,
    &cli_cmd_mem_set, &cli_cmd_volume,  &cli_cmd_restart,  &cli_cmd_kill,
};
#define COMMAND_COUNT (sizeof COMMANDS / sizeof COMMANDS[0])

static const char GLOBAL_HELP[] =
    "Global options (before or after the command):\n"
    "  --run-dir DIR      run directory (default $HV_RUN_DIR or ./run)\n"
    "  --socket PATH      control socket (default RUN_DIR/com2.sock)\n"
    "  --token-file FILE  token to use (default $HV_TOKEN_FILE or RUN_DIR/admin.token)\n"
    "  --timeout SECONDS  how long to wait for each reply (default 10)\n"
    "  --json             machine-readable output for read commands\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit codes: 0 ok, 1 refused by the control domain, 2 usage, 3 cannot reach or\n"
    "understand the control domain, 4 invalid manifest, 5 timeout, 6 local failure,\n"
    "7 diff found differences.\n";

static void usage_all(FILE *f)
{
    fputs("usage: hvctl [GLOBAL OPTIONS] COMMAND [ARGS]\n\nCommands:\n", f);
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(f, "  %-10s %s\n", COMMANDS[i]->name, COMMANDS[i]->summary);
    fputs("\n", f);
    fputs(GLOBAL_HELP, f);
    fputs("\n`hvctl COMMAND --help` describes one command. See docs/hvctl.md.\n", f);
}

static void usage_cmd(FILE *f, const struct cli_command *cmd)
{
    fprintf(f, "usage: hvctl %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->summary);
    if (cmd->details)
        fprintf(f, "\n%s", cmd->details);
    bool any = false;
    for (int i = 0; i < CLI_MAX_OPTS && cmd->opts[i].name; i++) {
        if (!any)
            fputs("\nOptions:\n", f);
        any = true;
        const struct cli_opt *o = &cmd->opts[i];
        char left[64];
        if (o->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name,
                     o->has_arg ? " " : "", o->has_arg ? o->arg_name : "");
        else
            snprintf(left, sizeof left, "--%s%s%s", o->name, o->has_arg ? " " : "",
                     o->has_arg ? o->arg_name : "");
        fprintf(f, "  %-24s %s\n", left, o->help);
    }
    fputs("\n", f);
    fputs(GLOBAL_HELP, f);
}

int cli_error(struct cli *c, int code, const char *fmt, ...)
{
    fprintf(c->err, "hvctl%s%s: ", c->cmd ? " " : "", c->cmd ? c->cmd->name : "");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(c->err, fmt, ap);
    va_end(ap);
    fputc('\n', c->err);
    return code;
}

int cli_exit_for(enum hvctl_status s)
{
    switch (s) {
    case HVCTL_OK: return HVCTL_EXIT_OK;
    case HVCTL_ERR_SERVER: return HVCTL_EXIT_SERVER;
    case HVCTL_ERR_TIMEOUT: return HVCTL_EXIT_TIMEOUT;
    case HVCTL_ERR_LOCAL: return HVCTL_EXIT_USAGE;
    case HVCTL_ERR_CONNECT:
    case HVCTL_ERR_CLOSED:
    case HVCTL_ERR_PROTOCOL:
    case HVCTL_ERR_IO: return HVCTL_EXIT_CONNECT;
    }
    return HVCTL_EXIT_CONNECT;
}

/* --json: a refusal is also one JSON object on stdout, shaped like the
 * error-reply (catalog names) with the hypervisor's status named. */
static void print_error_json(struct cli *c, const struct hvctl_error *e)
{
    const char *code = proto_error_code_name(e->server_code);
    fputs("{\"type\":\"error-reply\",\"code\":", c->out);
    render_json_string(c->out, (const uint8_t *)(code ? code : "?"), strlen(code ? code : "?"));
    fputs(",\"message\":", c->out);
    render_json_string(c->out, (const uint8_t *)e->server_text, strlen(e->server_text));
    if (e->has_hv_status) {
        const char *name = hv_status_name(e->hv_status);
        fprintf(c->out, ",\"hv-status\":%lld,\"hv-status-name\":", (long long)e->hv_status);
        render_json_string(c->out, (const uint8_t *)(name ? name : "?"), strlen(name ? name : "?"));
    }
    fputs("}\n", c->out);
}

int cli_fail(struct cli *c, enum hvctl_status s, const struct hvctl_error *e)
{
    if (s == HVCTL_ERR_SERVER && c->json)
        print_error_json(c, e);
    if (s == HVCTL_ERR_SERVER)
        return cli_error(c, HVCTL_EXIT_SERVER, "the control domain refused: %s", e->message);
    return cli_error(c, cli_exit_for(s), "%s", e->message);
}

int cli_connect(struct cli *c, struct hvctl_conn *conn)
{
    struct hvctl_error e;
    if (!hvctl_connect(conn, c->socket_path, &e))
        return cli_fail(c, e.status, &e);
    enum hvctl_status s = hvctl_hello(conn, c->timeout_ms, NULL, 0, NULL, &e);
    if (s != HVCTL_OK) {
        hvctl_close(conn);
        if (s == HVCTL_ERR_TIMEOUT)
            return cli_error(c, HVCTL_EXIT_TIMEOUT,
                             "the control domain did not answer hello on %s: %s", c->socket_path,
                             e.message);
        return cli_fail(c, s, &e);
    }
    return 0;
}

int cli_upload_kernel(struct cli *c, struct hvctl_conn *conn, struct hvcbor_str tok,
                      const struct manifest *m, FILE *to)
{
    const char *slash = strrchr(m->kernel, '/');
    const char *name = slash ? slash + 1 : m->kernel;
    if (strlen(name) > 64)
        return cli_error(c, HVCTL_EXIT_USAGE,
                         "%s: the kernel file name \"%s\" is longer than 64 bytes, the longest "
                         "image name an upload can give (rename the file)",
                         m->name, name);
    struct hvctl_error e;
    uint8_t *bytes;
    size_t size;
    if (!hvctl_read_image(m->kernel_path, &bytes, &size, &e))
        return cli_error(c, HVCTL_EXIT_LOCAL, "%s", e.message);
    size_t file_size = size;
    size = hvctl_image_strip(bytes, size); /* what the builder never reads stays here */
    bool present = false;
    enum hvctl_status s = hvctl_upload(conn, tok, name, bytes, size, c->timeout_ms, &present, &e);
    free(bytes);
    if (s != HVCTL_OK)
        return cli_fail(c, s, &e);
    if (to && present)
        fprintf(to, "kernel %s: the control domain has it already (%zu bytes", name, size);
    else if (to)
        fprintf(to, "kernel %s: uploaded %zu bytes", name, size);
    if (to && size != file_size)
        fprintf(to, "%s%zu in the file; symbols and debug information left out)\n",
                present ? "; " : " (", file_size);
    else if (to)
        fprintf(to, "%s\n", present ? ")" : "");
    return 0;
}

int cli_token(struct cli *c, struct hvctl_token *tok)
{
    char eb[HVCTL_PATH_MAX + 128];
    if (!rundir_token_read(c->token_file, tok, eb, sizeof eb))
        return cli_error(c, HVCTL_EXIT_LOCAL, "%s", eb);
    return 0;
}

bool cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool cli_parse_size(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    static const struct {
        const char *unit;
        unsigned shift;
    } units[] = {{"", 0},   {"B", 0},    {"K", 10}, {"KiB", 10},
                 {"M", 20}, {"MiB", 20}, {"G", 30}, {"GiB", 30}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (!strcmp(end, units[i].unit) && v <= (UINT64_MAX >> units[i].shift)) {
            *out = (uint64_t)v << units[i].shift;
            return true;
        }
    }
    return false;
}

void cli_print_diags(struct cli *c, const struct manifest_diags *d)
{
    for (uint32_t i = 0; i < d->count; i++)
        fprintf(c->err, "%s\n", d->items[i].text);
    if (d->dropped)
        fprintf(c->err, "(%u more errors not shown)\n", d->dropped);
}

void cli_print_json(struct cli *c, const struct hvctl_conn *conn)
{
    char eb[128];
    if (!render_json(c->out, conn->payload, conn->payload_len, eb, sizeof eb))
        fprintf(c->err, "hvctl: cannot render the reply as JSON: %s\n", eb);
}

struct hvcbor_str cli_str(const char *s)
{
    return (struct hvcbor_str){.ptr = (const uint8_t *)s, .len = (uint32_t)strlen(s)};
}

int cli_session_open(struct cli *c, struct cli_session *s)
{
    int rc = cli_connect(c, &s->conn);
    if (rc)
        return rc;
    if ((rc = cli_token(c, &s->tok)))
        hvctl_close(&s->conn);
    return rc;
}

struct hvcbor_str cli_session_token(const struct cli_session *s)
{
    return (struct hvcbor_str){.ptr = s->tok.bytes, .len = s->tok.len};
}

int cli_call(struct cli *c, struct cli_session *s, struct proto_msg *req,
             enum proto_msg_type expect, const struct proto_msg **reply)
{
    struct hvctl_error e;
    enum hvctl_status st = hvctl_call(&s->conn, req, expect, c->timeout_ms, reply, &e);
    return st == HVCTL_OK ? 0 : cli_fail(c, st, &e);
}

static int find_opt(const struct cli_command *cmd, const char *name, size_t len, char short_name)
{
    for (int i = 0; i < CLI_MAX_OPTS && cmd->opts[i].name; i++) {
        const struct cli_opt *o = &cmd->opts[i];
        if (short_name ? o->short_name == short_name
                       : (strlen(o->name) == len && !strncmp(o->name, name, len)))
            return i;
    }
    return -1;
}

const char *cli_opt(const struct cli *c, const struct cli_args *a, const char *name)
{
    int i = find_opt(c->cmd, name, strlen(name), 0);
    return i >= 0 && a->set[i] ? a->val[i] : NULL;
}

bool cli_flag(const struct cli *c, const struct cli_args *a, const char *name)
{
    int i = find_opt(c->cmd, name, strlen(name), 0);
    return i >= 0 && a->set[i];
}

/* Global options, accepted anywhere on the line. Returns 1 if arg (and maybe
 * next) was one, with *used set to the number of argv entries taken; -1 on a
 * missing argument; 0 if not a global option. */
static int global_opt(struct cli *c, const char *arg, const char *next, int *used,
                      const char **run_dir, const char **socket, const char **token,
                      const char **timeout)
{
    static const char *const names[] = {"--run-dir", "--socket", "--token-file", "--timeout"};
    const char **dest[] = {run_dir, socket, token, timeout};
    if (!strcmp(arg, "--json")) {
        c->json = true;
        *used = 1;
        return 1;
    }
    for (size_t i = 0; i < 4; i++) {
        size_t l = strlen(names[i]);
        if (!strncmp(arg, names[i], l) && arg[l] == '=') {
            *dest[i] = arg + l + 1;
            *used = 1;
            return 1;
        }
        if (!strcmp(arg, names[i])) {
            if (!next)
                return -1;
            *dest[i] = next;
            *used = 2;
            return 1;
        }
    }
    return 0;
}

int hvctl_cli_main(int argc, char **argv, FILE *out, FILE *err)
{
    return hvctl_cli_main_io(argc, argv, 0, out, err);
}

int hvctl_cli_main_io(int argc, char **argv, int in_fd, FILE *out, FILE *err)
{
    struct cli c = {.out = out, .err = err, .in_fd = in_fd, .timeout_ms = HVCTL_DEFAULT_TIMEOUT_MS};
    const char *run_dir = NULL, *socket = NULL, *token = NULL, *timeout = NULL;
    struct cli_args a = {0};
    bool help = false;
    int i = 1;
    /* The command is the first argument that is not a global option. */
    for (; i < argc; i++) {
        int used = 0;
        int g = global_opt(&c, argv[i], i + 1 < argc ? argv[i + 1] : NULL, &used, &run_dir, &socket,
                           &token, &timeout);
        if (g < 0)
            return cli_error(&c, HVCTL_EXIT_USAGE, "%s needs an argument", argv[i]);
        if (g > 0) {
            i += used - 1;
            continue;
        }
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") || !strcmp(argv[i], "help")) {
            usage_all(out);
            return HVCTL_EXIT_OK;
        }
        if (argv[i][0] == '-')
            return cli_error(&c, HVCTL_EXIT_USAGE, "unknown option %s (see hvctl --help)", argv[i]);
        break;
    }
    if (i >= argc) {
        usage_all(err);
        return HVCTL_EXIT_USAGE;
    }
    for (size_t k = 0; k < COMMAND_COUNT; k++)
        if (!strcmp(COMMANDS[k]->name, argv[i]))
            c.cmd = COMMANDS[k];
    if (!c.cmd)
        return cli_error(&c, HVCTL_EXIT_USAGE, "unknown command \"%s\" (see hvctl --help)",
                         argv[i]);
    bool only_pos = false;
    for (i++; i < argc; i++) {
        const char *arg = argv[i];
        if (only_pos || arg[0] != '-' || !arg[1]) {
            if (a.pos_count >= CLI_MAX_POS || a.pos_count >= c.cmd->max_pos)
                return cli_error(&c, HVCTL_EXIT_USAGE,
                                 "unexpected argument \"%s\" (usage: hvctl %s %s)", arg,
                                 c.cmd->name, c.cmd->usage);
            a.pos[a.pos_count++] = arg;
            continue;
        }
        if (!strcmp(arg, "--")) {
            only_pos = true;
            continue;
        }
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            help = true;
            continue;
        }
        /* The command's own options first (shutdown --timeout is its own). */
        int o;
        const char *inline_val = NULL;
        if (arg[1] == '-') {
            const char *eq = strchr(arg + 2, '=');
            size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
            o = find_opt(c.cmd, arg + 2, len, 0);
            inline_val = eq ? eq + 1 : NULL;
        } else {
            o = arg[2] ? -1 : find_opt(c.cmd, NULL, 0, arg[1]);
        }
        if (o < 0) {
            int used = 0;
            int g = global_opt(&c, arg, i + 1 < argc ? argv[i + 1] : NULL, &used, &run_dir, &socket,
                               &token, &timeout);
            if (g < 0)
                return cli_error(&c, HVCTL_EXIT_USAGE, "%s needs an argument", arg);
            if (g > 0) {
                i += used - 1;
                continue;
            }
        }
        if (o < 0)
            return cli_error(&c, HVCTL_EXIT_USAGE, "unknown option %s (see hvctl %s --help)", arg,
                             c.cmd->name);
        const struct cli_opt *opt = &c.cmd->opts[o];
        if (opt->has_arg) {
            if (!inline_val) {
                if (i + 1 >= argc)
                    return cli_error(&c, HVCTL_EXIT_USAGE, "--%s needs an argument (%s)", opt->name,
                                     opt->arg_name);
                inline_val = argv[++i];
            }
        } else if (inline_val) {
            return cli_error(&c, HVCTL_EXIT_USAGE, "--%s takes no argument", opt->name);
        }
        a.set[o] = true;
        a.val[o] = inline_val;
    }
    if (help) {
        usage_cmd(out, c.cmd);
        return HVCTL_EXIT_OK;
    }
    if (a.pos_count < c.cmd->min_pos)
        return cli_error(&c, HVCTL_EXIT_USAGE, "missing argument (usage: hvctl %s %s)", c.cmd->name,
                         c.cmd->usage);
    if (!rundir_resolve(&c.rd, run_dir))
        return cli_error(&c, HVCTL_EXIT_USAGE, "run directory path too long");
    c.socket_path = socket ? socket : c.rd.com2_sock;
    c.token_file = token                     ? token
                   : getenv("HV_TOKEN_FILE") ? getenv("HV_TOKEN_FILE")
                                             : c.rd.token_file;
    if (timeout) {
        uint64_t s;
        if (!cli_parse_u64(timeout, 1, 86400, &s))
            return cli_error(&c, HVCTL_EXIT_USAGE,
                             "--timeout: expected seconds in 1..86400, got \"%s\"", timeout);
        c.timeout_ms = (uint32_t)(s * 1000);
    }
    return c.cmd->run(&c, &a);
}
