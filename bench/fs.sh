#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fs.sh - write then read a file through the guest filesystem API, in MB/s,
# against the same bytes through `cat` with exec stdin/stdout, in one
# sandbox, same run; prints both and the ratios (fs API / cat).
#   bench/fs.sh [MIB]   (default 256)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bin=$src/build/bench/fs_bench
[ -x "$bin" ] || { echo "fs.sh: $bin not found: build first (ninja -C build)" >&2; exit 1; }
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-bench-XXXXXX)
trap 'rm -rf "$MSB_HOME"' EXIT
"$bin" "${1:-256}" 2>/dev/null
