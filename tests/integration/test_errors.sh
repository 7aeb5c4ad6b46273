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

# --- 5. volume rm refuses a volume that any sandbox uses, unless -f ---
expect "volume create" 0 "$MSB" volume create vol1
expect "a sandbox created with it (never started)" 0 "$MSB" create --name user1 -v vol1:/data
expect "volume rm: refused for a created sandbox" 1 "$MSB" volume rm vol1
contains "names the sandbox and its state" "$work/err" "msb: volume \`vol1\` is used by sandbox \`user1\` (created): remove it first"
contains "says how to force" "$work/err" "msb volume rm -f"
one_line "volume rm, created sandbox"
expect "a running sandbox with it read-only" 0 "$MSB" run -d --name user2 -v vol1:/data:ro
expect "volume rm -f: refused while a sandbox runs with it" 1 "$MSB" volume rm -f vol1
contains "names the running sandbox" "$work/err" "is mounted by running sandbox \`user2 (ro)\`: stop it first"
one_line "volume rm -f, running sandbox"
expect "the volume is still there" 0 "$MSB" volume inspect vol1
expect "stop it" 0 "$MSB" stop user2
expect "volume rm: refused for stopped sandboxes too" 1 "$MSB" volume rm vol1
contains "names them all, with their states" "$work/err" "used by sandboxes \`user1\` (created), \`user2\` (stopped): remove them first"
expect "volume rm -f removes it" 0 "$MSB" volume rm -f vol1
contains "and prints its name" "$work/out" "vol1"
expect "it is gone" 1 "$MSB" volume inspect vol1
"$MSB" start user1 >"$work/out" 2>"$work/err" </dev/null
[ $? != 0 ] && ok "a sandbox whose volume was removed does not start" || bad "user1 started without its volume"
contains "and says why" "$work/err" "no volume named \`vol1\`"
expect "volume create vol2" 0 "$MSB" volume create --quota 16m vol2
expect "an unused volume is removed without -f" 0 "$MSB" volume rm vol2

# --- 6. msb doctor fails when msb run would, and says what to fix ---
expect "doctor on a working host" 0 "$MSB" doctor
contains "doctor's verdict" "$work/out" "msb doctor: ready to run sandboxes"
# ENV | line that fails | text of its fix
while IFS='|' read -r env what fix; do
	[ -n "$env" ] || continue
	expect "doctor with $env" 1 env "$env" "$MSB" doctor
	grep -q "^FAIL $what " "$work/out" && ok "doctor with $env: a FAIL $what line" ||
		bad "doctor with $env: no FAIL $what line: $(grep -v '^ok' "$work/out" | head -c 400)"
	grep -A1 "^FAIL $what " "$work/out" | grep -qF "fix: $fix" && ok "doctor with $env: says what to fix" ||
		bad "doctor with $env: fix: $(grep -A1 "^FAIL" "$work/out" | head -c 400)"
	contains "doctor with $env: verdict" "$work/out" "msb doctor: problems found"
	env "$env" "$MSB" run -- true >/dev/null 2>&1 </dev/null
	[ $? = 125 ] && ok "msb run fails too with $env" || bad "msb run did not fail with $env"
done <<'TABLE'
MSB_QEMU=/nonexistent|QEMU|point MSB_QEMU at qemu-system-x86_64 (the qemu-system-x86 package), or unset it
MSB_QEMU=/usr/bin/cat|QEMU|point MSB_QEMU at a working qemu-system-x86_64
MSB_QEMU_IMG=/nonexistent|qemu-img|point MSB_QEMU_IMG at qemu-img
MSB_ACCEL=bogus|KVM|set MSB_ACCEL to kvm, tcg or auto
MSB_GUEST_DIR=/nonexistent|guest kernel|run ./setup.sh
MSB_VMM=/nonexistent|supervisor|point MSB_VMM at msb-vmm
MSB_HOME=relative/home|state folder|set MSB_HOME to an absolute path
TABLE
why=$("$MSB" doctor | grep '^warn KVM')
if [ -n "$why" ]; then
	# KVM unusable here: MSB_ACCEL=kvm must fail, and so does a run.
	expect "doctor with MSB_ACCEL=kvm and no usable KVM" 1 env MSB_ACCEL=kvm "$MSB" doctor
	contains "the KVM line fails" "$work/out" "FAIL KVM                    MSB_ACCEL=kvm: "
	contains "and says what to fix" "$work/out" "or set MSB_ACCEL=tcg"
	expect "msb run with MSB_ACCEL=kvm fails too" 125 env MSB_ACCEL=kvm "$MSB" run -- true
fi
expect "doctor with MSB_ACCEL=tcg" 0 env MSB_ACCEL=tcg "$MSB" doctor
contains "KVM not looked at" "$work/out" "ok   KVM                    not used: MSB_ACCEL=tcg"

# --- 7. usage errors of msb volume and msb doctor: exit 2, one line ---
# one_usage DESC: stderr is one line "msb: CMD: ...; see 'msb CMD --help'"
one_usage() {
	if [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q "^msb: .*; see 'msb .*--help'$" "$work/err"; then
		ok "$1: one line"
	else
		bad "$1: stderr: $(head -c 300 "$work/err")"
	fi
}
while IFS='|' read -r args desc; do
	[ -n "$args" ] || continue
	# shellcheck disable=SC2086
	expect "$desc" 2 "$MSB" $args
	one_usage "$desc"
	[ ! -s "$work/out" ] && ok "$desc: nothing on stdout" || bad "$desc: stdout: $(head -c 200 "$work/out")"
done <<'TABLE'
volume|volume without a command
volume bogus|volume with an unknown command
volume --bogus|volume with an unknown option
volume create|volume create without a name
volume create a b|volume create with a stray argument
volume create -x a|volume create with an unknown option
volume create --quota|volume create --quota without a value
volume create --quota lots a|volume create with a bad --quota
volume create a --quota 0|volume create --quota 0, after the name
volume ls a b c|volume ls with a stray argument
volume ls --bogus|volume ls with an unknown option
volume ls a --json|volume ls NAME --json
volume inspect|volume inspect without a name
volume inspect -q a|volume inspect with an unknown option
volume rm|volume rm without a name
volume rm -x a|volume rm with an unknown option
volume rm --force|volume rm --force without a name
volume cp a|volume cp with one path
volume cp a b c|volume cp with three paths
volume cp a b|volume cp without a volume side
volume cp --max-size x a:/b c|volume cp with a bad --max-size
volume cp --max-files 0 a:/b c|volume cp with a bad --max-files
volume cp -z a:/b c|volume cp with an unknown option
doctor x|doctor with a stray argument
doctor --bogus|doctor with an unknown option
doctor -q|doctor with an unknown short option
TABLE
for c in "volume" "volume create" "volume ls" "volume inspect" "volume rm" "volume cp" "doctor"; do
	# shellcheck disable=SC2086
	expect "$c --help" 0 "$MSB" $c --help
	contains "$c --help prints its usage" "$work/out" "Usage: msb $c"
done
expect "volume rm NAME -h: help, not removal" 0 "$MSB" volume rm nosuch -h
# options after the names are options
expect "volume create NAME --quota SIZE" 0 "$MSB" volume create vol3 --quota 16m
expect "volume ls --json lists it" 0 "$MSB" volume ls --json
contains "its quota" "$work/out" '"quota_bytes": 16777216'
expect "volume rm NAME -f" 0 "$MSB" volume rm vol3 -f
expect "volume rm -- NAME" 1 "$MSB" volume rm -- -f
contains "a name after -- is a name" "$work/err" "\`-f\`"

echo "# $pass passed, $fail failed"
[ "$fail" = 0 ]
