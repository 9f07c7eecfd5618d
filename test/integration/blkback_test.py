#!/usr/bin/env python3
"""QEMU tests of blkback, the disk driver domain (label blkback).

Each scenario starts a machine with `hvctl up --disk IMAGE` (the default
hv.iso: the hypervisor and the control domain), uploads the blkback image and
creates it from its own manifest (domains/blkback/blkback.yaml, with the
kernel path pointed at this build), reads its console, and stops the machine
with `hvctl down` (also on failure). Prints "blkback_test: NAME: passed" only
if every check held.

  boot     a blank image is formatted (a volume table, copy A, sequence 1,
           on the image); a second machine on the same image finds that
           table and formats nothing; blkback uses no CPU while idle.
  damaged  an image whose table area holds garbage is left untouched:
           blkback reports it and stops, the image is unchanged.
  default_disk  `hvctl up` without --disk creates RUN_DIR/disk.img
           (--disk-size) and keeps it: blkback formats it on the first
           machine and finds its table on the next; --no-disk gives the
           machine no disk (blkback cannot be created); bad options refused.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

ARGS = None
RUN = None
DISK_BYTES = 16 << 20


class Fail(Exception):
    pass


def run(cmd, expect_rc=0, timeout=120):
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    out = p.stdout + p.stderr
    print("$ %s  [rc %d, %.2f s]\n%s" % (" ".join(cmd), p.returncode, time.monotonic() - t0,
                                         out.rstrip()))
    if expect_rc is not None and p.returncode != expect_rc:
        raise Fail("%s: exit %d, expected %d" % (" ".join(cmd), p.returncode, expect_rc))
    return out


def hvctl(*a, rc=0):
    return run([ARGS.hvctl, "--run-dir", RUN] + list(a), expect_rc=rc)


def check(what, cond):
    print("check: %s: %s" % (what, "ok" if cond else "FAILED"))
    if not cond:
        raise Fail(what)


def admin():
    return os.path.join(RUN, "admin.token")


def sock():
    return os.path.join(RUN, "com2.sock")


def info(name):
    return json.loads(hvctl("info", name, "--json").strip().splitlines()[-1])


def wait_state(name, states, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        st = info(name)["summary"]["state"]
        if st in states:
            return st
        time.sleep(0.3)
    raise Fail("%s did not reach %s" % (name, states))


def manifest():
    """blkback's own manifest with the kernel path of this build."""
    with open(ARGS.manifest) as f:
        lines = f.read().splitlines()
    out = []
    for line in lines:
        out.append("kernel: %s" % ARGS.blkback if line.startswith("kernel:") else line)
    path = os.path.join(RUN, "blkback.yaml")
    with open(path, "w") as f:
        f.write("on_poweroff: preserve\non_crash: preserve\n" + "\n".join(out) + "\n")
    return path


def up(disk=None, extra=()):
    args = ["up", "--iso", ARGS.iso, "--wait", "60"] + list(extra)
    if disk:
        args += ["--disk", disk]
    return hvctl(*args)


def has_blk_function():
    d = json.loads(hvctl("devices", "--json").strip().splitlines()[-1])
    return any(f["vendor"] == 0x1af4 and f["device"] in (0x1001, 0x1042) for f in d["functions"])


def down():
    run([ARGS.hvctl, "--run-dir", RUN, "down"], expect_rc=None)


def start_blkback(until):
    out = hvctl("create", "-f", manifest())  # uploads the image
    check("blkback is created", "created blkback" in out)
    return run([ARGS.driver, "console", sock(), admin(), "blkback", until, "60"])


def image(fill=None):
    path = os.path.join(RUN, "disk.img")
    with open(path, "wb") as f:
        f.truncate(DISK_BYTES)
        if fill:
            f.seek(4096)
            f.write(fill)
    return path


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def vcpu_run_ns(name):
    stats = info(name)["vcpu-stats"]
    check("info reports the VCPU's run time", len(stats) == 1 and "run-ns" in stats[0])
    return stats[0]["run-ns"]


def t_boot():
    disk = image()
    up(disk)
    out = start_blkback("blkback: ready")
    check("it drives the disk", "blkback: disk " in out and "32768 sectors (16 MiB)" in out)
    check("it formats the blank disk", "blkback: formatted a blank disk (unit 1 MiB)" in out)
    check("an empty table, copy A, sequence 1, 15 MiB free",
          "blkback: volume table seq 1 (copy A): 0 volumes, 15 MiB free" in out)
    check("it is running", info("blkback")["summary"]["state"] == "running")
    # Idle: it sleeps in HC_BLOCK. Its run time over a pause is checked
    # against a bound that does not depend on how long the pause was.
    r0 = vcpu_run_ns("blkback")
    check("it has run (formatting)", r0 > 0)
    time.sleep(2)
    r1 = vcpu_run_ns("blkback")
    print("blkback: idle run time %d ns over about 2 s (run-ns %d -> %d)" % (r1 - r0, r0, r1))
    check("idle blkback does not run (under 1 ms)", r1 - r0 < 1000000)
    down()
    with open(disk, "rb") as f:
        f.seek(4096)
        check("the image holds copy A of the table", f.read(8) == b"HVVOLTAB")
    # A new machine on the same image.
    up(disk)
    out = start_blkback("blkback: ready")
    check("the second boot finds the table", "blkback: volume table seq 1 (copy A)" in out)
    check("and formats nothing", "formatted" not in out)


def t_damaged():
    disk = image(fill=bytes((i * 37 + 11) & 0xff for i in range(32768)))
    before = digest(disk)
    up(disk)
    out = start_blkback("left untouched")
    check("a damaged disk is reported", "blkback: FAILED the disk holds no valid volume table "
          "and is not blank: left untouched" in out)
    check("blkback stops", wait_state("blkback", ["shutdown", "crashed"]) in ("shutdown", "crashed"))
    down()
    check("the image is unchanged", digest(disk) == before)


def t_default_disk():
    own = os.path.join(RUN, "disk.img")
    out = hvctl("up", "--iso", ARGS.iso, "--disk", own, "--no-disk", rc=2)
    check("--disk and --no-disk are refused together", "exclude each other" in out)
    out = hvctl("up", "--iso", ARGS.iso, "--disk-size", "1M", rc=2)
    check("a disk size under 2M is refused", "--disk-size" in out)
    check("nothing was created", not os.path.exists(own))
    out = up(extra=["--disk-size", "8M"])
    check("up creates the run directory's disk", "disk %s created (8 MiB)" % own in out)
    check("of the size asked for", os.path.getsize(own) == 8 << 20)
    check("the machine has it", has_blk_function())
    out = start_blkback("blkback: ready")
    check("blkback formats it", "16384 sectors (8 MiB)" in out and "formatted a blank disk" in out)
    down()
    out = up()
    check("the next up keeps it", "created" not in out and os.path.getsize(own) == 8 << 20)
    out = start_blkback("blkback: ready")
    check("blkback finds its table there", "blkback: volume table seq 1 (copy A)" in out
          and "formatted" not in out)
    down()
    up(extra=["--no-disk"])
    check("--no-disk: the machine has no disk", not has_blk_function())
    out = hvctl("create", "-f", manifest(), rc=1)
    check("and blkback cannot be created", "no PCI function 1af4:1042" in out)


SCENARIOS = {"boot": t_boot, "damaged": t_damaged, "default_disk": t_default_disk}


def main():
    global ARGS, RUN
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hvctl", required=True)
    ap.add_argument("--driver", required=True)
    ap.add_argument("--iso", required=True)
    ap.add_argument("--blkback", required=True)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ARGS = ap.parse_args()
    RUN = os.path.join(ARGS.workdir, "blkback_" + ARGS.scenario)
    if os.path.exists(os.path.join(RUN, "qemu.pid")):
        down()
    shutil.rmtree(RUN, ignore_errors=True)
    os.makedirs(RUN)
    ok = False
    try:
        SCENARIOS[ARGS.scenario]()
        ok = True
    except (Fail, subprocess.TimeoutExpired) as e:
        print("blkback_test: %s: FAILED: %s" % (ARGS.scenario, e))
    finally:
        down()
        log = os.path.join(RUN, "com1.log")
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                print("--- last lines of %s ---" % log)
                print("\n".join(f.read().splitlines()[-40:]))
    if ok:
        print("blkback_test: %s: passed" % ARGS.scenario)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
