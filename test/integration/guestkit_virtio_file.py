#!/usr/bin/env python3
"""Runs one hvtest.py command and then checks a file QEMU wrote (e.g. a
chardev's output): the test passes only if hvtest passed and every --contains
text is in the file. The file (and, with --input, an input file with the
given text) is prepared before the run so that a stale one cannot pass.

usage: guestkit_virtio_file.py --file PATH [--input PATH TEXT] --contains TEXT... -- hvtest.py args
"""
import argparse
import subprocess
import sys

FINISH = "hvtest: finished"


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        print("usage: see the docstring")
        return 2
    cut = argv.index("--")
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", required=True)
    ap.add_argument("--input", nargs=2, metavar=("PATH", "TEXT"))
    ap.add_argument("--contains", action="append", default=[])
    args = ap.parse_args(argv[:cut])
    with open(args.file, "w"):
        pass
    if args.input:
        with open(args.input[0], "w") as f:
            f.write(args.input[1].replace("\\n", "\n"))
    run = subprocess.run(argv[cut + 1:], stdout=subprocess.PIPE, text=True)
    out = run.stdout.replace(FINISH, "hvtest: (run finished)")
    sys.stdout.write(out)
    problems = []
    if run.returncode != 0 or FINISH not in run.stdout:
        problems.append("the QEMU run failed")
    with open(args.file, "r", errors="replace") as f:
        text = f.read()
    for c in args.contains:
        if c not in text:
            problems.append("not in %s: %r" % (args.file, c))
    if problems:
        for p in problems:
            print("  - " + p)
        print("  ---- %s (%d bytes), first 400 ----" % (args.file, len(text)))
        print(text[:400])
        return 1
    print("file %s: %d bytes, every expected text found" % (args.file, len(text)))
    print(FINISH)
    return 0


if __name__ == "__main__":
    sys.exit(main())
