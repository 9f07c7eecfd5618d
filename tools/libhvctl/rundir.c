/* Run directory paths, the admin token file and the pid file (rundir.h). */
#include "hvctl/rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvlib/hex.h"

static bool join(char *out, const char *dir, const char *leaf)
{
    int n = snprintf(out, HVCTL_PATH_MAX, "%s/%s", dir, leaf);
    return n > 0 && (size_t)n < HVCTL_PATH_MAX;
}

bool rundir_resolve(struct rundir *rd, const char *explicit_dir)
{
    const char *dir = explicit_dir;
    if (!dir || !*dir)
        dir = getenv("HV_RUN_DIR");
    if (!dir || !*dir)
        dir = "run";
    size_t len = strlen(dir);
    if (len >= HVCTL_PATH_MAX - 32)
        return false;
    memcpy(rd->dir, dir, len + 1);
    while (len > 1 && rd->dir[len - 1] == '/')
        rd->dir[--len] = '\0';
    return join(rd->com2_sock, rd->dir, RUN_COM2_SOCK) &&
           join(rd->com1_log, rd->dir, RUN_COM1_LOG) && join(rd->qemu_log, rd->dir, RUN_QEMU_LOG) &&
           join(rd->pid_file, rd->dir, RUN_QEMU_PID) && join(rd->token_file, rd->dir, RUN_TOKEN);
}

bool rundir_create(const struct rundir *rd, char *errbuf, size_t errcap)
{
    if (mkdir(rd->dir, 0700) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(rd->dir, &st) == 0 && S_ISDIR(st.st_mode))
            return true;
        snprintf(errbuf, errcap, "%s exists and is not a directory", rd->dir);
        return false;
    }
    snprintf(errbuf, errcap, "cannot create %s: %s", rd->dir, strerror(errno));
    return false;
}

bool rundir_token_write(const char *path, const struct hvctl_token *tok, char *errbuf,
                        size_t errcap)
{
    char tmp[HVCTL_PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(errbuf, errcap, "cannot create %s: %s", tmp, strerror(errno));
        return false;
    }
    char hex[2 * HVCTL_TOKEN_MAX_BYTES + 2];
    for (uint32_t i = 0; i < tok->len; i++)
        snprintf(hex + 2 * i, 3, "%02x", tok->bytes[i]);
    hex[2 * tok->len] = '\n';
    size_t n = 2 * (size_t)tok->len + 1;
    bool ok = fchmod(fd, 0600) == 0 && write(fd, hex, n) == (ssize_t)n && fsync(fd) == 0;
    int saved = errno;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            saved = errno;
        unlink(tmp);
        snprintf(errbuf, errcap, "cannot write %s: %s", path, strerror(saved));
        return false;
    }
    return true;
}

bool rundir_token_create(const char *path, struct hvctl_token *out, char *errbuf, size_t errcap)
{
    out->len = HVCTL_TOKEN_BYTES;
    if (getrandom(out->bytes, HVCTL_TOKEN_BYTES, 0) != (ssize_t)HVCTL_TOKEN_BYTES) {
        snprintf(errbuf, errcap, "getrandom: %s", strerror(errno));
        return false;
    }
    return rundir_token_write(path, out, errbuf, errcap);
}

bool rundir_token_read(const char *path, struct hvctl_token *out, char *errbuf, size_t errcap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(errbuf, errcap, "cannot open token file %s: %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(errbuf, errcap, "token file %s is not a regular file", path);
        return false;
    }
    if (st.st_mode & 077) {
        close(fd);
        snprintf(
            errbuf, errcap,
            "token file %s has mode %03o: it must not be accessible by group or others (chmod 600)",
            path, (unsigned)(st.st_mode & 0777));
        return false;
    }
    char buf[2 * HVCTL_TOKEN_MAX_BYTES + 4];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n < 0) {
        snprintf(errbuf, errcap, "cannot read %s: %s", path, strerror(errno));
        return false;
    }
    size_t bad;
    size_t len = hv_hex_decode(buf, (size_t)n, out->bytes, HVCTL_TOKEN_MAX_BYTES, &bad);
    if (len == 0 && bad == HV_HEX_BAD_LENGTH) {
        snprintf(errbuf, errcap, "token file %s: expected 2..%u hex digits (an even count)", path,
                 2 * HVCTL_TOKEN_MAX_BYTES);
        return false;
    }
    if (len == 0) {
        snprintf(errbuf, errcap, "token file %s: not a hex digit at byte %zu", path, bad);
        return false;
    }
    out->len = (uint32_t)len;
    return true;
}

bool rundir_pid_read(const char *path, long *pid_out)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    char buf[32] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *end;
    errno = 0;
    long pid = strtol(buf, &end, 10);
    while (*end == '\n' || *end == ' ')
        end++;
    if (errno || end == buf || *end || pid <= 1)
        return false;
    *pid_out = pid;
    return true;
}
