#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Integration tests of named sandboxes with real VMs: detached boot, exec
# from other processes, stop/start with the disk kept, name conflicts,
# remove, a killed supervisor detected and recovered.
#   test_lifecycle.sh PATH/TO/msb
set -uo pipefail
MSB=$1
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-life-test-XXXXXX)
unset MSB_ACCEL
work=$(mktemp -d)
cleanup() {
	"$MSB" rm -f one idle brief later same eph1 eph2 eph3 p1 p2 p3 p4 p5 p6 p7 p8 p9 p10 >/dev/null 2>&1
	pkill -9 -f "$MSB_HOME/" 2>/dev/null
	rm -rf "$MSB_HOME" "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"
status_of() { "$MSB" ls | awk -v n="$1" '$1 == n { print $2 }'; }

expect "run -d --name" 0 "$MSB" run -d --name one
[ "$(status_of one)" = running ] && ok "ls: running" || bad "ls: $(status_of one)"
expect "name taken" 125 "$MSB" run --name one -- true
contains "name conflict message" "$work/err" "already exists"

expect "exec by name" 0 "$MSB" exec one -- sh -c 'echo kept > /root/file; hostname'
contains "exec output" "$work/out" "one"
expect "exec exit status" 3 "$MSB" exec one -- sh -c 'exit 3'
expect "exec missing command" 127 "$MSB" exec one -- nope
# two processes at once
"$MSB" exec one -- sh -c 'sleep 1; echo a' >"$work/a" 2>&1 &
"$MSB" exec one -- sh -c 'sleep 1; echo b' >"$work/b" 2>&1 &
wait
[ "$(cat "$work/a")$(cat "$work/b")" = ab ] && ok "two execs at once" ||
	bad "two execs at once: $(cat "$work/a" "$work/b")"

expect "rm refused while running" 1 "$MSB" rm one
contains "rm message" "$work/err" "is running"
expect "stop" 0 "$MSB" stop one
[ "$(status_of one)" = stopped ] && ok "ls: stopped" || bad "ls after stop: $(status_of one)"
if pgrep -f "$MSB_HOME/sandboxes/one/" >/dev/null; then bad "nothing runs after stop"; else ok "nothing runs after stop"; fi
expect "exec on a stopped sandbox" 125 "$MSB" exec one -- true
contains "not running message" "$work/err" "not running"
expect "start" 0 "$MSB" start one
expect "the disk survived the restart" 0 "$MSB" exec one -- cat /root/file
[ "$(cat "$work/out")" = kept ] && ok "file kept" || bad "file kept: $(cat "$work/out")"
expect "start while running is a no-op success" 0 "$MSB" start one
expect "stop -t 5 then stop again (no-op)" 0 sh -c "\"$MSB\" stop -t 5 one && \"$MSB\" stop one && \"$MSB\" start one"

# a killed supervisor: detected, recorded, and the sandbox starts again
pid=$(pgrep -f "msb-vmm --detach" | while read -r p; do
	if grep -q "$MSB_HOME" "/proc/$p/environ" 2>/dev/null; then echo "$p"; fi
done | head -1)
if [ -n "$pid" ]; then
	kill -9 "$pid"
	for _ in $(seq 50); do
		pgrep -f "$MSB_HOME/sandboxes/one/" >/dev/null || break
		sleep 0.1
	done
	[ "$(status_of one)" = crashed ] && ok "killed supervisor: crashed" ||
		bad "killed supervisor: $(status_of one)"
	if pgrep -f "$MSB_HOME/sandboxes/one/" >/dev/null; then bad "QEMU died with its supervisor"; else ok "QEMU died with its supervisor"; fi
	expect "start after a crash" 0 "$MSB" start one
	expect "disk intact after the crash" 0 "$MSB" exec one -- cat /root/file
else
	bad "supervisor process not found"
fi

# msb cp of a tree, in and out, contents and modes kept
tree=$work/tree
mkdir -p "$tree/sub/deep"
head -c 2000000 /dev/urandom >"$tree/big.bin"
echo hello >"$tree/sub/a.txt"
printf '#!/bin/sh\necho ran\n' >"$tree/sub/deep/x.sh"
chmod 755 "$tree/sub/deep/x.sh"
chmod 600 "$tree/big.bin"
chmod 751 "$tree/sub"
ln -s sub/a.txt "$tree/link"
expect "cp into the sandbox" 0 "$MSB" cp "$tree" one:/root
expect "copied script runs" 0 "$MSB" exec one -- /root/tree/sub/deep/x.sh
contains "script output" "$work/out" "ran"
mkdir "$work/back"
expect "cp out of the sandbox" 0 "$MSB" cp one:/root/tree "$work/back"
diff -r "$tree" "$work/back/tree" >/dev/null && ok "tree contents equal" || bad "tree contents differ"
modes() { (cd "$1" && find . -printf '%p %m %y\n' | sort); }
[ "$(modes "$tree")" = "$(modes "$work/back/tree")" ] && ok "modes and types kept" || bad "modes differ"
expect "cp needs a sandbox side" 2 "$MSB" cp "$tree" "$work/x"
expect "cp of a missing guest file" 1 "$MSB" cp one:/nope "$work/x"

# metrics move under a CPU and a disk load in the guest
expect "metrics" 0 "$MSB" metrics --json one
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$2"; }
cp "$work/out" "$work/m0"
expect "load" 0 "$MSB" exec one -- sh -c 'dd if=/dev/zero of=/root/z bs=1M count=16 conv=fsync 2>/dev/null; i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; rm /root/z'
expect "metrics again" 0 "$MSB" metrics --json one
w0=$(field disk_write_bytes "$work/m0") w1=$(field disk_write_bytes "$work/out")
c0=$(field cpu_time_ms "$work/m0") c1=$(field cpu_time_ms "$work/out")
[ -n "$w1" ] && [ $((w1 - w0)) -ge $((16 << 20)) ] && ok "disk writes counted" || bad "disk writes: $w0 -> $w1"
[ -n "$c1" ] && [ "$c1" -gt "$c0" ] && ok "CPU time counted" || bad "CPU time: $c0 -> $c1"
g=$(field guest_memory_total_bytes "$work/out")
[ -n "$g" ] && [ "$g" -gt $((256 << 20)) ] && ok "guest memory reported" || bad "guest memory: $g"
expect "metrics table" 0 "$MSB" metrics
contains "metrics lists the sandbox" "$work/out" "one"

expect "inspect" 0 "$MSB" inspect one
contains "inspect shows the status" "$work/out" '"status": "running"'
expect "logs --source kernel" 0 "$MSB" logs --source kernel one
contains "kernel log has the agent" "$work/out" "msb-agent: ready"
expect "logs --source vmm" 0 "$MSB" logs --source vmm one
contains "supervisor log" "$work/out" "qemu pid"
expect "an exec to log" 3 "$MSB" exec one -- sh -c 'echo logged-out; echo logged-err >&2; exit 3'
expect "logs --source exec" 0 "$MSB" logs --source exec one
contains "exec log: the command" "$work/out" 'start: sh -c "echo logged-out; echo logged-err >&2; exit 3"'
contains "exec log: stdout" "$work/out" "stdout: logged-out"
contains "exec log: stderr" "$work/out" "stderr: logged-err"
contains "exec log: exit status" "$work/out" "exit: 3"
expect "logs --source bogus" 2 "$MSB" logs --source bogus one
expect "restart" 0 "$MSB" restart one
[ "$(status_of one)" = running ] && ok "running after restart" || bad "after restart: $(status_of one)"
expect "kill" 0 "$MSB" kill one
[ "$(status_of one)" = stopped ] && ok "stopped after kill" || bad "after kill: $(status_of one)"
expect "rm -f" 0 "$MSB" rm -f one

# limits: an idle sandbox and one past its maximum duration stop by themselves
expect "run -d --idle-timeout" 0 "$MSB" run -d --name idle --idle-timeout 6
expect "a command keeps it busy" 0 "$MSB" exec idle -- sleep 8
expect "run -d --max-duration" 0 "$MSB" run -d --name brief --max-duration 3
expect "wait for it" 0 "$MSB" wait brief
[ "$(cat "$work/out")" = stopped ] && ok "wait prints the final status" || bad "wait: $(cat "$work/out")"
expect "--replace a stopped one" 0 "$MSB" run -d --replace --name brief
expect "--replace a running one" 0 "$MSB" run -d --replace --name brief
[ "$(status_of brief)" = running ] && ok "replaced and running" || bad "replace: $(status_of brief)"
expect "stop it" 0 "$MSB" stop brief
for _ in $(seq 100); do
	[ "$(status_of idle)" = stopped ] && [ "$(status_of brief)" = stopped ] && break
	sleep 0.2
done
[ "$(status_of idle)" = stopped ] && ok "idle timeout stopped it" || bad "idle: $(status_of idle)"
[ "$(status_of brief)" = stopped ] && ok "max duration stopped it" || bad "brief: $(status_of brief)"
expect "rm limits" 0 "$MSB" rm idle brief
expect "ls is empty" 0 "$MSB" ls
[ "$(wc -l <"$work/out")" = 1 ] && ok "no sandboxes listed" || bad "ls: $(cat "$work/out")"
left=$(find "$MSB_HOME/sandboxes" -mindepth 1 2>/dev/null | wc -l)
[ "$left" = 0 ] && ok "no folders left" || bad "folders left: $left"
if pgrep -f "$MSB_HOME/" >/dev/null; then bad "no processes left"; else ok "no processes left"; fi
expect "rm of an unknown sandbox" 1 "$MSB" rm nope
contains "unknown sandbox message" "$work/err" "no sandbox named"

# two starts at once of a stopped --rm sandbox: one boots it, the other
# finds it running, or loses the race for its lock in its supervisor,
# which must then leave the running sandbox's row and folder be. The
# race is lost in the supervisor most times: three rounds.
for i in 1 2 3; do
	expect "create --rm eph$i" 0 "$MSB" create --rm --name "eph$i"
	"$MSB" start "eph$i" >"$work/s1" 2>&1 &
	s1=$!
	"$MSB" start "eph$i" >"$work/s2" 2>&1 &
	s2=$!
	wait "$s1"
	r1=$?
	wait "$s2"
	r2=$?
	[ "$r1$r2" = 00 ] && ok "eph$i: two starts at once" ||
		bad "eph$i: two starts at once: $r1 $r2: $(cat "$work/s1" "$work/s2")"
	[ "$(status_of "eph$i")" = running ] && ok "eph$i: its row is kept" ||
		bad "eph$i: status after the race: '$(status_of "eph$i")'"
	[ -e "$MSB_HOME/sandboxes/eph$i/lock" ] && ok "eph$i: its folder is kept" ||
		bad "eph$i: its folder is gone"
	expect "eph$i: exec in it" 0 "$MSB" exec "eph$i" -- true
	expect "eph$i: stop" 0 "$MSB" stop "eph$i"
	[ -z "$(status_of "eph$i")" ] && ok "eph$i: gone once stopped (--rm)" ||
		bad "eph$i: after stop: '$(status_of "eph$i")'"
	[ -e "$MSB_HOME/sandboxes/eph$i" ] && bad "eph$i: folder left" ||
		ok "eph$i: no folder left"
done
if pgrep -f "$MSB_HOME/sandboxes/eph" >/dev/null; then bad "eph: no QEMU left"; else ok "eph: no QEMU left"; fi

# create without starting; ten creates at once; one name, ten racers
expect "create" 0 "$MSB" create --name later --cpus 2 --label team=ml --label "note=two words"
expect "inspect labels" 0 "$MSB" inspect later
contains "labels kept" "$work/out" '"labels": {"note": "two words", "team": "ml"}'
expect "bad label" 2 "$MSB" create --name badlabel --label =x
contains "bad label message" "$work/err" "invalid --label"
[ "$(status_of later)" = created ] && ok "created, not running" || bad "create: $(status_of later)"
for i in $(seq 10); do "$MSB" create --name "p$i" >/dev/null 2>&1 & done
wait
n=$("$MSB" ls | grep -c '^p[0-9]* ')
[ "$n" = 10 ] && ok "ten parallel creates" || bad "parallel creates: $n"
for i in $(seq 10); do "$MSB" create --name same >/dev/null 2>"$work/same$i" & done
wait
n=$(grep -l "already exists" "$work"/same* | wc -l)
[ "$n" = 9 ] && ok "one of ten racers gets the name" || bad "racers refused: $n"
expect "start a created sandbox" 0 "$MSB" start later
expect "its options apply" 0 "$MSB" exec later -- nproc
[ "$(cat "$work/out")" = 2 ] && ok "2 vCPUs" || bad "nproc: $(cat "$work/out")"
expect "ls --json" 0 "$MSB" ls --json
contains "json list" "$work/out" '"name": "later"'

# kill -9 of the supervisor, of QEMU, or of a guest process, 20 rounds:
# the state stays consistent, nothing leaks, the sandbox starts again
vmm_of() {
	for p in $(pgrep -f "msb-vmm --detach"); do
		grep -qs "$MSB_HOME" "/proc/$p/environ" && echo "$p"
	done | head -1
}
gone() {
	for _ in $(seq 100); do
		pgrep -f "$MSB_HOME/sandboxes/later/" >/dev/null || return 0
		sleep 0.1
	done
	return 1
}
chaos_bad=0
for round in $(seq 20); do
	case $((round % 3)) in
	0) kill -9 "$(vmm_of)" 2>/dev/null ;;
	1) pkill -9 -f "qemu-system.*$MSB_HOME/sandboxes/later/" ;;
	2) "$MSB" exec later -- sh -c 'sleep 30 & sleep 0.2; kill -9 $!; wait' >/dev/null 2>&1 ;;
	esac
	if [ $((round % 3)) = 2 ]; then
		st=$(status_of later)
		[ "$st" = running ] || { chaos_bad=$((chaos_bad + 1)); echo "    round $round: $st"; }
		continue
	fi
	gone || { chaos_bad=$((chaos_bad + 1)); echo "    round $round: processes left"; }
	# The supervisor records the crash as it exits (a killed one is
	# found out by the next command): give it a moment.
	for _ in $(seq 100); do
		[ "$(status_of later)" = crashed ] && break
		sleep 0.1
	done
	st=$(status_of later)
	[ "$st" = crashed ] || { chaos_bad=$((chaos_bad + 1)); echo "    round $round: status $st"; }
	[ -e "$MSB_HOME/sandboxes/later/run/agent.sock" ] && { chaos_bad=$((chaos_bad + 1)); echo "    round $round: socket left"; }
	"$MSB" start later >/dev/null 2>"$work/err" ||
		{ chaos_bad=$((chaos_bad + 1)); echo "    round $round: start: $(cat "$work/err")"; }
done
[ "$chaos_bad" = 0 ] && ok "20 rounds of kill -9: consistent, no leaks, restartable" ||
	bad "kill -9 rounds: $chaos_bad problems"
expect "still works" 0 "$MSB" exec later -- cat /proc/cpuinfo
expect "rm all" 0 "$MSB" rm -f later same p1 p2 p3 p4 p5 p6 p7 p8 p9 p10

echo "test_lifecycle: $pass passed, $fail failed"
[ "$fail" = 0 ]
