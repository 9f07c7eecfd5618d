/*
 * Unix socket paths of any length (tools/libhvctl/unixsock.c): the suite and
 * `hvctl up` must work from a checkout whose path is 150 characters long, where
 * build/test-logs/NAME/com2.sock is far beyond sun_path's 108 bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "hvctl/client.h"
#include "hvctl/unixsock.h"

static char g_top[64];
static char g_deep[1024]; /* a directory whose path is far beyond sun_path */

/* Creates g_top (mkdtemp) and below it a chain of directories until the
 * path is at least min_len long. */
static void make_deep(size_t min_len)
{
    snprintf(g_top, sizeof g_top, "/tmp/hvctl-unixsock-XXXXXX");
    assert_non_null(mkdtemp(g_top));
    snprintf(g_deep, sizeof g_deep, "%s", g_top);
    while (strlen(g_deep) < min_len) {
        size_t n = strlen(g_deep);
        snprintf(g_deep + n, sizeof g_deep - n, "/%s", "a-directory-of-a-deep-checkout");
        assert_int_equal(mkdir(g_deep, 0700), 0);
    }
}

static void rm_tree(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_top);
    assert_int_equal(system(cmd), 0);
}

/* listen at path, connect to it, exchange a byte, check the file's mode. */
static void round_trip(const char *path)
{
    int l = unix_listen(path, 4, 0600, SOCK_CLOEXEC);
    assert_true(l >= 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    int c = unix_connect(path, SOCK_CLOEXEC);
    assert_true(c >= 0);
    int a = accept(l, NULL, NULL);
    assert_true(a >= 0);
    assert_int_equal(write(c, "x", 1), 1);
    char b = 0;
    assert_int_equal(read(a, &b, 1), 1);
    assert_int_equal(b, 'x');
    close(a);
    close(c);
    close(l);
    assert_int_equal(unlink(path), 0);
}

static void test_short_path_as_is(void **state)
{
    (void)state;
    make_deep(0);
    char path[128];
    snprintf(path, sizeof path, "%s/com2.sock", g_top);
    struct unix_path u;
    assert_true(unix_path_open(&u, path));
    assert_false(u.via_fd);
    assert_string_equal(u.sa.sun_path, path);
    unix_path_close(&u);
    round_trip(path);
    rm_tree();
}

/* The exact case of the issue: a 150-character checkout, its build tree's
 * test-logs/NAME/com2.sock; and a path of several hundred bytes. */
static void test_long_paths(void **state)
{
    (void)state;
    size_t lens[] = {150 + sizeof "/build/test-logs/control_console_input", 400, 900};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        make_deep(lens[i]);
        char path[1100];
        snprintf(path, sizeof path, "%s/com2.sock", g_deep);
        assert_true(strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path));
        struct unix_path u;
        assert_true(unix_path_open(&u, path));
        assert_true(u.via_fd);
        assert_true(u.dirfd >= 0);
        assert_non_null(strstr(u.sa.sun_path, "/proc/self/fd/"));
        unix_path_close(&u);
        assert_int_equal(u.dirfd, -1);
        round_trip(path);
        rm_tree();
    }
}

/* A long relative path resolves against the working directory. */
static void test_long_relative_path(void **state)
{
    (void)state;
    make_deep(300);
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(g_top), 0);
    const char *rel = g_deep + strlen(g_top) + 1;
    char path[1100];
    snprintf(path, sizeof path, "%s/r.sock", rel);
    assert_true(strlen(path) >= 108);
    round_trip(path);
    /* A bare name in the working directory. */
    assert_int_equal(chdir(g_deep), 0);
    round_trip("bare.sock");
    assert_int_equal(chdir(cwd), 0);
    rm_tree();
}

static void test_refusals(void **state)
{
    (void)state;
    make_deep(200);
    struct unix_path u;
    char path[1400];
    /* The socket's own name alone does not fit. */
    char leaf[200];
    memset(leaf, 'n', sizeof leaf - 1);
    leaf[sizeof leaf - 1] = 0;
    snprintf(path, sizeof path, "%s/%s", g_deep, leaf);
    errno = 0;
    assert_false(unix_path_open(&u, path));
    assert_int_equal(errno, ENAMETOOLONG);
    assert_int_equal(unix_connect(path, 0), -1);
    assert_int_equal(errno, ENAMETOOLONG);
    /* No name at all. */
    snprintf(path, sizeof path, "%s/", g_deep);
    assert_false(unix_path_open(&u, path));
    assert_int_equal(errno, ENAMETOOLONG);
    assert_false(unix_path_open(&u, ""));
    /* A long path through a directory that does not exist. */
    snprintf(path, sizeof path, "%s/missing/com2.sock", g_deep);
    assert_int_equal(unix_connect(path, 0), -1);
    assert_int_equal(errno, ENOENT);
    /* Nothing listens there: refused, not a crash. */
    snprintf(path, sizeof path, "%s/stale.sock", g_deep);
    int l = unix_listen(path, 1, 0600, 0);
    assert_true(l >= 0);
    close(l);
    assert_int_equal(unix_connect(path, 0), -1);
    assert_int_equal(errno, ECONNREFUSED);
    /* listen replaces the stale socket file ... */
    round_trip(path);
    /* ... but never a regular file of that name. */
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(unix_listen(path, 1, 0600, 0), -1);
    assert_int_equal(errno, EADDRINUSE);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    rm_tree();
}

/* hvctl_connect (every hvctl command) reaches a long path; its errors name
 * the path. */
static void test_client_long_path(void **state)
{
    (void)state;
    make_deep(250);
    char path[1100];
    snprintf(path, sizeof path, "%s/com2.sock", g_deep);
    struct hvctl_conn c;
    struct hvctl_error e;
    assert_false(hvctl_connect(&c, path, &e));
    assert_non_null(strstr(e.message, "no control socket at"));
    int l = unix_listen(path, 1, 0600, 0);
    assert_true(l >= 0);
    assert_true(hvctl_connect(&c, path, &e));
    hvctl_close(&c);
    close(l);
    rm_tree();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_path_as_is),   cmocka_unit_test(test_long_paths),
        cmocka_unit_test(test_long_relative_path), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_client_long_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
