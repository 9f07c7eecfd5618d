#!/bin/sh
# Runs every libFuzzer target of the build for a while.
#   usage: scripts/fuzz.sh BUILD_DIR [SECONDS_PER_TARGET]   (default 60)
# `make fuzz FUZZ_SECONDS=600` calls this. Each target keeps a growing corpus
# in BUILD_DIR/fuzz-corpus/<target> and also reads the seed corpus kept in
# test/fuzz/<target>/corpus (never written). Crashes are saved as
# BUILD_DIR/fuzz-artifacts/<target>-crash-*; the script exits non-zero if any
# target failed.
set -u
build=${1:?usage: scripts/fuzz.sh BUILD_DIR [SECONDS]}
seconds=${2:-60}
[ -n "$seconds" ] || seconds=60
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)

cmake --build "$build" -j 2 --target fuzz_msg_decode fuzz_cbor_check fuzz_ring_read fuzz_deframe fuzz_bus_conn || exit 1

status=0
for bin in "$build"/test/fuzz/*/*_fuzzer; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin" _fuzzer)
    corpus="$build/fuzz-corpus/$name"
    artifacts="$build/fuzz-artifacts"
    mkdir -p "$corpus" "$artifacts"
    echo "== fuzz $name for ${seconds}s"
    if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$artifacts/$name-" "$corpus" "$root/test/fuzz/$name/corpus" \
            > "$build/fuzz-$name.log" 2>&1; then
        grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' "$build/fuzz-$name.log"
        echo "== $name: OK"
    else
        tail -40 "$build/fuzz-$name.log"
        echo "== $name: FAILED (log: $build/fuzz-$name.log)"
        status=1
    fi
done
exit $status
