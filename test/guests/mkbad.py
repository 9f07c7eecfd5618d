#!/usr/bin/env python3
"""Makes hostile root-domain modules from a good guest ELF.

mkbad.py GOOD.elf OUTDIR writes:
  not_elf       a text file
  truncated     the first 100 bytes of the ELF
  empty_phdrs   phnum = 0
  hv_range      the first PT_LOAD moved into the hypervisor's half
  ldr_overflow  a PT_LOAD whose vaddr + memsz wraps around
  not_x86_64    e_machine = AArch64
  dyn           e_type = ET_DYN
  filesz_big    a PT_LOAD whose file bytes run past the end of the file
"""
import os
import struct
import sys


def phdr_offsets(data):
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return [phoff + i * phentsize for i in range(phnum)]


def first_load(data):
    for off in phdr_offsets(data):
        if struct.unpack_from("<I", data, off)[0] == 1:
            return off
    raise SystemExit("no PT_LOAD in the good image")


def main():
    good, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    data = open(good, "rb").read()

    def write(name, blob):
        with open(os.path.join(out, name), "wb") as f:
            f.write(blob)

    write("not_elf", b"this is not an ELF image\n" * 40)
    write("truncated", data[:100])

    b = bytearray(data)
    struct.pack_into("<H", b, 0x38, 0)
    write("empty_phdrs", bytes(b))

    b = bytearray(data)
    struct.pack_into("<Q", b, first_load(b) + 0x10, 0xffff800000000000)
    write("hv_range", bytes(b))

    b = bytearray(data)
    off = first_load(b)
    struct.pack_into("<Q", b, off + 0x10, 0x7ffffffff000)
    struct.pack_into("<Q", b, off + 0x28, 0xffffffffffff0000)
    write("ldr_overflow", bytes(b))

    b = bytearray(data)
    struct.pack_into("<H", b, 0x12, 183)
    write("not_x86_64", bytes(b))

    b = bytearray(data)
    struct.pack_into("<H", b, 0x10, 3)
    write("dyn", bytes(b))

    b = bytearray(data)
    struct.pack_into("<Q", b, first_load(b) + 0x20, len(data) * 4)
    struct.pack_into("<Q", b, first_load(b) + 0x28, len(data) * 4)
    write("filesz_big", bytes(b))


if __name__ == "__main__":
    main()
