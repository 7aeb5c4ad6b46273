#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Pause, resume and suspend (docs/snapshots.md) with real VMs: a paused
# sandbox refuses requests and keeps its processes; a suspended one has no
# QEMU or supervisor left, and resume (or start) brings back the same guest
# processes with their memory, and its files, even after everything of it
# was killed and its run folder removed; a damaged state is refused with a
# message naming msb start, which then boots it cold; what a save killed
# half-way leaves is never restored; --on-idle suspend suspends at the idle
# timeout, and msb exec resumes such a sandbox.
#   test_pause.sh PATH/TO/msb
set -uo pipefail
MSB=$1
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-pause-test-XXXXXX)
unset MSB_ACCEL
work=$(mktemp -d)
cleanup() {
	for n in pz eph vz iz; do "$MSB" rm -f "$n" >/dev/null 2>&1; done
	pkill -9 -f "$MSB_HOME/" 2>/dev/null
	rm -rf "$MSB_HOME" "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"
dir=$MSB_HOME/sandboxes/pz
status_of() { "$MSB" ls 2>/dev/null | awk -v n="$1" '$1 == n {print $2}'; }
# is_status NAME STATUS DESC
is_status() {
	local s
	s=$(status_of "$1")
	[ "$s" = "$2" ] && ok "$3" || bad "$3: status $s, wanted $2"
}
# in_guest CMD: its output
in_guest() { "$MSB" exec pz -- sh -c "$1" 2>&1; }
# wait_file PATH: until the guest has it (non-empty), up to 30 s
wait_file() {
	local i
	for i in $(seq 300); do
		"$MSB" exec pz -- test -s "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# the pid of `sleep 100000`
sleep_pid() { in_guest "ps -o pid,args | awk '\$2 == \"sleep\" && \$3 == 100000 {print \$1}'"; }
# answer: ask the in-memory secret keeper (a shell variable) for its value
answer() {
	in_guest 'rm -f /tmp/ans; echo x > /tmp/q' >/dev/null
	wait_file /tmp/ans || { echo "no answer"; return; }
	in_guest 'cat /tmp/ans'
}
# clock_ok DESC: the guest's wall clock is within 2 s of the host's (the
# exec's own time is allowed for: host before and after)
clock_ok() {
	local h1 g h2
	h1=$(date +%s)
	g=$(in_guest 'date +%s')
	h2=$(date +%s)
	[ "$g" -ge $((h1 - 2)) ] 2>/dev/null && [ "$g" -le $((h2 + 2)) ] &&
		ok "$1: guest clock $g, host $h1..$h2" ||
		bad "$1: guest clock '$g', host $h1..$h2"
}
# no_processes: nothing of the sandbox runs (QEMU's command line names its
# folder; the supervisor holds its lock)
no_processes() {
	if pgrep -f "$dir/" >/dev/null; then
		bad "$1: processes left: $(pgrep -af "$dir/" | head -3)"
	elif ! flock -n "$dir/lock" true; then
		bad "$1: the sandbox's lock is held"
	else ok "$1"; fi
}

expect "run -d" 0 "$MSB" run -d --name pz
# A counter (file), a sleep (pid), a secret kept only in a shell variable.
expect "start a counter" 0 "$MSB" exec -d pz -- sh -c \
	'i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.2; done'
expect "start a sleep" 0 "$MSB" exec -d pz -- sleep 100000
expect "start the secret keeper" 0 "$MSB" exec -d pz -- sh -c \
	'mkfifo /tmp/q; v=$(cat /proc/sys/kernel/random/uuid); while :; do read x < /tmp/q; echo "$v" > /tmp/ans; done'
wait_file /tmp/count && ok "counter runs" || bad "counter did not start"
sleep_pid=$(sleep_pid)
secret=$(answer)
[ -n "$sleep_pid" ] && [ "${#secret}" = 36 ] &&
	ok "sleep $sleep_pid, secret $secret" || bad "setup: sleep '$sleep_pid' secret '$secret'"
# synced: a cold boot after a failed restore keeps what was on the disk
# (what was only in the page cache goes, as after a crash)
expect "a file on the root disk" 0 "$MSB" exec pz -- sh -c 'echo kept > /root/file; sync'

# 1. Pause: status, refusals, resume.
expect "pause" 0 "$MSB" pause pz
contains "pause prints the name" "$work/out" "pz"
is_status pz paused "ls: paused"
expect "inspect while paused" 0 "$MSB" inspect pz
contains "inspect: paused" "$work/out" '"status": "paused"'
contains "inspect: the reason" "$work/out" 'msb pause'
expect "exec refused while paused" 125 "$MSB" exec pz -- true
contains "exec: names msb resume" "$work/err" 'is paused: resume it with `msb resume pz`'
[ "$(wc -l <"$work/err")" = 1 ] && ok "exec: one line" || bad "exec: $(cat "$work/err")"
expect "cp refused while paused" 1 "$MSB" cp pz:/root/file "$work/f"
contains "cp: names msb resume" "$work/err" "msb resume pz"
expect "pause twice" 1 "$MSB" pause pz
contains "pause twice: says so" "$work/err" "already paused"
sleep 3 # the guest's clock stands still meanwhile
expect "resume" 0 "$MSB" resume pz
is_status pz running "ls: running after resume"
clock_ok "clock after pause/resume"
expect "resume of a running sandbox" 1 "$MSB" resume pz
contains "resume: not paused" "$work/err" "is not paused"
c1=$(in_guest 'cat /tmp/count')
wait_file /tmp/count
for i in $(seq 100); do
	c2=$(in_guest 'cat /tmp/count')
	[ "$c2" -gt "$c1" ] 2>/dev/null && break
	sleep 0.1
done
[ "$c2" -gt "$c1" ] 2>/dev/null && ok "counter goes on after resume ($c1 → $c2)" ||
	bad "counter stuck at $c1 ($c2)"
[ "$(sleep_pid)" = "$sleep_pid" ] && ok "pause: same sleep" ||
	bad "pause: sleep is now $(sleep_pid)"

# 2. Suspend: nothing left running; resume brings back the same guest.
before=$(in_guest 'cat /tmp/count')
expect "suspend" 0 "$MSB" suspend pz
contains "suspend prints the name" "$work/out" "pz"
is_status pz suspended "ls: suspended"
no_processes "suspended: no QEMU, no supervisor"
[ -s "$dir/suspended/state" ] && ok "state saved in the sandbox folder" ||
	bad "no $dir/suspended/state"
expect "exec refused while suspended" 125 "$MSB" exec pz -- true
contains "exec: names msb resume" "$work/err" "msb resume pz"
expect "pause of a suspended sandbox" 1 "$MSB" pause pz
sleep 3 # a gap the saved guest clock does not see
expect "resume" 0 "$MSB" resume pz
is_status pz running "ls: running after resume"
clock_ok "clock after suspend/resume"
[ -e "$dir/suspended" ] && bad "state left after resume" || ok "state removed once restored"
[ "$(sleep_pid)" = "$sleep_pid" ] && ok "suspend: same sleep pid" ||
	bad "suspend: sleep is now '$(sleep_pid)'"
got=$(answer)
[ "$got" = "$secret" ] && ok "suspend: the shell variable kept its value" ||
	bad "suspend: secret '$got', wanted '$secret'"
[ "$(in_guest 'cat /root/file')" = kept ] && ok "suspend: file kept" ||
	bad "suspend: file: $(in_guest 'cat /root/file')"
after=$(in_guest 'cat /tmp/count')
[ "$after" -ge "$before" ] 2>/dev/null && ok "counter continued ($before → $after)" ||
	bad "counter restarted? $before → $after"
expect "exec works after resume" 0 "$MSB" exec pz -- echo hello
contains "exec output" "$work/out" hello

# 3. Suspend a paused sandbox; kill whatever is left, remove the run
# folder (a host reboot); start (not resume) restores it too.
expect "pause before suspend" 0 "$MSB" pause pz
expect "suspend a paused sandbox" 0 "$MSB" suspend pz
is_status pz suspended "ls: suspended (from paused)"
pkill -9 -f "$dir/" 2>/dev/null
rm -rf "$dir/run"
no_processes "after the kill"
expect "start restores a suspended sandbox" 0 "$MSB" start pz
grep -q "resuming its suspended state" "$dir/logs/vmm.log" &&
	ok "start: restored" || bad "start: not restored: $(tail -3 "$dir/logs/vmm.log")"
[ "$(sleep_pid)" = "$sleep_pid" ] && ok "start: same sleep pid" ||
	bad "start: sleep is now '$(sleep_pid)'"
got=$(answer)
[ "$got" = "$secret" ] && ok "start: the shell variable kept its value" ||
	bad "start: secret '$got', wanted '$secret'"

# 4. A damaged state: resume says why and names msb start; the sandbox
# stays suspended; start boots it cold (files kept, processes gone).
expect "suspend again" 0 "$MSB" suspend pz
printf 'garbage' | dd of="$dir/suspended/state" bs=1 seek=0 conv=notrunc 2>/dev/null
expect "resume a damaged state" 1 "$MSB" resume pz
contains "damaged: says it cannot be restored" "$work/err" "cannot be restored"
contains "damaged: names msb start" "$work/err" '`msb start pz` boots it cold'
[ "$(grep -v '^msb: warning' "$work/err" | grep -c '^msb: ')" = 1 ] && ok "damaged: one error line" ||
	bad "damaged: $(cat "$work/err")"
is_status pz suspended "damaged: still suspended"
expect "start boots it cold" 0 "$MSB" start pz
contains "start: the state is removed" "$dir/logs/vmm.log" "booting cold; the state is removed"
[ -z "$(sleep_pid)" ] && ok "cold: the old processes are gone" ||
	bad "cold: a sleep runs"
[ "$(in_guest 'cat /root/file')" = kept ] && ok "cold: file kept" ||
	bad "cold: file: $(in_guest 'cat /root/file')"
[ -e "$dir/suspended" ] && bad "cold: state left" || ok "cold: no state left"

# 5. A save killed half-way leaves a temp folder only: never restored.
mkdir -p "$dir/suspended.tmp" && printf 'QEVM' >"$dir/suspended.tmp/state"
pid=$(cat "$dir/lock") # the supervisor's pid
kill -9 "$pid"
for i in $(seq 100); do flock -n "$dir/lock" true && break; sleep 0.1; done
expect "resume after a killed supervisor" 1 "$MSB" resume pz
contains "killed: not suspended" "$work/err" "neither paused nor suspended"
expect "start after a killed save" 0 "$MSB" start pz
grep -q "resuming its suspended state" <(tail -5 "$dir/logs/vmm.log") &&
	bad "a temp folder was restored" || ok "a half-written state is not restored"

# 6. A main process and a volume: the main process goes on writing its
# log after the resume, the volume's file is there.
expect "volume create" 0 "$MSB" volume create vol1
expect "run -d with a volume and a main process" 0 "$MSB" run -d --name vz \
	-v vol1:/data -- sh -c 'echo on-volume > /data/f; i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.2; done'
vdir=$MSB_HOME/sandboxes/vz
last_tick() { tail -1 "$vdir/logs/main.log" 2>/dev/null | sed -n 's/^tick //p'; }
# wait_tick N: until main.log has a tick above N, up to 30 s
wait_tick() {
	local i t
	for i in $(seq 300); do
		t=$(last_tick)
		[ -n "$t" ] && [ "$t" -gt "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
wait_tick 0 && ok "main process ticks" || bad "main process: no tick"
expect "suspend (volume, main process)" 0 "$MSB" suspend vz
t1=$(last_tick)
expect "resume (volume, main process)" 0 "$MSB" resume vz
wait_tick "$t1" && ok "main process ticks on after the resume ($t1 → $(last_tick))" ||
	bad "main process: no tick after $t1"
grep -q '^tick 1$' <(sed -n '2,$p' "$vdir/logs/main.log") &&
	bad "main process started again" || ok "main process not started again"
expect "volume file after resume" 0 "$MSB" exec vz -- cat /data/f
contains "volume content" "$work/out" on-volume
expect "suspend again (volume)" 0 "$MSB" suspend vz
touch "$MSB_HOME/volumes/vol1/disk.img"
expect "a volume changed meanwhile: refused" 1 "$MSB" resume vz
contains "volume changed: says so" "$work/err" "a volume changed"
"$MSB" rm -f vz >/dev/null 2>&1

# 7. What cannot be suspended says why.
expect "suspend an ephemeral sandbox: run" 0 "$MSB" run -d --rm --name eph
expect "suspend an ephemeral sandbox" 1 "$MSB" suspend eph
contains "ephemeral: says why" "$work/err" "cannot be suspended"
"$MSB" stop eph >/dev/null 2>&1
expect "suspend a stopped sandbox" 0 "$MSB" stop pz
expect "suspend a stopped sandbox" 1 "$MSB" suspend pz
contains "stopped: not running" "$work/err" "is not running"
expect "resume a stopped sandbox" 1 "$MSB" resume pz
contains "stopped: neither" "$work/err" "neither paused nor suspended"

# 8. --on-idle suspend: the idle timeout suspends (processes and files
# kept), and msb exec resumes the sandbox; what it needs is checked.
expect "--on-idle: a bad action" 2 "$MSB" run --on-idle sleep --name iz
contains "--on-idle: names the values" "$work/err" "use stop or suspend"
expect "--on-idle suspend without --idle-timeout" 125 "$MSB" run -d --name iz --on-idle suspend
contains "--on-idle: needs an idle timeout" "$work/err" "needs an idle timeout"
expect "--on-idle suspend with --rm" 125 "$MSB" run -d --rm --name iz --idle-timeout 2 --on-idle suspend
contains "--on-idle: needs a kept sandbox" "$work/err" "without --rm"
expect "run -d --idle-timeout 2 --on-idle suspend" 0 "$MSB" run -d --name iz --idle-timeout 2 --on-idle suspend
expect "inspect: on_idle" 0 "$MSB" inspect iz
contains "inspect shows on_idle" "$work/out" '"on_idle": "suspend"'
expect "a file and a process" 0 "$MSB" exec iz -- sh -c 'echo kept > /root/f; sync'
expect "a detached sleep" 0 "$MSB" exec -d iz -- sleep 100000
iz_sleep() { "$MSB" exec iz -- sh -c "ps -o pid,args | awk '\$2 == \"sleep\" && \$3 == 100000 {print \$1}'" 2>&1; }
izpid=$(iz_sleep)
# the idle timeout: suspended within 60 s (2 s idle, then the save)
for i in $(seq 600); do
	[ "$(status_of iz)" = suspended ] && break
	sleep 0.1
done
is_status iz suspended "idle timeout: suspended"
grep -q "idle timeout: suspending" "$MSB_HOME/sandboxes/iz/logs/vmm.log" &&
	ok "vmm.log: suspended by the idle timeout" ||
	bad "vmm.log: $(tail -3 "$MSB_HOME/sandboxes/iz/logs/vmm.log")"
[ -s "$MSB_HOME/sandboxes/iz/suspended/state" ] && ok "idle: state saved" ||
	bad "idle: no state"
expect "exec resumes it" 0 "$MSB" exec iz -- cat /root/f
contains "exec after the idle suspend: the file" "$work/out" kept
[ "$(iz_sleep)" = "$izpid" ] && [ -n "$izpid" ] &&
	ok "exec after the idle suspend: same sleep ($izpid)" ||
	bad "idle: sleep is now '$(iz_sleep)', was '$izpid'"
grep -q "resuming its suspended state" "$MSB_HOME/sandboxes/iz/logs/vmm.log" &&
	ok "idle: restored, not booted" || bad "idle: not restored"
expect "stop (on-idle)" 0 "$MSB" stop iz
expect "exec of a stopped --on-idle sandbox" 125 "$MSB" exec iz -- true
contains "stopped: not resumed" "$work/err" "is not running"
"$MSB" rm -f iz >/dev/null 2>&1

echo "# $pass passed, $fail failed"
[ "$fail" = 0 ]
