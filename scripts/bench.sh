#!/usr/bin/env bash
# bench.sh [--quick] BUILD: the project's benchmarks (not tests: they report
# figures). Runs the foundation's figures, then every executable
# scripts/bench.d/*.sh with the build directory as its argument. A benchmark
# that fails is reported and the others still run; the exit status says
# whether all of them ran.
#
# --quick (BENCH_QUICK=1 for the bench.d scripts): a one-iteration slice of
# every benchmark, with the host benchmarks built with ASan/UBSan; make check
# runs it (test bench_slice) so that no benchmark rots unnoticed. Its figures
# mean nothing.
set -uo pipefail
cd "$(dirname "$0")/.."
quick=0
if [ "${1:-}" = --quick ]; then
  quick=1
  shift
fi
build=${1:-build}
export BENCH_QUICK=$quick
failed=()

echo "== hypervisor size"
size "$build/hv/hv.elf" | awk 'NR==2 { printf "hv.elf: text %d bytes, data %d bytes, bss %d bytes, text+data %d bytes\n", $1, $2, $3, $1 + $2 }' ||
  failed+=(size)
printf "lines in hv/ (.c .h .S, all lines, including host-tested modules not yet linked): "
find hv -name '*.[chS]' -print0 | xargs -0 cat | wc -l
python3 - "$build/compile_commands.json" <<'PY' || failed+=(lines)
import json, sys
srcs = sorted({e["file"] for e in json.load(open(sys.argv[1])) if "hv.elf.dir" in e.get("output", e["command"])})
print("lines in the %d source files linked into hv.elf: %d" % (len(srcs), sum(len(open(s).readlines()) for s in srcs)))
PY

echo "== boot time"
./scripts/bench_boot.py "$build/hv.iso" "$([ $quick = 1 ] && echo 1 || echo 5)" || failed+=(boot)

for b in scripts/bench.d/*.sh; do
  [ -x "$b" ] || continue
  name=$(basename "$b" .sh)
  echo "== $name"
  "$b" "$build" || { echo "bench: $name FAILED (exit $?)"; failed+=("$name"); }
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "bench: FAILED: ${failed[*]}"
  exit 1
fi
echo "bench: every benchmark ran$([ $quick = 1 ] && echo ' (quick slice)')"
