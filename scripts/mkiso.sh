#!/usr/bin/env bash
# mkiso.sh OUT.iso HV.elf "HV CMDLINE" MODULE[::CMDLINE] ...
# Makes a GRUB 2 (BIOS) ISO that boots the hypervisor through Multiboot2 with
# the given modules; the first module is the root domain.
set -euo pipefail
out=$1; hv=$2; hvcmd=$3; shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/boot/grub"
cp "$hv" "$work/boot/hv.elf"
{
  echo "set timeout=0"
  echo "set default=0"
  echo "menuentry \"hv\" {"
  echo "  multiboot2 /boot/hv.elf $hvcmd"
  i=0
  for m in "$@"; do
    path=${m%%::*}
    args=""
    [[ "$m" == *::* ]] && args=${m#*::}
    cp "$path" "$work/boot/mod$i"
    echo "  module2 /boot/mod$i $args"
    i=$((i + 1))
  done
  echo "  boot"
  echo "}"
} > "$work/boot/grub/grub.cfg"
grub-mkrescue -d /usr/lib/grub/i386-pc -o "$out" "$work" >/dev/null 2>&1 || {
  echo "mkiso: grub-mkrescue failed" >&2
  grub-mkrescue -d /usr/lib/grub/i386-pc -o "$out" "$work" >&2
  exit 1
}
