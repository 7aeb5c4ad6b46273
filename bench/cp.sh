#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cp.sh - copy-out of a sparse file against a dense one, in one sandbox,
# same run. The sparse file (SIZE MiB of holes and one block of data)
# crosses the channel as hole lengths and lands as holes; the dense file
# (DENSE MiB of random bytes) is the baseline of real data. Prints the
# seconds and host blocks of each, the time ratio (sparse / dense) and the
# ratio of apparent bytes per second.
#   bench/cp.sh [SIZE_MIB [DENSE_MIB]]   (default 2048 64)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
msb=$src/build/msb
size=${1:-2048} dense=${2:-64}
[ -x "$msb" ] || { echo "cp.sh: $msb not found: build first (ninja -C build)" >&2; exit 1; }
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-bench-XXXXXX)
out=$(mktemp -d /tmp/msb-bench-out-XXXXXX)
trap '"$msb" rm -f cpbench >/dev/null 2>&1; rm -rf "$MSB_HOME" "$out"' EXIT
"$msb" run -d --name cpbench >/dev/null 2>&1
"$msb" exec cpbench -- sh -c "truncate -s ${size}M /s && echo x >> /s &&
	dd if=/dev/urandom of=/d bs=1M count=$dense 2>/dev/null"
secs() {
	local t0 t1
	t0=$(date +%s.%N)
	"$@"
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}
ts=$(secs "$msb" cp cpbench:/s "$out/s")
td=$(secs "$msb" cp cpbench:/d "$out/d")
bs=$(stat -c %b "$out/s") bd=$(stat -c %b "$out/d")
printf 'sparse %s MiB: %.2f s, %s host blocks\n' "$size" "$ts" "$bs"
printf 'dense %s MiB: %.2f s, %s host blocks\n' "$dense" "$td" "$bd"
awk -v ts="$ts" -v td="$td" -v s="$size" -v d="$dense" 'BEGIN {
	printf "time ratio sparse/dense: %.2f; apparent MiB/s ratio: %.1f\n",
		ts / td, (s / ts) / (d / td) }'
# The copies are whole: sizes and contents as in the guest.
[ "$(stat -c %s "$out/s")" = $((size * 1048576 + 2)) ] &&
	[ "$(tail -c 2 "$out/s")" = x ] &&
	[ "$("$msb" exec cpbench -- md5sum /d | cut -d' ' -f1)" = "$(md5sum <"$out/d" | cut -d' ' -f1)" ] ||
	{ echo "cp.sh: a copy differs from the guest's file" >&2; exit 1; }
