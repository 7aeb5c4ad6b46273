#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Integration tests of msb run -d workloads with real VMs: the main process
# runs, logs and exits with its status; restart policies; --rm; generated
# names; -e VAR, --env-file, --entrypoint, --hostname; exec defaults that
# stick; durations.
#   test_workload.sh PATH/TO/msb
set -uo pipefail
MSB=$1
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-wl-test-XXXXXX)
unset MSB_ACCEL
work=$(mktemp -d)
cleanup() {
	for n in $("$MSB" ls 2>/dev/null | awk 'NR > 1 { print $1 }'); do
		"$MSB" rm -f "$n" >/dev/null 2>&1
	done
	pkill -9 -f "$MSB_HOME/" 2>/dev/null
	rm -rf "$MSB_HOME" "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"
status_of() { "$MSB" ls | awk -v n="$1" '$1 == n { print $2 }'; }
# until DESC CMD...: wait (up to 60 s) for CMD to succeed
until_ok() {
	local desc=$1
	shift
	for _ in $(seq 600); do
		"$@" >/dev/null 2>&1 && { ok "$desc"; return; }
		sleep 0.1
	done
	bad "$desc: still not true after 60 s"
}

# The workload runs, logs, exits with its status; the sandbox stops.
expect "run -d a workload" 0 "$MSB" run -d --name w1 -- \
	sh -c 'echo started; sleep 1; exit 3'
contains "run -d prints the name" "$work/out" "w1"
expect "wait returns its status" 3 "$MSB" wait w1
contains "wait prints the final status" "$work/out" "stopped"
[ "$(status_of w1)" = stopped ] && ok "stopped after its main process" ||
	bad "w1 is $(status_of w1)"
expect "logs shows its output" 0 "$MSB" logs w1
contains "logs: the main process's output" "$work/out" "started"
expect "logs --source kernel" 0 "$MSB" logs --source kernel w1
contains "kernel log under --source kernel" "$work/out" "msb-agent: ready"
expect "inspect" 0 "$MSB" inspect w1
contains "inspect shows the exit code" "$work/out" '"exit_code": 3'
expect "ls --json" 0 "$MSB" ls --json
contains "ls --json shows the exit code" "$work/out" '"exit_code": 3'
expect "start runs it again" 0 "$MSB" start w1
expect "wait again" 3 "$MSB" wait w1
expect "logs keep both runs" 0 "$MSB" logs w1
[ "$(grep -c started "$work/out")" = 2 ] && ok "two runs logged" ||
	bad "runs logged: $(grep -c started "$work/out")"
expect "rm" 0 "$MSB" rm w1

# A crash (a signal) is non-zero.
expect "run -d a crashing workload" 0 "$MSB" run -d --name crash -- \
	sh -c 'kill -SEGV $$'
expect "wait: 128+SIGSEGV" 139 "$MSB" wait crash
expect "rm crash" 0 "$MSB" rm crash

# --restart on-failure:2 restarts it twice (counted on a volume), then stops.
expect "volume create" 0 "$MSB" volume create --quota 16m runs
expect "run -d --restart on-failure:2" 0 "$MSB" run -d --name rf \
	--restart on-failure:2 -v runs:/v -- sh -c 'echo run >> /v/count; exit 1'
expect "wait on-failure" 1 "$MSB" wait rf
expect "count the runs" 0 "$MSB" run -v runs:/v -- cat /v/count
[ "$(grep -c run "$work/out")" = 3 ] && ok "on-failure:2: three runs" ||
	bad "on-failure:2: $(grep -c run "$work/out") runs"
expect "rm rf" 0 "$MSB" rm rf
# on-failure does not restart a success
expect "run -d --restart on-failure, exit 0" 0 "$MSB" run -d --name rs \
	--restart on-failure -- sh -c 'echo once; exit 0'
expect "wait on-failure success" 0 "$MSB" wait rs
expect "logs of one run" 0 "$MSB" logs rs
[ "$(grep -c once "$work/out")" = 1 ] && ok "on-failure: a success ends it" ||
	bad "on-failure: $(grep -c once "$work/out") runs"
expect "rm rs" 0 "$MSB" rm rs

# --restart always keeps it going until msb stop.
expect "run -d --restart always" 0 "$MSB" run -d --name ra --restart always \
	-- sh -c 'echo tick; exit 0'
until_ok "always: restarted at least 3 times" \
	sh -c "[ \$('$MSB' logs ra | grep -c tick) -ge 3 ]"
[ "$(status_of ra)" = running ] && ok "always: still running" ||
	bad "ra is $(status_of ra)"
expect "stop ra" 0 "$MSB" stop ra
[ "$(status_of ra)" = stopped ] && ok "always: stopped by msb stop" ||
	bad "ra is $(status_of ra)"
expect "wait after msb stop: no status of its own" 0 "$MSB" wait ra
expect "inspect ra" 0 "$MSB" inspect ra
contains "inspect: no exit code after msb stop" "$work/out" '"exit_code": null'
expect "rm ra" 0 "$MSB" rm ra

# attach follows the output until the sandbox stops
expect "run -d for attach" 0 "$MSB" run -d --name at -- \
	sh -c 'echo first; sleep 2; echo second'
expect "attach" 0 "$MSB" attach at
contains "attach: first" "$work/out" "first"
contains "attach: followed to the end" "$work/out" "second"
expect "wait at" 0 "$MSB" wait at
expect "rm at" 0 "$MSB" rm at

# --rm leaves nothing; a generated name is printed.
expect "run -d --rm without --name" 0 "$MSB" run -d --rm -- sh -c 'exit 0'
gen=$(cat "$work/out")
[[ "$gen" =~ ^[a-z]+_[a-z]+_[0-9a-f]{4}$ ]] && ok "generated name ($gen)" ||
	bad "generated name: \`$gen\`"
until_ok "--rm: removed when it stopped" \
	sh -c "! '$MSB' ls | grep -q '^$gen '"
[ ! -e "$MSB_HOME/sandboxes/$gen" ] && ok "--rm: no folder left" ||
	bad "--rm left $MSB_HOME/sandboxes/$gen"
expect "two generated names differ" 0 "$MSB" create
g1=$(cat "$work/out")
expect "create (generated)" 0 "$MSB" create
g2=$(cat "$work/out")
[ -n "$g1" ] && [ "$g1" != "$g2" ] && ok "names differ ($g1, $g2)" ||
	bad "names: $g1 $g2"
"$MSB" rm "$g1" "$g2" >/dev/null 2>&1

# -e VAR from the host, --env-file, --hostname, --entrypoint.
printf '# a comment\nFROM_FILE=yes\n\nHOST_VAR\n' >"$work/env"
HOST_VAR=from-host expect "run -d -e VAR --env-file --hostname" 0 \
	env HOST_VAR=from-host "$MSB" run -d --name envs -e HOST_VAR \
	--env-file "$work/env" --hostname box1 -- \
	sh -c 'echo "$HOST_VAR $FROM_FILE $(hostname)"; sleep 600'
until_ok "env workload printed" sh -c "'$MSB' logs envs | grep -q ."
expect "logs envs" 0 "$MSB" logs envs
contains "-e VAR, --env-file, --hostname" "$work/out" "from-host yes box1"
expect "rm -f envs" 0 "$MSB" rm -f envs
expect "--entrypoint" 0 "$MSB" run -d --name ep --entrypoint echo -- \
	via-entrypoint
expect "wait ep" 0 "$MSB" wait ep
expect "logs ep" 0 "$MSB" logs ep
contains "entrypoint ran with CMD" "$work/out" "via-entrypoint"
expect "rm ep" 0 "$MSB" rm ep
expect "--entrypoint in the foreground" 0 "$MSB" run --entrypoint echo -- fg
contains "foreground entrypoint" "$work/out" "fg"
expect "--restart needs -d" 2 "$MSB" run --restart always -- true

# Defaults that stick: -w -e --ulimit --timeout apply to later execs.
expect "run -d with exec defaults" 0 "$MSB" run -d -w /tmp -e A=1 \
	--ulimit nofile=321 --timeout 1m --name x
expect "exec uses them" 0 "$MSB" exec x -- sh -c 'pwd; echo $A; ulimit -n'
[ "$(tr '\n' ' ' <"$work/out")" = "/tmp 1 321 " ] &&
	ok "defaults stick: /tmp 1 321" || bad "exec printed: $(cat "$work/out")"
expect "exec -w overrides" 0 "$MSB" exec -w / x -- pwd
contains "exec -w wins" "$work/out" "/"
expect "inspect x" 0 "$MSB" inspect x
contains "inspect: workdir" "$work/out" '"workdir":"/tmp"'
contains "inspect: timeout" "$work/out" '"exec_timeout_ms":60000'
contains "inspect: ulimit" "$work/out" '"rlimits":["nofile=321"]'
expect "rm -f x" 0 "$MSB" rm -f x
expect "create with a default timeout" 0 "$MSB" create --name ct --timeout 2s
expect "start ct" 0 "$MSB" start ct
expect "the stored timeout kills" 124 "$MSB" exec ct -- sleep 30
expect "rm -f ct" 0 "$MSB" rm -f ct

# Durations
expect "bad duration" 2 "$MSB" run --timeout 1x -- true
expect "bad restart" 2 "$MSB" run -d --restart sometimes -- true
expect "--timeout 1m" 0 "$MSB" run --timeout 1m -- true
expect "--idle-timeout 2s" 0 "$MSB" run -d --name it --idle-timeout 2s
expect "idle timeout stops it" 0 "$MSB" wait it
expect "rm it" 0 "$MSB" rm it

echo "# $pass passed, $fail failed"
[ "$fail" = 0 ]
