#!/usr/bin/env python3
"""Symbol checks of the libc subset's static libraries.

usage: check_symbols.py NM HOST_LIB FREESTANDING_LIB...

- Every global symbol that the host build defines must start with libc_: an
  unprefixed definition (say memcpy) would silently replace glibc's in every
  host test that links the library.
- A freestanding build must be self-contained: every symbol it references is
  defined in it (no call GCC slipped in to a libgcc or libc function).
"""
import subprocess
import sys


def symbols(nm, lib, *flags):
    out = subprocess.run([nm, *flags, lib], check=True, capture_output=True,
                         text=True).stdout
    return {line.split()[-1] for line in out.splitlines()
            if line.strip() and not line.endswith(":")}


def main():
    nm, host = sys.argv[1], sys.argv[2]
    failed = False
    names = symbols(nm, host, "-g", "--defined-only")
    bad = sorted(n for n in names if not n.startswith("libc_"))
    print(f"{host}: {len(names)} global symbols, {len(bad)} without the libc_ prefix")
    for required in ("libc_memcpy", "libc_vsnprintf", "libc_strtoull",
                     "libc_qsort", "libc_isdigit", "libc_vformat"):
        if required not in names:
            print("  missing:", required)
            failed = True
    if bad:
        print("  unprefixed:", " ".join(bad))
        failed = True
    for lib in sys.argv[3:]:
        defined = symbols(nm, lib, "-g", "--defined-only")
        undefined = symbols(nm, lib, "-u")
        missing = sorted(undefined - defined)
        print(f"{lib}: {len(defined)} defined, unresolved: {missing or 'none'}")
        if missing or "memcpy" not in defined:
            failed = True
    sys.exit(1 if failed else 0)


main()
