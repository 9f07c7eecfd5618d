#!/usr/bin/env python3
"""Boots the hypervisor in QEMU for one integration test and judges the run.

A test passes only if QEMU exits with the expected status (isa-debug-exit,
see docs/abi.md "Exit status"), every --expect text and --expect-re pattern
appears in the COM1 log, no --forbid text does, and the run ends within
--timeout seconds. The log of a failed test is kept and its path printed.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

EXIT_CODES = {  # hv_exit_code -> QEMU status ((code << 1) | 1)
    "poweroff": 0x10, "root_crash": 0x11, "reboot": 0x12, "panic": 0x13, "boot_error": 0x14,
}
FINISH = "hvtest: finished"


def qemu_status(name):
    return (EXIT_CODES[name] << 1) | 1


def iommu_args(qemu_args, iommu):
    """The machine has an IOMMU by default (issue 14): QEMU's intel-iommu
    with interrupt remapping, before the devices (a device created before it
    is not behind it), and every modern-only virtio PCI device
    (disable-legacy=on) with iommu_platform=on: without it QEMU's virtio
    devices bypass the IOMMU (transitional ones cannot have it)."""
    if not iommu:
        return list(qemu_args)
    out = ["-device", "intel-iommu,intremap=on"]
    for a in qemu_args:
        if (a.startswith("virtio-") and "-pci" in a.split(",")[0] and "disable-legacy=on" in a
                and "iommu_platform" not in a):
            a += ",iommu_platform=on"
        out.append(a)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--name", required=True)
    ap.add_argument("--hv", required=True, help="hypervisor ELF")
    ap.add_argument("--mkiso", required=True, help="scripts/mkiso.sh")
    ap.add_argument("--logdir", required=True)
    ap.add_argument("--cmdline", default="")
    ap.add_argument("--module", action="append", default=[], help="PATH[::ARGS]")
    ap.add_argument("--exit", default="poweroff", choices=sorted(EXIT_CODES))
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--expect-re", action="append", default=[])
    ap.add_argument("--forbid", action="append", default=[])
    # A hang-catcher (wall clock): what the test checks must never depend
    # on how much happens within it (test/integration/CMakeLists.txt).
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--smp", default="1")
    ap.add_argument("--mem", default="256M")
    ap.add_argument("--cpu", default="max")
    ap.add_argument("--qemu-arg", action="append", default=[])
    ap.add_argument("--no-iommu", action="store_true",
                    help="leave out QEMU's intel-iommu (the machine has no IOMMU)")
    args = ap.parse_args()

    run_dir = os.path.abspath(os.path.join(args.logdir, args.name))
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    iso = os.path.join(run_dir, "hv.iso")
    log = os.path.join(run_dir, "com1.log")
    cmdline = ("debug_exit " + args.cmdline).strip()
    subprocess.run([args.mkiso, iso, args.hv, cmdline] + args.module, check=True)

    qemu = ["qemu-system-x86_64", "-M", "q35", "-accel", "tcg", "-cpu", args.cpu,
            "-smp", args.smp, "-m", args.mem, "-display", "none", "-no-reboot",
            "-serial", "file:" + log,
            "-serial", "unix:com2.sock,server=on,wait=off",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-cdrom", iso] + iommu_args(args.qemu_arg, not args.no_iommu)
    # QEMU runs in run_dir: its socket is named relative to it, since a
    # socket path must fit in 108 bytes and run_dir's need not (the suite
    # must pass from a deep checkout). Every other path given to it is
    # absolute.
    with open(os.path.join(run_dir, "qemu.cmd"), "w") as f:
        f.write("cd %s && %s\n" % (run_dir, " ".join(qemu)))
    start = time.monotonic()
    timed_out = False
    try:
        status = subprocess.run(qemu, timeout=args.timeout, stdin=subprocess.DEVNULL,
                                cwd=run_dir).returncode
    except subprocess.TimeoutExpired:
        timed_out, status = True, None
    elapsed = time.monotonic() - start

    with open(log, "r", errors="replace") as f:
        text = f.read()
    problems = []
    if timed_out:
        problems.append("timed out after %.0f s" % args.timeout)
    elif status != qemu_status(args.exit):
        names = {qemu_status(k): k for k in EXIT_CODES}
        problems.append("QEMU exit status %s (%s), expected %d (%s)" % (
            status, names.get(status, "not a hypervisor exit"), qemu_status(args.exit), args.exit))
    for e in args.expect:
        if e not in text:
            problems.append("expected text not in the log: %r" % e)
    for e in args.expect_re:
        if not re.search(e, text, re.M):
            problems.append("expected pattern not in the log: %r" % e)
    for e in args.forbid:
        if e in text:
            problems.append("forbidden text in the log: %r" % e)

    if problems:
        print("FAIL %s (%.2f s)" % (args.name, elapsed))
        for p in problems:
            print("  - " + p)
        print("  log kept in %s" % run_dir)
        print("  ---- last lines of %s ----" % log)
        for line in text.splitlines()[-25:]:
            print("  | " + line)
        return 1
    print("PASS %s (%.2f s)" % (args.name, elapsed))
    print(FINISH)
    os.remove(iso)
    return 0


if __name__ == "__main__":
    sys.exit(main())
