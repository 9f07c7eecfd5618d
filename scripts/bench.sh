#!/usr/bin/env bash
# bench.sh BUILD: the project's benchmarks (not tests: they report figures).
# Runs the foundation's figures, then every executable scripts/bench.d/*.sh
# with the build directory as its argument.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

echo "== hypervisor size"
size "$build/hv/hv.elf" | awk 'NR==2 { printf "hv.elf: text %d bytes, data %d bytes, bss %d bytes, text+data %d bytes\n", $1, $2, $3, $1 + $2 }'
printf "lines in hv/ (.c .h .S, all lines, including host-tested modules not yet linked): "
find hv -name '*.[chS]' -print0 | xargs -0 cat | wc -l
python3 - "$build/compile_commands.json" <<'PY'
import json, sys
srcs = sorted({e["file"] for e in json.load(open(sys.argv[1])) if "hv.elf.dir" in e.get("output", e["command"])})
print("lines in the %d source files linked into hv.elf: %d" % (len(srcs), sum(len(open(s).readlines()) for s in srcs)))
PY

echo "== boot time"
./scripts/bench_boot.py "$build/hv.iso" 5

for b in scripts/bench.d/*.sh; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b" .sh)"
  "$b" "$build"
done
