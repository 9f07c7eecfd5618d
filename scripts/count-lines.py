#!/usr/bin/env python3
"""Count non-blank, non-comment source lines, the way issue #12 measures hv/.

Usage: scripts/count-lines.py [--by-file] [DIR...]   (default: hv)

What counts: every file under each DIR whose name ends in .c, .h, .S or .ld
(C, preprocessed assembly, linker scripts; READMEs and CMake files are not
code). Each file is stripped of C comments (/* ... */ and // ...), with string
and character literals respected so a "/*" inside a string is not a comment;
a line counts if anything but white space is left on it. A line holding code
and a comment counts once. Preprocessor lines count (they are code). The .S
files use C comments only (they go through the C preprocessor), so the same
rule applies to them.

The figure is the sum over all files; --by-file also prints each file's count.
"""
import os
import sys

EXTS = (".c", ".h", ".S", ".ld")


def strip_comments(text):
    """Returns text with every C comment replaced by spaces (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "/" and i + 1 < n and text[i + 1] == "*":
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append("".join("\n" if ch == "\n" else " " for ch in text[i:end]))
            i = end
        elif c == "/" and i + 1 < n and text[i + 1] == "/":
            end = text.find("\n", i)
            end = n if end < 0 else end
            i = end
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def count_file(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    return sum(1 for line in strip_comments(text).splitlines() if line.strip())


def main(argv):
    by_file = "--by-file" in argv
    dirs = [a for a in argv if not a.startswith("--")] or ["hv"]
    total = 0
    for d in dirs:
        for root, subdirs, files in os.walk(d):
            subdirs.sort()
            for name in sorted(files):
                if not name.endswith(EXTS):
                    continue
                path = os.path.join(root, name)
                k = count_file(path)
                total += k
                if by_file:
                    print(f"{k:7d} {path}")
    print(f"{total:7d} total")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
