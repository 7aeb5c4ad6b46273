#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# ab.sh - A/B a change that an environment variable switches: alternates
# `msb run -- true` under two environments, in the same run
#
# Usage: bench/ab.sh 'VAR=a ...' 'VAR=b ...' [-- MSB-RUN-ARGS...]
#
# Each round runs `build/msb run [MSB-RUN-ARGS] -- true` once under each
# environment (env(1) assignments, '' for none), A first on odd rounds and
# B first on even ones, and prints both medians and B/A. Cold boots unless
# the assignments say MSB_NO_TEMPLATE= (empty).
#
# With BENCH_HOST_ONLY=1, QEMU is /bin/false: each run fails at once after
# the host's share of the work (sandbox record, root overlay, supervisor,
# jail, spawn), which the boot's noise under TCG would hide.
#
# Environment: BENCH_RUNS (rounds, default 15), BENCH_TIMEOUT (seconds per
# run, default 60), BUILD_DIR (default build), BENCH_HOST_ONLY.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
msb=${BUILD_DIR:-$src/build}/msb
runs=${BENCH_RUNS:-15}
limit=${BENCH_TIMEOUT:-60}
[ $# -ge 2 ] || { sed -n '3,20s/^# \{0,1\}//p' "$0" >&2; exit 2; }
a=$1 b=$2
shift 2
[ "${1:-}" != -- ] || shift
[ -x "$msb" ] || { echo "ab.sh: $msb not found: build first" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/msb-ab.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

once() { # ENV -> ns
	local start end rc=0 host=
	[ -z "${BENCH_HOST_ONLY:-}" ] || host=MSB_QEMU=/bin/false
	start=$(date +%s%N)
	# shellcheck disable=SC2086 # the assignments are words
	env MSB_NO_TEMPLATE=1 $host $1 timeout -k 5 "$limit" "$msb" run "${@:2}" -- true \
		</dev/null >"$tmp/out" 2>&1 || rc=$?
	end=$(date +%s%N)
	[ -z "$host" ] || [ "$rc" -ne 125 ] || rc=0 # the VM stopped during boot
	[ "$rc" -eq 0 ] || { echo "ab.sh: '$1': msb run failed ($rc): $(tail -n 3 "$tmp/out")" >&2; exit 1; }
	echo $((end - start))
}
median() {
	sort -n | awk '{ v[NR] = $1 } END { printf "%.0f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ms() { awk -v ns="$1" 'BEGIN { printf "%.0f", ns / 1e6 }'; }

once "$a" "$@" >/dev/null
once "$b" "$@" >/dev/null
: >"$tmp/a"
: >"$tmp/b"
for i in $(seq 1 "$runs"); do
	if [ $((i % 2)) -eq 1 ]; then
		ta=$(once "$a" "$@"); tb=$(once "$b" "$@")
	else
		tb=$(once "$b" "$@"); ta=$(once "$a" "$@")
	fi
	echo "$ta" >>"$tmp/a"
	echo "$tb" >>"$tmp/b"
	echo "round $i/$runs: A $(ms "$ta") ms, B $(ms "$tb") ms" >&2
done
ma=$(median <"$tmp/a")
mb=$(median <"$tmp/b")
echo "A '$a': median $(ms "$ma") ms; B '$b': median $(ms "$mb") ms; B/A $(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.3f", b / a }')"
