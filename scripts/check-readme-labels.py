#!/usr/bin/env python3
"""Fails when the top-level README's list of test labels is not the list of
labels ctest really has.

Usage: check-readme-labels.py SOURCE_DIR CTEST BUILD_DIR

The README's labels are those of its "What `make check` runs" section: the
`word` right after "label " (`unit`, `integration`) and every `word` of the
parenthesis that starts with "labels:" (up to its first ';'). ctest's are
what `CTEST --print-labels` prints in BUILD_DIR. A label on either side only
is reported (named in the README but carried by no test, or carried by a
test but not named); exit status 1 if there is any.
"""
import re
import subprocess
import sys


def readme_labels(text):
    sec = re.search(r"^### What `make check` runs\s*\n(.*?)(?=^#)", text, re.M | re.S)
    if not sec:
        print("check-readme-labels: README.md has no section \"What `make check` runs\"")
        sys.exit(1)
    body = sec.group(1)
    labels = set(re.findall(r"\blabel `([a-z0-9_]+)`", body))
    lists = re.findall(r"\(labels:([^;)]*)", body)
    if not lists:
        print("check-readme-labels: the section has no \"(labels: ...)\" list")
        sys.exit(1)
    for found in lists:
        labels.update(re.findall(r"`([a-z0-9_]+)`", found))
    return labels


def ctest_labels(ctest, build):
    out = subprocess.run([ctest, "--print-labels"], cwd=build, check=True, capture_output=True,
                         text=True).stdout
    lines = out.split("All Labels:", 1)
    if len(lines) != 2:
        print("check-readme-labels: unexpected ctest --print-labels output:\n" + out)
        sys.exit(1)
    return {w.strip() for w in lines[1].splitlines() if w.strip()}


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    root, ctest, build = argv
    with open(f"{root}/README.md", encoding="utf-8") as f:
        named = readme_labels(f.read())
    real = ctest_labels(ctest, build)
    bad = 0
    for label in sorted(named - real):
        print(f"README.md names the test label `{label}`, which no test carries")
        bad += 1
    for label in sorted(real - named):
        print(f"tests carry the label `{label}`, which README.md does not name")
        bad += 1
    if bad:
        return 1
    print(f"check-readme-labels: README.md names the {len(real)} labels ctest has")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
