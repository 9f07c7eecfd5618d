#!/usr/bin/env bash
# bench_guest.sh BUILD GUEST_ELF [HV_CMDLINE]: boots GUEST as the root domain
# under -icount shift=0,sleep=off (the TSC counts executed instructions) and
# prints its "bench:" lines.
set -euo pipefail
build=$1; guest=$2; cmd=${3:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$(dirname "$0")/mkiso.sh" "$work/b.iso" "$build/hv/hv.elf" "debug_exit loglvl=warn $cmd" "$guest::bench"
timeout 300 qemu-system-x86_64 -M q35 -accel tcg -cpu max -m 256M -display none -no-reboot \
  -icount shift=0,sleep=off -serial "file:$work/com1.log" \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 -cdrom "$work/b.iso" || true
grep -a "bench:" "$work/com1.log" | sed 's/^\[d0\] //' || { echo "no figures; log:"; cat "$work/com1.log"; exit 1; }
