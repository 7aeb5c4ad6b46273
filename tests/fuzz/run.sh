#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build the libFuzzer binaries (instrumented library code, ASan+UBSan) in
# build-fuzz/ and run them, for developers; not part of the test suite.
#
#   tests/fuzz/run.sh [TARGET|all] [SECONDS]   fuzz (default: all, 60 s each)
#   tests/fuzz/run.sh --merge TARGET|all       add the inputs found so far
#                                              that reach new edges to
#                                              tests/fuzz/corpus/TARGET
#   tests/fuzz/run.sh --list                   the targets
#
# Each run starts from tests/fuzz/corpus/TARGET and keeps what it finds in
# build-fuzz/corpus/TARGET; crashes go to build-fuzz/artifacts/TARGET/.
# Extra libFuzzer options can be given in FUZZ_ARGS (e.g. FUZZ_ARGS=-jobs=2).
# Exits 1 if a target found a crash.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
build=${FUZZ_BUILD:-build-fuzz}

if [ ! -f "$build/build.ninja" ]; then
	CC=${CC:-clang} meson setup "$build" -Dfuzzers=true -Dguest=false >/dev/null
fi
ninja -C "$build" >/dev/null

targets() {
	for f in "$build"/tests/*_fuzz; do
		[ -x "$f" ] && basename "$f" _fuzz
	done
}

merge=0
case "${1:-all}" in
--list) targets; exit 0 ;;
--merge) merge=1; shift ;;
esac
what=${1:-all}
secs=${2:-60}
if [ "$what" = all ]; then
	set -- $(targets)
else
	set -- "$what"
	[ -x "$build/tests/${what}_fuzz" ] || {
		echo "run.sh: no fuzz target \`$what' (see --list)" >&2
		exit 2
	}
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0
for t; do
	seed=$src/tests/fuzz/corpus/$t
	work=$build/corpus/$t
	art=$build/artifacts/$t
	mkdir -p "$work" "$art" "$seed"
	if [ $merge = 1 ]; then
		# edges only (no hit counts): a few small files, not hundreds
		"$build/tests/${t}_fuzz" -merge=1 -use_counters=0 \
			"$seed" "$work" 2>&1 |
			grep -E '^MERGE-OUTER: [0-9]+ new files' || true
		continue
	fi
	echo "==> $t: $secs s"
	# shellcheck disable=SC2086
	if ! nice -n 10 "$build/tests/${t}_fuzz" -max_total_time="$secs" \
		-artifact_prefix="$art/" -print_final_stats=1 ${FUZZ_ARGS:-} \
		"$work" "$seed" >"$build/fuzz-$t.log" 2>&1; then
		status=1
		echo "$t: crash, see $build/fuzz-$t.log and $art/"
	fi
	grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' \
		"$build/fuzz-$t.log" | sed "s/^/$t: /" || true
done
exit $status
