#!/bin/sh
# The hypercall fuzzer campaign (test/guests/fuzz.c on the test image
# hv-test.elf): runs of CALLS_PER_RUN calls, each with a new seed, until at
# least TOTAL_CALLS calls ran. A run fails when the hypervisor panics, the
# fuzzer or the workload dies, an audit of the hypervisor's invariants finds
# a difference, or frames are lost; its seed is printed and its log kept.
#   usage: scripts/fuzz-hv.sh BUILD_DIR [TOTAL_CALLS] [CALLS_PER_RUN]
#          (defaults 10000000 and 1000000; `make fuzz` calls it)
# Reproduce a failure: scripts/fuzz-hv.sh BUILD_DIR N N with FUZZ_SEED=S.
set -u
build=${1:?usage: scripts/fuzz-hv.sh BUILD_DIR [TOTAL_CALLS] [CALLS_PER_RUN]}
total=${2:-10000000}
per_run=${3:-1000000}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)

# FUZZ_NO_BUILD=1: use the images as they are (a campaign running from a copy).
[ -n "${FUZZ_NO_BUILD:-}" ] || cmake --build "$build" -j 2 --target hv-test.elf test_fuzz || exit 1
hv="$build/hv/hv-test.elf"
guest="$build/test/guests/test_fuzz"
logdir="$build/fuzz-hv"
mkdir -p "$logdir"

# About 4 ms of host time per 1,000 calls on a quiet host, plus the boot;
# generous, as the host may be busy: the runs are bounded by calls, not time.
timeout=$((120 + per_run / 1000))
# The hypervisor audits itself after every batch (10 per run).
batch=$((per_run / 10))
[ "$batch" -gt 0 ] || batch=1
done_calls=0
runs=0
worst=0
worst_what=none
campaign_start=$(date +%s)
calls_ran=0
stats="$logdir/stats-$campaign_start.txt"
: > "$stats"
failed=""
while [ "$done_calls" -lt "$total" ]; do
    if [ -n "${FUZZ_SEED:-}" ] && [ "$runs" -eq 0 ]; then
        seed=$FUZZ_SEED
    else
        seed=$(od -An -N6 -tu8 /dev/urandom | tr -d ' ')
    fi
    name="fuzz-$seed"
    start=$(date +%s)
    if python3 "$root/test/integration/hvtest.py" --name "$name" --hv "$hv" \
            --mkiso "$root/scripts/mkiso.sh" --logdir "$logdir" --smp 2 --timeout "$timeout" \
            --qemu-arg=-icount --qemu-arg=shift=0,sleep=off \
            --module "$guest::fuzz test=fuzz seed=$seed calls=$per_run batch=$batch" \
            --module "$guest::child" \
            --expect "[d0] fuzz: ok" --forbid PANIC --forbid FAILED --forbid "hypervisor fault" \
            > "$logdir/$name.out" 2>&1; then
        result=ok
    else
        result="FAILED (log: $logdir/$name)"
        failed="$failed $seed"
    fi
    # "fuzz: longest stretch of hypervisor work during the run: N ns (hypercall H, command C)"
    line=$(grep -a "fuzz: longest stretch" "$logdir/$name/com1.log" 2>/dev/null | head -n 1)
    longest=$(echo "$line" | sed -n 's/.*during the run: \([0-9]*\) ns (\([^)]*\)).*/\1/p')
    [ -n "$longest" ] || longest=0
    if [ "$longest" -gt "$worst" ]; then
        worst=$longest
        worst_what="$(echo "$line" | sed -n 's/.* ns (\([^)]*\)).*/\1/p'), seed $seed"
    fi
    ran=$(grep -a "fuzz: done:" "$logdir/$name/com1.log" 2>/dev/null | sed -n 's/.*done: \([0-9]*\) calls.*/\1/p')
    calls_ran=$((calls_ran + ${ran:-0}))
    # What every call returned, per hypercall and command (summed below).
    grep -a "^\[d2\] fuzz: \(hypercall\|unknown\)" "$logdir/$name/com1.log" >> "$stats" 2>/dev/null
    [ "$result" != ok ] || rm -rf "${logdir:?}/$name" "$logdir/$name.out"
    runs=$((runs + 1))
    done_calls=$((done_calls + per_run))
    echo "fuzz-hv: run $runs: seed $seed, $per_run calls, $(($(date +%s) - start)) s, longest" \
        "stretch $longest ns: $result"
done
# Coverage: per hypercall and command, the calls made and what they returned.
awk '{
    key = $0; sub(/: [0-9]+ calls:.*/, "", key); sub(/^\[d2\] fuzz: /, "", key)
    n = $0; sub(/.*: /, "", n)
    rest = $0; sub(/.*calls:/, "", rest)
    split(rest, f, " ")
    for (i = 1; i + 1 <= length(f); i += 2) { cnt[key, f[i]] += f[i + 1]; names[f[i]] = 1 }
    keys[key] = 1
}
END {
    for (k in keys) {
        line = "fuzz-hv: coverage: " k ":"
        total = 0
        for (r in names) if ((k, r) in cnt) { line = line " " r " " cnt[k, r]; total += cnt[k, r] }
        print line " (" total " calls)"
    }
}' "$stats" | sort -t: -k3,3 -V
echo "fuzz-hv: $runs runs, $calls_ran calls made ($done_calls asked), $(($(date +%s) - campaign_start)) s;" \
    "longest stretch of hypervisor work in any run: $worst ns ($worst_what)"
if [ -n "$failed" ]; then
    echo "fuzz-hv: FAILED seeds:$failed (rerun one: FUZZ_SEED=S $0 $build $per_run $per_run)"
    exit 1
fi
echo "fuzz-hv: no failure"
