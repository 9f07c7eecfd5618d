#!/usr/bin/env bash
# format.sh check|fix: clang-format over the project's C sources (tracked
# .c/.h files outside build directories).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-check}
mapfile -t files < <(git ls-files '*.c' '*.h')
[ ${#files[@]} -gt 0 ] || { echo "format: no files"; exit 1; }
if [ "$mode" = fix ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
bad=0
for f in "${files[@]}"; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "format: $f differs from .clang-format (run 'make format')"
    bad=$((bad + 1))
  fi
done
if [ $bad -ne 0 ]; then
  echo "format: $bad of ${#files[@]} files need formatting"
  exit 1
fi
echo "format: ${#files[@]} files ok"
