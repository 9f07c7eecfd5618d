#!/usr/bin/env python3
"""Fails when a file of the hypervisor includes across a forbidden boundary.

Usage: check-layers.py SOURCE_DIR [--unlinked FILE]... LAYER=DIR[,DIR...]:INC[,INC...] ...

Each LAYER names the directories whose files belong to it (sources and
headers) and the include directories it may use. hv/CMakeLists.txt passes
the same lists it gives the compiler, so the two cannot drift apart; this
check adds what include paths alone do not catch: a path that climbs out
(`#include "../core/include/cap.h"`), an absolute path, and a header no
.c file of the layer happens to include.

Every `#include "x"` of a file must resolve, as the compiler resolves it, to
the file's own directory or an allowed include directory; `#include <x>`
to an allowed include directory or to the system directories (the
compiler's and the project's libc and protocol headers, which every layer
may use). A name found only in another layer's directory is reported with
the layer that owns it. Exit status 1 on any violation.

--unlinked FILE names a .c file of a layer directory that hv.elf does not
link yet (host-tested groundwork, CMake computes the list): its violations
are reported as pending, not failures, until it is linked.
"""
import os
import re
import sys

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def parse_layers(root, specs):
    layers = {}
    for spec in specs:
        name, rest = spec.split("=", 1)
        dirs, incs = rest.split(":", 1)
        layers[name] = (
            [os.path.join(root, d) for d in dirs.split(",") if d],
            [os.path.join(root, d) for d in incs.split(",") if d],
        )
    return layers


def files_of(dirs):
    for d in dirs:
        for name in sorted(os.listdir(d)):
            if name.endswith((".c", ".h", ".S")):
                yield os.path.join(d, name)


def owner_of(layers, path):
    d = os.path.dirname(os.path.realpath(path))
    for name, (dirs, _) in layers.items():
        if any(os.path.realpath(x) == d for x in dirs):
            return name
    return None


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    root = argv[0]
    rest = argv[1:]
    unlinked = set()
    while len(rest) >= 2 and rest[0] == "--unlinked":
        unlinked.add(os.path.join(root, rest[1]))
        rest = rest[2:]
    layers = parse_layers(root, rest)
    pending = 0
    all_dirs = sorted({d for dirs, _ in layers.values() for d in dirs})
    bad = 0
    checked = 0
    for name, (dirs, incs) in layers.items():
        for path in files_of(dirs):
            rel = os.path.relpath(path, root)
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.readlines()
            for lineno, line in enumerate(lines, 1):
                m = INCLUDE_RE.match(line)
                if not m:
                    continue
                checked += 1
                kind, inc = m.groups()
                where = f"{rel}:{lineno}: #include {kind}{inc}{'>' if kind == '<' else kind}"
                if os.path.isabs(inc) or ".." in inc.split("/"):
                    print(f"{where}: a path that leaves the include directories")
                    bad += 1
                    continue
                search = ([os.path.dirname(path)] if kind == '"' else []) + incs
                if any(os.path.isfile(os.path.join(d, inc)) for d in search):
                    continue
                others = [d for d in all_dirs if os.path.isfile(os.path.join(d, inc))]
                if others:
                    owner = owner_of(layers, os.path.join(others[0], inc)) or "?"
                    what = (f"{where}: belongs to layer '{owner}' "
                            f"({os.path.relpath(others[0], root)}), which '{name}' may not include")
                    if path in unlinked:
                        print(f"{what} (pending: not linked into hv.elf yet)")
                        pending += 1
                    else:
                        print(what)
                        bad += 1
                # Anything else is a system, libc or protocol header (the
                # compiler finds it, or the build fails on its own).
    if bad:
        print(f"check-layers: {bad} forbidden include(s); allowed directions: hv/README.md")
        return 1
    print(f"check-layers: {checked} includes in {len(layers)} layers, all allowed"
          + (f" ({pending} pending in files not linked yet)" if pending else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
