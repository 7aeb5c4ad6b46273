#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# exec.sh - warm round trip of exec `true` against a raw request/response
# ping to the guest agent on the same channel, alternating, in one
# sandbox; prints both medians and the ratio (target <= 2).
#   bench/exec.sh [ROUNDS]   (default 100)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bin=$src/build/bench/exec_bench
[ -x "$bin" ] || { echo "exec.sh: $bin not found: build first (ninja -C build)" >&2; exit 1; }
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-bench-XXXXXX)
trap 'rm -rf "$MSB_HOME"' EXIT
"$bin" "${1:-100}" 2>/dev/null
