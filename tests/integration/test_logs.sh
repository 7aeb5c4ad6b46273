#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The host does not trust the guest with its logs or its liveness: a
# console flood stays under kernel.log's cap, control characters are
# escaped, a frozen guest turns exec and cp into timeouts (not hangs), and
# a guest that keeps sending frames with no client does not defeat
# --idle-timeout. Real VMs.
#   test_logs.sh PATH/TO/msb
set -uo pipefail
MSB=$1
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-logs-test-XXXXXX)
unset MSB_ACCEL
work=$(mktemp -d)
qpid= follower=
cleanup() {
	[ -n "$qpid" ] && kill -CONT "$qpid" 2>/dev/null
	[ -n "$follower" ] && kill "$follower" 2>/dev/null
	"$MSB" rm -f flood idle >/dev/null 2>&1
	rm -rf "$MSB_HOME" "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"
status_of() { "$MSB" ls | awk -v n="$1" '$1 == n { print $2 }'; }
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
logs=$MSB_HOME/sandboxes/flood/logs
cap=$((4 << 20))

# The supervisor gives up on a silent agent after 6 s.
MSB_AGENT_TIMEOUT_MS=6000 expect "run -d" 0 "$MSB" run -d --name flood
expect "logs --source kernel" 0 "$MSB" logs --source kernel flood
contains "kernel log read through the supervisor" "$work/out" "msb-agent: ready"

# Control characters on the console are escaped; lines stay lines.
expect "escape sequence on the console" 0 "$MSB" exec flood -- \
	sh -c 'printf "red\033[31mX\001\n" > /dev/ttyS0'
for _ in $(seq 100); do grep -qF 'red\x1b[31mX\x01' "$logs/kernel.log" && break; sleep 0.1; done
contains "console escaped in kernel.log" "$logs/kernel.log" 'red\x1b[31mX\x01'

# A flood of 9 MB (more than twice the cap) without a newline, followed
# by `msb logs -f` across the rotations.
"$MSB" logs -f --source kernel flood >"$work/follow" 2>&1 &
follower=$!
expect "console flood" 0 "$MSB" exec flood -- \
	sh -c 'head -c 9000000 /dev/zero | tr "\0" x > /dev/ttyS0; echo flood-end > /dev/ttyS0'
for _ in $(seq 300); do grep -q flood-end "$logs/kernel.log" && break; sleep 0.1; done
k0=$(size_of "$logs/kernel.log") k1=$(size_of "$logs/kernel.log.1")
[ "$k0" -le "$cap" ] && [ "$k1" -le "$cap" ] && [ "$k1" -gt 0 ] &&
	ok "kernel.log capped ($k0 + $k1 bytes)" || bad "kernel.log: $k0 + $k1 bytes, cap $cap each"
contains "the console's end is logged" "$logs/kernel.log" "flood-end"
for _ in $(seq 100); do grep -q flood-end "$work/follow" && break; sleep 0.1; done
contains "logs -f follows the rotations" "$work/follow" "flood-end"
kill "$follower" 2>/dev/null
wait "$follower" 2>/dev/null
# a line without an end is cut into records of at most 4096 bytes
long=$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$logs/kernel.log.1")
[ "$long" -le 4096 ] && ok "long console lines cut ($long)" || bad "console line of $long bytes"
v=$(size_of "$MSB_HOME/sandboxes/flood/logs/vmm.log")
[ "$v" -lt 65536 ] && ok "vmm.log untouched by the console ($v bytes)" || bad "vmm.log: $v bytes"
expect "still answers after the flood" 0 "$MSB" exec flood -- echo alive
contains "exec output after the flood" "$work/out" "alive"

# A frozen guest: the supervisor ends a waiting exec with a timeout; new
# requests time out in the library; both exit non-zero.
qpid=$(cat "$MSB_HOME/sandboxes/flood/lock" 2>/dev/null)
qpid=$(pgrep -P "$qpid" -f qemu-system | head -1)
[ -n "$qpid" ] && ok "found QEMU ($qpid)" || bad "no QEMU process"
timeout 120 "$MSB" exec flood -- sleep 1000 >"$work/sleep.out" 2>&1 &
job=$!
for _ in $(seq 100); do grep -q 'exec#.* start: sleep 1000' "$logs/exec.log" && break; sleep 0.1; done
kill -STOP "$qpid"
wait "$job"
rc=$?
[ "$rc" = 125 ] && ok "frozen guest: a running exec fails (125)" ||
	bad "frozen guest: exec exit $rc"
contains "it says why" "$work/sleep.out" "did not answer"
MSB_AGENT_TIMEOUT_MS=2000 expect "frozen guest: a new exec fails (125, not --timeout's 124)" 125 timeout 60 "$MSB" exec flood -- true
contains "exec: timeout message" "$work/err" "did not answer"
MSB_AGENT_TIMEOUT_MS=2000 expect "frozen guest: cp times out" 1 timeout 60 "$MSB" cp flood:/etc/hostname "$work/h"
contains "cp: timeout message" "$work/err" "did not answer"
kill -CONT "$qpid"
qpid=
expect "thawed guest answers" 0 "$MSB" exec flood -- echo back
contains "vmm.log says why streams ended" "$logs/vmm.log" "did not answer for"
expect "rm" 0 "$MSB" rm -f flood

# Idle timeout: a command whose client left is killed; the child it left
# in a session of its own writes on, but no longer to the stream (it ends
# once the command is gone, its output drained for a bounded time), and
# the sandbox stops for idleness.
expect "run -d --idle-timeout" 0 "$MSB" run -d --name idle --idle-timeout 3
timeout 3 "$MSB" exec idle -- sh -c 'setsid sh -c "while :; do echo tick; sleep 0.2; done" & wait' >/dev/null 2>&1
st=
for _ in $(seq 600); do
	st=$(status_of idle)
	[ "$st" = stopped ] && break
	sleep 0.1
done
[ "$st" = stopped ] && ok "idle timeout despite guest frames" || bad "idle timeout: status $st"
ticks=$(grep -c 'stdout: tick' "$MSB_HOME/sandboxes/idle/logs/exec.log")
[ "$ticks" -gt 0 ] && ok "the background child wrote to the stream ($ticks lines)" ||
	bad "no output from the background child"
contains "the stream ended although its child writes on" \
	"$MSB_HOME/sandboxes/idle/logs/exec.log" "exit: killed by signal 9"
contains "stopped for idleness" "$MSB_HOME/sandboxes/idle/logs/vmm.log" "idle timeout"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
