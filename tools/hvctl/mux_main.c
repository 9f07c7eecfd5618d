/*
 * hvctl-mux: the broker as a program of its own, for scripts/run-qemu.sh
 * (`make run`), which starts QEMU itself. `hvctl up` does not use it: it
 * forks the same code (mux.c). docs/hvctl.md, "The broker".
 *
 *   hvctl-mux --qemu-socket PATH --listen PATH [--pid-file FILE] [--log FILE]
 *             [--qemu-pid PID] [--wait SECONDS]
 *
 * --wait 0 (the default) waits for QEMU's socket and the control domain's
 * hello-reply without a limit (`make run --gdb` may sit in the debugger).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mux.h"

static int usage(void)
{
    fprintf(stderr, "usage: hvctl-mux --qemu-socket PATH --listen PATH [--pid-file FILE] "
                    "[--log FILE] [--qemu-pid PID] [--wait SECONDS]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *qemu = NULL, *listen_path = NULL, *pid_file = NULL, *log_path = NULL;
    long qemu_pid = 0;
    unsigned long wait_s = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        if (!v)
            return usage();
        if (!strcmp(a, "--qemu-socket"))
            qemu = v;
        else if (!strcmp(a, "--listen"))
            listen_path = v;
        else if (!strcmp(a, "--pid-file"))
            pid_file = v;
        else if (!strcmp(a, "--log"))
            log_path = v;
        else if (!strcmp(a, "--qemu-pid")) {
            errno = 0;
            qemu_pid = strtol(v, &end, 10);
            if (errno || *end || qemu_pid < 0)
                return usage();
        } else if (!strcmp(a, "--wait")) {
            errno = 0;
            wait_s = strtoul(v, &end, 10);
            if (errno || *end || wait_s > 86400)
                return usage();
        } else
            return usage();
        i++;
    }
    if (!qemu || !listen_path)
        return usage();
    FILE *log = stderr;
    if (log_path && !(log = fopen(log_path, "ae"))) {
        fprintf(stderr, "hvctl-mux: cannot open %s: %s\n", log_path, strerror(errno));
        return 1;
    }
    if (pid_file) {
        FILE *f = fopen(pid_file, "we");
        if (!f) {
            fprintf(stderr, "hvctl-mux: cannot write %s: %s\n", pid_file, strerror(errno));
            return 1;
        }
        fprintf(f, "%ld\n", (long)getpid());
        fclose(f);
    }
    struct mux_opts o = {.qemu_sock = qemu,
                         .listen_sock = listen_path,
                         .qemu_pid = qemu_pid,
                         .wait_ms = (uint32_t)(wait_s * 1000u),
                         .log = log};
    int rc = hvctl_mux_run(&o);
    if (pid_file)
        unlink(pid_file);
    return rc;
}
