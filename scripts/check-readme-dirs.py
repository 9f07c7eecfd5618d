#!/usr/bin/env python3
"""Fails when the top-level README names a directory that does not exist or
has no README.md.

Usage: check-readme-dirs.py SOURCE_DIR

The directories are those of the README's "Layout" block (the first word of
a line, when it ends in '/') and every `backticked/` path in the README
whose first component is a directory of the tree and not one .gitignore
ignores (so `build/` and `run/`, which the build and `make run` create, are
not checked). Each must exist
under SOURCE_DIR and hold a README.md. Exit status 1 on any miss.
"""
import fnmatch
import os
import re
import sys


def ignored_tops(root):
    """Top-level directory patterns of .gitignore ("/build*/" -> "build*")."""
    pats = []
    try:
        with open(os.path.join(root, ".gitignore"), encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line.startswith("/") and line.endswith("/"):
                    pats.append(line.strip("/"))
    except OSError:
        pass
    return pats


def named_dirs(text, root):
    dirs = []
    ignored = ignored_tops(root)
    layout = re.search(r"^## Layout\s*\n```\n(.*?)^```", text, re.M | re.S)
    if not layout:
        print("check-readme-dirs: the README has no Layout block")
        sys.exit(1)
    for line in layout.group(1).splitlines():
        word = line.split(" ", 1)[0]
        if word.endswith("/"):
            dirs.append(word)
    for word in re.findall(r"`([A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*/)`", text):
        top = word.split("/", 1)[0]
        if any(fnmatch.fnmatch(top, p) for p in ignored):
            continue
        if os.path.isdir(os.path.join(root, top)) and word not in dirs:
            dirs.append(word)
    return dirs


def main(argv):
    if len(argv) != 1:
        print(__doc__)
        return 2
    root = argv[0]
    with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
        text = f.read()
    bad = 0
    dirs = named_dirs(text, root)
    for d in dirs:
        path = os.path.join(root, d)
        if not os.path.isdir(path):
            print(f"README.md names {d}, which does not exist")
            bad += 1
        elif not os.path.isfile(os.path.join(path, "README.md")):
            print(f"README.md names {d}, which has no README.md")
            bad += 1
    if bad:
        return 1
    print(f"check-readme-dirs: {len(dirs)} directories named in README.md, each with a README")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
