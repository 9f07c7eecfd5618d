#!/usr/bin/env python3
"""Figures for the control domain (issue 7), medians of 5 under TCG:

  - `hvctl up` to ready (QEMU started, the control domain answers hello;
    hvctl resends hello every 150 ms);
  - QEMU start to the first hello answered when hello is resent every 50 ms
    (QEMU started by hand as hvctl does; the true boot-to-ready time);
  - `hvctl list` round trip (the whole command: connect, hello, list);
  - `hvctl create` of a 16 MiB hello guest to its first console line
    (create, then a libhvctl console attach that waits for the line; the
    image was uploaded before the clock starts).

usage: control_bench.py BUILD_DIR   (uses BUILD/tools/hvctl, BUILD/hv.iso,
BUILD/test/integration/control_driver, BUILD/guest-kit/examples/hello)
"""
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time


def crc32c(data, crc=0):
    crc ^= 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff


def frame(payload):
    head = b"HVF1" + struct.pack("<I", len(payload))
    return head + struct.pack("<I", crc32c(head)) + payload + struct.pack("<I", crc32c(payload))


def hello_frame(rid):
    # {0: 1, 2: rid, 4: 1, 6: "bench"}, rid < 24
    return frame(bytes([0xa4, 0x00, 0x01, 0x02, rid, 0x04, 0x01, 0x06, 0x65]) + b"bench")


def boot_to_ready(iso, tmp):
    """QEMU as hvctl up starts it (no fw_cfg token needed for hello)."""
    sock = os.path.join(tmp, "b.sock")
    pidf = os.path.join(tmp, "b.pid")
    t0 = time.monotonic()
    subprocess.run(["qemu-system-x86_64", "-M", "q35", "-accel", "tcg", "-cpu", "max", "-smp",
                    "1", "-m", "512M", "-display", "none", "-no-reboot", "-serial", "null",
                    "-serial", "unix:%s,server=on,wait=off" % sock, "-cdrom", iso,
                    "-daemonize", "-pidfile", pidf], check=True)
    try:
        while True:
            try:
                c = socket.socket(socket.AF_UNIX)
                c.connect(sock)
                break
            except OSError:
                time.sleep(0.01)
        c.setblocking(False)
        rid = 1
        got = b""
        while time.monotonic() - t0 < 30:
            c.send(hello_frame(rid % 24))
            rid += 1
            end = time.monotonic() + 0.05
            while time.monotonic() < end:
                try:
                    got += c.recv(4096)
                except BlockingIOError:
                    time.sleep(0.005)
                if b"hv-control" in got:
                    return time.monotonic() - t0
        raise RuntimeError("no hello-reply")
    finally:
        with open(pidf) as f:
            os.kill(int(f.read()), 15)
        time.sleep(0.5)


def main():
    b = os.path.abspath(sys.argv[1])
    hvctl = os.path.join(b, "tools/hvctl")
    driver = os.path.join(b, "test/integration/control_driver")
    hello = os.path.join(b, "guest-kit/examples/hello")
    iso = os.path.join(b, "hv.iso")
    up, lst, create, ready = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(5):
            ready.append(boot_to_ready(iso, tmp))
        rd = os.path.join(tmp, "run")
        h = [hvctl, "--run-dir", rd]
        for i in range(5):
            t0 = time.monotonic()
            subprocess.run(h + ["up", "--iso", iso, "--no-disk"], check=True, capture_output=True)
            up.append(time.monotonic() - t0)
            if i == 0:
                sock, tok = os.path.join(rd, "com2.sock"), os.path.join(rd, "admin.token")
                subprocess.run([driver, "upload", sock, tok, "hello", hello], check=True,
                               capture_output=True)
                for k in range(5):
                    t0 = time.monotonic()
                    subprocess.run(h + ["list"], check=True, capture_output=True)
                    lst.append(time.monotonic() - t0)
                for k in range(5):
                    m = os.path.join(tmp, "g%d.yaml" % k)
                    with open(m, "w") as f:
                        f.write("name: g%d\nkernel: %s\nmemory: 16MiB\non_poweroff: preserve\n"
                                % (k, hello))
                    t0 = time.monotonic()
                    subprocess.run(h + ["create", "-f", m], check=True, capture_output=True)
                    subprocess.run([driver, "console", sock, tok, "g%d" % k, "hello from domain",
                                    "30"], check=True, capture_output=True)
                    create.append(time.monotonic() - t0)
            subprocess.run(h + ["down"], check=True, capture_output=True)
    for name, v in (("QEMU start to hello answered (50 ms polls)", ready),
                    ("hvctl up to ready", up), ("hvctl list round trip", lst),
                    ("hvctl create (16 MiB) to first console line", create)):
        print("%-45s median %7.1f ms  (%s)" % (name, statistics.median(v) * 1000,
                                               ", ".join("%.1f" % (x * 1000) for x in v)))


if __name__ == "__main__":
    main()
