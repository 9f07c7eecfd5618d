#!/usr/bin/env python3
"""Figures for the control domain (issue 7), medians of 5 under TCG:

  - `hvctl up` to ready (QEMU started, the control domain answers hello);
  - `hvctl list` round trip (the whole command: connect, hello, list);
  - `hvctl create` of a 16 MiB hello guest to its first console line
    (create, then a libhvctl console attach that waits for the line; the
    image was uploaded before the clock starts).

usage: control_bench.py BUILD_DIR   (uses BUILD/tools/hvctl, BUILD/hv.iso,
BUILD/test/integration/control_driver, BUILD/guest-kit/examples/hello)
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time


def main():
    b = os.path.abspath(sys.argv[1])
    hvctl = os.path.join(b, "tools/hvctl")
    driver = os.path.join(b, "test/integration/control_driver")
    hello = os.path.join(b, "guest-kit/examples/hello")
    iso = os.path.join(b, "hv.iso")
    up, lst, create = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        rd = os.path.join(tmp, "run")
        h = [hvctl, "--run-dir", rd]
        for i in range(5):
            t0 = time.monotonic()
            subprocess.run(h + ["up", "--iso", iso], check=True, capture_output=True)
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
    for name, v in (("hvctl up to ready", up), ("hvctl list round trip", lst),
                    ("hvctl create (16 MiB) to first console line", create)):
        print("%-45s median %7.1f ms  (%s)" % (name, statistics.median(v) * 1000,
                                               ", ".join("%.1f" % (x * 1000) for x in v)))


if __name__ == "__main__":
    main()
