#!/usr/bin/env bash
# Device-interrupt and IOMMU figures (issue 14), from test_iommu_attack's
# mode=bench and mode=idle (test/guests/iommu_attack.c): QEMU with
# `-device intel-iommu,intremap=on` and a virtio-blk disk.
#   - under -icount shift=0,sleep=off (the TSC counts instructions): a grant
#     map + unmap pair without and with the grantee's IOMMU space; the
#     interrupt latency, MSI-X to the domain's handler (the driver spins with
#     events on, so no halt warps the virtual clock); the virtio-blk
#     doorbell-to-completion time polled and woken from gk_block (the latter
#     is NOT an interrupt cost under -icount: a halted CPU warps virtual time
#     to the next timer, and QEMU completes the request on a host thread);
#   - in real time: 4 KiB reads per second, polled and by interrupt, and
#     the same latencies in TSC ticks (guest time, so the host's load shows
#     in it: an order of magnitude, and their ratio within one run);
#   - an idle driver domain's CPU time over 10 s of waiting for its device,
#     by interrupt and polled (under -icount shift=4, 16 ns per instruction,
#     so that 10 s of polling is 6.25e8 instructions: virtual time).
set -euo pipefail
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
disk=$work/disk.img
python3 -c "open('$disk','wb').write(b'virtio-blk-data\n' * 65536)"
g=$build/test/guests/test_iommu_attack
run() { # name icount(-icount shift, or no) root-args
  local name=$1 icount=$2; shift 2
  "$(dirname "$0")/../mkiso.sh" "$work/$name.iso" "$build/hv/hv.elf" "debug_exit loglvl=warn" \
    "$g::iommu-attack $*" "$g"
  local ic=()
  [ "$icount" != no ] && ic=(-icount "shift=$icount,sleep=off")
  timeout 600 qemu-system-x86_64 -M q35 -accel tcg -cpu max -m 512M -display none -no-reboot \
    "${ic[@]}" -serial "file:$work/$name.log" \
    -device intel-iommu,intremap=on \
    -drive "if=none,id=vblk,file=$disk,format=raw,snapshot=on" \
    -device virtio-blk-pci,drive=vblk,disable-legacy=on,iommu_platform=on \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -cdrom "$work/$name.iso" || true
  local unit='s/TSC ticks/TSC ticks (real time)/g'
  [ "$icount" != no ] && unit='s/TSC ticks/instructions/g'
  grep -a "figure:" "$work/$name.log" | sed "s/^\[d[0-9]*\] //; $unit" ||
    { echo "no figures from $name; log:"; cat "$work/$name.log"; exit 1; }
}
echo "-- under -icount (instructions)"
run bench_icount 0 mode=bench
echo "-- real time (guest TSC: TCG on this host, an order of magnitude)"
run bench_time no mode=bench | grep -E "reads|latency|doorbell"
echo "-- an idle driver domain over 10 s (virtual time under -icount)"
run idle_irq 4 mode=idle
run idle_polled 4 mode=idle polled
