#!/usr/bin/env python3
"""Runs one hvtest.py command inside a network namespace this script
creates, with a tap device in it (192.0.2.1/24 on the Linux side), and
drives Linux's own clients against the guest (192.0.2.2) while QEMU runs:
curl (a page, a large file checked by SHA-256, four at once), socat (TCP
echo of random bytes), UDP echo (also a fragmented datagram) and ICMP echo
from Python sockets. The last request (GET /quit) makes the guest power
off. No packet leaves the namespace, which is deleted at the end.

The test passes only if hvtest passed and every client check did.

usage: net_tap_test.py --logdir DIR --name NAME [--big BYTES] -- hvtest.py args
(hvtest's own --qemu-arg gets the tap netdev and the virtio-net device
from this script.)
"""
import argparse
import hashlib
import os
import socket
import struct
import subprocess
import sys
import time

FINISH = "hvtest: finished"
GUEST = "192.0.2.2"
TAP = "hvtap0"


def sh(args, **kw):
    return subprocess.run(args, check=True, **kw)


def pattern_sha256(n):
    period = bytes(((i * 7 + (i >> 8)) & 255) for i in range(65536))
    h = hashlib.sha256()
    full, rest = divmod(n, len(period))
    for _ in range(full):
        h.update(period)
    h.update(period[:rest])
    return h.hexdigest()


class Checks:
    def __init__(self):
        self.failed = []

    def check(self, what, ok, detail=""):
        print("net_tap_test: %s: %s%s" % (what, "ok" if ok else "FAILED",
                                           (" (" + detail + ")") if detail else ""), flush=True)
        if not ok:
            self.failed.append(what)


def in_ns(ns, args, timeout, **kw):
    return subprocess.run(["ip", "netns", "exec", ns] + args, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def wait_for(path, text, proc, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end and proc.poll() is None:
        try:
            with open(path, "r", errors="replace") as f:
                if text in f.read():
                    return True
        except FileNotFoundError:
            pass
        time.sleep(0.2)
    return False


CLIENT_PY = r'''
import os, socket, struct, sys, time
guest = sys.argv[1]
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
ok = True
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(5)
for n in (1, 100, 1472, 3000, 8000):
    msg = os.urandom(n)
    got = None
    for attempt in range(3):
        u.sendto(msg, (guest, 7))
        try:
            got, _ = u.recvfrom(65535)
            break
        except socket.timeout:
            pass
    print("udp echo of %d bytes: %s" % (n, "ok" if got == msg else "FAILED"))
    ok = ok and got == msg
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
r.settimeout(5)
answered = 0
for seq in range(5):
    data = os.urandom(56)
    h = struct.pack("!BBHHH", 8, 0, 0, 0x4242, seq)
    pkt = h[:2] + struct.pack("!H", csum(h + data)) + h[4:] + data
    r.sendto(pkt, (guest, 0))
    t0 = time.monotonic()
    while time.monotonic() - t0 < 5:
        try:
            b, _ = r.recvfrom(2000)
        except socket.timeout:
            break
        ihl = (b[0] & 15) * 4
        m = b[ihl:]
        if m[0] == 0 and struct.unpack("!HH", m[4:8]) == (0x4242, seq) and m[8:] == data:
            answered += 1
            break
print("icmp echo answered %d of 5: %s" % (answered, "ok" if answered == 5 else "FAILED"))
ok = ok and answered == 5
sys.exit(0 if ok else 1)
'''


def clients(ns, big, c):
    t0 = time.monotonic()
    page = in_ns(ns, ["curl", "-sS", "-m", "60", "http://%s/" % GUEST], 90)
    c.check("curl GET / returns the page", page.returncode == 0 and b"hv netserve" in page.stdout,
            "rc %d, %d bytes, %.1f s: %s" % (page.returncode, len(page.stdout),
                                             time.monotonic() - t0,
                                             page.stderr.decode(errors="replace").strip()))

    t0 = time.monotonic()
    got = in_ns(ns, ["sh", "-c", "curl -s -m 600 http://%s/big/%d | sha256sum" % (GUEST, big)],
                660)
    secs = time.monotonic() - t0
    want = pattern_sha256(big)
    c.check("curl GET /big/%d: SHA-256 equal" % big,
            got.returncode == 0 and got.stdout.split()[:1] == [want.encode()],
            "%.1f s wall, %.1f MB/s" % (secs, big / secs / 1e6))

    procs = [subprocess.Popen(["ip", "netns", "exec", ns, "sh", "-c",
                               "curl -s -m 300 http://%s/big/1048576 | sha256sum" % GUEST],
                              stdout=subprocess.PIPE) for _ in range(4)]
    want1 = pattern_sha256(1048576).encode()
    outs = [p.communicate(timeout=360)[0] for p in procs]
    c.check("four curl at once, 1 MiB each: SHA-256 equal",
            all(o.split()[:1] == [want1] for o in outs))

    data = os.urandom(1 << 20)
    echo = in_ns(ns, ["socat", "-t", "30", "-T", "60", "-", "TCP:%s:7" % GUEST], 120, input=data)
    c.check("socat TCP echo of 1 MiB comes back intact",
            echo.returncode == 0 and echo.stdout == data,
            "rc %d, %d bytes back" % (echo.returncode, len(echo.stdout)))

    py = in_ns(ns, [sys.executable, "-c", CLIENT_PY, GUEST], 120)
    sys.stdout.write(py.stdout.decode(errors="replace"))
    c.check("UDP and ICMP echo", py.returncode == 0, py.stderr.decode(errors="replace")[-200:])

    notfound = in_ns(ns, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "60",
                          "http://%s/nothing" % GUEST], 90)
    c.check("curl GET /nothing is a 404", notfound.stdout == b"404")


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        print(__doc__)
        return 2
    cut = argv.index("--")
    ap = argparse.ArgumentParser()
    ap.add_argument("--logdir", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--big", type=int, default=16 << 20)
    ap.add_argument("--mac", default="52:54:00:12:34:56")
    args = ap.parse_args(argv[:cut])
    hvtest = argv[cut + 1:] + [
        "--qemu-arg=-netdev", "--qemu-arg=tap,id=n0,ifname=%s,script=no,downscript=no" % TAP,
        "--qemu-arg=-device",
        "--qemu-arg=virtio-net-pci,netdev=n0,disable-legacy=on,mac=%s" % args.mac]
    ns = "hvnet%d" % os.getpid()
    c = Checks()
    try:
        sh(["ip", "netns", "add", ns])
        sh(["ip", "-n", ns, "tuntap", "add", "dev", TAP, "mode", "tap"])
        sh(["ip", "-n", ns, "addr", "add", "192.0.2.1/24", "dev", TAP])
        sh(["ip", "-n", ns, "link", "set", TAP, "up"])
        sh(["ip", "-n", ns, "link", "set", "lo", "up"])
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        print("net_tap_test: cannot set up the namespace and tap (%s)" % e)
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        return 1
    try:
        log = os.path.join(os.path.abspath(args.logdir), args.name, "com1.log")
        if os.path.exists(log):
            os.remove(log)  # a stale "ready" from the last run must not start the clients
        qemu = subprocess.Popen(["ip", "netns", "exec", ns] + hvtest, stdout=subprocess.PIPE,
                                text=True)
        if os.environ.get("NET_TAP_SNIFF"):  # a debugging aid: frames on the tap, timed
            subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, os.environ["NET_TAP_SNIFF"],
                              "60"], stdout=open("/tmp/net_tap_sniff.txt", "w"))
        ready = wait_for(log, "netserve: ready", qemu, 120)
        c.check("the guest is ready", ready)
        if ready:
            clients(ns, args.big, c)
            q = in_ns(ns, ["curl", "-s", "-m", "60", "http://%s/quit" % GUEST], 90)
            c.check("curl GET /quit", q.stdout == b"bye\n")
        else:
            qemu.kill()
        try:
            raw = qemu.communicate(timeout=300)[0]
        except subprocess.TimeoutExpired:
            qemu.kill()
            raw = qemu.communicate()[0]
        sys.stdout.write(raw.replace(FINISH, "hvtest: (run finished)"))
        if qemu.returncode != 0 or FINISH not in raw:
            c.failed.append("the QEMU run")
    finally:
        subprocess.run(["ip", "netns", "del", ns])
    if c.failed:
        print("net_tap_test: FAILED: %s" % ", ".join(c.failed))
        return 1
    print(FINISH)
    return 0


if __name__ == "__main__":
    sys.exit(main())
