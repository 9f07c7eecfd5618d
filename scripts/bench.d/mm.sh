#!/usr/bin/env bash
# PV-memory figures (issue 3), deterministic: instruction counts under icount.
set -euo pipefail
"$(dirname "$0")/../bench_guest.sh" "$1" "$1/test/guests/mm_bench"
