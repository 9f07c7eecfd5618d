#!/usr/bin/env python3
"""QEMU tests of driver-domain restarts (label restart, docs/restart.md).

Each scenario starts its own machine (`hvctl up`, no disk); the network
ones inside a network namespace they make, with a tap device (192.0.2.1/24
on the Linux side) and netback at 192.0.2.20/24 (given by `hvctl up --net
...,address=`, so the address reaches netback through the host's fw_cfg
file). Documentation addresses only; nothing leaves the namespace. Prints
"restart_test: NAME: passed" only if every check held.

  netback  the HTTP example (netserve) runs behind netback; a client in the
           namespace streams data to its TCP echo port and reads it back
           while netback is killed --kills times (`hvctl kill netback`, a
           crash to the control domain: destroyed, its NIC reset, rebuilt
           from its manifest), each after the stream flowed again and the
           incarnation ran past its stable time; every byte comes back in
           order (SHA-256 of what was sent = of what came back), the front
           end reconnected each time, the connection never broke. The log
           has a domain-restart per kill with its cause and the device check
           (bus mastering off, virtio reset) made before the new instance
           was built; hvctl list/info show the restarts, the last cause and
           the uptime. Figures: the service gap per kill (last echoed byte
           before the kill to the first after it, wall time), median and
           worst.
  loop     netback is killed again as soon as each new instance runs: the
           restarts back off (0, 250, 500, 1000, 2000 ms) and the sixth kill
           leaves it stopped, loudly (console line, failed domain-stopped
           entry, state crashed, its NIC kept for it); `hvctl restart
           netback` brings it back (pings answered again).
  hang     a guest whose manifest has a 500 ms heartbeat stops reaching safe
           points after 1.5 s: the control domain finds the missed heartbeat
           and restarts it (cause hang) three times, then leaves it stopped
           (its restart limit); hvctl info says why; hvctl restart brings it
           back.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import netback_test as nb  # the same script directory: machine and namespace helpers

ARGS = None
EXT = "192.0.2.20"
check = nb.check
Fail = nb.Fail


def hvctl(*a, rc=0):
    return nb.hvctl(*a, rc=rc)


def info(name):
    return json.loads(hvctl("info", name, "--json").strip().splitlines()[-1])


def log_entries():
    ents = []
    for line in nb.run([ARGS.hvctl, "--run-dir", nb.RUN, "log", "--json"],
                       quiet=True).strip().splitlines():
        if line.startswith("{"):
            ents += json.loads(line).get("entries", [])
    return ents


def wait_until(what, cond, seconds=120, every=0.3):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(every)
    raise Fail("timed out waiting: " + what)


def netback_running():
    try:
        s = info("netback")["summary"]
    except (ValueError, KeyError, IndexError, Fail):
        return None
    return s if s["state"] == "running" else None


def up_net():
    nb.make_ns()
    nb.up(net="tap:%s,address=%s/24" % (nb.TAP, EXT))
    check("netback is ready at the address the host gave it",
          nb.wait_console("netback: ready %s/24" % EXT))


STREAM_PY = r'''
import hashlib, json, os, socket, sys, threading, time
dst, stop_file, out_file = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.create_connection((dst, 7), timeout=60)
s.settimeout(120)
sent = [0]
tx, rx = hashlib.sha256(), hashlib.sha256()
stamps = []  # (time, total bytes received)
def sender():
    seed = 0
    try:
        while not os.path.exists(stop_file):
            block = hashlib.sha256(seed.to_bytes(8, "little")).digest() * 512  # 16 KiB
            seed += 1
            s.sendall(block)
            tx.update(block)
            sent[0] += len(block)
        s.shutdown(socket.SHUT_WR)
    except OSError as e:
        print("sender: %s" % e, flush=True)
pkts = []  # times of data segments from the guest seen on the tap
def capture():
    c = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    c.bind(("hvtap0", 0))
    c.settimeout(0.5)
    me = socket.inet_aton(dst)
    while not done[0]:
        try:
            b = c.recv(2048)
        except socket.timeout:
            continue
        ihl = (b[14] & 15) * 4
        if b[23] == 6 and b[26:30] == me and len(b) > 14 + ihl + ((b[14 + ihl + 12] >> 4) * 4):
            pkts.append(time.monotonic())
done = [False]
cap = threading.Thread(target=capture)
cap.start()
t = threading.Thread(target=sender)
t.start()
got = 0
err = None
last_report = 0
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        rx.update(b)
        got += len(b)
        now = time.monotonic()
        stamps.append((now, got))
        if now - last_report > 0.2:
            last_report = now
            with open(out_file + ".progress", "w") as f:
                f.write("%d %f\n" % (got, now))
        if t.is_alive() is False and got >= sent[0]:
            break
except OSError as e:
    err = str(e)
t.join()
done[0] = True
cap.join()
with open(out_file, "w") as f:
    json.dump({"sent": sent[0], "got": got, "tx": tx.hexdigest(), "rx": rx.hexdigest(),
               "error": err, "stamps": stamps, "pkts": pkts}, f)
print("stream: sent %d got %d %s" % (sent[0], got, err or "ok"), flush=True)
'''


def progress(path):
    try:
        with open(path + ".progress") as f:
            w = f.read().split()
        return int(w[0])
    except (OSError, ValueError, IndexError):
        return 0


def t_netback():
    up_net()
    out = hvctl("create", "-f", nb.manifest("httpd", ["20000-20099", 80, 7]))
    check("httpd (netserve) is created behind netback", "created httpd" in out)
    check("netserve serves behind netback", nb.wait_console("netserve: ready", 60))
    log = hvctl("log")
    check("the log names the address the host gave netback",
          "from the host: address %s/24" % EXT in log)
    stop = os.path.join(nb.RUN, "stop")
    res = os.path.join(nb.RUN, "stream.json")
    client = subprocess.Popen(["ip", "netns", "exec", nb.NS, sys.executable, "-c", STREAM_PY, EXT,
                               stop, res], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until("the stream flows", lambda: progress(res) > 256 * 1024, 120)
        kills = []
        stable_s = 5.0  # the default restart.stable (domains/control/restart.h)
        for k in range(ARGS.kills):
            # The stream flowed again since the last kill, and this instance
            # ran past its stable time (so this is not a crash loop).
            mark = progress(res)
            wait_until("the stream flows again after kill %d" % k,
                       lambda: progress(res) > mark + 64 * 1024, 120)
            wait_until("netback's instance ran %.0f s" % stable_s,
                       lambda: (netback_running() or {}).get("uptime-ns", 0) > (stable_s + 0.5) * 1e9,
                       120)
            t = time.monotonic()
            hvctl("kill", "netback")
            kills.append((t, time.monotonic()))
            if client.poll() is not None:
                raise Fail("the stream ended early")
        mark = progress(res)
        wait_until("the stream flows after the last kill", lambda: progress(res) > mark + 256 * 1024,
                   120)
        open(stop, "w").close()
        client.wait(timeout=300)
    finally:
        if client.poll() is None:
            client.kill()
    print(client.stdout.read().decode(errors="replace"))
    with open(res) as f:
        r = json.load(f)
    check("the TCP connection survived %d kills of netback" % ARGS.kills, r["error"] is None,
          str(r["error"]))
    check("every byte came back, in order (SHA-256 equal)",
          r["sent"] == r["got"] and r["tx"] == r["rx"] and r["sent"] > 0,
          "sent %d got %d" % (r["sent"], r["got"]))
    # The log keeps the newest 512 entries (each hvctl info above is one):
    # the count comes from the console, where every entry is printed too.
    logged = nb.com1().count("control domain-restart netback: ok")
    restarts = [e for e in log_entries() if e["action"] == "domain-restart" and
                e["target"] == "netback"]
    check("the log has a domain-restart per kill, cause and device check in it",
          logged == ARGS.kills and restarts and all(
              e["ok"] and "killed (hvctl kill)" in e.get("detail", "") and
              "bus mastering off (DMA detached), virtio reset" in e.get("detail", "")
              for e in restarts), "%d on the console; kept: %s" % (logged, restarts[-1:]))
    s = info("netback")["summary"]
    check("hvctl info: restarts, last cause and uptime", s.get("restarts") == ARGS.kills and
          s.get("last-restart") == "killed" and s.get("uptime-ns", 0) > 0, str(s))
    text = hvctl("info", "netback")
    check("hvctl info prints them", "restarts:    %d (last: killed)" % ARGS.kills in text and
          "uptime:" in text)
    lst = hvctl("list")
    check("hvctl list has the RESTARTS and UPTIME columns",
          "RESTARTS  UPTIME" in lst and any(l.split()[1] == "netback" and
                                             l.split()[-2] == str(ARGS.kills)
                                             for l in lst.splitlines()[1:] if len(l.split()) > 3))
    joins = nb.com1().count("netback: front httpd joined")
    check("the front end reconnected to every new instance", joins == ARGS.kills + 1,
          "%d joins" % joins)
    check("no DMA fault of the NIC in the last instance (its device was reset, not left "
          "pointing at the old rings)", s.get("dma-faults", -1) == 0, str(s))
    # Each instance carried the stream (checked before each kill): its NIC's
    # DMA worked, which the hypervisor allows only once the old instance's
    # is detached (one DMA owner per function).
    check("every instance brought the NIC up",
          nb.com1().count("netback: nic 52:54:00:12:34:56, interrupts") == ARGS.kills + 1 and
          "FAILED opening" not in nb.com1())
    check("no hypervisor fault", "hypervisor fault" not in nb.com1() and "PANIC" not in nb.com1())
    # The service gap of each kill, on the wire: the longest pause between
    # two data segments from the guest (captured on the tap) from just
    # before `hvctl kill` was run to 5 s after it returned (the client's
    # own reads would hide a pause behind its socket buffer). Wall time.
    pk = r["pkts"]
    gaps = []
    for t0, t1 in kills:
        seen = [x for x in pk if t0 - 0.2 <= x <= t1 + 5.0]
        if len(seen) > 1:
            gaps.append(max(b - a for a, b in zip(seen, seen[1:])) * 1000)
    check("the capture saw the guest's segments around every kill", len(gaps) == len(kills),
          "%d of %d" % (len(gaps), len(kills)))
    print("figure: service gap per netback kill (wall ms, the longest pause in the guest's data "
          "segments on the tap around the kill; %d kills, %d bytes echoed): median %.0f, worst "
          "%.0f, best %.0f; all: %s"
          % (len(gaps), r["got"], statistics.median(gaps), max(gaps), min(gaps),
             " ".join("%.0f" % g for g in gaps)))


def t_loop():
    up_net()
    kills = 0
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        s = netback_running()
        if s:
            hvctl("kill", "netback")
            kills += 1
            continue
        st = info("netback")["summary"]["state"]
        if st in ("crashed", "shutdown"):
            break
        time.sleep(0.05)
    check("netback was left stopped after 6 kills in a row", kills == 6, "%d kills" % kills)
    s = info("netback")["summary"]
    check("its state is crashed, no instance, 5 restarts",
          s["state"] == "crashed" and "uptime-ns" not in s and s.get("restarts") == 5, str(s))
    restarts = [e for e in log_entries() if e["action"] == "domain-restart" and
                e["target"] == "netback"]
    delays = []
    for e in restarts:
        d = e.get("detail", "")
        delays.append(0 if ", no back-off" in d else
                      int(d.split(", after ")[1].split(" ms")[0]) if ", after " in d else -1)
    check("the restarts backed off: 0, 250, 500, 1000, 2000 ms", delays == [0, 250, 500, 1000, 2000],
          str(delays))
    stopped = [e for e in log_entries() if e["action"] == "domain-stopped" and
               e["target"] == "netback"]
    check("the final stop is logged as a failure, loudly on the console",
          stopped and not stopped[-1]["ok"] and "left stopped" in stopped[-1].get("detail", "") and
          nb.wait_console("control: netback: killed (hvctl kill): policy restart: 5 restarts in a "
                          "row", 10))
    dev = json.loads(hvctl("devices", "--json").strip().splitlines()[-1])
    nic = [f for f in dev["functions"] if f["vendor"] == 0x1af4 and f["device"] == 0x1041]
    check("its NIC is kept for it (no other domain can be given it)",
          nic and nic[0].get("holder") == "netback", str(nic))
    n = nb.pings(EXT, 2, 2.0)
    check("nothing answers while it is stopped", n == 0, "%d of 2" % n)
    ready = nb.com1().count("netback: ready %s/24" % EXT)
    hvctl("restart", "netback")
    wait_until("netback runs again", netback_running, 60)
    check("hvctl restart brought it back",
          wait_until("a new instance is ready",
                     lambda: nb.com1().count("netback: ready %s/24" % EXT) > ready, 60))
    n = nb.pings(EXT, 3)
    check("and it answers pings", n == 3, "%d of 3" % n)
    s = info("netback")["summary"]
    check("restarts 6, last: requested", s.get("restarts") == 6 and
          s.get("last-restart") == "requested", str(s))


def t_hang():
    hvctl("up", "--iso", ARGS.iso, "--wait", "60", "--no-disk")
    m = os.path.join(nb.RUN, "hangs.yaml")
    with open(m, "w") as f:
        f.write("name: hangs\nkernel: %s\ncmdline: \"restart_guest hang_ms=1500\"\n"
                "memory: 8MiB\non_crash: restart\n"
                "restart: {heartbeat: 500ms, backoff: 200ms, limit: 3, stable: 30s}\n" % ARGS.guest)
    hvctl("create", "-f", m)
    check("the guest runs and then hangs", nb.wait_console("restart_guest: hanging", 60))
    wait_until("it is left stopped after 3 restarts",
               lambda: info("hangs")["summary"]["state"] == "crashed", 120)
    restarts = [e for e in log_entries() if e["action"] == "domain-restart" and
                e["target"] == "hangs"]
    check("3 restarts, each for a missed heartbeat",
          len(restarts) == 3 and all("hang: no answer to its heartbeat within 500 ms" in
                                     e.get("detail", "") for e in restarts), str(restarts))
    check("the console says it hung", "control: hangs: hang: no answer to its heartbeat" in nb.com1())
    s = info("hangs")["summary"]
    check("hvctl info: 3 restarts, last: hang", s.get("restarts") == 3 and
          s.get("last-restart") == "hang", str(s))
    check("each incarnation said it was up", nb.com1().count("restart_guest: up") == 4)
    hvctl("restart", "hangs")
    check("hvctl restart brought it back",
          wait_until("it runs", lambda: info("hangs")["summary"]["state"] == "running", 60))
    hvctl("destroy", "hangs")


SCENARIOS = {"netback": t_netback, "loop": t_loop, "hang": t_hang}


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hvctl", required=True)
    ap.add_argument("--iso", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--netserve", required=True)
    ap.add_argument("--manifests", required=True)
    ap.add_argument("--guest", required=True)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--name", default=None)
    ap.add_argument("--keep", action="store_true", help="leave the machine up on a failure")
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ARGS = ap.parse_args()
    name = ARGS.name or ("restart_" + ARGS.scenario)
    # netback_test's helpers read their own module's ARGS and RUN.
    nb.ARGS = argparse.Namespace(hvctl=ARGS.hvctl, iso=ARGS.iso, netserve=ARGS.netserve,
                                 manifests=ARGS.manifests, busguest=None)
    nb.RUN = os.path.join(os.path.abspath(ARGS.workdir), name)
    nb.down()
    shutil.rmtree(nb.RUN, ignore_errors=True)
    os.makedirs(nb.RUN)
    ok = False
    try:
        SCENARIOS[ARGS.scenario]()
        ok = True
    except (Fail, subprocess.TimeoutExpired) as e:
        print("restart_test: %s: FAILED: %s" % (ARGS.scenario, e))
    finally:
        if ok or not ARGS.keep:
            nb.down()
        if nb.NS and (ok or not ARGS.keep):
            subprocess.run(["ip", "netns", "del", nb.NS])
        lines = nb.com1().splitlines()
        if lines:
            print("--- last lines of com1.log ---")
            print("\n".join(lines[-60:]))
    if ok:
        print("restart_test: %s: passed" % ARGS.scenario)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
