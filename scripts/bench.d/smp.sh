#!/usr/bin/env bash
# SMP figures (issue 8), deterministic: instruction counts under
# -icount shift=0,sleep=off on 4 CPUs (1 package, 2 cores, 2 threads):
# a context switch between two domains on one CPU (test_smp_sched
# test=switch), a TLB shootdown to 1 and to 3 other CPUs (test_smp_tlb
# test=flushcost), and the lock-holder-preemption workload with gang
# scheduling on and off (test_smp_sched test=lhp). docs/sched.md "Tests and
# figures" says what each one measures.
set -euo pipefail
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() { # name modules...
  local name=$1; shift
  "$(dirname "$0")/../mkiso.sh" "$work/$name.iso" "$build/hv/hv.elf" "debug_exit loglvl=warn" "$@"
  timeout 300 qemu-system-x86_64 -M q35 -accel tcg -cpu max -m 256M -display none -no-reboot \
    -smp 4,sockets=1,cores=2,threads=2 -icount shift=0,sleep=off -serial "file:$work/$name.log" \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -cdrom "$work/$name.iso" 2>"$work/$name.err" || true
  grep -a "figure:" "$work/$name.log" | sed 's/^\[d[0-9]*\] //' ||
    { echo "no figures from $name; log:"; cat "$work/$name.log"; exit 1; }
}
sched=$build/test/guests/test_smp_sched
run switch "$sched::smp test=switch" "$sched::child"
# BENCH_QUICK=1 (make check's bench_slice): the switch figure only, to prove
# this script still runs; the suite boots the same three workloads as the
# tests smp_fig_switch, smp_fig_shootdown and smp_fig_lhp.
[ "${BENCH_QUICK:-0}" = 1 ] && exit 0
run shootdown "$build/test/guests/test_smp_tlb::smp test=flushcost"
run lhp "$sched::smp test=lhp" "$sched::child"
