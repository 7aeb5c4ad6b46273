#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Processes that outlive their exec: the result comes when the command
# exits, not when its background children close stdout; they keep running
# (a server started by one exec answers the next) unless --kill-group.
# Real VMs.
#   test_procs.sh PATH/TO/msb
set -uo pipefail
MSB=$1
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-procs-test-XXXXXX)
unset MSB_ACCEL
work=$(mktemp -d)
cleanup() {
	for p in $(jobs -p); do kill "$p" 2>/dev/null; done
	"$MSB" rm -f pbox >/dev/null 2>&1
	"$MSB" rm -f mbox >/dev/null 2>&1
	"$MSB" rm -f obox >/dev/null 2>&1
	"$MSB" rm -f sbox >/dev/null 2>&1
	rm -rf "$MSB_HOME" "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"
# running PATTERN: whether a process matching PATTERN runs in pbox.
running() {
	"$MSB" exec pbox -- sh -c "ps -o pid,args | grep -v grep | grep -q -- '$1'"
}

expect "run -d" 0 "$MSB" run -d --name pbox

# `sleep 8 &` holds stdout; the result must not wait for it: when exec
# has returned, the sleep is still running (no timing threshold).
expect "background sleep does not hold the result" 0 \
	"$MSB" exec pbox -- sh -c 'sleep 8 & echo done'
contains "command output arrives" "$work/out" "done"
if running 'sleep 8$'; then ok "exec returned while its sleep runs"; else
	bad "sleep 8 not running after exec returned"
fi

# --timeout is the command's: it exited 0 at once, nothing timed out.
expect "--timeout applies to the command, not its children" 0 \
	"$MSB" exec --timeout 2 pbox -- sh -c 'sleep 9 & echo ok9'
contains "output with --timeout" "$work/out" "ok9"
if running 'sleep 9$'; then ok "child outlives a --timeout exec"; else
	bad "sleep 9 was killed"
fi

# Output written by the command itself is all there, however much.
expect "large output before exit" 0 "$MSB" exec pbox -- sh -c \
	'i=0; while [ $i -lt 3000 ]; do echo line$i; i=$((i+1)); done; sleep 7 &'
contains "last line of large output" "$work/out" "line2999"

# --kill-group: what the command left in its group dies with it.
expect "--kill-group" 0 "$MSB" exec --kill-group pbox -- \
	sh -c 'sleep 6 & echo kg'
contains "--kill-group output" "$work/out" "kg"
if running 'sleep 6$'; then bad "sleep 6 survived --kill-group"; else
	ok "--kill-group killed the background child"
fi

# A background server started by one exec answers the next one.
expect "loopback up" 0 "$MSB" exec pbox -- ip link set lo up
expect "start a server in the background" 0 "$MSB" exec pbox -- \
	sh -c 'echo hello-from-httpd > /tmp/index.html; httpd -f -h /tmp -p 127.0.0.1:8080 & echo started'
contains "server exec returned" "$work/out" "started"
got=
for _ in $(seq 100); do
	got=$("$MSB" exec pbox -- wget -q -O - http://127.0.0.1:8080/index.html 2>/dev/null) && break
	sleep 0.1
done
if [ "$got" = hello-from-httpd ]; then ok "the server answers after its exec returned"; else
	bad "server did not answer: \`$got\`"
fi
if running 'httpd -f'; then ok "httpd still running"; else bad "httpd gone"; fi

# The same with setsid and stdout redirected (the nohup idiom).
expect "setsid server" 0 "$MSB" exec pbox -- \
	sh -c 'setsid sleep 300 >/dev/null 2>&1 &'
if running 'sleep 300$'; then ok "setsid background process survives"; else
	bad "setsid sleep 300 gone"
fi

# The classic idiom: nohup (a script in the default image: Debian's
# busybox has no applet), output redirected, started in the background.
expect "nohup server" 0 "$MSB" exec pbox -- \
	sh -c 'nohup sleep 301 >/dev/null 2>&1 &'
if running 'sleep 301$'; then ok "nohup background process survives"; else
	bad "nohup sleep 301 gone"
fi

# exec -d: an id at once; ps lists it running; logs replays its output.
# (ps columns: ID PID STATE STARTED("3s ago") EXIT COMMAND.)
expect "a fifo to hold it" 0 "$MSB" exec pbox -- mkfifo /tmp/go
expect "exec -d" 0 "$MSB" exec -d pbox -- \
	sh -c 'echo out-one; echo err-one >&2; read x < /tmp/go; echo out-two; exit 7'
id=$(cat "$work/out")
case $id in '' | *[!0-9]*) bad "exec -d printed \`$id\`, not an id" ;; *) ok "exec -d printed id $id" ;; esac
expect "ps NAME" 0 "$MSB" ps pbox
if awk -v id="$id" '$1 == id && $3 == "running"' "$work/out" | grep -q .; then
	ok "ps lists the detached process running"
else bad "ps: $(cat "$work/out")"; fi
contains "ps shows the command" "$work/out" "echo out-one"
for _ in $(seq 100); do
	"$MSB" logs pbox --exec "$id" >"$work/logs" 2>"$work/logs.err"
	grep -q out-one "$work/logs" && grep -q err-one "$work/logs.err" && break
	sleep 0.1
done
contains "logs --exec replays stdout" "$work/logs" "out-one"
contains "logs --exec replays stderr" "$work/logs.err" "err-one"
# logs -f follows it until it exits, after a later exec unblocks it.
"$MSB" logs -f pbox --exec "$id" >"$work/follow" 2>/dev/null &
fpid=$!
for _ in $(seq 100); do grep -q out-one "$work/follow" && break; sleep 0.1; done
expect "unblock the detached process" 0 "$MSB" exec pbox -- sh -c 'echo go > /tmp/go'
wait "$fpid"
contains "logs -f follows to the end" "$work/follow" "out-two"
expect "ps after exit" 0 "$MSB" ps pbox
if awk -v id="$id" '$1 == id && $3 == "exited" && $6 == "7"' "$work/out" | grep -q .; then
	ok "ps shows its exit code"
else bad "ps after exit: $(cat "$work/out")"; fi
expect "logs kept after exit" 0 "$MSB" logs pbox --exec "$id"
contains "logs after exit" "$work/out" "out-two"

# kill --exec signals one process (and the sandbox runs on).
expect "exec -d sleep" 0 "$MSB" exec -d pbox -- sleep 600
sid=$(cat "$work/out")
expect "kill --exec -s TERM" 0 "$MSB" kill pbox --exec "$sid" -s TERM
for _ in $(seq 100); do
	"$MSB" ps pbox >"$work/out" 2>/dev/null
	awk -v id="$sid" '$1 == id && $3 == "exited"' "$work/out" | grep -q . && break
	sleep 0.1
done
if awk -v id="$sid" '$1 == id && $6 == "sig15"' "$work/out" | grep -q .; then
	ok "kill --exec: killed by SIGTERM"
else bad "kill --exec: $(cat "$work/out")"; fi
expect "sandbox still runs after kill --exec" 0 "$MSB" exec pbox -- true
expect "kill --exec of an unknown id" 1 "$MSB" kill pbox --exec 99999
contains "unknown id named" "$work/err" "no process with id 99999"

# attach --exec: stdin in, output out, its status out.
expect "exec -di cat" 0 "$MSB" exec -d -i pbox -- sh -c 'cat; exit 4'
aid=$(cat "$work/out")
echo hello-attach | "$MSB" attach pbox --exec "$aid" >"$work/att" 2>"$work/att.err"
st=$?
contains "attach passes stdin and output" "$work/att" "hello-attach"
if [ "$st" = 4 ]; then ok "attach exits with its status"; else bad "attach: exit $st"; fi

# rm --exec: a finished entry leaves the table (and its output with it);
# a running one only with -f, which kills it.
expect "rm --exec of a finished process" 0 "$MSB" rm pbox --exec "$id"
contains "rm --exec prints the id" "$work/out" "$id"
expect "ps after rm --exec" 0 "$MSB" ps pbox
if awk -v id="$id" '$1 == id' "$work/out" | grep -q .; then
	bad "ps still lists removed process $id"
else ok "a removed process is not listed"; fi
expect "logs --exec of a removed process" 1 "$MSB" logs pbox --exec "$id"
contains "removed id is unknown" "$work/err" "no process with id $id"
expect "rm --exec twice" 1 "$MSB" rm pbox --exec "$id"
expect "exec -d a process to remove" 0 "$MSB" exec -d pbox -- sleep 700
rid=$(cat "$work/out")
expect "rm --exec of a running process" 1 "$MSB" rm pbox --exec "$rid"
contains "refusal names -f" "$work/err" "use -f"
if [ "$(wc -l <"$work/err")" = 1 ]; then ok "refusal is one line"; else
	bad "refusal: $(cat "$work/err")"; fi
if running 'sleep 700$'; then ok "a refused rm leaves it running"; else
	bad "sleep 700 gone after a refused rm"
fi
expect "rm -f --exec of a running process" 0 "$MSB" rm -f pbox --exec "$rid"
gone=false
for _ in $(seq 600); do
	running 'sleep 700$' || { gone=true; break; }
	sleep 0.1
done
if $gone; then ok "rm -f --exec kills it"; else bad "sleep 700 survived rm -f"; fi
expect "ps after rm -f --exec" 0 "$MSB" ps pbox
if awk -v id="$rid" '$1 == id' "$work/out" | grep -q .; then
	bad "ps still lists $rid after rm -f"
else ok "rm -f --exec removes it from the table"; fi
for args in "pbox --exec x" "--exec 3" "pbox other --exec 3" \
	"pbox --exec 3 --exec 4" "pbox --exec 3 -s KILL"; do
	# shellcheck disable=SC2086
	expect "rm $args: usage error" 2 "$MSB" rm $args
	if [ "$(wc -l <"$work/err")" = 1 ] && grep -q "^msb: rm: .*see 'msb rm --help'" "$work/err"; then
		ok "rm $args: one line"
	else bad "rm $args: $(cat "$work/err")"; fi
done

# The guest's command text is escaped in ps.
expect "exec -d with a control character" 0 "$MSB" exec -d pbox -- \
	sh -c "true $(printf '\033')[31mred"
expect "ps with a control character" 0 "$MSB" ps pbox
contains "ps escapes commands" "$work/out" 'true \x1b[31mred'
if grep -q "$(printf '\033')" "$work/out"; then bad "raw ESC in ps"; else ok "no raw ESC in ps"; fi

# --- msb attach NAME: the main process of run -d -i ---
# Every wait is on a condition, with a deadline (seconds).
DEADLINE=${MSB_TEST_DEADLINE:-120}
within() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}
vmmlog_has() { grep -qF -- "$1" "$MSB_HOME/sandboxes/mbox/logs/vmm.log"; }
file_has() { grep -qF -- "$2" "$1"; }
expect "run -d -i" 0 "$MSB" run -d -i --name mbox -- sh -c \
	'while read l; do case $l in flood) yes f | head -c 3000000; echo flooded;; *) echo "got:$l";; esac; done; echo bye; exit 3'
expect "inspect a -i main process" 0 "$MSB" inspect mbox
tr -d ' \n' <"$work/out" >"$work/insp"
contains "inspect shows its stdin" "$work/insp" '"stdin":true,"tty":false'
# An attachment with stdin held open (a FIFO we keep open).
mkfifo "$work/in1"
exec 7<>"$work/in1"
"$MSB" attach mbox <"$work/in1" >"$work/a1" 2>"$work/a1.err" &
a1=$!
if within "$DEADLINE" vmmlog_has "main process: attached with stdin"; then
	ok "attach -i: attached"
else bad "attach -i: not attached: $(cat "$work/a1.err")"; fi
expect "a second attach while one is on" 1 "$MSB" attach mbox
contains "second attach: refused, saying why" "$work/err" "attached elsewhere"
if [ "$(wc -l <"$work/err")" = 1 ]; then ok "second attach: one line"; else
	bad "second attach: $(cat "$work/err")"; fi
echo one >&7
if within "$DEADLINE" file_has "$work/a1" "got:one"; then
	ok "attach -i: input reaches the main process, its output comes back"
else bad "attach -i: no got:one in: $(cat "$work/a1")"; fi
kill -TERM "$a1"
wait "$a1"
st=$?
if [ "$st" = 0 ]; then ok "attach -i: SIGTERM detaches (exit 0)"; else
	bad "attach -i detach: exit $st: $(cat "$work/a1.err")"; fi
exec 7>&-
if within "$DEADLINE" vmmlog_has "main process: the attached client left"; then
	ok "attach -i: the slot is free again"
else bad "attach -i: the supervisor did not see the client leave"; fi
expect "the main process runs on after a detach" 0 "$MSB" exec mbox -- \
	sh -c 'ps -o args | grep -v grep | grep -q "while read"'
# A client that does not read its output is dropped, the workload not
# held up: 3 MB of output against a pipe nobody reads until then.
mkfifo "$work/in2"
exec 7<>"$work/in2"
{
	"$MSB" attach mbox <"$work/in2" 2>"$work/a2.err"
	echo "status=$?" >"$work/a2.st"
} | {
	within "$DEADLINE" vmmlog_has "attached client too slow, dropped"
	cat >/dev/null
} &
attached_twice() {
	[ "$(grep -c 'main process: attached' "$MSB_HOME/sandboxes/mbox/logs/vmm.log")" -ge 2 ]
}
within "$DEADLINE" attached_twice || bad "the second attach did not attach"
echo flood >&7
if within "$DEADLINE" test -s "$work/a2.st"; then
	contains "a slow client is dropped (exit 1)" "$work/a2.st" "status=1"
	contains "dropped: it says why" "$work/a2.err" "behind the main process's output"
else bad "the slow client was not dropped"; fi
exec 7>&-
if within "$DEADLINE" file_has "$MSB_HOME/sandboxes/mbox/logs/main.log" flooded; then
	ok "the workload was not held up by the slow client"
else bad "flood did not reach main.log"; fi
# Piped input, then its end closes the main process's stdin: it exits,
# attach exits with its status, and its output is in msb logs.
printf 'two\n' | "$MSB" attach mbox >"$work/a3" 2>"$work/a3.err"
st=$?
if [ "$st" = 3 ]; then ok "attach -i: exits with the main process's status"; else
	bad "attach -i piped: exit $st: $(cat "$work/a3.err")"; fi
contains "attach -i piped: its output" "$work/a3" "got:two"
expect "logs after attach" 0 "$MSB" logs mbox
contains "attach input reaches msb logs" "$work/out" "got:two"
contains "the end of input closed its stdin" "$work/out" "bye"
"$MSB" wait mbox >/dev/null 2>&1
st=$?
if [ "$st" = 3 ]; then ok "wait: the main process's status"; else bad "wait: $st"; fi
expect "attach --no-stdin to a stopped sandbox: its output" 0 "$MSB" attach --no-stdin mbox
contains "attach --no-stdin: output from the start" "$work/out" "got:one"
# Without -i: output only, from the start (msb logs -f), input ignored.
expect "run -d without -i" 0 "$MSB" run -d --name obox -- sh -c \
	'echo out-only; read x; echo "read:[$x]"; sleep 3600'
printf 'ignored\n' | "$MSB" attach obox >"$work/a4" 2>"$work/a4.err" &
a4=$!
if within "$DEADLINE" file_has "$work/a4" "read:[]"; then
	ok "attach without -i: output only, from the start"
else bad "attach without -i: $(cat "$work/a4" "$work/a4.err")"; fi
if grep -q ignored "$work/a4"; then bad "attach without -i fed stdin"; else
	ok "attach without -i: stdin is not fed"; fi
expect "stop the output-only sandbox" 0 "$MSB" stop obox
wait "$a4"
st=$?
if [ "$st" = 0 ]; then ok "attach without -i: ends when the sandbox stops"; else
	bad "attach without -i: exit $st"; fi
# -i is stored: a stopped and started sandbox's main process takes input
# again; a stop ends the attachment, saying so.
expect "run -d -i for stop/start" 0 "$MSB" run -d -i --name sbox -- sh -c \
	'read l; echo "r:$l"; sleep 3600'
expect "stop it" 0 "$MSB" stop sbox
expect "start it" 0 "$MSB" start sbox
mkfifo "$work/in5"
exec 7<>"$work/in5"
"$MSB" attach sbox <"$work/in5" >"$work/a5" 2>"$work/a5.err" &
a5=$!
echo again >&7
if within "$DEADLINE" file_has "$work/a5" "r:again"; then
	ok "attach after stop/start: the main process still takes input"
else bad "attach after stop/start: $(cat "$work/a5" "$work/a5.err")"; fi
expect "stop while attached" 0 "$MSB" stop sbox
wait "$a5"
st=$?
if [ "$st" = 1 ]; then ok "a stop ends the attachment (exit 1)"; else
	bad "attach at stop: exit $st"; fi
contains "a stop ends the attachment, saying so" "$work/a5.err" "the sandbox is stopping"
exec 7>&-
for args in "mbox --bogus" "mbox other" "" "--no-stdin"; do
	# shellcheck disable=SC2086
	expect "attach $args: usage error" 2 "$MSB" attach $args
	if [ "$(wc -l <"$work/err")" = 1 ] && grep -q "^msb: attach: .*see 'msb attach --help'" "$work/err"; then
		ok "attach $args: one line"
	else bad "attach $args: $(cat "$work/err")"; fi
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
