#!/usr/bin/env bash
# run-qemu.sh [--iso ISO] [--smp N] [--mem M] [--run-dir DIR] [--disk FILE | --disk-size SIZE |
#             --no-disk] [--gdb] [-- extra qemu args]
# Boots the hypervisor under QEMU (q35, TCG). COM1 (the hypervisor log and
# the domains' consoles) is this terminal; COM2 (the control channel) is a
# Unix socket under run/ (--run-dir) served by the broker hvctl-mux (from
# the ISO's build directory, when built), laid out as `hvctl up` lays it out: a
# fresh admin token in run/admin.token (mode 0600), handed to the control
# domain as fw_cfg file opt/hv/admin-token, and QEMU's pid in run/qemu.pid,
# so `hvctl list`, `hvctl create`, `hvctl console` and `hvctl down` work from
# another terminal. Ctrl-A X quits QEMU. With --gdb QEMU waits for gdb on
# localhost:1234 (see README.md, "Debugging"). The machine gets a raw virtio
# disk as `hvctl up` gives it: --disk FILE, else run/disk.img, created sparse
# on first use (--disk-size, default 1G) and kept, so blkback's volumes
# survive a restart; --no-disk for none.
set -euo pipefail
cd "$(dirname "$0")/.."
iso=build/hv.iso smp=1 mem=512M gdb=() rundir=run disk= disk_size=1G no_disk=
while [ $# -gt 0 ]; do
  case $1 in
    --iso) iso=$2; shift 2 ;;
    --smp) smp=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --run-dir) rundir=$2; shift 2 ;;
    --gdb) gdb=(-s -S); shift ;;
    --disk) disk=$2; shift 2 ;;
    --disk-size) disk_size=$2; shift 2 ;;
    --no-disk) no_disk=1; shift ;;
    --) shift; break ;;
    *) echo "run-qemu.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$rundir"
chmod 700 "$rundir"
drive=()
if [ -z "$no_disk" ]; then
  if [ -z "$disk" ]; then
    disk=$rundir/disk.img
    if [ ! -e "$disk" ]; then
      ( umask 077; truncate -s "$disk_size" "$disk" )
      echo "hv: disk $disk created ($disk_size)"
    fi
  fi
  # modern-only, behind the IOMMU (a transitional device would bypass it)
  drive=(-drive "file=$disk,format=raw,if=none,id=disk0"
    -device virtio-blk-pci,drive=disk0,disable-legacy=on,iommu_platform=on)
fi
if [ -f "$rundir/qemu.pid" ] && kill -0 "$(cat "$rundir/qemu.pid")" 2>/dev/null &&
   grep -q qemu "/proc/$(cat "$rundir/qemu.pid")/comm" 2>/dev/null; then
  echo "run-qemu.sh: a machine is running already in $rundir (hvctl --run-dir $rundir down stops it)" >&2
  exit 6
fi
# The admin token, as hvctl up writes it: 32 random bytes, 64 hex digits.
( umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$rundir/admin.token.tmp"; echo >> "$rundir/admin.token.tmp" )
mv -f "$rundir/admin.token.tmp" "$rundir/admin.token"
rm -f "$rundir/com2.sock" "$rundir/qemu-com2.sock"
# The broker (hvctl-mux, docs/hvctl.md "The broker") from the ISO's build
# directory, as `hvctl up` starts it: it holds QEMU's COM2 and serves any
# number of hvctl clients on run/com2.sock. Without it (tools not built),
# QEMU's socket is run/com2.sock itself: one hvctl at a time.
mux=${HVCTL_MUX:-$(dirname "$iso")/tools/hvctl-mux}
muxpid=
com2="$rundir/com2.sock"
[ -x "$mux" ] && com2="$rundir/qemu-com2.sock"
# A socket path must fit in 108 bytes: QEMU gets it relative to the
# repository (this script's working directory), so a deep checkout works
# (the broker and hvctl handle long paths themselves).
qcom2=$(realpath -m --relative-to=. "$com2")
if [ ${#qcom2} -ge 108 ]; then
  echo "run-qemu.sh: the socket path $qcom2 is too long for QEMU (108 bytes); use a run directory nearer the repository" >&2
  exit 2
fi
if [ -x "$mux" ]; then
  "$mux" --qemu-socket "$com2" --listen "$rundir/com2.sock" --pid-file "$rundir/mux.pid" \
    --log "$rundir/mux.log" --wait 0 </dev/null >/dev/null 2>&1 &
  muxpid=$!
fi
echo "hv: booting $iso (smp $smp, memory $mem, disk ${disk:-none})"
echo "hv: COM1 (log, consoles) on this terminal; COM2 (control channel) at $rundir/com2.sock"
if [ -n "$muxpid" ]; then
  echo "hv: broker $mux (pid $muxpid, log $rundir/mux.log): several hvctl at once"
else
  echo "hv: no broker ($mux not built): one hvctl at a time"
fi
echo "hv: admin token in $rundir/admin.token; from another terminal: build/tools/hvctl list"
echo "hv: quit with Ctrl-A X"
set +e
# The machine has an IOMMU (docs/devices.md), before any PCI device; extra
# virtio devices given after -- want disable-legacy=on,iommu_platform=on to
# be behind it.
qemu-system-x86_64 -M q35 -accel tcg -cpu max -smp "$smp" -m "$mem" \
  -device intel-iommu,intremap=on \
  -display none -no-reboot \
  -serial mon:stdio \
  -serial "unix:$qcom2,server=on,wait=off" \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
  -fw_cfg "name=opt/hv/admin-token,file=$rundir/admin.token" \
  -pidfile "$rundir/qemu.pid" \
  -cdrom "$iso" "${drive[@]}" "${gdb[@]}" "$@"
status=$?
if [ -n "$muxpid" ]; then
  kill "$muxpid" 2>/dev/null
  wait "$muxpid" 2>/dev/null
fi
rm -f "$rundir/qemu.pid" "$rundir/admin.token" "$rundir/mux.pid" "$rundir/qemu-com2.sock"
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
