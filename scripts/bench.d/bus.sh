#!/usr/bin/env bash
# Domain-bus figures (issue 13, docs/bus.md), deterministic: instruction
# counts under -icount shift=0,sleep=off (the TSC counts instructions), one
# boot per figure group. The domains are built by the control domain at
# boot from manifests compiled into a boot configuration (hvctl compile):
#   - round trip: a domain's bus-ping answered by the control domain's
#     bus-pong, 2,000 times (bus_guest role=config);
#   - channel throughput: 64 B, 4 KiB and 64 KiB messages over a declared
#     1 MiB channel between two domains on one CPU (bus_guest chansend ->
#     chanrecv), against memcpy of the same bytes in the receiving domain;
#   - a 1 GiB stream from the fileserver example to fileclient, checksummed
#     at both ends (BUS_BENCH_STREAM_BYTES overrides the size).
set -euo pipefail
build=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
hvctl=$build/tools/hvctl
stream_bytes=${BUS_BENCH_STREAM_BYTES:-1073741824}
pings=2000
# BENCH_QUICK=1 (bench.sh --quick, make check's bench_slice): 20 pings and a
# 1 MiB stream, only to prove the benchmark still runs.
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  stream_bytes=1048576
  pings=20
fi

# run NAME PATTERN SECONDS MANIFEST...: boots the manifests, waits for PATTERN
# in COM1 (at most SECONDS of wall time), prints the figure lines.
run() {
  local name=$1 pattern=$2 seconds=$3; shift 3
  mkdir -p "$work/$name"
  for m in "$@"; do cp "$m" "$work/$name/"; done
  "$hvctl" compile -f "$work/$name" -o "$work/$name.cfg" >/dev/null
  "$root/scripts/mkiso.sh" "$work/$name.iso" "$build/hv/hv.elf" "debug_exit loglvl=warn" \
    "$build/domains/control::control" "$build/test/integration/bus_guest::bus_guest" \
    "$build/guest-kit/examples/fileserver::fileserver" \
    "$build/guest-kit/examples/fileclient::fileclient" "$work/$name.cfg::boot-config"
  qemu-system-x86_64 -M q35 -accel tcg -cpu max -m 512M -display none -no-reboot \
    -icount shift=0,sleep=off -serial "file:$work/$name.log" -serial null \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -cdrom "$work/$name.iso" &
  local qemu=$! t=0
  while ! grep -aq "$pattern" "$work/$name.log" 2>/dev/null && [ $t -lt "$seconds" ]; do
    sleep 1
    t=$((t + 1))
  done
  kill "$qemu" 2>/dev/null || true
  wait "$qemu" 2>/dev/null || true
  grep -a "figure:\|fileclient: \|fileserver: sent" "$work/$name.log" | sed 's/^\[d[0-9]*\] //; s/TSC ticks/instructions/g' ||
    { echo "no figures from $name; log:"; tail -30 "$work/$name.log"; exit 1; }
  grep -aq "$pattern" "$work/$name.log" || { echo "$name: no \"$pattern\" within $seconds s"; exit 1; }
}

man() { # NAME KERNEL CMDLINE [EXTRA YAML]
  printf 'name: %s\nkernel: %s\nmemory: %s\ncmdline: "%s"\n%s' "$1" "$2" "${MEM:-16MiB}" "$3" "${4:-}" \
    > "$work/$1.yaml"
  echo "$work/$1.yaml"
}

echo "== bus: request/reply round trip ($pings bus-pings)"
run rtt "config: done" 300 "$(man cfg bus_guest "bus_guest role=config pings=$pings")"

for batch in 1 16; do
  echo "== bus: channel throughput, 1 MiB declared channel (256 KiB rings, 256 KiB bulk each way), $batch message(s) per send call"
  run "chan$batch" "chanrecv: done" 600 \
    "$(man recv bus_guest 'bus_guest role=chanrecv')" \
    "$(man send bus_guest "bus_guest role=chansend batch=$batch" 'channels:
  - {name: bench, peer: recv, size: 1MiB}
')"
done

echo "== bus: a $stream_bytes-byte stream between two domains, checksummed at both ends"
run stream "fileclient: done\|fileclient: FAILED" 1800 \
  "$(man fileserver fileserver 'fileserver' "config:
  files: \"big:$stream_bytes\"
")" \
  "$(man fileclient fileclient 'fileclient' 'channels:
  - {name: files, peer: fileserver, size: 1MiB}
config:
  fetch: "big"
')"
