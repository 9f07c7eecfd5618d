#!/usr/bin/env python3
"""QEMU tests of the hvctl broker (hvctl-mux, docs/hvctl.md "The broker"):
several clients on the control socket at once.

Each scenario starts its own machine with `hvctl up` (which starts the
broker), drives it with several hvctl processes at once, and stops it with
`hvctl down` (also on failure). Prints "control_mux_test: NAME: passed" only
if every check held. The helpers come from control_test.py.

  concurrent  `hvctl console echo` attached and `hvctl log -f` running while
              other hvctl processes run list / create (with its upload) /
              destroy: all are served; the console keeps its stream through
              every other client's hello; input still reaches the guest; the
              follower sees the create and destroy.
  garbage     a raw client sends garbage, an oversized frame header and an
              undecodable frame while `log -f` runs and other clients list;
              the raw client gets error-replies (too-large, invalid) and is
              closed after 1 MiB of garbage; the others are unaffected.
  killed      `hvctl console` and `hvctl log -f` killed (SIGKILL) mid-stream,
              and `hvctl create` killed mid-upload: a new console attaches
              without --force (the broker detached the dead one), the other
              follower keeps streaming, and the create succeeds when run
              again.
  flood       eleven processes hold (and reopen) 3,000 unauthenticated
              connections: a `log -f` started before keeps streaming,
              `hvctl list` and `hvctl create` still work (issue 20 item 4).
"""
import argparse
import os
import signal
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

import control_test as ct
from control_test import Fail, check, hvctl, list_names, manifest, upload, wait_state


class Bg:
    """An hvctl process in the background; its output is collected."""

    def __init__(self, *args, stdin=False):
        self.p = subprocess.Popen([ct.ARGS.hvctl, "--run-dir", ct.RUN, "--timeout", ct.WAIT_S]
                                  + list(args),
                                  stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.buf = b""
        self.lock = threading.Lock()
        self.th = threading.Thread(target=self._read, daemon=True)
        self.th.start()
        print("started: hvctl %s (pid %d)" % (" ".join(args), self.p.pid))

    def _read(self):
        while True:
            d = self.p.stdout.read1(65536)
            if not d:
                return
            with self.lock:
                self.buf += d

    def text(self):
        with self.lock:
            return self.buf.decode(errors="replace")

    def wait_for(self, what, seconds=None):
        seconds = seconds or ct.WAIT  # a hang-catcher: returns as soon as it is seen
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if what in self.text():
                return True
            if self.p.poll() is not None:
                time.sleep(0.2)
                return what in self.text()
            time.sleep(0.1)
        return False

    def send(self, data):
        self.p.stdin.write(data.encode())
        self.p.stdin.flush()

    def alive(self):
        return self.p.poll() is None

    def kill(self, sig=signal.SIGTERM):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            self.p.wait(ct.WAIT)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.th.join(5)
        print("--- output of pid %d ---\n%s" % (self.p.pid, self.text().rstrip()))


def echo_guest():
    upload(ct.ARGS.echo)
    m = manifest("echo", ct.ARGS.echo, "on_poweroff: preserve\n")
    hvctl("create", "-f", m)


def t_concurrent():
    echo_guest()
    con = Bg("console", "echo", stdin=True)
    follow = Bg("log", "-f")
    try:
        check("the console replays the guest's history", con.wait_for("echo: ready"))
        check("log -f streams the first batch", follow.wait_for("domain-create"))
        # Other clients while the console and the follower are connected.
        t0 = time.monotonic()
        names = list_names()
        print("list with two other clients connected: %.2f s" % (time.monotonic() - t0))
        check("list is served while a console is attached", "echo" in names)
        m = manifest("other", ct.ARGS.hello, "on_poweroff: preserve\n")
        out = hvctl("create", "-f", m)
        check("create (with its upload) is served meanwhile", "created other (id " in out)
        check("other is listed", "other" in list_names())
        hvctl("destroy", "other")
        check("other is gone", "other" not in list_names())
        check("the console is still attached after the others' hellos", con.alive())
        con.send("through the broker\n")
        check("console input still reaches the guest and its answer comes back",
              con.wait_for("echo: through the broker"))
        check("log -f saw the other client's create",
              follow.wait_for("other") and "domain-create" in follow.text())
        check("log -f saw the other client's destroy", follow.wait_for("domain-destroy"))
        check("log -f is still running", follow.alive())
        # A second attach to the same console is refused (one writer)
        # without disturbing the first.
        out = hvctl("console", "echo", rc=1)
        check("a second writer is refused conflict", "conflict" in out)
        con.send("still mine\n")
        check("the first console is unaffected", con.wait_for("echo: still mine"))
        con.p.stdin.close()  # end of input detaches
        con.p.wait(ct.WAIT)
        check("hvctl console detached cleanly",
              con.p.returncode == 0 and "[detached from echo]" in con.text())
        follow.kill()
        check("log -f ended by the user only (it was running)", "domain-destroy" in follow.text())
        check("a new console attaches without --force",
              "echo: ready" in ct.driver("console", ct.sock(), ct.admin(), "echo", "echo: ready",
                                         ct.WAIT_S))
    finally:
        con.kill()
        follow.kill()


def read_frames(sk, seconds, until=None):
    """Reads from sk for up to seconds, or until until(bytes read so far):
    (bytes read, closed by the peer)."""
    sk.settimeout(0.2)
    data, deadline = b"", time.monotonic() + seconds
    while time.monotonic() < deadline and not (until and until(data)):
        try:
            d = sk.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return data, True
        if not d:
            return data, True
        data += d
    return data, False


def frame(payload):
    hdr = b"HVF1" + struct.pack("<I", len(payload))
    return hdr + struct.pack("<I", crc32c(hdr)) + payload + struct.pack("<I", crc32c(payload))


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def t_garbage():
    follow = Bg("log", "-f")
    raw = None
    try:
        check("log -f streams", follow.wait_for("start"))
        raw = ct.unix_connect(ct.sock())
        # An oversized frame header (1 MiB announced, valid header CRC).
        hdr = b"HVF1" + struct.pack("<I", 1 << 20)
        raw.sendall(hdr + struct.pack("<I", crc32c(hdr)))
        # A valid frame that is not CBOR.
        raw.sendall(frame(b"\xff\xfe\x00"))
        got, closed = read_frames(raw, ct.WAIT, lambda d: d.count(b"HVF1") >= 2)
        check("the raw client got answers (%d bytes)" % len(got), got.count(b"HVF1") >= 2)
        check("the raw client is still connected after one bad frame", not closed)
        # Meanwhile another client is served.
        check("list is served while a client sends garbage", list_names() == ["control"])
        # A flood of garbage: the raw client is closed, nobody else notices.
        blob = bytes((i * 7 + 3) & 0xFF for i in range(65536)).replace(b"H", b"h")
        sent = 0
        try:
            while sent < (3 << 20):
                raw.sendall(blob)
                sent += len(blob)
                if sent % (1 << 20) == 0:
                    check("list is served during the flood", list_names() == ["control"])
        except OSError as e:
            print("the broker closed the flooding client after %d bytes: %s" % (sent, e))
        _, closed = read_frames(raw, ct.WAIT)
        check("the flooding client was closed", closed)
        # The control domain still serves: the existing garbage scenario
        # of control_driver, through the broker.
        ct.driver("garbage", ct.sock(), ct.admin())
        hvctl("destroy", "nosuch", rc=1)
        check("log -f still streams (it saw the refused destroy)",
              follow.wait_for("domain-destroy"))
        check("log -f is still running", follow.alive())
        with open(os.path.join(ct.RUN, "mux.log")) as f:
            mlog = f.read()
        print("--- mux.log ---\n" + mlog)
        check("the broker logged the garbage", "too much garbage" in mlog)
    finally:
        if raw:
            raw.close()
        follow.kill()


def bss_backed(img, pad):
    """An ELF64 image whose writable segment with a bss (memory beyond its
    file bytes) is moved to the end of the file and given pad bytes there:
    its data first, then zeros for the bss, so memory holds the same, but
    the builder reads (and hvctl sends) all of them."""
    img = bytearray(img + bytes(-len(img) % 4096))
    phoff, = struct.unpack_from("<Q", img, 32)
    phentsize, phnum = struct.unpack_from("<HH", img, 54)
    for i in range(phnum):
        ph = phoff + i * phentsize
        ptype, = struct.unpack_from("<I", img, ph)
        off, vaddr = struct.unpack_from("<QQ", img, ph + 8)
        filesz, memsz = struct.unpack_from("<QQ", img, ph + 32)
        if ptype == 1 and memsz > filesz:
            new_off = len(img) + vaddr % 4096
            size = max(filesz, pad)
            data = bytes(img[off:off + filesz])
            struct.pack_into("<Q", img, ph + 8, new_off)
            struct.pack_into("<QQ", img, ph + 32, size, max(memsz, size))
            return bytes(img) + bytes(vaddr % 4096) + data + bytes(size - filesz)
    raise Fail("no segment with a bss to back")


def t_killed():
    echo_guest()
    con = Bg("console", "echo", stdin=True)
    f1 = Bg("log", "-f")
    f2 = Bg("log", "-f")
    try:
        check("the console is attached", con.wait_for("echo: ready"))
        check("both followers stream", f1.wait_for("domain-create")
              and f2.wait_for("domain-create"))
        con.kill(signal.SIGKILL)
        f1.kill(signal.SIGKILL)
        time.sleep(1)
        out = ct.driver("console", ct.sock(), ct.admin(), "echo", "echo: ready", ct.WAIT_S)
        check("a new console attaches without --force (the dead one was detached)",
              "echo: ready" in out)
        check("the other follower saw the broker's detach of the dead console",
              f2.wait_for("console-detach"))
        check("the other follower is still running", f2.alive())
        # A create killed during its upload, then run again. The kernel is
        # hello whose bss segment is backed by 256 KiB of zeros in the file
        # (the same memory, but bytes the builder reads, so hvctl sends them
        # all), so the upload takes a few seconds; the kill comes once the
        # follower has seen the upload announced.
        kern = os.path.join(ct.RUN, "late.elf")
        with open(ct.ARGS.hello, "rb") as src, open(kern, "wb") as dst:
            dst.write(bss_backed(src.read(), 256 << 10))
        m = manifest("late", kern, "on_poweroff: preserve\n")
        cr = Bg("create", "-f", m)
        check("the upload is announced", f2.wait_for("late.elf"))
        killed_mid_upload = cr.alive()
        cr.kill(signal.SIGKILL)
        check("create was killed during its upload", killed_mid_upload
              and "created late" not in cr.text())
        out = hvctl("create", "-f", m)
        check("create works after a client died mid-upload", "created late (id " in out)
        check("list is served", "late" in list_names())
        hvctl("destroy", "late")
        check("the other follower saw it all", f2.wait_for("domain-destroy"))
        with open(os.path.join(ct.RUN, "mux.log")) as f:
            mlog = f.read()
        print("--- mux.log ---\n" + mlog)
    finally:
        for b in (con, f1, f2):
            b.kill()


# A process that holds up to N connections to the control socket without a
# word, opening a new one whenever the broker closes one (an attacker that
# keeps trying), until killed.
# A process that opens N connections to the control socket and holds them
# without a word; with "reopen", every second it opens new ones for those the
# broker closed (an attacker that keeps trying), until killed.
FLOOD = r"""
import resource, socket, sys, time
sys.path.insert(0, sys.argv[4])
import control_test as ct
want, reopen = int(sys.argv[2]), sys.argv[3] == "reopen"
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, want + 64)), hard))
held, opened, first = [], 0, True
while True:
    if first or reopen:
        while len(held) < want:
            try:
                held.append(ct.unix_connect(sys.argv[1]))
                opened += 1
            except OSError:
                break
        first = False
    time.sleep(1)
    for sk in list(held):
        gone = False
        try:
            while sk.recv(4096, socket.MSG_DONTWAIT):
                pass  # the broker's notice, then the close
            gone = True
        except BlockingIOError:
            pass
        except OSError:
            gone = True
        if gone:
            held.remove(sk)
            sk.close()
    print("flood: %d opened, %d still open" % (opened, len(held)), flush=True)
"""


def t_flood():
    """Issue 20 item 4: one process opens and holds 2,000 connections, ten
    more hold 100 each and reopen what the broker closes; an authenticated
    `log -f` started before keeps streaming, and `hvctl list` (a new,
    unauthenticated connection each time) keeps working."""
    follow = Bg("log", "-f")
    here = os.path.dirname(os.path.abspath(__file__))
    floods = []
    try:
        check("log -f streams", follow.wait_for("start"))
        for n, how in [(2000, "hold")] + [(100, "reopen")] * 10:
            floods.append(subprocess.Popen([sys.executable, "-c", FLOOD, ct.sock(), str(n), how,
                                            here],
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           text=True))
        time.sleep(2)
        check("the floods are running", all(f.poll() is None for f in floods))
        # One idle connection of this process's own (a peer holding one):
        # closed at the deadline, with the reason, not displaced by the flood.
        idle = ct.unix_connect(ct.sock())
        t_idle = time.monotonic()
        times = []
        for i in range(5):
            t0 = time.monotonic()
            out = hvctl("list")
            times.append(time.monotonic() - t0)
            check("hvctl list %d works during the flood" % (i + 1), "control" in out)
            time.sleep(0.5)
        print("figure: hvctl list during the flood: %s s"
              % ", ".join("%.2f" % t for t in times))
        m = manifest("floodtest", ct.ARGS.hello, "on_poweroff: preserve\n")
        out = hvctl("create", "-f", m)
        check("create with its upload works during the flood", "created floodtest" in out)
        hvctl("destroy", "floodtest")
        check("the authenticated log -f kept streaming", follow.wait_for("domain-destroy")
              and follow.alive())
        got, closed = read_frames(idle, max(0.0, t_idle + ct.WAIT - time.monotonic()))
        print("the idle connection (read %.1f s after it connected): %d bytes, closed %s"
              % (time.monotonic() - t_idle, len(got), closed))
        check("an idle unauthenticated connection is closed at the deadline, told why",
              closed and b"no request with an accepted token within 3 s" in got)
        idle.close()
    finally:
        for f in floods:
            f.kill()
            out, _ = f.communicate()
            lines = out.strip().splitlines()
            print("flood pid %d: %s" % (f.pid, lines[-1] if lines else "(no output)"))
        follow.kill()
    with open(os.path.join(ct.RUN, "mux.log")) as f:
        mlog = f.read()
    print("--- mux.log (last 40 lines) ---\n" + "\n".join(mlog.splitlines()[-40:]))
    check("the broker refused connections past a process's limit",
          "holds the most unauthenticated connections allowed" in mlog)
    check("the broker let newcomers displace unauthenticated connections",
          "its place was needed" in mlog)
    check("hvctl list works after the flood", "control" in list_names())


SCENARIOS = {"concurrent": t_concurrent, "garbage": t_garbage, "killed": t_killed,
             "flood": t_flood}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    for a in ("hvctl", "driver", "iso", "hello", "echo", "workdir"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    args = ap.parse_args()
    ct.ARGS = args
    ct.RUN = os.path.join(args.workdir, "control_mux_" + args.scenario)
    if os.path.exists(os.path.join(ct.RUN, "qemu.pid")):
        ct.run([args.hvctl, "--run-dir", ct.RUN, "down"], expect_rc=None)
    shutil.rmtree(ct.RUN, ignore_errors=True)
    os.makedirs(os.path.dirname(ct.RUN), exist_ok=True)
    ok = False
    try:
        ct.run([args.hvctl, "--run-dir", ct.RUN, "up", "--iso", args.iso, "--wait", ct.WAIT_S,
                "--no-disk"])
        out = hvctl("status")
        check("status reports the broker", "broker:         running" in out)
        SCENARIOS[args.scenario]()
        ok = True
    except (Fail, subprocess.TimeoutExpired) as e:
        print("control_mux_test: %s: FAILED: %s" % (args.scenario, e))
    finally:
        ct.run([args.hvctl, "--run-dir", ct.RUN, "down"], expect_rc=None)
        mpid = os.path.join(ct.RUN, "mux.pid")
        if os.path.exists(mpid):
            print("control_mux_test: mux.pid left behind by hvctl down")
            ok = False
        log = os.path.join(ct.RUN, "com1.log")
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                print("--- last lines of %s ---" % log)
                print("\n".join(f.read().splitlines()[-30:]))
    if ok:
        print("control_mux_test: %s: passed" % args.scenario)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
