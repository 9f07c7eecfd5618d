#!/usr/bin/env bash
# blkback's data path (issue 15, docs/blkback.md#figures): a domain using
# gk/blk.h (test/integration/blk_guest role=bench) drives a 64 MiB volume
# through blkback with 32 requests in flight: sequential and random writes
# and reads of 4 KiB and 64 KiB. Each run is a new machine (`hvctl up`,
# TCG, 2 CPUs, the disk a raw image file on the host); RUNS runs (default
# 3), and for each figure the median and the spread (min..max) of the runs.
# Wall-clock figures under TCG on a shared host: indicative, not exact
# (the domain's clock, which follows the host's). BENCH_QUICK=1: one run of
# 1 MiB per pass, only to prove it still runs.
set -euo pipefail
build=$(cd "$1" && pwd)
work=$(mktemp -d)
hvctl=$build/tools/hvctl
runs=${RUNS:-3}
mib=${BLK_BENCH_MIB:-16}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  runs=1
  mib=1
fi
trap '"$hvctl" --run-dir "$work/run" down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

for r in $(seq 1 "$runs"); do
  rm -rf "$work/run"
  mkdir -p "$work/run"
  truncate -s 128M "$work/run/disk.img"
  "$hvctl" --run-dir "$work/run" up --iso "$build/hv.iso" --disk "$work/run/disk.img" \
    --wait 120 >/dev/null
  "$build/test/integration/control_driver" console "$work/run/com2.sock" "$work/run/admin.token" \
    blkback "blkback: ready" 120 >/dev/null
  "$hvctl" --run-dir "$work/run" --timeout 200 volume create bench 64M >/dev/null
  printf 'name: bench\nkernel: %s\nmemory: 16MiB\ncmdline: "blk_guest role=bench mib=%s"\ndisks:\n  - {volume: bench, mode: rw}\n' \
    "$build/test/integration/blk_guest" "$mib" > "$work/bench.yaml"
  "$hvctl" --run-dir "$work/run" create -f "$work/bench.yaml" >/dev/null ||
    { echo "run $r: create failed; COM1:"; tail -30 "$work/run/com1.log"; exit 1; }
  "$build/test/integration/control_driver" console "$work/run/com2.sock" "$work/run/admin.token" \
    bench "blk: bench: done" 900 > "$work/console.$r" ||
    { echo "run $r: no figures; console:"; tail -20 "$work/console.$r"; exit 1; }
  grep -a "blk: figure:" "$work/console.$r" | sed 's/^/run '"$r"': /'
  "$hvctl" --run-dir "$work/run" down >/dev/null
done

# Median and spread per figure over the runs.
python3 - "$work" "$runs" <<'PY'
import re, sys, statistics
work, runs = sys.argv[1], int(sys.argv[2])
figs = {}
for r in range(1, runs + 1):
    for line in open("%s/console.%d" % (work, r), errors="replace"):
        m = re.search(r"blk: figure: (\S+ \d+ KiB), (\d+) in flight: .*: (\d+) KiB/s, (\d+) IOPS, (\d+) TSC", line)
        if m:
            figs.setdefault(m.group(1), []).append((int(m.group(3)), int(m.group(4)), int(m.group(5))))
print("blk: %d run(s), 32 in flight; median (min..max):" % runs)
for k, v in figs.items():
    mb = [x[0] / 1024 for x in v]
    io = [x[1] for x in v]
    tk = [x[2] for x in v]
    print("  %-18s %7.2f MiB/s (%.2f..%.2f)  %6d IOPS (%d..%d)  %8d TSC ticks/request" % (
        k, statistics.median(mb), min(mb), max(mb), statistics.median(io), min(io), max(io),
        statistics.median(tk)))
PY
