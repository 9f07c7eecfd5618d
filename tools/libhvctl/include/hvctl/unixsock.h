/*
 * Unix socket paths of any length. A sockaddr_un holds at most 107 bytes of
 * path, so a checkout or run directory deep in the file system (the suite runs
 * from a 150-character checkout path) cannot name its sockets directly. For a
 * path that does not fit, the directory is opened (O_PATH) and the socket is
 * named through the short /proc/self/fd/N/LEAF instead; only the last
 * component (the socket's own name) must then fit. Linux-only, like the rest
 * of hvctl. docs/hvctl.md, "The run directory".
 *
 * QEMU names its own sockets; hvctl up, run-qemu.sh and the test harness
 * therefore start it inside the run directory with a relative socket name.
 */
#ifndef HVCTL_UNIXSOCK_H
#define HVCTL_UNIXSOCK_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

struct unix_path {
    struct sockaddr_un sa;
    socklen_t len;
    int dirfd;   /* the O_PATH descriptor behind /proc/self/fd/N, or -1 */
    bool via_fd; /* sa names the socket through dirfd */
};

/* Fills u for path; true on success. A path that fits sun_path is used as it
 * is; a longer one through its directory's descriptor. false with errno:
 * ENAMETOOLONG (the last component alone does not fit, or path is empty or
 * ends in '/'), or the error of opening the directory. */
bool unix_path_open(struct unix_path *u, const char *path);
void unix_path_close(struct unix_path *u);

/* A connected stream socket (flags: SOCK_CLOEXEC, SOCK_NONBLOCK), or -1 with
 * errno. */
int unix_connect(const char *path, int flags);

/* A listening stream socket bound at path (an existing socket file there is
 * replaced) with the file's mode set to mode (e.g. 0600; umask-independent),
 * or -1 with errno. */
int unix_listen(const char *path, int backlog, mode_t mode, int flags);

#endif
