/*
 * hvctl's command line (docs/hvctl.md). hvctl_cli_main() is the whole
 * program; main.c only calls it, and the unit tests call it with their own
 * output streams. Internal to tools/hvctl.
 */
#ifndef HVCTL_CLI_H
#define HVCTL_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hvctl/client.h"
#include "hvctl/manifest.h"
#include "hvctl/rundir.h"
#include "hvctl/upload.h"

/* Exit codes (docs/hvctl.md). Stable: scripts depend on them. */
#define HVCTL_EXIT_OK 0
#define HVCTL_EXIT_SERVER 1   /* the control domain refused the request (its message is shown) */
#define HVCTL_EXIT_USAGE 2    /* bad command line */
#define HVCTL_EXIT_CONNECT 3  /* cannot reach or understand the control domain */
#define HVCTL_EXIT_MANIFEST 4 /* a manifest is invalid */
#define HVCTL_EXIT_TIMEOUT 5  /* a wait ran out (up, shutdown --wait, any reply) */
#define HVCTL_EXIT_LOCAL 6    /* a local failure: QEMU, files, terminal */
#define HVCTL_EXIT_DIFF 7     /* diff: the system differs from the manifests */

int hvctl_cli_main(int argc, char **argv, FILE *out, FILE *err);
/* The same with console input from in_fd instead of standard input (tests). */
int hvctl_cli_main_io(int argc, char **argv, int in_fd, FILE *out, FILE *err);

/* ---- shared by the cmd_*.c files ---- */

#define CLI_MAX_OPTS 12
#define CLI_MAX_POS 8

/* An option a command accepts. */
struct cli_opt {
    const char *name; /* long name without "--" */
    char short_name;  /* 0 if none */
    bool has_arg;
    const char *arg_name; /* for help */
    const char *help;
};

/* Parsed command line of one command. */
struct cli_args {
    const char *val[CLI_MAX_OPTS];
    bool set[CLI_MAX_OPTS];
    const char *pos[CLI_MAX_POS];
    int pos_count;
};

struct cli;
/* A subcommand. */
struct cli_command {
    const char *name;
    const char *usage;   /* after "hvctl NAME " */
    const char *summary; /* one line */
    const char *details; /* more text for --help, may be NULL */
    struct cli_opt opts[CLI_MAX_OPTS];
    int min_pos, max_pos;
    int (*run)(struct cli *c, const struct cli_args *a);
};

/* Global state of one invocation. */
struct cli {
    FILE *out, *err;
    int in_fd; /* console input */
    const struct cli_command *cmd;
    struct rundir rd;
    const char *socket_path; /* --socket or the run dir's com2.sock */
    const char *token_file;  /* --token-file, $HV_TOKEN_FILE or the run dir's admin.token */
    uint32_t timeout_ms;     /* --timeout (seconds) for every reply */
    bool json;
};

/* Option lookup by long name. */
const char *cli_opt(const struct cli *c, const struct cli_args *a, const char *name);
bool cli_flag(const struct cli *c, const struct cli_args *a, const char *name);

/* Prints "hvctl CMD: message" to err and returns code. */
int cli_error(struct cli *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Reports a client failure and returns its exit code. */
int cli_fail(struct cli *c, enum hvctl_status s, const struct hvctl_error *e);
/* Maps a client status to an exit code. */
int cli_exit_for(enum hvctl_status s);
/* Connects, says hello. On failure prints and returns the exit code (else 0). */
int cli_connect(struct cli *c, struct hvctl_conn *conn);
/* Uploads m's kernel file under its file name (image-upload; nothing is sent
 * if the control domain holds an identical image). Prints one line on to
 * (NULL: nothing). On failure prints and returns the exit code (else 0). */
int cli_upload_kernel(struct cli *c, struct hvctl_conn *conn, struct hvcbor_str tok,
                      const struct manifest *m, FILE *to);
/* Loads the token. On failure prints and returns HVCTL_EXIT_LOCAL (else 0). */
int cli_token(struct cli *c, struct hvctl_token *tok);
/* Parses an unsigned number in [min, max]; false if invalid. */
bool cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Parses a size with units (like manifests); false if invalid. */
bool cli_parse_size(const char *s, uint64_t *out);
/* Prints manifest diagnostics to err. */
void cli_print_diags(struct cli *c, const struct manifest_diags *d);
/* The raw CBOR of the last message received on conn, as JSON on out. */
void cli_print_json(struct cli *c, const struct hvctl_conn *conn);

struct hvcbor_str cli_str(const char *s);

/* A connection and the token, for one command. */
struct cli_session {
    struct hvctl_conn conn;
    struct hvctl_token tok;
};
/* Connects first ("the machine is not up" is the more useful first error),
 * then loads the token. On failure prints and returns the exit code. */
int cli_session_open(struct cli *c, struct cli_session *s);
struct hvcbor_str cli_session_token(const struct cli_session *s);
/* One request, its reply of type expect (else the failure printed). */
int cli_call(struct cli *c, struct cli_session *s, struct proto_msg *req,
             enum proto_msg_type expect, const struct proto_msg **reply);
/* Attaches to a domain's console until Ctrl-] or the server ends it. */
int cli_console_attach(struct cli *c, const char *domain, bool force);

/* "ok", "never", "cut", "off", "-" for a bus state (hvctl list's BUS column). */
const char *cli_bus_state_name(uint64_t state);

/* The command tables of each file. */
extern const struct cli_command cli_cmd_up, cli_cmd_down, cli_cmd_status;
extern const struct cli_command cli_cmd_list, cli_cmd_info, cli_cmd_top, cli_cmd_log,
    cli_cmd_create, cli_cmd_destroy, cli_cmd_shutdown, cli_cmd_reboot, cli_cmd_pause,
    cli_cmd_unpause, cli_cmd_token, cli_cmd_sched, cli_cmd_vcpu_pin, cli_cmd_devices,
    cli_cmd_restart, cli_cmd_kill;
extern const struct cli_command cli_cmd_validate, cli_cmd_diff, cli_cmd_apply, cli_cmd_compile;
extern const struct cli_command cli_cmd_console;
extern const struct cli_command cli_cmd_bus, cli_cmd_services, cli_cmd_suspend, cli_cmd_mem_set;
extern const struct cli_command cli_cmd_volume;

/* Before building a domain from m: every volume its disks: names exists on
 * blkback's disk and is at least its size (asked with volume-list-request).
 * 0, or the exit code after printing each problem as FILE:LINE:COLUMN:
 * disks[i]: MESSAGE. A manifest without disks asks nothing. */
int cli_check_disks(struct cli *c, struct hvctl_conn *conn, struct hvcbor_str tok,
                    const struct manifest *m);

#endif
