/* Unix socket paths of any length (unixsock.h). */
#include "hvctl/unixsock.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool unix_path_open(struct unix_path *u, const char *path)
{
    memset(u, 0, sizeof *u);
    u->dirfd = -1;
    u->sa.sun_family = AF_UNIX;
    size_t len = strlen(path);
    if (len == 0) {
        errno = ENAMETOOLONG;
        return false;
    }
    if (len < sizeof u->sa.sun_path) {
        memcpy(u->sa.sun_path, path, len + 1);
        u->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
        return true;
    }
    const char *slash = strrchr(path, '/');
    const char *leaf = slash ? slash + 1 : path;
    if (!*leaf) {
        errno = ENAMETOOLONG;
        return false;
    }
    int fd;
    if (!slash) {
        fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    } else if (slash == path) {
        fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    } else {
        /* The directory part may be as long as PATH_MAX: copy it. */
        char dir[4096];
        size_t dlen = (size_t)(slash - path);
        if (dlen >= sizeof dir) {
            errno = ENAMETOOLONG;
            return false;
        }
        memcpy(dir, path, dlen);
        dir[dlen] = '\0';
        fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd < 0)
        return false;
    int n = snprintf(u->sa.sun_path, sizeof u->sa.sun_path, "/proc/self/fd/%d/%s", fd, leaf);
    if (n < 0 || (size_t)n >= sizeof u->sa.sun_path) {
        close(fd);
        errno = ENAMETOOLONG;
        return false;
    }
    u->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
    u->dirfd = fd;
    u->via_fd = true;
    return true;
}

void unix_path_close(struct unix_path *u)
{
    if (u->dirfd >= 0)
        close(u->dirfd);
    u->dirfd = -1;
}

int unix_connect(const char *path, int flags)
{
    struct unix_path u;
    if (!unix_path_open(&u, path))
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | flags, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&u.sa, u.len) != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        fd = -1;
        errno = e;
    }
    int e = errno;
    unix_path_close(&u);
    errno = e;
    return fd;
}

int unix_listen(const char *path, int backlog, mode_t mode, int flags)
{
    struct unix_path u;
    if (!unix_path_open(&u, path))
        return -1;
    /* The name inside the directory the address resolves in. */
    const char *slash = strrchr(path, '/');
    const char *leaf = u.via_fd ? (slash ? slash + 1 : path) : path;
    int at = u.via_fd ? u.dirfd : AT_FDCWD;
    struct stat st;
    if (fstatat(at, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode))
        unlinkat(at, leaf, 0);
    int fd = socket(AF_UNIX, SOCK_STREAM | flags, 0);
    bool bound = fd >= 0 && bind(fd, (struct sockaddr *)&u.sa, u.len) == 0;
    /* Nobody can connect before listen(): the mode is right by then. */
    if (!bound || fchmodat(at, leaf, mode, 0) != 0 || listen(fd, backlog) != 0) {
        int e = errno;
        if (bound)
            unlinkat(at, leaf, 0);
        if (fd >= 0)
            close(fd);
        unix_path_close(&u);
        errno = e;
        return -1;
    }
    unix_path_close(&u);
    return fd;
}
