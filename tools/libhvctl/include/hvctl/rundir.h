/*
 * The run directory: where `hvctl up` puts the machine's sockets, logs, pid
 * file and the administrator's token, and where every other command finds
 * them. Chosen by, in order: an explicit path (--run-dir), $HV_RUN_DIR, ./run.
 *
 * Host-only (libc). Not thread-safe only in that callers own the structs.
 */
#ifndef HVCTL_RUNDIR_H
#define HVCTL_RUNDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HVCTL_PATH_MAX 4096u
#define HVCTL_TOKEN_BYTES 32u     /* the admin token minted by `hvctl up` */
#define HVCTL_TOKEN_MAX_BYTES 64u /* catalog bound on any token */

/* The names of the run directory's files (QEMU, started inside the run
 * directory, is given these names: docs/hvctl.md "The run directory"). */
#define RUN_COM2_SOCK "com2.sock"      /* the broker listens here */
#define RUN_QEMU_SOCK "qemu-com2.sock" /* QEMU's COM2 */
#define RUN_COM1_LOG "com1.log"
#define RUN_QEMU_LOG "qemu.log"
#define RUN_QEMU_PID "qemu.pid"
#define RUN_TOKEN "admin.token"
#define RUN_MUX_PID "mux.pid"
#define RUN_MUX_LOG "mux.log"

/* Every file of a run directory, as absolute-or-relative paths. */
struct rundir {
    char dir[HVCTL_PATH_MAX];
    char com2_sock[HVCTL_PATH_MAX];  /* the control channel (QEMU COM2) */
    char com1_log[HVCTL_PATH_MAX];   /* hypervisor log and domain consoles */
    char qemu_log[HVCTL_PATH_MAX];   /* QEMU's own stderr */
    char pid_file[HVCTL_PATH_MAX];   /* QEMU's pid, written by QEMU */
    char token_file[HVCTL_PATH_MAX]; /* admin token, mode 0600 */
};

/* Fills rd from explicit (may be NULL), else $HV_RUN_DIR, else "run".
 * Returns false if a path would not fit. Creates nothing. */
bool rundir_resolve(struct rundir *rd, const char *explicit_dir);

/* Creates the directory (mode 0700) if missing. errbuf gets the reason. */
bool rundir_create(const struct rundir *rd, char *errbuf, size_t errcap);

/* A token: raw bytes as they travel in requests. */
struct hvctl_token {
    uint8_t bytes[HVCTL_TOKEN_MAX_BYTES];
    uint32_t len;
};

/* Mints HVCTL_TOKEN_BYTES random bytes (getrandom) and writes them hex-encoded
 * to path, created with mode 0600 (an existing file is replaced atomically
 * through a temporary file). */
bool rundir_token_create(const char *path, struct hvctl_token *out, char *errbuf, size_t errcap);

/* Writes a token to path (mode 0600, replacing atomically). */
bool rundir_token_write(const char *path, const struct hvctl_token *tok, char *errbuf,
                        size_t errcap);

/* Reads a token file. Refuses a file readable or writable by group or others
 * (like ssh does with keys), a file that is not hex, or a token longer than
 * HVCTL_TOKEN_MAX_BYTES. */
bool rundir_token_read(const char *path, struct hvctl_token *out, char *errbuf, size_t errcap);

/* Reads a decimal pid from a pid file; false if absent or malformed. */
bool rundir_pid_read(const char *path, long *pid_out);

#endif
