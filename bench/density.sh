#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# density.sh - host memory per sandbox, and time until N sandboxes answer
#
# Usage: bench/density.sh [N...]      (default: 10 20 50)
#
# For each N: boot N detached sandboxes of 128 MiB (BENCH_PARALLEL at a
# time, default 4), time until every one has answered an exec, then read
# /proc/PID/smaps of each sandbox's processes (msb-vmm and QEMU) and
# split their proportional set size into guest RAM (QEMU's RAM mapping),
# the TCG translation cache (QEMU's executable anonymous mappings; absent
# under KVM) and the rest — the cost beyond guest RAM and cache, target
# <= 30 MiB per sandbox. Removes everything afterwards.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
msb=${MSB:-$src/build/msb}
par=${BENCH_PARALLEL:-4}
[ -x "$msb" ] || { echo "density.sh: $msb not found: build first" >&2; exit 1; }
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(10 20 50)

export MSB_HOME
cleanup() {
	if [ -n "${MSB_HOME:-}" ] && [ -d "$MSB_HOME" ]; then
		"$msb" ls --json 2>/dev/null | grep -o '"name": "[^"]*"' |
			cut -d'"' -f4 | xargs -r "$msb" rm -f >/dev/null 2>&1 || true
		rm -rf "$MSB_HOME"
	fi
}
trap cleanup EXIT

# PSS of a process split as: total, guest RAM, TCG cache (kB).
smaps_split() {
	awk -v ram_kb=$((128 * 1024)) '
		/^[0-9a-f]+-[0-9a-f]+ / { perms = $2; size = 0; anon = ($6 == "") }
		/^Size:/ { size = $2 }
		/^Pss:/ {
			total += $2
			if (anon && size >= ram_kb && size <= ram_kb + 4096) ram += $2
			else if (anon && perms ~ /x/) tcg += $2
		}
		END { printf "%d %d %d\n", total, ram, tcg }' "/proc/$1/smaps" 2>/dev/null || echo "0 0 0"
}

printf '%6s %12s %14s %14s %14s\n' N "all answer" "beyond/sbx" "TCG cache/sbx" "guest RAM/sbx"
for n in "${counts[@]}"; do
	MSB_HOME=$(mktemp -d /tmp/msb-density-XXXXXX)
	start=$(date +%s%N)
	for i in $(seq "$n"); do
		"$msb" run -d --name "d$i" --memory 128 >/dev/null 2>&1 &
		if [ $((i % par)) = 0 ]; then wait; fi
	done
	wait
	for i in $(seq "$n"); do
		"$msb" exec "d$i" -- true >/dev/null 2>&1 || echo "d$i did not answer" >&2
	done
	end=$(date +%s%N)
	tot=0 ram=0 tcg=0 k=0
	while read -r pid; do
		[ -n "$pid" ] && [ "$pid" != 0 ] || continue
		for p in "$pid" $(pgrep -P "$pid"); do
			read -r t r c < <(smaps_split "$p")
			tot=$((tot + t)) ram=$((ram + r)) tcg=$((tcg + c))
		done
		k=$((k + 1))
	done < <("$msb" ls --json | grep -o '"pid": [0-9]*' | awk '{ print $2 }')
	[ "$k" -gt 0 ] || { echo "density.sh: no sandbox running" >&2; exit 1; }
	awk -v n="$n" -v ns=$((end - start)) -v tot="$tot" -v ram="$ram" \
		-v tcg="$tcg" -v k="$k" 'BEGIN {
		printf "%6d %11.1fs %10.1f MiB %10.1f MiB %10.1f MiB\n", n,
			ns / 1e9, (tot - ram - tcg) / k / 1024, tcg / k / 1024,
			ram / k / 1024 }'
	cleanup
done
