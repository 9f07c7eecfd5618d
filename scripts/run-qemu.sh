#!/usr/bin/env bash
# run-qemu.sh [--iso ISO] [--smp N] [--mem M] [--gdb] [-- extra qemu args]
# Boots the hypervisor under QEMU (q35, TCG). COM1 (the hypervisor log and
# the domains' consoles) is this terminal; COM2 (the control channel) is a
# Unix socket under run/. Ctrl-A X quits QEMU. With --gdb QEMU waits for gdb
# on localhost:1234 (see README.md, "Debugging").
set -euo pipefail
cd "$(dirname "$0")/.."
iso=build/hv.iso smp=1 mem=512M gdb=()
while [ $# -gt 0 ]; do
  case $1 in
    --iso) iso=$2; shift 2 ;;
    --smp) smp=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --gdb) gdb=(-s -S); shift ;;
    --) shift; break ;;
    *) echo "run-qemu.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
rundir=run
mkdir -p "$rundir"
echo "hv: booting $iso (smp $smp, memory $mem)"
echo "hv: COM1 (log, consoles) on this terminal; COM2 (control channel) at $rundir/com2.sock"
echo "hv: quit with Ctrl-A X"
set +e
qemu-system-x86_64 -M q35 -accel tcg -cpu max -smp "$smp" -m "$mem" \
  -display none -no-reboot \
  -serial mon:stdio \
  -serial "unix:$rundir/com2.sock,server=on,wait=off" \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
  -cdrom "$iso" "${gdb[@]}" "$@"
status=$?
set -e
case $status in
  0) echo "hv: QEMU quit" ;;
  33) echo "hv: the root domain powered off"; status=0 ;;
  35) echo "hv: the root domain crashed" ;;
  37) echo "hv: the root domain asked for a reboot" ;;
  39) echo "hv: the hypervisor panicked" ;;
  41) echo "hv: boot failed" ;;
  *) echo "hv: QEMU exited with status $status" ;;
esac
exit $status
