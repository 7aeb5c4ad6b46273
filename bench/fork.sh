#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fork.sh - fork of a running sandbox to a first command, and the host
# memory of 10 clones, today's path against copy-on-write guest RAM
#
# Usage: bench/fork.sh
#
# With msb (docs/snapshots.md), in one run:
#   fork:      `msb fork SRC NEW` then `msb exec NEW -- true`: the time
#              from the fork's start to the command's end (median of
#              BENCH_RUNS, default 5);
#   PSS:       the proportional set size (msb-vmm + QEMU, /proc/PID/smaps)
#              of 10 idle sandboxes that answered an exec, made three
#              ways: `msb fork SRC C --count 10`, `msb run -d` restored
#              from a warm template, and `msb run -d` booted cold
#              (MSB_NO_TEMPLATE=1); ratios to the cold ones.
# Then bench/cowram.py, bare QEMU: 10 restores of one VM with today's
# state file (RAM in the stream, anonymous RAM) against a devices-only
# state over the RAM in a file mapped private (x-ignore-shared): restore
# time to the agent's answer and PSS of the 10, with their ratios.
#
# Environment: BENCH_RUNS (default 5), BENCH_CLONES (default 10), MSB
# (default build/msb), BUILD_DIR (default build).
set -euo pipefail
# msb's one-line warning that KVM is not usable, once per sandbox, is noise
exec 2> >(grep --line-buffered -v '^msb: warning: KVM is not usable' >&2)
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$src/build}
msb=${MSB:-$build/msb}
runs=${BENCH_RUNS:-5}
clones=${BENCH_CLONES:-10}
[ -x "$msb" ] || { echo "fork.sh: $msb not found: build first" >&2; exit 1; }
case $runs$clones in *[!0-9]*) echo "fork.sh: BENCH_RUNS and BENCH_CLONES are numbers" >&2; exit 1 ;; esac

export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-fork-bench-XXXXXX)
unset MSB_NO_TEMPLATE
work=$(mktemp -d /tmp/msb-fork-work-XXXXXX)
cleanup() {
	"$msb" ls -q 2>/dev/null | xargs -r "$msb" rm -f >/dev/null 2>&1 || true
	rm -rf "$MSB_HOME" "$work"
}
trap cleanup EXIT

ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# pss NAME...: the summed PSS (kB) of the sandboxes' supervisors and
# their children (QEMU)
pss() {
	local n pid p total=0
	for n in "$@"; do
		pid=$("$msb" inspect "$n" | grep -o '"pid": [0-9]*' | awk '{ print $2 }')
		[ -n "$pid" ] && [ "$pid" != 0 ] || { echo "fork.sh: $n is not running" >&2; exit 1; }
		for p in "$pid" $(pgrep -P "$pid"); do
			total=$((total + $(awk '/^Pss:/ { s += $2 } END { print s + 0 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
		done
	done
	echo "$total"
}
answer() { local n; for n in "$@"; do "$msb" exec "$n" -- true >/dev/null || { echo "fork.sh: $n did not answer" >&2; exit 1; }; done; }
names() { local i; for i in $(seq "$clones"); do printf '%s%d ' "$1" "$i"; done; }
rm_all() { "$msb" rm -f "$@" >/dev/null 2>&1 || true; }

"$msb" run -d --name src >/dev/null
answer src
# 1. fork to a first command
for i in $(seq "$runs"); do
	t0=$(ms)
	"$msb" fork src "f$i" >/dev/null
	"$msb" exec "f$i" -- true
	echo $(($(ms) - t0)) >>"$work/fork"
	rm_all "f$i"
done
fork_ms=$(median <"$work/fork")
printf 'fork to a first command: median %d ms (%d runs)\n' "$fork_ms" "$runs"

# 2. PSS of 10 clones: forked, templated, cold
"$msb" fork src c --count "$clones" >/dev/null
# shellcheck disable=SC2046
answer $(seq -f 'c-%g' "$clones")
sleep 2
# shellcheck disable=SC2046
pss_fork=$(pss $(seq -f 'c-%g' "$clones"))
# shellcheck disable=SC2046
rm_all $(seq -f 'c-%g' "$clones")
for n in $(names t); do "$msb" run -d --name "$n" >/dev/null; done
# shellcheck disable=SC2046
answer $(names t)
sleep 2
# shellcheck disable=SC2046
pss_tmpl=$(pss $(names t))
# shellcheck disable=SC2046
rm_all $(names t)
for n in $(names k); do MSB_NO_TEMPLATE=1 "$msb" run -d --name "$n" >/dev/null; done
# shellcheck disable=SC2046
answer $(names k)
sleep 2
# shellcheck disable=SC2046
pss_cold=$(pss $(names k))
# shellcheck disable=SC2046
rm_all $(names k)
awk -v n="$clones" -v f="$pss_fork" -v t="$pss_tmpl" -v c="$pss_cold" 'BEGIN {
	printf "PSS of %d sandboxes: forked %.0f MiB, from a template %.0f MiB, cold %.0f MiB\n", n, f / 1024, t / 1024, c / 1024
	printf "ratio to cold: forked %.2f, from a template %.2f\n", f / c, t / c }'
rm_all src

# 3. copy-on-write guest RAM, bare QEMU
python3 "$src/bench/cowram.py" "$build" "$work/cow" "$clones"
