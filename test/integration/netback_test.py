#!/usr/bin/env python3
"""QEMU tests of netback, the network driver domain (label netback).

Each scenario makes its own network namespace with a tap device in it
(192.0.2.1/24 on the Linux side), starts the machine inside it with
`hvctl up --net tap:hvtap0` (the default hv.iso: the hypervisor, the control
domain and netback's image as a boot module), runs its clients inside the
namespace, and stops the machine and deletes the namespace at the end (also
on failure). No packet leaves the namespace; documentation addresses only.
Prints "netback_test: NAME: passed" only if every check held.

  boot   the control domain starts netback at boot on the NIC (logged with
         its address); netback answers ARP and ICMP echo for the external
         address 192.0.2.10 (5 of 5) and nothing for 192.0.2.11; hostile
         frames from the wire (short, bad IPv4 checksum, a bad header length,
         truncated TCP, an unknown EtherType, 300 random frames) are counted
         and change nothing: pings are still answered.
  http   the HTTP example (guest-kit's netserve as a front end, gk/net.h)
         behind netback, created from examples/manifests/net/httpd.yaml with
         its lease (20000-20099, 80, 7): netback gives it its lease; curl
         fetches its page and 1 MiB (SHA-256 equal) from the namespace, UDP
         echo works; a connection to port 8080 (no lease) is refused (no
         answer) and counted as a no-lease drop; a second domain whose
         manifest leases port 80 is refused at create (the overlap named);
         one with the channel but no lease is refused by netback; another
         domain asking the control domain for httpd's lease (config-get
         net-lease:httpd) is answered "absent"; GET /quit
         stops httpd and netback logs it leaving and its lease released.
  nonic  without --net the machine has no NIC and no netback; bad --net
         specifications are refused (exit 2) and start nothing.
  policy rules and traffic classes from the manifest's net: field: rxd (two
         rules, a receive limit of 100000 B/s): UDP echo denied by a rule and
         logged, HTTP from a peer outside the other rule's prefix allowed, a
         256 KiB TCP echo whose inbound flow netback records at the limit;
         then txd (a transmit limit of 200000 B/s): a 1 MiB download whose
         outbound flow is at the limit. A rate is (bytes - burst) / duration
         from netback's flow-end record, in netback's clock, +-10 %.
"""
import argparse
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import time

from net_tap_test import pattern_sha256  # the same script directory

ARGS = None
RUN = None
NS = None
TAP = "hvtap0"
PEER = "192.0.2.1"
EXT = "192.0.2.10"


class Fail(Exception):
    pass


def run(cmd, expect_rc=0, timeout=120, quiet=False, **kw):
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    out = p.stdout + p.stderr
    if not quiet:
        print("$ %s  [rc %d, %.2f s]\n%s" % (" ".join(cmd), p.returncode, time.monotonic() - t0,
                                             out.rstrip()))
    if expect_rc is not None and p.returncode != expect_rc:
        raise Fail("%s: exit %d, expected %d" % (" ".join(cmd), p.returncode, expect_rc))
    return out


def hvctl(*a, rc=0, ns=False):
    cmd = [ARGS.hvctl, "--run-dir", RUN] + list(a)
    return run((["ip", "netns", "exec", NS] if ns else []) + cmd, expect_rc=rc)


def in_ns(args, timeout=120, **kw):
    return subprocess.run(["ip", "netns", "exec", NS] + args, timeout=timeout,
                          capture_output=True, **kw)


def check(what, cond, detail=""):
    print("check: %s: %s%s" % (what, "ok" if cond else "FAILED",
                               (" (" + detail + ")") if detail else ""), flush=True)
    if not cond:
        raise Fail(what)


def com1():
    try:
        with open(os.path.join(RUN, "com1.log"), errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_console(text, seconds=60):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if text in com1():
            return True
        time.sleep(0.2)
    return False


def list_json():
    return json.loads(hvctl("list", "--json").strip().splitlines()[-1])


def make_ns():
    global NS
    NS = "hvnb%d" % os.getpid()
    for cmd in (["ip", "netns", "add", NS],
                ["ip", "-n", NS, "tuntap", "add", "dev", TAP, "mode", "tap"],
                ["ip", "-n", NS, "addr", "add", PEER + "/24", "dev", TAP],
                ["ip", "-n", NS, "link", "set", TAP, "up"],
                ["ip", "-n", NS, "link", "set", "lo", "up"]):
        run(cmd)


def up(net="tap:" + TAP, extra=()):
    args = ["up", "--iso", ARGS.iso, "--wait", "60", "--no-disk"] + list(extra)
    if net:
        args += ["--net", net]
    return hvctl(*args, ns=True)


def down():
    if RUN and os.path.exists(os.path.join(RUN, "qemu.pid")):
        run([ARGS.hvctl, "--run-dir", RUN, "down"], expect_rc=None)


PING_PY = r'''
import os, socket, struct, sys, time
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
dst, count, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
r.settimeout(wait)
ok = 0
for seq in range(count):
    data = os.urandom(56)
    h = struct.pack("!BBHHH", 8, 0, 0, 0x4242, seq)
    pkt = h[:2] + struct.pack("!H", csum(h + data)) + h[4:] + data
    t0 = time.monotonic()
    r.sendto(pkt, (dst, 0))
    while time.monotonic() - t0 < wait:
        try:
            b, _ = r.recvfrom(2000)
        except (socket.timeout, OSError):
            break
        m = b[(b[0] & 15) * 4:]
        if m[0] == 0 and struct.unpack("!HH", m[4:8]) == (0x4242, seq) and m[8:] == data:
            ok += 1
            break
print(ok)
'''


def pings(dst, count, wait=5.0):
    p = in_ns([sys.executable, "-c", PING_PY, dst, str(count), str(wait)],
              timeout=count * wait + 30)
    try:
        return int(p.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        print(p.stderr.decode(errors="replace"))
        return -1


HOSTILE_PY = r'''
import os, random, socket, struct, sys
random.seed(int(sys.argv[1]))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[2], 0))
mac = bytes.fromhex(sys.argv[3].replace(":", ""))
me = s.getsockname()[4][:6]
eth = mac + me
def ip(proto, payload, ihl=5, csum_ok=True, total=None):
    total = total if total is not None else 20 + len(payload)
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 1, 0, 64, proto, 0,
                    socket.inet_aton("192.0.2.1"), socket.inet_aton("192.0.2.10"))
    c = 0
    for i in range(0, 20, 2):
        c += (h[i] << 8) | h[i + 1]
    while c >> 16: c = (c & 0xffff) + (c >> 16)
    c = (~c) & 0xffff
    if not csum_ok: c ^= 0x1234
    return h[:10] + struct.pack("!H", c) + h[12:] + payload
frames = [
    eth + b"\x08\x00",                                      # IPv4 with no header at all
    eth + b"\x08\x00" + ip(6, b"\0" * 20, csum_ok=False),  # bad IPv4 checksum
    eth + b"\x08\x00" + ip(6, b"\0" * 20, ihl=4),          # header length 16
    eth + b"\x08\x00" + ip(6, b"\0" * 20, total=9000),     # total length past the frame
    eth + b"\x08\x00" + ip(6, b"\0" * 7),                  # truncated TCP
    eth + b"\x88\xb5" + os.urandom(46),                     # an unknown EtherType
    eth + b"\x08\x06" + os.urandom(28),                     # random ARP
]
for i in range(300):
    frames.append(eth + random.choice([b"\x08\x00", b"\x08\x06", b"\x86\xdd"]) +
                  os.urandom(random.randint(0, 1500)))
sent = 0
for f in frames:
    try:
        s.send(f[:1514])
        sent += 1
    except OSError as e:
        print("not sent (%d bytes): %s" % (len(f), e), file=sys.stderr)
print(sent)
'''


def netback_mac():
    for line in com1().splitlines():
        if "netback: nic " in line:
            return line.split("netback: nic ")[1].split(",")[0]
    raise Fail("netback did not say its MAC")


def drops():
    """The last drop line of netback's console, as {reason: count}."""
    last = {}
    for line in com1().splitlines():
        if "netback: dropped:" in line:
            w = line.split("netback: dropped:")[1].split()
            last = {w[i]: int(w[i + 1]) for i in range(0, len(w) - 1, 2)}
    return last


def t_boot():
    make_ns()
    up(extra=[])
    check("netback is ready on the NIC", wait_console("netback: ready 192.0.2.10/24"))
    doms = {d["name"]: d for d in list_json()["domains"]}
    check("hvctl list shows netback running", doms.get("netback", {}).get("state") == "running")
    log = hvctl("log")
    check("the control domain logged creating it at boot with its address",
          "boot" in log and "netback" in log and "address 192.0.2.10/24" in log)
    check("netback registered the service net", "service-register netback" in log
          or ("service-register" in log and " net" in log))
    n = pings(EXT, 5)
    check("netback answers ICMP echo for the external address", n == 5, "%d of 5" % n)
    n = pings("192.0.2.11", 2, 2.0)
    check("nothing answers for another address", n == 0, "%d of 2" % n)
    neigh = in_ns(["ip", "neigh", "show", EXT]).stdout.decode()
    mac = netback_mac()
    check("ARP for the external address gives netback's MAC", mac in neigh.lower(), neigh.strip())
    before = sum(drops().values())
    h = in_ns([sys.executable, "-c", HOSTILE_PY, "1", TAP, mac])
    check("307 hostile frames sent from the wire", h.returncode == 0 and
          h.stdout.decode().strip() == "307", h.stderr.decode(errors="replace")[-300:])
    n = pings(EXT, 3)
    check("pings are still answered after them", n == 3, "%d of 3" % n)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sum(drops().values()) < before + 300:
        time.sleep(0.5)
    check("netback counted the bad frames as drops", sum(drops().values()) >= before + 300,
          "drops %s" % drops())
    check("no hypervisor fault", "hypervisor fault" not in com1() and "PANIC" not in com1())


def t_nonic():
    make_ns()
    for bad in ("bogus", "tap:", "tap:a/b", "tap:hvtap0,address=192.0.2.10",
                "tap:hvtap0,address=192.0.2.300/24", "tap:hvtap0,gateway=x",
                "user,fwd=0", "user,fwd=70000", "tap:hvtap0,fwd=80", "tap:hvtap0,color=red"):
        out = hvctl("up", "--iso", ARGS.iso, "--net", bad, rc=2, ns=True)
        check("--net %s is refused before anything starts" % bad,
              "--net" in out and not os.path.exists(os.path.join(RUN, "qemu.pid")))
    up(net=None)
    doms = [d["name"] for d in list_json()["domains"]]
    check("without --net there is no netback", "netback" not in doms, str(doms))
    d = json.loads(hvctl("devices", "--json").strip().splitlines()[-1])
    nics = [f for f in d["functions"] if (f["class"] >> 16) == 2]
    check("and the machine has no NIC (not QEMU's default one)", nics == [], str(nics))


def manifest(name, ports, src=None, net_extra=""):
    """httpd's manifest (examples/manifests/net/httpd.yaml) with this build's
    kernel, another name and other ports (None: no net field), and net_extra
    (more lines of the net field: rules, tx, rx)."""
    with open(src or os.path.join(ARGS.manifests, "httpd.yaml")) as f:
        lines = f.read().splitlines()
    out, skip = [], False
    for line in lines:
        if line.startswith("kernel:"):
            line = "kernel: %s" % ARGS.netserve
        elif line.startswith("name:"):
            line = "name: %s" % name
        elif line.startswith("net:"):
            skip = True
            if ports is not None:
                out.append("net:\n  ports: %s%s" % (json.dumps(ports), net_extra))
            continue
        elif skip and line.startswith("  "):
            continue
        skip = False
        out.append(line)
    path = os.path.join(RUN, name + ".yaml")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return path


UDP_PY = r'''
import os, socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(5)
ok = 0
for n in (1, 100, 1472):
    msg = os.urandom(n)
    for attempt in range(3):
        u.sendto(msg, (sys.argv[1], 7))
        try:
            got, _ = u.recvfrom(65535)
        except socket.timeout:
            continue
        ok += got == msg
        break
print(ok)
'''


def t_http():
    make_ns()
    up()
    check("netback is ready", wait_console("netback: ready 192.0.2.10/24"))
    out = hvctl("create", "-f", manifest("httpd", ["20000-20099", 80, 7]))
    check("httpd is created", "created httpd" in out)
    check("netback gave httpd its lease",
          wait_console("netback: front httpd joined (domain 1, ports 20000-20099,80,7, rules 0, "
                       "rx 0 B/s, tx 0 B/s)", 60))
    check("httpd serves behind netback", wait_console("netserve: ready", 60))
    check("it took netback's configuration",
          "netserve: 192.0.2.10 on 52:54:00:12:34:56, behind netback" in com1())
    check("the lease was logged", "lease-granted httpd tcp 80-80" in com1())
    t0 = time.monotonic()
    page = in_ns(["curl", "-sS", "-m", "60", "http://%s/" % EXT], 90)
    check("curl GET / through netback returns the page",
          page.returncode == 0 and b"hv netserve" in page.stdout,
          "rc %d, %.1f s: %s" % (page.returncode, time.monotonic() - t0,
                                 page.stderr.decode(errors="replace").strip()))
    big = 1 << 20
    t0 = time.monotonic()
    got = in_ns(["sh", "-c", "curl -s -m 300 http://%s/big/%d | sha256sum" % (EXT, big)], 360)
    secs = time.monotonic() - t0
    check("curl GET /big/%d through netback: SHA-256 equal" % big,
          got.returncode == 0 and got.stdout.split()[:1] == [pattern_sha256(big).encode()],
          "%.1f s wall, %.2f MB/s" % (secs, big / secs / 1e6))
    u = in_ns([sys.executable, "-c", UDP_PY, EXT], 60)
    check("UDP echo of 1, 100 and 1472 bytes through netback", u.stdout.strip() == b"3",
          u.stdout.decode().strip())
    before = drops().get("no-lease", 0)
    r = in_ns(["curl", "-sS", "-m", "5", "http://%s:8080/" % EXT], 30)
    check("a connection to port 8080 (nobody's lease) gets no answer", r.returncode != 0,
          r.stderr.decode(errors="replace").strip())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and drops().get("no-lease", 0) <= before:
        time.sleep(0.5)
    check("netback counted it refused (no-lease)", drops().get("no-lease", 0) > before,
          str(drops()))
    n = pings(EXT, 3)
    check("netback still answers pings itself", n == 3, "%d of 3" % n)
    out = hvctl("create", "-f", manifest("clash", [80]), rc=None)
    check("a second lease of port 80 is refused at create, the overlap named",
          "overlaps httpd's lease 80-80" in out and "created clash" not in out)
    hvctl("create", "-f", manifest("nolease", None))
    check("a front end without a lease is refused by netback",
          wait_console("netback: front nolease refused: it has no lease", 60))
    snoop = os.path.join(RUN, "snoop.yaml")
    with open(snoop, "w") as f:
        f.write("name: snoop\nkernel: %s\ncmdline: \"bus_guest role=config keys=net-lease:httpd\"\n"
                "memory: 8MiB\non_poweroff: preserve\n" % ARGS.busguest)
    hvctl("create", "-f", snoop)
    check("a domain that does not offer net is not told httpd's lease",
          wait_console("bus: config net-lease:httpd absent", 60) and "net-lease:httpd=" not in com1())
    q = in_ns(["curl", "-s", "-m", "60", "http://%s/quit" % EXT], 90)
    check("curl GET /quit", q.stdout == b"bye\n")
    check("netback saw httpd leave", wait_console("netback: front httpd left", 60))
    check("its lease was released (logged)", wait_console("lease-released httpd tcp 80-80", 30))
    check("no hypervisor fault", "hypervisor fault" not in com1() and "PANIC" not in com1())


ECHO_PY = r'''
import os, socket, sys, threading
n = int(sys.argv[2])
data = os.urandom(n)
s = socket.create_connection((sys.argv[1], 7), timeout=120)
t = threading.Thread(target=lambda: s.sendall(data))
t.start()
got = b""
while len(got) < n:
    b = s.recv(65536)
    if not b:
        break
    got += b
t.join()
s.shutdown(socket.SHUT_WR)
s.recv(1)
s.close()
print("echoed" if got == data else "differs %d of %d" % (len(got), n))
'''


def flow_ends(name, port):
    """netback's flow-end records of domain name's TCP port: [(bytes in, bytes out, ms)]."""
    out = []
    for line in com1().splitlines():
        if "flow-end %s tcp port %d " % (name, port) in line:
            w = line.split()
            i = w.index("in")
            out.append((int(w[i + 1].split("/")[1]), int(w[i + 3].split("/")[1]),
                        int(w[w.index("ms") - 1])))
    return out


def flow_rate(name, port, what, limit, burst, direction):
    """The one flow of name's port that carried more than `what` bytes in
    direction (0 in, 1 out), checked at limit bytes/s +-10 % in netback's
    clock: (bytes - the bucket's burst) over the flow's duration, from its
    record (a token bucket lets burst + limit * t bytes through in t)."""
    flows = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not flows:
        flows = [f for f in flow_ends(name, port) if f[direction] > what]
        time.sleep(0.5)
    check("netback logged the flow end of %s port %d" % (name, port), len(flows) == 1,
          str(flow_ends(name, port)))
    n, ms = flows[0][direction], flows[0][2]
    rate = (n - burst) * 1000 / ms
    check("%s's flow on port %d went at its %s limit, %d B/s +-10 %%" %
          (name, port, ("receive", "transmit")[direction], limit),
          0.9 * limit <= rate <= 1.1 * limit,
          "%d bytes %s (burst %d) in %d ms of netback's clock: %.0f B/s" %
          (n, ("in", "out")[direction], burst, ms, rate))


def t_policy():
    """Rules and classes from the manifest, in two domains one after the
    other (each netserve serves ports 80 and 7): rxd with two rules and a
    receive limit (UDP echo denied and logged, HTTP allowed, a TCP echo at
    the limit), then txd with a transmit limit (a 1 MiB download at it). A
    rate is netback's own flow record: bytes over the flow's duration in
    netback's clock, within 10 % of the limit."""
    make_ns()
    up()
    check("netback is ready", wait_console("netback: ready 192.0.2.10/24"))
    rx_rate, tx_rate = 100000, 200000
    extra = ("\n  rules:\n"
             "    - {deny: in, proto: tcp, port: 80, peer: \"192.0.2.128/25\"}\n"
             "    - {deny: in, proto: udp, port: 7}\n"
             "  rx: {rate_bps: %d, burst_bytes: 16384}" % rx_rate)
    out = hvctl("create", "-f", manifest("rxd", ["20000-20099", 80, 7], net_extra=extra))
    check("rxd is created", "created rxd" in out)
    check("netback gave rxd its lease, two rules and its receive class",
          wait_console("netback: front rxd joined (domain 1, ports 20000-20099,80,7, rules 2, "
                       "rx %d B/s, tx 0 B/s)" % rx_rate, 60))
    check("rxd serves behind netback", wait_console("netserve: ready", 60))
    u = in_ns([sys.executable, "-c", UDP_PY, EXT], 60)
    check("UDP echo is denied by the second rule: no answer", u.stdout.strip() == b"0",
          u.stdout.decode().strip())
    check("the denial is logged with the peer", wait_console("denied rxd udp 192.0.2.1:", 30))
    page = in_ns(["curl", "-sS", "-m", "60", "http://%s/" % EXT], 90)
    check("HTTP from 192.0.2.1 is not denied (the first rule is for 192.0.2.128/25)",
          page.returncode == 0 and b"hv netserve" in page.stdout)
    n = 256 << 10
    e = in_ns([sys.executable, "-c", ECHO_PY, EXT, str(n)], 180)
    check("a %d-byte TCP echo through the receive limit comes back equal" % n,
          e.stdout.strip() == b"echoed", e.stdout.decode().strip() + e.stderr.decode()[-300:])
    flow_rate("rxd", 7, n, rx_rate, 16384, 0)
    q = in_ns(["curl", "-s", "-m", "60", "http://%s/quit" % EXT], 90)
    check("rxd quits", q.stdout == b"bye\n" and wait_console("netback: front rxd left", 60))
    hvctl("destroy", "rxd")
    out = hvctl("create", "-f", manifest("txd", ["20000-20099", 80, 7],
                                         net_extra="\n  tx: {rate_bps: %d, burst_bytes: 16384}"
                                         % tx_rate))
    check("txd is created with the same ports", "created txd" in out)
    check("netback gave txd its transmit class, no rules",
          wait_console("netback: front txd joined (domain 1, ports 20000-20099,80,7, rules 0, "
                       "rx 0 B/s, tx %d B/s)" % tx_rate, 60))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and com1().count("netserve: ready") < 2:
        time.sleep(0.2)
    check("txd serves", com1().count("netserve: ready") == 2)
    big = 1 << 20
    got = in_ns(["sh", "-c", "curl -s -m 120 http://%s/big/%d | sha256sum" % (EXT, big)], 180)
    check("curl GET /big/%d through the transmit limit: SHA-256 equal" % big,
          got.returncode == 0 and got.stdout.split()[:1] == [pattern_sha256(big).encode()])
    flow_rate("txd", 80, big, tx_rate, 16384, 1)
    check("no hypervisor fault", "hypervisor fault" not in com1() and "PANIC" not in com1())


SCENARIOS = {"boot": t_boot, "http": t_http, "nonic": t_nonic, "policy": t_policy}


def main():
    global ARGS, RUN
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hvctl", required=True)
    ap.add_argument("--iso", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--netserve", required=True)
    ap.add_argument("--manifests", required=True)
    ap.add_argument("--busguest", required=True)
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ARGS = ap.parse_args()
    RUN = os.path.join(os.path.abspath(ARGS.workdir), "netback_" + ARGS.scenario)
    down()
    shutil.rmtree(RUN, ignore_errors=True)
    os.makedirs(RUN)
    ok = False
    try:
        SCENARIOS[ARGS.scenario]()
        ok = True
    except (Fail, subprocess.TimeoutExpired) as e:
        print("netback_test: %s: FAILED: %s" % (ARGS.scenario, e))
    finally:
        down()
        if NS:
            subprocess.run(["ip", "netns", "del", NS])
        lines = com1().splitlines()
        if lines:
            print("--- last lines of com1.log ---")
            print("\n".join(lines[-40:]))
    if ok:
        print("netback_test: %s: passed" % ARGS.scenario)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
