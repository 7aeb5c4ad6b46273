#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Errors that carry their cause (issue 13, part 6), with real VMs: QEMU's
# own words in a failed start, the memory minimum, the --cpus warning,
# interrupted pulls that leave nothing behind, volume rm refusing a volume
# in use, msb doctor failing when a run would, and usage errors of
# msb volume and msb doctor.
#   test_errors.sh PATH/TO/msb
set -uo pipefail
MSB=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-errors-test-XXXXXX)
unset MSB_ACCEL MSB_QEMU MSB_QEMU_IMG
work=$(mktemp -d)
regdir=$work/registries
cleanup() {
	"$MSB" rm -f user1 user2 >/dev/null 2>&1
	[ -f "$regdir/env" ] && "$src/tests/registry/registry.sh" stop "$regdir" >/dev/null 2>&1
	rm -rf "$MSB_HOME" "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"

# one_line DESC: stderr is exactly one line starting "msb: " (warnings
# about KVM aside, which TCG hosts print first).
one_line() {
	grep -v '^msb: warning: KVM is not usable' "$work/err" >"$work/err1"
	if [ "$(wc -l <"$work/err1")" -eq 1 ] && grep -q '^msb: ' "$work/err1"; then
		ok "$1: one line"
	else
		bad "$1: stderr: $(head -c 400 "$work/err")"
	fi
}

# --- 1. a failed start carries QEMU's own error ---
# QEMU refuses guest RAM the kernel will not overcommit: with the default
# heuristic overcommit, one allocation past RAM + swap.
ram_kib=$(awk '/^MemTotal:/ {m=$2} /^SwapTotal:/ {s=$2} END {print m + s}' /proc/meminfo)
if [ "$(cat /proc/sys/vm/overcommit_memory)" != 1 ] && [ "$ram_kib" -lt $((60 * 1024 * 1024)) ]; then
	expect "--memory 65536 on a smaller host fails" 125 "$MSB" run --memory 65536 -- true
	contains "QEMU's message is in the error" "$work/err" "cannot set up guest memory 'microvm.ram': Cannot allocate memory"
	contains "with how QEMU ended" "$work/err" "msb: the VM stopped during boot (QEMU exited with status 1: "
	contains "and what the host has" "$work/err" "(65536 MiB asked; this host has "
	one_line "--memory 65536"
else
	echo "# skip: this host could give a 64 GiB guest"
fi
# Any program as QEMU: its last stderr lines, joined, without its name.
expect "a QEMU that refuses its options" 125 env MSB_QEMU=/usr/bin/cat "$MSB" run -- true
contains "its first line" "$work/err" "(QEMU exited with status 1: invalid option -- 'a'; Try "
contains "its second line, joined with '; '" "$work/err" "for more information.)"
one_line "QEMU's stderr"

# --- 2. the memory minimum ---
expect "--memory 96 (the minimum) boots" 0 "$MSB" run --memory 96 -- true
"$MSB" run --memory 95 -- true >"$work/out" 2>"$work/err" </dev/null
st=$?
[ "$st" = 2 ] || [ "$st" = 125 ] && ok "--memory 95 refused ($st)" || bad "--memory 95: exit $st"
contains "the minimum is named" "$work/err" "96"
one_line "--memory 95"

# --- 3. more vCPUs than host CPUs: a warning, not an error ---
host=$(nproc)
if [ "$host" -lt 64 ]; then
	n=$((host + 1))
	expect "--cpus $n on $host CPUs runs" 0 "$MSB" run --cpus "$n" -- sh -c 'grep -c ^processor /proc/cpuinfo'
	[ "$(cat "$work/out")" = "$n" ] && ok "the guest has $n CPUs" || bad "guest CPUs: $(cat "$work/out")"
	contains "the warning" "$work/err" "msb: warning: $n vCPUs on a host with $host online CPUs"
	expect "--cpus $host: no warning" 0 "$MSB" run --cpus "$host" -- true
	if grep -q "vCPUs on a host" "$work/err"; then bad "warned at $host vCPUs"; else ok "no warning at $host vCPUs"; fi
fi

echo "# $pass passed, $fail failed"
[ "$fail" = 0 ]
