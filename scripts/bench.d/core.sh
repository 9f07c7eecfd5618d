#!/usr/bin/env bash
# Core-object figures (issue 4), deterministic: instruction counts under
# -icount shift=0,sleep=off. Capability copy and a 1,000-copy revoke
# (test_core test=revoke), event-channel round trip between two domains,
# grant map + unmap, a 1,000,000-message stream (test_pingpong), timer
# wake-up latency in virtual time (test_core test=timer).
set -euo pipefail
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() { # name modules...
  local name=$1; shift
  "$(dirname "$0")/../mkiso.sh" "$work/$name.iso" "$build/hv/hv.elf" "debug_exit loglvl=warn" "$@"
  timeout 300 qemu-system-x86_64 -M q35 -accel tcg -cpu max -m 256M -display none -no-reboot \
    -icount shift=0,sleep=off -serial "file:$work/$name.log" \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -cdrom "$work/$name.iso" || true
  grep -a "figure:" "$work/$name.log" | sed 's/^\[d[0-9]*\] //; s/TSC ticks/instructions/' ||
    { echo "no figures from $name; log:"; cat "$work/$name.log"; exit 1; }
}
run revoke "$build/test/guests/test_core::core test=revoke"
run timer "$build/test/guests/test_core::core test=timer"
# BENCH_QUICK=1 (bench.sh --quick): a 1,000-message stream instead.
count=$([ "${BENCH_QUICK:-0}" = 1 ] && echo 1000 || echo 1000000)
run pingpong "$build/test/guests/test_pingpong::pingpong count=$count" "$build/test/guests/test_pingpong::peer"
