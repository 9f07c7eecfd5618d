/* hvctl up, down, status: the QEMU machine and its run directory. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mux.h"
#include "up_net.h"

#define UP_DEFAULT_WAIT_S 60u
#define UP_DEFAULT_DISK_BYTES (1ull << 30) /* RUN_DIR/disk.img when up creates it */
#define RUN_DISK "disk.img"
/* The smallest machine the default hv.iso boots (root_mem=64M): found by
 * trying (2026-12-08, with the netback and blkback boot modules: 74M stops
 * with "boot: cannot start without a root domain"); the QEMU test
 * control_min_mem boots it, so a hypervisor or ISO that needs more makes it
 * fail. */
#define UP_MIN_MEM_MIB 75u

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* True if pid no longer runs: no such process, or a zombie (exited, its
 * parent has not collected it yet: a zombie still has /proc/PID/comm). Our
 * own child (the broker when `up` fails) is collected here. */
static bool proc_gone(long pid)
{
    if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH))
        return true;
    if (waitpid((pid_t)pid, NULL, WNOHANG) == (pid_t)pid)
        return true;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "PID (COMM) STATE ...": COMM may hold ')' itself; the last one ends it. */
    const char *rp = strrchr(buf, ')');
    return !rp || rp[1] != ' ' || rp[2] == 'Z' || rp[2] == 'X' || rp[2] == 'x';
}

/* Reads /proc/PID/NAME of a running pid into buf (NUL-terminated); the byte
 * count, or -1 if the process is gone (or a zombie) or the file cannot be
 * read. */
static long proc_read(long pid, const char *name, char *buf, size_t cap)
{
    if (proc_gone(pid))
        return -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/%s", pid, name);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (long)n;
}

/* True if pid runs and is a QEMU (guards against a recycled pid). */
static bool qemu_alive(long pid)
{
    char cmd[256];
    long n = proc_read(pid, "cmdline", cmd, sizeof cmd);
    if (n < 0)
        return false;
    /* An empty command line (not a zombie: proc_read said so): a process in
     * the middle of exec. It exists; do not call it gone. */
    if (n == 0)
        return true;
    for (long i = 0; i + 1 < n; i++)
        if (cmd[i] == '\0')
            cmd[i] = ' ';
    return strstr(cmd, "qemu") != NULL;
}

static void print_tail(struct cli *c, const char *path, int lines)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    static char ring[16][256];
    int count = 0;
    while (fgets(ring[count % 16], sizeof ring[0], f))
        count++;
    fclose(f);
    int from = count > lines ? count - lines : 0;
    for (int i = from; i < count; i++) {
        char *l = ring[i % 16];
        size_t len = strlen(l);
        fprintf(c->err, "  | %s%s", l, len && l[len - 1] == '\n' ? "" : "\n");
    }
}

#define STOP_POLL_MS 10u
#define QEMU_TERM_MS 5000u /* SIGTERM, then SIGKILL */
#define MUX_TERM_MS 2000u

/* Stops processes (each checked to be what it should be before the
 * signal): SIGTERM to all at once, then waits, polling every STOP_POLL_MS,
 * until each is gone (exited, or a zombie nobody has collected), SIGKILL to
 * one still running after its term_ms, and gives up 1 s after that. Returns
 * as soon as all are gone; false if one is still running. */
struct stopping {
    long pid;
    uint32_t term_ms;
    bool killed;
};

static bool stop_all(struct stopping *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i].pid > 0)
            kill((pid_t)p[i].pid, SIGTERM);
    uint64_t t0 = now_ms();
    for (;;) {
        bool all_gone = true, given_up = true;
        uint64_t waited = now_ms() - t0;
        for (size_t i = 0; i < n; i++) {
            if (p[i].pid <= 0 || proc_gone(p[i].pid))
                continue;
            all_gone = false;
            if (!p[i].killed && waited >= p[i].term_ms) {
                kill((pid_t)p[i].pid, SIGKILL);
                p[i].killed = true;
            }
            if (waited < p[i].term_ms + 1000u)
                given_up = false;
        }
        if (all_gone)
            return true;
        if (given_up)
            return false;
        usleep(STOP_POLL_MS * 1000);
    }
}

/* Stops the QEMU of pid (see stop_all). */
static void stop_qemu(long pid)
{
    struct stopping s = {pid, QEMU_TERM_MS, false};
    stop_all(&s, 1);
}

/* The broker's files in the run directory (docs/hvctl.md). QEMU's COM2
 * socket is private to the broker; clients use RUN_DIR/com2.sock. */
struct mux_paths {
    char qemu_sock[HVCTL_PATH_MAX + 32], pid_file[HVCTL_PATH_MAX + 32],
        log_file[HVCTL_PATH_MAX + 32];
};

static void mux_paths(const struct cli *c, struct mux_paths *m)
{
    snprintf(m->qemu_sock, sizeof m->qemu_sock, "%s/" RUN_QEMU_SOCK, c->rd.dir);
    snprintf(m->pid_file, sizeof m->pid_file, "%s/" RUN_MUX_PID, c->rd.dir);
    snprintf(m->log_file, sizeof m->log_file, "%s/" RUN_MUX_LOG, c->rd.dir);
}

#define MUX_PROC_NAME "hvctl-mux"

/* True if pid runs and is the broker (its process name). */
static bool mux_alive(long pid)
{
    char comm[32];
    return proc_read(pid, "comm", comm, sizeof comm) > 0 &&
           strncmp(comm, MUX_PROC_NAME, strlen(MUX_PROC_NAME)) == 0;
}

/* The broker's pid if it runs, else 0. */
static long mux_pid(const struct mux_paths *m)
{
    long pid;
    return rundir_pid_read(m->pid_file, &pid) && mux_alive(pid) ? pid : 0;
}

/* Stops the broker of the run directory, if any (see stop_all). */
static void stop_mux(const struct mux_paths *m)
{
    struct stopping s = {mux_pid(m), MUX_TERM_MS, false};
    stop_all(&s, 1);
    unlink(m->pid_file);
}

/* Forks the broker (a daemon: its own session, output to mux.log). Returns
 * its pid, or -1. */
static long start_mux(struct cli *c, const struct mux_paths *m, long qemu_pid, uint32_t wait_ms)
{
    fflush(c->out);
    fflush(c->err);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setsid();
        prctl(PR_SET_NAME, MUX_PROC_NAME, 0, 0, 0);
        int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
        int fd = open(m->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (nul >= 0)
            dup2(nul, 0);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        FILE *log = fdopen(dup(2), "a");
        struct mux_opts o = {.qemu_sock = m->qemu_sock,
                             .listen_sock = c->rd.com2_sock,
                             .qemu_pid = qemu_pid,
                             .wait_ms = wait_ms,
                             .log = log};
        int rc = hvctl_mux_run(&o);
        unlink(m->pid_file);
        _exit(rc);
    }
    FILE *f = fopen(m->pid_file, "we");
    if (f) {
        fprintf(f, "%ld\n", (long)pid);
        fclose(f);
    }
    return pid;
}

#define HELLO_RESEND_MS 150u

/* Waits for the control domain to answer hello; 0 on success. */
static enum hvctl_status wait_hello(struct cli *c, long pid, uint32_t wait_ms, char *server,
                                    size_t cap, struct hvctl_error *e)
{
    uint64_t deadline = now_ms() + wait_ms;
    enum hvctl_status st = HVCTL_ERR_TIMEOUT;
    snprintf(e->message, sizeof e->message, "no attempt made");
    while (now_ms() < deadline) {
        if (pid > 0 && !qemu_alive(pid)) {
            snprintf(e->message, sizeof e->message, "QEMU exited");
            return HVCTL_ERR_CLOSED;
        }
        struct hvctl_conn conn;
        if (!hvctl_connect(&conn, c->socket_path, e)) {
            usleep(100 * 1000);
            continue;
        }
        /* Resend hello every HELLO_RESEND_MS on the same connection
         * (bytes sent before the control domain reads COM2 may be lost);
         * a late answer to an earlier hello counts too. */
        uint64_t first_id = 0, last_id = 0, next_send = 0;
        st = HVCTL_ERR_TIMEOUT;
        while (now_ms() < deadline && st == HVCTL_ERR_TIMEOUT) {
            if (now_ms() >= next_send) {
                struct proto_msg h = {.type = PROTO_MSG_HELLO};
                h.u.hello.request_id = last_id = hvctl_next_id(&conn);
                if (!first_id)
                    first_id = last_id;
                h.u.hello.version = PROTO_VERSION;
                h.u.hello.client = cli_str(HVCTL_CLIENT_NAME);
                if ((st = hvctl_send(&conn, &h, 1000, e)) != HVCTL_OK)
                    break;
                st = HVCTL_ERR_TIMEOUT;
                next_send = now_ms() + HELLO_RESEND_MS;
            }
            uint64_t now = now_ms(), until = next_send < deadline ? next_send : deadline;
            const struct proto_msg *m;
            enum hvctl_status r =
                hvctl_recv(&conn, until > now ? (uint32_t)(until - now) : 0, &m, e);
            if (r == HVCTL_ERR_TIMEOUT) {
                if (pid > 0 && !qemu_alive(pid))
                    break;
                continue;
            }
            if (r != HVCTL_OK) {
                st = r;
                break;
            }
            uint64_t rid = proto_msg_request_id(m);
            if (rid < first_id || rid > last_id)
                continue;
            if (m->type == PROTO_MSG_HELLO_REPLY) {
                if (m->u.hello_reply.version != PROTO_VERSION) {
                    snprintf(e->message, sizeof e->message,
                             "the control domain speaks protocol version %llu, hvctl speaks %u",
                             (unsigned long long)m->u.hello_reply.version, PROTO_VERSION);
                    st = e->status = HVCTL_ERR_PROTOCOL;
                    break;
                }
                if (server)
                    hvctl_str_printable(server, cap, m->u.hello_reply.server);
                st = HVCTL_OK;
            } else if (m->type == PROTO_MSG_ERROR_REPLY) {
                char text[600];
                hvctl_str_printable(text, sizeof text, m->u.error_reply.message);
                snprintf(e->message, sizeof e->message, "%s: %s",
                         proto_error_code_name(m->u.error_reply.code)
                             ? proto_error_code_name(m->u.error_reply.code)
                             : "?",
                         text);
                e->server_code = m->u.error_reply.code;
                st = e->status = HVCTL_ERR_SERVER;
            }
        }
        hvctl_close(&conn);
        if (st == HVCTL_OK || st == HVCTL_ERR_SERVER || st == HVCTL_ERR_PROTOCOL)
            return st;
        usleep(100 * 1000);
    }
    return HVCTL_ERR_TIMEOUT;
}

static int run_up(struct cli *c, const struct cli_args *a)
{
    uint64_t mem = 512ull << 20, smp = 1, wait_s = UP_DEFAULT_WAIT_S;
    const char *v;
    if ((v = cli_opt(c, a, "mem")) && !cli_parse_size(v, &mem))
        return cli_error(c, HVCTL_EXIT_USAGE,
                         "--mem: expected a size such as 512M or 1G, got \"%s\"", v);
    if (mem < ((uint64_t)UP_MIN_MEM_MIB << 20))
        return cli_error(c, HVCTL_EXIT_USAGE,
                         "--mem: %s cannot boot the default control domain: it needs at least "
                         "%uM (its own 64 MiB and what the hypervisor and firmware keep)",
                         v, UP_MIN_MEM_MIB);
    if ((v = cli_opt(c, a, "smp")) && !cli_parse_u64(v, 1, 64, &smp))
        return cli_error(c, HVCTL_EXIT_USAGE, "--smp: expected 1..64, got \"%s\"", v);
    if (!(v = cli_opt(c, a, "wait")))
        v = getenv("HVCTL_UP_WAIT");
    if (v && !cli_parse_u64(v, 1, 3600, &wait_s))
        return cli_error(c, HVCTL_EXIT_USAGE, "--wait: expected seconds in 1..3600, got \"%s\"", v);
    const char *iso = cli_opt(c, a, "iso");
    if (!iso)
        iso = getenv("HV_ISO") ? getenv("HV_ISO") : "build/hv.iso";
    const char *qemu = cli_opt(c, a, "qemu");
    if (!qemu)
        qemu = getenv("HV_QEMU") ? getenv("HV_QEMU") : "qemu-system-x86_64";
    const char *disk = cli_opt(c, a, "disk");
    bool no_disk = cli_flag(c, a, "no-disk");
    uint64_t disk_size = UP_DEFAULT_DISK_BYTES;
    if (no_disk && disk)
        return cli_error(c, HVCTL_EXIT_USAGE, "--disk and --no-disk exclude each other");
    if ((v = cli_opt(c, a, "disk-size")) && (disk || no_disk || !cli_parse_size(v, &disk_size) ||
                                             disk_size < (2ull << 20) || disk_size % 512 != 0))
        return cli_error(c, HVCTL_EXIT_USAGE,
                         "--disk-size: expected a size of at least 2M, a multiple of 512 "
                         "(e.g. 1G), for the run directory's own image, got \"%s\"",
                         v);
    static struct up_net net;
    char net_why[300];
    if (!up_net_parse(cli_opt(c, a, "net"), &net, net_why, sizeof net_why))
        return cli_error(c, HVCTL_EXIT_USAGE, "%s", net_why);
    if (access(iso, R_OK) != 0)
        return cli_error(c, HVCTL_EXIT_LOCAL, "cannot read the ISO %s (build it, or pass --iso)",
                         iso);
    if (disk && access(disk, R_OK | W_OK) != 0)
        return cli_error(c, HVCTL_EXIT_LOCAL, "cannot open the disk image %s: %s", disk,
                         strerror(errno));
    char eb[HVCTL_PATH_MAX + 128];
    if (!rundir_create(&c->rd, eb, sizeof eb))
        return cli_error(c, HVCTL_EXIT_LOCAL, "%s", eb);
    /* Without --disk or --no-disk the machine gets the run directory's own
     * raw image, created (sparse) on first use and kept: what blkback
     * stores survives `down` and the next `up`. */
    char own_disk[HVCTL_PATH_MAX + 16];
    if (!disk && !no_disk) {
        if (snprintf(own_disk, sizeof own_disk, "%s/" RUN_DISK, c->rd.dir) >= (int)sizeof own_disk)
            return cli_error(c, HVCTL_EXIT_LOCAL, "the run directory's path is too long");
        int fd = open(own_disk, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            int rc = ftruncate(fd, (off_t)disk_size);
            close(fd);
            if (rc != 0) {
                unlink(own_disk);
                return cli_error(c, HVCTL_EXIT_LOCAL, "cannot size the disk image %s: %s", own_disk,
                                 strerror(errno));
            }
            fprintf(c->out, "hvctl up: disk %s created (%" PRIu64 " MiB)\n", own_disk,
                    disk_size >> 20);
        } else if (errno != EEXIST || access(own_disk, R_OK | W_OK) != 0) {
            return cli_error(c, HVCTL_EXIT_LOCAL, "cannot open the disk image %s: %s", own_disk,
                             strerror(errno));
        }
        disk = own_disk;
    }
    long pid;
    if (rundir_pid_read(c->rd.pid_file, &pid) && qemu_alive(pid))
        return cli_error(c, HVCTL_EXIT_LOCAL,
                         "already up (QEMU pid %ld, run directory %s); `hvctl down` first", pid,
                         c->rd.dir);
    struct mux_paths mp;
    mux_paths(c, &mp);
    stop_mux(&mp);
    unlink(c->rd.pid_file);
    unlink(c->rd.com2_sock);
    unlink(mp.qemu_sock);
    struct hvctl_token tok;
    if (!rundir_token_create(c->rd.token_file, &tok, eb, sizeof eb))
        return cli_error(c, HVCTL_EXIT_LOCAL, "%s", eb);

    /* QEMU runs in the run directory and is given its files by name: a
     * socket path must fit in 108 bytes (sun_path), the run directory's
     * need not (unixsock.h). The ISO and disk paths are made absolute. */
    char iso_abs[HVCTL_PATH_MAX], disk_abs[HVCTL_PATH_MAX];
    if (!realpath(iso, iso_abs))
        return cli_error(c, HVCTL_EXIT_LOCAL, "cannot resolve the ISO path %s: %s", iso,
                         strerror(errno));
    if (disk && !realpath(disk, disk_abs))
        return cli_error(c, HVCTL_EXIT_LOCAL, "cannot resolve the disk path %s: %s", disk,
                         strerror(errno));
    char smp_s[16], mem_s[32], drive[HVCTL_PATH_MAX + 48];
    snprintf(smp_s, sizeof smp_s, "%" PRIu64, smp);
    snprintf(mem_s, sizeof mem_s, "%" PRIu64 "M", mem >> 20);
    const char *com1 = "file:" RUN_COM1_LOG, *com2 = "unix:" RUN_QEMU_SOCK ",server=on,wait=off";
    /* The admin token reaches the control domain through fw_cfg. */
    const char *fwcfg = "name=opt/hv/admin-token,file=" RUN_TOKEN;
    snprintf(drive, sizeof drive, "file=%s,format=raw,if=none,id=disk0", disk ? disk_abs : "");
    const char *argv[40];
    int n = 0;
    /* The machine has an IOMMU (docs/devices.md), created before any PCI
     * device so that every one is behind it; the disk is a modern virtio-blk
     * function whose DMA goes through it (iommu_platform). */
    const char *fixed[] = {qemu,
                           "-M",
                           "q35",
                           "-accel",
                           "tcg",
                           "-device",
                           "intel-iommu,intremap=on",
                           "-cpu",
                           "max",
                           "-smp",
                           smp_s,
                           "-m",
                           mem_s,
                           "-display",
                           "none",
                           "-no-reboot",
                           "-serial",
                           com1,
                           "-serial",
                           com2,
                           "-device",
                           "isa-debug-exit,iobase=0xf4,iosize=0x04",
                           "-cdrom",
                           iso_abs,
                           "-fw_cfg",
                           fwcfg,
                           "-daemonize",
                           "-pidfile",
                           RUN_QEMU_PID};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        argv[n++] = fixed[i];
    if (disk) {
        argv[n++] = "-drive";
        argv[n++] = drive;
        argv[n++] = "-device";
        argv[n++] = "virtio-blk-pci,drive=disk0,disable-legacy=on,iommu_platform=on";
    }
    if (net.on) {
        if (!up_net_write(&net, c->rd.dir, net_why, sizeof net_why))
            return cli_error(c, HVCTL_EXIT_LOCAL, "%s", net_why);
        const char *na[] = {"-netdev", net.netdev, "-device", net.device, "-fw_cfg", net.fwcfg};
        for (size_t i = 0; i < sizeof na / sizeof na[0]; i++)
            argv[n++] = na[i];
    } else {
        argv[n++] = "-nic"; /* no NIC: not QEMU's default one */
        argv[n++] = "none";
    }
    argv[n] = NULL;

    fflush(c->out);
    fflush(c->err);
    pid_t child = fork();
    if (child < 0)
        return cli_error(c, HVCTL_EXIT_LOCAL, "fork: %s", strerror(errno));
    if (child == 0) {
        int fd = open(c->rd.qemu_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (nul >= 0)
            dup2(nul, 0);
        umask(077); /* its sockets and files are the user's alone */
        if (chdir(c->rd.dir) != 0) {
            dprintf(2, "hvctl up: cannot enter %s: %s\n", c->rd.dir, strerror(errno));
            _exit(127);
        }
        execvp(qemu, (char *const *)argv);
        dprintf(2, "hvctl up: cannot run %s: %s\n", qemu, strerror(errno));
        _exit(127);
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !rundir_pid_read(c->rd.pid_file, &pid)) {
        cli_error(c, HVCTL_EXIT_LOCAL,
                  "QEMU failed to start (status %d); its output (%s):", WEXITSTATUS(status),
                  c->rd.qemu_log);
        print_tail(c, c->rd.qemu_log, 10);
        return HVCTL_EXIT_LOCAL;
    }
    long mux_pid = start_mux(c, &mp, pid, (uint32_t)(wait_s * 1000));
    if (mux_pid < 0) {
        stop_qemu(pid);
        unlink(c->rd.pid_file);
        return cli_error(c, HVCTL_EXIT_LOCAL, "cannot start the broker: fork: %s", strerror(errno));
    }
    fprintf(c->out,
            "hv: QEMU pid %ld (smp %" PRIu64 ", memory %s, %s)\n"
            "hv: run directory %s: COM1 log %s, control socket %s, admin token %s\n"
            "hv: broker pid %ld (any number of hvctl at once; log %s)\n"
            "hv: waiting up to %" PRIu64 " s for the control domain to answer...\n",
            pid, smp, mem_s, iso, c->rd.dir, c->rd.com1_log, c->rd.com2_sock, c->rd.token_file,
            mux_pid, mp.log_file, wait_s);
    fflush(c->out);
    uint64_t t0 = now_ms();
    char server[80] = "";
    struct hvctl_error e;
    enum hvctl_status st = wait_hello(c, pid, (uint32_t)(wait_s * 1000), server, sizeof server, &e);
    if (st == HVCTL_OK) {
        fprintf(c->out, "hv: up in %.1f s; the control domain (%s) answers on %s\n",
                (double)(now_ms() - t0) / 1000, server, c->socket_path);
        return 0;
    }
    int code;
    if (st == HVCTL_ERR_TIMEOUT)
        code = cli_error(c, HVCTL_EXIT_TIMEOUT,
                         "the control domain did not answer hello on %s within %" PRIu64
                         " s (QEMU pid %ld is running; the control domain may not implement the "
                         "control protocol "
                         "yet). Last lines of %s:",
                         c->socket_path, wait_s, pid, c->rd.com1_log);
    else if (st == HVCTL_ERR_CLOSED && !qemu_alive(pid))
        code = cli_error(c, HVCTL_EXIT_LOCAL,
                         "QEMU exited while booting. Last lines of %s:", c->rd.com1_log);
    else
        code = cli_fail(c, st, &e);
    print_tail(c, c->rd.com1_log, 6);
    if (cli_flag(c, a, "keep")) {
        fprintf(c->err, "hvctl up: --keep: QEMU left running; `hvctl down` stops it\n");
    } else {
        stop_mux(&mp);
        if (qemu_alive(pid)) {
            stop_qemu(pid);
            unlink(c->rd.pid_file);
            fprintf(c->err, "hvctl up: QEMU stopped (--keep leaves it running)\n");
        }
    }
    return code;
}

const struct cli_command cli_cmd_up = {
    .name = "up",
    .usage = "[--mem SIZE] [--smp N] [--disk FILE | --disk-size SIZE | --no-disk] [--net SPEC] "
             "[--iso ISO] [--wait S] [--keep]",
    .summary = "Start the machine (QEMU, in the background) and wait for the control domain.",
    .details =
        "Creates the run directory with the admin token (mode 0600), starts QEMU with\n"
        "COM1 to RUN_DIR/com1.log and COM2 on RUN_DIR/qemu-com2.sock, starts the broker\n"
        "(hvctl-mux: holds COM2, serves any number of clients on RUN_DIR/com2.sock;\n"
        "pid in RUN_DIR/mux.pid, log in RUN_DIR/mux.log), and returns once the control\n"
        "domain answers hello. Exit 5 if it does not answer in time.\n"
        "The machine gets a raw virtio disk: --disk FILE, else RUN_DIR/disk.img,\n"
        "created sparse on first use (--disk-size, default 1G) and kept across\n"
        "down and up (blkback keeps its volume table there); --no-disk for none.\n"
        "--net gives it a virtio-net NIC, and the control domain starts netback on\n"
        "it: tap:IFNAME (a tap device, e.g. in a network namespace you made) or\n"
        "user (QEMU's own network, restrict=on; fwd=PORT forwards 127.0.0.1:PORT\n"
        "to the external address), then ,address=A.B.C.D/LEN (default\n" UP_NET_DEFAULT_ADDRESS
        ") and ,gateway=A.B.C.D. Without it: no NIC.\n"
        "Environment: HV_ISO, HV_QEMU, HVCTL_UP_WAIT (seconds).\n",
    .opts = {{"mem", 'm', true, "SIZE", "machine memory (default 512M, at least 75M)"},
             {"smp", 0, true, "N", "CPUs (default 1)"},
             {"disk", 0, true, "FILE",
              "raw disk image, attached as virtio (default: RUN_DIR/disk.img)"},
             {"disk-size", 0, true, "SIZE",
              "size of RUN_DIR/disk.img when it is created (default 1G)"},
             {"no-disk", 0, false, NULL, "no disk at all"},
             {"net", 0, true, "SPEC",
              "a NIC for netback: none, tap:IFNAME or user[,fwd=PORT] [,address=A/LEN]"
              "[,gateway=G]"},
             {"iso", 0, true, "ISO", "image to boot (default $HV_ISO or build/hv.iso)"},
             {"qemu", 0, true, "PATH", "QEMU binary (default $HV_QEMU or qemu-system-x86_64)"},
             {"wait", 'w', true, "S", "seconds to wait for the control domain (default 60)"},
             {"keep", 0, false, NULL, "leave QEMU running if the control domain does not answer"}},
    .run = run_up};

static int run_down(struct cli *c, const struct cli_args *a)
{
    long pid;
    struct mux_paths mp;
    mux_paths(c, &mp);
    /* The broker and QEMU at once; return as soon as both are gone. */
    if (!rundir_pid_read(c->rd.pid_file, &pid) || !qemu_alive(pid))
        pid = 0;
    struct stopping s[2] = {{mux_pid(&mp), MUX_TERM_MS, false}, {pid, QEMU_TERM_MS, false}};
    bool stopped = stop_all(s, 2);
    unlink(mp.pid_file);
    if (!pid) {
        unlink(c->rd.pid_file);
        unlink(mp.qemu_sock);
        fprintf(c->out, "hv: not running (run directory %s)\n", c->rd.dir);
        return 0;
    }
    if (!stopped && !proc_gone(pid))
        return cli_error(c, HVCTL_EXIT_LOCAL, "QEMU pid %ld did not stop", pid);
    unlink(c->rd.pid_file);
    unlink(c->rd.com2_sock);
    unlink(mp.qemu_sock);
    unlink(c->rd.token_file); /* tokens die with the machine */
    fprintf(c->out, "hv: stopped QEMU pid %ld\n", pid);
    return 0;
}

const struct cli_command cli_cmd_down = {
    .name = "down",
    .usage = "",
    .summary = "Stop the machine started by `hvctl up` and its broker (SIGTERM, then SIGKILL).",
    .run = run_down};

static int run_status(struct cli *c, const struct cli_args *a)
{
    long pid = 0;
    bool alive = rundir_pid_read(c->rd.pid_file, &pid) && qemu_alive(pid);
    struct mux_paths mp;
    mux_paths(c, &mp);
    long mpid = 0;
    bool mux = rundir_pid_read(mp.pid_file, &mpid) && mux_alive(mpid);
    char server[80] = "";
    struct hvctl_error e = {0};
    enum hvctl_status st = HVCTL_ERR_CONNECT;
    uint32_t wait_ms = c->timeout_ms < 3000 ? c->timeout_ms : 3000;
    if (alive || access(c->socket_path, F_OK) == 0)
        st = wait_hello(c, alive ? pid : -1, wait_ms, server, sizeof server, &e);
    if (st == HVCTL_ERR_TIMEOUT)
        snprintf(e.message, sizeof e.message, "no answer to hello within %u ms", wait_ms);
    if (c->json) {
        fprintf(c->out,
                "{\"run-dir\":\"%s\",\"qemu-pid\":%ld,\"qemu-running\":%s,\"socket\":\"%s\","
                "\"broker-pid\":%ld,\"broker-running\":%s,\"answering\":%s}\n",
                c->rd.dir, alive ? pid : 0, alive ? "true" : "false", c->socket_path,
                mux ? mpid : 0, mux ? "true" : "false", st == HVCTL_OK ? "true" : "false");
    } else {
        fprintf(c->out, "run directory:  %s\n", c->rd.dir);
        if (alive)
            fprintf(c->out, "QEMU:           running, pid %ld\n", pid);
        else
            fprintf(c->out, "QEMU:           not running\n");
        if (mux)
            fprintf(c->out, "broker:         running, pid %ld (log %s)\n", mpid, mp.log_file);
        else
            fprintf(c->out, "broker:         not running\n");
        fprintf(c->out, "control socket: %s\n", c->socket_path);
        if (st == HVCTL_OK)
            fprintf(c->out, "control domain: answering (%s)\n", server);
        else
            fprintf(c->out, "control domain: not answering%s%s\n", alive ? ": " : "",
                    alive ? e.message : "");
    }
    return st == HVCTL_OK ? 0 : HVCTL_EXIT_CONNECT;
}

const struct cli_command cli_cmd_status = {
    .name = "status",
    .usage = "[--json]",
    .summary = "Is QEMU running, and does the control domain answer? (exit 0 yes, 3 no)",
    .run = run_status};
