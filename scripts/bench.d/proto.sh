#!/bin/sh
# proto/ benchmark: codec vs libcbor, ring vs memcpy, and the two-thread
# ring stress run at full size (tens of millions of messages; make check
# runs only a few million under the sanitizers).
#   usage: scripts/bench.d/proto.sh BUILD_DIR
# BENCH_QUICK=1 (bench.sh --quick, make check): one short round of each with
# the ASan/UBSan builds, already built by make.
set -eu
build=${1:?usage: proto.sh BUILD_DIR}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  echo "== proto: codec and ring (quick slice, ASan/UBSan build)"
  UBSAN_OPTIONS=halt_on_error=1 "$build/test/unit/proto/proto_bench_asan" 0.001
  UBSAN_OPTIONS=halt_on_error=1 "$build/test/unit/proto/proto_ring_stress_asan" 20000 65536 256
  exit 0
fi
cmake --build "$build" -j 2 --target proto_bench proto_ring_stress >/dev/null
echo "== proto: codec and ring throughput (figures measured in one run)"
"$build/test/unit/proto/proto_bench" 1.0
echo "== proto: ring stress, 2 threads, 20000000 messages of 8..256 bytes, 64 KiB ring"
"$build/test/unit/proto/proto_ring_stress" 20000000 65536 256
