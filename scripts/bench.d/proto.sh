#!/bin/sh
# proto/ benchmark: codec vs libcbor, ring vs memcpy, and the two-thread
# ring stress run at full size (tens of millions of messages; make check
# runs only a few million under the sanitizers).
#   usage: scripts/bench.d/proto.sh BUILD_DIR
set -eu
build=${1:?usage: proto.sh BUILD_DIR}
cmake --build "$build" -j 2 --target proto_bench proto_ring_stress >/dev/null
echo "== proto: codec and ring throughput (figures measured in one run)"
"$build/test/unit/proto/proto_bench" 1.0
echo "== proto: ring stress, 2 threads, 20000000 messages of 8..256 bytes, 64 KiB ring"
"$build/test/unit/proto/proto_ring_stress" 20000000 65536 256
