#!/usr/bin/env python3
"""Fails unless every global symbol that the host build of the libc subset
defines starts with gk_. An unprefixed definition (say memcpy) would silently
replace glibc's in every host test that links the library."""
import subprocess
import sys

nm, lib = sys.argv[1], sys.argv[2]
out = subprocess.run([nm, "-g", "--defined-only", lib], check=True,
                     capture_output=True, text=True).stdout
names = [line.split()[2] for line in out.splitlines() if len(line.split()) == 3]
bad = [n for n in names if not n.startswith("gk_")]
print(f"{len(names)} global symbols, {len(bad)} without the gk_ prefix")
if not names or bad:
    print("unprefixed:", " ".join(bad))
    sys.exit(1)
for required in ("gk_libc_memcpy", "gk_libc_vsnprintf", "gk_vformat"):
    if required not in names:
        print("missing:", required)
        sys.exit(1)
