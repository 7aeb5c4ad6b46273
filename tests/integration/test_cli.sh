#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Integration tests of the msb command line, with real VMs.
#   test_cli.sh PATH/TO/msb
set -uo pipefail
MSB=$1
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-cli-test-XXXXXX)
unset MSB_ACCEL
work=$(mktemp -d)
trap 'rm -rf "$MSB_HOME" "$work"' EXIT

. "$(dirname "$0")/lib.sh"
# KVM as msb judges it: /dev/kvm read-write and hardware virtualisation.
kvm_ok() { [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; }

# --- no VM needed ---
expect "--version" 0 "$MSB" --version
contains "--version prints the version" "$work/out" "msb 0."
expect "--help" 0 "$MSB" --help
contains "--help lists run" "$work/out" "run"
expect "run --help" 0 "$MSB" run --help
contains "run --help shows usage" "$work/out" "Usage: msb run"
expect "no arguments" 2 "$MSB"
expect "unknown command" 2 "$MSB" frobnicate
contains "unknown command message" "$work/err" "unknown command"
expect "run without command" 2 "$MSB" run --
contains "empty command message" "$work/err" "no command given"
expect "zero cpus" 2 "$MSB" run --cpus 0 -- true
contains "zero cpus message" "$work/err" "invalid --cpus"
expect "absurd cpus" 2 "$MSB" run --cpus 100000 -- true
expect "tiny memory" 2 "$MSB" run --memory 10 -- true
contains "memory message" "$work/err" "invalid --memory"
expect "absurd memory" 2 "$MSB" run --memory 99999999 -- true
expect "bad env (no key)" 2 "$MSB" run --env =x -- true
expect "env KEY takes the host's value" 0 env NOVALUE=hv "$MSB" run --env NOVALUE -- sh -c '[ "$NOVALUE" = hv ]'
expect "unknown option" 2 "$MSB" run --bogus -- true
expect "unknown image" 125 "$MSB" run no-such-image:latest -- true
contains "image message" "$work/err" "no-such-image"
expect "qemu missing" 125 env MSB_QEMU=/nonexistent "$MSB" run -- true
contains "qemu missing names the package" "$work/err" "qemu-system-x86"
expect "kernel missing" 125 env MSB_GUEST_DIR=/nonexistent "$MSB" run -- true
contains "kernel missing says setup" "$work/err" "setup.sh"
[ "$(wc -l <"$work/err")" = 1 ] && ok "errors are one line" || bad "errors are one line"
if ! kvm_ok; then
	expect "MSB_ACCEL=kvm without /dev/kvm" 125 env MSB_ACCEL=kvm "$MSB" run -- true
	contains "kvm message" "$work/err" "MSB_ACCEL=tcg"
fi

expect "doctor" 0 "$MSB" doctor
contains "doctor verdict" "$work/out" "ready to run sandboxes"
expect "doctor finds a missing QEMU" 1 env MSB_QEMU=/nonexistent "$MSB" doctor
contains "doctor says what to fix" "$work/out" "qemu-system-x86 package"

# --- real VMs ---
expect "uname" 0 "$MSB" run -- uname -a
contains "guest kernel line" "$work/out" "Linux"
if ! kvm_ok; then
	contains "TCG warning" "$work/err" "TCG"
	[ "$(grep -c . "$work/err")" = 1 ] && ok "one warning line" || bad "one warning line"
fi
expect "exit status" 3 "$MSB" run -- sh -c 'echo out; echo err >&2; exit 3'
[ "$(cat "$work/out")" = out ] && ok "stdout separate" || bad "stdout separate"
contains "stderr separate" "$work/err" "err"
expect "missing command" 127 "$MSB" run -- no-such-cmd
contains "missing command message" "$work/err" "command not found"
expect "killed by signal" 137 "$MSB" run -- sh -c 'kill -9 $$'
contains "signal message" "$work/err" "signal 9"
expect "env, cpus, memory" 0 "$MSB" run --cpus 2 --memory 300 -e A=1 -e 'B=two words' -- \
	sh -c 'echo "$A|$B"; nproc; grep MemTotal /proc/meminfo'
contains "env passed" "$work/out" "1|two words"
[ "$(sed -n 2p "$work/out")" = 2 ] && ok "2 vCPUs" || bad "2 vCPUs: $(cat "$work/out")"
printf 'a\nb\nc\n' >"$work/in"
expect "run -i passes stdin" 0 sh -c "\"$MSB\" run -i -- wc -l <'$work/in'"
[ "$(cat "$work/out")" = 3 ] && ok "stdin line count" || bad "stdin: $(cat "$work/out")"
expect "without -i stdin is empty" 0 sh -c "\"$MSB\" run -- wc -l <'$work/in'"
[ "$(cat "$work/out")" = 0 ] && ok "no stdin by default" || bad "default stdin: $(cat "$work/out")"
expect "timeout" 124 "$MSB" run --timeout 1 -- sleep 30
contains "timeout message" "$work/err" "timed out"
expect "workdir" 0 "$MSB" run -w /tmp -- pwd
[ "$(cat "$work/out")" = /tmp ] && ok "workdir applied" || bad "workdir applied"
expect "image as a disk path" 0 "$MSB" run "$MSB_TEST_GUEST_DIR/rootfs.ext4" -- cat /etc/os-release
contains "disk image booted" "$work/out" "microsandbox"
expect "1 MiB through a pipe" 0 sh -c "\"$MSB\" run -- head -c 1048576 /dev/zero | wc -c | grep -qx 1048576"

# three msb processes at once
for i in 1 2 3; do
	"$MSB" run -- sh -c "echo parallel-$i" >"$work/p$i" 2>/dev/null &
done
wait
for i in 1 2 3; do
	[ "$(cat "$work/p$i")" = "parallel-$i" ] && ok "parallel run $i" || bad "parallel run $i"
done

# nothing left behind
left=$(find "$MSB_HOME/sandboxes" -mindepth 1 2>/dev/null | wc -l)
[ "$left" = 0 ] && ok "no sandbox folders left" || bad "no sandbox folders left ($left)"
# QEMU's command line names its console log under our MSB_HOME.
if pgrep -f "$MSB_HOME/" >/dev/null; then bad "no QEMU left"; else ok "no QEMU left"; fi

echo "test_cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
