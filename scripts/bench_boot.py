#!/usr/bin/env python3
"""Wall time from QEMU start to the root domain's first console line.

bench_boot.py ISO [RUNS]: boots ISO RUNS times (default 5) under TCG with
COM1 on a pipe, timestamps the first line starting with "[d0] ", kills QEMU
and prints every run and the median.
"""
import statistics
import subprocess
import sys
import time


def one_run(iso):
    qemu = ["qemu-system-x86_64", "-M", "q35", "-accel", "tcg", "-cpu", "max", "-m", "256M",
            "-display", "none", "-no-reboot", "-serial", "stdio",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-cdrom", iso]
    start = time.monotonic()
    p = subprocess.Popen(qemu, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        for raw in p.stdout:
            if raw.startswith(b"[d0] "):
                return time.monotonic() - start
            if time.monotonic() - start > 60:
                break
        raise SystemExit("bench_boot: no console line from the root domain")
    finally:
        p.kill()
        p.wait()


def main():
    iso = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    times = [one_run(iso) for _ in range(runs)]
    for i, t in enumerate(times):
        print("  run %d: %.3f s" % (i + 1, t))
    print("boot to first root-domain console line: median %.3f s over %d runs (TCG)"
          % (statistics.median(times), runs))


if __name__ == "__main__":
    main()
