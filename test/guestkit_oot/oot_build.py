#!/usr/bin/env python3
"""Out-of-tree build test of the guest-kit package (test/guestkit_oot).

1. cmake --install BUILD --component guest-kit --prefix TMP/prefix
2. check the installed tree has the headers, libraries, linker script and
   the package files;
3. configure TMP/src (a copy of project/) with a fresh cmake and
   CMAKE_PREFIX_PATH=TMP/prefix, build it;
4. check the image: ELF64, little-endian, x86_64, ET_EXEC, entry and every
   PT_LOAD in guest space [0x1000, 0x800000000000), entry in an executable
   segment; and no compile command names the source tree (only installed
   headers were used);
5. check that asking for a version the package does not have fails;
6. copy the image to --out (for the boot test).
The temporary directory is removed on success and kept on failure.
"""
import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile

GUEST_LOW, GUEST_HIGH = 0x1000, 0x0000800000000000
PT_LOAD, PF_X = 1, 1


def run(cmd, **kw):
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, **kw)


def check_elf(path):
    with open(path, "rb") as f:
        data = f.read()
    problems = []
    if data[:4] != b"\x7fELF":
        return ["not an ELF file"]
    if data[4] != 2 or data[5] != 1:
        problems.append("not ELF64 little-endian (class %d, data %d)" % (data[4], data[5]))
        return problems
    (e_type, e_machine, _ver, e_entry, e_phoff, _shoff, _flags, _ehsize, e_phentsize,
     e_phnum) = struct.unpack_from("<HHIQQQIHHH", data, 16)
    if e_type != 2:
        problems.append("e_type %d, not ET_EXEC" % e_type)
    if e_machine != 62:
        problems.append("e_machine %d, not x86_64" % e_machine)
    if not GUEST_LOW <= e_entry < GUEST_HIGH:
        problems.append("entry %#x outside guest space" % e_entry)
    entry_exec = False
    loads = 0
    for i in range(e_phnum):
        p_type, p_flags, _off, p_vaddr, _paddr, _filesz, p_memsz, _align = struct.unpack_from(
            "<IIQQQQQQ", data, e_phoff + i * e_phentsize)
        if p_type != PT_LOAD:
            continue
        loads += 1
        if not (GUEST_LOW <= p_vaddr and p_vaddr + p_memsz <= GUEST_HIGH):
            problems.append("segment %#x+%#x outside guest space" % (p_vaddr, p_memsz))
        if p_flags & PF_X and p_vaddr <= e_entry < p_vaddr + p_memsz:
            entry_exec = True
    if loads == 0:
        problems.append("no PT_LOAD segment")
    if not entry_exec:
        problems.append("entry %#x not in an executable segment" % e_entry)
    print("image: ET_EXEC=%s entry %#x, %d loadable segments" % (e_type == 2, e_entry, loads))
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--cmake", required=True)
    ap.add_argument("--generator", required=True)
    ap.add_argument("--c-compiler", required=True)
    ap.add_argument("--project", required=True)
    ap.add_argument("--source-tree", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="guestkit-oot-")
    prefix, src, bld = (os.path.join(tmp, d) for d in ("prefix", "src", "build"))
    problems = []
    try:
        if run([args.cmake, "--install", args.build_dir, "--component", "guest-kit",
                "--prefix", prefix]).returncode != 0:
            problems.append("cmake --install failed")
            return problems
        for rel in ("include/guest-kit/gk/gk.h", "include/guest-kit/gk/heap.h",
                    "include/guest-kit/gk/virtqueue.h", "include/guest-kit/hv/abi.h",
                    "include/guest-kit/hv/proto_msgs.h", "include/guest-kit/libc/string.h",
                    "lib/guest-kit/libgk_runtime.a", "lib/guest-kit/libhvlibc_guest.a",
                    "lib/guest-kit/libproto_guest.a", "lib/guest-kit/guest.ld",
                    "lib/cmake/guest-kit/guest-kit-config.cmake",
                    "lib/cmake/guest-kit/guest-kit-config-version.cmake",
                    "lib/cmake/guest-kit/add_guest.cmake"):
            if not os.path.isfile(os.path.join(prefix, rel)):
                problems.append("not installed: " + rel)
        shutil.copytree(args.project, src)
        configure = [args.cmake, "-S", src, "-B", bld, "-G", args.generator,
                     "-DCMAKE_C_COMPILER=" + args.c_compiler,
                     "-DCMAKE_PREFIX_PATH=" + prefix, "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON"]
        if run(configure).returncode != 0:
            problems.append("configuring the out-of-tree project failed")
            return problems
        if run([args.cmake, "--build", bld]).returncode != 0:
            problems.append("building the out-of-tree project failed")
            return problems
        image = os.path.join(bld, "oot-hello")
        problems += check_elf(image)
        with open(os.path.join(bld, "compile_commands.json")) as f:
            commands = f.read()
        tree = os.path.realpath(args.source_tree)
        if tree in commands.replace(src, ""):
            problems.append("a compile command names the source tree %s" % tree)
        if "-nostdinc" not in commands or "-ffreestanding" not in commands:
            problems.append("the guest flags are missing from the compile commands")
        # A version the package does not have must be refused.
        bad = run(configure[:4] + [os.path.join(tmp, "build-v99")] + configure[5:] +
                  ["-DGK_OOT_REQUIRE_VERSION=99"], capture_output=True, text=True)
        if bad.returncode == 0:
            problems.append("find_package(guest-kit 99) succeeded")
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        shutil.copyfile(image, args.out)
        return problems
    finally:
        if problems:
            print("kept for inspection: " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    found = main()
    for p in found:
        print("FAIL: " + p)
    if found:
        sys.exit(1)
    print("guestkit_oot_build: ok")
