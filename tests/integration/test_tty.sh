#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Terminal sessions (msb exec -it, msb shell) driven through tmux, and
# resource limits (--ulimit), with one real VM.
#   test_tty.sh PATH/TO/msb
set -uo pipefail
MSB=$1
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-tty-test-XXXXXX)
unset MSB_ACCEL
work=$(mktemp -d)
sock="msb-tty-$$"
T() { tmux -L "$sock" "$@"; }
n=0 S=s0 # the current session
cleanup() {
	T kill-server 2>/dev/null
	"$MSB" rm -f tty >/dev/null 2>&1
	"$MSB" rm -f mtty >/dev/null 2>&1
	rm -rf "$MSB_HOME" "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"

# Every wait is on a condition, with a deadline (seconds) generous enough
# for a loaded machine.
DEADLINE=${MSB_TEST_DEADLINE:-120}
# within SECS CMD...: until CMD succeeds (every 0.1 s), for SECS at most.
within() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}
# screen_has TEXT: the pane of the current session shows TEXT now.
screen_has() {
	T capture-pane -t "$S" -p >"$work/pane" 2>/dev/null &&
		grep -qF -- "$1" "$work/pane"
}
screen_lacks() { ! screen_has "$1"; }
# wait_for TEXT: until the pane shows TEXT.
wait_for() { within "$DEADLINE" screen_has "$1"; }
# pane_has DESC TEXT
pane_has() {
	if wait_for "$2"; then ok "$1"; else
		bad "$1: \`$2\` not on the screen:"
		sed 's/^/    | /' "$work/pane" | grep -v '^    | $'
	fi
}
# cleared DESC TEXT: until TEXT has gone from the pane (after a clear).
cleared() {
	if within "$DEADLINE" screen_lacks "$2"; then ok "$1"; else
		bad "$1: \`$2\` still on the screen"
	fi
}
# guest_runs ARGS: a process of the sandbox has exactly ARGS as arguments.
guest_runs() {
	"$MSB" exec tty -- sh -c "ps -o args | grep -qx -- '$1'" 2>/dev/null
}
# session CMD: a fresh tmux session of 100x30 running CMD, then recording
# its exit status and the terminal settings before and after.
session() {
	n=$((n + 1)) S=s$n
	T new-session -d -x 100 -y 30 -s "$S" \
		"stty -g >'$work/before'; $1; echo EXIT=\$? >'$work/exit'; stty -g >'$work/after'; sleep 600"
}
# exited DESC STATUS: the session's command ended with STATUS and left
# the terminal as it found it.
exited() {
	within "$DEADLINE" test -s "$work/after"
	contains "$1: exit status" "$work/exit" "EXIT=$2"
	if cmp -s "$work/before" "$work/after"; then
		ok "$1: terminal restored"
	else
		bad "$1: terminal settings changed"
	fi
	rm -f "$work/exit" "$work/before" "$work/after"
}
# ctrl_c DESC: in a guest shell at a prompt, Ctrl-C interrupts a running
# foreground command (once the guest shows it running) and the shell
# reports status 130.
ctrl_c() {
	T send-keys -t "$S" 'clear; sleep 300' Enter
	cleared "$1: the screen is cleared" "/ #"
	if within "$DEADLINE" guest_runs 'sleep 300'; then
		ok "$1: the guest runs the command"
	else bad "$1: sleep 300 never ran in the guest"; fi
	T send-keys -t "$S" C-c
	pane_has "$1: a prompt after Ctrl-C" "/ #"
	T send-keys -t "$S" 'echo "rc=$?"' Enter
	pane_has "$1: Ctrl-C interrupts the guest command" "rc=130"
	if guest_runs 'sleep 300'; then bad "$1: sleep 300 still runs"; else
		ok "$1: the command is gone"
	fi
}

# What the sessions' programs see as TERM (tmux sets it).
term=$(T -f /dev/null start-server \; show-options -gv default-terminal 2>/dev/null)
[ -n "$term" ] || term=screen

expect "create the sandbox" 0 "$MSB" run --name tty -d
# The guest's shells run with the terminal's echo off (ENV=/tmp/rc), so
# that busybox ash reads whole lines and does not edit them: its line
# editor asks the terminal for the cursor position (ESC [6n) after each
# prompt and drops keys that arrive before the answer, which a terminal
# a VM away does not always give in time. The session is the same
# otherwise (raw mode here, a pseudo-terminal there, Ctrl-C a byte).
expect "a shell profile" 0 "$MSB" exec tty -- sh -c 'echo "stty -echo" >/tmp/rc'

# --- msb exec -it: size, resize, Ctrl-C, exit status, raw mode undone ---
session "'$MSB' exec -it -e ENV=/tmp/rc tty -- sh"
pane_has "the guest shell prompts" "/ #"
T send-keys -t "$S" 'stty size' Enter
pane_has "terminal has the local size" "30 100"
T resize-window -t "$S" -x 120 -y 40
T send-keys -t "$S" 'clear; stty size' Enter
pane_has "resize reaches the guest" "40 120"
T send-keys -t "$S" 'tty; echo "term=[$TERM]"' Enter
pane_has "the command has a pseudo-terminal" "/dev/pts/"
pane_has "TERM is passed" "term=[$term]"
ctrl_c "exec -it"
T send-keys -t "$S" 'exit 3' Enter
exited "exec -it" 3

# --- msb shell ---
session "'$MSB' shell -e ENV=/tmp/rc tty"
pane_has "msb shell prompts" "/ #"
T send-keys -t "$S" 'echo "shell on $(tty)"' Enter
pane_has "msb shell is interactive" "shell on /dev/pts/"
T send-keys -t "$S" 'exit' Enter
exited "msb shell" 0

# --- command not found with -it: an error, the terminal untouched ---
session "'$MSB' exec -it tty -- no-such-command"
exited "exec -it missing command" 127

# --- msb attach --exec to a detached process with a terminal ---
expect "exec -d -it" 0 "$MSB" exec -d -it -e ENV=/tmp/rc tty -- sh
aid=$(cat "$work/out")
session "'$MSB' attach tty --exec $aid"
# (Typed before msb is attached, the line is echoed here: the quotes keep
# it from matching what the guest prints.)
T send-keys -t "$S" 'echo "at""tached"' Enter
pane_has "attach: the guest shell answers" "attached"
T send-keys -t "$S" 'clear; stty size' Enter
pane_has "attach: the terminal gets the local size" "30 100"
T resize-window -t "$S" -x 120 -y 40
T send-keys -t "$S" 'clear; stty size' Enter
pane_has "attach: resize reaches the guest" "40 120"
ctrl_c "attach"
# A Ctrl-P not followed by Ctrl-Q is passed on as typed.
T send-keys -t "$S" 'clear; head -n 1 | cat -v' Enter
cleared "attach: cleared for Ctrl-P" "rc=130"
T send-keys -t "$S" C-p x Enter
pane_has "attach: a lone Ctrl-P reaches the guest" "^Px"
T send-keys -t "$S" C-p C-q
exited "attach: Ctrl-P Ctrl-Q detaches" 0
expect "ps after detach" 0 "$MSB" ps tty
if awk -v id="$aid" '$1 == id && $3 == "running"' "$work/out" | grep -q .; then
	ok "the process runs on after a detach"
else bad "after detach: $(cat "$work/out")"; fi
session "'$MSB' attach tty --exec $aid"
T send-keys -t "$S" 'echo "again""-attached"' Enter
pane_has "attach again" "again-attached"
T send-keys -t "$S" 'exit 5' Enter
exited "attach: the process's exit" 5
expect "attach to the exited process" 5 "$MSB" attach tty --exec "$aid"
expect "attach to an unknown id" 1 "$MSB" attach tty --exec 99999
contains "unknown id named" "$work/err" "no process with id 99999"
expect "attach --exec without an id" 2 "$MSB" attach tty --exec x

# --- msb attach NAME to the main process of run -d -it ---
# (stty -echo for the reason above, before the interactive shell starts)
expect "run -d -it" 0 "$MSB" run -d -it --name mtty -- sh -c 'stty -echo; exec sh'
expect "inspect a -t main process" 0 "$MSB" inspect mtty
tr -d ' \n' <"$work/out" >"$work/insp"
contains "inspect shows its terminal" "$work/insp" '"tty":true'
session "'$MSB' attach mtty"
T send-keys -t "$S" Enter
pane_has "attach main: the prompt" "/ #"
T send-keys -t "$S" 'X=kept; echo "main""-attached on $(tty)"' Enter
pane_has "attach main: a typed command runs" "main-attached on /dev/pts/"
T send-keys -t "$S" 'clear; stty size' Enter
pane_has "attach main: the terminal gets the local size" "30 100"
T send-keys -t "$S" C-p C-q
exited "attach main: Ctrl-P Ctrl-Q detaches" 0
expect "the main process runs on after a detach" 0 "$MSB" exec mtty -- \
	sh -c 'ps -o args | grep -v grep | grep -qx sh'
session "'$MSB' attach mtty"
T send-keys -t "$S" 'echo "x=[$X]"' Enter
pane_has "attach main again: the same shell" "x=[kept]"
T send-keys -t "$S" 'exit 4' Enter
exited "attach main: the main process's exit" 4
"$MSB" wait mtty >/dev/null 2>&1
st=$?
if [ "$st" = 4 ]; then ok "wait: the main process's status"; else bad "wait: $st"; fi

# --- -t without a local terminal ---
expect "exec -t without a terminal" 0 "$MSB" exec -t tty -- sh -c 'stty size; tty'
contains "default size 24x80" "$work/out" "24 80"
contains "a pseudo-terminal" "$work/out" "/dev/pts/"
printf 'one\ntwo\n' >"$work/in"
"$MSB" exec -i -t tty -- sh -c 'cat >/tmp/got; wc -l </tmp/got' <"$work/in" >"$work/out" 2>"$work/err"
contains "exec -it from a file: input then EOF" "$work/out" "2"

# --- resource limits ---
expect "--ulimit nofile" 0 "$MSB" exec --ulimit nofile=64:128 tty -- sh -c 'ulimit -n; ulimit -Hn'
contains "soft limit set" "$work/out" "64"
contains "hard limit set" "$work/out" "128"
expect "--ulimit fsize kills a big write" 153 "$MSB" exec --ulimit fsize=1024 tty -- sh -c 'head -c 4096 /dev/zero >/tmp/f'
expect "--ulimit unknown resource" 2 "$MSB" exec --ulimit bogus=1 tty -- true
contains "unknown resource message" "$work/err" "unknown resource"
expect "--ulimit soft above hard" 2 "$MSB" exec --ulimit nofile=10:5 tty -- true
expect "--ulimit the guest refuses" 126 "$MSB" exec --ulimit nofile=99999999 tty -- true
contains "refused limit message" "$work/err" "cannot set resource limit"
expect "run --ulimit" 0 "$MSB" run --ulimit nproc=50 -- sh -c 'ulimit -u'
contains "run applies the limit" "$work/out" "50"

expect "remove the sandbox" 0 "$MSB" rm -f tty
echo "# $pass passed, $fail failed"
[ "$fail" = 0 ]
