#!/usr/bin/env python3
"""reap.py CMD [ARG...]: runs a test command so that nothing it starts
outlives it.

QEMU (-daemonize), the hvctl broker (its own session) and whatever else a test
starts may leave its process tree: `hvctl up` exits and they are re-parented.
This runner becomes their parent instead (PR_SET_CHILD_SUBREAPER), so they stay
in its tree:
  - when CMD exits (passed, failed, or killed), every process left in the tree
    gets SIGTERM, then SIGKILL after REAP_GRACE_S, until none is left; the
    runner exits with CMD's status (128 + signal if a signal ended it);
  - when CTest gives up on the test (its timeout), it kills this runner's
    whole tree, the strays included (they are this runner's children);
  - when the runner's parent dies (make check interrupted, CTest killed), the
    runner is sent SIGTERM (PR_SET_PDEATHSIG) and does the same as on SIGTERM,
    SIGINT or SIGHUP: CMD gets SIGTERM, then everything is reaped as above.
Prints one line to stderr naming what it had to stop, if anything.
"""
import ctypes
import os
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
REAP_GRACE_S = 3.0

libc = ctypes.CDLL(None, use_errno=True)


def prctl(op, arg):
    if libc.prctl(op, ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0),
                  ctypes.c_ulong(0)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "prctl(%d): %s" % (op, os.strerror(err)))


def children():
    """(pid, name) of this process's children, from /proc."""
    me, out = os.getpid(), []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        rest = st[st.rfind(")") + 2:].split()
        if len(rest) > 1 and int(rest[1]) == me and rest[0] != "Z":
            out.append((int(d), st[st.find("(") + 1:st.rfind(")")]))
    return out


def reap_zombies():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def stop_strays():
    """SIGTERM, then SIGKILL, to every child until none is left (their own
    children come to this process as they are orphaned)."""
    stopped = []
    while True:
        reap_zombies()
        kids = children()
        if not kids:
            break
        stopped += ["%s (pid %d)" % (name, pid) for pid, name in kids
                    if "%s (pid %d)" % (name, pid) not in stopped]
        for pid, _ in kids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + REAP_GRACE_S
        while time.monotonic() < deadline and children():
            reap_zombies()
            time.sleep(0.02)
        for pid, _ in children():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    if stopped:
        print("reap: stopped what the test left running: %s" % ", ".join(stopped),
              file=sys.stderr, flush=True)


def main():
    if len(sys.argv) < 2:
        print("usage: reap.py CMD [ARG...]", file=sys.stderr)
        return 2
    parent = os.getppid()
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before PDEATHSIG was set
        return 1
    cmd = 0

    def on_signal(signum, frame):
        if cmd > 0:
            try:
                os.kill(cmd, signal.SIGTERM)
            except ProcessLookupError:
                pass

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    cmd = os.fork()
    if cmd == 0:
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL)
        try:
            os.execvp(sys.argv[1], sys.argv[1:])
        except OSError as e:
            print("reap: cannot run %s: %s" % (sys.argv[1], e), file=sys.stderr)
        os._exit(127)
    status = None
    while status is None:
        try:
            pid, st = os.waitpid(-1, 0)  # the command, or an orphan of it
        except InterruptedError:
            continue
        except ChildProcessError:
            break
        if pid == cmd:
            status = st
    stop_strays()
    if status is None:
        return 1
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main())
