#!/usr/bin/env python3
"""Every freestanding C file (hypervisor, guest-kit, domains, test guests) compiled
again WITHOUT optimisation, with -Wframe-larger-than=LIMIT: no function's stack
frame may pass LIMIT bytes in any build type (test `stack_frames`).

Why: a domain's initial stack is HV_LAYOUT_STACK_PAGES (8) pages, 32 KiB. An
optimised build can hide a huge local (vfr_init's `struct vfr zero = {0}; *v =
zero;`, 72 KiB, was folded into a store at -O2), an unoptimised one puts it on
the stack, past the stack's bottom: netback crashed at start in a build
without a build type. This check sees the -O0 frames from any build directory.

Usage: check-stack-frames.py BUILD_DIR [LIMIT]   (LIMIT defaults to 8192)
Reads BUILD_DIR/compile_commands.json; runs each freestanding command with
-O0 and the output to /dev/null. Exit 1 and one line per frame over LIMIT.
"""
import concurrent.futures
import json
import os
import re
import shlex
import subprocess
import sys


def command_at_o0(entry, limit):
    args = shlex.split(entry["command"])
    args = [a for a in args if not re.fullmatch(r"-O.*|-g.*", a)]
    args[args.index("-o") + 1] = os.devnull
    return args + ["-O0", "-Wframe-larger-than=%d" % limit, "-Wno-error"]


def frames_over(entry, limit):
    run = subprocess.run(command_at_o0(entry, limit), cwd=entry["directory"],
                         capture_output=True, text=True)
    if run.returncode != 0:
        return ["%s: does not compile at -O0:\n%s" % (entry["file"], run.stderr)]
    return [line for line in run.stderr.splitlines() if "-Wframe-larger-than" in line]


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    build = sys.argv[1]
    limit = int(sys.argv[2]) if len(sys.argv) == 3 else 8192
    with open(os.path.join(build, "compile_commands.json")) as f:
        entries = [e for e in json.load(f)
                   if "-ffreestanding" in e["command"] and e["file"].endswith(".c")]
    if not entries:
        sys.exit("stack_frames: FAILED no freestanding C file in compile_commands.json")
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        found = [line for lines in pool.map(lambda e: frames_over(e, limit), entries)
                 for line in lines]
    for line in sorted(set(found)):
        print(line)
    if found:
        print("stack_frames: FAILED (a frame over %d bytes at -O0, or a file that does not "
              "compile there): make a large object static, or zero it in place with memset"
              % limit)
        return 1
    print("stack_frames: %d freestanding files at -O0, no frame over %d bytes"
          % (len(entries), limit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
