#!/usr/bin/env bash
# Installs the Debian packages the build, `make run` and `make check` need.
# Idempotent: only missing packages are installed. Needs root (or sudo) for apt-get.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config python3
  clang llvm lld libclang-rt-14-dev clang-format
  qemu-system-x86 grub-pc-bin grub-common xorriso mtools
  libcmocka-dev libcbor-dev libyaml-dev libcyaml-dev
  gdb socat curl iproute2
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
